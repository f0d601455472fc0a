"""Callboard's figures on small frames whose expected values are worked out by hand below."""

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from lib.analytics import figures
from lib.analytics.breakdowns import (
    disposition_mix,
    hour_weekday_heatmap,
    pick_frequency,
    volume_over_time,
)
from lib.analytics.exports import csv_safe
from lib.analytics.figures import (
    METRIC_DEFINITIONS,
    Rate,
    compare_periods,
    overview_figures,
    previous_period,
    working_days,
)
from lib.analytics.outcomes import outcome_mapping
from lib.analytics.tables import calls_table, rep_table

BERLIN = "Europe/Berlin"


def make_calls(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (id, created_at UTC ISO, user_id, outbound, disposition_id[, purpose_id]) as a
    calls frame with the documented columns and dtypes."""
    rows = [row if len(row) == 6 else (*row, None) for row in rows]
    ids, created, users, outbound, dispositions, purposes = zip(*rows, strict=True)
    n = len(rows)
    return pd.DataFrame(
        {
            "id": np.array(ids, dtype=np.int64),
            "created_at": pd.to_datetime(list(created), utc=True).astype("datetime64[ns, UTC]"),
            "user_id": pd.array(users, dtype="Int64"),
            "outbound": np.array(outbound, dtype=bool),
            "from_number": [f"+1555000{i:04d}" for i in ids],
            "to_number": [f"+1555999{i:04d}" for i in ids],
            "purpose_id": pd.array(purposes, dtype="Int64"),
            "disposition_id": pd.array(dispositions, dtype="Int64"),
            "prospect_id": pd.array([None] * n, dtype="Int64"),
            "note": [f"note {i}" for i in ids],
        }
    )


DISPOSITIONS = pd.DataFrame(
    {
        "id": np.array([1, 2, 3, 4, 5], dtype=np.int64),
        "name": ["Meeting booked", "Interested", "Not interested", "No answer", "Voicemail"],
        "order": [1, 2, 3, 4, 5],
        "outcome": ["Answered", "Answered", "Answered", "Not Answered", "Not Answered"],
    }
)
USERS = pd.DataFrame(
    {
        "id": np.array([10, 20, 30], dtype=np.int64),
        "first_name": ["Ada", "Bob", "Cy"],
        "last_name": ["Lovelace", "Bell", "Cole"],
        "name": ["Ada Lovelace", "", "Cy Cole"],  # Bob has no display name: first + last is used
        "email": ["ada@example.com", "bob@example.com", "cy@example.com"],
    }
)
PURPOSES = pd.DataFrame(
    {"id": np.array([7], dtype=np.int64), "name": ["Prospecting"], "order": [1]}
)
REPS = [10, 20, 30]  # Cy (30) makes no calls but is in scope
START, END = date(2026, 6, 1), date(2026, 6, 14)  # Mon .. Sun two weeks later: 10 working days

# Ada (10): 4 calls, 3 outbound, 1 connected (call 1), positives: calls 1 and 4, 1 without
# disposition. Bob (20): 4 calls, 3 outbound, 1 connected (call 5; call 6's disposition is
# unknown, so not connected), no positives, 1 without disposition.
CALLS = make_calls(
    [
        (1, "2026-06-01T09:00Z", 10, True, 1),  # Meeting booked: answered, positive
        (2, "2026-06-01T10:00Z", 10, True, 4),  # No answer
        (3, "2026-06-02T09:00Z", 10, True, None),  # no disposition: not connected
        (4, "2026-06-03T15:00Z", 10, False, 2),  # Interested, inbound: positive, not outbound
        (5, "2026-06-08T08:00Z", 20, True, 3),  # Not interested: answered, not positive
        (6, "2026-06-08T09:00Z", 20, True, 99),  # unknown disposition id: not connected
        (7, "2026-06-13T12:00Z", 20, False, None),  # Saturday, inbound, no disposition
        (8, "2026-06-14T23:30Z", 20, True, 5),  # Sunday (UTC), Voicemail
    ]
)


# --- Rate ----------------------------------------------------------------------------------------


def test_rate_value_and_reliability():
    assert Rate(5, 20).value == 0.25
    assert Rate(5, 20).reliable
    assert not Rate(19, 19).reliable
    assert Rate(0, 0).value is None
    assert not Rate(0, 0).reliable
    assert Rate(3, 4).to_dict() == {
        "numerator": 3,
        "denominator": 4,
        "value": 0.75,
        "reliable": False,
    }


def test_rate_reliability_follows_the_threshold(monkeypatch):
    monkeypatch.setattr(figures, "MIN_CALLS_FOR_RATE", 4)
    assert Rate(1, 4).reliable
    assert not Rate(1, 3).reliable


# --- overview ------------------------------------------------------------------------------------


def test_overview_figures():
    figures = overview_figures(CALLS, DISPOSITIONS, REPS, START, END, "UTC")
    assert figures.calls == 8
    assert figures.outbound == 6
    assert figures.inbound == 2
    assert figures.outbound_share == Rate(6, 8)
    assert figures.connect_rate == Rate(2, 6)  # calls 1 and 5
    assert (figures.reps, figures.working_days) == (3, 10)
    assert figures.calls_per_rep_per_day == pytest.approx(8 / 30)
    assert figures.no_disposition == 2  # calls 3 and 7
    assert figures.no_disposition_share == Rate(2, 8)
    assert figures.positive == 2  # calls 1 (Meeting booked) and 4 (Interested)
    assert figures.positive_share == Rate(2, 8)
    # Outbound calls of a connected disposition whose name is no voicemail etc.: 1 and 5.
    assert figures.conversations == 2
    assert figures.conversation_rate == Rate(2, 6)
    assert figures.positive_rate == Rate(1, 2)  # of those two, call 1 (Meeting booked)
    assert figures.meetings == 1  # call 1
    assert figures.bad_numbers == 0


def test_overview_to_dict_is_the_json_the_cli_prints():
    figures = overview_figures(CALLS, DISPOSITIONS, REPS, START, END, "UTC").to_dict()
    assert json.loads(json.dumps(figures)) == figures
    assert figures == {
        "calls": 8,
        "outbound": 6,
        "inbound": 2,
        "outbound_share": {"numerator": 6, "denominator": 8, "value": 0.75, "reliable": False},
        "connect_rate": {"numerator": 2, "denominator": 6, "value": 2 / 6, "reliable": False},
        "calls_per_rep_per_day": {"value": 8 / 30, "reps": 3, "working_days": 10},
        "no_disposition": 2,
        "no_disposition_share": {
            "numerator": 2,
            "denominator": 8,
            "value": 0.25,
            "reliable": False,
        },
        "positive": 2,
        "positive_share": {"numerator": 2, "denominator": 8, "value": 0.25, "reliable": False},
        "conversations": 2,
        "conversation_rate": {"numerator": 2, "denominator": 6, "value": 2 / 6,
                              "reliable": False},
        "positive_rate": {"numerator": 1, "denominator": 2, "value": 0.5, "reliable": False},
        "meetings": 1,
        "bad_numbers": 0,
    }


def test_every_rate_follows_an_edited_mapping():
    # An admin says: No answer (4) connects, Voicemail (5) is a conversation and positive,
    # Not interested (3) is no conversation, and Meeting booked (1) is a bad number.
    mapping = outcome_mapping(DISPOSITIONS, {
        1: {"connected", "conversation", "positive", "meeting", "bad_number"},
        3: {"connected"}, 4: {"connected"}, 5: {"connected", "conversation", "positive"}})
    figures = overview_figures(CALLS, DISPOSITIONS, REPS, START, END, "UTC", mapping)
    # Outbound: 1 (Meeting booked), 2 (No answer), 3 (none), 5 (Not interested), 6 (unknown),
    # 8 (Voicemail). Connected now: 1, 2, 5, 8. Conversations: 1, 8; positive of them: both.
    assert figures.connect_rate == Rate(4, 6)
    assert figures.conversation_rate == Rate(2, 6)
    assert figures.positive_rate == Rate(2, 2)
    assert figures.positive == 3  # 1, 4 (Interested: not edited, so its default) and 8
    assert (figures.meetings, figures.bad_numbers) == (1, 1)
    heat = hour_weekday_heatmap(CALLS, DISPOSITIONS, "UTC", mapping)
    assert heat["connected"].sum() == 4
    table = rep_table(CALLS, DISPOSITIONS, USERS, REPS, START, END, "UTC", mapping)
    assert table.set_index("rep")["connected"].to_dict() == {
        "Ada Lovelace": 2, "Bob Bell": 2, "Cy Cole": 0, "Team": 4}
    assert table.set_index("rep")["positive"].to_dict() == {
        "Ada Lovelace": 2, "Bob Bell": 1, "Cy Cole": 0, "Team": 3}


def test_on_v2_a_conversation_is_a_connect_talked_past_the_threshold():
    talked = {1: 61, 2: 300, 5: 60, 8: 600, 4: 900}  # seconds of talk by call id; others none
    answered = CALLS["created_at"] + pd.Timedelta(seconds=5)
    seconds = CALLS["id"].map(talked)
    v2 = CALLS.assign(
        answered_at=answered.where(seconds.notna()),
        completed_at=(answered + pd.to_timedelta(seconds, unit="s")).where(seconds.notna()))
    figures = overview_figures(v2, DISPOSITIONS, REPS, START, END, "UTC")
    # Outbound and connected: 1 (61 s) and 5 (60 s); 2 and 8 talked but did not connect, 4 is
    # inbound. Of the two, 1 (Meeting booked) is positive.
    assert figures.conversation_rate == Rate(2, 6)
    assert figures.positive_rate == Rate(1, 2)
    stricter = overview_figures(v2, DISPOSITIONS, REPS, START, END, "UTC", conversation_s=61)
    assert stricter.conversation_rate == Rate(1, 6)  # 5 talked 60 s: no longer enough


def test_the_outcome_cards_say_their_counts_and_the_mapping_behind_them():
    from lib.analytics.overview import build_overview, outcome_cards

    built = build_overview(CALLS, CALLS.iloc[:0], USERS, DISPOSITIONS, REPS, START, END, "UTC")
    cards = {card.key: card for card in outcome_cards(built)}
    assert (cards["conversation_rate"].value, cards["conversation_rate"].basis) == (
        "33.3%", "2 of 6 outbound calls · too few calls to judge")
    assert "Conversation: 3 of 5 dispositions (Meeting booked, Interested, Not interested), " \
        "by the default mapping" in cards["conversation_rate"].help
    assert (cards["positive_rate"].value, cards["positive_rate"].basis) == (
        "50.0%", "1 of 2 conversations · too few calls to judge")
    assert "Positive: 2 of 5 dispositions (Meeting booked, Interested)" in \
        cards["positive_rate"].help
    assert (cards["meetings"].value, cards["meetings"].delta) == ("1", "+1")
    assert cards["meetings"].basis == "of 8 calls · 0 bad numbers"
    assert "Meeting booked: 1 of 5 dispositions (Meeting booked)" in cards["meetings"].help


def test_overview_of_no_calls_and_no_working_days():
    figures = overview_figures(
        CALLS.iloc[:0], DISPOSITIONS, [10], date(2026, 6, 13), date(2026, 6, 14), "UTC"
    )
    assert (figures.calls, figures.outbound, figures.inbound) == (0, 0, 0)
    assert figures.outbound_share.value is None
    assert figures.connect_rate.value is None
    assert figures.working_days == 0
    assert figures.calls_per_rep_per_day is None


def test_reps_without_calls_count_and_duplicates_do_not():
    figures = overview_figures(CALLS, DISPOSITIONS, [10, 20, 30, 40, 40], START, END, "UTC")
    assert figures.reps == 4
    assert figures.calls_per_rep_per_day == pytest.approx(8 / 40)


def test_working_days_and_previous_period():
    assert working_days(date(2026, 6, 1), date(2026, 6, 14)) == 10
    assert working_days(date(2026, 6, 13), date(2026, 6, 14)) == 0  # a weekend
    assert working_days(date(2026, 6, 3), date(2026, 6, 3)) == 1
    assert previous_period(date(2026, 6, 8), date(2026, 6, 14)) == (
        date(2026, 6, 1),
        date(2026, 6, 7),
    )
    assert previous_period(date(2026, 3, 1), date(2026, 3, 31)) == (
        date(2026, 1, 29),
        date(2026, 2, 28),
    )
    with pytest.raises(ValueError):
        previous_period(date(2026, 3, 2), date(2026, 3, 1))


def test_compare_periods():
    previous = make_calls(
        [
            (101, "2026-05-18T09:00Z", 10, True, 1),  # connected, positive
            (102, "2026-05-19T09:00Z", 10, True, 4),
            (103, "2026-05-20T09:00Z", 20, True, 4),
            (104, "2026-05-21T09:00Z", 20, True, None),
        ]
    )
    comparison = compare_periods(CALLS, previous, DISPOSITIONS, REPS, START, END, "UTC")
    assert (comparison.previous_start, comparison.previous_end) == (
        date(2026, 5, 18),
        date(2026, 5, 31),
    )
    assert comparison.previous.connect_rate == Rate(1, 4)
    assert comparison.previous.calls_per_rep_per_day == pytest.approx(4 / 30)
    deltas = comparison.deltas
    assert {
        k: deltas[k] for k in ("calls", "outbound", "inbound", "no_disposition", "positive")
    } == {
        "calls": 4,
        "outbound": 2,
        "inbound": 2,
        "no_disposition": 1,
        "positive": 1,
    }
    assert deltas["outbound_share"] == pytest.approx(-25.0)  # 75 % now, 100 % before
    assert deltas["connect_rate"] == pytest.approx(100 / 3 - 25)  # 33.3 % vs 25 %
    assert deltas["no_disposition_share"] == pytest.approx(0.0)  # 2/8 vs 1/4
    assert deltas["positive_share"] == pytest.approx(0.0)
    assert deltas["calls_per_rep_per_day"] == pytest.approx(4 / 30)
    as_dict = comparison.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["previous_range"] == {"start": "2026-05-18", "end": "2026-05-31"}


def test_rate_delta_is_none_when_a_side_has_no_value():
    comparison = compare_periods(CALLS, CALLS.iloc[:0], DISPOSITIONS, REPS, START, END, "UTC")
    assert comparison.deltas["connect_rate"] is None
    assert comparison.deltas["calls"] == 8


def test_every_overview_figure_has_a_definition():
    for name in (
        "calls",
        "outbound",
        "inbound",
        "outbound_share",
        "connect_rate",
        "calls_per_rep_per_day",
        "no_disposition",
        "positive",
    ):
        assert METRIC_DEFINITIONS[name].endswith(".")


# --- volume --------------------------------------------------------------------------------------


def test_pick_frequency():
    assert pick_frequency(date(2026, 1, 1), date(2026, 3, 3)) == "D"  # 62 days
    assert pick_frequency(date(2026, 1, 1), date(2026, 3, 4)) == "W"  # 63 days
    assert pick_frequency(date(2026, 1, 1), date(2026, 1, 1)) == "D"


def test_daily_volume_by_local_day_across_spring_dst_change():
    # Berlin is UTC+1 until 2026-03-29 02:00, then UTC+2.
    calls = make_calls(
        [
            (1, "2026-03-27T22:59Z", 10, True, None),  # 23:59 on the 27th: before the range
            (2, "2026-03-27T23:30Z", 10, True, None),  # 00:30 on the 28th
            (3, "2026-03-28T22:59Z", 10, False, None),  # 23:59 on the 28th
            (4, "2026-03-28T23:30Z", 10, True, None),  # 00:30 on the 29th (UTC says 28th)
            (5, "2026-03-29T21:30Z", 10, True, None),  # 23:30 CEST on the 29th
            (6, "2026-03-29T22:30Z", 10, False, None),  # 00:30 CEST on the 30th (UTC: 29th)
        ]
    )
    volume = volume_over_time(calls, BERLIN, date(2026, 3, 28), date(2026, 3, 31))
    assert volume["period"].tolist() == [
        pd.Timestamp("2026-03-28"),
        pd.Timestamp("2026-03-29"),
        pd.Timestamp("2026-03-30"),
        pd.Timestamp("2026-03-31"),
    ]
    assert volume["outbound"].tolist() == [1, 2, 0, 0]
    assert volume["inbound"].tolist() == [1, 0, 1, 0]
    assert volume["total"].tolist() == [2, 2, 1, 0]
    assert volume["outbound_ratio"].tolist()[:3] == [0.5, 1.0, 0.0]
    assert math.isnan(volume["outbound_ratio"].iloc[3])
    assert volume["days"].tolist() == [1, 1, 1, 1]


def test_daily_volume_across_autumn_dst_change():
    # Berlin goes back from UTC+2 to UTC+1 at 2026-10-25 03:00 local (01:00 UTC).
    calls = make_calls(
        [
            (1, "2026-10-24T21:30Z", 10, True, None),  # 23:30 CEST on the 24th
            (2, "2026-10-24T22:30Z", 10, True, None),  # 00:30 CEST on the 25th
            (3, "2026-10-25T22:30Z", 10, True, None),  # 23:30 CET on the 25th
            (4, "2026-10-25T23:30Z", 10, True, None),  # 00:30 CET on the 26th
        ]
    )
    volume = volume_over_time(calls, BERLIN, date(2026, 10, 24), date(2026, 10, 26))
    assert volume["total"].tolist() == [1, 2, 1]


def test_weekly_volume_starts_weeks_on_monday_and_keeps_empty_weeks():
    calls = make_calls(
        [
            (1, "2026-06-02T12:00Z", 10, True, None),  # Tuesday before the range: ignored
            (2, "2026-06-03T12:00Z", 10, True, None),  # Wednesday, week of Jun 1
            (3, "2026-06-07T23:30Z", 10, False, None),  # Sunday, week of Jun 1
            (4, "2026-06-16T12:00Z", 10, True, None),  # week of Jun 15
            (5, "2026-06-24T12:00Z", 10, True, None),  # after the range: ignored
        ]
    )
    volume = volume_over_time(calls, "UTC", date(2026, 6, 3), date(2026, 6, 23), freq="W")
    assert volume["period"].dt.date.tolist() == [
        date(2026, 6, 1),
        date(2026, 6, 8),
        date(2026, 6, 15),
        date(2026, 6, 22),
    ]
    assert volume["period_end"].dt.date.tolist() == [
        date(2026, 6, 7),
        date(2026, 6, 14),
        date(2026, 6, 21),
        date(2026, 6, 23),
    ]
    assert volume["days"].tolist() == [5, 7, 7, 2]  # Jun 3-7, full, full, Jun 22-23
    assert volume["outbound"].tolist() == [1, 0, 1, 0]
    assert volume["inbound"].tolist() == [1, 0, 0, 0]
    assert volume["total"].tolist() == [2, 0, 1, 0]


def test_weekly_volume_in_local_time():
    # Sunday 2026-06-07 22:30 UTC is Monday 00:30 in Berlin: the next week.
    calls = make_calls([(1, "2026-06-07T22:30Z", 10, True, None)])
    volume = volume_over_time(calls, BERLIN, date(2026, 6, 1), date(2026, 6, 14), freq="W")
    assert volume["total"].tolist() == [0, 1]


# --- disposition mix -----------------------------------------------------------------------------


def test_disposition_mix():
    mix = disposition_mix(CALLS, DISPOSITIONS)
    assert mix.columns.tolist() == ["disposition_id", "disposition", "outcome", "count", "share"]
    assert mix["disposition"].tolist() == [
        "No disposition",  # 2 calls; the rest have 1 each, in the lookup's order
        "Meeting booked",
        "Interested",
        "Not interested",
        "No answer",
        "Voicemail",
        "Unknown disposition 99",
    ]
    assert mix["outcome"].tolist() == [
        "No disposition",
        "Answered",
        "Answered",
        "Answered",
        "Not Answered",
        "Not Answered",
        "Unknown",
    ]
    assert mix["count"].tolist() == [2, 1, 1, 1, 1, 1, 1]
    assert mix["share"].tolist() == [0.25] + [0.125] * 6
    assert mix["disposition_id"].isna().tolist() == [True] + [False] * 6
    assert mix["disposition_id"].iloc[1:].tolist() == [1, 2, 3, 4, 5, 99]


def test_disposition_mix_of_no_calls_is_empty():
    mix = disposition_mix(CALLS.iloc[:0], DISPOSITIONS)
    assert mix.empty
    assert "share" in mix.columns


# --- heatmap -------------------------------------------------------------------------------------


def test_heatmap_uses_local_hours_across_dst_changes():
    calls = make_calls(
        [
            (1, "2026-03-29T00:30Z", 10, True, 1),  # Sunday 01:30 CET, connected
            (2, "2026-03-29T01:30Z", 10, True, 4),  # Sunday 03:30 CEST (02:xx does not exist)
            (3, "2026-10-25T00:30Z", 10, True, 1),  # Sunday 02:30 CEST, connected
            (4, "2026-10-25T01:30Z", 10, True, None),  # Sunday 02:30 CET (the hour repeats)
            (5, "2026-06-01T06:15Z", 10, False, 1),  # Monday 08:15 CEST, inbound
        ]
    )
    heatmap = hour_weekday_heatmap(calls, DISPOSITIONS, BERLIN)
    assert len(heatmap) == 7 * 24
    assert heatmap[["weekday", "hour"]].iloc[0].tolist() == [0, 0]
    cells = heatmap.set_index(["weekday_name", "hour"])
    assert cells.loc[("Sun", 1), ["calls", "outbound", "connected"]].tolist() == [1, 1, 1]
    assert cells.loc[("Sun", 2), ["calls", "outbound", "connected"]].tolist() == [2, 2, 1]
    assert cells.loc[("Sun", 2), "connect_rate"] == 0.5
    assert cells.loc[("Sun", 3), ["calls", "connected"]].tolist() == [1, 0]
    assert cells.loc[("Mon", 8), ["calls", "outbound", "connected"]].tolist() == [1, 0, 0]
    assert math.isnan(cells.loc[("Mon", 8), "connect_rate"])  # no outbound calls
    assert heatmap["calls"].sum() == 5
    assert cells.loc[("Sun", 6), "weekday"] == 6
    assert not heatmap["reliable"].any()


@pytest.mark.parametrize(("tz", "created", "local"), [
    # New York's autumn change (06:00Z, 02:00 EDT -> 01:00 EST): 01:30 twice, an hour apart.
    ("America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T01:30:00"),
    ("America/New_York", "2026-11-01T05:59:59.999999Z", "2026-11-01T01:59:59.999999"),
    ("America/New_York", "2026-11-01T06:00:00Z", "2026-11-01T01:00:00"),
    ("America/New_York", "2026-11-01T06:30:00Z", "2026-11-01T01:30:00"),
    # A quarter-hour zone with no DST (+05:45), and one whose DST moves by half an hour.
    ("Asia/Kathmandu", "2026-06-01T18:14:59Z", "2026-06-01T23:59:59"),
    ("Asia/Kathmandu", "2026-06-01T18:15:00Z", "2026-06-02T00:00:00"),
    ("Australia/Lord_Howe", "2026-04-04T14:59:00Z", "2026-04-05T01:59:00"),  # +11:00 until...
    ("Australia/Lord_Howe", "2026-04-04T15:00:00Z", "2026-04-05T01:30:00"),  # ...+10:30
    # Before 1972 Liberia kept -00:44:30: a change of offset off the quarter-hour grid.
    ("Africa/Monrovia", "1972-01-07T00:44:29Z", "1972-01-06T23:59:59"),
    ("Africa/Monrovia", "1972-01-07T00:44:30Z", "1972-01-07T00:44:30"),
])
def test_local_clock_is_the_zones_wall_clock_at_every_kind_of_change(tz, created, local):
    from lib.analytics.calls import local_clock

    # Calls hours either side too, so the span has a grid and the change falls inside it.
    times = [created, "1971-12-01T00:00Z", "2026-01-01T00:00Z", "2026-12-31T00:00Z"]
    calls = pd.DataFrame({"created_at": pd.to_datetime(times, utc=True, format="ISO8601")
                          .as_unit("ns")})
    clock = local_clock(calls, tz).view("datetime64[ns]")
    assert clock[0] == np.datetime64(local)
    # In creation order too (as the store gives calls), which takes another path.
    ordered = calls.sort_values("created_at", ignore_index=True)
    at = int(np.flatnonzero(ordered["created_at"] == calls["created_at"][0])[0])
    assert local_clock(ordered, tz).view("datetime64[ns]")[at] == np.datetime64(local)


# --- rep table -----------------------------------------------------------------------------------


def test_rep_table():
    table = rep_table(CALLS, DISPOSITIONS, USERS, REPS, START, END, "UTC")
    assert table["rep"].tolist() == ["Ada Lovelace", "Bob Bell", "Cy Cole", "Team"]
    assert table["rep_id"].tolist()[:3] == [10, 20, 30]
    assert table["rep_id"].isna().tolist() == [False, False, False, True]
    assert table["calls"].tolist() == [4, 4, 0, 8]
    assert table["outbound"].tolist() == [3, 3, 0, 6]
    assert table["connected"].tolist() == [1, 1, 0, 2]
    assert table["positive"].tolist() == [2, 0, 0, 2]
    assert table["no_disposition"].tolist() == [1, 1, 0, 2]
    assert table["outbound_share"].tolist()[:2] == [0.75, 0.75]
    assert table["connect_rate"].tolist()[:2] == pytest.approx([1 / 3, 1 / 3])
    assert math.isnan(table["connect_rate"].iloc[2])
    assert table["calls_per_day"].tolist() == pytest.approx([0.4, 0.4, 0.0, 8 / 30])
    assert table["daily_calls"].iloc[0] == [2, 1, 1] + [0] * 11
    assert table["daily_calls"].iloc[1] == [0] * 7 + [2, 0, 0, 0, 0, 1, 1]
    assert table["daily_calls"].iloc[2] == [0] * 14
    assert table["daily_calls"].iloc[3] == [2, 1, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 1]
    assert table["few_calls"].all()
    assert table["is_team"].tolist() == [False, False, False, True]


def test_rep_table_team_row_equals_the_overview():
    table = rep_table(CALLS, DISPOSITIONS, USERS, REPS, START, END, "UTC")
    team = table[table["is_team"]].iloc[0]
    figures = overview_figures(CALLS, DISPOSITIONS, REPS, START, END, "UTC")
    assert team["calls"] == figures.calls
    assert team["outbound"] == figures.outbound
    assert team["connected"] == figures.connect_rate.numerator
    assert team["connect_rate"] == figures.connect_rate.value
    assert team["outbound_share"] == figures.outbound_share.value
    assert team["positive"] == figures.positive
    assert team["no_disposition"] == figures.no_disposition
    assert team["calls_per_day"] == figures.calls_per_rep_per_day


def test_rep_table_daily_calls_are_local_days():
    # Call 8 is Sunday 2026-06-14 23:30 UTC: Monday 15th in Berlin, outside the range.
    table = rep_table(CALLS, DISPOSITIONS, USERS, [20], START, END, BERLIN)
    assert table["daily_calls"].iloc[0] == [0] * 7 + [2, 0, 0, 0, 0, 1, 0]


def test_rep_table_puts_calls_of_reps_out_of_scope_in_other_users():
    calls = pd.concat(
        [
            CALLS,
            make_calls(
                [(9, "2026-06-02T09:00Z", 99, True, 1), (10, "2026-06-02T10:00Z", None, True, 4)]
            ),
        ],
        ignore_index=True,
    )
    table = rep_table(calls, DISPOSITIONS, USERS, [10, 20], START, END, "UTC")
    assert table["rep"].tolist() == ["Ada Lovelace", "Bob Bell", "Other users", "Team"]
    assert table["calls"].tolist() == [4, 4, 2, 10]
    assert table["connected"].tolist() == [1, 1, 1, 3]
    assert math.isnan(table["calls_per_day"].iloc[2])
    assert table["calls_per_day"].iloc[3] == pytest.approx(10 / 20)


def test_rep_table_names_unknown_reps_and_sorts_busiest_first():
    calls = make_calls([(1, "2026-06-02T09:00Z", 30, True, 1)])
    table = rep_table(calls, DISPOSITIONS, USERS, [10, 30, 77], START, END, "UTC")
    assert table["rep"].tolist() == ["Cy Cole", "Ada Lovelace", "User 77", "Team"]


# --- calls table ---------------------------------------------------------------------------------


def test_calls_table():
    calls = make_calls(
        [
            (1, "2026-03-28T23:30Z", 10, True, 1, 7),
            (2, "2026-03-29T10:00Z", 20, False, None, None),
            (3, "2026-03-29T10:00Z", 77, True, 99, 8),  # same time as 2: higher id first
            (4, "2026-03-29T09:00Z", None, True, 4, None),
        ]
    )
    table = calls_table(calls, USERS, DISPOSITIONS, PURPOSES, BERLIN)
    assert table.columns.tolist() == [
        "time",
        "rep",
        "direction",
        "from",
        "to",
        "purpose",
        "disposition",
        "note",
        "id",
    ]
    assert table["id"].tolist() == [3, 2, 4, 1]
    assert table["time"].tolist() == [
        pd.Timestamp("2026-03-29T12:00", tz=BERLIN),
        pd.Timestamp("2026-03-29T12:00", tz=BERLIN),
        pd.Timestamp("2026-03-29T11:00", tz=BERLIN),
        pd.Timestamp("2026-03-29T00:30", tz=BERLIN),
    ]
    assert str(table["time"].dt.tz) == BERLIN
    assert table["rep"].tolist() == ["User 77", "Bob Bell", "", "Ada Lovelace"]
    assert table["direction"].tolist() == ["Outbound", "Inbound", "Outbound", "Outbound"]
    assert table["purpose"].tolist() == ["Purpose 8", "", "", "Prospecting"]
    assert table["disposition"].tolist() == [
        "Unknown disposition 99",
        "No disposition",
        "No answer",
        "Meeting booked",
    ]
    assert table["from"].tolist() == [
        "+15550000003",
        "+15550000002",
        "+15550000004",
        "+15550000001",
    ]
    assert table["note"].tolist() == ["note 3", "note 2", "note 4", "note 1"]


# --- CSV safety ----------------------------------------------------------------------------------


def test_csv_safe_quotes_formula_text_and_leaves_numbers():
    risky = ["=SUM(A1)", "+A1", "-A1+1", "@cmd", "\tx", "\rx", "-2+3", "+1 650 555",
             "\uff1dSUM(A1)", "\uff0bA1", "\uff0dA1", "\uff20cmd"]
    harmless = ["+15551234567", "-2", "-3.5", "+.5", "1e3", "plain", "", "a=b", " =x"]
    frame = pd.DataFrame(
        {
            "text": risky + harmless,
            "number": range(-1, len(risky + harmless) - 1),
            "real": [-1.5] * len(risky + harmless),
            "flag": [True] * len(risky + harmless),
        }
    )
    safe = csv_safe(frame)
    assert safe["text"].tolist() == ["'" + text for text in risky] + harmless
    pd.testing.assert_series_equal(safe["number"], frame["number"])
    pd.testing.assert_series_equal(safe["real"], frame["real"])
    pd.testing.assert_series_equal(safe["flag"], frame["flag"])
    assert frame["text"].iloc[0] == "=SUM(A1)"  # the input is left alone


def test_csv_safe_handles_missing_values_mixed_objects_categories_and_headers():
    frame = pd.DataFrame(
        {
            "mixed": pd.Series(["=1", 5, None], dtype=object),
            "only_numbers": pd.Series([1, 2, 3], dtype=object),
            "category": pd.Categorical(["-x", "y", "-x"]),
            "=header": ["a", None, "@b"],
        }
    )
    safe = csv_safe(frame)
    assert safe.columns.tolist() == ["mixed", "only_numbers", "category", "'=header"]
    assert safe["mixed"].tolist() == ["'=1", 5, None]
    assert safe["only_numbers"].tolist() == [1, 2, 3]
    assert safe["category"].tolist() == ["'-x", "y", "'-x"]
    assert safe["'=header"].iloc[2] == "'@b"
    assert pd.isna(safe["'=header"].iloc[1])


def test_csv_safe_of_a_calls_table():
    table = calls_table(CALLS, USERS, DISPOSITIONS, PURPOSES, "UTC")
    safe = csv_safe(table)
    assert table["from"].str.match(r"\+1555\d{7}$").all()
    assert safe["from"].equals(table["from"])  # E.164 numbers are plain numbers: intact
    assert safe["time"].equals(table["time"])
    assert safe["id"].equals(table["id"])


# --- empty input ---------------------------------------------------------------------------------


def test_empty_calls_give_zero_filled_frames():
    empty = CALLS.iloc[:0]
    volume = volume_over_time(empty, BERLIN, START, END)
    assert len(volume) == 14
    assert volume["total"].sum() == 0
    assert hour_weekday_heatmap(empty, DISPOSITIONS, BERLIN)["calls"].sum() == 0
    table = rep_table(empty, DISPOSITIONS, USERS, [10], START, END, BERLIN)
    assert table["rep"].tolist() == ["Ada Lovelace", "Team"]
    assert table["calls"].tolist() == [0, 0]
    assert calls_table(empty, USERS, DISPOSITIONS, PURPOSES, BERLIN).empty


def test_display_names_fall_back_from_name_to_first_last_to_email_to_id():
    from lib.analytics.labels import display_names

    users = pd.DataFrame({
        "id": [1, 2, 3, 4],
        "name": ["Dana Whitfield", "", None, ""],
        "first_name": ["", "Ann", "", ""],
        "last_name": ["", "Lee", "", ""],
        "email": ["", "", "x@example.com", ""],
    })
    assert display_names(users) == {1: "Dana Whitfield", 2: "Ann Lee", 3: "x@example.com",
                                    4: "User 4"}
