"""Issue 12: one archive of hostile content (tests/hostile.py) drives every output.

Reports (Markdown, HTML, CSV, parquet, SVG, PNG, JSON), the command line, and the Jupyter
displays: nothing strangers wrote becomes markup, a formula, a terminal command or a forged line,
and a pseudonymised report names nobody.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import hostile as posts
import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image
from polars.testing import assert_frame_equal

import igresearch.report as report_module
from igresearch import collect
from igresearch.archive import Attrition
from igresearch.cli import main
from igresearch.controls import CONTROL, oneline
from igresearch.report import write_report
from igresearch.schema import SCHEMA_VERSION, SCHEMAS
from igresearch.tables import Tables, read_tables, to_tables
from igresearch.testing import FakeAPI

FORMULA = re.compile(r"^[=+\-@\t\r']")
HEADINGS = [
    "# igresearch report",
    *(f"## {h}" for h in ("Collection", "Outcomes and attrition", "Engagement by account")),
    *(f"## {h}" for h in ("Figures", "Data", "Software", "How to cite")),
]
LIVE = re.compile(r"(?<!\\)<(script|iframe)|(?<!\\)\]\(http")


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


# --- item 1: CSV formulas


def test_item1_report_csvs_quote_formulas_and_read_back_exact(
    hostile_report: Path, tmp_path: Path
) -> None:
    tables = hostile_report / "tables"
    exact = read_tables(tables)  # parquet
    quoted = 0
    for name, schema in SCHEMAS.items():
        raw = pl.read_csv(tables / f"{name}.csv", infer_schema=False)
        frame = getattr(exact, name)
        for column, dtype in schema.items():
            if dtype != pl.String():
                continue
            for value, cell in zip(frame[column], raw[column], strict=True):
                expected = "'" + value if value and FORMULA.match(value) else value
                assert cell == (expected or None), (name, column, value)
                quoted += expected != value
    assert quoted >= 6  # the fixture's =HYPERLINK, +cmd, @SUM and -2+3 cells, at least
    csv_only = tmp_path / "csv"
    csv_only.mkdir()
    for path in [*tables.glob("*.csv"), tables / "SPREADSHEET-SAFE.txt"]:
        shutil.copy(path, csv_only)
    back = read_tables(csv_only)
    for name in SCHEMAS:
        assert_frame_equal(getattr(back, name), getattr(exact, name))
    assert set(exact.comments["text"]) >= {posts.POSTS["C0ffee00101"]["comment"]}


# --- item 2: report.md


def _unescaped(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell.strip())


def test_item2_report_md_keeps_its_structure_and_no_tag_or_link_is_live(
    hostile_report: Path, hostile: Path
) -> None:
    text = (hostile_report / "report.md").read_text(encoding="utf-8")
    assert not LIVE.search(text)
    assert not CONTROL.search(text.replace("\n", ""))  # no \r, ESC, NUL, bidi control...
    assert [line for line in text.splitlines() if line.startswith("#")] == HEADINGS
    blocks = re.findall(r"(?m)(?:^\|.*\n)+", text)
    assert len(blocks) == 3  # outcomes, engagement by account, checksums
    for block in blocks:
        rows = [re.split(r"(?<!\\)\|", line)[1:-1] for line in block.splitlines()]
        assert all(len(row) == len(rows[0]) for row in rows), block
    accounts = [re.split(r"(?<!\\)\|", line)[1] for line in blocks[1].splitlines()[2:]]
    expected = [oneline(p["username"].replace("\n", " ")) for p in posts.POSTS.values()]
    assert sorted(map(_unescaped, accounts)) == sorted(expected)
    lost = [line for line in text.splitlines() if re.match(r"- (failed|unavailable)\\?: ", line)]
    assert len(lost) == 3
    failed = f"- failed: https://www.instagram.com/reel/{posts.FAILED}/: "
    assert _unescaped(lost[0]).startswith(failed)
    assert oneline(re.sub(r"[\r\n]", " ", posts.FAILED_MESSAGE)) in _unescaped(lost[0])


def test_item2_report_html_escapes_every_value(hostile_report: Path) -> None:
    page = (hostile_report / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script|<iframe|href=.http", page)
    assert not CONTROL.search(page.replace("\n", ""))
    assert html.escape("hostile_tags<script>alert(1)</script>") in page
    assert "hostile_math$\\frac{a}{b}$\\u202etxt.exe\\u2066" in page


# --- item 3: the terminal


def _plain(output: str) -> None:
    """No control character but our newlines and tabs."""
    assert not CONTROL.search(output.replace("\n", "").replace("\t", "")), repr(output)


def test_item3_every_command_shows_hostile_text_escaped(
    hostile: Path, tmp_path: Path, fake_api: FakeAPI
) -> None:
    runner = CliRunner()
    status = runner.invoke(main, ["status", str(hostile)])
    assert status.exit_code == 0, status.output
    _plain(status.output)
    lines = status.output.splitlines()
    assert len(lines) == 1 + 3 + 1 + 2 + 3  # header, 3 outcomes, blank, 2 headings, 3 lost
    assert all(len(line.split("\t")) == 4 for line in lines[-3:])
    assert "owner hostile_private_person is private" in lines[-3] + lines[-2] + lines[-1]

    shown = runner.invoke(main, ["tables", str(hostile)])
    assert shown.exit_code == 0, shown.output
    _plain(shown.output)
    assert "\\x1b]0;pwned" in shown.output or "\\x1b" in shown.output

    for args in (
        ["report", str(hostile), "--out", str(tmp_path / "r")],
        ["cite", str(tmp_path / "r")],
        ["plot", str(hostile), "--kind", "owners", "--out", str(tmp_path / "p.png")],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
        _plain(result.output)

    post = posts.POSTS["C0ffee00101"]
    fake_api.set_payload("C0ffee00101", posts.envelope("C0ffee00101", post, 1))
    fake_api.set_payload(posts.FAILED, {"code": "0003", "msg": posts.FAILED_MESSAGE, "data": None})
    env = {"MEMORIES_API_KEY": "sk-hostile-cli-0123456789", "MEMORIES_BASE_URL": fake_api.base_url}
    fetched = runner.invoke(main, ["fetch", "C0ffee00101"], env=env)
    assert fetched.exit_code == 0, fetched.output
    _plain(fetched.output)
    node = json.loads(fetched.output)["data"]["data"]["xdt_shortcode_media"]
    assert node["owner"]["username"] == post["username"]  # valid JSON, the exact value

    archive = str(tmp_path / "c.jsonl")
    args = ["collect", posts.FAILED, "--archive", archive, "--no-progress"]
    collected = runner.invoke(main, args, env=env)
    _plain(collected.output)
    failed = runner.invoke(main, ["fetch", posts.FAILED], env=env)
    assert failed.exit_code == 1
    _plain(failed.output)
    assert "owner hostile_private_person is private" in failed.output
    assert "\\x1b]0;pwned\\x07" in failed.output


# --- item 4: figures


def test_item4_every_svg_parses_and_png_text_is_plain(hostile_report: Path) -> None:
    svgs = sorted((hostile_report / "figures").glob("*.svg"))
    assert [p.stem for p in svgs] == sorted(p.stem for p in svgs) and len(svgs) >= 4
    for svg in svgs:
        ET.parse(svg)  # raises on invalid XML: a control character, a raw "<"
        text = svg.read_text(encoding="utf-8")
        assert not CONTROL.search(text.replace("\n", "").replace("\t", "")), svg
    labels = (hostile_report / "figures" / "owners.svg").read_text(encoding="utf-8")
    assert "hostile_math$\\frac{a}{b}$" in labels  # drawn as plain text, not as a fraction


# --- items 5-7: privacy


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def _decoded(path: Path) -> str:
    """Every text `path` holds, decoded as a reader's tool would decode it."""
    suffix = path.suffix
    if suffix == ".parquet":
        frame = pl.read_parquet(path)
        cells = [str(v) for c in frame.columns for v in frame[c].explode().to_list()]
        metadata = pq.read_schema(path).metadata or {}
        keys = pl.read_parquet_metadata(path)
        return "\n".join(
            [*cells, *(k.decode() + v.decode() for k, v in metadata.items()), *keys.values()]
        )
    if suffix == ".png":
        with Image.open(path) as image:
            return "\n".join(f"{k} {v}" for k, v in image.text.items())
    raw = path.read_text(encoding="utf-8")
    parts = [raw, html.unescape(raw), re.sub(r"\\(.)", r"\1", raw)]
    if suffix == ".json":
        parts += _strings(json.loads(raw))
    if suffix == ".svg":
        root = ET.fromstring(raw)
        parts += [t for e in root.iter() for t in (e.text, e.tail, *e.attrib.values()) if t]
    if suffix == ".csv":
        frame = pl.read_csv(path, infer_schema=False)
        parts += [str(v) for c in frame.columns for v in frame[c].to_list()]
    return "\n".join(parts)


