"""Local calendar days in, UTC instants out (DST-correct)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(tz: str) -> ZoneInfo:
    """The IANA time zone `tz`; ValueError with a readable message if it is unknown."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(
            f"Unknown time zone {tz!r}; use an IANA name such as Europe/Berlin."
        ) from exc


def _local_midnight_utc(day: date, where: ZoneInfo) -> datetime:
    # fold=0 makes a nonexistent midnight (a zone that springs forward at 00:00) resolve to the
    # instant the day actually starts, and an ambiguous one to its first occurrence.
    return datetime.combine(day, time(0), tzinfo=where).astimezone(UTC)


def utc_bounds(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    """The half-open UTC interval [start 00:00 local, (end + 1 day) 00:00 local).

    Both days are inclusive local calendar days in `tz`; DST days come out 23 or 25 hours long.
    """
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise TypeError("utc_bounds takes calendar dates, not datetimes.")
    if end < start:
        raise ValueError(f"The end date {end.isoformat()} is before the start date "
                         f"{start.isoformat()}.")
    where = zone(tz)
    return _local_midnight_utc(start, where), _local_midnight_utc(end + timedelta(days=1), where)
