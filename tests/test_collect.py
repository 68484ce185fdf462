"""Collecting many URLs against the fake API: resume, money, failures, kills, the rate limit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from doubles import SimulatedClock

from igresearch.archive import read_archive
from igresearch.cli import exit_code
from igresearch.collect import RateLimiter, collect, plan_collection
from igresearch.errors import AuthError
from igresearch.tables import to_tables
from igresearch.testing import FakeAPI

KEY = "sk-SECRET-collect-test-key-0123456789"
CODES = [f"C0ffee{i:05d}" for i in range(20)]


def no_sleep(seconds: float) -> None:
    """Retries in tests do not sleep for real."""


@pytest.fixture
def run(fake_api: FakeAPI, tmp_path: Path) -> Any:
    """collect() against the fake, no progress bar, no real sleeping, fast rate."""

    def run_collect(urls: list[str], **options: Any) -> Any:
        settings: dict[str, Any] = {
            "archive": tmp_path / "archive.jsonl",
            "api_key": KEY,
            "base_url": fake_api.base_url,
            "progress": False,
            "rate": 1000.0,
            "concurrency": 4,
            "sleep": no_sleep,
        }
        return collect(urls, **(settings | options))

    return run_collect


def archive_records(tmp_path: Path) -> list[dict[str, Any]]:
    return list(read_archive(tmp_path / "archive.jsonl"))


def requested_codes(fake_api: FakeAPI) -> Counter[str]:
    return Counter(r.json["video_url"].split("/")[-2] for r in fake_api.requests if r.json)


# --- input ---


def test_plan_normalises_deduplicates_and_reports_invalid_lines(tmp_path: Path) -> None:
    entries = [
        ("f:1", "https://www.instagram.com/reel/AAAAAAAAAAA/?igsh=1"),
        ("f:2", "instagram.com/p/AAAAAAAAAAA"),
        ("f:3", "https://example.com/reel/AAAAAAAAAAA"),
        ("f:4", "BBBBBBBBBBB"),
    ]
    plan = plan_collection(entries, tmp_path / "none.jsonl")
    assert plan.to_request == [
        ("AAAAAAAAAAA", "https://www.instagram.com/reel/AAAAAAAAAAA/"),
        ("BBBBBBBBBBB", "https://www.instagram.com/reel/BBBBBBBBBBB/"),
    ]
    assert (plan.valid, plan.duplicates) == (2, 1)
    [(where, text, reason)] = plan.invalid
    assert (where, text) == ("f:3", "https://example.com/reel/AAAAAAAAAAA")
    assert "example.com" in reason
    assert plan.cost() == pytest.approx(0.02)


# --- runs ---


def test_collect_archives_every_outcome_with_provenance(
    run: Any, fake_api: FakeAPI, tmp_path: Path
) -> None:
    fake_api.date = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    fake_api.set_for(CODES[1], "null_media")
    summary = run(CODES[:3])

    assert exit_code(summary) == 0
    assert dict(summary.outcomes) == {"ok": 2, "unavailable": 1}
    records = {r["shortcode"]: r for r in archive_records(tmp_path)}
    ok = records[CODES[0]]
    assert ok["outcome"] == "ok"
    assert ok["url"] == f"https://www.instagram.com/reel/{CODES[0]}/"
    assert (ok["attempts"], ok["http_status"], ok["api_code"], ok["channel"]) == (
        1,
        200,
        "0000",
        "apify",
    )
    assert ok["fetched_at"] == "2026-02-03T04:05:06+00:00"
    assert ok["response"] == fake_api.media_for(CODES[0])
    assert ok["igresearch_version"]
    unavailable = records[CODES[1]]
    assert unavailable["outcome"] == "unavailable"
    assert unavailable["response"]["data"]["data"]["xdt_shortcode_media"] is None

    tables = to_tables(tmp_path / "archive.jsonl")
    assert sorted(tables.media["shortcode"]) == [CODES[0], CODES[2]]
    assert tables.media["fetched_at"].to_list() == [fake_api.date] * 2
    assert tables.errors["kind"].to_list() == ["unavailable"]


def test_resume_never_pays_twice(run: Any, fake_api: FakeAPI) -> None:
    run(CODES[:5])
    summary = run(CODES)
    assert summary.plan.already_stored == 5
    assert requested_codes(fake_api) == Counter(CODES)


def test_failures_are_recorded_then_retried(run: Any, fake_api: FakeAPI, tmp_path: Path) -> None:
    fake_api.set_for(CODES[0], "html")
    fake_api.set_for(CODES[1], "code_0003")
    first = run(CODES[:4])
    assert (exit_code(first), first.outcomes["failed"], first.outcomes["ok"]) == (1, 2, 2)
    failed = [r for r in archive_records(tmp_path) if r["outcome"] == "failed"]
    assert {r["error"]["class"] for r in failed} == {"ResponseFormatError", "APIError"}
    assert all(r["response"] is None for r in failed)

    fake_api.reset()
    second = run(CODES[:6], retry_failed=True)
    assert exit_code(second) == 0
    assert requested_codes(fake_api) == Counter(CODES[:2]), "only the failures"


def test_refresh_takes_new_snapshots_once(run: Any, fake_api: FakeAPI, tmp_path: Path) -> None:
    fake_api.date = datetime.now(UTC) - timedelta(days=2)
    run(CODES[:3])
    fake_api.date = None
    run(CODES[:3], refresh_older_than=timedelta(hours=24))
    run(CODES[:3], refresh_older_than=timedelta(hours=24))  # nothing is older now
    assert requested_codes(fake_api) == Counter({code: 2 for code in CODES[:3]})
    assert to_tables(tmp_path / "archive.jsonl").media.height == 6


def test_a_refresh_plan_counts_the_archived_urls_and_those_older_than_the_limit(
    run: Any, fake_api: FakeAPI
) -> None:
    """Issue 13, item 6: with every post in the archive, the plan does not say "0 already in
    the archive": it says how many the archive holds and how many of them are requested again."""
    fake_api.date = datetime.now(UTC) - timedelta(days=2)
    run(CODES[:3])
    fake_api.date = None
    run(CODES[3:4])
    fake_api.set_for(CODES[4], "html")
    run(CODES[4:5])  # a failure only: not in the archive as a stored post
    summary = run(CODES[:6], refresh_older_than=timedelta(hours=24))
    plan = summary.plan
    assert (plan.valid, plan.already_stored, plan.older, len(plan.to_request)) == (6, 1, 3, 5)
    assert str(summary).splitlines()[0] == (
        "6 valid URLs (0 duplicates, 0 invalid); 4 in the archive, 3 of them older than the "
        "refresh limit (requested again); 5 to request, about 0.05 USD."
    )
    assert run(CODES[:3]).plan.older is None, "no limit, no count of older posts"


