"""Coercion of decoded JSON values to the tables' types: a wrong type gives null, never an
exception. :mod:`igresearch.extract` applies them to every value it reads (inlining their common
case).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

__all__ = [
    "MAX_EPOCH_S",
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


def likes_and_hidden(raw: Any, disabled: Any) -> tuple[int | None, bool | None]:
    """(like count, likes hidden): -1 or the disabled flag mean hidden."""
    hidden = to_int(raw) == -1 or disabled is True
    count = None if hidden else to_count(raw)
    if hidden:
        return count, True
    return count, False if (disabled is False or count is not None) else None


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
    # abs() first: an int too large for a float (10**400) is out of range, not an error.
    if type(value) in (int, float) and abs(value) < 1e300:
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
    if type(value) is float:
        return _seconds_to_us(value)
    if type(value) is str:
        return _text_to_us(value)
    return None  # an int outside 1970-2100 (checked above), or not a time


# Small: a cached text lives on in whichever memory arena holds it, and keeps the arena from
# being returned to the system (1024 entries cost 30 MB of peak memory in to_tables).
@lru_cache(maxsize=16)
def _text_to_us(text: str) -> int | None:
    """Cached: consecutive records' fetch times repeat (``Date`` headers count whole seconds),
    and parsing ISO 8601 costs more than the lookup."""
    if text.isascii() and text.isdigit():
        return _seconds_to_us(float(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _seconds_to_us(parsed.timestamp())


def _seconds_to_us(seconds: float) -> int | None:
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_EPOCH_S:
        return None
    return round(seconds * 1_000_000)
