"""Reading and driving Callboard's pages in Playwright by what a user sees: labels and headings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date

from playwright.sync_api import Locator, Page, expect

from lib.sandbox import Sandbox
from tests.browser.harness import REPO
from tests.conftest import sandbox_now

TZ = "Europe/Berlin"  # the dashboard's organisation zone in these tests (not UTC, on purpose)


def metric(page: Page, label: str) -> Locator:
    """The st.metric card whose label is exactly `label` (a few-calls mark may follow it)."""
    exactly = re.compile(rf"^\s*{re.escape(label)}( ⚠)?\s*$")
    label_box = page.get_by_test_id("stMetricLabel").filter(has_text=exactly)
    return page.get_by_test_id("stMetric").filter(has=label_box)


def metric_value(page: Page, label: str) -> Locator:
    return metric(page, label).get_by_test_id("stMetricValue")


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label`."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)


def add_choice(page: Page, label: str, option: str) -> None:
    """Add `option` to the multiselect labelled `label`, then close its list."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    # A multiselect's list stays open and would cover the next control. (Not for a selectbox:
    # there Escape empties the choice.)
    page.keyboard.press("Escape")


def cli_summary(
    sandbox: Sandbox, start: date, end: date, users: tuple[int, ...] = (),
    api_version: str = "1.0",
) -> dict:
    """`python -m lib.cli summary` for the same sandbox, clock and filters, as a user would run
    it."""
    args = ["summary", "--start", start.isoformat(), "--end", end.isoformat(), "--tz", TZ]
    for user in users:
        args += ["--user", str(user)]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OUTREACH_", "CALLBOARD_"))}
    # No on-disk store for the CLI here: each run reads fresh from the sandbox.
    env.update(OUTREACH_API_BASE=sandbox.base_url, OUTREACH_ACCESS_TOKEN=sandbox.full_token,
               CALLBOARD_CACHE_DB="off", OUTREACH_API_VERSION=api_version,
               CALLBOARD_NOW=sandbox_now(sandbox))
    result = subprocess.run([sys.executable, "-m", "lib.cli", *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def percent(rate: dict) -> str:
    return "–" if rate["value"] is None else f"{100 * rate['value']:.1f}%"


def expect_cards_equal(page: Page, summary: dict) -> None:
    """The five cards show exactly the CLI summary's figures (waiting while the page reruns)."""
    expect(metric_value(page, "Calls")).to_have_text(f"{summary['calls']:,}")
    expect(metric_value(page, "Outbound share")).to_have_text(percent(summary["outbound_share"]))
    expect(metric_value(page, "Connect rate")).to_have_text(percent(summary["connect_rate"]))
    per_rep = summary["calls_per_rep_per_day"]["value"]
    expect(metric_value(page, "Calls per rep per working day")).to_have_text(
        "–" if per_rep is None else f"{per_rep:.1f}")
    expect(metric_value(page, "No disposition logged")).to_have_text(
        f"{summary['no_disposition']:,}")
    rate = summary["connect_rate"]
    # The counts behind the rate (a "too few calls to judge" may follow them).
    basis = f"{rate['numerator']:,} of {rate['denominator']:,} outbound calls"
    expect(page.get_by_text(re.compile(rf"^{re.escape(basis)}( ·.*)?$"))).to_be_visible()


def expect_no_traceback(page: Page) -> None:
    """Nothing of a Python error reaches the page: no exception box, no traceback text."""
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)
    expect(page.get_by_text("This app has encountered an error")).to_have_count(0)
