"""The suite's network block works, without sending anything outside loopback."""

from __future__ import annotations

import socket

import pytest
import requests
from conftest import NetworkBlockedError


def test_loopback_outside_the_allowed_address_is_refused() -> None:
    with pytest.raises(NetworkBlockedError, match="127.0.0.2"):
        socket.create_connection(("127.0.0.2", 9), timeout=1)


def test_resolving_other_hosts_is_refused() -> None:
    with pytest.raises(NetworkBlockedError, match="example.invalid"):
        socket.getaddrinfo("example.invalid", 443)


def test_requests_to_other_hosts_fail_before_sending() -> None:
    with pytest.raises(requests.ConnectionError, match="tests may not resolve .127.0.0.3"):
        requests.get("http://127.0.0.3:9/", timeout=1)
