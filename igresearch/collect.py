"""Many URLs: plan (de-duplicate, resume), then fetch with N threads under one rate limit.

Every URL's final outcome goes to the archive (:mod:`igresearch.archive`) as soon as it is known,
so a run can be interrupted at any moment and resumed without paying twice.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import __version__, cassettes
from .archive import ARCHIVE_VERSION, STORED, ArchiveWriter, index_archive
from .client import Client
from .errors import (
    APIError,
    AuthError,
    InsufficientCreditsError,
    InvalidURLError,
    MediaUnavailableError,
)
from .urls import canonical_url, parse_shortcode

__all__ = ["Plan", "RateLimiter", "Summary", "collect", "plan_collection", "read_url_file"]

PRICE_USD = 0.01


class RateLimiter:
    """At most `rate` requests in any one-second window, shared by every thread.

    Requests are spaced at least ``1/rate`` apart, and a sliding window caps any second at
    ``rate`` (so 7.5 allows 7 in any second, at most). A 429 pauses everyone (for
    ``Retry-After`` when given) and halves the pace; each success adds back a twentieth of
    the set rate.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be a positive number of requests per second, not {rate}.")
        self.rate = rate
        self._pace = rate
        self._cap = max(1, int(rate))
        self._sent: deque[float] = deque()
        self._paused_until = float("-inf")
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until a request may go, and count it as sent."""
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= 1.0:
                    self._sent.popleft()
                ready = self._paused_until
                if self._sent:
                    ready = max(ready, self._sent[-1] + 1.0 / self._pace)
                if len(self._sent) >= self._cap:
                    ready = max(ready, self._sent[0] + 1.0)
                if now >= ready:
                    self._sent.append(now)
                    return
                self._sleep(ready - now)

    def penalize(self, retry_after: float | None) -> None:
        """Slow everyone down after a 429 (once per pause, however many threads saw it)."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return
            self._pace = max(self._pace / 2, 1 / 60)
            pause = retry_after if retry_after is not None else 1.0 / self._pace
            self._paused_until = now + min(pause, 600.0)

    def relax(self) -> None:
        """Speed back up towards the set rate after a success."""
        with self._lock:
            self._pace = min(self.rate, self._pace + self.rate / 20)


