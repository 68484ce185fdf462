"""One media node -> the rows of every table, declared by column name for each payload shape.

Each payload shape (see :mod:`igresearch.shapes`) is declared once, as data: for every column
of :data:`igresearch.schema.SCHEMAS` it fills, where the value comes from. A source is

- a dotted path in the node (``"owner.edge_followed_by.count"``; ``0`` takes a list's first item),
  its value coerced to the column's declared type (a wrong type gives null, never an error);
- a tuple of paths: the first whose coerced value is not null;
- :class:`Computed`: a function of the raw values at some paths, for the few columns that need
  more than a path (likes hidden as -1, the mobile API's numbered media types).

Rows of comments, owners and carousel children are :class:`Items`: the dicts found at some
paths (``*`` walks a list), each read with its own column sources. A new column is one line in
:mod:`igresearch.schema` plus one line per shape here.

The declarations (never any data) are compiled into Python functions, once, at import: a media
row builder and a column builder per table (one list comprehension per column, no row tuples).
They read plain dicts (any decoded JSON) and, for the GraphQL shape, the msgspec structures that
:mod:`igresearch.decode` decodes the documented shape into (attribute access); both are compiled
from the same declarations, and a test checks they give the same tables. Structures of
consecutive records are read as a run (:func:`run_columns`): each column one list comprehension
over all their nodes, the same rows as :func:`media_rows` gives node by node.
"""

from __future__ import annotations

import itertools
import keyword
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec
import polars as pl

from . import outcomes
from .coerce import MAX_EPOCH_S, likes_and_hidden, to_bool, to_count, to_epoch_us, to_float, to_str
from .errors import InvalidURLError
from .schema import SCHEMAS, TIME
from .shapes import failed, locate_media
from .urls import canonical_url, shortcode_to_media_id

__all__ = [
    "SHAPES",
    "TYPED",
    "BadLine",
    "Computed",
    "Deferred",
    "Items",
    "Part",
    "Rows",
    "Shape",
    "attribute",
    "media_rows",
    "paths",
    "record_rows",
    "run_columns",
]

Style = str  # "dict" (decoded JSON) or "struct" (msgspec structures of igresearch.decode)


@dataclass(frozen=True)
class Computed:
    """A column computed by `function` from the raw (uncoerced) values at `paths`."""

    function: Callable[..., Any]
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Items:
    """Rows found in a media node: the items at `paths` (in order), each read with `columns`.

    ``replies`` (comments only) is the path, inside an item, of its replies, which are read
    with the same columns and get the item's id as ``parent_comment_id``. ``unique`` keeps an
    item id's first occurrence only (a comment can be in several connections).
    """

    paths: tuple[str, ...]
    columns: dict[str, Any]
    replies: str | None = None
    unique: bool = False


@dataclass(frozen=True)
class Shape:
    """Where one payload shape keeps every column."""

    media: dict[str, Any]
    comments: Items
    owners: tuple[Items, ...]
    children: Items | None = None


# --- the declarations -----------------------------------------------------------------------


def _likes(disabled: Any, count: Any, alternative: Any = None) -> int | None:
    """The like count (`alternative` when `count` is null); null when hidden (-1 or the flag)."""
    return likes_and_hidden(alternative if count is None else count, disabled)[0]


def _likes_hidden(disabled: Any, count: Any, alternative: Any = None) -> bool | None:
    """Whether likes are hidden: -1 or the disabled flag."""
    return likes_and_hidden(alternative if count is None else count, disabled)[1]


_GRAPHQL_LIKES = (
    "like_and_view_counts_disabled",
    "edge_media_preview_like.count",
    "edge_liked_by.count",
)
_GRAPHQL_CONNECTIONS = (
    "edge_media_to_parent_comment",
    "edge_media_preview_comment",
    "edge_media_to_comment",
)

#: An Instagram account in GraphQL: media owners and co-authors.
GRAPHQL_ACCOUNT = {
    "owner_id": "id",
    "username": "username",
    "full_name": "full_name",
    "is_verified": "is_verified",
    "is_private": "is_private",
    "follower_count": "edge_followed_by.count",
    "post_count": "edge_owner_to_timeline_media.count",
    "profile_pic_url": "profile_pic_url",
}

