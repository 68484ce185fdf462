"""``to_tables(path)`` and ``build_tables`` give exactly the tables of reading each line alone
(``decode_line``, then ``record_rows``, the rows put together in line order), for every input:
hostile values in every declared field, odd envelopes and records, bad lines, random mixes.

Each corpus is written to a file and read both ways; every table must be equal, row for row, in
order and with the same types. Each corpus runs with documented nodes read in runs, column by
column, from the shortest run on (``tables._SHORT_RUN`` = 1), and with the default runs, so that
runs meet records of other shapes and bad lines. A failure names the lines that differ read
alone.
"""

from __future__ import annotations

import copy
import gc
import gzip
import io
import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from igresearch import __version__
from igresearch.build import build_tables
from igresearch.decode import decode_line
from igresearch.errors import ArchiveFormatError
from igresearch.extract import paths, record_rows
from igresearch.schema import SCHEMAS
from igresearch.tables import (
    _ORDER,
    Tables,
    _Builder,
    _frame,
    _nothing_recognised,
    _reduce,
    _resolve,
    read_tables,
    to_tables,
)
from igresearch.testing import envelope
from igresearch.urls import canonical_url, media_id_to_shortcode

NAMES = tuple(SCHEMAS)
FIXTURES = Path(__file__).parent / "fixtures"
FETCHED = "2026-07-01T00:00:00+00:00"


# --- reading both ways


def reference(name: str, data: bytes, *, complete_only: bool = False) -> Tables:
    """The tables of reading each line alone, as ``to_tables(path)`` built them before runs
    (and ``build_tables``, which leaves a last line without newline for later:
    `complete_only`): each line decoded by ``decode_line`` and read alone by ``record_rows``,
    the rows of all in line order, reduced as ``to_tables`` reduces them."""
    media: list[list[Any]] = []
    errors: list[tuple[Any, ...]] = []
    columns: dict[str, dict[str, list[Any]]] = {
        table: {column: [] for column in SCHEMAS[table]} for table in _ORDER if table != "media"
    }
    collecting = gc.isenabled()
    gc.disable()  # as to_tables does: the collector would only rescan the rows, slowly
    try:
        for where, record in records(name, data, complete_only=complete_only):
            rows = record_rows(where, record)
            if rows.error is not None:
                errors.append(rows.error)
                continue
            assert rows.media is not None and rows.parts is not None
            media.append(rows.media)
            for part in rows.parts:
                found, height = part.columns(), len(part.items)
                for column, values in columns[part.table].items():
                    values += found.get(column) or [None] * height
        frames = {
            "media": _frame("media", _columns("media", media), len(media)),
            "errors": _frame("errors", _columns("errors", errors), len(errors)),
            **{
                table: _frame(table, found, len(found["fetched_at"]))
                for table, found in columns.items()
            },
        }
        tables = Tables(
            **{table: _reduce(table, frames[table]) for table in _ORDER},
            errors=_resolve(frames["errors"], frames["media"]),
        )
    finally:
        if collecting:
            gc.enable()
    if _nothing_recognised(tables):
        raise ArchiveFormatError("none of its records is a response")
    return tables


def _columns(table: str, rows: list[Any]) -> dict[str, list[Any]]:
    """Rows (tuples in schema order) -> columns."""
    if not rows:
        return {column: [] for column in SCHEMAS[table]}
    return dict(zip(SCHEMAS[table], map(list, zip(*rows, strict=True)), strict=True))


def records(name: str, data: bytes, *, complete_only: bool = False) -> Iterator[tuple[str, Any]]:
    """(where, record) of each line that is not blank, as ``to_tables(path)`` reads them."""
    for number, line in enumerate(io.BytesIO(data), start=1):  # lines end at b"\n" only
        if complete_only and not line.endswith(b"\n"):
            break
        if not line.strip():
            continue
        record = decode_line(line)
        if number == 1 and not isinstance(record, dict | list):
            raise ArchiveFormatError(f"first line is not JSON: {line[:60]!r}")
        yield f"{name}:{number}", record


def builder_tables(name: str, data: bytes) -> Tables:
    """The tables of ``tables._Builder`` fed the records one by one (``to_tables`` of records
    that are not in a file)."""
    builder = _Builder()
    for where, record in records(name, data):
        builder.add(where, record)
    return builder.tables()


def differences(got: Tables, expected: Tables) -> list[str]:
    """Each table that differs, with polars' account of the first difference."""
    found = []
    for name in NAMES:
        try:
            assert_frame_equal(getattr(got, name), getattr(expected, name), check_exact=True)
        except AssertionError as error:
            found.append(f"{name}: {error}")
    return found


def culprits(lines: list[bytes], folder: Path, limit: int = 3) -> list[str]:
    """The lines that differ read alone (after one good line, so the file is an archive)."""
    found = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        data = GOOD + (line if line.endswith(b"\n") else line + b"\n")
        with written(folder, "alone.jsonl", data) as path:
            try:
                got = to_tables(path)
            except Exception as error:
                found.append(f"line {index + 1} {line[:300]!r}: to_tables raised {error!r}")
            else:
                for difference in differences(got, reference(path.name, data)):
                    found.append(f"line {index + 1} {line[:300]!r}: {difference}")
                    break
        if len(found) >= limit:
            break
    return found


