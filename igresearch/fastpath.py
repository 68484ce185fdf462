"""The fast path for the common case: a JSON line holding the documented GraphQL reel.

msgspec decodes such a line straight into the few fields the tables use (unknown fields are
skipped in C, never built as Python objects), and :func:`flatten` reads them without the
type checks the tolerant path needs, because msgspec has already checked every type.

Anything else gives None and is read by the tolerant path in :mod:`igresearch.tables`: another
shape, a wrong type anywhere, a key the tolerant path would route on differently (the
``_routes`` fields), a carousel, a failure envelope. Both paths give the same rows for the same
record; ``tests/test_fastpath.py`` checks that on every fixture and on mutated payloads.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import polars as pl
from msgspec import UNSET, Meta, Raw, Struct, UnsetType, field

from .coerce import MAX_EPOCH_S, first_count, likes_and_hidden, to_count, to_epoch_us, to_float
from .schema import COMMENTS_SCHEMA, TIME

__all__ = ["CommentItem", "Documented", "comments_frame", "decode", "flatten"]

Time = int | float | str | None
Row = tuple[Any, ...]
_Count64 = Annotated[int, Meta(ge=0, le=2**63 - 1)]
_Epoch = Annotated[int, Meta(ge=0, le=MAX_EPOCH_S)]
#: A comment of a documented node: (comment, media id, parent comment id, fetched_at).
CommentItem = tuple["_Comment", str | None, str | None, int | None]


class _Struct(Struct, gc=False):
    """No cycles in decoded JSON: keep these objects out of the garbage collector."""


class _Count(_Struct):
    count: int | None = None


class _Account(_Struct):
    id: str | None = None
    username: str | None = None
    full_name: str | None = None
    is_verified: bool | None = None
    is_private: bool | None = None
    profile_pic_url: str | None = None
    edge_followed_by: _Count | None = None
    edge_owner_to_timeline_media: _Count | None = None


class _CommentLikes(_Struct):
    count: _Count64 | None = None


class _Comment(_Struct):
    """A comment as the frame builder takes it: in-range ints only (others step aside)."""

    id: str | None = None
    text: str | None = None
    created_at: _Epoch | None = None
    owner: _Account | None = None
    edge_liked_by: _CommentLikes | None = None
    edge_threaded_comments: _Connection | None = None


class _Edge(_Struct):
    node: _Comment | None = None


class _Connection(_Struct):
    count: int | None = None
    edges: list[_Edge] | None = None


class _Caption(_Struct):
    text: str | None = None
    created_at: Time = None


class _CaptionEdge(_Struct):
    node: _Caption | None = None


class _Captions(_Struct):
    edges: list[_CaptionEdge] | None = None


class _Dimensions(_Struct):
    width: int | None = None
    height: int | None = None


class _Music(_Struct):
    artist_name: str | None = None
    song_name: str | None = None
    uses_original_audio: bool | None = None
    audio_id: str | None = None


class _Location(_Struct):
    name: str | None = None


class _Node(_Struct):
    typename: str | None = field(default=None, name="__typename")
    id: str | None = None
    shortcode: str | None = None
    product_type: str | None = None
    is_video: bool | None = None
    taken_at_timestamp: Time = None
    edge_media_to_caption: _Captions | None = None
    video_duration: float | None = None
    dimensions: _Dimensions | None = None
    has_audio: bool | None = None
    video_play_count: int | None = None
    video_view_count: int | None = None
    edge_media_preview_like: _Count | None = None
    edge_liked_by: _Count | None = None
    like_and_view_counts_disabled: bool | None = None
    edge_media_to_parent_comment: _Connection | None = None
    edge_media_preview_comment: _Connection | None = None
    edge_media_to_comment: _Connection | None = None
    comment_count: int | None = None
    owner: _Account | None = None
    coauthor_producers: list[_Account] | None = None
    clips_music_attribution_info: _Music | None = None
    is_paid_partnership: bool | None = None
    location: _Location | None = None
    video_url: str | None = None
    thumbnail_src: str | None = None
    display_url: str | None = None
    edge_sidecar_to_children: Raw | UnsetType = UNSET


class _Routes(_Struct):
    """Keys on which igresearch.shapes would route a level differently from the fast path."""

    xdt_shortcode_media_: Raw | UnsetType = field(default=UNSET, name="xdt_shortcode_media")
    shortcode_media: Raw | UnsetType = UNSET
    graphql: Raw | UnsetType = UNSET
    items: Raw | UnsetType = UNSET
    shortCode: Raw | UnsetType = UNSET
    error: Raw | UnsetType = UNSET
    shortcode: Raw | UnsetType = UNSET

    def routed_elsewhere(self) -> bool:
        return not (
            self.xdt_shortcode_media_
            is self.shortcode_media
            is self.graphql
            is self.items
            is self.shortCode
            is self.error
            is self.shortcode
            is UNSET
        )


class _Inner(_Struct):
    xdt_shortcode_media: _Node | UnsetType | None = UNSET


class _Instagram(_Routes):
    data: _Inner | UnsetType | None = UNSET


class _Envelope(_Routes):
    code: str | int | UnsetType | None = UNSET
    success: bool | str | UnsetType | None = UNSET
    failed: bool | str | UnsetType | None = UNSET
    data: _Instagram | UnsetType | None = UNSET


class _Line(_Envelope):
    """A response, or an archive record (``archive_version``, ``shortcode``...) holding one."""

    archive_version: Raw | UnsetType = UNSET
    channel: str | None = None
    fetched_at: Time = None
    response: _Envelope | UnsetType | None = UNSET


_DECODER = msgspec.json.Decoder(_Line)
_SUCCESS_CODES = ("0000", UNSET)
_TRUE = (True, UNSET)
_FALSE = (False, UNSET)


class Documented(_Struct):
    """A line of the documented shape: its media node and what the archive said of it."""

    node: _Node
    shortcode: str | None
    channel: str | None
    fetched_at: int | None


def decode(line: bytes) -> Documented | None:
    """The line as a documented reel (or an archive record of one); None for anything else."""
    try:
        record = _DECODER.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    archived = record.archive_version is not UNSET
    envelope = record.response if archived else record
    if not isinstance(envelope, _Envelope) or envelope.routed_elsewhere():
        return None
    instagram = envelope.data
    if not isinstance(instagram, _Instagram) or instagram.routed_elsewhere():
        return None
    if not (
        envelope.code in _SUCCESS_CODES and envelope.success in _TRUE and envelope.failed in _FALSE
    ):  # any other signal (even another spelling of success) is judged by the tolerant path
        return None
    inner = instagram.data
    node = inner.xdt_shortcode_media if isinstance(inner, _Inner) else None
    if not isinstance(node, _Node) or (node.id is None and node.shortcode is None):
        return None
    if node.edge_sidecar_to_children is not UNSET:
        return None
    if not archived:
        return Documented(node, None, None, None)
    shortcode = record.shortcode  # an archive record's own field (on a response: a route)
    code = None if shortcode is UNSET else msgspec.json.decode(shortcode)
    if code is not None and not isinstance(code, str):
        return None
    return Documented(node, code, record.channel, to_epoch_us(record.fetched_at))


def flatten(
    node: _Node, fetched_at: int | None
) -> tuple[dict[str, Any], list[CommentItem], list[Row]]:
    """Media fields, comments and owner rows of a documented node (as the tolerant path's
    ``_graphql_rows`` gives them; :func:`comments_frame` turns the comments into a frame)."""
    caption = next((e.node for e in node.edge_media_to_caption.edges or () if e.node), None) if (
        node.edge_media_to_caption
    ) else None  # fmt: skip
    raw_likes = node.edge_media_preview_like.count if node.edge_media_preview_like else None
    if raw_likes is None and node.edge_liked_by:
        raw_likes = node.edge_liked_by.count
    likes, hidden = likes_and_hidden(raw_likes, node.like_and_view_counts_disabled)
    owner = node.owner or _Account()
    music = node.clips_music_attribution_info or _Music()
    coauthors = node.coauthor_producers or []
    dimensions = node.dimensions or _Dimensions()
    connections = (
        node.edge_media_to_parent_comment,
        node.edge_media_preview_comment,
        node.edge_media_to_comment,
    )
    media = {
        "media_id": node.id,
        "shortcode": node.shortcode,
        "typename": node.typename,
        "product_type": node.product_type,
        "is_video": node.is_video,
        "taken_at": to_epoch_us(node.taken_at_timestamp),
        "caption": caption.text if caption else None,
        "caption_created_at": to_epoch_us(caption.created_at) if caption else None,
        "duration_s": to_float(node.video_duration),
        "width": to_count(dimensions.width),
        "height": to_count(dimensions.height),
        "has_audio": node.has_audio,
        "play_count": to_count(node.video_play_count),
        "view_count": to_count(node.video_view_count),
        "like_count": likes,
        "likes_hidden": hidden,
        "comment_count": first_count(
            *(c.count if c else None for c in connections), node.comment_count
        ),
        "owner_id": owner.id,
        "owner_username": owner.username,
        "owner_follower_count": to_count(
            owner.edge_followed_by.count if owner.edge_followed_by else None
        ),
        "coauthor_usernames": [c.username for c in coauthors if c.username],
        "music_artist": music.artist_name,
        "music_song": music.song_name,
        "uses_original_audio": music.uses_original_audio,
        "audio_id": music.audio_id,
        "is_paid_partnership": node.is_paid_partnership,
        "location_name": node.location.name if node.location else None,
        "video_url": node.video_url,
        "thumbnail_url": node.thumbnail_src,
        "display_url": node.display_url,
    }
    comments: list[CommentItem] = []
    seen: set[str] = set()  # a comment in several connections counts once, the first time

    def add(comment: _Comment, parent_id: str | None) -> None:
        if comment.id is not None:
            if comment.id in seen:
                return
            seen.add(comment.id)
        comments.append((comment, node.id, parent_id, fetched_at))

    for connection in connections:
        for edge in connection.edges or () if connection else ():
            if edge.node is None:
                continue
            add(edge.node, None)
            replies = edge.node.edge_threaded_comments
            for reply in replies.edges or () if replies else ():
                if reply.node is not None:
                    add(reply.node, edge.node.id)
    owners = [_owner(account, fetched_at) for account in (owner, *coauthors)]
    return media, comments, owners


def comments_frame(items: list[CommentItem]) -> pl.DataFrame:
    """The comments table's rows for `items`, built column by column (no Python row each)."""
    comments = [item[0] for item in items]
    owners = [comment.owner for comment in comments]
    likes = [comment.edge_liked_by for comment in comments]
    columns = {
        "comment_id": [c.id for c in comments],
        "media_id": [item[1] for item in items],
        "parent_comment_id": [item[2] for item in items],
        "text": [c.text for c in comments],
        "created_at": [c.created_at for c in comments],
        "owner_id": [o.id if o else None for o in owners],
        "owner_username": [o.username if o else None for o in owners],
        "owner_is_verified": [o.is_verified if o else None for o in owners],
        "like_count": [like.count if like else None for like in likes],
        "fetched_at": [item[3] for item in items],
    }
    built = {
        name: pl.Int64() if dtype == TIME else dtype for name, dtype in COMMENTS_SCHEMA.items()
    }
    return pl.DataFrame(columns, schema=built).with_columns(
        (pl.col("created_at") * 1_000_000).cast(TIME), pl.col("fetched_at").cast(TIME)
    )


def _owner(account: _Account, fetched_at: int | None) -> Row:
    followers = account.edge_followed_by
    posts = account.edge_owner_to_timeline_media
    return (
        account.id,
        account.username,
        account.full_name,
        account.is_verified,
        account.is_private,
        to_count(followers.count) if followers else None,
        to_count(posts.count) if posts else None,
        account.profile_pic_url,
        fetched_at,
    )
