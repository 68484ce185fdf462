"""HTTP only: one paid request in, one validated response envelope out."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

import requests
import urllib3
from requests.adapters import BaseAdapter

from . import __version__, cassettes, redact
from .answers import MAX_BODY_BYTES, Answer, Transient, judge, receive
from .deadline import DeadlineAdapter
from .errors import APIError, AuthError, CassetteError, RateLimitError, RetryAfterError
from .urls import canonical_url, parse_shortcode

__all__ = ["CHANNELS", "DEFAULT_BASE_URL", "Client", "Fetched", "Throttle"]

DEFAULT_BASE_URL = "https://mavi-backend.memories.ai/serve/api/v2"
CHANNELS = ("apify", "rapid", "memories.ai")
ENDPOINT = "/instagram/video/metadata"
#: The longest `timeout` (one attempt) and `retry_budget` (one URL's waits) a client accepts.
MAX_TIMEOUT_S, MAX_RETRY_BUDGET_S = 3600, 7 * 86400


@dataclass(frozen=True)
class Fetched:
    """A successful call: the envelope and what the HTTP exchange said about it."""

    url: str
    shortcode: str
    envelope: dict[str, Any]
    status: int
    date: datetime | None
    attempts: int
    #: Whether the key was cut from the envelope (the server echoed it).
    redacted: bool = False


class Throttle(Protocol):
    """Paces requests shared by several clients (see :class:`igresearch.collect.RateLimiter`)."""

    def wait(self) -> None:
        """Block until the next request may be sent."""

    def penalize(self, retry_after: float | None) -> None:
        """The API said 429: slow everyone down."""

    def relax(self) -> None:
        """A request succeeded: speed back up towards the set rate."""

    def attempted(self, *, answered: bool, connected: bool) -> None:
        """An attempt ended: with an HTTP answer (any status) or not, and whether it connected at
        all (a refused connection, a failed DNS lookup or TLS handshake did not). May raise, to
        end the fetch there."""


class Client:
    """A client of the memories.ai Instagram video metadata endpoint.

    Parameters
    ----------
    api_key
        The key; default: the ``MEMORIES_API_KEY`` environment variable.
    channel
        Upstream provider: ``"apify"``, ``"rapid"`` or ``"memories.ai"``.
    base_url
        Default: ``MEMORIES_BASE_URL``, else the vendor's production URL.
    timeout
        Seconds one attempt may take (at most an hour): connecting, the headers and the whole
        body must be in within `timeout` of sending the request, however slowly they arrive.
    max_retries
        Retries after the first attempt, on connection errors, timeouts, HTTP 429 and 5xx,
        API codes 0429 and 0001, and HTML, truncated or invalid JSON bodies (the table in
        :mod:`igresearch.answers`). Other failures are never retried.
    max_body_bytes
        The largest body read, once decompressed (at most ``cassettes.MAX_BODY_BYTES``, 64 MiB);
        a longer one is a failure, not retried.
    backoff
        Seconds before the first retry; doubles each time, with jitter, up to `max_backoff`.
        A ``Retry-After`` header is waited for instead.
    retry_budget
        The most seconds one URL's retries may wait in all (back-off and ``Retry-After``; at
        most a week).
        When the API asks to wait beyond it, :class:`~igresearch.errors.RetryAfterError` says
        until when; a back-off beyond it ends the retries.
    throttle
        Paces every attempt (retries included); shared by a collection's workers.
    transport
        The requests adapter that sends each request (as httpx's ``transport=``): default, the
        open :func:`~igresearch.cassettes.replay` of the block the client is made in, else
        the network.
    sleep, rng
        Injected for tests, so retries need not sleep for real.

    Raises
    ------
    ValueError
        For an unknown channel, or a negative max_retries or a max_body_bytes out of range.

    Examples
    --------
    >>> with Client(channel="apify") as client:  # doctest: +SKIP
    ...     envelope = client.video_metadata("https://www.instagram.com/reel/DLlGZiCOBQ0/")

    Offline, from a recording (no key, no network):

    >>> from igresearch import Client
    >>> from igresearch.cassettes import cassette_path, replay
    >>> with replay(cassette_path("documented_example.yaml")) as cassette:
    ...     with Client(transport=cassette) as client:
    ...         client.fetch("DLlGZiCOBQ0").status
    200
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        channel: str = "apify",
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        throttle: Throttle | None = None,
        transport: BaseAdapter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        retry_budget: float = 600.0,
    ) -> None:
        if channel not in CHANNELS:
            raise ValueError(f"Unknown channel {channel!r}: use one of {', '.join(CHANNELS)}.")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {max_retries}.")
        if not 0 < timeout <= MAX_TIMEOUT_S:  # false for nan too
            raise ValueError(
                f"timeout must be above 0 and at most {MAX_TIMEOUT_S} s, not {timeout}."
            )
        if not 0 <= retry_budget <= MAX_RETRY_BUDGET_S:
            raise ValueError(
                f"retry_budget must be 0 to {MAX_RETRY_BUDGET_S} seconds, not {retry_budget}."
            )
        if not 1 <= max_body_bytes <= cassettes.MAX_BODY_BYTES:
            raise ValueError(
                f"max_body_bytes must be 1 to {cassettes.MAX_BODY_BYTES}, not {max_body_bytes}."
            )
        # A key read from a file or pasted often brings a line break or spaces along.
        self._api_key = (api_key or os.environ.get("MEMORIES_API_KEY") or "").strip() or None
        self.channel = channel
        base = base_url or os.environ.get("MEMORIES_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = base.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_body_bytes = max_body_bytes
        self.retry_budget = retry_budget
        self._throttle = throttle
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._session = _Session()
        self._session.headers["User-Agent"] = f"igresearch/{__version__}"
        # The encodings the client decodes itself, within max_body_bytes.
        self._session.headers["Accept-Encoding"] = "gzip, deflate"
        self._transport = transport or cassettes.active()
        adapter = self._transport or DeadlineAdapter()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return f"Client(channel={self.channel!r}, base_url={self.base_url!r}, api_key={key})"

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def video_metadata(self, url: str) -> dict[str, Any]:
        """Fetch the metadata of one post and return the response envelope.

        Parameters
        ----------
        url
            Any Instagram post, reel or TV URL, or a bare shortcode (10 to 12 characters; see
            :func:`igresearch.urls.parse_shortcode`).

        Returns
        -------
        dict
            The decoded envelope, e.g. ``{"code": "0000", "data": {"data": {...}}, ...}``.

        Raises
        ------
        InvalidURLError
            Before any request, for input that is not an Instagram post.
        AuthError, InsufficientCreditsError, RateLimitError, MediaUnavailableError,
        WrongPostError, ResponseFormatError, APIError
            See :mod:`igresearch.errors`, and :mod:`igresearch.answers` for which are retried.
        """
        return self.fetch(url).envelope

    def require_key(self, url: str | None = None) -> None:
        """Raise :class:`AuthError`, saying how to set a key, when the client has none, one too
        short to be a key (:data:`igresearch.redact.MIN_PART`), or one that an HTTP header cannot
        carry."""
        keyless = isinstance(self._transport, cassettes.replay) and self._transport.keyless
        if not self._api_key and not keyless:
            raise AuthError(
                "No API key: set the MEMORIES_API_KEY environment variable to a key from "
                "memories.ai (in Python you may pass api_key=... instead).",
                url=url,
            )
        if self._api_key and len(self._api_key) < redact.MIN_PART:
            raise AuthError(
                f"The API key is {len(self._api_key)} characters long, too short to be a "
                "memories.ai key: set MEMORIES_API_KEY to the whole key.",
                url=url,
            )
        if self._api_key and not (self._api_key.isascii() and self._api_key.isprintable()):
            raise AuthError(
                "The API key holds a character an HTTP header cannot carry (a line break, a "
                "typographic quote or another non-ASCII character): set MEMORIES_API_KEY to "
                "the key alone, as memories.ai shows it.",
                url=url,
            )

    def fetch(self, url: str) -> Fetched:
        """Like :meth:`video_metadata`, with the HTTP status, ``Date`` and attempt count."""
        shortcode = parse_shortcode(url)
        canonical = canonical_url(shortcode)
        if self._transport is None and (late := cassettes.active()) is not None:
            raise CassetteError(
                f"This client was made before {late!r} began, so it would send {canonical} "
                "to the API: make the client inside the with block, or pass transport=."
            )
        self.require_key(canonical)
        body = {"video_url": canonical, "channel": self.channel}
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            if self._throttle:
                self._throttle.wait()
            answer: Answer | None = None
            try:
                answer = self._post(body, canonical)
                envelope = judge(answer, canonical)
            except Transient as transient:
                error, retry_after = transient.error, transient.retry_after
                error.attempts = attempt
                if self._throttle:
                    self._throttle.attempted(
                        answered=answer is not None, connected=transient.connected
                    )
                delay = self._delay(attempt, retry_after)
                if retry_after is not None and waited + delay > self.retry_budget:
                    raise self._redacted(self._wait_too_long(error, retry_after)) from None
                if self._throttle and isinstance(error, RateLimitError):
                    self._throttle.penalize(retry_after)
                if attempt > self.max_retries or waited + delay > self.retry_budget:
                    raise self._redacted(error) from None
                waited += delay
                self._sleep(delay)
                continue
            except APIError as error:
                if self._throttle:
                    self._throttle.attempted(answered=answer is not None, connected=True)
                error.attempts = attempt
                raise self._redacted(error) from None
            if self._throttle:
                self._throttle.attempted(answered=True, connected=True)
                self._throttle.relax()
            return Fetched(
                url=canonical,
                shortcode=shortcode,
                envelope=envelope,
                status=answer.status,
                date=answer.date,
                attempts=attempt,
                redacted=answer.redacted,
            )

    def _post(self, body: dict[str, str], canonical: str) -> Answer:
        """Send one attempt and read its answer, all within `timeout`."""
        started = time.monotonic()
        try:
            response = self._session.post(
                self.base_url + ENDPOINT,
                json=body,
                headers={"Authorization": self._api_key} if self._api_key else {},
                timeout=self.timeout,
                stream=True,
            )
        except requests.Timeout as exc:
            error = APIError(f"No answer within {self.timeout:g} s for {canonical}.", url=canonical)
            connected = not isinstance(exc, requests.ConnectTimeout)
        except requests.ConnectionError as exc:
            error = APIError(
                f"Could not reach the API at {self.base_url} for {canonical} "
                f"({type(exc).__name__}). Check the network and MEMORIES_BASE_URL.",
                url=canonical,
            )
            connected = not _failed_to_connect(exc)
        except requests.RequestException as exc:  # e.g. a base URL without http://
            raise APIError(
                f"Could not send the request to {self.base_url} for {canonical} "
                f"({type(exc).__name__}). Check MEMORIES_BASE_URL or base_url=.",
                url=canonical,
            ) from None
        else:
            return receive(
                response,
                started=started,
                timeout=self.timeout,
                max_bytes=self.max_body_bytes,
                keys=redact.secrets(self._api_key),
                url=canonical,
            )
        error.retriable = True
        raise Transient(error, connected=connected)

    def _redacted(self, error: APIError) -> APIError:
        """The error, with the key cut out of its message should anything have echoed it (its
        body and response were scrubbed as they were read)."""
        error.message, changed = redact.scrub(error.message, redact.secrets(self._api_key))
        if changed:
            error.args = (error.message,)
        return error

    def _wait_too_long(self, error: APIError, retry_after: float) -> RetryAfterError:
        """The error that ends the retries when the API asks to wait beyond the budget."""
        resume_at = datetime.now(UTC) + timedelta(seconds=retry_after)
        late = RetryAfterError(
            f"The API asked to wait {_duration(retry_after)} (Retry-After, HTTP {error.status}) "
            f"for {error.url}, beyond the retry budget of {_duration(self.retry_budget)}. "
            f"Resume after {resume_at:%Y-%m-%d %H:%M:%S} UTC (in {_duration(retry_after)}).",
            resume_at=resume_at,
            status=error.status,
            code=error.code,
            url=error.url,
            date=error.date,
        )
        late.attempts = error.attempts
        return late

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)


class _Session(requests.Session):
    """A session that never follows a redirect: requests would first read the redirect's whole
    body (even with ``allow_redirects=False``), beyond the attempt's deadline and size cap, then
    send the paid request wherever the server said. A 3xx is judged like any other answer."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


def _failed_to_connect(exc: requests.ConnectionError) -> bool:
    """Whether no connection was made at all (refused, no route, DNS, TLS), as opposed to one
    that broke during the exchange."""
    if isinstance(exc, requests.exceptions.SSLError):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)  # DNS failures are one too


def _duration(seconds: float) -> str:
    """'45 s', '12 min', '2 h 5 min', '3 d 4 h'."""
    if seconds < 120:
        return f"{seconds:.3g} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // 1440} d {minutes % 1440 // 60} h"