@contextmanager
def written(folder: Path, name: str, data: bytes) -> Iterator[Path]:
    """`data` in the file `name` (gzip-compressed for a ``.gz`` name), removed afterwards: the
    session's check that every archive line left in a temporary folder is strict JSON would
    refuse these lines, which are malformed on purpose."""
    path = folder / name
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    try:
        yield path
    finally:
        path.unlink()


def check(
    folder: Path, lines: list[bytes], *, name: str = "archive.jsonl", text: bool = False
) -> None:
    """``to_tables`` of `lines` in a file (its path as a str with `text`) equals the reference,
    or fail naming the lines."""
    data = b"".join(lines)
    expected = reference(name, data)
    with written(folder, name, data) as path:
        try:
            got = to_tables(str(path) if text else path)
        except Exception as error:
            found = [f"to_tables raised {error!r}"]
        else:
            found = differences(got, expected)
    if found:
        alone = "\n".join(culprits(lines, folder)) or "no line differs read alone"
        pytest.fail("\n".join(found) + "\n--- lines that differ read alone:\n" + alone)


def check_build(folder: Path, lines: list[bytes], **options: Any) -> None:
    """``build_tables`` then ``read_tables`` of `lines` equals the reference."""
    data = b"".join(lines)
    expected = reference("archive.jsonl", data, complete_only=True)
    with written(folder, "archive.jsonl", data) as path:
        build_tables(path, folder / "built", **options)
    found = differences(read_tables(folder / "built"), expected)
    assert not found, "\n".join(found)


def read_in_runs(monkeypatch: pytest.MonkeyPatch, short_run: int | None) -> None:
    """Documented nodes read as runs from `short_run` nodes on (None: the default)."""
    if short_run is not None:
        monkeypatch.setattr("igresearch.tables._SHORT_RUN", short_run)


