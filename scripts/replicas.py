"""Starts a two-replica Callboard stack on this machine for a smoke test, and stops all of it.

    .venv/bin/python scripts/replicas.py [--first-port 8501] [--check]
    (scripts/replicas.sh installs what is missing first, then runs this)

What runs, each in a process of its own, in this order:
  1. a throwaway PostgreSQL (tests/postgres.py: a temporary folder, a unix socket, as the
     `postgres` user when run as root), with one database `callboard`;
  2. ONE Outreach sandbox (`python -m lib.sandbox`, real clock) that stands in for Outreach, so
     both replicas see the same org; Callboard is given its address and a token as if it were
     the real API (OUTREACH_API_BASE, OUTREACH_ACCESS_TOKEN), so none of them is in demo mode;
  3. the sync worker (`python -m lib.cli sync --every 4m --days 62`);
  4. two Streamlit replicas (`streamlit run app.py`) on two ports,
all with the same CALLBOARD_DATABASE_URL. Ctrl-C (or SIGTERM, SIGHUP) stops the replicas, the
worker and the sandbox, then PostgreSQL, and removes its folder and the logs' folder. A launcher
killed outright (SIGKILL) still takes its children with it (the kernel's parent-death signal),
but leaves PostgreSQL running in its /tmp/callboard-pg-* folder.

`--check`: starts the stack on free ports, waits until both replicas answer /_stcore/health and
the worker's first sync is done, opens the overview once on each replica (a Streamlit session
over its WebSocket, as a browser would, without the browser), says how many API requests each
made, stops everything and exits 0 when both showed the overview's cards (1 otherwise).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.postgres import postgres_server  # noqa: E402

PYTHON = sys.executable
WORKER_EVERY = "4m"  # below CALLBOARD_SYNC_EVERY_MINUTES (5), so replicas never find data due
WORKER_DAYS = 62  # a 30-day overview and the 30 days before it, which its cards compare with
START_TIMEOUT_S = 180  # a cold Streamlit start imports pandas and Altair; the machine is shared
PAGE_TIMEOUT_S = 180
POLL_S = 0.25
STOP_GRACE_S = 15
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Settings from the caller's shell that would point a process elsewhere than this stack.
_OWN_SETTINGS = ("OUTREACH_", "CALLBOARD_DATABASE_URL", "CALLBOARD_CACHE_DB", "CALLBOARD_TOKEN_DB",
                 "CALLBOARD_SANDBOX_DB", "CALLBOARD_NOW", "STREAMLIT_")


class Stop(Exception):
    """A signal asked the stack to stop."""


def _on_signal(signum: int, _frame: object) -> None:
    # Once: a second Ctrl-C must not cut the cleanup short (PostgreSQL is still to be stopped).
    for each in STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    raise Stop(signal.Signals(signum).name)


def free_port() -> int:
    """A loopback port that was free a moment ago (Streamlit needs the number before it starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def shown(secret: str) -> str:
    """A secret as it may be printed: its last four characters only."""
    return f"…{secret[-4:]}" if len(secret) > 8 else "…"


def _die_with_parent() -> None:
    """Runs in each child before exec: the kernel sends it SIGTERM when this launcher dies, even
    by SIGKILL, so no child outlives the stack (Linux; elsewhere a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    """One process of the stack, its output in a log file."""

    name: str
    process: subprocess.Popen
    log: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


class Stack:
    """The stack's processes, started in order and stopped in reverse."""

    def __init__(self, logs: Path, secrets: list[str]) -> None:
        self.logs = logs
        self.children: list[Child] = []
        self.secrets = secrets  # redacted from every log tail this prints

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            # A session of its own: Ctrl-C in the terminal reaches only this launcher, which
            # then stops the children in order (replicas before the database they write to).
            process = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True, preexec_fn=_die_with_parent)
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.children:
            if not child.running():
                raise RuntimeError(f"{child.name} exited ({child.process.returncode}):\n"
                                   f"{self.tail(child)}")

    def tail(self, child: Child, lines: int = 15) -> str:
        text = "\n".join(child.output().splitlines()[-lines:])
        for secret in self.secrets:
            text = text.replace(secret, shown(secret))
        return text

    def stop(self) -> None:
        """SIGTERM to each child's process group, newest first; SIGKILL to any that outlast
        the grace period."""
        for child in reversed(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in reversed(self.children):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            if child.running():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()


def wait_for(what: str, ready, stack: Stack, timeout: float = START_TIMEOUT_S) -> None:
    """Polls `ready()` until it is true; fails when a child died meanwhile or time is up."""
    deadline = time.monotonic() + timeout
    while not ready():
        stack.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(POLL_S)


def healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).text == "ok"
    except requests.RequestException:
        return False


