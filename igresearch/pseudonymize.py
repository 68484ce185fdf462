"""Pseudonymize tables before sharing them: salted hashes for accounts, posts and comments.

Research ethics (issue 7): a data set shared with co-authors or archived with a paper should not
name the people in it. :func:`pseudonymize` replaces every account id, username, full name, media
id, shortcode, comment id and audio id with a keyed hash (HMAC-SHA256, the salt as key), the same
in every table, so joins still work; it replaces ``@mentions`` in captions and comments the same
way, replaces error reasons (which quote servers) by their categories, and drops the URL columns,
which point back at the posts. No network, no I/O.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from functools import partial
from hashlib import sha256

import polars as pl

from .tables import Tables

__all__ = ["pseudonymize"]

#: The shortest salt accepted: a short one can be guessed, and every pseudonym reversed with it.
MIN_SALT_LENGTH = 16

#: The prefix of each kind's pseudonyms, so a reader can tell what a hash stands for.
PREFIXES = {
    "user": "user",
    "account": "id",
    "name": "name",
    "media": "media",
    "shortcode": "sc",
    "comment": "comment",
    "audio": "audio",
}

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
    ``HMAC-SHA256(key=salt, msg="<kind>:<value>")``. The same value of the same kind gets the same
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
    media ids: ``media_id`` (children's too),                 media      ``media_...``
    ``comments.media_id``, ``children.parent_media_id``
    shortcodes: media, children and errors ``shortcode``      shortcode  ``sc_...``
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
    >>> tables.media.select("media_id", "owner_username", "music_artist")
    shape: (1, 3)
    ┌────────────────────────┬───────────────────────┬───────────────────────┐
    │ media_id               ┆ owner_username        ┆ music_artist          │
    │ ---                    ┆ ---                   ┆ ---                   │
    │ str                    ┆ str                   ┆ str                   │
    ╞════════════════════════╪═══════════════════════╪═══════════════════════╡
    │ media_716830f38a3995a0 ┆ user_b1acdac76b2dbef1 ┆ user_b1acdac76b2dbef1 │
    └────────────────────────┴───────────────────────┴───────────────────────┘
    >>> "url" in tables.media.columns
    False
    """
    if not salt or len(salt) < MIN_SALT_LENGTH:
        raise ValueError(
            f"pseudonymize needs a secret salt of at least {MIN_SALT_LENGTH} characters "
            f"(got {len(salt or '')}): make one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(24))"` and keep it private. '
            "With a short one, anyone can guess it, hash public usernames and reverse the "
            "pseudonyms by a dictionary attack."
        )
    key = salt.encode()

    def pseudonym(kind: str, value: str) -> str:
        if kind == "user":
            value = value.lower()  # Instagram usernames are case-insensitive
        digest = hmac.new(key, f"{kind}:{value}".encode(), sha256).hexdigest()[:16]
        return f"{PREFIXES[kind]}_{digest}"

    def mentions(text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match[1].rstrip(".")
            dots = match[1][len(name) :]
            return f"@{pseudonym('user', name)}{dots}" if name else match[0]

        return _MENTION.sub(replace, text)

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
        if table == "errors":
            columns.append(pl.col("category").alias("reason"))
        frame = frame.with_columns(columns)
        frames[table] = frame.drop(c for c in frame.columns if c.endswith("url"))
    return Tables(**frames)


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