def test_dry_run_requests_nothing(run: Any, fake_api: FakeAPI, tmp_path: Path) -> None:
    run(CODES[:2])
    summary = run(CODES[:5], dry_run=True, price=0.05)
    assert len(summary.plan.to_request) == 3
    assert "would make 3 requests, about 0.15 USD" in str(summary)
    assert len(fake_api.requests) == 2


def test_max_requests_stops_then_resumes(run: Any, fake_api: FakeAPI) -> None:
    summary = run(CODES[:10], max_requests=4)
    assert (exit_code(summary), len(fake_api.requests)) == (3, 4)
    assert "max_requests=4 reached" in str(summary.stopped)
    assert exit_code(run(CODES[:10])) == 0
    assert requested_codes(fake_api) == Counter(CODES[:10])


@pytest.mark.parametrize(
    ("behaviour", "word"), [("unauthorized", "key"), ("no_credits", "credits")]
)
def test_bad_key_or_no_credits_stop_the_run(
    run: Any, fake_api: FakeAPI, behaviour: str, word: str
) -> None:
    fake_api.set_default(behaviour)
    summary = run(CODES, concurrency=2)
    assert exit_code(summary) == 3
    assert word in str(summary.stopped)
    assert len(fake_api.requests) <= 2, "every further request would fail too"


