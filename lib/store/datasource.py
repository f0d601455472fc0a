"""The one read path of calls (DataSource.list_calls): from the API client, through the local
store of closed days. lib.store.opening makes one from the settings."""

# How list_calls reads [after, before) (pinned: `before` is at most the moment the read starts):
#   1. Split the range into UTC days. A day is closed when it ended more than `closed_after`
#      (an hour: calls are sometimes logged late) before the read started; the rest are open.
#   2. Closed days stored for this user scope less than `max_age` ago come from the store.
#      A read of some users also takes a day from an every-user window when one is fresh.
#   3. The other days are fetched: each run of consecutive missing days is one API query (a
#      closed day is fetched whole, so that it can be stored; an open day only from `after` to
#      `before`), and all runs of all users go side by side on the client's bounded pool. One
#      query per run rather than per day keeps the request count at a plain walk's: each query
#      ends in a partly filled page, and a rep with 20 calls a day would pay a whole request
#      per day. The client reads all pages of all queries concurrently once page 1 of each has
#      told how many there are. On v2 (a cursor, read one page after another) each day is a
#      query of its own, so that the days go side by side; the windows are still one per user
#      (the store keeps each user's days), and the client asks the chosen users' windows of a
#      day as one query with a list filter (filter[user][id]=2,3,5), splitting its rows per
#      user: a read of N reps costs a day's pages, not N times them.
#   4. The fetched closed days are stored only after every page of the read succeeded (the
#      client raises IncompleteRead otherwise, or QuotaExhausted when its share of the hourly
#      rate quota cannot carry the read, and nothing is stored or shown); open days never are.
#      Everything is trimmed to [after, before), de-duplicated by id and sorted.
#
# Whose calls a store holds is part of its key (`store_identity`): the API host and the token's
# user (asked once from GET /1.0/info), or the sandbox's seed and options in demo mode. A
# different sign-in therefore never sees another's stored calls.

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

from lib.clock import Clock, real_clock, require_utc
from lib.frames import empty_calls_frame, frame_from_rows, has_v2_fields
from lib.outreach import (
    CallWindow,
    OutreachClient,
    distinct_user_ids,
)
from lib.settings import DEFAULT_CACHE_MAX_AGE_HOURS
from lib.store.callstore import ALL_USERS, CallStore, day_bounds, utc_day

log = logging.getLogger(__name__)

CLOSED_AFTER = timedelta(hours=1)  # how long after a UTC day's end its calls may still appear


