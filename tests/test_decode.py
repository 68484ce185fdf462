"""The fast decoding (only the declared fields of the documented shape) gives exactly the rows
of plain JSON decoding, or steps aside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal
from test_tables_properties import BASES, mutated

from igresearch.decode import decode_line
from igresearch.extract import BadLine
from igresearch.tables import Tables, to_tables
from igresearch.testing import FakeAPI

DOCUMENTED = FakeAPI.media_for("DLlGZiCOBQ0")


@pytest.fixture(autouse=True, params=[1, None], ids=["read-as-runs", "read-one-by-one"])
def run_length(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test twice: documented nodes read column by column as runs (even a run of one),
    and read one by one, as short runs are."""
    if request.param is not None:
        monkeypatch.setattr("igresearch.tables._SHORT_RUN", request.param)


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


def node_of(decoded: Any) -> Any:
    envelope = decoded["response"] if "archive_version" in decoded else decoded
    return envelope["data"]["data"]["xdt_shortcode_media"]


def test_the_documented_shape_is_decoded_into_just_the_declared_fields() -> None:
    for document in (DOCUMENTED, archived(DOCUMENTED)):
        node = node_of(decode_line(json.dumps(document).encode()))
        assert isinstance(node, msgspec.Struct), "the fast path"
        assert node.video_play_count == 1799817
        assert not hasattr(node, "display_resources"), "undeclared fields are skipped"
    carousel = FakeAPI.media_for("C0ffee12345")
    children = {"edges": [{"node": {"id": "1", "shortcode": "AAAAAAAAAAB"}}]}
    carousel["data"]["data"]["xdt_shortcode_media"]["edge_sidecar_to_children"] = children
    node = node_of(decode_line(json.dumps(carousel).encode()))
    assert node.edge_sidecar_to_children.edges[0].node.id == "1", "carousels too"


def test_other_shapes_and_bad_lines_are_decoded_whole() -> None:
    apify = [{"shortCode": "AAAAAAAAAAB", "id": "1", "likesCount": 3, "extra": {"a": 1}}]
    assert decode_line(json.dumps(apify).encode()) == apify
    bare = {"shortcode": "AAAAAAAAAAB", "id": "1", "extra": [1, 2]}
    assert decode_line(json.dumps(bare).encode()) == bare, "a bare node is read whole"
    failure = {"code": "0401", "msg": "no", "data": None, "extra": 1}
    assert decode_line(json.dumps(failure).encode())["code"] == "0401"
    assert isinstance(decode_line(b'{"code": "0000", "da'), BadLine)


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


def test_wrong_types_step_aside_rather_than_differ(tmp_path: Path) -> None:
    for field, value in (("video_play_count", "1799817"), ("owner", "someone")):
        broken = json.loads(json.dumps(DOCUMENTED))
        broken["data"]["data"]["xdt_shortcode_media"][field] = value
        assert isinstance(node_of(decode_line(json.dumps(broken).encode())), dict), field
        assert_same(through_file([broken], tmp_path), to_tables([broken]))
        assert to_tables([broken]).media["play_count"].to_list() == [1799817]


def test_a_line_nested_too_deeply_is_one_malformed_record(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    deep = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(json.dumps(DOCUMENTED).encode() + b"\n" + deep + b"\n")
    tables = to_tables(path)
    assert tables.media.height == 1
    assert tables.errors.select("record", "kind", "reason").rows() == [
        ("records.jsonl:2", "malformed", "nested too deeply to read")
    ]


def test_huge_numbers_are_null_not_errors() -> None:
    document = json.loads(json.dumps(DOCUMENTED))
    node = document["data"]["data"]["xdt_shortcode_media"]
    node |= {"video_duration": 10**400, "taken_at_timestamp": 10**400, "video_view_count": 10**30}
    tables = to_tables([document])
    assert tables.errors.height == 0
    assert tables.media.select("duration_s", "taken_at", "view_count").rows() == [
        (None, None, None)
    ]


def test_runs_and_single_records_keep_the_archive_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snapshots with equal keys and fetch times: the later record wins, whether its node was
    read in a run, one by one, or from another shape between runs."""
    when = "2026-01-02T03:04:05+00:00"
    records = []
    for index in range(12):
        if index % 4 == 0:
            item = {"shortCode": "DLlGZiCOBQ0", "id": "3667365614373573684", "likesCount": index}
            records.append(archived([item], when))
            continue
        document = json.loads(json.dumps(DOCUMENTED))
        node = document["data"]["data"]["xdt_shortcode_media"]
        node["edge_media_preview_like"]["count"] = index
        node["owner"]["edge_followed_by"] = {"count": 100 + index}
        for edge in node["edge_media_to_parent_comment"]["edges"]:
            edge["node"]["text"] = f"snapshot {index}"
        records.append(archived(document, when))
        if index % 5 == 0:
            records.append({"archive_version": 1, "shortcode": "X", "response": None})
    # An earlier snapshot last: it ends the run without winning.
    records.append(archived([{"shortCode": "DLlGZiCOBQ0", "likesCount": 99}], "2026-01-01"))
    built = {}
    for short_run in (1, 3, 10**9):
        monkeypatch.setattr("igresearch.tables._SHORT_RUN", short_run)
        built[short_run] = through_file(records, tmp_path)
    for tables in built.values():
        assert_same(tables, built[10**9])
        assert tables.media["like_count"].to_list() == [99, 11]
        assert tables.comments["text"].to_list() == ["snapshot 11"]
        assert tables.owners["follower_count"].to_list() == [111]
        assert tables.errors.height == 2
