"""How igresearch's results show themselves: counted nouns (``1 post``, ``2 posts``) and, in
Jupyter, small HTML tables, every value escaped.

Values come from strangers (usernames, captions, server messages): each is shown as text, its
control characters visible as ``\\xNN`` (:func:`igresearch.controls.oneline`) and HTML-escaped,
so no value opens a tag, runs a script or reorders the page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from .controls import oneline

__all__ = ["count", "section", "table", "text"]

#: The longest value shown in a cell; a longer one is cut with an ellipsis.
MAX_CELL = 80


def text(value: Any, limit: int = MAX_CELL) -> str:
    """`value` as escaped HTML text, on one line, cut at `limit` characters."""
    shown = oneline("" if value is None else str(value))
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return html.escape(shown)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table of `rows` under `header`, every cell escaped."""
    head = "".join(f"<th>{text(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{text(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(title: str, *parts: str) -> str:
    """A titled block of already-escaped `parts` (a line of text, or a :func:`table`)."""
    return f"<div><strong>{html.escape(title)}</strong>" + "".join(parts) + "</div>"


def count(number: int, noun: str) -> str:
    """`number` and `noun`, plural unless the number is 1: ``1 post``, ``2 posts``."""
    return f"{number} {noun}" + ("" if number == 1 else "s")
