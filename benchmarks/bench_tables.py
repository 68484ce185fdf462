"""Benchmark ``to_tables`` on JSON Lines files against pandas and a parse-only floor.

Run from the repository root::

    .venv/bin/python benchmarks/bench_tables.py [--sizes 1000,10000] [--repeat 3]

Synthetic archives of 1k, 10k and 100k responses in the documented vendor envelope
(``igresearch/data/documented_example.json``), each in the archive record ``collect`` writes
(its provenance fields, ``fetched_at`` from the ``Date`` header, serialised as
``ArchiveWriter.append`` does), are generated once, deterministically, into
``benchmarks/out/`` (gitignored). Each method then runs in its own subprocess, so one method's
imports, caches and peak memory never leak into another's figures:

- ``igresearch``: ``to_tables(path)``, the code under test;
- ``pandas``: what a researcher would write without the library: ``json.loads`` per line, then
  ``pd.json_normalize`` of the media nodes, their comments and their owners, and the records'
  ``fetched_at`` as times (``pd.to_datetime``), as the media table has them;
- ``floor``: ``orjson.loads`` of every line and nothing else, the least any reader must do.

Times are the median of the repeats, timed around the work only (after imports): wall-clock
seconds, which the targets use, and the process's CPU seconds (all its threads), which vary
less on a machine that others share. Peak RSS is
the child's ``ru_maxrss`` in MB (10**6 bytes), so it includes the interpreter and its imports.
Figures are printed with PASS/MISS against the targets; the script always exits 0, because a
benchmark reports, it does not fail a build.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import random
import resource
import shlex
import statistics
import string
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

OUT = Path(__file__).resolve().parent / "out"
SIZES = (1_000, 10_000, 100_000)
METHODS = ("igresearch", "pandas", "floor")
SEED = 20250701
# Part of the file name: bump it whenever the generator changes, so stale corpora are not reused.
GENERATOR_VERSION = "v2"
CLOCK_START = datetime.datetime(2026, 7, 1, tzinfo=datetime.UTC)

SPEEDUP_TARGET = 15.0  # pandas seconds / igresearch seconds, at least
FLOOR_TARGET = 2.0  # igresearch seconds / floor seconds, at most
RSS_TARGET_MB = 1_500.0  # igresearch peak RSS at RSS_TARGET_SIZE, below
RSS_TARGET_SIZE = 100_000
PANDAS_BIG_SIZE = 100_000  # pandas runs once at this size: it is slow
PANDAS_SKIP_AFTER_S = 60.0  # ... and not at all if one run at 10k took longer than this

ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
# fmt: off
WORDS = (
    "love", "this", "so", "much", "amazing", "wow", "beautiful", "who", "else", "is", "here",
    "from", "the", "algorithm", "need", "more", "of", "that", "energy", "best", "video",
    "today", "cannot", "stop", "watching", "my", "heart", "literally", "me", "every",
    "morning", "goals", "queen", "king", "legend", "facts", "same", "omg", "why", "did", "i",
    "laugh", "hard", "thank", "you", "for", "sharing",
)
# fmt: on
EMOJI = ("❤️", "😂", "🔥", "👏", "😍", "🙌", "😭", "💯")
HOSTS = ("jnb2-1", "lhr8-1", "iad3-2", "sin6-4", "gru2-1")


# --- synthetic corpora


def _heavy(rng: random.Random, mu: float, sigma: float) -> int:
    """A heavy-tailed (log-normal) count, as engagement counts are."""
    return min(int(rng.lognormvariate(mu, sigma)), 2_000_000_000)


def _text(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    if rng.random() < 0.3:  # non-ASCII text takes a slower path in every parser
        words.append(rng.choice(EMOJI))
    return " ".join(words)


def _cdn_url(rng: random.Random, path: str, extension: str) -> str:
    # Real CDN URLs are long signed strings; their length is most of a response's size.
    host = f"scontent-{rng.choice(HOSTS)}.cdninstagram.com"
    return (
        f"https://{host}/{path}/{rng.randbytes(12).hex()}_n.{extension}"
        f"?stp=dst-jpg_e15_tt6&_nc_ht={host}&_nc_cat={rng.randrange(1, 111)}"
        f"&_nc_oc={rng.randbytes(16).hex()}&_nc_ohc={rng.randbytes(8).hex()}"
        f"&edm=ANTKIIoBAAAA&ccb=7-5&oh=00_{rng.randbytes(16).hex()}"
        f"&oe={rng.randbytes(4).hex().upper()}&_nc_sid=d885a2"
    )


def _manifest(rng: random.Random, duration: float) -> str:
    sizes = ((360, 640), (540, 960), (720, 1280))[: rng.randint(1, 3)]
    representations = "".join(
        f'<Representation id="{rng.randrange(10**15, 10**16)}v" '
        f'bandwidth="{rng.randrange(100_000, 2_000_000)}" codecs="avc1.4d401f" '
        f'width="{width}" height="{height}" frameRate="30"/>'
        for width, height in sizes
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
        f'mediaPresentationDuration="PT{duration:.3f}S" type="static"><Period>'
        f'<AdaptationSet mimeType="video/mp4">{representations}</AdaptationSet></Period></MPD>'
    )


def _accounts(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(rng.randrange(10**8, 10**11)),
            "username": f"{rng.choice(WORDS)}_{rng.choice(WORDS)}{index}",
            "is_verified": rng.random() < 0.2,
            "profile_pic_url": _cdn_url(rng, "v/t51.2885-19", "jpg"),
            "full_name": f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}",
            "edge_followed_by": {"count": _heavy(rng, 9, 2.2)},
        }
        for index in range(count)
    ]


def _commenters(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(rng.randrange(10**8, 10**11)),
            "username": f"{rng.choice(WORDS)}.{rng.choice(WORDS)}_{index}",
            "is_verified": rng.random() < 0.02,
        }
        for index in range(count)
    ]


class _Corpus:
    """Draws responses from one seeded generator: same seed, same bytes."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.owners = _accounts(self.rng, 500)
        # A few accounts post most of the media (Zipf-like), as in any real sample.
        self.owner_weights = list(itertools.accumulate(1 / (r + 1) ** 1.1 for r in range(500)))
        self.commenters = _commenters(self.rng, 5_000)
        self.comment_ids = itertools.count(17_841_000_000_000_000, 9_973)
        self.shortcodes: set[str] = set()

    def records(self, count: int) -> Iterator[dict[str, Any]]:
        for index in range(count):
            yield _record(index, self.response())

    def shortcode(self) -> str:
        while True:
            # Real shortcodes start with B, C or D today: their ids fit in a signed int64.
            code = self.rng.choice("BCD") + "".join(self.rng.choices(ALPHABET, k=10))
            if code not in self.shortcodes:
                self.shortcodes.add(code)
                return code

    def comment(self, after: int) -> dict[str, Any]:
        rng = self.rng
        # The stride leaves room for the offset, so ids stay unique.
        return {
            "id": str(next(self.comment_ids) + rng.randrange(9_973)),
            "text": _text(rng, 1, 12),
            "created_at": after + rng.randrange(60, 90 * 86_400),
            "owner": rng.choice(self.commenters),
            "edge_liked_by": {"count": _heavy(rng, 0.5, 1.8)},
        }

    def response(self) -> dict[str, Any]:
        # Imported here, not at the top: the pandas and floor processes must not load igresearch.
        from igresearch.testing import envelope
        from igresearch.urls import shortcode_to_media_id

        rng = self.rng
        shortcode = self.shortcode()
        account = rng.choices(self.owners, cum_weights=self.owner_weights)[0]
        followers = int(account["edge_followed_by"]["count"] * rng.uniform(0.98, 1.02))
        owner = {**account, "edge_followed_by": {"count": followers}}
        taken_at = rng.randrange(1_640_995_200, 1_767_225_600)
        duration = round(rng.uniform(3, 180), 3)
        plays = _heavy(rng, 10, 2)
        likes = int(plays * rng.uniform(0.005, 0.08))
        comments = []
        for _ in range(min(50, int(rng.expovariate(1 / 10)))):
            comment = self.comment(taken_at)
            if rng.random() < 0.15:
                replies = [self.comment(comment["created_at"]) for _ in range(rng.randint(1, 2))]
                comment["edge_threaded_comments"] = {
                    "count": len(replies),
                    "edges": [{"node": reply} for reply in replies],
                }
            comments.append({"node": comment})
        image = _cdn_url(rng, "v/t51.2885-15", "jpg")
        node: dict[str, Any] = {
            "__typename": "XDTGraphVideo",
            "id": shortcode_to_media_id(shortcode),
            "shortcode": shortcode,
            "thumbnail_src": image,
            "dimensions": {"height": 1136, "width": 640},
            "display_url": image,
            "display_resources": [
                {
                    "src": _cdn_url(rng, "v/t51.2885-15", "jpg"),
                    "config_width": width,
                    "config_height": height,
                }
                for width, height in ((640, 1136), (750, 1333), (1080, 1920))
            ],
            "dash_info": {
                "is_dash_eligible": True,
                "video_dash_manifest": _manifest(rng, duration),
                "number_of_qualities": rng.randint(1, 3),
            },
            "has_audio": rng.random() < 0.95,
            "video_url": _cdn_url(rng, "o1/v/t2/f2/m86", "mp4"),
            "video_view_count": int(plays * rng.uniform(0.01, 0.05)),
            "video_play_count": plays,
            "product_type": "clips",
            "video_duration": duration,
            "clips_music_attribution_info": {
                "artist_name": owner["username"],
                "song_name": "Original audio",
                "uses_original_audio": rng.random() < 0.7,
                "audio_id": str(rng.randrange(10**16, 10**17)),
            },
            "is_video": True,
            "owner": owner,
            "edge_media_to_caption": {
                "edges": [
                    # The API sends the caption's created_at as a string, unlike the others.
                    {"node": {"text": _text(rng, 3, 40), "created_at": str(taken_at + 1)}}
                ]
            },
            "edge_media_to_parent_comment": {
                "count": len(comments) + int(likes * rng.uniform(0.005, 0.03)),
                "edges": comments,
            },
            "edge_media_preview_like": {"count": likes},
            "taken_at_timestamp": taken_at,
        }
        if rng.random() < 0.10:
            optional = (
                "clips_music_attribution_info",
                "video_play_count",
                "video_view_count",
                "dash_info",
                "edge_media_to_caption",
                "owner.edge_followed_by",
            )
            for field in rng.sample(optional, rng.randint(1, 3)):
                if field == "owner.edge_followed_by":
                    del owner["edge_followed_by"]
                else:
                    del node[field]
        return envelope(node)


