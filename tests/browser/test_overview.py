"""The overview in Chromium: charts drawn, figures equal to the CLI's, filters, shared links."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from lib.display.filters import today_in
from lib.outreach import OutreachClient, StaticToken
from lib.sandbox import Sandbox
from tests.browser.conftest import snapshot
from tests.browser.harness import RunningApp, SecretScan
from tests.browser.ui import (
    TZ,
    add_choice,
    choose,
    cli_summary,
    expect_cards_equal,
    expect_no_traceback,
)
from tests.conftest import NOW

pytestmark = pytest.mark.browser

CHART_TITLES = ("Call volume per day", "Outbound share per day", "Disposition mix",
                "When do we reach people?")


def rep_names(sandbox: Sandbox) -> dict[int, str]:
    with OutreachClient(sandbox.base_url, StaticToken(sandbox.full_token)) as client:
        users = client.list_users()
    return {int(row.id): str(row.name) for row in users.itertuples()}


def test_the_overview_draws_its_charts_and_equals_the_cli_summary(
    dashboard: RunningApp, app_sandbox: Sandbox, page: Page, secret_scan: SecretScan
) -> None:
    page.goto(dashboard.url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    today = today_in(TZ, NOW)
    summary = cli_summary(app_sandbox, today - timedelta(days=29), today)
    assert summary["calls"] > 500
    expect_cards_equal(page, summary)

    charts = page.get_by_test_id("stVegaLiteChart")
    expect(charts).to_have_count(len(CHART_TITLES))
    for title in CHART_TITLES:
        expect(page.get_by_role("heading", name=title)).to_be_visible()
    for index in range(len(CHART_TITLES)):
        # Vega draws marks (bars, points, cells) as SVG paths inside "role-mark" groups.
        marks = charts.nth(index).locator("g.role-mark path")
        expect(marks.first).to_be_attached()
        assert marks.count() >= 5, f"chart {CHART_TITLES[index]!r} has almost nothing drawn"
    expect(page).to_have_url(re.compile(r"range=Last\+30\+days"))
    expect(page).to_have_url(re.compile(r"tz=Europe%2FBerlin"))
    expect_no_traceback(page)
    snapshot(page, "overview", secret_scan)


def test_choosing_reps_and_dates_changes_the_numbers_and_a_shared_link_reopens_them(
    dashboard: RunningApp, app_sandbox: Sandbox, new_page: Callable[[], Page],
    secret_scan: SecretScan,
) -> None:
    names = rep_names(app_sandbox)
    today = today_in(TZ, NOW)
    everyone = cli_summary(app_sandbox, today - timedelta(days=29), today)
    chosen = cli_summary(app_sandbox, today - timedelta(days=6), today, users=(2, 4))
    assert chosen["calls"] != everyone["calls"]

    page = new_page()
    page.goto(dashboard.url)
    expect_cards_equal(page, everyone)
    choose(page, "Dates", "Last 7 days")
    add_choice(page, "Reps", names[2])
    add_choice(page, "Reps", names[4])
    expect_cards_equal(page, chosen)
    expect(page).to_have_url(re.compile(r"reps=2%2C4"))
    expect(page).to_have_url(re.compile(r"range=Last\+7\+days"))
    snapshot(page, "overview-two-reps-last-7-days", secret_scan)

    # The address as it stands, opened by someone else (a fresh browser context).
    other = new_page()
    other.goto(page.url)
    expect_cards_equal(other, chosen)
    expect(other.get_by_role("combobox", name="Dates")).to_have_value("Last 7 days")
    reps_box = other.get_by_test_id("stMultiSelect").filter(has_text="Reps")
    expect(reps_box.get_by_text(names[2], exact=True)).to_be_visible()
    expect(reps_box.get_by_text(names[4], exact=True)).to_be_visible()


def test_a_shared_link_with_custom_days_shows_those_days(
    dashboard: RunningApp, app_sandbox: Sandbox, page: Page
) -> None:
    today = today_in(TZ, NOW)
    start, end = today - timedelta(days=20), today - timedelta(days=12)
    expected = cli_summary(app_sandbox, start, end, users=(3,))
    page.goto(f"{dashboard.url}/?tz=Europe%2FBerlin&range=Custom&start={start}&end={end}&reps=3")
    expect_cards_equal(page, expected)
    expect(page.get_by_role("combobox", name="Dates")).to_have_value("Custom")
    expect(page).to_have_url(re.compile(rf"start={start}&end={end}|end={end}.*start={start}"))
