"""Read a response envelope: did it fail, where is the media node, is the post unavailable.

The API's channels wrap Instagram's data differently, and old payloads differ again. This is the one
place that knows the wrappings; the client uses it to judge responses, the tables code to find the
node it flattens.

=========================== ===================================================================
``source_shape``            where the media node sits
=========================== ===================================================================
data.xdt_shortcode_media    Instagram web GraphQL (current), inside or outside the vendor envelope
data.shortcode_media        Instagram web GraphQL (2024)
graphql.shortcode_media     Instagram web GraphQL (older ``?__a=1`` pages)
items                       Instagram mobile API: ``items[0]``
apify_item                  Apify scraper's flat camelCase item (``shortCode``, ``likesCount``...)
media_node                  a bare media node (``shortcode`` and ``__typename`` or ``id``)
=========================== ===================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import msgspec

__all__ = [
    "NODE_KEYS",
    "UNAVAILABLE_WORDS",
    "Located",
    "failed",
    "locate_media",
    "normalise_code",
    "upstream_failure",
]

_MAX_DEPTH = 4
#: Keys on which :func:`locate_media` reads a level itself as the media node (an Apify item, an
#: Apify error item, a bare node): only a level holding none of them is a mere envelope.
NODE_KEYS = frozenset({"shortCode", "error", "shortcode"})
_SUCCESS_CODES = {"0", "200", ""}
#: Words of an Apify error item that say the post is gone or hidden (not that scraping failed).
UNAVAILABLE_WORDS = ("not found", "not_found", "restricted", "private", "does not exist")


def normalise_code(value: Any) -> str | None:
    """The API's ``code`` as a plain string: '0000' -> '0', '0401' -> '401', 200 -> '200'."""
    if value is None:
        return None
    text = str(value).strip()
    return (text.lstrip("0") or "0") if text.isdigit() else text


def failed(envelope: dict[str, Any]) -> bool:
    """Whether the vendor envelope signals failure: ``success: false``, ``failed: true`` or a
    ``code`` other than 0000/0/200 (the vendor's own client also accepts an empty code)."""
    success, failure = envelope.get("success"), envelope.get("failed")
    code = envelope.get("code")
    if code == "0000" and success in (True, None) and failure in (False, None):
        return False  # the documented success, decided at once
    code = normalise_code(code)
    return (
        _flag(success, False)
        or _flag(failure, True)
        or (code is not None and code not in _SUCCESS_CODES)
    )


def _flag(value: Any, expected: bool) -> bool:
    """`value` is `expected`, as a boolean or as text in any case ("False", "true")."""
    return value is expected or (isinstance(value, str) and value.lower() == str(expected).lower())


class Located(NamedTuple):
    """Where a response keeps its media node; `node` is None when the post is unavailable."""

    shape: str
    node: Any
    reason: str | None = None


def locate_media(payload: Any) -> Located | None:
    """Find the media node in a response, an Instagram envelope or a bare node.

    Parameters
    ----------
    payload
        A decoded JSON response (the vendor envelope or anything it may wrap).

    Returns
    -------
    Located or None
        The shape and the node. ``node`` is None (and ``reason`` says why) for a post that is
        deleted, private or login-walled. None when no known shape is found.

    Examples
    --------
    >>> from igresearch.shapes import locate_media
    >>> locate_media({"data": {"xdt_shortcode_media": None}, "status": "ok"})
    Located(shape='data.xdt_shortcode_media', node=None, reason='media node is null')
    """
    return _locate(payload, "data", 0)


def _locate(payload: Any, parent: str, depth: int) -> Located | None:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(payload, list):
        # Apify answers with a list of items; an empty list is "nothing found".
        if not payload:
            return Located("apify_item", None, "empty result list")
        return _locate(payload[0], parent, depth + 1)
    if not isinstance(payload, dict):
        return None
    for key in ("xdt_shortcode_media", "shortcode_media"):
        if key in payload:
            node = payload[key]
            shape = f"{parent}.{key}"
            # A Struct is the node as igresearch.decode decodes the documented shape.
            if (isinstance(node, dict) and node) or isinstance(node, msgspec.Struct):
                return Located(shape, node)
            return Located(shape, None, "media node is null")
    if isinstance(payload.get("graphql"), dict):
        return _locate(payload["graphql"], "graphql", depth + 1)
    if "items" in payload and isinstance(payload["items"], list):
        items = payload["items"]
        if items and isinstance(items[0], dict):
            return Located("items", items[0])
        return Located("items", None, "items list is empty")
    if "shortCode" in payload or ("error" in payload and "url" in payload):
        if payload.get("error"):
            reason = str(payload.get("errorDescription") or payload["error"])
            return Located("apify_item", None, reason)
        return Located("apify_item", payload)
    if "shortcode" in payload and ("__typename" in payload or "id" in payload):
        return Located("media_node", payload)
    if "data" in payload:
        if payload["data"] is None:
            return Located("data", None, "data is null")
        return _locate(payload["data"], "data", depth + 1)
    return None


def upstream_failure(payload: Any) -> str | None:
    """Why an answer without a media node is a failure upstream, not an unavailable post.

    Instagram also answers a null media node when it throttles ("Please wait a few minutes before
    you try again."): a post is unavailable only when no wrapping level has a non-empty
    ``errors`` or ``status: "fail"``, and an Apify error item is unavailable only when it says
    the post was not found or is restricted.

    Parameters
    ----------
    payload
        A decoded response whose media node :func:`locate_media` found null.

    Returns
    -------
    str or None
        The first upstream message, or None when the post is simply unavailable.

    Examples
    --------
    >>> from igresearch.shapes import upstream_failure
    >>> upstream_failure({"data": {"xdt_shortcode_media": None}, "status": "ok"}) is None
    True
    >>> upstream_failure({"data": {"xdt_shortcode_media": None},
    ...                   "errors": [{"message": "Please wait a few minutes"}]})
    'Please wait a few minutes'
    """
    for level in _levels(payload, 0):
        errors = level.get("errors")
        if errors:
            first = errors[0] if isinstance(errors, list) else errors
            message = first.get("message") if isinstance(first, dict) else None
            return str(message or first)
        status = level.get("status")
        if isinstance(status, str) and status.lower() == "fail":
            return str(level.get("message") or 'status "fail"')
        error = level.get("error")
        if error and ("shortCode" in level or "url" in level):  # an Apify error item
            reason = str(level.get("errorDescription") or error)
            said = f"{error} {reason}".lower()
            if not any(word in said for word in UNAVAILABLE_WORDS):
                return reason
    return None


def _levels(payload: Any, depth: int) -> Iterator[dict[str, Any]]:
    """The objects wrapping the media node, outermost first (as :func:`_locate` walks them)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(payload, list):
        if payload:
            yield from _levels(payload[0], depth + 1)
        return
    if not isinstance(payload, dict):
        return
    yield payload
    for key in ("data", "graphql"):
        if key in payload:
            yield from _levels(payload[key], depth + 1)
