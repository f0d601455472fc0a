"""Reads through the store against the sandbox over loopback: the same calls as a plain
sequential read, stored windows not fetched again, expired ones fetched, open days always
fetched, calls created during a read neither lost nor doubled, and failures never partial.

Each test runs on API 1.0 and on v2 (the `api` fixture), where the source reads a UTC day per
query because a cursor cannot be read in parallel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import requests
from cryptography.fernet import Fernet

from lib.analytics.timerange import utc_bounds
from lib.clock import Clock
from lib.outreach import NewCall, StaticToken
from lib.outreach.errors import IncompleteRead, NotAuthorised
from lib.sandbox import start_sandbox
from lib.settings import DEFAULT_CACHE_DB, DEFAULT_MAX_WORKERS, Settings, SettingsError
from lib.store.callstore import CallStore, day_bounds
from lib.store.datasource import DataSource, MappingNotKept
from lib.store.opening import open_source, sync_policy
from lib.store.sync import SyncPolicy
from lib.store.tokens import NotConnected, TokenStore
from tests.api_versions import ALL_SCOPES, API_1_0, API_2, Api, own_token, refresh_token_for
from tests.conftest import NOW, no_sleep, pinned_now


def today() -> date:
    """The UTC date of the suite's pinned NOW (a Wednesday, 17:00): the sandbox's "today"."""
    return NOW.date()


def closed_range(first_ago: int = 12, last_ago: int = 3) -> tuple[datetime, datetime]:
    """Whole UTC days from `first_ago` to `last_ago` days before NOW's date, all within the
    pinned history: closed, since NOW is 17:00 and `last_ago` at least 1."""
    assert last_ago >= 1
    return day_bounds(today() - timedelta(days=first_ago))[0], \
        day_bounds(today() - timedelta(days=last_ago))[1]


class OffsetClock:
    """The data source's clock: the sandbox's clock plus an offset (how much later the source
    thinks it is), remembering each reading (a read's pin)."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self.offset = timedelta(0)
        self.readings: list[datetime] = []

    def __call__(self) -> datetime:
        self.readings.append(self.base() + self.offset)
        return self.readings[-1]


def make_source(sandbox, tmp_path, api: Api, token=None, *,
                identity: str | None = "test sandbox", workers: int = 4,
                client_options: dict | None = None,
                clock: Callable[[], datetime] | None = None, **options) -> DataSource:
    """A source over the sandbox whose client is on the sandbox's clock, and the source itself
    on `clock` (default: the sandbox's too), so that which days are closed and open, and where
    a read is pinned, is decided from NOW, never from the wall clock."""
    client = api.client(sandbox.base_url, StaticToken(token or sandbox.full_token),
                        sleep=no_sleep, max_workers=workers, clock=sandbox.clock.now,
                        **(client_options or {}))
    return DataSource(client, demo=False, description="the test sandbox",
                      store=CallStore(tmp_path / "calls.sqlite"), store_identity=identity,
                      clock=clock or sandbox.clock.now, **options)


def covered(source: DataSource) -> int:
    """How many (user scope, UTC day)s the source's store holds complete."""
    return len(source.store.covered_days(source.store_identity))


def sequential(sandbox, api: Api, after, before, users=None):
    """The reference result: the plain client reading one page at a time, without a store."""
    with api.client(sandbox.base_url, StaticToken(sandbox.full_token), sleep=no_sleep,
                    max_workers=1, clock=sandbox.clock.now) as client:
        return client.list_calls(after, before, users)


def fetch_cost(sandbox, api: Api, after, before, users=None) -> int:
    """The requests a source makes to fetch [after, before) of `users` (None: all) that it does
    not hold: on 1.0 one query for the whole run for each user (one user a filter), on v2 one
    query a UTC day for all of them (a list filter)."""
    if api.dialect.pages_in_parallel:
        return sum(api.pages(len(api.expected(sandbox, after, before,
                                              None if user is None else {user})))
                   for user in (users or [None]))
    days = (before - timedelta(microseconds=1)).date() - after.date()
    spans = [(max(after, day_bounds(after.date() + timedelta(days=n))[0]),
              min(before, day_bounds(after.date() + timedelta(days=n))[1]))
             for n in range(days.days + 1)]
    return sum(api.pages(len(api.expected(sandbox, start, end, set(users) if users else None)))
               for start, end in spans)


# ----- the same calls as a sequential read -----


def test_cold_and_warm_reads_equal_the_sequential_read(sandbox, tmp_path, api):
    # Partial days at both ends: closed days are fetched whole and stored, then trimmed.
    start, end = closed_range()
    after, before = start + timedelta(hours=5, minutes=17), end - timedelta(hours=7, seconds=3)
    want = sequential(sandbox, api, after, before)
    assert len(want) > 500 and want.equals(api.expected(sandbox, after, before))

    source = make_source(sandbox, tmp_path, api)
    progress: list[tuple[int, int]] = []
    cold = source.list_calls(after, before, on_progress=lambda d, k: progress.append((d, k)))
    assert cold.equals(want)
    assert progress and progress[-1][0] == progress[-1][1]  # pages done out of pages known
    assert covered(source) == 10  # every whole UTC day touched, partial ones too

    sandbox.reset_request_count()
    assert source.list_calls(after, before).equals(want)
    # A new process: a new source on the same file.
    assert make_source(sandbox, tmp_path, api).list_calls(after, before).equals(want)
    assert sandbox.request_count == 0


def test_local_time_zone_ranges_are_trimmed_exactly(sandbox, tmp_path, api):
    source = make_source(sandbox, tmp_path, api)
    first = today() - timedelta(days=9)
    # A wide warm-up read stores whole UTC days; narrower local ranges are cut from them.
    source.list_calls(*closed_range(10, 2))
    for tz in ("America/New_York", "Asia/Kolkata", "Pacific/Auckland"):
        after, before = utc_bounds(first, first + timedelta(days=3), tz)
        everyone = sequential(sandbox, api, after, before)
        rep = sequential(sandbox, api, after, before, [3])
        assert len(rep) > 0 and len(everyone) > len(rep)
        sandbox.reset_request_count()
        assert source.list_calls(after, before).equals(everyone)
        assert source.list_calls(after, before, [3]).equals(rep)
        assert sandbox.request_count == 0


def test_a_read_of_some_users_is_served_from_every_user_windows(sandbox, tmp_path, api):
    after, before = closed_range()
    source = make_source(sandbox, tmp_path, api)
    source.list_calls(after, before)
    sandbox.reset_request_count()
    frame = source.list_calls(after, before, user_ids=[4, 2, 4])
    assert sandbox.request_count == 0
    want = api.expected(sandbox, after, before, users={2, 4})
    assert len(want) > 0 and frame.equals(want)


def test_a_read_without_calls_has_the_versions_columns_cold_and_warm(sandbox, tmp_path, api):
    after, before = closed_range(6, 4)
    source = make_source(sandbox, tmp_path, api)
    nobody = 987654  # no such user: every day is read, and stored, empty
    for read in ("cold", "warm"):
        sandbox.reset_request_count()
        frame = source.list_calls(after, before, [nobody])
        assert frame.empty and frame.equals(api.expected(sandbox, after, before, {nobody}))
        assert (sandbox.request_count > 0) == (read == "cold")
    assert source.list_calls(before, before).equals(api.expected(sandbox, before, before))


def test_per_user_windows_are_stored_per_user(sandbox, tmp_path, api):
    after, before = closed_range()
    source = make_source(sandbox, tmp_path, api)
    assert len(api.expected(sandbox, after, before, {2})) > 0
    assert len(api.expected(sandbox, after, before, {3})) > 0
    assert source.list_calls(after, before, [2]).equals(
        api.expected(sandbox, after, before, {2}))

    sandbox.reset_request_count()
    assert source.list_calls(after, before, [2]).equals(
        api.expected(sandbox, after, before, {2}))
    assert sandbox.request_count == 0

    both = source.list_calls(after, before, [2, 3])  # user 3 is fetched, user 2 is not
    assert both.equals(api.expected(sandbox, after, before, {2, 3}))
    assert sandbox.request_count == fetch_cost(sandbox, api, after, before, [3])

    sandbox.reset_request_count()
    everyone = source.list_calls(after, before)  # per-user windows cannot answer "everyone"
    assert everyone.equals(api.expected(sandbox, after, before))
    assert sandbox.request_count > 0


def test_a_cold_read_costs_no_more_requests_than_a_plain_walk(sandbox, tmp_path, api):
    after, before = closed_range(20, 1)
    sandbox.reset_request_count()
    sequential(sandbox, api, after, before)
    walk = sandbox.request_count

    sandbox.reset_request_count()
    make_source(sandbox, tmp_path, api).list_calls(after, before)
    # v2 reads a day a query, each ending in a partly filled page: at most one more a day.
    extra = 0 if api.dialect.pages_in_parallel else (before - after).days
    assert sandbox.request_count <= walk + extra


def test_a_read_of_chosen_reps_costs_a_query_a_day_on_v2_and_a_query_a_rep_on_1_0(
        sandbox, tmp_path, api):
    reps = [2, 3, 4, 5, 6]  # every rep of the pinned history, chosen one by one
    after, before = closed_range(30, 1)  # 30 closed days
    source = make_source(sandbox, tmp_path, api)
    sandbox.reset_request_count()
    frame = source.list_calls(after, before, reps)
    assert frame.equals(api.expected(sandbox, after, before, set(reps)))
    cost = sandbox.request_count
    assert cost == fetch_cost(sandbox, api, after, before, reps)
    if api.dialect.pages_in_parallel:
        # 1.0 filters by one user: a query (of 50-call pages) a rep, as before.
        assert cost == sum(fetch_cost(sandbox, api, after, before, [rep]) for rep in reps)
    else:
        # v2: the five reps' day is one query with filter[user][id]=2,3,4,5,6, one page a day
        # (not five): 30 requests, where a query a rep and day took 150.
        assert cost == (before - after).days == 30
    # The rows were split per rep and stored per rep: each rep alone is read from the store.
    for rep in reps:
        sandbox.reset_request_count()
        assert source.list_calls(after, before, [rep]).equals(
            api.expected(sandbox, after, before, {rep}))
        assert sandbox.request_count == 0


# ----- today, and the calls Callboard logs -----


def test_today_is_as_fresh_as_the_last_sync_and_a_logged_call_shows_at_once(
        sandbox, tmp_path, api):
    clock = OffsetClock(sandbox.clock.now)
    source = make_source(sandbox, tmp_path, api, clock=clock,
                         policy=SyncPolicy(every=timedelta(minutes=5)))
    after = day_bounds(today() - timedelta(days=3))[0]
    first = source.read_calls(after, None)
    assert len(first.calls) > 0 and first.complete
    assert first.calls.equals(api.expected(sandbox, after, clock.readings[-1]))
    assert first.synced_at == clock.readings[-1]  # the read pins its end, then syncs

    # Logged through Callboard: in the store at once, without a read.
    mine = source.create_call(NewCall(outbound=True, note="logged just now"))
    # Logged elsewhere (another tool): shown from the next sync on, not before.
    elsewhere = source.client.create_call(NewCall(outbound=False, note="logged elsewhere"))
    sandbox.reset_request_count()
    clock.offset = timedelta(minutes=4)
    warm = source.read_calls(after, None)
    assert sandbox.request_count == 0 and warm.synced_at == first.synced_at
    assert mine["id"] in set(warm.calls["id"]) and elsewhere["id"] not in set(warm.calls["id"])

    clock.offset = timedelta(minutes=6)  # older than the policy allows: synced first
    synced = source.read_calls(after, None)
    assert synced.synced_at == clock.readings[-1] and sandbox.request_count > 0
    assert synced.calls.equals(api.expected(sandbox, after, clock.readings[-1]))
    assert list(synced.calls["id"]).count(mine["id"]) == 1
    assert elsewhere["id"] in set(synced.calls["id"])


@pytest.mark.parametrize("stored", [True, False], ids=["with store", "without store"])
def test_calls_created_during_a_read_are_neither_lost_nor_doubled(sandbox, tmp_path, stored, api):
    clock = OffsetClock(sandbox.clock.now)
    # Small pages on v2 too, so that the read has a third page to log calls during.
    # Synced at every read, so the calls logged elsewhere meanwhile show at the next one.
    source = make_source(sandbox, tmp_path, api, clock=clock, workers=2,
                         client_options=api.pages_of_50, policy=SyncPolicy(every=timedelta(0)))
    if not stored:
        source.store = None
    after = day_bounds(today() - timedelta(days=3))[0]
    created: list[int] = []

    def log_calls_meanwhile(done: int, known: int) -> None:
        if done in (1, 3):
            for n in range(3):
                created.append(source.client.create_call(
                    NewCall(outbound=bool(n % 2), note=f"during read {done}.{n}"))["id"])

    during = source.list_calls(after, None, on_progress=log_calls_meanwhile)
    pinned = clock.readings[-1]
    assert len(created) == 6
    assert len(during) > 0 and during["id"].is_unique
    assert during.equals(api.expected(sandbox, after, pinned))  # as of the read's start
    assert not set(created) & set(during["id"])

    after_read = source.list_calls(after, None)
    assert after_read["id"].is_unique
    assert after_read.equals(api.expected(sandbox, after, clock.readings[-1]))
    assert set(created) <= set(after_read["id"])


# ----- failures, clearing, identity, secrets -----


def test_a_failure_part_way_raises_and_stores_nothing(sandbox, tmp_path, api):
    after, before = closed_range(14, 3)
    token = own_token(sandbox, ALL_SCOPES)
    source = make_source(sandbox, tmp_path, api, token, workers=2)

    def revoke_after_first_page(done: int, known: int) -> None:
        if done == 1:
            sandbox.revoke(token)

    with pytest.raises(IncompleteRead) as info:
        source.list_calls(after, before, on_progress=revoke_after_first_page)
    assert isinstance(info.value.cause, NotAuthorised)
    assert covered(source) == 0 and source.store.call_count() == 0


def test_a_failure_after_stored_days_is_still_an_error(sandbox, tmp_path, api):
    # Some days are stored; the rest fail part way: the answer is an error, not the stored part.
    token = own_token(sandbox, ALL_SCOPES)
    source = make_source(sandbox, tmp_path, api, token, workers=2)
    source.list_calls(*closed_range(6, 3))
    stored = covered(source)

    def revoke_after_first_page(done: int, known: int) -> None:
        if done == 1:
            sandbox.revoke(token)

    with pytest.raises(IncompleteRead):
        source.list_calls(*closed_range(20, 3), on_progress=revoke_after_first_page)
    assert covered(source) == stored


def test_clear_cache_makes_the_next_read_fetch_everything(sandbox, tmp_path, api):
    after, before = closed_range(5, 3)
    source = make_source(sandbox, tmp_path, api)
    want = source.list_calls(after, before)
    assert len(want) > 0
    source.clear_cache()
    assert covered(source) == 0 and source.store.call_count() == 0
    sandbox.reset_request_count()
    assert source.list_calls(after, before).equals(want)
    assert sandbox.request_count == fetch_cost(sandbox, api, after, before)


@pytest.mark.parametrize("figures_only", [False, True], ids=["every column", "figures"])
def test_a_full_reload_in_another_replica_mid_read_never_shows_an_empty_range(
        sandbox, tmp_path, api, figures_only):
    after, before = closed_range(5, 3)
    source = make_source(sandbox, tmp_path, api)
    want = source.read_calls(after, before, figures_only=figures_only).calls
    assert len(want) > 0
    # Another replica on the same store (a process of its own) clears this sign-in's calls
    # just after this read found the days stored, before it loads them.
    other = CallStore(tmp_path / "calls.sqlite")
    name = "load_facts" if figures_only else "load"
    real = getattr(source.store, name)
    cleared = []

    def load_after_a_full_reload(*args, **kwargs):
        if not cleared:
            other.clear(source.store_identity)
            cleared.append(True)
        return real(*args, **kwargs)

    setattr(source.store, name, load_after_a_full_reload)
    read = source.read_calls(after, before, figures_only=figures_only)
    assert cleared and read.complete
    pd.testing.assert_frame_equal(read.calls, want)  # read again, never shown empty
    other.close()


@pytest.mark.parametrize("api", [API_1_0], ids=["v1.0"])  # v2 has no "who am I" route
def test_whose_calls_comes_from_the_api_and_keeps_sign_ins_apart(sandbox, tmp_path, api):
    after, before = closed_range(5, 3)
    source = make_source(sandbox, tmp_path, api, identity=None)
    source.list_calls(after, before)
    # The org and the token's user (from /1.0/info, read here by the test itself) and the API
    # version: user ids repeat across orgs.
    meta = requests.get(f"{sandbox.base_url}/1.0/info", timeout=10, headers={
        "Authorization": f"Bearer {sandbox.full_token}"}).json()["meta"]
    org = (meta.get("org") or {}).get("id", "?")
    assert source.store_identity == \
        f"{sandbox.base_url} org {org} user 1 {meta['user']['email']} api=1.0"

    sandbox.reset_request_count()
    other = make_source(sandbox, tmp_path, api, identity="someone else's org")
    other.list_calls(after, before)
    assert sandbox.request_count > 0  # nothing of the first sign-in was served


@pytest.mark.parametrize("api", [API_1_0], ids=["v1.0"])  # v2: see test_the_v2_store_...
def test_the_store_file_holds_no_token(sandbox, tmp_path, api):
    source = make_source(sandbox, tmp_path, api, identity=None)
    source.list_calls(*closed_range(4, 3))
    files = list(tmp_path.iterdir())
    assert files
    for path in files:
        data = path.read_bytes()
        assert sandbox.full_token.encode() not in data
        assert sandbox.read_token.encode() not in data


def test_the_v2_store_is_keyed_by_a_hash_of_the_credential_and_holds_no_token(sandbox, tmp_path):
    def source_for(token: str) -> DataSource:
        return open_source(Settings.from_mapping({
            "OUTREACH_API_BASE": sandbox.base_url, "OUTREACH_ACCESS_TOKEN": token,
            "OUTREACH_API_VERSION": "2", "CALLBOARD_CACHE_DB": str(tmp_path / "calls.sqlite"),
            "CALLBOARD_NOW": pinned_now(sandbox)}))  # the source on the sandbox's clock

    after, before = closed_range(5, 3)
    first = source_for(sandbox.full_token)
    want = API_2.expected(sandbox, after, before)
    assert len(want) > 0 and first.list_calls(after, before).equals(want)
    assert first.store_identity.startswith(f"{sandbox.base_url} v2 ")
    assert sandbox.full_token not in first.store_identity

    sandbox.reset_request_count()
    other = source_for(own_token(sandbox))  # another sign-in: nothing of the first is served
    other.list_calls(after, before)
    assert sandbox.request_count > 0 and other.store_identity != first.store_identity
    for path in tmp_path.iterdir():
        assert sandbox.full_token.encode() not in path.read_bytes()


def test_two_users_of_one_oauth_app_never_share_a_v2_store(sandbox, tmp_path):
    # One OAuth app (client id) serves many users, possibly of different organisations.
    def source_for(user_id: int) -> DataSource:
        grant = refresh_token_for(sandbox, ["calls.read", "users.read"], user_id)
        return open_source(Settings.from_mapping({
            "OUTREACH_API_BASE": sandbox.base_url, "OUTREACH_CLIENT_ID": sandbox.client_id,
            "OUTREACH_CLIENT_SECRET": sandbox.client_secret,
            "OUTREACH_REFRESH_TOKEN": grant["refresh_token"],
            "CALLBOARD_CACHE_DB": str(tmp_path / "calls.sqlite"),
            "CALLBOARD_NOW": pinned_now(sandbox)}))  # the source on the sandbox's clock

    after, before = closed_range(5, 3)
    first = source_for(1)
    assert first.client.dialect == API_2.dialect
    assert len(first.list_calls(after, before)) > 0
    sandbox.reset_request_count()
    first.list_calls(after, before)
    assert sandbox.request_count == 0  # stored: the next read is served from the store

    second = source_for(2)
    assert second.store_identity != first.store_identity
    assert sandbox.client_secret not in second.store_identity
    second.list_calls(after, before)
    assert sandbox.request_count > 0  # read from the API, not from the first user's store
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert sandbox.client_secret.encode() not in data


# ----- settings and open_source -----


def test_store_settings():
    default = Settings.from_mapping({})
    assert default.cache_db == DEFAULT_CACHE_DB and default.max_workers == DEFAULT_MAX_WORKERS
    assert sync_policy(default) == SyncPolicy(every=timedelta(minutes=5), trailing_days=3,
                                              reread_after=timedelta(days=7))
    tuned = Settings.from_mapping({"CALLBOARD_CACHE_DB": "/tmp/x.sqlite",
                                   "CALLBOARD_SYNC_EVERY_MINUTES": "0.5",
                                   "CALLBOARD_SYNC_TRAILING_DAYS": "5",
                                   "CALLBOARD_SYNC_REREAD_DAYS": "2",
                                   "CALLBOARD_MAX_WORKERS": "3"})
    assert (tuned.cache_db, tuned.max_workers) == ("/tmp/x.sqlite", 3)
    assert sync_policy(tuned) == SyncPolicy(every=timedelta(seconds=30), trailing_days=5,
                                            reread_after=timedelta(days=2))
    assert Settings.from_mapping({"CALLBOARD_CACHE_DB": "off"}).cache_db is None
    assert default.quota_share == 0.5
    assert Settings.from_mapping({"CALLBOARD_QUOTA_SHARE": "0.25"}).quota_share == 0.25
    for key, value in (("CALLBOARD_MAX_WORKERS", "0"), ("CALLBOARD_MAX_WORKERS", "many"),
                       ("CALLBOARD_SYNC_EVERY_MINUTES", "-1"),
                       ("CALLBOARD_SYNC_EVERY_MINUTES", "soon"),
                       ("CALLBOARD_SYNC_TRAILING_DAYS", "0"),
                       ("CALLBOARD_SYNC_TRAILING_DAYS", "2.5"),
                       ("CALLBOARD_SYNC_REREAD_DAYS", "0"),
                       ("CALLBOARD_QUOTA_SHARE", "0"), ("CALLBOARD_QUOTA_SHARE", "1.5"),
                       ("CALLBOARD_QUOTA_SHARE", "half")):
        with pytest.raises(SettingsError, match=key):
            Settings.from_mapping({key: value})


def test_open_source_in_demo_mode_stores_under_the_sandbox_identity(tmp_path, api):
    # CALLBOARD_NOW pins the source and the sandbox it starts to NOW: 8 days of history, from
    # Tue Nov 10 17:00, so that closed_range(6, 3) (Thu Nov 12 to Sun Nov 15) has calls.
    settings = Settings.from_mapping({"CALLBOARD_SANDBOX_DB": str(tmp_path / "sandbox.sqlite"),
                                      "CALLBOARD_CACHE_DB": str(tmp_path / "store" / "c.sqlite"),
                                      "CALLBOARD_MAX_WORKERS": "3",
                                      "CALLBOARD_QUOTA_SHARE": "0.25",
                                      "OUTREACH_API_VERSION": api.version,
                                      "CALLBOARD_NOW": NOW.isoformat()})
    source = open_source(settings, seed=3, reps=2, days=8, mint_interval=0)
    try:
        assert source.demo and source.client.max_workers == 3
        assert source.client.quota.share == 0.25
        assert source.client.dialect == api.dialect
        assert source.store_identity.startswith("sandbox seed=3 reps=2 days=8")
        assert source.store_identity.endswith(f"api={api.version}")
        after, before = closed_range(6, 3)
        frame = source.list_calls(after, before)
        assert len(frame) > 0 and frame.equals(api.expected(source.sandbox, after, before))
        assert (tmp_path / "store" / "c.sqlite").exists()
    finally:
        source.close()

    off = Settings.from_mapping({"CALLBOARD_SANDBOX_DB": str(tmp_path / "sandbox.sqlite"),
                                 "CALLBOARD_CACHE_DB": "off",
                                 "OUTREACH_API_VERSION": api.version,
                                 "CALLBOARD_NOW": NOW.isoformat()})
    source = open_source(off, seed=3, reps=2, days=8, mint_interval=0)
    try:
        assert source.store is None
        after, before = closed_range(6, 3)
        want = api.expected(source.sandbox, after, before)
        assert len(want) > 0 and source.list_calls(after, before).equals(want)
    finally:
        source.close()


def test_a_shared_postgresql_store_serves_a_second_process(tmp_path, postgres):
    # CALLBOARD_DATABASE_URL: the store on PostgreSQL. A second source (another replica, or
    # the CLI) on the same database reads what the first stored without asking the API.
    url = postgres.create_database("shared_store")
    settings = Settings.from_mapping({"CALLBOARD_SANDBOX_DB": str(tmp_path / "sandbox.sqlite"),
                                      "CALLBOARD_DATABASE_URL": url,
                                      "CALLBOARD_CACHE_DB": "off",  # the URL wins
                                      "CALLBOARD_NOW": NOW.isoformat()})
    first = open_source(settings, seed=3, reps=2, days=8, mint_interval=0)
    try:
        assert not first.store.is_sqlite and "shared_store" in first.store.where
        after, before = closed_range(6, 3)
        want = API_1_0.expected(first.sandbox, after, before)
        assert len(want) > 0 and first.list_calls(after, before).equals(want)
        second = DataSource(first.client, demo=True, description="a second replica",
                            store=CallStore(url), store_identity=first.store_identity,
                            clock=first.clock)
        first.sandbox.reset_request_count()
        assert second.list_calls(after, before).equals(want)
        assert first.sandbox.request_count == 0
    finally:
        first.close()


def test_the_database_url_setting_is_checked_without_showing_it():
    assert Settings.from_mapping({}).database_url is None
    url = "postgresql+psycopg://callboard:s3cret@db.internal/callboard"
    assert Settings.from_mapping({"CALLBOARD_DATABASE_URL": url}).database_url == url
    assert "s3cret" not in repr(Settings.from_mapping({"CALLBOARD_DATABASE_URL": url}))
    with pytest.raises(SettingsError, match="CALLBOARD_DATABASE_URL") as info:
        Settings.from_mapping({"CALLBOARD_DATABASE_URL": "mysql://root:s3cret@db/x"})
    assert "s3cret" not in str(info.value)


# ----- OAuth tokens across restarts (lib/store/tokens.py) -----

REDIRECT_URI = "http://127.0.0.1:8501/connect"


def oauth_settings(box, tmp_path, key: str, **extra: str) -> Settings:
    """An OAuth app of `box` with its initial refresh token, a token store under tmp_path, and
    the source on the sandbox's clock."""
    return Settings.from_mapping({
        "OUTREACH_API_BASE": box.base_url, "OUTREACH_CLIENT_ID": box.client_id,
        "OUTREACH_CLIENT_SECRET": box.client_secret, "OUTREACH_REFRESH_TOKEN": box.refresh_token,
        "OUTREACH_REDIRECT_URI": REDIRECT_URI, "CALLBOARD_SECRET_KEY": key,
        "CALLBOARD_TOKEN_DB": str(tmp_path / "tokens.sqlite"), "CALLBOARD_CACHE_DB": "off",
        "CALLBOARD_NOW": pinned_now(box), **extra})


def refresh_answer(box, refresh_token: str) -> requests.Response:
    return requests.post(box.token_url, data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": box.client_id, "client_secret": box.client_secret}, timeout=10)


def test_a_restart_after_a_rotation_uses_the_kept_newest_refresh_token(tmp_path):
    # Rotating refresh tokens and Outreach's mint limit (60 s on the sandbox's clock).
    with start_sandbox(port=0, seed=7, reps=2, days=8, now=NOW, redirect_uris=(REDIRECT_URI,),
                       rotate_refresh_tokens=True) as box:
        key = Fernet.generate_key().decode()
        settings = oauth_settings(box, tmp_path, key)
        after, before = closed_range(6, 3)
        want = API_1_0.expected(box, after, before)

        first = open_source(settings)  # mints with the configured token, which rotates
        assert first.list_calls(after, before).equals(want)
        kept = TokenStore(tmp_path / "tokens.sqlite", key).load(box.base_url, box.client_id)
        assert kept.refresh_token != box.refresh_token and kept.access_token
        assert first.client.auth.refresh_token == kept.refresh_token
        old = refresh_answer(box, box.refresh_token)  # the configured one is spent now
        assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
        mints = box.stats()["mints"]["refresh_token"]
        first.close()

        # "Restart": a new source from the same settings starts from the kept access token
        # (no mint), and renews with the kept refresh token when that token is refused.
        second = open_source(settings)
        assert box.stats()["mints"]["refresh_token"] == mints
        assert second.list_calls(after, before).equals(want)
        box.revoke(kept.access_token)
        box.clock.advance(61)
        assert second.list_calls(after, before).equals(want)  # 401, refresh with the kept one
        newest = TokenStore(tmp_path / "tokens.sqlite", key).load(box.base_url, box.client_id)
        assert newest.refresh_token not in (kept.refresh_token, box.refresh_token)
        assert newest.lineage == kept.lineage
        second.close()

        # Without the store, the same settings fail: the configured token is spent.
        box.clock.advance(61)
        with pytest.raises(NotAuthorised):
            open_source(oauth_settings(box, tmp_path, key,
                                       CALLBOARD_TOKEN_DB=str(tmp_path / "other.sqlite")))
        for path in tmp_path.iterdir():
            data = path.read_bytes()
            for secret in (kept.refresh_token, kept.access_token, newest.refresh_token,
                           box.client_secret):
                assert secret.encode() not in data


def test_a_refresh_sends_the_redirect_uri_when_one_is_set(tmp_path):
    # The sandbox refuses a refresh carrying a redirect URI the app did not register: so a
    # registered one is accepted (above) and an unregistered one, sent, is refused.
    with start_sandbox(port=0, seed=7, reps=2, days=8, now=NOW,
                       redirect_uris=(REDIRECT_URI,)) as box:
        key = Fernet.generate_key().decode()
        other = "http://127.0.0.1:8502/connect"
        with pytest.raises(NotAuthorised, match="invalid_grant"):
            open_source(oauth_settings(box, tmp_path, key, OUTREACH_REDIRECT_URI=other))
        source = open_source(oauth_settings(box, tmp_path, key))
        assert len(source.list_calls(*closed_range(6, 3))) > 0
        source.close()


def test_an_oauth_app_without_a_refresh_token_is_not_connected(tmp_path):
    settings = Settings.from_mapping({
        "OUTREACH_API_BASE": "http://127.0.0.1:9", "OUTREACH_CLIENT_ID": "app",
        "OUTREACH_CLIENT_SECRET": "secret-of-the-app", "CALLBOARD_CACHE_DB": "off",
        "CALLBOARD_TOKEN_DB": str(tmp_path / "tokens.sqlite")})
    with pytest.raises(NotConnected, match="python -m lib.cli connect"):
        open_source(settings)
    assert isinstance(NotConnected("x"), SettingsError)  # the CLI and the frame explain it


def test_a_1_0_identity_without_an_org_stands_on_the_credential(scripted, tmp_path):
    # The reference documents /1.0/info's user, not its org: where none is named, two orgs
    # whose token users share an id must still not share stored calls.
    import json

    def answer(method, path, query, headers):
        if path == "/1.0/info":
            body = {"meta": {"user": {"id": 7, "email": "rep@example.test"}, "api": {}}}
        else:
            body = {"data": [], "meta": {"page": {"current": 1, "entries": 50, "maximum": 1}}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    server = scripted(answer)
    now = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
    from lib.outreach import OutreachClient

    def source_with(key: str) -> DataSource:
        return DataSource(OutreachClient(server.base_url, StaticToken("t"), sleep=no_sleep,
                                         clock=lambda: now),
                          demo=False, description="a scripted API", credential_key=key,
                          store=CallStore(tmp_path / "calls.sqlite"), clock=lambda: now)

    first, second = source_with("aaaa"), source_with("bbbb")
    first.list_calls(now - timedelta(days=2), now)
    second.list_calls(now - timedelta(days=2), now)
    assert first.store_identity == \
        f"{server.base_url} org of credential aaaa user 7 rep@example.test api=1.0"
    assert second.store_identity != first.store_identity


def test_when_the_api_names_no_user_the_mapping_is_the_defaults_and_info_is_asked_once(
        scripted, tmp_path):
    # Then the store is dropped (calls cannot be kept for nobody): the mapping must neither be
    # read from it nor cost a second /1.0/info.
    import json

    asked = []

    def answer(method, path, query, headers):
        asked.append(path)
        if path == "/1.0/info":
            body = {"meta": {"user": {}, "api": {}}}
        else:
            body = {"data": [], "meta": {"page": {"current": 1, "entries": 50, "maximum": 1}}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    server = scripted(answer)
    from lib.outreach import OutreachClient

    source = DataSource(OutreachClient(server.base_url, StaticToken("t"), sleep=no_sleep),
                        demo=False, description="a scripted API",
                        store=CallStore(tmp_path / "calls.sqlite"))
    dispositions = pd.DataFrame({"id": [1], "name": ["Meeting booked"], "outcome": ["Answered"]})
    mapping = source.outcome_mapping(dispositions)
    assert mapping.edited == frozenset() and mapping.ids("meeting").tolist() == [1]
    assert source.store is None and asked.count("/1.0/info") == 1
    with pytest.raises(MappingNotKept):
        source.save_outcome_mapping({1: {"connected"}}, by="someone")
