"""Date presets and the URL round trip of the dashboard's filters."""

from datetime import UTC, date, datetime

import pytest

from lib.display.filters import (
    PRESETS,
    DashboardFilters,
    filters_from_query,
    preset_range,
    today_in,
)

THURSDAY = date(2026, 11, 26)
THURSDAY_NOON = datetime(2026, 11, 26, 12, tzinfo=UTC)
# Ten minutes into 2027 in UTC (and Berlin), still New Year's Eve, a Thursday, in Los Angeles.
NEW_YEAR = datetime(2027, 1, 1, 0, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("Today", (date(2026, 11, 26), date(2026, 11, 26))),
        ("Yesterday", (date(2026, 11, 25), date(2026, 11, 25))),
        ("This week", (date(2026, 11, 23), date(2026, 11, 26))),
        ("Last 7 days", (date(2026, 11, 20), date(2026, 11, 26))),
        ("Last 30 days", (date(2026, 10, 28), date(2026, 11, 26))),
        ("This month", (date(2026, 11, 1), date(2026, 11, 26))),
        ("Last month", (date(2026, 10, 1), date(2026, 10, 31))),
        ("This quarter", (date(2026, 10, 1), date(2026, 11, 26))),
    ],
)
def test_presets(preset, expected):
    assert preset_range(preset, THURSDAY) == expected


def test_last_month_in_january_is_december():
    assert preset_range("Last month", date(2027, 1, 15)) == (date(2026, 12, 1), date(2026, 12, 31))


def test_custom_has_no_range_of_its_own():
    with pytest.raises(ValueError):
        preset_range("Custom", THURSDAY)
    assert "Custom" in PRESETS


def test_today_depends_on_the_zone():
    now = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    assert today_in("UTC", now) == date(2026, 11, 26)
    assert today_in("Europe/Berlin", now) == date(2026, 11, 27)
    assert today_in("America/Los_Angeles", now) == date(2026, 11, 26)


def test_round_trip_of_a_custom_view():
    view = DashboardFilters(
        rep_ids=(3, 5), preset="Custom", start=date(2026, 11, 1), end=date(2026, 11, 30),
        tz="Europe/Berlin",
    )
    query = view.to_query()
    assert query == {
        "tz": "Europe/Berlin", "range": "Custom", "start": "2026-11-01", "end": "2026-11-30",
        "reps": "3,5",
    }
    assert filters_from_query(query, default_tz="UTC", known_rep_ids=[1, 3, 5],
                              now=THURSDAY_NOON) == view


def test_presets_stay_relative_in_links():
    view = filters_from_query({"range": "Yesterday"}, default_tz="UTC", known_rep_ids=[],
                              now=THURSDAY_NOON)
    assert (view.start, view.end, view.rep_ids) == (date(2026, 11, 25), date(2026, 11, 25), None)
    assert view.to_query() == {"tz": "UTC", "range": "Yesterday"}


def test_bad_values_fall_back_to_defaults():
    view = filters_from_query(
        {"tz": "Mars/Olympus", "range": "Custom", "start": "yesterday", "reps": "x,99,3"},
        default_tz="Europe/Berlin", known_rep_ids=[3, 4], now=THURSDAY_NOON,
    )
    assert view.tz == "Europe/Berlin"
    assert view.preset == "Last 30 days"
    assert (view.start, view.end) == (date(2026, 10, 28), date(2026, 11, 26))
    assert view.rep_ids == (3,)


def test_reversed_custom_days_are_swapped():
    view = filters_from_query(
        {"range": "Custom", "start": "2026-11-30", "end": "2026-11-01"},
        default_tz="UTC", known_rep_ids=[], now=THURSDAY_NOON,
    )
    assert (view.start, view.end) == (date(2026, 11, 1), date(2026, 11, 30))


def test_today_at_new_year_depends_on_the_zone():
    assert today_in("America/Los_Angeles", NEW_YEAR) == date(2026, 12, 31)
    assert today_in("UTC", NEW_YEAR) == date(2027, 1, 1)
    assert today_in("Europe/Berlin", NEW_YEAR) == date(2027, 1, 1)


@pytest.mark.parametrize(
    ("tz", "preset", "expected"),
    [
        # 16:10 on Thursday 31 December 2026 in Los Angeles: the old year's presets.
        ("America/Los_Angeles", "Today", (date(2026, 12, 31), date(2026, 12, 31))),
        ("America/Los_Angeles", "Yesterday", (date(2026, 12, 30), date(2026, 12, 30))),
        ("America/Los_Angeles", "This week", (date(2026, 12, 28), date(2026, 12, 31))),
        ("America/Los_Angeles", "Last 7 days", (date(2026, 12, 25), date(2026, 12, 31))),
        ("America/Los_Angeles", "Last 30 days", (date(2026, 12, 2), date(2026, 12, 31))),
        ("America/Los_Angeles", "This month", (date(2026, 12, 1), date(2026, 12, 31))),
        ("America/Los_Angeles", "Last month", (date(2026, 11, 1), date(2026, 11, 30))),
        ("America/Los_Angeles", "This quarter", (date(2026, 10, 1), date(2026, 12, 31))),
        # 00:10 on Friday 1 January 2027 in UTC: the new year's.
        ("UTC", "Today", (date(2027, 1, 1), date(2027, 1, 1))),
        ("UTC", "Yesterday", (date(2026, 12, 31), date(2026, 12, 31))),
        ("UTC", "This week", (date(2026, 12, 28), date(2027, 1, 1))),
        ("UTC", "This month", (date(2027, 1, 1), date(2027, 1, 1))),
        ("UTC", "Last month", (date(2026, 12, 1), date(2026, 12, 31))),
        ("UTC", "This quarter", (date(2027, 1, 1), date(2027, 1, 1))),
    ],
)
def test_presets_count_from_the_given_now_across_the_year_boundary(tz, preset, expected):
    view = filters_from_query({"tz": tz, "range": preset}, default_tz="UTC", known_rep_ids=[],
                              now=NEW_YEAR)
    assert (view.tz, view.preset) == (tz, preset)
    assert (view.start, view.end) == expected