def _record(index: int, response: dict[str, Any]) -> dict[str, Any]:
    """`response` in the archive record ``collect`` writes for it, field for field; the clock is
    a fixed start plus 8 requests a second, so the same index gives the same times."""
    from igresearch import __version__
    from igresearch.archive import ARCHIVE_VERSION
    from igresearch.urls import canonical_url

    shortcode = response["data"]["data"]["xdt_shortcode_media"]["shortcode"]
    requested = CLOCK_START + datetime.timedelta(seconds=index / 8)
    answered = (requested + datetime.timedelta(seconds=0.4)).replace(microsecond=0)  # Date
    return {
        "archive_version": ARCHIVE_VERSION,
        "url": canonical_url(shortcode),
        "shortcode": shortcode,
        "channel": "apify",
        "requested_at": requested.isoformat(),
        "igresearch_version": __version__,
        "outcome": "ok",
        "attempts": 1,
        "fetched_at": answered.isoformat(),
        "http_status": 200,
        "api_code": response["code"],
        "response": response,
        "error": None,
    }


def ensure_corpus(size: int) -> Path:
    """The corpus of `size` responses, generated first if it is not in OUT yet."""
    path = OUT / f"archive-{GENERATOR_VERSION}-seed{SEED}-{size}.jsonl"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")  # renamed only once complete: no half corpora
        start = time.perf_counter()
        with partial.open("wb") as out:
            for record in _Corpus(SEED).records(size):
                # As ArchiveWriter.append writes it (which also syncs every line to disk).
                line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
                out.write(line.encode("utf-8") + b"\n")
        partial.replace(path)
        _progress(f"generated {path.name} in {time.perf_counter() - start:.1f} s")
    return path


