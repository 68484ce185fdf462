"""Lines of plain, gzip and Zstandard files (issue 14, item 4): name and content must agree,
decompression streams with bounded memory, damage is an error, zstandard stays optional."""

from __future__ import annotations

import gzip
import sys
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from igresearch.errors import ArchiveFormatError
from igresearch.lines import compression, disagreement, read_lines

LINES = [b'{"archive_version":1,"n":%d}\n' % n for n in range(1000)]
DATA = b"".join(LINES)


def packed(kind: str, data: bytes) -> bytes:
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    return zstandard.ZstdCompressor().compress(data)


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("a.jsonl", DATA, None),
        ("a.jsonl.gz", packed("gzip", DATA), "gzip"),
        ("a.jsonl.GZ", packed("gzip", DATA), "gzip"),
        ("a.jsonl.zst", packed("zstd", DATA), "zstd"),
    ],
)
def test_name_and_content_that_agree_are_read_as_the_same_lines(
    tmp_path: Path, name: str, content: bytes, kind: str | None
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert compression(path) == kind
    assert list(read_lines(path)) == LINES


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.jsonl", packed("gzip", DATA), "is not an igresearch archive: its first line is "
         "'\\x1f\ufffd\\x08\\x00\\x00\\x00\\x00\\x00\\x02\\x03"),
        ("a.jsonl", packed("gzip", DATA), "the start of gzip-compressed data, but its name does "
         "not end in .gz. Name it a.jsonl.gz to read it compressed, or decompress it."),
        ("a.jsonl", packed("zstd", DATA), "the start of zstd-compressed data, but its name does "
         "not end in .zst. Name it a.jsonl.zst"),
        ("a.jsonl.gz", DATA, "is not an igresearch archive: it is named .gz but holds no "
         "gzip-compressed data; its first line is '{\"archive_version\":1,\"n\":0}'. If it is "
         "plain JSON Lines, name it without .gz."),
        ("a.jsonl.zst", packed("gzip", DATA), "it is named .zst but holds no zstd-compressed data"),
        ("a.jsonl.gz", b"", "it is named .gz but holds no gzip-compressed data; its first line is "
         "empty."),
    ],
)  # fmt: skip
def test_name_and_content_that_disagree_are_refused(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    for read in (compression, lambda p: list(read_lines(p))):
        with pytest.raises(ArchiveFormatError) as caught:
            read(path)
        assert str(caught.value).startswith(str(path)) and message in str(caught.value)
    assert f"{path} is not an igresearch archive: {disagreement(path)}." == str(caught.value)


def test_several_zstandard_frames_are_read_one_after_another(tmp_path: Path) -> None:
    """As ``zstd`` writes files joined with ``cat``, or pzstd writes."""
    path = tmp_path / "a.jsonl.zst"
    path.write_bytes(packed("zstd", DATA[:500]) + packed("zstd", DATA[500:]))
    assert list(read_lines(path)) == LINES


@pytest.mark.parametrize(("kind", "suffix"), [("gzip", ".gz"), ("zstd", ".zst")])
def test_compressed_data_cut_short_or_damaged_is_an_error_not_fewer_records(
    tmp_path: Path, kind: str, suffix: str
) -> None:
    data = b"".join(b'{"archive_version":1,"pad":"%d%s"}\n' % (n, b"x" * n) for n in range(3000))
    whole = packed(kind, data)
    path = tmp_path / f"a.jsonl{suffix}"
    path.write_bytes(whole[: len(whole) * 3 // 4])
    with pytest.raises(ArchiveFormatError, match=r"is damaged after line \d+: it holds") as caught:
        list(read_lines(path))
    assert f"{kind} data that does not decompress" in str(caught.value)
    if kind == "gzip":
        path.write_bytes(whole[:-8] + b"\0\0\0\0" + whole[-4:])  # a wrong CRC
        with pytest.raises(ArchiveFormatError, match="is damaged after line 3000: .*CRC check"):
            list(read_lines(path))


def test_a_line_longer_than_the_limit_is_cut_and_the_next_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(packed("gzip", b"x" * 5000 + b"\n" + LINES[0] + b"y" * 1000))
    assert list(read_lines(path, limit=1000)) == [b"x" * 1000, LINES[0], b"y" * 1000]


def test_a_gzip_bomb_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    """64 MiB of whitespace lines in 65 KB of gzip: read a line at a time, never whole."""
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as bomb:
        bomb.write(LINES[0])
        for _ in range(64):
            bomb.write(b" " * (1 << 20) + b"\n")
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_lines(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 65
    assert peak < 8 << 20, f"{peak} bytes"


def test_without_zstandard_a_zst_file_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.jsonl.zst"
    path.write_bytes(packed("zstd", DATA))
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard now fails
    with pytest.raises(ModuleNotFoundError) as caught:
        list(read_lines(path))
    assert str(caught.value) == (
        "Reading a .zst archive needs the zstandard package: pip install 'igresearch[zstd]' "
        "(or pip install zstandard), or decompress it with unzstd."
    )
    assert caught.value.name == "zstandard"
