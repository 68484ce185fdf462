"""A cassette from the answers an archive already holds: nothing sent, nothing paid.

Each stored record (``ok`` or ``unavailable``) becomes one recorded interaction, in archive
order: the request rebuilt from the record's URL and channel exactly as
:class:`~igresearch.client.Client` sends it (no key), the answer from its HTTP status and
stored envelope, with a ``Date`` header rebuilt from ``fetched_at``. Several snapshots of one
post are several recordings of one request, which replay in recorded order. Failed records hold
no answer to replay and are left out, counted by category (:mod:`igresearch.outcomes`).
"""

from __future__ import annotations

import http.client
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from . import __version__
from .archive import STORED, _when, read_archive
from .cassettes import _dump, read_cassette
from .client import CHANNELS, DEFAULT_BASE_URL, ENDPOINT
from .display import count
from .files import write_bytes
from .outcomes import category, malformed
from .pseudonymize import Pseudonymizer, check_salt
from .tables import to_tables

__all__ = ["Written", "add_recordings", "cassette_from_archive", "interactions"]

#: A version as an archive record may name it; anything else (an edited archive) is not copied.
_VERSION = re.compile(r"[0-9A-Za-z.+-]{1,40}")


@dataclass(frozen=True)
class Written:
    """What :func:`cassette_from_archive` wrote: the cassette, how many recordings it holds,
    and the failed records left out, counted by category."""

    path: Path
    recordings: int
    left_out: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        """One line for people, e.g. ``wrote study.yaml: 12 recordings``."""
        line = f"wrote {self.path}: {count(self.recordings, 'recording')}"
        failed = {k: n for k, n in self.left_out.items() if not k.startswith("malformed")}
        edited = {k: n for k, n in self.left_out.items() if k.startswith("malformed")}
        if failed:
            line += (
                f"; {count(sum(failed.values()), 'failed record')} left out (a failed request "
                f"holds no answer to replay: {_counts(failed)})"
            )
        if edited:
            line += (
                f"; {count(sum(edited.values()), 'stored record')} left out, too damaged to "
                f"replay ({_counts(edited)})"
            )
        return line


def _counts(categories: dict[str, int]) -> str:
    return ", ".join(f"{number} {name}" for name, number in sorted(categories.items()))


def interactions(
    records: Iterable[dict[str, Any]], *, pseudonyms: Pseudonymizer | None = None
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The recorded interactions of the stored `records`, in their order, and the failed
    records left out, counted by category; with `pseudonyms`, of pseudonymised answers asked
    for by pseudonymous URLs. No I/O."""
    kept: list[dict[str, Any]] = []
    left_out: Counter[str] = Counter()
    for record in records:
        if str(record.get("outcome")) not in STORED:
            left_out[category(record)] += 1
            continue
        url, channel, fetched_at = (
            record.get("url"),
            record.get("channel"),
            record.get("fetched_at"),
        )
        if not isinstance(url, str) or channel not in CHANNELS:  # an archive edited by hand
            left_out[malformed("no post URL or known channel")] += 1
            continue
        if fetched_at is not None and _when(fetched_at) is None:
            left_out[malformed("fetched_at is not a time")] += 1
            continue
        response = record.get("response")
        if pseudonyms is not None:
            url, response = pseudonyms.url(url), pseudonyms.answer(response)
        kept.append(
            {
                "request": _request(url, channel, record.get("igresearch_version")),
                "response": _response(
                    record.get("http_status"), response, record.get("fetched_at")
                ),
            }
        )
    return kept, left_out


def cassette_from_archive(
    archive: str | os.PathLike[str], out: str | os.PathLike[str], *, salt: str | None = None
) -> Written:
    """Write a cassette that replays every answer `archive` stores, without sending anything.

    Replaying it through :func:`igresearch.collect` gives an archive with the same media,
    comments, owners and children, and the same errors but for the failed records (which have
    no answer). ``fetched_at`` comes back from the ``Date`` header, so it loses its sub-second
    digits where the original answer had no ``Date`` (a time taken from the clock).

    Parameters
    ----------
    archive
        The archive (JSON Lines) to read.
    out
        The cassette to write (replaced atomically). It holds identified data, so it is made
        readable by its owner only (0600), unless `salt` is given.
    salt
        Pseudonymise the answers as :func:`igresearch.pseudonymize` pseudonymises tables (a
        secret of 16 or more characters; see :class:`~igresearch.pseudonymize.Pseudonymizer`):
        replaying the cassette gives ``pseudonymize(to_tables(archive), salt)`` (and the URL
        columns it drops), no username, full name, id, shortcode or URL of the archive is
        written, and the file follows the umask, ready to share.

    Returns
    -------
    Written
        The path, the number of recordings, and the failed records left out by category.

    Raises
    ------
    ArchiveFormatError
        When `archive` is not an archive.
    ValueError
        When `salt` is shorter than 16 characters.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from igresearch import cassette_path, collect, replay
    >>> from igresearch.archive_cassette import cassette_from_archive
    >>> folder = Path(tempfile.mkdtemp())
    >>> with replay(cassette_path("documented_example.yaml")):
    ...     _ = collect(["DLlGZiCOBQ0"], archive=folder / "a.jsonl", progress=False)
    >>> print(cassette_from_archive(folder / "a.jsonl", folder / "study.yaml").recordings)
    1
    """
    pseudonyms = None
    if salt is not None:
        check_salt(salt)
        pseudonyms = Pseudonymizer(to_tables(archive), salt)
    kept, left_out = interactions(read_archive(archive), pseudonyms=pseudonyms)
    path = write_bytes(out, _dump(kept), private=pseudonyms is None)
    return Written(path, len(kept), left_out)


def add_recordings(cassette: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Add the stored answers of `records` to `cassette` (made if missing, 0600), after the
    recordings it holds, and return how many were added; with none, the file is not touched.

    Raises
    ------
    CassetteError
        When `cassette` exists and cannot be read as a cassette.
    """
    new, _left_out = interactions(records)
    if new:
        held = read_cassette(cassette) if Path(cassette).exists() else []
        write_bytes(cassette, _dump(held + new))
    return len(new)


def _request(url: str, channel: str, version: Any) -> dict[str, Any]:
    """The request as the client sends it (requests' JSON body, the session's headers)."""
    body = json.dumps({"video_url": url, "channel": channel})
    return {
        "body": body,
        "headers": {
            "Accept": ["*/*"],
            "Accept-Encoding": ["gzip, deflate"],
            "Connection": ["keep-alive"],
            "Content-Length": [str(len(body.encode()))],
            "Content-Type": ["application/json"],
            "User-Agent": [
                f"igresearch/{version if _VERSION.fullmatch(str(version)) else __version__}"
            ],
        },
        "method": "POST",
        "uri": DEFAULT_BASE_URL + ENDPOINT,
    }


def _response(status: Any, envelope: Any, fetched_at: Any) -> dict[str, Any]:
    """The stored answer: its status, the envelope as JSON, and a Date from `fetched_at`."""
    code = status if isinstance(status, int) and 100 <= status <= 599 else 200
    try:
        body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (half an emoji), escaped as the archive does
        body = json.dumps(envelope).encode("ascii")
    headers = {"Content-Length": [str(len(body))], "Content-Type": ["application/json"]}
    if (when := _when(fetched_at)) is not None:
        headers["Date"] = [format_datetime(when.astimezone(UTC), usegmt=True)]
    return {
        "body": {"string": body},
        "headers": headers,
        "status": {"code": code, "message": http.client.responses.get(code, "")},
    }
