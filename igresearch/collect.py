"""Many URLs: plan (de-duplicate, resume), then fetch with N threads under one rate limit.

Every URL's final outcome goes to the archive (:mod:`igresearch.archive`) as soon as it is known,
so a run can be interrupted at any moment and resumed without paying twice. (A URL whose last
attempt failed to connect is stored when the run ends: it may be the start of a lost
connection, which stops the run without recording the URLs it cut off.) What stops a run,
rather than being one URL's outcome, is decided in one place: :func:`stop_rule`.
"""

from __future__ import annotations

import contextvars
import os
import queue
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from contextvars import Context
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import __version__, cassettes
from .archive import ARCHIVE_VERSION, STORED, ArchiveWriter, check_appendable, index_archive
from .client import Client
from .display import count
from .errors import (
    APIError,
    AuthError,
    CassetteError,
    InsufficientCreditsError,
    InvalidURLError,
    MediaUnavailableError,
    RetryAfterError,
)
from .urls import canonical_url, parse_shortcode

__all__ = [
    "Plan",
    "RateLimiter",
    "Stop",
    "Summary",
    "collect",
    "paid_price",
    "plan_collection",
    "stop_rule",
]

PRICE_USD = 0.01
#: The rates a :class:`RateLimiter` accepts, in requests per second.
MIN_RATE, MAX_RATE = 0.01, 1000.0


