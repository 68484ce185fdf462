"""Recording and offline replay of API calls: a requests transport over vcrpy-format cassettes.

``replay(path)`` is an HTTP transport (a requests adapter) for :class:`~igresearch.client.Client`:
it answers from a cassette and, in a recording mode, sends what the cassette lacks to the API and
keeps the answer. ``with replay(path):`` makes it the transport of every client made inside the
block, in this thread and in the workers of ``collect``; ``Client(transport=...)`` names it
explicitly. Code above the client cannot tell a replay from the network, and nothing outside the
client is patched, so two replays in two threads never meet.

Cassettes are ordinary vcrpy YAML files (``vcr.use_cassette(path)`` loads them), read with
PyYAML's safe loader, with three project settings:

- **Safe:** the ``Authorization`` header, cookies, and any other header, body or URL text equal to
  the key are removed before an interaction is kept in memory, so nothing written holds the key.
  ``Set-Cookie`` is dropped from responses; compressed bodies are stored decoded. While
  recording, an answer is read within the client's timeout (for the whole attempt) and up to
  ``MAX_BODY_BYTES`` decoded: a longer one is handed on, to be judged too long, but not kept.
- **Matching** on method, endpoint (the last three path segments, e.g.
  ``/instagram/video/metadata``) and the body's meaning (channel and shortcode, so key order,
  whitespace and URL forms do not matter), not on host or base path. Several recordings of the
  same request replay in recorded order.
- **Fast and ordered:** interactions are indexed by that match key, so replay costs the same per
  request whatever the cassette's size. Recordings are written in a fixed order (run, position of
  the URL in the input, attempt) whatever the number of threads, atomically, when the block ends.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import urllib3
import yaml
from requests import PreparedRequest, Response
from requests.adapters import BaseAdapter
from requests.exceptions import ConnectionError, ReadTimeout
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from . import redact
from .answers import read_body
from .deadline import DeadlineAdapter
from .errors import CassetteError, InvalidURLError
from .files import write_bytes
from .urls import canonical_url, parse_shortcode

__all__ = ["MODES", "active", "cassette_path", "read_cassette", "replay", "set_position"]

MODES = ("none", "once", "new_episodes", "all")

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_active: ContextVar[replay | None] = ContextVar("igresearch_replay", default=None)
# (run, position): which input of which run the requests made in this context answer.
_position: ContextVar[tuple[object, int] | None] = ContextVar("igresearch_position", default=None)


def active() -> replay | None:
    """The innermost open ``with replay(...)`` of this context (thread, or collect's task)."""
    return _active.get()


def set_position(run: object, position: int) -> None:
    """Say that the requests made from here on in this context are for the `position`-th URL of
    `run` (any object, one per run): recordings are written in run order, then position, then
    attempt, however many threads made them. Requests with no position are kept in the order
    they were made."""
    _position.set((run, position))


class replay(BaseAdapter, contextlib.ContextDecorator):  # used like a function: `with replay(..)`
    """Replay (or record) the API calls of the clients made inside a ``with`` block or a
    decorated function, or of a client given ``transport=replay(...)``.

    Parameters
    ----------
    cassette
        Path of the cassette (YAML).
    mode
        ``"none"``: replay only, a request not in the cassette raises :class:`CassetteError`, and
        no API key is needed. ``"once"``: record if the cassette does not exist, else replay.
        ``"new_episodes"``: replay what is recorded, record what is not. ``"all"``: send and
        record everything; the new recordings replace the old ones of the same requests.
    max_requests
        In a recording mode, send at most this many requests to the API (each one paid for);
        a further request the cassette cannot answer raises :class:`CassetteError`, unsent.
        Default: no cap.

    Examples
    --------
    >>> from igresearch import Client, cassette_path, replay
    >>> with replay(cassette_path("documented_example.yaml")), Client() as client:
    ...     client.video_metadata("DLlGZiCOBQ0")["code"]
    '0000'
    """

    def __init__(
        self,
        cassette: str | os.PathLike[str],
        *,
        mode: str = "none",
        max_requests: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"Unknown replay mode {mode!r}: use one of {', '.join(MODES)}.")
        super().__init__()
        self.path = Path(cassette)
        self.mode = mode
        self.max_requests = max_requests
        self._lock = threading.Lock()
        self._token: Token[replay | None] | None = None
        self._version: tuple[int, int] | None = None
        self._live: DeadlineAdapter | None = None
        self._start([])

    def _start(self, loaded: list[dict[str, Any]]) -> None:
        """Begin a session on the cassette's `loaded` interactions, nothing played or recorded."""
        self._loaded = loaded
        self._index: defaultdict[Any, list[int]] = defaultdict(list)
        self._played: defaultdict[Any, int] = defaultdict(int)
        self._new: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
        self._sent = 0
        self._runs: dict[object, int] = {}
        self._attempts: defaultdict[tuple[int, int], int] = defaultdict(int)
        self._replays = self._records = False
        for number, interaction in enumerate(loaded):
            self._index[_match_key(interaction["request"])].append(number)

    def __repr__(self) -> str:
        return f"replay({str(self.path)!r}, mode={self.mode!r})"

    @property
    def keyless(self) -> bool:
        """Whether requests need no API key (replay only: mode ``"none"``)."""
        return self.mode == "none"

    @property
    def recorded(self) -> int:
        """How many interactions were recorded since the block began."""
        return len(self._new)

    @property
    def sent(self) -> int:
        """How many requests were sent to the API since the block began (recorded or not)."""
        return self._sent

    def holds(self, url: str, channel: str) -> bool:
        """Whether the open cassette holds a recording of the post at `url` on `channel`, as
        requests are matched (by meaning: any URL form of the same shortcode).

        Examples
        --------
        >>> from igresearch import cassette_path, replay
        >>> with replay(cassette_path("documented_example.yaml")) as cassette:
        ...     cassette.holds("instagram.com/p/DLlGZiCOBQ0", "apify")
        True
        """
        from .client import ENDPOINT

        key = ("POST", ENDPOINT, (channel, parse_shortcode(url)))
        return bool(self._index.get(key))

    def _recreate_cm(self) -> replay:
        """As a decorator, each call gets its own replay (calls may overlap in threads)."""
        return replay(self.path, mode=self.mode, max_requests=self.max_requests)

    def __enter__(self) -> replay:
        if self._token is not None:
            raise CassetteError(f"{self!r} is already open: make a new replay(...) instead.")
        exists = self.path.is_file()
        if self.mode == "none" and not exists:
            raise CassetteError(
                f"No cassette at {self.path}. Record one with "
                f"replay({str(self.path)!r}, mode='new_episodes').",
                cassette=self.path,
            )
        self._version = _version(self.path)
        self._start(read_cassette(self.path) if exists else [])
        self._replays = self.mode != "all"
        self._records = self.mode in ("new_episodes", "all") or not exists
        if self._records:
            # Shared by every client of the block; collect may run up to 64 threads.
            self._live = DeadlineAdapter(pool_maxsize=64)
        self._token = _active.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _active.reset(self._token)
            self._token = None
        live, self._live = self._live, None
        if live is not None:
            live.close()
        if self._new:  # even after an error: the answers were paid for
            with _writing:
                # Another replay of this file may have written since this one began: keep its
                # recordings too.
                changed = _version(self.path) != self._version
                kept = read_cassette(self.path) if changed else self._loaded
                write_bytes(self.path, _dump(self._interactions(kept)))

    def close(self) -> None:
        """Nothing to do: a client closing its session leaves the replay open for the others;
        the block's end closes it."""

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        """Answer `request` from the cassette, or (recording) from the API, keeping the answer."""
        if self._token is None:
            raise CassetteError(
                f"{self!r} is not open: use it, and the clients it serves, inside its with block."
            )
        key = _match_key({"method": request.method, "uri": request.url, "body": request.body})
        with self._lock:
            played = self._play(key) if self._replays else None
            if played is None:
                if not self._records:
                    raise self._miss(request)
                if self.max_requests is not None and self._sent >= self.max_requests:
                    raise self._miss(request, capped=True)
                self._sent += 1
                run, position = _position.get() or (object(), 0)
                rank = self._runs.setdefault(run, len(self._runs))
                attempt = self._attempts[rank, position]
                self._attempts[rank, position] += 1
        if played is not None:
            return _response(request, played)
        assert self._live is not None  # made by __enter__ whenever the replay records
        started = time.monotonic()
        answer = self._live.send(request, True, timeout, verify, cert, proxies)
        body = _read_live(answer, started, timeout)
        recorded = _recorded(answer, body)
        if len(body) <= MAX_BODY_BYTES:  # a longer answer is judged too long, not kept
            interaction = _interaction(request, _scrub_response(recorded, _keys(request)))
            with self._lock:
                self._new.append(((rank, position, attempt), interaction))
        return _response(request, recorded)

    def _play(self, key: Any) -> dict[str, Any] | None:
        numbers = self._index.get(key, [])
        turn = self._played[key]
        if turn >= len(numbers):
            return None
        self._played[key] += 1
        return self._loaded[numbers[turn]]["response"]  # type: ignore[no-any-return]

    def _miss(self, request: PreparedRequest, *, capped: bool = False) -> CassetteError:
        meaning = body_meaning(request.body)
        channel, shortcode = meaning if isinstance(meaning, tuple) else (None, None)
        then = (
            f"; {self.max_requests} requests sent, the most this replay may send (max_requests): "
            "not sent. Raise the cap to record it."
            if capped
            else f". Record it with replay({str(self.path)!r}, mode='new_episodes')."
        )
        return CassetteError(
            f"The cassette {self.path} holds no (further) recording of "
            f"{shortcode or _text(request.body)!r} on channel {channel!r}{then}",
            cassette=self.path,
            url=canonical_url(shortcode) if shortcode else None,
            channel=channel,
        )

    def _interactions(self, kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
        new = [interaction for _, interaction in sorted(self._new, key=lambda item: item[0])]
        if self.mode == "all":  # re-recorded requests replace their old recordings
            again = {_match_key(interaction["request"]) for interaction in new}
            kept = [old for old in kept if _match_key(old["request"]) not in again]
        return kept + new


_writing = threading.Lock()  # one cassette written at a time in this process


def _version(path: Path) -> tuple[int, int] | None:
    """What tells whether a file changed: its modification time and size."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def cassette_path(name: str) -> Path:
    """A cassette bundled with igresearch (``documented_example.yaml``, ``demo.yaml``)."""
    from importlib import resources

    path = Path(str(resources.files("igresearch.bundled").joinpath(name)))
    if not path.is_file():
        raise CassetteError(f"igresearch bundles no cassette named {name!r}.")
    return path


def read_cassette(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The interactions of a cassette, in recorded order, as vcrpy writes them
    (``{"request": {...}, "response": {...}}``; response bodies as bytes).

    Raises
    ------
    CassetteError
        Naming the file and the problem, when it cannot be read or is not a cassette.

    Examples
    --------
    >>> from igresearch.cassettes import cassette_path, read_cassette
    >>> [first] = read_cassette(cassette_path("documented_example.yaml"))
    >>> first["request"]["method"], first["response"]["status"]["code"]
    ('POST', 200)
    """
    try:
        text = Path(path).read_bytes().decode("utf-8")
        document = yaml.load(text, Loader=_Loader) if text.strip() else {"interactions": []}
        if not isinstance(document, dict) or not isinstance(document.get("interactions"), list):
            raise ValueError("no list of interactions at its top level")
        return [_loaded(item) for item in document["interactions"]]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as error:
        problem = f"{type(error).__name__}: {error}"
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        problem = f"not a vcrpy cassette ({type(error).__name__}: {error})"
    raise CassetteError(f"Cannot read the cassette {path}: {' '.join(problem.split())[:300]}")


def _loaded(item: Any) -> dict[str, Any]:
    """One interaction as read, checked, and rebuilt from the keys vcrpy writes (anything else,
    such as an alias bomb beside them, is dropped), with the response body as bytes, decoded."""
    if not isinstance(item, dict) or not all(
        isinstance(item.get(part), dict) for part in ("request", "response")
    ):
        raise ValueError("an interaction must map request and response to mappings")
    request, response = item["request"], item["response"]
    headers = {"request": request["headers"], "response": response["headers"]}
    for part in headers.values():
        if not isinstance(part, dict) or not all(
            isinstance(name, str) and isinstance(values, list) and _all_text(values)
            for name, values in part.items()
        ):
            raise ValueError("headers must map names to lists of text")
    if not isinstance(request["method"], str) or not isinstance(request["uri"], str):
        raise ValueError("a request's method and uri must be text")
    if not isinstance(request["body"], str | bytes | None):
        raise ValueError("a request's body must be text")
    code, message = response["status"]["code"], response["status"].get("message")
    if isinstance(code, bool) or not isinstance(code, int | str) or not 100 <= int(code) <= 599:
        raise ValueError(f"a response's status code must be 100 to 599, not {str(code)[:20]!r}")
    if not isinstance(message, str | None):
        raise ValueError("a response's status message must be text")
    body = response["body"]["string"]
    if not isinstance(body, str | bytes):
        raise ValueError("a response's body must be text or bytes")
    kept = {
        "headers": dict(headers["response"]),
        "status": {"code": int(code), "message": message},
    }
    kept["body"] = {"string": _decoded(kept, body.encode() if isinstance(body, str) else body)}
    return {
        "request": {key: request[key] for key in ("body", "headers", "method", "uri")},
        "response": kept,
    }


def _all_text(values: list[Any]) -> bool:
    return all(isinstance(value, str) for value in values)


#: Largest answer body a cassette may hold once decompressed (a compressed body could expand
#: without bound).
MAX_BODY_BYTES = 64 * 1024 * 1024


def _decoded(response: dict[str, Any], body: bytes) -> bytes:
    """The body without its gzip/deflate content encoding (stock vcrpy may record it encoded),
    and the response without that header."""
    headers = response["headers"]
    names = [name for name in headers if name.lower() == "content-encoding"]
    codings = [c.strip().lower() for name in names for v in headers[name] for c in v.split(",")]
    for coding in reversed([c for c in codings if c and c != "identity"]):
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise ValueError(f"a response body is {coding}-encoded, which replay cannot read")
        inflater = zlib.decompressobj(15 if coding == "deflate" else 31)
        body = inflater.decompress(body, MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES or inflater.unconsumed_tail:
            raise ValueError(f"a response body expands beyond {MAX_BODY_BYTES} bytes")
        if not inflater.eof:
            raise ValueError(f"a response body is cut short ({coding})")
    for name in names:
        del headers[name]
    return body


def _dump(interactions: Iterable[dict[str, Any]]) -> bytes:
    """The cassette's bytes, as vcrpy writes them: bodies as text where they are UTF-8."""
    document = {
        "interactions": [
            {
                "request": {**i["request"], "body": _text(i["request"]["body"])},
                "response": {
                    **i["response"],
                    "body": {"string": _text(i["response"]["body"]["string"])},
                },
            }
            for i in interactions
        ],
        "version": 1,
    }
    return yaml.dump(document, Dumper=_Dumper).encode("utf-8")


def _text(body: Any) -> Any:
    if isinstance(body, bytes):
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode("utf-8")
    return body


def _endpoint(uri: str) -> str:
    return "/" + "/".join(urlsplit(uri).path.rstrip("/").split("/")[-3:])


def body_meaning(body: Any) -> Any:
    """What a request body asks for: (channel, shortcode), else the raw body."""
    raw = body.encode() if isinstance(body, str) else body
    try:
        data = json.loads(raw) if raw else {}
        return (data.get("channel"), parse_shortcode(str(data["video_url"])))
    except (ValueError, TypeError, AttributeError, KeyError, InvalidURLError):
        return raw


def _match_key(request: Mapping[str, Any]) -> Any:
    return (request["method"], _endpoint(request["uri"]), body_meaning(request["body"]))


def _response(request: PreparedRequest, recorded: dict[str, Any]) -> Response:
    """A requests Response for a recorded answer (what HTTPAdapter.build_response makes)."""
    response = Response()
    response.status_code = int(recorded["status"]["code"])
    response.reason = recorded["status"].get("message")
    response.headers = CaseInsensitiveDict(
        {name: ", ".join(values) for name, values in recorded["headers"].items()}
    )
    response.encoding = get_encoding_from_headers(response.headers)
    response.raw = io.BytesIO(recorded["body"]["string"])
    response.url = request.url or ""
    response.request = request
    return response


def _read_live(answer: Response, started: float, timeout: Any) -> bytes:
    """The body of a live answer, decoded, read within the attempt's deadline (`timeout`, as the
    client gave it, counted from `started`) and at most ``MAX_BODY_BYTES`` + 1 bytes."""
    limit = timeout[-1] if isinstance(timeout, tuple) else timeout
    deadline = started + limit if limit is not None else float("inf")
    try:
        return read_body(answer, deadline=deadline, max_bytes=MAX_BODY_BYTES)
    except (TimeoutError, urllib3.exceptions.TimeoutError):
        raise ReadTimeout(f"The body was not complete within {limit:g} s.") from None
    except (zlib.error, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
        raise ConnectionError(f"The answer could not be read ({type(error).__name__}).") from None
    finally:
        answer.close()


def _recorded(answer: Response, body: bytes) -> dict[str, Any]:
    """A live answer as vcrpy records it, with its body decoded (and so no Content-Encoding)."""
    return {
        "body": {"string": body},
        "headers": {
            name: answer.raw.headers.getlist(name)
            for name in answer.raw.headers
            if name.lower() != "content-encoding"
        },
        "status": {"code": answer.status_code, "message": answer.reason},
    }


def _interaction(request: PreparedRequest, response: dict[str, Any]) -> dict[str, Any]:
    """The exchange as vcrpy records it, without the key, cookies or Content-Length of a body
    that changed."""
    keys = _keys(request)
    for name in response["headers"]:
        if name.lower() == "content-length":
            response["headers"][name] = [str(len(response["body"]["string"]))]
    return {
        "request": {
            "body": _scrub(request.body, keys),
            "headers": {
                name: [value]
                for name, value in request.headers.items()
                if name.lower() not in ("authorization", "cookie") and value not in keys
            },
            "method": request.method,
            "uri": _scrub(request.url, keys),
        },
        "response": response,
    }


def _keys(request: PreparedRequest) -> list[str]:
    """The key the request was sent with, and ``MEMORIES_API_KEY``."""
    authorization = request.headers.get("Authorization")
    return redact.secrets(authorization if isinstance(authorization, str) else None)


def _scrub(text: Any, keys: list[str]) -> Any:
    if isinstance(text, str):
        return redact.scrub(text, keys)[0]
    if isinstance(text, bytes):
        return redact.scrub(text, keys)[0]
    return text


def _scrub_response(response: dict[str, Any], keys: list[str] | None = None) -> dict[str, Any]:
    """A recorded response (a copy) without cookies, and with the key (default:
    ``MEMORIES_API_KEY``) cut from its status message, headers and body."""
    keys = redact.secrets() if keys is None else keys
    body = response.get("body", {})
    return {
        **response,
        "status": {**response["status"], "message": _scrub(response["status"].get("message"), keys)}
        if "status" in response
        else response.get("status"),
        "headers": {
            name: [_scrub(value, keys) for value in values]
            for name, values in response.get("headers", {}).items()
            if name.lower() not in ("set-cookie", "set-cookie2")
        },
        "body": {**body, "string": _scrub(body["string"], keys)} if "string" in body else body,
    }
