"""Callboard's clock: the real time, or a pinned instant that runs on from there."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

# What every part that asks "what time is it?" takes: aware UTC datetimes.
Clock = Callable[[], datetime]


def real_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


class PinnedClock:
    """Reads `at` at the real epoch second `real_at` (default: when it is made) and runs on at
    real speed, so a dashboard's "today" is the same at every run while time still passes.

    Two processes given the same `at` and `real_at` read the same time; `pin_text` writes that
    pair down (`CALLBOARD_NOW`), so a test can hand its clock to an app it starts.
    """

    def __init__(self, at: datetime, real_at: float | None = None) -> None:
        if at.tzinfo is None:
            raise ValueError("a pinned instant needs a time zone")
        self._offset = at.timestamp() - (time.time() if real_at is None else real_at)

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._offset, UTC)


def pin_text(at: datetime, real_at: float) -> str:
    """`<instant>@<real epoch seconds>`: the clock that read `at` at `real_at`, as `parse_clock`
    reads it in another process."""
    return f"{at.isoformat()}@{real_at:.6f}"


# The years a pinned instant may name: far from datetime's limits, so that nothing computed from
# it (a history of months before it, a year of ranges after it) can overflow.
EARLIEST_YEAR, LATEST_YEAR = 2016, 2999
_ANCHOR = re.compile(r"\d{1,12}(\.\d{1,9})?")


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant (naive means UTC) from EARLIEST_YEAR to LATEST_YEAR, as aware UTC.
    Raises ValueError for anything else."""
    try:
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the instant is out of range") from exc
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"the instant must be from {EARLIEST_YEAR} to {LATEST_YEAR}")
    return moment


def parse_clock(text: str) -> PinnedClock:
    """`CALLBOARD_NOW`'s value as a clock: an ISO instant (`2026-11-18T17:00:00Z`) that is "now"
    when this runs, or `<instant>@<real epoch seconds>` as `pin_text` writes it. Raises ValueError
    for anything else."""
    instant, at_sign, real_at = text.strip().partition("@")
    if at_sign and not _ANCHOR.fullmatch(real_at):
        raise ValueError("after @ comes the real time in epoch seconds")
    return PinnedClock(parse_instant(instant), float(real_at) if at_sign else None)


def clock_from_setting(text: str | None) -> Clock:
    """The clock a CALLBOARD_NOW value asks for: None is the real one."""
    return real_clock if text is None else parse_clock(text)


def require_utc(moment: datetime, name: str = "datetime") -> datetime:
    """`moment` converted to UTC; a naive datetime is a ValueError (its zone would be a guess)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {moment.isoformat()}).")
    return moment.astimezone(UTC)
