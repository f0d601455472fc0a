"""The local two-replica stack (scripts/replicas.py --check): PostgreSQL, one sandbox, the sync
worker and two replicas start, each replica shows the overview, and everything is stopped again
without printing a secret."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lib.sandbox import start_sandbox
from tests.postgres import find_postgres_bin

ROOT = Path(__file__).resolve().parent.parent
# About 25 s on the shared 2-core machine; generous, since a cold Streamlit start is slow there.
CHECK_TIMEOUT_S = 420

pytestmark = pytest.mark.skipif(
    find_postgres_bin() is None,
    reason="PostgreSQL is missing: scripts/test.sh installs it (or 'apt-get install postgresql')",
)


def answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_stack_check_opens_the_overview_on_both_replicas_and_leaves_nothing_behind() -> None:
    done = subprocess.run([sys.executable, "scripts/replicas.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=CHECK_TIMEOUT_S)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    for number in (1, 2):
        assert re.search(rf"^replica {number} \(port \d+\): ok, .*cards: Calls", out, re.M), out
    # The second replica reads what the worker and the first one stored.
    second = re.search(r"^replica 2 .*?(\d+) API request", out, re.M)
    assert second and int(second.group(1)) <= 5, out

    socket_dir = re.search(r"socket in (\S+),", out)
    assert socket_dir and not Path(socket_dir.group(1)).exists(), out
    ports = [int(port) for port in re.findall(r"^Replica \d:\s+http://127\.0\.0\.1:(\d+)", out,
                                              re.M)]
    assert len(ports) == 2 and not any(answers(port) for port in ports), out

    # The launcher's sandbox runs with the default seed; its secrets are these.
    with start_sandbox(port=0, seed=7, reps=1, days=1) as box:
        secrets = [box.full_token, box.read_token, box.client_secret, box.refresh_token]
    assert not [secret for secret in secrets if secret in out]
