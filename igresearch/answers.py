"""One HTTP answer: read within its deadline and size cap, decode strictly, judge.

:mod:`igresearch.client` sends requests and retries them; this module reads what came back
(:func:`receive`) and says what it is (:func:`judge`): the envelope of a success, or the error
to record. A failure worth retrying within the run is raised wrapped in :class:`Transient`.

=============================================  ================  =======================
answer                                         within the run    later (``retriable``)
=============================================  ================  =======================
connection error, timeout (the whole attempt)  retried           yes
HTTP 5xx, 429, API code 0001 or 0429           retried           yes
HTTP 200: HTML, truncated or invalid JSON      retried           yes
NaN or Infinity, not UTF-8, nested too deeply  recorded at once  yes
null media node and an upstream error (*)      recorded at once  yes
another post than the one asked for            recorded at once  yes (``WrongPostError``)
a body over the size cap (``max_body_bytes``)  recorded at once  no
a redirect (HTTP 3xx): it is not followed      recorded at once  yes
any other refusal (HTTP 4xx, API error code)   recorded at once  no
=============================================  ================  =======================

(*) A non-empty ``errors``, or ``status: "fail"``, at any level wrapping the node, as when
Instagram throttles ("Please wait a few minutes before you try again."); see
:func:`igresearch.shapes.upstream_failure`. Null media without one: the post is unavailable.

A rejected key (401/403) and no credits (402) are errors too; what they do to a run is
:func:`igresearch.collect.stop_rule`'s decision. The body is decoded as UTF-8 whatever its
``Content-Type`` says, and parsed as strict JSON (no ``NaN``, ``Infinity``, ``-Infinity``).
The key is cut from the body and the headers as soon as they are read
(:func:`igresearch.redact.scrub`), so nothing made from them holds it. Every error raised for an
answer carries the body as text (``APIError.body``, at most :data:`KEPT_BODY_BYTES`) and whether
the key was cut from it (``APIError.redacted``).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import math
import socket
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from .errors import (
    APIError,
    AuthError,
    InsufficientCreditsError,
    InvalidURLError,
    MediaUnavailableError,
    RateLimitError,
    ResponseFormatError,
    WrongPostError,
)
from .redact import scrub
from .shapes import Located, failed, locate_media, normalise_code, upstream_failure
from .urls import parse_shortcode, shortcode_to_media_id

__all__ = [
    "KEPT_BODY_BYTES",
    "LONGEST_WAIT",
    "MAX_BODY_BYTES",
    "Answer",
    "Transient",
    "judge",
    "parse_date",
    "read_body",
    "receive",
    "retry_after",
]

#: Default cap on a body's size once decoded (``Client(max_body_bytes=...)``).
MAX_BODY_BYTES = 20 * 1024 * 1024
#: The longest Retry-After taken as it is (a century, in seconds); any longer reads as this.
LONGEST_WAIT = 100 * 366 * 86400.0
#: How much of a failed answer's body its error (and archive record) keeps.
KEPT_BODY_BYTES = 64 * 1024
#: Bytes read from the socket at a time.
_CHUNK = 64 * 1024

_AUTH_CODES = {"401", "403"}


class Transient(Exception):
    """A failure worth retrying within the run; wraps the error to raise once retries run out."""

    def __init__(
        self, error: APIError, retry_after: float | None = None, *, connected: bool = True
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after
        #: False when no connection was made at all (refused, DNS, TLS).
        self.connected = connected


@dataclass(frozen=True)
class Answer:
    """What one attempt received: status, headers and body (decoded; the key cut from all)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    #: Whether the key was cut from the body.
    redacted: bool = False
    #: The cap the body was cut at (the answer was longer), else None.
    cut_at: int | None = None

    @property
    def date(self) -> datetime | None:
        """The ``Date`` header."""
        return parse_date(self.headers.get("Date"))

    @property
    def kept(self) -> str:
        """The body as a failure keeps it: at most :data:`KEPT_BODY_BYTES`, as text (bytes
        that are not UTF-8 as ``\\xNN``)."""
        return self.body[:KEPT_BODY_BYTES].decode("utf-8", "backslashreplace")


class _Late(TimeoutError):
    """The attempt's deadline passed before the body was complete."""


