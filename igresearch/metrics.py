"""Engagement ratios as polars expressions, and the tables built from them.

Pure transformations of the media table (see ``docs/data-dictionary.md``): no I/O.

Formulas
--------
Each rate is a Float64 column named after its function.

- ``like_rate = like_count / play_count``
- ``comment_rate = comment_count / play_count``
- ``engagement_rate = (like_count + comment_count) / play_count``
- ``reach = play_count / owner_follower_count``
- ``likes_per_follower = like_count / owner_follower_count``
- ``view_play_ratio = view_count / play_count``

"No plays" means play_count is null or 0 (likewise for followers and every other
denominator): a ratio is null, never inf or NaN, when its denominator is null or not positive
or a numerator is null. Likes count as hidden when ``likes_hidden`` is true or ``like_count``
is null. ``owner_follower_count`` is the owner's followers when the reel was fetched, so
``reach`` and ``likes_per_follower`` compare a reel's counts with the audience at fetch time,
not at posting time.

Tables:

- ``latest(media)``: one row per reel, the snapshot with the greatest ``fetched_at``
  (null ``fetched_at`` counts as oldest; among equals, the later row in the input wins);
  ``latest(frame, by=[...])`` does the same for any key.
- ``snapshots(media)``: one row per reel and ``fetched_at`` (the later row in the input wins).
- ``engagement_by_owner(media)``: on ``latest(media)``, per account: ``n`` reels and, for each
  rate, ``<rate>_n`` (non-null values), ``<rate>_median``, ``<rate>_q25`` and ``<rate>_q75``
  (25th and 75th percentiles, linear interpolation; the IQR is q75 - q25).
- ``growth(media)``: between consecutive snapshots of a reel (ordered by ``fetched_at``),
  ``hours = (to_fetched_at - from_fetched_at)`` in hours, ``<count>_delta = count(to) -
  count(from)``, ``<count>_per_hour = <count>_delta / hours`` for plays, likes and comments,
  and ``age_hours = to_fetched_at - taken_at`` in hours.

Each table function takes a DataFrame or a LazyFrame (e.g. from
:func:`igresearch.scan_tables`) and returns the same kind, with the same result once
collected; on a LazyFrame nothing is read or computed until ``.collect()``, and none of them
collects on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import polars as pl

__all__ = [
    "RATES",
    "comment_rate",
    "engagement_by_owner",
    "engagement_rate",
    "growth",
    "latest",
    "like_rate",
    "likes_per_follower",
    "reach",
    "snapshots",
    "view_play_ratio",
    "visible_likes",
    "with_rates",
]

_US_PER_HOUR = 3_600_000_000

#: A DataFrame or a LazyFrame: the table functions return the kind they are given.
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator as Float64; null unless both are known and denominator > 0."""
    known = numerator.is_not_null() & denominator.is_not_null() & (denominator > 0)
    return (
        pl.when(known)
        .then(numerator.cast(pl.Float64) / denominator.cast(pl.Float64))
        .otherwise(None)
        .cast(pl.Float64)
    )


def visible_likes() -> pl.Expr:
    """``like_count``, or null when the owner hid likes (``likes_hidden`` true).

    Every rate and figure counts likes through this expression.

    Examples
    --------
    >>> import polars as pl
    >>> from igresearch.metrics import visible_likes
    >>> pl.DataFrame({"like_count": [5, 7, 3], "likes_hidden": [False, True, None]}).select(
    ...     visible_likes()
    ... )
    shape: (3, 1)
    ┌────────────┐
    │ like_count │
    │ ---        │
    │ i64        │
    ╞════════════╡
    │ 5          │
    │ null       │
    │ 3          │
    └────────────┘
    """
    hidden = pl.col("likes_hidden").fill_null(False)
    return pl.when(hidden).then(None).otherwise(pl.col("like_count")).alias("like_count")


