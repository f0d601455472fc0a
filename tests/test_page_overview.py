"""The overview page through Streamlit's AppTest, against the sandbox over loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.display.filters import today_in
from lib.outreach import NewCall, OutreachClient, StaticToken
from lib.sandbox import Sandbox
from tests.apptest_tools import shown
from tests.conftest import NOW, WORKDAY, pinned_now, sandbox_now

ROOT = Path(__file__).resolve().parent.parent
TZ = "Europe/Berlin"


@pytest.fixture
def app_env(sandbox, monkeypatch, tmp_path) -> dict[str, str]:
    env = {
        "OUTREACH_API_BASE": sandbox.base_url,
        "OUTREACH_ACCESS_TOKEN": sandbox.full_token,
        "CALLBOARD_TIMEZONE": TZ,
        "CALLBOARD_SANDBOX_DB": str(tmp_path / "sandbox.sqlite"),
        "CALLBOARD_CACHE_DB": str(tmp_path / "calls.sqlite"),
        # The sandbox's clock: "Last 30 days" ends on the pinned history's last day.
        "CALLBOARD_NOW": pinned_now(sandbox),
    }
    for key in ("OUTREACH_CLIENT_ID", "OUTREACH_CLIENT_SECRET", "OUTREACH_REFRESH_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def open_app(query: dict[str, str] | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def cli_summary(sandbox: Sandbox, env: dict[str, str], start: date, end: date, tz: str = TZ,
                users: tuple[int, ...] = ()) -> dict:
    """`python -m lib.cli summary` with the app's settings, on the sandbox's clock as it reads
    when the CLI starts."""
    args = ["summary", "--start", str(start), "--end", str(end), "--tz", tz]
    for user in users:
        args += ["--user", str(user)]
    result = subprocess.run([sys.executable, "-m", "lib.cli", *args], cwd=ROOT,
                            env={**_base_env(), **env, "CALLBOARD_NOW": sandbox_now(sandbox)},
                            capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "CALLBOARD_"))}


def cards(app: AppTest) -> dict[str, tuple[str, str | None]]:
    """Metric cards by label (without the few-calls mark): (value, delta)."""
    return {m.label.removesuffix(" ⚠"): (m.value, m.delta) for m in app.metric}


def percent(rate: dict) -> str:
    return "–" if rate["value"] is None else f"{100 * rate['value']:.1f}%"


def assert_cards_match(app: AppTest, summary: dict) -> None:
    shown = cards(app)
    deltas = summary["deltas"]
    assert shown["Calls"][0] == f"{summary['calls']:,}"
    assert shown["Calls"][1] == f"{deltas['calls']:+,}"
    assert shown["Outbound share"][0] == percent(summary["outbound_share"])
    assert shown["Connect rate"][0] == percent(summary["connect_rate"])
    if deltas["connect_rate"] is not None:
        assert shown["Connect rate"][1] == f"{deltas['connect_rate']:+.1f} pp"
    per_rep = summary["calls_per_rep_per_day"]["value"]
    assert shown["Calls per rep per working day"][0] == f"{per_rep:.1f}"
    assert shown["No disposition logged"][0] == f"{summary['no_disposition']:,}"
    # The counts behind the rates are on the page too.
    captions = [c.value for c in app.caption]
    rate = summary["connect_rate"]
    assert f"{rate['numerator']:,} of {rate['denominator']:,} outbound calls" in captions


def test_default_view_equals_the_cli_summary(sandbox, app_env):
    app = open_app()
    today = today_in(TZ, NOW)
    summary = cli_summary(sandbox, app_env, today - timedelta(days=29), today)
    assert summary["calls"] > 500
    assert_cards_match(app, summary)
    assert app.query_params["range"] == "Last 30 days"
    assert app.query_params["tz"] == TZ
    assert not app.error
    assert any("times in Europe/Berlin" in c.value for c in app.sidebar.caption)
    assert any(c.value.startswith("Synced to ") for c in app.sidebar.caption)


def test_choosing_reps_and_dates_changes_the_numbers_and_the_url(sandbox, app_env):
    app = open_app()
    before = cards(app)["Calls"][0]
    app.session_state["f_reps"] = [2, 4]
    app.session_state["f_range"] = "Last 7 days"
    app.run()
    assert not app.exception
    today = today_in(TZ, NOW)
    summary = cli_summary(sandbox, app_env, today - timedelta(days=6), today, users=(2, 4))
    assert cards(app)["Calls"][0] != before
    assert_cards_match(app, summary)
    assert app.query_params["reps"] == "2,4"
    assert app.query_params["range"] == "Last 7 days"
    reps_table = app.dataframe[0].value
    assert list(reps_table["rep"])[-1] == "Team"
    assert len(reps_table) == 3  # the two reps, then the team row
    assert list(reps_table["calls"])[-1] == summary["calls"]


def test_a_shared_link_reopens_the_same_view(sandbox, app_env):
    # Ten closed days of the pinned history, with rep 3's calls on every working day.
    end = WORKDAY - timedelta(days=2)
    start = end - timedelta(days=9)
    query = {"range": "Custom", "start": str(start), "end": str(end), "reps": "3",
             "tz": "America/New_York"}
    app = open_app(query)
    summary = cli_summary(sandbox, app_env, start, end, tz="America/New_York", users=(3,))
    assert summary["calls"] > 0
    assert_cards_match(app, summary)
    assert app.session_state["f_tz"] == "America/New_York"
    assert app.session_state["f_reps"] == [3]
    rep_name = app.dataframe[0].value["rep"].iloc[0]
    calls = app.dataframe[1].value
    assert len(calls) == summary["calls"]
    assert set(calls["rep"]) == {rep_name}
    assert calls["time"].iloc[0].tz is not None
    assert str(calls["time"].iloc[0].tz) == "America/New_York"


def test_an_empty_range_shows_a_friendly_empty_state(app_env):
    start = date(2001, 3, 5)
    app = open_app({"range": "Custom", "start": str(start), "end": str(start + timedelta(days=6))})
    assert cards(app)["Calls"][0] == "0"
    assert any("No calls in these days" in i.value for i in app.info)
    assert len(app.dataframe) == 0  # no broken charts or tables
    assert not app.error


def test_a_revoked_token_gives_a_sentence_not_a_traceback(sandbox, app_env, monkeypatch):
    token = sandbox.issue_token(["read_calls", "read_users", "read_call_dispositions",
                                 "read_call_purposes"], ttl=600)
    sandbox.revoke(token)
    monkeypatch.setenv("OUTREACH_ACCESS_TOKEN", token)
    app = open_app()
    assert [shown(e.value) for e in app.error]
    message = shown(app.error[0].value)
    assert "did not accept Callboard's credentials" in message
    assert token not in message
    assert not app.metric


def test_a_token_that_cannot_read_calls_says_which_scope_is_missing(sandbox, app_env,
                                                                    monkeypatch):
    token = sandbox.issue_token(["read_users", "read_call_dispositions", "read_call_purposes"],
                                ttl=600)
    monkeypatch.setenv("OUTREACH_ACCESS_TOKEN", token)
    app = open_app()
    message = shown(app.error[0].value)
    assert "The calls could not be loaded" in message
    assert "read_calls" in message


def test_refresh_shows_a_call_logged_elsewhere_and_full_reload_reads_everything(sandbox, app_env):
    app = open_app({"range": "Last 7 days"})
    before = cards(app)["Calls"][0]

    # Logged outside Callboard (another tool, another server): the cached figures stay as they
    # were until the manager asks for fresh data.
    with OutreachClient(sandbox.base_url, StaticToken(sandbox.full_token)) as client:
        client.create_call(NewCall(outbound=True, to_number="+14155550142"))
    app.run()
    assert cards(app)["Calls"][0] == before

    app.button(key="refresh").click().run()
    after = int(cards(app)["Calls"][0].replace(",", ""))
    assert after == int(before.replace(",", "")) + 1

    # Refresh syncs (the trailing days re-read); a full reload reads every day again.
    sandbox.reset_request_count()
    app.button(key="refresh").click().run()
    refresh_requests = sandbox.request_count
    sandbox.reset_request_count()
    app.button(key="full_reload").click().run()
    assert cards(app)["Calls"][0] == f"{after:,}"
    assert sandbox.request_count > refresh_requests + 5
    assert not app.exception


def test_when_outreach_is_down_the_page_says_so_and_refresh_recovers(sandbox, app_env,
                                                                     monkeypatch,
                                                                     configure_sandbox):
    # A token of its own: nothing this source reads can come from another test's cache.
    monkeypatch.setenv("OUTREACH_ACCESS_TOKEN", sandbox.issue_token(
        ["read_calls", "read_users", "read_call_dispositions", "read_call_purposes"], ttl=600))
    configure_sandbox(fault_rate=1.0)
    app = open_app()
    assert "could not be reached" in shown(app.error[0].value)
    assert not app.metric
    configure_sandbox(fault_rate=0.0)
    app.button(key="refresh").click().run()  # the button the message points to
    assert not app.error
    assert int(cards(app)["Calls"][0].replace(",", "")) > 0


def test_a_disposition_chosen_in_the_chart_filters_the_calls_table(app_env):
    app = open_app()
    everything = app.dataframe[1].value
    mix = {name: count for name, count in everything["disposition"].value_counts().items()}
    # What Streamlit stores when the "No answer" bar is clicked (selection "disposition").
    app.session_state["mix"] = {"selection": {"disposition": [{"disposition": "No answer"}]}}
    app.run()
    assert not app.exception
    shown_calls = app.dataframe[1].value
    assert set(shown_calls["disposition"]) == {"No answer"}
    assert len(shown_calls) == mix["No answer"]
    assert any(c.value.startswith(f"{mix['No answer']:,} of {len(everything):,} calls")
               and "No answer" in c.value for c in app.caption)
    # The cards still describe every call: the chart filters only the table.
    assert cards(app)["Calls"][0] == f"{len(everything):,}"


def test_a_range_of_more_calls_than_the_table_holds_shows_the_newest_and_says_so(app_env,
                                                                                monkeypatch):
    monkeypatch.setattr("lib.analytics.overview.CALLS_SHOWN", 40)
    app = open_app()
    assert not app.exception
    total = int(cards(app)["Calls"][0].replace(",", ""))
    table = app.dataframe[1].value
    assert total > 40 and len(table) == 40
    assert table["time"].is_monotonic_decreasing  # newest first
    assert any(c.value.startswith(f"The newest 40 of {total:,} calls") for c in app.caption)
    # A disposition picked in the chart: the newest 40 of that disposition's calls.
    app.session_state["mix"] = {"selection": {"disposition": [{"disposition": "No answer"}]}}
    app.run()
    picked = app.dataframe[1].value
    assert set(picked["disposition"]) == {"No answer"} and len(picked) == 40
    assert any(c.value.startswith("The newest 40 of ") and f"({total:,} in all)" in c.value
               for c in app.caption)


def test_without_a_store_the_table_is_cut_from_the_read_never_read_again(sandbox, app_env,
                                                                        monkeypatch):
    monkeypatch.setenv("CALLBOARD_CACHE_DB", "off")
    # A token of its own: nothing this source reads can come from another test's cache.
    monkeypatch.setenv("OUTREACH_ACCESS_TOKEN", sandbox.issue_token(
        ["read_calls", "read_users", "read_call_dispositions", "read_call_purposes"], ttl=600))
    app = open_app()
    everything = app.dataframe[1].value
    assert int(cards(app)["Calls"][0].replace(",", "")) == len(everything) > 0
    sandbox.reset_request_count()
    app.session_state["mix"] = {"selection": {"disposition": [{"disposition": "No answer"}]}}
    app.run()
    assert not app.exception
    assert set(app.dataframe[1].value["disposition"]) == {"No answer"}
    assert sandbox.request_count == 0  # a bar picked: no read of the range again


def test_a_store_that_cannot_be_used_is_said_and_the_calls_still_show(sandbox, app_env,
                                                                       monkeypatch, postgres):
    from sqlalchemy import create_engine, text

    url = postgres.create_database("a_helpdesks_database")
    engine = create_engine(url)
    with engine.begin() as connection:  # another application's table of one of our names
        connection.execute(text("CREATE TABLE calls (ticket integer)"))
    engine.dispose()
    monkeypatch.setenv("CALLBOARD_DATABASE_URL", url)
    monkeypatch.setenv("OUTREACH_ACCESS_TOKEN", sandbox.issue_token(
        ["read_calls", "read_users", "read_call_dispositions", "read_call_purposes"], ttl=600))
    app = open_app()
    warnings = [shown(w.value) for w in app.warning]
    assert any("read from Outreach directly" in w and "Callboard did not make" in w
               for w in warnings), warnings
    assert int(cards(app)["Calls"][0].replace(",", "")) > 0
    assert "ticket" not in " ".join(warnings)  # our sentence, never the database's SQL


def test_incomplete_settings_are_named_without_their_values(app_env, monkeypatch):
    monkeypatch.delenv("OUTREACH_ACCESS_TOKEN")
    monkeypatch.setenv("OUTREACH_CLIENT_ID", "an-app-id-1234")
    app = open_app()
    message = shown(app.error[0].value)
    assert message.startswith("**Callboard's settings need attention.**")
    assert "OUTREACH_CLIENT_SECRET" in message and "OUTREACH_REFRESH_TOKEN" in message
    assert "an-app-id-1234" not in message
    assert not app.metric


def notes(app: AppTest) -> list[str]:
    """The frame's notes about the filters: what it changed in a link or a pick, and why."""
    return [shown(paragraph).replace("\u2060", "") for box in app.info
            if box.icon == ":material/tune:" for paragraph in box.value.split("\n\n")]


