"""The one read path of calls (DataSource.read_calls): sync the store with Outreach, backfill
what the range lacks, answer from the store. lib.store.opening makes one from the settings."""

# A read of [after, before) (pinned: `before` is at most the moment the read starts):
#   1. Sync, when the last one is older than the policy's `every` or the caller asks
#      (lib.store.sync: v2's change feed, the trailing days re-read whole, older days re-read
#      now and then). Concurrent reads of one process share one sync: the second waits for the
#      first and then finds the data fresh.
#   2. Backfill the (user scope, UTC day)s of the range that were never read. A read of some
#      users also takes a day from an every-user read of it when there is one.
#   3. Answer from the store: exactly the stored calls created in [after, before), de-duplicated
#      by id, sorted. Today is as fresh as the last sync (`CallsRead.synced_at`), which the page
#      shows; a backfill the quota budget cut short is said (`CallsRead.loaded` below 1), never
#      shown as complete.
#
# Whose calls a store holds is part of its key (`store_identity`): on 1.0 the API host, the org
# and the token's user (asked once from GET /1.0/info), and the API version; on v2 the
# credential (lib.store.opening); in demo mode the sandbox's seed and options. A different
# sign-in therefore never sees another's stored calls.

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from lib.analytics.goals import Goal
from lib.analytics.outcomes import OutcomeMapping, outcome_mapping
from lib.clock import Clock, real_clock, require_utc
from lib.frames import empty_calls_frame, has_v2_fields
from lib.outreach import (
    ApiInfo,
    NewCall,
    OutreachClient,
    OutreachError,
    RateLimited,
    distinct_user_ids,
)
from lib.store.callstore import ALL_USERS, CallStore, StoreError, StoreRefused, utc_day
from lib.store.sync import Backfill, Syncer, SyncPolicy, SyncReport

log = logging.getLogger(__name__)


class MappingNotKept(Exception):
    """An edited outcome mapping with nowhere to keep it (no store); the message says why."""


class GoalsNotKept(Exception):
    """Goals with nowhere to keep them (no store); the message says why."""


@dataclass(frozen=True)
class CallsRead:
    """The calls of a read, how fresh they are and how complete.

    `synced_at`: when the store last synced with Outreach (the read's moment without a store).
    `loaded`: the share of the range's (user, day)s stored (1.0: all of it); below 1,
    `stopped_by` says why the rest is not there yet (the quota budget) and when it may be."""

    calls: pd.DataFrame
    synced_at: datetime
    loaded: float = 1.0
    stopped_by: RateLimited | None = None
    # A sync that was due but failed: the calls are as of `synced_at`, older than the policy's.
    sync_failed: OutreachError | None = None
    # The store could not be used, so the calls were read from Outreach itself: why, in a
    # sentence safe to show (a driver's error by its kind only: its text may quote SQL).
    store_problem: str | None = None

    @property
    def complete(self) -> bool:
        return self.loaded >= 1.0


def store_problem(exc: StoreError) -> str:
    """Why the store could not be used, in a sentence safe to show: ours as it is (a layout
    newer than this Callboard's, another application's tables), a driver's by its kind."""
    if isinstance(exc, StoreRefused):
        return str(exc)
    return f"The call store failed ({type(exc).__name__})."


def newest_of(calls: pd.DataFrame, limit: int,
              disposition_ids: Sequence[int | None] | None = None) -> pd.DataFrame:
    """The newest `limit` of these calls (a calls frame, oldest first; so is the answer), of
    these dispositions only when given (None among them: none logged): DataSource.newest_calls
    from calls already in memory."""
    if disposition_ids is not None:
        wanted = calls["disposition_id"].isin([i for i in disposition_ids if i is not None])
        if None in disposition_ids:
            wanted |= calls["disposition_id"].isna()
        calls = calls[wanted.to_numpy(dtype=bool)]
    return calls.iloc[max(len(calls) - limit, 0):].reset_index(drop=True)


