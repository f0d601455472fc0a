"""Benchmark: every overview figure from 10 million stored calls, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/overview_scale.py [--calls 10000000] [--engines sqlite,postgresql]

A VP's year of a 500-rep org (issue 16): `--calls` calls over 2025's weekdays, plus a tenth as
many in the year before (the previous period every card compares with), stored the way a sync
leaves them, then, per engine, each step in a process of its own (so peak memory is its own):
  fill   the calls written in bulk (the benchmark's own loader, not what is measured);
  pack   the store packs every day's figure columns (CallStore.pack_facts: what the sync
         worker does after a backfill; the dashboard's first read would do it otherwise);
  read   what the overview page computes: both periods' packed columns (load_facts), every
         figure, chart and table (build_overview, the cards, the five chart specs);
  1M     the same on a 1,000,000-call range, and beside it the path before packed columns
         (every column of every call from CallStore.load, and the calls table of all of them):
         the same-run baseline the ratio is quoted against.
The PostgreSQL server is a throwaway one (tests/postgres.py), fsync off as in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IDENTITY = "benchmark org 1 user 1 api=1.0"
TZ = "America/New_York"
START, END = date(2025, 1, 1), date(2025, 12, 31)
REPS = 500
BASELINE_CALLS = 1_000_000
DISPOSITIONS = [  # (id, name, outcome): a typical org's dozen
    (1, "Connected - meeting booked", "Answered"), (2, "Connected - interested", "Answered"),
    (3, "Connected - not interested", "Answered"), (4, "Connected - call back", "Answered"),
    (5, "Wrong number", "Answered"), (6, "Gatekeeper", "Answered"),
    (7, "No answer", "Not Answered"), (8, "Left voicemail", "Not Answered"),
    (9, "Busy", "Not Answered"), (10, "Bad number", "Not Answered"),
    (11, "Meeting booked", "Answered"), (12, "Interested", "Answered")]


def lookups():
    import pandas as pd

    users = pd.DataFrame({"id": range(1001, 1001 + REPS),
                          "first_name": [f"Rep{n}" for n in range(REPS)],
                          "last_name": "Example", "name": "", "email": ""})
    dispositions = pd.DataFrame(DISPOSITIONS, columns=["id", "name", "outcome"]).assign(
        order=range(len(DISPOSITIONS)))
    purposes = pd.DataFrame({"id": [1, 2, 3], "name": ["Prospecting", "Follow-up", "Demo"],
                             "order": [0, 1, 2]})
    return users, dispositions, purposes


def synthetic(count: int, first: date, last: date, first_id: int, seed: int):
    """`count` calls on the weekdays from `first` to `last`, 8:00 to 18:00 in New York, as
    tuples of the calls table's columns, sorted by creation time; times in whole milliseconds,
    as Outreach gives them."""
    import numpy as np

    rng = np.random.default_rng(seed)
    days = np.array([d for d in (np.datetime64(first) + np.arange((last - first).days + 1))
                     if d.astype(datetime).weekday() < 5])
    day_us = (days.astype("datetime64[us]").astype(np.int64))
    created = np.sort(day_us[rng.integers(0, len(days), count)]
                      + 13 * 3_600_000_000 + rng.integers(0, 10 * 3_600_000, count) * 1000)
    users = rng.integers(1001, 1001 + REPS, count)
    outbound = rng.random(count) < 0.8
    disposition = rng.integers(1, len(DISPOSITIONS) + 2, count)  # the last: none logged
    numbers = [f"+1555{n:07d}" for n in range(5000)]
    to = rng.integers(0, 5000, count)
    notes = ["", "", "", "left voicemail", "call back Tuesday"]
    note = rng.integers(0, len(notes), count)
    none = len(DISPOSITIONS) + 1
    for n in range(count):
        yield (int(created[n]), first_id + n, int(users[n]), bool(outbound[n]),
               numbers[n % 5000], numbers[to[n]], 1 + n % 3,
               None if disposition[n] == none else int(disposition[n]), 1 + n % 50_000,
               notes[note[n]])


def fill(where: str, calls: int) -> dict:
    from sqlalchemy import create_engine, text

    from lib.store.callstore import CallStore

    store = CallStore(where)
    store.set_marks(IDENTITY, synced_at=datetime(2026, 1, 1, tzinfo=UTC))
    url = str(store.url.render_as_string(hide_password=False))
    store.close()
    previous_first = START - timedelta(days=(END - START).days + 1)
    batches = [synthetic(calls, START, END, 1, 1),
               synthetic(calls // 10, previous_first, START - timedelta(days=1), 10**9, 2)]
    columns = ("identity, created_us, id, user_id, outbound, from_number, to_number, "
               "purpose_id, disposition_id, prospect_id, note")
    started = time.perf_counter()
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT id FROM identities")
        source = cursor.fetchone()[0]
        days: set[int] = set()
        if where.startswith("postgresql"):
            for rows in batches:
                with cursor.copy(f"COPY calls ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        days.add(row[0] // 86_400_000_000)
                        copy.write_row((source, *row))
        else:
            marks = ", ".join("?" * 11)
            for rows in batches:
                chunk: list[tuple] = []
                for row in rows:
                    days.add(row[0] // 86_400_000_000)
                    chunk.append((source, *row))
                    if len(chunk) == 200_000:
                        cursor.executemany(f"INSERT INTO calls ({columns}) VALUES ({marks})",
                                           chunk)
                        chunk = []
                cursor.executemany(f"INSERT INTO calls ({columns}) VALUES ({marks})", chunk)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:  # what a sync's writes leave: every day to be packed
        connection.execute(text("INSERT INTO call_facts (identity, day, version) "
                                "VALUES (:identity, :day, 1)"),
                           [{"identity": source, "day": day} for day in sorted(days)])
    engine.dispose()
    return {"seconds": time.perf_counter() - started, "calls": calls + calls // 10}


def pack(where: str) -> dict:
    from lib.store.callstore import CallStore

    store = CallStore(where)
    started = time.perf_counter()
    days = store.pack_facts(IDENTITY)
    return {"seconds": time.perf_counter() - started, "days": days}


def read(where: str, end: date, old_path: bool) -> dict:
    """The overview page's work for START..end: packed columns (or, with `old_path`, every
    column of every call and the calls table of all of them, as before)."""
    from lib.analytics import charts, figures, overview, tables
    from lib.analytics.timerange import utc_bounds
    from lib.frames import CALL_DTYPES
    from lib.store.callstore import CallStore

    users, dispositions, purposes = lookups()
    rep_ids = users["id"].tolist()
    store = CallStore(where)
    store.call_count(IDENTITY)  # opened, as a replica's store is
    started = time.perf_counter()
    ranges = [utc_bounds(START, end, TZ), utc_bounds(*figures.previous_period(START, end), TZ)]
    if old_path:
        frames = [store.load(IDENTITY, *bounds, None, CALL_DTYPES) for bounds in ranges]
    else:
        frames = [store.load_facts(IDENTITY, *bounds, None, v2=False) for bounds in ranges]
    loaded = time.perf_counter() - started
    view = overview.build_overview(frames[0], frames[1], users, dispositions, rep_ids,
                                   START, end, TZ)
    overview.metric_cards(view.comparison)
    counted = time.perf_counter() - started - loaded
    specs = [charts.volume_chart(view.volume).to_dict(),
             charts.outbound_ratio_chart(view.volume).to_dict(),
             charts.disposition_chart(view.mix).to_dict(),
             charts.heatmap_chart(view.heatmap, "calls").to_dict(),
             charts.heatmap_chart(view.heatmap, "connect_rate").to_dict()]
    if old_path:
        table = tables.calls_table(frames[0], users, dispositions, purposes, TZ)
    else:
        table = store.load(IDENTITY, *ranges[0], None, CALL_DTYPES,
                           newest=overview.CALLS_SHOWN)
        table = tables.calls_table(table, users, dispositions, purposes, TZ)
    seconds = time.perf_counter() - started
    summary = overview.summary(view, START, end, TZ, rep_ids)
    return {"seconds": seconds, "load_seconds": loaded, "figures_seconds": counted,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "calls": len(frames[0]), "previous": len(frames[1]), "specs": len(specs),
            "table_rows": len(table), "summary": summary}


def child(args: argparse.Namespace) -> None:
    if args.child == "fill":
        result = fill(args.where, args.calls)
    elif args.child == "pack":
        result = pack(args.where)
    else:
        result = read(args.where, date.fromisoformat(args.end), args.child == "old")
    print(json.dumps(result))


def run(step: str, where: str, **options: object) -> dict:
    command = [sys.executable, __file__, "--child", step, "--where", where]
    for name, value in options.items():
        command += [f"--{name}", str(value)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"The {step} step failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def end_for(calls: int, total: int) -> date:
    """The last day of a range from START that holds about `calls` of `total` calls."""
    return START + timedelta(days=max(int(365 * calls / total) - 1, 0))


def measure(name: str, where: str, calls: int) -> list[str]:
    lines = []
    filled = run("fill", where, calls=calls)
    lines.append(f"{name:11} fill (the benchmark's bulk loader)  {filled['seconds']:7.1f} s  "
                 f"{filled['calls']:,} calls stored")
    packed = run("pack", where)
    lines.append(f"{name:11} pack every day (worker, once)      {packed['seconds']:7.1f} s  "
                 f"{packed['days']} days")
    # Three fresh processes: the first read after the pack finds the file as the pack left it,
    # and a shared machine's noise is a second either way; the median is quoted.
    reads = sorted((run("read", where, end=END) for _ in range(3)),
                   key=lambda result: result["seconds"])
    full = reads[1]
    each = ", ".join(f"{result['seconds']:.2f}" for result in reads)
    lines.append(f"{name:11} overview of {full['calls']:,} calls     {full['seconds']:7.2f} s  "
                 f"peak {full['peak_mb']:,.0f} MB (median of 3 fresh processes: "
                 f"{each} s; of the median, reading "
                 f"the packed columns {full['load_seconds']:.2f} s, the figures "
                 f"{full['figures_seconds']:.2f} s; the previous period {full['previous']:,} "
                 f"calls)")
    small_end = end_for(BASELINE_CALLS, calls)
    new = run("read", where, end=small_end)
    old = run("old", where, end=small_end)
    same = "the same figures" if new["summary"] == old["summary"] else "DIFFERENT FIGURES"
    lines.append(f"{name:11} {new['calls']:,} calls: packed {new['seconds']:.2f} s, "
                 f"{new['peak_mb']:,.0f} MB; every column {old['seconds']:.2f} s, "
                 f"{old['peak_mb']:,.0f} MB: {old['seconds'] / new['seconds']:.1f}x faster, "
                 f"{old['peak_mb'] / new['peak_mb']:.1f}x less memory, {same}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--where", help=argparse.SUPPRESS)
    parser.add_argument("--end", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), "
          f"Python {platform.python_version()}, {platform.platform()}")
    print(f"{args.calls:,} calls of {REPS} reps over {START} to {END} (+{args.calls // 10:,} "
          f"the year before), zone {TZ}; each step a process of its own.\n")
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="callboard-scale-") as folder:
        for engine in args.engines.split(","):
            if engine == "sqlite":
                lines += measure("SQLite", str(Path(folder) / "calls.sqlite"), args.calls)
            else:
                from tests.postgres import postgres_server

                with postgres_server() as server:
                    lines += measure("PostgreSQL", server.create_database("scale"),
                                     args.calls)
            print("\n".join(lines[-4:]), flush=True)
    print("\nTarget (issue 16): every overview figure from 10 M stored calls in under 2 s and "
          "1.5 GB, on each engine.")


if __name__ == "__main__":
    main()