@pytest.mark.parametrize(("start", "end"), [("0001-01-01", "0001-01-03"),
                                            ("9999-12-30", "9999-12-31")])
def test_a_link_to_the_ends_of_the_calendar_shows_the_default_range_and_says_why(
        app_env, start, end):
    app = open_app({"range": "Custom", "start": start, "end": end})
    today = today_in(TZ, NOW)
    assert app.session_state["f_range"] == "Last 30 days"
    assert app.session_state["f_days"] == (today - timedelta(days=29), today)
    assert cards(app)["Calls"][0] != "0"
    assert notes(app) == [f"The link's dates, {start} to {end}, are outside the days Callboard "
                          f"shows (01 Jan 2000 to {today + timedelta(days=366):%d %b %Y}), so "
                          "it shows the last 30 days."]
    assert app.query_params["range"] == "Last 30 days" and "start" not in app.query_params


def test_a_ten_year_link_shows_its_latest_year_and_the_note_goes_once_dates_change(app_env):
    app = open_app({"range": "Custom", "start": "2017-01-01", "end": "2026-12-31"})
    today = today_in(TZ, NOW)
    start = today - timedelta(days=365)
    assert app.session_state["f_days"] == (start, today)
    assert app.query_params["start"] == str(start) and app.query_params["end"] == str(today)
    [note] = notes(app)
    assert note.startswith("The dates asked for, 01 Jan 2017 – 31 Dec 2026 (3,652 days), were "
                           "cut to ") and "at most 366 days at a time" in note
    app.session_state["f_range"] = "Last 7 days"
    app.run()
    assert not app.exception and notes(app) == []


