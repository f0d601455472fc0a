"""Browser-test fixtures: a sandbox on loopback, the app as `streamlit run`, headless Chromium.

Every app the tests start, every page they open and every WebSocket frame the app sends is
searched for the tokens and client secrets involved; the session fails if one shows up.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from lib.sandbox import Sandbox, start_sandbox
from tests.browser.harness import (
    ARTIFACTS,
    CHROMIUM,
    SCREENSHOTS,
    RunningApp,
    SecretScan,
    start_app,
)
from tests.browser.ui import TZ
from tests.conftest import NOW, pinned_now

# Waits are long because the machine is a shared 2-core box; they end as soon as the page is
# ready, so a healthy run is not slowed by them.
UI_TIMEOUT_MS = 90_000
# Pinned to the unit tests' instant, so the figures compared are the same at any hour; the
# demo on the real clock has a test of its own (test_demo.py).
SANDBOX_OPTIONS = {"seed": 7, "reps": 5, "days": 30, "mint_interval": 0, "now": NOW}


def sandbox_env(box: Sandbox, token: str | None = None, **extra: str) -> dict[str, str]:
    """An app's settings for this sandbox: its API, a token (default all scopes), the tests'
    zone, and the sandbox's clock (CALLBOARD_NOW), so "today" in the app is the sandbox's."""
    return {"OUTREACH_API_BASE": box.base_url, "OUTREACH_ACCESS_TOKEN": token or box.full_token,
            "CALLBOARD_TIMEZONE": TZ, "CALLBOARD_NOW": pinned_now(box), **extra}


@pytest.fixture(scope="session")
def secret_scan() -> Iterator[SecretScan]:
    """The session's record of secrets and of what the apps emitted; checked last of all.

    Fixtures that start apps or browsers depend on this one, so they are torn down (apps
    stopped, logs flushed) before the final search of logs and files below.
    """
    scan = SecretScan()
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    yield scan
    scan.check_paths()
    report = ARTIFACTS / "secret-scan.txt"
    lines = [f"{kind}: {count}" for kind, count in sorted(scan.scanned.items())]
    lines += [f"FOUND {finding}" for finding in scan.findings]
    report.write_text("\n".join(lines) + "\n")
    logs = ARTIFACTS / "app-logs"
    logs.mkdir(exist_ok=True)
    for path in scan.paths:
        if path.name == "app.log" and path.exists():
            target = logs / f"{path.parent.name}.log"
            target.write_text(scan.redact(path.read_text(errors="replace")))
    if scan.findings:
        pytest.fail("Secrets found in what the app emitted:\n" + "\n".join(scan.findings))


@pytest.fixture(scope="session")
def app_sandbox(secret_scan: SecretScan) -> Iterator[Sandbox]:
    """The browser tests' own sandbox (the unit tests' one stays untouched by logged calls)."""
    box = start_sandbox(port=0, **SANDBOX_OPTIONS)
    for label in ("full_token", "read_token", "client_secret", "refresh_token"):
        secret_scan.add_secret(f"sandbox {label}", getattr(box, label))
    yield box
    box.stop()


class Apps:
    """Starts apps on demand, one per name, all stopped at the end of the session."""

    def __init__(self, root: Path, scan: SecretScan) -> None:
        self.root = root
        self.scan = scan
        self.running: dict[str, RunningApp] = {}

    def start(self, name: str, **options: object) -> RunningApp:
        if name not in self.running:
            self.running[name] = start_app(name, self.root / name, scan=self.scan, **options)
        return self.running[name]

    def stop(self, name: str) -> None:
        app = self.running.pop(name, None)
        if app is not None:
            app.stop()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


@pytest.fixture(scope="session")
def apps(tmp_path_factory: pytest.TempPathFactory, secret_scan: SecretScan) -> Iterator[Apps]:
    started = Apps(tmp_path_factory.mktemp("apps"), secret_scan)
    yield started
    started.stop_all()


@pytest.fixture(scope="session")
def dashboard(apps: Apps, app_sandbox: Sandbox) -> RunningApp:
    """The dashboard with the sandbox's all-scopes token, as a deployment would run it."""
    return apps.start("dashboard", env=sandbox_env(app_sandbox))


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright, secret_scan: SecretScan) -> Iterator[Browser]:
    """Debian's Chromium, headless; Playwright never downloads a browser of its own here."""
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    yield chromium
    chromium.close()


def _artifact_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


@pytest.fixture
def new_page(
    browser: Browser, secret_scan: SecretScan, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Page]]:
    """new_page() -> a page in a fresh browser context (its own cookies), recorded for the scan.

    Every URL requested, console line and WebSocket frame received is searched as it happens;
    each page's final HTML is searched and its screenshot saved when the test ends.
    """
    contexts = []
    pages: list[Page] = []

    def make() -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      accept_downloads=True)
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("request", lambda req: secret_scan.check(f"URL {req.url}", req.url, "urls"))
        page.on("console", lambda msg: secret_scan.check("browser console", msg.text, "console"))
        page.on("websocket", lambda ws: ws.on(
            "framereceived",
            lambda payload: secret_scan.check(f"WebSocket frame from {ws.url}", payload, "frames"),
        ))
        pages.append(page)
        return page

    yield make

    base = _artifact_name(request.node.name)
    for index, page in enumerate(pages):
        suffix = "" if len(pages) == 1 else f"-{index + 1}"
        try:
            secret_scan.check(f"HTML of {page.url}", page.content(), "pages")
            page.screenshot(path=str(SCREENSHOTS / f"{base}{suffix}.png"), full_page=True)
        except Exception as exc:  # a closed page must not hide the test's own result
            print(f"could not record page {index}: {exc}")
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


def snapshot(page: Page, name: str, scan: SecretScan) -> Path:
    """Save a screenshot of what the page shows now, and search its HTML for secrets."""
    path = SCREENSHOTS / f"{_artifact_name(name)}.png"
    scan.check(f"HTML of {page.url}", page.content(), "pages")
    page.screenshot(path=str(path), full_page=True)
    return path
