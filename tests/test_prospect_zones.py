"""The heat map in the prospect's own zone (lib.analytics.prospect_zones), against expectations
worked out by hand on a small named data set: four cities across the 2026 summer-time changes,
numbers of several zones and of none, an inbound call, calls without a number."""

from __future__ import annotations

import pandas as pd
import pytest

from lib.analytics import prospect_zones
from lib.analytics.charts import heatmap_chart
from lib.analytics.outcomes import outcome_mapping
from lib.analytics.prospect_zones import AMBIGUOUS, prospect_zone_heatmap, zone_of_number
from lib.frames import CALL_COLUMNS, CALL_DTYPES

DISPOSITIONS = pd.DataFrame({
    "id": [1, 2, 3],
    "name": ["Meeting booked", "No answer", "Left voicemail"],
    "outcome": ["Answered", "Not Answered", "Not Answered"],
})
MAPPING = outcome_mapping(DISPOSITIONS)  # connected: disposition 1 only (outcome Answered)
MEETING, NO_ANSWER, VOICEMAIL = 1, 2, 3
REP_LINE = "+12125550100"  # the rep's own line: the "to" of an inbound call, never counted

# (name, created UTC, outbound, from, to, disposition, rep). The local hour each lands in is
# worked out by hand in the comment: the US changed to summer time on Sun 8 March 2026, Europe
# on Sun 29 March, so the same UTC hour is another local hour a week apart.
FOUR_CITIES = [
    # New York, EST (UTC-5) then EDT (UTC-4): 14:30Z is 09:30, then 10:30.
    ("ny_before", "2026-03-02T14:30:00Z", True, REP_LINE, "+12125550111", MEETING, 1),
    ("ny_after", "2026-03-09T14:30:00Z", True, REP_LINE, "+12125550123", NO_ANSWER, 1),
    # Los Angeles, PST (UTC-8) then PDT (UTC-7): 17:15Z is 09:15, then 10:15. One number twice.
    ("la_before", "2026-03-02T17:15:00Z", True, REP_LINE, "+12135550100", MEETING, 2),
    ("la_after", "2026-03-09T17:15:00Z", True, REP_LINE, "+12135550100", VOICEMAIL, 2),
    # London, GMT (UTC+0) all month: 09:30Z is 09:30 on Monday 9 March.
    ("london", "2026-03-09T09:30:00Z", True, REP_LINE, "+442079460123", MEETING, 1),
    # Berlin, CET (UTC+1) then CEST (UTC+2): 08:45Z is 09:45 on Tue 3 March, 10:45 on Mon 30.
    ("berlin_before", "2026-03-03T08:45:00Z", True, REP_LINE, "+493012345678", NO_ANSWER, 2),
    ("berlin_after", "2026-03-30T08:45:00Z", True, REP_LINE, "+493012345678", MEETING, 2),
    # Inbound from London to the rep's New York line: the caller's zone counts, 13:05 London
    # (New York's would be 08:05). Connected by its disposition, but a rate counts outbound only.
    ("london_inbound", "2026-03-03T13:05:00Z", False, "+442079460999", REP_LINE, MEETING, 1),
    # Several zones: a US toll-free number (twice) and a Russian mobile.
    ("toll_free", "2026-03-04T15:00:00Z", True, REP_LINE, "+18005550100", MEETING, 1),
    ("toll_free_again", "2026-03-05T15:00:00Z", True, REP_LINE, "+18005550100", NO_ANSWER, 1),
    ("russia", "2026-03-04T09:00:00Z", True, REP_LINE, "+79123456789", NO_ANSWER, 2),
    # No known zone: area code 555 is unassigned; a number typed without its "+".
    ("unassigned", "2026-03-04T16:00:00Z", True, REP_LINE, "+15555550100", NO_ANSWER, 1),
    ("no_plus", "2026-03-04T16:30:00Z", True, REP_LINE, "12125550100", MEETING, 1),
    # No number: an outbound call without "to", an inbound one without "from".
    ("no_to", "2026-03-04T17:00:00Z", True, REP_LINE, "", NO_ANSWER, 2),
    ("no_from", "2026-03-04T17:30:00Z", False, "", REP_LINE, MEETING, 2),
]


def calls_frame(rows: list[tuple]) -> pd.DataFrame:
    """A calls frame (lib.frames' columns and dtypes) of (name, created, outbound, from, to,
    disposition, rep) rows."""
    frame = pd.DataFrame({
        "id": range(1, len(rows) + 1),
        "created_at": pd.to_datetime([row[1] for row in rows], utc=True),
        "user_id": [row[6] for row in rows],
        "outbound": [row[2] for row in rows],
        "from_number": [row[3] for row in rows],
        "to_number": [row[4] for row in rows],
        "purpose_id": [None] * len(rows),
        "disposition_id": [row[5] for row in rows],
        "prospect_id": [None] * len(rows),
        "note": [""] * len(rows),
    }, columns=list(CALL_COLUMNS))
    return frame.astype(CALL_DTYPES).sort_values(["created_at", "id"]).reset_index(drop=True)


