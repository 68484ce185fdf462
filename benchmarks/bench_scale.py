"""Benchmark a long longitudinal study: build, grow, re-plan and query a large archive.

Run from the repository root (not part of ``make test``; ``make bench`` runs it with
``--records $(SCALE_RECORDS)``, 200,000 unless given)::

    .venv/bin/python benchmarks/bench_scale.py [--records 1000000] [--repeat 3]

The archive (generated once, deterministically, into ``benchmarks/out/``, after a check of the
free disk) is a study of ``records / 100`` reels, each fetched once a day for 100 days, as
``collect --refresh-older-than 24h`` would write it: every record wrapped as collect wraps it,
responses of the documented shape with the sizes of ``bench_tables.py`` (long signed CDN URLs,
0-50 comments and replies, now at least one on every reel), counts growing day by day, and about
1% failed and 0.5% unavailable records. Each step runs in its own subprocess, which reports its
own time (after imports) and peak RSS (``VmHWM``, so the interpreter and its imports
included):

- ``full build``: ``igresearch.build_tables(archive, DIR)`` from scratch, its two steps apart;
- ``incremental``: the same after the archive grew by 1% (day 101: a new snapshot of every
  reel), conversion (the check of the old prefix included) and merge reported apart; the
  archive is cut back to its size afterwards, so the next run reuses it;
- ``plan``: ``igresearch.collect(every reel, refresh_older_than=24h, dry_run=True)``;
- ``query``: ``engagement_by_owner`` on ``pl.scan_parquet(DIR/"media.parquet")`` (collected first
  while ``metrics`` takes DataFrames only), beside pandas reading the same parquet file;
- references measured in the same run: ``floor`` (``orjson.loads`` of every line, the least any
  reader of the archive must do) and, up to 300,000 records unless ``--reference``,
  ``to_tables(archive).write(DIR)`` (how ``tables --out`` worked before; its memory grows
  with the archive).

Times of repeated steps (``--repeat``: plan, query, pandas, floor) are medians. The script
always exits 0: a benchmark reports, it does not fail a build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_tables import _commit, _Corpus, _verdict, _versions  # noqa: E402  (shared)

OUT = HERE / "out"
SEED = 20261130
GENERATOR_VERSION = "v1"  # part of the file name: bump it when the generator changes
DAYS = 100  # snapshots per reel
RECORD_BYTES = 4_000  # a generous estimate of one record, for the free-disk check
FULL_RSS_TARGET_MB = 1_000.0  # at 1,000,000 records
INCREMENTAL_TARGET = 0.05  # conversion of 1% more, as a share of the full build, at most
REFERENCE_UP_TO = 300_000
START = 1_767_225_600  # 2026-01-01T00:00:00Z, the first day of the study


# --- the archive


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(seconds))


class _Study:
    """`reels` reels drawn once from the tables benchmark's corpus, then fetched day by day."""

    def __init__(self, reels: int) -> None:
        corpus = _Corpus(SEED)
        self.rng = random.Random(SEED + 1)
        self.responses = []
        for _ in range(reels):
            response = corpus.response()
            node = response["data"]["data"]["xdt_shortcode_media"]
            edges = node.setdefault("edge_media_to_parent_comment", {"count": 0, "edges": []})
            if not edges["edges"]:  # comments on every reel
                edges["edges"].append({"node": corpus.comment(node["taken_at_timestamp"])})
                edges["count"] += 1
            self.responses.append(response)

    def day(self, day: int) -> bytes:
        """Every reel's record of `day` (0-based), as JSON Lines."""
        lines = []
        for index, response in enumerate(self.responses):
            lines.append(orjson.dumps(self.record(response, day, index)))
        return b"\n".join(lines) + b"\n"

    def record(self, response: dict[str, Any], day: int, index: int) -> dict[str, Any]:
        node = response["data"]["data"]["xdt_shortcode_media"]
        code = node["shortcode"]
        fetched = START + day * 86_400 + index  # one request a second, reel after reel
        record: dict[str, Any] = {
            "archive_version": 1,
            "url": f"https://www.instagram.com/reel/{code}/",
            "shortcode": code,
            "channel": "apify",
            "requested_at": _iso(fetched - 1),
            "igresearch_version": "0.1.0",
        }
        draw = self.rng.random()
        if draw < 0.01:
            error = {"class": "APIError", "message": "HTTP 500", "retriable": True}
            failed = {"outcome": "failed", "attempts": 3, "fetched_at": None, "http_status": 500}
            body = "Internal Server Error"
            return (
                record | failed | {"api_code": None, "response": None, "error": error, "body": body}
            )
        answered = {"attempts": 1, "fetched_at": _iso(fetched), "http_status": 200}
        if draw < 0.015:
            from igresearch.testing import envelope

            gone = {"outcome": "unavailable", "api_code": "0000", "response": envelope(None)}
            return record | answered | gone | {"error": None}
        if "video_play_count" in node:  # counts grow day by day
            node["video_play_count"] = int(node["video_play_count"] * 1.02)
        likes = node["edge_media_preview_like"]
        likes["count"] = int(likes["count"] * 1.01)
        for edge in node.get("edge_media_to_parent_comment", {}).get("edges", []):
            edge["node"]["edge_liked_by"]["count"] += self.rng.randrange(3)
        ok = {"outcome": "ok", "api_code": "0000", "response": response, "error": None}
        return record | answered | ok


