"""Engagement rates, latest snapshots, per-account summaries and growth, against hand-computed
values."""

from __future__ import annotations

import doctest
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from igresearch import metrics
from igresearch.metrics import (
    RATES,
    engagement_by_owner,
    growth,
    latest,
    snapshots,
    visible_likes,
    with_rates,
)
from igresearch.schema import MEDIA_SCHEMA
from igresearch.tables import Tables

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def media(*rows: dict[str, Any]) -> pl.DataFrame:
    """A media table from partial rows: every column the row does not give is null."""
    return pl.DataFrame(
        [{name: row.get(name) for name in MEDIA_SCHEMA} for row in rows], schema=MEDIA_SCHEMA
    )


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


# --- rates -------------------------------------------------------------------------------------

RATE_ROWS: list[dict[str, Any]] = [
    # an ordinary reel
    {"play_count": 1000, "like_count": 50, "comment_count": 10, "view_count": 400,
     "owner_follower_count": 2000, "likes_hidden": False},
    # zero plays
    {"play_count": 0, "like_count": 5, "comment_count": 1, "view_count": 10,
     "owner_follower_count": 100, "likes_hidden": False},
    # hidden likes (the payload said -1), missing followers and views
    {"play_count": 1000, "like_count": None, "likes_hidden": True, "comment_count": 20},
    # hidden flag set but a like count anyway; zero followers
    {"play_count": 100, "like_count": 7, "likes_hidden": True, "comment_count": 0,
     "owner_follower_count": 0},
    # no plays reported, no comment count
    {"play_count": None, "like_count": 3, "owner_follower_count": 10, "likes_hidden": False},
    # likes_hidden unknown: a like count is used
    {"play_count": 10, "like_count": 2, "likes_hidden": None, "comment_count": 1},
]  # fmt: skip

EXPECTED_RATES = {
    "like_rate": [0.05, None, None, None, None, 0.2],
    "comment_rate": [0.01, None, 0.02, 0.0, None, 0.1],
    "engagement_rate": [0.06, None, None, None, None, 0.3],
    "reach": [0.5, 0.0, None, None, None, None],
    "likes_per_follower": [0.025, 0.05, None, None, 0.3, None],
    "view_play_ratio": [0.4, None, None, None, None, None],
}


