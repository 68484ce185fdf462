"""Draw every engagement figure from the bundled SYNTHETIC demo study into docs/gallery/.

    .venv/bin/python scripts/gallery.py

Offline: the demo cassette is replayed (no key, no network). The accounts are invented.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from igresearch.demo import run_demo
from igresearch.plots import save_all

GALLERY = Path(__file__).resolve().parent.parent / "docs" / "gallery"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tables = run_demo(folder)
    for path in save_all(tables.media, GALLERY):
        print(f"wrote {path.relative_to(GALLERY.parent.parent)}")


if __name__ == "__main__":
    main()
