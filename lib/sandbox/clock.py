"""The sandbox's "now": the real clock, or a pinned instant that runs on from there."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class SandboxClock:
    """What the sandbox reads as the time: its seeded history ends here, created calls are
    stamped with it, and token lifetimes and rate windows are measured on it.

    Pinned (`now` given), it reads `now` at the moment it is made and runs on at real speed, so
    a call created later is later, while the date and hour are the same at every run. Tests
    move it with `advance` instead of sleeping, and put it back with `reset`.
    """

    def __init__(self, now: datetime | None = None) -> None:
        real = time.time()
        # The pin as (instant, real epoch second it was read at): another process given both
        # keeps the same clock. None: the real clock.
        self.pinned_at: tuple[datetime, float] | None = None
        if now is not None:
            instant = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC)
            self.pinned_at = (instant, real)
        self._base_offset = 0.0 if self.pinned_at is None else self.pinned_at[0].timestamp() - real
        self._offset = self._base_offset
        self._lock = threading.Lock()

    @property
    def pinned(self) -> bool:
        return self.pinned_at is not None

    def time(self) -> float:
        """Epoch seconds on this clock."""
        with self._lock:
            return time.time() + self._offset

    def now(self) -> datetime:
        """This clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (a test's stand-in for waiting)."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        """Undo every `advance`: back to the clock as it was made."""
        with self._lock:
            self._offset = self._base_offset
