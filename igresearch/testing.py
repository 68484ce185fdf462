"""A fake of the memories.ai Instagram metadata API: a real HTTP server on 127.0.0.1.

Tests, notebooks and benchmarks talk to it exactly as they would talk to the paid API, so code
under test cannot tell the difference, and nothing costs money. Standard library only (and
:mod:`igresearch.urls`); pytest users get it as the ``fake_api`` fixture from
:mod:`igresearch.pytest_plugin`.

The fake serves one endpoint, ``POST {base_url}/instagram/video/metadata`` with the JSON body
``{"video_url": ..., "channel": ...}``. The shortcode is taken from ``video_url`` with the
permissive pattern ``/(?:reel|reels|p|tv)/([A-Za-z0-9_-]+)``. For ``DLlGZiCOBQ0`` it answers the
seed document's example response byte for byte (``igresearch/data/documented_example.json``);
for any other shortcode it answers the same structure with ``shortcode``, ``id`` (the media id the
shortcode encodes) and the play, view, like and comment counts derived from a sha256 of the
shortcode. :meth:`FakeAPI.media_for` returns the envelope it would serve, so tests can predict it.

Other answers of the server itself, whatever is scripted (``RecordedRequest.behaviour`` names
them as in the first column; a body without a shortcode only matters to behaviours that need
one: ``ok``, ``slow``, ``null_media``, ``graphql_errors``, ``truncated`` and ``gzip``):

======================  ======  ================================================================
recorded as             status  when, and body
======================  ======  ================================================================
``not_found``           404     any other path: ``{"code": 404, "msg": "Not Found", "data": null}``
``method_not_allowed``  405     not a POST: ``{"code": 405, "msg": "Method Not Allowed", ...}``
``bad_request``         400     no shortcode in the body: ``{"code": 400, "msg": "...", ...}``
======================  ======  ================================================================

Behaviours
----------
Each request to the endpoint is answered by one behaviour, chosen in this order: the next one in
the FIFO queue (:meth:`FakeAPI.enqueue`, each consumed by one request), else the one set for the
request's shortcode (:meth:`FakeAPI.set_for`), else the default (:meth:`FakeAPI.set_default`,
initially ``"ok"``). ``RecordedRequest.behaviour`` says which one answered.

===============================  ======  ==========================================================
name                             status  answer
===============================  ======  ==========================================================
``ok``                           200     the success envelope (``code`` ``"0000"``)
``slow``                         200     sleeps ``FakeAPI.slow_seconds`` (default 2.0), then ``ok``
``null_media``                   200     ``code`` ``"0000"``, ``data.data.xdt_shortcode_media``
                                         null: Instagram's answer for a deleted/private post
``graphql_errors``               200     ``ok`` plus ``data.errors``, a GraphQL error list next
                                         to usable media (seen at ``location.address_json``)
``html``                         200     ``text/html``: ``<html><body>Bad gateway</body></html>``
``truncated``                    200     ``application/json``, the ``ok`` body cut in the middle
                                         (Content-Length matches the cut body)
``gzip``                         200     the ``ok`` body gzip-compressed (``Content-Encoding:
                                         gzip``) with a ``Set-Cookie`` header
``drip``                         200     the ``ok`` body (with its Content-Length), one byte every
                                         ``FakeAPI.drip_seconds`` (default 1.0)
``drip_headers``                 200     ``ok``, its status line and headers sent one byte every
                                         ``FakeAPI.drip_seconds``, then its body at once
``endless``                      200     a body that never ends: no Content-Length, one byte every
                                         ``FakeAPI.drip_seconds`` until the client hangs up
``key_echo``                     200     ``ok`` whose ``msg`` quotes the request's
                                         ``Authorization`` value, also sent back in an
                                         ``X-Echo-Authorization`` header
``nan``                          200     ``ok`` with ``"video_play_count": NaN`` (not JSON, but
                                         Python's json reads it)
``deep``                         200     ``{"code": "0000", "data": [[[...]]]}`` nested
                                         ``FakeAPI.deep_levels`` (default 100,000) levels deep
``upstream_errors``              200     ``null_media`` plus ``data.errors`` [{``"message"``:
                                         ``"Please wait a few minutes before you try again."``}]
``upstream_fail``                200     ``null_media`` with ``data.status`` ``"fail"`` and that
                                         message in ``data.message``, as Instagram throttles
``wrong_post``                   200     the ``ok`` envelope of another post (``DLlGZiCOBQ0``, or
                                         ``C0ffee12345`` when that one is asked for)
``latin1_label``                 200     ``ok`` in UTF-8, caption ``"Un café, s'il vous plaît"``,
                                         labelled ``application/json; charset=iso-8859-1``
``text_plain``                   200     the same body labelled ``text/plain``
``oversized``                    200     ``ok`` padded (a ``padding`` string) to
                                         ``FakeAPI.oversized_bytes`` (default 25 MiB)
``gzip_bomb``                    200     ``Content-Encoding: gzip``: about 100 KB that inflate to
                                         ``FakeAPI.bomb_bytes`` (default 100 MiB, 5 times the
                                         client's default size cap); built once per size, cached
``reset``                        --      no answer: the socket is closed with SO_LINGER 0, so the
                                         client sees a connection reset/aborted error
``unauthorized``                 401     ``{"code": 401, "msg": "Unauthorized", "data": null}``
``no_credits``                   402     ``{"code": 402, "msg": "Insufficient credits", ...}``
``forbidden``                    403     ``{"code": 403, "msg": "Forbidden", "data": null}``
``rate_limited``                 429     ``{"code": 429, ...}`` with ``Retry-After: 1``
``rate_limited_no_retry_after``  429     ``{"code": 429, ...}``, no ``Retry-After`` header
``server_error``                 500     ``{"code": 500, "msg": "Internal Server Error", ...}``
``code_int_401``                 200     ``{"code": 401, "msg": "Unauthorized", "data": null}``
``code_0001``                    200     ``{"code": "0001", "msg": "...", "data": null,
                                         "success": false, "failed": true}`` (transient)
``code_0003``                    200     the same with ``"0003"`` (bad parameters)
``code_0401``                    200     the same with ``"0401"`` (bad authorization)
``code_0402``                    200     the same with ``"0402"`` (not enough credits)
``code_0403``                    200     the same with ``"0403"`` (account disabled)
``code_0429``                    200     the same with ``"0429"`` (too busy, rate limit)
``code_9009``                    200     the same with ``"9009"`` (permission denied)
===============================  ======  ==========================================================

Every answer carries a ``Date`` header (``FakeAPI.date``, or now when None) and, except
``reset`` and ``endless``, a correct Content-Length, so HTTP/1.1 keep-alive sessions work.
``FakeAPI.latency`` delays every answer. :meth:`FakeAPI.stop` ends ``drip``, ``drip_headers`` and
``endless`` answers at once. The server never prints access logs.

Run ``python -m igresearch.testing`` to serve the fake in the foreground until Ctrl-C.

Network block
-------------
:func:`block_network` makes sure a study's tests, notebooks or scripts never reach the paid API
(or anything else) by accident: from then on, in this process, connecting to any address but
127.0.0.1 or ::1 (``socket.socket.connect``, ``connect_ex``, ``sendto``), or looking up any
name but ``localhost`` (``socket.getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``),
raises :class:`NetworkBlockedError` before a packet is sent; requests turns it into a
``requests.ConnectionError``. Only these exact addresses pass, not all of 127.0.0.0/8: the
fake listens on 127.0.0.1, and another loopback address such as 127.0.0.2 proves the block
works without a packet ever leaving the machine. :func:`network_blocked` is the same for a
``with`` block, restored when it ends.

The block is switched on

- by the pytest plugin (:mod:`igresearch.pytest_plugin`) for the whole session, which also sets
  ``IGRESEARCH_OFFLINE=1`` for the session, so subprocesses and notebook kernels started by the
  tests inherit it;
- by ``import igresearch`` when the environment variable ``IGRESEARCH_OFFLINE`` is ``1``: a
  kernel or script is blocked from the moment it imports igresearch. Without the variable,
  importing igresearch changes nothing.

Examples
--------
>>> import json, urllib.error, urllib.request
>>> from igresearch.testing import FakeAPI
>>> with FakeAPI() as api:
...     api.enqueue("rate_limited")
...     request = urllib.request.Request(
...         api.endpoint_url,
...         data=json.dumps({"video_url": "https://www.instagram.com/reel/DLlGZiCOBQ0/",
...                          "channel": "apify"}).encode(),
...         headers={"Content-Type": "application/json"},
...     )
...     try:
...         urllib.request.urlopen(request)
...     except urllib.error.HTTPError as error:
...         print(error.code, error.headers["Retry-After"])
...     print(json.load(urllib.request.urlopen(request))["code"])
...     print([r.behaviour for r in api.requests])
429 1
0000
['rate_limited', 'ok']
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import gzip
import hashlib
import importlib.resources
import json
import re
import socket
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, cast
from urllib.parse import urlsplit

from ._network_block import ALLOWED_HOSTS, NetworkBlockedError, block_network, network_blocked
from .urls import shortcode_to_media_id

__all__ = [
    "ALLOWED_HOSTS",
    "BEHAVIOURS",
    "FakeAPI",
    "NetworkBlockedError",
    "RecordedRequest",
    "block_network",
    "envelope",
    "main",
    "network_blocked",
]

HOST: Final = "127.0.0.1"
BASE_PATH: Final = "/serve/api/v2"
ENDPOINT_PATH: Final = BASE_PATH + "/instagram/video/metadata"
DOCUMENTED_SHORTCODE: Final = "DLlGZiCOBQ0"

_SHORTCODE_RE: Final = re.compile(r"/(?:reel|reels|p|tv)/([A-Za-z0-9_-]+)")
_HTML_BODY: Final = b"<html><body>Bad gateway</body></html>"
_JSON: Final = "application/json"
_PLEASE_WAIT: Final = "Please wait a few minutes before you try again."
_CAFE: Final = "Un café, s'il vous plaît"
_OTHER_POSTS: Final = ("DLlGZiCOBQ0", "C0ffee12345")

# name -> (HTTP status, body, extra headers) for the answers that are a fixed JSON document.
_FIXED: Final[dict[str, tuple[int, dict[str, Any], dict[str, str]]]] = {
    "unauthorized": (401, {"code": 401, "msg": "Unauthorized", "data": None}, {}),
    "no_credits": (402, {"code": 402, "msg": "Insufficient credits", "data": None}, {}),
    "forbidden": (403, {"code": 403, "msg": "Forbidden", "data": None}, {}),
    "rate_limited": (
        429,
        {"code": 429, "msg": "Too Many Requests", "data": None},
        {"Retry-After": "1"},
    ),
    "rate_limited_no_retry_after": (
        429,
        {"code": 429, "msg": "Too Many Requests", "data": None},
        {},
    ),
    "server_error": (500, {"code": 500, "msg": "Internal Server Error", "data": None}, {}),
    "code_int_401": (200, {"code": 401, "msg": "Unauthorized", "data": None}, {}),
    **{
        f"code_{code}": (
            200,
            {"code": code, "msg": msg, "data": None, "success": False, "failed": True},
            {},
        )
        for code, msg in [
            ("0001", "transient network abnormal"),
            ("0003", "parameter error"),
            ("0401", "authorization invalid"),
            ("0402", "insufficient points"),
            ("0403", "account disabled"),
            ("0429", "too many requests, please try again later"),
            ("9009", "permission denied"),
        ]
    },
}

# Answers of the server itself, recorded under these names; not behaviours one can script.
_SERVER_ANSWERS: Final[dict[str, tuple[int, dict[str, Any], dict[str, str]]]] = {
    "not_found": (404, {"code": 404, "msg": "Not Found", "data": None}, {}),
    "method_not_allowed": (
        405,
        {"code": 405, "msg": "Method Not Allowed", "data": None},
        {"Allow": "POST"},
    ),
    "bad_request": (
        400,
        {
            "code": 400,
            "msg": "Bad Request: the body needs a video_url naming a reel, post or tv URL",
            "data": None,
        },
        {},
    ),
}
_NEEDS_SHORTCODE: Final = frozenset(
    {
        "ok",
        "slow",
        "null_media",
        "graphql_errors",
        "truncated",
        "gzip",
        "drip",
        "drip_headers",
        "key_echo",
        "nan",
        "upstream_errors",
        "upstream_fail",
        "wrong_post",
        "latin1_label",
        "text_plain",
        "oversized",
    }
)

BEHAVIOURS: Final[frozenset[str]] = frozenset(
    {*_NEEDS_SHORTCODE, "html", "reset", "endless", "deep", "gzip_bomb", *_FIXED}
)
"""Every behaviour name the fake understands (see the module docstring's table)."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, and the behaviour that answered it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any | None
    behaviour: str
    received_at: float = 0.0  # time.monotonic() when the request arrived


@functools.cache
def _documented_bytes() -> bytes:
    resource = importlib.resources.files("igresearch").joinpath("data/documented_example.json")
    return resource.read_bytes()


def envelope(node: dict[str, Any] | None) -> dict[str, Any]:
    """The documented success envelope (vendor around Instagram's) holding a media node."""
    return {
        "code": "0000",
        "msg": "success",
        "data": {
            "data": {"xdt_shortcode_media": node},
            "extensions": {"is_final": True},
            "status": "ok",
        },
        "failed": False,
        "success": True,
    }


def _shortcode_from_body(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    video_url = payload.get("video_url")
    if not isinstance(video_url, str):
        return None
    match = _SHORTCODE_RE.search(video_url)
    return match.group(1) if match else None


def _check(behaviour: str) -> str:
    if behaviour not in BEHAVIOURS:
        known = ", ".join(sorted(BEHAVIOURS))
        raise ValueError(f"Unknown fake API behaviour {behaviour!r}. Use one of: {known}.")
    return behaviour


def _dumps(document: Any) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


@functools.cache
def _gzip_bomb(size: int) -> bytes:
    """Gzip of a JSON-looking text `size` bytes long, almost all zeros (built once per size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = b'{"code": "0000", "padding": "'
    parts, left, zeros = [packer.compress(head)], size - len(head), b"0" * (1 << 20)
    while left > 0:
        parts.append(packer.compress(zeros[:left]))
        left -= len(zeros)
    parts.append(packer.flush())
    return b"".join(parts)


class FakeAPI:
    """A fake memories.ai metadata API served on 127.0.0.1 in a daemon thread.

    Parameters
    ----------
    port
        TCP port on 127.0.0.1; 0 (the default) picks a free one.
    latency
        Seconds to wait before every answer (for benchmarks).
    slow_seconds
        Seconds the ``"slow"`` behaviour waits before answering.
    drip_seconds
        Seconds between the bytes of ``"drip"``, ``"drip_headers"`` and ``"endless"`` answers.
    deep_levels, oversized_bytes, bomb_bytes
        How deep ``"deep"`` nests, how long ``"oversized"`` is, and how long ``"gzip_bomb"``
        inflates to.
    date
        The ``Date`` header of every answer; None means the current time. A naive datetime is
        taken as UTC.

    Examples
    --------
    >>> from igresearch.testing import FakeAPI
    >>> with FakeAPI() as api:
    ...     api.base_url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(
        self,
        *,
        port: int = 0,
        latency: float = 0.0,
        slow_seconds: float = 2.0,
        drip_seconds: float = 1.0,
        deep_levels: int = 100_000,
        oversized_bytes: int = 25 * 1024 * 1024,
        bomb_bytes: int = 100 * 1024 * 1024,
        date: datetime | None = None,
    ) -> None:
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.drip_seconds = drip_seconds
        self.deep_levels = deep_levels
        self.oversized_bytes = oversized_bytes
        self.bomb_bytes = bomb_bytes
        #: Set by stop(): dripping answers end at once.
        self._stopping = threading.Event()
        self.date = date
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queue: collections.deque[str] = collections.deque()
        self._default = "ok"
        self._per_shortcode: dict[str, str] = {}
        self._payloads: dict[str, bytes] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeAPI:
        """Bind 127.0.0.1 and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("FakeAPI is already running; call stop() first.")
        server = _Server((HOST, self._port), _Handler)
        server.fake = self
        self._stopping.clear()
        self._server = server
        # A short poll interval keeps stop() (hence every fixture teardown) quick.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"FakeAPI:{server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> FakeAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the running server listens on."""
        if self._server is None:
            raise RuntimeError("FakeAPI is not running; call start() or use it in a with block.")
        return int(self._server.server_port)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/serve/api/v2``, the value to give the client."""
        return f"http://{HOST}:{self.port}{BASE_PATH}"

    @property
    def endpoint_url(self) -> str:
        """The full URL of the metadata endpoint."""
        return f"http://{HOST}:{self.port}{ENDPOINT_PATH}"

    # -- scripting -------------------------------------------------------------------------------

    def enqueue(self, *behaviours: str) -> None:
        """Answer the next requests with these behaviours, one each, in order; then as before.

        Raises
        ------
        ValueError
            If a name is not in :data:`BEHAVIOURS`.
        """
        checked = [_check(b) for b in behaviours]
        with self._lock:
            self._queue.extend(checked)

    def set_default(self, behaviour: str) -> None:
        """Answer every request not otherwise scripted with ``behaviour`` (initially ``"ok"``)."""
        checked = _check(behaviour)
        with self._lock:
            self._default = checked

    def set_for(self, shortcode: str, behaviour: str) -> None:
        """Answer every request for ``shortcode`` with ``behaviour`` unless the queue has one."""
        checked = _check(behaviour)
        with self._lock:
            self._per_shortcode[shortcode] = checked

    def set_payload(self, shortcode: str, envelope: Any) -> None:
        """Serve ``envelope`` (any JSON value, or bytes sent as they are) as the ``ok`` answer
        for ``shortcode``."""
        with self._lock:
            self._payloads[shortcode] = (
                envelope if isinstance(envelope, bytes) else _dumps(envelope)
            )

    def reset(self) -> None:
        """Forget recorded requests, the queue, per-shortcode behaviours and payloads, and the
        default."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._per_shortcode.clear()
            self._payloads.clear()
            self._default = "ok"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    # -- data ------------------------------------------------------------------------------------

    @staticmethod
    def media_for(shortcode: str) -> dict[str, Any]:
        """The success envelope the fake serves for ``shortcode`` (a fresh copy).

        For ``DLlGZiCOBQ0`` this is the seed document's example; for any other shortcode the
        same structure with its ``shortcode``, ``id`` and sha256-derived counts.
        """
        document: dict[str, Any] = json.loads(_documented_bytes())
        if shortcode == DOCUMENTED_SHORTCODE:
            return document
        digest = hashlib.sha256(shortcode.encode()).digest()

        def number(start: int, modulus: int) -> int:
            return int.from_bytes(digest[start : start + 4], "big") % modulus

        plays = 1_000 + number(0, 5_000_000)
        likes = number(8, plays // 20 + 1)
        media = document["data"]["data"]["xdt_shortcode_media"]
        media["id"] = shortcode_to_media_id(shortcode)
        media["shortcode"] = shortcode
        media["video_play_count"] = plays
        media["video_view_count"] = number(4, plays // 10 + 1)
        media["edge_media_preview_like"]["count"] = likes
        comments = media["edge_media_to_parent_comment"]
        comments["count"] = number(12, likes // 10 + 1)
        comments["edges"][0]["node"]["id"] = str(17_000_000_000_000_000 + number(16, 10**15))
        return document

    def _ok_body(self, shortcode: str) -> bytes:
        with self._lock:
            if shortcode in self._payloads:
                return self._payloads[shortcode]
        if shortcode == DOCUMENTED_SHORTCODE:
            return _documented_bytes()
        return _dumps(self.media_for(shortcode))

    # -- called by the handler threads -----------------------------------------------------------

    def _choose(self, shortcode: str | None) -> str:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if shortcode is not None and shortcode in self._per_shortcode:
                return self._per_shortcode[shortcode]
            return self._default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAPI

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        # Idle keep-alive connections would otherwise keep being served after stop().
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (timeout, reset) is normal in tests; anything else is a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive answers stall ~40 ms.
    disable_nagle_algorithm = True
    server_version = "FakeMemoriesAPI/1.0"
    sys_version = ""

    @property
    def fake(self) -> FakeAPI:
        return cast(_Server, self.server).fake

    def setup(self) -> None:
        super().setup()
        cast(_Server, self.server).track(self.connection, open_=True)

    def finish(self) -> None:
        cast(_Server, self.server).track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        date = self.fake.date
        if timestamp is None and date is not None:
            if date.tzinfo is None:
                date = date.replace(tzinfo=UTC)
            timestamp = date.timestamp()
        return formatdate(timestamp, usegmt=True)

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # -- request ---------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        fake = self.fake
        body = self._read_body()
        try:
            payload: Any | None = json.loads(body) if body else None
        except ValueError:
            payload = None
        shortcode = _shortcode_from_body(payload)
        path = urlsplit(self.path).path.rstrip("/")
        if path != ENDPOINT_PATH:
            behaviour = "not_found"
        elif self.command != "POST":
            behaviour = "method_not_allowed"
        else:
            behaviour = fake._choose(shortcode)
            if shortcode is None and behaviour in _NEEDS_SHORTCODE:
                behaviour = "bad_request"
        # Record before answering, so a client holding its answer also finds its request.
        fake._record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers=dict(self.headers.items()),
                body=body,
                json=payload,
                behaviour=behaviour,
                received_at=time.monotonic(),
            )
        )
        if fake.latency > 0:
            time.sleep(fake.latency)
        self._answer(behaviour, shortcode or "")

    # -- answers ---------------------------------------------------------------------------------

    def _answer(self, behaviour: str, shortcode: str) -> None:
        fake = self.fake
        if behaviour in _HOSTILE:
            _HOSTILE[behaviour](self, shortcode)
        elif behaviour in _SERVER_ANSWERS:
            status, document, headers = _SERVER_ANSWERS[behaviour]
            self._send_json(status, document, headers)
        elif behaviour in _FIXED:
            status, document, headers = _FIXED[behaviour]
            self._send_json(status, document, headers)
        elif behaviour == "reset":
            self._reset()
        elif behaviour == "html":
            self._send(200, _HTML_BODY, "text/html; charset=utf-8")
        elif behaviour == "null_media":
            envelope = fake.media_for(shortcode)
            envelope["data"]["data"]["xdt_shortcode_media"] = None
            self._send_json(200, envelope)
        elif behaviour == "graphql_errors":
            envelope = fake.media_for(shortcode)
            envelope["data"]["errors"] = [
                {
                    "message": "execution error",
                    "path": ["xdt_shortcode_media", "location", "address_json"],
                    "severity": "CRITICAL",
                }
            ]
            self._send_json(200, envelope)
        elif behaviour == "truncated":
            body = fake._ok_body(shortcode)
            self._send(200, body[: len(body) // 2], _JSON)
        elif behaviour == "gzip":
            headers = {"Content-Encoding": "gzip", "Set-Cookie": "session=fake-session; Path=/"}
            self._send(200, gzip.compress(fake._ok_body(shortcode), mtime=0), _JSON, headers)
        else:
            if behaviour == "slow":
                fake._stopping.wait(fake.slow_seconds)
            self._send(200, fake._ok_body(shortcode), _JSON)

    def _send_json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, _dumps(document), _JSON, headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, body: bytes, *, endless: bool = False) -> None:
        """Send `body` a byte at a time (then, if `endless`, bytes forever) until stop()."""
        self.send_response(200)
        self.send_header("Content-Type", _JSON)
        if endless:
            self.close_connection = True
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        stopping = self.fake._stopping
        position = 0
        while position < len(body) or endless:
            if stopping.wait(self.fake.drip_seconds):
                self.close_connection = True
                return
            self.wfile.write(body[position : position + 1] if position < len(body) else b" ")
            position += 1

    def _drip_headers(self, body: bytes) -> None:
        """Send the status line and headers of an ``ok`` answer a byte at a time until stop(),
        then its body."""
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {_JSON}\r\nContent-Length: {len(body)}\r\n"
            f"Date: {self.date_time_string()}\r\n\r\n"
        ).encode()
        for position in range(len(head)):
            if self.fake._stopping.wait(self.fake.drip_seconds):
                self.close_connection = True
                return
            self.wfile.write(head[position : position + 1])
        self.wfile.write(body)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN. The socket only
        # really closes once the buffered reader made from it is closed too.
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()


def _please_wait(fake: FakeAPI, shortcode: str, *, status_fail: bool) -> dict[str, Any]:
    envelope = fake.media_for(shortcode)
    data = envelope["data"]
    data["data"]["xdt_shortcode_media"] = None
    if status_fail:
        data["status"], data["message"] = "fail", _PLEASE_WAIT
    else:
        data["errors"] = [{"message": _PLEASE_WAIT, "severity": "CRITICAL"}]
    return envelope


def _cafe(fake: FakeAPI, shortcode: str) -> bytes:
    envelope = fake.media_for(shortcode)
    caption = envelope["data"]["data"]["xdt_shortcode_media"]["edge_media_to_caption"]
    caption["edges"][0]["node"]["text"] = _CAFE
    return _dumps(envelope)


def _key_echo(handler: _Handler, shortcode: str) -> None:
    authorization = handler.headers.get("Authorization", "")
    envelope = handler.fake.media_for(shortcode)
    envelope["msg"] = f"success for Authorization {authorization}"
    handler._send_json(200, envelope, {"X-Echo-Authorization": authorization})


def _nan(handler: _Handler, shortcode: str) -> None:
    body = handler.fake._ok_body(shortcode)
    body = re.sub(rb'("video_play_count": )[0-9]+', rb"\1NaN", body, count=1)
    handler._send(200, body, _JSON)


def _deep(handler: _Handler, shortcode: str) -> None:
    levels = handler.fake.deep_levels
    body = b'{"code": "0000", "data": ' + b"[" * levels + b"]" * levels + b"}"
    handler._send(200, body, _JSON)


def _oversized(handler: _Handler, shortcode: str) -> None:
    envelope = handler.fake.media_for(shortcode)
    envelope["padding"] = ""
    body = _dumps(envelope)
    padding = max(0, handler.fake.oversized_bytes - len(body))
    body = body.replace(b'"padding": ""', b'"padding": "' + b"x" * padding + b'"', 1)
    handler._send(200, body, _JSON)


def _wrong_post(handler: _Handler, shortcode: str) -> None:
    other = _OTHER_POSTS[shortcode == _OTHER_POSTS[0]]
    handler._send(200, handler.fake._ok_body(other), _JSON)


# The hostile answers: behaviour -> what the handler sends for a shortcode.
_HOSTILE: Final[dict[str, Callable[[_Handler, str], None]]] = {
    "drip": lambda h, code: h._drip(h.fake._ok_body(code)),
    "endless": lambda h, code: h._drip(b'{"code": "0000", "data": ', endless=True),
    "drip_headers": lambda h, code: h._drip_headers(h.fake._ok_body(code)),
    "key_echo": _key_echo,
    "nan": _nan,
    "deep": _deep,
    "upstream_errors": lambda h, code: h._send_json(
        200, _please_wait(h.fake, code, status_fail=False)
    ),
    "upstream_fail": lambda h, code: h._send_json(
        200, _please_wait(h.fake, code, status_fail=True)
    ),
    "wrong_post": _wrong_post,
    "latin1_label": lambda h, code: h._send(
        200, _cafe(h.fake, code), "application/json; charset=iso-8859-1"
    ),
    "text_plain": lambda h, code: h._send(200, _cafe(h.fake, code), "text/plain"),
    "oversized": _oversized,
    "gzip_bomb": lambda h, code: h._send(
        200, _gzip_bomb(h.fake.bomb_bytes), _JSON, {"Content-Encoding": "gzip"}
    ),
}


def main(argv: list[str] | None = None) -> int:
    """Serve the fake in the foreground until Ctrl-C: ``python -m igresearch.testing``."""
    parser = argparse.ArgumentParser(
        prog="python -m igresearch.testing",
        description="Serve a fake memories.ai Instagram metadata API on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument(
        "--behaviour",
        default="ok",
        choices=sorted(BEHAVIOURS),
        metavar="NAME",
        help="answer every request this way (default: ok)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    options = parser.parse_args(argv)
    api = FakeAPI(port=options.port, latency=options.latency)
    api.set_default(options.behaviour)
    with api:
        print(api.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
