"""What stops a collection, and that a stopped run sends nothing more (issue 11, items 5, 7, 8,
9 and 11), against the fake API on 127.0.0.1 and a real file system; Ctrl-C is a real SIGINT to
a real process. Kept apart from test_collect.py: these start processes and limit file sizes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from doubles import SimulatedClock

from igresearch.cassettes import read_cassette
from igresearch.cli import exit_code, main
from igresearch.client import Client
from igresearch.collect import RateLimiter, collect
from igresearch.errors import RetryAfterError
from igresearch.testing import FakeAPI

KEY = "sk-SECRET-stop-test-key-0123456789"
HANG = 30  # seconds: the generous ceiling of every hang check


def no_sleep(seconds: float) -> None:
    """Retries in tests do not sleep for real."""


def run(fake_api: FakeAPI, tmp_path: Path, urls: list[str], **options: Any) -> Any:
    """collect() against the fake: no progress bar, no real sleeping, a fast rate."""
    settings: dict[str, Any] = {
        "archive": tmp_path / "archive.jsonl",
        "api_key": KEY,
        "base_url": fake_api.base_url,
        "progress": False,
        "rate": 1000.0,
        "sleep": no_sleep,
    }
    return collect(urls, **(settings | options))


def records(archive: Path) -> list[dict[str, Any]]:
    """Every line of the archive, parsed strictly: a half-written line fails the test."""
    if not archive.exists():
        return []
    return [json.loads(line) for line in archive.read_bytes().splitlines()]


def requested(fake_api: FakeAPI, start: int = 0) -> list[str]:
    """The shortcodes of the requests the fake received, in order."""
    return [r.json["video_url"].split("/")[-2] for r in fake_api.requests[start:] if r.json]


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {HANG} s"
        time.sleep(0.02)


def cli(fake_api: FakeAPI, tmp_path: Path, codes: list[str], *extra: str) -> subprocess.Popen[str]:
    """`python -m igresearch collect` of `codes` in a process of its own."""
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(codes) + "\n")
    command = [sys.executable, "-m", "igresearch", "collect", "--from", str(urls), "--archive"]
    command += [str(tmp_path / "archive.jsonl"), "--base-url", fake_api.base_url, "--no-progress"]
    env = os.environ | {"MEMORIES_API_KEY": KEY}
    return subprocess.Popen([*command, *extra], env=env, stderr=subprocess.PIPE, text=True)


# --- item 7: Ctrl-C ---


@pytest.mark.slow
def test_item7_one_sigint_ends_a_stuck_run_with_130_then_a_second_run_completes(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 7: one SIGINT while every worker waits on a server that never answers:
    gone within 30 s with exit 130, the answers already received stored whole, and a second
    run completes."""
    codes = [f"A1gint{i:05d}" for i in range(12)]
    for code in codes[3:]:
        fake_api.set_for(code, "endless")
    child = cli(fake_api, tmp_path, codes, "--timeout", "2", "--concurrency", "2")
    wait_until(lambda: len(fake_api.requests) >= 4, "the first stuck request")
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=HANG)

    assert child.returncode == 130, stderr
    assert "Interrupted" in stderr
    assert "Traceback" not in stderr
    stored = records(tmp_path / "archive.jsonl")
    assert sorted(r["shortcode"] for r in stored) == codes[:3]
    assert {r["outcome"] for r in stored} == {"ok"}, "a stuck URL is not recorded as failed"

    fake_api.reset()
    second = cli(fake_api, tmp_path, codes)
    _, stderr = second.communicate(timeout=HANG)
    assert second.returncode == 0, stderr
    assert sorted(requested(fake_api)) == codes[3:], "nothing stored is requested again"
    assert Counter(r["shortcode"] for r in records(tmp_path / "archive.jsonl")) == Counter(codes)