def like_rate() -> pl.Expr:
    """Like rate: ``like_count / play_count``.

    Null when likes are hidden (``likes_hidden`` true or ``like_count`` null) or play_count is
    null or 0.

    Examples
    --------
    >>> import polars as pl
    >>> from igresearch.metrics import like_rate
    >>> df = pl.DataFrame(
    ...     {"like_count": [5, None, 3], "likes_hidden": [False, True, False],
    ...      "play_count": [100, 100, 0]}
    ... )
    >>> df.select(like_rate())
    shape: (3, 1)
    ┌───────────┐
    │ like_rate │
    │ ---       │
    │ f64       │
    ╞═══════════╡
    │ 0.05      │
    │ null      │
    │ null      │
    └───────────┘
    """
    return _ratio(visible_likes(), pl.col("play_count")).alias("like_rate")


def comment_rate() -> pl.Expr:
    """Comment rate: ``comment_count / play_count``; null when play_count is null or 0."""
    return _ratio(pl.col("comment_count"), pl.col("play_count")).alias("comment_rate")


def engagement_rate() -> pl.Expr:
    """Engagement rate: ``(like_count + comment_count) / play_count``.

    Null when likes are hidden, comment_count is null, or play_count is null or 0: a reel with
    hidden likes has no engagement rate rather than one that counts comments only.
    """
    interactions = visible_likes() + pl.col("comment_count")
    return _ratio(interactions, pl.col("play_count")).alias("engagement_rate")


def reach() -> pl.Expr:
    """Reach: ``play_count / owner_follower_count`` (followers at fetch time).

    Null when either is null or the follower count is 0. Can exceed 1: reels are shown to
    non-followers.
    """
    return _ratio(pl.col("play_count"), pl.col("owner_follower_count")).alias("reach")


def likes_per_follower() -> pl.Expr:
    """Likes per follower: ``like_count / owner_follower_count`` (followers at fetch time).

    Null when likes are hidden or the follower count is null or 0.
    """
    return _ratio(visible_likes(), pl.col("owner_follower_count")).alias("likes_per_follower")


def view_play_ratio() -> pl.Expr:
    """View/play ratio: ``view_count / play_count``; null when play_count is null or 0.

    Views and plays are different metrics (see the data dictionary): the ratio shows how far
    apart they are, often far below 1.
    """
    return _ratio(pl.col("view_count"), pl.col("play_count")).alias("view_play_ratio")


#: Every rate by name: the expression-building function, so ``RATES[name]()`` is a ``pl.Expr``.
RATES: dict[str, Callable[[], pl.Expr]] = {
    "like_rate": like_rate,
    "comment_rate": comment_rate,
    "engagement_rate": engagement_rate,
    "reach": reach,
    "likes_per_follower": likes_per_follower,
    "view_play_ratio": view_play_ratio,
}


def with_rates(media: Frame) -> Frame:
    """The media table with every rate in :data:`RATES` added as a Float64 column.

    Parameters
    ----------
    media
        The media table (any DataFrame or LazyFrame with its count columns).

    Returns
    -------
    pl.DataFrame or pl.LazyFrame
        The kind `media` is: ``media`` with ``like_rate``, ``comment_rate``,
        ``engagement_rate``, ``reach``, ``likes_per_follower`` and ``view_play_ratio`` appended
        (replaced if present).

    Examples
    --------
    >>> import polars as pl
    >>> from igresearch.metrics import RATES, with_rates
    >>> from igresearch.schema import MEDIA_SCHEMA
    >>> media = pl.DataFrame(
    ...     [{"play_count": 1000, "like_count": 50, "comment_count": 10, "view_count": 400,
    ...       "owner_follower_count": 2000}],
    ...     schema=MEDIA_SCHEMA,
    ... )
    >>> with_rates(media).select(list(RATES))
    shape: (1, 6)
    ┌───────────┬──────────────┬─────────────────┬───────┬────────────────────┬─────────────────┐
    │ like_rate ┆ comment_rate ┆ engagement_rate ┆ reach ┆ likes_per_follower ┆ view_play_ratio │
    │ ---       ┆ ---          ┆ ---             ┆ ---   ┆ ---                ┆ ---             │
    │ f64       ┆ f64          ┆ f64             ┆ f64   ┆ f64                ┆ f64             │
    ╞═══════════╪══════════════╪═════════════════╪═══════╪════════════════════╪═════════════════╡
    │ 0.05      ┆ 0.01         ┆ 0.06            ┆ 0.5   ┆ 0.025              ┆ 0.4             │
    └───────────┴──────────────┴─────────────────┴───────┴────────────────────┴─────────────────┘
    """
    return media.with_columns(*(rate() for rate in RATES.values()))


