"""Jupyter as a researcher gets it: the ``notebook`` extra's progress bar, and ``make lab``.

Both start processes on this machine only: a kernel (nbclient), and JupyterLab listening on
127.0.0.1 with no browser, news feed, update check or extension index, with every file it writes
in the test's temporary folder. The only request is the test's own, to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent

FIRST_COLLECT = """
import igresearch
from igresearch.cassettes import cassette_path

with igresearch.replay(cassette_path("demo.yaml")):
    summary = igresearch.collect(["DVNf2nkAAAA"], archive=ARCHIVE)
assert summary.outcomes["ok"] == 1
"""


@pytest.mark.slow
def test_the_first_collect_in_a_notebook_shows_a_progress_bar(tmp_path: Path) -> None:
    archive = tmp_path / "archive.jsonl"
    source = f"ARCHIVE = {str(archive)!r}\n{FIRST_COLLECT}"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()

    outputs = notebook.cells[0].outputs
    widgets = [
        out for out in outputs if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    streams = "".join(out.get("text", "") for out in outputs)
    assert len(widgets) == 1, "tqdm drew no widget (is ipywidgets installed?)"
    assert "IProgress not found" not in streams
    assert archive.exists()


def _make_lab() -> list[str]:
    """The command `make lab` starts JupyterLab with, in this Python's environment."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = Path(sys.executable).parent  # not resolved: the venv's bin, where jupyter is
    dry_run = subprocess.run(
        ["make", "--silent", "--dry-run", "lab", f"BIN={bin_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    command = shlex.split(dry_run.replace("\\\n", " ").splitlines()[-1])
    assert command[:3] == [str(bin_dir / "jupyter"), "lab", "notebooks/"]
    return command


@pytest.mark.slow
def test_make_lab_starts_jupyterlab_as_root_and_offline(tmp_path: Path) -> None:
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed: pip install -e '.[dev]'")
    command = _make_lab()
    assert "--allow-root" in command  # containers often run as root, and so does CI
    token = secrets.token_hex(16)
    (tmp_path / "notebooks").mkdir()  # `make lab` serves notebooks/: here, an empty folder
    runtime = tmp_path / "runtime"
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    options = [
        "--no-browser",
        "--ServerApp.open_browser=False",
        "--ip=127.0.0.1",
        "--port=0",  # a free port, which the server writes into its runtime file
        f"--ServerApp.root_dir={tmp_path / 'notebooks'}",
        f"--IdentityProvider.token={token}",
    ]
    with (tmp_path / "lab.log").open("wb") as log:
        server = subprocess.Popen(
            command + options, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 120  # a busy 2-core machine can take a while
        while not (started := sorted(runtime.glob("jpserver-*.json"))):
            assert server.poll() is None, (tmp_path / "lab.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "JupyterLab did not start in 120 s"
            time.sleep(0.2)
        info = json.loads(started[0].read_text(encoding="utf-8"))
        assert info["hostname"] == "127.0.0.1" and info["port"] > 0
        # No proxy: the environment's http_proxy must not take the request off this machine.
        local = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(
            f"http://127.0.0.1:{info['port']}/api/status",
            headers={"Authorization": f"token {token}"},
        )
        with local.open(request, timeout=60) as response:
            status = json.loads(response.read())
        assert response.status == 200
        assert status["kernels"] == 0 and status["connections"] == 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, (tmp_path / "lab.log").read_text(errors="replace")
    assert not list(runtime.glob("jpserver-*.json")), "JupyterLab did not shut down cleanly"
