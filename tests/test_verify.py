"""Verifying a report: its checksums, a hostile listing, and its data against its source.

``report`` (the demo archive's report), ``demo`` and ``public_report`` are built once per run in
conftest.py and only read here; a test that changes bytes changes a copy in ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import PUBLIC_SALT

import igresearch
import igresearch.report as report_module
from igresearch.archive_cassette import cassette_from_archive
from igresearch.cassettes import cassette_path
from igresearch.cli import main
from igresearch.verify import verify_report

_opened: list[str] | None = None  # paths opened while a test watches, see _watching_opens


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _opened is not None:
        _opened.append(str(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one records only when asked


@contextmanager
def _watching_opens() -> Iterator[list[str]]:
    """Every path this process opens inside the block (Python's "open" audit event)."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


def _copy(report: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(report, tmp_path / "report"))


def _listed(report: Path) -> list[str]:
    return [line[66:] for line in (report / "SHA256SUMS").read_text().splitlines()]


def _flip(path: Path, at: int = 0) -> None:
    """Change one byte of `path` (its lowest bit) at offset `at`."""
    data = bytearray(path.read_bytes())
    data[at] ^= 1
    path.write_bytes(bytes(data))


def _verify(*args: str) -> Any:
    return CliRunner().invoke(main, ["verify", *args])


def test_an_untouched_report_verifies(report: Path) -> None:
    files = sorted(p.relative_to(report).as_posix() for p in report.rglob("*") if p.is_file())
    assert len(files) == 28  # with methods.md
    assert _listed(report) == [name for name in files if name != "SHA256SUMS"]

    result = _verify(str(report))

    assert (result.exit_code, result.output) == (0, "verified 27 files\n")
    assert verify_report(report) == igresearch.verify_report(report)
    assert verify_report(report).ok


@pytest.mark.parametrize(
    ("name", "listings"),
    [
        ("tables/media.csv", "SHA256SUMS, provenance.json, report.md, report.html"),
        ("tables/owners.parquet", "SHA256SUMS, provenance.json, report.md, report.html"),
        ("figures/scatter.png", "SHA256SUMS, provenance.json, report.md, report.html"),
        ("provenance.json", "SHA256SUMS, report.md, report.html"),
        ("report.md", "SHA256SUMS"),
        ("report.html", "SHA256SUMS"),
    ],
)
def test_one_changed_byte_is_caught_and_named(
    report: Path, tmp_path: Path, name: str, listings: str
) -> None:
    copy = _copy(report, tmp_path)
    _flip(copy / name)

    result = CliRunner().invoke(main, ["verify", str(copy)])

    assert result.exit_code == 1
    assert result.stdout == f"differs: {name} (from its SHA-256 in {listings})\n"
    assert result.stderr == f"Error: {copy} does not verify (1 problem above).\n"


def test_a_figure_changed_in_its_middle_is_caught(report: Path, tmp_path: Path) -> None:
    copy = _copy(report, tmp_path)
    figure = copy / "figures/time.svg"
    _flip(figure, figure.stat().st_size // 2)

    assert verify_report(copy).problems == (
        "differs: figures/time.svg (from its SHA-256 in SHA256SUMS, provenance.json, report.md, "
        "report.html)",
    )


def test_missing_files_are_named_each_on_its_line(report: Path, tmp_path: Path) -> None:
    copy = _copy(report, tmp_path)
    (copy / "figures/growth.svg").unlink()
    (copy / "tables/errors.csv").unlink()

    result = _verify(str(copy))

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "missing: figures/growth.svg",
        "missing: tables/errors.csv",
        f"Error: {copy} does not verify (2 problems above).",
    ]


@pytest.mark.parametrize("name", ["../secret.txt", "tables/../../secret.txt", "{secret}"])
def test_a_sums_file_naming_a_path_outside_is_refused_unread(
    report: Path, tmp_path: Path, name: str
) -> None:
    copy = _copy(report, tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the report\n")
    name = name.format(secret=secret)  # the absolute path of the secret
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    sums = copy / "SHA256SUMS"
    sums.write_text(sums.read_text() + f"{digest}  {name}\n")
    line = len(_listed(copy))

    with _watching_opens() as opened, pytest.raises(ValueError) as refused:
        verify_report(copy)

    assert str(refused.value) == (
        f"SHA256SUMS line {line} in {copy} names {name!r}, not a plain relative path inside "
        "the report folder: refused (no file outside the folder was read)."
    )
    assert opened == [str(sums)]
    result = _verify(str(copy))
    assert result.exit_code == 2
    assert result.output == f"Error: {refused.value}\n"


@pytest.mark.parametrize(
    "line",
    [
        "not a checksum",
        "0123  tables/media.csv",
        f"{'A' * 64}  tables/media.csv",
        f"{'0' * 64}tables/media.csv",
    ],
)
def test_a_sums_file_not_in_sha256sums_format_is_refused(
    report: Path, tmp_path: Path, line: str
) -> None:
    copy = _copy(report, tmp_path)
    (copy / "SHA256SUMS").write_text(line + "\n")

    with pytest.raises(ValueError, match=r"line 1 is not '<SHA-256>  <file>'"):
        verify_report(copy)


def test_provenance_naming_a_path_outside_is_refused(report: Path, tmp_path: Path) -> None:
    copy = _copy(report, tmp_path)
    provenance = json.loads((copy / "provenance.json").read_text())
    provenance["checksums"]["/etc/passwd"] = "0" * 64
    (copy / "provenance.json").write_text(json.dumps(provenance))

    with pytest.raises(ValueError) as refused:
        verify_report(copy)

    assert str(refused.value) == (
        f"provenance.json in {copy} names '/etc/passwd', not a plain relative path inside the "
        "report folder: refused (no file outside the folder was read)."
    )


def test_a_listed_file_linking_out_of_the_folder_is_named_and_not_read(
    report: Path, tmp_path: Path
) -> None:
    copy = _copy(report, tmp_path)
    secret = tmp_path / "secret.csv"
    secret.write_bytes((report / "tables/media.csv").read_bytes())
    (copy / "tables/media.csv").unlink()
    (copy / "tables/media.csv").symlink_to(secret)

    with _watching_opens() as opened:
        result = verify_report(copy)

    assert result.problems == ("outside the report folder: tables/media.csv",)
    assert str(secret) not in opened
    assert not any(path.endswith("media.csv") for path in opened)


def test_a_folder_without_sums_is_not_a_report(tmp_path: Path) -> None:
    result = _verify(str(tmp_path))

    assert result.exit_code == 2
    assert result.output == (
        f"Error: {tmp_path} is not a report folder (no SHA256SUMS); igresearch report writes one.\n"
    )


def test_the_report_verifies_from_its_archive(report: Path, demo: Path) -> None:
    archive = demo / "archive.jsonl"

    result = verify_report(report, archive)

    assert result.problems == ()
    assert result.notes == (
        f"{archive} has the report's source_sha256",
        f"tables equal to those rebuilt from {archive}",
        "figures equal to those redrawn from the source (10 files)",
    )


def test_the_report_verifies_from_a_tables_folder(report: Path) -> None:
    """A folder of tables (here the report's own) is read as it is, not opened as a file."""
    tables = report / "tables"

    result = verify_report(report, tables)

    assert result.problems == ()
    assert result.notes == (
        f"tables equal to those rebuilt from {tables}",
        "figures equal to those redrawn from the source (10 files)",
    )


def test_a_changed_byte_in_the_archive_is_caught_and_named(
    report: Path, demo: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "copy.jsonl"  # another name: the content is what counts
    data = (demo / "archive.jsonl").read_bytes()
    at = data.index(b'"video_play_count":') + len(b'"video_play_count":')
    archive.write_bytes(data)
    _flip(archive, at)  # one digit of the first post's plays: 7 -> 6

    result = _verify(str(report), "--source", str(archive))

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"differs: {archive} (from the report's source_sha256)",
        "differs from the source: tables/media.parquet",
        "differs from the source: figures/growth.png (redrawn)",
        "differs from the source: figures/growth.svg (redrawn)",
        f"Error: {report} does not verify (4 problems above).",
    ]


def test_the_report_verifies_from_its_cassette_and_says_when_figures_are_not_compared(
    report: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = report_module.environment()
    elsewhere = {**here, "dependencies": {**here["dependencies"], "matplotlib": "0.1"}}
    monkeypatch.setattr(report_module, "environment", lambda: elsewhere)
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    cassette = cassette_path("demo.yaml")

    result = _verify(str(report), "--source", str(cassette))

    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"{cassette} is a cassette: replayed every recording it holds",
        f"tables equal to those rebuilt from {cassette}",
        "figures not compared: the report was made with matplotlib "
        f"{here['dependencies']['matplotlib']} (here 0.1)",
        "verified 27 files",
    ]


def test_a_pseudonymised_report_verifies_from_its_archive_with_the_salt(
    public_report: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    report, archive = public_report
    monkeypatch.setenv("IGRESEARCH_SALT", PUBLIC_SALT)

    assert verify_report(report, archive).notes == (
        f"{archive} has the report's source_sha256",
        f"tables equal to those rebuilt from {archive} (pseudonymised with the salt)",
        "figures equal to those redrawn from the source (10 files)",
    )
    monkeypatch.delenv("IGRESEARCH_SALT")
    unsalted = verify_report(report, archive)
    assert unsalted.problems[:5] == tuple(
        f"differs from the source: tables/{name}.parquet"
        for name in ("media", "comments", "owners", "children", "errors")
    )
    assert unsalted.notes[1] == (
        "the report is pseudonymised: set IGRESEARCH_SALT to its salt when the source is "
        "identified (a public cassette needs none)"
    )
    wrong = verify_report(report, archive, salt="another salt of 16+ characters")
    assert wrong.problems == tuple(
        f"differs from the source: tables/{name}.parquet"
        for name in ("media", "comments", "owners", "children", "errors")
    ) + tuple(
        f"differs from the source: figures/{kind}.{fmt} (redrawn)"
        for kind in ("distribution", "owners")  # the figures that name accounts
        for fmt in ("png", "svg")
    )


def test_a_pseudonymised_report_verifies_from_its_public_cassette_with_no_salt(
    public_report: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reviewer checks a published report from its public cassette: no personal data, no
    salt. The hostile archive's failed requests, which no cassette holds, are left out of the
    comparison; one changed answer in the cassette is caught."""
    report, archive = public_report
    public = tmp_path / "public.yaml"
    cassette_from_archive(archive, public, salt=PUBLIC_SALT)
    monkeypatch.delenv("IGRESEARCH_SALT", raising=False)
    result = verify_report(report, public)
    assert result.problems == ()
    assert result.notes == (
        f"{public} is a cassette: replayed every recording it holds",
        f"tables equal to those rebuilt from {public} (its pseudonyms as they are)",
        "figures equal to those redrawn from the source (10 files)",
    )
    text = public.read_text(encoding="utf-8")
    changed, count = re.subn(r"(video_play_count\\?\"?: ?)(\d)", _other_digit, text, count=1)
    assert count == 1
    public.write_text(changed, encoding="utf-8")
    assert "differs from the source: tables/media.parquet" in verify_report(report, public).problems


def _other_digit(match: re.Match[str]) -> str:
    return match[1] + str((int(match[2]) + 1) % 10)