def test_a_long_pick_in_the_sidebar_is_kept_as_picked_and_cut_with_a_note(app_env):
    app = open_app({"range": "Custom", "start": "2026-01-01", "end": "2026-01-31"})
    picked = (date(2024, 1, 1), date(2025, 12, 31))
    app.session_state["f_days"] = picked
    app.run()
    assert not app.exception
    assert app.sidebar.date_input(key="f_days").value == picked  # what the user picked stays
    assert (app.query_params["start"], app.query_params["end"]) == ("2024-12-31", "2025-12-31")
    assert notes(app) == [
        "The dates asked for, 01 Jan 2024 – 31 Dec 2025 (731 days), were cut to 31 Dec 2024 – "
        "31 Dec 2025 (366 days): the dashboard shows at most 366 days at a time. Pick other "
        "dates in the sidebar to see the rest."]


def test_crafted_values_in_every_filter_give_the_default_view_and_notes(app_env):
    markup = "<b>x</b>\n# y"
    app = open_app({key: markup for key in ("tz", "range", "start", "end", "reps")})
    assert app.session_state["f_tz"] == TZ and app.session_state["f_reps"] == []
    assert app.session_state["f_range"] == "Last 30 days"
    assert cards(app)["Calls"][0] != "0"
    said = notes(app)
    assert len(said) == 3 and all("“<b>x</b> # y”" in note for note in said)
    # As Markdown, every character of the markup is escaped and the notes are one line each.
    [box] = [box for box in app.info if box.icon == ":material/tune:"]
    assert "<b>" not in box.value and "\\<b\\>" in box.value
    assert all(line and not line.startswith("#") for line in box.value.split("\n\n"))