GRAPHQL = Shape(
    media={
        "media_id": "id",
        "shortcode": "shortcode",
        "typename": "__typename",
        "product_type": "product_type",
        "is_video": "is_video",
        "taken_at": "taken_at_timestamp",
        "caption": "edge_media_to_caption.edges.0.node.text",
        "caption_created_at": "edge_media_to_caption.edges.0.node.created_at",
        "duration_s": "video_duration",
        "width": "dimensions.width",
        "height": "dimensions.height",
        "has_audio": "has_audio",
        "play_count": "video_play_count",
        "view_count": "video_view_count",
        "like_count": Computed(_likes, _GRAPHQL_LIKES),
        "likes_hidden": Computed(_likes_hidden, _GRAPHQL_LIKES),
        "comment_count": (*(f"{c}.count" for c in _GRAPHQL_CONNECTIONS), "comment_count"),
        "owner_id": "owner.id",
        "owner_username": "owner.username",
        "owner_follower_count": "owner.edge_followed_by.count",
        "coauthor_usernames": "coauthor_producers.*.username",
        "music_artist": "clips_music_attribution_info.artist_name",
        "music_song": "clips_music_attribution_info.song_name",
        "uses_original_audio": "clips_music_attribution_info.uses_original_audio",
        "audio_id": "clips_music_attribution_info.audio_id",
        "is_paid_partnership": "is_paid_partnership",
        "location_name": "location.name",
        "video_url": "video_url",
        "thumbnail_url": "thumbnail_src",
        "display_url": "display_url",
    },
    comments=Items(
        tuple(f"{c}.edges.*.node" for c in _GRAPHQL_CONNECTIONS),
        {
            "comment_id": "id",
            "text": "text",
            "created_at": "created_at",
            "owner_id": "owner.id",
            "owner_username": "owner.username",
            "owner_is_verified": "owner.is_verified",
            "like_count": "edge_liked_by.count",
        },
        replies="edge_threaded_comments.edges.*.node",
        unique=True,
    ),
    owners=(Items(("owner",), GRAPHQL_ACCOUNT), Items(("coauthor_producers.*",), GRAPHQL_ACCOUNT)),
    children=Items(
        ("edge_sidecar_to_children.edges.*.node",),
        {
            "media_id": "id",
            "shortcode": "shortcode",
            "typename": "__typename",
            "is_video": "is_video",
            "width": "dimensions.width",
            "height": "dimensions.height",
            "play_count": "video_play_count",
            "view_count": "video_view_count",
            "video_url": "video_url",
            "display_url": "display_url",
        },
    ),
)


def _apify_is_video(kind: Any) -> bool | None:
    text = to_str(kind)
    return None if text is None else text.lower() == "video"


_APIFY_LIKES = ("likeAndViewCountsDisabled", "likesCount")

APIFY = Shape(
    media={
        "media_id": "id",
        "shortcode": "shortCode",
        "typename": "type",
        "product_type": "productType",
        "is_video": Computed(_apify_is_video, ("type",)),
        "taken_at": "timestamp",
        "caption": "caption",
        "duration_s": "videoDuration",
        "width": "dimensionsWidth",
        "height": "dimensionsHeight",
        "play_count": "videoPlayCount",
        "view_count": "videoViewCount",
        "like_count": Computed(_likes, _APIFY_LIKES),
        "likes_hidden": Computed(_likes_hidden, _APIFY_LIKES),
        "comment_count": "commentsCount",
        "owner_id": "ownerId",
        "owner_username": "ownerUsername",
        "coauthor_usernames": "coauthorProducers.*.username",
        "music_artist": "musicInfo.artist_name",
        "music_song": "musicInfo.song_name",
        "uses_original_audio": "musicInfo.uses_original_audio",
        "audio_id": "musicInfo.audio_id",
        "is_paid_partnership": "isSponsored",
        "location_name": "locationName",
        "video_url": "videoUrl",
        "display_url": "displayUrl",
    },
    comments=Items(
        ("latestComments.*",),
        {
            "comment_id": "id",
            "text": "text",
            "created_at": "timestamp",
            "owner_id": "ownerId",
            "owner_username": "ownerUsername",
            "owner_is_verified": "ownerIsVerified",
            "like_count": "likesCount",
        },
        replies="replies.*",
    ),
    owners=(
        Items(
            ("",),
            {"owner_id": "ownerId", "username": "ownerUsername", "full_name": "ownerFullName"},
        ),
        Items(("coauthorProducers.*",), GRAPHQL_ACCOUNT),
    ),
)


