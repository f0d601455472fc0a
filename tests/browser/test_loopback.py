"""Started as a user starts them, the app and the sandbox listen on loopback only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lib.sandbox import Sandbox
from tests.browser.conftest import Apps, sandbox_env
from tests.browser.harness import REPO, listening_addresses

pytestmark = pytest.mark.browser


def test_the_app_listens_on_loopback_unless_told_otherwise(apps: Apps, app_sandbox: Sandbox):
    # No --server.address: the address comes from .streamlit/config.toml, as with start.sh.
    app = apps.start("default-address", address=None, env=sandbox_env(app_sandbox))
    try:
        addresses = listening_addresses(app.port)
        assert addresses, "found no listening socket for the app"
        assert addresses <= {"127.0.0.1", "::1"}, addresses
    finally:
        apps.stop("default-address")


def test_the_sandbox_listens_on_loopback_unless_told_otherwise(tmp_path: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "lib.sandbox", "--port", "0", "--reps", "2", "--days", "3",
         "--db", str(tmp_path / "sandbox.sqlite")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = process.stdout.readline().split()[3]
        port = int(url.rsplit(":", 1)[1])
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        process.terminate()
        process.wait(timeout=20)