def latest(media: Frame, *, by: str | Sequence[str] = "media_id") -> Frame:
    """The newest snapshot of each reel: one row per ``media_id`` (or per key `by`).

    The row with the greatest ``fetched_at`` wins; rows with null ``fetched_at`` count as
    the oldest, and among equal ``fetched_at`` the later row in the input wins. Rows keep the
    input's column order and are returned in input order of the rows kept. A row whose first
    key column is null cannot be matched to others and is kept as it is.

    Parameters
    ----------
    media
        The media table, possibly with several rows (snapshots) per reel; any DataFrame or
        LazyFrame with a ``fetched_at`` column and the key columns.
    by
        The key: a column name or a sequence of names (e.g. ``["comment_id"]``, or
        ``["parent_media_id", "position", "fetched_at"]`` for the children table).

    Returns
    -------
    pl.DataFrame or pl.LazyFrame
        The kind `media` is, with the same columns, one row per key.

    Raises
    ------
    ValueError
        If `by` names no column.

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> from igresearch.metrics import latest
    >>> frame = pl.DataFrame(
    ...     {
    ...         "parent": ["a", "a", "a", None],
    ...         "position": [0, 1, 0, 0],
    ...         "fetched_at": [datetime(2026, 1, 2), datetime(2026, 1, 1), None, None],
    ...         "plays": [20, 5, 10, 1],
    ...     }
    ... )
    >>> latest(frame, by=["parent", "position"])
    shape: (3, 4)
    ┌────────┬──────────┬─────────────────────┬───────┐
    │ parent ┆ position ┆ fetched_at          ┆ plays │
    │ ---    ┆ ---      ┆ ---                 ┆ ---   │
    │ str    ┆ i64      ┆ datetime[μs]        ┆ i64   │
    ╞════════╪══════════╪═════════════════════╪═══════╡
    │ a      ┆ 0        ┆ 2026-01-02 00:00:00 ┆ 20    │
    │ a      ┆ 1        ┆ 2026-01-01 00:00:00 ┆ 5     │
    │ null   ┆ 0        ┆ null                ┆ 1     │
    └────────┴──────────┴─────────────────────┴───────┘
    """
    key = [by] if isinstance(by, str) else list(by)
    if not key:
        raise ValueError("latest(by=...) needs at least one key column.")
    if isinstance(media, pl.DataFrame) and (
        media.is_empty() or not media.select(pl.struct(key).is_duplicated().any()).item()
    ):
        return media  # one row per key already (the common case for small inputs)
    ordered = media.with_row_index("_order").sort(["fetched_at", "_order"], nulls_last=False)
    keyed = ordered.filter(pl.col(key[0]).is_not_null())
    unkeyed = ordered.filter(pl.col(key[0]).is_null())
    newest = keyed.unique(subset=key, keep="last", maintain_order=True)
    return pl.concat([newest, unkeyed]).sort("_order").drop("_order")


