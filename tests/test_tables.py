"""to_tables on hand-written fixtures of every payload variant, and its rules."""

from __future__ import annotations

import copy
import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from igresearch import collect
from igresearch.archive import Attrition
from igresearch.report import write_report
from igresearch.schema import SCHEMAS, data_dictionary
from igresearch.tables import Tables, read_tables, to_tables
from igresearch.testing import FakeAPI

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def media_row(tables: Tables) -> dict[str, Any]:
    [row] = tables.media.to_dicts()
    return row


def assert_schemas(tables: Tables) -> None:
    for name, schema in SCHEMAS.items():
        assert getattr(tables, name).schema == schema, name


def test_documented_example() -> None:
    tables = to_tables(FakeAPI.media_for("DLlGZiCOBQ0"))
    assert_schemas(tables)
    row = media_row(tables)
    assert row["media_id"] == "3667365614373573684"
    assert row["url"] == "https://www.instagram.com/reel/DLlGZiCOBQ0/"
    assert (row["play_count"], row["view_count"], row["like_count"]) == (1799817, 27040, 27791)
    assert (row["comment_count"], row["comments_in_payload"]) == (487, 1)
    assert row["taken_at"] == utc(1751404144)
    assert row["caption_created_at"] == utc(1751404145)
    assert (row["owner_username"], row["owner_follower_count"]) == ("humansofny", 12804266)
    assert (row["music_artist"], row["audio_id"], row["uses_original_audio"]) == (
        "humansofny",
        "24313369781619226",
        True,
    )
    assert (row["duration_s"], row["width"], row["height"]) == (41.125, 640, 1136)
    assert (row["id_mismatch"], row["source_shape"]) == (False, "data.xdt_shortcode_media")
    [comment] = tables.comments.to_dicts()
    assert comment["comment_id"] == "18094151056886709"
    assert comment["created_at"] == utc(1762011704)
    assert comment["owner_username"] == "iam_carrongrazette"
    assert comment["parent_comment_id"] is None


def test_vendor_envelope_reel_with_replies_coauthors_and_music() -> None:
    tables = to_tables(load("xdt_reel_vendor.json"))
    assert_schemas(tables)
    row = media_row(tables)
    assert (row["media_id"], row["shortcode"]) == ("3648234092480183633", "DKhIZPzwD1R")
    assert (row["play_count"], row["view_count"], row["like_count"]) == (913377, 48210, 27500)
    assert (row["comment_count"], row["comments_in_payload"]) == (120, 4)
    assert row["owner_follower_count"] == 123456
    assert row["is_paid_partnership"] is True
    assert row["duration_s"] == 37.433
    assert len(row["coauthor_usernames"]) == 2
    assert row["taken_at"] == utc(1749123456)
    assert row["caption_created_at"] == utc(1749123457)

    comments = tables.comments
    assert comments.height == 4
    replies = comments.filter(pl.col("parent_comment_id").is_not_null())
    assert replies.height == 2
    assert replies["parent_comment_id"].n_unique() == 1
    assert replies["parent_comment_id"][0] in comments["comment_id"].to_list()
    assert set(comments["media_id"]) == {"3648234092480183633"}

    owners = tables.owners
    assert owners.height == 3
    owner = owners.filter(pl.col("owner_id") == "70000000001").to_dicts()[0]
    assert (owner["username"], owner["follower_count"], owner["post_count"]) == (
        "fixture_owner",
        123456,
        321,
    )


def test_instagram_envelope_with_owner_stub_and_location() -> None:
    tables = to_tables(load("xdt_reel_instagram.json"))
    row = media_row(tables)
    assert (row["media_id"], row["view_count"], row["play_count"]) == (
        "3582057420929681634",
        0,
        5120,
    )
    assert row["owner_follower_count"] is None
    assert row["location_name"] == "Fixture Park"
    assert row["coauthor_usernames"] == []
    assert tables.owners.to_dicts()[0]["follower_count"] is None


