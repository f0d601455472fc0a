"""The overview's cards, chart selection and CSV, on small hand-made data."""

from __future__ import annotations

import csv
import io
from datetime import date

import pandas as pd

from lib.analytics.exports import calls_csv
from lib.analytics.figures import OverviewFigures, PeriodComparison, Rate
from lib.analytics.outcomes import outcome_mapping
from lib.analytics.overview import metric_cards, selected_dispositions


def figures(calls: int, outbound: int, connected: int, no_disposition: int) -> OverviewFigures:
    return OverviewFigures(
        calls=calls, outbound=outbound, inbound=calls - outbound,
        outbound_share=Rate(outbound, calls), connect_rate=Rate(connected, outbound),
        calls_per_rep_per_day=calls / 20 if calls else None, reps=2, working_days=10,
        no_disposition=no_disposition, no_disposition_share=Rate(no_disposition, calls),
        positive=0, positive_share=Rate(0, calls), conversations=connected // 2,
        conversation_rate=Rate(connected // 2, outbound), positive_rate=Rate(0, connected // 2),
        meetings=0, bad_numbers=0,
    )


def comparison(current: OverviewFigures, previous: OverviewFigures) -> PeriodComparison:
    return PeriodComparison(current, previous, date(2026, 10, 1), date(2026, 10, 14))


def test_cards_show_values_changes_and_the_counts_behind_rates():
    dispositions = pd.DataFrame({"id": [1, 2], "name": ["Talked", "No answer"],
                                 "outcome": ["Answered", "Not Answered"]})
    cards = {c.key: c for c in metric_cards(comparison(figures(200, 150, 60, 10),
                                                        figures(180, 120, 30, 12)),
                                            outcome_mapping(dispositions))}
    assert cards["calls"].value == "200"
    assert cards["calls"].delta == "+20"
    assert cards["calls"].compared_with == "vs 01 Oct – 14 Oct"
    assert cards["calls"].basis == "150 outbound · 50 inbound"
    assert cards["outbound_share"].value == "75.0%"
    assert cards["outbound_share"].delta.startswith("+8.3 pp")  # 75.0% - 66.7%
    assert cards["connect_rate"].value == "40.0%"
    assert cards["connect_rate"].delta.startswith("+15.0 pp")  # 40% - 25%
    assert cards["connect_rate"].basis == "60 of 150 outbound calls"
    assert cards["calls_per_rep_per_day"].value == "10.0"
    assert cards["calls_per_rep_per_day"].basis == "200 calls / (2 reps × 10 working days)"
    assert cards["no_disposition"].value == "10"
    assert cards["no_disposition"].delta_color == "inverse"  # more missing dispositions is worse
    assert cards["no_disposition"].basis == "5.0% of 200 calls"
    assert not any(card.few_calls for card in cards.values())
    # The mapping behind the rate, named on it.
    assert "Connected: 1 of 2 dispositions (Talked), by the default mapping (its outcome in " \
        "Outreach is Answered)." in cards["connect_rate"].help


def test_a_rate_on_few_calls_is_marked_and_an_empty_period_has_no_rate():
    cards = {c.key: c for c in metric_cards(comparison(figures(5, 3, 1, 0),
                                                        figures(0, 0, 0, 0)))}
    assert cards["connect_rate"].few_calls
    assert cards["connect_rate"].basis == "1 of 3 outbound calls · too few calls to judge"
    assert "fewer than 20" in cards["connect_rate"].help
    assert cards["connect_rate"].delta is None  # nothing to compare with
    assert cards["calls"].delta == "+5"

    empty = {c.key: c for c in metric_cards(comparison(figures(0, 0, 0, 0),
                                                        figures(0, 0, 0, 0)))}
    assert empty["outbound_share"].value == "–"
    assert empty["calls_per_rep_per_day"].value == "–"


def test_selected_dispositions_reads_streamlits_selection_state():
    event = {"selection": {"disposition": [{"disposition": "Voicemail"},
                                           {"disposition": "No disposition"}]}}
    assert selected_dispositions(event) == ["Voicemail", "No disposition"]
    assert selected_dispositions({"selection": {"disposition": []}}) == []
    assert selected_dispositions({"selection": {}}) == []
    assert selected_dispositions(None) == []


def test_calls_csv_is_exactly_the_table_with_zoned_times_and_no_formulas():
    table = pd.DataFrame({
        "time": pd.to_datetime(["2026-03-29T01:30:00Z", "2026-03-29T00:30:00Z"], utc=True)
        .tz_convert("Europe/Berlin"),
        "rep": ["Ann Lee", "=HYPERLINK(\"http://x\")"],
        "note": ["@SUM(A1)", "fine"],
        "id": [2, 1],
    })
    rows = list(csv.DictReader(io.StringIO(calls_csv(table))))
    assert [r["id"] for r in rows] == ["2", "1"]
    assert rows[0]["time"] == "2026-03-29T03:30:00+02:00"  # after the DST change
    assert rows[1]["time"] == "2026-03-29T01:30:00+01:00"
    assert rows[1]["rep"].startswith("'=")
    assert rows[0]["note"] == "'@SUM(A1)"
    assert rows[0]["rep"] == "Ann Lee"


def test_the_calls_caption_counts_a_picked_disposition_by_its_own_name():
    from lib.analytics.overview import Overview, calls_caption, disposition_ids_named
    from lib.display.markdown import escape

    # 30 calls: 12 "Left VM - no answer" (id 7), 3 without a disposition, 15 "Booked" (id 2).
    mix = pd.DataFrame({"disposition_id": pd.array([2, 7, None], dtype="Int64"),
                        "disposition": ["Booked", "Left VM - no answer", "No disposition"],
                        "outcome": ["Answered", "Not Answered", "No disposition"],
                        "count": [15, 12, 3], "share": [0.5, 0.4, 0.1]})
    current = figures(30, 20, 5, 3)
    view = Overview(comparison(current, current), mapping=outcome_mapping(pd.DataFrame()),
                    conversation_s=60.0, timed=False, volume=pd.DataFrame(), frequency="D",
                    mix=mix, heatmap=pd.DataFrame(), reps=pd.DataFrame())
    picked = ["Left VM - no answer", "No disposition"]
    assert disposition_ids_named(mix, picked) == [7, None]
    # The table holds 10 of the 15 picked calls: it says which, and by the names as shown.
    assert calls_caption(view, 10, picked, quote=escape) == (
        "The newest 10 of 15 calls (30 in all) · `python -m lib.cli export` writes every one"
        " · disposition: Left VM \\- no answer, No disposition (click the bar again to show all)")
    assert calls_caption(view, 15, picked).startswith("15 of 30 calls · disposition: Left VM -")
    assert calls_caption(view, 30, []) == "30 of 30 calls"
    assert calls_caption(view, 20, []).startswith("The newest 20 of 30 calls · ")