@pytest.fixture(params=[1, None], ids=["runs-from-1", "default-runs"])
def runs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every documented node read in a run, or runs as by default."""
    read_in_runs(monkeypatch, request.param)


# --- records and lines

BASE_ID = 3_600_000_000_000_000_000


def media_id(index: int) -> str:
    return str(BASE_ID + index * 1_000)


def shortcode(index: int) -> str:
    return media_id_to_shortcode(media_id(index))


def account(key: str, *, followers: int | None = 1000) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": key,
        "username": f"user_{key}",
        "full_name": f"Full Näme {key}",
        "is_verified": False,
        "is_private": False,
        "edge_owner_to_timeline_media": {"count": 42},
        "profile_pic_url": f"https://cdn.example/{key}.jpg",
    }
    if followers is not None:
        found["edge_followed_by"] = {"count": followers}
    return found


def comment(
    key: str, created: int, *, replies: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": key,
        "text": f"comment {key} 😂",
        "created_at": created,
        "owner": {"id": f"u{key}", "username": f"commenter_{key}", "is_verified": True},
        "edge_liked_by": {"count": 3},
    }
    if replies is not None:
        found["edge_threaded_comments"] = {
            "count": len(replies),
            "edges": [{"node": reply} for reply in replies],
        }
    return found


def child(index: int, position: int) -> dict[str, Any]:
    return {
        "__typename": "XDTGraphVideo",
        "id": media_id(index + position + 1),
        "shortcode": shortcode(index + position + 1),
        "is_video": True,
        "dimensions": {"height": 1920, "width": 1080},
        "video_play_count": 10 + position,
        "video_view_count": 5,
        "video_url": f"https://cdn.example/child{position}.mp4",
        "display_url": f"https://cdn.example/child{position}.jpg",
    }


def node(index: int, *, owner: str | None = None, comments: str | None = None) -> dict[str, Any]:
    """A media node of the documented GraphQL shape in which every declared path holds a value
    (two items in every list); its ids are unique to `index`."""
    taken = 1_751_404_144 + index
    key = comments or f"{index}"
    return {
        "__typename": "XDTGraphSidecar",
        "id": media_id(index),
        "shortcode": shortcode(index),
        "thumbnail_src": "https://cdn.example/thumb.jpg",
        "dimensions": {"height": 1136, "width": 640},
        "display_url": "https://cdn.example/display.jpg",
        "display_resources": [{"src": "https://cdn.example/r.jpg", "config_width": 640}],
        "dash_info": {"is_dash_eligible": True, "video_dash_manifest": "<?xml?>"},
        "has_audio": True,
        "video_url": "https://cdn.example/video.mp4",
        "video_view_count": 27_040 + index,
        "video_play_count": 1_799_817 + index,
        "product_type": "clips",
        "video_duration": 41.125,
        "clips_music_attribution_info": {
            "artist_name": "humansofny",
            "song_name": "Original audio",
            "uses_original_audio": True,
            "audio_id": "24313369781619226",
        },
        "is_video": True,
        "is_paid_partnership": False,
        "location": {"name": "Zürich", "id": "1"},
        "owner": account(owner or f"9{index:06d}", followers=12_804_266 + index),
        "coauthor_producers": [account(f"8{index:06d}"), account(f"7{index:06d}")],
        "edge_media_to_caption": {
            "edges": [
                {"node": {"text": f"caption {index} ✨\nline two", "created_at": str(taken + 1)}},
                {"node": {"text": "second caption", "created_at": "1"}},
            ]
        },
        "edge_media_to_parent_comment": {
            "count": 487,
            "edges": [
                {
                    "node": comment(
                        f"1{key}1",
                        taken + 60,
                        replies=[comment(f"1{key}2", taken + 90), comment(f"1{key}3", taken + 95)],
                    )
                },
                {"node": comment(f"1{key}4", taken + 70, replies=[])},
            ],
        },
        "edge_media_preview_comment": {
            "count": 12,
            "edges": [
                {"node": comment(f"2{key}1", taken + 61, replies=[comment(f"2{key}2", taken)])},
                {"node": comment(f"2{key}3", taken + 62)},
            ],
        },
        "edge_media_to_comment": {
            "count": 13,
            "edges": [
                {"node": comment(f"3{key}1", taken + 63, replies=[comment(f"3{key}2", taken)])},
                {"node": comment(f"3{key}3", taken + 64)},
            ],
        },
        "comment_count": 500,
        "like_and_view_counts_disabled": False,
        "edge_media_preview_like": {"count": 27_791},
        "edge_liked_by": {"count": 27_000},
        "edge_sidecar_to_children": {
            "edges": [{"node": child(index, 0)}, {"node": child(index, 1)}]
        },
        "taken_at_timestamp": taken,
        "unknown_field": {"nested": [1, "x", None, {"y": []}]},
    }


def record(
    response: Any, code: str | None, *, fetched_at: Any = FETCHED, **fields: Any
) -> dict[str, Any]:
    """The archive record ``collect`` writes for `response` (as bench_tables' ``_record``)."""
    return {
        "archive_version": 1,
        "url": canonical_url(code) if code else None,
        "shortcode": code,
        "channel": "apify",
        "requested_at": "2026-07-01T00:00:00+00:00",
        "igresearch_version": __version__,
        "outcome": "ok",
        "attempts": 1,
        "fetched_at": fetched_at,
        "http_status": 200,
        "api_code": "0000",
        "response": response,
        "error": None,
        **fields,
    }


def good(index: int, **fields: Any) -> dict[str, Any]:
    return record(envelope(node(index)), shortcode(index), **fields)


#: Raw JSON written in place of a string "@@name@@", value or key (what json.dumps cannot write).
RAW = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "1e400": "1e400",
    "-0": "-0",
    "1E2": "1E2",
    "escaped-digits": '"\\u0031\\u0032"',
    "lone-surrogate": '"a\\ud800b"',
    "surrogate-pair": '"\\ud83d\\ude02"',
    "nul-escape": '"a\\u0000b"',
    "esc-shortCode": '"\\u0073hortCode"',
    "esc-media": '"sh\\u006frtcode_media"',
}


def raw(name: str) -> str:
    return f"@@{name}@@"


def line(document: Any, end: bytes = b"\n") -> bytes:
    """One line as ``ArchiveWriter.append`` writes it, with the raw values of :data:`RAW`."""
    try:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(document, separators=(",", ":"))
    for name, token in RAW.items():
        text = text.replace(json.dumps(raw(name)), token)
    return text.encode("utf-8") + end


GOOD = line(good(999_999))


# --- 1. documented records, with everything a real archive holds


