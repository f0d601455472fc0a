"""Benchmark: what keeping the store in sync costs, against the cold read, on API 1.0 and v2.

    .venv/bin/python benchmarks/sync_cost.py [--reps 25] [--days 40] [--latency-ms 50]

Prints figures, not a pass/fail. For each API version, on a sandbox of its own whose clock the
script moves (so "the next morning" is a real next morning for the API and for Callboard):
  1. the cold read of 28 closed days and today (empty store), the baseline of the rows below;
  2. the refresh after 60 edits spread over the last 10 days and 20 deletions in the last 3;
  3. the next morning: the same 28 closed days read again a day later (the sync that is due);
each with its requests, wall time, both as ratios to the cold read, and whether the answer equals
what the API holds (and which edits and deletions show). The sandbox runs in this process with
`--latency-ms` added to every request; its own simulation of later dispositions is off, so
only the script's edits change calls.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.outreach import OutreachClient, StaticToken, dialect_for  # noqa: E402
from lib.sandbox import start_sandbox  # noqa: E402
from lib.settings import DEFAULT_MAX_WORKERS  # noqa: E402
from lib.store.callstore import CallStore, day_bounds  # noqa: E402
from lib.store.datasource import DataSource  # noqa: E402

NOW = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # a Wednesday afternoon


def timed_read(source: DataSource, sandbox, after, before, **options):
    sandbox.reset_request_count()
    started = time.perf_counter()
    read = source.read_calls(after, before, **options)
    return read, sandbox.request_count, time.perf_counter() - started


def truth(client: OutreachClient, after, before):
    """What the API holds, read without any store."""
    return client.list_calls(after, before)


def shown(calls, want, edited, deleted, trailing_from) -> str:
    """Whether a read equals the API, else how many of the edits and deletions it shows, and
    how many of those were in the trailing days a 1.0 sync re-reads."""
    if calls.equals(want):
        return "equals the API: every edit and deletion shown"
    mine = calls.set_index("id")
    theirs = want.set_index("id")
    in_both = [call_id for call_id in edited if call_id in mine.index and call_id in theirs.index]
    right = [call_id for call_id in in_both
             if str(mine.at[call_id, "disposition_id"]) == str(theirs.at[call_id,
                                                                         "disposition_id"])]
    recent = [call_id for call_id in in_both
              if theirs.at[call_id, "created_at"] >= trailing_from]
    recent_right = len(set(recent) & set(right))
    gone = len([call_id for call_id in deleted if call_id not in mine.index])
    return (f"edits: all {recent_right} of {len(recent)} in the trailing 3 days shown"
            if recent_right == len(recent) else
            f"edits: only {recent_right} of {len(recent)} in the trailing 3 days shown") + \
        (f"; {len(right) - recent_right} of {len(in_both) - len(recent)} older ones agree "
         f"(unchanged or shown at their re-read); {gone} of {len(deleted)} deletions shown")


def run(version: str, args: argparse.Namespace, work: Path) -> list[tuple]:
    rows = []
    with start_sandbox(port=0, seed=3, reps=args.reps, days=args.days, now=NOW,
                       latency_ms=args.latency_ms, rate_limit=10_000_000, mint_interval=0,
                       later_dispositions=0, deletions=0) as sandbox:
        def client() -> OutreachClient:
            return OutreachClient(sandbox.base_url, StaticToken(sandbox.full_token),
                                  dialect=dialect_for(version), max_workers=args.workers,
                                  clock=sandbox.clock.now)

        source = DataSource(client(), demo=True, description="benchmark",
                            store=CallStore(work / f"calls-{version}.sqlite"),
                            store_identity="benchmark", clock=sandbox.clock.now)
        reference = client()
        after = day_bounds(NOW.date() - timedelta(days=28))[0]
        cold, cold_requests, cold_seconds = timed_read(source, sandbox, after, None)
        rows.append((f"{version}: 1. cold read, 28 days + today", cold_requests, cold_seconds,
                     f"{len(cold.calls):,} calls", cold_requests, cold_seconds))

        sandbox.clock.advance(600)
        rng = random.Random(5)
        now = sandbox.clock.now()
        calls = cold.calls
        recent = calls[calls["created_at"] >= now - timedelta(days=10)]["id"].tolist()
        edited = rng.sample(recent, 60)
        for call_id in edited:
            sandbox.edit_call(int(call_id), disposition_id=rng.choice([1, 2, 3, 7]))
        last3 = [cid for cid in calls[calls["created_at"] >= now - timedelta(days=3)]["id"]
                 if cid not in edited]
        deleted = set(rng.sample(last3, 20))
        for call_id in deleted:
            sandbox.delete_call(int(call_id))
        trailing_from = day_bounds(now.date() - timedelta(days=2))[0]
        refreshed, requests, seconds = timed_read(source, sandbox, after, None, sync=True)
        want = truth(reference, after, refreshed.synced_at)
        rows.append((f"{version}: 2. refresh after 60 edits, 20 deletions", requests, seconds,
                     shown(refreshed.calls, want, edited, deleted, trailing_from), cold_requests,
                     cold_seconds))

        closed_after, closed_before = after, day_bounds(NOW.date())[0]
        sandbox.clock.advance(86400 - 600 - 8 * 3600)  # the next morning, 09:00 UTC
        morning, requests, seconds = timed_read(source, sandbox, closed_after, closed_before)
        want = truth(reference, closed_after, closed_before)
        rows.append((f"{version}: 3. the next morning, 28 closed days", requests, seconds,
                     shown(morning.calls, want, edited, deleted, trailing_from),
                     cold_requests, cold_seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--workers", type=int, default=DEFAULT_MAX_WORKERS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="callboard-sync-bench-"))
    print(f"Sandbox: {args.reps} reps over {args.days} days, +{args.latency_ms} ms a request; "
          f"Callboard: {args.workers} concurrent requests.\n")
    print(f"{'measurement':48} {'requests':>9} {'of cold':>8} {'time':>8} {'of cold':>8}  notes")
    for version in ("1.0", "2"):
        for name, requests, seconds, note, cold_requests, cold_seconds in run(version, args,
                                                                              work):
            print(f"{name:48} {requests:>9,} {requests / cold_requests:>8.1%} "
                  f"{seconds:>7.2f}s {seconds / cold_seconds:>8.1%}  {note}")


if __name__ == "__main__":
    main()
