"""Reading URL files: text, CSV and standard input, with where each line came from."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from igresearch.urlfile import read_url_file


def test_url_files_text_csv_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = tmp_path / "urls.txt"
    text.write_text(
        "# study A\nhttps://www.instagram.com/reel/AAAAAAAAAAA/\n\n  BBBBBBBBBBB  # x\n"
    )
    assert read_url_file(text) == [
        ("urls.txt:2", "https://www.instagram.com/reel/AAAAAAAAAAA/"),
        ("urls.txt:4", "BBBBBBBBBBB  # x"),
    ]
    table = tmp_path / "sample.csv"
    table.write_text("id,URL,note\n1,instagram.com/p/AAAAAAAAAAA,a\n2,,b\n")
    assert read_url_file(table) == [
        ("sample.csv:2", "instagram.com/p/AAAAAAAAAAA"),
        ("sample.csv:3", ""),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("AAAAAAAAAAA\n"))
    assert read_url_file("-") == [("stdin:1", "AAAAAAAAAAA")]