def partly_loaded_page() -> None:
    """A page that shows a read the quota share cut short (run by AppTest in its own script)."""
    from datetime import UTC, datetime

    import pandas as pd

    from lib.outreach import QuotaExhausted
    from lib.ui import frame
    from lib.ui.cache import LoadedCalls

    synced = datetime(2026, 11, 18, 8, 42, tzinfo=UTC)
    stopped = QuotaExhausted("GET /1.0/calls needs 400 more requests", share=0.5, limit=10000,
                             retry_at=datetime(2026, 11, 18, 9, 0, tzinfo=UTC))
    frame.data_note([LoadedCalls(pd.DataFrame(), synced),
                     LoadedCalls(pd.DataFrame(), synced, loaded=0.6, stopped_by=stopped)],
                    "Europe/Berlin")


def test_a_partly_loaded_range_is_said_never_shown_as_complete(app_env):
    app = AppTest.from_function(partly_loaded_page, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.sidebar.caption]
    assert "Synced to 18 Nov 2026, 09:42 · 60 % of this range loaded · all times in " \
        "Europe/Berlin" in captions
    warning = shown(app.warning[0].value)
    assert warning.startswith("Only 60 % of this range is loaded yet: Callboard has used its "
                              "share (50%) of your Outreach requests for this hour, so the "
                              "figures below leave out the rest.")
    assert "What is loaded is kept; only the rest is read." in warning


def stale_page() -> None:
    """A page whose due sync failed: the stored calls, said to be as of the last sync."""
    from datetime import UTC, datetime

    import pandas as pd

    from lib.outreach import ApiUnavailable
    from lib.ui import frame
    from lib.ui.cache import LoadedCalls

    synced = datetime(2026, 11, 18, 8, 42, tzinfo=UTC)
    frame.data_note([LoadedCalls(pd.DataFrame(), synced, sync_failed=ApiUnavailable(
        "GET /1.0/calls failed after 6 tries: HTTP 503"))], "Europe/Berlin")


def test_a_failed_sync_says_the_calls_are_as_of_the_last_one(app_env):
    app = AppTest.from_function(stale_page, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    warning = shown(app.warning[0].value)
    assert warning.startswith("**These calls are as of 09:42: the sync with Outreach failed.** "
                              "Outreach could not be reached")
    assert "Synced to 18 Nov 2026, 09:42 · all times in Europe/Berlin" in \
        [c.value for c in app.sidebar.caption]
