"""When Outreach is down or refuses the token, every page says so in a sentence, not a traceback."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from lib.sandbox import Sandbox
from tests.browser.conftest import Apps, sandbox_env, snapshot
from tests.browser.harness import RunningApp, SecretScan, free_port
from tests.browser.ui import TZ, expect_no_traceback

pytestmark = pytest.mark.browser

PAGES = {"overview": "/", "lookup": "/lookup?id=1", "log": "/log"}
ALL_READ_SCOPES = ["read_calls", "read_users", "read_call_dispositions", "read_call_purposes",
                   "create_calls"]


@pytest.fixture(scope="module")
def api_down_app(apps: Apps, secret_scan: SecretScan) -> RunningApp:
    """The dashboard pointed at a loopback port where nothing listens."""
    token = "down-" + secrets.token_urlsafe(24)
    secret_scan.add_secret("token of the app whose API is down", token)
    return apps.start("api-down", env={
        "OUTREACH_API_BASE": f"http://127.0.0.1:{free_port()}",
        "OUTREACH_ACCESS_TOKEN": token,
        "CALLBOARD_TIMEZONE": TZ,
    })


@pytest.fixture(scope="module")
def revoked_app(apps: Apps, app_sandbox: Sandbox, secret_scan: SecretScan) -> RunningApp:
    """The dashboard holding a token the sandbox has revoked."""
    token = app_sandbox.issue_token(ALL_READ_SCOPES, ttl=7200)
    secret_scan.add_secret("revoked token", token)
    assert app_sandbox.revoke(token)
    return apps.start("revoked-token", env=sandbox_env(app_sandbox, token))


@pytest.mark.parametrize("name", list(PAGES))
def test_the_api_down_gives_a_clear_message_on_every_page(
    name: str, api_down_app: RunningApp, new_page: Callable[[], Page], secret_scan: SecretScan
) -> None:
    page = new_page()
    page.goto(api_down_app.url + PAGES[name])
    alert = page.get_by_test_id("stAlert").filter(has_text="Outreach could not be reached")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Wait a minute and press Refresh")
    expect_no_traceback(page)
    snapshot(page, f"api-down-{name}", secret_scan)


@pytest.mark.parametrize("name", list(PAGES))
def test_a_revoked_token_gives_a_clear_message_on_every_page(
    name: str, revoked_app: RunningApp, new_page: Callable[[], Page], secret_scan: SecretScan
) -> None:
    page = new_page()
    page.goto(revoked_app.url + PAGES[name])
    alert = page.get_by_test_id("stAlert").filter(
        has_text="Outreach did not accept Callboard's credentials")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("renew the Outreach access token")
    expect_no_traceback(page)
    snapshot(page, f"revoked-token-{name}", secret_scan)
