"""Benchmark: the manager's newer views (line health, attempts) against the overview's figures,
on the same calls in one process.

    .venv/bin/python benchmarks/manager_views.py [--calls 1000000] [--repeat 3]

Calls are made in memory (no store, no API): 500 reps on 2025's weekdays, a line per rep, 200,000
prospects; the previous period is a tenth as many. Each step runs `--repeat` times and the
median is printed, with its ratio to build_overview (the overview page's whole computation):
the baseline of the same run, since these machines are shared and noisy. What a page adds on
top, reading every column rather than the packed days, is issue 16's measured 9.9x (README).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.overview_scale import REPS, TZ, lookups  # noqa: E402
from lib.analytics import attempts, lines, overview  # noqa: E402
from lib.analytics.outcomes import outcome_mapping  # noqa: E402
from lib.analytics.timerange import utc_bounds  # noqa: E402

START, END = date(2025, 1, 1), date(2025, 12, 31)


def calls_frame(count: int, first: date, last: date, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range(first, last).to_numpy("datetime64[ns]")
    created = np.sort(days[rng.integers(0, len(days), count)]
                      + np.timedelta64(13, "h")
                      + rng.integers(0, 10 * 3_600_000, count).astype("timedelta64[ms]"))
    users = rng.integers(1001, 1001 + REPS, count)
    lines_of = np.array([f"+1212555{n:04d}" for n in range(REPS)], dtype=object)
    return pd.DataFrame({
        "id": np.arange(1, count + 1, dtype=np.int64),
        "created_at": pd.DatetimeIndex(created).tz_localize("UTC"),
        "user_id": pd.array(users, dtype="Int64"),
        "outbound": rng.random(count) < 0.8,
        "from_number": lines_of[users - 1001],
        "to_number": None,
        "prospect_id": pd.array(rng.integers(1, 200_001, count), dtype="Int64"),
        "disposition_id": pd.array(rng.integers(1, 13, count), dtype="Int64"),
    })


def median_seconds(step, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    users, dispositions, _ = lookups()
    mapping = outcome_mapping(dispositions)
    rep_ids = users["id"].tolist()
    now = calls_frame(args.calls, START, END, seed=1)
    before = calls_frame(args.calls // 10, date(2024, 1, 1), date(2024, 12, 31), seed=2)
    range_start = utc_bounds(START, END, TZ)[0]
    steps = {
        "build_overview": lambda: overview.build_overview(
            now, before, users, dispositions, rep_ids, START, END, TZ, mapping),
        "line_health": lambda: lines.line_health(now, before, mapping, TZ, rep_ids),
        "attempts": lambda: attempts.attempt_figures(now, mapping, range_start, rep_ids),
    }
    base = None
    print(f"{args.calls:,} calls, median of {args.repeat}")
    for name, step in steps.items():
        seconds = median_seconds(step, args.repeat)
        base = base or seconds
        print(f"{name:15s} {seconds:7.2f} s   {seconds / base:5.2f}x build_overview")


if __name__ == "__main__":
    main()
