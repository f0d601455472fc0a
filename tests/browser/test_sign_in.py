"""Sign-in end to end: Streamlit's OpenID Connect login against a local provider, in Chromium.

The provider is oidc-provider-mock on loopback with client registration required, so the app
must present the client secret it was given; nothing about the login is patched.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import oidc_provider_mock
import pytest
import requests
import werkzeug.serving
from playwright.sync_api import Page, expect

from lib.sandbox import Sandbox, start_sandbox
from tests.browser.conftest import SANDBOX_OPTIONS, Apps, sandbox_env, snapshot
from tests.browser.harness import RunningApp, SecretScan, free_port

pytestmark = pytest.mark.browser

ALLOWED = '["@northwind.example", "boss@other.example"]'


@dataclass
class Provider:
    base_url: str
    client_id: str
    client_secret: str

    def set_user(self, sub: str, claims: dict) -> None:
        requests.put(f"{self.base_url}/users/{sub}", json=claims, timeout=10).raise_for_status()


@dataclass
class GatedApp:
    app: RunningApp
    sandbox: Sandbox
    provider: Provider


@pytest.fixture(scope="module")
def gate_sandbox(secret_scan: SecretScan) -> Iterator[Sandbox]:
    """A sandbox only the gated app talks to, so its request count is the gated app's alone."""
    box = start_sandbox(port=0, **SANDBOX_OPTIONS)
    for label in ("full_token", "read_token", "client_secret", "refresh_token"):
        secret_scan.add_secret(f"gate sandbox {label}", getattr(box, label))
    yield box
    box.stop()


def _start_provider() -> tuple[werkzeug.serving.BaseWSGIServer, threading.Thread]:
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, oidc_provider_mock.app(require_client_registration=True), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def gated(apps: Apps, gate_sandbox: Sandbox, secret_scan: SecretScan) -> Iterator[GatedApp]:
    """The dashboard with [auth] in its own secrets file, registered with a local provider."""
    server, thread = _start_provider()
    provider_url = f"http://127.0.0.1:{server.server_port}"
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/oauth2callback"
    registered = requests.post(f"{provider_url}/oauth2/clients",
                               json={"redirect_uris": [redirect_uri]}, timeout=10)
    registered.raise_for_status()
    client = registered.json()
    provider = Provider(provider_url, client["client_id"], client["client_secret"])
    cookie_secret = secrets.token_urlsafe(32)
    secret_scan.add_secret("OIDC client secret", provider.client_secret)
    secret_scan.add_secret("cookie secret", cookie_secret)

    secrets_toml = f"""
CALLBOARD_ALLOWED_EMAILS = {ALLOWED}

[auth]
redirect_uri = "{redirect_uri}"
cookie_secret = "{cookie_secret}"
client_id = "{provider.client_id}"
client_secret = "{provider.client_secret}"
server_metadata_url = "{provider_url}/.well-known/openid-configuration"
"""
    app = apps.start(
        "gated",
        port=port,
        secrets_toml=secrets_toml,
        env=sandbox_env(gate_sandbox),
    )
    yield GatedApp(app, gate_sandbox, provider)
    apps.stop("gated")
    server.shutdown()
    thread.join(timeout=10)


def sign_in(page: Page, app: RunningApp, sub: str) -> None:
    """Open the app, press its sign-in button and authorise as `sub` at the provider."""
    page.goto(app.url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/oauth2/authorize.*"))
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(rf"^{re.escape(app.url)}/?(\?.*)?$"))


def test_without_signing_in_nobody_reaches_data(
    gated: GatedApp, page: Page, secret_scan: SecretScan
) -> None:
    gated.sandbox.reset_request_count()
    page.goto(gated.app.url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Sign in with your company account")).to_be_visible()
    snapshot(page, "sign-in-screen", secret_scan)
    # Deep links to every page, with their query strings, lead to the same screen.
    for path in ("/?reps=2&range=Last+7+days", "/lookup?id=1", "/log"):
        page.goto(f"{gated.app.url}{path}")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.get_by_role("heading", name="Overview")).to_have_count(0)
        expect(page.get_by_text("Filters")).to_have_count(0)
    assert gated.sandbox.request_count == 0


def test_an_allowed_address_signs_in_and_sees_the_data(
    gated: GatedApp, page: Page
) -> None:
    gated.sandbox.reset_request_count()
    sign_in(page, gated.app, "Ann@NorthWind.example")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_test_id("stMetric").first).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_be_visible()
    assert gated.sandbox.request_count > 0


def test_an_address_elsewhere_is_refused_and_reads_no_data(
    gated: GatedApp, page: Page, secret_scan: SecretScan
) -> None:
    gated.sandbox.reset_request_count()
    sign_in(page, gated.app, "ann@northwind.example.evil.example")
    expect(page.get_by_text("which may not open Callboard")).to_be_visible()
    expect(page.get_by_text("ann@northwind.example.evil.example")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    snapshot(page, "sign-in-refused", secret_scan)
    expect(page.get_by_role("heading", name="Overview")).to_have_count(0)
    assert gated.sandbox.request_count == 0

    # Signing out (through the provider's end-session page) leads back to the sign-in screen.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert gated.sandbox.request_count == 0


def test_an_address_the_provider_has_not_verified_is_refused(
    gated: GatedApp, page: Page
) -> None:
    gated.provider.set_user("unverified-eve",
                            {"email": "eve@northwind.example", "email_verified": False})
    gated.sandbox.reset_request_count()
    sign_in(page, gated.app, "unverified-eve")
    expect(page.get_by_text("which may not open Callboard")).to_be_visible()
    expect(page.get_by_role("heading", name="Overview")).to_have_count(0)
    assert gated.sandbox.request_count == 0


def test_markup_in_a_signed_in_name_is_shown_as_text(
    gated: GatedApp, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    hostile = '<img src=x onerror="window.pwned=1">@evil.example'
    gated.provider.set_user("hostile", {"email": hostile})
    sign_in(page, gated.app, "hostile")
    expect(page.get_by_text("which may not open Callboard")).to_be_visible()
    expect(page.get_by_text(hostile)).to_be_visible()
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("window.pwned") is None
