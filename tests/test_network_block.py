"""The network block of igresearch.testing, without sending anything outside loopback.

The suite itself runs with the block on (the pytest plugin); the subprocesses below show that
``IGRESEARCH_OFFLINE=1`` switches it on at ``import igresearch``, that without the variable
importing igresearch changes nothing, and that :func:`network_blocked` restores what it changed.
127.0.0.2 is the refused address: it is loopback, so even a broken block sends nothing out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import requests

from igresearch.testing import ALLOWED_HOSTS, FakeAPI, NetworkBlockedError

REFUSED = "igresearch's network block refused"

# Prints what happens to a connection to 127.0.0.2 and a lookup of example.invalid; the lookup
# is only tried when the block is on, so it never reaches a resolver.
PROBE = textwrap.dedent(
    """
    import socket

    def probe():
        try:
            with socket.socket() as sock:
                sock.settimeout(1)
                sock.connect(("127.0.0.2", 9))
        except OSError as error:
            print(type(error).__name__, error)
        if socket.getaddrinfo.__module__.startswith("igresearch."):
            try:
                socket.getaddrinfo("example.invalid", 443)
            except OSError as error:
                print(type(error).__name__, error)
    """
)
SOCKET_FUNCTIONS = (
    "(socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto, "
    "socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex)"
)


def run(code: str, *, offline: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "IGRESEARCH_OFFLINE"}
    if offline is not None:
        env["IGRESEARCH_OFFLINE"] = offline
    result = subprocess.run(
        [sys.executable, "-c", PROBE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_suite_runs_blocked_and_tells_its_subprocesses() -> None:
    assert socket.getaddrinfo.__module__.startswith("igresearch.")
    assert os.environ["IGRESEARCH_OFFLINE"] == "1"
    assert frozenset({"127.0.0.1", "::1", "localhost"}) == ALLOWED_HOSTS


def test_loopback_outside_the_allowed_address_is_refused() -> None:
    with pytest.raises(NetworkBlockedError, match="127.0.0.2"):
        socket.create_connection(("127.0.0.2", 9), timeout=1)
    with socket.socket() as sock, pytest.raises(NetworkBlockedError, match="connection to .127"):
        sock.connect(("127.0.0.2", 9))
    with socket.socket() as sock, pytest.raises(NetworkBlockedError, match="connection to .127"):
        sock.connect_ex(("127.0.0.2", 9))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(NetworkBlockedError, match="127.0.0.2"),
    ):
        sock.sendto(b"x", ("127.0.0.2", 9))


def test_resolving_other_hosts_is_refused() -> None:
    # Checked first, so that a run without the plugin never asks a resolver.
    assert socket.getaddrinfo.__module__.startswith("igresearch.")
    with pytest.raises(NetworkBlockedError, match="example.invalid"):
        socket.getaddrinfo("example.invalid", 443)
    for lookup in (socket.gethostbyname, socket.gethostbyname_ex):
        with pytest.raises(NetworkBlockedError, match="look up 'example.invalid'"):
            lookup("example.invalid")


def test_requests_to_other_hosts_fail_before_sending() -> None:
    with pytest.raises(requests.ConnectionError, match=f"{REFUSED} to look up .127.0.0.3"):
        requests.get("http://127.0.0.3:9/", timeout=1)


def test_the_fake_on_127_0_0_1_and_localhost_is_reachable() -> None:
    with FakeAPI() as api:
        port = api.base_url.split(":")[2].split("/")[0]
        for host in ("127.0.0.1", "localhost"):
            response = requests.get(f"http://{host}:{port}/nothing", timeout=5)
            assert response.status_code == 404


def test_igresearch_offline_blocks_a_subprocess_at_import() -> None:
    lines = run("import igresearch\nprobe()", offline="1")
    assert lines == [
        f"NetworkBlockedError {REFUSED} a connection to '127.0.0.2': only 127.0.0.1, ::1 and "
        "localhost are allowed (set by the pytest plugin or IGRESEARCH_OFFLINE=1).",
        f"NetworkBlockedError {REFUSED} to look up 'example.invalid': only 127.0.0.1, ::1 and "
        "localhost are allowed (set by the pytest plugin or IGRESEARCH_OFFLINE=1).",
    ]


@pytest.mark.parametrize("offline", [None, "0"])
def test_without_the_variable_import_igresearch_changes_nothing(offline: str | None) -> None:
    lines = run(
        f"""
        import socket
        before = {SOCKET_FUNCTIONS}
        import igresearch
        print(before == {SOCKET_FUNCTIONS})
        """,
        offline=offline,
    )
    assert lines == ["True"]


def test_network_blocked_restores_the_socket_functions_even_after_an_error() -> None:
    lines = run(
        f"""
        import socket
        from igresearch.testing import network_blocked
        before = {SOCKET_FUNCTIONS}
        try:
            with network_blocked():
                probe()
                raise KeyError("inside")
        except KeyError:
            pass
        print(before == {SOCKET_FUNCTIONS})
        """,
        offline=None,
    )
    assert [line.split(":")[0] for line in lines] == [
        f"NetworkBlockedError {REFUSED} a connection to '127.0.0.2'",
        f"NetworkBlockedError {REFUSED} to look up 'example.invalid'",
        "True",
    ]
