"""The notebooks in notebooks/: each runs top to bottom, offline and without a key, and is
committed clean (no outputs, no execution counts) and ending in an assert cell.

Each notebook runs in its own kernel (a separate process, started by nbclient), which inherits
``IGRESEARCH_OFFLINE=1`` from the test session, so ``import igresearch`` in the kernel switches
igresearch's network block on; a first cell, added to the in-memory copy only, checks that.
The kernel starts with no ``MEMORIES_API_KEY`` (and no ``MEMORIES_BASE_URL``), so the paid cells
of 03_collect_your_own skip and every request must come from a cassette; a failing cell raises
``CellExecutionError``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"01_quickstart.ipynb", "02_engagement_study.ipynb", "03_collect_your_own.ipynb"}

# Run first in every kernel: the kernel inherited IGRESEARCH_OFFLINE=1 from the test session (the
# pytest plugin sets it), so importing igresearch switches the network block on; prove it.
OFFLINE_CHECK = """
import os, socket
import igresearch
from igresearch.testing import NetworkBlockedError

assert os.environ["IGRESEARCH_OFFLINE"] == "1"
with socket.socket() as sock:
    try:
        sock.connect(("127.0.0.2", 9))  # loopback: nothing leaves the machine even if not blocked
    except NetworkBlockedError:
        pass
    else:
        raise AssertionError("the kernel may connect to 127.0.0.2")
assert socket.getaddrinfo.__module__.startswith("igresearch.")  # so no resolver is ever asked
try:
    socket.getaddrinfo("example.invalid", 443)
except NetworkBlockedError:
    pass
else:
    raise AssertionError("the kernel may look up names")
"""


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _text(notebook: nbformat.NotebookNode) -> str:
    """Everything the code cells printed or displayed as text."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _truncated_frames(notebook: nbformat.NotebookNode) -> list[int]:
    """The cells that display a polars frame as Jupyter shows it (HTML) with rows or values cut
    (polars shows 10 rows and 30 characters of each value by default, then an ellipsis)."""
    cut = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if data.get("text/plain", "").startswith("shape:"):
                html = data["text/html"]
                if "&hellip;" in html or "\N{HORIZONTAL ELLIPSIS}" in html:
                    cut.append(index)
    return cut


def test_the_notebooks_are_there() -> None:
    assert {path.name for path in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_valid_and_committed_without_outputs(path: Path) -> None:
    notebook = _read(path)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {index} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {index} has a count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_ends_with_an_assert_cell(path: Path) -> None:
    last = _read(path).cells[-1]
    assert last.cell_type == "code"
    statements = ast.parse(last.source).body
    assert any(isinstance(statement, ast.Assert) for statement in statements)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_offline_without_a_key(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this process's environment when it starts.
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    monkeypatch.delenv("MEMORIES_BASE_URL", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = _read(path)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(OFFLINE_CHECK))
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    assert "All checks passed." in _text(notebook)
    assert _truncated_frames(notebook) == [], "a table hides rows or values from the reader"
    assert list(tmp_path.iterdir()) == [], "notebooks write only to temporary folders"
    if path.name == "03_collect_your_own.ipynb":
        assert "No key set: skipping the paid part" in _text(notebook)
