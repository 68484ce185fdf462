"""The archive index and attrition as they were before issue 14 (every line parsed whole and
the latest records kept whole): the reference the lean index is tested and benchmarked against
(tests/test_archive.py, benchmarks/bench_index.py)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from igresearch.archive import _reason, read_archive
from igresearch.outcomes import category


def full_parse_index(path: str | Path) -> dict[tuple[str, str], list[Any]]:
    """The index as it was before issue 14: whole records parsed and kept, [latest record,
    latest stored record, newest fetched_at] per key."""
    entries: dict[tuple[str, str], list[Any]] = {}
    for whole in read_archive(path):
        key = (str(whole.get("shortcode")), str(whole.get("channel")))
        entry = entries.setdefault(key, [whole, None, None])
        entry[0] = whole
        if str(whole.get("outcome")) in ("ok", "unavailable"):
            entry[1] = whole
            text = whole.get("fetched_at")
            try:
                when = datetime.fromisoformat(text) if isinstance(text, str) else None
            except ValueError:
                when = None
            if when is not None and (entry[2] is None or when > entry[2]):
                entry[2] = when
    return entries


def full_parse_attrition(path: str | Path) -> tuple[dict[str, int], list[tuple[str, ...]]]:
    """``Attrition.of`` as it was before issue 14, on :func:`full_parse_index`."""
    counts: Counter[str] = Counter()
    lost = []
    for latest, stored, _ in full_parse_index(path).values():
        chosen = stored or latest
        outcome = str(chosen.get("outcome"))
        counts[outcome] += 1
        if outcome != "ok":
            url, channel = str(chosen.get("url")), str(chosen.get("channel"))
            lost.append((url, channel, outcome, _reason(chosen), category(chosen)))
    return dict(counts), lost
