"""Issue 12, item 8: what holds identified data is created 0600 (folders 0700); what is
pseudonymised for sharing follows the umask. Checked on the real file system, umask 022."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from igresearch.cassettes import replay
from igresearch.cli import main
from igresearch.client import Client
from igresearch.demo import run_demo
from igresearch.files import atomic_path, write_text
from igresearch.testing import FakeAPI

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")

KEY = "sk-SECRET-permissions-key-0123456789"
SALT = "a salt for the permission tests"


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask, under which a plain open() makes files 0644 and folders 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(folder: Path) -> dict[str, int]:
    """The permission bits of `folder` and of everything under it, by relative name."""
    paths = [folder, *sorted(folder.rglob("*"))]
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in paths}


def expected(folder: Path, file: int, directory: int) -> dict[str, int]:
    """`file` for every file under `folder`, `directory` for it and every folder under it."""
    paths = [folder, *sorted(folder.rglob("*"))]
    return {str(p.relative_to(folder)): directory if p.is_dir() else file for p in paths}


def test_a_private_file_is_0600_from_its_creation_a_public_one_follows_the_umask(
    tmp_path: Path,
) -> None:
    """Issue 12, item 8: the temporary file is 0600 before any data is in it, and so is the
    file it replaces (even one that was 0644); a new folder is 0700; ``private=False`` gives
    0644 and 0755."""
    target = tmp_path / "new" / "table.csv"
    with atomic_path(target) as temporary:
        assert stat.S_IMODE(temporary.stat().st_mode) == 0o600
        temporary.write_text("a\n", encoding="utf-8")
    assert modes(tmp_path / "new") == {".": 0o700, "table.csv": 0o600}
    shared = tmp_path / "shared.md"
    shared.write_text("old\n", encoding="utf-8")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
    write_text(shared, "identified\n")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o600
    write_text(tmp_path / "public" / "report.md", "pseudonymised\n", private=False)
    assert modes(tmp_path / "public") == {".": 0o755, "report.md": 0o644}


def test_demo_archive_lock_tables_figures_and_reports_have_the_right_modes(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, item 8: demo output (archive, its lock, tables, figures), ``tables --out``
    (parquet and CSV) and a report without pseudonymisation are 0600 in 0700 folders; a
    pseudonymised report follows the umask (0644, 0755)."""
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    run_demo(tmp_path / "demo")
    demo_modes = modes(tmp_path / "demo")
    assert {"archive.jsonl", "archive.jsonl.lock", "tables/media.parquet"} <= demo_modes.keys()
    assert demo_modes == expected(tmp_path / "demo", 0o600, 0o700)

    runner = CliRunner()
    archive = str(demo / "archive.jsonl")
    for args in (["--out", str(tmp_path / "t")], ["--out", str(tmp_path / "c"), "--format", "csv"]):
        assert runner.invoke(main, ["tables", archive, *args]).exit_code == 0
    for name, files in (("t", 5), ("c", 6)):  # the tables, and beside the CSVs datapackage.json
        kept = [p for p in modes(tmp_path / name) if not p.startswith(".igresearch")]
        assert len(kept) == files + 1  # and the folder
        assert ".igresearch/manifest.json" in modes(tmp_path / name)  # what a re-run reuses
        assert modes(tmp_path / name) == expected(tmp_path / name, 0o600, 0o700)

    result = runner.invoke(main, ["report", archive, "--out", str(tmp_path / "identified")])
    assert result.exit_code == 0, result.output
    assert "figures/owners.svg" in modes(tmp_path / "identified")
    assert modes(tmp_path / "identified") == expected(tmp_path / "identified", 0o600, 0o700)

    monkeypatch.setenv("IGRESEARCH_SALT", SALT)
    args = ["report", archive, "--out", str(tmp_path / "public"), "--pseudonymize"]
    assert runner.invoke(main, args).exit_code == 0
    assert modes(tmp_path / "public") == expected(tmp_path / "public", 0o644, 0o755)


def test_a_recorded_cassette_is_0600(fake_api: FakeAPI, tmp_path: Path) -> None:
    """Issue 12, item 8: a cassette holds identified answers, so it is created 0600 (its new
    folder 0700) whatever the umask."""
    path = tmp_path / "cassettes" / "study.yaml"
    with replay(path, mode="all"), Client(KEY, base_url=fake_api.base_url) as client:
        client.video_metadata("DLlGZiCOBQ0")
    assert modes(tmp_path / "cassettes") == {".": 0o700, "study.yaml": 0o600}
