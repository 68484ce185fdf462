"""Read the URLs of a study from a text file, a CSV or standard input, with where each came from.

Used by the ``collect`` and ``record`` commands; in Python, pass the result to
:func:`igresearch.collect` as its `urls`, so skipped lines are reported by file and line number.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path

__all__ = ["MAX_BYTES", "read_url_file"]

#: The largest URL file read (a million URLs take about 50 MB); a larger one is refused unread.
MAX_BYTES = 256 * 2**20


def read_url_file(source: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(where, text) for each URL in a text file (one per line, # comments), a CSV with a
    ``url`` column (comma, semicolon or tab between columns), or ``-`` for standard input.

    Raises
    ------
    ValueError
        Naming the file, when it is not UTF-8 text, is larger than :data:`MAX_BYTES` (a device
        such as /dev/zero would never end), or is a CSV without a ``url`` column.
    OSError
        When it cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from igresearch.urlfile import read_url_file
    >>> path = Path(tempfile.mkdtemp()) / "urls.txt"
    >>> _ = path.write_text("# study A\\nDLlGZiCOBQ0\\n\\ninstagram.com/p/C0ffee12345\\n")
    >>> read_url_file(path)
    [('urls.txt:2', 'DLlGZiCOBQ0'), ('urls.txt:4', 'instagram.com/p/C0ffee12345')]
    """
    name = str(source)
    label = "stdin" if name == "-" else Path(source).name
    try:
        if name == "-":
            raw: str | bytes = sys.stdin.read(MAX_BYTES + 1)  # characters: as good a bound
        else:
            with Path(source).open("rb") as stream:
                raw = stream.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ValueError(
                f"{label} is larger than {MAX_BYTES // 2**20} MiB, far more than any list of "
                "URLs: give a text file of URLs, or a CSV with a url column (split a longer list)."
            )
        text = raw if isinstance(raw, str) else raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{label} is not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
            f"{error.start}): give a text file of URLs, or a CSV with a url column."
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = _delimiter(first)
    if name.endswith(".csv") or delimiter:
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter or _likeliest(first))
        columns = {_cell(c).lower(): c for c in reader.fieldnames or []}
        if "url" not in columns:
            raise ValueError(f"{label}: a CSV needs a 'url' column; found {reader.fieldnames}.")
        return [
            (f"{label}:{number}", row[columns["url"]] or "")
            for number, row in enumerate(reader, start=2)
        ]
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        url = line.strip()
        if url and not url.startswith("#"):
            entries.append((f"{label}:{number}", url))
    return entries


_DELIMITERS = ",;\t"  # spreadsheets save CSV with a semicolon where the comma is a decimal mark


def _cell(text: str) -> str:
    return text.strip().strip('"').strip()


def _delimiter(header: str) -> str | None:
    """The delimiter that makes `header` a row with a ``url`` column, if one does."""
    for delimiter in _DELIMITERS:
        if "url" in [_cell(c).lower() for c in header.split(delimiter)]:
            return delimiter
    return None


def _likeliest(header: str) -> str:
    return max(_DELIMITERS, key=header.count)