# --- the methods, each run in its own child process


def _igresearch(path: str) -> Callable[[], dict[str, int]]:
    from igresearch.tables import to_tables

    def work() -> dict[str, int]:
        tables = to_tables(path)
        return {
            "media": tables.media.height,
            "comments": tables.comments.height,
            "owners": tables.owners.height,
            "errors": tables.errors.height,
        }

    return work


def _pandas(path: str) -> Callable[[], dict[str, int]]:
    import pandas as pd

    def work() -> dict[str, int]:
        with open(path, encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines]
        nodes = [record["response"]["data"]["data"]["xdt_shortcode_media"] for record in records]
        media = pd.json_normalize(nodes, max_level=3)
        media["fetched_at"] = pd.to_datetime([r["fetched_at"] for r in records], utc=True)
        # meta_prefix: without it the media "id" meta column could clash with the records' own.
        comments = pd.json_normalize(
            nodes,
            record_path=["edge_media_to_parent_comment", "edges"],
            meta=["id"],
            meta_prefix="media_",
            errors="ignore",
        )
        owners = pd.json_normalize([node["owner"] for node in nodes])
        return {"media": len(media), "comments": len(comments), "owners": len(owners)}

    return work


def _floor(path: str) -> Callable[[], dict[str, int]]:
    def work() -> dict[str, int]:
        count = 0
        with open(path, "rb") as lines:
            for line in lines:
                # Each document is dropped at once: keeping them all would time the garbage
                # collector walking millions of live dicts (3x the parse at 10k), not parsing.
                orjson.loads(line)
                count += 1
        return {"media": count}

    return work