def documented_lines() -> list[bytes]:
    """Documented records with all a real archive holds, and comments without id that tie on
    every sort column of the comments table (media_id, created_at, comment_id): archive order
    must decide theirs, in every way of building."""
    lines = [line(good(index)) for index in range(3)]
    # A comment id in two connections, a reply repeating a comment id, null edges and nodes,
    # comments without id; carousels with null children; co-authors null or without username.
    shared = node(10)
    first = shared["edge_media_to_parent_comment"]["edges"][0]["node"]
    shared["edge_media_preview_comment"]["edges"].insert(0, {"node": copy.deepcopy(first)})
    shared["edge_media_to_comment"]["edges"].append({"node": copy.deepcopy(first)})
    shared["edge_media_to_comment"]["edges"][0]["node"]["edge_threaded_comments"]["edges"].append(
        {"node": copy.deepcopy(first)}
    )
    shared["edge_media_preview_comment"]["edges"] += [None, {"node": None}, {}, {"node": {}}]
    shared["edge_media_to_comment"]["edges"] += [
        {"node": {"text": "no id", "created_at": 1}},
        {"node": {"id": None, "text": "null id"}},
        {"node": {"id": None, "text": "null id again"}},
    ]
    shared["edge_sidecar_to_children"]["edges"][1:1] = [None, {"node": None}, {"node": {}}]
    shared["coauthor_producers"] += [None, {"username": ""}, {"id": "55"}, "text", {}]
    lines.append(line(record(envelope(shared), shortcode(10))))
    # Likes hidden by the flag, by -1, and counted by edge_liked_by only.
    for index, change in enumerate(
        [
            {"like_and_view_counts_disabled": True},
            {"edge_media_preview_like": {"count": -1}},
            {"like_and_view_counts_disabled": True, "edge_media_preview_like": {"count": 5}},
            {"edge_media_preview_like": None},
            {"edge_media_preview_like": {"count": None}, "edge_liked_by": {"count": -1}},
        ],
        start=20,
    ):
        likes = node(index)
        likes.update(change)
        lines.append(line(record(envelope(likes), shortcode(index))))
    # Missing fields: a node with only an id and a shortcode, one without owner or comments.
    lines.append(line(record(envelope({"id": media_id(30), "shortcode": shortcode(30)}), None)))
    sparse = node(31)
    for key in ("owner", "edge_media_to_parent_comment", "edge_media_to_caption", "dimensions"):
        del sparse[key]
    lines.append(line(record(envelope(sparse), shortcode(31))))
    # Snapshots of one post: the same fetched_at (the later record wins), earlier and later,
    # and its owner seen with and without a follower count, its comments edited.
    for step, fetched in enumerate(
        [FETCHED, FETCHED, "2026-06-30T00:00:00+00:00", FETCHED, "2026-07-02T00:00:00Z", None]
    ):
        again = node(40, owner="424242", comments="40")
        again["video_play_count"] = step
        again["edge_media_to_parent_comment"]["edges"][0]["node"]["text"] = f"edit {step}"
        again["edge_sidecar_to_children"]["edges"][0]["node"]["video_play_count"] = step
        if step % 2:
            del again["owner"]["edge_followed_by"]
            again["owner"]["full_name"] = None
        lines.append(line(record(envelope(again), shortcode(40), fetched_at=fetched)))
    # The same owner and co-author under other posts, one without counts.
    for index in (41, 42):
        other = node(index, owner="424242")
        other["coauthor_producers"][0] = account("424242", followers=None)
        lines.append(line(record(envelope(other), shortcode(index))))
    # Bare responses (no archive record) and Instagram's own envelope.
    lines.append(line(envelope(node(50))))
    lines.append(line({"data": {"xdt_shortcode_media": node(51)}, "status": "ok"}))
    lines.append(line({"data": {"shortcode_media": node(52)}}))
    return lines


def test_documented_records(tmp_path: Path, runs: None) -> None:
    check(tmp_path, documented_lines())


@pytest.mark.parametrize("short_run", [2, 10**9], ids=["runs-from-2", "no-runs"])
def test_documented_records_in_other_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short_run: int
) -> None:
    read_in_runs(monkeypatch, short_run)
    check(tmp_path, documented_lines())


def test_documented_records_built(tmp_path: Path, runs: None) -> None:
    check_build(tmp_path, documented_lines())


def test_documented_records_built_in_small_batches(tmp_path: Path, runs: None) -> None:
    check_build(tmp_path, documented_lines(), batch_records=4, merge_rows=3)


def test_documented_records_compressed(tmp_path: Path, runs: None) -> None:
    check(tmp_path, documented_lines(), name="archive.jsonl.gz")


# --- 2. every declared path, one value at a time

MISSING = object()
RAW_VALUES = [name for name in RAW if not name.startswith("esc-")]
VALUES: dict[str, Any] = {
    "digits": "12",
    "digits-long": "12345678901234567890",
    "digits-negative": "-12",
    "digits-plus": "+12",
    "digits-leading-zeros": "0012",
    "digits-spaces": " 12",
    "minus-one-text": "-1",
    "minus-one-float": -1.0,
    "true-text": "true",
    "negative": -5,
    "minus-one": -1,
    "zero": 0,
    "float-whole": 12.0,
    "float-half": 12.5,
    "float-huge": 1e16,
    "int64-max": 2**63 - 1,
    "above-int64": 2**63 + 5,
    "above-uint64": 2**64 + 5,
    "true": True,
    "empty-string": "",
    "non-ascii": "ünï 😂",
    "list": [1, "a"],
    "empty-list": [],
    "object": {"count": 1, "id": "1"},
    "empty-object": {},
    "null": None,
    "absent": MISSING,
    "iso-time": "2025-07-01T21:09:04+02:00",
    **{f"raw-{name}": raw(name) for name in RAW_VALUES},
}
#: The values an object or a list on the way to a leaf is changed to.
FOR_CONTAINERS = ("digits", "zero", "true", "list", "empty-list", "object", "empty-object")
FOR_CONTAINERS += ("null", "absent")
#: Every path of the GraphQL declarations, and every object or list on the way (``*`` and ``0``
#: change a list's first item; its second stays good).
LEAVES = sorted({path for path, _ in paths()})
TARGETS = sorted(
    {
        ".".join(steps[:end])
        for path in LEAVES
        for steps in [path.split(".")]
        for end in range(1, len(steps) + 1)
    }
)
CONTAINERS = sorted(set(TARGETS) - set(LEAVES))


