"""The dashboard's shared filters: date presets, and their round trip through the page URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

    def to_query(self) -> dict[str, str]:
        """The URL query parameters that reopen this view; presets stay relative to today."""
        query = {"tz": self.tz, "range": self.preset}
        if self.preset == "Custom":
            query.update(start=self.start.isoformat(), end=self.end.isoformat())
        if self.rep_ids is not None:
            query["reps"] = ",".join(str(rep) for rep in self.rep_ids)
        return query


def filters_from_query(
    query: Mapping[str, str],
    *,
    default_tz: str,
    known_rep_ids: Sequence[int],
    now: datetime,
) -> DashboardFilters:
    """Read filters from URL parameters, falling back to defaults for anything missing or invalid.
    Presets count from the day it is at `now` in the chosen zone.

    A shared link must never break the page, so bad values are ignored rather than raised.
    """
    tz = query.get("tz") or default_tz
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        tz = default_tz
    today = today_in(tz, now)

    preset = query.get("range") or DEFAULT_PRESET
    if preset not in PRESETS:
        preset = DEFAULT_PRESET
    if preset == "Custom":
        try:
            start = date.fromisoformat(query.get("start", ""))
            end = date.fromisoformat(query.get("end", ""))
        except ValueError:
            preset = DEFAULT_PRESET
        else:
            if end < start:
                start, end = end, start
    if preset != "Custom":
        start, end = preset_range(preset, today)

    rep_ids: tuple[int, ...] | None = None
    if query.get("reps"):
        known = set(known_rep_ids)
        chosen = [int(part) for part in query["reps"].split(",") if part.strip().isdigit()]
        rep_ids = tuple(rep for rep in chosen if rep in known) or None
    return DashboardFilters(rep_ids=rep_ids, preset=preset, start=start, end=end, tz=tz)
