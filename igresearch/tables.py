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

from . import fastpath
from .coerce import (
    as_dict,
    dict_items,
    edge_nodes,
    first_count,
    first_edge_node,
    first_item_value,
    get_in,
    likes_and_hidden,
    to_bool,
    to_count,
    to_epoch_us,
    to_float,
    to_str,
)
from .errors import InvalidURLError
from .schema import SCHEMA_VERSION, SCHEMAS, TIME
from .shapes import failed, locate_media
from .urls import canonical_url, shortcode_to_media_id

__all__ = ["Tables", "read_tables", "to_tables"]

_BATCH = 5_000
_NAMES = tuple(SCHEMAS)

Row = tuple[Any, ...]


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

    def write(
        self,
        directory: str | os.PathLike[str],
        *,
        format: Literal["parquet", "csv"] = "parquet",
        metadata: Mapping[str, str] | None = None,
    ) -> list[Path]:
        """Write each table to ``directory/<table>.<format>`` and return the paths.

        In CSV, list columns are JSON arrays and times ISO 8601. Parquet files carry the schema
        version and `metadata` (e.g. provenance) as key-value metadata. Each file is written to
        a temporary name first and renamed, so no file is ever left half-written.
        """
        if format not in ("parquet", "csv"):
            raise ValueError(f"Unknown format {format!r}: use 'parquet' or 'csv'.")
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in _NAMES:
            path = target / f"{name}.{format}"
            frame: pl.DataFrame = getattr(self, name)
            temporary = target / f".{name}.{format}.part"
            try:
                if format == "parquet":
                    keys = {"igresearch.schema_version": SCHEMA_VERSION, "igresearch.table": name}
                    frame.write_parquet(temporary, metadata=keys | dict(metadata or {}))
                else:
                    _to_csv_frame(frame).write_csv(temporary)
                temporary.replace(path)
            finally:
                temporary.unlink(missing_ok=True)
            paths.append(path)
        return paths


def read_tables(directory: str | os.PathLike[str]) -> Tables:
    """Read tables written by :meth:`Tables.write` (parquet preferred, else CSV), with their
    declared types; columns a writer left out (pseudonymised tables have no URLs) stay out."""
    source = Path(directory)
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
            else _from_csv_frame(frame, schema)
        )
    return Tables(**frames)


