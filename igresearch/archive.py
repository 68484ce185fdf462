"""The raw archive: an append-only JSON Lines record of every request's final outcome.

One record per URL per run, with its provenance::

    {"archive_version": 1, "url": ..., "shortcode": ..., "channel": ..., "outcome": "ok",
     "attempts": 1, "requested_at": ..., "fetched_at": ..., "http_status": 200, "api_code": "0000",
     "igresearch_version": ..., "response": {...}, "error": null}

``outcome`` is ``ok`` (``response`` holds the full envelope), ``unavailable`` (the post is
deleted, private or login-walled; ``response`` holds the envelope that said so) or ``failed``
(``error`` holds class, message and whether a retry may help; ``body`` the answer's body as text,
at most 64 KiB, or null when no answer came). ``fetched_at`` is the response's ``Date`` header
when there is one, so a replayed recording gives the same times. The API key is never stored: a
record whose ``response`` or ``body`` had it cut out (the server echoed it) says
``"redacted": true``.

One writer at a time: a lock file ``<archive>.lock`` (readable by its owner only) held with the
operating system's file lock through :mod:`filelock`, which the OS releases even when the writer
is killed. Every record goes to the file in one piece (written whole, then synced, before the
next; a write that fails half way is cut back off), so a killed process leaves at most one
partial last line. Readers skip it, and the next writer truncates it before
appending: the only rewrite ever made (a complete last record that merely lacks its newline is
kept, and given one). The lock sits beside the file itself, so a symbolic link to the archive
is locked too.

Readers also take an archive compressed (``.jsonl.gz``, ``.jsonl.zst``: :mod:`igresearch.lines`);
the writer appends to plain JSON Lines only.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import msgspec

from .errors import ArchiveFormatError, ArchiveLockedError, MediaUnavailableError
from .files import make_folder, open_private_append, take_lock
from .lines import preview, read_lines
from .outcomes import category
from .shapes import locate_media

__all__ = [
    "ARCHIVE_VERSION",
    "ArchiveWriter",
    "Attrition",
    "Entry",
    "Seen",
    "check_appendable",
    "check_archive",
    "index_archive",
    "read_archive",
]

ARCHIVE_VERSION = 1
STORED = frozenset({"ok", "unavailable"})


class ArchiveWriter:
    """Appends records to an archive, holding its lock; use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        # Beside the file itself, so two paths to it (a symbolic link) share one lock.
        target = self.path.resolve()
        self._lock_path = target.with_name(target.name + ".lock")
        self._lock: Any = None
        self._file: Any = None

    def __enter__(self) -> ArchiveWriter:
        check_appendable(self.path)  # before anything is written, even the lock beside it
        make_folder(self.path.parent)
        # Released in any thread: collect may leave the with block in another than it entered.
        self._lock = take_lock(
            self._lock_path,
            ArchiveLockedError(
                f"Another collector is writing {self.path} (lock {self._lock_path}). Wait for "
                "it to finish, or stop it; two writers would interleave records."
            ),
        )
        try:
            _repair_last_line(self.path)
            self._file = open_private_append(self.path)
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._file.close()
        finally:
            self._lock.release()

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line of strict JSON, synced to disk.

        Raises
        ------
        ValueError
            For NaN or an infinity in `record` (the client never lets one through): the archive
            only ever holds strict JSON.
        OSError
            When the line cannot be written whole (a full disk, a file size limit); the part
            written is cut off again, and the error's ``filename`` is the archive's path.
        """
        options: dict[str, Any] = {"separators": (",", ":"), "allow_nan": False}
        try:
            line = json.dumps(record, ensure_ascii=False, **options).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (half an emoji) in the answer: escape it
            line = json.dumps(record, **options).encode("ascii")
        descriptor = self._file.fileno()
        start = os.fstat(descriptor).st_size
        try:
            rest = memoryview(line + b"\n")
            while rest:  # a disk that fills up takes part of a line, then refuses the rest
                rest = rest[os.write(descriptor, rest) :]
            os.fsync(descriptor)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, start)
            raise OSError(error.errno, error.strerror, str(self.path)) from error


def _repair_last_line(path: Path) -> None:
    """End the archive with a newline before appending: a complete last record without one (an
    archive joined with ``"\\n"``, or saved by an editor) gets its newline and is kept; a last line
    that does not parse, which is what a killed writer leaves, is cut off."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as archive:
        size = archive.seek(0, os.SEEK_END)
        archive.seek(size - 1)
        if archive.read(1) == b"\n":
            return
        start, chunk = size, 1 << 16
        while start > 0:  # find where the last line begins
            begin = max(0, start - chunk)
            archive.seek(begin)
            newline = archive.read(start - begin).rfind(b"\n")
            if newline >= 0:
                start = begin + newline + 1
                break
            start = begin
        archive.seek(start)
        if _is_record(archive.read()):
            archive.write(b"\n")
        else:
            archive.truncate(start)


