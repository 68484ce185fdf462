"""Benchmark the archive index (collect's plan) and the attrition (status, report) against the
full parse they replaced (issue 14, item 5).

Run from the repository root::

    .venv/bin/python benchmarks/bench_index.py [--records 100000] [--snapshots 5] [--repeat 3]

A deterministic archive of `records` records is generated once into ``benchmarks/out/``
(gitignored): ``records / snapshots`` reels, each fetched `snapshots` times, records as
``collect`` writes them (the documented response with 0-50 comments, about 3.3 KB a line);
about 4% of the records are unavailable posts (a null media node) and 4% failed requests (HTTP
500, with the answer's body). Each method runs in its own subprocess, so its peak RSS (the
child's ``ru_maxrss``, in MB of 10**6 bytes, interpreter and imports included) is its own:

- ``index``: ``igresearch.archive.index_archive``, the code under test;
- ``attrition``: ``igresearch.archive.Attrition.of``, the code under test;
- ``full-index``, ``full-attrition``: the same results by the way before issue 14 (every line
  parsed whole with ``json.loads`` through ``read_archive``, the latest and latest stored record
  of each post kept whole), measured in the same run.

Times are the median of the repeats, timed around the work only. The script checks that both
ways give the same results, and always exits 0: a benchmark reports, it does not fail a build.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from before_issue14 import full_parse_attrition, full_parse_index

OUT = Path(__file__).resolve().parent / "out"
SEED = 20261130
GENERATOR_VERSION = "v1"  # bump when the generator changes, so stale archives are not reused
METHODS = ("index", "full-index", "attrition", "full-attrition")
# fmt: off
WORDS = (
    "love", "this", "so", "much", "amazing", "wow", "who", "else", "is", "here", "from", "the",
    "algorithm", "need", "more", "of", "that",
)
# fmt: on


def ensure_archive(records: int, snapshots: int) -> Path:
    """The archive of `records` records, generated first if it is not in OUT yet."""
    path = OUT / f"index-{GENERATOR_VERSION}-seed{SEED}-{records}x{snapshots}.jsonl"
    if path.exists():
        return path
    from igresearch.testing import FakeAPI
    from igresearch.urls import shortcode_to_media_id

    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    posts = [rng.choice("BCD") + "".join(rng.choices(alphabet, k=10)) for _ in range(records)]
    posts = list(dict.fromkeys(posts))[: max(1, records // snapshots)]
    partial = path.with_suffix(".part")
    with partial.open("w", encoding="utf-8") as out:
        for number in range(records):
            shortcode = posts[number % len(posts)]
            day = number // len(posts)
            url = f"https://www.instagram.com/reel/{shortcode}/"
            record: dict[str, Any] = {
                "archive_version": 1,
                "url": url,
                "shortcode": shortcode,
                "channel": "apify",
                "requested_at": f"2026-01-{day % 28 + 1:02d}T08:00:00+00:00",
            }
            draw = rng.random()
            fetched = f"2026-01-{day % 28 + 1:02d}T08:00:{rng.randrange(60):02d}+00:00"
            if draw < 0.04:
                response = {"code": "0000", "msg": "success", "success": True, "failed": False}
                response["data"] = {"data": {"xdt_shortcode_media": None}, "status": "ok"}
                error = {"class": "MediaUnavailableError", "message": "unavailable (media node "
                         "is null): deleted, private or visible only when logged in",
                         "retriable": False}  # fmt: skip
                record |= {"outcome": "unavailable", "attempts": 1, "fetched_at": fetched,
                           "http_status": 200, "api_code": "0000", "response": response,
                           "error": error}  # fmt: skip
            elif draw < 0.08:
                error = {"class": "APIError", "message": f"Server error (HTTP 500) for {url}.",
                         "retriable": True}  # fmt: skip
                record |= {"outcome": "failed", "attempts": 4, "fetched_at": None,
                           "http_status": 500, "api_code": None, "response": None,
                           "error": error, "body": "<html>" + "x" * 500 + "</html>"}  # fmt: skip
            else:
                response = FakeAPI.media_for(shortcode)
                node = response["data"]["data"]["xdt_shortcode_media"]
                node["id"] = shortcode_to_media_id(shortcode)
                node["video_play_count"] = 1000 * (day + 1) + rng.randrange(1000)
                node["edge_media_to_parent_comment"]["edges"] = [
                    {"node": {"id": str(17_800_000_000_000_000 + rng.randrange(10**15)),
                              "text": " ".join(rng.choices(WORDS, k=rng.randint(1, 12))),
                              "created_at": 1_762_000_000 + rng.randrange(10**6),
                              "owner": {"username": f"{rng.choice(WORDS)}_{rng.randrange(10**4)}",
                                        "id": str(rng.randrange(10**8, 10**11))}}}
                    for _ in range(min(50, int(rng.expovariate(1 / 10))))
                ]  # fmt: skip
                record |= {"outcome": "ok", "attempts": 1, "fetched_at": fetched,
                           "http_status": 200, "api_code": "0000", "response": response,
                           "error": None}  # fmt: skip
            record["igresearch_version"] = "0.1.0"
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    partial.replace(path)
    return path


# --- the methods, each in its own child process


def _work(method: str, path: str) -> Callable[[], Any]:
    from igresearch.archive import Attrition, index_archive

    def index() -> Any:
        return [
            (key, e.latest.outcome, e.stored, e.newest_fetched_at)
            for key, e in index_archive(path).items()
        ]

    def full() -> Any:
        return [
            (key, str(latest.get("outcome")), stored is not None, newest)
            for key, (latest, stored, newest) in full_parse_index(path).items()
        ]

    def attrition() -> Any:
        found = Attrition.of(path)
        return dict(found.counts), [tuple(lost) for lost in found.lost]

    return {
        "index": index,
        "full-index": full,
        "attrition": attrition,
        "full-attrition": lambda: full_parse_attrition(path),
    }[method]


def run_child(method: str, path: str, repeat: int) -> None:
    work = _work(method, path)
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    digest = hashlib.sha256(json.dumps(result, default=str).encode()).hexdigest()
    posts = sum(result[0].values()) if method.endswith("attrition") else len(result)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # Linux: KiB
    print(json.dumps({"times": times, "rss_mb": rss, "digest": digest, "posts": posts}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        run_child(*options.child, options.repeat)
        return 0
    started = time.perf_counter()
    path = ensure_archive(options.records, options.snapshots)
    size = path.stat().st_size
    print(
        f"archive: {path.name}, {options.records:,} records, {size / 1e6:,.0f} MB "
        f"({size / options.records:,.0f} bytes a line), generated or found in "
        f"{time.perf_counter() - started:.1f} s; Python {platform.python_version()}, "
        f"median of {options.repeat}"
    )
    results = {}
    for method in METHODS:
        child = [sys.executable, __file__, "--child", method, str(path)]
        done = subprocess.run(
            [*child, "--repeat", str(options.repeat)], capture_output=True, text=True
        )
        if done.returncode != 0:
            print(f"{method}: failed\n{done.stderr}")
            return 0
        results[method] = json.loads(done.stdout)
    print(f"{'method':<16}{'median s':>10}{'peak RSS MB':>13}{'posts':>9}")
    for method, found in results.items():
        median = statistics.median(found["times"])
        print(f"{method:<16}{median:>10.2f}{found['rss_mb']:>13.0f}{found['posts']:>9,}")
    for new, old in (("index", "full-index"), ("attrition", "full-attrition")):
        same = results[new]["digest"] == results[old]["digest"]
        speed = statistics.median(results[old]["times"]) / statistics.median(results[new]["times"])
        memory = results[old]["rss_mb"] / results[new]["rss_mb"]
        print(
            f"{new}: {speed:.1f}x faster, {memory:.1f}x less peak RSS than {old}; "
            f"same results: {'yes' if same else 'NO'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
