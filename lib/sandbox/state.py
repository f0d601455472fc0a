"""The sandbox's mutable state: indexed calls, tokens, OAuth grants, rate windows and faults."""

from __future__ import annotations

import hashlib
import heapq
import math
import random
import secrets
import threading
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from operator import attrgetter

from .clock import SandboxClock
from .data import (
    CREATED_ID_FLOOR,
    DAY_MS,
    DISPOSITIONS,
    MAX_CHANGE_LAG_MS,
    ORIGIN_DAY,
    OWNER_USER_ID,
    PURPOSES,
    CallRow,
    SeedData,
    User,
    change_schedule,
)
from .oauth import CODE_TTL_S, redirect_allowed
from .prospects import ProspectBook
from .store import CallChange, CallStore
from .validation import MAX_NOTE

ALL_SCOPES = (
    "read_calls",
    "create_calls",
    "read_users",
    "read_call_dispositions",
    "read_call_purposes",
    "read_prospects",
)
READ_SCOPES = tuple(scope for scope in ALL_SCOPES if scope.startswith("read_"))
# API v2's scope names, each standing for its 1.0 twin. An OAuth app asking for v2 names is
# granted (and told) v2 names, and its tokens work on both versions.
V2_SCOPES = {
    "calls.read": "read_calls",
    "calls.write": "create_calls",
    "users.read": "read_users",
    "callDispositions.read": "read_call_dispositions",
    "callPurposes.read": "read_call_purposes",
    "prospects.read": "read_prospects",
}
KNOWN_SCOPES = (*ALL_SCOPES, *V2_SCOPES)
CLIENT_ID = "callboard-sandbox"
RATE_WINDOW_S = 3600
REFRESH_TOKEN_TTL_S = 14 * 86400


@dataclass
class Config:
    """What tests and benchmarks may change while the sandbox runs."""

    latency_ms: int = 0
    fault_rate: float = 0.0
    rate_limit: int = 10_000
    token_ttl: int = 7200
    mint_interval: float = 60.0


