"""Attempts on a small named data set whose expected figures are worked out by hand here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.analytics.attempts import attempt_figures, attempt_label
from lib.analytics.figures import Rate
from lib.analytics.outcomes import outcome_mapping

DISPOSITIONS = pd.DataFrame({"id": np.array([2, 4], dtype=np.int64),
                             "name": ["Interested", "No answer"], "order": [1, 2],
                             "outcome": ["Answered", "Not Answered"]})
MAPPING = outcome_mapping(DISPOSITIONS)
YES, NO = 2, 4
RANGE_START = pd.Timestamp("2026-11-09T00:00Z")
ALVA, BO = 2, 3  # reps


def calls(*rows: tuple) -> pd.DataFrame:
    """Rows of (prospect or None, UTC time, disposition[, rep[, outbound]])."""
    full = [(*row, ALVA, True)[:5] if len(row) == 3 else (*row, True)[:5] if len(row) == 4
            else row for row in rows]
    prospects, times, dispositions, reps, outbound = zip(*full, strict=True)
    return pd.DataFrame({
        "id": np.arange(1, len(full) + 1, dtype=np.int64),
        "created_at": pd.to_datetime(list(times), utc=True),
        "user_id": pd.array(reps, dtype="Int64"),
        "outbound": np.array(outbound, dtype=bool),
        "prospect_id": pd.array(prospects, dtype="Int64"),
        "disposition_id": pd.array(dispositions, dtype="Int64"),
    })


# The range starts on Monday 9 November 2026 (UTC); the calls before it still number attempts.
TEAM = calls(
    # Priya (100): missed once before the range, missed again, then she called back and was
    # reached: the two calls after are follow-ups.
    (100, "2026-11-02T15:00Z", NO), (100, "2026-11-10T15:00Z", NO),
    (100, "2026-11-11T15:00Z", YES), (100, "2026-11-12T15:00Z", YES),
    (100, "2026-11-10T16:00Z", YES, ALVA, False),  # she called back: reached, not an attempt
    # Omar (200): reached at once by Bo, then a follow-up that he missed.
    (200, "2026-11-10T15:00Z", YES, BO), (200, "2026-11-13T15:00Z", NO, BO),
    # Lena (300): twelve tries in the range, never reached.
    *[(300, f"2026-11-{9 + k // 3:02d}T{15 + k % 3}:00Z", NO) for k in range(12)],
    # Ravi (400): reached in October, called again in the range: a follow-up.
    (400, "2026-10-20T15:00Z", YES), (400, "2026-11-10T15:00Z", NO),
    # Mei (500): missed twice before the range, reached on the 3rd try, in it.
    (500, "2026-11-03T15:00Z", NO), (500, "2026-11-04T15:00Z", NO),
    (500, "2026-11-10T15:00Z", YES),
    # An outbound call logged without a prospect.
    (None, "2026-11-10T15:00Z", YES),
)


def test_each_attempt_counts_the_calls_before_the_range_and_ends_at_the_first_connect():
    figures = attempt_figures(TEAM, MAPPING, RANGE_START)
    assert figures.by_attempt == (
        Rate(1, 2),  # 1st: Omar (reached), Lena
        Rate(0, 2),  # 2nd: Priya, Lena
        Rate(1, 2),  # 3rd: Lena, Mei (reached); Priya was reached by her call back
        Rate(0, 1), Rate(0, 1), Rate(0, 1), Rate(0, 1), Rate(0, 1), Rate(0, 1),  # Lena
        Rate(0, 3),  # 10th or later: Lena's 10th, 11th and 12th
    )
    assert figures.follow_ups == 4  # Priya's two after her call back, Omar's, Ravi's
    assert figures.without_prospect == 1
    assert figures.prospects == 4  # Priya, Omar, Lena, Mei: Ravi was reached before


def test_only_the_reps_chosen_count():
    figures = attempt_figures(TEAM, MAPPING, RANGE_START, rep_ids=[ALVA])
    assert figures.by_attempt[0] == Rate(0, 1)  # Omar was Bo's: Lena's 1st is left
    assert figures.follow_ups == 3 and figures.prospects == 3


def test_an_edited_mapping_moves_where_attempts_end():
    # "No answer" counted as connected: every first call reaches, the rest are follow-ups.
    edited = outcome_mapping(DISPOSITIONS, {4: frozenset({"connected"})})
    figures = attempt_figures(TEAM, edited, RANGE_START)
    assert figures.by_attempt[0] == Rate(2, 2)  # Omar, Lena; Priya's and Mei's came before
    assert sum(rate.denominator for rate in figures.by_attempt) == 2


def test_the_table_names_each_attempt_and_marks_few_calls():
    table = attempt_figures(TEAM, MAPPING, RANGE_START).table()
    assert table["label"].tolist() == ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th",
                                       "9th", "10th or later"]
    assert table.loc[2, ["calls", "connected"]].tolist() == [2, 1]
    assert table.loc[2, "pickup_rate"] == 1 / 2
    assert table["few_calls"].all()  # each on fewer than 20 calls
    assert [attempt_label(n) for n in (11, 12, 13, 21, 22, 23)] == [
        "11th", "12th", "13th", "21st", "22nd", "23rd"]


def test_no_calls_is_no_attempts():
    figures = attempt_figures(TEAM.iloc[0:0], MAPPING, RANGE_START)
    assert all(rate == Rate(0, 0) for rate in figures.by_attempt)
    assert (figures.follow_ups, figures.without_prospect, figures.prospects) == (0, 0, 0)
    assert figures.to_dict()["by_attempt"][0] == {"attempt": "1st", "numerator": 0,
                                                  "denominator": 0, "value": None,
                                                  "reliable": False}


def test_the_chart_has_a_bar_per_attempt_in_order_pale_on_few_calls():
    from lib.analytics.charts import attempts_chart
    from tests.test_charts import drawn, spec

    table = attempt_figures(TEAM, MAPPING, RANGE_START).table()
    table.loc[0, ["calls", "connected", "pickup_rate"]] = [40, 10, 0.25]  # one bar of enough
    result = spec(attempts_chart(table))
    assert result["encoding"]["x"]["sort"][:3] == ["1st", "2nd", "3rd"]
    assert result["encoding"]["y"]["scale"]["domain"] == [0, 1]
    rows = {row["label"]: row for row in drawn(result)}
    assert rows["3rd"]["pickup_rate"] == 1 / 2 and rows["10th or later"]["calls"] == 3
    opacity = result["encoding"]["opacity"]
    assert opacity["condition"]["value"] == 1.0 and opacity["value"] < 0.5
    assert f"datum.calls >= {20}" in opacity["condition"]["test"]