def base_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items()
            if not key.startswith(_OWN_SETTINGS)}


@contextlib.contextmanager
def running_stack(first_port: int, work: Path) -> Iterator[tuple[Stack, dict[str, object]]]:
    """Starts everything; yields the stack and what a caller may print or check."""
    logs = work / "logs"
    logs.mkdir()
    with postgres_server() as server:
        database_url = server.create_database("callboard")
        stack = Stack(logs, secrets=[])
        try:
            sandbox_port = free_port()
            sandbox = stack.start("sandbox", [
                PYTHON, "-m", "lib.sandbox", "--port", str(sandbox_port), "--reps", "10",
                "--days", "90", "--db", str(work / "sandbox.sqlite")], base_env())
            wait_for("the sandbox", lambda: "full token:" in sandbox.output(), stack)
            token = sandbox.output().split("full token:")[1].split()[0]
            stack.secrets.append(token)
            api_base = f"http://127.0.0.1:{sandbox_port}"
            shared = {**base_env(), "OUTREACH_API_BASE": api_base,
                      "OUTREACH_ACCESS_TOKEN": token, "OUTREACH_API_VERSION": "1.0",
                      "CALLBOARD_DATABASE_URL": database_url}
            stack.start("worker", [PYTHON, "-m", "lib.cli", "sync", "--every", WORKER_EVERY,
                                   "--days", str(WORKER_DAYS)],
                        {**shared, "CALLBOARD_TOKEN_DB": str(work / "tokens-worker.sqlite")})
            ports = ([free_port(), free_port()] if first_port == 0
                     else [first_port, first_port + 1])
            for number, port in enumerate(ports, start=1):
                stack.start(f"replica{number}", [
                    PYTHON, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                    "--server.address", "127.0.0.1", "--server.headless", "true",
                    "--browser.gatherUsageStats", "false"],
                    {**shared, "CALLBOARD_TOKEN_DB": str(work / f"tokens-{number}.sqlite")})
            for port in ports:
                wait_for(f"the replica on port {port}", lambda port=port: healthy(port), stack)
            yield stack, {"api_base": api_base, "token": token, "ports": ports,
                          "database_url": database_url, "server": server}
        finally:
            stack.stop()


def api_requests(api_base: str) -> int:
    return int(requests.get(f"{api_base}/_sandbox/stats", timeout=10).json()["request_count"])


def reset_requests(api_base: str) -> None:
    requests.post(f"{api_base}/_sandbox/reset", timeout=10)


