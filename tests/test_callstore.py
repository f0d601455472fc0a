"""The store of closed UTC-day windows on its own: what goes in comes out exactly, only what was
asked for, once; expiry, replacement, clearing, and a damaged file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lib.frames import CALL_DTYPES, CALL_DTYPES_V2, frame_from_rows
from lib.store.callstore import ALL_USERS, CallStore, day_bounds, utc_day

DAY = date(2026, 3, 28)  # the day before Europe's spring DST change; UTC days do not care
# When the windows here were "read": a fixed instant after DAY and the days after it closed.
# The store keeps whatever `fetched_at` it is given and never reads a clock itself.
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
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
    # Shown in zones where it is already the next day, or still the same one: the UTC day.
    for zone in ("Pacific/Auckland", "Asia/Kolkata", "America/Los_Angeles"):
        shown = late.astimezone(ZoneInfo(zone))
        assert utc_day(shown) == DAY
    assert late.astimezone(ZoneInfo("Pacific/Auckland")).date() != DAY  # a real test of it


def test_what_is_saved_loads_back_exactly(store):
    rows = day_rows(DAY, 40, 1000) + day_rows(DAY + timedelta(days=1), 30, 2000)
    store.save(ME, ALL_USERS, [DAY, DAY + timedelta(days=1)], rows, fetched_at=NOW)
    assert store.path.exists()  # created on first use, parent folder included

    after, before = day_bounds(DAY)[0], day_bounds(DAY + timedelta(days=1))[1]
    loaded = store.load(ME, ALL_USERS, {DAY, DAY + timedelta(days=1)}, after, before)
    ordered = loaded.sort_values(["created_at", "id"]).reset_index(drop=True)
    # Every value and dtype, microseconds kept.
    assert ordered.equals(frame_from_rows(rows, CALL_DTYPES))


def v2_day_rows(day: date, count: int, first_id: int) -> list[dict]:
    """Rows as API v2 reads them: with outcome, state and the call's times (some unknown)."""
    rows = day_rows(day, count, first_id)
    for n, values in enumerate(rows):
        answered = n % 3 != 0
        created = values["created_at"]
        values.update(
            outcome=None if n % 7 == 0 else ("Answered" if answered else "Not Answered"),
            state=None if n % 11 == 0 else "completed",
            dialed_at=None if n % 13 == 0 else created - timedelta(seconds=90, microseconds=7),
            answered_at=created - timedelta(seconds=60) if answered else None,
            completed_at=created,
        )
    return rows


def test_v2_columns_are_stored_and_load_back_exactly(store):
    days = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    rows = v2_day_rows(days[0], 40, 1000) + v2_day_rows(days[1], 30, 2000)  # days[2]: none
    store.save(ME, ALL_USERS, days, rows, fetched_at=NOW)
    loaded = store.load(ME, ALL_USERS, set(days), day_bounds(days[0])[0],
                        day_bounds(days[2])[1])
    ordered = loaded.sort_values(["created_at", "id"]).reset_index(drop=True)
    want = frame_from_rows(rows, CALL_DTYPES_V2)
    assert "answered_at" in want and want["outcome"].isna().any()
    assert want["dialed_at"].isna().any() and want["answered_at"].isna().any()
    assert ordered.equals(want)


def test_v2_columns_are_left_out_unless_every_window_with_calls_has_them(store):
    store.save(ME, ALL_USERS, [DAY], v2_day_rows(DAY, 10, 1000), fetched_at=NOW)
    store.save(ME, ALL_USERS, [DAY + timedelta(days=1)], day_rows(DAY + timedelta(days=1), 10,
                                                                   2000), fetched_at=NOW)
    both = store.load(ME, ALL_USERS, {DAY, DAY + timedelta(days=1)}, *_two_days())
    assert len(both) == 20 and "outcome" not in both  # never v2 facts for only some calls
    alone = store.load(ME, ALL_USERS, {DAY}, *_two_days())
    assert len(alone) == 10 and "outcome" in alone


def test_a_v2_read_is_told_only_of_days_stored_with_v2s_fields(store):
    days = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    store.save(ME, ALL_USERS, [days[0]], v2_day_rows(days[0], 10, 1000), fetched_at=NOW)
    store.save(ME, ALL_USERS, [days[1]], day_rows(days[1], 10, 2000), fetched_at=NOW)  # 1.0's
    store.save(ME, ALL_USERS, [days[2]], [], fetched_at=NOW)  # no calls: good for both
    since = NOW - timedelta(hours=1)
    assert store.stored_days(ME, ALL_USERS, days[0], days[2], since) == set(days)
    assert store.stored_days(ME, ALL_USERS, days[0], days[2], since,
                             with_v2_fields=True) == {days[0], days[2]}


def test_a_stored_matrix_of_the_wrong_size_is_an_error_not_a_reshape(store):
    store.save(ME, ALL_USERS, [DAY], day_rows(DAY, 10, 1000), fetched_at=NOW)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE windows SET calls = 11")  # the blob holds 10 calls' columns
    # A DatabaseError, as for a damaged file: the caller reads from the API instead.
    with pytest.raises(sqlite3.DatabaseError, match="damaged"):
        store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY))