def test_image_with_hidden_likes_and_graphql_errors() -> None:
    tables = to_tables(load("xdt_image_likes_hidden.json"))
    assert tables.errors.is_empty()
    row = media_row(tables)
    assert row["media_id"] == "3714308280401629635"
    assert (row["like_count"], row["likes_hidden"]) == (None, True)
    assert (row["is_video"], row["play_count"], row["view_count"], row["duration_s"]) == (
        False,
        None,
        None,
        None,
    )
    assert (row["product_type"], row["music_artist"]) == (None, None)
    assert (row["comment_count"], row["comments_in_payload"]) == (1, 0)


def test_legacy_graphql_clips_with_damaged_strings() -> None:
    tables = to_tables(load("legacy_graphql_clips.json"))
    assert tables.errors.is_empty()
    row = media_row(tables)
    assert row["source_shape"] == "graphql.shortcode_media"
    assert (row["typename"], row["product_type"]) == ("GraphVideo", "clips")
    assert (row["play_count"], row["view_count"], row["like_count"]) == (2950, 640, 256)
    assert (row["comment_count"], row["comments_in_payload"]) == (9, 3)
    assert row["owner_follower_count"] == 7448


def test_sidecar_with_xdt_children() -> None:
    tables = to_tables(load("legacy_sidecar_xdt_children.json"))
    row = media_row(tables)
    assert (row["source_shape"], row["typename"], row["is_video"]) == (
        "data.shortcode_media",
        "GraphSidecar",
        False,
    )
    assert (row["like_count"], row["comment_count"]) == (161553, 5301)
    children = tables.children
    assert children.schema == SCHEMAS["children"]
    assert children["position"].to_list() == [0, 1, 2]
    assert set(children["parent_media_id"]) == {"2326096433630145638"}
    assert children["shortcode"].to_list() == ["CBH8j73j0JB", "CBH8j73j0JC", "CBH8j73j0JD"]
    video = children.filter(pl.col("is_video")).to_dicts()
    assert [(v["play_count"], v["view_count"]) for v in video] == [(None, 20480)]


def test_non_numeric_carousel_child_ids_are_kept_as_strings() -> None:
    sidecar = load("legacy_sidecar_xdt_children.json")
    edges = sidecar["data"]["shortcode_media"]["edge_sidecar_to_children"]["edges"]
    edges[2]["node"]["id"] = "POLARIS_3"
    children = to_tables(sidecar).children
    assert children["media_id"].to_list()[2] == "POLARIS_3"
    assert children.schema == SCHEMAS["children"]


def test_2017_comment_count_from_edge_media_to_comment() -> None:
    row = media_row(to_tables(load("legacy_2017_to_comment.json")))
    assert (row["comment_count"], row["comments_in_payload"], row["like_count"]) == (9, 1, 55)
    assert row["caption_created_at"] is None


def test_apify_item() -> None:
    tables = to_tables(load("apify_item.json"))
    row = media_row(tables)
    assert row["source_shape"] == "apify_item"
    assert (row["media_id"], row["shortcode"]) == ("3675264091672589640", "DMBKTgP5LVI")
    assert (row["play_count"], row["view_count"], row["like_count"]) == (230400, 15200, 1890)
    assert (row["comment_count"], row["comments_in_payload"]) == (42, 2)
    assert row["taken_at"] == utc(1752345678)
    assert (row["is_video"], row["duration_s"], row["width"], row["height"]) == (
        True,
        22.5,
        1080,
        1920,
    )
    assert (row["owner_id"], row["owner_username"]) == ("70000000007", "fixture_owner7")
    assert row["coauthor_usernames"] == ["fixture_coauthor3"]
    assert (row["location_name"], row["is_paid_partnership"]) == ("Fixture Beach", False)
    reply = tables.comments.filter(pl.col("parent_comment_id").is_not_null()).to_dicts()
    assert [(r["comment_id"], r["parent_comment_id"]) for r in reply] == [
        ("17900000000000802", "17900000000000801")
    ]
    owner = tables.owners.filter(pl.col("owner_id") == "70000000007").to_dicts()[0]
    assert owner["full_name"] == "Fixture Owner Seven"


