"""Benchmark: what replicas sharing one store of calls ask Outreach, against one cold read.

    .venv/bin/python benchmarks/replicas.py [--reps 25] [--days 40] [--range-days 30]
        [--latency-ms 50] [--workers N] [--no-sqlite]

Prints figures, not a pass/fail. The sandbox runs in its own process with `--latency-ms` added
to every request and counts the requests; every replica is a process of its own that opens its
data source the way the app does (`lib.store.opening.open_source` from settings: the sandbox's
address and token as if it were the real API 1.0, and CALLBOARD_DATABASE_URL), then reads the
same last `--range-days` days up to one fixed instant, as a new user's first page does. On a
throwaway PostgreSQL (tests/postgres.py), and the same on one SQLite file:
  a. one replica's cold read, on a fresh database: the baseline of the rows below;
  b. two replicas reading at the same moment, on another fresh database (both start, open their
     source, then wait at a barrier that releases them together);
  c. a third replica afterwards, on b's database;
and for comparison two replicas at once that each keep their own SQLite file (as before issue
16). Every answer is checked against a plain sequential walk of the API's pages over the range.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from read_speed import SandboxProcess, baseline_walk  # noqa: E402

from lib.settings import DEFAULT_MAX_WORKERS  # noqa: E402
from lib.store.callstore import day_bounds  # noqa: E402

POLL_S = 0.002  # the barrier's poll: short sleeps, so a release reaches both children at once
READY_TIMEOUT_S = 180  # a child's start (pandas, SQLAlchemy) on a shared, busy machine


def digest(ids: list[int]) -> str:
    """A short fingerprint of a set of call ids, so children need not print thousands."""
    return hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:16]


# ----- a replica, in its own process -----


def reader_child(args: argparse.Namespace) -> None:
    """Opens a data source from the environment as the app does, says it is ready, waits for
    the barrier's release, reads the range once and prints JSON."""
    from lib.settings import Settings
    from lib.store.opening import open_source

    source = open_source(Settings.from_env())
    sent = [0]
    lock = threading.Lock()

    def count(response, *_args, **_kwargs):  # a requests response hook, once per answer
        with lock:
            sent[0] += 1
        return response

    source.client.transport.session.hooks["response"].append(count)
    barrier = Path(args.barrier)
    (barrier / f"ready-{args.name}").touch()
    while not (barrier / "go").exists():
        time.sleep(POLL_S)
    released = time.time()  # wall clock: compared across processes, to show they started together
    started = time.perf_counter()
    read = source.read_calls(datetime.fromisoformat(args.after),
                             datetime.fromisoformat(args.before))
    seconds = time.perf_counter() - started
    source.close()
    ids = [int(call_id) for call_id in read.calls["id"]]
    print(json.dumps({"seconds": seconds, "released": released, "requests": sent[0],
                      "calls": len(ids), "digest": digest(ids), "loaded": read.loaded}))


def run_replicas(count: int, stores: list[dict[str, str]], sandbox: SandboxProcess,
                 after: datetime, before: datetime, workers: int, work: Path) -> dict:
    """`count` replica processes, store settings `stores[i]` each, released together; their
    JSON answers and the requests the sandbox counted between the release and the last
    answer."""
    barrier = Path(tempfile.mkdtemp(prefix="barrier-", dir=work))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OUTREACH_", "CALLBOARD_"))}
    env.update({"OUTREACH_API_BASE": sandbox.base_url, "OUTREACH_ACCESS_TOKEN": sandbox.token,
                "OUTREACH_API_VERSION": "1.0", "CALLBOARD_MAX_WORKERS": str(workers),
                "CALLBOARD_TOKEN_DB": str(barrier / "tokens.sqlite")})
    children = [subprocess.Popen(
        [sys.executable, __file__, "--reader-child", "--barrier", str(barrier),
         "--name", str(number), "--after", after.isoformat(), "--before", before.isoformat()],
        cwd=ROOT, env={**env, **stores[number]}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for number in range(count)]
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(list(barrier.glob("ready-*"))) < count:
        if any(child.poll() is not None for child in children) or time.monotonic() > deadline:
            problems = [child.communicate()[1][-2000:] for child in children]
            raise SystemExit("A replica did not get ready:\n" + "\n".join(problems))
        time.sleep(0.05)
    sandbox.reset()
    started = time.perf_counter()
    (barrier / "go").touch()
    answers = []
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"A replica failed ({child.returncode}):\n{err[-3000:]}")
        answers.append(json.loads(out.strip().splitlines()[-1]))
    return {"answers": answers, "requests": sandbox.requests(),
            "seconds": time.perf_counter() - started}


# ----- the run -----


