"""``igresearch init``: a study repository that replays and verifies itself offline (issue 15,
item 5)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from click.testing import CliRunner

from igresearch import cassette_from_archive, verify_report
from igresearch.cli import main
from igresearch.study import MANIFEST, init_study, requirements

FILES = [
    ".github/workflows/study.yml",
    ".gitignore",
    "Makefile",
    "README.md",
    "notebooks/analysis.ipynb",
    "requirements.txt",
    "urls.txt",
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


class _Installed(importlib.metadata.Distribution):
    """igresearch 0.1.0 as pip records it, with the given ``direct_url.json`` (or none)."""

    def __init__(self, direct_url: dict[str, object] | None) -> None:
        self.direct_url = direct_url

    def read_text(self, filename: str) -> str | None:
        if filename == "METADATA":
            return "Metadata-Version: 2.1\nName: igresearch\nVersion: 0.1.0\n"
        if filename == "direct_url.json" and self.direct_url is not None:
            return json.dumps(self.direct_url)
        return None

    def locate_file(self, path: str | os.PathLike[str]) -> Path:
        return Path(path)


def test_init_writes_the_study_and_records_what_it_wrote(tmp_path: Path) -> None:
    done = init_study(tmp_path / "study")
    study = tmp_path / "study"
    assert done.written == tuple(FILES) and done.kept == ()
    assert sorted(_files(study)) == sorted([*FILES, MANIFEST])
    manifest = json.loads((study / MANIFEST).read_text(encoding="utf-8"))
    assert manifest == {name: _sha256(study / name) for name in FILES}
    notebook = nbformat.read(study / "notebooks/analysis.ipynb", as_version=4)
    assert all(cell.get("outputs", []) == [] for cell in notebook.cells)
    urls = (study / "urls.txt").read_text(encoding="utf-8").splitlines()
    assert all(line.startswith("#") for line in urls)
    assert "# https://www.instagram.com/reel/DLlGZiCOBQ0/" in urls
    ignored = (study / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {"*.jsonl", "*.lock", "build/", ".env", "*.salt"} <= set(ignored)
    assert "report/methods.md" in (study / "README.md").read_text(encoding="utf-8")
    # the same inputs give the same bytes
    again = init_study(tmp_path / "again")
    assert again.written == done.written
    assert _files(tmp_path / "again") == _files(study)


def test_the_workflow_is_yaml_that_runs_the_makefiles_test(tmp_path: Path) -> None:
    init_study(tmp_path)
    workflow = yaml.safe_load((tmp_path / ".github/workflows/study.yml").read_text("utf-8"))
    assert workflow["on"] == ["push", "pull_request"]
    steps = workflow["jobs"]["test"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    assert runs == ["python -m pip install -r requirements.txt", "make test"]
    assert steps[-1]["env"] == {"IGRESEARCH_OFFLINE": "1"}
    python = ".".join(str(n) for n in sys.version_info[:2])
    assert steps[1]["with"] == {"python-version": python}
    makefile = (tmp_path / "Makefile").read_text(encoding="utf-8")
    for target in ("collect", "cassette", "report", "verify", "test"):
        assert f"\n{target}:\n" in makefile
    test = makefile.split("\ntest:\n", 1)[1].splitlines()
    assert test == [
        "\tenv -u MEMORIES_API_KEY IGRESEARCH_OFFLINE=1 MPLBACKEND=Agg $(JUPYTER) execute "
        "notebooks/analysis.ipynb",
        "\tenv -u MEMORIES_API_KEY IGRESEARCH_OFFLINE=1 $(IGRESEARCH) verify build/report "
        "--source $(CASSETTE)",
    ]


def test_init_refuses_a_folder_that_is_not_empty_unless_force(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert f"Error: {tmp_path} is not empty: choose a new folder, or add --force" in result.output
    assert _files(tmp_path) == {"notes.txt": b"mine\n"}

    result = CliRunner().invoke(main, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"wrote {tmp_path / name}" for name in FILES]
    assert (tmp_path / "notes.txt").read_bytes() == b"mine\n"


def test_force_never_overwrites_a_file_the_user_changed(tmp_path: Path) -> None:
    init_study(tmp_path)
    readme, urls = tmp_path / "README.md", tmp_path / "urls.txt"
    readme.write_text("# My study\n", encoding="utf-8")  # changed by the user
    (tmp_path / "Makefile").unlink()  # removed: init writes it again
    written = (tmp_path / "Makefile.orig").write_bytes(b"")  # not init's: left alone
    assert written == 0
    manifest = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    # what init wrote but an older version of its template: rewritten, as the user never edited it
    urls.write_text("# an older template\n", encoding="utf-8")
    manifest["urls.txt"] = _sha256(urls)
    (tmp_path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")

    done = init_study(tmp_path, force=True)
    assert done.kept == ("README.md",)
    assert done.written == tuple(name for name in FILES if name != "README.md")
    assert readme.read_text(encoding="utf-8") == "# My study\n"
    assert urls.read_text(encoding="utf-8").startswith("# The posts of this study")
    assert (tmp_path / "Makefile").is_file()
    # the changed file stays changed: a second run keeps it too
    assert init_study(tmp_path, force=True).kept == ("README.md",)
    assert (
        json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))["README.md"]
        == (manifest["README.md"])
    )

    result = CliRunner().invoke(main, ["init", str(tmp_path), "--force"])
    assert f"kept {readme} (changed since init wrote it)" in result.output.splitlines()


def test_requirements_pin_the_vcs_commit_igresearch_was_installed_from() -> None:
    installed = _Installed(
        {
            "url": "https://example.org/lab/igresearch.git",
            "vcs_info": {"vcs": "git", "commit_id": "0123456789abcdef0123456789abcdef01234567"},
        }
    )
    assert requirements(installed) == (
        "# igresearch 0.1.0, as installed from git\n"
        "igresearch[notebook] @ git+https://example.org/lab/igresearch.git"
        "@0123456789abcdef0123456789abcdef01234567\n"
    )


@pytest.mark.parametrize(
    "direct_url",
    [None, {"url": "file:///home/me/igresearch", "dir_info": {"editable": True}}],
    ids=["index", "folder"],
)
def test_requirements_pin_the_version_otherwise_and_invent_no_url(
    direct_url: dict[str, object] | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = _Installed(direct_url)
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: installed)
    init_study(tmp_path)
    assert (tmp_path / "requirements.txt").read_text(encoding="utf-8") == (
        "# igresearch 0.1.0 as installed here, not from a VCS URL: install this version\n"
        "# from where you got it, or replace the line with its repository URL and commit.\n"
        "igresearch[notebook]==0.1.0\n"
    )


@pytest.mark.slow
def test_the_studys_make_test_replays_offline_and_verifies_its_report(
    demo: Path, tmp_path: Path
) -> None:
    study = tmp_path / "study"
    init_study(study)
    notebook = (study / "notebooks/analysis.ipynb").read_bytes()
    cassette_from_archive(demo / "archive.jsonl", study / "cassette.yaml")
    # The study's own make, not a sub-make of the suite's (which would print its directories).
    outer = ("MEMORIES_API_KEY", "MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in outer}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    run = subprocess.run(
        ["make", "test"], cwd=study, env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "verified 27 files"
    report = study / "build" / "report"
    assert verify_report(report, study / "cassette.yaml").ok
    methods = (report / "methods.md").read_text(encoding="utf-8")
    assert "Of 64 posts requested, 60 were stored, 4 were unavailable" in methods
    assert (study / "notebooks/analysis.ipynb").read_bytes() == notebook  # no outputs stored
