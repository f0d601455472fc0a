"""Goals and pacing on small named data, every expectation worked out by hand in the comments:
a range in the past, one containing a pinned "now", a weekend, a range to come, a rep without a
goal, the team's goal; the rep table's columns and the summary's section."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lib.analytics import goals, overview
from lib.analytics.goals import Goal, elapsed_share, number_text, pace
from lib.analytics.tables import rep_table
from tests.test_analytics import DISPOSITIONS, USERS, make_calls

BERLIN = "Europe/Berlin"  # UTC+1 all of November 2026
LA = "America/Los_Angeles"  # UTC-8 all of November 2026
MON, TUE, WED, SUN = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18), \
    date(2026, 11, 22)
# Wednesday 18 November 2026, 12:00 in Berlin: Monday and Tuesday have passed whole, and
# three of Wednesday's eight working hours (09:00-17:00): 2 + 3/8 = 2.375 of the week's 5
# working days, an elapsed share of 0.475.
NOON_WED_BERLIN = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)


def test_a_range_in_the_past_is_judged_on_the_whole_range():
    last_week = date(2026, 11, 9), date(2026, 11, 15)  # Mon .. Sun: 5 working days
    assert elapsed_share(*last_week, BERLIN, NOON_WED_BERLIN) == 1.0
    paced = pace(Goal(10, "calls", "day", 10), 48, *last_week, BERLIN, NOON_WED_BERLIN)
    # Target 10 × 5 = 50, all of it expected by now: 48 is behind.
    assert (paced.target, paced.expected, paced.progress) == (50, 50, 0.96)
    assert (paced.on_pace, paced.few) == (False, False)
    assert (paced.progress_text(), paced.pace_text()) == ("48 of 50 calls", "no")
    assert pace(Goal(10, "calls", "day", 10), 50, *last_week, BERLIN,
                NOON_WED_BERLIN).pace_text() == "yes"  # exactly the target is on pace


def test_a_range_containing_now_expects_the_working_time_passed():
    assert elapsed_share(MON, SUN, BERLIN, NOON_WED_BERLIN) == 0.475
    daily = Goal(10, "calls", "day", 10)  # target 50, expected 50 × 0.475 = 23.75 by now
    ahead = pace(daily, 24, MON, SUN, BERLIN, NOON_WED_BERLIN)
    assert (ahead.target, ahead.expected) == (50, 23.75)
    assert (ahead.on_pace, ahead.few, ahead.pace_text()) == (True, False, "yes")
    assert ahead.progress_text() == "24 of 50 calls" and ahead.progress == 0.48
    assert pace(daily, 23, MON, SUN, BERLIN, NOON_WED_BERLIN).pace_text() == "no"
    # 40 a week: 8 a working day, target 40, expected 19 by now: below 20, marked as few.
    weekly = pace(Goal(10, "calls", "week", 40), 19, MON, SUN, BERLIN, NOON_WED_BERLIN)
    assert (weekly.target, weekly.expected, weekly.few) == (40, 19, True)
    assert weekly.pace_text() == "yes ⚠"


def test_today_counts_by_the_working_hours_passed_in_the_ranges_zone():
    # 17:00 UTC on Wednesday: 18:00 in Berlin (the day's hours all passed), 09:00 in Los
    # Angeles (none yet). Mon .. Wed: 3 working days, all passed / 2 of 3 passed.
    evening = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
    assert elapsed_share(MON, WED, BERLIN, evening) == 1.0
    assert elapsed_share(MON, WED, LA, evening) == pytest.approx(2 / 3)
    # 21:00 UTC is 13:00 in Los Angeles: half of Wednesday, 2.5 of 3.
    assert elapsed_share(MON, WED, LA, datetime(2026, 11, 18, 21, 0, tzinfo=UTC)) == \
        pytest.approx(2.5 / 3)
    # Before 09:00 on the range's only day nothing is expected yet, so nothing is judged.
    early = datetime(2026, 11, 18, 6, 30, tzinfo=UTC)  # 07:30 in Berlin
    assert elapsed_share(WED, WED, BERLIN, early) == 0.0
    paced = pace(Goal(10, "calls", "day", 10), 0, WED, WED, BERLIN, early)
    assert (paced.expected, paced.on_pace, paced.pace_text()) == (0, None, "–")
    with pytest.raises(ValueError, match="timezone-aware"):
        elapsed_share(MON, WED, BERLIN, datetime(2026, 11, 18, 12, 0))


def test_a_weekend_in_the_range_counts_no_working_time():
    # Fri 20 .. Mon 23 November: working days Friday and Monday. At 13:00 on Monday in Berlin
    # Friday has passed whole and Monday half: 1.5 of 2, a share of 0.75.
    fri, mon = date(2026, 11, 20), date(2026, 11, 23)
    monday_13 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert elapsed_share(fri, mon, BERLIN, monday_13) == 0.75
    paced = pace(Goal(10, "calls", "day", 30), 40, fri, mon, BERLIN, monday_13)
    assert (paced.target, paced.expected, paced.pace_text()) == (60, 45, "no")
    # At noon on Sunday only Friday has passed: 1 of 2.
    assert elapsed_share(fri, mon, BERLIN, datetime(2026, 11, 22, 11, 0, tzinfo=UTC)) == 0.5
    # A weekend alone has no working day: no target, nothing judged.
    weekend = pace(Goal(10, "calls", "day", 30), 5, date(2026, 11, 21), SUN, BERLIN,
                   monday_13)
    assert (weekend.target, weekend.progress, weekend.on_pace) == (0, None, None)
    assert (weekend.progress_text(), weekend.pace_text()) == ("5 calls · no working day", "–")


def test_a_range_to_come_has_nothing_expected_yet():
    next_week = date(2026, 11, 23), date(2026, 11, 27)
    assert elapsed_share(*next_week, BERLIN, NOON_WED_BERLIN) == 0.0
    paced = pace(Goal(10, "connects", "day", 4), 0, *next_week, BERLIN, NOON_WED_BERLIN)
    assert (paced.target, paced.expected, paced.on_pace) == (20, 0, None)
    assert (paced.progress_text(), paced.pace_text()) == ("0 of 20 connects", "–")


def test_a_weekly_target_over_part_of_a_week_is_spread_over_its_working_days():
    # 12 a week is 2.4 a working day; Mon .. Wed is 3 of them: 7.2.
    paced = pace(Goal(10, "calls", "week", 12), 2, MON, WED, BERLIN, NOON_WED_BERLIN)
    assert paced.target == pytest.approx(7.2)
    assert paced.progress_text() == "2 of 7.2 calls"
    assert [number_text(v) for v in (50, 7.2, 23.75, 1234.0)] == ["50", "7.2", "23.8", "1,234"]


@pytest.mark.parametrize("kwargs", [
    {"target": 0}, {"target": goals.MAX_TARGET + 1}, {"target": "5"}, {"target": True},
    {"target": 2.5}, {"metric": "meetings"}, {"period": "month"}, {"rep_id": 0},
])
def test_a_goal_refuses_what_cannot_be_paced(kwargs):
    values = {"rep_id": 10, "metric": "calls", "period": "day", "target": 5, **kwargs}
    with pytest.raises(ValueError):
        Goal(**values)


# The week of 16 November in Berlin, paced at noon on Wednesday (share 0.475). Calls (UTC):
#   Ada (10): 5 calls, 4 outbound; connected: calls 1 (Meeting booked) and 2 (Interested).
#   Bob (20): 2 calls, both outbound; connected: call 6 (Not interested). Voicemail is not.
#   Cy (30): none.  User 99 (not a rep here): 1 outbound No answer, in "Other users".
# The team: 8 calls, 3 connected.
WEEK = make_calls([
    (1, "2026-11-16T09:00Z", 10, True, 1),
    (2, "2026-11-16T10:00Z", 10, True, 2),
    (3, "2026-11-17T09:00Z", 10, True, 4),
    (4, "2026-11-17T10:00Z", 10, True, 4),
    (5, "2026-11-17T11:00Z", 10, False, 3),  # inbound: a call, never a connect
    (6, "2026-11-16T12:00Z", 20, True, 3),
    (7, "2026-11-17T12:00Z", 20, True, 5),
    (8, "2026-11-17T13:00Z", 99, True, 4),
])
WEEK_GOALS = [
    Goal(10, "calls", "day", 2),  # target 10, expected 4.75: 5 done, yes (few)
    Goal(10, "connects", "day", 1),  # target 5, expected 2.375: 2 done, no (few)
    Goal(20, "calls", "week", 10),  # target 10, expected 4.75: 2 done, no (few)
    Goal(None, "calls", "week", 100),  # the team: target 100, expected 47.5: 8 done, no
    Goal(77, "calls", "day", 5),  # a rep not in the table: shown nowhere
]


def week_table(**kwargs):
    return rep_table(WEEK, DISPOSITIONS, USERS, [10, 20, 30], MON, SUN, BERLIN, **kwargs)


def test_the_rep_table_shows_each_goal_and_the_team_goal():
    table = week_table(goals=WEEK_GOALS, now=NOON_WED_BERLIN).set_index("rep")
    assert list(table.index) == ["Ada Lovelace", "Bob Bell", "Cy Cole", "Other users", "Team"]
    assert table["calls_goal"].to_dict() == {
        "Ada Lovelace": "5 of 10 calls", "Bob Bell": "2 of 10 calls", "Cy Cole": "–",
        "Other users": "–", "Team": "8 of 100 calls"}
    assert table["calls_on_pace"].to_dict() == {
        "Ada Lovelace": "yes ⚠", "Bob Bell": "no ⚠", "Cy Cole": "–", "Other users": "–",
        "Team": "no"}
    assert table["calls_expected"].round(3).fillna(-1).to_dict() == {
        "Ada Lovelace": 4.75, "Bob Bell": 4.75, "Cy Cole": -1, "Other users": -1, "Team": 47.5}
    # Connects: only Ada has a goal of them (the team has none).
    assert table["connects_goal"].to_dict() == {
        "Ada Lovelace": "2 of 5 connects", "Bob Bell": "–", "Cy Cole": "–",
        "Other users": "–", "Team": "–"}
    assert table.loc["Ada Lovelace", "connects_on_pace"] == "no ⚠"
    assert table.loc["Ada Lovelace", "connects_expected"] == 2.375


def test_without_goals_the_rep_table_is_as_before_and_a_pick_of_reps_leaves_the_team_out():
    plain = week_table()
    assert week_table(goals=[], now=NOON_WED_BERLIN).equals(plain)
    assert not any(column.endswith(("_goal", "_on_pace")) for column in plain.columns)
    only_calls = week_table(goals=[Goal(20, "calls", "day", 1)], now=NOON_WED_BERLIN)
    assert [c for c in only_calls.columns if c not in plain.columns] == [
        "calls_goal", "calls_expected", "calls_on_pace"]  # no connects columns: none set
    picked = week_table(goals=WEEK_GOALS, now=NOON_WED_BERLIN, whole_team=False) \
        .set_index("rep")
    assert picked.loc["Team", "calls_goal"] == "–"
    assert picked.loc["Ada Lovelace", "calls_goal"] == "5 of 10 calls"
    with pytest.raises(ValueError, match="now"):
        week_table(goals=WEEK_GOALS)


def test_the_summary_has_the_same_verdicts_with_their_counts():
    built = overview.build_overview(WEEK, WEEK.iloc[0:0], USERS, DISPOSITIONS, [10, 20, 30],
                                    MON, SUN, BERLIN, goals_set=WEEK_GOALS,
                                    now=NOON_WED_BERLIN)
    section = overview.summary(built, MON, SUN, BERLIN, [10, 20, 30])["goals"]
    assert section["by_user"] == {
        "10": {"calls": {"period": "day", "target_per_period": 2, "target": 10, "done": 5,
                         "expected": 4.75, "progress": 0.5, "on_pace": True, "few": True},
               "connects": {"period": "day", "target_per_period": 1, "target": 5, "done": 2,
                            "expected": 2.375, "progress": 0.4, "on_pace": False,
                            "few": True}},
        "20": {"calls": {"period": "week", "target_per_period": 10, "target": 10, "done": 2,
                         "expected": 4.75, "progress": 0.2, "on_pace": False, "few": True}},
    }
    assert section["team"] == {"calls": {
        "period": "week", "target_per_period": 100, "target": 100, "done": 8, "expected": 47.5,
        "progress": 0.08, "on_pace": False, "few": False}}
    assert (section["working_days"], section["elapsed_share"], section["whole_team"]) == (
        5, 0.475, True)
    assert section["working_hours"] == "Mon-Fri 09:00-17:00 Europe/Berlin"
    assert section["now"] == "2026-11-18T11:00:00+00:00"
    assert "09:00-17:00" in section["definition"]
    # The page's caption says the same share and what it is of.
    assert built.pacing.caption().startswith(
        "On pace: done ≥ target × 47.5 %, the working time passed by Wed 18 Nov 12:00 "
        "(2.4 of 5 working days, Mon–Fri 09:00–17:00 in Europe/Berlin).")
    # Goals not asked about (the CLI before it passes them): no section at all.
    plain = overview.build_overview(WEEK, WEEK.iloc[0:0], USERS, DISPOSITIONS, [10, 20, 30],
                                    MON, SUN, BERLIN)
    assert "goals" not in overview.summary(plain, MON, SUN, BERLIN, [10, 20, 30])


def test_every_goal_column_has_its_definition_on_hover():
    built = overview.build_overview(WEEK, WEEK.iloc[0:0], USERS, DISPOSITIONS, [10, 20, 30],
                                    MON, SUN, BERLIN, goals_set=WEEK_GOALS,
                                    now=NOON_WED_BERLIN)
    texts = goals.column_texts(built.pacing)
    plain = week_table()
    assert set(texts) == set(built.reps.columns) - set(plain.columns)
    assert texts["calls_goal"][0] == "Calls goal"
    assert "09:00-17:00" in texts["calls_expected"][1]
    assert "fewer than 20" in texts["connects_on_pace"][1]
    assert "outcome mapping" in texts["connects_goal"][1]
    assert goals.column_texts(None) == {}


def test_the_goals_kept_are_listed_by_whose_and_in_words():
    saved = datetime(2026, 11, 18, 16, 30, tzinfo=UTC)
    table = goals.goals_table([Goal(None, "calls", "week", 400, saved, "boss@example.com"),
                               Goal(10, "connects", "day", 3, saved, "boss@example.com"),
                               Goal(77, "calls", "day", 1_500), Goal(78, "calls", "day", 1)],
                              {10: "Ada Lovelace"}, BERLIN)
    assert table[["Who", "Goal", "Saved by"]].values.tolist() == [
        ["Team", "400 calls a week", "boss@example.com"],
        ["Ada Lovelace", "3 connects a day", "boss@example.com"],
        ["User 77", "1,500 calls a day", ""], ["User 78", "1 call a day", ""]]
    assert str(table["Saved"][0]) == "2026-11-18 17:30:00+01:00" and table["Saved"].isna()[2]