@dataclass
class DataSource:
    """An API client, the local store of closed days, and what the user must be told about the
    data (demo data or the real thing). Safe to share between threads."""

    client: OutreachClient
    demo: bool
    description: str
    # lib.sandbox.Sandbox in demo mode; typed loosely so that the real API never loads it.
    sandbox: object | None = None
    store: CallStore | None = None  # None: every read goes to the API
    store_identity: str | None = None  # whose calls; None: asked from /1.0/info on first read
    max_age: timedelta = timedelta(hours=DEFAULT_CACHE_MAX_AGE_HOURS)
    closed_after: timedelta = CLOSED_AFTER
    # "Now" for the read's pinned end and for which days are closed; the client's own too.
    clock: Clock = real_clock
    _identity_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                           repr=False)

    def list_calls(
        self,
        created_after: datetime | None,
        created_before: datetime | None,
        user_ids: Sequence[int] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame:
        """Exactly the calls created in [created_after, created_before), as a calls frame.

        The one read path of the dashboard and the CLI, so that both see the same calls.
        `created_before` is pinned to the moment the read starts (None or a later time means
        "now"), so calls logged during a long read are neither doubled nor half there: they
        come with the next read. `created_after` None means from the beginning (not stored).
        `user_ids` None means every user. `on_progress(pages_done, pages_known)` is called in
        this thread after each page fetched (not at all when the store has everything).

        This is also the manager's "refresh": open days (today, and yesterday within the first
        hour) are never stored, so every call re-reads them and takes closed days from the
        store. A read that fails part way raises (IncompleteRead) and stores nothing; so
        does one that the client's share of the rate quota cannot carry (QuotaExhausted).
        """
        read_at = self.clock()
        before = read_at if created_before is None else min(
            require_utc(created_before, "created_before"), read_at)
        if created_after is None or self.store is None:
            return self.client.list_calls(created_after, before, user_ids, on_progress)
        after = require_utc(created_after, "created_after")
        users = distinct_user_ids(user_ids)
        if after >= before or users == []:
            return empty_calls_frame(self.client.call_dtypes)
        identity = self._identity()
        if identity is None or self.store is None:
            return self.client.list_calls(after, before, users, on_progress)
        return self._read_through_store(identity, after, before, users, read_at, on_progress)

    def clear_cache(self) -> None:
        """Forget every stored call (the "full reload"), so the next read fetches everything."""
        if self.store is not None:
            self.store.clear()

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()

    # ----- the read through the store -----

    def _identity(self) -> str | None:
        with self._identity_lock:
            if self.store_identity is None and self.store is not None:
                info = self.client.info()
                who = info.user_id if info.user_id is not None else info.email
                if who is None:
                    log.warning("The API did not say whose token this is; calls are not stored.")
                    self.store = None
                    return None
                self.store_identity = f"{self.client.base_url} user {who}"
            return self.store_identity

    def _read_through_store(
        self,
        identity: str,
        after: datetime,
        before: datetime,
        users: list[int] | None,
        read_at: datetime,
        on_progress: Callable[[int, int], None] | None,
    ) -> pd.DataFrame:
        store = self.store
        assert store is not None
        first, last = utc_day(after), utc_day(before - timedelta(microseconds=1))
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        closed = {day for day in days if day_bounds(day)[1] + self.closed_after <= read_at}
        fresh_since = read_at - self.max_age
        scopes = [ALL_USERS] if users is None else users
        dtypes = self.client.call_dtypes
        # On v2 a stored day serves only if it holds v2's fields too.
        with_v2 = has_v2_fields(dtypes)

        def stored(scope: int) -> set[date]:
            return closed & store.stored_days(identity, scope, first, last, fresh_since,
                                              with_v2_fields=with_v2)

        frames: list[pd.DataFrame] = []
        windows: list[CallWindow] = []
        fetched_runs: list[tuple[int, list[date]]] = []  # (scope, days) of each window
        try:
            shared: set[date] = set()
            if users is not None:
                shared = stored(ALL_USERS)
                if shared:
                    frames.append(store.load(identity, ALL_USERS, shared, after, before, users))
            for scope in scopes:
                own = stored(scope) - shared
                if own:
                    frames.append(store.load(identity, scope, own, after, before))
                runs = _runs([day for day in days if day not in own and day not in shared])
                if not self.client.pages_in_parallel:
                    # A cursor is walked one page after another: one day a query, so that the
                    # days go side by side instead. A day's window has the same bounds for
                    # every user, so the client asks the users' windows of a day together.
                    runs = [[day] for run in runs for day in run]
                for run in runs:
                    start = day_bounds(run[0])[0] if run[0] in closed else max(
                        after, day_bounds(run[0])[0])
                    end = day_bounds(run[-1])[1] if run[-1] in closed else before
                    windows.append(CallWindow(start, end, None if scope == ALL_USERS else scope))
                    fetched_runs.append((scope, run))
        except sqlite3.Error as exc:
            # The store is only a shortcut: when it cannot be read, read everything instead.
            log.warning("The call store %s could not be read (%s); reading from the API.",
                        store.path, exc)
            return self.client.list_calls(after, before, users, on_progress)

        results = self.client.calls_in_windows(windows, on_progress) if windows else []

        fetched_rows = []
        for (scope, run), rows in zip(fetched_runs, results, strict=True):
            done = [day for day in run if day in closed]
            if done:
                keep = set(done)
                self._save(identity, scope, done,
                           [row for row in rows if utc_day(row["created_at"]) in keep], read_at)
            fetched_rows.extend(row for row in rows if after <= row["created_at"] < before)
        if fetched_runs and any(day in closed for _, run in fetched_runs for day in run):
            self._purge(fresh_since)

        frames.append(frame_from_rows(fetched_rows, dtypes))
        # Each frame has the client's columns (a 1.0 window never serves a v2 read, see
        # `stored`); only a v2 window read by a 1.0 client has more, which it does not show.
        columns = list(dtypes)
        frames = [frame if list(frame.columns) == columns else frame[columns]
                  for frame in frames if len(frame)]
        if not frames:
            return empty_calls_frame(dtypes)
        frame = pd.concat(frames, ignore_index=True)
        # Fetched rows come last: where a call is both stored and fetched, the fetch is fresher.
        frame = frame.drop_duplicates("id", keep="last")
        return frame.sort_values(["created_at", "id"], kind="stable").reset_index(drop=True)

    def _save(self, identity: str, scope: int, days: list[date], rows: list[dict],
              read_at: datetime) -> None:
        assert self.store is not None
        try:
            self.store.save(identity, scope, days, rows, fetched_at=read_at)
        except sqlite3.Error as exc:
            # The calls were read completely and are shown; only the shortcut is lost.
            log.warning("Could not store calls in %s (%s).", self.store.path, exc)

    def _purge(self, fresh_since: datetime) -> None:
        assert self.store is not None
        try:
            self.store.purge(fresh_since)
        except sqlite3.Error as exc:
            log.warning("Could not remove expired calls from %s (%s).", self.store.path, exc)


def _runs(days: list[date]) -> list[list[date]]:
    """Sorted days as runs of consecutive days."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs
