"""pytest fixtures and a marker for code that talks to the memories.ai API, and a network block.

Enable them in a ``conftest.py``::

    pytest_plugins = ["igresearch.pytest_plugin"]

or for a whole run with ``pytest -p igresearch.pytest_plugin``.

While the plugin is loaded, the session runs with igresearch's network block on
(:func:`igresearch.testing.block_network`): a test can reach 127.0.0.1 (where ``fake_api``
listens) and nothing else. The session also sets ``IGRESEARCH_OFFLINE=1``, so subprocesses and
notebook kernels that the tests start are blocked as soon as they import igresearch. Both are
restored when the session ends.

Fixtures
--------
fake_api
    A running :class:`igresearch.testing.FakeAPI` on 127.0.0.1, stopped after the test. Point
    the client at ``fake_api.base_url``; script failures with ``fake_api.enqueue(...)``.
igresearch_cassette
    Used by every test: the :class:`igresearch.replay` of its ``igresearch_cassette`` marker,
    else None.

Markers
-------
``@pytest.mark.igresearch_cassette("path.yaml")``
    Every client made in the test answers from the cassette (a path relative to the test's
    file), as pytest-recording's ``vcr`` marker does: with no key (``MEMORIES_API_KEY`` is unset
    for the test) and the network blocked; a request the cassette cannot answer fails the test
    with :class:`igresearch.CassetteError`.

Options
-------
``--igresearch-record --igresearch-max-requests N``
    Record what the marked tests' cassettes lack, with your ``MEMORIES_API_KEY`` (paid), at most
    N requests in the whole session; the plan is printed before the first test, and what was
    sent at the end. Without a cap (or a key) pytest refuses to start. While recording, the
    network is blocked test by test (rather than for the session), except in marked tests.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from igresearch.cassettes import read_cassette, replay
from igresearch.testing import FakeAPI, network_blocked

__all__ = ["fake_api", "igresearch_cassette"]

MARKER = "igresearch_cassette"

_SESSION_BLOCK = pytest.StashKey[contextlib.ExitStack]()


@dataclass
class _Recording:
    """A recording session: its request cap, what it sent and what it recorded where."""

    cap: int
    sent: int = 0
    recorded: Counter[Path] = field(default_factory=Counter)


_RECORDING = pytest.StashKey[_Recording]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--igresearch-record`` and its request cap, ``--igresearch-max-requests``."""
    group = parser.getgroup("igresearch")
    group.addoption(
        "--igresearch-record",
        action="store_true",
        help="Record what the cassettes of @pytest.mark.igresearch_cassette tests lack, with "
        "MEMORIES_API_KEY (paid); needs --igresearch-max-requests.",
    )
    group.addoption(
        "--igresearch-max-requests",
        type=int,
        metavar="N",
        help="With --igresearch-record: send at most N requests in the whole session.",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; refuse to record without a cap or a key; switch the network block
    on for the session (test by test when recording), here and in the processes it starts."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(path): replay the cassette at path (relative to the test's file) with no key "
        "and the network blocked; --igresearch-record records what it lacks.",
    )
    record = config.getoption("--igresearch-record", False)
    cap = config.getoption("--igresearch-max-requests", None)
    if cap is not None and (not record or cap < 0):
        raise pytest.UsageError(
            "--igresearch-max-requests N (N >= 0) is the cap of --igresearch-record."
        )
    if record and cap is None:
        raise pytest.UsageError(
            "--igresearch-record sends paid requests: give the most it may send in this session "
            "with --igresearch-max-requests N."
        )
    if record and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError(
            "--igresearch-record runs in one process, so that its cap holds for the whole "
            "session: add -n 0."
        )
    if record and not os.environ.get("MEMORIES_API_KEY", "").strip():
        raise pytest.UsageError("--igresearch-record records with your key: set MEMORIES_API_KEY.")
    stack = contextlib.ExitStack()
    if record:
        config.stash[_RECORDING] = _Recording(cap)
    else:
        stack.enter_context(network_blocked())
    stack.enter_context(pytest.MonkeyPatch.context()).setenv("IGRESEARCH_OFFLINE", "1")
    config.stash[_SESSION_BLOCK] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the socket functions and the environment (changed unless pytest refused to
    start)."""
    if _SESSION_BLOCK in config.stash:
        config.stash[_SESSION_BLOCK].close()


def pytest_collection_finish(session: pytest.Session) -> None:
    """When recording: the plan (the cassettes, where to, the cap), before any test runs."""
    recording = session.config.stash.get(_RECORDING, None)
    if recording is None:
        return
    from igresearch.client import DEFAULT_BASE_URL
    from igresearch.collect import PRICE_USD

    tests = Counter(
        _cassette(item.path, marker)
        for item in session.items
        if (marker := item.get_closest_marker(MARKER)) is not None
    )
    base = os.environ.get("MEMORIES_BASE_URL") or DEFAULT_BASE_URL
    lines = [
        f"igresearch: recording what {len(tests)} cassettes lack from {base} with "
        f"MEMORIES_API_KEY: at most {recording.cap} requests in this session (about "
        f"{recording.cap * PRICE_USD:.2f} USD)"
    ]
    for path, count in sorted(tests.items()):
        held = len(read_cassette(path)) if path.is_file() else 0
        lines.append(f"  {path}: {held} recordings held; {count} tests")
    _write(session.config, lines)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """When recording: the requests sent, and the recordings added to each cassette."""
    recording = terminalreporter.config.stash.get(_RECORDING, None)
    if recording is not None:
        lines = [f"igresearch: sent {recording.sent} of at most {recording.cap} requests"]
        lines += [f"  {path}: {n} recordings added" for path, n in recording.recorded.items()]
        _write(terminalreporter.config, lines)


def _write(config: pytest.Config, lines: list[str]) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        for line in lines:
            reporter.write_line(line)


def _cassette(test_file: Path, marker: pytest.Mark) -> Path:
    if len(marker.args) != 1 or not isinstance(marker.args[0], str | os.PathLike):
        raise pytest.UsageError(f'Use @pytest.mark.{MARKER}("path.yaml"): one cassette path.')
    return test_file.parent / marker.args[0]


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    """A running fake of the API, fresh for each test (see :mod:`igresearch.testing`)."""
    with FakeAPI() as api:
        yield api


@pytest.fixture(autouse=True)
def igresearch_cassette(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[replay | None]:
    """The replay of the test's ``igresearch_cassette`` marker (None without one): offline,
    with no key; when recording, what it lacks is recorded within the session's cap."""
    marker = request.node.get_closest_marker(MARKER)
    recording = request.config.stash.get(_RECORDING, None)
    with contextlib.ExitStack() as stack:
        if marker is None:
            if recording is not None:
                stack.enter_context(network_blocked())
            yield None
            return
        path = _cassette(request.path, marker)
        if recording is None:
            if not path.is_file():
                pytest.fail(
                    f"No cassette at {path}: record it with pytest --igresearch-record "
                    "--igresearch-max-requests N (paid; needs MEMORIES_API_KEY).",
                    pytrace=False,
                )
            monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
            stack.enter_context(network_blocked())
            yield stack.enter_context(replay(path))
            return
        monkeypatch.delenv("IGRESEARCH_OFFLINE", raising=False)  # for what the test starts
        cap = recording.cap - recording.sent
        cassette = stack.enter_context(replay(path, mode="new_episodes", max_requests=cap))
        try:
            yield cassette
        finally:
            recording.sent += cassette.sent
            recording.recorded[path] += cassette.recorded