def as_v1_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Granted scope names (1.0 or v2) as the 1.0 names the routes check."""
    return frozenset(V2_SCOPES.get(scope, scope) for scope in scopes)


@dataclass
class Token:
    user_id: int
    scopes: frozenset[str]
    expires_at: float | None  # None: the static tokens never expire
    revoked: bool = False


@dataclass
class RefreshGrant:
    family: str
    user_id: int
    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False
    # Spent by a refresh while rotation is on: a second use is refused.
    used: bool = False


@dataclass
class PendingGrant:
    """What a user granted an app, waiting to be exchanged: an authorization code, or a
    consent page not yet answered (which also remembers the app's `state`)."""

    user_id: int
    scopes: frozenset[str]
    redirect_uri: str | None  # None: a code from issue_code, given at no authorize
    expires_at: float
    state: str | None = None


@dataclass
class _Window:
    start: float
    count: int = 0


@dataclass
class RateStatus:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds
    retry_after: int = 0  # whole seconds until the window ends


@dataclass
class MintResult:
    status: int
    body: dict | str
    # 429s from the token endpoint are plain text, per the reference.
    plain_text: bool = False


def _oauth_error(status: int, error: str, description: str) -> MintResult:
    return MintResult(status, {"error": error, "error_description": description})


def _derive(seed: int, name: str) -> str:
    # Deterministic per seed, so a restarted sandbox accepts the tokens it printed before.
    return hashlib.sha256(f"callboard-sandbox/{seed}/{name}".encode()).hexdigest()[:40]


# The field each list order sorts by (ties: by id).
_PRIMARY = {"createdAt": "created_ms", "updatedAt": "updated_ms", "id": "id"}


class _Index:
    """The view's calls as (sort value, id) keys in ascending order, all and by user."""

    def __init__(self, field: str, rows: Iterable[CallRow]) -> None:
        self.key: Callable[[CallRow], tuple[int, int]] = attrgetter(field, "id")
        ordered = sorted(rows, key=self.key)
        self.all: list[tuple[int, int]] = list(map(self.key, ordered))
        self.by_user: dict[int, list[tuple[int, int]]] = {}
        for key, row in zip(self.all, ordered, strict=True):
            keys = self.by_user.get(row.user_id)
            if keys is None:
                keys = self.by_user[row.user_id] = []
            keys.append(key)

    def add(self, user_id: int, key: tuple[int, int]) -> None:
        insort(self.all, key)
        insort(self.by_user.setdefault(user_id, []), key)

    def remove(self, user_id: int, key: tuple[int, int]) -> None:
        for keys in (self.all, self.by_user.get(user_id, [])):
            at = bisect_left(keys, key)
            if at < len(keys) and keys[at] == key:
                del keys[at]


def _span(keys: list[tuple[int, int]], after_ms: int | None,
          before_ms: int | None) -> tuple[int, int]:
    lo = 0 if after_ms is None else bisect_left(keys, (after_ms,))
    hi = len(keys) if before_ms is None else bisect_left(keys, (before_ms,))
    return lo, max(lo, hi)


def _bound(pick: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    """max or min of two optional bounds (None: unbounded)."""
    if a is None:
        return b
    return a if b is None else pick(a, b)


def _scan(keys: list[tuple[int, int]], segments: list[tuple[int | None, int | None]],
          after: tuple[int, int] | None, descending: bool, skip: Collection[int],
          view: dict[int, CallRow], keep: Callable[[CallRow], bool],
          ) -> Iterator[tuple[tuple[int, int], CallRow]]:
    """(key, row) of the keys in those [low, high) ranges of the sort value, in order
    (descending: backwards), strictly after `after`, that `keep` keeps; ids in `skip` left
    out."""
    for low, high in (reversed(segments) if descending else segments):
        start = 0 if low is None else bisect_left(keys, (low,))
        end = len(keys) if high is None else bisect_left(keys, (high,))
        if after is not None:
            if descending:
                end = min(end, bisect_left(keys, after))
            else:
                start = max(start, bisect_right(keys, after))
        for at in (range(end - 1, start - 1, -1) if descending else range(start, end)):
            key = keys[at]
            if key[1] in skip:
                continue
            row = view[key[1]]
            if keep(row):
                yield key, row


def format_ms(ms: int) -> str:
    """Epoch milliseconds as the API's ISO-8601 UTC form, e.g. 2026-11-02T17:03:00.000Z."""
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


class SandboxState:
    """Everything the HTTP handler reads and changes; each part guarded by its own lock."""

    def __init__(self, seed_data: SeedData, store: CallStore, config: Config, seed: int,
                 fault_seed: int, clock: SandboxClock, redirect_uris: tuple[str, ...] = (),
                 rotate_refresh_tokens: bool = False, later_dispositions: float = 0.0,
                 deletions: float = 0.0) -> None:
        self.config = config
        self.clock = clock
        # The app's registered redirect URIs (checked by oauth.registered_redirect_uris).
        self.redirect_uris = redirect_uris
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.users: list[User] = sorted(
            seed_data.users, key=lambda u: (u.last_name.lower(), u.first_name.lower(), u.id)
        )
        self.users_by_id = {user.id: user for user in seed_data.users}
        self.dispositions = DISPOSITIONS
        self.purposes = PURPOSES
        self.disposition_ids = frozenset(d[0] for d in DISPOSITIONS)
        self.purpose_ids = frozenset(p[0] for p in PURPOSES)
        self.owner_user_id = OWNER_USER_ID
        # (P) The org /1.0/info names under meta.org: one per seed, so two sandboxes of
        # different seeds are two orgs whose users share ids, as real orgs' users do.
        self.org = {"id": 5000 + seed % 1000, "name": f"Sandbox Org {seed}",
                    "shortname": f"sandbox{seed}"}
        self._store = store
        self.prospects = ProspectBook(seed, seed_data.pools)

        self._calls_lock = threading.Lock()
        # Every call as generated or created (`_base`), when seeded ones change by themselves
        # (`_later`, `_deleted_at`, and `_events`: those moments sorted), what the admin routes
        # changed (`_changes`), and the view of them all at `_synced_ms` (`_view`, deleted
        # calls absent), which each read first brings to the sandbox's now (`_sync`).
        self._base: dict[int, CallRow] = {row.id: row for row in seed_data.calls}
        self._block = seed_data.block
        seeded_max = max(self._base, default=0)
        self._seeded_top = seeded_max
        self._next_id = max(CREATED_ID_FLOOR, seeded_max + 1)
        for row in store.load():
            if row.id in self._base:
                # Only possible if the seeded id space grew into the created one.
                continue
            self._base[row.id] = row
            self._next_id = max(self._next_id, row.id + 1)
        schedule = change_schedule(seed, seed_data.calls, seed_data.block, later_dispositions,
                                   deletions)
        self._later = schedule.later
        self._deleted_at = schedule.deleted
        self._events: list[tuple[int, int]] = sorted(
            [(moment, call_id) for call_id, moment in self._later.items()]
            + [(moment, call_id) for call_id, moment in self._deleted_at.items()]
        )
        self._changes: dict[int, CallChange] = {
            call_id: change for call_id, change in store.load_changes().items()
            if call_id in self._base
        }
        now_ms = self._now_ms()
        self._view: dict[int, CallRow] = dict(self._base)
        for call_id in {*self._later, *self._deleted_at, *self._changes}:
            row = self._compute(call_id, now_ms)
            if row is None:
                del self._view[call_id]
            else:
                self._view[call_id] = row
        self._synced_ms = now_ms
        # The view's calls in each order lists are asked in; created order is always kept,
        # the others from their first use.
        self._indexes: dict[str, _Index] = {
            "createdAt": _Index(_PRIMARY["createdAt"], self._view.values())
        }
        # A call's 1.0 record JSON, by id, with the view row it was made from (served only
        # while that row is still the call's view).
        self.record_json: dict[int, tuple[CallRow, bytes]] = {}

        self._auth_lock = threading.Lock()
        self.client_id = CLIENT_ID
        self.client_secret = _derive(seed, "client-secret")
        self.full_token = _derive(seed, "full-token")
        self.read_token = _derive(seed, "read-token")
        self._tokens: dict[str, Token] = {
            self.full_token: Token(OWNER_USER_ID, frozenset(ALL_SCOPES), None),
            self.read_token: Token(OWNER_USER_ID, frozenset(READ_SCOPES), None),
        }
        self.refresh_token = _derive(seed, "refresh-token")
        self._refresh: dict[str, RefreshGrant] = {
            self.refresh_token: RefreshGrant(
                "initial", OWNER_USER_ID, frozenset(ALL_SCOPES),
                self.clock.time() + REFRESH_TOKEN_TTL_S,
            )
        }
        # None: spent. Consents are the ids of consent pages not yet answered.
        self._codes: dict[str, PendingGrant | None] = {}
        self._consents: dict[str, PendingGrant] = {}
        self._last_mint: dict[str, float] = {}

        self._rate_lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

        self._fault_lock = threading.Lock()
        self._fault_rng = random.Random(fault_seed)
        self._count_lock = threading.Lock()
        self.request_count = 0
        self._api_429s: Counter[int] = Counter()  # by the token's user
        self._token_429s = 0
        self._mints: Counter[str] = Counter()  # by grant type

    # ----- calls -----

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def _compute(self, call_id: int, now_ms: int) -> CallRow | None:
        """The call as it stands at now_ms, or None if it is deleted by then: its seeded or
        created row, its simulated later disposition (none and `updated` = created before
        that moment; set and `updated` = that moment from it), then the admin routes' edits
        (a field edited after the simulated change shows the edit; `updated` is the latest of
        all) and deletions."""
        base = self._base[call_id]
        change = self._changes.get(call_id)
        if change is not None and change.deleted_ms is not None:
            return None
        gone = self._deleted_at.get(call_id)
        if gone is not None and gone <= now_ms:
            return None
        disposition, note, updated = base.disposition_id, base.note, base.updated_ms
        set_at = None
        later = self._later.get(call_id)
        if later is not None:
            if later <= now_ms:
                updated = set_at = later
            else:
                disposition, updated = None, base.created_ms
        if change is not None:
            if change.disposition_set and (set_at is None or change.disposition_ms >= set_at):
                disposition = change.disposition_id
            if change.note_set:
                note = change.note
            updated = max(updated, change.updated_ms)
        if (disposition, note, updated) == (base.disposition_id, base.note, base.updated_ms):
            return base
        return CallRow(*base[:7], disposition, base.prospect_id, note, updated)

    def _revise(self, call_id: int, now_ms: int) -> None:
        """Bring one call's view (and its place in every index) to now_ms."""
        old = self._view.get(call_id)
        new = self._compute(call_id, now_ms)
        if old is new or (old is not None and old == new):
            return
        for index in self._indexes.values():
            old_key = None if old is None else index.key(old)
            new_key = None if new is None else index.key(new)
            if old_key != new_key:
                if old is not None:
                    index.remove(old.user_id, old_key)
                if new is not None and new_key is not None:
                    index.add(new.user_id, new_key)
        if new is None:
            self._view.pop(call_id, None)
        else:
            self._view[call_id] = new

    def _sync(self, now_ms: int) -> None:
        """The view as of now_ms: only the calls with a simulated change between the last
        sync and now_ms (either way: tests put the clock back) are looked at again."""
        if now_ms == self._synced_ms:
            return
        low, high = sorted((self._synced_ms, now_ms))
        events = self._events
        first = bisect_right(events, (low, math.inf))
        last = bisect_right(events, (high, math.inf))
        for _, call_id in events[first:last]:
            self._revise(call_id, now_ms)
        self._synced_ms = now_ms

    def _index(self, field: str) -> _Index:
        index = self._indexes.get(field)
        if index is None:
            index = self._indexes[field] = _Index(_PRIMARY[field], self._view.values())
        return index

    def list_calls(
        self, user_id: int | Collection[int] | None, after_ms: int | None,
        before_ms: int | None, offset: int, limit: int,
    ) -> tuple[list[CallRow], int]:
        """One page of calls with after <= created < before, of one user, of some (in created
        order across them) or of all (None), and how many match in total, as of now."""
        if user_id is not None and not isinstance(user_id, int) and len(user_id) == 1:
            user_id = next(iter(user_id))
        with self._calls_lock:
            self._sync(self._now_ms())
            index, view = self._indexes["createdAt"], self._view
            if user_id is None or isinstance(user_id, int):
                keys = index.all if user_id is None else index.by_user.get(user_id, [])
                lo, hi = _span(keys, after_ms, before_ms)
                page = keys[lo + offset : min(hi, lo + offset + limit)] if offset < hi - lo \
                    else []
                return [view[key[1]] for key in page], hi - lo
            spans = []
            for uid in set(user_id):
                keys = index.by_user.get(uid, [])
                lo, hi = _span(keys, after_ms, before_ms)
                spans.append(keys[lo:hi])
            merged = list(heapq.merge(*spans))
            return [view[key[1]] for key in merged[offset : offset + limit]], len(merged)

    def query_calls(
        self, users: Collection[int] | None, created: tuple[int | None, int | None],
        updated: tuple[int | None, int | None], sort: str = "createdAt",
        descending: bool = False, after: tuple[int, int] | None = None, limit: int = 50,
    ) -> tuple[list[CallRow], bool]:
        """v2's list as of now: calls of those users (None: all) with created and updated in
        the half-open [low, high) ranges (None: unbounded), in `sort` order ("createdAt",
        "updatedAt" or "id", then id; `descending` reverses both), strictly after the key
        (sort value, id) `after`; at most `limit` of them, and whether more follow.

        Scans the sort's index over the range the filters allow, narrowed by what holds for
        every call the admin routes did not change (created <= updated < created +
        MAX_CHANGE_LAG_MS; a seeded id's UTC day is id // block); changed calls are checked
        one by one and merged in."""
        with self._calls_lock:
            self._sync(self._now_ms())
            index = self._index(sort)
            view, changed = self._view, self._changes
            c_low, c_high = created
            u_low, u_high = updated

            def keep(row: CallRow) -> bool:
                return ((c_low is None or row.created_ms >= c_low)
                        and (c_high is None or row.created_ms < c_high)
                        and (u_low is None or row.updated_ms >= u_low)
                        and (u_high is None or row.updated_ms < u_high))

            segments = self._segments(sort, created, updated)
            wanted = None if users is None else set(users)
            lists = [index.all] if wanted is None else [index.by_user.get(u, []) for u in wanted]
            streams: list[Iterator[tuple[tuple[int, int], CallRow]]] = [
                _scan(keys, segments, after, descending, changed, view, keep) for keys in lists
            ]
            if changed:
                extra = []
                for call_id in changed:
                    row = view.get(call_id)
                    if row is None or (wanted is not None and row.user_id not in wanted) \
                            or not keep(row):
                        continue
                    key = index.key(row)
                    if after is not None and (key >= after if descending else key <= after):
                        continue
                    extra.append((key, row))
                extra.sort(reverse=descending)
                streams.append(iter(extra))
            merged = streams[0] if len(streams) == 1 else heapq.merge(*streams,
                                                                      reverse=descending)
            page = [row for _, row in islice(merged, limit + 1)]
        return page[:limit], len(page) > limit

    def _segments(self, sort: str, created: tuple[int | None, int | None],
                  updated: tuple[int | None, int | None]) -> list[tuple[int | None, int | None]]:
        """The [low, high) ranges of the sort value an unchanged call of the query can have,
        in ascending order."""
        (c_low, c_high), (u_low, u_high) = created, updated
        lag = MAX_CHANGE_LAG_MS
        if sort == "updatedAt":
            return [(_bound(max, u_low, c_low),
                     _bound(min, u_high, None if c_high is None else c_high + lag))]
        low = _bound(max, c_low, None if u_low is None else u_low - lag)
        high = _bound(min, c_high, u_high)
        if sort == "createdAt":
            return [(low, high)]
        # By id: seeded ids by their UTC day; created calls' ids (CREATED_ID_FLOOR up) all.
        if (low is None and high is None) or self._seeded_top >= CREATED_ID_FLOOR:
            return [(None, None)]
        block = self._block
        first = None if low is None else (low // DAY_MS - ORIGIN_DAY) * block
        last = CREATED_ID_FLOOR if high is None else min(
            CREATED_ID_FLOOR, ((high - 1) // DAY_MS - ORIGIN_DAY + 1) * block)
        if first is not None:
            last = max(first, last)
        return [(first, last), (CREATED_ID_FLOOR, None)]

    def get_call(self, call_id: int) -> CallRow | None:
        """The call as of now; None if there is no such call or it is deleted."""
        with self._calls_lock:
            self._sync(self._now_ms())
            return self._view.get(call_id)

    def all_calls(self) -> list[CallRow]:
        """Every call as of now, in created order (then id)."""
        with self._calls_lock:
            self._sync(self._now_ms())
            view = self._view
            return [view[key[1]] for key in self._indexes["createdAt"].all]

    def call_count(self) -> int:
        with self._calls_lock:
            self._sync(self._now_ms())
            return len(self._view)

    def create_call(
        self, user_id: int, outbound: bool, from_number: str | None, to_number: str | None,
        purpose_id: int | None, disposition_id: int | None, prospect_id: int | None,
        note: str | None,
    ) -> CallRow:
        now_ms = self._now_ms()
        with self._calls_lock:
            row = CallRow(now_ms, self._next_id, user_id, outbound, from_number, to_number,
                          purpose_id, disposition_id, prospect_id, note, now_ms)
            # Persist first: a call the API confirmed must still be there after a restart.
            self._store.add(row)
            self._next_id += 1
            self._base[row.id] = row
            self._view[row.id] = row
            for index in self._indexes.values():
                index.add(row.user_id, index.key(row))
        return row

    def check_changes(self, changes: object) -> dict:
        """An admin edit's fields, checked: a non-empty object of `disposition_id` (a known
        disposition's id or None) and/or `note` (text of up to MAX_NOTE characters or None);
        ValueError otherwise."""
        if not isinstance(changes, dict) or not changes:
            raise ValueError("give disposition_id, note or both")
        unknown = sorted(set(changes) - {"disposition_id", "note"})
        if unknown:
            raise ValueError(f"unknown field {unknown[0]}; only disposition_id and note")
        if "disposition_id" in changes:
            value = changes["disposition_id"]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError("disposition_id must be a whole number or null")
            if value is not None and value not in self.disposition_ids:
                raise ValueError(f"no disposition has the id {value}")
        if "note" in changes:
            value = changes["note"]
            if value is not None and not isinstance(value, str):
                raise ValueError("note must be text or null")
            if value is not None and len(value) > MAX_NOTE:
                raise ValueError(f"note must be at most {MAX_NOTE} characters")
        return dict(changes)

    def edit_call(self, call_id: int, changes: object) -> CallRow:
        """Set a call's disposition and/or note (check_changes) and bump its `updated` to now
        (never below what it was), even if nothing else changes; persisted. KeyError if the
        call does not exist or is deleted. Returns the call's view."""
        fields = self.check_changes(changes)
        with self._calls_lock:
            now_ms = self._now_ms()
            self._sync(now_ms)
            row = self._view.get(call_id)
            if row is None:
                raise KeyError(call_id)
            stamp = max(now_ms, row.updated_ms)
            old = self._changes.get(call_id)
            change = replace(old, updated_ms=stamp) if old else CallChange(updated_ms=stamp)
            if "disposition_id" in fields:
                change.disposition_set = True
                change.disposition_id = fields["disposition_id"]
                change.disposition_ms = stamp
            if "note" in fields:
                change.note_set, change.note = True, fields["note"]
            self._store.save_change(call_id, change)
            self._changes[call_id] = change
            self._revise(call_id, now_ms)
            return self._view[call_id]

    def delete_call(self, call_id: int) -> bool:
        """Delete a call (persisted); False if it does not exist or is deleted already."""
        with self._calls_lock:
            now_ms = self._now_ms()
            self._sync(now_ms)
            if call_id not in self._view:
                return False
            old = self._changes.get(call_id)
            change = replace(old) if old else CallChange(updated_ms=0)
            change.deleted_ms = now_ms
            self._store.save_change(call_id, change)
            self._changes[call_id] = change
            self._revise(call_id, now_ms)
            return True

    # ----- tokens -----

    def lookup_token(self, token: str) -> Token | None:
        """The token if it is known, not revoked and not expired."""
        with self._auth_lock:
            info = self._tokens.get(token)
        if info is None or info.revoked:
            return None
        if info.expires_at is not None and self.clock.time() >= info.expires_at:
            return None
        return info

    def issue_token(self, scopes: list[str] | tuple[str, ...], ttl: int,
                    user_id: int = OWNER_USER_ID) -> str:
        token = secrets.token_urlsafe(30)
        with self._auth_lock:
            self._tokens[token] = Token(user_id, as_v1_scopes(scopes), self.clock.time() + ttl)
        return token

    def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token; False if it is not one the sandbox knows."""
        with self._auth_lock:
            if token in self._tokens:
                self._tokens[token].revoked = True
                return True
            if token in self._refresh:
                self._refresh[token].revoked = True
                return True
        return False

    def redirect_allowed(self, uri: str) -> bool:
        """One of the app's registered redirect URIs, or any loopback one if none are."""
        return redirect_allowed(uri, self.redirect_uris)

    def _pending(self, scopes: Iterable[str] | None, user_id: int, redirect_uri: str | None,
                 state: str | None = None) -> PendingGrant:
        return PendingGrant(user_id, frozenset(scopes or ALL_SCOPES), redirect_uri,
                            self.clock.time() + CODE_TTL_S, state)

    def issue_code(self, scopes: Iterable[str] | None = None, user_id: int = OWNER_USER_ID,
                   redirect_uri: str | None = None) -> str:
        """A single-use authorization code, valid CODE_TTL_S on the sandbox's clock. With a
        redirect_uri, the exchange must name the same one."""
        code = secrets.token_urlsafe(16)
        with self._auth_lock:
            self._codes[code] = self._pending(scopes, user_id, redirect_uri)
        return code

    def begin_consent(self, scopes: Iterable[str], redirect_uri: str,
                      state: str | None) -> str:
        """The one-time id of a consent page the owner is shown (valid as long as a code)."""
        consent_id = secrets.token_urlsafe(16)
        with self._auth_lock:
            self._consents[consent_id] = self._pending(scopes, OWNER_USER_ID, redirect_uri,
                                                       state)
        return consent_id

    def end_consent(self, consent_id: str) -> PendingGrant | None:
        """The consent page's request, once: None if the id is unknown, used or expired."""
        with self._auth_lock:
            pending = self._consents.pop(consent_id, None)
        if pending is None or self.clock.time() >= pending.expires_at:
            return None
        return pending

    def _redirect_problem(self, uri: str | None, expected: str | None,
                          required: bool) -> str | None:
        """Why a token request's redirect_uri is refused, or None. A code given at authorize
        wants that same URI; any other carried URI must be allowed (redirect_allowed)."""
        if expected is not None:
            return None if uri == expected else "redirect_uri must be the authorize request's."
        if uri is None:
            return "redirect_uri is required." if required else None
        return None if self.redirect_allowed(uri) else "redirect_uri is not registered."

    def mint(self, form: dict[str, str]) -> MintResult:
        """The /oauth/token exchange: an authorization code or a refresh token for tokens."""
        if form.get("client_id") != self.client_id or not secrets.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            return _oauth_error(401, "invalid_client", "Unknown client or wrong secret.")
        grant_type = form.get("grant_type")
        now = self.clock.time()
        with self._auth_lock:
            grant: RefreshGrant | None = None
            if grant_type == "refresh_token":
                presented = form.get("refresh_token", "")
                grant = self._refresh.get(presented)
                if grant is not None and grant.used and not grant.revoked:
                    # As Outreach's OAuth server (Doorkeeper) answers a rotated-out token.
                    return _oauth_error(400, "invalid_grant",
                                        "This refresh token was already used; use the newest.")
                if grant is None or grant.revoked or now >= grant.expires_at:
                    return _oauth_error(401, "invalid_grant", "Unknown or expired refresh token.")
                problem = self._redirect_problem(form.get("redirect_uri"), None, False)
                family, user_id, scopes = grant.family, grant.user_id, grant.scopes
            elif grant_type == "authorization_code":
                code = form.get("code", "")
                if not code:
                    return _oauth_error(400, "invalid_request", "code is required.")
                entry = self._codes.get(code)
                if entry is None:
                    return _oauth_error(401, "invalid_grant", "Unknown or already used code.")
                # Single use: spent even if the rest of the exchange fails.
                self._codes[code] = None
                if now >= entry.expires_at:
                    return _oauth_error(401, "invalid_grant", "The code has expired.")
                problem = self._redirect_problem(form.get("redirect_uri"), entry.redirect_uri,
                                                 bool(self.redirect_uris))
                user_id, scopes = entry.user_id, entry.scopes
                family = secrets.token_hex(8)
            else:
                return _oauth_error(400, "unsupported_grant_type",
                                    "Use authorization_code or refresh_token.")
            if problem is not None:
                return _oauth_error(400, "invalid_grant", problem)
            last = self._last_mint.get(family)
            # 0 <=: a test that put the clock back must not be refused until it catches up.
            if last is not None and 0 <= now - last < self.config.mint_interval:
                with self._count_lock:
                    self._token_429s += 1
                return MintResult(
                    429, "Too many token requests; wait before minting another access token.",
                    plain_text=True,
                )
            self._last_mint[family] = now
            access = secrets.token_urlsafe(30)
            ttl = self.config.token_ttl
            self._tokens[access] = Token(user_id, as_v1_scopes(scopes), now + ttl)
            # A new refresh token every time. By default the presented one stays valid too
            # (the reference cannot say whether Outreach rotates, and a lenient sandbox suits
            # both client behaviours); with rotation on, it is spent now.
            refresh = secrets.token_urlsafe(30)
            self._refresh[refresh] = RefreshGrant(family, user_id, scopes,
                                                  now + REFRESH_TOKEN_TTL_S)
            if grant is not None and self.rotate_refresh_tokens:
                grant.used = True
            with self._count_lock:
                self._mints[grant_type] += 1
        return MintResult(200, {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
            # As granted, names the sandbox does not check (`profile`) included.
            "scope": " ".join([*(s for s in KNOWN_SCOPES if s in scopes),
                               *sorted(scopes - set(KNOWN_SCOPES))]),
            "created_at": int(now),
        })

    # ----- rate limits, faults, counters -----

    def take_request(self, token: str) -> RateStatus:
        """Count one request against the token's fixed hour window (429s are not counted)."""
        now = self.clock.time()
        limit = self.config.rate_limit
        with self._rate_lock:
            window = self._windows.get(token)
            if window is None or now >= window.start + RATE_WINDOW_S:
                window = self._windows[token] = _Window(now)
            ends = window.start + RATE_WINDOW_S
            reset = math.ceil(ends)
            if window.count >= limit:
                return RateStatus(False, limit, 0, reset, max(1, math.ceil(ends - now)))
            window.count += 1
            return RateStatus(True, limit, max(0, limit - window.count), reset)

    def rate_usage(self, token: str) -> int:
        with self._rate_lock:
            window = self._windows.get(token)
            return 0 if window is None else window.count

    def reset_rate_limits(self) -> None:
        with self._rate_lock:
            self._windows.clear()

    def roll_fault(self) -> str | None:
        """None for a normal answer, else the kind of fault to inject."""
        with self._fault_lock:
            if self.config.fault_rate <= 0 or self._fault_rng.random() >= self.config.fault_rate:
                return None
            return self._fault_rng.choices(
                ["500", "503", "502-html", "truncated"], weights=[3, 3, 2.5, 1.5]
            )[0]

    def count_request(self) -> None:
        with self._count_lock:
            self.request_count += 1

    def count_api_429(self, user_id: int) -> None:
        with self._count_lock:
            self._api_429s[user_id] += 1

    def reset_request_count(self) -> None:
        with self._count_lock:
            self.request_count = 0

    def reset_stats(self) -> None:
        """Zero the request count, the 429 counts and the mint counts."""
        with self._count_lock:
            self.request_count = 0
            self._api_429s.clear()
            self._token_429s = 0
            self._mints.clear()

    def stats(self) -> dict:
        """The counters tests read (GET /_sandbox/stats), with the settings."""
        with self._count_lock:
            counts = {
                "request_count": self.request_count,
                "api_429s": sum(self._api_429s.values()),
                # JSON object keys: the user ids as text.
                "api_429s_by_user": {str(user): n for user, n in sorted(self._api_429s.items())},
                "token_429s": self._token_429s,
                "mints": {kind: self._mints[kind]
                          for kind in ("authorization_code", "refresh_token")},
            }
        return {**counts, "calls": self.call_count(), "config": self.configure(),
                "oauth": {"redirect_uris": list(self.redirect_uris),
                          "rotate_refresh_tokens": self.rotate_refresh_tokens}}

    def configure(self, **changes: float | int | None) -> dict:
        for name, value in changes.items():
            if value is None:
                continue
            if not hasattr(self.config, name):
                raise ValueError(f"unknown setting {name}")
            if name == "fault_rate" and not 0 <= float(value) <= 1:
                raise ValueError("fault_rate must be between 0 and 1")
            if name in ("latency_ms", "rate_limit", "token_ttl") and int(value) < 0:
                raise ValueError(f"{name} must not be negative")
            kind = type(getattr(self.config, name))
            setattr(self.config, name, kind(value))
        return asdict(self.config)
