"""One attempt, connect to last header, within its timeout: a requests adapter with a watchdog.

requests' ``timeout`` bounds each wait for the network, not their sum, so a server that sends
its status line and headers a byte at a time holds a request forever. :class:`DeadlineAdapter`
starts a timer as it sends; if the headers are not all in when it fires, it shuts the
connection's socket, which ends the blocked read at once, and the attempt fails as a timeout.
Reading the body within the same deadline is :func:`igresearch.answers.read_body`'s part.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["DeadlineAdapter"]

# The connection the current thread's attempt is sending on (set as the request goes out).
_sending = threading.local()


class _Watched:
    """A connection that says, as it sends a request, that it is the one to watch."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch = getattr(_sending, "watch", None)
        if watch is not None:
            watch.connection = self
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Watch:
    """Shuts the connection of one attempt when its time is up."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.fired = False
        self._lock = threading.Lock()

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            sock = getattr(self.connection, "sock", None)
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)

    def disarm(self) -> None:
        with self._lock:
            self.connection = None


class DeadlineAdapter(HTTPAdapter):
    """An :class:`~requests.adapters.HTTPAdapter` whose ``timeout`` (a number, or the read part
    of a (connect, read) pair) also bounds the whole wait for the status line and headers.

    Examples
    --------
    >>> import requests
    >>> from igresearch.deadline import DeadlineAdapter
    >>> session = requests.Session()
    >>> session.mount("http://", DeadlineAdapter())
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send `request`; raise :class:`requests.ReadTimeout` when the headers are late."""
        limit = timeout[-1] if isinstance(timeout, tuple) else timeout
        if limit is None:
            return super().send(request, stream, timeout, verify, cert, proxies)
        watch = _Watch()
        timer = threading.Timer(limit, watch.fire)
        timer.daemon = True
        _sending.watch = watch
        timer.start()
        try:
            return super().send(request, stream, timeout, verify, cert, proxies)
        except requests.ConnectionError as error:
            if watch.fired and not isinstance(error, requests.Timeout):  # not a connect timeout
                raise requests.ReadTimeout(f"No headers within {limit:g} s.") from None
            raise
        finally:
            timer.cancel()
            watch.disarm()
            _sending.watch = None
