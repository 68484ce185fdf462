"""Many URLs: plan (de-duplicate, resume), then fetch with N threads under one rate limit.

Every URL's final outcome goes to the archive (:mod:`igresearch.archive`) as soon as it is known,
so a run can be interrupted at any moment and resumed without paying twice. What stops a run,
rather than being one URL's outcome, is decided in one place: :func:`stop_rule`.
"""

from __future__ import annotations

import contextvars
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
    CassetteError,
    InsufficientCreditsError,
    InvalidURLError,
    MediaUnavailableError,
)
from .urls import canonical_url, parse_shortcode

__all__ = [
    "Plan",
    "RateLimiter",
    "Stop",
    "Summary",
    "collect",
    "plan_collection",
    "stop_rule",
]

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


@dataclass
class Plan:
    """What a collection would do: which URLs to request, and why the others are left out."""

    to_request: list[tuple[str, str]]  # (shortcode, canonical url), in input order
    valid: int
    invalid: list[tuple[str, str, str]]  # (where, text, reason)
    duplicates: int
    already_stored: int
    #: URLs left out because the cassette being recorded holds them (``igresearch record``).
    already_recorded: int = 0

    def cost(self, price: float = PRICE_USD) -> float:
        """Estimated cost in USD (retries not counted)."""
        return len(self.to_request) * price

    def describe(self, price: float = PRICE_USD) -> str:
        """The plan in one line.

        Examples
        --------
        >>> from igresearch.collect import Plan
        >>> plan = Plan([("DLlGZiCOBQ0", "https://...")], 1, [("x.txt:4", "Links", "...")], 0, 0)
        >>> print(plan.describe())  # doctest: +NORMALIZE_WHITESPACE
        1 valid URL (0 duplicates, 1 invalid); 0 already in the archive;
        1 to request, about 0.01 USD.
        """
        recorded = f"; {self.already_recorded} already recorded" if self.already_recorded else ""
        return (
            f"{_count(self.valid, 'valid URL')} ({_count(self.duplicates, 'duplicate')}, "
            f"{len(self.invalid)} invalid); {self.already_stored} already in the archive"
            f"{recorded}; {len(self.to_request)} to request, about {self.cost(price):.2f} USD."
        )


def plan_collection(
    entries: Iterable[tuple[str, str]],
    archive: str | os.PathLike[str],
    *,
    channel: str = "apify",
    retry_failed: bool = False,
    refresh_older_than: timedelta | None = None,
    now: datetime | None = None,
    recorded: Callable[[str], bool] | None = None,
) -> Plan:
    """Normalise and de-duplicate input URLs, then keep those the archive does not answer yet.

    By default a URL is requested unless the archive holds an ``ok`` or ``unavailable`` record
    for it (earlier failures are retried). ``retry_failed`` requests only URLs whose latest
    record is a failure; ``refresh_older_than`` requests every URL whose newest stored response
    is older than that (a new snapshot); ``recorded(canonical_url)`` true leaves a URL out as
    already recorded (a cassette being recorded holds it).

    Raises
    ------
    ArchiveFormatError
        When `archive` exists and is not an archive.
    ValueError
        When `refresh_older_than` is negative (zero asks for a new snapshot of every URL).
    """
    if refresh_older_than is not None and refresh_older_than < timedelta(0):
        raise ValueError(f"refresh_older_than must not be negative, not {refresh_older_than}.")
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

    wanted_urls = [(code, url) for code, url in valid if wanted(code)]
    to_request = [(code, url) for code, url in wanted_urls if not (recorded and recorded(url))]
    return Plan(
        to_request,
        len(valid),
        invalid,
        duplicates,
        len(valid) - len(wanted_urls),
        len(wanted_urls) - len(to_request),
    )


@dataclass(frozen=True)
class Stop:
    """Why a run ended before its plan was done.

    `reason` is ``"key"`` (rejected), ``"credits"``, ``"cassette"`` (a replay miss),
    ``"archive"`` (a failed write), ``"max_requests"`` or ``"interrupted"`` (Ctrl-C); `message`
    says what happened and what to do.
    """

    reason: str
    message: str

    def __str__(self) -> str:
        return self.message


