"""Files written whole or not at all: the one place igresearch replaces a file.

A reader (a notebook, a spreadsheet, a checksum) never sees a half-written table, figure,
report or cassette: each is written to a temporary name in the same folder, synced to disk, and
renamed over its target in one step. A failed write leaves the old file as it was.

Files are private by default: created 0600, in new folders 0700, because what igresearch writes
(archives, cassettes, tables, figures) names people. Pass ``private=False`` for what is meant to
be shared (a pseudonymised report), which then follows the umask.

One writer at a time: :func:`take_lock` holds the operating system's lock on a lock file (an
archive's, a tables folder's), which the OS releases even when its holder is killed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from filelock import BaseFileLock, FileLock, Timeout

__all__ = [
    "atomic_path",
    "make_folder",
    "open_private_append",
    "sha256",
    "take_lock",
    "write_bytes",
    "write_text",
]

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def make_folder(folder: str | os.PathLike[str], *, private: bool = True) -> Path:
    """Create `folder` (and its parents) if missing, the folder itself 0700 when `private`; an
    existing folder keeps its permissions."""
    path = Path(folder)
    path.mkdir(mode=PRIVATE_FOLDER if private else 0o777, parents=True, exist_ok=True)
    return path


@contextmanager
def atomic_path(target: str | os.PathLike[str], *, private: bool = True) -> Iterator[Path]:
    """A temporary path beside `target` for a writer to create; moved onto `target` (the file
    it links to, if it is a symbolic link) when the ``with`` block ends without an error, removed
    otherwise. When `private`, the temporary file exists already, empty and 0600, so the data is
    never readable by others, and the replaced file is 0600 too; otherwise it follows the umask.

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
    make_folder(final.parent, private=private)
    # Unique per process and thread, so two writers of one folder never share a temporary file.
    temporary = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        if private:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE))
        yield temporary
        with temporary.open("rb+") as written:
            if private and os.name == "posix":  # a writer may have made the file anew
                os.fchmod(written.fileno(), PRIVATE_FILE)
            os.fsync(written.fileno())
        os.replace(temporary, final)
        _sync_folder(final.parent)
    finally:
        temporary.unlink(missing_ok=True)


def open_private_append(path: str | os.PathLike[str]) -> BinaryIO:
    """Open `path` to append bytes, unbuffered; created 0600 (in a new folder 0700) if missing."""
    make_folder(Path(path).parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    return os.fdopen(descriptor, "ab", buffering=0)


def take_lock(path: str | os.PathLike[str], busy: Exception) -> BaseFileLock:
    """The lock of the file `path` (created 0600), taken without waiting; raise `busy` when
    another holder has it (another process, or another writer in this one). Release it with
    ``.release()``, in any thread; the OS releases it when the process ends, even killed."""
    lock = FileLock(path, mode=PRIVATE_FILE, thread_local=False)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        raise busy from None
    return lock


def write_bytes(target: str | os.PathLike[str], data: bytes, *, private: bool = True) -> Path:
    """Write `data` to `target` atomically (0600 when `private`) and return its path."""
    with atomic_path(target, private=private) as temporary:
        temporary.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str, *, private: bool = True) -> Path:
    """Write `text` (UTF-8, ``\\n`` line ends on every platform) to `target` atomically."""
    return write_bytes(target, text.encode("utf-8"), private=private)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a folder, and needs not."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sha256(path: Path) -> str:
    """The SHA-256 of the file at `path`, read a MiB at a time, as ``sha256sum`` prints it."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
