"""The sync against the sandbox over loopback: edits and deletions made in Outreach show after one
sync (v2 anywhere in the stored history, 1.0 within the trailing days), within the request
targets; the next morning is cheap; a backfill the quota budget cuts short says so and resumes;
concurrent reads share one sync; the sandbox's own later dispositions and deletions show too.

Each sandbox here is the test's own, on a pinned clock the test moves (`advance`), never sleeps.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from lib.outreach import NewCall, NotAuthorised, QuotaExhausted, StaticToken
from lib.sandbox import Sandbox, start_sandbox
from lib.store.callstore import ALL_USERS, CallStore, day_bounds
from lib.store.datasource import DataSource
from lib.store.sync import SyncPolicy
from tests.api_versions import API_1_0, API_2, Api
from tests.conftest import NOW, no_sleep

QUIET = {"later_dispositions": 0, "deletions": 0}  # only the test's own edits change calls
TODAY = NOW.date()


# Every test runs on both engines of the store (tests.conftest.store_where): its own store is
# there; the stores it makes only to measure a cold read beside it are SQLite files.
_ENGINE: dict[str, object] = {}


@pytest.fixture(autouse=True)
def _on_each_engine(store_where, tmp_path):
    _ENGINE.update(where=store_where, tmp=tmp_path)
    yield
    _ENGINE.clear()


def store_in(folder) -> CallStore:
    """The test's store (on this run's engine) for its own folder; a SQLite file elsewhere."""
    if folder == _ENGINE.get("tmp"):
        return CallStore(_ENGINE["where"])
    return CallStore(folder / "calls.sqlite")


@pytest.fixture
def box() -> Sandbox:
    with start_sandbox(port=0, seed=11, reps=5, days=40, now=NOW, mint_interval=0,
                       **QUIET) as sandbox:
        yield sandbox


@pytest.fixture(params=[API_1_0, API_2], ids=["v1.0", "v2"])
def api(request) -> Api:
    return request.param


def source_of(sandbox: Sandbox, tmp_path, api: Api, *, policy: SyncPolicy | None = None,
              identity: str = "sync test", **client_options) -> DataSource:
    client = api.client(sandbox.base_url, StaticToken(sandbox.full_token), sleep=no_sleep,
                        clock=sandbox.clock.now, **client_options)
    return DataSource(client, demo=False, description="the test sandbox",
                      store=store_in(tmp_path), store_identity=identity,
                      policy=policy or SyncPolicy(), clock=sandbox.clock.now)


def days_ago(first: int, last: int) -> tuple[datetime, datetime]:
    """Whole UTC days from `first` to `last` days before today (last 0: up to now)."""
    return day_bounds(TODAY - timedelta(days=first))[0], (
        NOW if last == 0 else day_bounds(TODAY - timedelta(days=last))[1])


def calls_between(sandbox: Sandbox, after: datetime, before: datetime) -> list[dict]:
    """The sandbox's own 1.0 records created in [after, before), from its raw answer."""
    return [record for record in sandbox.all_calls("1.0")
            if after.isoformat()[:19] <= record["attributes"]["metadata"]["created"][:19]
            < before.isoformat()[:19]]


def edit_and_delete(sandbox: Sandbox, edit_span: tuple[datetime, datetime], edits: int,
                    delete_span: tuple[datetime, datetime], deletions: int) -> tuple[set, set]:
    """Edit `edits` calls' dispositions spread over `edit_span` and delete `deletions` calls
    of `delete_span`, through the sandbox's admin routes; returns (edited ids, deleted ids)."""
    rng = random.Random(5)
    candidates = calls_between(sandbox, *edit_span)
    edited = {int(record["id"]) for record in rng.sample(candidates, edits)}
    for call_id in edited:
        sandbox.edit_call(call_id, disposition_id=rng.choice([1, 2, 3, 7]))
    deletable = [record for record in calls_between(sandbox, *delete_span)
                 if int(record["id"]) not in edited]
    deleted = {int(record["id"]) for record in rng.sample(deletable, deletions)}
    for call_id in deleted:
        assert sandbox.delete_call(call_id)
    return edited, deleted


