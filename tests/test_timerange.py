"""Local days to UTC bounds across DST, and the API's widened minute filters."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from lib.analytics.timerange import utc_bounds
from lib.outreach.windows import format_api_time, widen_window


def test_plain_utc_day():
    assert utc_bounds(date(2026, 11, 2), date(2026, 11, 2), "UTC") == (
        datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))


def test_berlin_spring_forward_day_is_23_hours():
    start, end = utc_bounds(date(2026, 3, 29), date(2026, 3, 29), "Europe/Berlin")
    assert start == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 22, tzinfo=UTC)
    assert end - start == timedelta(hours=23)


def test_berlin_fall_back_day_is_25_hours():
    start, end = utc_bounds(date(2026, 10, 25), date(2026, 10, 25), "Europe/Berlin")
    assert start == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert end == datetime(2026, 10, 25, 23, tzinfo=UTC)
    assert end - start == timedelta(hours=25)


def test_range_over_several_days_and_bounds_are_aware_utc():
    start, end = utc_bounds(date(2026, 3, 1), date(2026, 3, 31), "America/New_York")
    assert start == datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert end == datetime(2026, 4, 1, 4, tzinfo=UTC)  # DST began on March 8
    assert start.tzinfo is UTC and end.tzinfo is UTC


def test_zone_whose_midnight_does_not_exist():
    # Havana springs forward at 00:00 -> 01:00: the day starts at 01:00 local (05:00 UTC).
    start, end = utc_bounds(date(2026, 3, 8), date(2026, 3, 8), "America/Havana")
    assert start == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert end - start == timedelta(hours=23)


def test_end_before_start_is_rejected():
    with pytest.raises(ValueError, match="before the start"):
        utc_bounds(date(2026, 3, 2), date(2026, 3, 1), "UTC")


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../etc/passwd"])
def test_unknown_zone_is_rejected(tz):
    with pytest.raises(ValueError, match="Unknown time zone"):
        utc_bounds(date(2026, 3, 1), date(2026, 3, 1), tz)


def test_format_api_time_is_utc_minutes():
    berlin = timezone(timedelta(hours=2))
    assert format_api_time(datetime(2026, 3, 29, 0, 30, 59, tzinfo=berlin)) == "2026-03-28T22:30"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_api_time(datetime(2026, 3, 29))


def test_widen_window_floors_ceils_and_adds_margin():
    after = datetime(2026, 3, 1, 10, 15, 30, tzinfo=UTC)
    before = datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=UTC)
    wide_after, wide_before = widen_window(after, before, timedelta(minutes=1))
    assert wide_after == datetime(2026, 3, 1, 10, 14, tzinfo=UTC)
    assert wide_before == datetime(2026, 3, 1, 12, 2, tzinfo=UTC)
    exact = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert widen_window(exact, exact, timedelta(0)) == (exact, exact)
    assert widen_window(None, None) == (None, None)
    with pytest.raises(ValueError):
        widen_window(after, before, timedelta(minutes=-1))
