"""scan_tables: LazyFrames over a tables folder, equal to read_tables once collected; and the
README's DuckDB query over the same folder, equal to the polars result."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import igresearch
from igresearch import metrics
from igresearch.scan import LazyTables, scan_tables
from igresearch.schema import MEDIA_SCHEMA, SCHEMAS
from igresearch.tables import Tables, read_tables

ROOT = Path(__file__).resolve().parent.parent
NAMES = list(SCHEMAS)


def test_scan_tables_collects_what_read_tables_reads(demo_tables: Tables, tmp_path: Path) -> None:
    demo_tables.write(tmp_path)
    lazy = scan_tables(tmp_path)
    assert all(isinstance(getattr(lazy, name), pl.LazyFrame) for name in NAMES)
    eager, collected = read_tables(tmp_path), lazy.collect()
    assert isinstance(collected, Tables)
    for name in NAMES:
        assert getattr(lazy, name).collect_schema() == SCHEMAS[name]
        assert_frame_equal(getattr(collected, name), getattr(eager, name), check_exact=True)
        assert_frame_equal(getattr(collected, name), getattr(demo_tables, name), check_exact=True)
    assert collected.media.height == 80
    columns = ", ".join(f"{name}={len(SCHEMAS[name])} columns" for name in NAMES)
    assert repr(lazy) == f"LazyTables({columns})"


def test_scan_tables_of_pseudonymised_tables_leaves_the_url_columns_out(
    demo_tables: Tables, tmp_path: Path
) -> None:
    public = igresearch.pseudonymize(demo_tables, "a salt of 16+ characters")
    public.write(tmp_path, private=False)
    lazy = scan_tables(tmp_path)
    eager = read_tables(tmp_path)
    for name in NAMES:
        columns = getattr(lazy, name).collect_schema().names()
        assert not [column for column in columns if column.endswith("url")]
        assert columns == getattr(public, name).columns
        assert_frame_equal(getattr(lazy, name).collect(), getattr(eager, name), check_exact=True)
    assert "url" in MEDIA_SCHEMA and "video_url" in MEDIA_SCHEMA  # left out, not undeclared


def test_scan_tables_gives_the_declared_types_and_only_declared_columns(tmp_path: Path) -> None:
    igresearch.to_tables([]).write(tmp_path)
    pl.DataFrame(
        {"media_id": ["1"], "play_count": [7], "surplus": ["x"]},
        schema={"media_id": pl.String, "play_count": pl.Int32, "surplus": pl.String},
    ).write_parquet(tmp_path / "media.parquet")
    media = scan_tables(tmp_path).media
    assert media.collect_schema() == pl.Schema({"media_id": pl.String, "play_count": pl.Int64})
    assert media.collect().rows() == [("1", 7)]
    assert_frame_equal(media.collect(), read_tables(tmp_path).media, check_exact=True)


def test_scan_tables_names_a_missing_parquet_file(demo_tables: Tables, tmp_path: Path) -> None:
    demo_tables.write(tmp_path, format="csv")
    with pytest.raises(FileNotFoundError, match=r"No media\.parquet in .*read_tables"):
        scan_tables(tmp_path)


def test_scan_tables_is_the_public_api() -> None:
    assert igresearch.scan_tables is scan_tables
    assert igresearch.LazyTables is LazyTables


# --- DuckDB over the same folder ---------------------------------------------------------------


def readme_duckdb_query() -> str:
    """The DuckDB query the README shows for a large study (its one SQL block that reads
    parquet with ``read_parquet``)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [query] = [
        block
        for block in re.findall(r"```sql\n(.*?)```", readme, flags=re.DOTALL)
        if "read_parquet(" in block
    ]
    return query


def test_the_readme_duckdb_query_equals_engagement_by_owner(
    demo_tables: Tables, tmp_path: Path
) -> None:
    import duckdb

    folder = tmp_path / "study" / "tables"
    demo_tables.write(folder)
    query = readme_duckdb_query()
    assert "'study/tables/media.parquet'" in query
    query = query.replace("'study/tables/", f"'{folder.as_posix()}/")
    with duckdb.connect() as connection:
        from_duckdb = connection.sql(query).pl()
        settings = connection.sql(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        ).fetchall()
        # nothing was installed or loaded beyond what the duckdb wheel links in (parquet)
        loaded = connection.sql(
            "SELECT extension_name FROM duckdb_extensions() "
            "WHERE loaded AND install_mode <> 'STATICALLY_LINKED'"
        ).fetchall()
    assert settings == [(False, False)]  # the query itself switches both off
    assert loaded == []

    by_owner = metrics.engagement_by_owner(scan_tables(folder).media).collect()
    assert from_duckdb["owner_username"].to_list() == by_owner["owner_username"].to_list()
    assert from_duckdb.height == 8
    assert from_duckdb["n"].to_list() == by_owner["n"].to_list()
    medians = [column for column in from_duckdb.columns if column.endswith("_median")]
    assert medians == ["like_rate_median", "engagement_rate_median", "reach_median"]
    for column in medians:
        ours, theirs = by_owner[column].to_list(), from_duckdb[column].to_list()
        assert [value is None for value in theirs] == [value is None for value in ours]
        assert all(value is not None for value in ours)  # every account has each rate
        assert theirs == pytest.approx(ours, rel=0, abs=1e-12)
