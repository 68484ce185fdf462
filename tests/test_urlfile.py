"""Reading URL files: text, CSV and standard input, with where each line came from."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from igresearch import urlfile
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


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_a_csv_is_read_whatever_its_delimiter(tmp_path: Path, delimiter: str) -> None:
    """Issue 11, item 21: a semicolon- (or tab-) separated CSV with a url column is read."""
    table = tmp_path / "export.csv"
    rows = [["id", '"URL"', "note"], ["1", '"instagram.com/p/DLlGZiCOBQ0"', "a, b"], ["2", "", "c"]]
    table.write_text("\n".join(delimiter.join(row) for row in rows) + "\n", encoding="utf-8")
    assert read_url_file(table) == [
        ("export.csv:2", "instagram.com/p/DLlGZiCOBQ0"),
        ("export.csv:3", ""),
    ]
    named = tmp_path / "export.txt"  # the header tells, whatever the file's name
    named.write_bytes(table.read_bytes())
    assert read_url_file(named)[0] == ("export.txt:2", "instagram.com/p/DLlGZiCOBQ0")


def test_quoted_urls_are_taken_without_their_quotes(tmp_path: Path) -> None:
    """Issue 11, item 21: quotes (straight or typographic) and whitespace around a URL go."""
    from igresearch.urls import parse_shortcode

    text = tmp_path / "urls.txt"
    text.write_text(
        '"https://www.instagram.com/reel/DLlGZiCOBQ0/"\n'
        "  'instagram.com/p/C0ffee12345'  \n"
        "\u201chttps://www.instagram.com/p/C0ffee00001/\u201d\n"
        "\u2018C0ffee00002\u2019\n",
        encoding="utf-8",
    )
    codes = [parse_shortcode(url) for _, url in read_url_file(text)]
    assert codes == ["DLlGZiCOBQ0", "C0ffee12345", "C0ffee00001", "C0ffee00002"]


def test_a_file_that_is_not_text_is_named(tmp_path: Path) -> None:
    """Issue 11, item 25: a binary file is a ValueError naming it, not a decoding traceback."""
    binary = tmp_path / "urls.bin"
    binary.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(ValueError) as caught:
        read_url_file(binary)
    assert str(caught.value) == (
        "urls.bin is not UTF-8 text (byte 0x8b at offset 1): give a text file of URLs, or a CSV "
        "with a url column."
    )


def test_attack_a_url_file_larger_than_any_list_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: ``--from /dev/zero`` took memory without end (7 GB in 20 s), and a URL file of
    one 300 MB line took 650 MB and 18 s before failing. A file over MAX_BYTES is refused after
    reading MAX_BYTES + 1 bytes, naming it."""
    monkeypatch.setattr(urlfile, "MAX_BYTES", 1000)
    big = tmp_path / "big.txt"
    big.write_bytes(b"DLlGZiCOBQ0\n" * 100)
    with pytest.raises(ValueError, match="big.txt is larger than"):
        read_url_file(big)
    monkeypatch.setattr(sys, "stdin", io.StringIO("DLlGZiCOBQ0\n" * 100))
    with pytest.raises(ValueError, match="stdin is larger than"):
        read_url_file("-")
    with pytest.raises(ValueError, match="zero is larger than"):
        read_url_file("/dev/zero")
    big.write_bytes(b"DLlGZiCOBQ0\n" * 83)  # 996 bytes: read as ever
    assert len(read_url_file(big)) == 83