@pytest.mark.slow
def test_item7_answers_in_flight_at_ctrl_c_are_stored(fake_api: FakeAPI, tmp_path: Path) -> None:
    """Issue 11, item 7: after one SIGINT no request is sent, and the answers in flight, which
    arrive within their attempt's timeout, are stored; exit 130."""
    codes = [f"Afl1ght{i:04d}" for i in range(6)]
    fake_api.slow_seconds = 3
    fake_api.set_default("slow")
    child = cli(fake_api, tmp_path, codes, "--timeout", "20", "--concurrency", "2")
    wait_until(lambda: len(fake_api.requests) >= 2, "two requests in flight")
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=HANG)

    assert child.returncode == 130, stderr
    in_flight = requested(fake_api)
    assert len(in_flight) == 2, "nothing sent after the SIGINT"
    stored = records(tmp_path / "archive.jsonl")
    assert sorted(r["shortcode"] for r in stored) == sorted(in_flight)
    assert {r["outcome"] for r in stored} == {"ok"}


def _interrupted_every_millisecond(wait: Any) -> float:
    """Call `wait` until it returns, while a timer raises KeyboardInterrupt in it every
    millisecond (as Ctrl-C, or a signal, lands in the middle of a wait); the seconds it took.
    The interrupt is raised only inside `wait`, once per call, never into the test itself."""
    armed = [False]

    def interrupt(signum: int, frame: Any) -> None:
        if armed[0]:
            armed[0] = False
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    try:
        while True:
            try:
                armed[0] = True
                wait()
                armed[0] = False
                break
            except KeyboardInterrupt:
                pass
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return time.monotonic() - started


def test_waiting_for_the_workers_survives_interrupts() -> None:
    """The wait for the workers, interrupted again and again, returns only once they are done
    (waiting with Thread.join, it could return while one still ran: CPython gh-90882, an
    answer in flight lost at Ctrl-C)."""
    from igresearch.collect import _join

    finished = threading.Event()
    answered = []

    def worker() -> None:
        time.sleep(1.5)
        answered.append(True)
        finished.set()

    for _ in range(2):
        answered.clear()
        finished.clear()
        threading.Thread(target=worker, daemon=True).start()
        took = _interrupted_every_millisecond(lambda: _join([finished]))
        assert answered == [True], f"returned after {took:.2f} s while the worker ran"


@pytest.mark.slow
def test_item7_a_second_sigint_quits_at_once_with_the_archive_whole(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 7: the first SIGINT waits for the answers in flight (here up to a 60 s
    attempt timeout); the second ends the process at once, exit 130, every line whole."""
    codes = [f"Btw1ce{i:05d}" for i in range(12)]
    for code in codes[3:]:
        fake_api.set_for(code, "endless")
    child = cli(fake_api, tmp_path, codes, "--timeout", "60", "--concurrency", "2")
    wait_until(lambda: len(fake_api.requests) >= 5, "both workers stuck")
    child.send_signal(signal.SIGINT)
    time.sleep(1)  # the first is handled: the process now waits for its stuck requests
    assert child.poll() is None, "the first SIGINT waits for the answers in flight"
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=HANG)  # well under the 60 s timeout

    assert child.returncode == 130, stderr
    assert "Interrupted: Ctrl-C twice" in stderr
    assert "Traceback" not in stderr
    stored = records(tmp_path / "archive.jsonl")
    assert sorted(r["shortcode"] for r in stored) == codes[:3]
    assert len(fake_api.requests) == 5, "nothing was sent after the first SIGINT"


@pytest.mark.slow
def test_item7_record_keeps_its_recordings_after_two_sigints(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 7: two SIGINTs to `igresearch record` while requests hang: it quits at
    once with exit 130, and the cassette keeps the answers it had paid for."""
    codes = [f"Frec0r{i:05d}" for i in range(8)]
    fake_api.slow_seconds = 3600
    for code in codes[3:]:
        fake_api.set_for(code, "slow")
    cassette = tmp_path / "study.yaml"
    command = [sys.executable, "-m", "igresearch", "record", *codes, "--cassette", str(cassette)]
    command += ["--base-url", fake_api.base_url, "--no-progress", "--concurrency", "2"]
    command += ["--timeout", "60"]
    child = subprocess.Popen(
        command, env=os.environ | {"MEMORIES_API_KEY": KEY}, stderr=subprocess.PIPE, text=True
    )
    wait_until(lambda: len(fake_api.requests) >= 5, "both workers stuck")
    child.send_signal(signal.SIGINT)
    time.sleep(1)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=HANG)

    assert child.returncode == 130, stderr
    assert "Cassette: " in stderr and "(3 new recordings)" in stderr
    bodies = [json.loads(i["request"]["body"]) for i in read_cassette(cassette)]
    assert sorted(body["video_url"].split("/")[-2] for body in bodies) == codes[:3]


