"""Issue 14, items 1 and 2: the streaming build gives the tables of to_tables, and a re-run
converts only the records appended since, with the same result as a build from scratch. One
build of a folder at a time."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from igresearch import build
from igresearch.build import STATE, build_tables
from igresearch.cli import main
from igresearch.errors import ArchiveFormatError, TablesLockedError
from igresearch.schema import SCHEMA_VERSION, SCHEMAS
from igresearch.tables import Tables, read_tables, to_tables
from igresearch.testing import FakeAPI, envelope

NAMES = tuple(SCHEMAS)
FOLLOWERS = 12_804_266  # the documented owner's, in every FakeAPI response


def snapshot(code: str, day: int, *, likes: int = 0, followers: int | None = FOLLOWERS) -> str:
    """An archive line: `code` fetched on January `day`, its comment with `likes` likes, its
    owner with `followers` (None: a stub without the count)."""
    response = FakeAPI.media_for(code)
    node = response["data"]["data"]["xdt_shortcode_media"]
    node["video_play_count"] = 1_000 * day
    node["edge_media_to_parent_comment"]["edges"][0]["node"]["edge_liked_by"] = {"count": likes}
    if followers is None:
        del node["owner"]["edge_followed_by"]
    else:
        node["owner"]["edge_followed_by"] = {"count": followers}
    return line(code, "ok", f"2026-01-{day:02d}T00:00:00+00:00", response=response)


def line(code: str, outcome: str, fetched_at: str | None, **fields: Any) -> str:
    record = {
        "archive_version": 1,
        "shortcode": code,
        "channel": "apify",
        "outcome": outcome,
        "fetched_at": fetched_at,
        "response": None,
        "error": None,
        **fields,
    }
    return json.dumps(record) + "\n"


def failure(code: str) -> str:
    error = {"class": "APIError", "message": "HTTP 500", "retriable": True}
    return line(code, "failed", None, error=error)


FIRST = [
    "\n",  # a blank line counts as a line, not as a record
    snapshot("C0ffee00001", 1, likes=1),
    snapshot("C0ffee00002", 1),
    failure("C0ffee00009"),
    snapshot("C0ffee00001", 2, likes=2),
    snapshot("C0ffee00003", 2, followers=12_900_000),
    line("C0ffee00004", "unavailable", "2026-01-02T00:00:00+00:00", response=envelope(None)),
]
#: Appended: new posts, new snapshots of old posts (one fetched before the others, one at the
#: same time as an earlier one), a newer snapshot of an old comment, an owner stub, and the
#: failed post stored at last.
LATER = [
    snapshot("C0ffee00005", 3, followers=13_000_000),
    snapshot("C0ffee00001", 4, likes=40, followers=None),
    snapshot("C0ffee00002", 1, likes=7),
    snapshot("C0ffee00003", 0, followers=11),
    snapshot("C0ffee00009", 3, followers=13_000_000),
    failure("C0ffee00006"),
]


def assert_tables_equal(folder: Path, expected: Tables) -> None:
    built = read_tables(folder)
    for name in NAMES:
        assert_frame_equal(getattr(built, name), getattr(expected, name))


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(("batch_records", "merge_rows"), [(20_000, 100_000), (7, 5), (1, 1)])
def test_the_demo_built_in_batches_is_to_tables(
    demo: Path, demo_tables: Tables, tmp_path: Path, batch_records: int, merge_rows: int
) -> None:
    """Item 1: every table of the demo archive, built in batches of 7 or 1 records and merged
    in ranges of 5 or 1 rows, equals to_tables', value for value and in order."""
    built = build_tables(
        demo / "archive.jsonl", tmp_path, batch_records=batch_records, merge_rows=merge_rows
    )
    assert_tables_equal(tmp_path, demo_tables)
    assert built.rows == {name: getattr(demo_tables, name).height for name in NAMES}
    assert (built.converted, built.reused, built.rebuilt) == (84, 0, None)
    assert built.paths == [tmp_path / f"{name}.parquet" for name in NAMES]
    batches = sorted(p.name for p in (tmp_path / STATE / "batches").iterdir())
    assert len(batches) == -(-84 // batch_records) * 6  # five tables and the stored pairs


def test_the_parquet_files_carry_the_metadata_of_tables_write(demo: Path, tmp_path: Path) -> None:
    build_tables(demo / "archive.jsonl", tmp_path, merge_rows=10)
    for name in NAMES:
        expected = {"igresearch.schema_version": SCHEMA_VERSION, "igresearch.table": name}
        arrow = pq.read_schema(tmp_path / f"{name}.parquet").metadata
        assert {k.decode(): v.decode() for k, v in arrow.items()} == expected
        assert pl.read_parquet_metadata(tmp_path / f"{name}.parquet").items() >= expected.items()
    assert pq.ParquetFile(tmp_path / "media.parquet").metadata.num_row_groups > 1
    assert (
        pq.ParquetFile(tmp_path / "media.parquet").metadata.row_group(0).column(0).compression
        == "ZSTD"
    )


def test_a_multi_snapshot_archive_built_in_batches_is_to_tables(tmp_path: Path) -> None:
    archive = write(tmp_path / "study.jsonl", FIRST + LATER)
    expected = to_tables(archive)
    for size in (1, 2, 3, 100):
        build_tables(archive, tmp_path / f"t{size}", batch_records=size, merge_rows=size)
        assert_tables_equal(tmp_path / f"t{size}", expected)
    # What the equality covers, in values:
    media = expected.media.filter(pl.col("shortcode") == "C0ffee00001")
    assert media["play_count"].to_list() == [1_000, 2_000, 4_000]
    comments = expected.comments.filter(pl.col("media_id") == media["media_id"][0])
    assert comments["like_count"].to_list() == [40]
    [owner] = expected.owners.to_dicts()
    assert owner["follower_count"] == 13_000_000, "the newest count; the stub overwrites none"
    assert expected.errors["resolved"].to_list() == [True, True, False]


def test_the_hostile_archive_built_in_batches_is_to_tables(hostile: Path, tmp_path: Path) -> None:
    """Odd records (bad lines, shapes, ids shared between posts) give the same tables too."""
    build_tables(hostile, tmp_path, batch_records=3, merge_rows=2)
    assert_tables_equal(tmp_path, to_tables(hostile))


def test_a_rebuild_converts_only_the_appended_records(tmp_path: Path) -> None:
    """Item 2: after appends of new posts, new snapshots of old posts, a newer snapshot of an
    old comment, an owner stub and a failure resolved later, the tables equal a full build."""
    archive = write(tmp_path / "study.jsonl", FIRST)
    first = build_tables(archive, tmp_path / "tables", batch_records=2)
    assert (first.converted, first.reused, first.rebuilt) == (6, 0, None)
    errors = read_tables(tmp_path / "tables").errors
    assert errors.select("shortcode", "resolved").rows() == [
        ("C0ffee00009", False),
        ("C0ffee00004", True),
    ]
    with archive.open("a", encoding="utf-8") as more:
        more.writelines(LATER)
    again = build_tables(archive, tmp_path / "tables", batch_records=2)
    assert (again.converted, again.reused, again.rebuilt) == (6, 6, None)
    assert_tables_equal(tmp_path / "tables", to_tables(archive))
    build_tables(archive, tmp_path / "scratch")
    for name in NAMES:
        assert (tmp_path / "tables" / f"{name}.parquet").exists()
        assert_frame_equal(
            pl.read_parquet(tmp_path / "tables" / f"{name}.parquet"),
            pl.read_parquet(tmp_path / "scratch" / f"{name}.parquet"),
        )
    tables = read_tables(tmp_path / "tables")
    assert tables.errors.select("shortcode", "resolved").rows() == [
        ("C0ffee00009", True),
        ("C0ffee00004", True),
        ("C0ffee00006", False),
    ]
    assert tables.owners["follower_count"].to_list() == [13_000_000]
    manifest = json.loads((tmp_path / "tables" / STATE / "manifest.json").read_text())
    assert manifest["bytes"] == archive.stat().st_size
    assert (manifest["lines"], manifest["records"], manifest["batches"]) == (13, 12, 6)
    nothing = build_tables(archive, tmp_path / "tables", batch_records=2)
    assert (nothing.converted, nothing.reused, nothing.rebuilt) == (0, 12, None)


def test_a_partial_last_line_waits_for_its_end(tmp_path: Path) -> None:
    """A collection still writing its last line: only complete lines are converted."""
    last = LATER[0]
    archive = write(tmp_path / "study.jsonl", [*FIRST, last[:100]])
    built = build_tables(archive, tmp_path / "tables")
    assert built.converted == 6
    manifest = json.loads((tmp_path / "tables" / STATE / "manifest.json").read_text())
    assert manifest["bytes"] == len("".join(FIRST).encode())
    (tmp_path / "complete").mkdir()
    complete = write(tmp_path / "complete" / "study.jsonl", FIRST)  # the same name, in records
    assert_tables_equal(tmp_path / "tables", to_tables(complete))
    with archive.open("a", encoding="utf-8") as rest:
        rest.write(last[100:])
    again = build_tables(archive, tmp_path / "tables")
    assert (again.converted, again.reused, again.rebuilt) == (1, 6, None)
    assert_tables_equal(tmp_path / "tables", to_tables(archive))


def test_an_edited_or_shorter_archive_is_built_again_and_says_so(tmp_path: Path) -> None:
    archive = write(tmp_path / "study.jsonl", FIRST + LATER)
    build_tables(archive, tmp_path / "tables", batch_records=2)
    edited = FIRST[1].replace('"apify"', '"rapid"', 1)
    assert len(edited) == len(FIRST[1]), "the same size: only the hash can tell"
    write(archive, [FIRST[0], edited, *FIRST[2:], *LATER])
    built = build_tables(archive, tmp_path / "tables", batch_records=2)
    assert built.rebuilt is not None and "changed: it was not only appended to" in built.rebuilt
    assert (built.converted, built.reused) == (12, 0)
    assert_tables_equal(tmp_path / "tables", to_tables(archive))
    assert read_tables(tmp_path / "tables").media["channel"].to_list().count("rapid") == 1

    write(archive, FIRST[:4])
    built = build_tables(archive, tmp_path / "tables", batch_records=2)
    assert built.rebuilt is not None and "the archive is shorter than the" in built.rebuilt
    assert (built.converted, built.reused) == (3, 0)
    assert_tables_equal(tmp_path / "tables", to_tables(archive))
    assert sorted(p.name for p in (tmp_path / "tables" / STATE / "batches").iterdir()) == [
        f"00000{index}-{name}.parquet" for index in (0, 1) for name in sorted([*NAMES, "stored"])
    ]


@pytest.mark.parametrize("spreadsheet_safe", [False, True])
def test_csv_is_what_tables_write_writes(
    demo: Path, demo_tables: Tables, tmp_path: Path, spreadsheet_safe: bool
) -> None:
    """`--format csv`: the same bytes as Tables.write, datapackage.json included."""
    built = build_tables(
        demo / "archive.jsonl",
        tmp_path / "built",
        format="csv",
        spreadsheet_safe=spreadsheet_safe,
        merge_rows=10,
    )
    written = demo_tables.write(
        tmp_path / "written", format="csv", spreadsheet_safe=spreadsheet_safe
    )
    assert [p.name for p in built.paths] == [p.name for p in written]
    for path in written:
        assert (tmp_path / "built" / path.name).read_bytes() == path.read_bytes(), path.name
    assert not list((tmp_path / "built").glob("*.parquet"))


def test_every_file_and_folder_is_private(demo: Path, tmp_path: Path) -> None:
    """0600 files, 0700 folders, as Tables.write, under the usual umask."""
    build_tables(demo / "archive.jsonl", tmp_path / "new" / "tables", format="csv")
    for path in [tmp_path / "new" / "tables", *(tmp_path / "new" / "tables").rglob("*")]:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_the_tables_command_twice_converts_only_the_new_records(tmp_path: Path) -> None:
    archive = write(tmp_path / "study.jsonl", FIRST)
    out = tmp_path / "tables"
    runner = CliRunner()
    result = runner.invoke(main, ["tables", str(archive), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "converted 6 new records (0 converted before, reused)\n" in result.stdout
    assert f"wrote {out / 'media.parquet'} (4 rows)\n" in result.stdout
    with archive.open("a", encoding="utf-8") as more:
        more.writelines(LATER[:2])
    result = runner.invoke(main, ["tables", str(archive), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("converted 2 new records (6 converted before, reused)\n")
    assert f"wrote {out / 'media.parquet'} (6 rows)\n" in result.stdout
    write(archive, LATER)
    result = runner.invoke(main, ["tables", str(archive), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"{out}: every table built again, because the archive is shorter than the "
    )
    assert "converted 6 new records (0 converted before, reused)\n" in result.stdout
    assert_tables_equal(out, to_tables(archive))


def test_a_comment_id_under_two_posts_keeps_its_latest_snapshot(tmp_path: Path) -> None:
    """The merge ranges over media_id but keeps one row per comment_id, as to_tables does,
    also for an id an edited archive gives to comments of two posts."""
    lines = []
    for code, day in (("C0ffee00002", 2), ("C0ffee00001", 1), ("C0ffee00003", 1)):
        response = FakeAPI.media_for(code)
        node = response["data"]["data"]["xdt_shortcode_media"]
        node["edge_media_to_parent_comment"]["edges"][0]["node"]["id"] = "17000000000000001"
        lines.append(line(code, "ok", f"2026-01-{day:02d}T00:00:00+00:00", response=response))
    archive = write(tmp_path / "study.jsonl", lines)
    expected = to_tables(archive)
    [media_id] = expected.media.filter(pl.col("shortcode") == "C0ffee00002")["media_id"]
    assert expected.comments.select("comment_id", "media_id").rows() == [
        ("17000000000000001", media_id)
    ]
    build_tables(archive, tmp_path / "tables", batch_records=1, merge_rows=1)
    assert_tables_equal(tmp_path / "tables", expected)


def test_a_json_document_is_for_to_tables(tmp_path: Path) -> None:
    document = tmp_path / "responses.json"
    document.write_text(json.dumps([FakeAPI.media_for("C0ffee00001")]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"JSON document, read whole: .*to_tables\(path\)"):
        build_tables(document, tmp_path / "tables")
    assert not (tmp_path / "tables").exists()
    result = CliRunner().invoke(main, ["tables", str(document), "--out", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 't' / 'media.parquet'}" in result.stdout
    assert not (tmp_path / "t" / STATE).exists()


def test_a_file_without_responses_is_refused_as_to_tables_refuses_it(tmp_path: Path) -> None:
    words = write(tmp_path / "words.jsonl", ["# my study\n"])
    with pytest.raises(ArchiveFormatError, match="its first line is '# my study'"):
        build_tables(words, tmp_path / "tables")
    assert not (tmp_path / "tables").exists(), "nothing written"
    other = write(tmp_path / "other.jsonl", ['{"unrelated": 1}\n'] * 3)
    with pytest.raises(ArchiveFormatError, match=r"none of its records is one \(no media node"):
        build_tables(other, tmp_path / "tables")
    assert not list((tmp_path / "tables").glob("*.parquet")), "no table written"


#: A build of ARCHIVE into OUT (argv) in batches of 2 records, that stops after its first batch
#: until it reads a line: a build caught in the middle, in a process of its own.
PAUSED_BUILD = """
import sys
from igresearch import build

write_batch = build._write_batch

def pause_once(*args):
    write_batch(*args)
    build._write_batch = write_batch
    print("converting", flush=True)
    sys.stdin.readline()

build._write_batch = pause_once
build.build_tables(sys.argv[1], sys.argv[2], batch_records=2)
print("built", flush=True)
"""


def paused_build(archive: Path, out: Path) -> subprocess.Popen[str]:
    """A process building `archive` into `out`, paused after its first batch."""
    child = subprocess.Popen(
        [sys.executable, "-c", PAUSED_BUILD, str(archive), str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "converting\n"
    return child


def test_a_second_build_of_a_folder_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    """Two builds into one folder (a notebook and a terminal): the second, from another
    archive, fails at once with one line naming the folder, and the first's tables are whole."""
    archive = write(tmp_path / "study.jsonl", FIRST + LATER)
    (tmp_path / "other").mkdir()
    other = write(tmp_path / "other" / "study.jsonl", LATER)  # would replace the tables
    out = tmp_path / "tables"
    first = paused_build(archive, out)
    try:
        refused = f"Another build is writing the tables in {out} (lock {out / STATE / 'lock'})"
        second = subprocess.run(
            [sys.executable, "-m", "igresearch", "tables", str(other), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (second.returncode, second.stdout) == (1, "")
        assert second.stderr == (
            f"Error: {refused}. Wait for it to finish, or stop it; two builds would mix their "
            "batches.\n"
        )
        with pytest.raises(TablesLockedError, match=re.escape(refused)):
            build_tables(other, out)
        stdout, stderr = first.communicate("\n", timeout=120)
    finally:
        first.kill()
        first.wait()
    assert (first.returncode, stdout) == (0, "built\n"), stderr
    assert_tables_equal(out, to_tables(archive))
    manifest = json.loads((out / STATE / "manifest.json").read_text())
    assert (manifest["records"], manifest["batches"]) == (12, 6)


@pytest.mark.slow
def test_a_killed_build_does_not_block_the_next(tmp_path: Path) -> None:
    """The OS releases the lock of a build killed (SIGKILL) in the middle; the next build runs
    and converts everything, the killed one having recorded nothing."""
    archive = write(tmp_path / "study.jsonl", FIRST + LATER)
    out = tmp_path / "tables"
    child = paused_build(archive, out)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert (out / STATE / "lock").exists(), "the lock file stays; its lock does not"
    built = build_tables(archive, out)
    assert (built.converted, built.reused, built.rebuilt) == (12, 0, None)
    assert_tables_equal(out, to_tables(archive))


def test_the_lock_is_released_after_an_error_and_after_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = write(tmp_path / "study.jsonl", FIRST)
    out = tmp_path / "tables"
    other = write(tmp_path / "other.jsonl", ['{"unrelated": 1}\n'])
    with pytest.raises(ArchiveFormatError):
        build_tables(other, out)
    assert (out / STATE / "lock").exists(), "refused after the lock was taken"

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(build, "_write_batch", interrupted)
        with pytest.raises(KeyboardInterrupt):
            build_tables(archive, out)
    built = build_tables(archive, out)
    assert (built.converted, built.reused, built.rebuilt) == (6, 0, None)
    assert_tables_equal(out, to_tables(archive))