def _is_record(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(record, dict) and "archive_version" in record


#: How every archive begins: records are written with this key first.
_START = b'{"archive_version"'
_FIRST_LINE_LIMIT = 1 << 20


def check_archive(path: str | os.PathLike[str]) -> None:
    """Refuse a file that is not an archive, touching nothing.

    A missing or empty file is a new archive. Otherwise it must be a regular file (not a device
    such as ``/dev/null``, nor a named pipe), whose first line is an archive record or begins
    like one (``{"archive_version"``; a killed writer may have left only part of it). A
    compressed archive (``.jsonl.gz``, ``.jsonl.zst``) is checked once decompressed; its name
    and its first bytes must agree (:func:`igresearch.lines.compression`).

    Raises
    ------
    ArchiveFormatError
        Naming the file and showing how its first line begins.
    IsADirectoryError, NotADirectoryError, PermissionError
        When `path` is a folder, lies under a file, or cannot be read.
    ModuleNotFoundError
        For a ``.zst`` archive without the ``zstandard`` package.
    """
    archive = Path(path)
    if archive.is_dir():
        raise IsADirectoryError(f"{archive} is a folder, not an archive file.")
    if not archive.exists():
        folder = next(p for p in archive.absolute().parents if p.exists())
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} is a file: {archive} cannot be made there.")
        return
    if not archive.is_file():  # a device (/dev/null) or a FIFO: answers would be lost, or hang
        raise ArchiveFormatError(
            f"{archive} is not a regular file (a device or a named pipe): give the name of a "
            "file for the archive."
        )
    if archive.stat().st_size == 0:
        return
    with contextlib.closing(read_lines(archive, limit=_FIRST_LINE_LIMIT)) as lines:
        first = next(lines, b"")
    if not first:  # compressed nothing
        return
    line = first.rstrip(b"\r\n")
    partial = not first.endswith(b"\n")  # the whole file, or a line longer than the limit
    if line.startswith(_START) or (partial and _START.startswith(line)) or _is_record(line):
        return
    raise ArchiveFormatError(
        f"{archive} is not an igresearch archive: its first line is {preview(line)}. Give a new "
        "file name, or the JSON Lines file an earlier collect wrote."
    )


def check_appendable(path: str | os.PathLike[str]) -> None:
    """Refuse what :func:`check_archive` refuses, and a name of a compressed archive
    (``.gz``, ``.zst``): collect appends to plain JSON Lines only. Touches nothing.

    Raises
    ------
    ArchiveFormatError
        Saying how to go on: decompress the archive, or give a plain ``.jsonl`` name.
    """
    check_archive(path)  # compressed data under a plain name is refused there
    archive = Path(path)
    suffix = archive.suffix.lower()
    if suffix in (".gz", ".zst"):
        undo = "gunzip -k" if suffix == ".gz" else "unzstd"
        raise ArchiveFormatError(
            f"{archive} is named as a compressed archive ({suffix}), and collect appends to "
            f"plain JSON Lines only: decompress it ({undo} {archive.name}) and collect into "
            f"{archive.stem}, or give a name ending in .jsonl."
        )


