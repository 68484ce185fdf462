"""A cassette from an archive's answers (issue 15, item 1): nothing sent, and its replay through
collect gives the same tables."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from igresearch import cassette_from_archive, collect
from igresearch.archive import read_archive
from igresearch.cassettes import cassette_path, read_cassette
from igresearch.cli import main
from igresearch.demo import collect_from_cassette
from igresearch.tables import Tables, to_tables
from igresearch.testing import FakeAPI

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