def put(document: Any, target: str, value: Any) -> None:
    """Set `value` (a copy; MISSING deletes) at the dotted path `target` (``*`` or ``0``: a
    list's first item) of `document`."""
    steps = target.split(".")
    parent: Any = document
    for step in steps[:-1]:
        parent = parent[0] if step in ("*", "0") else parent[step]
    last: Any = 0 if steps[-1] in ("*", "0") else steps[-1]
    if value is MISSING:
        del parent[last]
    else:
        parent[last] = copy.deepcopy(value)


def mutated(index: int, target: str, value: Any) -> dict[str, Any]:
    changed = node(index)
    put(changed, target, value)
    return record(envelope(changed), shortcode(index))


def mutation_lines(name: str) -> list[bytes]:
    """Every leaf (and, for some values, every container) holding ``VALUES[name]``, one path
    per record."""
    targets = TARGETS if name in FOR_CONTAINERS else LEAVES
    return [GOOD] + [line(mutated(i, t, VALUES[name])) for i, t in enumerate(targets)]


@pytest.mark.parametrize("name", VALUES)
def test_every_path_holding_an_odd_value(tmp_path: Path, runs: None, name: str) -> None:
    check(tmp_path, mutation_lines(name))


TIMES: dict[str, Any] = {
    "iso": "2025-07-01T21:09:04",
    "iso-z": "2025-07-01T21:09:04Z",
    "iso-offset": "2025-07-01T23:09:04.5+02:00",
    "date": "2025-07-01",
    "digits": "1751404145",
    "digits-float": "1751404145.5",
    "digits-spaces": " 1751404145",
    "digits-arabic": "١٧٥١٤٠٤١٤٥",
    "digits-after-2100": "4102444801",
    "digits-plus": "+1751404145",
    "digits-leading-zeros": "0001751404145",
    "digits-zero": "0",
    "float-text": "1.7e9",
    "iso-space": "2025-07-01 21:09:04",
    "iso-nanoseconds": "2025-07-01T21:09:04.123456789",
    "iso-basic": "20250701T210904",
    "iso-week": "2025-W27-2",
    "iso-offset-compact": "2025-07-01T21:09:04+0200",
    "iso-offset-negative-zero": "2025-07-01T21:09:04-00:00",
    "iso-24h": "2025-07-01T24:00:00",
    "iso-before-1970": "1969-12-31T23:59:59Z",
    "int": 1751404145,
    "float": 1751404145.25,
    "after-2100": 4_102_444_801,
    "negative": -1,
    "garbage": "yesterday",
}
TIME_TARGETS = [path for path, dtype in paths() if dtype == pl.Datetime("us", "UTC")]


def test_every_time_in_every_form(tmp_path: Path, runs: None) -> None:
    lines = [GOOD]
    for number, (target, value) in enumerate(
        (t, v) for t in dict.fromkeys(TIME_TARGETS) for v in TIMES.values()
    ):
        lines.append(line(mutated(number, target, value)))
    check(tmp_path, lines)


# --- 3. envelopes: the levels around the node


LEVELS = {"response": (), "response.data": ("data",), "response.data.data": ("data", "data")}
INSERTS: dict[str, dict[str, Any]] = {
    "shortcode_media-null": {"shortcode_media": None},
    "xdt_shortcode_media-null": {"xdt_shortcode_media": None},
    "shortCode-null": {"shortCode": None},
    "shortCode": {"shortCode": "C0ffee00001"},
    "error-null-url": {"error": None, "url": "https://www.instagram.com/p/C0ffee00001/"},
    "error-url": {"error": "not found", "url": "https://www.instagram.com/p/C0ffee00001/"},
    "shortcode-id": {"shortcode": "C0ffee00001", "id": "1"},
    "shortcode-only": {"shortcode": "C0ffee00001"},
    "graphql": {"graphql": {"shortcode_media": {"id": "5", "shortcode": "F"}}},
    "graphql-empty": {"graphql": {}},
    "items": {"items": [{"pk": "5", "code": "F", "media_type": 2}]},
    "items-empty": {"items": []},
    "items-not-list": {"items": {"pk": "5"}},
    "data-null": {"data": None},
    "data-list": {"data": []},
    "escaped-shortCode": {raw("esc-shortCode"): None},
    "escaped-shortcode_media": {raw("esc-media"): None},
    "errors": {"errors": [{"message": "Please wait a few minutes"}]},
    "status-fail": {"status": "fail", "message": "throttled"},
}


def inserted(index: int, level: tuple[str, ...], insert: dict[str, Any]) -> dict[str, Any]:
    response = envelope(node(index))
    where = response
    for key in level:
        where = where[key]
    for key, value in insert.items():
        where[key] = copy.deepcopy(value)  # a raw key: written with a JSON escape
    return record(response, shortcode(index))


