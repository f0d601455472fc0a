"""Benchmark: how fast and how cheaply Callboard reads a team's quarter, against a plain walk.

    .venv/bin/python benchmarks/read_speed.py [--reps 25] [--days 90] [--latency-ms 100]
        [--workers N] [--metric-calls 1000000]

Prints figures, not a pass/fail: wall time and API requests of
  1. the baseline: one page[number] after another over the whole range, as public sync tools do;
  2. Callboard's cold read of the same range (empty store), over API 1.0 and over API v2;
  3. the warm read of the same range in a new process (closed days only, then up to now);
  4. the refresh (a sync, then the read) after 100 calls were logged today;
  5. every overview figure, table and chart spec from synthetic calls, with peak memory;
and the ratios against the baseline. The sandbox runs in its own process (as the API would be
remote), with `--latency-ms` added to every request; requests are counted by the sandbox.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.outreach import (  # noqa: E402
    Dialect,
    NewCall,
    OutreachClient,
    StaticToken,
    V2Dialect,
    dialect_for,
)
from lib.outreach.windows import format_api_time  # noqa: E402
from lib.settings import DEFAULT_MAX_WORKERS  # noqa: E402
from lib.store.callstore import CallStore, day_bounds  # noqa: E402
from lib.store.datasource import DataSource  # noqa: E402

IDENTITY = "benchmark sandbox"


# ----- the sandbox in its own process -----


class SandboxProcess:
    """`python -m lib.sandbox` on a free loopback port; requests counted via /_sandbox/stats."""

    def __init__(self, reps: int, days: int, latency_ms: int, db: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lib.sandbox", "--port", str(self.port), "--reps", str(reps),
             "--days", str(days), "--latency-ms", str(latency_ms), "--rate-limit", "1000000",
             "--mint-interval", "0", "--db", str(db),
             # The API's own later edits off: the baseline and the cold read, minutes apart,
             # must see the same calls to be compared.
             "--later-dispositions", "0", "--deletions", "0"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if "full token:" not in line:
            raise RuntimeError(f"The sandbox did not start: {line}{self.process.stderr.read()}")
        self.token = line.split("full token:")[1].split()[0]

    def requests(self) -> int:
        return int(requests.get(f"{self.base_url}/_sandbox/stats", timeout=10).json()
                   ["request_count"])

    def reset(self) -> None:
        requests.post(f"{self.base_url}/_sandbox/reset", timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# ----- the measured reads -----


def baseline_walk(base_url: str, token: str, after: datetime, before: datetime) -> list[dict]:
    """What public sync tools do: page 1, 2, 3, ... until there is no next link."""
    session = requests.Session()
    records: list[dict] = []
    page = 1
    while True:
        answer = session.get(
            f"{base_url}/1.0/calls",
            params={"filter[metadata/created/after]": format_api_time(after),
                    "filter[metadata/created/before]": format_api_time(before),
                    "page[number]": page, "page[size]": 50},
            headers={"Authorization": f"Bearer {token}"}, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        records.extend(body["data"])
        if not body.get("links", {}).get("next"):
            return records
        page += 1


def make_source(base_url: str, token: str, store: Path, workers: int,
                dialect: Dialect | None = None) -> DataSource:
    client = OutreachClient(base_url, StaticToken(token), dialect=dialect, max_workers=workers)
    return DataSource(client, demo=True, description="benchmark", store=CallStore(store),
                      store_identity=IDENTITY)


def warm_child(args: argparse.Namespace) -> None:
    """Run in a new process: one read through the store, timed; prints JSON."""
    source = make_source(args.base_url, args.token, Path(args.store), args.workers,
                         dialect_for(args.api_version))
    after = datetime.fromisoformat(args.after)
    before = None if args.before == "now" else datetime.fromisoformat(args.before)
    started = time.perf_counter()
    frame = source.read_calls(after, before).calls  # synced minutes ago: not due
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "calls": len(frame),
                      "ids": int(frame["id"].sum()) if len(frame) else 0,
                      "v2_fields": "answered_at" in frame.columns}))


def run_warm(sandbox: SandboxProcess, store: Path, after: datetime, before: str,
             workers: int, api_version: str = "1.0") -> tuple[float, int, int, bool]:
    sandbox.reset()
    result = subprocess.run(
        [sys.executable, __file__, "--warm-child", "--base-url", sandbox.base_url,
         "--token", sandbox.token, "--store", str(store), "--after", after.isoformat(),
         "--before", before, "--workers", str(workers), "--api-version", api_version],
        cwd=ROOT, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout)
    return figures["seconds"], sandbox.requests(), figures["calls"], figures["v2_fields"]


# ----- metrics for a million calls -----


def metrics_child(args: argparse.Namespace) -> None:
    """Run in a new process (so that its peak memory is its own): prints JSON."""
    import numpy as np
    import pandas as pd

    from lib.analytics import charts, overview
    from lib.frames import CALL_DTYPES

    client = OutreachClient(args.base_url, StaticToken(args.token))
    users, dispositions = client.list_users(), client.list_dispositions()
    purposes = client.list_purposes()
    rep_ids = [int(uid) for uid in users["id"] if uid != 1]

    tz = "America/New_York"
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=89)
    rng = np.random.default_rng(7)

    def synthetic(count: int, first: date) -> pd.DataFrame:
        low = int(day_bounds(first)[0].timestamp())
        created = np.sort(rng.integers(low, low + 90 * 86400, count)) * 1_000_000_000
        numbers = np.array([f"+1555{n:07d}" for n in range(5000)], dtype=object)
        notes = np.array(["", "", "", "left voicemail", "call back Tuesday"], dtype=object)
        disposition_choices = [*dispositions["id"].tolist(), None]
        frame = pd.DataFrame({
            "id": np.arange(count, dtype="int64") + (0 if first == start else 10**8),
            "created_at": pd.to_datetime(created, utc=True),
            "user_id": pd.array(rng.choice(rep_ids, count), dtype="Int64"),
            "outbound": rng.random(count) < 0.8,
            "from_number": numbers[rng.integers(0, len(numbers), count)],
            "to_number": numbers[rng.integers(0, len(numbers), count)],
            "purpose_id": pd.array(rng.choice(purposes["id"].tolist(), count), dtype="Int64"),
            "disposition_id": pd.array(
                np.array(disposition_choices, dtype=object)[
                    rng.integers(0, len(disposition_choices), count)], dtype="Int64"),
            "prospect_id": pd.array(rng.integers(1, 50_000, count), dtype="Int64"),
            "note": notes[rng.integers(0, len(notes), count)],
        })
        return frame.astype(CALL_DTYPES)

    made = time.perf_counter()
    current = synthetic(args.metric_calls, start)
    previous = synthetic(args.metric_calls // 10, start - timedelta(days=90))
    made = time.perf_counter() - made

    started = time.perf_counter()
    view = overview.build_overview(current, previous, users, dispositions, rep_ids,
                                   start, end, tz)
    overview.metric_cards(view.comparison)
    specs = [charts.volume_chart(view.volume).to_dict(),
             charts.outbound_ratio_chart(view.volume).to_dict(),
             charts.disposition_chart(view.mix).to_dict(),
             charts.heatmap_chart(view.heatmap, "calls").to_dict(),
             charts.heatmap_chart(view.heatmap, "connect_rate").to_dict()]
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "made_seconds": made,
                      "calls": len(current), "previous": len(previous), "specs": len(specs),
                      "table_rows": len(view.calls)}))


# ----- the run -----


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--workers", type=int, default=DEFAULT_MAX_WORKERS)
    parser.add_argument("--metric-calls", type=int, default=1_000_000)
    parser.add_argument("--skip-baseline", action="store_true",
                        help="estimate the baseline from its page count (quick trial runs)")
    for hidden in ("--base-url", "--token", "--store", "--after", "--before", "--api-version"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--warm-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--metrics-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm_child:
        return warm_child(args)
    if args.metrics_child:
        return metrics_child(args)

    work = Path(tempfile.mkdtemp(prefix="callboard-bench-"))
    store = work / "calls.sqlite"
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), "
          f"Python {platform.python_version()}, {platform.platform()}")
    print(f"Sandbox: {args.reps} reps over {args.days} days, +{args.latency_ms} ms a request, "
          f"own process; Callboard: {args.workers} concurrent requests.\n")
    sandbox = SandboxProcess(args.reps, args.days, args.latency_ms, work / "sandbox.sqlite")
    rows: list[tuple[str, float, int, str]] = []
    try:
        now = datetime.now(UTC)
        after = day_bounds(now.date() - timedelta(days=args.days))[0]
        closed_before = day_bounds(now.date())[0]  # today is the only open day

        # 1. Baseline.
        sandbox.reset()
        started = time.perf_counter()
        if args.skip_baseline:
            total = requests.get(
                f"{sandbox.base_url}/1.0/calls",
                headers={"Authorization": f"Bearer {sandbox.token}"},
                params={"filter[metadata/created/after]": format_api_time(after),
                        "filter[metadata/created/before]": format_api_time(now)},
                timeout=30).json()["meta"]["results"]["total"]
            baseline_ids = None
            base_requests = math.ceil(total / 50)
            base_seconds = base_requests * (time.perf_counter() - started)
            note = "estimated: pages × one page's time"
        else:
            records = baseline_walk(sandbox.base_url, sandbox.token, after, now)
            base_seconds = time.perf_counter() - started
            base_requests = sandbox.requests()
            baseline_ids = {int(record["id"]) for record in records}
            total = len(records)
            note = f"{total:,} calls"
        rows.append(("1. baseline: sequential page walk", base_seconds, base_requests, note))

        # 2. Cold read of the same range, pinned at the same instant.
        source = make_source(sandbox.base_url, sandbox.token, store, args.workers)
        sandbox.reset()
        started = time.perf_counter()
        cold = source.list_calls(after, now)
        cold_seconds = time.perf_counter() - started
        if baseline_ids is not None and set(cold["id"]) != baseline_ids:
            raise SystemExit("The cold read differs from the baseline: not measuring further.")
        rows.append(("2. cold read (empty store)", cold_seconds, sandbox.requests(),
                     f"{len(cold):,} calls, identical to the baseline"
                     if baseline_ids is not None else f"{len(cold):,} calls"))

        # 2b. The same cold read over API v2 (1000 calls a page, cursor paging).
        source_v2 = make_source(sandbox.base_url, sandbox.token, work / "calls-v2.sqlite",
                                args.workers, V2Dialect())
        sandbox.reset()
        started = time.perf_counter()
        cold_v2 = source_v2.list_calls(after, now)
        rows.append(("2b. cold read over API v2 (empty store)", time.perf_counter() - started,
                     sandbox.requests(),
                     f"{len(cold_v2):,} calls, "
                     + ("identical to 1.0" if set(cold_v2["id"]) == set(cold["id"])
                        else "DIFFERENT from 1.0")))

        # 3. Warm reads in a new process.
        seconds, count, calls, _ = run_warm(sandbox, store, after, closed_before.isoformat(),
                                            args.workers)
        rows.append(("3a. warm read, closed days (new process)", seconds, count,
                     f"{calls:,} calls from the store"))
        seconds, count, calls, v2_fields = run_warm(
            sandbox, work / "calls-v2.sqlite", after, closed_before.isoformat(), args.workers,
            "2")
        rows.append(("3a2. the same over API v2 (new process)", seconds, count,
                     f"{calls:,} calls from the store, "
                     + ("with" if v2_fields else "WITHOUT") + " v2's talk times"))
        seconds, count, calls, _ = run_warm(sandbox, store, after, "now", args.workers)
        rows.append(("3b. warm read up to now (new process)", seconds, count,
                     f"{calls:,} calls, as of the cold read's sync"))

        # 4. Refresh after 100 calls were logged today.
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: source.client.create_call(
                NewCall(outbound=True, note=f"benchmark {n}")), range(100)))
        sandbox.reset()
        started = time.perf_counter()
        refreshed = source.read_calls(after, None, sync=True).calls  # the Refresh button
        refresh_seconds = time.perf_counter() - started
        open_calls = int((refreshed["created_at"] >= closed_before).sum())
        open_pages = math.ceil(open_calls / 50)
        rows.append(("4. refresh after 100 new calls", refresh_seconds, sandbox.requests(),
                     f"open window: {open_calls:,} calls = {open_pages} pages"))
        if len(refreshed) < len(cold) + 100:
            raise SystemExit("The refresh lost calls.")

        # 5. Metrics for synthetic calls, in a process of its own.
        result = subprocess.run(
            [sys.executable, __file__, "--metrics-child", "--base-url", sandbox.base_url,
             "--token", sandbox.token, "--metric-calls", str(args.metric_calls)],
            cwd=ROOT, capture_output=True, text=True, check=True)
        metric = json.loads(result.stdout)
    finally:
        sandbox.stop()

    print(f"{'measurement':44} {'wall time':>10} {'requests':>9} {'time ratio':>13}  notes")
    for name, seconds, count, note in rows:
        ratio = base_seconds / seconds if seconds else math.inf
        shown = "1.0×" if name.startswith("1.") else f"{ratio:,.0f}× faster"
        print(f"{name:44} {seconds:>9.2f}s {count:>9,} {shown:>13}  {note}")
    print(f"{'5. overview figures + chart specs':44} {metric['seconds']:>9.2f}s {0:>9} "
          f"{'':>13}  {metric['calls']:,} calls (+{metric['previous']:,} previous period), "
          f"peak memory {metric['peak_mb']:,.0f} MB (whole process)")
    cold_ratio = base_seconds / cold_seconds
    print(f"\nCold read: {cold_ratio:.1f}× faster than the baseline with "
          f"{rows[1][2]} requests against {base_requests} ({rows[1][2] - base_requests:+d}).")


if __name__ == "__main__":
    main()
