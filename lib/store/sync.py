"""Brings the store of calls up to date with Outreach (Syncer): v2's change feed, the trailing
days re-read whole, a periodic re-read of older days, and lazy backfill of ranges never read."""

# The one way data arrives. Every read first syncs (when the last sync is older than
# `SyncPolicy.every`, or when asked), then backfills what its range lacks, then answers from
# the store (lib.store.datasource). What a sync does, and why:
#
# - v2, the change feed: GET /api/v2/calls?filter[updatedAt]=<bookmark - overlap>..inf
#   &sort=updatedAt, cursor pages of 1000, each page upserted by id and the bookmark moved to
#   its largest updatedAt in the same transaction, so a sync cut short resumes where it
#   stopped. The overlap (OVERLAP, 5 minutes) re-reads the last changes again: calls changed
#   in the same millisecond as the bookmark, and a server whose commit order runs a little
#   behind, are not skipped; re-reading them costs nothing (an upsert that keeps the newer
#   copy). The first sync of an identity sets the bookmark to its own start less
#   FIRST_LOOKBACK (an hour), on Callboard's clock: every day read whole after it is fresher,
#   and a server clock up to an hour behind ours loses no change. An edit anywhere in the
#   stored history shows after one sync.
# - 1.0 cannot ask for changes (it filters by created only), so each sync re-reads the
#   trailing `trailing_days` (today and the days before it) whole, for every user scope stored
#   there, and replaces those days. On v2 the same re-read finds deletions (the feed has none).
# - Older stored days are re-read whole once they are `reread_after` old (default a week), the
#   longest unread first, at most `reread_batches` batches of `batch_days` days a sync (three
#   months of days), and only while the quota budget lasts: a re-read the budget stops is
#   taken up by the next sync. A Full reload forgets everything.
# - Backfill: (scope, day)s of a read's range that are not stored, or stored only part way
#   (a day read while it was today, and not re-read since it ended), are read in batches of
#   `batch_days` days, each stored when it is complete. When the quota budget runs out after a
#   batch, the read answers with what is stored and says how much of the range is loaded; the
#   next read continues. Other failures raise (the finished batches stay stored).
#
# A deleted call therefore leaves the store when its day is next re-read whole: within one
# sync inside the trailing days, else within `reread_after` (or at a Full reload).

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lib.outreach import CallWindow, OutreachClient, RateLimited
from lib.store.callstore import ALL_USERS, CallStore, day_bounds, utc_day

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)  # how far before its bookmark the change feed starts again
FIRST_LOOKBACK = timedelta(hours=1)  # the first bookmark, before the first sync's start


@dataclass(frozen=True)
class SyncPolicy:
    """When and how much a sync reads (the README's settings table names each)."""

    every: timedelta = timedelta(minutes=5)  # data older than this is synced before a read
    trailing_days: int = 3  # today and the days before it, re-read whole at each sync
    reread_after: timedelta = timedelta(days=7)  # an older stored day is then re-read whole
    reread_batches: int = 3  # at most this many batches of that re-read per sync
    batch_days: int = 31  # a backfill (and a re-read) is stored a batch of this many days


@dataclass(frozen=True)
class SyncReport:
    """What one sync did: pages of changes, (scope, day)s re-read, calls removed as deleted."""

    at: datetime
    changed_pages: int = 0
    changed_calls: int = 0
    days_reread: int = 0
    removed: int = 0


@dataclass(frozen=True)
class Backfill:
    """How much of a read's range is stored: `loaded` (0 to 1, by (scope, day)), and when
    that is below 1 the error that stopped the rest (the quota budget, with its retry_at)."""

    loaded: float = 1.0
    stopped_by: RateLimited | None = None

    @property
    def complete(self) -> bool:
        return self.loaded >= 1.0