def read(source: DataSource, sandbox: Sandbox, after: datetime, before: datetime | None = None,
         **options):
    sandbox.reset_request_count()
    result = source.read_calls(after, before, **options)
    return result, sandbox.request_count


# ----- edits and deletions -----


def test_v2_shows_60_edits_over_10_days_and_20_deletions_after_one_refresh(box, tmp_path):
    source = source_of(box, tmp_path, API_2)
    after, _ = days_ago(28, 0)
    cold, cold_requests = read(source, box, after)
    assert cold.calls.equals(API_2.expected(box, after, cold.synced_at))

    box.clock.advance(600)
    edited, deleted = edit_and_delete(box, days_ago(10, 0), 60, days_ago(3, 0), 20)
    refreshed, requests = read(source, box, after, sync=True)
    want = API_2.expected(box, after, refreshed.synced_at)
    assert refreshed.calls.equals(want)  # every edit and every deletion, nothing else
    assert not deleted & set(refreshed.calls["id"]) and deleted <= set(cold.calls["id"])
    changed = want.set_index("id").loc[sorted(edited), "disposition_id"]
    before_edit = cold.calls.set_index("id").loc[sorted(edited), "disposition_id"]
    assert (changed != before_edit).sum() > 30  # the edits really changed what is shown
    assert requests <= 25 < cold_requests


def test_v2_shows_an_edit_anywhere_in_the_stored_history(box, tmp_path):
    source = source_of(box, tmp_path, API_2)
    after, _ = days_ago(35, 0)
    read(source, box, after)
    box.clock.advance(600)
    old = calls_between(box, *days_ago(34, 30))[0]
    box.edit_call(int(old["id"]), disposition_id=9, note="corrected a month later")
    refreshed, _ = read(source, box, after, sync=True)
    row = refreshed.calls.set_index("id").loc[int(old["id"])]
    assert (row["disposition_id"], row["note"]) == (9, "corrected a month later")


def test_1_0_shows_edits_and_deletions_in_the_trailing_days_after_one_refresh(box, tmp_path):
    policy = SyncPolicy(trailing_days=3)
    source = source_of(box, tmp_path, API_1_0, policy=policy)
    after, _ = days_ago(28, 0)
    read(source, box, after)
    trailing = days_ago(2, 0)  # today and the two days before: the trailing window
    # What a cold read of the trailing window costs, in a store of its own.
    _, trailing_cold = read(source_of(box, tmp_path / "other", API_1_0), box, trailing[0])

    box.clock.advance(600)
    edited, deleted = edit_and_delete(box, trailing, 30, trailing, 20)
    refreshed, requests = read(source, box, after, sync=True)
    assert refreshed.calls.equals(API_1_0.expected(box, after, refreshed.synced_at))
    assert not deleted & set(refreshed.calls["id"]) and edited <= set(refreshed.calls["id"])
    assert requests <= trailing_cold + 10


def test_1_0_older_edits_show_once_their_days_are_due_for_a_re_read(box, tmp_path):
    # 1.0 cannot ask for changes: an edit before the trailing days waits for the periodic
    # re-read of its day (here due after an hour, a batch of two days a sync, earliest first).
    policy = SyncPolicy(trailing_days=2, reread_after=timedelta(hours=1), batch_days=2,
                        reread_batches=1)
    source = source_of(box, tmp_path, API_1_0, policy=policy)
    after, before = days_ago(9, 6)  # four closed days
    read(source, box, after, before)
    old = calls_between(box, *days_ago(9, 9))[0]
    box.edit_call(int(old["id"]), disposition_id=9)
    box.clock.advance(600)
    unchanged, requests = read(source, box, after, before, sync=True)
    assert unchanged.calls.set_index("id").loc[int(old["id"]), "disposition_id"] != 9
    box.clock.advance(3600)  # now due: two days a sync
    first, _ = read(source, box, after, before, sync=True)
    second, _ = read(source, box, after, before, sync=True)
    assert second.calls.set_index("id").loc[int(old["id"]), "disposition_id"] == 9
    assert second.calls.equals(API_1_0.expected(box, after, before))
    assert first.calls.set_index("id").loc[int(old["id"]), "disposition_id"] == 9  # oldest


