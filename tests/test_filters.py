"""Date presets, the bounds of a range, and the URL round trip of the dashboard's filters, with
what happens to anything a link can hold."""

from datetime import UTC, date, datetime, timedelta

import pytest

from lib.analytics import figures
from lib.display.filters import (
    DATES,
    DAYS_AHEAD,
    DEFAULT_PRESET,
    FIRST_DAY,
    MAX_RANGE_DAYS,
    PRESETS,
    REPS,
    ZONE,
    DashboardFilters,
    Note,
    bound_range,
    describe_days,
    last_day,
    preset_range,
    read_link,
    time_zones,
    today_in,
)


def filters_from_query(query, **options) -> DashboardFilters:
    return read_link(query, **options).filters

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


# ----- what a link can hold ---------------------------------------------------------------------

KNOWN = [1, 2, 3, 5]
LAST_30 = (date(2026, 10, 28), date(2026, 11, 26))  # the default range at THURSDAY_NOON


def read(query: dict[str, str], default_tz: str = "Europe/Berlin"):
    return read_link(query, default_tz=default_tz, known_rep_ids=KNOWN, now=THURSDAY_NOON)


def notes_about(reading, about: str) -> list[str]:
    return [note.text for note in reading.notes if note.about == about]


def test_a_good_link_has_no_notes():
    reading = read({"tz": "America/New_York", "range": "Custom", "start": "2026-11-01",
                    "end": "2026-11-30", "reps": "3,5"})
    assert reading.notes == ()
    assert reading.filters.to_query() == {"tz": "America/New_York", "range": "Custom",
                                          "start": "2026-11-01", "end": "2026-11-30",
                                          "reps": "3,5"}


def test_an_empty_link_is_the_default_view_without_notes():
    reading = read({"tz": "", "range": "", "start": "", "end": "", "reps": ""})
    assert reading.notes == ()
    assert (reading.filters.preset, reading.filters.tz, reading.filters.rep_ids) == (
        DEFAULT_PRESET, "Europe/Berlin", None)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "<b>x</b>", "../../etc/passwd", "EST",
                                "Europe/Berlin\n===", "x" * 5000])
def test_an_unknown_zone_falls_back_to_the_default_with_a_note(tz):
    reading = read({"tz": tz})
    assert reading.filters.tz == "Europe/Berlin"
    [note] = notes_about(reading, ZONE)
    assert note.startswith("The link's time zone “")
    assert note.endswith("is not one Callboard knows, so times are in Europe/Berlin, the "
                         "organisation's zone.")
    assert "\n" not in note and len(note) < 200  # quoted on one line, cut short


def test_the_default_zone_is_accepted_even_when_it_is_not_a_place():
    assert read({"tz": "EST"}, default_tz="EST").notes == ()
    assert "UTC" in time_zones() and "Europe/Berlin" in time_zones() and "EST" not in time_zones()


@pytest.mark.parametrize(("start", "end", "problem"), [
    ("2026-02-30", "2026-03-05", "its start “2026-02-30” is not a date"),
    ("2026-11-01", "soon", "its end “soon” is not a date"),
    ("", "2026-11-05", "it has no start date"),
    ("2026-11-01", "", "it has no end date"),
    ("<img src=x>", "**b**", "its start “<img src=x>” is not a date and its end “**b**” is not"),
    ("2026-11-01" + "0" * 100, "2026-11-02", "its start “2026-11-010000"),
])
def test_impossible_or_missing_custom_days_fall_back_to_the_default_range(start, end, problem):
    reading = read({"range": "Custom", "start": start, "end": end})
    assert (reading.filters.preset, reading.filters.start, reading.filters.end) == (
        DEFAULT_PRESET, *LAST_30)
    [note] = notes_about(reading, DATES)
    assert note.startswith("The link asks for custom dates, but ")
    assert problem in note
    assert note.endswith("(dates are written YYYY-MM-DD, e.g. 2026-11-26), so it shows the "
                         "last 30 days.")


def test_days_without_a_range_name_are_a_custom_range():
    reading = read({"start": "2026-11-01", "end": "2026-11-05"})
    assert (reading.filters.preset, reading.filters.start, reading.filters.end) == (
        "Custom", date(2026, 11, 1), date(2026, 11, 5))
    assert reading.notes == ()


