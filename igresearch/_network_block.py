"""igresearch's network block; public as :mod:`igresearch.testing`'s ``block_network``,
``network_blocked``, ``NetworkBlockedError`` and ``ALLOWED_HOSTS`` (documented there).

A module of its own so that ``import igresearch`` under ``IGRESEARCH_OFFLINE=1`` loads only
this, not the fake server.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["ALLOWED_HOSTS", "NetworkBlockedError", "block_network", "network_blocked"]


ALLOWED_HOSTS: Final[frozenset[str]] = frozenset({"127.0.0.1", "::1", "localhost"})
"""The only addresses (and name) the network block lets a socket reach."""


class NetworkBlockedError(OSError):
    """A connection or name lookup beyond loopback, refused by the network block."""


# The socket functions the block replaced, by name, while it is on; empty when it is off.
_unblocked: dict[str, Any] = {}


def block_network() -> None:
    """Refuse, in this process from now on, every connection and name lookup beyond
    :data:`ALLOWED_HOSTS` with :class:`NetworkBlockedError` (see :mod:`igresearch.testing`).

    Calling it again while the block is on changes nothing.

    Examples
    --------
    >>> import socket
    >>> from igresearch.testing import NetworkBlockedError, network_blocked
    >>> with network_blocked(), socket.socket() as sock:
    ...     try:
    ...         sock.connect(("127.0.0.2", 9))
    ...     except NetworkBlockedError as error:
    ...         print(str(error).split(":")[0])
    igresearch's network block refused a connection to '127.0.0.2'
    """
    if _unblocked:
        return
    _unblocked.update(
        connect=socket.socket.connect,
        connect_ex=socket.socket.connect_ex,
        sendto=socket.socket.sendto,
        getaddrinfo=socket.getaddrinfo,
        gethostbyname=socket.gethostbyname,
        gethostbyname_ex=socket.gethostbyname_ex,
    )
    socket.socket.connect = _connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign,assignment]
    socket.socket.sendto = _sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = _getaddrinfo
    socket.gethostbyname = _gethostbyname
    socket.gethostbyname_ex = _gethostbyname_ex


@contextlib.contextmanager
def network_blocked() -> Iterator[None]:
    """:func:`block_network` for a ``with`` block; when it ends (even by an exception) the
    socket functions are restored, unless the block was already on before it began."""
    already_on = bool(_unblocked)
    block_network()
    try:
        yield
    finally:
        if not already_on:
            for name in ("connect", "connect_ex", "sendto"):
                setattr(socket.socket, name, _unblocked.pop(name))
            for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
                setattr(socket, name, _unblocked.pop(name))


_RULE: Final = (
    "only 127.0.0.1, ::1 and localhost are allowed (set by the pytest plugin or "
    "IGRESEARCH_OFFLINE=1)."
)


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ALLOWED_HOSTS:
        raise NetworkBlockedError(
            f"igresearch's network block refused a connection to {address[0]!r}: {_RULE}"
        )


def _check_name(host: Any) -> None:
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and str(name) not in ALLOWED_HOSTS:
        raise NetworkBlockedError(
            f"igresearch's network block refused to look up {name!r}: {_RULE}"
        )


def _connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    _unblocked["connect"](self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    code: int = _unblocked["connect_ex"](self, address)
    return code


def _sendto(self: socket.socket, data: Any, *flags_and_address: Any) -> int:
    _check_address(self, flags_and_address[-1])
    sent: int = _unblocked["sendto"](self, data, *flags_and_address)
    return sent


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    _check_name(host)
    return _unblocked["getaddrinfo"](host, *args, **kwargs)


def _gethostbyname(host: str) -> str:
    _check_name(host)
    address: str = _unblocked["gethostbyname"](host)
    return address


def _gethostbyname_ex(host: str) -> tuple[str, list[str], list[str]]:
    _check_name(host)
    answer: tuple[str, list[str], list[str]] = _unblocked["gethostbyname_ex"](host)
    return answer
