"""A cassette from an archive's answers (issue 15, item 1): nothing sent, and its replay through
collect gives the same tables."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

import igresearch
from igresearch import cassette_from_archive, collect, pseudonymize
from igresearch.archive import read_archive
from igresearch.cassettes import cassette_path, read_cassette
from igresearch.cli import main
from igresearch.demo import collect_from_cassette
from igresearch.tables import Tables, to_tables
from igresearch.testing import FakeAPI
from igresearch.urls import media_id_to_shortcode, shortcode_to_media_id

TABLES = ("media", "comments", "owners", "children")
FIRST = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def assert_same_study(original: Tables, replayed: Tables) -> None:
    """Media, comments, owners and children equal; errors equal without the failed rows (which
    have no answer to replay) and without `record`, the line of the file they came from (rows
    in archive order, which more than one thread may change, so sorted here)."""
    for name in TABLES:
        assert_frame_equal(getattr(replayed, name), getattr(original, name))

    def stored(errors: pl.DataFrame) -> pl.DataFrame:
        kept = errors.filter(pl.col("kind") != "failed").drop("record")
        return kept.sort("shortcode", "channel", "fetched_at")

    assert_frame_equal(stored(replayed.errors), stored(original.errors))
    assert replayed.errors.filter(pl.col("kind") == "failed").height == 0


def test_the_demo_archive_becomes_the_demo_cassette(demo: Path, tmp_path: Path) -> None:
    """Requests rebuilt as the client sends them, answers as recorded: the cassette made from the
    demo's archive holds the same requests and answers as the recorded demo cassette."""
    written = cassette_from_archive(demo / "archive.jsonl", tmp_path / "study.yaml")
    assert (written.path, written.recordings, dict(written.left_out)) == (
        tmp_path / "study.yaml",
        84,
        {},
    )
    assert stat.S_IMODE(written.path.stat().st_mode) == 0o600, "it names people"
    rebuilt, recorded = read_cassette(written.path), read_cassette(cassette_path("demo.yaml"))
    assert len(rebuilt) == len(recorded) == 84
    for new, old in zip(rebuilt, recorded, strict=True):
        assert new["request"]["method"] == old["request"]["method"] == "POST"
        assert new["request"]["body"] == old["request"]["body"]
        assert new["request"]["headers"] == old["request"]["headers"]
        assert new["request"]["uri"] == (
            "https://mavi-backend.memories.ai/serve/api/v2/instagram/video/metadata"
        )
        assert new["response"]["status"] == old["response"]["status"]
        assert new["response"]["headers"]["Date"] == old["response"]["headers"]["Date"]
        body = json.loads(new["response"]["body"]["string"])
        assert body == json.loads(old["response"]["body"]["string"])
        assert new["response"]["headers"]["Content-Length"] == [
            str(len(new["response"]["body"]["string"]))
        ]