def assert_close(actual: list[Any], expected: list[Any]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        if want is None:
            assert got is None
        else:
            assert got == pytest.approx(want)


@pytest.mark.parametrize("name", list(EXPECTED_RATES))
def test_rate_hand_computed(name: str) -> None:
    frame = media(*RATE_ROWS).select(RATES[name]())
    assert frame.columns == [name]
    assert frame.schema[name] == pl.Float64
    assert_close(frame[name].to_list(), EXPECTED_RATES[name])


def test_rates_dict_names_match_functions() -> None:
    assert list(RATES) == list(EXPECTED_RATES)
    for name, build in RATES.items():
        assert build is getattr(metrics, name)
        assert build().meta.output_name() == name


def test_with_rates_appends_float_columns() -> None:
    frame = with_rates(media(*RATE_ROWS))
    assert frame.columns == [*MEDIA_SCHEMA.names(), *RATES]
    for name in RATES:
        assert frame.schema[name] == pl.Float64
        assert_close(frame[name].to_list(), EXPECTED_RATES[name])


def test_rates_never_inf_or_nan() -> None:
    values = [None, 0, 1, 10**12]
    rows = [
        {"play_count": p, "like_count": c, "comment_count": c, "view_count": p,
         "owner_follower_count": f, "likes_hidden": h}
        for p in values for c in values for f in values for h in (None, False, True)
    ]  # fmt: skip
    frame = with_rates(media(*rows)).select(list(RATES))
    for name in RATES:
        column = frame[name].drop_nulls()
        assert not column.is_nan().any(), name
        assert not column.is_infinite().any(), name


def test_with_rates_on_empty_table() -> None:
    frame = with_rates(media())
    assert frame.height == 0
    assert all(frame.schema[name] == pl.Float64 for name in RATES)


# --- latest ------------------------------------------------------------------------------------


def snapshot_media() -> pl.DataFrame:
    """Snapshots out of order, some without a fetch time."""
    return media(
        {"media_id": "1", "play_count": 10, "fetched_at": hours(1)},
        {"media_id": "2", "play_count": 5, "fetched_at": None},
        {"media_id": "1", "play_count": 30, "fetched_at": hours(3)},
        {"media_id": "1", "play_count": 99, "fetched_at": None},
        {"media_id": "1", "play_count": 20, "fetched_at": hours(2)},
        {"media_id": "2", "play_count": 6, "fetched_at": hours(0)},
        {"media_id": "3", "play_count": 7, "fetched_at": None},
    )


def tied_media() -> pl.DataFrame:
    """Two snapshots of one reel fetched at the same time."""
    return media(
        {"media_id": "1", "play_count": 1, "fetched_at": hours(1)},
        {"media_id": "1", "play_count": 2, "fetched_at": hours(1)},
    )


def test_latest_keeps_newest_snapshot_and_null_fetch_is_oldest() -> None:
    result = latest(snapshot_media())
    assert result.schema == MEDIA_SCHEMA
    assert result.select("media_id", "play_count").rows() == [("1", 30), ("2", 6), ("3", 7)]


def test_latest_tie_goes_to_later_row() -> None:
    assert latest(tied_media())["play_count"].to_list() == [2]


def test_latest_of_empty_table() -> None:
    assert_frame_equal(latest(media()), media())


CHILD_KEY = ["parent_media_id", "position", "fetched_at"]


def child_rows() -> pl.DataFrame:
    """Rows keyed like the children table, with repeated and null key values."""
    schema = {
        "parent_media_id": pl.String,
        "position": pl.Int64,
        "fetched_at": pl.Datetime("us", "UTC"),
        "n": pl.Int64,
    }
    rows = [
        ("a", 0, hours(1), 1),
        ("a", 1, hours(1), 2),
        ("a", 0, hours(1), 3),  # same key as the first row, later in the input: wins
        ("a", 0, hours(2), 4),  # another fetch: another key
        (None, 0, hours(1), 5),  # no parent: kept as it is, however often
        (None, 0, hours(1), 6),
        ("b", 0, None, 7),
        ("b", 0, None, 8),  # null fetched_at is part of the key: the later row wins
        ("a", None, hours(1), 9),  # a null later key column still matches like a value
        ("a", None, hours(1), 10),
    ]
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_latest_by_a_multi_column_key() -> None:
    """The children table's key: the newest row per (parent, position, fetched_at)."""
    frame = child_rows()
    result = latest(frame, by=CHILD_KEY)
    assert result.schema == frame.schema
    assert result["n"].to_list() == [2, 3, 4, 5, 6, 8, 10]
    assert latest(frame, by=("parent_media_id", "position", "fetched_at")).equals(result)


def test_latest_by_one_column_given_as_a_name_or_a_list() -> None:
    frame = media(
        {"media_id": "1", "shortcode": "A", "play_count": 1, "fetched_at": hours(2)},
        {"media_id": "2", "shortcode": "A", "play_count": 2, "fetched_at": hours(1)},
        {"media_id": "3", "shortcode": "B", "play_count": 3, "fetched_at": None},
    )
    assert latest(frame, by="shortcode")["play_count"].to_list() == [1, 3]
    assert_frame_equal(latest(frame, by=["shortcode"]), latest(frame, by="shortcode"))
    assert_frame_equal(latest(frame, by="media_id"), latest(frame))
    with pytest.raises(ValueError, match="at least one key column"):
        latest(frame, by=[])


# --- snapshots and hidden likes: one definition, used by growth and the figures ----------------


def test_snapshots_keep_the_later_duplicate_and_drop_untimed_rows() -> None:
    frame = media(
        {"media_id": "2", "fetched_at": hours(1), "play_count": 1},
        {"media_id": "1", "fetched_at": hours(3), "play_count": 2},
        {"media_id": "1", "fetched_at": hours(0), "play_count": 3},
        {"media_id": "1", "fetched_at": hours(3), "play_count": 4},
        {"media_id": "1", "fetched_at": None, "play_count": 5},
        {"media_id": None, "fetched_at": hours(0), "play_count": 6},
    )
    result = snapshots(frame)
    assert result.schema == MEDIA_SCHEMA
    assert result.select("media_id", "play_count").rows() == [("1", 3), ("1", 4), ("2", 1)]


def test_visible_likes_are_null_only_when_hidden() -> None:
    frame = media(
        {"like_count": 5, "likes_hidden": False},
        {"like_count": 7, "likes_hidden": True},
        {"like_count": 3, "likes_hidden": None},
        {"like_count": None, "likes_hidden": False},
    )
    result = frame.select(visible_likes())
    assert result.schema == pl.Schema({"like_count": pl.Int64})
    assert result["like_count"].to_list() == [5, None, 3, None]


# --- engagement_by_owner -----------------------------------------------------------------------


def owner_media() -> pl.DataFrame:
    """Two accounts: an older snapshot, zero plays, hidden likes, a missing owner id."""
    return media(
        # reel 1: an older snapshot (ignored: like rate 0.5) and the newest (0.1)
        {"media_id": "1", "owner_username": "a", "owner_id": None, "play_count": 10,
         "like_count": 5, "comment_count": 0, "likes_hidden": False, "fetched_at": hours(0)},
        {"media_id": "1", "owner_username": "a", "owner_id": None, "play_count": 100,
         "like_count": 10, "comment_count": 0, "likes_hidden": False, "fetched_at": hours(5)},
        {"media_id": "2", "owner_username": "a", "owner_id": "111", "play_count": 200,
         "like_count": 10, "comment_count": 2, "likes_hidden": False, "fetched_at": hours(5)},
        {"media_id": "3", "owner_username": "a", "owner_id": "111", "play_count": 400,
         "like_count": 4, "comment_count": 4, "likes_hidden": False, "fetched_at": hours(5)},
        # zero plays: counted in n, not in like_rate_n
        {"media_id": "4", "owner_username": "a", "owner_id": "111", "play_count": 0,
         "like_count": 0, "comment_count": 0, "likes_hidden": False, "fetched_at": hours(5)},
        # hidden likes
        {"media_id": "5", "owner_username": "b", "owner_id": "222", "play_count": 50,
         "like_count": None, "comment_count": 5, "likes_hidden": True, "fetched_at": hours(5)},
    )  # fmt: skip


def test_engagement_by_owner_hand_computed() -> None:
    result = engagement_by_owner(owner_media())
    assert result["owner_username"].to_list() == ["a", "b"]
    assert result["owner_id"].to_list() == ["111", "222"]
    assert result["n"].to_list() == [4, 1]
    assert result["like_rate_n"].to_list() == [3, 0]
    # a: like rates 0.1, 0.05, 0.01 -> median 0.05; linear q25 at index 0.5, q75 at index 1.5
    assert_close(result["like_rate_median"].to_list(), [0.05, None])
    assert_close(result["like_rate_q25"].to_list(), [0.03, None])
    assert_close(result["like_rate_q75"].to_list(), [0.075, None])
    # comment rates: a 0.0, 0.01, 0.01; b 0.1
    assert result["comment_rate_n"].to_list() == [3, 1]
    assert_close(result["comment_rate_median"].to_list(), [0.01, 0.1])
    assert_close(result["comment_rate_q25"].to_list(), [0.005, 0.1])
    assert_close(result["comment_rate_q75"].to_list(), [0.01, 0.1])
    expected = ["owner_username", "owner_id", "n"]
    for name in RATES:
        expected += [f"{name}_n", f"{name}_median", f"{name}_q25", f"{name}_q75"]
    assert result.columns == expected
    assert result.schema["n"] == pl.Int64
    assert result.schema["like_rate_n"] == pl.Int64
    assert result.schema["like_rate_median"] == pl.Float64


def unnamed_owner_media() -> pl.DataFrame:
    return media(
        {"media_id": "1", "owner_username": None, "play_count": 10},
        {"media_id": "2", "owner_username": "zed", "play_count": 10},
        {"media_id": "3", "owner_username": "amy", "play_count": 10},
    )


def test_engagement_by_owner_sorts_null_username_last() -> None:
    result = engagement_by_owner(unnamed_owner_media())
    assert result["owner_username"].to_list() == ["amy", "zed", None]


def test_engagement_by_owner_of_empty_table() -> None:
    result = engagement_by_owner(media())
    assert result.height == 0
    assert "like_rate_median" in result.columns


# --- growth ------------------------------------------------------------------------------------


def growth_media() -> pl.DataFrame:
    return media(
        # r1, three snapshots given out of order, posted at T0; likes hidden at the last one
        {"media_id": "r1", "shortcode": "R1", "owner_username": "a", "taken_at": T0,
         "fetched_at": hours(5), "play_count": 2500, "like_count": 80, "comment_count": 11,
         "likes_hidden": False},
        {"media_id": "r1", "shortcode": "R1", "owner_username": "a", "taken_at": T0,
         "fetched_at": hours(2), "play_count": 1000, "like_count": 50, "comment_count": 5,
         "likes_hidden": False},
        {"media_id": "r1", "shortcode": "R1", "owner_username": "a", "taken_at": T0,
         "fetched_at": hours(11), "play_count": 4000, "like_count": None, "comment_count": 20,
         "likes_hidden": True},
        # a snapshot without fetch time cannot be placed: ignored
        {"media_id": "r1", "shortcode": "R1", "owner_username": "a", "taken_at": T0,
         "fetched_at": None, "play_count": 1},
        # r2: one snapshot, no growth
        {"media_id": "r2", "shortcode": "R2", "taken_at": T0, "fetched_at": hours(3),
         "play_count": 10},
        # r3: half an hour apart, posting time unknown, comments missing at the first fetch
        {"media_id": "r3", "shortcode": "R3", "fetched_at": hours(1), "play_count": 100,
         "like_count": 1, "likes_hidden": False},
        {"media_id": "r3", "shortcode": "R3", "fetched_at": hours(1.5), "play_count": 160,
         "like_count": 4, "likes_hidden": False, "comment_count": 3},
    )  # fmt: skip


def test_growth_hand_computed() -> None:
    result = growth(growth_media())
    expected = pl.DataFrame(
        {
            "media_id": ["r1", "r1", "r3"],
            "shortcode": ["R1", "R1", "R3"],
            "owner_username": ["a", "a", None],
            "from_fetched_at": [hours(2), hours(5), hours(1)],
            "to_fetched_at": [hours(5), hours(11), hours(1.5)],
            "hours": [3.0, 6.0, 0.5],
            "plays_delta": [1500, 1500, 60],
            "likes_delta": [30, None, 3],
            "comments_delta": [6, 9, None],
            "plays_per_hour": [500.0, 250.0, 120.0],
            "likes_per_hour": [10.0, None, 6.0],
            "comments_per_hour": [2.0, 1.5, None],
            "age_hours": [5.0, 11.0, None],
        },
        schema_overrides={
            "owner_username": pl.String,
            "from_fetched_at": pl.Datetime("us", "UTC"),
            "to_fetched_at": pl.Datetime("us", "UTC"),
            "plays_delta": pl.Int64,
            "likes_delta": pl.Int64,
            "comments_delta": pl.Int64,
            "likes_per_hour": pl.Float64,
            "comments_per_hour": pl.Float64,
            "age_hours": pl.Float64,
        },
    )
    assert_frame_equal(result, expected)


def shrinking_media() -> pl.DataFrame:
    """A duplicate snapshot, then fewer comments."""
    return media(
        {"media_id": "1", "fetched_at": hours(0), "play_count": 10, "comment_count": 5},
        {"media_id": "1", "fetched_at": hours(0), "play_count": 20, "comment_count": 5},
        {"media_id": "1", "fetched_at": hours(4), "play_count": 40, "comment_count": 3},
    )


def test_growth_keeps_later_of_duplicate_snapshots_and_allows_negative_deltas() -> None:
    result = growth(shrinking_media())
    assert result.select("plays_delta", "comments_delta").rows() == [(20, -2)]
    assert result["comments_per_hour"].to_list() == [-0.5]


def test_growth_of_empty_table() -> None:
    result = growth(media())
    assert result.height == 0
    assert result.columns[:5] == [
        "media_id",
        "shortcode",
        "owner_username",
        "from_fetched_at",
        "to_fetched_at",
    ]


# --- DataFrames and LazyFrames alike ------------------------------------------------------------

FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "with_rates": with_rates,
    "latest": latest,
    "snapshots": snapshots,
    "engagement_by_owner": engagement_by_owner,
    "growth": growth,
}

