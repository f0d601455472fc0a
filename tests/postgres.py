"""Starts a throwaway PostgreSQL server for the tests: a temporary data directory, a unix socket
in a temporary folder (no TCP), trust auth and no fsync, removed again on exit.

Stdlib only. The server binaries come from Debian's `postgresql` package (scripts/test.sh
installs it when missing). PostgreSQL refuses to run as root, so when the tests run as root the
server runs as the `postgres` user (through `runuser`); otherwise as the user running the tests.

    with postgres_server() as server:
        url = server.create_database("callboard_test")  # a SQLAlchemy URL for psycopg 3
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

USER = "callboard"  # the server's superuser, which the tests connect as (trust auth, no password)
SERVER_ACCOUNT = "postgres"  # who runs the server when the tests run as root
SETUP_TIMEOUT = 60  # seconds for initdb, pg_ctl start and stop (a busy machine is slow)
QUERY_TIMEOUT = 30  # seconds for one psql call
LOG_TAIL_LINES = 30  # how much of the server log a failed start shows


def find_postgres_bin() -> Path | None:
    """The folder holding PostgreSQL's server programs (initdb, pg_ctl), or None if none is found.

    Looks in `pg_config --bindir`, then in Debian's /usr/lib/postgresql/<version>/bin newest
    version first, then for `initdb` on PATH (following links to the real folder).
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(done.stdout.strip()))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=_version_key, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """Sort key for /usr/lib/postgresql/<version>/bin: 15 before 9.6, so numbers, not text."""
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway server, reachable only through the unix socket in `socket_dir`."""

    socket_dir: Path
    user: str
    psql: Path

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for psycopg 3 to `database` over the socket (no password needed)."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql+psycopg://{quote(self.user)}@/{quote(database, safe='')}?host={host}"

    def run_sql(self, sql: str, database: str = "postgres") -> str:
        """Runs `sql` with psql as `user` and returns its unaligned output; raises on any error."""
        done = subprocess.run(
            [str(self.psql), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", str(self.socket_dir), "-U", self.user, "-d", database, "-c", sql],
            capture_output=True, text=True, timeout=QUERY_TIMEOUT, env=_client_env(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str) -> str:
        """Creates database `name` (any text; it is quoted) and returns its `url`."""
        self.run_sql('CREATE DATABASE "{}"'.format(name.replace('"', '""')))
        return self.url(name)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Starts a server in a new temporary folder, yields it, then stops it and removes the folder.

    The stop (`pg_ctl -m immediate`, nothing is worth keeping) and the removal happen even when
    the body raised. A server that does not start raises RuntimeError with the log's last lines.
    """
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is missing: run 'sudo apt-get install postgresql'.")
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="callboard-pg-", dir=_temp_parent(as_root)))
    data, log = base / "data", base / "server.log"
    try:
        if as_root:
            # The folder (mode 0700) becomes the server account's: it writes the data directory,
            # the socket and the log there. Root reaches the socket without any other permission.
            shutil.chown(base, user=SERVER_ACCOUNT)
            if not os.access(base, os.X_OK):  # a root without CAP_DAC_OVERRIDE (some containers)
                _run_server_tool(["chmod", "711", str(base)], as_root, base)
        _run_server_tool(
            [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", USER,
             "-E", "UTF8", "--locale=C", "--no-sync"],
            as_root, base,
        )
        options = f"-k {base} -c listen_addresses='' -c fsync=off"
        started = _run_server_tool(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
             "-w", "-t", str(SETUP_TIMEOUT - 10), "start"],
            as_root, base, check=False,
        )
        if started.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start ({started.returncode}): {started.stderr.strip()}\n"
                f"Last lines of {log.name}:\n{_tail(log)}"
            )
        psql = bin_dir / "psql"
        if not psql.is_file():
            psql = Path(shutil.which("psql") or "psql")
        yield PostgresServer(socket_dir=base, user=USER, psql=psql)
    finally:
        try:
            _stop(bin_dir, data, as_root, base)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _temp_parent(as_root: bool) -> str | None:
    """Where to make the temporary folder: the usual temp dir, unless the server account could not
    reach it (a root-only TMPDIR), then /tmp."""
    if not as_root:
        return None
    parent = Path(tempfile.gettempdir()).resolve()
    reachable = all(folder.stat().st_mode & 0o001 for folder in [parent, *parent.parents])
    return None if reachable else "/tmp"


def _stop(bin_dir: Path, data: Path, as_root: bool, base: Path) -> None:
    """Stops the server if it runs (immediate mode); kills the postmaster if pg_ctl cannot."""
    pid_file = data / "postmaster.pid"
    if not pid_file.exists():
        return
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        stopped = _run_server_tool(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            as_root, base, check=False,
        )
        if stopped.returncode == 0:
            return
    with contextlib.suppress(OSError, ValueError, IndexError):
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


def _run_server_tool(
    argv: list[str], as_root: bool, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs a server program as the account that runs the server, in `cwd` (which it can enter)."""
    program = Path(argv[0]).name
    if as_root:
        argv = ["runuser", "-u", SERVER_ACCOUNT, "--", *argv]
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=SETUP_TIMEOUT, env=_client_env()
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{program} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
        )
    return done


def _client_env() -> dict[str, str]:
    """This process's environment without PG* settings, which would redirect or change the tools."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _tail(log: Path) -> str:
    """The server log's last lines, or why there are none."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    except OSError as error:
        return f"(no log: {error})"