def test_mobile_items() -> None:
    tables = to_tables(load("mobile_items.json"))
    row = media_row(tables)
    assert row["source_shape"] == "items"
    assert (row["media_id"], row["shortcode"]) == ("3691835031798569642", "DM8CGa3slqq")
    assert (row["play_count"], row["view_count"], row["like_count"]) == (402000, 61000, 7321)
    assert (row["comment_count"], row["comments_in_payload"]) == (88, 1)
    assert row["taken_at"] == utc(1754321098)
    assert row["caption_created_at"] == utc(1754321099)
    assert (row["owner_id"], row["owner_username"]) == ("70000000008", "fixture_owner8")
    assert (row["audio_id"], row["uses_original_audio"]) == ("990000000000010", True)
    assert row["id_mismatch"] is False


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [("xdt_null_media.json", "media node is null"), ("apify_error_item.json", "")],
)
def test_unavailable_posts_go_to_errors(fixture: str, reason: str) -> None:
    tables = to_tables(load(fixture))
    assert tables.media.is_empty()
    [error] = tables.errors.to_dicts()
    assert error["kind"] == "unavailable"
    assert reason in error["reason"]


def test_id_mismatch_is_kept_and_flagged() -> None:
    row = media_row(to_tables(load("id_mismatch.json")))
    assert (row["media_id"], row["shortcode"], row["id_mismatch"]) == (
        "3702190533495745644",
        "CzpI6gTgAAq",
        True,
    )


# --- rules ---


def documented() -> dict[str, Any]:
    return FakeAPI.media_for("DLlGZiCOBQ0")


