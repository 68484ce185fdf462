"""Files written whole or not at all: the one place igresearch replaces a file.

A reader (a notebook, a spreadsheet, a checksum) never sees a half-written table, figure,
report or cassette: each is written to a temporary name in the same folder, synced to disk, and
renamed over its target in one step. A failed write leaves the old file as it was.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "write_bytes", "write_text"]


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside `target` for a writer to create; moved onto `target` (the file
    it links to, if it is a symbolic link) when the ``with`` block ends without an error, removed
    otherwise.

    Raises
    ------
    FileExistsError
        When `target` is a device or a named pipe (or links to one), before anything is written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from igresearch.files import atomic_path
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "table.csv") as temporary:
    ...     _ = temporary.write_text("a,b\\n1,2\\n")
    >>> (folder / "table.csv").read_text()
    'a,b\\n1,2\\n'
    >>> sorted(p.name for p in folder.iterdir())  # no temporary file left behind
    ['table.csv']
    """
    # Through a symbolic link, the file it points to is replaced, not the link; never a device
    # (a link to /dev/null) or a named pipe.
    final = Path(target).resolve()
    if final.exists() and not final.is_file() and not final.is_dir():
        raise FileExistsError(errno.EEXIST, "Not a regular file, so not replaced", str(target))
    final.parent.mkdir(parents=True, exist_ok=True)
    # Unique per process and thread, so two writers of one folder never share a temporary file.
    temporary = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        yield temporary
        with temporary.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, final)
        _sync_folder(final.parent)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `target` atomically and return its path."""
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write `text` (UTF-8, ``\\n`` line ends on every platform) to `target` atomically."""
    return write_bytes(target, text.encode("utf-8"))


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a folder, and needs not."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