_WORK = {"igresearch": _igresearch, "pandas": _pandas, "floor": _floor}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def run_child(method: str, path: str) -> None:
    """Time one method on one file; print one JSON line."""
    work = _WORK[method](path)
    imported_mb = _peak_rss_mb()
    start, start_cpu = time.perf_counter(), time.process_time()
    rows = work()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    result = {
        "method": method,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "after_import_rss_mb": imported_mb,
        "rows": rows,
    }
    print(json.dumps(result))


# --- the parent: generate, run, report


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(method: str, path: Path) -> dict[str, Any] | None:
    command = [sys.executable, str(Path(__file__).resolve()), "--run", method, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _progress(f"  {method} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    _progress(
        f"  {method:<10} {result['seconds']:8.3f} s  {result['cpu_seconds']:8.3f} s CPU  "
        f"{result['peak_rss_mb']:8.1f} MB  "
        f"{result['rows']}"
    )
    return result


def _versions(names: tuple[str, ...] = ("polars", "msgspec", "pandas", "orjson")) -> str:
    """The versions of the packages measured, by name."""
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


def _commit() -> str:
    """The code measured: figures mean little without it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=OUT.parent,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=OUT.parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} (uncommitted changes)" if dirty else head


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(size) for size in SIZES),
        help="comma-separated corpus sizes (default: %(default)s)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per method (default: 3)")
    parser.add_argument("--run", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.run:
        run_child(*options.run)
        return 0
    sizes = sorted({int(size) for size in options.sizes.split(",") if size.strip()})
    repeat = max(1, options.repeat)

    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {platform.platform()}, {platform.machine()}, cpu_count={os.cpu_count()}")
    print(f"python {platform.python_version()}; {_versions()}")
    print(f"commit: {_commit()}")
    print()
    paths = {size: ensure_corpus(size) for size in sizes}
    for size, path in paths.items():
        megabytes = path.stat().st_size / 1e6
        per_line = 1e3 * megabytes / size
        print(f"corpus {size:>7}: {path.name} {megabytes:8.1f} MB, {per_line:.1f} KB/line")
    print()

    results: dict[tuple[int, str], list[dict[str, Any]]] = {}
    notes = []
    for size in sizes:
        runs = dict.fromkeys(METHODS, repeat)
        if size >= PANDAS_BIG_SIZE:
            slowest = max((r["seconds"] for r in results.get((10_000, "pandas"), [])), default=0)
            if slowest > PANDAS_SKIP_AFTER_S:
                runs["pandas"] = 0
                notes.append(
                    f"pandas skipped at {size}: a 10k run took {slowest:.0f} s "
                    f"(> {PANDAS_SKIP_AFTER_S:.0f} s)"
                )
            else:
                runs["pandas"] = 1
                notes.append(f"pandas ran once at {size} (slow); its figure is not a median")
        _progress(f"size {size}")
        # Interleaved, so drift in the machine's speed spreads over all methods alike.
        for attempt in range(max(runs.values())):
            for method in METHODS:
                if attempt < runs[method] and (result := _run(method, paths[size])):
                    results.setdefault((size, method), []).append(result)

    header = (
        f"{'size':>7}  {'method':<10} {'median s':>9} {'CPU s':>7} {'responses/s':>12} "
        f"{'peak RSS MB':>12} {'runs':>4}  rows"
    )
    print(header)
    print("-" * len(header))
    medians: dict[tuple[int, str], float] = {}
    cpu_medians: dict[tuple[int, str], float] = {}
    peaks: dict[tuple[int, str], float] = {}
    for size in sizes:
        for method in METHODS:
            done = results.get((size, method))
            if not done:
                print(
                    f"{size:>7}  {method:<10} {'-':>9} {'-':>7} {'-':>12} {'-':>12} {0:>4}  not run"
                )
                continue
            median = medians[size, method] = statistics.median(r["seconds"] for r in done)
            cpu = cpu_medians[size, method] = statistics.median(r["cpu_seconds"] for r in done)
            peak = peaks[size, method] = max(r["peak_rss_mb"] for r in done)
            rows = " ".join(f"{name}={count}" for name, count in done[0]["rows"].items())
            print(
                f"{size:>7}  {method:<10} {median:>9.3f} {cpu:>7.3f} {size / median:>12,.0f} "
                f"{peak:>12.1f} {len(done):>4}  {rows}"
            )
    print()
    print("targets")
    for size in sizes:
        mine = medians.get((size, "igresearch"))
        pandas_s, floor_s = medians.get((size, "pandas")), medians.get((size, "floor"))
        if mine is None:
            print(f"{size:>7}  igresearch did not run")
            continue
        speedup = (
            f"{pandas_s / mine:6.1f}x {_verdict(pandas_s / mine >= SPEEDUP_TARGET)}"
            if pandas_s
            else "   n/a     "
        )
        over_floor = (
            f"{mine / floor_s:5.2f}x {_verdict(mine / floor_s <= FLOOR_TARGET)}"
            if floor_s
            else "  n/a"
        )
        floor_cpu = cpu_medians.get((size, "floor"))
        mine_cpu = cpu_medians[size, "igresearch"]
        cpu_ratio = f" (CPU {mine_cpu / floor_cpu:.2f}x)" if floor_cpu else ""
        print(
            f"{size:>7}  speedup vs pandas (>= {SPEEDUP_TARGET:g}x): {speedup}   "
            f"igresearch / floor (<= {FLOOR_TARGET:g}x): {over_floor}{cpu_ratio}"
        )
    peak = peaks.get((RSS_TARGET_SIZE, "igresearch"))
    if peak is None:
        print(f"peak RSS at {RSS_TARGET_SIZE}: not measured (size not run)")
    else:
        print(
            f"igresearch peak RSS at {RSS_TARGET_SIZE} (< {RSS_TARGET_MB / 1e3:g} GB): "
            f"{peak:.0f} MB {_verdict(peak < RSS_TARGET_MB)}"
        )
    print()
    notes.append(
        "comments: igresearch counts replies too; pandas' record_path keeps top-level comments"
    )
    notes.append("peak RSS includes the interpreter and the method's imports")
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