def _originals(archive: Path) -> set[str]:
    """Every username, full name, id, shortcode, audio id and post URL the archive holds."""
    tables = to_tables(archive)
    media, comments, owners = tables.media, tables.comments, tables.owners
    columns = [
        owners["username"], owners["full_name"], owners["owner_id"],
        media["owner_username"], media["coauthor_usernames"].explode(), media["owner_id"],
        media["media_id"], media["shortcode"], media["audio_id"], media["url"],
        media.filter(pl.col("uses_original_audio").fill_null(True))["music_artist"],
        comments["comment_id"], comments["parent_comment_id"], comments["owner_id"],
        comments["owner_username"], comments["media_id"],
        tables.children["media_id"], tables.children["shortcode"], tables.errors["shortcode"],
    ]  # fmt: skip
    values = {v for column in columns for v in column.drop_nulls().to_list()}
    urls = {json.loads(line)["url"] for line in archive.read_text(encoding="utf-8").splitlines()}
    return values | urls | set(posts.NAMED_BY_SERVERS)


def _found(originals: set[str], folder: Path) -> dict[str, list[str]]:
    """The originals each file of `folder` shows: a word-like one as a whole word (so "1234"
    is not found inside "12345"), any other one anywhere."""
    words = {value for value in originals if re.fullmatch(r"[\w.]+", value)}
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = _decoded(path)
        tokens = set(re.findall(r"[\w.]+", text))
        tokens |= {token.strip(".") for token in tokens}
        shown = (words & tokens) | {value for value in originals - words if value in text}
        if shown:
            found[path.relative_to(folder).as_posix()] = sorted(shown)
    return found