def snapshots(media: Frame) -> Frame:
    """Each reel's snapshots in time: one row per ``media_id`` and ``fetched_at``.

    Rows with a null ``media_id`` or ``fetched_at`` cannot be placed in time and are left out;
    of rows with the same ``media_id`` and ``fetched_at`` the later one in the input is kept.

    Parameters
    ----------
    media
        The media table (any DataFrame or LazyFrame with ``media_id`` and ``fetched_at``).

    Returns
    -------
    pl.DataFrame or pl.LazyFrame
        The kind `media` is, with the same columns, sorted by ``media_id`` and ``fetched_at``.

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> from igresearch.metrics import snapshots
    >>> media = pl.DataFrame(
    ...     {
    ...         "media_id": ["2", "1", "1", "1", None],
    ...         "fetched_at": [datetime(2026, 1, 1)] * 3 + [None, datetime(2026, 1, 1)],
    ...         "play_count": [7, 10, 12, 99, 1],
    ...     }
    ... )
    >>> snapshots(media)
    shape: (2, 3)
    ┌──────────┬─────────────────────┬────────────┐
    │ media_id ┆ fetched_at          ┆ play_count │
    │ ---      ┆ ---                 ┆ ---        │
    │ str      ┆ datetime[μs]        ┆ i64        │
    ╞══════════╪═════════════════════╪════════════╡
    │ 1        ┆ 2026-01-01 00:00:00 ┆ 12         │
    │ 2        ┆ 2026-01-01 00:00:00 ┆ 7          │
    └──────────┴─────────────────────┴────────────┘
    """
    return (
        media.filter(pl.col("media_id").is_not_null() & pl.col("fetched_at").is_not_null())
        .sort(["media_id", "fetched_at"], maintain_order=True)
        .unique(subset=["media_id", "fetched_at"], keep="last", maintain_order=True)
    )


def engagement_by_owner(media: Frame) -> Frame:
    """Per account, the median and quartiles of each rate over its reels' newest snapshots.

    Parameters
    ----------
    media
        The media table, a DataFrame or a LazyFrame; :func:`latest` keeps one snapshot per
        reel first.

    Returns
    -------
    pl.DataFrame or pl.LazyFrame
        The kind `media` is, with one row per ``owner_username``, sorted by it (a null
        username last): ``owner_id`` (the first non-null id among the account's reels), ``n``
        (reels), then for each rate in :data:`RATES`: ``<rate>_n`` (reels with a non-null
        rate), ``<rate>_median``, ``<rate>_q25``, ``<rate>_q75`` (linear interpolation; null
        when ``<rate>_n`` is 0).
        Accounts are keyed by username, not id, so a stub row without an owner id does not
        split an account in two.

    Examples
    --------
    >>> import polars as pl
    >>> from igresearch.metrics import engagement_by_owner
    >>> from igresearch.schema import MEDIA_SCHEMA
    >>> media = pl.DataFrame(
    ...     [
    ...         {"media_id": "1", "owner_username": "a", "play_count": 100, "like_count": 10},
    ...         {"media_id": "2", "owner_username": "a", "play_count": 200, "like_count": 10},
    ...         {"media_id": "3", "owner_username": "b", "play_count": 50, "like_count": 1},
    ...     ],
    ...     schema=MEDIA_SCHEMA,
    ... )
    >>> engagement_by_owner(media).select(
    ...     "owner_username", "n", "like_rate_n", "like_rate_median", "like_rate_q25"
    ... )
    shape: (2, 5)
    ┌────────────────┬─────┬─────────────┬──────────────────┬───────────────┐
    │ owner_username ┆ n   ┆ like_rate_n ┆ like_rate_median ┆ like_rate_q25 │
    │ ---            ┆ --- ┆ ---         ┆ ---              ┆ ---           │
    │ str            ┆ i64 ┆ i64         ┆ f64              ┆ f64           │
    ╞════════════════╪═════╪═════════════╪══════════════════╪═══════════════╡
    │ a              ┆ 2   ┆ 2           ┆ 0.075            ┆ 0.0625        │
    │ b              ┆ 1   ┆ 1           ┆ 0.02             ┆ 0.02          │
    └────────────────┴─────┴─────────────┴──────────────────┴───────────────┘
    """
    rated = with_rates(latest(media))
    stats: list[pl.Expr] = []
    for name in RATES:
        column = pl.col(name)
        stats += [
            column.count().cast(pl.Int64).alias(f"{name}_n"),
            column.median().alias(f"{name}_median"),
            column.quantile(0.25, interpolation="linear").alias(f"{name}_q25"),
            column.quantile(0.75, interpolation="linear").alias(f"{name}_q75"),
        ]
    return (
        rated.group_by("owner_username")
        .agg(
            pl.col("owner_id").drop_nulls().first().alias("owner_id"),
            pl.len().cast(pl.Int64).alias("n"),
            *stats,
        )
        .sort("owner_username", nulls_last=True)
    )