def _mobile_media_id(pk: Any, media_id: Any) -> str | None:
    """``pk``, else the number before ``_`` in ``id`` (``"<pk>_<owner id>"``)."""
    return to_str(pk) or (to_str(media_id) or "").split("_")[0] or None


def _mobile_typename(media_type: Any) -> str | None:
    number = to_count(media_type)
    return None if number is None else f"media_type_{number}"


def _mobile_is_video(media_type: Any) -> bool | None:
    number = to_count(media_type)
    return None if number is None else number == 2


def _mobile_original_audio(sound: Any, song: Any) -> bool | None:
    if isinstance(sound, dict) and sound:
        return True
    return False if isinstance(song, dict) and song else None


_MOBILE_LIKES = ("like_and_view_counts_disabled", "like_count")
_SOUND = "clips_metadata.original_sound_info"
_SONG = "clips_metadata.music_info.music_asset_info"

MOBILE = Shape(
    media={
        "media_id": Computed(_mobile_media_id, ("pk", "id")),
        "shortcode": "code",
        "typename": Computed(_mobile_typename, ("media_type",)),
        "product_type": "product_type",
        "is_video": Computed(_mobile_is_video, ("media_type",)),
        "taken_at": "taken_at",
        "caption": "caption.text",
        "caption_created_at": "caption.created_at",
        "duration_s": "video_duration",
        "width": "original_width",
        "height": "original_height",
        "has_audio": "has_audio",
        "play_count": "play_count",
        "view_count": "view_count",
        "like_count": Computed(_likes, _MOBILE_LIKES),
        "likes_hidden": Computed(_likes_hidden, _MOBILE_LIKES),
        "comment_count": "comment_count",
        "owner_id": ("user.pk", "user.id"),
        "owner_username": "user.username",
        "owner_follower_count": "user.follower_count",
        "coauthor_usernames": "coauthor_producers.*.username",
        "music_artist": (f"{_SONG}.display_artist", f"{_SOUND}.ig_artist.username"),
        "music_song": (f"{_SONG}.title", f"{_SOUND}.original_audio_title"),
        "uses_original_audio": Computed(_mobile_original_audio, (_SOUND, _SONG)),
        "audio_id": (f"{_SONG}.audio_asset_id", f"{_SOUND}.audio_asset_id"),
        "is_paid_partnership": "is_paid_partnership",
        "location_name": "location.name",
        "video_url": "video_versions.0.url",
        "display_url": "image_versions2.candidates.0.url",
    },
    comments=Items(
        ("preview_comments.*",),
        {
            "comment_id": "pk",
            "text": "text",
            "created_at": "created_at",
            "owner_id": "user.pk",
            "owner_username": "user.username",
            "owner_is_verified": "user.is_verified",
            "like_count": "comment_like_count",
        },
    ),
    owners=(
        Items(
            ("user",),
            {
                "owner_id": ("pk", "id"),
                "username": "username",
                "full_name": "full_name",
                "is_verified": "is_verified",
                "is_private": "is_private",
                "follower_count": "follower_count",
                "post_count": "media_count",
                "profile_pic_url": "profile_pic_url",
            },
        ),
        Items(("coauthor_producers.*",), GRAPHQL_ACCOUNT),
    ),
)

#: Every shape by the ``source_shape`` igresearch.shapes names it; GraphQL is the default.
SHAPES: dict[str, Shape] = {"apify_item": APIFY, "items": MOBILE}
DEFAULT_SHAPE = GRAPHQL

# --- compiling ------------------------------------------------------------------------------

