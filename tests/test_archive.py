"""The raw archive: append-only, partial last lines, the lock, the index."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest
from before_issue14 import full_parse_attrition, full_parse_index

from igresearch import collect
from igresearch.archive import (
    ArchiveWriter,
    Attrition,
    check_archive,
    index_archive,
    read_archive,
)
from igresearch.errors import ArchiveFormatError, ArchiveLockedError
from igresearch.tables import to_tables
from igresearch.testing import FakeAPI


def record(shortcode: str, outcome: str, fetched_at: str | None = None) -> dict[str, object]:
    return {
        "archive_version": 1,
        "url": f"https://www.instagram.com/reel/{shortcode}/",
        "shortcode": shortcode,
        "channel": "apify",
        "outcome": outcome,
        "fetched_at": fetched_at,
        "response": {"code": "0000"} if outcome != "failed" else None,
        "error": {"class": "APIError", "message": "boom", "retriable": True}
        if outcome != "ok"
        else None,
    }


def test_records_round_trip_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with ArchiveWriter(path) as writer:
        writer.append(record("AAAAAAAAAAA", "ok"))
        writer.append(record("BBBBBBBBBBB", "failed"))
    assert [r["shortcode"] for r in read_archive(path)] == ["AAAAAAAAAAA", "BBBBBBBBBBB"]
    assert path.read_text(encoding="utf-8").count("\n") == 2


def test_a_partial_last_line_is_skipped_then_truncated(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with ArchiveWriter(path) as writer:
        writer.append(record("AAAAAAAAAAA", "ok"))
    complete = path.read_bytes()
    with path.open("ab") as archive:
        archive.write(b'{"archive_version": 1, "shortcode": "BBBB')
    assert [r["shortcode"] for r in read_archive(path)] == ["AAAAAAAAAAA"]

    with ArchiveWriter(path) as writer:
        assert path.read_bytes() == complete, "only the partial line is removed"
        writer.append(record("CCCCCCCCCCC", "ok"))
    assert [r["shortcode"] for r in read_archive(path)] == ["AAAAAAAAAAA", "CCCCCCCCCCC"]


def test_a_partial_only_line_truncates_to_empty(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"archive_ver')
    with ArchiveWriter(path):
        pass
    assert path.read_bytes() == b""


@pytest.mark.parametrize("records", [1, 2])
def test_a_complete_last_record_without_its_newline_is_kept(tmp_path: Path, records: int) -> None:
    """Issue 11, item 1: only a last line that does not parse is a partial line; a complete
    record without its newline is kept and given one."""
    path = tmp_path / "a.jsonl"
    joined = "\n".join(json.dumps(record(f"AAAAAAAAAA{i}", "ok")) for i in range(records))
    path.write_text(joined, encoding="utf-8")  # as "\n".join(...) or an editor leaves it
    with ArchiveWriter(path) as writer:
        writer.append(record("CCCCCCCCCCC", "ok"))
    expected = [f"AAAAAAAAAA{i}" for i in range(records)] + ["CCCCCCCCCCC"]
    assert [r["shortcode"] for r in read_archive(path)] == expected
    text = path.read_text(encoding="utf-8")
    assert text.startswith(joined + "\n"), "kept byte for byte, given its newline"
    assert text.endswith("\n") and text.count("\n") == records + 1


def test_a_symbolic_link_to_the_archive_shares_its_lock(tmp_path: Path) -> None:
    """Issue 11, item 4: the lock sits beside the resolved file, so a second collector
    reaching the archive through a symbolic link is refused."""
    path, link = tmp_path / "a.jsonl", tmp_path / "link.jsonl"
    path.touch()
    link.symlink_to(path)
    with ArchiveWriter(path), pytest.raises(ArchiveLockedError, match="Another collector"):
        ArchiveWriter(link).__enter__()


def test_a_second_writer_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with ArchiveWriter(path), pytest.raises(ArchiveLockedError, match="Another collector"):
        ArchiveWriter(path).__enter__()
    with ArchiveWriter(path) as writer:  # released: a later run may write
        writer.append(record("AAAAAAAAAAA", "ok"))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_the_lock_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with ArchiveWriter(path):
        assert (tmp_path / "a.jsonl.lock").stat().st_mode & 0o777 == 0o600


def test_igresearch_imports_and_writes_an_archive_without_fcntl(tmp_path: Path) -> None:
    """Windows has no fcntl: importing igresearch and using the archive must not need it."""
    path = tmp_path / "a.jsonl"
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class NoFcntl(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "fcntl":
                    raise ImportError("no fcntl here, as on Windows")
                return None

        sys.meta_path.insert(0, NoFcntl())
        import igresearch
        from igresearch.archive import ArchiveWriter, read_archive
        from igresearch.errors import ArchiveLockedError

        assert "fcntl" not in sys.modules
        with ArchiveWriter({str(path)!r}) as writer:
            writer.append({{"archive_version": 1, "shortcode": "AAAAAAAAAAA"}})
            try:
                ArchiveWriter({str(path)!r}).__enter__()
            except ArchiveLockedError:
                print("refused")
        print([r["shortcode"] for r in read_archive({str(path)!r})])
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["refused", "['AAAAAAAAAAA']"]


@pytest.mark.slow
def test_the_lock_dies_with_a_killed_writer(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    script = textwrap.dedent(
        f"""
        import time
        from igresearch.archive import ArchiveWriter
        with ArchiveWriter({str(path)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(ArchiveLockedError):
            ArchiveWriter(path).__enter__()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        deadline = time.monotonic() + 5
        while True:
            try:
                with ArchiveWriter(path):
                    break
            except ArchiveLockedError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        child.kill()
        child.wait()


def test_index_and_attrition(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with ArchiveWriter(path) as writer:
        writer.append(record("AAAAAAAAAAA", "ok", "2026-01-01T00:00:00+00:00"))
        writer.append(record("AAAAAAAAAAA", "failed"))  # a failed refresh keeps it stored
        writer.append(record("BBBBBBBBBBB", "unavailable", "2026-01-02T00:00:00+00:00"))
        writer.append(record("CCCCCCCCCCC", "failed"))
    index = index_archive(path)
    a = index[("AAAAAAAAAAA", "apify")]
    assert (a.stored, a.latest.outcome, a.newest_fetched_at.isoformat()) == (  # type: ignore[union-attr]
        True,
        "failed",
        "2026-01-01T00:00:00+00:00",
    )
    assert index[("CCCCCCCCCCC", "apify")].stored is False
    attrition = Attrition.of(path)
    assert dict(attrition.counts) == {"ok": 1, "failed": 1, "unavailable": 1}
    assert [(lost.url[-12:-1], lost.outcome) for lost in attrition.lost] == [
        ("BBBBBBBBBBB", "unavailable"),
        ("CCCCCCCCCCC", "failed"),
    ]
    assert all(lost.reason == "APIError: boom" for lost in attrition.lost)
    assert [lost.category for lost in attrition.lost] == [
        "unavailable: unknown answer",
        "failed: APIError no HTTP answer",
    ]


def test_half_an_emoji_in_an_answer_is_written_escaped_and_read_back(tmp_path: Path) -> None:
    from igresearch.tables import to_tables
    from igresearch.testing import FakeAPI

    path = tmp_path / "a.jsonl"
    answer = FakeAPI.media_for("DLlGZiCOBQ0")
    answer["data"]["data"]["xdt_shortcode_media"]["edge_media_to_caption"] = {
        "edges": [{"node": {"text": "nice \ud83d and \u00e9"}}]  # a lone surrogate from JSON
    }
    stored = record("DLlGZiCOBQ0", "ok", "2026-01-01T00:00:00+00:00") | {"response": answer}
    with ArchiveWriter(path) as writer:
        writer.append(stored)
        writer.append(record("BBBBBBBBBBB", "failed"))
    assert path.read_bytes().count(b"\n") == 2 and b"\\ud83d" in path.read_bytes()
    assert [r["shortcode"] for r in read_archive(path)] == ["DLlGZiCOBQ0", "BBBBBBBBBBB"]
    assert to_tables(path).media["caption"].to_list() == ["nice \ufffd and \u00e9"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_item12_the_archive_only_ever_holds_strict_json(tmp_path: Path, value: float) -> None:
    """Issue 11, item 12: a record holding NaN or an infinity is refused (the client never lets
    one through), and nothing of it is written."""
    path = tmp_path / "a.jsonl"
    with ArchiveWriter(path) as writer:
        writer.append(record("AAAAAAAAAAA", "ok"))
        with pytest.raises(ValueError, match="JSON compliant"):
            writer.append(record("BBBBBBBBBBB", "ok") | {"response": {"play_count": value}})
    assert [r["shortcode"] for r in read_archive(path)] == ["AAAAAAAAAAA"]
    assert path.read_bytes().count(b"\n") == 1


NOT_ARCHIVES = {
    "urls.txt": b"https://www.instagram.com/reel/DLlGZiCOBQ0/\nC0ffee12345\n",
    "study.csv": b"id;url\n1;https://www.instagram.com/p/DLlGZiCOBQ0/\n",
    "archive.jsonl.gz": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + bytes(range(200)),
    "responses.jsonl": b'{"code":"0000","data":{}}\n',
    "notes.md": b"\x1b[31m" + b"x" * 500,
}


@pytest.mark.parametrize("name", sorted(NOT_ARCHIVES))
def test_a_file_that_is_not_an_archive_is_refused_untouched(tmp_path: Path, name: str) -> None:
    """Issue 11, item 2: ArchiveWriter (and so collect) refuses an existing non-empty file whose
    first line is no archive record: byte-identical, same modification time, no lock file; the
    message names the file and shows its first line, safely."""
    from igresearch.errors import ArchiveFormatError

    path = tmp_path / name
    path.write_bytes(NOT_ARCHIVES[name])
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(ArchiveFormatError) as caught:
        ArchiveWriter(path).__enter__()
    message = str(caught.value)
    assert message.startswith(f"{path} is not an igresearch archive: its first line is ")
    assert "\n" not in message and "\x1b" not in message and len(message) < 400
    with pytest.raises(ArchiveFormatError):
        list(read_archive(path))
    with pytest.raises(ArchiveFormatError):
        index_archive(path)
    assert path.read_bytes() == NOT_ARCHIVES[name]
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "not even a lock file"


def test_what_begins_like_an_archive_is_accepted(tmp_path: Path) -> None:
    """Issue 11, item 2: an empty file, an archive, a first line cut inside a record, or a first
    line that starts with {"archive_version" (however long) are archives."""
    long_first = json.dumps(record("AAAAAAAAAAA", "ok") | {"pad": "x" * (2 << 20)})
    for content in (b"", b'{"archive_ver', b'{"archive_version": 1, "shor', long_first.encode()):
        path = tmp_path / "a.jsonl"
        path.write_bytes(content)
        with ArchiveWriter(path) as writer:
            writer.append(record("BBBBBBBBBBB", "ok"))
        assert [r["shortcode"] for r in read_archive(path)][-1] == "BBBBBBBBBBB"
        path.unlink()


def test_attack_an_edited_record_nested_too_deeply_or_with_odd_types_is_no_crash(
    tmp_path: Path,
) -> None:
    """Attack: one archive line nested 200,000 levels deep raised RecursionError, and a record
    whose outcome is an object raised TypeError, in read_archive and index_archive: ``status``
    and every later ``collect`` on that archive ended with a traceback. The deep line is
    skipped as unreadable (as a line that is not JSON is), the odd one is counted as it says."""
    good = json.dumps(record("AAAAAAAAAAA", "ok"))
    deep = good[:-1] + ', "extra": ' + "[" * 200_000 + "]" * 200_000 + "}"
    odd = json.dumps(record("BBBBBBBBBBB", "ok") | {"outcome": {"a": 1}, "url": 5})
    path = tmp_path / "edited.txt"  # not .jsonl: the suite's strict check is for written ones
    path.write_text(f"{good}\n{deep}\n{odd}\n", encoding="utf-8")
    assert [r["shortcode"] for r in read_archive(path)] == ["AAAAAAAAAAA", "BBBBBBBBBBB"]
    index = index_archive(path)
    assert [entry.stored for entry in index.values()] == [True, False]
    attrition = Attrition.of(path)
    assert dict(attrition.counts) == {"ok": 1, "{'a': 1}": 1}
    assert attrition.lost == [
        ("5", "apify", "{'a': 1}", "no reason recorded", "malformed: unknown outcome")
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_attack_an_archive_that_is_a_device_or_a_named_pipe_is_refused_before_paying(
    tmp_path: Path, fake_api: FakeAPI
) -> None:
    """Attack: ``--archive`` a link to /dev/null paid for the answer, then failed to write it
    ("Invalid argument"): the answer was lost, and lost again on every run. A named pipe hung
    collect, status, tables and report, waiting for a writer. Both are refused at once, before
    anything is sent, by every command that reads an archive."""
    null = tmp_path / "null.archive"  # not .jsonl: the suite reads every .jsonl it leaves
    null.symlink_to(os.devnull)
    pipe = tmp_path / "pipe.archive"
    os.mkfifo(pipe)
    for path in (null, pipe):
        with pytest.raises(ArchiveFormatError, match="not a regular file"):
            check_archive(path)
        with pytest.raises(ArchiveFormatError, match="not a regular file"):
            collect(
                ["C0ffee12345"],
                archive=path,
                api_key="sk-test-archive-0123456789",
                base_url=fake_api.base_url,
                progress=False,
            )
        with pytest.raises(ArchiveFormatError, match="not a regular file"):
            to_tables(path)
    assert fake_api.requests == []


# --- issue 14, item 5: the index reads a few fields of each line, with the same results


def assert_same_as_full_parse(path: Path, reference: Path | None = None) -> None:
    """index_archive and Attrition.of of `path` say what the full parse of `reference` (by
    default `path` itself) says: the same keys in the same order, latest outcome and URL,
    stored or not, newest fetch time; the same counts and posts lost, with reasons."""
    old = full_parse_index(reference or path)
    new = index_archive(path)
    assert list(new) == list(old)
    for key, (latest, stored, newest) in old.items():
        entry = new[key]
        assert (entry.latest.outcome, entry.latest.url) == (
            str(latest.get("outcome")),
            str(latest.get("url")),
        ), key
        assert entry.stored is (stored is not None), key
        assert entry.newest_fetched_at == newest, key
    attrition = Attrition.of(path)
    assert (dict(attrition.counts), [tuple(x) for x in attrition.lost]) == full_parse_attrition(
        reference or path
    )


def odd_lines() -> list[bytes]:
    """Archive lines an editor, a script or an attacker could leave: every way a record can
    be odd, unreadable, or readable only by the json module."""
    nodes = {"data": {"data": {"xdt_shortcode_media": None}}}
    lines = [
        record("AAAAAAAAAAA", "ok", "2026-01-02T00:00:00+00:00"),
        record("AAAAAAAAAAA", "failed"),
        record("AAAAAAAAAAA", "ok", "2026-01-01T00:00:00+00:00"),  # older than the first
        record("BBBBBBBBBBB", "unavailable", "2026-01-01") | {"response": nodes},
        record("BBBBBBBBBBB", "unavailable", "not a time") | {"response": [], "error": "boom"},
        record("CCCCCCCCCCC", "failed") | {"http_status": 500, "api_code": "0003"},
        record("CCCCCCCCCCC", "failed") | {"http_status": "500", "api_code": "x y", "error": 5},
        record("DDDDDDDDDDD", "failed") | {"error": {"class": ["APIError"], "message": None}},
        record("EEEEEEEEEEE", "unavailable", 5) | {"response": {"data": [{"error": "gone"}]}},
        record("FFFFFFFFFFF", "ok") | {"outcome": {"a": 1}, "url": 5, "channel": None},
        record("GGGGGGGGGGG", "ok") | {"shortcode": 123456789012345678901234567890},
        record("GGGGGGGGGGG", "ok") | {"shortcode": [1, {"b": 2.5}], "fetched_at": "2026-02-30"},
        record("HHHHHHHHHHH", "ok") | {"archive_version": None},
    ]
    raw = [json.dumps(line).encode() for line in lines]
    good = raw[0][:-1]
    return [
        *raw,
        b'{"archive_version": 1, "shortcode": "IIIIIIIIIII", "outcome": "ok", "x": "\xff"}',
        b'{"archive_version": 1, "shortcode": "JJJJJJJJJJJ", "outcome": "ok", "x": "\xed\xa0\x80"}',
        good + b', "shortcode": "KKKKKKKKKKK", "response": {"caption": "\\ud83d"}}',
        good + b', "shortcode": "LLLLLLLLLLL", "outcome": "unavailable", "x": NaN}',
        good + b', "shortcode": "MMMMMMMMMMM", "outcome": "failed", "x": -Infinity}',
        good + b', "shortcode": 1e400}',
        good + b', "outcome": "failed", "shortcode": "NNNNNNNNNNN", "outcome": "unavailable"}',
        b"\xef\xbb\xbf" + good.replace(b"AAAAAAAAAAA", b"OOOOOOOOOOO") + b"}",
        good.replace(b"AAAAAAAAAAA", b"PPPPPPPPPPP") + b"}\r",
        good + b', "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        good + b', "response": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"shortcode": "QQQQQQQQQQQ", "outcome": "ok"}',
        b'[{"archive_version": 1}]',
        b'"archive_version"',
        b"null",
        b"",
        b"not json",
        good + b', "shortcode": "RRRRRRRRRRR", "outcome": "unavailable", "response": {"da',
    ]


def test_item5_the_index_of_odd_lines_is_that_of_the_full_parse(tmp_path: Path) -> None:
    """Every odd line is kept or skipped, and read, as the full parse of the whole record did
    (json.loads): invalid UTF-8 msgspec would skip over, NaN and half an emoji msgspec refuses,
    duplicate keys, odd types, a BOM, deep nesting, a partial last line."""
    path = tmp_path / "odd.txt"  # not .jsonl: the suite's strict check is for written ones
    path.write_bytes(b"\n".join(odd_lines()))
    assert_same_as_full_parse(path)
    index = index_archive(path)
    assert ("IIIIIIIIIII", "None") not in index, "invalid UTF-8: json.loads refused it"
    assert ("JJJJJJJJJJJ", "None") in index, "a surrogate in UTF-8: json.loads read it"
    assert index[("NNNNNNNNNNN", "apify")].latest.outcome == "unavailable", "the last key wins"
    assert index[("inf", "apify")].latest.outcome == "ok"
    assert [k for k in index if k[0] in ("KKKKKKKKKKK", "LLLLLLLLLLL", "OOOOOOOOOOO")] == [
        ("KKKKKKKKKKK", "apify"),
        ("LLLLLLLLLLL", "apify"),
        ("OOOOOOOOOOO", "apify"),
    ]
    lost = {x.url[-12:-1]: (x.reason, x.category) for x in Attrition.of(path).lost}
    assert lost["BBBBBBBBBBB"] == (
        "no reason recorded",
        "unavailable: empty result list",
    ), "the latest stored record's reason, computed when it was read"


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_item5_the_index_of_the_demo_and_hostile_archives_is_that_of_the_full_parse(
    tmp_path: Path, demo: Path, hostile: Path, suffix: str
) -> None:
    """Also read compressed (item 4): the same as the full parse of the plain archive."""
    import gzip

    import zstandard

    for plain in (demo / "archive.jsonl", hostile):
        path = tmp_path / f"{plain.parent.name}.jsonl{suffix}"
        data = plain.read_bytes()
        if suffix == ".gz":
            data = gzip.compress(data, mtime=0)
        elif suffix == ".zst":
            data = zstandard.ZstdCompressor().compress(data)
        path.write_bytes(data)
        assert_same_as_full_parse(path, reference=plain)
    assert len(index_archive(demo / "archive.jsonl")) == 64
    assert dict(Attrition.of(hostile).counts) == {"ok": 3, "failed": 2, "unavailable": 1}


def test_item5_the_index_keeps_no_record(tmp_path: Path) -> None:
    """Only short strings and a time per key: nothing of the response stays in memory."""
    path = tmp_path / "a.jsonl"
    with ArchiveWriter(path) as writer:
        for outcome in ("ok", "unavailable", "failed"):
            big = {"data": {"xdt_shortcode_media": None}, "pad": "x" * 100_000}
            writer.append(record("AAAAAAAAAAA", outcome, "2026-01-01T00:00:00") | {"response": big})
    entry = index_archive(path)[("AAAAAAAAAAA", "apify")]
    assert entry.latest_stored is not None
    for seen in (entry.latest, entry.latest_stored):
        assert all(isinstance(value, str | datetime | None) for value in seen)
        assert sum(len(value) for value in seen if isinstance(value, str)) < 300
    assert entry.latest_stored.reason == (
        "APIError: unavailable (media node is null): deleted, private or visible only when "
        "logged in."
    )
    assert entry.latest_stored.category == "unavailable: media node is null"


# --- issue 14, item 4: compressed archives are read, never appended to


@pytest.mark.parametrize("name", ["a.jsonl.gz", "a.jsonl.zst", "new.jsonl.gz", "empty.jsonl.zst"])
def test_item4_collect_refuses_a_compressed_archive_touching_nothing(
    tmp_path: Path, fake_api: FakeAPI, name: str
) -> None:
    import gzip

    import zstandard

    plain = json.dumps(record("AAAAAAAAAAA", "ok")).encode() + b"\n"
    packed = gzip.compress(plain, mtime=0) if name.endswith(".gz") else b""
    if name == "a.jsonl.zst":
        packed = zstandard.ZstdCompressor().compress(plain)
    path = tmp_path / name
    if not name.startswith("new"):
        path.write_bytes(packed)
    if name.startswith("a."):
        assert [r["shortcode"] for r in read_archive(path)] == ["AAAAAAAAAAA"]
    suffix = path.suffix
    undo = "gunzip -k" if suffix == ".gz" else "unzstd"
    expected = (
        f"{path} is named as a compressed archive ({suffix}), and collect appends to plain "
        f"JSON Lines only: decompress it ({undo} {name}) and collect into {path.stem}, or give "
        "a name ending in .jsonl."
    )
    for attempt in (
        lambda: ArchiveWriter(path).__enter__(),
        lambda: collect(
            ["C0ffee12345"],
            archive=path,
            api_key="sk-test-archive-0123456789",
            base_url=fake_api.base_url,
            progress=False,
            dry_run=True,
        ),
        lambda: collect(
            ["C0ffee12345"],
            archive=path,
            api_key="sk-test-archive-0123456789",
            base_url=fake_api.base_url,
            progress=False,
        ),
    ):
        with pytest.raises(ArchiveFormatError) as caught:
            attempt()
        assert str(caught.value) == expected
    assert fake_api.requests == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if name.startswith("new") else [name])
    if not name.startswith("new"):
        assert path.read_bytes() == packed