def node_of(envelope: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = envelope["data"]["data"]["xdt_shortcode_media"]
    return node


def test_absent_and_null_are_the_same() -> None:
    absent, null = documented(), documented()
    for key in ("video_play_count", "clips_music_attribution_info", "owner", "dimensions"):
        del node_of(absent)[key]
        node_of(null)[key] = None
    assert_frame_equal(to_tables(absent).media, to_tables(null).media)
    row = media_row(to_tables(absent))
    assert (row["play_count"], row["view_count"], row["owner_id"], row["music_song"]) == (
        None,
        27040,
        None,
        None,
    )


def test_play_and_view_counts_are_never_substituted() -> None:
    envelope = documented()
    del node_of(envelope)["video_view_count"]
    row = media_row(to_tables(envelope))
    assert (row["play_count"], row["view_count"]) == (1799817, None)


def test_comment_count_falls_back_in_order() -> None:
    envelope = documented()
    node = node_of(envelope)
    node["edge_media_preview_comment"] = {"count": 11, "edges": []}
    node["edge_media_to_comment"] = {"count": 22, "edges": []}
    node["comment_count"] = 33
    counts = []
    for key in (
        "edge_media_to_parent_comment",
        "edge_media_preview_comment",
        "edge_media_to_comment",
    ):
        counts.append(media_row(to_tables(envelope))["comment_count"])
        del node[key]
    counts.append(media_row(to_tables(envelope))["comment_count"])
    assert counts == [487, 11, 22, 33]


def test_ids_stay_strings_even_when_numbers_arrive() -> None:
    envelope = documented()
    node_of(envelope)["id"] = 3667365614373573684
    node_of(envelope)["owner"]["id"] = 242598499
    row = media_row(to_tables(envelope))
    assert (row["media_id"], row["owner_id"]) == ("3667365614373573684", "242598499")


def test_wrong_types_give_null_not_a_crash() -> None:
    envelope = documented()
    node = node_of(envelope)
    node["video_play_count"] = "lots"
    node["edge_media_preview_like"] = {"count": {"nested": "junk"}}
    node["dimensions"] = [1, 2]
    node["edge_media_to_caption"] = "oops"
    tables = to_tables(envelope)
    row = media_row(tables)
    assert (row["play_count"], row["like_count"], row["width"], row["caption"]) == (
        None,
        None,
        None,
        None,
    )
    assert tables.errors.is_empty()


def test_a_malformed_record_never_loses_the_others() -> None:
    good = documented()
    no_ids = copy.deepcopy(good)
    del node_of(no_ids)["id"]
    del node_of(no_ids)["shortcode"]
    tables = to_tables(
        [good, "not a response", {"unrelated": 1}, no_ids, FakeAPI.media_for("C0ffee12345")]
    )
    assert sorted(tables.media["shortcode"]) == ["C0ffee12345", "DLlGZiCOBQ0"]
    errors = tables.errors.to_dicts()
    assert [e["record"] for e in errors] == ["record 1", "record 2", "record 3"]
    assert {e["kind"] for e in errors} == {"malformed"}
    assert "neither an id nor a valid shortcode" in errors[2]["reason"]


def test_failure_envelopes_are_errors_not_unavailable() -> None:
    tables = to_tables({"code": 402, "msg": "Insufficient credits", "data": None})
    [error] = tables.errors.to_dicts()
    assert error["kind"] == "failed"
    assert "402" in error["reason"]


def archive_record(envelope: Any, fetched_at: str, **extra: Any) -> dict[str, Any]:
    return {
        "archive_version": 1,
        "shortcode": "DLlGZiCOBQ0",
        "channel": "apify",
        "fetched_at": fetched_at,
        "response": envelope,
        "error": None,
        **extra,
    }


def test_snapshots_media_per_fetch_comments_and_owners_latest() -> None:
    first, second = documented(), documented()
    node_of(second)["video_play_count"] = 2_000_000
    node_of(second)["edge_media_to_parent_comment"]["edges"][0]["node"]["edge_liked_by"] = {
        "count": 5
    }
    stub = documented()
    del node_of(stub)["owner"]["edge_followed_by"]
    records = [
        archive_record(second, "2026-01-03T00:00:00+00:00"),
        archive_record(first, "2026-01-01T00:00:00+00:00"),
        archive_record(stub, "2026-01-05T00:00:00+00:00"),
    ]
    tables = to_tables(records)
    assert tables.media["play_count"].to_list() == [1799817, 2_000_000, 1799817]
    assert tables.media["channel"].to_list() == ["apify"] * 3
    assert tables.media["fetched_at"].to_list() == [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 3, tzinfo=UTC),
        datetime(2026, 1, 5, tzinfo=UTC),
    ]
    [comment] = tables.comments.to_dicts()
    assert comment["fetched_at"] == datetime(2026, 1, 5, tzinfo=UTC)
    [owner] = tables.owners.to_dicts()
    assert owner["follower_count"] == 12804266, "a stub never overwrites a known count"
    assert owner["fetched_at"] == datetime(2026, 1, 5, tzinfo=UTC)


def test_archive_failures_become_error_rows() -> None:
    record = archive_record(None, "2026-01-01T00:00:00+00:00")
    record["error"] = {"class": "RateLimitError", "message": "Rate limited", "retriable": True}
    [error] = to_tables([record]).errors.to_dicts()
    assert (error["kind"], error["reason"], error["shortcode"], error["channel"]) == (
        "failed",
        "Rate limited",
        "DLlGZiCOBQ0",
        "apify",
    )


def test_json_lines_file_with_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "responses.jsonl"
    lines = [
        json.dumps(documented()),
        "",
        json.dumps(archive_record(load("apify_item.json"), "2026-01-01T00:00:00Z")),
    ]
    path.write_text("\n".join(lines) + "\n" + json.dumps(documented())[:100], encoding="utf-8")
    tables = to_tables(path)
    assert tables.media["shortcode"].to_list() == ["DLlGZiCOBQ0", "DMBKTgP5LVI"]
    [error] = tables.errors.to_dicts()
    assert error["record"] == "responses.jsonl:4"
    assert "not valid JSON" in error["reason"]
    assert_frame_equal(to_tables(str(path)).media, tables.media)


