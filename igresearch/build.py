"""An archive -> a folder of parquet tables, in bounded memory, converting only what is new.

:func:`build_tables` writes the tables :func:`igresearch.tables.to_tables` returns, value for
value and in the same order, without holding the archive's rows in memory:

1. **Convert.** The archive's complete lines (ending in a newline; a collection may still be
   writing the last one) that no earlier build converted are read in batches of
   `batch_records` records. Each batch goes through the builder of ``to_tables`` and is kept
   in ``OUT/.igresearch/batches/`` as one parquet file per table: media, comments and children
   already reduced to the latest snapshot of each key within the batch, owners and errors as
   they came, and the (shortcode, channel) pairs the batch stored an answer for.
2. **Merge.** Each keyed table is rebuilt from all batches a range of its first sort column at
   a time (ranges of about `merge_rows` rows), by the very reduction ``to_tables`` applies, and
   written to ``OUT/<table>.parquet`` one row group per range. Errors are resolved (see
   ``errors.resolved``) batch by batch against every stored (shortcode, channel).

``OUT/.igresearch/manifest.json`` records the prefix of the archive converted: its size, lines,
records and SHA-256. The next build checks that the archive still begins with that prefix and
converts only what follows; if it does not (an edited or shorter archive, another file), it
converts the whole archive again and says why (:attr:`Build.rebuilt`).

One build of a folder at a time: a build holds the lock of ``OUT/.igresearch/lock`` (see
:func:`igresearch.files.take_lock`) and another build of `out` is refused at once.

Memory grows with the distinct posts, comments and accounts (the merge counts rows per key and
collects the stored pairs), and with `batch_records` and `merge_rows`, not with snapshots.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from .datapackage import datapackage
from .decode import decode_line
from .errors import TablesLockedError
from .files import atomic_path, make_folder, take_lock, write_text
from .lines import LINE_LIMIT, preview
from .metrics import latest
from .schema import SCHEMA_VERSION, SCHEMAS
from .tables import (
    _ORDER,
    _SAFE,
    _SAFE_TEXT,
    _Builder,
    _check_file,
    _not_responses,
    _reduce,
    _resolve,
    _to_csv_frame,
)

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

__all__ = ["STATE", "Build", "build_tables"]

#: The folder, inside the tables folder, of the converted batches and their manifest.
STATE = ".igresearch"
_STATE_VERSION = 1  # bump when batch files change meaning: older ones are then rebuilt
_NAMES = tuple(SCHEMAS)
_PAIR = ["shortcode", "channel"]
_STORED = pl.Schema({column: SCHEMAS["errors"][column] for column in _PAIR})
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Build:
    """What :func:`build_tables` did."""

    #: The files written, as :meth:`igresearch.tables.Tables.write` returns them.
    paths: list[Path]
    #: Rows of each table written.
    rows: dict[str, int]
    #: Records (non-blank lines) converted by this build.
    converted: int
    #: Records converted by earlier builds and reused.
    reused: int
    #: Why the batches of earlier builds were dropped, or None (none, or all reused).
    rebuilt: str | None
    #: Wall-clock seconds of the two steps: "convert" (the prefix check included) and "merge".
    seconds: dict[str, float]


def build_tables(
    archive: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    format: Literal["parquet", "csv"] = "parquet",
    spreadsheet_safe: bool = False,
    batch_records: int = 20_000,
    merge_rows: int = 100_000,
) -> Build:
    """Write the tables of a JSON Lines archive (or file of responses) to `out`, converting
    only the records the previous build of `out` did not.

    Parameters
    ----------
    archive
        An igresearch archive, or a JSON Lines file of responses, as for
        :func:`~igresearch.tables.to_tables`; its last line is left for the next build while
        it has no newline (a collection is still writing it).
    out
        The tables folder: ``<table>.parquet`` (or ``<table>.csv`` and ``datapackage.json``,
        as :meth:`~igresearch.tables.Tables.write` writes them), and ``.igresearch/``, what the
        next build reuses. Files are created 0600, folders 0700.
    format, spreadsheet_safe
        As for :meth:`~igresearch.tables.Tables.write`. CSVs are converted from parquet tables
        kept in ``.igresearch/tables/``, in batches.
    batch_records, merge_rows
        Records per converted batch, and rows per range of the merge: what memory grows with.

    Returns
    -------
    Build
        The files written, rows per table, records converted and reused, and whether (and why)
        earlier batches were dropped.

    Raises
    ------
    TablesLockedError
        When another build is writing `out`; nothing is written.
    ArchiveFormatError
        When `archive` holds neither an archive nor responses (its first line is not JSON:
        nothing is written; none of its records is one: no table is written).
    ValueError
        For a ``.json`` file, a document read whole: ``to_tables(archive).write(out)``.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from igresearch.build import build_tables
    >>> from igresearch.testing import FakeAPI
    >>> folder = Path(tempfile.mkdtemp())
    >>> archive = folder / "responses.jsonl"
    >>> _ = archive.write_text(json.dumps(FakeAPI.media_for("DLlGZiCOBQ0")) + "\\n")
    >>> built = build_tables(archive, folder / "tables")
    >>> built.rows, built.converted, built.rebuilt
    ({'media': 1, 'comments': 1, 'owners': 1, 'children': 0, 'errors': 0}, 1, None)
    >>> with archive.open("a") as more:
    ...     _ = more.write(json.dumps(FakeAPI.media_for("C0ffee00001")) + "\\n")
    >>> again = build_tables(archive, folder / "tables")
    >>> again.converted, again.reused, again.rows["media"]
    (1, 1, 2)
    """
    if format not in ("parquet", "csv"):
        raise ValueError(f"Unknown format {format!r}: use 'parquet' or 'csv'.")
    if spreadsheet_safe and format != "csv":
        raise ValueError("spreadsheet_safe is for format='csv'; parquet is always exact.")
    if batch_records < 1 or merge_rows < 1:
        raise ValueError("batch_records and merge_rows must be at least 1.")
    source, target = Path(archive), Path(out)
    _check_file(source)
    if source.suffix == ".json":
        raise ValueError(
            f"{source} is a JSON document, read whole: write its tables with "
            "to_tables(path).write(folder). build_tables reads JSON Lines."
        )
    _check_first(source)  # before anything is written, even the lock
    state = target / STATE
    _make_state(state)
    busy = TablesLockedError(
        f"Another build is writing the tables in {target} (lock {state / 'lock'}). Wait for "
        "it to finish, or stop it; two builds would mix their batches."
    )
    lock = take_lock(state / "lock", busy)
    try:
        started = time.perf_counter()
        manifest, digest, rebuilt = _reusable(source, state / "manifest.json")
        reused = manifest["records"]
        manifest = _convert(source, state, manifest, digest, batch_records)
        converted = time.perf_counter()
        paths, rows = _merge(
            source, target, manifest["batches"], format, spreadsheet_safe, merge_rows
        )
    finally:
        lock.release()
    return Build(
        paths=paths,
        rows=rows,
        converted=manifest["records"] - reused,
        reused=reused,
        rebuilt=rebuilt,
        seconds={"convert": converted - started, "merge": time.perf_counter() - converted},
    )


# --- convert: the new complete lines, batch by batch


def _fresh(source: Path) -> dict[str, Any]:
    return {
        "state_version": _STATE_VERSION,
        "schema_version": SCHEMA_VERSION,
        "archive": source.name,  # error rows name their record by file name and line
        "bytes": 0,
        "lines": 0,
        "records": 0,
        "sha256": hashlib.sha256().hexdigest(),
        "batches": 0,
    }


def _reusable(source: Path, path: Path) -> tuple[dict[str, Any], Hash, str | None]:
    """The manifest to continue from, the hash of the archive's prefix it names (to go on
    with), and why the previous manifest cannot be continued (None: it can, or there was none)."""
    fresh, digest = _fresh(source), hashlib.sha256()
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return fresh, digest, None
    except ValueError:
        return fresh, digest, "its manifest is unreadable"
    if not isinstance(manifest, dict) or set(manifest) != set(fresh):
        return fresh, digest, "its manifest is unreadable"
    if manifest["state_version"] != _STATE_VERSION or manifest["schema_version"] != SCHEMA_VERSION:
        return fresh, digest, "it was built by another version of igresearch"
    if manifest["archive"] != source.name:
        why = f"it was built from {manifest['archive']!r}, not {source.name!r}"
        return fresh, digest, why
    size = manifest["bytes"]
    if source.stat().st_size < size:
        why = f"the archive is shorter than the {size} bytes converted before"
        return fresh, digest, why
    with source.open("rb") as stream:
        while remaining := size - stream.tell():
            chunk = stream.read(min(_CHUNK, remaining))
            if not chunk:  # cut while being read
                return fresh, hashlib.sha256(), "the archive got shorter while being read"
            digest.update(chunk)
    if digest.hexdigest() != manifest["sha256"]:
        why = f"the archive's first {size} bytes changed: it was not only appended to"
        return fresh, hashlib.sha256(), why
    return manifest, digest, None


def _convert(
    source: Path, state: Path, manifest: dict[str, Any], digest: Hash, batch_records: int
) -> dict[str, Any]:
    """Convert the complete lines after the manifest's prefix (whose hash is `digest`) into
    new batches; write and return the manifest of the longer prefix."""
    manifest = dict(manifest)
    if not manifest["batches"]:  # from scratch: a half rebuild must never pass for the old one
        (state / "manifest.json").unlink(missing_ok=True)
    builder, pending = _Builder(), 0
    collecting = gc.isenabled()
    gc.disable()  # rows hold no cycles; the collector would only rescan millions of them
    try:
        with source.open("rb") as stream:
            stream.seek(manifest["bytes"])
            for line in stream:
                if not line.endswith(b"\n"):  # still being written: the next build takes it
                    break
                manifest["lines"] += 1
                manifest["bytes"] += len(line)
                digest.update(line)
                if not line.strip():
                    continue
                builder.add(f"{source.name}:{manifest['lines']}", decode_line(line))
                pending += 1
                if pending == batch_records:
                    _write_batch(state, manifest["batches"], builder.frames())
                    manifest["batches"] += 1
                    manifest["records"] += pending
                    builder, pending = _Builder(), 0
        if pending:
            _write_batch(state, manifest["batches"], builder.frames())
            manifest["batches"] += 1
            manifest["records"] += pending
    finally:
        if collecting:
            gc.enable()
    manifest["sha256"] = digest.hexdigest()
    _make_state(state)
    write_text(state / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _drop_stale_batches(state / "batches", manifest["batches"])
    return manifest


def _make_state(state: Path) -> None:
    """The tables folder and its state folder, each 0700 when new (``mkdir(parents=True)``
    would make the tables folder by the umask)."""
    make_folder(state.parent)
    make_folder(state)


def _check_first(source: Path) -> None:
    """Refuse a file whose first line is not JSON, as ``to_tables`` does (a blank line is no
    record; a last line still being written is checked as it is)."""
    with source.open("rb") as stream:
        line = stream.readline(LINE_LIMIT)
    if not line or (line.endswith(b"\n") and line.isspace()):
        return
    if not isinstance(decode_line(line), dict | list):
        raise _not_responses(source, f"its first line is {preview(line.rstrip())}")


def _batch(state: Path, index: int, name: str) -> Path:
    return state / "batches" / f"{index:06d}-{name}.parquet"


def _write_batch(state: Path, index: int, frames: dict[str, pl.DataFrame]) -> None:
    """One batch's rows -> its files. Keyed tables are sorted by their first sort column
    (stably: a key's rows stay in archive order), so the merge reads only the row groups of a
    range; media, comments and children are reduced to one row per key already."""
    batch = {"errors": frames["errors"], "stored": _stored(frames["errors"], frames["media"])}
    for name, (key, order) in _ORDER.items():
        rows = frames[name] if name == "owners" else latest(frames[name], by=key)
        batch[name] = rows.sort(order[0], nulls_last=False, maintain_order=True)
    _make_state(state)
    for name, frame in batch.items():
        with atomic_path(_batch(state, index, name)) as temporary:
            frame.write_parquet(temporary, row_group_size=2_000)


def _stored(errors: pl.DataFrame, media: pl.DataFrame) -> pl.DataFrame:
    """The (shortcode, channel) pairs that some record answered: what ``resolved`` looks up."""
    unavailable = errors.filter(pl.col("kind") == "unavailable").select(_PAIR)
    return pl.concat([media.select(_PAIR), unavailable]).drop_nulls().unique(maintain_order=True)


def _drop_stale_batches(folder: Path, count: int) -> None:
    """Remove batch files the manifest does not list (an earlier build's, or an interrupted
    one's)."""
    for path in folder.glob("*.parquet"):
        match = re.fullmatch(r"(\d{6})-\w+\.parquet", path.name)
        if match is None or int(match[1]) >= count:
            path.unlink()


# --- merge: the batches -> the tables


def _merge(
    source: Path, target: Path, batches: int, fmt: str, spreadsheet_safe: bool, merge_rows: int
) -> tuple[list[Path], dict[str, int]]:
    state = target / STATE

    def files(name: str) -> list[Path]:
        return [_batch(state, index, name) for index in range(batches)]

    _check_recognised(source, files("media"), files("errors"))
    folder = state / "tables" if fmt == "csv" else target
    metadata = {"igresearch.schema_version": SCHEMA_VERSION}
    paths, rows = [], {}
    for name in _NAMES:
        path = folder / f"{name}.parquet"
        keys = metadata | {"igresearch.table": name}
        with atomic_path(path) as temporary, _parquet(temporary, name, keys) as write:
            parts: Iterator[pl.DataFrame]
            if name == "errors":
                stored = _scan(files("stored"), "stored").unique().collect()
                parts = (_resolve(pl.read_parquet(f), stored) for f in files("errors"))
            else:
                parts = _ranges(name, _scan(files(name), name), merge_rows)
            rows[name] = sum(write(part) for part in parts)
        paths.append(path)
    if fmt == "parquet":
        return paths, rows
    paths = []
    for name in _NAMES:
        paths.append(target / f"{name}.csv")
        _write_csv(folder / f"{name}.parquet", paths[-1], spreadsheet_safe)
    frames = {name: pl.scan_parquet(folder / f"{name}.parquet") for name in _NAMES}
    package = datapackage(frames, spreadsheet_safe=spreadsheet_safe)
    paths.append(write_text(target / "datapackage.json", package))
    if spreadsheet_safe:
        paths.append(write_text(target / _SAFE, _SAFE_TEXT))
    else:  # exact CSVs now: a marker left from before would corrupt them
        (target / _SAFE).unlink(missing_ok=True)
    return paths, rows


def _scan(files: list[Path], name: str) -> pl.LazyFrame:
    """The rows of the batch files of `name` (a table, or "stored"), in batch order."""
    if files:
        return pl.scan_parquet(files)
    return pl.LazyFrame(schema=_STORED if name == "stored" else SCHEMAS[name])


def _check_recognised(source: Path, media: list[Path], errors: list[Path]) -> None:
    """Refuse, as ``to_tables`` does, a file of which no record is a response or an archive
    record, before any table is written."""
    if not errors or _scan(media, "media").select(pl.len()).collect().item():
        return
    kinds = _scan(errors, "errors").select(
        pl.len(), (pl.col("kind") == "malformed").all(), pl.col("reason").first()
    )
    count, malformed, reason = kinds.collect().row(0)
    if count and malformed:
        raise _not_responses(source, f"none of its records is one ({reason})")


def _ranges(name: str, rows: pl.LazyFrame, merge_rows: int) -> Iterator[pl.DataFrame]:
    """The table `name` from all its batches' `rows`, in ranges of its first sort column."""
    column = _ORDER[name][1][0]
    counts = rows.group_by(column).len().sort(column, nulls_last=False).collect()
    ranges = [pl.col(column).is_null()] if counts[column].has_nulls() else []
    bounds = (
        counts.drop_nulls(column)
        .group_by((pl.col("len").cum_sum() - pl.col("len")) // merge_rows, maintain_order=True)
        .agg(low=pl.col(column).first(), high=pl.col(column).last())
    )
    ranges += [
        pl.col(column).is_between(pl.lit(low), pl.lit(high))
        for low, high in bounds.select("low", "high").iter_rows()
    ]
    settled = pl.DataFrame(schema=SCHEMAS[name])
    if name == "comments":  # the key is comment_id, the range media_id: settle ids of 2 posts
        rows, settled = _settle_shared_comments(rows)
    for inside in ranges:
        yield _reduce(name, pl.concat([rows.filter(inside).collect(), settled.filter(inside)]))


def _settle_shared_comments(rows: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """The comments whose id no other post's comment has, and the latest snapshot of each id
    that comes with several posts (edited archives): then every range holds all of its ids."""
    shared = (
        rows.filter(pl.col("comment_id").is_not_null())
        .group_by("comment_id")
        .agg(pl.col("media_id").n_unique())
        .filter(pl.col("media_id") > 1)
        .select("comment_id")
        .collect()
    )
    if shared.is_empty():
        return rows, pl.DataFrame(schema=SCHEMAS["comments"])
    ids = shared["comment_id"].implode()
    inside = pl.col("comment_id").is_in(ids).fill_null(False)
    return rows.filter(~inside), latest(rows.filter(inside).collect(), by="comment_id")


@contextmanager
def _parquet(
    path: Path, name: str, metadata: dict[str, str]
) -> Iterator[Callable[[pl.DataFrame], int]]:
    """A writer of the table `name` to `path`, a row group per frame given, as
    ``Tables.write`` writes it (pyarrow, zstd, `metadata` in the file and the Arrow schema)."""
    import pyarrow.parquet as pq

    schema = pl.DataFrame(schema=SCHEMAS[name]).to_arrow().schema.with_metadata(metadata)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:

        def write(frame: pl.DataFrame) -> int:
            if frame.height:
                writer.write_table(frame.to_arrow().replace_schema_metadata(metadata))
            return frame.height

        yield write


def _write_csv(parquet: Path, path: Path, spreadsheet_safe: bool) -> None:
    """The CSV of a parquet table, as ``Tables.write`` writes it, converted batch by batch."""
    import pyarrow.parquet as pq

    with atomic_path(path) as temporary, temporary.open("wb") as stream:
        batches = pq.ParquetFile(parquet).iter_batches(batch_size=50_000)
        first = True
        for batch in batches:
            frame = pl.DataFrame(pl.from_arrow(batch))
            _to_csv_frame(frame, spreadsheet_safe).write_csv(stream, include_header=first)
            first = False
        if first:
            name = parquet.stem
            _to_csv_frame(pl.DataFrame(schema=SCHEMAS[name])).write_csv(stream)