def receive(
    response: requests.Response,
    *,
    started: float,
    timeout: float,
    max_bytes: int,
    keys: list[str],
    url: str,
) -> Answer:
    """Read the body of `response` (sent with ``stream=True``) and close it.

    Parameters
    ----------
    response
        The response, its body not read yet.
    started, timeout
        The attempt began at ``time.monotonic()`` `started` and must be over `timeout` seconds
        later: each read waits at most what remains.
    max_bytes
        Read no more than this many bytes once decoded (gzip and deflate are decoded as they
        arrive, so a compressed body cannot expand beyond it).
    keys
        Secrets cut from the body and the headers (see :func:`igresearch.redact.secrets`).
    url
        The post asked for, for messages.

    Raises
    ------
    Transient
        When the deadline passes, the connection breaks, or the compressed stream is corrupt.
    ResponseFormatError
        For any other failure to read the body.
    """
    headers = CaseInsensitiveDict(
        {name: scrub(value, keys, cut=False)[0] for name, value in response.headers.items()}
    )
    status = response.status_code
    where = f"HTTP {status}"
    details: dict[str, Any] = {
        "status": status,
        "url": url,
        "date": parse_date(headers.get("Date")),
    }
    try:
        body = read_body(response, deadline=started + timeout, max_bytes=max_bytes)
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        message = f"The body was not complete within {timeout:g} s ({where}) for {url}."
        raise Transient(APIError(message, retriable=True, **details)) from None
    except zlib.error as error:
        message = (
            f"The API answered {where} with a body that does not decompress ({error}) for {url}."
        )
        raise Transient(ResponseFormatError(message, **details)) from None
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
        message = (
            f"The connection broke while reading the answer ({where}, {type(error).__name__}) "
            f"for {url}."
        )
        raise Transient(APIError(message, retriable=True, **details)) from None
    except Exception as error:  # no rule foresaw it: this URL's failure, never the run's
        message = (
            f"igresearch could not read the answer ({where}) for {url} "
            f"({type(error).__name__}: {error})."
        )
        raise ResponseFormatError(message, **details) from None
    finally:
        response.close()
    cut_at = max_bytes if len(body) > max_bytes else None
    body, redacted = scrub(body[:max_bytes], keys, cut=cut_at is not None)
    return Answer(status, headers, body, redacted, cut_at)


def read_body(response: requests.Response, *, deadline: float, max_bytes: int) -> bytes:
    """The body of `response` (sent with ``stream=True``), gzip or deflate decoded as it arrives,
    at most `max_bytes` + 1 bytes (one more says it is longer).

    Raises
    ------
    TimeoutError, urllib3.exceptions.TimeoutError
        When ``time.monotonic()`` passes `deadline` (each read waits at most until then).
    zlib.error
        For a compressed stream that is corrupt or cut short.
    urllib3.exceptions.HTTPError, http.client.HTTPException, OSError
        When the connection breaks.
    """
    codings = [
        coding.strip().lower()
        for coding in response.headers.get("Content-Encoding", "").split(",")
        if coding.strip().lower() not in ("", "identity")
    ]
    # Only one coding is read (igresearch asks for gzip or deflate); any other is left as it is,
    # and the body is then no JSON.
    coding = codings[0] if len(codings) == 1 and codings[0] in _INFLATED else None
    inflater = None
    head = b""  # the first bytes, until they tell which deflate this is
    parts: list[bytes] = []
    room = max_bytes + 1
    for chunk in _chunks(response.raw, deadline):
        if coding is not None:
            if inflater is None:
                head += chunk
                if len(head) < 2:
                    continue
                inflater, chunk = zlib.decompressobj(_window_bits(coding, head)), head
            # zlib's max_length bounds what one call expands to; the rest waits in its tail.
            chunk = inflater.decompress(chunk, room)
        parts.append(chunk[:room])
        room -= len(parts[-1])
        if not room:
            break
    else:
        if coding is not None and (inflater is None or not inflater.eof):
            raise zlib.error("the compressed stream is cut short")
    return b"".join(parts)


_INFLATED = ("gzip", "x-gzip", "deflate")


