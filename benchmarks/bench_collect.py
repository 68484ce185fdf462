"""Collection throughput and rate limiting against the fake API (loopback only).

The fake answers every request after 100 ms. 800 URLs at concurrency 8 can go at most
8 / 0.1 s = 80 requests/s: the reference this run measures against. Targets: at least 90% of
it with a rate limit above it; with --rate 20, no one-second window above 21 requests and a
mean within 5% of 20.

Run: .venv/bin/python benchmarks/bench_collect.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from igresearch.collect import collect
from igresearch.testing import FakeAPI

LATENCY_S = 0.1
CONCURRENCY = 8


def run(api: FakeAPI, urls: list[str], rate: float, archive: Path) -> list[float]:
    """Collect `urls`; return the times the fake received each request."""
    start = len(api.requests)
    summary = collect(
        urls,
        archive=archive,
        api_key="bench-key",
        base_url=api.base_url,
        concurrency=CONCURRENCY,
        rate=rate,
        progress=False,
    )
    assert summary.outcomes["ok"] == len(urls), summary
    return sorted(r.received_at for r in api.requests[start:])


def max_per_window(times: list[float]) -> int:
    """Most requests in any one-second window starting at a request."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while j < len(times) and times[j] < t + 1.0:
            j += 1
        best = max(best, j - i)
    return best


def main() -> None:
    print(f"command: {' '.join(sys.argv)}; fake latency {LATENCY_S * 1000:.0f} ms")
    limit = CONCURRENCY / LATENCY_S
    with FakeAPI(latency=LATENCY_S) as api, tempfile.TemporaryDirectory() as folder:
        rates = []
        for attempt in range(3):
            urls = [f"Bench{attempt}{i:05d}" for i in range(800)]
            times = run(api, urls, 1000.0, Path(folder) / f"fast{attempt}.jsonl")
            rates.append((len(times) - 1) / (times[-1] - times[0]))
        median = statistics.median(rates)
        verdict = "PASS" if median >= 0.9 * limit else "MISS"
        print(
            f"800 URLs, concurrency {CONCURRENCY}: median {median:.1f} requests/s of {limit:.0f} "
            f"possible ({median / limit:.0%}; runs {', '.join(f'{r:.1f}' for r in rates)}) "
            f"target >= 90%: {verdict}"
        )
        urls = [f"Gated{i:06d}" for i in range(400)]  # bare: a media id below 2**63
        times = run(api, urls, 20.0, Path(folder) / "rated.jsonl")
        mean = (len(times) - 1) / (times[-1] - times[0])
        peak = max_per_window(times)
        verdict = "PASS" if peak <= 21 and abs(mean - 20) <= 1.0 else "MISS"
        print(
            f"--rate 20, 400 URLs: mean {mean:.2f} requests/s ({mean / 20 - 1:+.1%}), "
            f"busiest one-second window {peak} requests; target <= 21 and within 5%: {verdict}"
        )


if __name__ == "__main__":
    main()
