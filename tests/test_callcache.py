"""The store of closed UTC-day windows on its own: what goes in comes out exactly, only what was
asked for, once; expiry, replacement, clearing, and a damaged file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from lib.callcache import ALL_USERS, CallStore, day_bounds, utc_day
from lib.schema import frame_from_rows

DAY = date(2026, 3, 28)  # the day before Europe's spring DST change; UTC days do not care
ME = "http://api.test user 1"


def row(call_id: int, created: datetime, user_id: int | None = 2, **extra) -> dict:
    values = {"id": call_id, "created_at": created, "user_id": user_id, "outbound": True,
              "from_number": "+15550001111", "to_number": "", "purpose_id": None,
              "disposition_id": 4, "prospect_id": 42, "note": "left voicemail"}
    values.update(extra)
    return values


def day_rows(day: date, count: int, first_id: int, users=(2, 3)) -> list[dict]:
    start, _ = day_bounds(day)
    step = timedelta(days=1) / count
    return [row(first_id + n, start + n * step + timedelta(microseconds=123),
                user_id=users[n % len(users)], outbound=n % 3 != 0,
                disposition_id=None if n % 5 == 0 else n % 7, note=f"call {n} ünïcode")
            for n in range(count)]


@pytest.fixture
def store(tmp_path) -> CallStore:
    return CallStore(tmp_path / "nested" / "calls.sqlite")


def test_day_helpers():
    assert day_bounds(DAY) == (datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 29, tzinfo=UTC))
    late = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert utc_day(late.astimezone(datetime.now().astimezone().tzinfo)) == DAY


def test_what_is_saved_loads_back_exactly(store):
    rows = day_rows(DAY, 40, 1000) + day_rows(DAY + timedelta(days=1), 30, 2000)
    now = datetime.now(UTC)
    store.save(ME, ALL_USERS, [DAY, DAY + timedelta(days=1)], rows, fetched_at=now)
    assert store.path.exists()  # created on first use, parent folder included

    after, before = day_bounds(DAY)[0], day_bounds(DAY + timedelta(days=1))[1]
    loaded = store.load(ME, ALL_USERS, {DAY, DAY + timedelta(days=1)}, after, before)
    ordered = loaded.sort_values(["created_at", "id"]).reset_index(drop=True)
    assert ordered.equals(frame_from_rows(rows))  # every value and dtype, microseconds kept


def test_load_serves_only_the_range_the_users_and_the_days_asked(store):
    rows = day_rows(DAY, 48, 1000)
    store.save(ME, ALL_USERS, [DAY], rows, fetched_at=datetime.now(UTC))
    start, end = day_bounds(DAY)
    after, before = start + timedelta(hours=6), start + timedelta(hours=18)

    loaded = store.load(ME, ALL_USERS, {DAY}, after, before, user_ids=[3])
    want = [r for r in rows if after <= r["created_at"] < before and r["user_id"] == 3]
    assert sorted(loaded["id"]) == [r["id"] for r in want]
    assert store.load(ME, ALL_USERS, {DAY}, start, end, user_ids=[]).empty
    # A day that was not asked for gives nothing, even when it is stored.
    assert store.load(ME, ALL_USERS, {DAY + timedelta(days=1)}, start, end).empty
    # Another identity or scope sees nothing of this one.
    assert store.load("http://api.test user 9", ALL_USERS, {DAY}, start, end).empty
    assert store.load(ME, 3, {DAY}, start, end).empty


def test_saving_again_replaces_the_window_never_doubles_it(store):
    now = datetime.now(UTC)
    store.save(ME, ALL_USERS, [DAY], day_rows(DAY, 20, 1000), fetched_at=now)
    edited = day_rows(DAY, 20, 1000)[:15]
    edited[0]["disposition_id"] = 99
    store.save(ME, ALL_USERS, [DAY], edited, fetched_at=now + timedelta(hours=1))
    loaded = store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY))
    assert len(loaded) == 15 and loaded["id"].is_unique
    assert loaded.set_index("id").loc[1000, "disposition_id"] == 99
    assert store.window_count() == 1


def test_a_day_without_calls_is_stored_too(store):
    now = datetime.now(UTC)
    store.save(ME, 5, [DAY], [], fetched_at=now)
    assert store.stored_days(ME, 5, DAY, DAY, now - timedelta(hours=1)) == {DAY}
    assert store.load(ME, 5, {DAY}, *day_bounds(DAY)).empty


def test_stored_days_leave_out_expired_windows_and_other_scopes(store):
    now = datetime.now(UTC)
    old, new = DAY, DAY + timedelta(days=1)
    store.save(ME, ALL_USERS, [old], day_rows(old, 5, 1000), fetched_at=now - timedelta(hours=30))
    store.save(ME, ALL_USERS, [new], day_rows(new, 5, 2000), fetched_at=now)
    store.save(ME, 2, [old], [], fetched_at=now)
    assert store.stored_days(ME, ALL_USERS, old, new, now - timedelta(hours=24)) == {new}
    assert store.stored_days(ME, ALL_USERS, old, new, now - timedelta(hours=48)) == {old, new}
    assert store.stored_days(ME, 2, old, new, now - timedelta(hours=24)) == {old}
    assert store.stored_days("someone else", ALL_USERS, old, new, now - timedelta(days=9)) == set()

    assert store.purge(now - timedelta(hours=24)) == 1
    assert store.stored_days(ME, ALL_USERS, old, new, now - timedelta(hours=48)) == {new}
    with sqlite3.connect(store.path) as db:  # the expired window's calls went with it
        assert db.execute("SELECT SUM(calls) FROM windows").fetchone()[0] == 5


def test_a_call_given_twice_is_stored_once(store):
    rows = day_rows(DAY, 6, 1000)
    again = dict(rows[2], note="the later copy")
    store.save(ME, ALL_USERS, [DAY], [*rows, again], fetched_at=datetime.now(UTC))
    loaded = store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY)).set_index("id")
    assert len(loaded) == 6 and loaded.loc[1002, "note"] == "the later copy"


def test_a_file_of_an_older_layout_is_rebuilt(tmp_path):
    path = tmp_path / "calls.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE windows (anything)")
        db.execute("PRAGMA user_version = 1")
    store = CallStore(path)
    store.save(ME, ALL_USERS, [DAY], day_rows(DAY, 3, 1000), fetched_at=datetime.now(UTC))
    assert len(store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY))) == 3


def test_a_row_of_another_day_is_refused(store):
    stray = row(7, day_bounds(DAY)[1])  # the first instant of the next day
    with pytest.raises(ValueError, match="not one of the days"):
        store.save(ME, ALL_USERS, [DAY], [stray], fetched_at=datetime.now(UTC))
    assert store.window_count() == 0


def test_clear_forgets_everything(store):
    now = datetime.now(UTC)
    store.save(ME, ALL_USERS, [DAY], day_rows(DAY, 5, 1000), fetched_at=now)
    store.clear()
    assert store.window_count() == 0
    assert store.stored_days(ME, ALL_USERS, DAY, DAY, now - timedelta(days=1)) == set()
    assert store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY)).empty


def test_a_damaged_file_is_started_afresh(tmp_path):
    path = tmp_path / "calls.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = CallStore(path)
    now = datetime.now(UTC)
    store.save(ME, ALL_USERS, [DAY], day_rows(DAY, 3, 1000), fetched_at=now)
    assert len(store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY))) == 3


def test_two_stores_on_one_file_see_each_others_windows(tmp_path):
    # The dashboard and the CLI are separate processes sharing the file.
    first, second = CallStore(tmp_path / "calls.sqlite"), CallStore(tmp_path / "calls.sqlite")
    now = datetime.now(UTC)
    first.save(ME, ALL_USERS, [DAY], day_rows(DAY, 3, 1000), fetched_at=now)
    assert second.stored_days(ME, ALL_USERS, DAY, DAY, now - timedelta(hours=1)) == {DAY}