def envelope_lines() -> list[bytes]:
    lines = [GOOD]
    number = 0
    for level in LEVELS.values():
        for insert in INSERTS.values():
            lines.append(line(inserted(number, level, insert)))
            number += 1
            # The same oddity around a null node.
            nulled = inserted(number, level, insert)
            inner = (nulled["response"].get("data") or {}).get("data")
            if isinstance(inner, dict):
                inner["xdt_shortcode_media"] = None
            lines.append(line(nulled))
            number += 1
    return lines


ENVELOPE_FIELDS: dict[str, dict[str, Any]] = {
    "code-0000": {"code": "0000"},
    "code-0": {"code": "0"},
    "code-200": {"code": 200},
    "code-0200": {"code": "0200"},
    "code-empty": {"code": ""},
    "code-0401": {"code": "0401"},
    "code-401": {"code": 401},
    "code-null": {"code": None},
    "code-text": {"code": "oops"},
    "code-list": {"code": [0]},
    "success-false": {"success": False},
    "success-False": {"success": "False"},
    "success-true-text": {"success": "true"},
    "success-0": {"success": 0},
    "success-null": {"success": None},
    "failed-true": {"failed": True},
    "failed-True": {"failed": "True"},
    "failed-1": {"failed": 1},
    "failed-null": {"failed": None},
    "msg-object": {"msg": {"a": 1}},
}
NODES: dict[str, Any] = {
    "empty": {},
    "typename-only": {"__typename": "XDTGraphVideo"},
    "invalid-shortcode": {"shortcode": "!!bad!!", "__typename": "XDTGraphVideo"},
    "invalid-shortcode-id": {"shortcode": "!!bad!!", "id": "17"},
    "shortcode-too-long": {"shortcode": "A" * 40},
    "id-mismatch": {"id": "1", "shortcode": "C0ffee00001"},
    "id-with-owner": {"id": "3600000000000000000_42", "shortcode": "C0ffee00001"},
    "shortcode-only": {"shortcode": "C0ffee00001"},
    "id-only": {"id": "77"},
    "id-int": {"id": 77},
    "id-float": {"id": 77.0},
    "list": [],
    "list-of-node": [{"id": "5"}],
    "text": "node",
    "zero": 0,
    "false": False,
    "true": True,
}


def envelope_field_lines() -> list[bytes]:
    lines = [GOOD]
    for number, fields in enumerate(ENVELOPE_FIELDS.values()):
        response = envelope(node(number))
        response.update(fields)
        lines.append(line(record(response, shortcode(number))))
        del response["code"]
        lines.append(line(record(response, shortcode(number), fetched_at=None)))
    for number, value in enumerate(NODES.values(), start=100):
        for key in ("xdt_shortcode_media", "shortcode_media"):
            response = envelope(None)
            del response["data"]["data"]["xdt_shortcode_media"]
            response["data"]["data"][key] = copy.deepcopy(value)
            lines.append(line(record(response, shortcode(number))))
    both = envelope(node(200))
    both["data"]["data"] = {"shortcode_media": node(201), "xdt_shortcode_media": None}
    lines.append(line(record(both, shortcode(200))))
    both = envelope(node(202))
    both["data"]["data"] = {"xdt_shortcode_media": node(203), "shortcode_media": node(204)}
    lines.append(line(record(both, shortcode(202))))
    lines.append(line(record({"data": {"data": node(205)}}, shortcode(205))))  # a bare node
    lines.append(line(record(node(206), shortcode(206))))
    lines.append(line(record([envelope(node(207))], shortcode(207))))
    lines.append(line(record({"graphql": {"shortcode_media": node(208)}}, shortcode(208))))
    for number, fixture in enumerate(sorted(FIXTURES.glob("*.json")), start=300):
        response = json.loads(fixture.read_text(encoding="utf-8"))
        lines.append(line(record(response, f"C0ffee00{number}")))
        lines.append(line(response))
    return lines


def test_envelope_oddities(tmp_path: Path, runs: None) -> None:
    check(tmp_path, envelope_lines())


def test_envelope_fields_and_nodes(tmp_path: Path, runs: None) -> None:
    check(tmp_path, envelope_field_lines())


# --- 4. records and lines


