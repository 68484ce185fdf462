"""Responses -> typed polars DataFrames of media, comments, owners and carousel children.

No network: reading a JSON Lines (or JSON) file is the only I/O, besides ``Tables.write`` and
``read_tables``. One malformed record never loses the others: it lands in ``Tables.errors``.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import polars as pl

from .datapackage import datapackage
from .decode import decode_line
from .errors import ArchiveFormatError
from .extract import Deferred, Part, Rows, media_rows, record_rows, run_columns
from .files import atomic_path, make_folder, write_text
from .lines import disagreement, preview, read_lines
from .metrics import latest
from .schema import SCHEMA_VERSION, SCHEMAS, TIME

__all__ = ["Tables", "read_tables", "to_tables"]

_BATCH = 5_000
#: Fewer deferred nodes in a row than this are read one by one: not worth frames of their own.
_SHORT_RUN = 64
_PREVIEW = ("shortcode", "owner_username", "taken_at", "play_count", "like_count", "comment_count")
_NAMES = tuple(SCHEMAS)
# OWASP's CSV injection advice: a text cell a spreadsheet would evaluate gets one leading quote.
_FORMULA = r"^[=+\-@\t\r']"
_SAFE = "SPREADSHEET-SAFE.txt"
_SAFE_TEXT = (
    "The CSV files of this folder are spreadsheet-safe: in their text columns, a cell that\n"
    "began with =, +, -, @, a tab, a carriage return or ' has one more ' in front, so that\n"
    "spreadsheets show it as text instead of evaluating it. igresearch.read_tables removes\n"
    "that one ' again; the parquet files hold the exact values.\n"
)


@dataclass(frozen=True)
class Tables:
    """The tables built from responses, each a DataFrame with its declared schema.

    See ``docs/data-dictionary.md`` for every column.
    """

    media: pl.DataFrame
    comments: pl.DataFrame
    owners: pl.DataFrame
    children: pl.DataFrame
    errors: pl.DataFrame

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={getattr(self, name).height}" for name in _NAMES)
        return f"Tables({counts})"

    def _repr_html_(self) -> str:
        """Jupyter's view: rows per table, the collection window, errors by kind and the first
        media rows, every value escaped."""
        from .display import count, section, table, text

        fetched = self.media["fetched_at"].drop_nulls().sort().dt.strftime("%Y-%m-%d %H:%M")
        if len(fetched):
            window = f"fetched {fetched[0]} to {fetched[-1]} UTC"
        else:
            window = "no media" if self.media.is_empty() else "fetch times not recorded"
        kinds = self.errors["kind"].value_counts(sort=True).rows()
        preview = self.media.select(c for c in _PREVIEW if c in self.media.columns).head(5)
        return section(
            f"Tables: {count(self.media['media_id'].n_unique(), 'post')}",
            f"<p>{text(window)}</p>",
            table(("table", "rows"), ((name, getattr(self, name).height) for name in _NAMES)),
            table(("error kind", "records"), kinds) if kinds else "",
            table(preview.columns, preview.rows()),
        )

    def write(
        self,
        directory: str | os.PathLike[str],
        *,
        format: Literal["parquet", "csv"] = "parquet",
        metadata: Mapping[str, str] | None = None,
        private: bool = True,
        spreadsheet_safe: bool = False,
    ) -> list[Path]:
        """Write each table to ``directory/<table>.<format>`` and return the paths.

        The files are created 0600 (a new `directory` 0700): tables name people. Pass
        ``private=False`` for pseudonymised tables, which then follow the umask.

        In CSV, list columns are JSON arrays and times ISO 8601. With `spreadsheet_safe`, a
        text cell starting with ``=``, ``+``, ``-``, ``@``, tab, carriage return or ``'`` gets one
        leading ``'`` (so Excel, LibreOffice and Sheets do not evaluate it), and the folder gets a
        ``SPREADSHEET-SAFE.txt`` marker, returned with the tables, from which :func:`read_tables`
        knows to remove that ``'``; without it, CSV cells are exact. CSVs come with a Frictionless
        Data Package descriptor, ``datapackage.json`` (see :mod:`igresearch.datapackage`), also
        returned, which gives every column's type. Parquet files carry the schema
        version and `metadata` (e.g. provenance) both as file key-value metadata (polars, DuckDB)
        and as Arrow schema metadata (pyarrow, pandas). Each file is written to a temporary name
        first and renamed, so no file is ever left half-written.
        """
        if format not in ("parquet", "csv"):
            raise ValueError(f"Unknown format {format!r}: use 'parquet' or 'csv'.")
        if spreadsheet_safe and format != "csv":
            raise ValueError("spreadsheet_safe is for format='csv'; parquet is always exact.")
        target = Path(directory)
        make_folder(target, private=private)
        paths = []
        for name in _NAMES:
            path = target / f"{name}.{format}"
            frame: pl.DataFrame = getattr(self, name)
            with atomic_path(path, private=private) as temporary:
                if format == "parquet":
                    keys = {"igresearch.schema_version": SCHEMA_VERSION, "igresearch.table": name}
                    _write_parquet(frame, temporary, keys | dict(metadata or {}))
                else:
                    _to_csv_frame(frame, spreadsheet_safe).write_csv(temporary)
            paths.append(path)
        if format == "csv":
            frames = {name: getattr(self, name) for name in _NAMES}
            package = datapackage(frames, spreadsheet_safe=spreadsheet_safe)
            paths.append(write_text(target / "datapackage.json", package, private=private))
        if spreadsheet_safe:
            paths.append(write_text(target / _SAFE, _SAFE_TEXT, private=private))
        elif format == "csv":  # exact CSVs now: a marker left from before would corrupt them
            (target / _SAFE).unlink(missing_ok=True)
        return paths


def _write_parquet(frame: pl.DataFrame, path: Path, metadata: dict[str, str]) -> None:
    """Write `frame` with pyarrow: polars puts `metadata` at file level only, where pyarrow's
    ``read_schema`` and pandas never look; pyarrow writes it there and in the Arrow schema."""
    import pyarrow.parquet as pq

    table = frame.to_arrow().replace_schema_metadata(metadata)
    pq.write_table(table, path, compression="zstd")


def read_tables(directory: str | os.PathLike[str]) -> Tables:
    """Read tables written by :meth:`Tables.write` (parquet preferred, else CSV), with their
    declared types; columns a writer left out (pseudonymised tables have no URLs) stay out.
    Spreadsheet-safe CSVs (see :meth:`Tables.write`) read back exact."""
    source = Path(directory)
    safe = (source / _SAFE).is_file()
    frames = {}
    for name, declared in SCHEMAS.items():
        parquet, csv = source / f"{name}.parquet", source / f"{name}.csv"
        if parquet.exists():
            frame = pl.read_parquet(parquet)
        elif csv.exists():
            frame = pl.read_csv(csv, infer_schema=False)
        else:
            raise FileNotFoundError(f"No {name}.parquet or {name}.csv in {source}.")
        schema = pl.Schema({c: t for c, t in declared.items() if c in frame.columns})
        frames[name] = (
            frame.select(schema.names()).cast(schema)
            if parquet.exists()
            else _from_csv_frame(frame, schema, spreadsheet_safe=safe)
        )
    return Tables(**frames)


def to_tables(source: Any) -> Tables:
    """Build the tables from responses, with no network.

    Parameters
    ----------
    source
        A response (the vendor envelope, Instagram's own ``{"data": ...}`` or a bare media node),
        a list or iterable of responses or archive records, or the path of a JSON Lines file of
        them (a ``.json`` file may hold one response or a list; ``.jsonl.gz`` and
        ``.jsonl.zst`` are read compressed, see :mod:`igresearch.lines`).

    Returns
    -------
    Tables
        ``media`` (one row per post and fetch), ``comments``, ``owners`` (latest snapshot of
        each), ``children`` (carousel items) and ``errors`` (unavailable posts, failed requests
        and malformed records, each with the record it came from).

    Raises
    ------
    ArchiveFormatError
        When `source` is a file that holds neither an archive nor responses (its first line is
        not JSON, or none of its records is a response or an archive record), or is compressed
        otherwise than its name says, or damaged.

    Examples
    --------
    >>> from igresearch.tables import to_tables
    >>> from igresearch.testing import FakeAPI
    >>> tables = to_tables(FakeAPI.media_for("DLlGZiCOBQ0"))
    >>> tables
    Tables(media=1, comments=1, owners=1, children=0, errors=0)
    >>> tables.media.select("media_id", "play_count", "like_count", "taken_at")
    shape: (1, 4)
    ┌─────────────────────┬────────────┬────────────┬─────────────────────────┐
    │ media_id            ┆ play_count ┆ like_count ┆ taken_at                │
    │ ---                 ┆ ---        ┆ ---        ┆ ---                     │
    │ str                 ┆ i64        ┆ i64        ┆ datetime[μs, UTC]       │
    ╞═════════════════════╪════════════╪════════════╪═════════════════════════╡
    │ 3667365614373573684 ┆ 1799817    ┆ 27791      ┆ 2025-07-01 21:09:04 UTC │
    └─────────────────────┴────────────┴────────────┴─────────────────────────┘
    """
    builder = _Builder()
    collecting = gc.isenabled()
    gc.disable()  # rows hold no cycles; the collector would only rescan millions of them
    try:
        for where, record in _records(source):
            builder.add(where, record)
        tables = builder.tables()
    finally:
        if collecting:
            gc.enable()
    if isinstance(source, str | os.PathLike) and _nothing_recognised(tables):
        [reason] = tables.errors["reason"].head(1).to_list()
        raise _not_responses(Path(source), f"none of its records is one ({reason})")
    return tables


def _nothing_recognised(tables: Tables) -> bool:
    """Whether records were read and none was a response or an archive record."""
    kinds = tables.errors["kind"]
    return tables.media.is_empty() and not kinds.is_empty() and (kinds == "malformed").all()


def _records(source: Any) -> Iterator[tuple[str, Any]]:
    """(where, record) pairs from any supported source; unreadable lines become error records."""
    if isinstance(source, str | os.PathLike):
        yield from _file_records(Path(source))
    elif isinstance(source, dict):
        yield "record 0", source
    elif isinstance(source, Iterable) and not isinstance(source, str | bytes):
        for index, record in enumerate(source):
            yield f"record {index}", record
    else:
        raise TypeError(
            f"to_tables() takes a response dict, a list of responses or archive records, or a "
            f"path to a JSON Lines file, not {type(source).__name__}."
        )


def _check_file(path: Path) -> None:
    """Raise unless `path` is a regular file (an archive or a file of responses, maybe)."""
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not an archive or a file of responses.")
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    if not path.is_file():  # reading a named pipe would wait for a writer, /dev/zero forever
        raise _not_responses(path, "it is not a regular file (a device or a named pipe)")


def _file_records(path: Path) -> Iterator[tuple[str, Any]]:
    _check_file(path)
    if path.suffix == ".json":
        try:
            document = msgspec.json.decode(path.read_bytes())
        except msgspec.DecodeError as error:
            raise _not_responses(path, f"it is not JSON ({error})") from None
        records = document if isinstance(document, list) else [document]
        for index, record in enumerate(records):
            yield f"{path.name} record {index}", record
        return
    why = disagreement(path)  # gzip data named .jsonl, say
    if why is not None:
        raise _not_responses(path, why)
    name = path.name
    for number, line in enumerate(read_lines(path), start=1):  # .gz and .zst decompressed
        if not line.strip():
            continue
        record = decode_line(line)
        if number == 1 and not isinstance(record, dict | list):  # never JSON Lines
            raise _not_responses(path, f"its first line is {preview(line.rstrip())}")
        yield f"{name}:{number}", record


def _not_responses(path: Path, why: str) -> ArchiveFormatError:
    return ArchiveFormatError(
        f"{path} is neither an igresearch archive nor a JSON or JSON Lines file of API "
        f"responses: {why}."
    )


class _Builder:
    """Accumulates each table's columns batch by batch, then deduplicates them into tables."""

    def __init__(self) -> None:
        self._frames: dict[str, list[pl.DataFrame]] = {name: [] for name in _NAMES}
        self._media: list[list[Any]] = []
        self._errors: list[tuple[Any, ...]] = []
        self._parts: dict[str, list[Part]] = {"comments": [], "owners": [], "children": []}
        self._run: list[Deferred] = []  # documented nodes, after the rows above
        self._records = 0

    def add(self, where: str, record: Any) -> None:
        """Add one record's rows; every few thousand records, turn them into frames."""
        rows = record_rows(where, record, defer=True)
        if rows.deferred is not None:
            self._run.append(rows.deferred)
        elif rows.error is not None:  # a table of its own: the run goes on
            self._errors.append(rows.error)
        else:
            self._end_run()
            self._add(rows)
        self._records += 1
        if self._records % _BATCH == 0:
            self._flush()

    def _add(self, rows: Rows) -> None:
        assert rows.media is not None and rows.parts is not None
        self._media.append(rows.media)
        for part in rows.parts:
            pending = self._parts[part.table]
            if pending and pending[-1].build is part.build:  # read alike: one part
                pending[-1].extend(part.items, **part.context)
            else:
                pending.append(part)

    def _end_run(self) -> None:
        """Read the deferred nodes: a short run one by one, a long one column by column, after
        the rows added before it."""
        run, self._run = self._run, []
        if len(run) < _SHORT_RUN:
            for found in run:
                self._add(media_rows(found))
            return
        self._flush_rows()
        media, parts = run_columns(run)
        self._frames["media"].append(_frame("media", media, len(run)))
        for part in parts:
            if part.items:
                self._frames[part.table].append(_frame(part.table, part.columns(), len(part.items)))

    def _flush(self) -> None:
        self._flush_rows()
        self._end_run()
        self._flush_rows()

    def _flush_rows(self) -> None:
        for table, rows in (("media", self._media), ("errors", self._errors)):
            if rows:
                columns = dict(zip(SCHEMAS[table], map(list, zip(*rows, strict=True)), strict=True))
                self._frames[table].append(_frame(table, columns, len(rows)))
        for table, parts in self._parts.items():
            for part in parts:
                self._frames[table].append(_frame(table, part.columns(), len(part.items)))
        self._media, self._errors = [], []
        self._parts = {table: [] for table in self._parts}

    def frames(self) -> dict[str, pl.DataFrame]:
        """Each table's rows in the order added, not yet deduplicated (errors not resolved)."""
        self._flush()
        return {
            name: pl.concat(parts) if parts else pl.DataFrame(schema=SCHEMAS[name])
            for name, parts in self._frames.items()
        }

    def tables(self) -> Tables:
        frames = self.frames()
        return Tables(
            **{name: _reduce(name, frames[name]) for name in _ORDER},
            errors=_resolve(frames["errors"], frames["media"]),
        )


#: Each keyed table's key (one row per key: the latest snapshot) and sort order; igresearch.build
#: ranges over the first column of the order.
_ORDER = {
    "media": (["media_id", "fetched_at"], ["media_id", "fetched_at"]),
    "comments": (["comment_id"], ["media_id", "created_at", "comment_id"]),
    "owners": (["owner_id"], ["owner_id"]),
    "children": (
        ["parent_media_id", "position", "fetched_at"],
        ["parent_media_id", "position", "fetched_at"],
    ),
}


def _reduce(name: str, rows: pl.DataFrame) -> pl.DataFrame:
    """A keyed table's rows, in the order added -> the table: one row per key, sorted by key, so
    the same records give the same tables whatever their order (but among snapshots with equal
    keys and fetch times, the later record wins; rows that tie on every sort column, comments
    without id, keep the archive's order, as ``build_tables`` keeps it)."""
    key, order = _ORDER[name]
    kept = _merge_owners(rows) if name == "owners" else latest(rows, by=key)
    return kept.sort(order, nulls_last=False, maintain_order=True)


def _resolve(errors: pl.DataFrame, media: pl.DataFrame) -> pl.DataFrame:
    """Errors with ``resolved``: whether some record of the same (shortcode, channel) gave media
    or said the post is unavailable (the rule of ``Attrition.of``); null without both keys."""
    keys = ["shortcode", "channel"]
    unavailable = errors.filter(pl.col("kind") == "unavailable").select(keys)
    stored = pl.concat([media.select(keys), unavailable]).drop_nulls().unique()
    named = pl.col("shortcode").is_not_null() & pl.col("channel").is_not_null()
    found = pl.struct(keys).is_in(stored.select(pl.struct(keys)).to_series().implode())
    return errors.with_columns(resolved=pl.when(named).then(found))


def _frame(name: str, columns: dict[str, list[Any]], height: int) -> pl.DataFrame:
    """Columns of `height` values (a missing column is null), already coerced to their column's
    Python type (times as epoch microseconds) -> a frame with the table's schema."""
    return pl.DataFrame(
        [
            _series(column, columns.get(column) or [None] * height, dtype)
            for column, dtype in SCHEMAS[name].items()
        ]
    )


def _series(name: str, values: list[Any], dtype: pl.DataType) -> pl.Series:
    if dtype == TIME:
        return pl.Series(name, values, dtype=pl.Int64).cast(TIME)
    if not isinstance(dtype, pl.List):
        return pl.Series(name, values, dtype=dtype)
    # polars converts an empty Python list about a hundred times slower than a null or a
    # non-empty list: convert with nulls in their place, then put the empty lists back.
    series = pl.Series(name, [value or None for value in values], dtype=dtype)
    empty = pl.Series([value is not None and not value for value in values], dtype=pl.Boolean)
    if not empty.any():
        return series
    return pl.select(
        pl.when(empty).then(pl.lit([], dtype)).otherwise(series).alias(name)
    ).to_series()


def _merge_owners(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per account: for each column its latest non-null value, so a stub never
    overwrites a known follower count."""
    frame = frame.filter(pl.col("owner_id").is_not_null())
    if not frame["owner_id"].is_duplicated().any():
        return frame  # one row per account already
    columns = [c for c in frame.columns if c != "owner_id"]
    return (
        frame.with_row_index("_order")
        .sort(["fetched_at", "_order"], nulls_last=False)
        .group_by("owner_id", maintain_order=True)
        .agg(pl.col("_order").min(), *(pl.col(c).drop_nulls().last() for c in columns))
        .sort("_order")
        .select(SCHEMAS["owners"].names())
    )


# --- CSV: list columns as JSON arrays; optionally spreadsheet-safe text


def _to_csv_frame(frame: pl.DataFrame, spreadsheet_safe: bool = False) -> pl.DataFrame:
    lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
    texts = [c for c, t in frame.schema.items() if t == pl.String()] if spreadsheet_safe else []
    return frame.with_columns(
        *(
            pl.col(c).map_elements(lambda v: json.dumps(list(v)), return_dtype=pl.String)
            for c in lists
        ),
        *(
            pl.when(pl.col(c).str.contains(_FORMULA))
            .then(pl.lit("'") + pl.col(c))
            .otherwise(pl.col(c))
            .alias(c)
            for c in texts
        ),
    )


def _from_csv_frame(
    frame: pl.DataFrame, schema: pl.Schema, *, spreadsheet_safe: bool = False
) -> pl.DataFrame:
    columns = []
    for name, dtype in schema.items():
        column = pl.col(name)
        if spreadsheet_safe and dtype == pl.String():
            columns.append(column.str.strip_prefix("'"))
        elif isinstance(dtype, pl.List):
            columns.append(column.str.json_decode(dtype))
        elif dtype == TIME:
            columns.append(column.str.to_datetime(time_zone="UTC", time_unit="us"))
        elif dtype == pl.Boolean():
            columns.append(column.replace_strict({"true": True, "false": False}, default=None))
        else:
            columns.append(column.cast(dtype))
    return frame.select(columns).cast(schema)
