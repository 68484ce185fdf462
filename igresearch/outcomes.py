"""Why a post gave no media, as a category that quotes nothing a server or a stranger wrote.

A reason quotes the server ("owner humansofny is private") and may hold a post's URL; a category
is drawn from a fixed vocabulary, so a pseudonymised table or report can say why a post is
missing without naming anyone::

    unavailable: media node is null       failed: APIError HTTP 500 code 500
    unavailable: error item               failed: APIError no HTTP answer
    malformed: unreadable line            failed: APIError HTTP 200 code 0003
"""

from __future__ import annotations

import re
from typing import Any

from . import errors
from .shapes import Located, locate_media

__all__ = ["api_failure", "category", "failed", "malformed", "unavailable"]

#: What igresearch says of an unavailable post's answer (``Located.reason``) when it wrote it;
#: other reasons are an error item's own words.
UNAVAILABLE = ("media node is null", "data is null", "items list is empty", "empty result list")
_CLASSES = frozenset(errors.__all__)
_CODE = re.compile(r"[0-9A-Za-z_-]{1,12}")


def unavailable(located: Located | None) -> str:
    """The category of an answer whose media node is missing."""
    reason = located.reason if located else None
    if reason in UNAVAILABLE:
        return f"unavailable: {reason}"
    return f"unavailable: {'error item' if reason else 'unknown answer'}"


def failed(record: dict[str, Any]) -> str:
    """The category of an archive record of a failed request: igresearch's error class, the
    HTTP status and the API's code, when there was one."""
    error, status, code = record.get("error"), record.get("http_status"), record.get("api_code")
    name = error.get("class") if isinstance(error, dict) else None
    answered = type(status) is int and 100 <= status <= 599
    return (
        f"failed: {name if isinstance(name, str) and name in _CLASSES else 'error'} "
        + (f"HTTP {status}" if answered else "no HTTP answer")
        + (f" code {_code(code)}" if code is not None else "")
    )


def api_failure(code: Any) -> str:
    """The category of an answer whose envelope reports a failure with an API code."""
    return f"failed: API code {_code(code)}"


def _code(code: Any) -> str:
    return str(code) if type(code) in (str, int) and _CODE.fullmatch(str(code)) else "unknown"


def malformed(what: str) -> str:
    """The category of a record igresearch could not read; `what` is igresearch's own words."""
    return f"malformed: {what}"


def category(record: dict[str, Any]) -> str:
    """The category of an archive record that stored no media (outcome not ``ok``).

    Examples
    --------
    >>> from igresearch.outcomes import category
    >>> category({"outcome": "failed", "http_status": 500,
    ...           "error": {"class": "APIError", "message": "owner x is private"}})
    'failed: APIError HTTP 500'
    >>> category({"outcome": "unavailable", "response": {"data": {"xdt_shortcode_media": None}}})
    'unavailable: media node is null'
    """
    outcome = record.get("outcome")
    if outcome == "unavailable":
        return unavailable(locate_media(record.get("response")))
    if outcome == "failed":
        return failed(record)
    return malformed("unknown outcome")
