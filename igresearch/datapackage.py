"""The Frictionless Data Package descriptor (``datapackage.json``) that travels with CSV tables.

CSV carries no types: a reader that guesses them turns ids into floats and changes them. The
descriptor, generated from the column declarations of :mod:`igresearch.schema`, gives every
column of every CSV its type (ids as strings, counts as integers, times as datetimes, booleans as
``true``/``false``, list columns as JSON arrays) and meaning, the missing-value convention, each
table's key where the data honours it, and whether the CSVs are spreadsheet-safe. No I/O:
:meth:`igresearch.tables.Tables.write` writes it beside the CSVs. No remote profile is named, so
validating it (``frictionless validate datapackage.json``) needs no network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import polars as pl
from polars.datatypes import DataTypeClass

from .schema import _INTRO, SCHEMA_VERSION, TABLES, TIME, Column

__all__ = ["datapackage"]

# The key each table is deduplicated on (igresearch.tables), declared as its primaryKey when
# every row of the table has it and no two rows share it.
_KEYS = {
    "media": ("media_id", "fetched_at"),
    "comments": ("comment_id",),
    "owners": ("owner_id",),
    "children": ("parent_media_id", "position", "fetched_at"),
}
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"  # how polars writes Datetime("us", "UTC") to CSV
_EXACT = (
    "Text fields (type string, ids included) hold every value exactly: open the CSVs in a "
    "spreadsheet only through an import that keeps text as text."
)
_SAFE = (
    "The CSVs are spreadsheet-safe: in text fields (type string, ids included), a value that "
    "began with =, +, -, @, a tab, a carriage return or ' carries one more ' in front; remove "
    "that one leading ' to get the exact value (igresearch.read_tables does), or read the "
    "parquet files."
)


def datapackage(
    frames: Mapping[str, pl.DataFrame | pl.LazyFrame], *, spreadsheet_safe: bool
) -> str:
    """The ``datapackage.json`` text describing the CSVs ``<table>.csv`` written from `frames`.

    Parameters
    ----------
    frames
        Table name -> the frame written to ``<table>.csv`` (or a LazyFrame of it: only its key
        columns are read), each with the columns of its declaration in :mod:`igresearch.schema`
        or some of them (pseudonymised tables have no URL columns); the descriptor names
        exactly the columns each frame has.
    spreadsheet_safe
        Whether the CSVs were written spreadsheet-safe (see :meth:`igresearch.tables.Tables.write`).

    Returns
    -------
    str
        JSON, keys sorted, resources and fields in the order of the CSVs: the same frames give
        the same text.

    Examples
    --------
    >>> import json
    >>> from igresearch.datapackage import datapackage
    >>> from igresearch.tables import to_tables
    >>> from igresearch.testing import FakeAPI
    >>> tables = to_tables(FakeAPI.media_for("DLlGZiCOBQ0"))
    >>> package = json.loads(datapackage({"comments": tables.comments}, spreadsheet_safe=False))
    >>> [comments] = package["resources"]
    >>> fields = {field["name"]: field for field in comments["schema"]["fields"]}
    >>> fields["parent_comment_id"]["type"], fields["created_at"]["type"]
    ('string', 'datetime')
    >>> comments["schema"]["primaryKey"], comments["schema"]["missingValues"]
    (['comment_id'], [''])
    """
    descriptor = {
        "name": "igresearch-tables",
        "title": "Instagram video metadata tables (igresearch)",
        "description": " ".join(
            [
                f"Tables written by igresearch, schema version {SCHEMA_VERSION}; the data "
                "dictionary (data-dictionary.md in a report, docs/data-dictionary.md in "
                "igresearch) describes every column.",
                "Ids are text, not numbers: read every string field as a string (pandas: "
                "dtype=str), or ids lose digits.",
                'An empty cell is null (missingValues); an empty text is written as "" and '
                "most readers, frictionless and pandas included, read it as null too.",
                "Times are ISO 8601 in UTC with microseconds; booleans are true or false; list "
                "fields hold JSON arrays.",
                _SAFE if spreadsheet_safe else _EXACT,
            ]
        ),
        "igresearchSchemaVersion": SCHEMA_VERSION,
        "spreadsheetSafe": spreadsheet_safe,
        "resources": [_resource(name, frame) for name, frame in frames.items()],
    }
    return json.dumps(descriptor, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _resource(name: str, frame: pl.DataFrame | pl.LazyFrame) -> dict[str, Any]:
    declared = {column.name: column for column in TABLES[name]}
    columns = frame.collect_schema().names()
    schema: dict[str, Any] = {
        "fields": [_field(declared[column]) for column in columns],
        "missingValues": [""],  # how polars writes null
    }
    key = _KEYS.get(name, ())
    if key and set(key) <= set(columns) and _is_key(frame.lazy(), key):
        schema["primaryKey"] = list(key)
    return {
        "name": name,
        "path": f"{name}.csv",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "description": _INTRO[name],
        "schema": schema,
    }


def _is_key(frame: pl.LazyFrame, key: tuple[str, ...]) -> bool:
    """Whether every row has `key` and no two rows share it."""
    columns = frame.select(key)
    nulls, shared = (
        columns.select(
            pl.sum_horizontal(pl.all().null_count()).alias("nulls"),
            pl.struct(key).is_duplicated().any().alias("shared"),
        )
        .collect()
        .row(0)
    )
    return bool(nulls == 0 and not shared)


def _field(column: Column) -> dict[str, Any]:
    description = f"{column.meaning} {column.caveat}".strip()
    return {"name": column.name, "description": description, **_type(column.dtype)}


def _type(dtype: pl.DataType | DataTypeClass) -> dict[str, Any]:
    if dtype == pl.String():
        return {"type": "string"}
    if dtype == pl.Int64():
        return {"type": "integer"}
    if dtype == pl.Float64():
        return {"type": "number"}
    if dtype == pl.Boolean():
        return {"type": "boolean", "trueValues": ["true"], "falseValues": ["false"]}
    if dtype == TIME:
        return {"type": "datetime", "format": _TIME_FORMAT}
    if isinstance(dtype, pl.List):  # written as a JSON array (igresearch.tables)
        return {"type": "array", "arrayItem": _type(dtype.inner)}
    raise TypeError(f"No Table Schema type for the polars type {dtype}: add one in datapackage.py.")
