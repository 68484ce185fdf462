"""Pseudonymize tables, or API answers, before sharing them: salted hashes for accounts, posts
and comments.

Research ethics (issue 7): a data set shared with co-authors or archived with a paper should not
name the people in it. :func:`pseudonymize` replaces every account id, username, full name, media
id, shortcode, comment id and audio id with a keyed hash (HMAC-SHA256, the salt as key), the same
in every table, so joins still work; it replaces ``@mentions`` in captions and comments the same
way, replaces error reasons (which quote servers) by their categories, and drops the URL columns,
which point back at the posts. A pseudonymous media id is still a media id (a number below
2**63) and a pseudonymous shortcode is its encoding, so a pseudonymised post can be asked for,
and checked, like any other. :class:`Pseudonymizer` does the same to API answers, so a
cassette of pseudonymised answers (``igresearch cassette --pseudonymize``) replays into the
tables that :func:`pseudonymize` gives. No network, no I/O.
"""

from __future__ import annotations

import contextlib
import hmac
import re
from collections.abc import Callable, Iterable
from functools import partial
from hashlib import sha256
from typing import Any

import polars as pl

from .errors import InvalidURLError
from .shapes import UNAVAILABLE_WORDS, locate_media
from .tables import Tables
from .urls import canonical_url, media_id_to_shortcode, parse_shortcode, shortcode_to_media_id

__all__ = ["Pseudonymizer", "check_salt", "pseudonymize"]

#: The shortest salt accepted: a short one can be guessed, and every pseudonym reversed with it.
MIN_SALT_LENGTH = 16

#: The prefix of each kind's pseudonyms, so a reader can tell what a hash stands for (media ids
#: and shortcodes have none: they stay a media id and its shortcode).
PREFIXES = {
    "user": "user",
    "account": "id",
    "name": "name",
    "comment": "comment",
    "audio": "audio",
}

#: Pseudonymous media ids lie in [2**60, 2**63): below 2**63, as media ids are (signed 64-bit),
#: and from 2**60 = 64**10, so that every pseudonymous shortcode has 11 characters.
_LOWEST_MEDIA_ID, _MEDIA_IDS = 2**60, 2**63 - 2**60

#: The kind of identifier each column holds, per table.
COLUMNS: dict[str, dict[str, str]] = {
    "media": {
        "media_id": "media",
        "shortcode": "shortcode",
        "owner_id": "account",
        "owner_username": "user",
        "coauthor_usernames": "user",
        "audio_id": "audio",
    },
    "comments": {
        "comment_id": "comment",
        "media_id": "media",
        "parent_comment_id": "comment",
        "owner_id": "account",
        "owner_username": "user",
    },
    "owners": {"owner_id": "account", "username": "user", "full_name": "name"},
    "children": {"parent_media_id": "media", "media_id": "media", "shortcode": "shortcode"},
    "errors": {"shortcode": "shortcode"},
}

_TEXT = {"media": "caption", "comments": "text"}

# An @ that does not follow a letter, digit, "_" or "." (so not the @ of an e-mail address), then
# up to 30 username characters; a username cannot end with ".", so trailing dots are punctuation.
_MENTION = re.compile(r"(?<![\w.])@([A-Za-z0-9._]{1,30})(?![A-Za-z0-9._])")


