"""The throwaway PostgreSQL server of tests/postgres.py: it starts, serves a new database over its
socket, and leaves neither a process, a socket nor a folder behind."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.postgres import find_postgres_bin, postgres_server

pytestmark = pytest.mark.skipif(
    find_postgres_bin() is None,
    reason="PostgreSQL is missing: scripts/test.sh installs it (or 'apt-get install postgresql')",
)


def test_server_serves_a_new_database_and_leaves_nothing_behind() -> None:
    with postgres_server() as server:
        url = server.create_database("callboard_test")
        assert url == f"postgresql+psycopg://callboard@/callboard_test?host={server.socket_dir}"
        # Straight through psql, as a client would connect: no Python driver needed.
        done = subprocess.run(
            [str(server.psql), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", str(server.socket_dir), "-U", server.user, "-d", "callboard_test",
             "-c", "SELECT 1"],
            capture_output=True, text=True, timeout=30,
        )
        assert (done.returncode, done.stdout.strip()) == (0, "1"), done.stderr
        sockets = [path for path in server.socket_dir.glob(".s.PGSQL.*") if path.is_socket()]
        assert len(sockets) == 1
        postmaster = int((server.socket_dir / "data" / "postmaster.pid").read_text().split()[0])
        assert server.run_sql("SHOW listen_addresses").strip() == ""
        assert server.run_sql("SHOW fsync").strip() == "off"

    assert not server.socket_dir.exists()
    assert not running(postmaster)
    with socket.socket(socket.AF_UNIX) as client, pytest.raises(OSError):
        client.connect(str(sockets[0]))


def running(pid: int) -> bool:
    """Whether process `pid` still runs: an exited one may stay a zombie until init reaps it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # The state follows the command's closing parenthesis; "Z" is a zombie, "X" dead.
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:  # reaped meanwhile
        return False
    return state not in "ZX"
