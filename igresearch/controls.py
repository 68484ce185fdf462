"""Characters in text strangers wrote that a terminal or an XML file acts on rather than shows.

C0 controls, DEL, C1 controls, and the bidirectional embeddings, overrides and isolates: the
command line shows them escaped (:func:`oneline`), figures leave them out
(:mod:`igresearch.plots`). All other Unicode is shown as it is.
"""

from __future__ import annotations

import re

__all__ = ["ABOVE_C0", "CONTROL", "oneline"]

#: The control characters above C0, as a regular expression character range (json.dumps leaves
#: these raw, while it escapes C0).
ABOVE_C0 = "\x7f-\x9f\u202a-\u202e\u2066-\u2069"
#: Every control character, C0 included.
CONTROL = re.compile(f"[\x00-\x1f{ABOVE_C0}]")


def oneline(text: str) -> str:
    """`text` safe for a terminal, on one line: each control character (line breaks included)
    is shown as ``\\xNN`` or ``\\uNNNN``; all other Unicode is kept as it is.

    >>> from igresearch.controls import oneline
    >>> print(oneline("a\\nb\\x1b[2J\\u202ec \u00e9"))
    a\\x0ab\\x1b[2J\\u202ec \u00e9
    """
    return CONTROL.sub(escaped, text)


def escaped(match: re.Match[str]) -> str:
    """A matched character as ``\\xNN`` (up to U+00FF) or ``\\uNNNN``."""
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