_COERCE = {
    pl.String(): "({v} if type({v} := {value}) is str and {v}.isascii() "
    "else None if {v} is None else to_str({v}))",
    pl.Int64(): f"({{v}} if type({{v}} := {{value}}) is int and 0 <= {{v}} <= {2**63 - 1} "
    "else None if {v} is None else to_count({v}))",
    TIME: f"({{v}} * 1000000 if type({{v}} := {{value}}) is int and 0 <= {{v}} <= {MAX_EPOCH_S} "
    "else None if {v} is None else to_epoch_us({v}))",
    pl.Boolean(): "({v} if type({v} := {value}) is bool else None)",
    pl.Float64(): "(None if ({v} := {value}) is None else to_float({v}))",
}
_ITEM_TYPES = (dict, msgspec.Struct)
#: Column types whose values igresearch.decode decodes already coerced (anything else in those
#: fields makes it decode the line as plain JSON instead), so struct readers skip coercion.
TYPED = frozenset({pl.String(), pl.Int64(), pl.Boolean(), pl.Float64()})


def attribute(key: str) -> str:
    """The attribute name igresearch.decode gives the JSON key `key` in its structures."""
    if key.isidentifier() and not key.startswith("_") and not keyword.iskeyword(key):
        return key
    return "k_" + "".join(c if c.isalnum() else "_" for c in key.lstrip("_"))


def _strings(items: Any, element: Callable[[Any], Any]) -> list[str]:
    """The non-empty strings at `element` of each item of a list (co-author usernames)."""
    if type(items) is not list:
        return []
    return [
        text for item in items if isinstance(item, _ITEM_TYPES) and (text := to_str(element(item)))
    ]


def _split(path: str) -> tuple[str, str]:
    """``"a.b.*.c"`` -> (``"a.b"``, ``"c"``): the list, and the path in each of its items."""
    container, _, element = path.partition("*")
    return container.rstrip("."), element.lstrip(".")


class _Compiler:
    """Turns sources into Python expressions of ``x`` (one item), for one style."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.names = (f"_{n}" for n in itertools.count())
        self.namespace: dict[str, Any] = {
            "to_str": to_str,
            "to_count": to_count,
            "to_epoch_us": to_epoch_us,
            "to_bool": to_bool,
            "to_float": to_float,
            "_strings": _strings,
        }

    def is_item(self, variable: str) -> str:
        """Whether `variable` holds an item (an object: in structures, anything but None)."""
        if self.style == "dict":
            return f"isinstance({variable}, _ITEM_TYPES)"
        return f"{variable} is not None"

    def path(self, path: str, variable: str = "x", *, checked: bool = False) -> str:
        """The value at `path` in `variable` (a dict or structure unless `checked`), or None."""
        expression = variable
        for index, step in enumerate(path.split(".") if path else ()):
            if index == 0 and not checked:
                read = (
                    f"{expression}.get({step!r})"
                    if self.style == "dict"
                    else (f"{expression}.{attribute(step)}")
                )
                expression = read
                continue
            name = next(self.names)
            if step == "0":
                test = (
                    f"type({name} := {expression}) is list"
                    if self.style == "dict"
                    else (f"({name} := {expression}) is not None")
                )
                expression = f"({name}[0] if {test} and {name} else None)"
            elif self.style == "dict":
                expression = (
                    f"({name}.get({step!r}) if type({name} := {expression}) is dict else None)"
                )
            else:
                expression = (
                    f"({name}.{attribute(step)} if ({name} := {expression}) is not None else None)"
                )
        return expression

    def value(self, source: Any, dtype: pl.DataType, variable: str = "x") -> str:
        """The expression of a column's value, coerced to its type."""
        if isinstance(source, Computed):
            name = next(self.names)
            self.namespace[name] = source.function
            return f"{name}({', '.join(self.path(p, variable) for p in source.paths)})"
        if isinstance(source, tuple):
            first, *rest = source
            if not rest:
                return self.value(first, dtype, variable)
            name = next(self.names)
            return (
                f"({name} if ({name} := {self.value(first, dtype, variable)}) is not None "
                f"else {self.value(tuple(rest), dtype, variable)})"
            )
        if isinstance(dtype, pl.List):
            container, element = _split(source)
            getter = next(self.names)
            self.namespace[getter] = self.function(element, checked=True)
            return f"_strings({self.path(container, variable)}, {getter})"
        if self.style == "struct" and dtype in TYPED:
            return self.path(source, variable)  # decoded with this type: nothing to coerce
        # The coercer's common case inline (no call), the rest by the coercer itself.
        return _COERCE[dtype].format(v=next(self.names), value=self.path(source, variable))

    def function(self, path: str, *, checked: bool = False) -> Callable[[Any], Any]:
        """``lambda x: <the value at path>``."""
        return self.compile(f"lambda x: {self.path(path, checked=checked)}")  # type: ignore[no-any-return]

    def compile(self, expression: str) -> Any:
        return eval(compile(expression, "<igresearch.extract>", "eval"), self.namespace)


