"""Cut the API key out of what igresearch keeps or shows: answers, bodies, messages.

A server may echo the key it was sent (in a body, a header, an error message). Whatever way the key
was given (``api_key=`` or ``MEMORIES_API_KEY``), the whole key is replaced by :data:`MARKER`; where
a text was cut (a snippet, a size cap), a part of the key of :data:`MIN_PART` or more characters
left at the cut is replaced too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TypeVar
from urllib.parse import quote, quote_plus

__all__ = ["MARKER", "MIN_PART", "scrub", "secrets"]

MARKER = "<API key>"
#: The shortest part of a key, at a cut, that is scrubbed: shorter ones would hit ordinary text.
MIN_PART = 8

Text = TypeVar("Text", str, bytes)


def secrets(api_key: str | None = None) -> list[str]:
    r"""The texts to scrub: `api_key` and the ``MEMORIES_API_KEY`` environment variable, when set,
    each also as JSON may escape it (``\/`` for ``/``, as PHP does; ``\"`` and ``\\``) and as a
    URL or a form encodes it (``%2F``, ``%2B``, ``+`` for a space), longest first.

    A key shorter than :data:`MIN_PART` is left out: no memories.ai key is that short (the client
    refuses to send one), and cutting it would cut ordinary text out of the data ("e" from every
    word)."""
    found: set[str] = set()
    for given in (api_key, os.environ.get("MEMORIES_API_KEY")):
        key = (given or "").strip()  # as the client sends it
        if len(key) >= MIN_PART:
            escaped = json.dumps(key, ensure_ascii=False)[1:-1]
            found |= {key, escaped, escaped.replace("/", "\\/")}
            found |= {quote(key, safe=""), quote_plus(key)}  # echoed in a URL or a form
    return sorted(found, key=lambda key: (-len(key), key))


def scrub(text: Text, keys: Iterable[str], *, cut: bool = False) -> tuple[Text, bool]:
    """`text` without any of `keys`, and whether anything was replaced.

    Parameters
    ----------
    text
        A str, or bytes (keys are matched as UTF-8).
    keys
        The secrets (see :func:`secrets`).
    cut
        `text` was cut from a longer one at both ends: also replace a key's first characters at its
        end and a key's last characters at its start, when there are :data:`MIN_PART` or more.

    Examples
    --------
    >>> from igresearch.redact import scrub
    >>> scrub("echo sk-0123456789abcdef!", ["sk-0123456789abcdef"])
    ('echo <API key>!', True)
    >>> scrub("...Bearer sk-012345", ["sk-0123456789abcdef"], cut=True)
    ('...Bearer <API key>', True)
    """
    original = text
    for key in keys:
        secret = _like(text, key)
        text = text.replace(secret, _like(text, MARKER))
        if not cut:
            continue
        for size in range(len(secret) - 1, MIN_PART - 1, -1):
            if text.endswith(secret[:size]):
                text = text[: len(text) - size] + _like(text, MARKER)
                break
        for size in range(len(secret) - 1, MIN_PART - 1, -1):
            if text.startswith(secret[-size:]):
                text = _like(text, MARKER) + text[size:]
                break
    return text, text != original


def _like(text: Text, value: str) -> Text:
    """`value` as the same type as `text` (bytes are UTF-8)."""
    return value.encode() if isinstance(text, bytes) else value