def read_archive(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The archive's records in order, skipping a partial last line or any unreadable one.

    Raises
    ------
    ArchiveFormatError
        When the file is not an archive (see :func:`check_archive`).
    """
    archive = Path(path)
    check_archive(archive)
    if not archive.exists():
        return
    for line in read_lines(archive):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and "archive_version" in record:
            yield record


class Seen(NamedTuple):
    """One archive record, as much of it as planning and attrition read: a few strings and a
    time, whatever else the record holds."""

    url: str
    outcome: str
    #: For a stored record (ok or unavailable): its ``fetched_at``, when that is a time.
    fetched_at: datetime | None
    #: For a record that is not ``ok``: why (quoting the server) and its category; else "".
    reason: str
    category: str


@dataclass(slots=True)
class Entry:
    """What the archive knows of one (shortcode, channel)."""

    latest: Seen
    latest_stored: Seen | None = None
    newest_fetched_at: datetime | None = None

    @property
    def stored(self) -> bool:
        """Whether a response (ok or unavailable) was ever stored."""
        return self.latest_stored is not None


def index_archive(path: str | os.PathLike[str]) -> dict[tuple[str, str], Entry]:
    """Per (shortcode, channel): the latest record, and whether and when a response was stored
    (an ``ok`` or ``unavailable`` record).

    Each line is decoded into the few fields this needs (:class:`Seen`); the rest of it, the
    response above all, is skipped without being made into Python objects, so memory grows
    with the posts, not with the records. The same lines count as in :func:`read_archive`.
    """
    entries: dict[tuple[str, str], Entry] = {}
    archive = Path(path)
    check_archive(archive)
    if not archive.exists():
        return entries
    for line in read_lines(archive):
        read = _read(line)
        if read is None:
            continue
        key, seen = read
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = Entry(seen)
        entry.latest = seen
        if seen.outcome in STORED:  # an edited record may hold any value
            entry.latest_stored = seen
            when = seen.fetched_at
            if when is not None and (
                entry.newest_fetched_at is None or when > entry.newest_fetched_at
            ):
                entry.newest_fetched_at = when
    return entries


class _Fields(msgspec.Struct, gc=False):
    """The fields of an archive line that :func:`index_archive` reads; msgspec skips the others
    in C. The response is kept as raw JSON, decoded only for an unavailable post."""

    archive_version: Any = msgspec.UNSET
    shortcode: Any = None
    channel: Any = None
    url: Any = None
    outcome: Any = None
    fetched_at: Any = None
    http_status: Any = None
    api_code: Any = None
    error: Any = None
    response: msgspec.Raw = msgspec.Raw(b"null")


_SMALL = (
    "shortcode",
    "channel",
    "url",
    "outcome",
    "fetched_at",
    "http_status",
    "api_code",
    "error",
)
_FIELDS = msgspec.json.Decoder(_Fields)
_ANY = msgspec.json.Decoder()


def _read(line: bytes) -> tuple[tuple[str, str], Seen] | None:
    """The key and :class:`Seen` of an archive line; None where :func:`read_archive` skips it."""
    try:
        fields = _FIELDS.decode(line)
        if not line.isascii():  # msgspec does not check the UTF-8 of what it skips; json does
            line.decode("utf-8", "surrogatepass")
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        record = _whole(line)  # NaN, half an emoji (msgspec refuses them), a list, not JSON...
        if record is None:
            return None
        small: dict[str, Any] = {name: record.get(name) for name in _SMALL}
        fields = _Fields(**small)
        response: Any = record.get("response")
    else:
        if fields.archive_version is msgspec.UNSET:
            return None
        response = fields.response  # raw JSON, decoded below only when needed
    outcome = str(fields.outcome)
    key = (str(fields.shortcode), sys.intern(str(fields.channel)))
    when = _when(fields.fetched_at) if outcome in STORED else None
    if outcome == "ok":
        return key, Seen(str(fields.url), "ok", when, "", "")
    if outcome == "unavailable" and isinstance(response, msgspec.Raw):
        response = _ANY.decode(response)
    kept = {
        "outcome": fields.outcome,
        "error": fields.error,
        "http_status": fields.http_status,
        "api_code": fields.api_code,
        "response": response,  # read by _reason and category for an unavailable post only
    }
    return key, Seen(str(fields.url), outcome, when, _reason(kept), category(kept))


def _whole(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) and "archive_version" in record else None


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


class Lost(NamedTuple):
    """A post not stored: its reason quotes the server (without the URL, which goes beside it);
    its category (:mod:`igresearch.outcomes`) quotes nobody."""

    url: str
    channel: str
    outcome: str
    reason: str
    category: str


@dataclass
class Attrition:
    """What an archive holds: outcome counts and the posts that were not stored."""

    counts: Counter[str] = field(default_factory=Counter)
    lost: list[Lost] = field(default_factory=list)

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> Attrition:
        """Count each (shortcode, channel) once: by its latest stored response, else its
        latest failure."""
        attrition = cls()
        for (_shortcode, channel), entry in index_archive(path).items():
            seen = entry.latest_stored or entry.latest
            attrition.counts[seen.outcome] += 1
            if seen.outcome != "ok":
                lost = Lost(seen.url, channel, seen.outcome, seen.reason, seen.category)
                attrition.lost.append(lost)
        return attrition

    def _repr_html_(self) -> str:
        """Jupyter's view: outcome counts and the first posts not stored, every value escaped."""
        from .display import count, section, table

        shown = 20
        more = len(self.lost) - shown
        return section(
            f"Attrition: {count(sum(self.counts.values()), 'post')}",
            table(("outcome", "posts"), sorted(self.counts.items())),
            table(
                ("outcome", "channel", "url", "reason"),
                ((x.outcome, x.channel, x.url, x.reason) for x in self.lost[:shown]),
            )
            if self.lost
            else "",
            f"<p>and {more} more</p>" if more > 0 else "",
        )


def _reason(record: dict[str, Any]) -> str:
    """Why a post was not stored, without its URL (which goes beside it)."""
    error = record.get("error")
    if not isinstance(error, dict):
        return "no reason recorded"
    located = (
        locate_media(record.get("response")) if record.get("outcome") == "unavailable" else None
    )
    if located is not None and located.node is None:
        return f"{error.get('class')}: {MediaUnavailableError.why(located.reason)}."
    return f"{error.get('class')}: {error.get('message')}"
