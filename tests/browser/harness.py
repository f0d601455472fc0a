"""Runs the app as a user does (`streamlit run`) and records what it emits, for secret scans."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"

# Generous: the machine is a shared 2-core box, and a cold Streamlit start imports pandas/Altair.
APP_START_TIMEOUT_S = 120

# Settings a developer may have exported that must not leak into the app under test.
_SCRUBBED_PREFIXES = ("OUTREACH_", "CALLBOARD_", "STREAMLIT_", "AUTHLIB_")


def free_port() -> int:
    """A loopback port that was free a moment ago (Streamlit needs the number before it starts,
    because the sign-in redirect URI contains it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SecretScan:
    """Secrets the app must never emit, and everything it emitted, searched at the end.

    Values are held only here; findings name the secret by label and the place, never by value.
    """

    def __init__(self) -> None:
        self._secrets: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.findings: list[str] = []
        self.paths: list[Path] = []  # files and directories the app wrote (logs, caches, temp)
        self.scanned: dict[str, int] = {"pages": 0, "frames": 0, "urls": 0, "files": 0,
                                        "bytes": 0}

    def add_secret(self, label: str, value: str) -> None:
        if len(value) < 12:
            raise ValueError(f"secret {label} is too short to search for without false alarms")
        with self._lock:
            self._secrets[label] = value.encode()

    def add_path(self, path: Path) -> None:
        self.paths.append(path)

    def redact(self, text: str) -> str:
        """Text with every known secret replaced by its label, safe to print in a failure."""
        for label, value in self._secrets.items():
            text = text.replace(value.decode(), f"<{label}>")
        return text

    def check(self, where: str, data: bytes | str, kind: str) -> None:
        """Search one thing the app emitted now (page HTML, a URL, a WebSocket frame)."""
        blob = data.encode("utf-8", "replace") if isinstance(data, str) else data
        with self._lock:
            self.scanned[kind] = self.scanned.get(kind, 0) + 1
            self.scanned["bytes"] += len(blob)
            for label, value in self._secrets.items():
                finding = f"{label} in {where}"
                if value in blob and finding not in self.findings:
                    self.findings.append(finding)

    def check_paths(self) -> None:
        """Search every file under the recorded paths (logs, caches written to disk)."""
        for root in self.paths:
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            for path in files:
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                self.check(str(path), data, "files")


@dataclass
class RunningApp:
    """One `streamlit run` process on a loopback port, with its own home, temp and log."""

    name: str
    port: int
    process: subprocess.Popen
    root: Path  # holds home/, tmp/, data/ and app.log
    log_path: Path
    env: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_app(
    name: str,
    root: Path,
    *,
    env: Mapping[str, str],
    script: str = "app.py",
    secrets_toml: str = "",
    port: int | None = None,
    scan: SecretScan | None = None,
    cwd: Path = REPO,
    address: str | None = "127.0.0.1",
) -> RunningApp:
    """Start `streamlit run SCRIPT` from the repository, as scripts/start.sh does, and wait for it.

    Secrets come from a file of their own (`--secrets.files`), so a developer's
    .streamlit/secrets.toml is neither read nor overwritten; HOME and TMPDIR point into `root`,
    so anything the app caches on disk lands where the secret scan looks. `address=None` leaves
    the listening address to .streamlit/config.toml, as `scripts/start.sh` does.
    """
    root.mkdir(parents=True, exist_ok=True)
    home, tmp, data = root / "home", root / "tmp", root / "data"
    for folder in (home, tmp, data):
        folder.mkdir(exist_ok=True)
    secrets_path = root / "secrets.toml"
    secrets_path.write_text(secrets_toml)
    log_path = root / "app.log"

    child_env = {key: value for key, value in os.environ.items()
                 if not key.startswith(_SCRUBBED_PREFIXES)}
    child_env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
        CALLBOARD_SANDBOX_DB=str(data / "sandbox.sqlite"),
        CALLBOARD_CACHE_DB=str(data / "calls.sqlite"),
    )
    child_env.update(env)

    if scan is not None:
        for folder in (home, tmp, data):
            scan.add_path(folder)
        scan.add_path(log_path)

    last_error = ""
    for _attempt in range(3):  # a port picked free can be taken before Streamlit binds it
        chosen = port or free_port()
        command = [
            sys.executable, "-m", "streamlit", "run", script,
            "--server.port", str(chosen),
            *(["--server.address", address] if address else []),
            "--server.headless", "true",
            # Nothing edits the code during a run; polling files would only cost CPU.
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
            "--secrets.files", str(secrets_path),
        ]
        log = log_path.open("ab")
        process = subprocess.Popen(command, cwd=cwd, env=child_env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        app = RunningApp(name, chosen, process, root, log_path, child_env)
        try:
            _wait_healthy(app)
            return app
        except RuntimeError as exc:
            app.stop()
            last_error = str(exc)
            if port is not None or "address already in use" not in app.log_text().lower():
                break
    text = scan.redact(last_error) if scan else last_error
    raise RuntimeError(text)


def _wait_healthy(app: RunningApp) -> None:
    deadline = time.monotonic() + APP_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"app {app.name} exited with {app.process.returncode}:\n"
                               f"{app.log_text()[-3000:]}")
        try:
            answer = requests.get(f"{app.url}/_stcore/health", timeout=2)
            if answer.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"app {app.name} not healthy after {APP_START_TIMEOUT_S}s:\n"
                       f"{app.log_text()[-3000:]}")


def listening_addresses(port: int) -> set[str]:
    """The local addresses of sockets listening on `port`, from the kernel's own tables
    (/proc/net/tcp and tcp6): what a server really bound, not what it printed."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address_hex)
            # The kernel prints each 32-bit word in host (little-endian) order.
            words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(words)) if len(words) == width // 2 else "?")
    return found