def test_no_key_fails_before_touching_the_archive(
    run: Any, fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    with pytest.raises(AuthError, match="MEMORIES_API_KEY"):
        run(CODES[:3], api_key=None)
    assert not (tmp_path / "archive.jsonl").exists()
    assert fake_api.requests == []


def test_no_valid_input_is_exit_2(run: Any) -> None:
    assert exit_code(run(["https://example.com/x"])) == 2


def test_a_stormy_run_loses_nothing_and_a_second_run_completes(
    run: Any, fake_api: FakeAPI, tmp_path: Path
) -> None:
    codes = [f"Gusty{i:06d}" for i in range(40)]  # bare: a media id below 2**63
    storm = [
        "rate_limited",
        "rate_limited_no_retry_after",
        "server_error",
        "reset",
        "html",
        "truncated",
    ]
    fake_api.slow_seconds = 0.5
    fake_api.enqueue(*(storm * 6), *["slow"] * 3)
    clock = SimulatedClock()  # Retry-After pauses pass at once
    limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)
    first = run(codes, timeout=0.3, max_retries=2, limiter=limiter)
    records = archive_records(tmp_path)
    assert sorted(r["shortcode"] for r in records) == sorted(codes), "none lost, none duplicated"
    assert first.outcomes["ok"] + first.outcomes["failed"] == 40
    assert first.outcomes["failed"] > 0

    second = run(codes, timeout=5)
    assert exit_code(second) == 0
    assert second.outcomes["ok"] == first.outcomes["failed"]
    latest = {r["shortcode"]: r["outcome"] for r in archive_records(tmp_path)}
    assert set(latest.values()) == {"ok"}
    assert KEY.encode() not in (tmp_path / "archive.jsonl").read_bytes()


