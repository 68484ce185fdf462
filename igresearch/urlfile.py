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

__all__ = ["read_url_file"]


def read_url_file(source: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(where, text) for each URL in a text file (one per line, # comments), a CSV with a
    ``url`` column, or ``-`` for standard input.

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
    text = sys.stdin.read() if name == "-" else Path(source).read_text(encoding="utf-8-sig")
    label = "stdin" if name == "-" else Path(source).name
    first = text.split("\n", 1)[0]
    if name.endswith(".csv") or "url" in [c.strip().lower() for c in first.split(",")]:
        reader = csv.DictReader(io.StringIO(text))
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
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
