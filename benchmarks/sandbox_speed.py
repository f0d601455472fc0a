"""Benchmark: the sandbox's own speed, as ratios against a baseline run in the same process.

    .venv/bin/python benchmarks/sandbox_speed.py [--latency-ms 200] [--requests 8]
        [--reps 25] [--days 90] [--repeat 5] [--now 2026-11-18T17:00:00Z]

Prints figures, not a pass/fail. These were wall-clock assertions in tests/test_sandbox.py
("8 requests with 200 ms latency in under 1.0 s", "25 reps x 90 days generated in under 2.0 s"),
which depend on the machine and its load; a ratio against a baseline timed in the same run
does much less so:
  1. latency: `--requests` requests at once (one thread each, as the test did) against the
     same requests one after another, with `--latency-ms` added to every request by a sandbox
     in this process. Ideal: `--requests`x faster; the old test's bound was 1.6x at 8 x 200 ms.
  2. generation: `lib.sandbox.data.generate` per 10,000 calls, for the tests' small history
     (4 reps, 21 days) and a big one (`--reps` x `--days`), against a bare loop that makes as
     many rows of ten random draws each (the least work any seeded generator does).
Each figure is the median of `--repeat` runs. The sandbox and the history are pinned at
`--now`, so every run measures the same data.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.sandbox import parse_instant, start_sandbox  # noqa: E402
from lib.sandbox.data import generate  # noqa: E402

SMALL = (11, 4, 21)  # seed, reps, days of tests/test_sandbox.py's sandboxes
DRAWS_A_ROW = 10


def median_time(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# ----- 1. latency: at once against one after another -----


def latency_figures(latency_ms: int, count: int, repeat: int, now: str) -> tuple[float, float]:
    """(sequential seconds, concurrent seconds) for `count` requests, medians."""
    box = start_sandbox(seed=SMALL[0], reps=SMALL[1], days=SMALL[2], now=now,
                        latency_ms=latency_ms, mint_interval=0)
    headers = {"Authorization": f"Bearer {box.full_token}"}

    def one(_: int = 0) -> int:
        # A new connection a request, as the test's requests.get did.
        response = requests.get(f"{box.base_url}/1.0/calls", headers=headers, timeout=30)
        response.raise_for_status()
        return response.status_code

    def sequential() -> None:
        for _ in range(count):
            one()

    def concurrent() -> None:
        with ThreadPoolExecutor(count) as pool:
            assert list(pool.map(one, range(count))) == [200] * count

    try:
        one()  # warm up: imports, the first connection, the first page's records
        return median_time(sequential, repeat), median_time(concurrent, repeat)
    finally:
        box.stop()


# ----- 2. generation: per 10,000 calls, against a bare loop -----


def bare_loop(rows: int) -> list[tuple]:
    """As many rows as a history has, each a tuple of ten seeded random draws."""
    rng = random.Random(7)
    draw = rng.random
    return [tuple(draw() for _ in range(DRAWS_A_ROW)) for _ in range(rows)]


def generation_figures(sizes: list[tuple[int, int, int]], repeat: int,
                       now: str) -> list[tuple[str, int, float]]:
    """(label, calls, median seconds) for the bare loop of the largest size, then each size."""
    end = parse_instant(now)
    results = []
    for seed, reps, days in sizes:
        calls = len(generate(seed, reps, days, end).calls)
        seconds = median_time(lambda s=seed, r=reps, d=days: generate(s, r, d, end), repeat)
        results.append((f"generate(seed {seed}, {reps} reps, {days} days)", calls, seconds))
    most = max(calls for _, calls, _ in results)
    floor = median_time(lambda: bare_loop(most), repeat)
    return [(f"baseline: bare loop, {DRAWS_A_ROW} random draws a row", most, floor), *results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--requests", type=int, default=8, help="requests at once")
    parser.add_argument("--reps", type=int, default=25, help="the big history's team")
    parser.add_argument("--days", type=int, default=90, help="the big history's days")
    parser.add_argument("--repeat", type=int, default=5, help="runs a figure (median)")
    parser.add_argument("--now", default="2026-11-18T17:00:00Z",
                        help="the pinned instant of the sandbox and the histories")
    args = parser.parse_args()

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; median of {args.repeat} runs a figure; "
          f"pinned at {args.now}.\n")

    sequential, concurrent = latency_figures(args.latency_ms, args.requests, args.repeat,
                                             args.now)
    speedup = sequential / concurrent
    print(f"1. Latency: {args.requests} requests to /1.0/calls, +{args.latency_ms} ms each, "
          "sandbox in this process")
    print(f"{'measurement':44} {'wall time':>10} {'ratio':>14}")
    print(f"{'baseline: one after another':44} {sequential:>9.3f}s {'1.0×':>14}")
    print(f"{'all at once':44} {concurrent:>9.3f}s {f'{speedup:.1f}× faster':>14}")
    floor = args.requests * args.latency_ms / 1000
    print(f"Ideal: {args.requests}.0× (the latency alone is {floor:.2f}s one after another, "
          f"{args.latency_ms / 1000:.2f}s at once). The old test asked for 8 requests at "
          "200 ms in under 1.0s, i.e. at least 1.6× faster than one after another.\n")

    rows = generation_figures([SMALL, (7, args.reps, args.days)], args.repeat, args.now)
    base_per_10k = rows[0][2] / rows[0][1] * 10_000
    print("2. Generation: lib.sandbox.data.generate, time per 10,000 calls")
    print(f"{'measurement':44} {'calls':>8} {'wall time':>10} {'per 10k':>9} {'ratio':>14}")
    for label, calls, seconds in rows:
        per_10k = seconds / calls * 10_000
        print(f"{label:44} {calls:>8,} {seconds:>9.3f}s {per_10k:>8.3f}s "
              f"{f'{per_10k / base_per_10k:.1f}× baseline':>14}")
    print(f"The old test asked for 25 reps x 90 days (> 40,000 calls) in under 2.0s; here "
          f"{args.reps} reps x {args.days} days took {rows[-1][2]:.3f}s.")


if __name__ == "__main__":
    main()