@dataclass(slots=True)
class Part:
    """Rows of `table` from items read alike (`build`), with columns the items do not hold
    (`context`: the post's media id, the fetch time...); :meth:`columns` builds them."""

    table: str
    build: Callable[[list[Any]], dict[str, list[Any]]]
    items: list[Any]
    context: dict[str, list[Any]]

    def columns(self) -> dict[str, list[Any]]:
        return self.build(self.items) | self.context

    def extend(self, items: list[Any], **context: list[Any]) -> None:
        """Add rows: `items` and, for each context column, as many values."""
        self.items += items
        for column, values in context.items():
            self.context[column] += values


class _CompiledItems:
    """An :class:`Items` declaration compiled for one style."""

    def __init__(self, items: Items, table: str, compiler: _Compiler) -> None:
        schema = SCHEMAS[table]
        if table == "comments":
            self.comments = self._comment_walker(items, compiler)
        else:
            self.walkers = [self._walker(path, compiler) for path in items.paths]
        body = ", ".join(
            f"{name!r}: [{compiler.value(source, schema[name])} for x in items]"
            for name, source in items.columns.items()
        )
        self.build: Callable[[list[Any]], dict[str, list[Any]]] = compiler.compile(
            f"lambda items: {{{body}}}"
        )

    @staticmethod
    def _walker(path: str, compiler: _Compiler) -> Callable[[Any], list[Any]]:
        """A function giving the items at `path` (``*`` walks a list) of a node."""
        if "*" not in path:
            get = compiler.function(path)
            return lambda node: [item] if isinstance(item := get(node), _ITEM_TYPES) else []
        container, element = _split(path)
        outer = compiler.function(container)
        inner = compiler.function(element, checked=True)
        return lambda node: (
            [i for e in items if isinstance(i := inner(e), _ITEM_TYPES)]
            if type(items := outer(node)) is list
            else []
        )

    @staticmethod
    def _comment_walker(
        items: Items, compiler: _Compiler
    ) -> Callable[[Any], tuple[list[Any], list[str | None]]]:
        """A function giving a node's comments, each followed by its replies, and the id of
        each one's parent (None for a comment)."""
        identify = items.columns["comment_id"]
        containers, elements = zip(*map(_split, items.paths), strict=True)
        if len(set(elements)) != 1:
            raise ValueError(f"{items.paths}: comments must be read alike in every list")
        replies, reply = _split(items.replies or "*")
        unique = items.unique

        def add(item: str, parent: str, indent: str) -> list[str]:
            lines = [f"{indent}{item}_id = {compiler.value(identify, pl.String(), item)}"]
            if unique:
                lines += [
                    f"{indent}if {item}_id is not None and {item}_id in seen:",
                    f"{indent}    pass",
                    f"{indent}else:",
                    f"{indent}    seen.add({item}_id)",
                ]
                indent += "    "
            return [*lines, f"{indent}found.append({item})", f"{indent}parents.append({parent})"]

        lines = [
            "def walk(x):",
            "    found, parents, seen = [], [], set()",
            f"    for edges in ({', '.join(compiler.path(c) for c in containers)},):",
            "        if type(edges) is not list:",
            "            continue",
            "        for e in edges:",
            f"            c = {compiler.path(elements[0], 'e', checked=True)}",
            f"            if not {compiler.is_item('c')}:",
            "                continue",
            *add("c", "None", "            "),
        ]
        if items.replies:
            lines += [
                f"            answers = {compiler.path(replies, 'c')}",
                "            if type(answers) is not list:",
                "                continue",
                "            for a in answers:",
                f"                r = {compiler.path(reply, 'a', checked=True)}",
                f"                if {compiler.is_item('r')}:",
                *add("r", "c_id", "                    "),
            ]
        lines.append("    return found, parents")
        compiler.namespace["_ITEM_TYPES"] = _ITEM_TYPES
        exec(compile("\n".join(lines), "<igresearch.extract>", "exec"), compiler.namespace)
        return compiler.namespace.pop("walk")  # type: ignore[no-any-return]

    def items(self, node: Any) -> list[Any]:
        return [item for walk in self.walkers for item in walk(node)]


