"""Citable reports: what they say, their checksums, their provenance; citations.

``demo`` and ``report`` (the demo study and its report, built once per run) are in conftest.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

import igresearch.report as report_module
from igresearch import __version__, collect
from igresearch.cli import main
from igresearch.report import software_citation, write_report
from igresearch.schema import SCHEMAS
from igresearch.tables import read_tables
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
    assert set(one) == set(two) and len(one) == 27  # 25, SPREADSHEET-SAFE.txt, datapackage.json
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


#: Usernames and a server message a stranger wrote: table breakers, a heading, tags, an image.
NAMES = {
    "C0ffee00001": "evil|cell\n# Heading <script>alert(1)</script>",
    "C0ffee00002": "![x](http://tracker/)<iframe src=x>",
    "C0ffee00003": '=HYPERLINK("http://x")',
}
REASON = "bad|reason\r\n## forged <script>x</script> ![x](http://tracker/) <iframe>"


def _unescaped(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell.strip())


def test_hostile_names_and_reasons_are_literal_text_in_report_md(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 12, item 2: usernames and attrition reasons reach report.md backslash-escaped, line
    breaks as spaces: the tables keep their cells, no heading is forged, no tag or link is live.
    Issue 12, item 1: its CSVs are spreadsheet-safe and read back exact."""
    for shortcode, name in NAMES.items():
        envelope = FakeAPI.media_for(shortcode)
        envelope["data"]["data"]["xdt_shortcode_media"]["owner"]["username"] = name
        fake_api.set_payload(shortcode, envelope)
    fake_api.set_payload("C0ffee00004", {"code": "0003", "msg": REASON, "data": None})
    archive = tmp_path / "archive.jsonl"
    options = {"api_key": "sk-test-report-0123456789", "base_url": fake_api.base_url}
    collect([*NAMES, "C0ffee00004"], archive=archive, progress=False, rate=1000.0, **options)
    write_report(archive, tmp_path / "out")
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")

    assert not re.search(r"(?<!\\)<(script|iframe)|(?<!\\)\]\(http|\r", text)
    assert text.count("\\<script\\>") == 2 and text.count("\\!\\[x\\]\\(http") == 2
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# igresearch report",
        *(f"## {h}" for h in ("Collection", "Outcomes and attrition", "Engagement by account")),
        *(f"## {h}" for h in ("Figures", "Data", "Software", "How to cite")),
    ]
    blocks = re.findall(r"(?m)(?:^\|.*\n)+", text)
    assert len(blocks) == 3  # outcomes, engagement by account, checksums
    for block in blocks:
        rows = [re.split(r"(?<!\\)\|", line)[1:-1] for line in block.splitlines()]
        assert all(len(row) == len(rows[0]) for row in rows), block
    accounts = [re.split(r"(?<!\\)\|", line)[1] for line in blocks[1].splitlines()[2:]]
    assert sorted(map(_unescaped, accounts)) == sorted(n.replace("\n", " ") for n in NAMES.values())
    lost = [line for line in text.splitlines() if line.startswith("- failed: ")]
    assert len(lost) == 1
    assert _unescaped(lost[0]).startswith("- failed: https://www.instagram.com/reel/C0ffee00004/: ")
    assert REASON.replace("\r\n", " ") in _unescaped(lost[0])

    tables = tmp_path / "out" / "tables"
    raw = pl.read_csv(tables / "media.csv", infer_schema=False)["owner_username"]
    assert set(raw) == {*(n for n in NAMES.values() if n[0] != "="), "'" + NAMES["C0ffee00003"]}
    csv_only = tmp_path / "csv"
    csv_only.mkdir()
    for path in [*tables.glob("*.csv"), tables / "SPREADSHEET-SAFE.txt"]:
        shutil.copy(path, csv_only)
    exact, back = read_tables(tables), read_tables(csv_only)
    for name in SCHEMAS:
        assert_frame_equal(getattr(back, name), getattr(exact, name))
    assert set(exact.media["owner_username"]) == set(NAMES.values())