class RateLimiter:
    """At most `rate` requests in any one-second window, shared by every thread.

    Requests are spaced at least ``1/rate`` apart, and a sliding window caps any second at
    ``rate`` (so 7.5 allows 7 in any second, at most). A 429 pauses everyone (for
    ``Retry-After`` when given) and halves the pace; each success adds back a twentieth of
    the set rate. `sleep` is injected for tests; by default the wait ends at once when the
    run stops (see :meth:`wait`).
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not MIN_RATE <= rate <= MAX_RATE:  # false for nan too
            raise ValueError(
                f"rate must be {MIN_RATE:g} to {MAX_RATE:g} requests per second, not {rate}."
            )
        self.rate = rate
        self._pace = rate
        self._cap = max(1, int(rate))
        self._sent: deque[float] = deque()
        self._paused_until = float("-inf")
        self._why = ""
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Block until a request may go, and count it as sent; or return False, counting
        nothing, as soon as `stop` is set."""
        idle = stop or threading.Event()
        with self._lock:
            while True:
                if idle.is_set():
                    return False
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
                    return True
                if self._sleep is None:
                    idle.wait(ready - now)
                else:
                    self._sleep(ready - now)

    def paused(self) -> tuple[float, str] | None:
        """(seconds left, why) while a 429 holds everyone, else None."""
        left = self._paused_until - self._clock()
        return (left, self._why) if left > 0 else None

    def penalize(self, retry_after: float | None) -> None:
        """Slow everyone down after a 429 (once per pause, however many threads saw it)."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return
            self._pace = max(self._pace / 2, 1 / 60)
            if retry_after is None:
                pause, self._why = 1.0 / self._pace, "rate limited (HTTP 429), slowing down"
            else:
                pause, self._why = retry_after, "the API asked (Retry-After)"
            # No cap here: the client's retry budget decides whether a long pause ends the run.
            self._paused_until = now + pause

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
    #: URLs left out because the archive answers them (with a refresh limit: newer than it).
    already_stored: int
    #: URLs left out because the cassette being recorded holds them (``igresearch record``).
    already_recorded: int = 0
    #: With a refresh limit, the URLs the archive holds whose newest response is older than it
    #: (requested again, for a new snapshot); None without one.
    older: int | None = None

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

        With a refresh limit, the URLs in the archive and those of them requested again:

        >>> plan = Plan([("DLlGZiCOBQ0", "https://...")], 2, [], 0, 1, older=1)
        >>> print(plan.describe())  # doctest: +NORMALIZE_WHITESPACE
        2 valid URLs (0 duplicates, 0 invalid); 2 in the archive, 1 of them older than the
        refresh limit (requested again); 1 to request, about 0.01 USD.
        """
        if self.older is None:
            archived = f"{self.already_stored} already in the archive"
        else:
            archived = (
                f"{self.already_stored + self.older} in the archive, {self.older} of them older "
                "than the refresh limit (requested again)"
            )
        recorded = f"; {self.already_recorded} already recorded" if self.already_recorded else ""
        return (
            f"{count(self.valid, 'valid URL')} ({count(self.duplicates, 'duplicate')}, "
            f"{len(self.invalid)} invalid); {archived}{recorded}; "
            f"{len(self.to_request)} to request, about {self.cost(price):.2f} USD."
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
    is older than that (a new snapshot; the plan counts those the archive held as ``older``);
    ``recorded(canonical_url)`` true leaves a URL out as already recorded (a cassette being
    recorded holds it).

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
            return entry is not None and entry.latest.outcome not in STORED
        return entry is None or not entry.stored

    wanted_urls = [(code, url) for code, url in valid if wanted(code)]
    to_request = [(code, url) for code, url in wanted_urls if not (recorded and recorded(url))]
    older = None
    if cutoff is not None:
        held = [index.get((code, channel)) for code, _url in wanted_urls]
        older = sum(1 for entry in held if entry is not None and entry.stored)
    return Plan(
        to_request,
        len(valid),
        invalid,
        duplicates,
        len(valid) - len(wanted_urls),
        len(wanted_urls) - len(to_request),
        older,
    )


def paid_price(price: float) -> float:
    """What one answer costs here: `price`, or nothing inside a replay-only ``with replay(...)``
    (every answer comes from the cassette)."""
    replaying = cassettes.active()
    return 0.0 if replaying is not None and replaying.keyless else price


@dataclass(frozen=True)
class Stop:
    """Why a run ended before its plan was done; `message` says what happened and what to do.

    `reason` is one of:

    ``"key"``
        The API rejected the key (401/403). That answer is stored.
    ``"credits"``
        No credits left (402). That answer is stored.
    ``"cassette"``
        A replay has no recording of a request: a setup problem, so `collect` raises it.
    ``"archive"``
        The archive could not be written (a read-only folder, a full disk): a setup problem,
        so `collect` raises the error, naming the archive. Answers that arrive after the failed
        write are not stored.
    ``"max_requests"``
        As many URLs as `max_requests` were started.
    ``"interrupted"``
        Ctrl-C (KeyboardInterrupt): answers in flight were stored, unless it came twice.
    ``"no_connection"``
        The last attempts (at least 5, and twice the concurrency) all failed to connect: the
        URLs not answered are not recorded as failed.
    ``"retry_after"``
        The API asked to wait (Retry-After) beyond a URL's retry budget; the message says when
        to resume. The URLs not answered, that one included, are not recorded as failed.

    In every case no further request is sent, not even one already waiting for its turn.
    """

    reason: str
    message: str

    def __str__(self) -> str:
        return self.message


#: Stops that are a setup problem, not an answer: `collect` raises their error after stopping.
RAISED = frozenset({"cassette", "archive"})


class _NoConnection(Exception):
    """The last attempts of a run all failed to connect."""


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
    if isinstance(error, RetryAfterError):
        return Stop("retry_after", f"{error} Run again then; nothing more was sent.")
    if isinstance(error, CassetteError):
        return Stop("cassette", str(error))
    if isinstance(error, _NoConnection):
        return Stop("no_connection", str(error))
    if isinstance(error, OSError):  # network errors reach collect as APIError: this is a file
        where = error.filename or "the archive"
        return Stop(
            "archive",
            f"could not write {where} ({error.strerror or error}); nothing more was sent. "
            "Make the folder writable or free some space, then run again to resume.",
        )
    if isinstance(error, KeyboardInterrupt):
        return Stop(
            "interrupted", "in-flight requests were finished and stored; run again to resume."
        )
    return None


@dataclass
class Summary:
    """The outcome of a collection run; ``print(summary)`` describes it.

    `urls_started` counts URLs for which a request was sent (what `max_requests` caps),
    `requests_made` every request sent (retries included), `answers` the HTTP answers received
    (any status: what the API may bill). Under a replay that only replays, `price` is 0; while
    recording, answers replayed from the cassette are counted as if paid.
    """

    archive: Path
    plan: Plan
    outcomes: Counter[str] = field(default_factory=Counter)
    requests_made: int = 0
    elapsed_s: float = 0.0
    stopped: Stop | None = None
    dry_run: bool = False
    price: float = PRICE_USD
    urls_started: int = 0
    answers: int = 0

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C ended the run."""
        return self.stopped is not None and self.stopped.reason == "interrupted"

    @property
    def cost(self) -> float:
        """Estimated cost in USD: answers received times the price."""
        return self.answers * self.price

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={self.outcomes[k]}" for k in ("ok", "unavailable", "failed"))
        return f"Summary({counts}, requests_made={self.requests_made}, archive={self.archive!r})"

    def _repr_html_(self) -> str:
        """Jupyter's view: outcomes, requests, cost and why the run stopped, every value
        escaped."""
        from .display import section, table, text

        facts = [
            ("requests made", self.requests_made),
            ("URLs started", self.urls_started),
            ("answers received", self.answers),
            ("estimated cost", f"{self.cost:.2f} USD at {self.price:g} USD each"),
            ("elapsed", f"{self.elapsed_s:.1f} s"),
            ("archive", self.archive),
        ]
        outcomes = [(k, self.outcomes[k]) for k in ("ok", "unavailable", "failed")]
        stop = ""
        if self.stopped:
            label = "Interrupted" if self.interrupted else "Stopped early"
            stop = f"<p>{label}: {text(self.stopped.message, limit=500)}</p>"
        title = "Dry run: nothing was requested" if self.dry_run else "Collection"
        return section(title, table(("outcome", "posts"), outcomes), table(("", ""), facts), stop)

    def describe(
        self, *, stop: str | None = None, archive: str | None = None, with_plan: bool = True
    ) -> str:
        """The summary as text. `stop` and `archive`, when given, replace the words on why the
        run stopped and the archive's path (the command line names its flags where the library
        names parameters, and says when the archive was a temporary one); ``with_plan=False``
        leaves out the plan's line (the command line printed it before the run)."""
        plan = self.plan
        lines = [plan.describe(self.price)] if with_plan else []
        if self.dry_run:
            lines.append(
                f"Dry run: would make {count(len(plan.to_request), 'request')}, about "
                f"{plan.cost(self.price):.2f} USD at {self.price:g} USD each. "
                "Nothing was requested."
            )
        else:
            counts = ", ".join(f"{k} {self.outcomes[k]}" for k in ("ok", "unavailable", "failed"))
            lines.append(
                f"Outcomes: {counts}. Requests made: {self.requests_made}. URLs started: "
                f"{self.urls_started}; answers received: {self.answers} (about {self.cost:.2f} "
                f"USD at {self.price:g} USD each). Elapsed: {self.elapsed_s:.1f} s. "
                f"Archive: {archive or self.archive}"
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
    it), at any concurrency. Ctrl-C (KeyboardInterrupt) stops the run: nothing more is sent,
    retry waits end at once, answers in flight are stored; a second Ctrl-C while they are
    awaited returns at once, and answers arriving later are not stored.

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
        timeout, max_retries, backoff, retry_budget, transport...).

    Returns
    -------
    Summary
        Counts by outcome, URLs started, requests sent, answers received, elapsed time, and why
        the run stopped early (``stopped``: see :func:`stop_rule` and :class:`Stop`).

    Raises
    ------
    ArchiveFormatError
        Before anything is read or sent, when `archive` exists and is not an archive, or is
        compressed (``.gz``, ``.zst``): collect appends to plain JSON Lines only.
    AuthError
        Before the archive is touched, when there is no key.
    CassetteError, OSError
        After stopping, for a replay miss or a failed archive write (nothing is sent after it).

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
    limiter = limiter or RateLimiter(rate)
    with Client(channel=channel, **client_options) as probe:
        pass  # its options are checked before anything is read or sent; its key, later
    check_appendable(archive)  # a compressed archive is read by the others, never appended to
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
    price = paid_price(price)
    if on_plan is not None:
        on_plan(plan)
    summary = Summary(Path(archive), plan, dry_run=dry_run, price=price)
    if dry_run or not plan.to_request:
        return summary
    todo = plan.to_request[:max_requests] if max_requests is not None else plan.to_request
    probe.require_key()  # fail once, before the archive is touched, not once per URL
    run = _Run(summary, channel, limiter, client_options, progress, len(todo))
    started = time.monotonic()
    try:
        with ArchiveWriter(archive) as writer:
            run.writer = writer
            run.fetch_all(todo, concurrency)
    finally:
        run.close()
        summary.elapsed_s = time.monotonic() - started
    if summary.stopped is None and len(todo) < len(plan.to_request):
        summary.stopped = Stop(
            "max_requests", f"max_requests={max_requests} reached; run again to continue."
        )
    return summary


