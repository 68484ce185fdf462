"""The lines of a JSON Lines file as it lies on disk: plain, gzip or Zstandard, streamed.

A file is read compressed when its name and its first bytes agree: ``.gz`` and gzip's magic
number, ``.zst`` and Zstandard's. When they disagree (gzip data named ``.jsonl``, plain text named
``.gz``) the file is refused, saying what it holds, rather than read as no records at all.
Decompression streams a line at a time, and a line is at most :data:`LINE_LIMIT` bytes (a longer
one is cut there, so it reads as unreadable): a small file that inflates to terabytes (a gzip
bomb) costs time, never memory. Zstandard needs the optional ``zstandard`` package
(``pip install 'igresearch[zstd]'``), imported only when a ``.zst`` file is read.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from .errors import ArchiveFormatError

__all__ = ["LINE_LIMIT", "compression", "disagreement", "preview", "read_lines"]

#: The longest line read whole: more than any record collect writes (an answer is at most
#: 20 MiB, and its record at most three times that once escaped).
LINE_LIMIT = 128 << 20
#: By name: the compression, and the bytes its data begins with.
_KINDS = {".gz": ("gzip", b"\x1f\x8b"), ".zst": ("zstd", b"\x28\xb5\x2f\xfd")}
_TOOLS = {"gzip": "gzip -t", "zstd": "zstd -t"}


def preview(line: bytes, limit: int = 60) -> str:
    """The start of a line of a file, safe to print in a message: cut short, quoted, control
    characters and bytes that are not UTF-8 escaped."""
    text = line[: limit * 4].decode("utf-8", errors="replace")
    shown = repr(text[:limit]) + ("..." if len(text) > limit or len(line) > limit * 4 else "")
    return shown if text else "empty"


def compression(path: Path) -> str | None:
    """``"gzip"``, ``"zstd"`` or None (plain) for the file at `path`, by its name and its first
    bytes, which must agree.

    Raises
    ------
    ArchiveFormatError
        When they do not (see :func:`disagreement`).
    """
    return _sniff(path)[0]


def disagreement(path: Path) -> str | None:
    """Why the name of the file at `path` and its first bytes disagree on its compression
    (compressed data under a plain name, a compressed name on other data), or None."""
    try:
        _agreed(path)
    except _Disagree as error:
        return str(error)
    return None


class _Disagree(Exception):
    pass


def _sniff(path: Path) -> tuple[str | None, bytes]:
    try:
        return _agreed(path)
    except _Disagree as error:
        raise ArchiveFormatError(f"{path} is not an igresearch archive: {error}.") from None


def _agreed(path: Path) -> tuple[str | None, bytes]:
    with path.open("rb") as stream:
        head = stream.read(241)
    named = _KINDS.get(path.suffix.lower())
    found = next((kind for kind, magic in _KINDS.values() if head.startswith(magic)), None)
    if (named[0] if named else None) == found:
        return found, head
    first = preview(head.split(b"\n", 1)[0])
    if named is None:
        suffix = next(suffix for suffix, (kind, _) in _KINDS.items() if kind == found)
        raise _Disagree(
            f"its first line is {first}, the start of {found}-compressed data, but its name "
            f"does not end in {suffix}. Name it {path.name}{suffix} to read it compressed, or "
            "decompress it"
        )
    raise _Disagree(
        f"it is named {path.suffix} but holds no {named[0]}-compressed data; its first line is "
        f"{first}. If it is plain JSON Lines, name it without {path.suffix}"
    )


def read_lines(path: Path, *, limit: int = LINE_LIMIT) -> Generator[bytes, None, None]:
    """The lines of `path`, decompressed if it is compressed (see :func:`compression`), each
    with its newline (the last one may have none); a line longer than `limit` bytes is cut there.

    Raises
    ------
    ArchiveFormatError
        When name and content disagree, or when the compressed data is damaged or cut short
        (the lines before the damage have been read by then).
    ModuleNotFoundError
        For a ``.zst`` file without the ``zstandard`` package, saying how to install it.
    """
    kind, head = _sniff(path)
    damaged: tuple[type[Exception], ...] = ()
    # A large buffer: with the default 8 KiB one, reading lines (kilobytes each) costs a third
    # of what decoding them does.
    with io.BufferedReader(io.FileIO(path), buffer_size=1 << 20) as raw:
        if kind == "gzip":
            stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw, mode="rb")
            damaged = (gzip.BadGzipFile, EOFError, zlib.error)
        elif kind == "zstd":
            zstandard = _zstandard()
            stream = io.BufferedReader(_Chunks(_unzstd(raw, zstandard)), buffer_size=1 << 16)
            damaged = (zstandard.ZstdError,)
        else:
            stream = raw
        number = 0
        try:
            while line := stream.readline(limit):
                number += 1
                yield line
                if len(line) == limit and not line.endswith(b"\n"):  # skip the rest of it
                    while (rest := stream.readline(limit)) and not rest.endswith(b"\n"):
                        pass
        except damaged as error:
            what = f"{kind} data that does not decompress ({error})"
            if not number:
                first = preview(head.split(b"\n", 1)[0])
                raise ArchiveFormatError(
                    f"{path} is not an igresearch archive: its first line is {first}, {what}."
                ) from None
            raise ArchiveFormatError(
                f"{path} is damaged after line {number}: it holds {what}; nothing further was "
                f"read. `{_TOOLS[str(kind)]} {path.name}` checks it."
            ) from None


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise ModuleNotFoundError(
            "Reading a .zst archive needs the zstandard package: pip install "
            "'igresearch[zstd]' (or pip install zstandard), or decompress it with unzstd.",
            name="zstandard",
        ) from None
    return zstandard


def _unzstd(raw: io.BufferedIOBase, zstandard: Any) -> Iterator[bytes]:
    """Zstandard frames one after another, decompressed. Read 1 KiB at a time, so one read
    inflates to 32 MiB at most; data cut short raises ``ZstdError`` (the library's stream
    reader would end quietly)."""
    decompressor = zstandard.ZstdDecompressor()
    frame = decompressor.decompressobj()
    while chunk := raw.read(1024):
        while chunk:
            if frame.eof:
                frame = decompressor.decompressobj()
            yield frame.decompress(chunk)
            chunk = frame.unused_data if frame.eof else b""
    if not frame.eof:
        raise zstandard.ZstdError("the data ends inside a frame: the file is cut short")


class _Chunks(io.RawIOBase):
    """A readable stream of the byte strings an iterator yields."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._left = chunks, memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size