class _CompiledShape:
    """A :class:`Shape` compiled for one style."""

    def __init__(self, shape: Shape, style: Style) -> None:
        compiler = _Compiler(style)
        media = SCHEMAS["media"]
        unknown = set(shape.media) - set(media)
        if unknown:
            raise ValueError(f"no media column named {sorted(unknown)}")
        body = ", ".join(
            compiler.value(shape.media[name], dtype) if name in shape.media else "None"
            for name, dtype in media.items()
        )
        # The row in schema order; the columns no shape fills are set by media_rows.
        self.media: Callable[[Any], list[Any]] = compiler.compile(f"lambda x: [{body}]")
        # The same columns for many nodes at once, a list comprehension each (see run_columns).
        body = ", ".join(
            f"{name!r}: [{compiler.value(source, media[name])} for x in items]"
            for name, source in shape.media.items()
        )
        self.media_columns: Callable[[list[Any]], dict[str, list[Any]]] = compiler.compile(
            f"lambda items: {{{body}}}"
        )
        self.comments = _CompiledItems(shape.comments, "comments", compiler)
        self.owners = [_CompiledItems(owners, "owners", compiler) for owners in shape.owners]
        self.children = (
            _CompiledItems(shape.children, "children", compiler) if shape.children else None
        )


# run_columns reads owners and co-authors with one build.
assert all(owners.columns == GRAPHQL_ACCOUNT for owners in DEFAULT_SHAPE.owners)
_COMPILED = {
    (shape_name, style): _CompiledShape(shape, style)
    for shape_name, shape in [*SHAPES.items(), ("graphql", DEFAULT_SHAPE)]
    for style in ("dict", "struct")
    if style == "dict" or shape is DEFAULT_SHAPE
}


class Deferred(NamedTuple):
    """A media node of the documented shape, as igresearch.decode decodes it, with an id: its
    rows are read later, with those of the records next to it (:func:`run_columns`)."""

    shape: str
    node: Any
    meta: _Meta


class Rows(NamedTuple):
    """What one record gives: a media row and parts of the other tables, or one error row, or
    (when asked to defer) a node to read later."""

    media: list[Any] | None = None  # in schema order
    parts: list[Part] | None = None
    error: tuple[Any, ...] | None = None
    deferred: Deferred | None = None


def record_rows(where: str, record: Any, *, defer: bool = False) -> Rows:
    """All rows one record (a response or an archive record) gives, or one error row: never a
    part of a record. `where` names the record in error rows (file and line). With `defer`, a
    node that :func:`run_columns` can read is returned as :class:`Deferred` instead: reading it
    cannot fail (its id is known and its values typed)."""
    meta = _NO_META
    try:
        if isinstance(record, BadLine):
            return Rows(error=meta.error(where, outcomes.malformed("unreadable line"), str(record)))
        envelope = record
        if isinstance(record, dict) and "archive_version" in record:
            meta = _Meta(
                shortcode=to_str(record.get("shortcode")),
                channel=to_str(record.get("channel")),
                fetched_at=to_epoch_us(record.get("fetched_at")),
            )
            envelope = record.get("response")
            if envelope is None:
                error = record.get("error")
                message = error.get("message") if isinstance(error, dict) else None
                why = outcomes.failed(record)
                return Rows(error=meta.error(where, why, message or "the request failed"))
        if isinstance(envelope, dict) and failed(envelope):
            reason = (
                f"the API reported failure (code {envelope.get('code')!r}: {envelope.get('msg')})"
            )
            return Rows(error=meta.error(where, outcomes.api_failure(envelope.get("code")), reason))
        located = locate_media(envelope)
        if located is None:
            reason = "no media node in any known shape"
            return Rows(error=meta.error(where, outcomes.malformed("no media node"), reason))
        if located.node is None:
            why = outcomes.unavailable(located)
            return Rows(error=meta.error(where, why, located.reason or "unavailable"))
        node = located.node
        # Only the documented node is decoded into a structure (igresearch.decode); it has an id.
        if defer and isinstance(node, msgspec.Struct) and node.id is not None:  # type: ignore[attr-defined]
            return Rows(deferred=Deferred(located.shape, node, meta))
        return media_rows(Deferred(located.shape, node, meta))
    except Exception as error:  # one bad record never loses the others
        reason = f"{type(error).__name__}: {error}"[:500]
        return Rows(error=meta.error(where, outcomes.malformed(type(error).__name__), reason))