EDGE_CASES: dict[str, Callable[[], pl.DataFrame]] = {
    "rates": lambda: media(*RATE_ROWS),
    "snapshots": snapshot_media,
    "tie": tied_media,
    "owners": owner_media,
    "unnamed_owner": unnamed_owner_media,
    "growth": growth_media,
    "shrinking": shrinking_media,
    "empty": media,
}


def assert_same_lazily(function: Callable[[Any], Any], frame: pl.DataFrame) -> None:
    """`function` of the LazyFrame is a LazyFrame that collects to `function` of the DataFrame."""
    eager, lazy = function(frame), function(frame.lazy())
    assert isinstance(eager, pl.DataFrame)
    assert isinstance(lazy, pl.LazyFrame)
    assert_frame_equal(lazy.collect(), eager, check_exact=True)


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_lazyframe_gives_the_same_result(name: str, case: str) -> None:
    assert_same_lazily(FUNCTIONS[name], EDGE_CASES[case]())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_lazyframe_gives_the_same_result_on_the_demo(name: str, demo_tables: Tables) -> None:
    assert demo_tables.media.height == 80
    assert_same_lazily(FUNCTIONS[name], demo_tables.media)


def test_latest_by_a_multi_column_key_of_a_lazyframe() -> None:
    frame = child_rows()
    result = latest(frame.lazy(), by=CHILD_KEY)
    assert isinstance(result, pl.LazyFrame)
    assert_frame_equal(result.collect(), latest(frame, by=CHILD_KEY), check_exact=True)
    assert result.collect()["n"].to_list() == [2, 3, 4, 5, 6, 8, 10]


def test_docstring_examples() -> None:
    failures, tried = doctest.testmod(metrics, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0
    assert failures == 0


def test_module_docstring_gives_every_formula() -> None:
    doc = metrics.__doc__ or ""
    for formula in (
        "like_rate = like_count / play_count",
        "comment_rate = comment_count / play_count",
        "engagement_rate = (like_count + comment_count) / play_count",
        "reach = play_count / owner_follower_count",
        "likes_per_follower = like_count / owner_follower_count",
        "view_play_ratio = view_count / play_count",
    ):
        assert formula in doc


def test_the_data_dictionary_documents_every_rate() -> None:
    from igresearch.schema import METRICS

    assert [m.name for m in METRICS] == list(RATES)
