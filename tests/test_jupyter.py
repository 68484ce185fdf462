"""Jupyter as a researcher gets it: the ``notebook`` extra's progress bar, and ``make lab``.

Both start processes on this machine only: a kernel (nbclient), and JupyterLab listening on
127.0.0.1 with no browser, news feed, update check or extension index (and its announcements
plugin, which asks about the news, disabled), with every file it writes in the test's temporary
folder. The only request is the test's own, to 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
import os
import re
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


def _make_lab() -> tuple[str, list[str]]:
    """The shell line `make lab` starts JupyterLab with, in this Python's environment, with
    ``exec`` before its command (so that the shell becomes JupyterLab), and that command's words
    (after the environment variables the line sets)."""
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
    line = dry_run.replace("\\\n", " ").splitlines()[-1]
    words = shlex.split(line)
    command = list(itertools.dropwhile(lambda word: re.match(r"[A-Z_]+=", word), words))
    assert command[:3] == [str(bin_dir / "jupyter"), "lab", "notebooks/"]
    settings, _, rest = line.partition(command[0])
    return f"{settings}exec {command[0]}{rest}", command


#: The plugin that asks "Would you like to get notified about official Jupyter news?".
ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"


@pytest.mark.slow
def test_make_lab_starts_jupyterlab_as_root_and_offline(tmp_path: Path) -> None:
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed: pip install -e '.[dev]'")
    line, command = _make_lab()
    assert "--allow-root" in command  # containers often run as root, and so does CI
    token = secrets.token_hex(16)
    (tmp_path / "notebooks").mkdir()  # `make lab` serves notebooks/: here, an empty folder
    runtime = tmp_path / "runtime"
    # A config path of the caller's own, which `make lab` must keep (after its own folder).
    theirs = tmp_path / "their-config" / "labconfig"
    theirs.mkdir(parents=True)
    (theirs / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"their-extension:plugin": True}}), encoding="utf-8"
    )
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_CONFIG_PATH": str(theirs.parent),
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
        server = subprocess.Popen(  # the line as make runs it: a shell, here replaced by jupyter
            ["sh", "-c", f'{line} "$@"', "sh", *options],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
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
        # The page config JupyterLab serves with /lab, from which its front end skips plugins.
        request = urllib.request.Request(
            f"http://127.0.0.1:{info['port']}/lab", headers={"Authorization": f"token {token}"}
        )
        with local.open(request, timeout=60) as response:
            page = response.read().decode("utf-8")
        found = re.search(
            r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
            page,
            re.DOTALL,
        )
        assert found, page
        page_config = json.loads(found.group(1))
        assert ANNOUNCEMENTS in page_config["disabledExtensions"]
        static = Path(page_config["appSettingsDir"]).parent / "static"  # the front end served
        assert any(ANNOUNCEMENTS in js.read_text(errors="replace") for js in static.glob("*.js"))
        assert "their-extension:plugin" in page_config["disabledExtensions"]
        assert page_config["news"] == {"disabled": True}
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, (tmp_path / "lab.log").read_text(errors="replace")
    assert not list(runtime.glob("jpserver-*.json")), "JupyterLab did not shut down cleanly"
    assert not (tmp_path / "config" / "labconfig").exists()  # the user's config is left alone
