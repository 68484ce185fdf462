"""Regenerate docs/data-dictionary.md from igresearch/schema.py (a test fails when they differ).

.venv/bin/python scripts/make_data_dictionary.py
"""

from pathlib import Path

from igresearch.schema import data_dictionary

TARGET = Path(__file__).resolve().parent.parent / "docs" / "data-dictionary.md"

if __name__ == "__main__":
    TARGET.write_text(data_dictionary(), encoding="utf-8")
    print(f"wrote {TARGET}")