def test_the_sandboxs_own_later_dispositions_and_deletions_show_after_a_sync(tmp_path, api):
    # The simulation on: some calls get their disposition minutes to days after they were
    # made, a few are deleted. Two days on, a sync shows exactly what the API holds.
    with start_sandbox(port=0, seed=11, reps=5, days=20, now=NOW, mint_interval=0) as sandbox:
        source = source_of(sandbox, tmp_path, api)
        after, _ = days_ago(6, 0)
        first, _ = read(source, sandbox, after)
        sandbox.clock.advance(2 * 86400)
        synced, _ = read(source, sandbox, after, NOW, sync=True)
        want = api.expected(sandbox, after, NOW)
        assert not first.calls[["id", "disposition_id"]].equals(want[["id", "disposition_id"]])
        if api is API_2:
            assert synced.calls.equals(want)  # the change feed: every day of the range
        else:
            # 1.0 re-read its trailing days (two days on, NOW's day is the oldest of them).
            recent = synced.calls[synced.calls["created_at"] >= day_bounds(TODAY)[0]]
            assert recent.reset_index(drop=True).equals(
                api.expected(sandbox, day_bounds(TODAY)[0], NOW))


# ----- what it costs -----


def test_the_next_morning_costs_a_fraction_of_a_cold_read(box, tmp_path, api):
    source = source_of(box, tmp_path, api)
    after, before = days_ago(28, 1)  # 28 closed days
    cold, cold_requests = read(source, box, after, before)
    assert len(cold.calls) > 1000
    box.clock.advance(86400)  # the next morning
    morning, requests = read(source, box, after, before)
    assert morning.calls.equals(api.expected(box, after, before))
    if api is API_1_0:
        assert requests * 4 <= cold_requests
    else:
        assert requests <= max(cold_requests / 10, 10)
    warm, again = read(source, box, after, before)  # synced minutes ago: no request at all
    assert again == 0 and warm.calls.equals(morning.calls)


def test_a_backfill_the_quota_cuts_short_says_so_and_resumes(box, tmp_path, configure_box):
    # 1.0, a week a batch; a budget (half of 120 an hour, less its reserve) for two of five.
    source = source_of(box, tmp_path, API_1_0, policy=SyncPolicy(batch_days=7),
                       max_workers=2)
    after, before = days_ago(34, 0)
    configure_box(rate_limit=120)
    part, _ = read(source, box, after, before)
    assert 0 < part.loaded < 1 and not part.complete
    assert isinstance(part.stopped_by, QuotaExhausted) and part.stopped_by.retry_at
    shown = part.calls
    assert 0 < len(shown) < len(API_1_0.expected(box, after, before))
    # Only whole stored days are shown: no day is half there.
    whole = API_1_0.expected(box, after, before)
    for day in set(shown["created_at"].dt.date):
        assert (shown["created_at"].dt.date == day).sum() == (whole["created_at"].dt.date
                                                              == day).sum()
    with pytest.raises(QuotaExhausted):
        source.list_calls(after, before)  # the CLI's read: all or an error, never a part

    box.clock.advance(3601)  # the hour has passed: a new budget
    configure_box(rate_limit=100_000)
    done, requests = read(source, box, after, before)
    assert done.complete and done.calls.equals(API_1_0.expected(box, after, before))
    _, cold = read(source_of(box, tmp_path / "cold", API_1_0), box, after, before)
    assert requests < cold  # the finished batches were not read again