class BadLine(str):
    """A line of a file that could not be decoded; the text says why."""


class _Meta(NamedTuple):
    """What an archive record says about the response it holds (a tuple: made twice per
    record, and a frozen dataclass is several times slower to make)."""

    shortcode: str | None
    channel: str | None
    fetched_at: int | None

    def error(self, where: str, category: str, reason: Any) -> tuple[Any, ...]:
        """An errors row; its kind is the category's first word."""
        kind = category.partition(":")[0]
        reason = to_str(reason)
        return (where, self.shortcode, self.channel, kind, reason, category, self.fetched_at, None)


_NO_META = _Meta(shortcode=None, channel=None, fetched_at=None)


def media_rows(deferred: Deferred) -> Rows:
    """The media row of a node (found where its ``source_shape`` says), and the parts of the
    other tables it gives; ValueError when the node has neither an id nor a valid shortcode (no
    row could name the post)."""
    shape, node, meta = deferred
    style = "dict" if type(node) is dict else "struct"
    compiled = _COMPILED[(shape if shape in SHAPES else "graphql", style)]
    media = compiled.media(node)
    media_id = _identify(media)
    media[_SOURCE_SHAPE] = shape
    media[_FETCHED_AT] = meta.fetched_at
    media[_CHANNEL] = meta.channel
    parts = _Parts.of(compiled, accounts_alike=False)
    media[_IN_PAYLOAD] = parts.add(compiled, node, media_id, meta.fetched_at)
    return Rows(media, [part for part in parts.all() if part.items])


class _Parts(NamedTuple):
    """The parts the nodes of one shape fill, node after node, in their order."""

    comments: Part
    owners: list[Part]  # one per owners declaration, or one for all when they read alike
    children: Part | None

    @classmethod
    def of(cls, compiled: _CompiledShape, *, accounts_alike: bool) -> _Parts:
        def part(table: str, build: Any, *context: str) -> Part:
            return Part(table, build, [], {column: [] for column in (*context, "fetched_at")})

        owners = [part("owners", accounts.build) for accounts in compiled.owners]
        children = None
        if compiled.children is not None:
            children = part("children", compiled.children.build, "parent_media_id", "position")
        return cls(
            part("comments", compiled.comments.build, "media_id", "parent_comment_id"),
            owners[:1] * len(owners) if accounts_alike else owners,
            children,
        )

    def add(self, compiled: _CompiledShape, node: Any, media_id: str, fetched_at: Any) -> int:
        """Add the rows of `node`; the number of its comments (and replies)."""
        found, parents = compiled.comments.comments(node)
        count = len(found)
        self.comments.extend(
            found,
            media_id=[media_id] * count,
            parent_comment_id=parents,
            fetched_at=[fetched_at] * count,
        )
        for accounts, part in zip(compiled.owners, self.owners, strict=True):
            items = accounts.items(node)
            part.extend(items, fetched_at=[fetched_at] * len(items))
        if compiled.children is not None and self.children is not None:
            items = compiled.children.items(node)
            self.children.extend(
                items,
                parent_media_id=[media_id] * len(items),
                position=list(range(len(items))),
                fetched_at=[fetched_at] * len(items),
            )
        return count

    def all(self) -> list[Part]:
        """Each part once, in table order."""
        owners: list[Part] = []
        for part in self.owners:
            if not any(part is seen for seen in owners):
                owners.append(part)
        return [self.comments, *owners, *([self.children] if self.children else [])]