CALLS = calls_frame(FOUR_CITIES)


def nonzero_cells(frame: pd.DataFrame) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(day, hour) -> (calls, outbound, connected) of the cells with calls."""
    shown = frame[frame["calls"] > 0]
    return {(row.weekday_name, row.hour): (row.calls, row.outbound, row.connected)
            for row in shown.itertuples(index=False)}


@pytest.mark.parametrize(("number", "zone"), [
    ("+12125550100", "America/New_York"),
    ("+12135550100", "America/Los_Angeles"),
    ("+442079460123", "Europe/London"),
    ("+493012345678", "Europe/Berlin"),
    (" +493012345678 ", "Europe/Berlin"),
    ("+18005550100", AMBIGUOUS),  # toll-free: the whole North American plan
    ("+79123456789", AMBIGUOUS),  # a Russian mobile: eleven time zones
    ("+15555550100", None),  # area code 555 is not assigned
    ("+447700900123", None),  # Ofcom's range for drama: no real line, no zone
    ("12125550100", None),  # no "+": not read as any country's
    ("not a number", None),
    ("", None),
    (None, None),
])
def test_a_number_has_the_zone_of_its_country_and_area(number, zone):
    assert zone_of_number(number) == zone


def test_each_call_lands_in_its_prospects_local_hour_across_the_summer_time_changes():
    heat = prospect_zone_heatmap(CALLS, MAPPING)
    assert nonzero_cells(heat.cells) == {
        # ny_before 09:30, la_before 09:15, london 09:30: all three connected.
        ("Mon", 9): (3, 3, 3),
        # ny_after 10:30 (no answer), la_after 10:15 (voicemail), berlin_after 10:45 (meeting).
        ("Mon", 10): (3, 3, 1),
        ("Tue", 9): (1, 1, 0),  # berlin_before 09:45, no answer
        ("Tue", 13): (1, 0, 0),  # london_inbound 13:05: a call, not an outbound one
    }
    assert len(heat.cells) == 168
    mon_9 = heat.cells[(heat.cells["weekday"] == 0) & (heat.cells["hour"] == 9)].iloc[0]
    assert mon_9["connect_rate"] == 1.0 and not mon_9["reliable"]
    tue_13 = heat.cells[(heat.cells["weekday"] == 1) & (heat.cells["hour"] == 13)].iloc[0]
    assert pd.isna(tue_13["connect_rate"])  # no outbound call: no rate


def test_numbers_of_several_zones_of_none_and_calls_without_one_are_counted_apart():
    heat = prospect_zone_heatmap(CALLS, MAPPING)
    assert heat.calls == 15
    assert heat.counted == 8
    assert (heat.several_zones.calls, heat.several_zones.numbers) == (3, 2)
    assert (heat.no_zone.calls, heat.no_zone.numbers) == (2, 2)
    assert heat.no_number == 2
    assert heat.zones == (("America/Los_Angeles", 2), ("America/New_York", 2),
                          ("Europe/Berlin", 2), ("Europe/London", 2))
    assert heat.caption() == (
        "Hours in each prospect's own zone, from the number called (the caller's on an inbound "
        "call): 8 of 15 calls, in 4 zones. Left out: 3 calls to 2 numbers in several zones "
        "(such as toll-free numbers); 2 calls to 2 numbers with no known zone; 2 calls with no "
        "number."
    )


def test_only_ambiguous_numbers_leave_an_empty_grid_and_say_so():
    calls = calls_frame([row for row in FOUR_CITIES if row[0] in ("toll_free", "russia")])
    heat = prospect_zone_heatmap(calls, MAPPING)
    assert nonzero_cells(heat.cells) == {}
    assert (heat.calls, heat.counted, heat.several_zones.calls) == (2, 0, 2)
    assert heat.caption() == (
        "Hours in each prospect's own zone, from the number called (the caller's on an inbound "
        "call): 0 of 2 calls, in 0 zones. Left out: 2 calls to 2 numbers in several zones "
        "(such as toll-free numbers)."
    )


def test_the_summary_holds_every_cell_with_calls_its_counts_and_the_guard():
    summary = prospect_zone_heatmap(CALLS, MAPPING).to_dict()
    assert summary["definition"] == prospect_zones.DEFINITION
    assert (summary["calls"], summary["counted"]) == (15, 8)
    assert summary["zones"] == {"America/Los_Angeles": 2, "America/New_York": 2,
                                "Europe/Berlin": 2, "Europe/London": 2}
    assert summary["left_out"] == {"several_zones": {"calls": 3, "numbers": 2},
                                   "no_zone": {"calls": 2, "numbers": 2},
                                   "no_number": {"calls": 2}}
    assert summary["cells"] == [
        {"weekday": 0, "day": "Mon", "hour": 9, "calls": 3, "connect_rate": {
            "numerator": 3, "denominator": 3, "value": 1.0, "reliable": False}},
        {"weekday": 0, "day": "Mon", "hour": 10, "calls": 3, "connect_rate": {
            "numerator": 1, "denominator": 3, "value": 1 / 3, "reliable": False}},
        {"weekday": 1, "day": "Tue", "hour": 9, "calls": 1, "connect_rate": {
            "numerator": 0, "denominator": 1, "value": 0.0, "reliable": False}},
        {"weekday": 1, "day": "Tue", "hour": 13, "calls": 1, "connect_rate": {
            "numerator": 0, "denominator": 0, "value": None, "reliable": False}},
    ]


def test_a_rate_on_twenty_outbound_calls_is_reliable_and_on_nineteen_is_not():
    # Wed 4 March 2026: 20 calls at 15:00-15:19Z to New York (10:00-10:19 EST), 7 of them
    # connected; 19 calls at 08:00-08:18Z to Berlin (09:00-09:18 CET), none connected.
    rows = [(f"ny{i}", f"2026-03-04T15:{i:02d}:00Z", True, REP_LINE, "+12125550111",
             MEETING if i < 7 else NO_ANSWER, 1) for i in range(20)]
    rows += [(f"de{i}", f"2026-03-04T08:{i:02d}:00Z", True, REP_LINE, "+493012345678",
              NO_ANSWER, 1) for i in range(19)]
    cells = {(c["day"], c["hour"]): c["connect_rate"]
             for c in prospect_zone_heatmap(calls_frame(rows), MAPPING).to_dict()["cells"]}
    assert cells == {
        ("Wed", 10): {"numerator": 7, "denominator": 20, "value": 0.35, "reliable": True},
        ("Wed", 9): {"numerator": 0, "denominator": 19, "value": 0.0, "reliable": False},
    }


def test_only_the_chosen_reps_calls_are_counted():
    heat = prospect_zone_heatmap(CALLS, MAPPING, rep_ids=[2])
    # Rep 2: la_before, la_after, berlin_before, berlin_after, russia, no_to, no_from.
    assert nonzero_cells(heat.cells) == {("Mon", 9): (1, 1, 1), ("Mon", 10): (2, 2, 1),
                                         ("Tue", 9): (1, 1, 0)}
    assert (heat.calls, heat.several_zones.calls, heat.no_zone.calls, heat.no_number) == (
        7, 1, 0, 2)


def test_a_connect_follows_the_outcome_mapping():
    # An admin maps "Left voicemail" as connected: la_after's Mon 10:00 cell gains a connect.
    edited = outcome_mapping(DISPOSITIONS, {VOICEMAIL: {"connected"}})
    cells = nonzero_cells(prospect_zone_heatmap(CALLS, edited).cells)
    assert cells[("Mon", 10)] == (3, 3, 2)


def test_each_distinct_number_is_looked_up_once(monkeypatch):
    looked_up: list[str] = []
    real = prospect_zones.phone_zones.time_zones_for_number

    def counting(number):
        looked_up.append(f"+{number.country_code}{number.national_number}")
        return real(number)

    monkeypatch.setattr(prospect_zones.phone_zones, "time_zones_for_number", counting)
    prospect_zones.zone_of_number.cache_clear()
    rows = [(f"c{i}", f"2026-03-0{2 + i % 3}T15:{i % 60:02d}:00Z", True, REP_LINE,
             ("+12125550111", "+12135550100", "+493012345678")[i % 3], NO_ANSWER, 1)
            for i in range(600)]
    heat = prospect_zone_heatmap(calls_frame(rows), MAPPING)
    assert heat.counted == 600
    assert sorted(looked_up) == ["+12125550111", "+12135550100", "+493012345678"]
    prospect_zone_heatmap(calls_frame(rows), MAPPING)  # a second read: remembered
    assert len(looked_up) == 3
    prospect_zones.zone_of_number.cache_clear()


def test_no_calls_give_an_empty_grid_and_zero_counts():
    heat = prospect_zone_heatmap(CALLS.iloc[:0], MAPPING)
    assert len(heat.cells) == 168 and heat.counted == 0 and heat.calls == 0
    assert heat.caption().endswith("0 of 0 calls, in 0 zones. No call left out.")


def test_the_chart_draws_the_cells_with_hours_in_the_prospects_time():
    heat = prospect_zone_heatmap(CALLS, MAPPING)
    spec = heatmap_chart(heat.cells, "connect_rate",
                         hour_title="Hour (prospect's local time)").to_dict()
    assert spec["encoding"]["x"]["title"] == "Hour (prospect's local time)"
    assert heatmap_chart(heat.cells).to_dict()["encoding"]["x"]["title"] == "Hour (local time)"
