"""Parse and normalise Instagram post URLs; convert between shortcodes and media ids.

Everything here is pure: no network, no files. Every function raises
:class:`~igresearch.errors.InvalidURLError` on input it cannot use, with a message that
quotes the input, says what was wrong and what to pass instead.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import urlsplit

from igresearch.errors import InvalidURLError

__all__ = [
    "canonical_url",
    "media_id_to_shortcode",
    "parse_shortcode",
    "shortcode_to_media_id",
]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE = len(_ALPHABET)
# The first 11 characters encode the media id; private posts append more after them.
_ID_LENGTH = 11
_MAX_MEDIA_ID = _BASE**_ID_LENGTH - 1

# Real shortcodes are 10-11 characters, private-post ones up to about 40.
_MIN_LENGTH, _MAX_LENGTH = 5, 40
_SHORTCODE = re.compile(r"[A-Za-z0-9_-]+")
# Alone, without a URL around it, a word is taken as a shortcode only when it looks like one: a
# word from a pasted heading ("Links", "march", "notes") would otherwise be paid for.
_BARE = re.compile(r"[A-Za-z0-9_-]{10,12}")
_MAX_BARE_ID = 2**63  # media ids are signed 64-bit numbers
_USERNAME = re.compile(r"[A-Za-z0-9._]{1,30}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_MEDIA_ID = re.compile(r"([0-9]+)(?:_[0-9]+)?")

# Around a URL pasted from a document or a spreadsheet cell; never part of one.
_QUOTES = "\"'\u201c\u201d\u2018\u2019\u201e\u00ab\u00bb`"
_HOSTS = frozenset({"instagram.com", "www.instagram.com", "m.instagram.com"})
_POST_KINDS = frozenset({"reel", "reels", "p", "tv"})  # /reel/<shortcode>/
_USER_POST_KINDS = frozenset({"reel", "p"})  # /<username>/reel/<shortcode>/
_NOT_PROFILES = frozenset({"explore", "stories", "accounts", "direct", "about", "legal"})

_HINT = "Pass a URL like https://www.instagram.com/reel/<shortcode>/ or a bare shortcode."
_CHARACTERS = "the shortcode has characters other than A-Z, a-z, 0-9, - and _"
_SHORTCODE_HINT = "Pass a shortcode like DLlGZiCOBQ0; for a URL, call parse_shortcode() first."
_MEDIA_ID_HINT = "Pass a decimal number like 3667365614373573684."


def parse_shortcode(text: str) -> str:
    """Return the shortcode of an Instagram post, reel or TV URL, or of a bare shortcode.

    Accepts ``/reel/``, ``/reels/``, ``/p/``, ``/tv/`` and ``/<username>/reel/`` (or ``/p/``)
    URLs on ``instagram.com``, ``www.instagram.com`` or ``m.instagram.com``, with or without
    ``http(s)://``, trailing slash, query string or fragment, surrounding whitespace and
    quotes (straight, typographic or back quotes).
    A bare word is a shortcode only when it is 10 to 12 characters of ``A-Za-z0-9-_`` whose
    first 11 encode a media id below 2**63 (so "Links" or "march" in a pasted list is not
    paid for); shorter or longer shortcodes (5 to 40 characters) need their full URL.

    Parameters
    ----------
    text : str
        A URL or shortcode as pasted by a person.

    Returns
    -------
    str
        The shortcode, case preserved (shortcodes are case-sensitive).

    Raises
    ------
    InvalidURLError
        If `text` is not a str, names another host, a profile or any non-post page, uses a
        scheme other than http(s), a port or user info, or the shortcode has characters
        outside ``A-Za-z0-9-_`` or a length outside 5 to 40 (10 to 12 for a bare one).

    Examples
    --------
    >>> from igresearch.urls import parse_shortcode
    >>> parse_shortcode(" https://www.instagram.com/reel/DLlGZiCOBQ0/?igsh=MWQ1ZGUxMzBkMA== ")
    'DLlGZiCOBQ0'
    >>> parse_shortcode("instagram.com/humansofny/p/DLlGZiCOBQ0")
    'DLlGZiCOBQ0'
    >>> parse_shortcode(" \u201chttps://www.instagram.com/p/DLlGZiCOBQ0/\u201d ")
    'DLlGZiCOBQ0'
    >>> parse_shortcode("DLlGZiCOBQ0")
    'DLlGZiCOBQ0'
    >>> parse_shortcode("march")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    igresearch.errors.InvalidURLError: Not an Instagram post URL: 'march' (alone, a shortcode ...
    """
    if not isinstance(text, str):
        raise _invalid(text, f"expected a str, got {type(text).__name__}")
    if _is_bare_shortcode(text):  # the common case, decided at once
        return text
    stripped = text.strip().strip(_QUOTES).strip()
    if not stripped:
        raise _invalid(text, "it is empty")
    if any(char.isspace() or not char.isprintable() for char in stripped):
        raise _invalid(text, "it contains whitespace or control characters")
    if not any(char in stripped for char in "/.:"):
        if _is_bare_shortcode(stripped):
            return stripped
        if not _SHORTCODE.fullmatch(stripped):
            raise _invalid(text, _CHARACTERS)
        if _BARE.fullmatch(stripped):
            raise _invalid(text, "too large a media id for a shortcode; give the full post URL")
        raise _invalid(
            text, "alone, a shortcode has 10 to 12 characters; give the full post URL instead"
        )

    scheme = _SCHEME.match(stripped)
    if stripped.startswith("//"):
        url = "https:" + stripped
    elif scheme and "." not in scheme.group(1):
        if scheme.group(1).lower() not in ("http", "https"):
            raise _invalid(text, f"scheme {_shorten(scheme.group(1), 20)}: is not http or https")
        url = stripped
    else:
        url = "https://" + stripped

    try:
        parts = urlsplit(url)
    except ValueError:
        raise _invalid(text, "it is not a well-formed URL") from None
    if "@" in parts.netloc:
        raise _invalid(text, "user info before the host is not allowed")
    if ":" in parts.netloc:
        raise _invalid(text, "a port or IPv6 host is not allowed")
    host = parts.netloc.lower()
    if host not in _HOSTS:
        raise _invalid(text, f"host {_shorten(host, 40) or '(none)'} is not instagram.com")
    return _checked(_shortcode_from_path(parts.path, text), text)


def canonical_url(shortcode_or_url: str) -> str:
    """Return the canonical reel URL for a shortcode or any URL :func:`parse_shortcode` accepts.

    Parameters
    ----------
    shortcode_or_url : str
        A shortcode as :func:`parse_shortcode` returns it (5 to 40 characters of
        ``A-Za-z0-9-_``, taken as it is), or an Instagram post, reel or TV URL.

    Returns
    -------
    str
        ``https://www.instagram.com/reel/<shortcode>/``.

    Raises
    ------
    InvalidURLError
        If the input is not a shortcode and :func:`parse_shortcode` rejects it.

    Examples
    --------
    >>> from igresearch.urls import canonical_url
    >>> canonical_url("http://m.instagram.com/p/DLlGZiCOBQ0#comments")
    'https://www.instagram.com/reel/DLlGZiCOBQ0/'
    """
    if (
        isinstance(shortcode_or_url, str)
        and _SHORTCODE.fullmatch(shortcode_or_url)
        and _MIN_LENGTH <= len(shortcode_or_url) <= _MAX_LENGTH
    ):
        return f"https://www.instagram.com/reel/{shortcode_or_url}/"
    return f"https://www.instagram.com/reel/{parse_shortcode(shortcode_or_url)}/"


def shortcode_to_media_id(shortcode: str) -> str:
    """Return the numeric media id a shortcode encodes, as a decimal string.

    A shortcode is the media id in base 64 (alphabet ``A-Z a-z 0-9 - _``, most significant
    digit first). Private-post shortcodes are longer than 11 characters: Instagram appends
    extra characters after the first 11, so only those 11 are converted.

    Parameters
    ----------
    shortcode : str
        A bare shortcode (not a URL; use :func:`parse_shortcode` first).

    Returns
    -------
    str
        The media id. Kept as a string: ids exceed 2**53, so floats would corrupt them.

    Raises
    ------
    InvalidURLError
        If `shortcode` is not a str, is empty, is longer than 40 characters or has
        characters outside the alphabet.

    Examples
    --------
    >>> from igresearch.urls import shortcode_to_media_id
    >>> shortcode_to_media_id("DLlGZiCOBQ0")
    '3667365614373573684'
    """
    if not (
        isinstance(shortcode, str)
        and _SHORTCODE.fullmatch(shortcode)
        and len(shortcode) <= _MAX_LENGTH
    ):
        reason = "a shortcode is 1 to 40 characters from A-Z, a-z, 0-9, - and _"
        raise _error("a shortcode", shortcode, reason, _SHORTCODE_HINT)
    # The alphabet is base64url's: decode 12 digits (72 bits) at once, "A" being zero.
    digits = shortcode[:_ID_LENGTH].rjust(_ID_LENGTH + 1, "A")
    return str(int.from_bytes(base64.urlsafe_b64decode(digits), "big"))


def media_id_to_shortcode(media_id: str | int) -> str:
    """Return the shortcode of a numeric media id.

    Parameters
    ----------
    media_id : str or int
        The media id, as an int or a decimal string. The API's ``<media id>_<owner id>``
        form is accepted too; the owner part is ignored.

    Returns
    -------
    str
        The shortcode, without leading ``A`` (zero) digits. For a private post this is the
        public 11-character prefix only.

    Raises
    ------
    InvalidURLError
        If `media_id` is negative, not a whole number, a bool, or 64**11 or more.

    Examples
    --------
    >>> from igresearch.urls import media_id_to_shortcode
    >>> media_id_to_shortcode(3667365614373573684)
    'DLlGZiCOBQ0'
    >>> media_id_to_shortcode("3667365614373573684_25025320")
    'DLlGZiCOBQ0'
    """
    if isinstance(media_id, bool) or not isinstance(media_id, int | str):
        reason = f"expected an int or str, got {type(media_id).__name__}"
        raise _error("a media id", media_id, reason, _MEDIA_ID_HINT)
    if isinstance(media_id, str):
        match = _MEDIA_ID.fullmatch(media_id.strip())
        if not match:
            reason = "a media id is a string of decimal digits"
            raise _error("a media id", media_id, reason, _MEDIA_ID_HINT)
        number = int(match.group(1))
    else:
        number = media_id
    if not 0 <= number <= _MAX_MEDIA_ID:
        reason = "a media id is between 0 and 64**11 - 1"
        raise _error("a media id", media_id, reason, _MEDIA_ID_HINT)
    digits = []
    while True:
        number, remainder = divmod(number, _BASE)
        digits.append(_ALPHABET[remainder])
        if not number:
            return "".join(reversed(digits))


def _shortcode_from_path(path: str, text: str) -> str:
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) == 2 and segments[0] in _POST_KINDS:
        return segments[1]
    if (
        len(segments) == 3
        and segments[1] in _USER_POST_KINDS
        and segments[0] not in _NOT_PROFILES
        and _USERNAME.fullmatch(segments[0])
    ):
        return segments[2]
    if not segments:
        raise _invalid(text, "no post path after the host")
    if len(segments) == 1 and segments[0] in _POST_KINDS:
        raise _invalid(text, f"no shortcode after /{segments[0]}/")
    if len(segments) == 1 and segments[0] not in _NOT_PROFILES:
        raise _invalid(text, "it is a profile, not a post")
    raise _invalid(text, f"path {_shorten(path, 40)} is not a /reel/, /p/ or /tv/ post")


def _is_bare_shortcode(text: str) -> bool:
    """Whether `text`, alone, is taken as a shortcode: 10 to 12 characters of the alphabet whose
    first 11 encode a media id below 2**63."""
    return bool(_BARE.fullmatch(text)) and int(shortcode_to_media_id(text)) < _MAX_BARE_ID


def _checked(shortcode: str, text: str) -> str:
    if not _SHORTCODE.fullmatch(shortcode):
        raise _invalid(text, _CHARACTERS)
    if not _MIN_LENGTH <= len(shortcode) <= _MAX_LENGTH:
        raise _invalid(text, f"the shortcode has {len(shortcode)} characters, not 5 to 40")
    return shortcode


def _invalid(text: object, reason: str) -> InvalidURLError:
    return _error("an Instagram post URL", text, reason, _HINT)


def _error(what: str, value: object, reason: str, hint: str) -> InvalidURLError:
    shown = repr(_shorten(value, 60)) if isinstance(value, str) else _shorten(repr(value), 60)
    return InvalidURLError(f"Not {what}: {shown} ({reason}). {hint}")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
