"""Citable reports: what they say, their checksums, their provenance; citations.

``demo`` and ``report`` (the demo study and its report, built once per run) are in conftest.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from igresearch import __version__
from igresearch.cli import main
from igresearch.report import software_citation, write_report

ROOT = Path(__file__).parent.parent


def test_every_file_is_written_whole_then_renamed_into_place(
    report: Path, report_renamed: list[Path]
) -> None:
    """Written through igresearch.files: a reader never sees half a file, and a failed write
    leaves an older report as it was."""
    written = {path for path in report.rglob("*") if path.is_file()}
    assert {"report.html", "report.md", "provenance.json", "data-dictionary.md"} <= {
        path.name for path in written
    }
    assert set(report_renamed) == written
    assert len(report_renamed) == len(written), "each file is written once"


def test_the_report_states_window_channels_outcomes_and_attrition(report: Path) -> None:
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "Window: 2026-03-02 to 2026-03-04" in text
    assert "Channel(s): apify" in text
    assert "| ok | 60 |" in text and "| unavailable | 4 |" in text
    assert text.count("- unavailable: https://www.instagram.com/reel/") == 4
    assert f"igresearch {__version__}" in text and "polars " in text and "vcrpy " in text
    assert "[data dictionary](data-dictionary.md)" in text
    assert (report / "data-dictionary.md").exists()
    assert "Dataset: Instagram video metadata for 60 posts, collected 2026-03-02" in text
    assert software_citation() in text


def test_every_written_file_has_a_correct_checksum(report: Path) -> None:
    provenance = json.loads((report / "provenance.json").read_text(encoding="utf-8"))
    listed = set(provenance["checksums"])
    written = {
        str(p.relative_to(report))
        for p in report.rglob("*")
        if p.is_file() and p.name not in ("report.md", "report.html", "provenance.json")
    }
    assert listed == written
    for name, digest in provenance["checksums"].items():
        assert hashlib.sha256((report / name).read_bytes()).hexdigest() == digest, name
    text = (report / "report.md").read_text(encoding="utf-8")
    assert all(f"`{d}`" in text for d in provenance["checksums"].values())
    assert sum(name.startswith("tables/") for name in listed) == 10  # parquet and CSV
    assert sum(name.startswith("figures/") for name in listed) == 10  # PNG and SVG


def test_parquet_files_carry_the_provenance(report: Path) -> None:
    metadata = pl.read_parquet_metadata(report / "tables" / "media.parquet")
    provenance = json.loads(metadata["igresearch.provenance"])
    assert provenance["posts"] == 60
    assert provenance["collection_window"][0].startswith("2026-03-02")
    assert metadata["igresearch.table"] == "media"
    assert metadata["igresearch.schema_version"] == provenance["schema_version"]


def test_the_html_shows_every_figure_and_the_tables(report: Path) -> None:
    page = (report / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'<img src="(figures/[a-z]+\.png)"', page)
    assert len(images) == 5 and all((report / image).exists() for image in images)
    assert "<th>account</th>" in page and "synthetic_pet_corner" in page


def test_a_tables_folder_gives_a_report_without_attrition(demo: Path, tmp_path: Path) -> None:
    write_report(demo / "tables", tmp_path)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "Outcomes and attrition" not in text
    assert "Posts: 60" in text


def test_cite_prints_software_and_dataset(report: Path) -> None:
    result = CliRunner().invoke(main, ["cite", str(report)])
    assert result.exit_code == 0
    assert f"(version {__version__})" in result.output
    assert "Dataset: Instagram video metadata for 60 posts" in result.output


def test_citation_cff_matches_the_package() -> None:
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert f'version: "{__version__}"' in cff
    assert "cff-version: 1.2.0" in cff and "license: MIT" in cff


def test_pseudonymized_report_names_no_account_and_no_url(demo: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    archive = str(demo / "archive.jsonl")
    assert (
        runner.invoke(main, ["report", archive, "--out", str(tmp_path), "--pseudonymize"]).exit_code
        == 2
    )
    result = runner.invoke(
        main, ["report", archive, "--out", str(tmp_path), "--pseudonymize", "--salt", "s3cret"]
    )
    assert result.exit_code == 0, result.output
    owners = pl.read_parquet(demo / "tables" / "owners.parquet")
    secrets = owners["username"].to_list() + owners["owner_id"].to_list()
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".html", ".csv", ".json"):
            text = path.read_text(encoding="utf-8")
            assert not any(secret in text for secret in secrets), path
            assert not re.search(r"instagram\.com/reel/[A-Za-z0-9_-]", text), path
