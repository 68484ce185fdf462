"""Citable reports: what they say, their checksums, their provenance; citations.

``demo`` and ``report`` (the demo study and its report, built once per run) are in conftest.py.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import tomllib
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import igresearch.report as report_module
from igresearch import __version__
from igresearch.cli import main
from igresearch.report import software_citation, write_report
from igresearch.schema import SCHEMAS
from igresearch.tables import Tables
from igresearch.testing import FakeAPI

ROOT = Path(__file__).parent.parent
PAGES = ("report.md", "report.html", "SHA256SUMS")  # the files that say when they were made


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _sums(folder: Path) -> dict[str, str]:
    """``SHA256SUMS`` of `folder` as {path: digest}, in its order; each line `<hex>  <path>`."""
    sums = {}
    for line in (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        assert match, line
        sums[match[2]] = match[1]
    return sums


def _report_at(
    demo: Path, out: Path, monkeypatch: pytest.MonkeyPatch, now: datetime, epoch: str | None
) -> dict[str, bytes]:
    """The files of a report of the demo archive written with the clock at `now` and
    SOURCE_DATE_EPOCH `epoch` (unset when None)."""

    with monkeypatch.context() as patch:
        patch.setattr(report_module, "time", SimpleNamespace(time=now.timestamp))
        if epoch is None:
            patch.delenv("SOURCE_DATE_EPOCH", raising=False)
        else:
            patch.setenv("SOURCE_DATE_EPOCH", epoch)
        write_report(demo / "archive.jsonl", out)
    return _files(out)


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
    assert text.count("- unavailable: https\\:\\/\\/www\\.instagram\\.com\\/reel\\/") == 4
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
        if p.is_file()
        and p.name not in ("report.md", "report.html", "provenance.json", "SHA256SUMS")
    }
    assert listed == written
    for name, digest in provenance["checksums"].items():
        assert hashlib.sha256((report / name).read_bytes()).hexdigest() == digest, name
    text = (report / "report.md").read_text(encoding="utf-8")
    assert all(f"`{d}`" in text for d in provenance["checksums"].values())
    tables = sorted(name for name in listed if name.startswith("tables/"))
    assert tables == sorted(  # parquet, CSV, the CSVs' descriptor and spreadsheet-safe marker
        [f"tables/{t}.{e}" for t in SCHEMAS for e in ("parquet", "csv")]
        + ["tables/SPREADSHEET-SAFE.txt", "tables/datapackage.json"]
    )
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
    # Issue 13, item 13: the software citation's year is the release's, as CITATION.cff says.
    assert f'date-released: "{report_module.RELEASED}"' in cff
    assert software_citation().startswith(f"igresearch developers ({report_module.RELEASED[:4]}).")


CITATION = (
    f"igresearch developers (2026). igresearch: Instagram video metadata for research "
    f"(version {__version__}) [Computer software]."
)


def _installed_with(monkeypatch: pytest.MonkeyPatch, *project_urls: str) -> None:
    """igresearch's installed metadata, as importlib.metadata gives it, with these Project-URLs."""
    found = Message()
    found["Name"], found["Version"] = "igresearch", __version__
    for entry in project_urls:
        found["Project-URL"] = entry  # each assignment adds one more header

    def metadata(name: str) -> Message:
        assert name == "igresearch"
        return found

    monkeypatch.setattr(importlib.metadata, "metadata", metadata)


def test_the_software_citation_says_where_the_package_metadata_says_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13, item 13: the repository and documentation come from Project-URL."""
    repository, docs = "https://example.org/igresearch", "https://example.org/igresearch/docs"
    _installed_with(monkeypatch, f"Documentation, {docs}", f"Source Code, {repository}")
    assert software_citation() == f"{CITATION} {repository} (documentation: {docs})"
    _installed_with(monkeypatch, f"Docs, {docs}", "Issues, https://example.org/issues")
    assert software_citation() == f"{CITATION} Documentation: {docs}"
    result = CliRunner().invoke(main, ["cite"])
    assert result.stdout == f"Software: {CITATION} Documentation: {docs}\n"


def test_without_project_urls_the_software_citation_invents_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13, item 13: no Project-URL (or none that is a web address), or no installed
    metadata at all: the package name and version only, never a made-up address."""
    _installed_with(monkeypatch)
    assert software_citation() == CITATION
    _installed_with(monkeypatch, "Repository, git@example.org:igresearch.git", "Homepage")
    assert software_citation() == CITATION

    def not_installed(name: str) -> Message:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "metadata", not_installed)
    assert software_citation() == CITATION