@dataclass
class DataSource:
    """An API client, the store of calls kept in sync with it, and what the user must be told
    about the data (demo data or the real thing). Safe to share between threads."""

    client: OutreachClient
    demo: bool
    description: str
    # lib.sandbox.Sandbox in demo mode; typed loosely so that the real API never loads it.
    sandbox: object | None = None
    store: CallStore | None = None  # None: every read goes to the API
    store_identity: str | None = None  # whose calls; None: asked from /1.0/info on first read
    # A hash of the credential: stands for the org in a 1.0 identity when /1.0/info names none.
    credential_key: str | None = None
    # Whose dispositions an outcome mapping is of; None: the API's address and /1.0/info's org.
    organisation: str | None = None
    policy: SyncPolicy = field(default_factory=SyncPolicy)
    # "Now" for the read's pinned end and for which days are closed; the client's own too.
    clock: Clock = real_clock
    _identity_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                           repr=False)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def read_calls(
        self,
        created_after: datetime | None,
        created_before: datetime | None,
        user_ids: Sequence[int] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        *,
        sync: bool | None = None,
        figures_only: bool = False,
    ) -> CallsRead:
        """The calls created in [created_after, created_before) (see the module comment).

        `created_before` is pinned to the moment the read starts (None or a later time means
        "now"). `created_after` None means from the beginning (read from the API, not
        stored). `user_ids` None means every user. `on_progress(pages_done, pages_known)` is
        called in this thread after each page fetched. `sync`: True syncs first whatever the
        age of the data (the manager's Refresh), False never, None when it is due.
        `figures_only`: the store gives only the columns figures count (lib.frames'
        FIGURE_COLUMNS, and v2's), read from its packed days: a year of a large team's calls in
        a second. A read that fails raises (IncompleteRead, QuotaExhausted, ...) and shows
        nothing.
        """
        read_at, before = self._pinned(created_before)
        if created_after is None or self.store is None:
            frame = self.client.list_calls(created_after, before, user_ids, on_progress)
            return CallsRead(frame, read_at)
        after = require_utc(created_after, "created_after")
        users = distinct_user_ids(user_ids)
        if after >= before or users == []:
            return CallsRead(empty_calls_frame(self.client.call_dtypes), read_at)
        syncer = self._syncer()
        if syncer is None:
            frame = self.client.list_calls(after, before, users, on_progress)
            return CallsRead(frame, read_at)
        scopes = [ALL_USERS] if users is None else users
        try:
            read = self._read_stored(syncer, after, before, users, scopes, on_progress, sync,
                                     figures_only)
            if read is None:  # another replica's Full reload emptied the range meanwhile
                read = self._read_stored(syncer, after, before, users, scopes, on_progress,
                                         False, figures_only)
        except StoreError as exc:
            # The store is only a shortcut: when it cannot be used, read everything instead.
            log.warning("The call store %s could not be used (%s); reading from the API.",
                        self.store.where, type(exc).__name__)
            return CallsRead(self.client.list_calls(after, before, users, on_progress), read_at,
                             store_problem=store_problem(exc))
        if read is None:
            log.warning("The stored calls were forgotten twice during one read; reading from "
                        "the API.")
            return CallsRead(self.client.list_calls(after, before, users, on_progress), read_at)
        return read

    def _read_stored(self, syncer: Syncer, after: datetime, before: datetime,
                     users: list[int] | None, scopes: Sequence[int],
                     on_progress: Callable[[int, int], None] | None, sync: bool | None,
                     figures_only: bool) -> CallsRead | None:
        """read_calls from the store; None when the range was forgotten (a Full reload in
        another process) between making sure it is stored and loading it: an empty answer
        would otherwise pass for a complete one."""
        failed: OutreachError | None = None
        # Everything under the lock, the load too: a Full reload of another session can
        # then never land between what this read stored and what it shows.
        with self._sync_lock:
            now = self.clock()
            if sync or (sync is None and syncer.due(now)) or \
                    syncer.lacks(after, before, scopes, now):
                # Across processes too (replicas on one store): one syncs, the others
                # wait, then find the data fresh and the days stored.
                with self.store.sync_lock(syncer.identity):
                    now = self.clock()  # after the wait: a sync meanwhile is then fresh
                    if sync or (sync is None and syncer.due(now)):
                        failed = self._sync_or_say_why(syncer, now, forced=bool(sync))
                    filled = syncer.backfill(after, before, scopes, now, on_progress)
            else:
                filled = Backfill()
            if figures_only:
                frame = self.store.load_facts(syncer.identity, after, before, users,
                                              has_v2_fields(self.client.call_dtypes))
            else:
                frame = self.store.load(syncer.identity, after, before, users,
                                        self.client.call_dtypes)
            if not filled.complete:
                frame = self._complete_days_only(syncer, frame, scopes, after, before, now)
            elif syncer.lacks(after, before, scopes, now):
                return None  # the days were stored whole a moment ago, and are not now
            synced_at = self.store.marks(syncer.identity).synced_at or now
        return CallsRead(frame, synced_at, filled.loaded, filled.stopped_by, failed)

    def _pinned(self, created_before: datetime | None) -> tuple[datetime, datetime]:
        """The read's moment, and its end: `created_before`, but never later than now."""
        read_at = self.clock()
        if created_before is None:
            return read_at, read_at
        return read_at, min(require_utc(created_before, "created_before"), read_at)

    @staticmethod
    def _sync_or_say_why(syncer: Syncer, now: datetime, forced: bool) -> OutreachError | None:
        """Sync; when a sync that was only due fails, the error (what is stored is still
        right as of its last sync). A sync asked for (Refresh) raises: the caller says so."""
        try:
            syncer.sync(now)
        except OutreachError as exc:
            if forced:
                raise
            log.warning("The sync with Outreach failed (%s); showing the calls as of the last "
                        "sync.", exc.detail)
            return exc
        return None

    @staticmethod
    def _complete_days_only(syncer: Syncer, frame: pd.DataFrame, scopes: Sequence[int],
                            after: datetime, before: datetime, now: datetime) -> pd.DataFrame:
        """The calls of the (user, day)s stored whole: a backfill cut short must not show the
        few calls v2's change feed brought into days it did not read."""
        complete = syncer.complete_days(scopes, utc_day(after),
                                        utc_day(before - timedelta(microseconds=1)), now)
        days = frame["created_at"].dt.tz_convert("UTC").dt.date
        scope_of = [ALL_USERS] * len(frame) if scopes == [ALL_USERS] else \
            frame["user_id"].astype("int64").tolist()
        keep = [(scope, day) in complete for scope, day in zip(scope_of, days, strict=True)]
        return frame[keep].reset_index(drop=True)

    def list_calls(
        self,
        created_after: datetime | None,
        created_before: datetime | None,
        user_ids: Sequence[int] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        *,
        figures_only: bool = False,
    ) -> pd.DataFrame:
        """Exactly the calls of `read_calls` (the figures' columns only with `figures_only`),
        as a calls frame; a read the quota budget could not finish raises its error rather
        than answer part of the range (for the CLI)."""
        read = self.read_calls(created_after, created_before, user_ids, on_progress,
                               figures_only=figures_only)
        if not read.complete:
            assert read.stopped_by is not None
            raise read.stopped_by
        return read.calls

    def newest_calls(
        self,
        created_after: datetime,
        created_before: datetime | None,
        user_ids: Sequence[int] | None,
        limit: int,
        disposition_ids: Sequence[int | None] | None = None,
    ) -> pd.DataFrame:
        """The newest `limit` calls of `read_calls`'s range (of these dispositions only, None
        among them meaning none logged), oldest first: the overview's table of calls. Never
        syncs: asked right after `read_calls`, it reads what that read stored (from the
        API when there is no store)."""
        read_at, before = self._pinned(created_before)
        after = require_utc(created_after, "created_after")
        users = distinct_user_ids(user_ids)
        syncer = self._syncer()
        if syncer is not None and after < before and users != []:
            try:
                frame = self.store.load(syncer.identity, after, before, users,
                                        self.client.call_dtypes, newest=limit,
                                        disposition_ids=disposition_ids)
                scopes = [ALL_USERS] if users is None else users
                if syncer.lacks(after, before, scopes, read_at):
                    frame = self._complete_days_only(syncer, frame, scopes, after, before,
                                                     read_at)
                return frame
            except StoreError as exc:
                log.warning("The call store %s could not be used (%s); reading from the API.",
                            self.store.where, type(exc).__name__)
        return newest_of(self.read_calls(after, before, users, sync=False).calls, limit,
                         disposition_ids)

    def create_call(self, new: NewCall) -> dict[str, Any]:
        """Log a call (OutreachClient.create_call) and keep it in the store at once, so every
        read shows it without waiting for the next sync."""
        created = self.client.create_call(new)
        identity = self.store_identity
        if self.store is not None and identity is not None:
            try:
                self.store.upsert(identity, [created])
            except StoreError as exc:
                log.warning("Could not keep the new call in %s (%s); the next sync brings it.",
                            self.store.where, type(exc).__name__)
        return created

    def outcome_mapping(self, dispositions: pd.DataFrame) -> OutcomeMapping:
        """What each of `dispositions` counts as: the flags an admin saved in the store, the
        defaults elsewhere (and everywhere without a store, or when it cannot be read)."""
        saved: dict[int, frozenset[str]] = {}
        organisation = self._organisation() if self.store is not None else None
        if self.store is not None and organisation is not None:  # a store not dropped since
            try:
                saved = self.store.outcome_flags(organisation)
            except StoreError as exc:
                log.warning("Could not read the outcome mapping from %s (%s); the defaults "
                            "hold.", self.store.where, type(exc).__name__)
        return outcome_mapping(dispositions, saved)

    def save_outcome_mapping(self, flags: Mapping[int, Collection[str]], by: str) -> None:
        """Keep an admin's flags for each disposition ({}: back to the defaults), for every
        replica and the CLI. Raises MappingNotKept without a store."""
        organisation = self._organisation() if self.store is not None else None
        if self.store is None or organisation is None:
            raise MappingNotKept("Callboard keeps no store here, so an edited mapping could "
                                 "not be kept: set CALLBOARD_DATABASE_URL (or leave "
                                 "CALLBOARD_CACHE_DB at its default) and restart.")
        self.store.save_outcome_flags(organisation, flags, by, self.clock())

    def goals(self) -> list[Goal]:
        """The goals kept for this organisation ([] without a store, or when it cannot be
        read: then nothing is paced, which the page shows as no goals set)."""
        organisation = self._organisation() if self.store is not None else None
        if self.store is None or organisation is None:
            return []
        try:
            return self.store.goals(organisation)
        except StoreError as exc:
            log.warning("Could not read the goals from %s (%s); none are paced.",
                        self.store.where, type(exc).__name__)
            return []

    def save_goals(self, goals: Sequence[Goal], cleared: Collection[tuple[int | None, str]],
                   by: str) -> None:
        """Keep these goals and forget the `cleared` (rep id or None for the team, metric)
        ones, for every replica and the CLI (CallStore.save_goals). Raises GoalsNotKept
        without a store."""
        organisation = self._organisation() if self.store is not None else None
        if self.store is None or organisation is None:
            raise GoalsNotKept("Callboard keeps no store here, so goals could not be kept: set "
                               "CALLBOARD_DATABASE_URL (or leave CALLBOARD_CACHE_DB at its "
                               "default) and restart.")
        self.store.save_goals(organisation, goals, cleared, by, self.clock())

    def sync(self) -> SyncReport | None:
        """Sync now, whatever the age of the data (Refresh, `python -m lib.cli sync`), then
        pack the figures' columns of the days it changed, so the next overview only reads;
        None without a store."""
        syncer = self._syncer()
        if syncer is None:
            return None
        with self._sync_lock, self.store.sync_lock(syncer.identity):
            report = syncer.sync(self.clock())
        self.store.pack_facts(syncer.identity)
        return report

    def synced_at(self) -> datetime | None:
        """When the store last synced (None: never, or no store); asks nothing of the API."""
        if self.store is None or self.store_identity is None:
            return None
        return self.store.marks(self.store_identity).synced_at

    def clear_cache(self) -> None:
        """Forget this identity's stored calls (the "full reload"), so that its next read
        fetches everything; other sign-ins sharing the store keep theirs."""
        identity = self._identity()  # only this sign-in's: a shared store holds others' too
        if self.store is None or identity is None:
            return
        with self._sync_lock, self.store.sync_lock(identity):  # never under a replica's sync
            self.store.clear(identity)

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()

    # ----- whose calls -----

    def _syncer(self) -> Syncer | None:
        identity = self._identity()
        if identity is None or self.store is None:
            return None
        return Syncer(self.client, self.store, identity, self.policy)

    def _organisation(self) -> str | None:
        """Whose dispositions the mapping is of; None when the store was dropped because the
        API did not say whose token this is. Asks nothing that `_identity` has not asked."""
        self._identity()  # which, on 1.0, learns the organisation from the same answer
        with self._identity_lock:
            if self.organisation is None and self.store is not None:
                self.organisation = f"{self.client.base_url} org {self._org()}"
            return self.organisation

    def _org(self, info: ApiInfo | None = None) -> str:
        # Where the answer does not name the org, the credential stands for it.
        info = info or self.client.info()
        return info.org or (f"of credential {self.credential_key}"
                            if self.credential_key else "?")

    def _identity(self) -> str | None:
        with self._identity_lock:
            if self.store_identity is None and self.store is not None:
                info = self.client.info()
                organisation = f"{self.client.base_url} org {self._org(info)}"
                self.organisation = self.organisation or organisation
                if info.user_id is None and info.email is None:
                    log.warning("The API did not say whose token this is; calls are not stored.")
                    self.store = None
                    return None
                # The org too: user ids are only unique within one org (a credential standing
                # for it starts cold when it changes). The same answer names the organisation
                # whose outcome mapping applies (above), so that is never asked again.
                self.store_identity = (f"{organisation} user "
                                       f"{info.user_id} {info.email or ''} "
                                       f"api={self.client.dialect.version}")
            return self.store_identity
