"""pytest fixtures for code that talks to the memories.ai API.

Enable them in a ``conftest.py``::

    pytest_plugins = ["igresearch.pytest_plugin"]

Fixtures
--------
fake_api
    A running :class:`igresearch.testing.FakeAPI` on 127.0.0.1, stopped after the test. Point
    the client at ``fake_api.base_url``; script failures with ``fake_api.enqueue(...)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from igresearch.testing import FakeAPI

__all__ = ["fake_api"]


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    """A running fake of the API, fresh for each test (see :mod:`igresearch.testing`)."""
    with FakeAPI() as api:
        yield api