def to_tables(source: Any) -> Tables:
    """Build the tables from responses, with no network.

    Parameters
    ----------
    source
        A response (the vendor envelope, Instagram's own ``{"data": ...}`` or a bare media node),
        a list or iterable of responses or archive records, or the path of a JSON Lines file of
        them (a ``.json`` file may hold one response or a list).

    Returns
    -------
    Tables
        ``media`` (one row per post and fetch), ``comments``, ``owners`` (latest snapshot of
        each), ``children`` (carousel items) and ``errors`` (unavailable posts, failed requests
        and malformed records, each with the record it came from).

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
        return builder.tables()
    finally:
        if collecting:
            gc.enable()


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


def _file_records(path: Path) -> Iterator[tuple[str, Any]]:
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    if path.suffix == ".json":
        document = msgspec.json.decode(path.read_bytes())
        records = document if isinstance(document, list) else [document]
        for index, record in enumerate(records):
            yield f"{path.name} record {index}", record
        return
    decoder = msgspec.json.Decoder()
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            documented = fastpath.decode(line)
            if documented is not None:
                yield where, documented
                continue
            try:
                yield where, decoder.decode(line)
            except msgspec.DecodeError as error:
                yield where, _BadLine(f"not valid JSON ({error}); a partial last line is normal")


class _BadLine(str):
    """A line that could not be decoded; carries the reason."""


class _Builder:
    """Accumulates typed frames batch by batch, then deduplicates them into the final tables."""

    def __init__(self) -> None:
        self._frames: dict[str, list[pl.DataFrame]] = {name: [] for name in _NAMES}
        self._rows: dict[str, list[Row]] = {name: [] for name in _NAMES}
        self._fast_comments: list[fastpath.CommentItem] = []
        self._records = 0

    def add(self, where: str, record: Any) -> None:
        """Add one record's rows; every few thousand records, turn the rows into frames."""
        rows = _record_rows(where, record)
        fast = rows.pop(_FAST_COMMENTS, None)
        # Comments keep the records' order (it breaks ties between equal snapshots): switching
        # between the two kinds of comment rows first turns the pending kind into a frame.
        if fast is not None:
            self._flush_comments(fast=False)
            self._fast_comments.extend(fast)
        elif rows.get("comments"):
            self._flush_comments(fast=True)
        for name, table_rows in rows.items():
            self._rows[name].extend(table_rows)
        self._records += 1
        if self._records % _BATCH == 0:
            self._flush()

    def _flush_comments(self, *, fast: bool) -> None:
        if fast and self._fast_comments:
            self._frames["comments"].append(fastpath.comments_frame(self._fast_comments))
            self._fast_comments = []
        elif not fast and self._rows["comments"]:
            self._frames["comments"].append(_frame("comments", self._rows["comments"]))
            self._rows["comments"] = []

    def _flush(self) -> None:
        self._flush_comments(fast=True)
        for name, table_rows in self._rows.items():
            if table_rows:
                self._frames[name].append(_frame(name, table_rows))
        self._rows = {name: [] for name in _NAMES}

    def tables(self) -> Tables:
        self._flush()
        frames = {
            name: pl.concat(parts) if parts else pl.DataFrame(schema=SCHEMAS[name])
            for name, parts in self._frames.items()
        }
        # Sorted by key, so the same records give the same tables whatever their order.
        return Tables(
            media=_latest(frames["media"], ["media_id", "fetched_at"]).sort(
                "media_id", "fetched_at", nulls_last=False
            ),
            comments=_latest(frames["comments"], ["comment_id"]).sort(
                "media_id", "created_at", "comment_id", nulls_last=False
            ),
            owners=_merge_owners(frames["owners"]).sort("owner_id"),
            children=_latest(
                frames["children"], ["parent_media_id", "position", "fetched_at"]
            ).sort("parent_media_id", "position", "fetched_at", nulls_last=False),
            errors=frames["errors"],
        )


def _frame(name: str, rows: list[Row]) -> pl.DataFrame:
    """Rows (already coerced to their column's Python type) -> a frame with the table's schema."""
    schema = SCHEMAS[name]
    times = [column for column, dtype in schema.items() if dtype == TIME]
    build = {column: pl.Int64() if dtype == TIME else dtype for column, dtype in schema.items()}
    frame = pl.DataFrame(rows, schema=build, orient="row")
    return frame.with_columns(pl.col(times).cast(TIME))


