"""Shared pytest configuration: the fake API fixture, and a network block for the whole suite.

Every test runs with sockets limited to 127.0.0.1 and ::1: connecting anywhere else, or even
resolving another host name, raises before a packet leaves the machine.
"""

from __future__ import annotations

import socket
from typing import Any

pytest_plugins = ["igresearch.pytest_plugin"]

ALLOWED_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class NetworkBlockedError(OSError):
    """A test tried to reach something other than loopback 127.0.0.1."""


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _check(family: int, address: Any) -> None:
    if family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ALLOWED_HOSTS:
        raise NetworkBlockedError(f"tests may only connect to 127.0.0.1, not {address[0]!r}")


def _connect(self: socket.socket, address: Any) -> None:
    _check(self.family, address)
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(self.family, address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and str(host) not in ALLOWED_HOSTS:
        raise NetworkBlockedError(f"tests may not resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo
