"""The table schemas, declared once as data.

Each table is a tuple of :class:`Column` (name, polars type, meaning, JSON sources, caveat). The
polars schemas (``MEDIA_SCHEMA``...) and the data dictionary (``docs/data-dictionary.md``,
regenerated with ``python scripts/make_data_dictionary.py``) both come from these
declarations, so the documentation cannot drift from the code. IDs are strings, counts Int64,
times Datetime("us", "UTC").
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

__all__ = [
    "CHILDREN_SCHEMA",
    "COMMENTS_SCHEMA",
    "ERRORS_SCHEMA",
    "MEDIA_SCHEMA",
    "METRICS",
    "OWNERS_SCHEMA",
    "SCHEMAS",
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "data_dictionary",
]

#: Bumped when a column is added, removed, renamed or changes type or meaning.
SCHEMA_VERSION = "1.2"

ID = pl.String()
COUNT = pl.Int64()
TIME = pl.Datetime("us", "UTC")
TEXT = pl.String()
FLAG = pl.Boolean()

_GQL = "node"  # the GraphQL media node, wherever the envelope keeps it (see igresearch.shapes)


class Column(NamedTuple):
    """One column: its name, type, meaning, where it comes from, and what to watch for."""

    name: str
    dtype: pl.DataType
    meaning: str
    sources: str = ""
    caveat: str = ""


MEDIA = (
    Column(
        "media_id",
        ID,
        "Instagram's numeric media id.",
        f"{_GQL}.id; apify id; items[0].pk",
        "A string: never cast to a number.",
    ),
    Column("shortcode", ID, "The post's shortcode (the code in its URL).", "shortcode; shortCode"),
    Column("url", TEXT, "Canonical URL https://www.instagram.com/reel/<shortcode>/.", "derived"),
    Column(
        "typename",
        TEXT,
        "Instagram's type name of the post.",
        f"{_GQL}.__typename; apify type; items[0].media_type as media_type_<n>",
        "XDTGraph* and Graph* name the same kinds; use is_video, not the prefix.",
    ),
    Column(
        "product_type",
        TEXT,
        "Product surface: clips (reel), igtv, feed, carousel_container...",
        "product_type; productType",
        "Absent on images and carousels.",
    ),
    Column("is_video", FLAG, "Whether the post is a video.", "is_video; type; media_type == 2"),
    Column(
        "taken_at",
        TIME,
        "When the post was published (UTC).",
        "taken_at_timestamp; timestamp; taken_at",
    ),
    Column("caption", TEXT, "Caption text.", "edge_media_to_caption.edges[0].node.text; caption"),
    Column(
        "caption_created_at",
        TIME,
        "When the caption was written (UTC).",
        "edge_media_to_caption.edges[0].node.created_at; caption.created_at",
        "Arrives as a string of epoch seconds in GraphQL payloads.",
    ),
    Column("duration_s", pl.Float64(), "Video length in seconds.", "video_duration"),
    Column("width", COUNT, "Width in pixels.", "dimensions.width; dimensionsWidth"),
    Column("height", COUNT, "Height in pixels.", "dimensions.height; dimensionsHeight"),
    Column("has_audio", FLAG, "Whether the video has sound.", "has_audio"),
    Column(
        "play_count",
        COUNT,
        "Plays as the payload reports them.",
        "video_play_count; videoPlayCount; play_count",
        "Never filled from view_count: null when the shape has no play count.",
    ),
    Column(
        "view_count",
        COUNT,
        "Views as the payload reports them.",
        "video_view_count; videoViewCount; view_count",
        "A different metric from plays; can be 0 while plays are large.",
    ),
    Column(
        "like_count",
        COUNT,
        "Likes.",
        "edge_media_preview_like.count; edge_liked_by.count; likesCount; like_count",
        "Null when likes are hidden (the payload says -1).",
    ),
    Column(
        "likes_hidden",
        FLAG,
        "Whether the owner hid like counts.",
        "like_and_view_counts_disabled; like count == -1",
    ),
    Column(
        "comment_count",
        COUNT,
        "Total comments on the post.",
        "edge_media_to_parent_comment.count, else edge_media_preview_comment.count, "
        "else edge_media_to_comment.count, else comment_count / commentsCount",
        "The total, far larger than the comments the payload carries.",
    ),
    Column(
        "comments_in_payload",
        COUNT,
        "How many comments and replies this payload carries.",
        "derived from the comment edges",
        "The payload carries only a preview of comments.",
    ),
    Column("owner_id", ID, "The owner's account id.", "owner.id; ownerId; user.pk"),
    Column("owner_username", TEXT, "The owner's username.", "owner.username; ownerUsername"),
    Column(
        "owner_follower_count",
        COUNT,
        "The owner's followers at fetch time.",
        "owner.edge_followed_by.count; user.follower_count",
        "Null when the payload carries only an owner stub.",
    ),
    Column(
        "coauthor_usernames",
        pl.List(pl.String()),
        "Usernames of co-authors (collab posts).",
        "coauthor_producers[].username; coauthorProducers[].username",
        "Empty list when none.",
    ),
    Column(
        "music_artist",
        TEXT,
        "Artist of the audio track.",
        "clips_music_attribution_info.artist_name; musicInfo.artist_name",
        "For original audio this is the creator's username: pseudonymised tables give it as a "
        "`user_...` pseudonym unless `uses_original_audio` is false.",
    ),
    Column(
        "music_song", TEXT, "Title of the audio track.", "clips_music_attribution_info.song_name"
    ),
    Column(
        "uses_original_audio",
        FLAG,
        "Whether the audio is the creator's original sound.",
        "clips_music_attribution_info.uses_original_audio",
    ),
    Column(
        "audio_id",
        ID,
        "Instagram's audio id.",
        "clips_music_attribution_info.audio_id",
        "The audio page of original audio leads to its creator: pseudonymised tables give an "
        "`audio_...` pseudonym (the same audio, the same pseudonym).",
    ),
    Column(
        "is_paid_partnership",
        FLAG,
        "Marked as a paid partnership.",
        "is_paid_partnership; isSponsored",
    ),
    Column("location_name", TEXT, "Tagged location's name.", "location.name; locationName"),
    Column(
        "video_url",
        TEXT,
        "Video file URL.",
        "video_url; videoUrl; video_versions[0].url",
        "Signed CDN URL: expires within days.",
    ),
    Column(
        "thumbnail_url",
        TEXT,
        "Thumbnail URL.",
        "thumbnail_src",
        "Signed CDN URL: expires within days.",
    ),
    Column(
        "display_url",
        TEXT,
        "Full-size image URL.",
        "display_url; displayUrl; image_versions2.candidates[0].url",
        "Signed CDN URL: expires within days.",
    ),
    Column(
        "id_mismatch",
        FLAG,
        "The shortcode does not encode media_id.",
        "derived: shortcode_to_media_id(shortcode) != media_id",
        "Kept, not dropped: check such rows by hand.",
    ),
    Column("source_shape", TEXT, "Which payload shape the row came from.", "igresearch.shapes"),
    Column(
        "fetched_at",
        TIME,
        "When the response was fetched (UTC).",
        "archive record fetched_at (the response's Date header)",
        "Null for bare responses, which carry no fetch time.",
    ),
    Column("channel", TEXT, "API channel that served the response.", "archive record channel"),
)

COMMENTS = (
    Column("comment_id", ID, "Comment id.", "comment node id; latestComments[].id; pk"),
    Column("media_id", ID, "The post commented on.", "the media node's id"),
    Column(
        "parent_comment_id",
        ID,
        "The comment this one replies to; null for top-level comments.",
        "edge_threaded_comments (nesting)",
    ),
    Column("text", TEXT, "Comment text.", "text"),
    Column(
        "created_at",
        TIME,
        "When the comment was written (UTC).",
        "created_at (epoch seconds, an int); timestamp",
    ),
    Column("owner_id", ID, "Commenter's account id.", "owner.id; user.pk", "Often absent."),
    Column("owner_username", TEXT, "Commenter's username.", "owner.username; ownerUsername"),
    Column("owner_is_verified", FLAG, "Commenter is verified.", "owner.is_verified"),
    Column("like_count", COUNT, "Likes on the comment.", "edge_liked_by.count; likesCount"),
    Column(
        "fetched_at",
        TIME,
        "When the response holding the comment was fetched.",
        "archive record fetched_at",
        "One row per comment: the latest snapshot of it. Only a preview of all comments.",
    ),
)

OWNERS = (
    Column("owner_id", ID, "Account id.", "owner.id; coauthor_producers[].id; ownerId; user.pk"),
    Column("username", TEXT, "Username.", "username; ownerUsername"),
    Column("full_name", TEXT, "Display name.", "full_name; ownerFullName"),
    Column("is_verified", FLAG, "Verified account.", "is_verified"),
    Column("is_private", FLAG, "Private account.", "is_private"),
    Column(
        "follower_count",
        COUNT,
        "Followers at the latest fetch that reported them.",
        "edge_followed_by.count; follower_count",
        "A stub without followers never overwrites a known count.",
    ),
    Column("post_count", COUNT, "Posts at fetch time.", "edge_owner_to_timeline_media.count"),
    Column(
        "profile_pic_url",
        TEXT,
        "Profile picture URL.",
        "profile_pic_url",
        "Signed CDN URL: expires within days.",
    ),
    Column(
        "fetched_at",
        TIME,
        "The latest fetch that mentioned the account.",
        "archive record fetched_at",
        "One row per account: owners and co-authors, not commenters.",
    ),
)

CHILDREN = (
    Column("parent_media_id", ID, "The carousel (sidecar) post.", "the media node's id"),
    Column("position", COUNT, "Position in the carousel, from 0.", "edge order"),
    Column(
        "media_id",
        ID,
        "The item's id.",
        "edge_sidecar_to_children.edges[].node.id; carousel_media[].pk",
        "Can be non-numeric.",
    ),
    Column("shortcode", ID, "The item's shortcode.", "shortcode"),
    Column("typename", TEXT, "Type of the item.", "__typename"),
    Column("is_video", FLAG, "The item is a video.", "is_video"),
    Column("width", COUNT, "Width in pixels.", "dimensions.width"),
    Column("height", COUNT, "Height in pixels.", "dimensions.height"),
    Column("play_count", COUNT, "Plays of a video item.", "video_play_count", "Often null."),
    Column("view_count", COUNT, "Views of a video item.", "video_view_count"),
    Column("video_url", TEXT, "Video file URL.", "video_url", "Expires."),
    Column("display_url", TEXT, "Image URL.", "display_url", "Expires."),
    Column("fetched_at", TIME, "When the parent was fetched.", "archive record fetched_at"),
)

ERRORS = (
    Column("record", TEXT, "Which input record: file and line, or position in the input.", ""),
    Column("shortcode", ID, "The post's shortcode, when known.", ""),
    Column("channel", TEXT, "API channel, when known.", ""),
    Column(
        "kind",
        TEXT,
        "unavailable (deleted, private or login-walled), failed (the request failed) or "
        "malformed (the record could not be read).",
        "",
    ),
    Column(
        "reason",
        TEXT,
        "What went wrong, in the words of the server or the error (may quote a post's URL).",
        "",
        "Pseudonymised tables give the category here instead.",
    ),
    Column(
        "category",
        TEXT,
        "Why, in a fixed vocabulary that quotes no server text: the kind, then what igresearch "
        "saw, e.g. `unavailable: media node is null`, `unavailable: error item`, "
        "`failed: APIError HTTP 500`, `failed: API code 0003`, `malformed: unreadable line`.",
        "",
    ),
    Column("fetched_at", TIME, "When it was fetched, when known.", ""),
    Column(
        "resolved",
        FLAG,
        "The post has a stored answer all the same: some record of the same shortcode and "
        "channel gave media (ok) or said it is unavailable. Count attrition from the rows where "
        "this is false, as `igresearch status` and the report do.",
        "",
        "Null when the record names no shortcode or channel (a bare response, an unreadable line).",
    ),
)

_NULL_RULE = "Null, never inf or NaN, when the denominator is null or 0 or a numerator is null."

#: The rates of :mod:`igresearch.metrics`, computed on the media table (not stored in it).
METRICS = (
    Column("like_rate", pl.Float64(), "like_count / play_count", "media", _NULL_RULE
           + " Null when likes are hidden."),
    Column("comment_rate", pl.Float64(), "comment_count / play_count", "media", _NULL_RULE),
    Column("engagement_rate", pl.Float64(), "(like_count + comment_count) / play_count", "media",
           _NULL_RULE + " Null when likes are hidden."),
    Column("reach", pl.Float64(), "play_count / owner_follower_count", "media",
           _NULL_RULE + " Followers at fetch time, not at posting time."),
    Column("likes_per_follower", pl.Float64(), "like_count / owner_follower_count", "media",
           _NULL_RULE + " Followers at fetch time."),
    Column("view_play_ratio", pl.Float64(), "view_count / play_count", "media", _NULL_RULE),
)  # fmt: skip

TABLES: dict[str, tuple[Column, ...]] = {
    "media": MEDIA,
    "comments": COMMENTS,
    "owners": OWNERS,
    "children": CHILDREN,
    "errors": ERRORS,
}


def _schema(columns: tuple[Column, ...]) -> pl.Schema:
    return pl.Schema({column.name: column.dtype for column in columns})


MEDIA_SCHEMA = _schema(MEDIA)
COMMENTS_SCHEMA = _schema(COMMENTS)
OWNERS_SCHEMA = _schema(OWNERS)
CHILDREN_SCHEMA = _schema(CHILDREN)
ERRORS_SCHEMA = _schema(ERRORS)
SCHEMAS: dict[str, pl.Schema] = {name: _schema(columns) for name, columns in TABLES.items()}

_INTRO = {
    "media": "One row per post and fetch (a reel fetched twice has two rows, told apart by "
    "`fetched_at`).",
    "comments": "One row per comment or reply in the payloads, its latest snapshot.",
    "owners": "One row per account that owns or co-owns media, its latest snapshot.",
    "children": "One row per carousel item, with its parent's media id.",
    "errors": "One row per record that gave no media: unavailable posts, failed requests, "
    "malformed records.",
}


def data_dictionary() -> str:
    """The data dictionary as Markdown, generated from the declarations above."""
    lines = [
        "# Data dictionary",
        "",
        f"Schema version {SCHEMA_VERSION}. Generated from `igresearch/schema.py` by "
        "`scripts/make_data_dictionary.py`; do not edit by hand.",
        "",
        "`node` is the Instagram media node wherever the response keeps it "
        "(`data.xdt_shortcode_media`, `data.shortcode_media`, `graphql.shortcode_media`); "
        "camelCase sources are Apify's flat items, `items[0]` the mobile API's shape. "
        "Absent and null are the same: a missing field gives null.",
        "",
        "Pseudonymised tables (`igresearch.pseudonymize`, `igresearch report --pseudonymize`) "
        "hold salted hashes (`user_...`, `id_...`, `name_...`, `comment_...`, `audio_...`) in "
        "place of usernames (`@mentions` in text included), account ids, full names, comment "
        "ids and audio ids, and `music_artist` unless `uses_original_audio` is false; media ids "
        "become pseudonymous media ids (salted hashes, numbers of 19 digits) and shortcodes the "
        "shortcodes of those (11 characters), so `id_mismatch` keeps its meaning; they leave "
        "out every column whose name ends with `url`, and `errors.reason` holds the `category`.",
    ]
    for table, columns in TABLES.items():
        lines += ["", f"## {table}", "", _INTRO[table], ""]
        lines += ["| column | type | meaning | JSON source | caveats |", "|---|---|---|---|---|"]
        for c in columns:
            lines.append(f"| `{c.name}` | {c.dtype} | {c.meaning} | {c.sources} | {c.caveat} |")
    lines += [
        "",
        "## derived metrics",
        "",
        "Computed by `igresearch.metrics` (e.g. `metrics.with_rates(media)`), on the newest "
        "snapshot of each reel for per-account summaries.",
        "",
        "| metric | type | formula | caveats |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{m.name}` | {m.dtype} | `{m.meaning}` | {m.caveat} |" for m in METRICS]
    return "\n".join(lines) + "\n"