def test_json_file_with_one_response(tmp_path: Path) -> None:
    assert to_tables(FIXTURES / "apify_item.json").media.height == 1


def test_many_records_across_batches() -> None:
    shortcodes = [f"C0ffee{i:05d}" for i in range(12_000)]
    tables = to_tables(FakeAPI.media_for(code) for code in shortcodes)
    assert tables.media["shortcode"].to_list() == shortcodes
    assert tables.comments.height == len(shortcodes)
    assert tables.comments["media_id"].to_list() == tables.media["media_id"].to_list()
    assert_schemas(tables)


def test_the_same_records_in_any_order_give_the_same_tables() -> None:
    records = [
        load(name) for name in ("xdt_reel_vendor.json", "apify_item.json", "mobile_items.json")
    ]
    forward, backward = to_tables(records), to_tables(records[::-1])
    for name in ("media", "comments", "owners", "children"):
        assert_frame_equal(getattr(forward, name), getattr(backward, name))


def test_bad_source_type_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="to_tables"):
        to_tables(42)
    with pytest.raises(FileNotFoundError, match="nowhere.jsonl"):
        to_tables(Path("nowhere.jsonl"))


@pytest.mark.parametrize("format", ["parquet", "csv"])
def test_write_and_read_back(tmp_path: Path, format: str) -> None:
    tables = to_tables(
        [
            load("xdt_reel_vendor.json"),
            load("legacy_sidecar_xdt_children.json"),
            load("xdt_null_media.json"),
        ]
    )
    paths = tables.write(tmp_path, format=format)  # type: ignore[arg-type]
    descriptor = ["datapackage.json"] if format == "csv" else []
    assert sorted(p.name for p in paths) == sorted(
        [f"{name}.{format}" for name in SCHEMAS] + descriptor
    )
    assert not list(tmp_path.glob("*.part"))
    back = read_tables(tmp_path)
    for name in SCHEMAS:
        assert_frame_equal(getattr(back, name), getattr(tables, name))
    if format == "csv":
        raw = pl.read_csv(tmp_path / "media.csv", infer_schema=False)
        row = raw.filter(pl.col("shortcode") == "DKhIZPzwD1R")["coauthor_usernames"][0]
        coauthors = json.loads(row)
        assert len(coauthors) == 2
        assert (
            coauthors
            == tables.media.filter(pl.col("shortcode") == "DKhIZPzwD1R")["coauthor_usernames"][
                0
            ].to_list()
        )


