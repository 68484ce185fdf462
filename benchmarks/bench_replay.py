"""Replay cost: igresearch.replay vs live requests to the fake API, and stock vcrpy for reference.

Records 1,000 interactions against the fake API (loopback), then times (medians of 3 runs):
- live: 1,000 requests to the fake API with no cassette;
- replay: the same 1,000 requests under igresearch.replay (cassette loading included);
- stock vcrpy (once): the same cassette with vcrpy's use_cassette and the same matching (method,
  endpoint, body meaning), which patches http.client and scans every interaction per request.
Targets: replay no slower than 2x live; per-request cost flat (last 10% of requests at most
1.5x the first 10%).

Run: .venv/bin/python benchmarks/bench_replay.py
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from igresearch.cassettes import _endpoint, body_meaning, replay
from igresearch.client import Client
from igresearch.testing import FakeAPI

N = 1_000
CODES = [f"Cached{i:05d}" for i in range(N)]  # bare shortcodes: media ids below 2**63


def timed_requests(
    base_url: str, context: Callable[[], AbstractContextManager[Any]]
) -> tuple[float, list[float]]:
    """Total seconds (context entry, so cassette loading, included) and per-request seconds."""
    per_request = []
    start = time.perf_counter()
    with context(), Client("bench-key", base_url=base_url, max_retries=0) as client:
        for code in CODES:
            before = time.perf_counter()
            client.video_metadata(code)
            per_request.append(time.perf_counter() - before)
    return time.perf_counter() - start, per_request


def stock_vcrpy(path: Path) -> Callable[[], AbstractContextManager[Any]]:
    import vcr

    recorder = vcr.VCR(match_on=["method", "endpoint", "meaning"])
    recorder.register_matcher("endpoint", lambda r1, r2: _endpoint(r1.uri) == _endpoint(r2.uri))
    recorder.register_matcher(
        "meaning", lambda r1, r2: body_meaning(r1.body) == body_meaning(r2.body)
    )

    def context() -> AbstractContextManager[Any]:
        return recorder.use_cassette(str(path), record_mode="none")  # type: ignore[no-any-return]

    return context


def main() -> None:
    print(f"command: {' '.join(sys.argv)}; {N} POST requests, {os.cpu_count()} CPUs")
    with FakeAPI() as api, tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.yaml"
        timed_requests(api.base_url, lambda: replay(path, mode="all"))
        print(f"recorded {path.stat().st_size / 1e6:.1f} MB cassette")
        runs: dict[str, list[tuple[float, list[float]]]] = {
            "live": [],
            "replay": [],
            "stock vcrpy": [],
        }
        for attempt in range(3):
            runs["live"].append(timed_requests(api.base_url, contextlib.nullcontext))
            runs["replay"].append(timed_requests(api.base_url, lambda: replay(path)))
            if attempt == 0:  # about a minute: once is enough for a reference
                runs["stock vcrpy"].append(timed_requests(api.base_url, stock_vcrpy(path)))
        live = statistics.median(total for total, _ in runs["live"])
        for name, results in runs.items():
            total = statistics.median(t for t, _ in results)
            tail = statistics.median(_tail_ratio(per) for _, per in results)
            print(
                f"{name:>12}: {total:6.2f} s ({total / live:4.2f}x live), "
                f"last 10% / first 10% per request: {tail:4.2f}x"
            )
        replay_total = statistics.median(t for t, _ in runs["replay"])
        replay_tail = statistics.median(_tail_ratio(per) for _, per in runs["replay"])
        print(
            f"targets: replay <= 2x live: {'PASS' if replay_total <= 2 * live else 'MISS'}; "
            f"flat (<= 1.5x): {'PASS' if replay_tail <= 1.5 else 'MISS'}"
        )


def _tail_ratio(per_request: list[float]) -> float:
    tenth = len(per_request) // 10
    return statistics.mean(per_request[-tenth:]) / statistics.mean(per_request[:tenth])


if __name__ == "__main__":
    main()
