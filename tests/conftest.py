"""Shared fixtures: one small sandbox for the session on a pinned clock, and clients of it that
share that clock and never really wait."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from lib.clock import pin_text
from lib.outreach import OutreachClient, StaticToken
from lib.sandbox import Sandbox, SandboxClock, start_sandbox

# The one "now" of the suite, for the sandbox, the clients, the data source and the app: a
# Wednesday at 17:00 UTC, which is the same date from Los Angeles (09:00) to Berlin (18:00), with
# no DST change within two weeks. The clock runs on from here during a run; tests that need time
# to pass move it (the `clock` fixture) instead of sleeping.
NOW = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
# Days of the pinned history, by construction (seed 7, 5 reps, working hours on weekdays):
WORKDAY = date(2026, 11, 17)  # a Tuesday: every rep's calls
WEEKEND_DAY = date(2026, 11, 15)  # a Sunday: no calls anywhere, in any of the reps' zones
# Small enough to start in well under a second, large enough for ~90 pages of calls.
SANDBOX_OPTIONS = {"seed": 7, "reps": 5, "days": 30, "mint_interval": 0, "now": NOW}


def no_sleep(seconds: float) -> None:
    """Stands in for time.sleep so retries and backoff cost no test time."""


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox for the whole run. Tests that change its settings use `configure_sandbox`."""
    box = start_sandbox(port=0, **SANDBOX_OPTIONS)
    yield box
    box.stop()


@pytest.fixture
def clock(sandbox: Sandbox) -> Iterator[SandboxClock]:
    """The session sandbox's clock, which the tests' clients share, for a test that moves it
    (`clock.advance(seconds)` instead of a sleep); put back afterwards, with the rate windows
    opened meanwhile (they would otherwise outlast an hour of the restored clock)."""
    yield sandbox.clock
    sandbox.clock.reset()
    sandbox.reset_rate_limits()


@pytest.fixture
def configure_sandbox(sandbox: Sandbox) -> Iterator[Callable[..., dict]]:
    """sandbox.configure for one test; the settings and rate windows are restored afterwards."""
    original = sandbox.configure()
    yield sandbox.configure
    sandbox.configure(**{key: original[key] for key in
                         ("latency_ms", "fault_rate", "rate_limit", "mint_interval", "token_ttl")})
    sandbox.reset_rate_limits()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[OutreachClient]:
    """A client with the sandbox's all-scopes token, on its clock, whose retries do not sleep."""
    with OutreachClient(sandbox.base_url, StaticToken(sandbox.full_token), sleep=no_sleep,
                        clock=sandbox.clock.now) as c:
        yield c


def sandbox_now(box: Sandbox) -> str:
    """CALLBOARD_NOW for a short-lived process started at once (the CLI): the sandbox's clock as
    it reads now; the child runs on from there, so it sees every call made before it started.
    Unlike pinned_now it needs no real time shared with this process, which a `faketime` run
    does not give (each process's fake time starts when that process does)."""
    return box.clock.now().isoformat()


def pinned_now(box: Sandbox) -> str:
    """CALLBOARD_NOW for an app or CLI started by a test: the sandbox's clock as it was pinned
    (clock moves are not carried over), in another process (lib.clock.parse_clock). The same
    text for the whole run, so the app's settings, and with them its caches, stay the same."""
    assert box.clock.pinned_at is not None, "the sandbox's clock is not pinned"
    return pin_text(*box.clock.pinned_at)


class Scripted:
    """A loopback HTTP server for answers the sandbox never gives (other record shapes, odd
    headers, HTML bodies). `answer(method, path, query, headers) -> (status, headers, body)`;
    `requests` records (method, path, query, headers) and `bodies` the raw request bodies."""

    def __init__(self, answer: Callable[[str, str, dict, dict], tuple[int, dict, bytes]]):
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.bodies: list[bytes] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                scripted.bodies.append(self.rfile.read(length) if length else b"")
                split = urlsplit(self.path)
                query = dict(parse_qsl(split.query))
                headers = dict(self.headers.items())
                scripted.requests.append((self.command, split.path, query, headers))
                status, extra, body = answer(self.command, split.path, query, headers)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = _serve  # noqa: N815
            do_POST = _serve  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    """make(answer) -> a running Scripted server, stopped after the test."""
    servers: list[Scripted] = []

    def make(answer):
        servers.append(Scripted(answer))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(params=["1.0", "2"], ids=["v1.0", "v2"])
def api(request):
    """Runs the test once against each API version (a tests.api_versions.Api)."""
    from tests.api_versions import API_1_0, API_2

    return API_1_0 if request.param == "1.0" else API_2


# ----- the store's two engines -----


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the run (tests/postgres.py), started on first use.
    No mock database: a missing server is an error, since scripts/test.sh installs it."""
    from tests.postgres import postgres_server

    with postgres_server() as server:
        yield server


_databases = iter(range(1, 1_000_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_where(request, tmp_path) -> str:
    """Where a test's store of calls lives, once on each engine: a SQLite file in the test's
    folder, or a new database of its own on the run's PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "calls.sqlite")
    server = request.getfixturevalue("postgres")
    return server.create_database(f"calls_{next(_databases)}")


def conversations_of(summary: dict) -> dict:
    """Takes the figures that count conversations out of a summary (they differ between the
    versions by design) and returns them."""
    taken = {key: summary.pop(key) for key in ("conversations", "conversation_rate",
                                               "positive_rate")}
    for key in ("conversations", "conversation_rate", "positive_rate"):
        summary["previous"].pop(key)
        summary["deltas"].pop(key)
    taken["outcome_mapping"] = summary["outcome_mapping"].pop("conversations")
    return taken
