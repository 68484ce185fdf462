"""Lazy reading of a tables folder: polars LazyFrames over its parquet files.

For studies too large to hold in memory: :func:`scan_tables` reads nothing but the files'
schemas until a query is collected, so polars reads only the columns and row groups the query
needs. The same folder is what DuckDB, Spark and R's arrow read (``DIR/media.parquet``...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .schema import SCHEMAS
from .tables import Tables

__all__ = ["LazyTables", "scan_tables"]


@dataclass(frozen=True)
class LazyTables:
    """The tables of a folder as polars LazyFrames, each with its declared schema.

    The same five tables as :class:`~igresearch.tables.Tables`; :meth:`collect` reads them all.
    """

    media: pl.LazyFrame
    comments: pl.LazyFrame
    owners: pl.LazyFrame
    children: pl.LazyFrame
    errors: pl.LazyFrame

    def __repr__(self) -> str:
        columns = ", ".join(
            f"{name}={len(getattr(self, name).collect_schema())} columns" for name in SCHEMAS
        )
        return f"LazyTables({columns})"

    def collect(self) -> Tables:
        """Every table read into memory, as :func:`~igresearch.tables.read_tables` gives it."""
        frames = pl.collect_all([getattr(self, name) for name in SCHEMAS])
        return Tables(*frames)


def scan_tables(directory: str | os.PathLike[str]) -> LazyTables:
    """Scan the parquet tables of a folder written by :meth:`Tables.write` or
    ``igresearch tables ARCHIVE --out DIR``, without reading their rows.

    Each table has its declared type (see ``docs/data-dictionary.md``); columns the writer left
    out (pseudonymised tables have no URL columns) stay out, as with
    :func:`~igresearch.tables.read_tables`.

    Parameters
    ----------
    directory
        A folder holding ``media.parquet``, ``comments.parquet``, ``owners.parquet``,
        ``children.parquet`` and ``errors.parquet``.

    Returns
    -------
    LazyTables
        One LazyFrame per table; ``.collect()`` reads them all.

    Raises
    ------
    FileNotFoundError
        If a table's parquet file is missing (for CSV folders, use ``read_tables``).

    Examples
    --------
    >>> import tempfile
    >>> from igresearch import metrics, scan_tables, to_tables
    >>> from igresearch.testing import FakeAPI
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = to_tables(FakeAPI.media_for("DLlGZiCOBQ0")).write(folder)
    ...     lazy = scan_tables(folder)
    ...     metrics.with_rates(lazy.media).select("media_id", "like_rate").collect()
    shape: (1, 2)
    ┌─────────────────────┬───────────┐
    │ media_id            ┆ like_rate │
    │ ---                 ┆ ---       │
    │ str                 ┆ f64       │
    ╞═════════════════════╪═══════════╡
    │ 3667365614373573684 ┆ 0.015441  │
    └─────────────────────┴───────────┘
    """
    source = Path(directory)
    frames = {}
    for name, declared in SCHEMAS.items():
        path = source / f"{name}.parquet"
        if not path.is_file():
            raise FileNotFoundError(
                f"No {name}.parquet in {source}: scan_tables reads the parquet tables that "
                "Tables.write or `igresearch tables ARCHIVE --out DIR` writes; read a CSV "
                "folder with igresearch.read_tables."
            )
        frame = pl.scan_parquet(path)
        present = frame.collect_schema().names()
        schema = pl.Schema({c: t for c, t in declared.items() if c in present})
        frames[name] = frame.select(schema.names()).cast(schema)
    return LazyTables(**frames)