def cli_collect(fake_api: FakeAPI, archive: Path, urls: Path, *extra: str) -> subprocess.Popen[str]:
    env = os.environ | {"MEMORIES_API_KEY": KEY}
    command = [sys.executable, "-m", "igresearch", "collect", "--from", str(urls)]
    command += ["--archive", str(archive), "--base-url", fake_api.base_url, "--no-progress", *extra]
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def wait_for_lines(path: Path, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or path.read_bytes().count(b"\n") < count:
        assert time.monotonic() < deadline, "the collector did not write in time"
        time.sleep(0.02)


@pytest.mark.slow
def test_sigkill_then_resume_pays_once_per_stored_post(fake_api: FakeAPI, tmp_path: Path) -> None:
    codes = [f"Cut0ff{i:05d}" for i in range(60)]  # bare: a media id below 2**63
    urls, archive = tmp_path / "urls.txt", tmp_path / "archive.jsonl"
    urls.write_text("\n".join(codes) + "\n")
    fake_api.latency = 0.05
    child = cli_collect(fake_api, archive, urls, "--concurrency", "2", "--rate", "100")
    wait_for_lines(archive, 10)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    stored_before = {r["shortcode"] for r in read_archive(archive)}
    assert 10 <= len(stored_before) < 60
    requests_before = len(fake_api.requests)

    fake_api.latency = 0
    summary = collect(
        codes, archive=archive, api_key=KEY, base_url=fake_api.base_url, progress=False, rate=1000
    )
    assert exit_code(summary) == 0
    second_run = requested_codes_since(fake_api, requests_before)
    assert not (second_run & stored_before), "nothing already stored is requested again"
    outcomes = Counter(r["shortcode"] for r in read_archive(archive) if r["outcome"] == "ok")
    assert outcomes == Counter(codes), "exactly one successful record per URL"


def requested_codes_since(fake_api: FakeAPI, start: int) -> set[str]:
    return {r.json["video_url"].split("/")[-2] for r in fake_api.requests[start:] if r.json}


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_exit_130(fake_api: FakeAPI, tmp_path: Path) -> None:
    urls, archive = tmp_path / "urls.txt", tmp_path / "archive.jsonl"
    urls.write_text("\n".join(f"Ctrl0C{i:05d}" for i in range(200)) + "\n")
    fake_api.latency = 0.05
    child = cli_collect(fake_api, archive, urls, "--concurrency", "2", "--rate", "100")
    wait_for_lines(archive, 5)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    assert "Interrupted" in stderr
    content = archive.read_bytes()
    assert content.endswith(b"\n")
    records = [json.loads(line) for line in content.splitlines()]
    assert 5 <= len(records) < 200
    assert len({r["shortcode"] for r in records}) == len(records)


# --- the rate limiter, on a simulated clock ---


def max_in_any_window(times: list[float], width: float = 1.0) -> int:
    return max(sum(1 for u in times if t <= u < t + width) for t in times)


@pytest.mark.parametrize("rate", [0.5, 1, 7.5, 20, 80])
def test_rate_limiter_never_exceeds_the_rate_in_any_window(rate: float) -> None:
    clock = SimulatedClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(200):
        limiter.wait()
        times.append(clock.now)
    cap = max(1, int(rate))
    assert max_in_any_window(times) <= cap
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert achieved == pytest.approx(min(rate, cap), rel=0.05)


def test_rate_limiter_slows_everyone_after_a_429() -> None:
    clock = SimulatedClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.wait()
    limiter.penalize(3.0)
    limiter.penalize(3.0)  # another thread's 429 in the same pause changes nothing
    limiter.wait()
    assert clock.now == pytest.approx(3.0), "paused for Retry-After"
    limiter.wait()
    assert clock.now == pytest.approx(3.2), "then at half the pace"
    for _ in range(10):
        limiter.relax()
    start = clock.now
    limiter.wait()
    assert clock.now - start == pytest.approx(0.1), "and back to the set rate"


def test_an_unexpected_error_stops_the_run_instead_of_paying_on(
    run: Any, fake_api: FakeAPI
) -> None:
    def broken_sleep(seconds: float) -> None:
        raise RuntimeError("a bug, not an API answer")

    fake_api.set_default("server_error")
    with pytest.raises(RuntimeError, match="a bug"):
        run(CODES, concurrency=1, sleep=broken_sleep)
    assert len(fake_api.requests) == 1, "no further request after the error"


def test_the_plan_is_given_before_the_first_request(run: Any, fake_api: FakeAPI) -> None:
    """Issue 11, item 22: on_plan gets the plan (valid, duplicates, invalid with where, already
    stored, to request, cost) after planning and before any request, also on a dry run."""
    run(CODES[:1])
    seen: list[tuple[Any, int]] = []
    urls = [*CODES[:3], CODES[1], ("urls.txt:7", "Links")]
    for dry_run in (True, False):
        summary = run(
            urls,
            dry_run=dry_run,
            on_plan=lambda plan: seen.append((plan, len(fake_api.requests))),
        )
        assert seen[-1][0] is summary.plan
    assert [requests for _, requests in seen] == [1, 1], "nothing sent before the plan was given"
    plan = seen[0][0]
    assert (plan.valid, plan.duplicates, plan.already_stored) == (3, 1, 1)
    assert [where for where, _, _ in plan.invalid] == ["urls.txt:7"]
    assert plan.describe(0.5) == (
        "3 valid URLs (1 duplicate, 1 invalid); 1 already in the archive; 2 to request, "
        "about 1.00 USD."
    )
    assert len(fake_api.requests) == 3


def test_a_collection_into_a_file_that_is_not_an_archive_sends_nothing(
    run: Any, fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 2: collect(archive=...) refuses a file that is not an archive before any
    request, and leaves it as it was."""
    from igresearch.errors import ArchiveFormatError

    urls = tmp_path / "urls.txt"
    urls.write_text("C0ffee00001\n")
    with pytest.raises(ArchiveFormatError, match="urls.txt is not an igresearch archive"):
        run(CODES[:2], archive=urls)
    assert urls.read_text() == "C0ffee00001\n"
    assert fake_api.requests == []