def test_items5_to_7_a_pseudonymised_report_names_nobody(
    public_report: tuple[Path, Path], hostile_report: Path, hostile: Path
) -> None:
    folder, joined = public_report
    originals = _originals(joined)
    assert len(originals) > 100  # the demo's accounts, posts and comments, and the fixture's
    assert _found(originals, folder) == {}
    # The search finds them where they are: in the identified report of the hostile archive.
    identified = _found(_originals(hostile), hostile_report)
    assert "hostile_private_person" in identified["provenance.json"]
    assert {"C0ffee00101", "880000000000101"} <= set(identified["tables/media.parquet"])


def test_item5_reasons_are_categories_in_every_place_of_a_public_report(
    public_report: tuple[Path, Path], hostile: Path
) -> None:
    folder, _ = public_report
    categories = [lost.category for lost in Attrition.of(hostile).lost]
    assert categories == [
        "failed: APIError HTTP 200 code 3",
        "unavailable: error item",
        "failed: APIError HTTP 500 code 500",
    ]
    provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    reasons = [lost["reason"] for lost in provenance["attrition"]]
    assert reasons[:3] == categories and "url" not in provenance["attrition"][0]
    assert all(re.fullmatch(r"(failed|unavailable|malformed): [\w :-]+", r) for r in reasons)
    for name in SCHEMAS:
        metadata = pq.read_schema(folder / "tables" / f"{name}.parquet").metadata
        assert (
            json.loads(metadata[b"igresearch.provenance"])["attrition"][:3]
            == (provenance["attrition"][:3])
        )
    errors = pl.read_parquet(folder / "tables" / "errors.parquet")
    assert errors["reason"].to_list() == errors["category"].to_list()
    assert errors["reason"].head(3).to_list() == categories
    for page in ("report.md", "report.html"):
        text = _unescaped(html.unescape((folder / page).read_text(encoding="utf-8")))
        assert all(category in text for category in categories), page
        assert "instagram.com" not in text


def test_item6_audio_ids_and_original_audio_artists_are_pseudonymised(
    public_report: tuple[Path, Path],
) -> None:
    folder, _ = public_report
    media = pl.read_parquet(folder / "tables" / "media.parquet")
    assert media["audio_id"].drop_nulls().str.contains(r"^audio_[0-9a-f]{16}$").all()
    licensed = media.filter(pl.col("uses_original_audio").not_())
    assert set(licensed["music_artist"]) >= {posts.POSTS["C0ffee00102"]["artist"]}
    original = media.filter(pl.col("uses_original_audio"))["music_artist"].drop_nulls()
    assert original.str.contains(r"^user_[0-9a-f]{16}$").all() and len(original) > 3
    assert (
        pq.read_schema(folder / "tables" / "media.parquet").metadata[b"igresearch.schema_version"]
        == SCHEMA_VERSION.encode()
    )
    dictionary = (folder / "data-dictionary.md").read_text(encoding="utf-8")
    assert "`audio_...`" in dictionary and "unless `uses_original_audio` is false" in dictionary