def test_concurrent_reads_share_one_sync(box, tmp_path, api):
    source = source_of(box, tmp_path, api)
    after, _ = days_ago(10, 0)
    _, alone = read(source_of(box, tmp_path / "alone", api), box, after)
    box.reset_request_count()
    barrier = threading.Barrier(4)
    results = []

    def reader() -> None:
        barrier.wait()
        results.append(source.read_calls(after, None))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(len(r.calls) > 0 for r in results)
    assert box.request_count <= alone + 2  # one read's requests, not four


def test_a_full_reload_forgets_and_reads_again(box, tmp_path, api):
    source = source_of(box, tmp_path, api)
    after, before = days_ago(6, 1)
    first, cold = read(source, box, after, before)
    source.clear_cache()
    assert source.store.covered_days("sync test") == [] and source.synced_at() is None
    again, requests = read(source, box, after, before)
    assert again.calls.equals(first.calls) and requests == cold


def test_a_reps_read_is_served_by_an_every_user_read_and_its_sync(box, tmp_path, api):
    source = source_of(box, tmp_path, api)
    after, _ = days_ago(5, 0)
    read(source, box, after)
    box.clock.advance(600)
    read(source, box, after, sync=True)  # re-reads the trailing days for every user
    rep, requests = read(source, box, after, user_ids=[3])
    assert requests == 0 and set(rep.calls["user_id"]) == {3}
    assert rep.calls.equals(api.expected(box, after, rep.synced_at, {3}))
    assert source.store.coverage("sync test", [ALL_USERS], TODAY, TODAY)


@pytest.fixture
def configure_box(box):
    yield box.configure


def test_the_v2_bookmark_is_the_newest_change_stored_and_the_next_sync_starts_there(box,
                                                                                    tmp_path):
    # Pages of 50, so 120 edits make a change feed of several pages.
    from lib.outreach import V2Dialect

    source = source_of(box, tmp_path, API_2, dialect=V2Dialect(page_size=50))
    after, _ = days_ago(20, 0)
    first, _ = read(source, box, after)
    # The first sync starts the bookmark an hour before itself (a server clock behind ours).
    assert source.store.marks("sync test").bookmark == first.synced_at - timedelta(hours=1)
    box.clock.advance(600)
    edited, _ = edit_and_delete(box, days_ago(20, 0), 120, days_ago(1, 0), 1)
    since = first.synced_at - timedelta(hours=1, minutes=5)  # the bookmark less the overlap
    fed = [record for record in box.all_calls("1.0")
           if record["attributes"]["metadata"]["updated"] >= since.isoformat()[:23]]
    assert {int(record["id"]) for record in fed} >= edited
    assert source.sync().changed_calls == len(fed)  # the edits and the last hour's calls
    newest = max(record["attributes"]["metadata"]["updated"] for record in box.all_calls("1.0")
                 if int(record["id"]) in edited)
    bookmark = source.store.marks("sync test").bookmark
    assert bookmark.isoformat(timespec="milliseconds").replace("+00:00", "Z") == newest
    # Ten minutes on, one more edit, then another ten minutes later: each sync asks from the
    # bookmark (the newest change it stored) less the five-minute overlap, so the last one
    # reads those two edits alone, not the 120 before them.
    one, other = sorted(edited)[:2]
    box.clock.advance(600)
    box.edit_call(one, note="one more change")
    source.sync()
    box.clock.advance(600)
    box.edit_call(other, note="and another")
    assert source.sync().changed_calls == 2
    notes = read(source, box, after)[0].calls.set_index("id")["note"]
    assert (notes[one], notes[other]) == ("one more change", "and another")


# ----- what the review found: days read while open, clocks apart, failing syncs -----


