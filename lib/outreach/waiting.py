"""How long the client waits: jittered exponential backoff, and the rate quota (X-RateLimit-*
headers, the throttle, a 429's wait) reckoned on the injected clock."""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from lib.clock import Clock

log = logging.getLogger(__name__)


def backoff_delay(tries: int, factor: float, cap: float) -> float:
    """Seconds to wait after the `tries`-th failed try: factor * 2 ** (tries - 1), at most
    `cap`, times a random 0.5 to 1, so that concurrent pages do not retry in lockstep. (Not
    urllib3's Retry.get_backoff_time: it waits nothing before the first retry and jitters by
    adding, which sends a pool of failed pages back at once.)"""
    return min(cap, factor * (2 ** (tries - 1))) * random.uniform(0.5, 1.0)


def first_number(value: str | None) -> float | None:
    """A header's first number: X-RateLimit-Remaining may read "9999, 19988"."""
    if not value:
        return None
    match = re.match(r"\s*(\d+(?:\.\d+)?)", value)
    return float(match.group(1)) if match else None


class RateQuota:
    """The rate window as the answers' X-RateLimit-* headers tell it; safe to share between
    threads. `limit`, `remaining` and `reset` (aware UTC) are None until an answer says.

    Times are on `clock`, the server's epoch (the sandbox's in tests), and waits go through
    `sleep`, so tests move a clock instead of waiting. `throttle_below` is how few remaining
    requests make `throttle` wait for the reset; `max_wait` is the longest wait worth making
    inside a page load; `pause` how long to wait when the reset is not known.
    """

    def __init__(self, clock: Clock, sleep: Callable[[float], None], *, throttle_below: int,
                 max_wait: float, pause: float) -> None:
        self.clock = clock
        self._sleep = sleep
        self.throttle_below = throttle_below
        self.max_wait = max_wait
        self.pause = pause
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset: datetime | None = None

    def note(self, headers: Mapping[str, str]) -> None:
        """Takes in an answer's X-RateLimit-Limit, -Remaining and -Reset, where present."""
        remaining = first_number(headers.get("X-RateLimit-Remaining"))
        limit = first_number(headers.get("X-RateLimit-Limit"))
        reset = self._reset_epoch(headers.get("X-RateLimit-Reset"), self.clock().timestamp())
        with self._lock:
            if remaining is not None:
                self.remaining = int(remaining)
            if limit is not None:
                self.limit = int(limit)
            if reset is not None:
                self.reset = datetime.fromtimestamp(reset, UTC)

    def throttle(self) -> None:
        """Slows down when the window is nearly used up, rather than collect 429s.

        Waits for the reset when it is near (within max_wait); when it is far away, waiting
        would only stall the page, so the request goes ahead and a 429 reports the retry time.
        """
        with self._lock:
            remaining, reset = self.remaining, self.reset
        if remaining is None or remaining >= self.throttle_below:
            return
        wait_s = (reset - self.clock()).total_seconds() if reset else self.pause
        if wait_s <= 0 or wait_s > self.max_wait:
            return
        log.info("Only %d API requests left in this window; waiting %.1f s for its reset.",
                 remaining, wait_s)
        self._sleep(wait_s)
        with self._lock:
            if self.reset == reset and reset is not None:
                # The window has turned over; the next answer will tell the new count.
                self.remaining = None

    def wait_after_429(self, headers: Mapping[str, str],
                       backoff: float) -> tuple[float, datetime]:
        """Seconds to wait after a 429, and when that is: Retry-After (seconds or an HTTP
        date, on the clock), else X-RateLimit-Reset, else `backoff` (some 429s carry no
        headers at all)."""
        now = self.clock().timestamp()
        delay = self._retry_after(headers.get("Retry-After"), now)
        if delay is None:
            reset = self._reset_epoch(headers.get("X-RateLimit-Reset"), now)
            if reset is not None:
                delay = reset - now
        if delay is None:
            delay = backoff
        delay = max(0.0, delay)
        return delay, datetime.fromtimestamp(now + delay, UTC)

    @staticmethod
    def _retry_after(value: str | None, now: float) -> float | None:
        # Not urllib3's Retry.parse_retry_after: it reads an HTTP date against time.time(),
        # the wall clock, where the server's epoch is the injected clock's.
        if not value:
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return first_number(value)
        try:
            return parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None

    @staticmethod
    def _reset_epoch(value: str | None, now: float) -> float | None:
        reset = first_number(value)
        if reset is None:
            return None
        # Documented as epoch seconds; a small number can only be "seconds from now".
        return reset if reset > 1_000_000_000 else now + reset
