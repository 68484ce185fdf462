"""JSON lines -> records, fast for the documented shape: decoding only, no extraction.

A line holding Instagram's GraphQL media node (the vendor envelope, Instagram's own envelope,
or an archive record of either) is decoded by msgspec straight into structures that hold only
the fields :mod:`igresearch.extract` declares for that shape: the other fields (long signed
URLs, video manifests...) are skipped in C and never become Python objects. The structures are
generated from the declarations, so a new column needs no change here.

Everything else, and any line whose declared fields have an unexpected type, is decoded as
plain JSON; a line that is not JSON becomes :class:`BadLine`. Both decodings feed the same
extractor and give the same rows (``tests/test_decode.py``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypedDict

import msgspec
import polars as pl

from .extract import DEFAULT_SHAPE, TYPED, BadLine, attribute, paths
from .shapes import NODE_KEYS

__all__ = ["decode_line"]

#: A leaf's type by the type of the column it fills: values msgspec accepts for these are what
#: igresearch.coerce would make of them. Other leaves (times, raw values) take any JSON value.
_LEAVES: dict[pl.DataType, Any] = {
    pl.String(): str | None,
    pl.Int64(): Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None,
    pl.Boolean(): bool | None,
    pl.Float64(): Annotated[float, msgspec.Meta(gt=-1e300, lt=1e300)] | None,
}
assert set(_LEAVES) == TYPED

Tree = dict[str, Any]  # a key's subtree (a Tree), or the leaf's column type (or None: raw)


def _tree(declared: list[tuple[str, Any]]) -> tuple[Tree, set[tuple[str, ...]]]:
    """The keys the declarations read, nested, with leaves' types; and the paths of lists."""
    tree: Tree = {}
    lists: set[tuple[str, ...]] = set()
    for path, dtype in declared:
        level: Tree = tree
        where: tuple[str, ...] = ()
        keys = [k for k in path.split(".") if k]
        for index, key in enumerate(keys):
            if key in ("*", "0"):
                lists.add(where)
                continue
            where = (*where, key)
            if all(k in ("*", "0") for k in keys[index + 1 :]):
                if key in level and level[key] != dtype:
                    raise TypeError(f"{path}: {key} is read as two kinds of value")
                level[key] = dtype
            else:
                if key in level and not isinstance(level[key], dict):
                    raise TypeError(f"{path}: {key} is read both as a value and as an object")
                level = level.setdefault(key, {})
    return tree, lists


def _struct(name: str, tree: Tree, lists: set[tuple[str, ...]], where: tuple[str, ...]) -> Any:
    """A msgspec Struct type for `tree`: typed leaves, objects as nested Structs."""
    fields = []
    for key, subtree in tree.items():
        path = (*where, key)
        if isinstance(subtree, dict):
            kind = _struct(f"{name}_{attribute(key)}", subtree, lists, path) | None
        else:
            kind = _LEAVES.get(subtree, Any)
        if path in lists:
            kind = list[kind] | None  # type: ignore[valid-type]
        fields.append((attribute(key), kind, None))
    renames = {attribute(key): key for key in tree if attribute(key) != key}
    return msgspec.defstruct(name, fields, rename=renames or None, gc=False)


_Node = _struct("Node", *_tree(list(paths(DEFAULT_SHAPE))), ())


class _Inner(TypedDict, total=False):
    xdt_shortcode_media: _Node | None  # type: ignore[valid-type]
    shortcode_media: _Node | None  # type: ignore[valid-type]
    graphql: Any
    items: Any
    shortCode: Any
    error: Any
    shortcode: Any
    data: Any


class _Instagram(_Inner, total=False):
    data: _Inner | None


class _Envelope(_Inner, total=False):
    code: Any
    msg: Any
    success: Any
    failed: Any
    data: _Instagram | None


class _Line(_Envelope, total=False):
    """A response, or an archive record holding one."""

    archive_version: Any
    channel: Any
    fetched_at: Any
    http_status: Any
    api_code: Any
    response: _Envelope | None


_TYPED = msgspec.json.Decoder(_Line)
_PLAIN = msgspec.json.Decoder()


def decode_line(line: bytes) -> Any:
    """The record (or response) a JSON line holds, or a :class:`BadLine` saying why not."""
    try:
        record = _TYPED.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        pass
    else:
        if _pruned_safely(record):  # type: ignore[arg-type]
            return record
    try:
        return _PLAIN.decode(line)
    except RecursionError:
        return BadLine("nested too deeply to read")
    except msgspec.DecodeError as error:
        try:  # msgspec refuses lone surrogates (half an emoji) that the json module reads
            return json.loads(line)
        except (ValueError, RecursionError):
            return BadLine(f"not valid JSON ({error}); a partial last line is normal")


def _pruned_safely(record: dict[str, Any]) -> bool:
    """Whether routing and extraction see the same in the pruned record as in the whole one."""
    level: Any = record.get("response") if "archive_version" in record else record
    while isinstance(level, dict):
        if not NODE_KEYS.isdisjoint(level):  # the level is a node itself: decode it whole
            return False
        for key in ("xdt_shortcode_media", "shortcode_media"):
            node = level.get(key)
            if node is not None and node.id is None and node.shortcode is None:
                return False  # judged by what else it holds: decode it whole
        level = level.get("data")
    return True