def open_overview(port: int, timeout: float = PAGE_TIMEOUT_S) -> dict[str, object]:
    """Opens the app's default page (the overview) as a new browser session would, over the
    WebSocket Streamlit's front end speaks (protobuf BackMsg/ForwardMsg), and says what it
    showed: the metric cards' labels, alerts and whether an exception was drawn."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    rerun = BackMsg()
    rerun.rerun_script.query_string = ""
    rerun.rerun_script.page_script_hash = ""
    metrics: list[str] = []
    alerts: list[str] = []
    headings: list[str] = []
    exceptions = 0
    finished = False
    deadline = time.monotonic() + timeout
    with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                 open_timeout=30, max_size=None) as ws:
        ws.send(rerun.SerializeToString())
        while time.monotonic() < deadline:
            try:
                data = ws.recv(timeout=5)
            except TimeoutError:
                continue
            message = ForwardMsg()
            message.ParseFromString(data)
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                shape = element.WhichOneof("type")
                if shape == "metric":
                    metrics.append(element.metric.label)
                elif shape == "alert":
                    alerts.append(element.alert.body)
                elif shape == "heading":
                    headings.append(element.heading.body)
                elif shape == "exception":
                    exceptions += 1
            elif kind == "script_finished" and metrics:
                # The app's first run may end in a rerun (st.navigation); the page is drawn
                # once the cards were sent and a run finished.
                finished = True
                break
    return {"metrics": metrics, "alerts": alerts, "headings": headings,
            "exceptions": exceptions, "finished": finished}


def check(stack: Stack, info: dict[str, object]) -> int:
    """The smoke test: the worker's first sync, then the overview once on each replica."""
    worker = next(child for child in stack.children if child.name == "worker")
    wait_for("the worker's first sync", lambda: f"The last {WORKER_DAYS} day(s)" in
             worker.output() or "the sync failed" in worker.output(), stack)
    if "the sync failed" in worker.output():
        print(f"FAIL: the worker's first sync failed:\n{stack.tail(worker)}")
        return 1
    print(f"worker: {worker.output().strip().splitlines()[-1]}")
    status = 0
    api_base = str(info["api_base"])
    for number, port in enumerate(info["ports"], start=1):  # type: ignore[arg-type]
        reset_requests(api_base)
        started = time.monotonic()
        page = open_overview(int(port))
        seconds = time.monotonic() - started
        count = api_requests(api_base)
        ok = page["finished"] and not page["exceptions"]
        status |= 0 if ok else 1
        print(f"replica {number} (port {port}): {'ok' if ok else 'FAIL'}, overview in "
              f"{seconds:.1f} s, {count} API request(s); cards: "
              f"{', '.join(page['metrics']) or 'none'}"  # type: ignore[arg-type]
              + (f"; alerts: {' | '.join(page['alerts'])}" if page["alerts"] else "")
              + (f"; {page['exceptions']} exception(s)" if page["exceptions"] else ""))
    if status:
        for child in stack.children:
            print(f"--- {child.name} (last lines) ---\n{stack.tail(child)}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-port", type=int, default=None,
                        help="the first replica's port; the second is the next one "
                             "(default 8501; 0 picks free ports, the default with --check)")
    parser.add_argument("--check", action="store_true",
                        help="start, open the overview on each replica, stop; exit 0 if both "
                             "showed it")
    args = parser.parse_args(argv)
    first_port = args.first_port if args.first_port is not None else (0 if args.check else 8501)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)
    work = Path(tempfile.mkdtemp(prefix="callboard-replicas-"))
    status = 0
    try:
        print("Starting PostgreSQL, the sandbox, the sync worker and two replicas…", flush=True)
        with running_stack(first_port, work) as (stack, info):
            token = str(info["token"])
            print(f"PostgreSQL:  throwaway server on a socket in {info['server'].socket_dir}, "
                  f"CALLBOARD_DATABASE_URL={info['database_url']}")
            print(f"Sandbox:     {info['api_base']} standing in for Outreach (API 1.0), "
                  f"token {shown(token)}")
            print(f"Sync worker: python -m lib.cli sync --every {WORKER_EVERY} "
                  f"--days {WORKER_DAYS}")
            for number, port in enumerate(info["ports"], start=1):  # type: ignore[arg-type]
                print(f"Replica {number}:   http://127.0.0.1:{port}")
            print(f"Logs:        {stack.logs} (removed at exit)", flush=True)
            if args.check:
                status = check(stack, info)
            else:
                print("Ctrl-C stops everything.", flush=True)
                while True:
                    stack.check_alive()
                    time.sleep(0.5)
    except Stop as stop:
        print(f"\n{stop}: stopping…", flush=True)
    except RuntimeError as error:
        print(f"callboard replicas: {error}", file=sys.stderr)
        status = 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("Stopped: replicas, worker, sandbox and PostgreSQL; temporary folders removed.")
    return status


if __name__ == "__main__":
    sys.exit(main())