def record_level_lines() -> list[bytes]:
    bare = envelope(node(1))
    lines = [
        GOOD,
        line(record(None, shortcode(2), outcome="failed", error={"message": "HTTP 500"})),
        line(record(None, shortcode(3), outcome="failed", error="text", fetched_at=None)),
        line(record(None, None, outcome="failed", error=None)),
        line(record(envelope(None), shortcode(4), outcome="unavailable")),
        line(bare),
        line({**bare, "archive_version": None}),
        line({"archive_version": 1, "response": envelope(node(5))}),
        line({"archive_version": 1}),
        line({"archive_version": "1", "response": envelope(node(6)), "shortcode": 6}),
        line(good(7, channel=7)),
        line(good(8, shortcode=None, channel=None)),
        line(good(9, shortcode=["x"], channel={"a": 1})),
        line(good(10, shortcode="ünïcode", channel="😂")),
        b"\n",
        b"   \t  \n",
        b"\r\n",
        line(good(11), end=b"\r\n"),
        b"  " + line(good(12)),
        line(good(13))[:-1] + b"   \n",
        b"\xef\xbb\xbf" + line(good(14)),  # a byte order mark
        b"not json at all\n",
        b"{\n",
        b"null\n",
        b"123\n",
        b'"text"\n',
        b"[]\n",
        b"{}\n",
        line([good(15)]),
        line([envelope(node(16)), envelope(node(17))]),
        line(good(18))[:-1] + line(good(19)),  # two documents on one line
        line(good(20))[:-1] + b" " + line(good(21)),
        line(good(22))[:-1] + b"," + b"\n",
        line(good(23))[:-2] + b",}\n",  # a trailing comma
        line(good(24)).replace(b'"response":', b'"response":null,"response":', 1),
        line(good(25)).replace(b'"response":', b'"response":{"code":"0401"},"response":', 1),
        line(good(26)).replace(b'"fetched_at":', b'"fetched_at":"junk","fetched_at":', 1),
        line(good(27)).replace(b'"id":"', b'"id":"1","id":"', 1),
        line(good(28)).replace(b'"count":', b'"count":"x","count":', 1),
        line(good(29)).replace(
            b'"xdt_shortcode_media":', b'"xdt_shortcode_media":null,"xdt_shortcode_media":', 1
        ),
        line(good(61)).replace(b'}},"extensions"', b'},"xdt_shortcode_media":null},"extensions"'),
        line(good(30)).replace(b'"code":"0000"', b'"code":"0401","code":"0000"', 1),
        line(good(31)).replace(b'"archive_version":1,', b"", 1),
        b'{"a":1,"a":2}\n',
        b"[" * 100_000 + b"]" * 100_000 + b"\n",
        line({"archive_version": 1, "response": {"data": [[[[[[[[[[[[[[{}]]]]]]]]]]]]]]}}),
        line(good(32, caption=raw("lone-surrogate"))),
        line(record(envelope({**node(33), "__typename": raw("lone-surrogate")}), shortcode(33))),
        line(
            record(
                envelope(
                    {**node(34), "owner": {**account("34"), "username": raw("lone-surrogate")}}
                ),
                shortcode(34),
            )
        ),
        line(good(35)).replace(b"caption 35", b"\xed\xa0\x80 caption"),  # UTF-8 surrogate
        line(good(36)).replace(b"caption 36", b"\xff\xfe caption"),  # not UTF-8
        line(good(37)).replace(b"caption 37", b"\xc0\xaf caption"),  # overlong
        line(good(38)).replace(b"caption 38", b"tab\tin caption"),  # raw control
        line(good(39)).replace(b"caption 39", b"raw\x01control"),
        line(good(40)).replace(b"caption 40", b"raw\x00nul"),
        line(good(41)).replace(b"caption 41", b"\\u0000 \\u001b[31m \x7f \xe2\x80\xa8"),
        line(good(42)).replace(b'"text":"caption', b'"text":"\\"\\\\\\/\\b\\f\\n\\r\\t caption', 1),
        line(good(43, fetched_at="2026-07-01T00:00:00")),
        line(good(44, fetched_at="2026-07-01T02:00:00+02:00")),
        line(good(45, fetched_at="2026-07-01T00:00:00.123456Z")),
        line(good(46, fetched_at="1782864000")),
        line(good(47, fetched_at=1_782_864_000)),
        line(good(48, fetched_at=1_782_864_000.5)),
        line(good(49, fetched_at="garbage")),
        line(good(50, fetched_at="")),
        line(good(51, fetched_at=None)),
        line(good(52, fetched_at=-1)),
        line(good(53, fetched_at=True)),
        line(good(54, fetched_at={"t": 1})),
        line(good(55, fetched_at=raw("NaN"))),
        line(good(56, http_status="x", api_code=None, outcome=None, attempts=raw("1e400"))),
        line(good(57, extra=[raw("NaN"), raw("-0")])),
        line(good(58, shortcode=raw("escaped-digits"))),
        line(good(59)),
        *(line(good(100 + n, fetched_at=value)) for n, value in enumerate(TIMES.values())),
    ]
    lines.append(line(good(60))[:-1])  # a partial last line, without newline
    return lines


def record_level_lines_fixed() -> list[bytes]:
    """:func:`record_level_lines` with its last line complete."""
    lines = record_level_lines()
    return [*lines[:-1], lines[-1] + b"\n"]


def test_record_level_oddities(tmp_path: Path, runs: None) -> None:
    check(tmp_path, record_level_lines())


def test_record_level_oddities_built(tmp_path: Path, runs: None) -> None:
    check_build(tmp_path, record_level_lines())


