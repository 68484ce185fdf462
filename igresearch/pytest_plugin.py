"""pytest fixtures for code that talks to the memories.ai API, and a network block.

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
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from igresearch.testing import FakeAPI, network_blocked

__all__ = ["fake_api"]

_SESSION_BLOCK = pytest.StashKey[contextlib.ExitStack]()


def pytest_configure(config: pytest.Config) -> None:
    """Switch the network block on for the session, here and in the processes it starts."""
    stack = contextlib.ExitStack()
    stack.enter_context(network_blocked())
    stack.enter_context(pytest.MonkeyPatch.context()).setenv("IGRESEARCH_OFFLINE", "1")
    config.stash[_SESSION_BLOCK] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the socket functions and the environment."""
    config.stash[_SESSION_BLOCK].close()


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    """A running fake of the API, fresh for each test (see :mod:`igresearch.testing`)."""
    with FakeAPI() as api:
        yield api