class Syncer:
    """Syncs one identity's calls from one client into one store (not thread-safe on its own:
    lib.store.datasource holds a lock around it)."""

    def __init__(self, client: OutreachClient, store: CallStore, identity: str,
                 policy: SyncPolicy) -> None:
        self.client = client
        self.store = store
        self.identity = identity
        self.policy = policy

    def due(self, now: datetime) -> bool:
        """Whether the stored data is older than the policy allows (a sync at or after `now`,
        by another session that took the lock first, is fresh)."""
        synced = self.store.marks(self.identity).synced_at
        return synced is None or now - synced >= self.policy.every

    def sync(self, now: datetime) -> SyncReport:
        """Bring what is stored up to date as of `now` (see the module comment). The change
        feed and the trailing days raise when they fail (the sync did not happen); the re-read
        of older days stops quietly when the quota budget runs out."""
        pages, calls = self._changes(now) if self.client.reads_changes else (0, 0)
        today = utc_day(now)
        trailing_from = today - timedelta(days=self.policy.trailing_days - 1)
        recent = self.store.covered_days(self.identity, since=trailing_from)
        # Re-read today too for every scope that has the days before it: a new day begins.
        scopes = {scope for scope, _day in recent}
        pairs = {(scope, day) for scope in scopes for day in _days(trailing_from, today)}
        removed = self._read_whole(sorted(pairs), now, None)
        due = [pair for pair in self.store.covered_days(
            self.identity, fetched_before=now - self.policy.reread_after) if pair not in pairs]
        reread = 0
        for batch in self._batches(due)[:self.policy.reread_batches]:
            try:
                removed += self._read_whole(batch, now, None)
            except RateLimited as exc:
                log.info("The re-read of older days stopped for now: %s", exc.detail)
                break
            reread += len(batch)
        self.store.set_marks(self.identity, synced_at=now)
        report = SyncReport(now, pages, calls, len(pairs) + reread, removed)
        log.info("Synced calls as of %s: %d page(s) of changes (%d calls), %d day(s) re-read, "
                 "%d deleted call(s) removed.", now.isoformat(timespec="seconds"), pages, calls,
                 report.days_reread, removed)
        return report

    def backfill(self, after: datetime, before: datetime, scopes: Sequence[int], now: datetime,
                 on_progress: Callable[[int, int], None] | None = None) -> Backfill:
        """Read and store the (scope, day)s of [after, before) that are not stored yet."""
        first, last = utc_day(after), utc_day(before - timedelta(microseconds=1))
        complete = self.complete_days(scopes, first, last, now)
        wanted = [(scope, day) for day in _days(first, last) for scope in scopes]
        missing = [pair for pair in wanted if pair not in complete]
        if not missing:
            return Backfill()
        batches = self._batches(missing)
        done = len(wanted) - len(missing)
        for number, batch in enumerate(batches):
            try:
                self._read_whole(batch, now, on_progress)
            except RateLimited as exc:
                if number == 0:
                    raise
                log.info("The backfill stopped after %d of %d batches: %s", number,
                         len(batches), exc.detail)
                return Backfill(loaded=done / len(wanted), stopped_by=exc)
            done += len(batch)
        return Backfill()

    def lacks(self, after: datetime, before: datetime, scopes: Sequence[int],
              now: datetime) -> bool:
        """Whether some (scope, day) of [after, before) is not stored whole (backfill reads it)."""
        first, last = utc_day(after), utc_day(before - timedelta(microseconds=1))
        complete = self.complete_days(scopes, first, last, now)
        return any((scope, day) not in complete for day in _days(first, last) for scope in scopes)

    def complete_days(self, scopes: Sequence[int], first: date, last: date,
                      now: datetime) -> set[tuple[int, date]]:
        """The (scope, day)s of these scopes from `first` to `last` whose calls are all
        stored: read whole (or for a scope, through an every-user read), or still open today
        and read at its last sync. A day read while it was today and not re-read since it
        ended is not complete: the calls of its last hours are missing."""
        covered = self.store.coverage(self.identity, [*scopes, ALL_USERS], first, last)

        def whole(key: tuple[int, date]) -> bool:
            found = covered.get(key)
            return found is not None and (found.complete_to >= day_bounds(key[1])[1]
                                          or day_bounds(key[1])[1] > now)

        return {(scope, day) for day in _days(first, last) for scope in scopes
                if whole((scope, day)) or whole((ALL_USERS, day))}

    def _batches(self, pairs: Iterable[tuple[int, date]]) -> list[list[tuple[int, date]]]:
        """(scope, day)s in batches of `batch_days` consecutive days, earliest first."""
        pairs = sorted(pairs, key=lambda pair: (pair[1], pair[0]))
        if not pairs:
            return []
        first = pairs[0][1]
        batches: dict[int, list[tuple[int, date]]] = {}
        for scope, day in pairs:
            batches.setdefault((day - first).days // self.policy.batch_days, []).append(
                (scope, day))
        return list(batches.values())

    # ----- the reads -----

    def _changes(self, now: datetime) -> tuple[int, int]:
        bookmark = self.store.marks(self.identity).bookmark
        if bookmark is None:
            # Nothing was read before this sync: whatever is read from now on is newer. An
            # hour back, so that a server clock behind ours loses none of the next changes.
            self.store.set_marks(self.identity, bookmark=now - FIRST_LOOKBACK)
            return 0, 0
        seen = [0]

        def keep(rows: list[dict]) -> None:
            stamps = [row["updated_at"] for row in rows if row.get("updated_at") is not None]
            # Never past `now`: a server clock ahead of ours must not skip our next sync.
            newest = min(max(stamps), now) if stamps else None
            self.store.upsert(self.identity, rows,
                              bookmark=newest if newest and newest > bookmark else None)
            seen[0] += len(rows)

        pages = self.client.changed_calls(bookmark - OVERLAP, keep)
        return pages, seen[0]

    def _read_whole(self, pairs: Iterable[tuple[int, date]], now: datetime,
                    on_progress: Callable[[int, int], None] | None) -> int:
        """Re-read these (scope, day)s whole, up to `now` for today, and replace them in the
        store; returns how many stored calls they no longer hold (deleted in Outreach)."""
        by_scope: dict[int, list[date]] = {}
        for scope, day in pairs:
            by_scope.setdefault(scope, []).append(day)
        windows: list[CallWindow] = []
        spans: list[tuple[int, dict[date, datetime]]] = []
        for scope, days in by_scope.items():
            runs = _runs(days)
            if not self.client.pages_in_parallel:
                # A cursor is walked one page after another: one day a query, so that the
                # days go side by side. A day's window has the same bounds for every user,
                # so the client asks the users' windows of a day together.
                runs = [[day] for run in runs for day in run]
            for run in runs:
                ends = {day: min(day_bounds(day)[1], now) for day in run if
                        day_bounds(day)[0] < now}
                if not ends:
                    continue
                windows.append(CallWindow(day_bounds(run[0])[0], max(ends.values()),
                                          None if scope == ALL_USERS else scope))
                spans.append((scope, ends))
        if not windows:
            return 0
        results = self.client.calls_in_windows(windows, on_progress)
        removed = 0
        for (scope, ends), rows in zip(spans, results, strict=True):
            removed += self.store.replace_days(self.identity, scope, ends, rows, now)
        return removed


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _runs(days: list[date]) -> list[list[date]]:
    """Sorted days as runs of consecutive days."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][-1] + timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs
