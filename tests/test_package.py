"""The public surface: what `import igresearch` gives, and what it does not load."""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import igresearch

ROOT = Path(__file__).parent.parent
HEAVY = ("matplotlib", "vcr", "jupyterlab", "tqdm", "pyarrow", "zstandard")
MODULES = sorted(f"igresearch.{m.name}" for m in pkgutil.iter_modules(igresearch.__path__))


def python(
    code: str, *, offline: bool, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "IGRESEARCH_OFFLINE"}
    if offline:
        env["IGRESEARCH_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd
    )


def readme_api() -> list[str]:
    """The names listed in the README's "Python API" section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `igresearch\.(\w+)` \| \S", section, flags=re.MULTILINE)


def test_all_is_the_documented_api() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in igresearch.__all__:
        assert hasattr(igresearch, name), name
    for name in ("collect", "to_tables", "replay", "Client", "read_tables"):
        assert f"igresearch.{name}" in readme, f"README does not show igresearch.{name}"
    listed = readme_api()
    assert len(listed) == len(set(listed)), "a name is listed twice"
    assert sorted(listed) == sorted(igresearch.__all__)


def test_the_new_names_are_exported() -> None:
    from igresearch.cassettes import cassette_path
    from igresearch.demo import run_demo
    from igresearch.errors import ArchiveLockedError
    from igresearch.report import write_report

    assert igresearch.cassette_path is cassette_path
    assert igresearch.run_demo is run_demo
    assert igresearch.ArchiveLockedError is ArchiveLockedError
    assert igresearch.write_report is write_report
    assert {"metrics", "plots", "report", "write_report"} <= set(dir(igresearch))
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        igresearch.nothing_here  # noqa: B018


def test_import_loads_no_heavy_optional_parts_with_the_network_block() -> None:
    """With IGRESEARCH_OFFLINE=1 (the next test checks the same without it, in its first
    two lines): neither igresearch nor igresearch.metrics loads matplotlib or the others."""
    code = f"""
import sys, igresearch, igresearch.metrics
print(sorted(m for m in {HEAVY} if m in sys.modules))
"""
    out = python(code, offline=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_metrics_plots_and_report_are_attributes_loaded_on_first_use() -> None:
    code = f"""
import sys, igresearch
loaded = lambda: sorted(m for m in {HEAVY} if m in sys.modules)
print(loaded())
print(igresearch.metrics.latest.__module__, igresearch.report.__name__, loaded())
print(igresearch.write_report.__module__, loaded())
print(igresearch.plots.save_figure.__module__, loaded())
from igresearch import *
print(sorted(set(igresearch.__all__) - set(dir())))
"""
    out = python(code, offline=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "[]",
        "igresearch.metrics igresearch.report []",
        "igresearch.report []",
        "igresearch.plots ['matplotlib']",
        "[]",
    ]


def test_importing_any_module_has_no_side_effects(tmp_path: Path) -> None:
    """As --doctest-modules does: no output, no exit, no file, no network block, no env."""
    names = [name for name in MODULES if name != "igresearch.pytest_plugin"]
    code = f"""
import importlib, os, socket, sys
import polars  # it sets an allocator variable of its own when imported
before = (socket.socket.connect, socket.getaddrinfo, dict(os.environ))
for name in {names!r} + ["igresearch.pytest_plugin"]:
    importlib.import_module(name)
print(before == (socket.socket.connect, socket.getaddrinfo, dict(os.environ)))
"""
    out = python(code, offline=False, cwd=tmp_path)
    assert "igresearch.__main__" in names
    assert (out.returncode, out.stdout, out.stderr) == (0, "True\n", "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_are_self_contained(name: str) -> None:
    """Every example runs with nothing but what it imports, so a reader can paste it."""
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(module, globs={}):
        test.globs = {}
        failures = []
        runner.run(test, out=failures.append)
        assert failures == [], "".join(failures)


def test_version_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    assert igresearch.__version__ == version("igresearch")