def test_the_demo_replays_from_its_archive_cassette(
    demo: Path, demo_tables: Tables, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    cassette = cassette_from_archive(demo / "archive.jsonl", tmp_path / "study.yaml").path
    summaries = collect_from_cassette(cassette, tmp_path / "replayed.jsonl")
    assert [dict(s.outcomes) for s in summaries] == [{"ok": 60, "unavailable": 4}, {"ok": 20}]
    assert sum(s.cost for s in summaries) == 0
    assert_same_study(demo_tables, to_tables(tmp_path / "replayed.jsonl"))
    again = cassette_from_archive(tmp_path / "replayed.jsonl", tmp_path / "again.yaml").path
    assert again.read_bytes() == cassette.read_bytes(), "same answers, same bytes"


def _node(envelope: dict[str, Any]) -> dict[str, Any]:
    return envelope["data"]["data"]["xdt_shortcode_media"]  # type: ignore[no-any-return]


def build_study(fake_api: FakeAPI, demo: Path, archive: Path) -> list[str]:
    """A study of three runs, each a snapshot: carousels, a post with hidden likes, posts
    unavailable, and failures (one post fails once, then is stored; one fails every time)."""
    records = list(read_archive(demo / "archive.jsonl"))[:64]
    picked: dict[str, dict[str, Any]] = {}
    for record in records:
        node = (record["response"] or {}).get("data", {}).get("data", {})
        node = node.get("xdt_shortcode_media") if isinstance(node, dict) else None
        kind = (
            "unavailable"
            if record["outcome"] == "unavailable"
            else "carousel"
            if node and "edge_sidecar_to_children" in node
            else "hidden"
            if node and node["like_and_view_counts_disabled"]
            else "reel"
        )
        if sum(1 for k in picked.values() if k["kind"] == kind) < 2:
            picked[record["shortcode"]] = {"kind": kind, "record": record}
    kinds = sorted(p["kind"] for p in picked.values())
    assert kinds == ["carousel", "carousel", "hidden", "reel", "reel", "unavailable", "unavailable"]
    codes = list(picked)
    for code, post in picked.items():
        if post["kind"] == "unavailable":
            fake_api.set_for(code, "null_media")
        else:
            fake_api.set_payload(code, post["record"]["response"])
    failing, flaky = "C0ffee15001", "C0ffee15002"
    fake_api.set_for(failing, "code_0003")
    fake_api.set_for(flaky, "code_9009")
    urls = [*codes, failing, flaky]
    options: dict[str, Any] = {"archive": archive, "progress": False, "rate": 1000.0}
    options |= {"api_key": "sk-study-key-15", "base_url": fake_api.base_url, "max_retries": 0}
    for run in range(3):
        fake_api.date = FIRST + timedelta(days=run)
        if run == 1:
            fake_api.set_for(flaky, "ok")
        for code, post in picked.items():
            if post["kind"] != "unavailable":
                envelope = json.loads(json.dumps(post["record"]["response"]))
                node = _node(envelope)
                if node["edge_media_preview_like"]["count"] >= 0:
                    node["edge_media_preview_like"]["count"] += 10 * run
                node["edge_media_to_parent_comment"]["count"] += run
                fake_api.set_payload(code, envelope)
        refresh = timedelta(hours=1) if run else None
        collect(urls, refresh_older_than=refresh, concurrency=3, **options)
    return urls


def test_a_multi_snapshot_study_replays_from_its_archive_cassette(
    fake_api: FakeAPI, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "study.jsonl"
    build_study(fake_api, demo, archive)
    outcomes = [r["outcome"] for r in read_archive(archive)]
    assert (outcomes.count("ok"), outcomes.count("unavailable"), outcomes.count("failed")) == (
        5 * 3 + 2,
        2 * 3,
        3 + 1,
    )
    sent = len(fake_api.requests)

    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    written = cassette_from_archive(archive, tmp_path / "study.yaml")
    assert written.recordings == 23
    assert dict(written.left_out) == {
        "failed: APIError HTTP 200 code 3": 3,
        "failed: APIError HTTP 200 code 9009": 1,
    }
    assert written.describe() == (
        f"wrote {tmp_path / 'study.yaml'}: 23 recordings; 4 failed records left out (a failed "
        "request holds no answer to replay: 3 failed: APIError HTTP 200 code 3, "
        "1 failed: APIError HTTP 200 code 9009)"
    )
    replayed = tmp_path / "replayed.jsonl"
    summaries = collect_from_cassette(written.path, replayed)
    # The flaky post failed in the first run: its two answers are its first two snapshots here.
    assert [dict(s.outcomes) for s in summaries] == [
        {"ok": 6, "unavailable": 2},
        {"ok": 6, "unavailable": 2},
        {"ok": 5, "unavailable": 2},
    ]
    assert len(fake_api.requests) == sent, "nothing sent"
    original, again = to_tables(archive), to_tables(replayed)
    assert original.children.height > 0 and original.media["like_count"].null_count() > 0
    assert original.media.height == 17 and original.errors.height == 10
    assert_same_study(original, again)


def test_the_cassette_command(
    demo: Path, tmp_path: Path, fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "study.jsonl"
    build_study(fake_api, demo, archive)
    out = tmp_path / "study.yaml"
    result = CliRunner().invoke(main, ["cassette", str(archive), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"wrote {out}: 23 recordings; 4 failed records left out (a failed request holds no "
        "answer to replay: 3 failed: APIError HTTP 200 code 3, 1 failed: APIError HTTP 200 "
        "code 9009)\n"
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "sk-study-key-15" not in out.read_text(encoding="utf-8")


def test_collect_replays_a_whole_cassette_from_the_command_line(
    demo: Path, tmp_path: Path, fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15, item 3: `collect --cassette FILE` with neither URLs nor --from replays every
    post and every snapshot, with no key and nothing sent; with URLs, those; a miss stops."""
    archive = tmp_path / "study.jsonl"
    urls = build_study(fake_api, demo, archive)
    cassette_from_archive(archive, tmp_path / "study.yaml")
    sent = len(fake_api.requests)
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    runner = CliRunner()
    replayed = tmp_path / "replayed.jsonl"
    args = ["collect", "--cassette", str(tmp_path / "study.yaml"), "--no-progress"]
    result = runner.invoke(main, [*args, "--archive", str(replayed)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "Plan: 8 valid URLs (0 duplicates, 0 invalid); 0 already in the archive; 8 to request, "
        "about 0.00 USD."
    )
    assert [line.split(". Requests")[0] for line in lines if line.startswith("Outcomes")] == [
        "Outcomes: ok 6, unavailable 2, failed 0",
        "Outcomes: ok 6, unavailable 2, failed 0",
        "Outcomes: ok 5, unavailable 2, failed 0",
    ]
    assert len(fake_api.requests) == sent, "nothing sent"
    assert_same_study(to_tables(archive), to_tables(replayed))

    again = runner.invoke(main, [*args, "--archive", str(replayed)])
    assert again.exit_code == 2
    assert "already holds records: replaying a whole cassette needs a new" in again.stderr

    listed = tmp_path / "urls.txt"
    listed.write_text("\n".join(urls[:3]) + "\n", encoding="utf-8")
    some = runner.invoke(main, [*args, "--from", str(listed), "--archive", str(tmp_path / "a")])
    assert some.exit_code == 0, some.output
    first = {}
    for record in read_archive(archive):
        first.setdefault(record["shortcode"], record)
    got = {r["shortcode"]: r for r in read_archive(tmp_path / "a")}
    assert sorted(got) == sorted(urls[:3])
    for code, record in got.items():  # each post's first snapshot
        assert (record["outcome"], record["fetched_at"], record["response"]) == (
            first[code]["outcome"],
            first[code]["fetched_at"],
            first[code]["response"],
        )

    failing = urls[-2]  # it never gave an answer, so the cassette does not hold it
    miss = runner.invoke(main, [*args, failing, "--archive", str(tmp_path / "b")])
    assert miss.exit_code == 1
    assert f"holds no (further) recording of {failing!r}" in miss.stderr
    assert len(fake_api.requests) == sent


# --- item 2: a cassette safe to publish

SALT = "the public cassette's salt, 16+"
KEYS = {
    "media": ["media_id", "fetched_at"],
    "comments": ["comment_id", "fetched_at"],
    "owners": ["owner_id", "fetched_at"],
    "children": ["parent_media_id", "position", "fetched_at"],
    "errors": ["shortcode", "channel", "fetched_at"],
}


def assert_pseudonymised_study(archive: Path, replayed: Path) -> None:
    """The tables replayed from the public cassette are pseudonymize(to_tables(archive)) on the
    columns it keeps, row for row once sorted by key (the rows of pseudonymize keep the order
    of the original ids); errors without the failed rows and `record`, and with the server's
    words in `reason` given as the category, as pseudonymize gives them."""
    want, got = pseudonymize(to_tables(archive), SALT), to_tables(replayed)
    for name, keys in KEYS.items():
        expected, actual = getattr(want, name), getattr(got, name)
        if name == "errors":
            expected = expected.filter(pl.col("kind") != "failed").drop("record")
            actual = actual.filter(pl.col("kind") != "failed").drop("record")
            actual = actual.with_columns(reason=pl.col("category"))
        assert actual.height == expected.height > 0 or name == "children"
        assert_frame_equal(actual.select(expected.columns).sort(keys), expected.sort(keys))


def _cassette_text(path: Path) -> str:
    """The file as written, and every request and answer body decoded (YAML escapes control
    and non-ASCII characters, which hostile names hold)."""
    parts = [path.read_text(encoding="utf-8")]
    for interaction in read_cassette(path):
        parts += [interaction["request"]["uri"], interaction["request"]["body"]]
        body = json.loads(interaction["response"]["body"]["string"])
        parts.append(json.dumps(body, ensure_ascii=False))
    return "\n".join(parts)


def test_a_public_cassette_names_nobody_and_replays_into_the_pseudonymised_tables(
    hostile: Path, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15, item 2, on the hostile posts followed by the demo study: no original username,
    full name, id, shortcode, audio id or URL anywhere in the file (the search of
    test_hostile.py), and its replay gives the pseudonymised tables."""
    from test_hostile import _found, _originals

    joined = tmp_path / "joined.jsonl"
    joined.write_bytes(hostile.read_bytes() + (demo / "archive.jsonl").read_bytes())
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    umask = os.umask(0o022)
    try:
        written = cassette_from_archive(joined, tmp_path / "public" / "public.yaml", salt=SALT)
    finally:
        os.umask(umask)
    assert (written.recordings, sum(written.left_out.values())) == (88, 2)
    assert stat.S_IMODE(written.path.stat().st_mode) == 0o644, "it follows the umask"

    originals = _originals(joined)
    assert len(originals) > 100
    (tmp_path / "public" / "decoded.txt").write_text(_cassette_text(written.path), "utf-8")
    assert _found(originals, tmp_path / "public") == {}
    # The same search finds them in the identified cassette.
    identified = tmp_path / "identified"
    cassette_from_archive(joined, identified / "study.yaml")
    (identified / "decoded.txt").write_text(_cassette_text(identified / "study.yaml"), "utf-8")
    assert {"C0ffee00101", "hostile_hidden_person"} <= set(
        _found(originals, identified)["decoded.txt"]
    )

    replayed = tmp_path / "replayed.jsonl"
    summaries = collect_from_cassette(written.path, replayed)
    assert [dict(s.outcomes) for s in summaries] == [{"ok": 63, "unavailable": 5}, {"ok": 20}]
    assert_pseudonymised_study(joined, replayed)
    for record in read_archive(replayed):
        assert record["shortcode"] == media_id_to_shortcode(
            shortcode_to_media_id(record["shortcode"])
        )


def test_a_public_multi_snapshot_study_replays_into_the_pseudonymised_tables(
    fake_api: FakeAPI, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "study.jsonl"
    build_study(fake_api, demo, archive)
    out = tmp_path / "public.yaml"
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    monkeypatch.setenv("IGRESEARCH_SALT", SALT)
    runner = CliRunner()
    result = runner.invoke(main, ["cassette", str(archive), "--out", str(out), "--pseudonymize"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out}: 23 recordings; 4 failed records left out")
    replayed = tmp_path / "replayed.jsonl"
    args = ["collect", "--cassette", str(out), "--archive", str(replayed), "--no-progress"]
    assert runner.invoke(main, args).exit_code == 0
    assert_pseudonymised_study(archive, replayed)
    for code in {r["shortcode"] for r in read_archive(archive)}:
        assert code not in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("salt", "message"),
    [
        (None, "--pseudonymize needs $IGRESEARCH_SALT"),
        ("", "--pseudonymize needs $IGRESEARCH_SALT"),
        ("short salt", "at least 16 characters (got 10)"),
    ],
)
def test_a_public_cassette_needs_a_long_salt_from_the_environment(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, salt: str | None, message: str
) -> None:
    if salt is None:
        monkeypatch.delenv("IGRESEARCH_SALT", raising=False)
    else:
        monkeypatch.setenv("IGRESEARCH_SALT", salt)
    out = tmp_path / "public.yaml"
    args = ["cassette", str(demo / "archive.jsonl"), "--out", str(out), "--pseudonymize"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert not out.exists()
    typed = CliRunner().invoke(main, [*args, "--salt", "a salt typed, seen by ps"])
    assert typed.exit_code == 2 and "No such option '--salt'" in typed.stderr


def test_stored_records_edited_by_hand_are_left_out_not_a_traceback(
    demo: Path, tmp_path: Path
) -> None:
    """Attack: a stored record without a URL, with an unknown channel, with a fetched_at that
    is no time, or naming an igresearch version with a line break, crashed `cassette` with a
    traceback or copied the text into a header. Each is left out and counted; the rest kept."""
    lines = (demo / "archive.jsonl").read_text(encoding="utf-8").splitlines()
    good = json.loads(lines[0])
    assert good["outcome"] == "ok"
    edited = [
        {k: v for k, v in good.items() if k != "url"},
        good | {"channel": {"a": 1}},
        good | {"fetched_at": "yesterday"},
        good | {"igresearch_version": "x\r\nEvil: 1"},
    ]
    archive = tmp_path / "edited.jsonl"
    archive.write_text("".join(json.dumps(r) + "\n" for r in edited), encoding="utf-8")
    result = CliRunner().invoke(main, ["cassette", str(archive), "--out", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"wrote {tmp_path / 'c.yaml'}: 1 recording; 3 stored records left out, too damaged to "
        "replay (1 malformed: fetched_at is not a time, 2 malformed: no post URL or known channel)"
    )
    [recording] = read_cassette(tmp_path / "c.yaml")
    assert recording["request"]["headers"]["User-Agent"] == [f"igresearch/{igresearch.__version__}"]
