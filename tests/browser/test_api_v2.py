"""Callboard on API v2 in Chromium: the same cards as 1.0, plus answers and talk times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from lib.display.filters import today_in
from lib.sandbox import Sandbox
from tests.browser.conftest import sandbox_env, snapshot
from tests.browser.harness import RunningApp, SecretScan
from tests.browser.ui import (
    TZ,
    cli_summary,
    expect_cards_equal,
    expect_no_traceback,
    metric_value,
    percent,
)
from tests.conftest import NOW, conversations_of

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dashboard_v2(apps, app_sandbox: Sandbox) -> RunningApp:
    """The dashboard as an organisation with v2 credentials runs it."""
    return apps.start("dashboard-v2", env=sandbox_env(app_sandbox, OUTREACH_API_VERSION="2"))


def test_on_v2_the_cards_equal_1_0_and_answers_and_talk_times_are_shown(
    dashboard_v2: RunningApp, dashboard: RunningApp, app_sandbox: Sandbox,
    new_page: Callable[[], Page], secret_scan: SecretScan,
) -> None:
    today = today_in(TZ, NOW)
    start = today - timedelta(days=29)
    on_v1 = cli_summary(app_sandbox, start, today)
    on_v2 = cli_summary(app_sandbox, start, today,
                        api_version="2")
    answers = on_v2.pop("answers")
    # Conversations differ by design: on v2 a connect talked at least 60 s, on 1.0 the mapping.
    talks = conversations_of(on_v2)
    conversations_of(on_v1)
    assert on_v2 == on_v1 and "answers" not in on_v1

    page = new_page()
    page.goto(dashboard_v2.url)
    expect_cards_equal(page, on_v1)
    expect(metric_value(page, "Conversation rate")).to_have_text(
        percent(talks["conversation_rate"]))
    expect(page.get_by_role("heading", name="Answers and talk time")).to_be_visible()
    expect(metric_value(page, "Answer rate")).to_have_text(
        percent({"value": answers["answer_rate"]}))
    counts = " · ".join(f"{count:,} {outcome}" for outcome, count in answers["by_outcome"].items())
    expect(page.get_by_text(counts, exact=True)).to_be_visible()
    # Two talk-time tables next to the answer rate, and the calls table below.
    expect(page.get_by_test_id("stDataFrame")).to_have_count(4)
    expect_no_traceback(page)
    snapshot(page, "overview-v2", secret_scan)

    # On 1.0 the section is not there at all.
    old = new_page()
    old.goto(dashboard.url)
    expect_cards_equal(old, on_v1)
    expect(old.get_by_role("heading", name="Answers and talk time")).to_have_count(0)


def test_on_v2_the_lookup_shows_a_calls_talk_time(
    dashboard_v2: RunningApp, app_sandbox: Sandbox, page: Page
) -> None:
    answered = next(call for call in app_sandbox.all_calls("2")
                    if call["attributes"]["answeredAt"] and int(call["id"]) < 10**9)
    sent = answered["attributes"]
    seconds = int((datetime.fromisoformat(sent["completedAt"])
                   - datetime.fromisoformat(sent["answeredAt"])).total_seconds())
    shown = f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"

    page.goto(f"{dashboard_v2.url}/lookup?id={answered['id']}")
    expect(page.get_by_role("heading", name=f"Call {answered['id']}")).to_be_visible()
    expect(page.get_by_text("Talk time", exact=True)).to_be_visible()
    expect(page.get_by_text(shown, exact=True)).to_be_visible()
    expect(page.get_by_text("Answered", exact=True)).to_be_visible()
    expect_no_traceback(page)
