"""HTTP only: one paid request in, one validated response envelope out."""

from __future__ import annotations

import email.utils
import math
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

from . import __version__, cassettes
from .errors import (
    APIError,
    AuthError,
    CassetteError,
    InsufficientCreditsError,
    MediaUnavailableError,
    RateLimitError,
    ResponseFormatError,
    RetryAfterError,
)
from .shapes import failed, locate_media, normalise_code
from .urls import canonical_url, parse_shortcode

__all__ = ["CHANNELS", "DEFAULT_BASE_URL", "Client", "Fetched", "Throttle"]

DEFAULT_BASE_URL = "https://mavi-backend.memories.ai/serve/api/v2"
CHANNELS = ("apify", "rapid", "memories.ai")
ENDPOINT = "/instagram/video/metadata"

_AUTH_CODES = {"401", "403"}


@dataclass(frozen=True)
class Fetched:
    """A successful call: the envelope and what the HTTP exchange said about it."""

    url: str
    shortcode: str
    envelope: dict[str, Any]
    status: int
    date: datetime | None
    attempts: int


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


class _Transient(Exception):
    """A failure worth retrying; wraps the error to raise once retries run out."""

    def __init__(
        self, error: APIError, retry_after: float | None = None, *, connected: bool = True
    ) -> None:
        self.error = error
        self.retry_after = retry_after
        self.connected = connected


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
        Seconds to wait for the server to connect and to answer.
    max_retries
        Retries after the first attempt, on connection errors, timeouts, HTTP 429 and 5xx,
        and API codes 0429 and 0001. Other failures are never retried.
    backoff
        Seconds before the first retry; doubles each time, with jitter, up to `max_backoff`.
        A ``Retry-After`` header is waited for instead.
    retry_budget
        The most seconds one URL's retries may wait in all (back-off and ``Retry-After``).
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
        For an unknown channel.

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
        if not (math.isfinite(retry_budget) and retry_budget >= 0):
            raise ValueError(f"retry_budget must be 0 or more seconds, not {retry_budget}.")
        self._api_key = api_key or os.environ.get("MEMORIES_API_KEY") or None
        self.channel = channel
        base = base_url or os.environ.get("MEMORIES_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = base.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.retry_budget = retry_budget
        self._throttle = throttle
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"igresearch/{__version__}"
        self._transport = transport or cassettes.active()
        if self._transport is not None:
            self._session.mount("http://", self._transport)
            self._session.mount("https://", self._transport)

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
            Any Instagram post, reel or TV URL, or a bare shortcode.

        Returns
        -------
        dict
            The decoded envelope, e.g. ``{"code": "0000", "data": {"data": {...}}, ...}``.

        Raises
        ------
        InvalidURLError
            Before any request, for input that is not an Instagram post.
        AuthError, InsufficientCreditsError, RateLimitError, MediaUnavailableError,
        ResponseFormatError, APIError
            See :mod:`igresearch.errors`.
        """
        return self.fetch(url).envelope

    def require_key(self, url: str | None = None) -> None:
        """Raise :class:`AuthError`, saying how to set a key, when the client has none."""
        keyless = isinstance(self._transport, cassettes.replay) and self._transport.keyless
        if not self._api_key and not keyless:
            raise AuthError(
                "No API key: set the MEMORIES_API_KEY environment variable to a key from "
                "memories.ai (in Python you may pass api_key=... instead).",
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
            response: requests.Response | None = None
            try:
                response = self._post(body, canonical)
                envelope = _validate(response, canonical)
            except _Transient as transient:
                error, retry_after = transient.error, transient.retry_after
                error.attempts = attempt
                if self._throttle:
                    self._throttle.attempted(
                        answered=response is not None, connected=transient.connected
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
                    self._throttle.attempted(answered=response is not None, connected=True)
                error.attempts = attempt
                raise self._redacted(error) from None
            if self._throttle:
                self._throttle.attempted(answered=True, connected=True)
                self._throttle.relax()
            return Fetched(
                url=canonical,
                shortcode=shortcode,
                envelope=envelope,
                status=response.status_code,
                date=_parse_date(response.headers.get("Date")),
                attempts=attempt,
            )

    def _post(self, body: dict[str, str], canonical: str) -> requests.Response:
        try:
            return self._session.post(
                self.base_url + ENDPOINT,
                json=body,
                headers={"Authorization": self._api_key} if self._api_key else {},
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            error = APIError(f"No answer within {self.timeout:g} s for {canonical}.", url=canonical)
            connected = not isinstance(exc, requests.ConnectTimeout)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # ChunkedEncodingError: the connection broke in the middle of the body.
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
        error.retriable = True
        raise _Transient(error, connected=connected)

    def _redacted(self, error: APIError) -> APIError:
        """The error, with the key cut out of its message should the server have echoed it."""
        if self._api_key and self._api_key in error.message:
            error.message = error.message.replace(self._api_key, "<API key>")
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


def _validate(response: requests.Response, url: str) -> dict[str, Any]:
    """Return the envelope of a successful response; raise the matching error otherwise."""
    status = response.status_code
    try:
        decoded = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
        decoded = None
    envelope: dict[str, Any] | None = decoded if isinstance(decoded, dict) else None
    raw_code = envelope.get("code") if envelope else None
    code = normalise_code(raw_code)
    message = str(envelope.get("msg") or "") if envelope else ""
    where = f"HTTP {status}" + (f", code {raw_code}" if raw_code is not None else "")

    date = _parse_date(response.headers.get("Date"))

    def details(text: str) -> dict[str, Any]:
        return {"status": status, "code": code, "url": url, "message": text, "date": date}

    if status in (401, 403) or code in _AUTH_CODES:
        raise AuthError(
            **details(
                f"API key rejected ({where}: {message or 'unauthorized'}) for {url}. "
                "Set MEMORIES_API_KEY to a valid, enabled key."
            )
        )
    if status == 402 or code == "402":
        raise InsufficientCreditsError(
            **details(
                f"No credits left ({where}) for {url}. Top up the memories.ai account, then resume."
            )
        )
    if status == 429 or code == "429":
        raise _Transient(
            RateLimitError(
                **details(f"Rate limited ({where}) for {url}. Lower the request rate and resume.")
            ),
            _retry_after(response.headers.get("Retry-After")),
        )
    if status >= 500 or code == "1":
        error = APIError(
            **details(f"The API failed ({where}: {message or 'server error'}) for {url}."),
            retriable=True,
        )
        raise _Transient(error, _retry_after(response.headers.get("Retry-After")))
    if envelope is None:
        snippet = response.text[:80].replace("\n", " ")
        raise ResponseFormatError(
            **details(
                f"The API answered {where} with a body that is not a JSON object "
                f"({response.headers.get('Content-Type', 'no content type')}: {snippet!r}) "
                f"for {url}. Try again later."
            )
        )
    if status >= 400 or failed(envelope):
        raise APIError(
            **details(f"The API refused the request ({where}: {message or 'failed'}) for {url}.")
        )
    located = locate_media(envelope)
    if located is None:
        raise ResponseFormatError(
            **details(f"The API answered {where} with an envelope of unknown shape for {url}.")
        )
    if located.node is None:
        raise MediaUnavailableError(
            **details(f"The post {url} is {MediaUnavailableError.why(located.reason)}."),
            response=envelope,
        )
    return envelope


def _failed_to_connect(exc: requests.RequestException) -> bool:
    """Whether no connection was made at all (refused, no route, DNS, TLS), as opposed to one
    that broke during the exchange."""
    if isinstance(exc, requests.exceptions.SSLError):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)  # DNS failures are one too


def _duration(seconds: float) -> str:
    """'45 s', '12 min', '2 h 5 min'."""
    if seconds < 120:
        return f"{seconds:.3g} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = _parse_date(value)
    if when is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