def test_the_installed_software_citation_names_only_the_urls_of_pyproject() -> None:
    """Issue 13, item 13: as installed from this pyproject.toml, the citation gives the
    addresses its [project.urls] declares, and no other."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = set(project.get("urls", {}).values())
    cited = set(re.findall(r"https?://[^\s)]+", software_citation()))
    assert cited <= declared
    assert software_citation().startswith(CITATION)


def test_pseudonymized_report_names_no_account_and_no_url(demo: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    archive = str(demo / "archive.jsonl")
    assert (
        runner.invoke(main, ["report", archive, "--out", str(tmp_path), "--pseudonymize"]).exit_code
        == 2
    )
    result = runner.invoke(
        main,
        [
            "report",
            archive,
            "--out",
            str(tmp_path),
            "--pseudonymize",
            "--salt",
            "s3cret, 16+ characters",
        ],
    )
    assert result.exit_code == 0, result.output
    owners = pl.read_parquet(demo / "tables" / "owners.parquet")
    secrets = owners["username"].to_list() + owners["owner_id"].to_list()
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".html", ".csv", ".json"):
            text = path.read_text(encoding="utf-8")
            assert not any(secret in text for secret in secrets), path
            assert not re.search(r"instagram\.com/reel/[A-Za-z0-9_-]", text), path


def test_a_salt_in_the_environment_alone_changes_nothing(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, item 7: $IGRESEARCH_SALT without --pseudonymize gives the identified report, no
    error; with --pseudonymize it is the salt, so none is typed where ps shows it."""
    owners = pl.read_parquet(demo / "tables" / "owners.parquet")
    username = owners["username"][0]
    monkeypatch.setenv("IGRESEARCH_SALT", "a salt of the environment")
    archive = str(demo / "archive.jsonl")
    runner = CliRunner()
    result = runner.invoke(main, ["report", archive, "--out", str(tmp_path / "plain")])
    assert result.exit_code == 0, result.output
    plain = pl.read_parquet(tmp_path / "plain" / "tables" / "owners.parquet")
    assert plain["username"].to_list() == owners["username"].to_list()
    escaped = username.replace("_", "\\_")  # as report.md escapes Markdown punctuation
    assert escaped in (tmp_path / "plain" / "report.md").read_text(encoding="utf-8")
    args = ["report", archive, "--out", str(tmp_path / "public"), "--pseudonymize"]
    assert runner.invoke(main, args).exit_code == 0
    public = pl.read_parquet(tmp_path / "public" / "tables" / "owners.parquet")
    assert username not in public["username"].to_list()


