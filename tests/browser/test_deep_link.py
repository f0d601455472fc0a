"""A deep link as the very first request a freshly started server sees, with and without sign-in.

Why: the pages live in `pages/`, beside app.py. With that folder there, Streamlit 1.67 starts
every process in its old folder mode (`PagesManager.uses_pages_directory`, set when the first
session's PagesManager finds `pages/`; ScriptRunner then runs `_mpa_v1` instead of app.py) and
leaves it only at the first `st.navigation` call. Before page_frame(), the first request after
a restart to `/lookup?id=…` ran pages/lookup.py by itself: the sidebar listed the folder's files
("app", "log call", "lookup", "overview") instead of the pages, there were no filters, the page
read the call from Outreach and then failed on the filters the frame had not set ("This app has
encountered an error"); with sign-in configured it read the call without anyone signed in,
since app.py's gate never ran. `/log` showed "Page not found" (no `pages/log_call.py` matched).
Every case here starts a new server process, so the deep link really is its first request.
"""

from __future__ import annotations

import ast
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import Page, expect

from lib.display.filters import today_in
from lib.sandbox import Sandbox, start_sandbox
from tests.browser.conftest import SANDBOX_OPTIONS, Apps, sandbox_env, snapshot
from tests.browser.harness import REPO, RunningApp, SecretScan, free_port
from tests.browser.test_sign_in import ALLOWED, Provider, _start_provider
from tests.browser.ui import TZ, cli_summary, expect_cards_equal, expect_no_traceback
from tests.conftest import NOW

browser = pytest.mark.browser  # every test here but the first, which reads the page files

PAGE_LINKS = ("Overview", "Call lookup", "Log a call")  # the sidebar's pages, as app.py has them
FOLDER_LINKS = ("app", "log", "lookup", "overview")  # what folder mode would list instead
OTHER_TZ = "America/New_York"  # a zone that is not the app's default (TZ), to see ?tz= applied


@pytest.fixture(scope="module")
def box(secret_scan: SecretScan) -> Iterator[Sandbox]:
    """This module's own sandbox, so that the requests it counts are only this module's apps'."""
    sandbox = start_sandbox(port=0, **SANDBOX_OPTIONS)
    for label in ("full_token", "read_token", "client_secret", "refresh_token"):
        secret_scan.add_secret(f"deep-link sandbox {label}", getattr(sandbox, label))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def fresh_app(apps: Apps, request: pytest.FixtureRequest) -> Iterator[Callable[..., RunningApp]]:
    """fresh_app(**start_app options) -> a new `streamlit run` process that has served nothing
    yet (only its health check); stopped when the test ends."""
    started: list[str] = []

    def start(**options: object) -> RunningApp:
        name = f"deep-link-{re.sub(r'[^A-Za-z0-9]+', '-', request.node.name)}-{len(started)}"
        started.append(name)
        return apps.start(name, **options)

    yield start
    for name in started:
        apps.stop(name)


@pytest.fixture(scope="module")
def provider(secret_scan: SecretScan) -> Iterator[str]:
    """A local OpenID Connect provider (the one test_sign_in.py uses); yields its address."""
    server, thread = _start_provider()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def gated_secrets(provider_url: str, port: int, scan: SecretScan) -> str:
    """`[auth]` secrets for an app on `port`, with a client registered at the provider for it."""
    redirect_uri = f"http://127.0.0.1:{port}/oauth2callback"
    registered = requests.post(f"{provider_url}/oauth2/clients",
                               json={"redirect_uris": [redirect_uri]}, timeout=10)
    registered.raise_for_status()
    client = Provider(provider_url, registered.json()["client_id"],
                      registered.json()["client_secret"])
    cookie_secret = secrets.token_urlsafe(32)
    scan.add_secret(f"OIDC client secret for port {port}", client.client_secret)
    scan.add_secret(f"cookie secret for port {port}", cookie_secret)
    return f"""
CALLBOARD_ALLOWED_EMAILS = {ALLOWED}

[auth]
redirect_uri = "{redirect_uri}"
cookie_secret = "{cookie_secret}"
client_id = "{client.client_id}"
client_secret = "{client.client_secret}"
server_metadata_url = "{provider_url}/.well-known/openid-configuration"
"""


def a_call_with_a_note(sandbox: Sandbox) -> dict:
    return next(call for call in sandbox.all_calls()
                if call["attributes"]["metadata"].get("note") and int(call["id"]) < 10**9)


