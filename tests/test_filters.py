"""Date presets and the URL round trip of the dashboard's filters."""

from datetime import UTC, date, datetime

import pytest

from lib.filters import PRESETS, DashboardFilters, filters_from_query, preset_range, today_in

THURSDAY = date(2026, 11, 26)


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
    assert filters_from_query(query, default_tz="UTC", known_rep_ids=[1, 3, 5]) == view


def test_presets_stay_relative_in_links():
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    view = filters_from_query({"range": "Yesterday"}, default_tz="UTC", known_rep_ids=[], now=now)
    assert (view.start, view.end, view.rep_ids) == (date(2026, 11, 25), date(2026, 11, 25), None)
    assert view.to_query() == {"tz": "UTC", "range": "Yesterday"}


def test_bad_values_fall_back_to_defaults():
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    view = filters_from_query(
        {"tz": "Mars/Olympus", "range": "Custom", "start": "yesterday", "reps": "x,99,3"},
        default_tz="Europe/Berlin", known_rep_ids=[3, 4], now=now,
    )
    assert view.tz == "Europe/Berlin"
    assert view.preset == "Last 30 days"
    assert (view.start, view.end) == (date(2026, 10, 28), date(2026, 11, 26))
    assert view.rep_ids == (3,)


def test_reversed_custom_days_are_swapped():
    view = filters_from_query(
        {"range": "Custom", "start": "2026-11-30", "end": "2026-11-01"},
        default_tz="UTC", known_rep_ids=[],
    )
    assert (view.start, view.end) == (date(2026, 11, 1), date(2026, 11, 30))