def _latest(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """One row per key: the one with the latest fetched_at (input order breaks ties)."""
    if frame.is_empty():
        return frame
    ordered = frame.with_row_index("_order").sort(["fetched_at", "_order"], nulls_last=False)
    keyed = ordered.filter(pl.col(key[0]).is_not_null())
    unkeyed = ordered.filter(pl.col(key[0]).is_null())
    latest = keyed.unique(subset=key, keep="last", maintain_order=True)
    return pl.concat([latest, unkeyed]).sort("_order").drop("_order")


def _merge_owners(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per account: for each column its latest non-null value, so a stub never
    overwrites a known follower count."""
    if frame.is_empty():
        return frame
    columns = [c for c in frame.columns if c != "owner_id"]
    return (
        frame.filter(pl.col("owner_id").is_not_null())
        .with_row_index("_order")
        .sort(["fetched_at", "_order"], nulls_last=False)
        .group_by("owner_id", maintain_order=True)
        .agg(pl.col("_order").min(), *(pl.col(c).drop_nulls().last() for c in columns))
        .sort("_order")
        .select(SCHEMAS["owners"].names())
    )


# --- one record -> rows


def _record_rows(where: str, record: Any) -> dict[str, list[Row]]:
    """All rows one record gives, or one error row: never a part of a record."""
    meta = _Meta(shortcode=None, channel=None, fetched_at=None)
    try:
        if isinstance(record, _BadLine):
            return {"errors": [meta.error(where, "malformed", str(record))]}
        if isinstance(record, fastpath.Documented):
            meta = _Meta(record.shortcode, record.channel, record.fetched_at)
            media, comments, owners = fastpath.flatten(record.node, record.fetched_at)
            rows = _rows("data.xdt_shortcode_media", (media, comments, owners, []), meta)
            rows[_FAST_COMMENTS] = rows.pop("comments")  # built into a frame column-wise
            return rows
        envelope = record
        if isinstance(record, dict) and "archive_version" in record:
            meta = _Meta(
                shortcode=to_str(record.get("shortcode")),
                channel=to_str(record.get("channel")),
                fetched_at=to_epoch_us(record.get("fetched_at")),
            )
            envelope = record.get("response")
            if envelope is None:
                error = as_dict(record.get("error"))
                reason = to_str(error.get("message")) or "the request failed"
                return {"errors": [meta.error(where, "failed", reason)]}
        return _envelope_rows(where, envelope, meta)
    except Exception as error:  # one bad record never loses the others
        reason = f"{type(error).__name__}: {error}"[:500]
        return {"errors": [meta.error(where, "malformed", reason)]}


@dataclass(frozen=True)
class _Meta:
    """What an archive record says about the response it holds."""

    shortcode: str | None
    channel: str | None
    fetched_at: int | None

    def error(self, where: str, kind: str, reason: str) -> Row:
        return (where, self.shortcode, self.channel, kind, to_str(reason), self.fetched_at)


def _envelope_rows(where: str, envelope: Any, meta: _Meta) -> dict[str, list[Row]]:
    if isinstance(envelope, dict) and failed(envelope):
        reason = f"the API reported failure (code {envelope.get('code')!r}: {envelope.get('msg')})"
        return {"errors": [meta.error(where, "failed", reason)]}
    located = locate_media(envelope)
    if located is None:
        return {"errors": [meta.error(where, "malformed", "no media node in any known shape")]}
    if located.node is None:
        return {"errors": [meta.error(where, "unavailable", located.reason or "unavailable")]}
    flatten = {"apify_item": _apify_rows, "items": _mobile_rows}.get(located.shape, _graphql_rows)
    return _rows(located.shape, flatten(located.node, meta.fetched_at), meta)


def _rows(shape: str, flattened: Flattened, meta: _Meta) -> dict[str, list[Row]]:
    """The rows of one flattened media node, with what the record says about its fetch."""
    media, comments, owners, children = flattened
    media["source_shape"] = shape
    media["fetched_at"] = meta.fetched_at
    media["channel"] = meta.channel
    _identify(media)
    media["comments_in_payload"] = len(comments)
    return {
        "media": [tuple(map(media.get, _MEDIA_COLUMNS))],
        "comments": comments,
        "owners": owners,
        "children": children,
    }


_MEDIA_COLUMNS = SCHEMAS["media"].names()
_FAST_COMMENTS = "fast comments"
Flattened = tuple[dict[str, Any], list[Row], list[Row], list[Row]]


def _identify(media: dict[str, Any]) -> None:
    """Fill url and id_mismatch; derive a missing media id from the shortcode."""
    shortcode, media_id = media.get("shortcode"), media.get("media_id")
    try:
        encoded = shortcode_to_media_id(shortcode) if shortcode else None
        media["url"] = canonical_url(shortcode) if shortcode else None
    except InvalidURLError:
        encoded = None
        media["url"] = None
    if media_id is None:
        if encoded is None:
            raise ValueError("the media node has neither an id nor a valid shortcode")
        media["media_id"] = media_id = encoded
    media["id_mismatch"] = None if encoded is None else encoded != media_id.split("_")[0]


def _graphql_rows(node: dict[str, Any], fetched_at: int | None) -> Flattened:
    media_id = to_str(node.get("id"))
    caption = first_edge_node(node.get("edge_media_to_caption"))
    raw_likes = get_in(node, "edge_media_preview_like", "count")
    if raw_likes is None:
        raw_likes = get_in(node, "edge_liked_by", "count")
    owner = as_dict(node.get("owner"))
    music = as_dict(node.get("clips_music_attribution_info"))
    coauthors = dict_items(node.get("coauthor_producers"))
    dimensions = as_dict(node.get("dimensions"))
    likes, hidden = likes_and_hidden(raw_likes, node.get("like_and_view_counts_disabled"))
    media = {
        "media_id": media_id,
        "shortcode": to_str(node.get("shortcode")),
        "typename": to_str(node.get("__typename")),
        "product_type": to_str(node.get("product_type")),
        "is_video": to_bool(node.get("is_video")),
        "taken_at": to_epoch_us(node.get("taken_at_timestamp")),
        "caption": to_str(caption.get("text")),
        "caption_created_at": to_epoch_us(caption.get("created_at")),
        "duration_s": to_float(node.get("video_duration")),
        "width": to_count(dimensions.get("width")),
        "height": to_count(dimensions.get("height")),
        "has_audio": to_bool(node.get("has_audio")),
        "play_count": to_count(node.get("video_play_count")),
        "view_count": to_count(node.get("video_view_count")),
        "like_count": likes,
        "likes_hidden": hidden,
        "comment_count": first_count(
            get_in(node, "edge_media_to_parent_comment", "count"),
            get_in(node, "edge_media_preview_comment", "count"),
            get_in(node, "edge_media_to_comment", "count"),
            node.get("comment_count"),
        ),
        "owner_id": to_str(owner.get("id")),
        "owner_username": to_str(owner.get("username")),
        "owner_follower_count": to_count(get_in(owner, "edge_followed_by", "count")),
        "coauthor_usernames": [u for c in coauthors if (u := to_str(c.get("username")))],
        "music_artist": to_str(music.get("artist_name")),
        "music_song": to_str(music.get("song_name")),
        "uses_original_audio": to_bool(music.get("uses_original_audio")),
        "audio_id": to_str(music.get("audio_id")),
        "is_paid_partnership": to_bool(node.get("is_paid_partnership")),
        "location_name": to_str(get_in(node, "location", "name")),
        "video_url": to_str(node.get("video_url")),
        "thumbnail_url": to_str(node.get("thumbnail_src")),
        "display_url": to_str(node.get("display_url")),
    }
    comments = _graphql_comments(node, media_id, fetched_at)
    owners = [_graphql_owner(account, fetched_at) for account in [owner, *coauthors]]
    children = [
        _graphql_child(media_id, position, child, fetched_at)
        for position, child in enumerate(edge_nodes(node.get("edge_sidecar_to_children")))
    ]
    return media, comments, owners, children


def _graphql_comments(
    node: dict[str, Any], media_id: str | None, fetched_at: int | None
) -> list[Row]:
    rows: dict[Any, Row] = {}
    for key in (
        "edge_media_to_parent_comment",
        "edge_media_preview_comment",
        "edge_media_to_comment",
    ):
        for comment in edge_nodes(node.get(key)):
            _add_comment(rows, comment, media_id, None, fetched_at)
            parent_id = to_str(comment.get("id"))
            for reply in edge_nodes(comment.get("edge_threaded_comments")):
                _add_comment(rows, reply, media_id, parent_id, fetched_at)
    return list(rows.values())


def _add_comment(
    rows: dict[Any, Row],
    comment: dict[str, Any],
    media_id: str | None,
    parent_id: str | None,
    fetched_at: int | None,
) -> None:
    comment_id = to_str(comment.get("id"))
    owner = as_dict(comment.get("owner"))
    key = comment_id if comment_id is not None else len(rows)
    if key in rows:
        return
    rows[key] = (
        comment_id,
        media_id,
        parent_id,
        to_str(comment.get("text")),
        to_epoch_us(comment.get("created_at")),
        to_str(owner.get("id")),
        to_str(owner.get("username")),
        to_bool(owner.get("is_verified")),
        to_count(get_in(comment, "edge_liked_by", "count")),
        fetched_at,
    )


def _graphql_owner(account: dict[str, Any], fetched_at: int | None) -> Row:
    return (
        to_str(account.get("id")),
        to_str(account.get("username")),
        to_str(account.get("full_name")),
        to_bool(account.get("is_verified")),
        to_bool(account.get("is_private")),
        to_count(get_in(account, "edge_followed_by", "count")),
        to_count(get_in(account, "edge_owner_to_timeline_media", "count")),
        to_str(account.get("profile_pic_url")),
        fetched_at,
    )


def _graphql_child(
    parent_id: str | None, position: int, child: dict[str, Any], fetched_at: int | None
) -> Row:
    dimensions = as_dict(child.get("dimensions"))
    return (
        parent_id,
        position,
        to_str(child.get("id")),
        to_str(child.get("shortcode")),
        to_str(child.get("__typename")),
        to_bool(child.get("is_video")),
        to_count(dimensions.get("width")),
        to_count(dimensions.get("height")),
        to_count(child.get("video_play_count")),
        to_count(child.get("video_view_count")),
        to_str(child.get("video_url")),
        to_str(child.get("display_url")),
        fetched_at,
    )


def _apify_rows(item: dict[str, Any], fetched_at: int | None) -> Flattened:
    media_id = to_str(item.get("id"))
    music = as_dict(item.get("musicInfo"))
    coauthors = dict_items(item.get("coauthorProducers"))
    likes, hidden = likes_and_hidden(item.get("likesCount"), item.get("likeAndViewCountsDisabled"))
    kind = to_str(item.get("type"))
    media = {
        "media_id": media_id,
        "shortcode": to_str(item.get("shortCode")),
        "typename": kind,
        "product_type": to_str(item.get("productType")),
        "is_video": None if kind is None else kind.lower() == "video",
        "taken_at": to_epoch_us(item.get("timestamp")),
        "caption": to_str(item.get("caption")),
        "duration_s": to_float(item.get("videoDuration")),
        "width": to_count(item.get("dimensionsWidth")),
        "height": to_count(item.get("dimensionsHeight")),
        "play_count": to_count(item.get("videoPlayCount")),
        "view_count": to_count(item.get("videoViewCount")),
        "like_count": likes,
        "likes_hidden": hidden,
        "comment_count": to_count(item.get("commentsCount")),
        "owner_id": to_str(item.get("ownerId")),
        "owner_username": to_str(item.get("ownerUsername")),
        "coauthor_usernames": [u for c in coauthors if (u := to_str(c.get("username")))],
        "music_artist": to_str(music.get("artist_name")),
        "music_song": to_str(music.get("song_name")),
        "uses_original_audio": to_bool(music.get("uses_original_audio")),
        "audio_id": to_str(music.get("audio_id")),
        "is_paid_partnership": to_bool(item.get("isSponsored")),
        "location_name": to_str(item.get("locationName")),
        "video_url": to_str(item.get("videoUrl")),
        "display_url": to_str(item.get("displayUrl")),
    }
    comments: list[Row] = []
    for comment in dict_items(item.get("latestComments")):
        comments.append(_apify_comment(comment, media_id, None, fetched_at))
        parent_id = to_str(comment.get("id"))
        for reply in dict_items(comment.get("replies")):
            comments.append(_apify_comment(reply, media_id, parent_id, fetched_at))
    owner = (
        media["owner_id"], media["owner_username"], to_str(item.get("ownerFullName")),
        None, None, None, None, None, fetched_at,
    )  # fmt: skip
    owners = [owner, *(_graphql_owner(c, fetched_at) for c in coauthors)]
    return media, comments, owners, []


def _apify_comment(
    comment: dict[str, Any], media_id: str | None, parent_id: str | None, fetched_at: int | None
) -> Row:
    return (
        to_str(comment.get("id")),
        media_id,
        parent_id,
        to_str(comment.get("text")),
        to_epoch_us(comment.get("timestamp")),
        to_str(comment.get("ownerId")),
        to_str(comment.get("ownerUsername")),
        to_bool(comment.get("ownerIsVerified")),
        to_count(comment.get("likesCount")),
        fetched_at,
    )


def _mobile_rows(item: dict[str, Any], fetched_at: int | None) -> Flattened:
    media_id = to_str(item.get("pk")) or (to_str(item.get("id")) or "").split("_")[0] or None
    user = as_dict(item.get("user"))
    caption = as_dict(item.get("caption"))
    sound = as_dict(get_in(item, "clips_metadata", "original_sound_info"))
    song = as_dict(get_in(item, "clips_metadata", "music_info", "music_asset_info"))
    coauthors = dict_items(item.get("coauthor_producers"))
    media_type = to_count(item.get("media_type"))
    likes, hidden = likes_and_hidden(
        item.get("like_count"), item.get("like_and_view_counts_disabled")
    )
    media = {
        "media_id": media_id,
        "shortcode": to_str(item.get("code")),
        "typename": None if media_type is None else f"media_type_{media_type}",
        "product_type": to_str(item.get("product_type")),
        "is_video": None if media_type is None else media_type == 2,
        "taken_at": to_epoch_us(item.get("taken_at")),
        "caption": to_str(caption.get("text")),
        "caption_created_at": to_epoch_us(caption.get("created_at")),
        "duration_s": to_float(item.get("video_duration")),
        "width": to_count(item.get("original_width")),
        "height": to_count(item.get("original_height")),
        "has_audio": to_bool(item.get("has_audio")),
        "play_count": to_count(item.get("play_count")),
        "view_count": to_count(item.get("view_count")),
        "like_count": likes,
        "likes_hidden": hidden,
        "comment_count": to_count(item.get("comment_count")),
        "owner_id": to_str(user.get("pk")) or to_str(user.get("id")),
        "owner_username": to_str(user.get("username")),
        "owner_follower_count": to_count(user.get("follower_count")),
        "coauthor_usernames": [u for c in coauthors if (u := to_str(c.get("username")))],
        "music_artist": to_str(song.get("display_artist"))
        or to_str(get_in(sound, "ig_artist", "username")),
        "music_song": to_str(song.get("title")) or to_str(sound.get("original_audio_title")),
        "uses_original_audio": True if sound else (False if song else None),
        "audio_id": to_str(song.get("audio_asset_id")) or to_str(sound.get("audio_asset_id")),
        "is_paid_partnership": to_bool(item.get("is_paid_partnership")),
        "location_name": to_str(get_in(item, "location", "name")),
        "video_url": to_str(first_item_value(item.get("video_versions"), "url")),
        "display_url": to_str(
            first_item_value(get_in(item, "image_versions2", "candidates"), "url")
        ),
    }
    comments = [
        (
            to_str(c.get("pk")),
            media_id,
            None,
            to_str(c.get("text")),
            to_epoch_us(c.get("created_at")),
            to_str(get_in(c, "user", "pk")),
            to_str(get_in(c, "user", "username")),
            to_bool(get_in(c, "user", "is_verified")),
            to_count(c.get("comment_like_count")),
            fetched_at,
        )
        for c in dict_items(item.get("preview_comments"))
    ]
    owner = (
        media["owner_id"],
        media["owner_username"],
        to_str(user.get("full_name")),
        to_bool(user.get("is_verified")),
        to_bool(user.get("is_private")),
        media["owner_follower_count"],
        to_count(user.get("media_count")),
        to_str(user.get("profile_pic_url")),
        fetched_at,
    )
    owners = [owner, *(_graphql_owner(c, fetched_at) for c in coauthors)]
    return media, comments, owners, []


# --- CSV: list columns as JSON arrays


def _to_csv_frame(frame: pl.DataFrame) -> pl.DataFrame:
    lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
    return frame.with_columns(
        pl.col(c).map_elements(lambda v: json.dumps(list(v)), return_dtype=pl.String) for c in lists
    )


def _from_csv_frame(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    columns = []
    for name, dtype in schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.List):
            columns.append(column.str.json_decode(dtype))
        elif dtype == TIME:
            columns.append(column.str.to_datetime(time_zone="UTC", time_unit="us"))
        elif dtype == pl.Boolean():
            columns.append(column.replace_strict({"true": True, "false": False}, default=None))
        else:
            columns.append(column.cast(dtype))
    return frame.select(columns).cast(schema)
