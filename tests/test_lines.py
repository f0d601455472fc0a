"""Line health on small named data sets whose expected figures are worked out by hand here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.analytics.figures import Rate
from lib.analytics.lines import NO_LINE, line_health, z_below
from lib.analytics.outcomes import outcome_mapping

NEW_YORK = "America/New_York"
DISPOSITIONS = pd.DataFrame({"id": np.array([2, 4], dtype=np.int64),
                             "name": ["Interested", "No answer"], "order": [1, 2],
                             "outcome": ["Answered", "Not Answered"]})
MAPPING = outcome_mapping(DISPOSITIONS)  # 2 is connected, 4 is not
SPAM, STEADY, OTHER, QUIET = "+12125550101", "+12125550102", "+12125550103", "+12125550104"


def calls(*groups: tuple) -> pd.DataFrame:
    """Groups of (line, rep, UTC time, calls, of which connected[, outbound]) as a calls frame:
    the connected ones are "Interested", the rest "No answer"."""
    rows = []
    for line, rep, when, count, connected, *direction in groups:
        outbound = direction[0] if direction else True
        rows += [(line, rep, when, outbound, 2 if k < connected else 4) for k in range(count)]
    lines, reps, times, outbound, dispositions = zip(*rows, strict=True)
    return pd.DataFrame({
        "created_at": pd.to_datetime(list(times), utc=True),
        "user_id": pd.array(reps, dtype="Int64"),
        "outbound": np.array(outbound, dtype=bool),
        "from_number": pd.array(lines, dtype="string"),
        "disposition_id": pd.array(dispositions, dtype="Int64"),
    })


# This period: two weeks from Monday 9 November 2026; the period before: the two weeks before.
WEEK_1, WEEK_2, BEFORE = "2026-11-10T15:00Z", "2026-11-17T15:00Z", "2026-11-03T15:00Z"
# Sunday 15 November, 23:30 in New York: still the first week there.
SUNDAY_NIGHT = "2026-11-16T04:30Z"

THIS_PERIOD = calls(
    (SPAM, 2, WEEK_1, 19, 3), (SPAM, 2, SUNDAY_NIGHT, 1, 0), (SPAM, 2, WEEK_2, 20, 1),
    (SPAM, 2, WEEK_1, 5, 5, False),  # inbound calls to the line: not its connect rate
    (STEADY, 3, WEEK_1, 100, 30),
    (OTHER, 4, WEEK_2, 100, 30),
    (QUIET, 5, WEEK_1, 10, 0),
    (None, 5, WEEK_1, 1, 0),
)
PERIOD_BEFORE = calls((SPAM, 2, BEFORE, 50, 15), (STEADY, 3, BEFORE, 100, 30),
                      (OTHER, 4, BEFORE, 100, 30))


def by_line(health) -> dict:
    return {line.line: line for line in health.lines}


def test_a_line_that_dropped_below_its_past_and_the_team_is_flagged_with_its_counts():
    health = line_health(THIS_PERIOD, PERIOD_BEFORE, MAPPING, NEW_YORK)
    lines = by_line(health)
    spam = lines[SPAM]
    # 4 connects in 40 outbound calls (the 5 inbound ones do not count), 15 of 50 before;
    # the other lines: 30 + 30 + 0 + 0 connects in 100 + 100 + 10 + 1 calls.
    assert (spam.rate, spam.past, spam.team) == (Rate(4, 40), Rate(15, 50), Rate(60, 211))
    assert spam.flagged and spam.reps == (2,)
    assert spam.reason == "Connects well below both its own past and the team's other lines."
    assert [line.line for line in health.flagged] == [SPAM]
    assert health.lines[0].line == SPAM  # flagged first

    steady = lines[STEADY]  # 30 of 100; the others: 4 + 30 + 0 + 0 of 40 + 100 + 10 + 1
    assert (steady.rate, steady.past, steady.team) == (Rate(30, 100), Rate(30, 100),
                                                       Rate(34, 151))
    assert not steady.flagged and steady.reason.startswith("Healthy")
    assert not lines[QUIET].flagged
    assert lines[QUIET].reason == "Too few calls to judge (10 of 20)."
    assert lines[NO_LINE].rate == Rate(0, 1) and not lines[NO_LINE].flagged


def test_the_gaps_are_standard_errors_worked_out_by_hand():
    # Against the team: pooled (4 + 60) / (40 + 211) = 0.25498, standard error
    # sqrt(0.25498 * 0.74502 * (1/40 + 1/211)) = 0.075162, gap 0.28436 - 0.1 = 0.18436.
    assert z_below(Rate(4, 40), Rate(60, 211)) == pytest.approx(2.4529, abs=1e-3)
    # Against its past: pooled 19 / 90 = 0.21111, sqrt(0.21111 * 0.78889 * (1/40 + 1/50))
    # = 0.086570, gap 0.3 - 0.1 = 0.2.
    assert z_below(Rate(4, 40), Rate(15, 50)) == pytest.approx(2.3103, abs=1e-3)
    assert z_below(Rate(0, 0), Rate(1, 2)) == 0.0
    assert z_below(Rate(0, 30), Rate(0, 40)) == 0.0  # nobody connects: no spread, no gap


def test_a_line_always_this_low_is_not_a_drop():
    before = calls((SPAM, 2, BEFORE, 50, 5), (STEADY, 3, BEFORE, 100, 30))
    spam = by_line(line_health(THIS_PERIOD, before, MAPPING, NEW_YORK))[SPAM]
    assert spam.past == Rate(5, 50) and not spam.flagged
    assert spam.reason == "Below the team's other lines, but no worse than its own past."


def test_a_new_line_is_judged_against_the_team_only_and_says_so():
    spam = by_line(line_health(THIS_PERIOD, calls((STEADY, 3, BEFORE, 100, 30)), MAPPING,
                               NEW_YORK))[SPAM]
    assert spam.past == Rate(0, 0) and spam.flagged
    assert "too few calls in the period before" in spam.reason


def test_a_large_drop_on_few_calls_is_not_flagged_by_chance():
    # 2 of 20 against 60 of 200: two thirds lower, but pooled 62 / 220 = 0.28182, standard
    # error sqrt(0.28182 * 0.71818 * (1/20 + 1/200)) = 0.10551, gap 0.2: 1.90 errors, under 2.
    small = calls((SPAM, 2, WEEK_1, 20, 2), (STEADY, 3, WEEK_1, 100, 30),
                  (OTHER, 4, WEEK_1, 100, 30))
    spam = by_line(line_health(small, calls((SPAM, 2, BEFORE, 50, 15)), MAPPING, NEW_YORK))[SPAM]
    assert spam.team == Rate(60, 200)
    assert z_below(spam.rate, spam.team) == pytest.approx(1.8956, abs=1e-3)
    assert not spam.flagged


def test_weeks_are_the_team_zones_mondays_and_only_reps_chosen_count():
    health = line_health(THIS_PERIOD, PERIOD_BEFORE, MAPPING, NEW_YORK, rep_ids=[2, 3])
    assert set(by_line(health)) == {SPAM, STEADY}
    weekly = health.weekly
    spam = weekly[weekly["line"] == SPAM]
    # The Sunday-night call is in the first week in New York (in UTC it is a Monday).
    assert spam[["week", "calls", "connects"]].values.tolist() == [
        [pd.Timestamp("2026-11-09"), 20, 3], [pd.Timestamp("2026-11-16"), 20, 1]]
    assert spam["rate"].tolist() == [0.15, 0.05]
    # The team's other lines, now only STEADY: 30 of 100.
    assert by_line(health)[SPAM].team == Rate(30, 100)


def test_an_edited_mapping_changes_what_connects():
    # "No answer" counted as connected too: every call connects, and no line is flagged.
    edited = outcome_mapping(DISPOSITIONS, {4: frozenset({"connected"})})
    health = line_health(THIS_PERIOD, PERIOD_BEFORE, edited, NEW_YORK)
    assert by_line(health)[SPAM].rate == Rate(40, 40)
    assert not health.flagged


def test_one_number_logged_in_two_styles_is_one_line():
    # SPAM's 40 outbound calls, half of them logged as the dialer shows the number.
    styles = THIS_PERIOD.copy()
    half = styles.index[(styles["from_number"] == SPAM) & styles["outbound"]][::2]
    styles.loc[half, "from_number"] = "(212) 555-0101"
    spam = by_line(line_health(styles, PERIOD_BEFORE, MAPPING, NEW_YORK))[SPAM]
    assert (spam.rate, spam.team) == (Rate(4, 40), Rate(60, 211)) and spam.flagged
    assert set(by_line(line_health(styles, PERIOD_BEFORE, MAPPING, NEW_YORK))) == {
        SPAM, STEADY, OTHER, QUIET, NO_LINE}


def test_no_calls_is_no_lines():
    empty = calls((SPAM, 2, WEEK_1, 1, 0)).iloc[0:0]
    health = line_health(empty, empty, MAPPING, NEW_YORK)
    assert health.lines == () and health.weekly.empty
    assert health.to_dict()["flagged"] == []


# ----- the chart -----

def test_the_chart_draws_each_line_per_week_red_when_flagged_pale_on_few_calls():
    from lib.analytics.charts import line_health_chart
    from tests.test_charts import drawn, opacity, spec

    health = line_health(THIS_PERIOD, PERIOD_BEFORE, MAPPING, NEW_YORK, rep_ids=[2, 3, 5])
    result = spec(line_health_chart(health, lambda number: f"line {number[-4:]}"))
    line, points = result["layer"]
    assert line["encoding"]["color"]["scale"]["domain"] == ["Flagged", "Not flagged"]
    assert line["encoding"]["color"]["scale"]["range"][0] == "#d62728"
    # Weeks of 20 calls or more are joined; QUIET's 10-call week is a pale point only.
    joined = {(row["line"], row["week"][:10]) for row in drawn(result, line)}
    assert joined == {("line 0101", "2026-11-09"), ("line 0101", "2026-11-16"),
                      ("line 0102", "2026-11-09")}
    shades = {row["line"]: opacity(points, row) for row in drawn(result, points)}
    assert shades["line 0104"] < 0.5 and shades["line 0102"] == 1.0
    assert shades[NO_LINE] < 0.5  # calls without a number keep their own name
    flags = {row["line"]: row["flagged"] for row in drawn(result, points)}
    assert flags["line 0101"] == "Flagged" and flags["line 0102"] == "Not flagged"
