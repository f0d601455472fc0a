"""Connect Outreach end to end in Chromium: an OAuth app without a refresh token, the Connect
page instead of the dashboard, the sandbox's consent page, back with data; a forged or replayed
callback refused; a restart after a rotated refresh token; Disconnect.

The sandbox rotates refresh tokens (each refresh spends the one presented) and mints at most
one access token a minute on its clock, which the tests move instead of sleeping. The app is a
local Callboard (no sign-in), so whoever opens it is an admin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from playwright.sync_api import Page, expect

from lib.sandbox import Sandbox, start_sandbox
from lib.store.tokens import StoredTokens, TokenStore
from tests.browser.conftest import Apps, snapshot
from tests.browser.harness import RunningApp, SecretScan, free_port
from tests.browser.ui import TZ, expect_no_traceback
from tests.conftest import NOW, pinned_now

pytestmark = pytest.mark.browser

APP = "connect"


@dataclass
class Connectable:
    """The app under test, its sandbox and where it keeps its tokens."""

    apps: Apps
    box: Sandbox
    env: dict[str, str]
    port: int
    key: str
    token_db: Path
    scan: SecretScan

    @property
    def app(self) -> RunningApp:
        return self.apps.start(APP, port=self.port, env=self.env)

    def restart(self) -> RunningApp:
        self.apps.stop(APP)
        return self.app

    def kept(self) -> StoredTokens | None:
        kept = TokenStore(self.token_db, self.key).load(self.box.base_url, self.box.client_id)
        if kept is not None:  # from now on, the app must never show them either
            self.scan.add_secret("kept refresh token " + kept.refresh_token[:4],
                                 kept.refresh_token)
            if kept.access_token:
                self.scan.add_secret("kept access token " + kept.access_token[:4],
                                     kept.access_token)
        return kept


@pytest.fixture(scope="module")
def connectable(apps: Apps, secret_scan: SecretScan) -> Iterator[Connectable]:
    port = free_port()  # known first: the redirect URI the OAuth app registers names it
    redirect_uri = f"http://127.0.0.1:{port}/connect"
    box = start_sandbox(port=0, seed=7, reps=5, days=30, now=NOW, redirect_uris=(redirect_uri,),
                        rotate_refresh_tokens=True)
    key = Fernet.generate_key().decode()
    for label in ("full_token", "read_token", "client_secret", "refresh_token"):
        secret_scan.add_secret(f"connect sandbox {label}", getattr(box, label))
    secret_scan.add_secret("CALLBOARD_SECRET_KEY", key)
    token_db = apps.root / APP / "data" / "tokens.sqlite"  # kept across the app's restarts
    env = {"OUTREACH_API_BASE": box.base_url, "OUTREACH_CLIENT_ID": box.client_id,
           "OUTREACH_CLIENT_SECRET": box.client_secret, "OUTREACH_REDIRECT_URI": redirect_uri,
           "CALLBOARD_SECRET_KEY": key, "CALLBOARD_TOKEN_DB": str(token_db),
           "CALLBOARD_TIMEZONE": TZ, "CALLBOARD_NOW": pinned_now(box)}
    yield Connectable(apps, box, env, port, key, token_db, secret_scan)
    apps.stop(APP)
    box.stop()


def watch(page: Page, scan: SecretScan) -> Page:
    """The secret scan's listeners on a page the app opened itself (the consent tab)."""
    page.on("request", lambda req: scan.check(f"URL {req.url}", req.url, "urls"))
    page.on("console", lambda msg: scan.check("browser console", msg.text, "console"))
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: scan.check(f"WebSocket frame from {ws.url}", payload,
                                                    "frames")))
    return page


