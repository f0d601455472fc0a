"""How a read asks the API for a time window: whole-minute filter values, widened so that the
answer surely holds the window, then trimmed exactly."""

from __future__ import annotations

from datetime import datetime, timedelta

from lib.clock import require_utc

API_TIME_FORMAT = "%Y-%m-%dT%H:%M"  # the 1.0 filters' yyyy-MM-ddTHH:mm: no seconds, no zone
_MINUTE = timedelta(minutes=1)


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
