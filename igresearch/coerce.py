"""Tolerant readers of decoded JSON: a wrong type gives null, never an exception.

Shared by :mod:`igresearch.tables` (any shape) and :mod:`igresearch.fastpath` (the documented
shape), so both turn the same values into the same cells.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "MAX_EPOCH_S",
    "as_dict",
    "dict_items",
    "edge_nodes",
    "first_count",
    "first_edge_node",
    "first_item_value",
    "get_in",
    "likes_and_hidden",
    "to_bool",
    "to_count",
    "to_epoch_us",
    "to_float",
    "to_int",
    "to_str",
]

_I64 = 2**63 - 1
MAX_EPOCH_S = 4_102_444_800  # 2100-01-01: later "timestamps" are junk


def get_in(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def first_item_value(items: Any, key: str) -> Any:
    return (
        items[0].get(key)
        if isinstance(items, list) and items and isinstance(items[0], dict)
        else None
    )


def dict_items(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def edge_nodes(connection: Any) -> list[dict[str, Any]]:
    edges = connection.get("edges") if isinstance(connection, dict) else None
    return [node for edge in dict_items(edges) if isinstance(node := edge.get("node"), dict)]


def first_edge_node(connection: Any) -> dict[str, Any]:
    nodes = edge_nodes(connection)
    return nodes[0] if nodes else {}


def likes_and_hidden(raw: Any, disabled: Any) -> tuple[int | None, bool | None]:
    """(like count, likes hidden): -1 or the disabled flag mean hidden."""
    hidden = to_int(raw) == -1 or disabled is True
    count = None if hidden else to_count(raw)
    if hidden:
        return count, True
    return count, False if (disabled is False or count is not None) else None


def first_count(*values: Any) -> int | None:
    for value in values:
        if (count := to_count(value)) is not None:
            return count
    return None


def to_int(value: Any) -> int | None:
    if type(value) is int:
        return value if -_I64 <= value <= _I64 else None
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if type(value) is str and value.isascii() and value.lstrip("-").isdigit() and len(value) < 19:
        return int(value)
    return None


def to_count(value: Any) -> int | None:
    if type(value) is int and 0 <= value <= _I64:  # the common case, first
        return value
    number = to_int(value)
    return number if number is not None and number >= 0 else None


def to_float(value: Any) -> float | None:
    if type(value) in (int, float) and math.isfinite(value) and abs(value) < 1e300:
        return float(value)
    return None


def to_bool(value: Any) -> bool | None:
    return value if type(value) is bool else None


def to_str(value: Any) -> str | None:
    if type(value) is str:
        if value.isascii():
            return value
        try:
            value.encode()
        except UnicodeEncodeError:  # lone surrogates from JSON escapes: not text, replace them
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if type(value) is int:
        return str(value)
    return None


def to_epoch_us(value: Any) -> int | None:
    """Epoch seconds (int, float or digit string) or an ISO 8601 string -> UTC microseconds."""
    if type(value) is int and 0 <= value <= MAX_EPOCH_S:  # the common case, first
        return value * 1_000_000
    seconds: float | None = None
    if type(value) in (int, float) or (type(value) is str and value.isascii() and value.isdigit()):
        seconds = float(value)
    elif type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp()
    if seconds is None or not math.isfinite(seconds) or not 0 <= seconds <= MAX_EPOCH_S:
        return None
    return round(seconds * 1_000_000)
