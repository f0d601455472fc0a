"""Rep names with HTML and script in Chromium: shown as text on every page, never run."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from lib.sandbox import Sandbox, start_sandbox
from tests.browser.conftest import SANDBOX_OPTIONS, sandbox_env, snapshot
from tests.browser.harness import RunningApp, SecretScan
from tests.browser.ui import expect_no_traceback, metric_value

pytestmark = pytest.mark.browser

FIRST = '<img src=x onerror="window.pwned=1">'
LAST = "<script>window.pwned=2</script>**Bold**"
NAME = f"{FIRST} {LAST}"


@pytest.fixture(scope="module")
def hostile_sandbox(secret_scan: SecretScan) -> Iterator[Sandbox]:
    box = start_sandbox(port=0, **{**SANDBOX_OPTIONS, "user_names": {2: (FIRST, LAST)}})
    for label in ("full_token", "read_token", "client_secret", "refresh_token"):
        secret_scan.add_secret(f"hostile sandbox {label}", getattr(box, label))
    yield box
    box.stop()


@pytest.fixture(scope="module")
def hostile_app(apps, hostile_sandbox: Sandbox) -> RunningApp:
    return apps.start("hostile-names", env=sandbox_env(hostile_sandbox))


def assert_nothing_ran(page: Page) -> None:
    assert page.evaluate("window.pwned") is None
    expect(page.locator("img[src='x']")).to_have_count(0)
    expect(page.locator("main script")).to_have_count(0)


def test_a_hostile_rep_name_is_text_in_the_filters_and_the_lookup(
    hostile_app: RunningApp, hostile_sandbox: Sandbox, new_page: Callable[[], Page],
    secret_scan: SecretScan,
) -> None:
    dialogs: list[str] = []
    page = new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(hostile_app.url)
    expect(metric_value(page, "Calls")).to_be_visible(timeout=120_000)

    page.get_by_role("combobox", name="Reps").click()
    expect(page.get_by_role("option", name=NAME, exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    assert_nothing_ran(page)
    snapshot(page, "hostile-names-overview", secret_scan)

    call_id = next(int(call["id"]) for call in hostile_sandbox.all_calls()
                   if call["attributes"]["user"]["id"] in (2, "2"))
    page.goto(f"{hostile_app.url}/lookup?id={call_id}")
    expect(page.get_by_role("heading", name=f"Call {call_id}")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(NAME, exact=True)).to_be_visible()
    assert_nothing_ran(page)
    expect_no_traceback(page)
    assert dialogs == []