def _window_bits(coding: str, head: bytes) -> int:
    """zlib's window bits for a body in `coding` that begins with `head`: gzip; deflate in its
    zlib wrapper (RFC 9110), or raw, as some servers send it (urllib3 reads both too)."""
    if coding != "deflate":
        return 31
    wrapped = head[0] & 0x0F == 8 and int.from_bytes(head[:2], "big") % 31 == 0
    return 15 if wrapped else -15


def _chunks(raw: Any, deadline: float) -> Iterator[bytes]:
    """The raw body as it arrives, each read waiting at most until `deadline`."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Late
        if isinstance(sock, socket.socket) and math.isfinite(remaining):
            sock.settimeout(remaining)
        if isinstance(raw, urllib3.HTTPResponse):
            chunk = raw.read1(_CHUNK, decode_content=False)
        else:  # a replayed body in memory
            chunk = raw.read(_CHUNK)
        if not chunk:
            return
        yield chunk


def judge(answer: Answer, url: str) -> dict[str, Any]:
    """The envelope of a successful answer for the post `url` names; else raise its error.

    Parameters
    ----------
    answer
        What :func:`receive` read.
    url
        The canonical URL of the post asked for.

    Raises
    ------
    Transient
        Wrapping the error, for a failure worth retrying within the run (see the table above).
    AuthError, InsufficientCreditsError, MediaUnavailableError, WrongPostError,
    ResponseFormatError, APIError
        For an answer to record at once. Any failure to judge the answer (an exception no rule
        foresaw) is a :class:`ResponseFormatError`: one URL's failure, never the run's.
    """
    try:
        return _judge(answer, url)
    except (APIError, Transient):
        raise
    except Exception as error:
        raise ResponseFormatError(
            f"igresearch could not judge the answer (HTTP {answer.status}) for {url} "
            f"({type(error).__name__}: {error}). The body is kept in the archive record.",
            **_details(answer, url),
        ) from None


def _details(answer: Answer, url: str, code: str | None = None) -> dict[str, Any]:
    return {
        "status": answer.status,
        "code": code,
        "url": url,
        "date": answer.date,
        "body": answer.kept,
        "redacted": answer.redacted,
    }


def _judge(answer: Answer, url: str) -> dict[str, Any]:
    status = answer.status
    decoded, problem, again = _decode(answer.body)
    envelope: dict[str, Any] | None = decoded if isinstance(decoded, dict) else None
    raw_code = envelope.get("code") if envelope else None
    code = normalise_code(raw_code)
    # The server's words go into messages (one line on a terminal): at most 200 characters.
    message = str(envelope.get("msg") or "")[:200] if envelope else ""
    where = f"HTTP {status}" + (f", code {raw_code}" if raw_code is not None else "")
    details = _details(answer, url, code)

    if status in (401, 403) or code in _AUTH_CODES:
        raise AuthError(
            f"API key rejected ({where}: {message or 'unauthorized'}) for {url}. "
            "Set MEMORIES_API_KEY to a valid, enabled key.",
            **details,
        )
    if status == 402 or code == "402":
        raise InsufficientCreditsError(
            f"No credits left ({where}) for {url}. Top up the memories.ai account, then resume.",
            **details,
        )
    if status == 429 or code == "429":
        raise Transient(
            RateLimitError(
                f"Rate limited ({where}) for {url}. Lower the request rate and resume.", **details
            ),
            retry_after(answer.headers.get("Retry-After")),
        )
    if status >= 500 or code == "1":
        error = APIError(
            f"The API failed ({where}: {message or 'server error'}) for {url}.",
            retriable=True,
            **details,
        )
        raise Transient(error, retry_after(answer.headers.get("Retry-After")))
    if answer.cut_at is not None:
        raise ResponseFormatError(
            f"The API answered {where} with a body over {answer.cut_at:,} bytes for {url}; it was "
            "not read further. If such answers are expected, raise max_body_bytes.",
            retriable=False,
            **details,
        )
    if 300 <= status < 400:
        location = answer.headers.get("Location", "nowhere")[:200]
        raise APIError(
            f"The API answered {where}, a redirect to {location!r}, for {url}; igresearch does "
            "not follow redirects. Check MEMORIES_BASE_URL or base_url=.",
            retriable=True,
            **details,
        )
    if status >= 400:
        raise APIError(
            f"The API refused the request ({where}: {message or 'failed'}) for {url}.", **details
        )
    if problem is not None:
        kind = answer.headers.get("Content-Type", "no content type")[:80]
        snippet = answer.body[:80].decode("utf-8", "replace").replace("\n", " ")
        error = ResponseFormatError(
            f"The API answered {where} with a body that {problem} ({kind}: {snippet!r}) for "
            f"{url}. Try again later.",
            **details,
        )
        if again:
            raise Transient(error)
        raise error
    if envelope is None:
        raise ResponseFormatError(
            f"The API answered {where} with JSON that is not an object for {url}. Try again later.",
            **details,
        )
    if failed(envelope):
        raise APIError(
            f"The API refused the request ({where}: {message or 'failed'}) for {url}.", **details
        )
    located = locate_media(envelope)
    if located is None:
        raise ResponseFormatError(
            f"The API answered {where} with an envelope of unknown shape for {url}.", **details
        )
    if located.node is None:
        upstream = upstream_failure(envelope)
        if upstream is not None:
            raise APIError(
                f"Instagram did not give the post {url} ({upstream[:200]!r}). Try again later.",
                retriable=True,
                **details,
            )
        raise MediaUnavailableError(
            f"The post {url} is {MediaUnavailableError.why(located.reason)}.",
            response=envelope,
            **(details | {"body": None}),  # the envelope itself is kept
        )
    if not _same_post(located, parse_shortcode(url)):
        raise WrongPostError(
            f"The API answered {where} for {url} with another post's data; it is not stored "
            "as this post. Try again later.",
            **details,
        )
    return envelope


class _NotJSON(Exception):
    """NaN, Infinity or -Infinity: Python's json reads them, JSON has no such values."""