def test_data_dictionary_matches_the_schema_module() -> None:
    committed = (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert committed == data_dictionary(), "regenerate: python scripts/make_data_dictionary.py"
    for name, schema in SCHEMAS.items():
        assert f"## {name}" in committed
        for column in schema:
            assert f"| `{column}` |" in committed


HOSTILE = [
    '=HYPERLINK("http://x")',
    "+cmd",
    "@SUM(A1)",
    "-2+3",
    "'quoted",
    "\tTab",
    "\rCR",
    "plain text",
    None,
]


def test_spreadsheet_safe_csv_quotes_formulas_and_reads_back_exact(tmp_path: Path) -> None:
    """Issue 12, item 1: with spreadsheet_safe, every text cell a spreadsheet would evaluate (or
    that starts with ') gets one leading '; numbers are untouched; read_tables gives the exact
    values back. Without it, the CSV holds the cells as they are."""
    tables = to_tables([load("xdt_reel_vendor.json")])
    n = len(HOSTILE)
    comments = pl.DataFrame(
        {
            "comment_id": [str(i) for i in range(n)],
            "media_id": ["1"] * n,
            "text": HOSTILE,
            "owner_username": list(reversed(HOSTILE)),
            "like_count": [-5, -2, 3, 0, -1, 7, -3, 1, None],
        },
        schema_overrides={"like_count": pl.Int64},
    )
    comments = pl.DataFrame(schema=SCHEMAS["comments"]).vstack(
        comments.select(
            pl.col(c).cast(t) if c in comments.columns else pl.lit(None, t).alias(c)
            for c, t in SCHEMAS["comments"].items()
        )
    )
    hostile = Tables(**{**{name: getattr(tables, name) for name in SCHEMAS}, "comments": comments})

    safe, exact = tmp_path / "safe", tmp_path / "exact"
    paths = hostile.write(safe, format="csv", spreadsheet_safe=True)
    assert safe / "SPREADSHEET-SAFE.txt" in paths
    raw = pl.read_csv(safe / "comments.csv", infer_schema=False)
    quoted = ["'" + v if v is not None and v != "plain text" else v for v in HOSTILE]
    assert raw["text"].to_list() == quoted
    assert raw["owner_username"].to_list() == list(reversed(quoted))
    assert raw["like_count"].to_list() == ["-5", "-2", "3", "0", "-1", "7", "-3", "1", None]
    text = (safe / "comments.csv").read_text(encoding="utf-8")
    assert ",'+cmd," in text and ",+cmd," not in text and ",-5," in text
    assert_frame_equal(read_tables(safe).comments, comments)
    for name in SCHEMAS:
        assert_frame_equal(getattr(read_tables(safe), name), getattr(hostile, name))

    hostile.write(exact, format="csv")
    assert not (exact / "SPREADSHEET-SAFE.txt").exists()
    assert pl.read_csv(exact / "comments.csv", infer_schema=False)["text"].to_list() == HOSTILE
    assert_frame_equal(read_tables(exact).comments, comments)
    hostile.write(safe, format="csv")  # exact over safe: the marker goes, values stay exact
    assert not (safe / "SPREADSHEET-SAFE.txt").exists()
    assert_frame_equal(read_tables(safe).comments, comments)
    with pytest.raises(ValueError, match="spreadsheet_safe"):
        hostile.write(tmp_path / "p", spreadsheet_safe=True)


def test_an_error_row_of_a_post_stored_later_is_resolved(fake_api: FakeAPI, tmp_path: Path) -> None:
    """Issue 13, item 12: a failure that a later run stored (ok, or unavailable) is `resolved`, as
    `Attrition.of` counts it; unresolved failures are the attrition; no keys, no answer."""
    archive = tmp_path / "a.jsonl"
    options = {"api_key": "sk-test-resolved-0123", "base_url": fake_api.base_url}
    codes = ["C0ffee00001", "C0ffee00002", "C0ffee00003"]
    for code in codes:
        fake_api.set_for(code, "server_error")
    collect(codes, archive=archive, progress=False, rate=1000.0, max_retries=0, **options)
    fake_api.reset()
    fake_api.set_for("C0ffee00002", "null_media")
    fake_api.set_for("C0ffee00003", "server_error")
    collect(
        codes[:3], archive=archive, progress=False, rate=1000.0, max_retries=0,
        retry_failed=True, **options,
    )  # fmt: skip
    with archive.open("a", encoding="utf-8") as lines:  # a record naming no post
        lines.write(json.dumps({"code": "0003", "msg": "no", "data": None}) + "\n")
    errors = to_tables(archive).errors.sort("record")
    resolved = {
        (shortcode, kind): flag
        for shortcode, kind, flag in errors.select("shortcode", "kind", "resolved").iter_rows()
    }
    assert resolved == {
        ("C0ffee00001", "failed"): True,  # ok later
        ("C0ffee00002", "failed"): True,  # unavailable later
        ("C0ffee00002", "unavailable"): True,
        ("C0ffee00003", "failed"): False,  # failed twice
        (None, "failed"): None,
    }
    assert errors.filter(pl.col("kind") == "failed", pl.col("resolved")).height == 2
    attrition = Attrition.of(archive)
    unresolved = errors.filter(~pl.col("resolved"))["shortcode"].unique().to_list()
    assert unresolved == [lost.url[-12:-1] for lost in attrition.lost if lost.outcome == "failed"]
    write_report(archive, tmp_path / "report")
    line = "2 of the errors table's 5 failed or malformed rows are of posts that another record"
    assert line in (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert html.escape(line) in (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