_MEDIA_COLUMNS = SCHEMAS["media"].names()
_MEDIA_ID, _SHORTCODE, _URL, _ID_MISMATCH, _SOURCE_SHAPE, _FETCHED_AT, _CHANNEL, _IN_PAYLOAD = map(
    _MEDIA_COLUMNS.index,
    (
        "media_id",
        "shortcode",
        "url",
        "id_mismatch",
        "source_shape",
        "fetched_at",
        "channel",
        "comments_in_payload",
    ),
)


def _identify(media: list[Any]) -> str:
    """Fill url and id_mismatch; derive a missing media id from the shortcode."""
    shortcode, media_id = media[_SHORTCODE], media[_MEDIA_ID]
    encoded, media[_URL] = _encoded(shortcode)
    if media_id is None:
        if encoded is None:
            raise ValueError("the media node has neither an id nor a valid shortcode")
        media[_MEDIA_ID] = media_id = encoded
    media[_ID_MISMATCH] = None if encoded is None else encoded != media_id.split("_")[0]
    return str(media_id)


def _encoded(shortcode: str | None) -> tuple[str | None, str | None]:
    """The media id a shortcode encodes and its canonical URL; (None, None) for no valid one."""
    if not shortcode:
        return None, None
    try:
        return shortcode_to_media_id(shortcode), canonical_url(shortcode)
    except InvalidURLError:
        return None, None


def run_columns(run: list[Deferred]) -> tuple[dict[str, list[Any]], list[Part]]:
    """The media columns and the parts of the other tables that the nodes of a run of records
    give, in their order: the rows :func:`media_rows` gives for each, but a list comprehension
    per column instead of function calls per node."""
    compiled = _COMPILED[("graphql", "struct")]
    nodes = [found.node for found in run]
    media = compiled.media_columns(nodes)
    identities = [_encoded(shortcode) for shortcode in media["shortcode"]]
    media["url"] = [url for _, url in identities]
    media["id_mismatch"] = [
        None if encoded is None else encoded != media_id.split("_")[0]
        for (encoded, _), media_id in zip(identities, media["media_id"], strict=True)
    ]
    media["source_shape"] = [found.shape for found in run]
    media["fetched_at"] = [found.meta.fetched_at for found in run]
    media["channel"] = [found.meta.channel for found in run]
    # Owners and co-authors are read alike (GRAPHQL_ACCOUNT): one part, in record order.
    parts = _Parts.of(compiled, accounts_alike=True)
    media["comments_in_payload"] = [
        parts.add(compiled, node, media_id, fetched_at)
        for node, media_id, fetched_at in zip(
            nodes, media["media_id"], media["fetched_at"], strict=True
        )
    ]
    return media, parts.all()


def paths(shape: Shape = DEFAULT_SHAPE) -> Iterator[tuple[str, pl.DataType | None]]:
    """Every path a shape's declarations read, with the type of the column it fills (None for
    a raw value that a :class:`Computed` function reads); igresearch.decode decodes just these.
    """

    def of(source: Any, dtype: pl.DataType) -> Iterator[tuple[str, pl.DataType | None]]:
        if isinstance(source, Computed):
            yield from ((path, None) for path in source.paths)
        elif isinstance(source, tuple):
            for each in source:
                yield from of(each, dtype)
        else:
            yield source, (dtype.inner if isinstance(dtype, pl.List) else dtype)  # type: ignore[misc]

    media = SCHEMAS["media"]
    yield from (p for name, source in shape.media.items() for p in of(source, media[name]))
    groups = [
        ("comments", shape.comments),
        *(("owners", owners) for owners in shape.owners),
        *([("children", shape.children)] if shape.children else []),
    ]
    for table, items in groups:
        inner = [p for name, src in items.columns.items() for p in of(src, SCHEMAS[table][name])]
        for prefix in items.paths:
            yield from ((_join(prefix, path), dtype) for path, dtype in inner)
            if items.replies:
                yield from (
                    (_join(prefix, _join(items.replies, path)), dtype) for path, dtype in inner
                )


def _join(prefix: str, path: str) -> str:
    return ".".join(part for part in (prefix, path) if part)