def expect_the_connect_page_only(page: Page) -> None:
    expect(page.get_by_role("heading", name="Connect Outreach")).to_be_visible()
    expect(page.get_by_text("not connected to Outreach yet")).to_be_visible()
    expect(page.get_by_role("heading", name="Overview")).to_have_count(0)
    expect(page.get_by_text("Filters")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    expect_no_traceback(page)


def connect_in_browser(page: Page, env: Connectable) -> str:
    """Press Connect Outreach, Allow on the sandbox's consent page (a new tab), and land back
    in Callboard; returns the callback address the consent page sent the tab to."""
    page.goto(env.app.url)
    expect_the_connect_page_only(page)
    with page.expect_popup() as opened:
        page.get_by_role("link", name=re.compile("Connect Outreach$")).click()
    consent = watch(opened.value, env.scan)
    expect(consent.get_by_role("heading", name="Authorize Callboard")).to_be_visible()
    expect(consent.get_by_text("read_calls")).to_be_visible()
    callbacks: list[str] = []
    consent.on("request", lambda req: callbacks.append(req.url)
               if req.url.startswith(f"{env.app.url}/connect?") else None)
    consent.get_by_role("button", name="Allow").click()
    expect(consent.get_by_role("heading", name="Overview")).to_be_visible()
    expect(consent.get_by_text("Connected to Outreach.")).to_be_visible()
    expect(consent.get_by_test_id("stMetric").first).to_be_visible()
    expect(consent).not_to_have_url(re.compile(r"[?&](code|state)="))  # the code is not kept
    expect_no_traceback(consent)
    snapshot(consent, "connect-back-with-data", env.scan)
    assert callbacks, "the consent page did not send the browser back to Callboard"
    consent.close()
    return callbacks[0]


def test_a_forged_state_is_refused_and_nothing_is_kept(connectable: Connectable,
                                                       page: Page) -> None:
    app = connectable.app
    page.goto(f"{app.url}/lookup?id=1")  # a deep link: the Connect page instead
    expect_the_connect_page_only(page)
    expect(page).to_have_url(re.compile(r"/connect$"))
    code = connectable.box.issue_code(redirect_uri=f"http://127.0.0.1:{connectable.port}/connect")
    page.goto(f"{app.url}/connect?code={code}&state=forged-state-of-an-attacker")
    expect(page.get_by_text("does not belong to a Connect")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"code="))
    expect_no_traceback(page)
    snapshot(page, "connect-forged-state", connectable.scan)
    assert connectable.kept() is None
    assert connectable.box.stats()["mints"]["authorization_code"] == 0  # never even exchanged


def test_connect_then_a_restart_after_a_rotation_keeps_working(connectable: Connectable,
                                                               page: Page) -> None:
    box = connectable.box
    callback = connect_in_browser(page, connectable)
    first = connectable.kept()
    assert first is not None and first.via == "connect" and first.access_token
    data = connectable.token_db.read_bytes()
    assert first.refresh_token.encode() not in data and first.access_token.encode() not in data
    assert box.stats()["mints"] == {"authorization_code": 1, "refresh_token": 0}

    # The same callback again (a replay, or the tab reloaded) is refused: its state is spent.
    page.goto(callback)
    expect(page.get_by_text("does not belong to a Connect")).to_be_visible()
    assert connectable.kept() == first

    # Outreach refuses the access token: the app refreshes (a minute after the last mint on
    # the sandbox's clock), the refresh token rotates, and the newest one is kept at once.
    call = box.all_calls()[3]
    box.revoke(first.access_token)
    box.clock.advance(61)
    page.goto(f"{connectable.app.url}/lookup?id={call['id']}")  # always read fresh
    expect(page.get_by_role("heading", name=f"Call {call['id']}")).to_be_visible()
    rotated = connectable.kept()
    assert rotated.refresh_token != first.refresh_token
    assert rotated.lineage == first.lineage
    old = requests.post(box.token_url, data={
        "grant_type": "refresh_token", "refresh_token": first.refresh_token,
        "client_id": box.client_id, "client_secret": box.client_secret}, timeout=10)
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"

    # A process started afresh reads the kept newest tokens. Its access token is refused too,
    # so it must renew with the kept refresh token (the spent one would fail).
    box.revoke(rotated.access_token)
    box.clock.advance(61)
    app = connectable.restart()
    page.goto(app.url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_test_id("stMetric").first).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name=re.compile("Connect Outreach$"))).to_be_visible()
    expect_no_traceback(page)
    newest = connectable.kept()
    assert newest.refresh_token not in (rotated.refresh_token, first.refresh_token)
    assert box.stats()["mints"] == {"authorization_code": 1, "refresh_token": 2}
    snapshot(page, "connect-after-restart", connectable.scan)


def test_disconnect_forgets_the_tokens(connectable: Connectable, page: Page) -> None:
    if connectable.kept() is None:
        connectable.box.clock.advance(61)
        connect_in_browser(page, connectable)
    page.goto(f"{connectable.app.url}/connect")
    expect(page.get_by_text("Callboard is connected to Outreach at")).to_be_visible()
    page.get_by_role("button", name=re.compile("Disconnect…$")).click()
    page.get_by_role("button", name="Disconnect", exact=True).click()
    expect(page.get_by_text("Disconnected: Callboard forgot its Outreach tokens.")).to_be_visible()
    expect_the_connect_page_only(page)
    assert connectable.kept() is None
    page.goto(connectable.app.url)  # no data page is reachable now
    expect_the_connect_page_only(page)
    snapshot(page, "connect-disconnected", connectable.scan)
