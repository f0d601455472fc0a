"""Goals set on their page (AppTest, the sandbox over loopback): the overview's rep table then
shows each one's progress and pace, counted here from the sandbox's own records; a visitor who
is no admin cannot set one."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from streamlit.testing.v1 import AppTest

from lib.display.filters import today_in
from lib.display.markdown import JOINER
from tests.apptest_tools import shown
from tests.conftest import NOW
from tests.expected_calls import expected_calls
from tests.test_page_outcomes import ANSWERED
from tests.test_page_overview import ROOT, TZ, app_env, cli_summary, open_app
from tests.test_ui_access import AUTH

__all__ = ["app_env"]  # the fixture, shared with the overview's page tests

# The default range, "Last 30 days" up to the pinned Wednesday 18 November 2026 in Berlin: 20
# October (a Tuesday) to 18 November, 4 + 5 + 5 + 5 + 3 = 22 working days. The pinned clock
# reads 18:00 in Berlin, past the day's working hours: the whole range's target is expected.
WORKING_DAYS = 22


def rep_rows(app: AppTest):
    return app.dataframe[0].value.set_index("rep")


def set_goals(app: AppTest, whose: int, calls: tuple[int, str] | None = None,
              connects: tuple[int, str] | None = None) -> None:
    app.selectbox(key="goals_whose").select(whose).run()
    for metric, chosen in (("calls", calls), ("connects", connects)):
        if chosen is not None:
            app.number_input(key=f"goals_{metric}_target_{whose}").set_value(chosen[0])
            app.radio(key=f"goals_{metric}_period_{whose}").set_value(chosen[1])
    next(button for button in app.button if button.label == "Save goals").click().run()
    assert not app.exception, [e.value for e in app.exception]


def test_goals_set_on_their_page_show_in_the_rep_table(sandbox, app_env):
    today = today_in(TZ, NOW)
    start = today - timedelta(days=29)
    zone = ZoneInfo(TZ)
    calls = expected_calls(sandbox, datetime.combine(start, time(), zone),
                           datetime.combine(today + timedelta(days=1), time(), zone))
    rep_calls = int((calls["user_id"] == 2).sum())
    outbound = calls[calls["outbound"]]
    team_connects = int(outbound["disposition_id"].isin(ANSWERED).sum())
    assert rep_calls > WORKING_DAYS  # a call a working day is well within rep 2's reach

    app = open_app()
    assert not any(column.endswith("_goal") for column in app.dataframe[0].value.columns)

    app.switch_page("pages/goals.py").run()
    assert not app.exception, [e.value for e in app.exception]
    set_goals(app, 2, calls=(1, "day"))
    assert len(app.success) == 1 and app.success[0].value.startswith("Saved the goals of ")
    assert app.dataframe[0].value["Goal"].tolist() == ["1 call a day"]  # the goals kept
    set_goals(app, -1, connects=(1000, "day"))  # the team: 22,000 connects, far behind

    app.switch_page("pages/overview.py").run()
    assert not app.exception, [e.value for e in app.exception]
    rows = rep_rows(app)
    rep = next(name for name in rows.index if name not in ("Team", "Other users")
               and rows.loc[name, "calls_goal"] != "–")
    assert rows.loc[rep, "calls_goal"] == f"{rep_calls:,} of {WORKING_DAYS} calls"
    assert rows.loc[rep, "calls_expected"] == WORKING_DAYS
    assert rows.loc[rep, "calls_on_pace"] == "yes"
    assert (rows.drop(index=rep)["calls_goal"] == "–").all()  # nobody else has a calls goal
    assert rows.loc["Team", "connects_goal"] == \
        f"{team_connects:,} of {1000 * WORKING_DAYS:,} connects"
    assert rows.loc["Team", "connects_on_pace"] == "no"
    # The app's clock runs on from the pinned 18:00 as the suite runs: the minute is not
    # asserted, only that the whole working day has passed (from 17:00 on it is 100 %).
    assert any(shown(c.value).replace(JOINER, "").startswith(
        "On pace: done ≥ target × 100.0 %, the working time passed by Wed 18 Nov ")
        for c in app.caption)

    # A higher target puts the same rep behind: 1,000 a week is 200 a working day, 4,400.
    app.switch_page("pages/goals.py").run()
    set_goals(app, 2, calls=(1000, "week"))
    app.switch_page("pages/overview.py").run()
    rows = rep_rows(app)
    assert rows.loc[rep, "calls_goal"] == f"{rep_calls:,} of 4,400 calls"
    assert rows.loc[rep, "calls_on_pace"] == "no"

    # Choosing reps leaves the team's goal unjudged: the Team row is no longer the team.
    app.session_state["f_reps"] = [2]
    app.run()
    rows = rep_rows(app)
    assert rows.loc["Team", "connects_goal"] == "–"
    assert rows.loc[rep, "calls_goal"] == f"{rep_calls:,} of 4,400 calls"

    # A target of 0 clears the goal: without any goal of calls, no calls goal columns.
    app.switch_page("pages/goals.py").run()
    set_goals(app, 2, calls=(0, "week"))
    app.switch_page("pages/overview.py").run()
    assert "calls_goal" not in app.dataframe[0].value.columns


def test_the_cli_summary_paces_the_same_goals(sandbox, app_env):
    app = open_app()
    app.switch_page("pages/goals.py").run()
    set_goals(app, 2, calls=(1, "day"))
    today = today_in(TZ, NOW)
    summary = cli_summary(sandbox, app_env, today - timedelta(days=29), today)
    app.switch_page("pages/overview.py").run()
    rows = app.dataframe[0].value
    shown = rows.loc[rows["calls_goal"] != "–", "calls_goal"].tolist()
    paced = summary["goals"]["by_user"]["2"]["calls"]
    assert shown == [f"{paced['done']:,} of {paced['target']:g} calls"]
    assert paced["on_pace"] is True


def test_a_visitor_who_is_no_admin_cannot_set_a_goal(sandbox, app_env, monkeypatch):
    monkeypatch.delenv("CALLBOARD_ADMIN_EMAILS", raising=False)
    monkeypatch.delenv("CALLBOARD_ALLOWED_EMAILS", raising=False)

    def signed_in(email: str) -> AppTest:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        app.secrets["auth"] = AUTH
        app.secrets["CALLBOARD_ALLOWED_EMAILS"] = "@northwind.example"
        app.secrets["CALLBOARD_ADMIN_EMAILS"] = "boss@northwind.example"
        app.user = {"is_logged_in": True, "email": email}
        app.run()
        app.switch_page("pages/goals.py").run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    app = signed_in("ann@northwind.example")
    assert any("Only admins may set goals" in info.value for info in app.info)
    save = next(button for button in app.button if button.label == "Save goals")
    # Every control greyed out (AppTest, like a browser, refuses to use them; the page also
    # saves for admins alone, whatever reaches it).
    assert save.disabled
    assert all(widget.disabled for widget in (*app.number_input, *app.radio))
    app.switch_page("pages/overview.py").run()
    assert "calls_goal" not in app.dataframe[0].value.columns

    admin = signed_in("boss@northwind.example")
    assert not any("Only admins" in info.value for info in admin.info)
    set_goals(admin, -1, calls=(5, "day"))
    assert len(admin.success) == 1
    admin.switch_page("pages/overview.py").run()
    assert rep_rows(admin).loc["Team", "calls_goal"].endswith(f"of {5 * WORKING_DAYS} calls")