def test_a_day_read_while_it_was_today_is_read_whole_once_it_has_ended(box, tmp_path, api):
    # Read at 17:00; five calls logged at 18:00; the manager is back four days later, past
    # the trailing days: that day is read again whole, not shown short as complete.
    source = source_of(box, tmp_path, api, policy=SyncPolicy(trailing_days=1))
    after, _ = days_ago(2, 0)
    read(source, box, after)
    box.clock.advance(3600)
    late = {int(source.client.create_call(NewCall(outbound=True, note=f"late {n}"))["id"])
            for n in range(5)}  # logged elsewhere: only a read of the API brings them
    box.clock.advance(4 * 86400)
    later, _ = read(source, box, after, day_bounds(TODAY)[1])
    assert late <= set(later.calls["id"]) and later.complete
    assert later.calls.equals(api.expected(box, after, day_bounds(TODAY)[1]))


def test_a_server_clock_behind_ours_loses_no_change(box, tmp_path):
    # Callboard's clock 10 minutes ahead of Outreach's: the first bookmark starts an hour back.
    ahead = lambda: box.clock.now() + timedelta(minutes=10)  # noqa: E731
    client = API_2.client(box.base_url, StaticToken(box.full_token), sleep=no_sleep,
                          clock=box.clock.now)
    source = DataSource(client, demo=False, description="the test sandbox",
                        store=store_in(tmp_path), store_identity="sync test",
                        clock=ahead)
    after, before = days_ago(20, 10)
    first = source.read_calls(after, before)
    box.clock.advance(60)
    call_id = int(first.calls["id"].iloc[0])
    box.edit_call(call_id, note="fixed")
    box.clock.advance(600)
    source.sync()
    assert source.read_calls(after, before).calls.set_index("id").loc[call_id, "note"] == "fixed"


def test_a_due_sync_that_fails_shows_the_stored_calls_as_of_the_last_sync(box, tmp_path, api):
    token = box.issue_token(["read_calls", "read_users"], ttl=3600)
    client = api.client(box.base_url, StaticToken(token), sleep=no_sleep, clock=box.clock.now)
    source = DataSource(client, demo=False, description="the test sandbox",
                        store=store_in(tmp_path), store_identity="sync test",
                        clock=box.clock.now)
    after, before = days_ago(6, 1)
    first = source.read_calls(after, before)
    box.revoke(token)
    box.clock.advance(600)  # due
    stale = source.read_calls(after, before)
    assert stale.calls.equals(first.calls) and stale.synced_at == first.synced_at
    assert isinstance(stale.sync_failed, NotAuthorised)
    with pytest.raises(NotAuthorised):
        source.read_calls(after, before, sync=True)  # Refresh says it failed


def test_a_v2_backfill_cut_short_shows_no_day_part_filled_by_the_change_feed(box, tmp_path,
                                                                              configure_box):
    # v2 at 50 a page, so that a week costs about as much as on 1.0; edits all over the range
    # put some calls of days never read into the store through the change feed.
    from lib.outreach import V2Dialect

    source = source_of(box, tmp_path, API_2, policy=SyncPolicy(batch_days=7), max_workers=2,
                       dialect=V2Dialect(page_size=50))
    configure_box(rate_limit=160)  # from the first request: the share is of this window
    read(source, box, *days_ago(1, 0))  # a first sync: the bookmark
    box.clock.advance(600)
    edit_and_delete(box, days_ago(34, 0), 60, days_ago(1, 0), 1)
    after, before = days_ago(34, 0)
    part, _ = read(source, box, after, before)
    assert 0 < part.loaded < 1
    whole = API_2.expected(box, after, before)
    shown = part.calls
    assert 0 < len(shown) < len(whole)
    for day in set(shown["created_at"].dt.date):
        assert (shown["created_at"].dt.date == day).sum() == (whole["created_at"].dt.date
                                                              == day).sum()


# ----- replicas on one store (processes: each its own store object, engine and lock) -----