def pseudonymize(tables: Tables, salt: str) -> Tables:
    """Replace the identifiers in `tables` with salted hashes and drop the URL columns.

    Each identifier becomes ``<prefix>_<16 hex digits>``, the first 16 hex digits of
    ``HMAC-SHA256(key=salt, msg="<kind>:<value>")``, but for media ids and shortcodes: a media
    id becomes the number 2**60 + (the first 8 bytes of ``HMAC-SHA256(key=salt,
    msg="media:<id>")``, big-endian) modulo (2**63 - 2**60), a valid media id (the part before
    any ``_<owner id>`` is hashed, and the owner part dropped), and a shortcode becomes the
    11-character shortcode of the pseudonym of the media id it encodes (its first 11
    characters), so a post's pseudonymous shortcode encodes its pseudonymous media id, and
    ``id_mismatch`` keeps its meaning. The same value of the same kind gets the same
    pseudonym in every table, so joins on ``owner_id``, ``media_id``, ``comment_id`` and
    ``parent_comment_id`` give the same rows as before. Nulls stay null.

    ========================================================  =========  ==============
    columns                                                   kind       pseudonym
    ========================================================  =========  ==============
    usernames: ``owners.username``, ``*.owner_username``,     user       ``user_...``
    ``media.coauthor_usernames`` items, ``@mentions`` in
    ``media.caption`` and ``comments.text``, and
    ``media.music_artist`` unless ``uses_original_audio``
    is false (licensed music), or when it is a username in
    the tables (compared case-insensitively, as Instagram does)
    account ids: ``owner_id`` in media, comments, owners      account    ``id_...``
    ``owners.full_name``                                      name       ``name_...``
    media ids: ``media_id`` (children's too),                 media      a media id
    ``comments.media_id``, ``children.parent_media_id``
    shortcodes: media, children and errors ``shortcode``      shortcode  its shortcode
    ``comments.comment_id``, ``comments.parent_comment_id``   comment    ``comment_...``
    ``media.audio_id`` (original audio leads to its creator)  audio      ``audio_...``
    ========================================================  =========  ==============

    An account's id and username get different pseudonyms. A username is lowercased before
    hashing, so ``@Name`` and ``name`` match. ``errors.reason`` (which quotes the server, and may
    name an account or a post's URL) is replaced by ``errors.category``, which quotes no one
    (:mod:`igresearch.outcomes`). Every column whose
    name ends with ``url`` is dropped (media ``url``, ``video_url``, ``thumbnail_url``,
    ``display_url``; owners ``profile_pic_url``; children ``video_url``, ``display_url``): each
    frame has its table's schema minus those columns, every other column keeping its type, so
    write the result with :meth:`Tables.write` and read it back with ``read_tables``, which
    keeps the columns it finds.

    This is pseudonymization, not anonymization: captions and comments can still name people
    without an ``@``, ``music_artist`` of licensed music and ``location_name`` are kept, and
    counts, times and locations can single out a post.

    Parameters
    ----------
    tables
        Tables from :func:`igresearch.tables.to_tables` or :func:`igresearch.tables.read_tables`.
    salt
        A secret key of at least 16 characters, e.g. ``secrets.token_urlsafe(24)``. Keep it
        private and out of the shared data: usernames are public, so anyone holding the salt
        (or guessing a short one) could hash candidate usernames and reverse the pseudonyms by a
        dictionary attack. Use the same salt for every export that must join with the others,
        a new one to make exports unlinkable.

    Returns
    -------
    Tables
        New tables with the same rows in the same order; the input is not changed.

    Raises
    ------
    ValueError
        If `salt` is shorter than 16 characters.

    Examples
    --------
    >>> from igresearch.pseudonymize import pseudonymize
    >>> from igresearch.tables import to_tables
    >>> from igresearch.testing import FakeAPI
    >>> tables = pseudonymize(to_tables(FakeAPI.media_for("DLlGZiCOBQ0")), "a salt, 16+ chars")
    >>> tables.media.select("media_id", "shortcode", "owner_username")
    shape: (1, 3)
    ┌─────────────────────┬─────────────┬───────────────────────┐
    │ media_id            ┆ shortcode   ┆ owner_username        │
    │ ---                 ┆ ---         ┆ ---                   │
    │ str                 ┆ str         ┆ str                   │
    ╞═════════════════════╪═════════════╪═══════════════════════╡
    │ 1254306318776898976 ┆ BFoMPOKOZWg ┆ user_b1acdac76b2dbef1 │
    └─────────────────────┴─────────────┴───────────────────────┘
    >>> tables.media["music_artist"][0]  # original audio: its creator, the owner
    'user_b1acdac76b2dbef1'
    >>> "url" in tables.media.columns
    False
    """
    check_salt(salt)
    pseudonym = partial(_pseudonym, salt.encode())

    def mentions(text: str) -> str:
        return _mentions(text, pseudonym)

    usernames = {
        name.lower()
        for name in _values(
            tables.owners["username"],
            tables.media["owner_username"],
            tables.media["coauthor_usernames"],
            tables.comments["owner_username"],
        )
    }
    frames: dict[str, pl.DataFrame] = {}
    for table, kinds in COLUMNS.items():
        frame: pl.DataFrame = getattr(tables, table)
        columns = []
        for column, kind in kinds.items():
            mapping = _mapping(frame[column], partial(pseudonym, kind))
            columns.append(_replace(column, frame.schema[column], mapping))
        if table in _TEXT:
            column = _TEXT[table]
            columns.append(_replace(column, pl.String(), _mapping(frame[column], mentions)))
        if table == "media":  # the artist of original audio, or a known account, is a person
            artists = _mapping(frame["music_artist"], partial(pseudonym, "user"))
            licensed = pl.col("uses_original_audio").eq(False).fill_null(False)
            known = pl.col("music_artist").str.to_lowercase().is_in(list(usernames))
            columns.append(
                pl.when(licensed & ~known)
                .then(pl.col("music_artist"))
                .otherwise(_replace("music_artist", pl.String(), artists))
            )
        frame = frame.with_columns(columns)
        if table == "errors":
            frame = reasons_as_categories(frame)
        frames[table] = frame.drop(c for c in frame.columns if c.endswith("url"))
    return Tables(**frames)