def _join(done: list[threading.Event]) -> None:
    """Wait until every worker is done, in steps of a quarter second, never for good: once a
    library such as polars runs threads of its own, Ctrl-C may wake one of those instead, and
    the main thread only sees it between two waits. Not ``Thread.join``: up to Python 3.12, a
    Ctrl-C that interrupts ``join(timeout)`` can mark the thread as stopped while it still runs
    (CPython gh-90882), and its answer in flight would then be lost."""
    for event in done:
        while not event.wait(0.25):
            pass


#: The URLs still to fetch: (position in the run, shortcode, URL).
_Tasks = queue.SimpleQueue[tuple[int, str, str]]


class _Cancelled(Exception):
    """The run stopped while a request waited for its turn: it is not sent."""


class _Run:
    """State shared by the worker threads of one collection; also their throttle, so that a
    request still waiting for its turn when the run stops is never sent."""

    #: Seconds the shared limiter must hold everyone before the progress bar says so.
    SAY_WAIT_S = 3.0

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
        self.storing = True  # False after a failed write, or when a second Ctrl-C gave up
        self.failure: BaseException | None = None  # a worker's error that ends the run
        self.no_connection_after = 5
        self.unconnected = 0  # attempts in a row, across workers, that failed to connect
        self.unconnected_records: list[dict[str, Any]] = []  # stored if the run does not stop
        self.bar = _progress_bar(total) if progress else None
        self.waiting_said = False

    def fetch_all(self, todo: list[tuple[str, str]], concurrency: int) -> None:
        """Fetch every URL of `todo` and store its outcome, until done or stopped.

        On Ctrl-C nothing more is sent and the answers in flight are awaited and stored; a
        second Ctrl-C gives up on them at once. The workers are daemon threads, so that those
        given up on never keep the process alive.
        """
        self.no_connection_after = max(5, 2 * concurrency)
        tasks: _Tasks = queue.SimpleQueue()
        for position, (shortcode, url) in enumerate(todo):
            tasks.put((position, shortcode, url))
        context = contextvars.copy_context()  # the workers see an open replay
        done = [threading.Event() for _ in range(min(concurrency, len(todo)))]
        workers = [
            threading.Thread(
                target=self.work, args=(tasks, context, event), daemon=True, name=f"igresearch-{n}"
            )
            for n, event in enumerate(done)
        ]
        started: list[threading.Event] = []
        try:
            for worker, event in zip(workers, done, strict=True):
                try:
                    worker.start()
                finally:  # a start that Ctrl-C cut short has most likely started the thread
                    started.append(event)
            _join(started)
        except KeyboardInterrupt as error:
            self.stop.set()  # no new request; retry waits end; in-flight answers are stored
            self.summary.stopped = stop_rule(error)
            try:
                _join(started)
            except KeyboardInterrupt:
                with self.lock:  # after any append under way: the archive stays whole
                    self.storing = False
                self.summary.stopped = Stop(
                    "interrupted",
                    "Ctrl-C twice: the answers still in flight were not awaited, nor stored; "
                    "run again to resume.",
                )
            return
        if not self.stop.is_set():
            for record in self.unconnected_records:
                self._store(record)
        if self.failure is not None:  # a replay miss, a failed write, a bug
            raise self.failure

    def work(self, tasks: _Tasks, context: Context, done: threading.Event) -> None:
        """One worker: take URLs until none is left or the run stops; then set `done`."""
        try:
            self._work(tasks, context)
        finally:
            done.set()

    def _work(self, tasks: _Tasks, context: Context) -> None:
        while not self.stop.is_set():
            try:
                position, shortcode, url = tasks.get_nowait()
            except queue.Empty:
                return
            try:
                context.copy().run(self.fetch_one, position, shortcode, url)
            except BaseException as error:  # fetch_one stopped the run: the caller raises it
                with self.lock:
                    self.failure = self.failure or error
                return

    def client(self) -> Client:
        if not hasattr(self.local, "client"):
            # Retry waits end at once when the run stops (unless the caller brings a sleep).
            options = {"sleep": self.stop.wait} | self.client_options
            client = Client(channel=self.channel, throttle=self, **options)
            self.local.client = client
            with self.lock:
                self.clients.append(client)
        return self.local.client  # type: ignore[no-any-return]

    def halt(self, stop: Stop) -> None:
        """Stop the run for `stop`, unless it already stopped for another reason."""
        with self.lock:
            self.summary.stopped = self.summary.stopped or stop
        self.stop.set()

    # -- the throttle of every client (igresearch.client.Throttle) --

    def wait(self) -> None:
        paused = self.limiter.paused()
        if paused is not None and paused[0] > self.SAY_WAIT_S:
            self._say(f"waiting {paused[0]:.0f} s: {paused[1]}")
        sent = self.limiter.wait(self.stop)
        self._say(None)
        if not sent or self.stop.is_set():
            raise _Cancelled
        with self.lock:
            self.summary.requests_made += 1
            if not self.local.started:
                self.local.started = True
                self.summary.urls_started += 1

    def penalize(self, retry_after: float | None) -> None:
        self.limiter.penalize(retry_after)

    def relax(self) -> None:
        self.limiter.relax()

    def attempted(self, *, answered: bool, connected: bool) -> None:
        self.local.connected = connected
        with self.lock:
            self.summary.answers += answered
            self.unconnected = 0 if connected else self.unconnected + 1
            if self.unconnected < self.no_connection_after:
                return
        raise _NoConnection(
            f"could not connect to the API at {self.client().base_url}: the last "
            f"{self.unconnected} attempts all failed to connect (refused, DNS or TLS). Nothing "
            "more was sent, and the URLs not answered are not recorded as failed. Check the "
            "network and the base URL (MEMORIES_BASE_URL), then run again to resume."
        )

    # -- one URL --

    def fetch_one(self, position: int, shortcode: str, url: str) -> None:
        cassettes.set_position(self, position)
        self.local.started, self.local.connected = False, True
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
        except _Cancelled:  # not sent: the URL stays to do, for the next run
            return
        except APIError as error:  # an answer: store it
            stop = stop_rule(error)
            unanswered = error.status is None and self.stop.is_set()
            if (stop is not None and stop.reason == "retry_after") or unanswered:
                if stop is not None:
                    self.halt(stop)
                return  # nothing learnt about the post while the run stops: still to do
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
            if stop is not None:  # an answer that ends the run: stored all the same
                self.halt(stop)
            elif not self.local.connected:  # perhaps a lost connection: see fetch_all
                with self.lock:
                    self.unconnected_records.append(record)
                return
        except BaseException as error:  # no answer to store
            stop = stop_rule(error)
            if stop is None or stop.reason in RAISED:  # a replay miss, a bug
                self.stop.set()
                raise
            self.halt(stop)  # no connection
            return
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
            if not self.storing:
                return
            assert self.writer is not None
            try:
                self.writer.append(record)
            except OSError as error:  # nothing more is paid for; collect raises it
                self.storing = False
                self.summary.stopped = self.summary.stopped or stop_rule(error)
                self.failure = self.failure or error
                self.stop.set()
                return
            self.summary.outcomes[record["outcome"]] += 1
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(
                    {k: self.summary.outcomes[k] for k in ("ok", "unavailable", "failed")},
                    refresh=False,
                )

    def _say(self, waiting: str | None) -> None:
        """Show on the progress bar why everyone waits, or (None) that they no longer do."""
        if self.bar is None or (waiting is None and not self.waiting_said):
            return
        with self.lock:
            self.waiting_said = waiting is not None
            self.bar.set_description_str(f"collect ({waiting})" if waiting else "collect")

    def close(self) -> None:
        for client in self.clients:
            client.close()
        if self.bar is not None:
            self.bar.close()


def _progress_bar(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="url", desc="collect", file=sys.stderr, dynamic_ncols=True)


def _now() -> str:
    return _iso(datetime.now(UTC))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()