def test_two_replicas_at_once_make_one_reads_requests_and_a_third_almost_none(box, tmp_path,
                                                                             api):
    after, _ = days_ago(20, 0)
    _, alone = read(source_of(box, tmp_path / "alone", api), box, after)
    replicas = [source_of(box, tmp_path, api) for _ in range(2)]  # the test's shared store
    assert replicas[0].store is not replicas[1].store
    box.reset_request_count()
    barrier = threading.Barrier(2)
    results = {}

    def replica(number: int) -> None:
        barrier.wait()
        results[number] = replicas[number].read_calls(after, None)

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert box.request_count <= 1.3 * alone  # one did the requests, the other waited
    assert results[0].calls.equals(results[1].calls)
    assert results[0].calls.equals(api.expected(box, after, results[0].synced_at))
    box.reset_request_count()
    third = source_of(box, tmp_path, api).read_calls(after, None)
    assert box.request_count <= 5 and third.calls.equals(results[0].calls)


def test_a_replica_killed_while_syncing_blocks_nobody(tmp_path):
    # Another process takes the identity's sync lock and dies holding it (SIGKILL): the lock
    # goes with it, so the next sync starts at once.
    import os
    import signal
    import subprocess
    import sys
    import time

    where = _ENGINE["where"]
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from lib.store.callstore import CallStore\n"
         "with CallStore(sys.argv[1]).sync_lock('sync test'):\n"
         "    print('held', flush=True)\n"
         "    time.sleep(600)\n", str(where)],
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        store = CallStore(where)
        waited = threading.Event()

        def take() -> None:
            with store.sync_lock("sync test"):
                waited.set()

        taker = threading.Thread(target=take, daemon=True)
        taker.start()
        # Short relative sleeps, never a timed Event.wait: that sleeps to a wall-clock
        # deadline, which faketime moves (the suite runs under faketime too).
        for _ in range(20):
            time.sleep(0.05)
        assert not waited.is_set()  # held by the other process: this one waits
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        for _ in range(600):
            if waited.is_set():
                break
            time.sleep(0.05)
        assert waited.is_set()  # released with its holder's end
        with store.sync_lock("another identity"):
            pass  # and locks are per identity
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_change_feed_cut_short_keeps_its_pages_and_resumes_from_them(box, tmp_path,
                                                                       configure_box):
    # The quota share runs out after the feed's first pages (50 a page here): the pages stored
    # so far stay, with the bookmark past them; the next hour's sync reads only the rest.
    from lib.outreach import V2Dialect

    configure_box(rate_limit=35)  # from the first request: the share is of this window
    source = source_of(box, tmp_path, API_2, max_workers=1, dialect=V2Dialect(page_size=50))
    after, _ = days_ago(1, 0)
    read(source, box, after)
    start = source.store.marks("sync test").bookmark
    # Four rounds of 50 edits, ten minutes apart: a page of the feed each.
    candidates = [int(r["id"]) for r in calls_between(box, *days_ago(25, 2))]
    edited = random.Random(3).sample(candidates, 200)
    for round_start in range(0, 200, 50):
        box.clock.advance(600)
        for call_id in edited[round_start:round_start + 50]:
            box.edit_call(call_id, disposition_id=9)
    with pytest.raises(QuotaExhausted):
        source.sync()
    cut = source.store.marks("sync test").bookmark
    assert cut > start + timedelta(minutes=15)  # two pages or more were stored and marked
    box.clock.advance(3601)  # a new hour, a new share
    configure_box(rate_limit=100_000)
    report = source.sync()
    assert 0 < report.changed_calls < 200  # only what was left, and the overlap
    stored = source.store.load("sync test", *days_ago(25, 2), None, source.client.call_dtypes)
    want = API_2.expected(box, *days_ago(25, 2)).set_index("id")
    mine = stored.set_index("id")
    assert all(mine.at[call_id, "disposition_id"] is want.at[call_id, "disposition_id"] or
               mine.at[call_id, "disposition_id"] == want.at[call_id, "disposition_id"]
               for call_id in edited)  # every edit, those before the cut and after it