def reasons_as_categories(errors: pl.DataFrame) -> pl.DataFrame:
    """The errors table with each ``reason`` (the server's words, which can name people and
    quote URLs) replaced by its ``category``, which quotes no one: as pseudonymised tables give
    it."""
    return errors.with_columns(reason=pl.col("category"))


def check_salt(salt: str | None) -> None:
    """Refuse a missing salt, or one shorter than :data:`MIN_SALT_LENGTH`, with what to do.

    Raises
    ------
    ValueError
        Saying how to make a salt, and why a short one is refused.
    """
    if not salt or len(salt) < MIN_SALT_LENGTH:
        raise ValueError(
            f"pseudonymize needs a secret salt of at least {MIN_SALT_LENGTH} characters "
            f"(got {len(salt or '')}): make one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(24))"` and keep it private. '
            "With a short one, anyone can guess it, hash public usernames and reverse the "
            "pseudonyms by a dictionary attack."
        )


def _pseudonym(key: bytes, kind: str, value: str) -> str:
    """The pseudonym of `value`, an identifier of `kind` (see :func:`pseudonymize`)."""
    if kind == "shortcode":
        with contextlib.suppress(InvalidURLError):  # not a shortcode at all: hashed as it is
            value = shortcode_to_media_id(value)
        return media_id_to_shortcode(_pseudonym(key, "media", value))
    if kind == "user":
        value = value.lower()  # Instagram usernames are case-insensitive
    if kind == "media":
        value = value.split("_")[0]  # <media id>_<owner id>: the owner is not kept
    digest = hmac.new(key, f"{kind}:{value}".encode(), sha256)
    if kind == "media":
        return str(_LOWEST_MEDIA_ID + int.from_bytes(digest.digest()[:8], "big") % _MEDIA_IDS)
    return f"{PREFIXES[kind]}_{digest.hexdigest()[:16]}"


def _mentions(text: str, pseudonym: Callable[[str, str], str]) -> str:
    """`text` with each ``@username`` replaced by ``@`` and its pseudonym."""

    def replace(match: re.Match[str]) -> str:
        name = match[1].rstrip(".")
        dots = match[1][len(name) :]
        return f"@{pseudonym('user', name)}{dots}" if name else match[0]

    return _MENTION.sub(replace, text)


def _values(*columns: pl.Series) -> Iterable[str]:
    """The distinct non-null strings in `columns`, list items included."""
    for column in columns:
        values = column.explode() if isinstance(column.dtype, pl.List) else column
        yield from values.drop_nulls().unique().to_list()


def _mapping(column: pl.Series, convert: Callable[[str], str]) -> dict[str, str]:
    """Each distinct value in `column` -> its converted value, computed once per value."""
    return {value: convert(value) for value in _values(column)}


def _replace(column: str, dtype: pl.DataType, mapping: dict[str, str]) -> pl.Expr:
    # Strict, so a value missing from the mapping raises instead of leaking through.
    if isinstance(dtype, pl.List):
        items = pl.element().replace_strict(mapping, return_dtype=pl.String)
        return pl.col(column).list.eval(items)
    return pl.col(column).replace_strict(mapping, return_dtype=pl.String)


#: Which kind a leaf under a given key of an answer is, when its value is an identifier of
#: several kinds (a full name that is also someone's username).
_KEY_KINDS = {
    "username": "user",
    "full_name": "name",
    "shortcode": "shortcode",
    "code": "shortcode",
}
#: The order in which kinds are tried for any other key.
_KIND_ORDER = ("media", "shortcode", "account", "comment", "audio", "user", "name", "text")
_WORD = re.compile(r"[\w.]+")
_ALNUM = re.compile(r"[^\W_]+")


class Pseudonymizer:
    """Pseudonymise API answers (and the URLs they were asked for) as :func:`pseudonymize`
    pseudonymises the tables built from them: every identifier of `tables` (the tables of
    those answers) becomes the pseudonym that function gives it, wherever the answer holds it.

    In an answer, a value equal to an identifier of `tables` becomes its pseudonym; a caption
    or comment text, its text with pseudonymous ``@mentions``; a URL (``http://``,
    ``https://``, or the value of a key ending in ``url`` or ``_src``) becomes null; and any
    other text holding an identifier (a server's message naming an account) becomes null,
    unless the tables keep it as it is. In an answer saying the post is unavailable, the
    server's free text (words with spaces between them) is cut down to the words that say why
    (``private``, ``not found``...), which are what igresearch judges it by. So the tables
    built from the pseudonymised answers are ``pseudonymize(tables, salt)``, but for the URL
    columns it drops and for ``errors.reason``, which it gives as the category.

    Parameters
    ----------
    tables
        The tables of the answers to pseudonymise (:func:`igresearch.tables.to_tables`).
    salt
        As for :func:`pseudonymize`.
    """

    def __init__(self, tables: Tables, salt: str) -> None:
        check_salt(salt)
        self._key = salt.encode()
        public = pseudonymize(tables, salt)
        self._maps: dict[str, dict[str, str]] = {kind: {} for kind in _KIND_ORDER}
        for table, kinds in COLUMNS.items():
            for column, kind in kinds.items():
                self._pair(kind, getattr(tables, table)[column], getattr(public, table)[column])
        for table, column in _TEXT.items():
            self._pair("text", getattr(tables, table)[column], getattr(public, table)[column])
        self._pair("user", tables.media["music_artist"], public.media["music_artist"])
        self._originals = {
            value for kind in _KIND_ORDER[:-1] for value in self._maps[kind] if len(value) > 1
        }
        self._words = {value for value in self._originals if _WORD.fullmatch(value)}
        # The other originals (a full name with spaces), by their longest word that stands
        # between two other characters (a word of the text wherever the value occurs), so that
        # a text is searched only for those whose word it holds; values without one, always.
        self._by_word: dict[str, set[str]] = {}
        for value in self._originals - self._words:
            inner = [m[0] for m in _ALNUM.finditer(value) if 0 < m.start() < m.end() < len(value)]
            self._by_word.setdefault(max(inner, key=len, default=""), set()).add(value)
        self._kept = {
            value
            for name in ("media", "comments", "owners", "children")
            for value in _strings(getattr(public, name))
        }

    def _pair(self, kind: str, originals: pl.Series, pseudonyms: pl.Series) -> None:
        if isinstance(originals.dtype, pl.List):
            originals, pseudonyms = originals.explode(), pseudonyms.explode()
        for original, pseudonym in zip(originals, pseudonyms, strict=True):
            if original is not None and pseudonym is not None and original != pseudonym:
                self._maps[kind].setdefault(original, pseudonym)

    def url(self, url: str) -> str:
        """The canonical URL of the post's pseudonymous shortcode.

        Examples
        --------
        >>> from igresearch.pseudonymize import Pseudonymizer
        >>> from igresearch.tables import to_tables
        >>> pseudonyms = Pseudonymizer(to_tables([]), "a salt, 16+ chars")
        >>> pseudonyms.url("https://www.instagram.com/reel/DLlGZiCOBQ0/")
        'https://www.instagram.com/reel/BFoMPOKOZWg/'
        """
        return canonical_url(_pseudonym(self._key, "shortcode", parse_shortcode(url)))

    def answer(self, answer: Any) -> Any:
        """A copy of `answer` (a decoded JSON value) with its identifiers pseudonymised."""
        located = locate_media(answer)
        return self._copy(answer, "", located is not None and located.node is None)

    def _copy(self, answer: Any, key: str, unavailable: bool) -> Any:
        if isinstance(answer, dict):
            return {k: self._copy(v, str(k), unavailable) for k, v in answer.items()}
        if isinstance(answer, list):
            return [self._copy(item, key, unavailable) for item in answer]
        if isinstance(answer, bool) or not isinstance(answer, str | int):
            return answer
        text = str(answer)
        kind = self._kind(text, key)
        if kind is not None:
            pseudonym = self._maps[kind][text]
            return int(pseudonym) if isinstance(answer, int) and pseudonym.isdigit() else pseudonym
        if isinstance(answer, int):
            return answer
        lowered = key.lower()
        if text.startswith(("http://", "https://")) or lowered.endswith(("url", "_src")):
            return None
        if text in self._kept:
            return answer
        if unavailable and any(space in text for space in " \t\n"):
            # A server's words on why a post is missing (they may name its owner): only the
            # words igresearch judges them by are kept.
            return " ".join(word for word in UNAVAILABLE_WORDS if word in text.lower())
        return None if self._names_someone(text) else answer

    def _kind(self, text: str, key: str) -> str | None:
        hinted = _KEY_KINDS.get(key)
        if hinted is not None and text in self._maps[hinted]:
            return hinted
        return next((kind for kind in _KIND_ORDER if text in self._maps[kind]), None)

    def _names_someone(self, text: str) -> bool:
        """Whether `text` holds an identifier: a word-like one as a whole word, any other one
        anywhere (the search of the project's privacy tests)."""
        tokens = set(_WORD.findall(text))
        tokens |= {token.strip(".") for token in tokens}
        if tokens & self._words:
            return True
        words = {"", *_ALNUM.findall(text)}
        candidates = (value for word in words for value in self._by_word.get(word, ()))
        return any(value in text for value in candidates)


def _strings(frame: pl.DataFrame) -> Iterable[str]:
    """Every string cell of `frame`, list items included."""
    for column, dtype in frame.schema.items():
        if dtype == pl.String() or dtype == pl.List(pl.String()):
            yield from _values(frame[column])