def test_a_start_after_the_end_is_swapped_and_said():
    reading = read({"range": "Custom", "start": "2026-11-30", "end": "2026-11-01"})
    assert (reading.filters.start, reading.filters.end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert notes_about(reading, DATES) == [
        "The link's start date comes after its end date, so the two were swapped: "
        "01 Nov – 30 Nov 2026 (30 days)."]


@pytest.mark.parametrize("preset", ["Forever", "<b>Today</b>", "today", ":red[Today]"])
def test_an_unknown_range_name_is_the_default_range_with_a_note(preset):
    reading = read({"range": preset, "start": "2026-11-01", "end": "2026-11-02"})
    assert (reading.filters.preset, reading.filters.start, reading.filters.end) == (
        DEFAULT_PRESET, *LAST_30)
    [note] = notes_about(reading, DATES)
    assert note.startswith("The link's date range “") and "is not one Callboard offers" in note


@pytest.mark.parametrize(("start", "end"), [
    ("0001-01-01", "0001-01-03"), ("9999-12-30", "9999-12-31"), ("1999-01-01", "1999-12-31"),
])
def test_days_outside_what_callboard_shows_fall_back_to_the_default_range(start, end):
    reading = read({"range": "Custom", "start": start, "end": end})
    assert (reading.filters.preset, reading.filters.start, reading.filters.end) == (
        DEFAULT_PRESET, *LAST_30)
    [note] = notes_about(reading, DATES)
    assert note == (f"The link's dates, {start} to {end}, are outside the days Callboard shows "
                    f"(01 Jan 2000 to 27 Nov 2027), so it shows the last 30 days.")
    figures.previous_period(reading.filters.start, reading.filters.end)  # and that is safe


def test_a_ten_year_link_is_cut_to_the_latest_year_up_to_today():
    reading = read({"range": "Custom", "start": "2020-01-01", "end": "2029-12-31"})
    today = date(2026, 11, 26)
    assert (reading.filters.start, reading.filters.end) == (today - timedelta(days=365), today)
    assert (reading.filters.end - reading.filters.start).days + 1 == MAX_RANGE_DAYS
    [note] = notes_about(reading, DATES)
    assert note == (
        "The dates asked for, 01 Jan 2020 – 31 Dec 2029 (3,653 days), were cut to "
        "26 Nov 2025 – 26 Nov 2026 (366 days): the dashboard shows no day more than 366 days "
        "after today and at most 366 days at a time. Pick other dates in the sidebar to see "
        "the rest.")


def test_the_whole_calendar_is_cut_to_the_year_up_to_today():
    reading = read({"range": "Custom", "start": "0001-01-01", "end": "9999-12-31"})
    today = date(2026, 11, 26)
    assert (reading.filters.start, reading.filters.end) == (today - timedelta(days=365), today)
    assert "no day before 01 Jan 2000 and no day more than 366 days after today and at most" \
        in notes_about(reading, DATES)[0]


def test_a_long_past_range_keeps_its_last_days():
    start, end, note = bound_range(date(2015, 1, 1), date(2018, 12, 31), date(2026, 11, 26))
    assert (start, end) == (date(2017, 12, 31), date(2018, 12, 31))
    assert "01 Jan 2015 – 31 Dec 2018 (1,461 days), were cut to 31 Dec 2017 – 31 Dec 2018 " \
        "(366 days): the dashboard shows at most 366 days at a time." in note


def test_a_long_range_from_recently_into_the_future_keeps_its_first_year():
    # It starts less than a year before today: its first 366 days hold today and the past.
    start, end, _ = bound_range(date(2026, 6, 1), date(2027, 11, 1), date(2026, 11, 26))
    assert (start, end) == (date(2026, 6, 1), date(2027, 6, 1))


@pytest.mark.parametrize(("start", "end"), [
    (FIRST_DAY, FIRST_DAY + timedelta(days=MAX_RANGE_DAYS - 1)),
    (last_day(date(2026, 11, 26)) - timedelta(days=MAX_RANGE_DAYS - 1),
     last_day(date(2026, 11, 26))),
    (date(2026, 11, 26), date(2026, 11, 26)),
])
def test_ranges_within_the_bounds_are_left_alone(start, end):
    assert bound_range(start, end, date(2026, 11, 26)) == (start, end, None)
    assert last_day(date(2026, 11, 26)) == date(2026, 11, 26) + timedelta(days=DAYS_AHEAD)


def test_a_range_one_day_too_long_loses_its_first_day():
    start, end, note = bound_range(date(2025, 11, 25), date(2026, 11, 26), date(2026, 11, 26))
    assert (start, end) == (date(2025, 11, 26), date(2026, 11, 26)) and note


@pytest.mark.parametrize(("reps", "kept", "shown"), [
    ("-1", None, "“-1”"),
    ("99999999999999999999", None, "“99999999999999999999”"),
    ("0", None, "“0”"),
    ("4", None, "“4”"),  # digits, but no rep of the organisation
    ("3,-1,x,<b>5</b>", (3,), "“-1”, “x”, “<b>5</b>”"),
    ("3,4,6,7,8", (3,), "“4”, “6”, “7”, …"),
    ("+5, 3", (3,), "“+5”"),
    ("٣", None, "“٣”"),  # a digit, but not an ASCII one
])
def test_rep_ids_must_be_known_reps_and_what_is_dropped_is_named(reps, kept, shown):
    reading = read({"reps": reps})
    assert reading.filters.rep_ids == kept
    [note] = notes_about(reading, REPS)
    assert f"Callboard does not know ({shown}: rep ids are the numbers of the organisation's " \
           "Outreach users)" in note
    assert note.endswith("so it shows every rep." if kept is None else "so it shows the others.")


def test_rep_ids_keep_the_links_order_once_each_and_ignore_empty_parts():
    reading = read({"reps": " 5, 3,,5 ,"})
    assert reading.filters.rep_ids == (5, 3)
    assert reading.notes == ()


def test_markup_in_every_parameter_is_only_ever_quoted_in_a_note():
    markup = "<img src=x>**b**"
    reading = read({"tz": markup, "range": markup, "start": markup, "end": markup,
                    "reps": markup})
    assert reading.filters == read({}).filters  # the default view, whatever the markup
    assert {note.about for note in reading.notes} == {ZONE, DATES, REPS}
    # The notes are plain text (the frame escapes them): the markup is there only as a quote.
    assert all(f"“{markup}”" in note.text for note in reading.notes)


def test_notes_are_shown_on_pages_using_their_filter_while_it_is_as_the_link_set_it():
    reading = read({"tz": "Mars/Olympus", "reps": "-1"})
    assert [note.about for note in reading.notes] == [ZONE, REPS]
    view = reading.filters
    assert len(reading.notes_for(view, (REPS, ZONE, DATES))) == 2
    assert reading.notes_for(view, (ZONE,)) == [reading.notes[0].text]
    assert reading.notes_for(view, ()) == []
    moved = DashboardFilters(rep_ids=(3,), preset=view.preset, start=view.start, end=view.end,
                             tz="UTC")
    assert reading.notes_for(moved, (REPS, ZONE, DATES)) == []
    assert Note(ZONE, "x") == Note(ZONE, "x")


def test_a_page_link_holds_only_the_filters_the_page_uses():
    view = read({"range": "Custom", "start": "2026-11-01", "end": "2026-11-02", "reps": "3",
                 "tz": "UTC"}).filters
    assert view.to_query((ZONE,)) == {"tz": "UTC"}
    assert view.to_query(()) == {}
    assert view.to_query((DATES,)) == {"range": "Custom", "start": "2026-11-01",
                                       "end": "2026-11-02"}


def test_days_are_described_with_the_year_where_it_changes():
    assert describe_days(date(2026, 11, 26), date(2026, 11, 26)) == "Thu 26 Nov 2026"
    assert describe_days(date(2026, 11, 1), date(2026, 11, 30)) == "01 Nov – 30 Nov 2026 (30 days)"
    assert describe_days(date(2025, 12, 1), date(2026, 1, 31)) == (
        "01 Dec 2025 – 31 Jan 2026 (62 days)")
    assert describe_days(date(1, 1, 1), date(1, 1, 3)) == "01 Jan – 03 Jan 0001 (3 days)"


# ----- the previous period ----------------------------------------------------------------------


def test_the_previous_period_never_overflows():
    assert figures.previous_period(date(1, 1, 2), date(1, 1, 2)) == (date(1, 1, 1), date(1, 1, 1))
    for start, end in ((date.min, date.min), (date(1, 1, 2), date(1, 1, 3))):
        with pytest.raises(ValueError, match="No period of"):
            figures.previous_period(start, end)
    assert figures.previous_period(date.max, date.max) == (
        date.max - timedelta(days=1), date.max - timedelta(days=1))


def test_every_range_the_filters_allow_has_a_previous_period():
    longest = (FIRST_DAY, FIRST_DAY + timedelta(days=MAX_RANGE_DAYS - 1))
    assert figures.previous_period(*longest)[0] == FIRST_DAY - timedelta(days=MAX_RANGE_DAYS)
