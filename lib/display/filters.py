"""The dashboard's shared filters: date presets, their bounds, and their round trip through the
page URL, which may hold anything (a link is typed, shared, cut short or crafted)."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from lib.display.typed_ids import typed_id

PRESETS = (
    "Today",
    "Yesterday",
    "This week",
    "Last 7 days",
    "Last 30 days",
    "This month",
    "Last month",
    "This quarter",
    "Custom",
)
DEFAULT_PRESET = "Last 30 days"

# The longest range the dashboard shows at once. Each range costs one API query per UTC day and
# rep scope on v2, twice (the range and the one before it, for the comparison): a year (a leap
# year's 366 days) is a manager's longest question, and bounds what one link can ask for.
MAX_RANGE_DAYS = 366
# The days a range may cover: none before FIRST_DAY (older than any Outreach call), none more
# than DAYS_AHEAD after today (a quarter or a year planned ahead is a fair link to share).
FIRST_DAY = date(2000, 1, 1)
DAYS_AHEAD = 366

# The filters, as pages name the ones they use (lib/ui/frame.py), and their URL parameters.
REPS, ZONE, DATES = "reps", "tz", "dates"
ALL_FILTERS = (REPS, ZONE, DATES)
_QUOTED = 40  # characters of a link's value quoted in a note, at most


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """First and last day (both included) of a preset, relative to `today`; weeks start Monday."""
    if preset == "Today":
        return today, today
    if preset == "Yesterday":
        day = today - timedelta(days=1)
        return day, day
    if preset == "This week":
        return today - timedelta(days=today.weekday()), today
    if preset == "Last 7 days":
        return today - timedelta(days=6), today
    if preset == "Last 30 days":
        return today - timedelta(days=29), today
    if preset == "This month":
        return today.replace(day=1), today
    if preset == "Last month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if preset == "This quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        return today.replace(month=first_month, day=1), today
    raise ValueError(f"Unknown date preset {preset!r}.")


def today_in(tz: str, now: datetime) -> date:
    """The calendar day it is at `now` (Callboard's clock, lib.clock) in `tz`."""
    return now.astimezone(ZoneInfo(tz)).date()


@dataclass(frozen=True)
class DashboardFilters:
    """What every dashboard page shows: reps (None means all), local days, and a time zone."""

    rep_ids: tuple[int, ...] | None
    preset: str
    start: date
    end: date
    tz: str

    def to_query(self, uses: Collection[str] = ALL_FILTERS) -> dict[str, str]:
        """The URL query parameters that reopen this view (only those of the filters in `uses`);
        presets stay relative to today."""
        query = {}
        if ZONE in uses:
            query["tz"] = self.tz
        if DATES in uses:
            query["range"] = self.preset
            if self.preset == "Custom":
                query.update(start=self.start.isoformat(), end=self.end.isoformat())
        if REPS in uses and self.rep_ids is not None:
            query["reps"] = ",".join(str(rep) for rep in self.rep_ids)
        return query

    def value_of(self, name: str) -> object:
        """What the filter `name` (REPS, ZONE or DATES) is set to, to compare two views by."""
        return {REPS: self.rep_ids, ZONE: self.tz,
                DATES: (self.preset, self.start, self.end)}[name]


@dataclass(frozen=True)
class Note:
    """A sentence saying what was changed in a filter and why (plain text, not Markdown)."""

    about: str  # REPS, ZONE or DATES
    text: str


@dataclass(frozen=True)
class LinkReading:
    """The filters a link asks for, made valid, with a note for everything that was changed."""

    filters: DashboardFilters
    notes: tuple[Note, ...] = ()

    def notes_for(self, current: DashboardFilters, uses: Collection[str]) -> list[str]:
        """The notes a page using the filters `uses` shows: about those filters, and only while
        they are still as the link set them (a note about a value since changed is old news)."""
        return [note.text for note in self.notes if note.about in uses
                and current.value_of(note.about) == self.filters.value_of(note.about)]


@functools.cache
def time_zones() -> frozenset[str]:
    """The zones the sidebar offers: the IANA names of places ("Europe/Berlin") and UTC."""
    return frozenset(zone for zone in available_timezones() if "/" in zone or zone == "UTC")


def last_day(today: date) -> date:
    """The last day a range may end on."""
    return today + timedelta(days=DAYS_AHEAD)


def describe_days(start: date, end: date) -> str:
    """A range as people read it: "Thu 26 Nov 2026", or "01 Nov – 30 Nov 2026 (30 days)"."""
    if start == end:
        return f"{start:%a} {_day_text(start)}"
    first = _day_text(start) if start.year != end.year else f"{start:%d %b}"
    return f"{first} – {_day_text(end)} ({(end - start).days + 1:,} days)"


def _day_text(day: date) -> str:
    return f"{day:%d %b} {day.year:04d}"  # strftime's %Y drops the zeros of year 1


def bound_range(start: date, end: date, today: date) -> tuple[date, date, str | None]:
    """`start..end` (start <= end) within FIRST_DAY..last_day(today) and at most MAX_RANGE_DAYS
    long, with a sentence saying what was cut, or None when nothing was.

    A range too long keeps its latest MAX_RANGE_DAYS days that end no later than today when it
    runs past today (the days with calls), else its last ones: what a manager asking for "the
    last three years" most likely looks for, and a click away from the rest.
    """
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    asked = describe_days(start, end)
    cut = []
    if start < FIRST_DAY:
        start = FIRST_DAY
        cut.append(f"no day before {_day_text(FIRST_DAY)}")
    if end > last_day(today):
        end = last_day(today)
        cut.append(f"no day more than {DAYS_AHEAD} days after today")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        span = timedelta(days=MAX_RANGE_DAYS - 1)
        end = min(end, max(today, start + span))
        start = end - span
        cut.append(f"at most {MAX_RANGE_DAYS} days at a time")
    if not cut:
        return start, end, None
    return start, end, (f"The dates asked for, {asked}, were cut to {describe_days(start, end)}: "
                        f"the dashboard shows {' and '.join(cut)}. Pick other dates in the "
                        "sidebar to see the rest.")


def read_link(
    query: Mapping[str, str],
    *,
    default_tz: str,
    known_rep_ids: Sequence[int],
    now: datetime,
) -> LinkReading:
    """The filters a page URL's parameters (tz, range, start, end, reps) ask for, and a note
    for each value that was missing its pair, impossible, unknown or out of bounds and so was
    replaced (by the default), cut (to the bounds) or dropped. Presets count from the day it is
    at `now` in the chosen zone. Never raises: a shared link must open a page, not an error.
    """
    notes: list[Note] = []
    tz = query.get("tz") or default_tz
    if tz != default_tz and tz not in time_zones():
        notes.append(Note(ZONE, f"The link's time zone {_quote(tz)} is not one Callboard knows, "
                                f"so times are in {default_tz}, the organisation's zone."))
        tz = default_tz
    today = today_in(tz, now)
    preset, start, end, dates_note = _link_days(query, today)
    if dates_note:
        notes.append(Note(DATES, dates_note))
    rep_ids, reps_note = _link_reps(query.get("reps") or "", known_rep_ids)
    if reps_note:
        notes.append(Note(REPS, reps_note))
    filters = DashboardFilters(rep_ids=rep_ids, preset=preset, start=start, end=end, tz=tz)
    return LinkReading(filters, tuple(notes))


def _link_days(query: Mapping[str, str], today: date) -> tuple[str, date, date, str | None]:
    """(preset, start, end, note) for the link's range, start and end."""
    raw_start, raw_end = query.get("start") or "", query.get("end") or ""
    # Days without a range name are a custom range: what someone typing a link means.
    preset = query.get("range") or ("Custom" if raw_start or raw_end else DEFAULT_PRESET)
    instead = f"so it shows the {DEFAULT_PRESET.lower()}"
    if preset not in PRESETS:
        return _default(today, f"The link's date range {_quote(preset)} is not one Callboard "
                               f"offers, {instead}.")
    if preset != "Custom":
        return (preset, *preset_range(preset, today), None)
    start, end = _day(raw_start), _day(raw_end)
    if start is None or end is None:
        problems = [f"its {name} {_quote(raw)} is not a date" if raw else f"it has no {name} date"
                    for name, raw, day in (("start", raw_start, start), ("end", raw_end, end))
                    if day is None]
        return _default(today, f"The link asks for custom dates, but {' and '.join(problems)} "
                               f"(dates are written YYYY-MM-DD, e.g. {today.isoformat()}), "
                               f"{instead}.")
    swapped = None
    if end < start:
        start, end = end, start
        swapped = (f"The link's start date comes after its end date, so the two were swapped: "
                   f"{describe_days(start, end)}.")
    if end < FIRST_DAY or start > last_day(today):
        return _default(today, f"The link's dates, {raw_start} to {raw_end}, are outside the "
                               f"days Callboard shows ({_day_text(FIRST_DAY)} to "
                               f"{_day_text(last_day(today))}), {instead}.")
    start, end, cut = bound_range(start, end, today)
    note = " ".join(part for part in (swapped, cut) if part) or None
    return "Custom", start, end, note


def _default(today: date, note: str) -> tuple[str, date, date, str]:
    return (DEFAULT_PRESET, *preset_range(DEFAULT_PRESET, today), note)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if len(text) <= 10 else None
    except ValueError:
        return None


def _link_reps(
    text: str, known_rep_ids: Sequence[int]
) -> tuple[tuple[int, ...] | None, str | None]:
    """The link's reps (ids of known reps, in the link's order, once each; None: all reps)
    and a note naming what was dropped: ids that are not digits, not from 1 up, or not a rep."""
    known = set(known_rep_ids)
    chosen: list[int] = []
    dropped: list[str] = []
    for part in (piece.strip() for piece in text.split(",")):
        rep = typed_id(part)
        if isinstance(rep, int) and rep in known:
            if rep not in chosen:
                chosen.append(rep)
        elif part:
            dropped.append(part)
    if not dropped:
        return tuple(chosen) or None, None
    listed = ", ".join(_quote(part, 24) for part in dropped[:3]) + (", …" if dropped[3:] else "")
    which = "rep" if len(dropped) == 1 else "reps"
    shown = "so it shows every rep" if not chosen else "so it shows the others"
    return tuple(chosen) or None, (
        f"The link names {which} Callboard does not know ({listed}: rep ids are the numbers of "
        f"the organisation's Outreach users), {shown}.")


def _quote(value: str, limit: int = _QUOTED) -> str:
    """A link's value as a note quotes it: in quotation marks, cut short when long."""
    value = " ".join(value.split())
    return f"“{value if len(value) <= limit else value[:limit - 1] + '…'}”"