def ensure_archive(records: int) -> tuple[Path, int]:
    """The archive of `records` records (generated first if missing), and its reel count."""
    reels = max(1, records // DAYS)
    path = OUT / f"study-{GENERATOR_VERSION}-seed{SEED}-{reels}x{DAYS}.jsonl"
    if path.exists():
        return path, reels
    _check_disk(reels * (DAYS + 1) * RECORD_BYTES * 2)  # the archive, and the tables beside it
    OUT.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    start = time.perf_counter()
    study = _Study(reels)
    with partial.open("wb") as out:
        for day in range(DAYS):
            out.write(study.day(day))
    partial.replace(path)
    size = path.stat().st_size / 1e9
    _progress(f"generated {path.name} ({size:.2f} GB) in {time.perf_counter() - start:.0f} s")
    return path, reels


def _check_disk(needed: int) -> None:
    free = shutil.disk_usage(OUT.parent).free
    if free < needed:
        sys.exit(
            f"Not enough free disk in {OUT.parent}: {needed / 1e9:.1f} GB needed, "
            f"{free / 1e9:.1f} GB free. Use a smaller --records."
        )


def _day_101(reels: int) -> bytes:
    study = _Study(reels)
    for day in range(DAYS):  # the generator's state on the last day, without writing it
        for index, response in enumerate(study.responses):
            study.record(response, day, index)
    return study.day(DAYS)


# --- the steps, each in a child process


Work = Callable[[], dict[str, Any]]


def _build(archive: str, out: str) -> Work:
    from igresearch.build import build_tables

    def work() -> dict[str, Any]:
        built = build_tables(archive, out)
        return {
            "convert_s": built.seconds["convert"],
            "merge_s": built.seconds["merge"],
            "converted": built.converted,
            "reused": built.reused,
            "rows": built.rows,
        }

    return work


def _reference(archive: str, out: str) -> Work:
    from igresearch.tables import to_tables

    def work() -> dict[str, Any]:
        tables = to_tables(archive)
        tables.write(out)
        return {"rows": {"media": tables.media.height, "comments": tables.comments.height}}

    return work


def _floor(archive: str, out: str) -> Work:
    def work() -> dict[str, Any]:
        count = 0
        with open(archive, "rb") as lines:
            for line in lines:
                orjson.loads(line)  # dropped at once, as in bench_tables.py
                count += 1
        return {"lines": count}

    return work


def _plan(archive: str, out: str) -> Work:
    from datetime import timedelta

    from igresearch import collect

    codes: list[str] = []
    with open(archive, "rb") as lines:  # the reels of the study: its first day
        for line in lines:
            code = orjson.loads(line)["shortcode"]
            if codes and code == codes[0]:
                break
            codes.append(code)

    def work() -> dict[str, Any]:
        day = timedelta(hours=24)
        summary = collect(
            codes, archive=archive, refresh_older_than=day, dry_run=True, progress=False
        )
        return {"valid": summary.plan.valid, "to_request": len(summary.plan.to_request)}

    return work


def _query(archive: str, out: str) -> Work:
    import polars as pl

    from igresearch.metrics import engagement_by_owner

    def work() -> dict[str, Any]:
        media = pl.scan_parquet(Path(out) / "media.parquet")
        try:  # once metrics takes LazyFrames (issue 14, item 3)
            result, lazy = engagement_by_owner(media), True
        except (TypeError, AttributeError):
            result, lazy = engagement_by_owner(media.collect()), False
        if isinstance(result, pl.LazyFrame):
            result = result.collect()
        return {"owners": result.height, "lazy": lazy}

    return work


def _pandas(archive: str, out: str) -> Work:
    import pandas as pd

    def work() -> dict[str, Any]:
        media = pd.read_parquet(Path(out) / "media.parquet")
        media = media.sort_values("fetched_at", na_position="first", kind="stable")
        media = media.drop_duplicates("media_id", keep="last")
        plays = media["play_count"].where(media["play_count"] > 0)
        followers = media["owner_follower_count"].where(media["owner_follower_count"] > 0)
        hidden = media["likes_hidden"].fillna(False).astype(bool)
        likes = media["like_count"].where(~hidden)
        rates = pd.DataFrame(
            {
                "owner_username": media["owner_username"],
                "like_rate": likes / plays,
                "comment_rate": media["comment_count"] / plays,
                "engagement_rate": (likes + media["comment_count"]) / plays,
                "reach": media["play_count"] / followers,
                "likes_per_follower": likes / followers,
                "view_play_ratio": media["view_count"] / plays,
            }
        )
        grouped = rates.groupby("owner_username", dropna=False)
        stats = grouped.agg(["count", "median"]).join(grouped.quantile([0.25, 0.75]).unstack())
        return {"owners": len(stats)}

    return work


_WORK: dict[str, Callable[[str, str], Work]] = {
    "build": _build,
    "reference": _reference,
    "floor": _floor,
    "plan": _plan,
    "query": _query,
    "pandas": _pandas,
}


def _peak_rss_mb() -> float:
    """This process's peak RSS in MB. Linux's ru_maxrss of a process started by vfork (as
    subprocess does) starts at its parent's peak, which holds a generated study: VmHWM is the
    process's own."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB
    [kib] = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(kib) * 1024 / 1e6


def run_child(step: str, archive: str, out: str) -> None:
    """Run one step; print one JSON line with its time (after imports) and peak RSS."""
    work = _WORK[step](archive, out)
    imported = _peak_rss_mb()
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": _peak_rss_mb(),
                "after_import_rss_mb": imported,
                **result,
            }
        )
    )


# --- the parent


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(step: str, archive: Path, out: Path) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--run", step, str(archive), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _progress(f"  {step} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return {"failed": True}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    _progress(f"  {step:<10} {result['seconds']:8.2f} s  {result['peak_rss_mb']:8.0f} MB")
    return result


def _median(step: str, archive: Path, out: Path, repeat: int) -> dict[str, Any]:
    runs = [_run(step, archive, out) for _ in range(repeat)]
    good = [r for r in runs if not r.get("failed")]
    if not good:
        return {"failed": True}
    return good[0] | {
        "seconds": statistics.median(r["seconds"] for r in good),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in good),
        "runs": len(good),
    }


def _line(label: str, result: dict[str, Any], extra: str = "") -> str:
    if result.get("failed"):
        return f"{label:<50} failed"
    return f"{label:<50} {result['seconds']:9.2f} s {result['peak_rss_mb']:9.0f} MB  {extra}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="archive records")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the cheap steps")
    parser.add_argument(
        "--reference",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"time to_tables(...).write (default: up to {REFERENCE_UP_TO:,} records)",
    )
    parser.add_argument(
        "--run", nargs=3, metavar=("STEP", "ARCHIVE", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.run:
        run_child(*args.run)
        return 0
    if args.records < DAYS:
        parser.error(f"--records must be at least {DAYS} (one reel, {DAYS} days).")
    OUT.mkdir(parents=True, exist_ok=True)
    archive, reels = ensure_archive(args.records)
    size = archive.stat().st_size
    records = reels * DAYS
    tables = OUT / f"scale-tables-{reels}x{DAYS}"
    shutil.rmtree(tables, ignore_errors=True)
    _check_disk(size * 2)  # the batches and tables of this run
    _progress(f"archive {archive.name}: {records:,} records, {size / 1e9:.2f} GB")

    full = _run("build", archive, tables)
    grown = _day_101(reels)
    with archive.open("ab") as out:
        out.write(grown)
    try:
        incremental = _run("build", archive, tables)
    finally:
        os.truncate(archive, size)  # the archive of --records again, for the next run
    floor = _median("floor", archive, tables, args.repeat)
    plan = _median("plan", archive, tables, args.repeat)
    query = _median("query", archive, tables, args.repeat)
    pandas = _median("pandas", archive, tables, args.repeat)
    reference: dict[str, Any] | None = None
    if args.reference or (args.reference is None and records <= REFERENCE_UP_TO):
        reference = _run("reference", archive, OUT / f"scale-reference-{reels}x{DAYS}")
        shutil.rmtree(OUT / f"scale-reference-{reels}x{DAYS}", ignore_errors=True)

    print(
        f"\nbench_scale: {records:,} records ({reels:,} reels x {DAYS} daily snapshots), "
        f"{size / 1e9:.2f} GB of JSON Lines"
    )
    versions = _versions(("polars", "pyarrow", "msgspec", "pandas", "orjson"))
    print(
        f"commit {_commit()}; Python {platform.python_version()}; {versions}; "
        f"{os.cpu_count()} cores"
    )
    print(f"{'step':<50} {'time':>11} {'peak RSS':>12}")
    if not full.get("failed"):
        rows = ", ".join(f"{k} {v:,}" for k, v in full["rows"].items())
        print(_line("full build: build_tables(archive, DIR)", full, rows))
        print(f"  convert {full['convert_s']:.2f} s, merge {full['merge_s']:.2f} s")
    if not incremental.get("failed") and not full.get("failed"):
        print(_line(f"incremental: +{incremental['converted']:,} records (1%)", incremental))
        share = incremental["convert_s"] / full["seconds"]
        print(
            f"  convert {incremental['convert_s']:.2f} s ({share:.1%} of the full build; "
            f"target <= {INCREMENTAL_TARGET:.0%}: {_verdict(share <= INCREMENTAL_TARGET)}), "
            f"merge {incremental['merge_s']:.2f} s"
        )
        if records >= 1_000_000:
            ok = full["peak_rss_mb"] < FULL_RSS_TARGET_MB
            print(
                f"  full build peak RSS target < {FULL_RSS_TARGET_MB:,.0f} MB at 1,000,000 "
                f"records: {_verdict(ok)}"
            )
    print(_line("reference: floor, orjson.loads every line", floor))
    if reference is not None:
        print(_line("reference: to_tables(archive).write(DIR)", reference))
    else:
        print(f"{'reference: to_tables(archive).write(DIR)':<50} skipped (--reference to run)")
    if not plan.get("failed"):
        print(
            _line(
                "plan: collect --refresh-older-than 24h --dry-run",
                plan,
                f"{plan['to_request']:,} of {plan['valid']:,} to request",
            )
        )
    if not query.get("failed"):
        how = "LazyFrame" if query["lazy"] else "scan_parquet, collected, then DataFrame"
        print(
            _line("query: engagement_by_owner (polars)", query, f"{how}; {query['owners']} owners")
        )
    print(_line("query: the same in pandas (read_parquet)", pandas))
    print(f"(medians of {args.repeat} for floor, plan and both queries; builds run once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
