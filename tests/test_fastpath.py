"""The fast path gives exactly the rows of the tolerant path, or steps aside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal
from test_tables_properties import BASES, mutated

from igresearch import fastpath
from igresearch.tables import Tables, to_tables
from igresearch.testing import FakeAPI

DOCUMENTED = FakeAPI.media_for("DLlGZiCOBQ0")


def archived(envelope: Any, when: str = "2026-01-02T03:04:05+00:00") -> dict[str, Any]:
    return {
        "archive_version": 1,
        "shortcode": "DLlGZiCOBQ0",
        "channel": "apify",
        "fetched_at": when,
        "outcome": "ok",
        "response": envelope,
        "error": None,
    }


def through_file(records: list[Any], folder: Path) -> Tables:
    path = folder / "records.jsonl"
    lines = "".join(json.dumps(r, allow_nan=False, ensure_ascii=False) + "\n" for r in records)
    path.write_bytes(lines.encode())  # lone surrogates raise here: they are not JSON text
    return to_tables(path)


def assert_same(fast: Tables, tolerant: Tables) -> None:
    for name in ("media", "comments", "owners", "children"):
        assert_frame_equal(getattr(fast, name), getattr(tolerant, name))
    columns = ["kind", "reason", "shortcode", "channel", "fetched_at"]
    assert_frame_equal(fast.errors.select(columns), tolerant.errors.select(columns))


def test_the_documented_shape_takes_the_fast_path() -> None:
    assert fastpath.decode(json.dumps(DOCUMENTED).encode()) is not None
    assert fastpath.decode(json.dumps(archived(DOCUMENTED)).encode()) is not None
    other = FakeAPI.media_for("C0ffee12345")
    other["data"]["data"]["xdt_shortcode_media"]["edge_sidecar_to_children"] = {"edges": []}
    assert fastpath.decode(json.dumps(other).encode()) is None, "carousels take the other path"
    assert fastpath.decode(b'{"code": "0401", "data": null}') is None


def test_every_fixture_gives_the_same_tables_both_ways(tmp_path: Path) -> None:
    records = BASES + [archived(b) for b in BASES]
    assert_same(through_file(records, tmp_path), to_tables(records))


def test_archive_provenance_is_kept_on_the_fast_path(tmp_path: Path) -> None:
    tables = through_file([archived(DOCUMENTED)], tmp_path)
    [row] = tables.media.select("fetched_at", "channel", "source_shape").to_dicts()
    assert row["channel"] == "apify" and row["source_shape"] == "data.xdt_shortcode_media"
    assert row["fetched_at"].isoformat() == "2026-01-02T03:04:05+00:00"
    assert tables.comments["fetched_at"].to_list() == [row["fetched_at"]]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_payloads_give_the_same_tables_both_ways(document: Any) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        try:
            fast = through_file([document, archived(document)], Path(folder))
        except (TypeError, ValueError):  # not JSON (NaN, infinity, lone surrogates)
            return
    assert_same(fast, to_tables([document, archived(document)]))


def test_wrong_types_step_aside_rather_than_differ() -> None:
    broken = json.loads(json.dumps(DOCUMENTED))
    broken["data"]["data"]["xdt_shortcode_media"]["video_play_count"] = "1799817"
    assert fastpath.decode(json.dumps(broken).encode()) is None
    assert to_tables([broken]).media["play_count"].to_list() == [1799817]
    assert isinstance(pl.DataFrame, type)