#: Stops that are a setup problem, not an answer: `collect` raises their error after stopping.
RAISED = frozenset({"cassette", "archive"})


def stop_rule(error: BaseException) -> Stop | None:
    """The one rule on what stops a run: the :class:`Stop` that `error` calls for, or None
    when it is one URL's outcome (stored; the run goes on).

    Examples
    --------
    >>> from igresearch.collect import stop_rule
    >>> from igresearch.errors import AuthError, RateLimitError
    >>> stop_rule(AuthError("API key rejected (HTTP 401) for ...")).reason
    'key'
    >>> stop_rule(RateLimitError("Rate limited (HTTP 429) for ...")) is None
    True
    """
    if isinstance(error, AuthError):
        return Stop("key", str(error))
    if isinstance(error, InsufficientCreditsError):
        return Stop("credits", str(error))
    if isinstance(error, CassetteError):
        return Stop("cassette", str(error))
    if isinstance(error, OSError):  # network errors reach collect as APIError: this is a file
        return Stop("archive", f"the archive could not be written ({error}); nothing more sent.")
    if isinstance(error, KeyboardInterrupt):
        return Stop(
            "interrupted", "in-flight requests were finished and stored; run again to resume."
        )
    return None


@dataclass
class Summary:
    """The outcome of a collection run; ``print(summary)`` describes it."""

    archive: Path
    plan: Plan
    outcomes: Counter[str] = field(default_factory=Counter)
    requests_made: int = 0
    elapsed_s: float = 0.0
    stopped: Stop | None = None
    dry_run: bool = False
    price: float = PRICE_USD

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C ended the run."""
        return self.stopped is not None and self.stopped.reason == "interrupted"

    def __str__(self) -> str:
        return self.describe()

    def describe(self, *, stop: str | None = None, archive: str | None = None) -> str:
        """The summary as text. `stop` and `archive`, when given, replace the words on why the
        run stopped and the archive's path (the command line names its flags where the library
        names parameters, and says when the archive was a temporary one)."""
        plan = self.plan
        lines = [plan.describe(self.price)]
        if self.dry_run:
            lines.append(
                f"Dry run: would make {_count(len(plan.to_request), 'request')}, about "
                f"{plan.cost(self.price):.2f} USD at {self.price} USD each. Nothing was requested."
            )
        else:
            counts = ", ".join(f"{k} {self.outcomes[k]}" for k in ("ok", "unavailable", "failed"))
            lines.append(
                f"Outcomes: {counts}. Requests made: {self.requests_made}. "
                f"Elapsed: {self.elapsed_s:.1f} s. Archive: {archive or self.archive}"
            )
        if self.stopped:
            label = "Interrupted" if self.interrupted else "Stopped early"
            lines.append(f"{label}: {stop or self.stopped.message}")
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
    on_plan: Callable[[Plan], None] | None = None,
    recorded: Callable[[str], bool] | None = None,
    **client_options: Any,
) -> Summary:
    """Fetch many posts into the archive, resuming where earlier runs stopped.

    Inside ``with replay(cassette):`` every worker answers from the cassette (or records into
    it), at any concurrency.

    Parameters
    ----------
    urls
        URLs or shortcodes in any pasted form, or (where, text) pairs from
        :func:`igresearch.urlfile.read_url_file`.
    archive
        The JSON Lines archive to append to (created if missing).
    concurrency, rate
        Worker threads, and the most requests per second all of them together may send.
    max_requests
        Send requests for at most this many URLs (a URL's retries count once).
    limiter
        A shared :class:`RateLimiter` (default: a new one at `rate`).
    on_plan
        Called with the :class:`Plan` once it is made, before any request (also on a dry run):
        the place to show it.
    recorded
        ``recorded(canonical_url)`` true leaves the URL out as already recorded (see
        :func:`plan_collection`; ``igresearch record`` passes ``replay.holds``).
    client_options
        Passed to each worker's :class:`~igresearch.client.Client` (api_key, base_url,
        timeout, max_retries, transport...).

    Returns
    -------
    Summary
        Counts by outcome, requests made, elapsed time, and why the run stopped early
        (``stopped``: see :func:`stop_rule`).

    Raises
    ------
    ArchiveFormatError
        Before anything is sent, when `archive` exists and is not an archive.
    AuthError
        Before the archive is touched, when there is no key.
    CassetteError, OSError
        After stopping, for a replay miss or a failed archive write.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from igresearch import collect
    >>> from igresearch.cassettes import cassette_path, replay
    >>> archive = Path(tempfile.mkdtemp()) / "archive.jsonl"
    >>> with replay(cassette_path("documented_example.yaml")):
    ...     summary = collect(["DLlGZiCOBQ0"], archive=archive, progress=False)
    >>> dict(summary.outcomes), summary.stopped
    ({'ok': 1}, None)
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
        recorded=recorded,
    )
    if on_plan is not None:
        on_plan(plan)
    summary = Summary(Path(archive), plan, dry_run=dry_run, price=price)
    if dry_run or not plan.to_request:
        return summary
    todo = plan.to_request[:max_requests] if max_requests is not None else plan.to_request
    with Client(channel=channel, **client_options) as probe:
        probe.require_key()  # fail once, before the archive is touched, not once per URL
    run = _Run(summary, channel, limiter or RateLimiter(rate), client_options, progress, len(todo))
    started = time.monotonic()
    try:
        with ArchiveWriter(archive) as writer:
            run.writer = writer
            with ThreadPoolExecutor(concurrency, thread_name_prefix="igresearch") as pool:
                # Each task runs in a copy of this context: it sees an open replay.
                futures = [
                    pool.submit(contextvars.copy_context().run, run.fetch_one, n, code, url)
                    for n, (code, url) in enumerate(todo)
                ]
                try:
                    for future in futures:
                        future.result()
                except BaseException as error:
                    run.stop.set()  # in-flight requests finish and are stored; no new ones
                    pool.shutdown(wait=True, cancel_futures=True)
                    stop = stop_rule(error)
                    if stop is None or stop.reason in RAISED:
                        raise
                    summary.stopped = stop
    finally:
        run.close()
        summary.elapsed_s = time.monotonic() - started
    if summary.stopped is None and len(todo) < len(plan.to_request):
        summary.stopped = Stop(
            "max_requests", f"max_requests={max_requests} reached; run again to continue."
        )
    return summary


