"""The demo as a new user sees it: no credentials, the bundled sandbox, on the real clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Apps, snapshot
from tests.browser.harness import SecretScan
from tests.browser.ui import TZ, expect_no_traceback, metric_value

pytestmark = pytest.mark.browser


def test_without_credentials_the_demo_shows_the_last_30_days_up_to_today(
    apps: Apps, page: Page, secret_scan: SecretScan
) -> None:
    # No OUTREACH_* and no CALLBOARD_NOW: the app starts its own sandbox on the real clock, as
    # `scripts/start.sh` does on a fresh machine. Every 30 days hold weekdays, hence calls.
    demo = apps.start("demo-real-clock", env={"CALLBOARD_TIMEZONE": TZ})
    page.goto(demo.url)
    expect(page.get_by_text("Demo data.", exact=False)).to_be_visible()
    expect(metric_value(page, "Calls")).to_have_text(re.compile(r"^[1-9][\d,]*$"))
    expect(page.get_by_role("combobox", name="Dates")).to_have_value("Last 30 days")

    # "Synced to" is today in the chosen zone (either side of a midnight passing meanwhile).
    zone = ZoneInfo(TZ)
    now = datetime.now(UTC)
    days = {f"{(now + delta).astimezone(zone):%d %b %Y}"
            for delta in (timedelta(minutes=-5), timedelta(0), timedelta(minutes=5))}
    as_of = page.get_by_text(re.compile(r"^Synced to "))
    expect(as_of).to_be_visible()
    assert any(as_of.inner_text().startswith(f"Synced to {day}") for day in days), \
        as_of.inner_text()
    expect_no_traceback(page)
    snapshot(page, "demo-real-clock", secret_scan)