def _two_days() -> tuple[datetime, datetime]:
    return day_bounds(DAY)[0], day_bounds(DAY + timedelta(days=1))[1]


def test_load_serves_only_the_range_the_users_and_the_days_asked(store):
    rows = day_rows(DAY, 48, 1000)
    store.save(ME, ALL_USERS, [DAY], rows, fetched_at=NOW)
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
    store.save(ME, ALL_USERS, [DAY], day_rows(DAY, 20, 1000), fetched_at=NOW)
    edited = day_rows(DAY, 20, 1000)[:15]
    edited[0]["disposition_id"] = 99
    store.save(ME, ALL_USERS, [DAY], edited, fetched_at=NOW + timedelta(hours=1))
    loaded = store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY))
    assert len(loaded) == 15 and loaded["id"].is_unique
    assert loaded.set_index("id").loc[1000, "disposition_id"] == 99
    assert store.window_count() == 1


def test_a_day_without_calls_is_stored_too(store):
    store.save(ME, 5, [DAY], [], fetched_at=NOW)
    assert store.stored_days(ME, 5, DAY, DAY, NOW - timedelta(hours=1)) == {DAY}
    assert store.load(ME, 5, {DAY}, *day_bounds(DAY)).empty


def test_stored_days_leave_out_expired_windows_and_other_scopes(store):
    old, new = DAY, DAY + timedelta(days=1)
    store.save(ME, ALL_USERS, [old], day_rows(old, 5, 1000), fetched_at=NOW - timedelta(hours=30))
    store.save(ME, ALL_USERS, [new], day_rows(new, 5, 2000), fetched_at=NOW)
    store.save(ME, 2, [old], [], fetched_at=NOW)
    assert store.stored_days(ME, ALL_USERS, old, new, NOW - timedelta(hours=24)) == {new}
    assert store.stored_days(ME, ALL_USERS, old, new, NOW - timedelta(hours=48)) == {old, new}
    assert store.stored_days(ME, 2, old, new, NOW - timedelta(hours=24)) == {old}
    assert store.stored_days("someone else", ALL_USERS, old, new, NOW - timedelta(days=9)) == set()

    assert store.purge(NOW - timedelta(hours=24)) == 1
    assert store.stored_days(ME, ALL_USERS, old, new, NOW - timedelta(hours=48)) == {new}
    with sqlite3.connect(store.path) as db:  # the expired window's calls went with it
        assert db.execute("SELECT SUM(calls) FROM windows").fetchone()[0] == 5


def test_a_call_given_twice_is_stored_once(store):
    rows = day_rows(DAY, 6, 1000)
    again = dict(rows[2], note="the later copy")
    store.save(ME, ALL_USERS, [DAY], [*rows, again], fetched_at=NOW)
    loaded = store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY)).set_index("id")
    assert len(loaded) == 6 and loaded.loc[1002, "note"] == "the later copy"


def test_a_file_of_an_older_layout_is_rebuilt(tmp_path):
    path = tmp_path / "calls.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE windows (anything)")
        db.execute("PRAGMA user_version = 1")
    store = CallStore(path)
    store.save(ME, ALL_USERS, [DAY], day_rows(DAY, 3, 1000), fetched_at=NOW)
    assert len(store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY))) == 3


def test_a_row_of_another_day_is_refused(store):
    stray = row(7, day_bounds(DAY)[1])  # the first instant of the next day
    with pytest.raises(ValueError, match="not one of the days"):
        store.save(ME, ALL_USERS, [DAY], [stray], fetched_at=NOW)
    assert store.window_count() == 0


def test_clear_forgets_everything(store):
    store.save(ME, ALL_USERS, [DAY], day_rows(DAY, 5, 1000), fetched_at=NOW)
    store.clear()
    assert store.window_count() == 0
    assert store.stored_days(ME, ALL_USERS, DAY, DAY, NOW - timedelta(days=1)) == set()
    assert store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY)).empty


def test_a_damaged_file_is_started_afresh(tmp_path):
    path = tmp_path / "calls.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = CallStore(path)
    store.save(ME, ALL_USERS, [DAY], day_rows(DAY, 3, 1000), fetched_at=NOW)
    assert len(store.load(ME, ALL_USERS, {DAY}, *day_bounds(DAY))) == 3


def test_two_stores_on_one_file_see_each_others_windows(tmp_path):
    # The dashboard and the CLI are separate processes sharing the file.
    first, second = CallStore(tmp_path / "calls.sqlite"), CallStore(tmp_path / "calls.sqlite")
    first.save(ME, ALL_USERS, [DAY], day_rows(DAY, 3, 1000), fetched_at=NOW)
    assert second.stored_days(ME, ALL_USERS, DAY, DAY, NOW - timedelta(hours=1)) == {DAY}