class _Cancelled(Exception):
    """The run stopped while a request waited for its turn: it is not sent."""


class _Run:
    """State shared by the worker threads of one collection; also their throttle, so that a
    request still waiting for its turn when the run stops is never sent."""

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
            client = Client(channel=self.channel, throttle=self, **self.client_options)
            self.local.client = client
            with self.lock:
                self.clients.append(client)
        return self.local.client  # type: ignore[no-any-return]

    def wait(self) -> None:
        self.limiter.wait()
        if self.stop.is_set():
            raise _Cancelled

    def penalize(self, retry_after: float | None) -> None:
        self.limiter.penalize(retry_after)

    def relax(self) -> None:
        self.limiter.relax()

    def fetch_one(self, position: int, shortcode: str, url: str) -> None:
        if self.stop.is_set():
            return
        cassettes.set_position(self, position)
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
            if not unavailable:
                record["body"] = error.body
            if error.redacted:
                record["redacted"] = True
            if stop := stop_rule(error):  # an answer that ends the run: stored all the same
                with self.lock:
                    self.summary.stopped = self.summary.stopped or stop
                self.stop.set()
        except _Cancelled:  # not sent: the URL stays to do, for the next run
            return
        except BaseException:  # no answer to store: a replay miss, Ctrl-C, a bug
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
            if fetched.redacted:
                record["redacted"] = True
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
