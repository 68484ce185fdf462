"""datapackage.json beside every set of CSVs (issue 13, item 11): valid for frictionless, offline,
and read through it every id, count, time and flag comes back exact.

The suite blocks every connection beyond loopback (igresearch.pytest_plugin), so a validation that
tried to fetch a remote profile would fail here instead of passing.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import frictionless
import pandas as pd
import polars as pl
from click.testing import CliRunner

from igresearch.cli import main
from igresearch.datapackage import datapackage
from igresearch.report import write_report
from igresearch.schema import SCHEMA_VERSION, SCHEMAS, TABLES
from igresearch.tables import Tables, to_tables
from igresearch.testing import FakeAPI

SALT = "a salt for the datapackage tests"
REAL_ID = "17928500965369377"  # issue 13: pandas read it as 17928500965369376.0


def _descriptor(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    return loaded


def _valid(folder: Path) -> frictionless.Report:
    report = frictionless.validate(str(folder / "datapackage.json"))
    assert report.valid, report.flatten(["taskName", "rowNumber", "fieldName", "type", "note"])
    return report


def _keys(value: Any) -> Iterator[str]:
    """Every key of every object in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def _read_through_descriptor(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows as frictionless reads them through the descriptor; in spreadsheet-safe
    CSVs, the one leading ' the descriptor announces is removed from text values. Numbers come
    as Decimal (the digits written), here made floats as any reader does."""
    safe = _descriptor(folder)["spreadsheetSafe"]
    package = frictionless.Package(str(folder / "datapackage.json"))
    tables = {}
    for resource in package.resources:
        rows = [
            {k: float(v) if isinstance(v, Decimal) else v for k, v in row.to_dict().items()}
            for row in resource.read_rows()
        ]
        if safe:
            rows = [
                {k: v.removeprefix("'") if isinstance(v, str) else v for k, v in row.items()}
                for row in rows
            ]
        tables[resource.name] = rows
    return tables


def _exact(folder: Path, tables: dict[str, pl.DataFrame]) -> None:
    """Read through `folder`'s descriptor, every table holds exactly the values of `tables`."""
    read = _read_through_descriptor(folder)
    assert list(read) == list(tables)
    for name, frame in tables.items():
        assert read[name] == frame.to_dicts(), name


def test_the_descriptor_types_every_declared_column() -> None:
    """Generated from schema.py: every column, in order, with its meaning and caveat; ids as
    strings, counts integer, times datetime in the format polars writes, booleans as CSV writes
    them, lists as JSON arrays; a key declared only where the data has it and is unique."""
    tables = to_tables(FakeAPI.media_for("DLlGZiCOBQ0"))  # a bare response: no fetch time
    frames = {name: getattr(tables, name) for name in SCHEMAS}
    text = datapackage(frames, spreadsheet_safe=False)
    assert text == datapackage(frames, spreadsheet_safe=False)
    package = json.loads(text)
    assert [r["name"] for r in package["resources"]] == list(SCHEMAS)
    assert [r["path"] for r in package["resources"]] == [f"{name}.csv" for name in SCHEMAS]
    for resource in package["resources"]:
        fields = resource["schema"]["fields"]
        assert [f["name"] for f in fields] == SCHEMAS[resource["name"]].names()
        assert [f["description"] for f in fields] == [
            f"{c.meaning} {c.caveat}".strip() for c in TABLES[resource["name"]]
        ]
        assert resource["schema"]["missingValues"] == [""]
    media = {f["name"]: f for f in package["resources"][0]["schema"]["fields"]}
    boolean = {"type": "boolean", "trueValues": ["true"], "falseValues": ["false"]}
    expected = {
        "media_id": {"type": "string"},
        "audio_id": {"type": "string"},
        "like_count": {"type": "integer"},
        "duration_s": {"type": "number"},
        "is_video": boolean,
        "taken_at": {"type": "datetime", "format": "%Y-%m-%dT%H:%M:%S.%f%z"},
        "coauthor_usernames": {"type": "array", "arrayItem": {"type": "string"}},
    }
    for name, kind in expected.items():
        assert {k: v for k, v in media[name].items() if k not in ("name", "description")} == kind
    keys = {r["name"]: r["schema"].get("primaryKey") for r in package["resources"]}
    assert keys == {
        "media": None,  # fetched_at is null: a bare response says not when it was fetched
        "comments": ["comment_id"],
        "owners": ["owner_id"],
        "children": ["parent_media_id", "position", "fetched_at"],  # no rows: none lacks it
        "errors": None,
    }
    assert package["spreadsheetSafe"] is False
    assert package["igresearchSchemaVersion"] == SCHEMA_VERSION
    assert not {"$schema", "profile"} & set(_keys(package))
    assert "http" not in text.replace("https://www.instagram.com/reel/<shortcode>/", "")


def test_pandas_and_frictionless_keep_real_ids_exact_through_the_descriptor(
    tmp_path: Path,
) -> None:
    """Issue 13's case: ids above 2^53 in a column with nulls. Guessing types, pandas makes them
    float64 and changes them; with the descriptor's types, pandas and frictionless keep them."""
    tables = to_tables(FakeAPI.media_for("DLlGZiCOBQ0"))
    comments = pl.concat([tables.comments, tables.comments]).with_columns(
        comment_id=pl.Series(["17928500965369375", "17928500965369379"]),
        parent_comment_id=pl.Series([None, REAL_ID]),
    )
    media = tables.media.with_columns(audio_id=pl.lit(REAL_ID))
    media = pl.concat([media, media.with_columns(pl.lit(None, pl.String).alias("audio_id"))])
    tables = Tables(**{**{n: getattr(tables, n) for n in SCHEMAS}, "comments": comments})
    tables = Tables(**{**{n: getattr(tables, n) for n in SCHEMAS}, "media": media})
    paths = tables.write(tmp_path, format="csv")
    assert tmp_path / "datapackage.json" in paths

    guessed = pd.read_csv(tmp_path / "comments.csv")
    assert guessed["parent_comment_id"].dtype == "float64"
    assert int(guessed["parent_comment_id"][1]) != int(REAL_ID)  # the bug the descriptor fixes

    _valid(tmp_path)
    _exact(tmp_path, {name: getattr(tables, name) for name in SCHEMAS})
    for name in ("comments", "media"):
        frame = _read_with_pandas(tmp_path, name)
        for column in ("comment_id", "parent_comment_id", "media_id", "audio_id"):
            if column in frame:
                assert _values(frame[column]) == getattr(tables, name)[column].to_list(), column


def _read_with_pandas(folder: Path, table: str) -> pd.DataFrame:
    """The README's way: pandas with the types the descriptor gives."""
    package = _descriptor(folder)
    [fields] = [r["schema"]["fields"] for r in package["resources"] if r["name"] == table]
    types = {"string": "string", "integer": "Int64", "number": "float64", "boolean": "boolean"}
    return pd.read_csv(
        folder / f"{table}.csv",
        dtype={f["name"]: types[f["type"]] for f in fields if f["type"] in types},
        parse_dates=[f["name"] for f in fields if f["type"] == "datetime"],
        keep_default_na=False,
        na_values=[""],
    )


def _values(column: pd.Series) -> list[Any]:
    """A pandas column's values, missing ones as None."""
    return [None if pd.isna(value) else value for value in column]


def test_the_demo_reports_descriptor_validates_and_reads_back_exact(report: Path) -> None:
    """The report's spreadsheet-safe CSVs: valid, every table's rows and fields counted, listed
    in provenance.json and SHA256SUMS, and every value (the announced ' removed) exact."""
    folder = report / "tables"
    result = _valid(folder)
    provenance = json.loads((report / "provenance.json").read_text(encoding="utf-8"))
    assert {task.name: task.stats["rows"] for task in result.tasks} == provenance["rows"]
    parquet = {name: pl.read_parquet(folder / f"{name}.parquet") for name in SCHEMAS}
    assert {t.name: t.stats["fields"] for t in result.tasks} == {
        name: frame.width for name, frame in parquet.items()
    }
    package = _descriptor(folder)
    assert package["spreadsheetSafe"] is True
    assert "carries one more ' in front" in package["description"]
    digest = hashlib.sha256((folder / "datapackage.json").read_bytes()).hexdigest()
    assert provenance["checksums"]["tables/datapackage.json"] == digest
    sums = (report / "SHA256SUMS").read_text(encoding="utf-8")
    assert f"{digest}  tables/datapackage.json\n" in sums
    _exact(folder, parquet)


def test_tables_csv_writes_an_exact_descriptor(demo: Path, tmp_path: Path) -> None:
    """`igresearch tables --format csv --out DIR`: the descriptor is written and named, says the
    CSVs are exact, validates, and reads back the demo's parquet tables value for value."""
    result = CliRunner().invoke(
        main, ["tables", str(demo / "archive.jsonl"), "--out", str(tmp_path), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'datapackage.json'}\n" in result.output
    package = _descriptor(tmp_path)
    assert package["spreadsheetSafe"] is False
    assert "hold every value exactly" in package["description"]
    _valid(tmp_path)
    parquet = {name: pl.read_parquet(demo / "tables" / f"{name}.parquet") for name in SCHEMAS}
    _exact(tmp_path, parquet)
    comments = _read_with_pandas(tmp_path, "comments")
    for column in ("comment_id", "parent_comment_id", "media_id", "owner_id"):
        assert _values(comments[column]) == parquet["comments"][column].to_list(), column


def test_a_pseudonymised_reports_descriptor_names_exactly_its_columns(
    demo: Path, tmp_path: Path
) -> None:
    """Pseudonymised tables have no URL columns: each resource lists exactly its CSV's header,
    validates, and reads back the pseudonymised parquet values."""
    write_report(demo / "archive.jsonl", tmp_path, salt=SALT)
    folder = tmp_path / "tables"
    package = _descriptor(folder)
    for resource in package["resources"]:
        with (folder / resource["path"]).open(encoding="utf-8", newline="") as stream:
            header = next(csv.reader(stream))
        assert [f["name"] for f in resource["schema"]["fields"]] == header
        assert not [name for name in header if name.endswith("url")]
    widths = {r["name"]: len(r["schema"]["fields"]) for r in package["resources"]}
    assert widths == {n: sum(not c.endswith("url") for c in s) for n, s in SCHEMAS.items()}
    assert widths["media"] == len(SCHEMAS["media"]) - 4  # url, video, thumbnail, display
    assert "http" not in (folder / "datapackage.json").read_text(encoding="utf-8")
    _valid(folder)
    _exact(folder, {name: pl.read_parquet(folder / f"{name}.parquet") for name in SCHEMAS})