def expect_the_frame(
    page: Page, filters: tuple[str, ...] = ("Reps", "Time zone", "Dates")
) -> None:
    """The frame app.py draws around every page: the pages in the sidebar (not folder mode's
    file list), the filters the page uses (lib.ui.frame.PAGE_FILTERS), the Refresh button; and
    no error, no "Page not found"."""
    nav = page.get_by_test_id("stSidebarNav")
    for title in PAGE_LINKS:
        expect(nav.get_by_role("link", name=re.compile(rf"{title}$"))).to_be_visible()
    for name in FOLDER_LINKS:
        expect(nav.get_by_role("link", name=re.compile(rf"^{name}$"))).to_have_count(0)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("heading", name="Filters")).to_have_count(1 if filters else 0)
    for label in ("Reps", "Time zone", "Dates"):
        expect(sidebar.get_by_role("combobox", name=label)).to_have_count(
            1 if label in filters else 0)
    expect(sidebar.get_by_role("button", name="Refresh")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect_no_traceback(page)


def expect_the_call(page: Page, call: dict, tz: str) -> None:
    expect(page.get_by_role("heading", name=f"Call {call['id']}")).to_be_visible()
    expect(page.get_by_role("textbox", name="Call id")).to_have_value(str(call["id"]))
    expect(page.get_by_text(call["attributes"]["metadata"]["note"], exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(rf"\({re.escape(tz)}\)$"))).to_be_visible()


def expect_the_sign_in_screen_only(page: Page, call: dict) -> None:
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Sign in with your company account")).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    expect(page.get_by_text("Filters")).to_have_count(0)
    expect(page.get_by_role("heading", name="Call lookup")).to_have_count(0)
    expect(page.get_by_role("heading", name="Overview")).to_have_count(0)
    expect(page.get_by_text(call["attributes"]["metadata"]["note"])).to_have_count(0)
    expect_no_traceback(page)


@pytest.mark.parametrize("path", sorted((REPO / "pages").glob("*.py")), ids=lambda p: p.name)
def test_every_page_opens_with_page_frame(path):
    # What makes a folder-mode run harmless: before page_frame() a page runs only its imports.
    body = [node for node in ast.parse(path.read_text()).body
            if not isinstance(node, (ast.Import, ast.ImportFrom))
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    assert body, f"{path.name} is empty"
    assert ast.unparse(body[0]) == "frame.page_frame()", f"{path.name} starts otherwise"


@browser
def test_a_lookup_link_as_the_first_request_shows_the_call_in_the_frame(
    fresh_app: Callable[..., RunningApp], box: Sandbox, page: Page, secret_scan: SecretScan
) -> None:
    call, other = a_call_with_a_note(box), box.all_calls()[7]
    app = fresh_app(env=sandbox_env(box))
    page.goto(f"{app.url}/lookup?id={call['id']}&tz={OTHER_TZ}")
    expect_the_call(page, call, OTHER_TZ)
    expect_the_frame(page, ("Time zone",))
    expect(page.get_by_role("combobox", name="Time zone")).to_have_value(OTHER_TZ)
    expect(page).to_have_url(re.compile(rf"/lookup\?.*\bid={call['id']}\b"))
    snapshot(page, "deep-link-lookup-first-request", secret_scan)

    # The page answers as usual after that first run: another id, then the overview and back,
    # with the zone chosen in the link kept throughout.
    page.get_by_role("textbox", name="Call id").fill(str(other["id"]))
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name=f"Call {other['id']}")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"\bid={other['id']}\b"))
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile("Overview$")).click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("combobox", name="Time zone")).to_have_value(OTHER_TZ)


@browser
def test_a_filtered_overview_link_as_the_first_request_shows_those_figures(
    fresh_app: Callable[..., RunningApp], box: Sandbox, page: Page
) -> None:
    today = today_in(TZ, NOW)
    expected = cli_summary(box, today - timedelta(days=6), today, users=(2,))
    app = fresh_app(env=sandbox_env(box))
    page.goto(f"{app.url}/?tz={TZ.replace('/', '%2F')}&range=Last+7+days&reps=2")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect_cards_equal(page, expected)
    expect_the_frame(page)
    expect(page.get_by_role("combobox", name="Dates")).to_have_value("Last 7 days")
    expect(page.get_by_text(re.compile(r"· 1 of the reps ·"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"range=Last\+7\+days"))
    expect(page).to_have_url(re.compile(r"reps=2\b"))


@browser
def test_a_log_link_as_the_first_request_shows_the_form_in_the_frame(
    fresh_app: Callable[..., RunningApp], box: Sandbox, page: Page
) -> None:
    app = fresh_app(env=sandbox_env(box))
    page.goto(f"{app.url}/log")
    expect(page.get_by_role("heading", name="Log a call")).to_be_visible()
    expect(page.get_by_role("button", name="Log call")).to_be_visible()
    expect_the_frame(page, ())
    expect(page).to_have_url(re.compile(r"/log(\?|$)"))


@browser
@pytest.mark.parametrize("link", ["/lookup?id={id}", "/?range=Last+7+days&reps=2", "/log"])
def test_with_sign_in_the_first_request_to_a_deep_link_shows_only_the_sign_in_screen(
    link: str, fresh_app: Callable[..., RunningApp], box: Sandbox, provider: str,
    page: Page, secret_scan: SecretScan,
) -> None:
    call = a_call_with_a_note(box)
    port = free_port()
    app = fresh_app(port=port, env=sandbox_env(box),
                    secrets_toml=gated_secrets(provider, port, secret_scan))
    box.reset_request_count()
    deep_link = f"{app.url}{link.format(id=call['id'])}"
    page.goto(deep_link)
    expect_the_sign_in_screen_only(page, call)
    assert box.request_count == 0, "data was read before anyone signed in"
    if not link.startswith("/lookup"):
        return
    snapshot(page, "deep-link-sign-in-first-request", secret_scan)

    # Signing in from there, then opening the link again: the call, in the frame.
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/oauth2/authorize.*"))
    page.locator("input[name=sub]").fill("ann@northwind.example")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(rf"^{re.escape(app.url)}/"))
    expect(page.get_by_text("Signed in as")).to_be_visible()
    page.goto(deep_link)
    expect_the_call(page, call, TZ)
    expect_the_frame(page, ("Time zone",))
    expect(page.get_by_text("Signed in as")).to_be_visible()
    assert box.request_count > 0
