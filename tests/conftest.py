"""Artefacts that take seconds to build, built once per run and shared by the tests that read them.

``demo`` is the synthetic demo study replayed by :func:`igresearch.demo.run_demo` (archive,
tables and 300-dpi figures) and ``report`` is :func:`igresearch.report.write_report` of its
archive (tables, PNG and SVG figures, provenance). Tests only read them; a test that needs a
build of its own (to compare two runs, or with other options) still makes one in ``tmp_path``.

The suite runs in several processes (pytest-xdist), each with its own session, so each artefact
is built by the first process that asks for it, under a file lock in the run's temporary folder,
and read from there by the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import hostile as hostile_posts
import pytest
from doubles import Sleeps
from filelock import FileLock

from igresearch.demo import run_demo
from igresearch.report import write_report
from igresearch.tables import Tables, to_tables


def _built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder `name`, made by `build` once per run, however many processes run the tests."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this run's temporary folder, shared by all its workers
    folder, done = root / name, root / f"{name}.done"
    with FileLock(root / f"{name}.lock"):
        if not done.exists():
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder :func:`run_demo` filled, without a key: ``archive.jsonl``, ``tables/`` and
    ``figures/``. Read it, never write to it."""

    def build(folder: Path) -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("MEMORIES_API_KEY", raising=False)
            run_demo(folder)

    return _built_once(tmp_path_factory, "demo", build)


@pytest.fixture(scope="session")
def demo_tables(demo: Path) -> Tables:
    """The tables :func:`run_demo` returned for ``demo`` (``to_tables`` of its archive)."""
    return to_tables(demo / "archive.jsonl")


@pytest.fixture(scope="session")
def report(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder :func:`write_report` of the demo archive filled. Read it, never write to it."""

    def build(folder: Path) -> None:
        renamed: list[str] = []
        rename = os.replace

        def recorded(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
            renamed.append(str(target))
            rename(source, target)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(os, "replace", recorded)
            page = write_report(demo / "archive.jsonl", folder)
        assert page == folder / "report.html"
        (folder.parent / "report-renamed.json").write_text(json.dumps(renamed), encoding="utf-8")

    return _built_once(tmp_path_factory, "report", build)


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``archive.jsonl`` of the hostile posts of tests/hostile.py, collected from a fake API.
    Read it, never write to it."""
    return _built_once(tmp_path_factory, "hostile", hostile_posts.build) / "archive.jsonl"


@pytest.fixture(scope="session")
def hostile_report(hostile: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the hostile archive, identified. Read it, never write to it."""

    def build(folder: Path) -> None:
        write_report(hostile, folder)

    return _built_once(tmp_path_factory, "hostile-report", build)


@pytest.fixture(scope="session")
def public_report(
    hostile: Path, demo: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The pseudonymised report of the hostile archive followed by the demo archive, and that
    joined archive. Read them, never write to them."""

    def build(folder: Path) -> None:
        folder.mkdir()
        joined = folder / "joined.jsonl"
        joined.write_bytes(hostile.read_bytes() + (demo / "archive.jsonl").read_bytes())
        write_report(joined, folder / "report", salt=PUBLIC_SALT)

    folder = _built_once(tmp_path_factory, "public-report", build)
    return folder / "report", folder / "joined.jsonl"


#: The salt of ``public_report``.
PUBLIC_SALT = "the public report's salt, 16+"


@pytest.fixture(scope="session")
def report_renamed(report: Path) -> list[Path]:
    """Every file the build of ``report`` moved into place with ``os.replace``, in order."""
    names = json.loads((report.parent / "report-renamed.json").read_text(encoding="utf-8"))
    return [Path(name) for name in names]


@pytest.fixture
def sleeps() -> Sleeps:
    """The client's `sleep`, recorded instead of slept."""
    return Sleeps()


def _strict(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


@pytest.fixture(scope="session", autouse=True)
def every_archive_line_is_strict_json(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Issue 11, item 12: after the tests, every archive line this process's tests left in
    their temporary folders (written by the library, or by the command line in a subprocess)
    parses with a strict JSON parser: no NaN or Infinity, one object per line. A last line
    without its newline is a partial line (a test that cut it on purpose) and is skipped."""
    yield
    bad = []
    for path in tmp_path_factory.getbasetemp().rglob("*.jsonl"):
        if path.is_symlink() or not path.is_file():
            continue  # a link, a device or a named pipe a test made on purpose
        data = path.read_bytes()
        if not data.startswith(b'{"archive_version"'):
            continue  # a responses file, or a file that is not an archive on purpose
        for number, line in enumerate(data.split(b"\n")[:-1], start=1):
            try:
                assert isinstance(json.loads(line, parse_constant=_strict), dict)
            except (ValueError, AssertionError):
                bad.append(f"{path}:{number}: {line[:80]!r}")
    assert not bad, "archive lines that are not strict JSON:\n" + "\n".join(bad)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first: pytest-xdist hands tests out in this order, so the long ones (notebook
    kernels above all) run while the many short ones fill the other worker, not at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