def growth(media: Frame) -> Frame:
    """How plays, likes and comments grew between consecutive snapshots of each reel.

    Snapshots are a reel's rows ordered by ``fetched_at``; rows with a null ``fetched_at``
    cannot be placed in time and are left out, and of rows with the same ``media_id`` and
    ``fetched_at`` the later one in the input is kept. A reel with fewer than two timed
    snapshots gives no rows.

    Formulas, for each pair of consecutive snapshots *from* and *to*:

    - ``hours = (to_fetched_at - from_fetched_at)`` in hours
    - ``plays_delta = play_count(to) - play_count(from)``, likewise ``likes_delta``
      (null when likes are hidden in either) and ``comments_delta``
    - ``plays_per_hour = plays_delta / hours``, likewise for likes and comments
    - ``age_hours = (to_fetched_at - taken_at)`` in hours: the reel's age at the later snapshot

    Any null input gives a null result in the columns that use it. Deltas can be negative
    (deleted likes or comments, or a corrected count).

    Parameters
    ----------
    media
        The media table with several snapshots of some reels, a DataFrame or a LazyFrame.

    Returns
    -------
    pl.DataFrame or pl.LazyFrame
        The kind `media` is, with columns ``media_id``, ``shortcode``, ``owner_username``
        (from the later snapshot), ``from_fetched_at``, ``to_fetched_at``, ``hours``,
        ``plays_delta``, ``likes_delta``, ``comments_delta`` (Int64), ``plays_per_hour``,
        ``likes_per_hour``, ``comments_per_hour``, ``age_hours`` (Float64); sorted by
        ``media_id`` and ``from_fetched_at``.
    """
    timed = snapshots(media).with_columns(visible_likes().alias("_likes"))

    def previous(name: str) -> pl.Expr:
        return pl.col(name).shift(1).over("media_id", order_by="fetched_at")

    def hours_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
        return (later - earlier).dt.total_microseconds().cast(pl.Float64) / _US_PER_HOUR

    counts = {"plays": "play_count", "likes": "_likes", "comments": "comment_count"}
    return (
        timed.with_columns(
            previous("fetched_at").alias("from_fetched_at"),
            *(
                (pl.col(column) - previous(column)).alias(f"{name}_delta")
                for name, column in counts.items()
            ),
        )
        .filter(pl.col("from_fetched_at").is_not_null())
        .with_columns(
            hours_between(pl.col("fetched_at"), pl.col("from_fetched_at")).alias("hours"),
            hours_between(pl.col("fetched_at"), pl.col("taken_at")).alias("age_hours"),
        )
        .select(
            "media_id",
            "shortcode",
            "owner_username",
            "from_fetched_at",
            pl.col("fetched_at").alias("to_fetched_at"),
            "hours",
            *(f"{name}_delta" for name in counts),
            *(
                _ratio(pl.col(f"{name}_delta"), pl.col("hours")).alias(f"{name}_per_hour")
                for name in counts
            ),
            "age_hours",
        )
        .sort(["media_id", "from_fetched_at"])
    )
