"""The call lookup in Chromium: typing an id, a shared ?id= link, unknown and malformed ids."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from lib.sandbox import Sandbox
from tests.browser.conftest import snapshot
from tests.browser.harness import RunningApp, SecretScan
from tests.browser.ui import expect_no_traceback

pytestmark = pytest.mark.browser


def a_seeded_call(sandbox: Sandbox) -> dict:
    """A seeded call with a note, so the page has every field to show."""
    return next(call for call in sandbox.all_calls()
                if call["attributes"]["metadata"].get("note") and int(call["id"]) < 10**9)


def test_typing_an_id_shows_the_call_and_the_link_reopens_it(
    dashboard: RunningApp, app_sandbox: Sandbox, new_page: Callable[[], Page],
    secret_scan: SecretScan,
) -> None:
    call = a_seeded_call(app_sandbox)
    call_id = int(call["id"])
    page = new_page()
    page.goto(f"{dashboard.url}/lookup")
    expect(page.get_by_role("heading", name="Call lookup")).to_be_visible()
    page.get_by_role("textbox", name="Call id").fill(str(call_id))
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name=f"Call {call_id}")).to_be_visible()
    expect(page.get_by_text(call["attributes"]["metadata"]["note"], exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"[?&]id={call_id}\b"))
    snapshot(page, "lookup", secret_scan)

    other = new_page()
    other.goto(page.url)
    expect(other.get_by_role("heading", name=f"Call {call_id}")).to_be_visible()
    expect(other.get_by_role("textbox", name="Call id")).to_have_value(str(call_id))


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("999999999999", "Outreach has no call with the id 999999999999"),
        ("12ab", "A call id is a number"),
        ("<script>window.pwned=1</script>", "A call id is a number"),
    ],
)
def test_an_unknown_or_malformed_id_is_explained_and_kept(
    typed: str, message: str, dashboard: RunningApp, page: Page
) -> None:
    page.goto(f"{dashboard.url}/lookup")
    box = page.get_by_role("textbox", name="Call id")
    box.fill(typed)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_test_id("stAlert").filter(has_text=message)).to_be_visible()
    expect(box).to_have_value(typed)
    expect_no_traceback(page)
    assert page.evaluate("window.pwned") is None
