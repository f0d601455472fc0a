"""Crafted links in Chromium: whatever a link holds, the page shows figures or a clear sentence,
never a traceback, and no markup from the link is rendered. Also: organisation text through
Streamlit's own Markdown renderer (lib.display.markdown.escape), and the pages' filters."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from lib.display.markdown import JOINER
from lib.sandbox import Sandbox
from tests.browser.conftest import Apps, sandbox_env, snapshot
from tests.browser.harness import RunningApp, SecretScan
from tests.browser.ui import TZ, expect_no_traceback, metric_value
from tests.test_markdown import CONSTRUCTS

pytestmark = pytest.mark.browser

NOTE = "[data-testid=stAlert]"  # the frame's notes are an st.info box above the page


def open_link(page: Page, app: RunningApp, link: str) -> None:
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.goto(app.url + link)


def expect_figures(page: Page) -> None:
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(metric_value(page, "Calls")).to_be_visible()
    expect_no_traceback(page)


def expect_note(page: Page, text: str | re.Pattern) -> None:
    expect(page.locator(NOTE).filter(has_text=text)).to_be_visible()


# ----- the links of the issue, and their kin ----------------------------------------------------

OUTSIDE = re.compile(r"The link's dates, .* are outside the days Callboard shows \(01 Jan 2000 to "
                     r".*\), so it shows the last 30 days\.")
NOT_A_DATE = re.compile(r"The link asks for custom dates, but .* \(dates are written YYYY-MM-DD")

CRAFTED = {
    "year 1": ("/?range=Custom&start=0001-01-01&end=0001-01-03", OUTSIDE),
    "year 9999": ("/?range=Custom&start=9999-12-30&end=9999-12-31", OUTSIDE),
    "ten years": ("/?range=Custom&start=2016-01-01&end=2026-12-31",
                  re.compile(r"The dates asked for, 01 Jan 2016 – 31 Dec 2026 \(4,018 days\), "
                             r"were cut to .* \(366 days\)")),
    "30 February": ("/?range=Custom&start=2026-02-30&end=2026-03-05",
                    "its start “2026-02-30” is not a date"),
    "start after end": ("/?range=Custom&start=2026-11-20&end=2026-11-01",
                        "The link's start date comes after its end date, so the two were "
                        "swapped: 01 Nov – 20 Nov 2026 (20 days)."),
    "empty days": ("/?range=Custom&start=&end=", "it has no start date and it has no end date"),
    "non-dates": ("/?range=Custom&start=yesterday&end=tomorrow", NOT_A_DATE),
    "unknown range": ("/?range=Forever", "The link's date range “Forever” is not one Callboard "
                                         "offers, so it shows the last 30 days."),
    "unknown zone": ("/?tz=Mars%2FOlympus", f"The link's time zone “Mars/Olympus” is not one "
                                            f"Callboard knows, so times are in {TZ}"),
    "negative rep": ("/?reps=-1", "The link names rep Callboard does not know (“-1”"),
    "huge rep": ("/?reps=99999999999999999999",
                 "does not know (“99999999999999999999”: rep ids are the numbers"),
    "unknown and known reps": ("/?reps=2,0,77", "does not know (“0”, “77”"),
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_a_crafted_overview_link_shows_figures_and_says_what_was_changed(
    name: str, dashboard: RunningApp, page: Page
) -> None:
    link, note = CRAFTED[name]
    open_link(page, dashboard, link)
    expect_figures(page)
    expect_note(page, note)
    if name == "ten years":
        expect(page).to_have_url(re.compile(r"start=2025-"))


def test_a_crafted_lookup_link_says_what_an_id_is(dashboard: RunningApp, page: Page) -> None:
    for link, sentence in (("/lookup?id=-1", "A call id is a number"),
                           ("/lookup?id=99999999999999999999", "No call can have this id"),
                           ("/lookup?id=0", "No call can have this id")):
        open_link(page, dashboard, link)
        expect(page.get_by_test_id("stAlert").filter(has_text=sentence)).to_be_visible()
        expect(page.get_by_role("textbox", name="Call id")).to_have_value(link.split("=")[1])
        expect_no_traceback(page)


# ----- markup in every parameter ----------------------------------------------------------------

# Short (a note quotes 40 characters of a value, 24 of a rep id), each marker a word no page has.
PAYLOADS = (
    "<img src=x onerror=pwned=1>",
    "**BOLDX**:red[REDX]$LATEXX$",
    "[LINKX](https://e.x) www.e.x",
    "x\nHEADX\n===\n# HEADY\n- ITEMX",
    ":material/home: > QUOTEX",
)
MARKERS = ("BOLDX", "REDX", "LINKX", "HEADX", "HEADY", "ITEMX", "QUOTEX")


def expect_no_markup_rendered(page: Page) -> None:
    """No element the payloads' markup would make: image, emphasis, colour, link, heading,
    list, quote, maths, icon; and no script ran."""
    main = page.get_by_test_id("stMain")
    assert page.evaluate("window.pwned") is None
    expect(main.locator("img[src='x']")).to_have_count(0)
    for marker in MARKERS:
        expect(main.get_by_text(marker, exact=True)).to_have_count(0)
    expect(main.locator("a[href*='e.x'], .katex, blockquote, li")).to_have_count(0)
    expect(main.get_by_role("img", name="home icon")).to_have_count(0)


def literal(text: str, limit: int = 40) -> re.Pattern:
    """The text as a note quotes it: on one line, cut to `limit` characters, in quotation marks,
    an invisible joiner possibly after any character."""
    flat = " ".join(text.split())
    quoted = f"“{flat if len(flat) <= limit else flat[:limit - 1] + '…'}”"
    return re.compile(f"{JOINER}?".join(re.escape(char) for char in quoted))


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_markup_in_every_overview_parameter_is_shown_as_text(
    payload: str, dashboard: RunningApp, page: Page, secret_scan: SecretScan
) -> None:
    # tz, start, end and reps in one link (a custom range reads both days); range in another.
    for query in ({"tz": payload, "range": "Custom", "start": payload, "end": payload,
                   "reps": payload},
                  {"range": payload}):
        open_link(page, dashboard, "/?" + urlencode(query))
        expect_figures(page)
        for name in query:
            if query[name] != "Custom":
                expect_note(page, literal(payload, 24 if name == "reps" else 40))
        expect_no_markup_rendered(page)
    snapshot(page, f"crafted-markup-{PAYLOADS.index(payload)}", secret_scan)


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_markup_in_the_lookups_id_and_zone_is_shown_as_text(
    payload: str, dashboard: RunningApp, page: Page
) -> None:
    open_link(page, dashboard, "/lookup?" + urlencode({"id": payload, "tz": payload}))
    expect(page.get_by_role("heading", name="Call lookup")).to_be_visible()
    expect(page.get_by_test_id("stAlert").filter(has_text="A call id is a number")).to_be_visible()
    expect(page.get_by_role("textbox", name="Call id")).to_have_value(payload.replace("\n", ""))
    expect_note(page, literal(payload))
    expect_no_markup_rendered(page)
    expect_no_traceback(page)


# ----- the escaper through Streamlit's own renderer ---------------------------------------------

SAMPLES_SCRIPT = '''
import streamlit as st
from lib.display.markdown import escape
from tests.test_markdown import CONSTRUCTS

for index, (text, _) in enumerate(CONSTRUCTS.values()):
    with st.container(key=f"sample_{index}"):
        st.markdown(escape(text))
        st.caption("Outcome: " + escape(text))
        st.info(escape(text))
st.markdown("All samples drawn.")
'''
# Elements that only Markdown (not plain text) makes.
FORMATTING = ("h1, h2, h3, h4, h5, h6, ul, ol, li, blockquote, pre, code, table, hr, img, a, "
              "strong, em, del, input, section, .katex, span[style], span[role=img]")


@pytest.fixture(scope="module")
def samples_app(apps: Apps, app_sandbox: Sandbox, tmp_path_factory) -> RunningApp:
    script: Path = tmp_path_factory.mktemp("samples") / "samples.py"
    script.write_text(SAMPLES_SCRIPT)
    return apps.start("markdown-samples", env=sandbox_env(app_sandbox), script=str(script))


def test_every_construct_shows_as_typed_in_streamlits_markdown(
    samples_app: RunningApp, page: Page, secret_scan: SecretScan
) -> None:
    page.goto(samples_app.url)
    expect(page.get_by_text("All samples drawn.")).to_be_visible()
    for index, (name, (text, _)) in enumerate(CONSTRUCTS.items()):
        sample = page.locator(f".st-key-sample_{index}")
        expect(sample.locator(FORMATTING), name).to_have_count(0)
        seen = [" ".join(part.replace(JOINER, "").split())
                for part in sample.locator("p").all_inner_texts()]  # a paragraph each
        typed = " ".join(text.split())
        assert seen == [typed, f"Outcome: {typed}", typed], name
    expect_no_traceback(page)
    snapshot(page, "markdown-samples", secret_scan)


# ----- the filters a page uses ------------------------------------------------------------------


def test_each_page_shows_only_its_filters_and_the_link_survives_the_trip(
    dashboard: RunningApp, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    sidebar = page.get_by_test_id("stSidebar")
    nav = page.get_by_test_id("stSidebarNav")
    open_link(page, dashboard, "/?tz=America%2FNew_York&range=Last+7+days&reps=2")
    expect_figures(page)
    for label in ("Reps", "Time zone", "Dates"):
        expect(sidebar.get_by_role("combobox", name=label)).to_be_visible()

    nav.get_by_role("link", name=re.compile("Log a call$")).click()
    expect(page.get_by_role("heading", name="Log a call")).to_be_visible()
    expect(sidebar.get_by_role("heading", name="Filters")).to_have_count(0)
    expect(sidebar.get_by_role("combobox")).to_have_count(0)
    expect(sidebar.get_by_role("button", name="Refresh")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"[?&](tz|range|reps)="))
    expect_no_traceback(page)

    nav.get_by_role("link", name=re.compile("Call lookup$")).click()
    expect(page.get_by_role("heading", name="Call lookup")).to_be_visible()
    expect(sidebar.get_by_role("combobox", name="Time zone")).to_have_value("America/New_York")
    for label in ("Reps", "Dates"):
        expect(sidebar.get_by_role("combobox", name=label)).to_have_count(0)
    expect(page).to_have_url(re.compile(r"\?tz=America%2FNew_York$"))

    nav.get_by_role("link", name=re.compile("Overview$")).click()
    expect_figures(page)
    expect(sidebar.get_by_role("combobox", name="Dates")).to_have_value("Last 7 days")
    expect(sidebar.get_by_role("combobox", name="Time zone")).to_have_value("America/New_York")
    expect(page.get_by_text(re.compile(r"· 1 of the reps ·"))).to_be_visible()
    for part in (r"tz=America%2FNew_York", r"range=Last\+7\+days", r"reps=2\b"):
        expect(page).to_have_url(re.compile(part))
