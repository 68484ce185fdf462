"""Careless input on the command line (issue 11): files that are not what they claim, pasted
URL lists, the plan before the first request, and record planned like collect."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from igresearch.cassettes import read_cassette
from igresearch.cli import main
from igresearch.tables import Tables
from igresearch.testing import FakeAPI

KEY = "sk-SECRET-cli-input-key-0123456789"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MEMORIES_API_KEY", KEY)
    monkeypatch.delenv("MEMORIES_BASE_URL", raising=False)
    return CliRunner()


def test_a_gzipped_archive_is_not_read_as_an_empty_one(
    runner: CliRunner, demo: Path, tmp_path: Path
) -> None:
    """Issue 11, item 2: tables, status, plot and report of a gzipped archive said 0 rows and
    exit 0; now each says the file is not an archive, exit 2, and writes nothing. Since issue
    14 (item 4) an archive named .jsonl.gz is read compressed (the next test): this is one
    whose name does not say so, which is refused, with what to name it."""
    packed = tmp_path / "archive.jsonl"
    packed.write_bytes(gzip.compress((demo / "archive.jsonl").read_bytes(), mtime=0))
    out = tmp_path / "out"
    for args in (
        ["tables", str(packed), "--out", str(out)],
        ["status", str(packed)],
        ["plot", str(packed), "--kind", "scatter", "--out", str(out / "f.png")],
        ["report", str(packed), "--out", str(out)],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        assert str(packed) in result.stderr and "its first line is '\\x1f" in result.stderr
        assert re.search(r"is (not|neither) an igresearch archive", result.stderr)
        assert "but its name does not end in .gz. Name it archive.jsonl.gz" in result.stderr
    assert not out.exists()


def packed(data: bytes, suffix: str) -> bytes:
    import zstandard

    return gzip.compress(data, mtime=0) if suffix == ".gz" else zstandard.compress(data)


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_item14_compressed_archives_are_read_like_the_plain_one(
    runner: CliRunner, demo: Path, demo_tables: Tables, report: Path, tmp_path: Path, suffix: str
) -> None:
    """Issue 14, item 4: tables, status and report read .jsonl.gz and .jsonl.zst archives, and
    say what they say of the plain archive; the report's source_sha256 is the compressed file's,
    as it lies on disk."""
    import hashlib
    import json

    from polars.testing import assert_frame_equal

    from igresearch.tables import read_tables

    plain = demo / "archive.jsonl"
    path = tmp_path / f"archive.jsonl{suffix}"
    path.write_bytes(packed(plain.read_bytes(), suffix))
    built = runner.invoke(main, ["tables", str(path), "--out", str(tmp_path / "tables")])
    assert built.exit_code == 0, built.output
    tables = read_tables(tmp_path / "tables")
    for name in ("media", "comments", "owners", "children", "errors"):
        expected = getattr(demo_tables, name)
        if name == "errors":  # record: the file's name and the line's number
            where = pl.col("record").str.replace("archive.jsonl", path.name, literal=True)
            expected = expected.with_columns(where)
        assert_frame_equal(getattr(tables, name), expected)
    status, plain_status = (runner.invoke(main, ["status", str(p)]) for p in (path, plain))
    assert status.exit_code == 0, status.output
    assert status.stdout == plain_status.stdout.replace(str(plain), str(path))
    assert "  ok              " in status.stdout
    if suffix == ".zst":
        return
    written = runner.invoke(main, ["report", str(path), "--out", str(tmp_path / "report")])
    assert written.exit_code == 0, written.output
    ours, theirs = (
        json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
        for folder in (tmp_path / "report", report)
    )
    for key in ("outcomes", "attrition", "rows", "posts", "collection_window", "channels"):
        assert ours[key] == theirs[key], key
    assert ours["outcomes"] == {"ok": 60, "unavailable": 4}
    assert ours["source"] == "archive.jsonl.gz"
    assert ours["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ours["source_sha256"] != theirs["source_sha256"]


def test_item14_a_plain_archive_named_gz_is_refused(
    runner: CliRunner, demo: Path, tmp_path: Path
) -> None:
    path = tmp_path / "archive.jsonl.gz"
    path.write_bytes((demo / "archive.jsonl").read_bytes())
    for args in (["status", str(path)], ["tables", str(path), "--out", str(tmp_path / "t")]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"Error: {path} is ")
        assert re.search(r"is (not|neither) an igresearch archive", result.stderr)
        assert (
            ": it is named .gz but holds no gzip-compressed data; its first line is "
            '\'{"archive_version"'
        ) in result.stderr
        assert result.stderr.endswith("If it is plain JSON Lines, name it without .gz.\n")
        assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.jsonl.gz"]


def test_item14_collect_says_it_appends_to_plain_json_lines_only(
    runner: CliRunner, fake_api: FakeAPI, demo: Path, tmp_path: Path
) -> None:
    path = tmp_path / "archive.jsonl.gz"
    data = packed((demo / "archive.jsonl").read_bytes(), ".gz")
    path.write_bytes(data)
    args = ["collect", "C0ffee00001", "--archive", str(path), "--no-progress"]
    result = runner.invoke(main, [*args, "--base-url", fake_api.base_url])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: {path} is named as a compressed archive (.gz), and collect appends to plain "
        "JSON Lines only: decompress it (gunzip -k archive.jsonl.gz) and collect into "
        "archive.jsonl, or give a name ending in .jsonl.\n"
    )
    assert fake_api.requests == [] and path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.jsonl.gz"]


def test_item14_without_zstandard_status_says_how_to_install_it(
    runner: CliRunner, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    path = tmp_path / "archive.jsonl.zst"
    path.write_bytes(packed((demo / "archive.jsonl").read_bytes(), ".zst"))
    monkeypatch.setitem(sys.modules, "zstandard", None)
    result = runner.invoke(main, ["status", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == (
        "Error: Reading a .zst archive needs the zstandard package: pip install "
        "'igresearch[zstd]' (or pip install zstandard), or decompress it with unzstd.\n"
    )


def test_tables_still_reads_a_file_of_responses(runner: CliRunner, tmp_path: Path) -> None:
    """Issue 11, item 2: a JSON Lines file of API responses (not an archive) is still read."""
    import json

    responses = tmp_path / "responses.jsonl"
    codes = ["C0ffee00001", "C0ffee00002"]
    responses.write_text("".join(json.dumps(FakeAPI.media_for(c)) + "\n" for c in codes))
    result = runner.invoke(main, ["tables", str(responses), "--out", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 't' / 'media.parquet'} (2 rows)" in result.stdout


def test_a_pasted_list_with_words_quotes_and_a_semicolon_csv(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, items 20, 21 and 22: in a semicolon CSV, quoted URLs are read, bare words are
    skipped with their line (never paid for), and the plan comes before the outcome."""
    table = tmp_path / "export.csv"
    table.write_text(
        "id;url;note\n"
        '1;"\u201chttps://www.instagram.com/reel/C0ffee00001/\u201d";a\n'
        "2;Links;b\n"
        "3; 'C0ffee00002' ;c\n"
        "4;https://www.instagram.com/p/C0ffee00001/;again\n",
        encoding="utf-8",
    )
    archive = tmp_path / "a.jsonl"
    args = ["collect", "--from", str(table), "--archive", str(archive), "--no-progress"]
    result = runner.invoke(main, [*args, "--base-url", fake_api.base_url])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Skipped export.csv:3: Not an Instagram post URL: 'Links' (alone,")
    assert lines[1] == (
        "Plan: 2 valid URLs (1 duplicate, 1 invalid); 0 already in the archive; 2 to request, "
        "about 0.02 USD."
    )
    assert lines[2].startswith("Outcomes: ok 2, unavailable 0, failed 0. Requests made: 2.")
    assert sum(line.startswith("2 valid URLs") for line in lines) == 0, "the plan is not repeated"
    assert sorted(r.json["video_url"] for r in fake_api.requests) == [
        "https://www.instagram.com/reel/C0ffee00001/",
        "https://www.instagram.com/reel/C0ffee00002/",
    ]


def test_a_dry_run_prints_the_plan_and_sends_nothing(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 22: the plan of a dry run, with its cost at --price, on stderr."""
    archive = tmp_path / "a.jsonl"
    args = ["collect", "C0ffee00001", "C0ffee00002", "--archive", str(archive), "--dry-run"]
    result = runner.invoke(main, [*args, "--price", "0.5", "--base-url", fake_api.base_url])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "Plan: 2 valid URLs (0 duplicates, 0 invalid); 0 already in the archive; 2 to request, "
        "about 1.00 USD."
    )
    assert fake_api.requests == [] and not archive.exists()


def record_args(cassette: Path, fake_api: FakeAPI, *urls: str) -> list[str]:
    options = ["--cassette", str(cassette), "--base-url", fake_api.base_url, "--no-progress"]
    return ["record", *urls, *options]


def test_record_plans_like_collect(runner: CliRunner, fake_api: FakeAPI, tmp_path: Path) -> None:
    """Issue 11, item 24: record de-duplicates, leaves out what the cassette holds ("already
    recorded"), counts only new posts in --dry-run and --max-requests, and says "unchanged"
    when it sent nothing."""
    cassette = tmp_path / "c.yaml"
    first = runner.invoke(
        main, record_args(cassette, fake_api, "C0ffee00001", "instagram.com/p/C0ffee00001")
    )
    assert first.exit_code == 0, first.output
    assert f"Cassette: {cassette} (1 new recording)" in first.stderr
    assert len(fake_api.requests) == 1 and len(read_cassette(cassette)) == 1
    held = cassette.read_bytes()

    urls = ("C0ffee00001", "C0ffee00002", "C0ffee00003", "C0ffee00002")
    dry = runner.invoke(main, [*record_args(cassette, fake_api, *urls), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.stderr.splitlines()[0] == (
        "Plan: 3 valid URLs (1 duplicate, 0 invalid); 0 already in the archive; "
        "1 already recorded; 2 to request, about 0.02 USD."
    )
    assert "Dry run: would make 2 requests" in dry.stderr
    assert f"Cassette: {cassette} unchanged (0 new recordings)" in dry.stderr
    assert "recorded)" not in dry.stderr and cassette.read_bytes() == held
    assert len(fake_api.requests) == 1

    capped = runner.invoke(main, [*record_args(cassette, fake_api, *urls), "--max-requests", "1"])
    assert capped.exit_code == 3, capped.output
    assert "Stopped early: --max-requests 1 reached" in capped.stderr
    assert f"Cassette: {cassette} (1 new recording)" in capped.stderr
    assert len(fake_api.requests) == 2, "one new post paid for, none recorded before"

    rest = runner.invoke(main, record_args(cassette, fake_api, *urls))
    assert rest.exit_code == 0, rest.output
    assert "2 already recorded; 1 to request" in rest.stderr
    assert [r.json["video_url"][-12:-1] for r in fake_api.requests] == [
        "C0ffee00001",
        "C0ffee00002",
        "C0ffee00003",
    ], "each post paid for once, in input order"
    assert len(read_cassette(cassette)) == 3

    done = runner.invoke(main, record_args(cassette, fake_api, *urls))
    assert done.exit_code == 0, done.output
    assert "3 already recorded; 0 to request" in done.stderr
    assert f"Cassette: {cassette} unchanged (0 new recordings)" in done.stderr
    assert len(fake_api.requests) == 3


def test_a_replay_plans_and_sums_up_at_no_cost(runner: CliRunner, tmp_path: Path) -> None:
    """Issue 11, item 22: the plan of a run answered from a cassette costs nothing, as its
    summary says (it said 0.01 USD per URL before the run and 0.00 after)."""
    from igresearch.cassettes import cassette_path

    args = ["collect", "DLlGZiCOBQ0", "--archive", str(tmp_path / "a.jsonl"), "--no-progress"]
    replayed = ["--replay", str(cassette_path("documented_example.yaml"))]
    result = runner.invoke(main, [*args, *replayed], env={"MEMORIES_API_KEY": ""})
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].endswith("1 to request, about 0.00 USD.")
    assert "answers received: 1 (about 0.00 USD" in lines[1]