def _reject(constant: str) -> Any:
    raise _NotJSON(constant)


def _decode(body: bytes) -> tuple[Any, str | None, bool]:
    """(value, what is wrong with the body or None, whether a retry may get a good one)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data":
            return None, "is cut short inside a character", True
        return None, f"is not UTF-8 (byte {body[error.start]:#04x} at {error.start})", False
    try:
        return json.loads(text, parse_constant=_reject), None, True
    except _NotJSON as constant:
        return None, f"holds {constant}, which is not JSON", False
    except RecursionError:
        return None, "is nested too deeply to read", False
    except json.JSONDecodeError as error:
        return None, f"is not JSON ({error.msg} at {error.pos} of {len(text)})", True
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        return None, f"cannot be read ({error})", False


#: Where each shape keeps the post's shortcode (default ``shortcode``).
_SHORTCODE_KEYS = {"items": "code", "apify_item": "shortCode"}


def _same_post(located: Located, shortcode: str) -> bool:
    """Whether the node describes the post asked for: its shortcode, else its media id, encodes
    the same media id (a private post's longer shortcode shares its first 11 characters). A node
    naming neither is taken as the post."""
    node = located.node
    if not isinstance(node, dict):
        return True
    wanted = shortcode_to_media_id(shortcode)
    theirs = node.get(_SHORTCODE_KEYS.get(located.shape, "shortcode"))
    if isinstance(theirs, str) and theirs:
        try:
            return theirs == shortcode or shortcode_to_media_id(theirs) == wanted
        except InvalidURLError:
            return False
    media_id = node.get("pk") if located.shape == "items" else None
    media_id = str(media_id or node.get("id") or "").split("_")[0]
    return media_id == wanted if media_id.isdigit() else True


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), 0 to
    :data:`LONGEST_WAIT`; None when missing or unreadable.

    Examples
    --------
    >>> from igresearch.answers import LONGEST_WAIT, retry_after
    >>> retry_after("7"), retry_after("soon"), retry_after(None), retry_after("-5")
    (7.0, None, None, 0.0)

    A wait longer than :data:`LONGEST_WAIT` (``inf``, ``1e12``) is that long: beyond any retry
    budget, and a date one can still write.

    >>> from igresearch.answers import LONGEST_WAIT
    >>> retry_after("inf") == retry_after("1e12") == LONGEST_WAIT
    True
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = parse_date(value)
        if when is None:
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), LONGEST_WAIT)


def parse_date(value: str | None) -> datetime | None:
    """An HTTP date header as an aware UTC datetime; None when missing or unreadable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
