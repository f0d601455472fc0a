"""Local calendar days in, UTC instants out; and the API's minute-precision filter strings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

API_TIME_FORMAT = "%Y-%m-%dT%H:%M"  # the 1.0 filters' yyyy-MM-ddTHH:mm: no seconds, no zone
_MINUTE = timedelta(minutes=1)


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


def require_utc(moment: datetime, name: str = "datetime") -> datetime:
    """`moment` converted to UTC; a naive datetime is a ValueError (its zone would be a guess)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {moment.isoformat()}).")
    return moment.astimezone(UTC)


def format_api_time(moment: datetime) -> str:
    """An aware datetime as the API's filter value in UTC, e.g. 2026-03-29T22:00.

    Seconds are dropped (truncated); callers that need a bound to cover an instant use
    `widen_window` first.
    """
    return require_utc(moment, "moment").strftime(API_TIME_FORMAT)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def ceil_minute(moment: datetime) -> datetime:
    floored = floor_minute(moment)
    return floored if floored == moment else floored + _MINUTE


def widen_window(
    after: datetime | None, before: datetime | None, margin: timedelta = _MINUTE
) -> tuple[datetime | None, datetime | None]:
    """A request window, on whole UTC minutes, that surely contains [after, before).

    The API's filters take whole minutes and their inclusivity is not documented (the sandbox
    treats `after` as inclusive and `before` as exclusive; the live API may differ, or compare
    truncated timestamps). Flooring `after` and ceiling `before` to the minute, then moving each
    out by `margin`, makes the answer a superset whichever way the server reads the bounds; the
    caller then filters exactly on the records' own created_at. A margin of a day also covers a
    server that reads the filter in the user's zone instead of UTC.
    """
    if margin < timedelta(0):
        raise ValueError("The bound margin must not be negative.")
    wide_after = None if after is None else floor_minute(require_utc(after, "after")) - margin
    wide_before = None if before is None else ceil_minute(require_utc(before, "before")) + margin
    return wide_after, wide_before