RETRY_WAIT_SCRIPT = """
import sys
from igresearch import collect
summary = collect(
    sys.argv[1:], archive="archive.jsonl", api_key="sk-test-key", base_url=BASE,
    progress=False, concurrency=2, backoff=3600, max_backoff=7200, retry_budget=86400,
)
print(summary.stopped.reason, summary.requests_made, dict(summary.outcomes))
"""


@pytest.mark.slow
def test_item7_ctrl_c_ends_retry_waits_at_once(fake_api: FakeAPI, tmp_path: Path) -> None:
    """Issue 11, item 7: Ctrl-C (a KeyboardInterrupt, as from a notebook's interrupt) during
    hour-long retry waits: collect returns at once, stopped as interrupted, no request sent
    after it and nothing recorded as failed."""
    fake_api.set_default("server_error")
    codes = [f"Cwa1t0{i:05d}" for i in range(4)]
    script = RETRY_WAIT_SCRIPT.replace("BASE", repr(fake_api.base_url))
    child = subprocess.Popen(
        [sys.executable, "-c", script, *codes],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: len(fake_api.requests) >= 2, "both workers' first requests")
    time.sleep(0.5)  # both are now in their hour-long retry wait
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=HANG)

    assert child.returncode == 0, stderr
    assert stdout.split() == ["interrupted", "2", "{}"]
    assert len(fake_api.requests) == 2
    assert records(tmp_path / "archive.jsonl") == []


# --- item 8: the retry budget ---


def test_item8_client_retry_budget_counts_every_wait(fake_api: FakeAPI) -> None:
    """Issue 11, item 8: the budget covers all of one URL's waits: a second Retry-After that
    would end beyond it raises RetryAfterError saying when to resume, without sending again."""
    waits: list[float] = []
    fake_api.enqueue("rate_limited", "rate_limited")
    client = Client(KEY, base_url=fake_api.base_url, sleep=waits.append, retry_budget=1.5)
    before = datetime.now(UTC)
    with client, pytest.raises(RetryAfterError) as raised:
        client.fetch("C0ffee00001")

    assert waits == [1.0], "the first Retry-After fits in the budget, the second does not"
    assert len(fake_api.requests) == 2
    error = raised.value
    assert (error.status, error.attempts, error.retriable) == (429, 2, True)
    assert before + timedelta(seconds=1) <= error.resume_at <= datetime.now(UTC) + timedelta(1)
    assert f"Resume after {error.resume_at:%Y-%m-%d %H:%M:%S} UTC (in 1 s)" in str(error)
    assert "retry budget of 1.5 s" in str(error)
    with pytest.raises(ValueError, match="retry_budget"):
        Client(KEY, retry_budget=float("nan"))