def scenarios(name: str, fresh: Callable[[str], str], sandbox: SandboxProcess, after: datetime,
              before: datetime, args: argparse.Namespace, work: Path) -> list[dict]:
    """a, b and c on one engine; `fresh(label)` makes an empty database and returns its URL."""
    def store(url: str) -> dict[str, str]:
        return {"CALLBOARD_DATABASE_URL": url}

    cold = run_replicas(1, [store(fresh("a"))], sandbox, after, before, args.workers, work)
    shared = fresh("b")
    both = run_replicas(2, [store(shared)] * 2, sandbox, after, before, args.workers, work)
    third = run_replicas(1, [store(shared)], sandbox, after, before, args.workers, work)
    return [{"name": f"{name}: a. one replica, cold (baseline)", **cold},
            {"name": f"{name}: b. two replicas at once, one store", **both},
            {"name": f"{name}: c. a third replica afterwards", **third}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--days", type=int, default=40, help="the sandbox's history")
    parser.add_argument("--range-days", type=int, default=30, help="the days each replica reads")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--workers", type=int, default=DEFAULT_MAX_WORKERS)
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    for hidden in ("--barrier", "--name", "--after", "--before"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--reader-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader_child:
        return reader_child(args)

    from tests.postgres import postgres_server

    work = Path(tempfile.mkdtemp(prefix="callboard-replicas-bench-"))
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), "
          f"Python {platform.python_version()}, {platform.platform()}")
    print(f"Sandbox: {args.reps} reps over {args.days} days, +{args.latency_ms} ms a request, "
          f"own process; each replica: its own process, {args.workers} concurrent requests, "
          f"API 1.0; range: the last {args.range_days} days up to one fixed instant.\n")
    sandbox = SandboxProcess(args.reps, args.days, args.latency_ms, work / "sandbox.sqlite")
    rows: list[dict] = []
    try:
        with postgres_server() as server:
            # One instant for every read and the reference walk: the sandbox's history ends at
            # its start and nothing changes after, so all of them must hold the same calls.
            before = datetime.now(UTC)
            after = day_bounds(before.date() - timedelta(days=args.range_days - 1))[0]
            sandbox.reset()
            walked = time.perf_counter()
            records = baseline_walk(sandbox.base_url, sandbox.token, after, before)
            walked = time.perf_counter() - walked
            truth = digest([int(record["id"]) for record in records])
            walk_requests = sandbox.requests()

            databases = iter(range(1000))
            rows += scenarios("PostgreSQL", lambda label: server.create_database(
                f"bench_{label}_{next(databases)}"), sandbox, after, before, args, work)
            if not args.no_sqlite:
                rows += scenarios("SQLite file", lambda label: "sqlite:///" + str(
                    work / f"{label}-{next(databases)}.sqlite"), sandbox, after, before, args,
                    work)
            own = run_replicas(2, [{"CALLBOARD_CACHE_DB": str(work / f"own-{n}.sqlite")}
                                   for n in range(2)], sandbox, after, before, args.workers,
                               work)
            rows.append({"name": "for comparison: two at once, each its own SQLite", **own})
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)  # the store files hold nothing worth keeping

    print(f"Reference: a plain sequential walk of the range, {len(records):,} calls, "
          f"{walk_requests:,} requests, {walked:.1f} s.\n")
    print(f"{'measurement':46} {'requests':>9} {'of a':>7} {'wall':>7}  replicas "
          f"(requests each, read time), answers")
    colds = {row["name"].split(":")[0]: row["requests"] for row in rows
             if row["name"].endswith("(baseline)")}
    for row in rows:
        # Each engine's rows against its own cold read; the comparison against SQLite's.
        engine = row["name"].split(":")[0]
        baseline = colds.get(engine) or colds.get("SQLite file") or colds["PostgreSQL"]
        answers = row["answers"]
        equal = all(answer["digest"] == truth for answer in answers)
        each = ", ".join(f"{answer['requests']} in {answer['seconds']:.1f}s"
                         for answer in answers)
        if len(answers) > 1:
            spread = max(a["released"] for a in answers) - min(a["released"] for a in answers)
            each += f" (started {spread * 1000:.0f} ms apart)"
        print(f"{row['name']:46} {row['requests']:>9,} {row['requests'] / baseline:>6.2f}× "
              f"{row['seconds']:>6.1f}s  {each}; "
              + ("all equal to the API's records" if equal else "DIFFERENT from the API"))
    for engine in ("PostgreSQL", "SQLite file"):
        mine = [row for row in rows if row["name"].startswith(engine)]
        if mine:
            cold, both, third = (row["requests"] for row in mine)
            print(f"\n{engine}: two replicas at once made {both / cold:.2f}× the requests of one "
                  f"cold read (target ≤ 1.3×); a third replica afterwards {third} (target ≤ 5).")


if __name__ == "__main__":
    main()