def test_a_later_report_of_the_same_archive_differs_only_in_its_pages(
    report: Path, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, item 9: with the clock moved years on, every file but the pages (and the
    SHA256SUMS that covers them) is byte-identical; nothing else records when it was made."""
    later = _report_at(demo, tmp_path, monkeypatch, datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC), None)
    first = _files(report)
    assert set(later) == set(first)
    assert [name for name in sorted(first) if first[name] != later[name]] == sorted(PAGES)
    assert b"Generated 2031-05-06T07:08:09+00:00 by igresearch" in later["report.md"]
    assert b"Generated 2031-05-06T07:08:09+00:00 by igresearch" in later["report.html"]
    assert b"Generated 2031" not in first["report.md"]
    provenance = json.loads(later["provenance.json"])
    assert not [key for key in provenance if "generated" in key or "time" in key]
    assert b"2031" not in later["provenance.json"]
    assert not any(b"2031" in later[name] for name in later if name.endswith(".parquet"))


def test_with_source_date_epoch_every_file_is_byte_identical(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, item 9: two reports of one archive with SOURCE_DATE_EPOCH set, the clock moved
    between them, into different folders: every file identical, and the pages give that time."""
    epoch = "1767225600"  # 2026-01-01T00:00:00Z
    one = _report_at(demo, tmp_path / "one", monkeypatch, datetime(2031, 1, 1, tzinfo=UTC), epoch)
    two = _report_at(demo, tmp_path / "two", monkeypatch, datetime(2032, 2, 2, tzinfo=UTC), epoch)
    assert (
        set(one) == set(two) and len(one) == 28
    )  # 25, SPREADSHEET-SAFE.txt, datapackage.json, methods.md
    assert [name for name in sorted(one) if one[name] != two[name]] == []
    assert b"Generated 2026-01-01T00:00:00+00:00 by igresearch" in one["report.md"]
    assert b"Generated 2026-01-01T00:00:00+00:00 by igresearch" in one["report.html"]


def test_a_malformed_source_date_epoch_is_an_error_before_anything_is_written(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, item 9: SOURCE_DATE_EPOCH that is not whole seconds is refused, with a hint."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ValueError, match=r"SOURCE_DATE_EPOCH='yesterday' is not a time"):
        write_report(demo / "archive.jsonl", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_sha256sums_covers_every_other_file_and_sha256sum_checks_it(report: Path) -> None:
    """Issue 12, item 10: SHA256SUMS, in the format of sha256sum, lists every other file of the
    folder (the pages and provenance.json included) with its SHA-256; sha256sum -c agrees."""
    listed = _sums(report)
    files = _files(report)
    assert set(listed) == set(files) - {"SHA256SUMS"}
    assert {"report.md", "report.html", "provenance.json", "tables/media.parquet"} <= set(listed)
    assert listed == {name: hashlib.sha256(files[name]).hexdigest() for name in listed}
    assert list(listed) == sorted(listed)
    if shutil.which("sha256sum") is None:
        pytest.skip("no sha256sum on this machine (the digests are checked above)")
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=report, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK\n") == len(listed)


def test_both_pages_list_the_same_checksums_with_the_archives(report: Path, demo: Path) -> None:
    """Issue 12, item 10: report.md and report.html give the same SHA-256 digests: the source
    archive's and those of every file but the pages and SHA256SUMS."""
    provenance = json.loads((report / "provenance.json").read_text(encoding="utf-8"))
    archive = hashlib.sha256((demo / "archive.jsonl").read_bytes()).hexdigest()
    sums = _sums(report)
    expected = {archive} | {d for n, d in sums.items() if n not in ("report.md", "report.html")}
    assert provenance["source_sha256"] == archive
    digests = re.compile(r"\b[0-9a-f]{64}\b")
    for page in ("report.md", "report.html"):
        text = (report / page).read_text(encoding="utf-8")
        assert set(digests.findall(text)) == expected, page
        assert "sha256sum -c SHA256SUMS" in text
    page = (report / "report.html").read_text(encoding="utf-8")
    assert f"<td><code>provenance.json</code></td><td><code>{sums['provenance.json']}" in page


def test_every_parquet_holds_the_provenance_in_its_arrow_schema(report: Path) -> None:
    """Issue 12, item 11: pyarrow (and so pandas) reads the provenance from the Arrow schema
    metadata of every report parquet, as polars reads it from the file's key-value metadata."""
    provenance = json.loads((report / "provenance.json").read_text(encoding="utf-8"))
    del provenance["checksums"]  # known only once the tables are written
    parquets = sorted((report / "tables").glob("*.parquet"))
    assert [p.stem for p in parquets] == ["children", "comments", "errors", "media", "owners"]
    for path in parquets:
        schema = pq.read_schema(path).metadata
        assert schema is not None, path
        assert json.loads(schema[b"igresearch.provenance"]) == provenance, path
        assert schema[b"igresearch.table"] == path.stem.encode()
        assert schema[b"igresearch.schema_version"] == str(provenance["schema_version"]).encode()
        polars = pl.read_parquet_metadata(path)
        assert polars["igresearch.provenance"] == schema[b"igresearch.provenance"].decode()
        assert polars["igresearch.table"] == path.stem


GROWTH_LEFT_OUT = (
    "The growth figure is left out: no reel has plays in two snapshots "
    "(collect again with --refresh-older-than to add one)."
)


def test_a_figure_without_data_is_left_out_and_the_report_says_why(tmp_path: Path) -> None:
    """Issue 13, item 7: a first run (one snapshot of each reel) has no growth figure; the
    report leaves it out and says why in one line, in both pages."""
    responses = tmp_path / "responses.jsonl"
    codes = ["C0ffee00001", "C0ffee00002", "C0ffee00003"]
    responses.write_text("".join(json.dumps(FakeAPI.media_for(c)) + "\n" for c in codes))
    out = tmp_path / "report"
    write_report(responses, out)
    kinds = ["distribution", "owners", "scatter", "time"]
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
        f"{kind}.{fmt}" for kind in kinds for fmt in ("png", "svg")
    ]
    assert "growth" not in (out / "SHA256SUMS").read_text(encoding="utf-8")
    text = (out / "report.md").read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if "left out" in line] == [GROWTH_LEFT_OUT]
    assert re.findall(r"!\[([a-z]+)\]", text) == kinds
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("left out") == 1 and f"<p>{GROWTH_LEFT_OUT}</p>" in page
    assert re.findall(r'<img src="figures/([a-z]+)\.png"', page) == kinds


def test_a_report_with_every_figure_leaves_none_out(report: Path) -> None:
    for page in ("report.md", "report.html"):
        assert "left out:" not in (report / page).read_text(encoding="utf-8")


def test_each_median_stands_next_to_the_reels_it_is_computed_from(
    report: Path, demo_tables: Tables
) -> None:
    """Issue 13, item 10: the engagement table gives each account's reels and, for each rate,
    the reels that have it (7 reels, 6 with a like rate: the median is of 6)."""
    text = (report / "report.md").read_text(encoding="utf-8")
    header = (
        "| account | reels | reels with like_rate | median like_rate (%) "
        "| reels with comment_rate | median comment_rate (%) "
        "| reels with engagement_rate | median engagement_rate (%) |"
    )
    assert header in text
    assert "| synthetic\\_local\\_market | 7 | 6 | 9.19 | 7 | 0.8 | 6 | 9.99 |" in text
    assert "| synthetic\\_news\\_desk | 7 | 7 | 1.27 | 7 | 0.44 | 7 | 1.61 |" in text
    # every row, from the newest snapshot of each reel, counted here without igresearch.metrics
    newest = demo_tables.media.sort("fetched_at").group_by("media_id").last()
    likes = pl.col("like_count").is_not_null() & ~pl.col("likes_hidden").fill_null(False)
    plays = pl.col("play_count") > 0
    counts = (
        newest.group_by("owner_username")
        .agg(
            pl.len().alias("reels"),
            (plays & likes).sum().alias("like"),
            (plays & pl.col("comment_count").is_not_null()).sum().alias("comment"),
            (plays & likes & pl.col("comment_count").is_not_null()).sum().alias("engagement"),
        )
        .sort("owner_username")
    )
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| synthetic")]
    assert len(rows) == counts.height == 8
    for row, (_, *expected) in zip(rows, counts.iter_rows(), strict=True):
        assert [int(row[i]) for i in (1, 2, 4, 6)] == expected
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "<th>reels</th><th>reels with like_rate</th><th>median like_rate (%)</th>" in page
    assert "<td>synthetic_local_market</td><td>7</td><td>6</td><td>9.19</td><td>7</td>" in page


def test_methods_md_is_a_methods_paragraph_from_the_provenance(report: Path) -> None:
    """Issue 15, item 5: the methods paragraph a study's README points to, listed and checked
    like every other file, and the same bytes for the same provenance (no time in it)."""
    from igresearch.report import dataset_citation, methods

    provenance = json.loads((report / "provenance.json").read_text(encoding="utf-8"))
    text = (report / "methods.md").read_text(encoding="utf-8")
    assert provenance["checksums"]["methods.md"] == hashlib.sha256(text.encode()).hexdigest()
    assert text == methods(provenance, dataset_citation(report))
    assert text.startswith("# Methods\n\n") and max(map(len, text.splitlines())) <= 96
    flat = " ".join(text.split())
    assert "collected from 2026-03-02 to 2026-03-04 (UTC)" in flat
    assert "API (channel apify) with igresearch 0.1.0 (Python " in flat
    assert "Of 64 posts requested, 60 were stored, 4 were unavailable" in flat
    assert f"The archive has SHA-256 {provenance['source_sha256']}." in flat
    media = provenance["checksums"]["tables/media.parquet"]
    assert f"(tables/media.parquet) has SHA-256 {media};" in flat
    assert f"Data: {dataset_citation(report)} Software: {software_citation()}" in flat