def test_item8_retry_after_beyond_the_budget_stops_the_run_without_failures(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 8: a Retry-After longer than the budget stops the run (exit 3) with a
    message saying when to resume; the URL is not recorded as failed, and a later run gets it."""
    codes = [f"Budg3t{i:05d}" for i in range(10)]
    fake_api.set_for(codes[4], "rate_limited")
    summary = run(fake_api, tmp_path, codes, concurrency=1, retry_budget=0.5)

    assert exit_code(summary) == 3
    assert summary.stopped is not None and summary.stopped.reason == "retry_after"
    assert "Retry-After" in str(summary.stopped) and "Resume after" in str(summary.stopped)
    assert [r["shortcode"] for r in records(tmp_path / "archive.jsonl")] == codes[:4]
    assert requested(fake_api) == codes[:5], "nothing sent after it, not even a retry"
    assert "Stopped early: The API asked to wait 1 s" in summary.describe()

    fake_api.reset()
    fake_api.set_default("rate_limited")
    args = ["collect", *codes, "--archive", str(tmp_path / "archive.jsonl"), "--no-progress"]
    args += ["--base-url", fake_api.base_url, "--retry-budget", "0.5", "--concurrency", "1"]
    result = CliRunner(env={"MEMORIES_API_KEY": KEY}).invoke(main, args)
    assert result.exit_code == 3, result.output
    assert "Stopped early: The API asked to wait 1 s (Retry-After, HTTP 429)" in result.stderr
    assert "a larger --retry-budget" in result.stderr
    assert len(fake_api.requests) == 1, "the first Retry-After stops the run"

    fake_api.reset()
    assert exit_code(run(fake_api, tmp_path, codes)) == 0
    assert sorted(requested(fake_api)) == codes[4:]


def test_item8_the_progress_bar_says_why_everyone_waits(
    fake_api: FakeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11, item 8: while the shared limiter holds everyone for more than a few seconds,
    the progress bar says how long and why."""
    clock = SimulatedClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.penalize(45.0)  # as after a 429 with Retry-After: 45
    summary = run(fake_api, tmp_path, ["C0ffee00001"], limiter=limiter, progress=True)

    assert exit_code(summary) == 0
    assert "waiting 45 s: the API asked (Retry-After)" in capsys.readouterr().err
    assert clock.now == pytest.approx(45.0)


# --- item 9: no connection; what a run counts ---


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connections are refused."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return int(listener.getsockname()[1])


@pytest.mark.parametrize("failure", ["refused", "TLS", "DNS"])
def test_item9_no_connection_at_the_start_stops_the_run(
    fake_api: FakeAPI, tmp_path: Path, failure: str
) -> None:
    """Issue 11, item 9: a base URL where nothing listens, that does not speak TLS, or whose
    name cannot be looked up (the network block refuses): the run stops after
    max(5, 2 x concurrency) attempts that failed to connect, exit 3, naming the base URL, and
    no URL is recorded as failed."""
    base_url = {
        "refused": f"http://127.0.0.1:{closed_port()}/serve/api/v2",
        "TLS": fake_api.base_url.replace("http://", "https://"),
        "DNS": "http://api.example.invalid/serve/api/v2",
    }[failure]
    codes = [f"Dn0con{i:05d}" for i in range(30)]
    summary = collect(
        codes,
        archive=tmp_path / "archive.jsonl",
        api_key=KEY,
        base_url=base_url,
        progress=False,
        concurrency=3,
        sleep=no_sleep,
    )

    assert exit_code(summary) == 3
    assert summary.stopped is not None and summary.stopped.reason == "no_connection"
    assert base_url in str(summary.stopped)
    assert "last 6 attempts" in str(summary.stopped)
    assert records(tmp_path / "archive.jsonl") == []
    assert 6 <= summary.requests_made <= 6 + 2, "at most the other workers' attempts in flight"
    assert summary.urls_started <= 3 + 2
    assert (summary.answers, summary.cost) == (0, 0)
    assert fake_api.requests == []


def test_item9_losing_the_connection_later_stops_the_run(fake_api: FakeAPI, tmp_path: Path) -> None:
    """Issue 11, item 9: the server goes away in the middle of a run (a laptop that went to
    sleep): the run stops, what was answered is stored, nothing is recorded as failed."""
    codes = [f"El4ter{i:05d}" for i in range(40)]

    def stop_after_ten() -> None:
        wait_until(lambda: len(fake_api.requests) >= 10, "ten requests")
        fake_api.stop()

    stopper = threading.Thread(target=stop_after_ten)
    stopper.start()
    summary = run(fake_api, tmp_path, codes, concurrency=2)
    stopper.join()

    assert exit_code(summary) == 3
    assert summary.stopped is not None and summary.stopped.reason == "no_connection"
    stored = records(tmp_path / "archive.jsonl")
    assert {r["outcome"] for r in stored} == {"ok"}, stored[-1]["error"]
    assert len(stored) >= 9
    assert summary.urls_started - len(stored) <= 4, "only URLs in flight as it went were started"


def test_item9_the_summary_counts_urls_requests_answers_and_cost(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 9: max_requests caps URLs started (retries count once); the summary shows
    URLs started, requests sent, answers received and their estimated cost."""
    codes = [f"C0unts{i:05d}" for i in range(10)]
    fake_api.set_for(codes[0], "server_error")  # 5 attempts, 5 answers
    fake_api.set_for(codes[1], "reset")  # 5 attempts, no answer
    summary = run(fake_api, tmp_path, codes, concurrency=1, max_requests=4, price=0.5)

    assert exit_code(summary) == 3
    assert summary.stopped is not None and summary.stopped.reason == "max_requests"
    assert (summary.urls_started, summary.requests_made, summary.answers) == (4, 12, 7)
    assert summary.cost == pytest.approx(3.5)
    assert dict(summary.outcomes) == {"failed": 2, "ok": 2}
    assert (
        "Requests made: 12. URLs started: 4; answers received: 7 (about 3.50 USD at 0.5 USD each)"
    ) in summary.describe()


# --- item 5: an archive that cannot be written ---


FULL_DISK_SCRIPT = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from igresearch.cli import main
main(sys.argv[2:], prog_name="igresearch")
"""


def test_item5_a_full_disk_stops_the_run_and_nothing_more_is_paid_for(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 5: the archive's disk fills up (a file size limit, EFBIG): one error line
    names the archive, exit 1, no traceback, the half-written line is cut off, and the server
    gets no request after the one whose answer could not be stored."""
    codes = [f"F1llup{i:05d}" for i in range(10)]
    urls, archive = tmp_path / "urls.txt", tmp_path / "archive.jsonl"
    urls.write_text("\n".join(codes) + "\n")
    record_size = len(json.dumps(FakeAPI.media_for(codes[0]), separators=(",", ":")))
    limit = int(2.5 * record_size)  # room for two records and part of a third
    command = [sys.executable, "-c", FULL_DISK_SCRIPT, str(limit), "collect", "--from", str(urls)]
    command += ["--archive", str(archive), "--base-url", fake_api.base_url, "--no-progress"]
    command += ["--concurrency", "1"]
    done = subprocess.run(
        command,
        env=os.environ | {"MEMORIES_API_KEY": KEY},
        capture_output=True,
        text=True,
        timeout=HANG,
    )

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if "File too large" in line]
    assert line.startswith("Error: ") and str(archive) in line
    stored = records(archive)
    assert [r["shortcode"] for r in stored] == codes[:2]
    assert requested(fake_api) == codes[:3], "no request after the failed write"


def test_item5_an_archive_in_a_read_only_folder_costs_nothing(
    fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, item 5: an archive in a read-only folder stops the run before any request: one
    error line naming the path, exit 1, no traceback."""
    if os.geteuid() == 0:
        pytest.skip("root may write in a read-only folder")
    folder = tmp_path / "study"
    folder.mkdir()
    folder.chmod(0o555)
    monkeypatch.setenv("MEMORIES_API_KEY", KEY)
    args = ["collect", "C0ffee00001", "--archive", str(folder / "archive.jsonl"), "--no-progress"]
    try:
        result = CliRunner().invoke(main, [*args, "--base-url", fake_api.base_url])
    finally:
        folder.chmod(0o755)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert str(folder) in line
    assert fake_api.requests == []


def test_item5_an_archive_that_cannot_be_opened_costs_nothing(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 5: an archive whose lock cannot be made (here a folder is in its way, which
    stops root too) raises an OSError naming the path, before any request is sent."""
    lock = tmp_path / "archive.jsonl.lock"
    lock.mkdir()
    with pytest.raises(OSError) as raised:
        run(fake_api, tmp_path, ["C0ffee00001", "C0ffee00002"])
    assert raised.value.filename is not None and str(lock) in str(raised.value.filename)
    assert fake_api.requests == []
    assert not (tmp_path / "archive.jsonl").exists()


# --- item 11 and the stormy run ---

STORM = ["rate_limited", "rate_limited_no_retry_after", "server_error", "reset"]
MALFORMED = ["html", "truncated"]


def storm(fake_api: FakeAPI, codes: list[str], faults: list[str]) -> dict[str, list[str]]:
    """Script each URL's first one or two answers as a fault, then ``ok``. With one worker the
    fake's queue is consumed in URL order, so each URL gets exactly its script."""
    scripts = {}
    for n, code in enumerate(codes):
        scripts[code] = [faults[n % len(faults)]] * (1 + n % 2) + ["ok"]
        fake_api.enqueue(*scripts[code])
    return scripts


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(STORM, id="429-500-reset"),
        pytest.param(
            STORM + MALFORMED,
            id="and-html-truncated",
        ),
    ],
)
def test_item11_a_stormy_run_stores_every_url_in_one_run(
    fake_api: FakeAPI, tmp_path: Path, faults: list[str]
) -> None:
    """Issue 11, item 11: 36 URLs, each answered first by one or two faults (429 with and
    without Retry-After, 500, a reset connection, HTML, truncated JSON), then ok: ONE run stores
    every URL as ok, and no URL is requested again after its answer was stored."""
    codes = [f"Gst0rm{i:05d}" for i in range(36)]
    scripts = storm(fake_api, codes, faults)
    clock = SimulatedClock()  # Retry-After pauses of the shared limiter pass at once
    limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)
    summary = run(fake_api, tmp_path, codes, concurrency=1, limiter=limiter, backoff=0.01)

    assert exit_code(summary) == 0, summary.describe()
    stored = records(tmp_path / "archive.jsonl")
    assert [r["shortcode"] for r in stored] == codes
    assert {r["outcome"] for r in stored} == {"ok"}
    assert [r["attempts"] for r in stored] == [len(scripts[code]) for code in codes]
    assert [r.behaviour for r in fake_api.requests] == [b for c in codes for b in scripts[c]]
    assert (summary.urls_started, summary.requests_made) == (36, len(fake_api.requests))

    before = len(fake_api.requests)
    again = run(fake_api, tmp_path, codes)
    assert (exit_code(again), again.plan.already_stored) == (0, 36)
    assert len(fake_api.requests) == before, "nothing stored is requested again"


def test_item11_record_twice_requests_nothing_stored_again(
    fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, item 11: record is collect, then the run's stored answers into the cassette: a
    URL whose answer the cassette holds is not requested again, and the cassette holds each
    answer once (issue 15: the final answer of each post; a retried 500 is not recorded, so
    replaying the five posts receives 5 answers, not 6). Item 9: the summary counts the
    answers, and a replay costs nothing."""
    codes = [f"Hrec0r{i:05d}" for i in range(5)]
    cassette = tmp_path / "study.yaml"
    monkeypatch.setenv("MEMORIES_API_KEY", KEY)
    args = ["record", *codes, "--cassette", str(cassette), "--no-progress", "--concurrency", "1"]
    args += ["--base-url", fake_api.base_url]
    runner = CliRunner()
    fake_api.enqueue("server_error")

    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, [*args, codes[0], "Hrec0r99999"])
    assert second.exit_code == 0, second.output

    assert "Requests made: 6. URLs started: 5; answers received: 6 (about 0.06 USD" in first.stderr
    assert Counter(requested(fake_api)) == Counter([*codes, codes[0], "Hrec0r99999"])
    archive = str(tmp_path / "replayed.jsonl")
    replayed = runner.invoke(
        main, ["collect", *codes, "--replay", str(cassette), "--archive", archive]
    )
    assert replayed.exit_code == 0, replayed.output
    assert "answers received: 5 (about 0.00 USD at 0 USD each)" in replayed.stderr
    recorded = [json.loads(i["request"]["body"])["video_url"] for i in read_cassette(cassette)]
    assert Counter(url.split("/")[-2] for url in recorded) == Counter([*codes, "Hrec0r99999"])


def test_the_stop_rule_and_its_exit_codes(tmp_path: Path) -> None:
    """Issue 11, item 9 (what stops a run): one rule maps each error to its stop, or to None
    for one URL's outcome; every stop returned in the summary is exit 3, Ctrl-C 130 (a cassette
    miss and a failed archive write are raised instead)."""
    from igresearch.collect import Plan, Stop, Summary, _NoConnection, stop_rule
    from igresearch.errors import (
        APIError,
        AuthError,
        CassetteError,
        InsufficientCreditsError,
        MediaUnavailableError,
        RateLimitError,
        ResponseFormatError,
    )

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    reasons = {
        AuthError("rejected"): "key",
        InsufficientCreditsError("no credits"): "credits",
        CassetteError("no recording"): "cassette",
        OSError(28, "No space left on device", "/study/archive.jsonl"): "archive",
        KeyboardInterrupt(): "interrupted",
        _NoConnection("refused"): "no_connection",
        RetryAfterError("wait an hour", resume_at=when, status=429): "retry_after",
        RateLimitError("429 after every retry"): None,
        APIError("500 after every retry"): None,
        ResponseFormatError("HTML"): None,
        MediaUnavailableError("deleted"): None,
    }
    for error, reason in reasons.items():
        stop = stop_rule(error)
        assert (stop.reason if stop else None) == reason, error
    archive_stop = stop_rule(OSError(28, "No space left on device", "/study/archive.jsonl"))
    assert str(archive_stop).startswith(
        "could not write /study/archive.jsonl (No space left on device); nothing more was sent."
    )

    plan = Plan([("C0ffee00001", "u")], 1, [], 0, 0)
    for reason in ["key", "credits", "max_requests", "no_connection", "retry_after"]:
        summary = Summary(tmp_path / "a.jsonl", plan, stopped=Stop(reason, "why"))
        assert exit_code(summary) == 3, reason
    interrupted = Summary(tmp_path / "a.jsonl", plan, stopped=Stop("interrupted", "why"))
    assert exit_code(interrupted) == 130


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), 1e-300, 0.0, -1.0, 1e6])
def test_item23_a_rate_the_limiter_cannot_keep_is_refused_in_the_library_too(rate: float) -> None:
    """Issue 11, item 23: the library refuses, as the command line does, a rate it cannot keep
    (inf overflowed, 1e-300 asked for a wait of 1e300 s), before anything is sent."""
    from igresearch.collect import RateLimiter

    with pytest.raises(ValueError, match="rate must be 0.01 to 1000 requests per second"):
        RateLimiter(rate)


@pytest.mark.parametrize("options", [{"rate": float("inf")}, {"max_body_bytes": 0}])
def test_item23_bad_options_are_refused_before_planning(
    fake_api: FakeAPI, tmp_path: Path, options: dict[str, Any]
) -> None:
    """Issue 11, item 23: collect checks its own and its clients' options before it reads the
    archive, prints a plan or sends anything."""
    archive, planned = tmp_path / "a.jsonl", []
    with pytest.raises(ValueError):
        collect(
            ["DLlGZiCOBQ0"],
            archive=archive,
            base_url=fake_api.base_url,
            api_key="sk-test-options",
            on_plan=planned.append,
            progress=False,
            **options,
        )
    assert (planned, fake_api.requests, list(tmp_path.iterdir())) == ([], [], [])


@pytest.mark.parametrize("header", ["1e300", "inf", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_item8_a_retry_after_of_centuries_stops_the_run_cleanly(
    tmp_path: Path, header: str
) -> None:
    """Issue 11, item 8: a hostile Retry-After (1e300 s, infinity, the year 9999) is read as a
    century at most, so it stops the run with a time to resume instead of overflowing."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Wait(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"code": 429, "msg": "Too Many Requests", "data": null}'
            self.send_response(429)
            self.send_header("Retry-After", header)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Wait)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        summary = collect(
            ["DLlGZiCOBQ0", "C0ffee12345"],
            archive=tmp_path / "a.jsonl",
            base_url=f"http://127.0.0.1:{server.server_address[1]}/serve/api/v2",
            api_key="sk-test-centuries",
            concurrency=1,
            progress=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert summary.stopped is not None and summary.stopped.reason == "retry_after"
    assert "Resume after" in str(summary.stopped) and "36600 d" in str(summary.stopped)
    assert (tmp_path / "a.jsonl").read_bytes() == b"", "not recorded as failed"