def test_record_level_oddities_complete(tmp_path: Path, runs: None) -> None:
    check(tmp_path, record_level_lines_fixed())


@pytest.mark.parametrize(
    "lines",
    [
        [b"not json\n", GOOD],
        [b"null\n", GOOD],
        [b"\xef\xbb\xbf" + GOOD],
        [b"\n", b"null\n", GOOD],
        [GOOD[:-1]],
        [b"[]\n"],
        [line({"a": 1})],
        [line(record(None, None, outcome="failed")), line(envelope(None))],
    ],
    ids=[
        "first-not-json",
        "first-null",
        "bom",
        "blank-then-null",
        "partial-only",
        "empty-list",
        "no-shape",
        "no-media",
    ],
)
def test_files_refused_or_not_alike(tmp_path: Path, runs: None, lines: list[bytes]) -> None:
    """A file ``to_tables`` refuses is refused by both, and one it reads gives the same tables."""
    data = b"".join(lines)
    with written(tmp_path, "archive.jsonl", data) as path:
        try:
            expected = reference(path.name, data)
        except ArchiveFormatError:
            with pytest.raises(ArchiveFormatError):
                to_tables(path)
        else:
            assert not differences(to_tables(path), expected)


# --- 5. a seeded mix


def mixed_lines(seed: int, count: int, *, bad: float = 0.25, mutate: float = 0.35) -> list[bytes]:
    """Good and bad lines interleaved (a share `bad` of bad lines, `mutate` of records with one
    odd value): few posts, owners, comment ids and fetch times, so that snapshots, ties and
    merges meet across runs."""
    rng = random.Random(seed)
    odd = record_level_lines_fixed()[1:] + envelope_lines()[1:] + envelope_field_lines()[1:]
    times = [FETCHED, "2026-07-02T00:00:00+00:00", "2026-06-30T00:00:00Z", None, 1_782_864_000]
    lines = [GOOD]
    for _ in range(count):
        roll = rng.random()
        if roll < bad:
            lines.append(rng.choice(odd))
            continue
        index = rng.randrange(8)
        changed = node(index, owner=f"{rng.randrange(4)}", comments=f"{rng.randrange(4)}")
        changed["video_play_count"] = rng.randrange(1000)
        if rng.random() < 0.3:
            del changed["owner"]["edge_followed_by"]
        if roll < bad + mutate:
            with suppress(KeyError, IndexError, TypeError):
                put(changed, rng.choice(TARGETS), rng.choice(list(VALUES.values())))
        response: Any = envelope(changed)
        if rng.random() < 0.1:
            response = response["data"]
        fetched = rng.choice(times)
        lines.append(line(record(response, shortcode(index), fetched_at=fetched)))
    return lines


MIX_RUNS = {"default-runs": None, "runs-from-1": 1, "runs-from-3": 3}


MIXES = {"seed-1": (1, 0.25), "seed-2": (2, 0.25), "seed-3-long-good-runs": (3, 0.01)}


@pytest.mark.parametrize(("seed", "bad"), MIXES.values(), ids=MIXES.keys())
@pytest.mark.parametrize("short_run", MIX_RUNS.values(), ids=MIX_RUNS.keys())
def test_a_seeded_mix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, bad: float, short_run: int | None
) -> None:
    read_in_runs(monkeypatch, short_run)
    check(tmp_path, mixed_lines(seed, 300, bad=bad, mutate=0.1), text=seed == 2)


@pytest.mark.parametrize(
    ("short_run", "batches"),
    [(None, {}), (1, {"batch_records": 37, "merge_rows": 50})],
    ids=["default-runs", "runs-from-1-small-batches"],
)
def test_a_seeded_mix_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short_run: int | None, batches: dict[str, int]
) -> None:
    read_in_runs(monkeypatch, short_run)
    check_build(tmp_path, mixed_lines(4, 300), **batches)


# --- the builder of to_tables for records that are not in a file

#: Odd values that the documented shape's typed decoding takes: long runs of nodes it decodes.
TYPED_VALUES = ("null", "absent")

CORPORA = {
    "documented": documented_lines,
    "envelopes": envelope_lines,
    "envelope-fields": envelope_field_lines,
    "record-level": record_level_lines_fixed,
    "mix": lambda: mixed_lines(5, 300),
    "mix-long-good-runs": lambda: mixed_lines(6, 300, bad=0.01, mutate=0.05),
    **{f"mutations-{name}": partial(mutation_lines, name) for name in TYPED_VALUES},
}


@pytest.mark.parametrize("corpus", CORPORA.values(), ids=CORPORA.keys())
def test_the_builder_fed_records_is_the_reference(corpus: Callable[[], list[bytes]]) -> None:
    """``tables._Builder``, which reads runs of documented nodes column by column, gives the
    tables of reading each record alone."""
    data = b"".join(corpus())
    found = differences(builder_tables("archive.jsonl", data), reference("archive.jsonl", data))
    assert not found, "\n".join(found)