def read_url_file(source: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(where, text) for each URL in a text file (one per line, # comments), a CSV with a
    ``url`` column, or ``-`` for standard input."""
    name = str(source)
    text = sys.stdin.read() if name == "-" else Path(source).read_text(encoding="utf-8-sig")
    label = "stdin" if name == "-" else Path(source).name
    first = text.split("\n", 1)[0]
    if name.endswith(".csv") or "url" in [c.strip().lower() for c in first.split(",")]:
        reader = csv.DictReader(io.StringIO(text))
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        if "url" not in columns:
            raise ValueError(f"{label}: a CSV needs a 'url' column; found {reader.fieldnames}.")
        return [
            (f"{label}:{number}", row[columns["url"]] or "")
            for number, row in enumerate(reader, start=2)
        ]
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        url = line.strip()
        if url and not url.startswith("#"):
            entries.append((f"{label}:{number}", url))
    return entries


@dataclass
class Plan:
    """What a collection would do: which URLs to request, and why the others are left out."""

    to_request: list[tuple[str, str]]  # (shortcode, canonical url), in input order
    valid: int
    invalid: list[tuple[str, str, str]]  # (where, text, reason)
    duplicates: int
    already_stored: int

    def cost(self, price: float = PRICE_USD) -> float:
        """Estimated cost in USD (retries not counted)."""
        return len(self.to_request) * price


def plan_collection(
    entries: Iterable[tuple[str, str]],
    archive: str | os.PathLike[str],
    *,
    channel: str = "apify",
    retry_failed: bool = False,
    refresh_older_than: timedelta | None = None,
    now: datetime | None = None,
) -> Plan:
    """Normalise and de-duplicate input URLs, then keep those the archive does not answer yet.

    By default a URL is requested unless the archive holds an ``ok`` or ``unavailable`` record
    for it (earlier failures are retried). ``retry_failed`` requests only URLs whose latest
    record is a failure; ``refresh_older_than`` requests every URL whose newest stored response
    is older than that (a new snapshot).
    """
    seen: set[str] = set()
    valid: list[tuple[str, str]] = []
    invalid: list[tuple[str, str, str]] = []
    duplicates = 0
    for where, text in entries:
        try:
            shortcode = parse_shortcode(text)
        except InvalidURLError as error:
            invalid.append((where, text, str(error)))
            continue
        if shortcode in seen:
            duplicates += 1
            continue
        seen.add(shortcode)
        valid.append((shortcode, canonical_url(shortcode)))
    index = index_archive(archive)
    cutoff = None
    if refresh_older_than is not None:
        cutoff = (now or datetime.now(UTC)) - refresh_older_than

    def wanted(shortcode: str) -> bool:
        entry = index.get((shortcode, channel))
        if cutoff is not None:
            when = entry.newest_fetched_at if entry else None
            return when is None or when < cutoff
        if retry_failed:
            return entry is not None and entry.latest.get("outcome") not in STORED
        return entry is None or not entry.stored

    to_request = [(code, url) for code, url in valid if wanted(code)]
    return Plan(to_request, len(valid), invalid, duplicates, len(valid) - len(to_request))


@dataclass
class Summary:
    """The outcome of a collection run."""

    archive: Path
    plan: Plan
    outcomes: Counter[str] = field(default_factory=Counter)
    requests_made: int = 0
    elapsed_s: float = 0.0
    stopped: str | None = None
    interrupted: bool = False
    dry_run: bool = False
    price: float = PRICE_USD

    @property
    def exit_code(self) -> int:
        """0 all stored, 1 some failed, 2 no valid input, 3 stopped early, 130 interrupted."""
        if self.interrupted:
            return 130
        if self.plan.valid == 0:
            return 2
        if self.stopped:
            return 3
        return 1 if self.outcomes["failed"] else 0

    def __str__(self) -> str:
        plan = self.plan
        lines = [
            f"{_count(plan.valid, 'valid URL')} ({_count(plan.duplicates, 'duplicate')}, "
            f"{len(plan.invalid)} invalid); {plan.already_stored} already in the archive; "
            f"{len(plan.to_request)} to request.",
        ]
        if self.dry_run:
            lines.append(
                f"Dry run: would make {_count(len(plan.to_request), 'request')}, about "
                f"{plan.cost(self.price):.2f} USD at {self.price} USD each. Nothing was requested."
            )
        else:
            counts = ", ".join(f"{k} {self.outcomes[k]}" for k in ("ok", "unavailable", "failed"))
            lines.append(
                f"Outcomes: {counts}. Requests made: {self.requests_made}. "
                f"Elapsed: {self.elapsed_s:.1f} s. Archive: {self.archive}"
            )
        if self.stopped:
            lines.append(f"Stopped early: {self.stopped}")
        if self.interrupted:
            lines.append(
                "Interrupted: in-flight requests were finished and stored; run again to resume."
            )
        return "\n".join(lines)


def collect(
    urls: Iterable[str | tuple[str, str]],
    *,
    archive: str | os.PathLike[str],
    channel: str = "apify",
    concurrency: int = 4,
    rate: float = 5.0,
    retry_failed: bool = False,
    refresh_older_than: timedelta | None = None,
    max_requests: int | None = None,
    dry_run: bool = False,
    progress: bool = True,
    price: float = PRICE_USD,
    limiter: RateLimiter | None = None,
    **client_options: Any,
) -> Summary:
    """Fetch many posts into the archive, resuming where earlier runs stopped.

    Parameters
    ----------
    urls
        URLs or shortcodes in any pasted form, or (where, text) pairs from :func:`read_url_file`.
    archive
        The JSON Lines archive to append to (created if missing).
    concurrency, rate
        Worker threads, and the most requests per second all of them together may send.
    max_requests
        Stop after this many paid requests (a URL's retries count once).
    limiter
        A shared :class:`RateLimiter` (default: a new one at `rate`).
    client_options
        Passed to each worker's :class:`~igresearch.client.Client` (api_key, base_url,
        timeout, max_retries...).

    Returns
    -------
    Summary
        Counts by outcome, requests made, elapsed time; ``exit_code`` for the command line.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}.")
    entries = [
        (u if isinstance(u, tuple) else (f"argument {i + 1}", u)) for i, u in enumerate(urls)
    ]
    plan = plan_collection(
        entries,
        archive,
        channel=channel,
        retry_failed=retry_failed,
        refresh_older_than=refresh_older_than,
    )
    summary = Summary(Path(archive), plan, dry_run=dry_run, price=price)
    if dry_run or not plan.to_request:
        return summary
    todo = plan.to_request[:max_requests] if max_requests is not None else plan.to_request
    if len(todo) < len(plan.to_request):
        summary.stopped = f"--max-requests {max_requests} reached; run again to continue."
    with Client(channel=channel, **client_options) as probe:
        probe.require_key()  # fail once, before the archive is touched, not once per URL
    if cassettes.recording():
        concurrency = 1  # vcrpy records on one thread only (vcrpy issue 849)
    run = _Run(summary, channel, limiter or RateLimiter(rate), client_options, progress, len(todo))
    started = time.monotonic()
    try:
        with ArchiveWriter(archive) as writer:
            run.writer = writer
            with ThreadPoolExecutor(concurrency, thread_name_prefix="igresearch") as pool:
                futures = [pool.submit(run.fetch_one, code, url) for code, url in todo]
                try:
                    for future in futures:
                        future.result()
                except BaseException as error:  # Ctrl-C, or an error no request can fix
                    run.stop.set()  # in-flight requests finish and are stored; no new ones
                    pool.shutdown(wait=True, cancel_futures=True)
                    if not isinstance(error, KeyboardInterrupt):
                        raise
                    summary.interrupted = True
    finally:
        run.close()
        summary.elapsed_s = time.monotonic() - started
    return summary


class _Run:
    """State shared by the worker threads of one collection."""

    def __init__(
        self,
        summary: Summary,
        channel: str,
        limiter: RateLimiter,
        client_options: dict[str, Any],
        progress: bool,
        total: int,
    ) -> None:
        self.summary, self.channel, self.limiter = summary, channel, limiter
        self.client_options = client_options
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.local = threading.local()
        self.clients: list[Client] = []
        self.writer: ArchiveWriter | None = None
        self.bar = _progress_bar(total) if progress else None

    def client(self) -> Client:
        if not hasattr(self.local, "client"):
            client = Client(channel=self.channel, throttle=self.limiter, **self.client_options)
            self.local.client = client
            with self.lock:
                self.clients.append(client)
        return self.local.client  # type: ignore[no-any-return]

    def fetch_one(self, shortcode: str, url: str) -> None:
        if self.stop.is_set():
            return
        requested_at = _now()
        record: dict[str, Any] = {
            "archive_version": ARCHIVE_VERSION,
            "url": url,
            "shortcode": shortcode,
            "channel": self.channel,
            "requested_at": requested_at,
            "igresearch_version": __version__,
        }
        try:
            fetched = self.client().fetch(url)
        except APIError as error:  # an answer: store it
            unavailable = isinstance(error, MediaUnavailableError)
            record.update(
                outcome="unavailable" if unavailable else "failed",
                attempts=error.attempts,
                fetched_at=_iso(error.date) if error.date else (_now() if unavailable else None),
                http_status=error.status,
                api_code=(error.response or {}).get("code") if unavailable else error.code,
                response=error.response if unavailable else None,
                error={
                    "class": type(error).__name__,
                    "message": error.message,
                    "retriable": error.retriable,
                },
            )
            if isinstance(error, AuthError | InsufficientCreditsError):
                with self.lock:
                    self.summary.stopped = self.summary.stopped or str(error)
                self.stop.set()
        except BaseException:  # no answer to store, and a reason to stop (a bug, a replay miss)
            self.stop.set()
            raise
        else:
            record.update(
                outcome="ok",
                attempts=fetched.attempts,
                fetched_at=_iso(fetched.date) if fetched.date else _now(),
                http_status=fetched.status,
                api_code=fetched.envelope.get("code"),
                response=fetched.envelope,
                error=None,
            )
        self._store(record)

    def _store(self, record: dict[str, Any]) -> None:
        with self.lock:
            assert self.writer is not None
            self.writer.append(record)
            self.summary.outcomes[record["outcome"]] += 1
            self.summary.requests_made += record["attempts"] or 0
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(
                    {k: self.summary.outcomes[k] for k in ("ok", "unavailable", "failed")},
                    refresh=False,
                )

    def close(self) -> None:
        for client in self.clients:
            client.close()
        if self.bar is not None:
            self.bar.close()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _progress_bar(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="url", desc="collect", file=sys.stderr, dynamic_ncols=True)


def _now() -> str:
    return _iso(datetime.now(UTC))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()