# --- item 8: permissions


def test_item8_an_identified_report_is_private_a_public_one_follows_the_umask(
    hostile_report: Path, public_report: tuple[Path, Path]
) -> None:
    for path in [hostile_report, *hostile_report.rglob("*")]:
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path
    folder, _ = public_report
    assert all(p.stat().st_mode & 0o077 for p in folder.rglob("*"))  # readable by others


# --- items 9-11: byte-reproducible, checksums, provenance for pyarrow


def test_item9_two_reports_of_the_hostile_archive_are_byte_identical(
    hostile: Path, hostile_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another report of the hostile archive, the clock a year and a half on: only the pages
    and the file of checksums that covers them differ."""
    later = datetime(2028, 6, 1, 12, 30, tzinfo=UTC)
    monkeypatch.setattr(report_module, "time", SimpleNamespace(time=later.timestamp))
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    write_report(hostile, tmp_path / "later")
    first, second = _files(hostile_report), _files(tmp_path / "later")
    assert first.keys() == second.keys()
    assert {name for name in first if first[name] != second[name]} == {
        "report.md", "report.html", "SHA256SUMS"
    }  # fmt: skip
    assert b"Generated 2028-06-01T12:30:00+00:00" in second["report.md"]


def test_item10_sha256sum_checks_the_hostile_report(hostile_report: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=hostile_report, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    files = {p.relative_to(hostile_report).as_posix() for p in hostile_report.rglob("*")}
    files = {f for f in files if (hostile_report / f).is_file()} - {"SHA256SUMS"}
    assert sorted(checked.stdout.splitlines()) == sorted(f"{f}: OK" for f in files)
    sums = (hostile_report / "SHA256SUMS").read_text(encoding="utf-8")
    for page in ("report.md", "report.html"):  # both pages list every other file's checksum
        text = (hostile_report / page).read_text(encoding="utf-8")
        assert all(
            line.split("  ")[0] in text for line in sums.splitlines() if "report." not in line
        )


def test_item11_pyarrow_reads_the_provenance_of_every_table(hostile_report: Path) -> None:
    provenance = json.loads((hostile_report / "provenance.json").read_text(encoding="utf-8"))
    del provenance["checksums"]
    for name in SCHEMAS:
        metadata = pq.read_schema(hostile_report / "tables" / f"{name}.parquet").metadata
        assert json.loads(metadata[b"igresearch.provenance"]) == provenance


# --- Jupyter


def test_jupyter_displays_escape_hostile_text(
    hostile: Path, fake_api: FakeAPI, tmp_path: Path
) -> None:
    tables = to_tables(hostile)
    fake_api.set_payload(posts.FAILED, {"code": "0003", "msg": posts.FAILED_MESSAGE, "data": None})
    fake_api.set_for("C0ffee00107", "no_credits")  # stops the run: its message is shown
    summary = collect(
        [posts.FAILED, "C0ffee00107"], archive=tmp_path / "a.jsonl",
        api_key="sk-jupyter-0123456789", base_url=fake_api.base_url, progress=False,
        rate=1000.0, concurrency=1,
    )  # fmt: skip
    views = {
        "Tables": tables._repr_html_(),
        "Attrition": Attrition.of(hostile)._repr_html_(),
        "Summary": summary._repr_html_(),
        **{f"polars {name}": getattr(tables, name)._repr_html_() for name in SCHEMAS},
    }
    for name, view in views.items():
        assert not re.search(r"<script|<iframe", view), name
    for name in ("Tables", "Attrition", "Summary"):
        assert not CONTROL.search(views[name]), name
    assert "hostile_tags&lt;script&gt;alert(1)&lt;/script&gt;" in views["Tables"]
    assert "<td>media</td><td>3</td>" in views["Tables"]
    assert "code 0003: owner hostile_priva…" in views["Attrition"]  # cut at 80 characters
    assert "Stopped early: No credits left" in views["Summary"]
    assert "<td>failed</td><td>2</td>" in views["Summary"]
    assert len(repr(summary)) < 200 and len(repr(tables)) < 100


def test_the_fixture_holds_every_hostile_piece(hostile: Path) -> None:
    tables: Tables = to_tables(hostile)
    texts = [
        *tables.media["caption"], *tables.media["owner_username"], *tables.media["location_name"],
        *tables.comments["text"], *tables.comments["owner_username"], *tables.owners["full_name"],
    ]  # fmt: skip
    for piece in posts.PIECES:
        assert any(piece in text for text in texts), repr(piece)
