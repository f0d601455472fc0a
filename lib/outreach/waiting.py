"""How long the client waits: jittered exponential backoff, and the rate quota (X-RateLimit-*
headers, this client's share of them as a budget, the throttle, a 429's wait) reckoned on the
injected clock."""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from lib.clock import Clock
from lib.outreach.errors import QuotaExhausted

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)  # Outreach's rate window, assumed when the answers tell no reset
# How far a window's reset may move between answers and still be the same window.
_JITTER = timedelta(minutes=1)


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
    """The rate window as the answers' X-RateLimit-* headers tell it, and this client's share
    of it; safe to share between threads. `limit`, `remaining` (the lowest count the window's
    answers told) and `reset` (aware UTC) are None until an answer says.

    The budget: Outreach counts requests per user, and the user's other integrations draw on
    the same quota, so a client may spend only `share` of each window's `limit`
    (`budget = int(share * limit)`). What was used before this client first saw the window
    (`limit - remaining` in its first answer) counts against the user, not against the budget:
    the client may spend `budget` more, down to `floor = max(throttle_below, remaining + 1 -
    budget)` remaining, and never below `throttle_below` (a reserve for the requests in flight,
    so that the client itself never draws a 429). What others spend after that first sight
    lowers `remaining` as the client's own requests do, so it is counted against the budget
    (the cautious side: the headers cannot tell whose requests they were). A window is told
    apart by its reset: a new one when the reset has passed, or moved on with the count
    risen. Once the budget is spent, `throttle` waits
    for the reset when it is at most `max_wait` away, and otherwise raises QuotaExhausted
    (retry_at = the reset) without sending; `check` says so before a read spends anything on
    pages it could not finish.

    Times are on `clock`, the server's epoch (the sandbox's in tests); every wait goes through
    the `wait` the caller hands over (lib.outreach.transport: the injected sleep, or the read's
    cancel event), so tests move a clock instead of waiting and a failed read cuts the wait.
    """

    def __init__(self, clock: Clock, *, share: float = 1.0, throttle_below: int,
                 max_wait: float) -> None:
        if not 0 < share <= 1:
            raise ValueError("The quota share must be more than 0 and at most 1.")
        self.clock = clock
        self.share = share
        self.throttle_below = throttle_below
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset: datetime | None = None
        self.floor: int | None = None  # remaining count at which this window's budget is spent
        self._seen_at: datetime | None = None  # when this window's first count was told
        self._in_flight = 0  # requests let through and not yet answered

    @property
    def budget(self) -> int | None:
        """The requests this client may spend in a window (None until the limit is told)."""
        return None if self.limit is None else int(self.share * self.limit)

    def left(self) -> int | None:
        """Requests of this window's budget not yet spent nor in flight (None: not known)."""
        with self._lock:
            return self._left(self._in_flight)

    def note(self, headers: Mapping[str, str]) -> None:
        """Takes in an answer's X-RateLimit-Limit, -Remaining and -Reset, where present (the
        first number of each: "9999, 19988" reads 9999)."""
        remaining = first_number(headers.get("X-RateLimit-Remaining"))
        limit = first_number(headers.get("X-RateLimit-Limit"))
        now = self.clock()
        epoch = self._reset_epoch(headers.get("X-RateLimit-Reset"), now.timestamp())
        reset = None if epoch is None else datetime.fromtimestamp(epoch, UTC)
        with self._lock:
            if limit is not None:
                self.limit = int(limit)
            if reset is not None and self.reset is not None and reset < self.reset - _JITTER:
                return  # the answer of a window already over, arriving late
            if self._turned(reset, remaining, now):
                self._new_window()
            if reset is not None:
                self.reset = reset
            if remaining is None:
                return
            count = int(remaining)
            if self.remaining is None or count < self.remaining:
                self.remaining = count  # answers come out of order; the count only falls
            if self.floor is None:
                # First sight of this window: this answer's own request was ours.
                self._seen_at = now
                budget = self.budget
                self.floor = self.throttle_below if budget is None else max(
                    self.throttle_below, count + 1 - budget)

    def throttle(self, what: str, wait: Callable[[float], None]) -> None:
        """Lets one request go within the budget (`settle` it once answered): waits for the
        window's reset through `wait` when the budget is spent and the reset is near (within
        max_wait); raises QuotaExhausted, sending nothing, when it is further away. Never
        goes on into 429s."""
        while True:
            with self._lock:
                left = self._left(self._in_flight)
                if left is None or left > 0:
                    self._in_flight += 1
                    return
                reset = self._reset_or_assumed()
                wait_s = (reset - self.clock()).total_seconds() if reset else 0.0
                if wait_s <= 0:
                    self._new_window()  # the reset has passed: the next answer tells the count
                    continue
                if wait_s > self.max_wait:
                    raise self._exhausted(what, reset, left)
            log.info("%s: Callboard's share of this rate window is spent; waiting %.1f s for "
                     "its reset.", what, wait_s)
            wait(wait_s)
            with self._lock:
                if self.reset == reset or self.reset is None:
                    # Waited to the reset: the next answer tells the new window's count.
                    self._new_window()

    def waited_for(self, retry_at: datetime) -> None:
        """A 429's wait, until `retry_at`, is over: when that was the window's reset, the count
        the 429 told (none left) is of the window gone, and is not waited for a second time."""
        with self._lock:
            ends = self._reset_or_assumed()
            if ends is not None and retry_at >= ends - _JITTER:
                self._new_window()

    def settle(self) -> None:
        """One request let through by `throttle` has been answered (or failed)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def check(self, needed: int, what: str) -> None:
        """Raises QuotaExhausted now when a read still needs `needed` requests (those of its
        own in flight among them), more than the budget has left, and the reset is more than
        max_wait away: better to say so at once than to spend the budget on pages that could
        not be shown. Nothing, when nothing is known yet."""
        with self._lock:
            left = self._left(0)
            if left is None or needed <= left:
                return
            reset = self._reset_or_assumed()
            if reset is not None and (reset - self.clock()).total_seconds() <= self.max_wait:
                return  # near: throttle waits for it as the requests go
            raise self._exhausted(what, reset, left, needed)

    # ----- inside the lock -----

    def _left(self, in_flight: int) -> int | None:
        if self.remaining is None or self.floor is None:
            return None
        return max(0, self.remaining - self.floor - in_flight)

    def _turned(self, reset: datetime | None, remaining: float | None, now: datetime) -> bool:
        """Whether this answer is of a new window: the known reset has passed, or the reset
        moved on and the count rose (a reset that merely moves while the count keeps falling
        is not taken for a fresh quota)."""
        if self.floor is None:
            return False
        if self.reset is not None and now >= self.reset:
            return True
        ends = self._reset_or_assumed()
        moved = reset is not None and ends is not None and reset > ends + _JITTER
        rose = remaining is not None and self.remaining is not None and remaining > self.remaining
        return moved and rose

    def _new_window(self) -> None:
        self.remaining = None
        self.floor = None
        self._seen_at = None

    def _reset_or_assumed(self) -> datetime | None:
        if self.reset is not None:
            return self.reset
        return None if self._seen_at is None else self._seen_at + WINDOW

    def _exhausted(self, what: str, reset: datetime | None, left: int,
                   needed: int | None = None) -> QuotaExhausted:
        until = "its unknown reset" if reset is None else f"{reset:%Y-%m-%d %H:%M:%S} UTC"
        share = f"{self.share:.0%} of {self.limit} an hour" if self.limit else f"{self.share:.0%}"
        # Down to the reserve: the user's own quota is what runs out, not just the share.
        whole = any(count is not None and count <= self.throttle_below
                    for count in (self.remaining, self.floor))
        quota = ("the user's rate quota" if whole
                 else f"Callboard's share of the rate quota ({share})")
        if needed is None:
            detail = f"{what} was not sent: {quota} is spent until {until}."
        else:
            detail = (f"{what} needs {needed} more requests and {quota} has {left} left until "
                      f"{until}.")
        return QuotaExhausted(detail, retry_at=reset, share=self.share, limit=self.limit,
                              needed=needed, budget=self.budget, whole_quota=whole)

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
