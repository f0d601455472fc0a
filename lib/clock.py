"""Callboard's clock: the real time, or a pinned instant that runs on from there."""

from __future__ import annotations

import math
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

    Two processes given the same `at` and `real_at` read the same time; `spec` writes that pair
    down (`CALLBOARD_NOW`), so a test can hand its clock to an app it starts.
    """

    def __init__(self, at: datetime, real_at: float | None = None) -> None:
        if at.tzinfo is None:
            raise ValueError("a pinned instant needs a time zone")
        self._offset = at.timestamp() - (time.time() if real_at is None else real_at)

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._offset, UTC)

    def spec(self) -> str:
        """`<instant>@<real epoch seconds>`: this clock, for `parse_clock` in another process."""
        real = time.time()
        return f"{datetime.fromtimestamp(real + self._offset, UTC).isoformat()}@{real:.6f}"


def parse_clock(text: str) -> PinnedClock:
    """`CALLBOARD_NOW`'s value as a clock: an ISO instant (`2026-11-18T16:00:00Z`; naive means
    UTC) that is "now" when this runs, or `<instant>@<real epoch seconds>` as `spec` writes it.
    Raises ValueError for anything else."""
    instant, _, real_at = text.strip().partition("@")
    moment = datetime.fromisoformat(instant.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    anchor = float(real_at) if real_at else None
    if anchor is not None and not math.isfinite(anchor):
        raise ValueError("the real time after @ must be a number of seconds")
    clock = PinnedClock(moment.astimezone(UTC), anchor)
    try:
        clock()
    except (OverflowError, OSError) as exc:
        raise ValueError("the pinned instant is out of range") from exc
    return clock
