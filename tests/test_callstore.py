"""The store of calls on its own: what goes in comes out exactly; upserts by id; a day re-read
whole removes the calls it no longer holds, of its own scope only; coverage, bookmarks, an
older layout rebuilt, a damaged file, and two stores on one file."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from lib.frames import CALL_DTYPES, CALL_DTYPES_V2, frame_from_rows
from lib.store.callstore import ALL_USERS, CallStore, Covered, SyncMarks, day_bounds, utc_day

DAY = date(2026, 3, 28)  # the day before Europe's spring DST change; UTC days do not care
# When the days here were "read": a fixed instant after DAY. The store never reads a clock.
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
ME = "http://api.test org 7 user 1 api=1.0"


def row(call_id: int, created: datetime, user_id: int | None = 2, **extra) -> dict:
    values = {"id": call_id, "created_at": created, "user_id": user_id, "outbound": True,
              "from_number": "+15550001111", "to_number": "", "purpose_id": None,
              "disposition_id": 4, "prospect_id": 42, "note": "left voicemail",
              "updated_at": created + timedelta(minutes=3)}
    values.update(extra)
    return values


def day_rows(day: date, count: int, first_id: int, users=(2, 3)) -> list[dict]:
    start, _ = day_bounds(day)
    step = timedelta(days=1) / count
    return [row(first_id + n, start + n * step + timedelta(microseconds=123),
                user_id=users[n % len(users)], outbound=n % 3 != 0,
                disposition_id=None if n % 5 == 0 else n % 7, note=f"call {n} ünïcode")
            for n in range(count)]


def whole(*days: date) -> dict[date, datetime]:
    return {day: day_bounds(day)[1] for day in days}


@pytest.fixture
def store(store_where) -> CallStore:
    """A new store on each engine (tests.conftest.store_where): SQLite and PostgreSQL."""
    store = CallStore(store_where)
    yield store
    store.close()


def test_day_helpers():
    assert day_bounds(DAY) == (datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 29, tzinfo=UTC))
    late = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    # Shown in zones where it is already the next day, or still the same one: the UTC day.
    for zone in ("Pacific/Auckland", "Asia/Kolkata", "America/Los_Angeles"):
        assert utc_day(late.astimezone(ZoneInfo(zone))) == DAY
    assert late.astimezone(ZoneInfo("Pacific/Auckland")).date() != DAY  # a real test of it


def test_what_is_stored_loads_back_exactly(store):
    second = DAY + timedelta(days=1)
    rows = day_rows(DAY, 40, 1000) + day_rows(second, 30, 2000)
    assert store.replace_days(ME, ALL_USERS, whole(DAY, second), rows, NOW) == 0
    after, before = day_bounds(DAY)[0], day_bounds(second)[1]
    loaded = store.load(ME, after, before, None, CALL_DTYPES)
    assert loaded.equals(frame_from_rows(rows, CALL_DTYPES))  # values, dtypes, order
    assert loaded["created_at"].iloc[0].microsecond == 123
    assert loaded["note"].iloc[1] == "call 1 ünïcode"
    assert store.coverage(ME, [ALL_USERS, 2], DAY, second) == {
        (ALL_USERS, DAY): Covered(day_bounds(DAY)[1], NOW),
        (ALL_USERS, second): Covered(day_bounds(second)[1], NOW)}


def test_v2_columns_load_back_exactly_and_unknown_stays_unknown(store):
    rows = [row(1, day_bounds(DAY)[0] + timedelta(hours=9), outcome="Answered",
                state="completed", dialed_at=datetime(2026, 3, 28, 8, 59, tzinfo=UTC),
                answered_at=datetime(2026, 3, 28, 8, 59, 20, tzinfo=UTC),
                completed_at=datetime(2026, 3, 28, 9, 4, tzinfo=UTC)),
            row(2, day_bounds(DAY)[0] + timedelta(hours=10), outcome=None, state=None,
                dialed_at=None, answered_at=None, completed_at=None)]
    store.replace_days(ME, ALL_USERS, whole(DAY), rows, NOW)
    loaded = store.load(ME, *day_bounds(DAY), None, CALL_DTYPES_V2)
    assert loaded.equals(frame_from_rows(rows, CALL_DTYPES_V2))
    assert loaded["outcome"].iloc[1] is None and pd.isna(loaded["answered_at"].iloc[1])
    # Read for 1.0 the same calls have 1.0's columns only.
    assert list(store.load(ME, *day_bounds(DAY), None, CALL_DTYPES).columns) == \
        list(CALL_DTYPES)


def test_load_serves_only_the_range_and_the_users_asked(store):
    rows = day_rows(DAY, 48, 1000, users=(2, 3, 4))
    store.replace_days(ME, ALL_USERS, whole(DAY), rows, NOW)
    after = day_bounds(DAY)[0] + timedelta(hours=6)
    before = after + timedelta(hours=5)
    loaded = store.load(ME, after, before, [2, 4], CALL_DTYPES)
    want = [r for r in rows if after <= r["created_at"] < before and r["user_id"] in (2, 4)]
    assert len(want) == 7 and loaded["id"].tolist() == [r["id"] for r in want]
    assert store.load(ME, after, before, [], CALL_DTYPES).empty
    assert store.load("someone else", after, before, None, CALL_DTYPES).empty


def test_a_day_read_again_whole_removes_the_calls_it_no_longer_has(store):
    rows = day_rows(DAY, 20, 1000)
    store.replace_days(ME, ALL_USERS, whole(DAY), rows, NOW)
    deleted = {rows[3]["id"], rows[11]["id"]}
    edited = dict(rows[5], disposition_id=9, updated_at=NOW)
    again = [edited if r["id"] == edited["id"] else r for r in rows if r["id"] not in deleted]
    later = NOW + timedelta(hours=1)
    assert store.replace_days(ME, ALL_USERS, whole(DAY), again, later) == 2
    loaded = store.load(ME, *day_bounds(DAY), None, CALL_DTYPES)
    assert len(loaded) == 18 and not deleted & set(loaded["id"])
    assert loaded.set_index("id").loc[edited["id"], "disposition_id"] == 9
    assert store.coverage(ME, [ALL_USERS], DAY, DAY)[(ALL_USERS, DAY)].fetched_at == later


def test_a_users_re_read_removes_only_that_users_calls_and_only_within_its_span(store):
    rows = day_rows(DAY, 20, 1000)  # users 2 and 3, alternately
    store.replace_days(ME, ALL_USERS, whole(DAY), rows, NOW)
    noon = day_bounds(DAY)[0] + timedelta(hours=12)
    # User 2's morning read again, and none of their calls came back.
    removed = store.replace_days(ME, 2, {DAY: noon}, [], NOW)
    mornings_of_2 = [r for r in rows if r["user_id"] == 2 and r["created_at"] < noon]
    assert removed == len(mornings_of_2) > 0
    left = set(store.load(ME, *day_bounds(DAY), None, CALL_DTYPES)["id"])
    assert left == {r["id"] for r in rows} - {r["id"] for r in mornings_of_2}
    assert store.coverage(ME, [2], DAY, DAY) == {(2, DAY): Covered(noon, NOW)}


def test_rows_outside_the_spans_or_of_another_user_are_refused(store):
    noon = day_bounds(DAY)[0] + timedelta(hours=12)
    with pytest.raises(ValueError, match="not in the spans"):
        store.replace_days(ME, ALL_USERS, whole(DAY), [row(1, day_bounds(DAY)[1])], NOW)
    with pytest.raises(ValueError, match="not in the spans"):
        store.replace_days(ME, ALL_USERS, {DAY: noon}, [row(1, noon)], NOW)
    with pytest.raises(ValueError, match="of user 3, not 2"):
        store.replace_days(ME, 2, whole(DAY), [row(1, noon, user_id=3)], NOW)
    with pytest.raises(ValueError, match="not within"):
        store.replace_days(ME, 2, {DAY: day_bounds(DAY)[1] + timedelta(seconds=1)}, [], NOW)
    assert store.call_count() == 0 and store.covered_days(ME) == []  # nothing half stored


def test_an_upsert_replaces_by_id_and_moves_the_bookmark_with_it(store):
    first = row(7, day_bounds(DAY)[0] + timedelta(hours=9))
    store.upsert(ME, [first, dict(first, note="given twice, the last wins")])
    assert store.call_count(ME) == 1
    changed = dict(first, disposition_id=2, updated_at=NOW)
    store.upsert(ME, [changed], bookmark=NOW)
    loaded = store.load(ME, *day_bounds(DAY), None, CALL_DTYPES)
    assert loaded["disposition_id"].tolist() == [2]
    assert store.marks(ME) == SyncMarks(bookmark=NOW, synced_at=None)
    # A row the store refuses leaves the bookmark where it was: a page and its mark go together.
    with pytest.raises((TypeError, KeyError)):
        store.upsert(ME, [{"id": 8}], bookmark=NOW + timedelta(hours=1))
    assert store.marks(ME).bookmark == NOW


def test_marks_and_which_days_are_due_for_a_re_read(store):
    assert store.marks(ME) == SyncMarks()
    store.set_marks(ME, synced_at=NOW)
    store.set_marks(ME, bookmark=NOW - timedelta(minutes=2))
    assert store.marks(ME) == SyncMarks(NOW - timedelta(minutes=2), NOW)
    days = [DAY + timedelta(days=n) for n in range(4)]
    for n, day in enumerate(days):  # read on different days: the oldest read first
        store.replace_days(ME, ALL_USERS, whole(day), [], NOW - timedelta(days=10 - n))
    store.replace_days(ME, 5, whole(days[0]), [], NOW)
    assert store.covered_days(ME, fetched_before=NOW - timedelta(days=8)) == \
        [(ALL_USERS, days[0]), (ALL_USERS, days[1])]
    assert store.covered_days(ME, fetched_before=NOW, limit=1) == [(ALL_USERS, days[0])]
    assert store.covered_days(ME, since=days[2]) == [(ALL_USERS, days[2]), (ALL_USERS, days[3])]
    assert len(store.covered_days(ME)) == 5


def test_identities_are_kept_apart_and_only_as_hashes(store):
    store.upsert(ME, [row(1, day_bounds(DAY)[0])])
    other = "http://api.test org 8 user 1 api=1.0"  # the same user id in another org
    assert store.load(other, *day_bounds(DAY), None, CALL_DTYPES).empty
    with store._ready().connect() as connection:  # what the database itself holds
        kept = [key for (key,) in connection.exec_driver_sql("SELECT identity FROM identities")]
    assert kept == [hashlib.sha256(ME.encode()).hexdigest()]


def test_a_new_sqlite_file_is_made_with_its_folder(tmp_path):
    store = CallStore(tmp_path / "nested" / "calls.sqlite")
    store.upsert(ME, [row(1, day_bounds(DAY)[0])])
    assert store.path.exists()
    for suffix in ("", "-wal"):
        path = store.path.with_name(store.path.name + suffix)
        if path.exists():
            assert b"api.test" not in path.read_bytes()


def test_a_file_of_the_older_layout_is_rebuilt_not_a_crash(tmp_path):
    path = tmp_path / "calls.sqlite"
    with sqlite3.connect(path) as old:  # the layout of the store of whole days (version 3)
        old.executescript(
            "CREATE TABLE sources (id INTEGER PRIMARY KEY, identity TEXT NOT NULL UNIQUE);"
            "CREATE TABLE windows (source INTEGER, scope INTEGER, day INTEGER, fetched_at REAL,"
            " calls INTEGER, numbers BLOB, texts TEXT, v2_numbers BLOB, v2_texts TEXT);"
            "INSERT INTO sources VALUES (1, 'http://api.test user 1');"
            "INSERT INTO windows VALUES (1, -1, 20540, 0, 0, x'', '[]', NULL, NULL);"
            "PRAGMA user_version = 3;")
    store = CallStore(path)
    assert store.covered_days(ME) == [] and store.call_count() == 0
    store.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 3, 1), NOW)
    assert store.call_count() == 3
    with sqlite3.connect(path) as check:
        tables = {name for (name,) in check.execute("SELECT name FROM sqlite_master")}
    assert "windows" not in tables and "sources" not in tables


def test_a_damaged_file_is_started_afresh(tmp_path):
    path = tmp_path / "calls.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = CallStore(path)
    store.upsert(ME, [row(1, day_bounds(DAY)[0])])
    assert store.call_count() == 1


def test_clear_forgets_everything(store):
    store.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 5, 1), NOW)
    store.set_marks(ME, bookmark=NOW, synced_at=NOW)
    store.clear()
    assert store.call_count() == 0 and store.covered_days(ME) == []
    assert store.marks(ME) == SyncMarks()


def test_two_stores_on_one_database_see_each_others_calls(store_where):
    one, two = CallStore(store_where), CallStore(store_where)
    one.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 5, 1), NOW)
    assert len(two.load(ME, *day_bounds(DAY), None, CALL_DTYPES)) == 5
    assert two.coverage(ME, [ALL_USERS], DAY, DAY)


def test_an_older_copy_never_replaces_a_newer_one_nor_is_a_later_change_deleted(store):
    # Two processes on one file: a whole-day re-read fetched before an edit is written after
    # the other process stored the edit. The newer copy stays; a call changed after the
    # re-read began is not taken for deleted.
    created = day_bounds(DAY)[0] + timedelta(hours=9)
    fetched = NOW
    edited = row(1, created, note="corrected", updated_at=fetched + timedelta(minutes=1))
    logged = row(2, created + timedelta(hours=1), updated_at=fetched + timedelta(minutes=2))
    store.upsert(ME, [edited, logged])
    stale = row(1, created, note="as first logged", updated_at=created)
    assert store.replace_days(ME, ALL_USERS, whole(DAY), [stale], fetched) == 0
    loaded = store.load(ME, *day_bounds(DAY), None, CALL_DTYPES).set_index("id")
    assert loaded.loc[1, "note"] == "corrected" and 2 in loaded.index
    # A copy as new or newer does replace it; unknown times always do (1.0 may not say).
    store.upsert(ME, [row(1, created, note="later still", updated_at=fetched + timedelta(hours=1))])
    store.upsert(ME, [row(1, created, note="time unknown", updated_at=None)])
    assert store.load(ME, *day_bounds(DAY), None, CALL_DTYPES)["note"].tolist()[0] == \
        "time unknown"


def test_a_store_of_the_previous_release_is_rebuilt(tmp_path):
    # Release 4's layout: these tables without the versioned schema table (PRAGMA
    # user_version = 4). Its calls could not be trusted to match today's columns: rebuilt.
    path = tmp_path / "calls.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE identities (id INTEGER PRIMARY KEY, identity TEXT UNIQUE,"
            " bookmark_us INTEGER, synced_at_us INTEGER);"
            "CREATE TABLE calls (identity INTEGER, id INTEGER, created_us INTEGER,"
            " PRIMARY KEY (identity, id));"
            "CREATE TABLE coverage (identity INTEGER, scope INTEGER, day INTEGER,"
            " complete_to_us INTEGER, fetched_at_us INTEGER);"
            "INSERT INTO identities VALUES (1, 'x', NULL, 1);"
            "INSERT INTO calls VALUES (1, 5, 0);"
            "PRAGMA user_version = 4;")
    store = CallStore(path)
    assert store.call_count() == 0 and store.marks(ME) == SyncMarks()
    store.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 4, 1), NOW)
    assert len(store.load(ME, *day_bounds(DAY), None, CALL_DTYPES_V2)) == 4
    store.close()
    again = CallStore(path)  # a second start keeps what the first stored
    assert again.call_count() == 4


def test_a_nul_in_a_note_is_dropped_on_both_engines(store):
    # PostgreSQL refuses NUL in text: a call whose note holds one must not stop the store.
    store.upsert(ME, [row(1, day_bounds(DAY)[0], note="left\x00 voicemail",
                          from_number="+1555\x000001111")])
    loaded = store.load(ME, *day_bounds(DAY), None, CALL_DTYPES)
    assert (loaded["note"][0], loaded["from_number"][0]) == ("left voicemail", "+15550001111")


def test_one_identitys_full_reload_leaves_the_others(store):
    other = "http://api.test org 8 user 1 api=1.0"
    store.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 3, 1), NOW)
    store.replace_days(other, ALL_USERS, whole(DAY), day_rows(DAY, 4, 100), NOW)
    store.clear(ME)
    assert store.call_count(ME) == 0 and store.covered_days(ME) == []
    assert store.call_count(other) == 4 and len(store.covered_days(other)) == 1


def test_a_newer_layout_is_refused_never_dropped(store_where):
    from sqlalchemy import text

    from lib.store.callstore import StoreRefused

    first = CallStore(store_where)
    first.upsert(ME, [row(1, day_bounds(DAY)[0])])
    with first._ready().begin() as connection:  # a newer Callboard upgraded the store
        connection.execute(text("UPDATE callboard_schema SET version = 99"))
    first.close()
    with pytest.raises(StoreRefused, match="layout 99, newer than this Callboard's"):
        CallStore(store_where).call_count()
    with _raw(store_where) as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM calls")).scalar() == 1


def test_another_applications_tables_are_refused_on_a_server(postgres):
    from sqlalchemy import create_engine, text

    from lib.store.callstore import StoreRefused

    url = postgres.create_database("shared_with_a_helpdesk")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE calls (ticket integer, caller text)"))
        connection.execute(text("INSERT INTO calls VALUES (7, 'a customer')"))
    with pytest.raises(StoreRefused, match="tables named calls that Callboard did not make"):
        CallStore(url).call_count()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT caller FROM calls")).scalar() == "a customer"
    engine.dispose()


def test_a_server_store_is_named_without_its_password():
    store = CallStore("postgresql+psycopg://callboard:s3cret@db.internal:6432/calls"
                      "?password=s3cret&sslpassword=s3cret")
    assert store.where == "postgresql://db.internal:6432/calls"
    assert "s3cret" not in repr(store)


def _raw(where: str):
    """A plain SQLAlchemy connection to a store's database, beside the store's own code."""
    from sqlalchemy import create_engine

    url = where if "://" in where else f"sqlite:///{where}"
    return create_engine(url).connect()


# ----- the figures' columns, packed per day (lib.store.facts) -----


def _facts_of(frame: pd.DataFrame, v2: bool) -> pd.DataFrame:
    """The columns load_facts promises, taken from a frame `load` gave."""
    from lib.frames import FIGURE_COLUMNS, V2_FIGURE_COLUMNS

    columns = list(FIGURE_COLUMNS) + (list(V2_FIGURE_COLUMNS) if v2 else [])
    return frame[columns].reset_index(drop=True)


def test_the_figures_columns_are_the_loaded_calls_exactly(store):
    second = DAY + timedelta(days=1)
    rows = day_rows(DAY, 40, 1000, users=(2, 3, None)) + day_rows(second, 30, 2000)
    store.replace_days(ME, ALL_USERS, whole(DAY, second), rows, NOW)
    # A range that cuts both days, for some users, and one for all.
    after = day_bounds(DAY)[0] + timedelta(hours=5, microseconds=123)
    before = day_bounds(second)[0] + timedelta(hours=7)
    for users in (None, [3], [2, 3, 99]):
        loaded = store.load(ME, after, before, users, CALL_DTYPES)
        facts = store.load_facts(ME, after, before, users, v2=False)
        assert len(facts) == len(loaded) > 0
        pd.testing.assert_frame_equal(facts, _facts_of(loaded, v2=False))
    assert store.load_facts(ME, after, before, [], v2=False).empty
    assert store.load_facts("someone else", after, before, None, v2=False).empty


def test_the_figures_columns_carry_v2s_outcome_and_times(store):
    start = day_bounds(DAY)[0]
    rows = [row(1, start + timedelta(hours=9), outcome="Answered",
                answered_at=start + timedelta(hours=9, seconds=20),
                completed_at=start + timedelta(hours=9, minutes=4)),
            row(2, start + timedelta(hours=10), outcome="Not Answered"),
            row(3, start + timedelta(hours=11), outcome=None, disposition_id=None),
            row(4, start + timedelta(hours=12), outcome="Voicemail left")]
    store.upsert(ME, rows)
    facts = store.load_facts(ME, *day_bounds(DAY), None, v2=True)
    loaded = _facts_of(store.load(ME, *day_bounds(DAY), None, CALL_DTYPES_V2), v2=True)
    assert facts["outcome"].tolist()[:2] == ["Answered", "Not Answered"]
    assert pd.isna(facts["outcome"][2]) and facts["outcome"][3] == "Voicemail left"
    pd.testing.assert_frame_equal(facts.drop(columns="outcome"), loaded.drop(columns="outcome"))
    assert [None if pd.isna(v) else v for v in facts["outcome"]] == loaded["outcome"].tolist()


def test_every_write_of_a_day_shows_in_its_figures_columns(store):
    second = DAY + timedelta(days=1)
    span = day_bounds(DAY)[0], day_bounds(second)[1]
    store.replace_days(ME, ALL_USERS, whole(DAY, second),
                       day_rows(DAY, 10, 100) + day_rows(second, 10, 200), NOW)
    assert len(store.load_facts(ME, *span, None, v2=False)) == 20  # packs both days
    # An edit, a new call, a re-read that lost a call, a call whose time moved to the next day.
    store.upsert(ME, [row(100, day_bounds(DAY)[0] + timedelta(microseconds=123),
                          disposition_id=None, updated_at=NOW + timedelta(hours=1))])
    store.upsert(ME, [row(300, day_bounds(second)[0] + timedelta(hours=20))])
    store.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 10, 100)[:-1], NOW)
    store.upsert(ME, [row(101, day_bounds(second)[0] + timedelta(hours=1),
                          updated_at=NOW + timedelta(hours=2))])
    loaded = store.load(ME, *span, None, CALL_DTYPES)
    assert len(loaded) == 20  # 20 + 1 new - 1 lost; 101 moved, counted once
    pd.testing.assert_frame_equal(store.load_facts(ME, *span, None, v2=False),
                                  _facts_of(loaded, v2=False))
    assert store.pack_facts(ME) == 0  # the read packed every changed day
    store.clear(ME)
    assert store.load_facts(ME, *span, None, v2=False).empty


def test_the_worker_packs_changed_days_ahead_of_a_read(store):
    store.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 10, 100), NOW)
    assert store.pack_facts(ME) == 1 and store.pack_facts(ME) == 0
    store.upsert(ME, [row(500, day_bounds(DAY)[0] + timedelta(hours=3))])
    assert store.pack_facts(ME) == 1
    assert len(store.load_facts(ME, *day_bounds(DAY), None, v2=False)) == 11


def test_a_store_of_layout_5_keeps_its_calls_and_gains_their_figures(store_where):
    from sqlalchemy import text

    first = CallStore(store_where)
    store_rows = day_rows(DAY, 12, 1) + day_rows(DAY + timedelta(days=3), 5, 100)
    first.replace_days(ME, ALL_USERS, whole(DAY, DAY + timedelta(days=3)), store_rows, NOW)
    first.close()
    with _raw(store_where) as connection:  # as yesterday's release left it
        connection.execute(text("DROP TABLE call_facts"))
        connection.execute(text("UPDATE callboard_schema SET version = 5"))
        connection.commit()
    upgraded = CallStore(store_where)
    span = day_bounds(DAY)[0], day_bounds(DAY + timedelta(days=3))[1]
    assert upgraded.call_count(ME) == 17 and upgraded.covered_days(ME) != []
    assert len(upgraded.load_facts(ME, *span, None, v2=False)) == 17
    with _raw(store_where) as connection:
        assert connection.execute(text("SELECT version FROM callboard_schema")).scalar() == 6
    upgraded.close()


def test_a_damaged_packed_day_is_packed_again_never_wrong_figures(store_where):
    from sqlalchemy import text

    store = CallStore(store_where)
    second = DAY + timedelta(days=1)
    store.replace_days(ME, ALL_USERS, whole(DAY, second),
                       day_rows(DAY, 10, 100) + day_rows(second, 7, 200), NOW)
    store.pack_facts(ME)
    with _raw(store_where) as connection:  # damaged, or of an older layout of the blob
        connection.execute(text("UPDATE call_facts SET facts = :junk WHERE day = :day"),
                           {"junk": b"CBF1\x00", "day": (DAY - date(1970, 1, 1)).days})
        connection.commit()
    span = day_bounds(DAY)[0], day_bounds(second)[1]
    assert len(store.load_facts(ME, *span, None, v2=False)) == 17
    assert store.pack_facts(ME) == 0
    store.close()


def _before_the_first_write(store: CallStore, action) -> None:
    """Run `action` (another process's work, on a store of its own) just before `store`
    opens its first write transaction: in the middle of a read that packs days."""
    from contextlib import contextmanager

    original, done = store._writing, []

    @contextmanager
    def writing():
        if not done:
            done.append(True)
            action()
        with original() as connection:
            yield connection

    store._writing = writing


def test_a_write_while_a_day_is_being_packed_is_never_lost_from_the_figures(store_where):
    writer, reader = CallStore(store_where), CallStore(store_where)
    writer.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 10, 100), NOW)
    # The worker stores one more call of the day as this replica's read packs it.
    _before_the_first_write(reader, lambda: writer.upsert(
        ME, [row(999, day_bounds(DAY)[0] + timedelta(hours=3))]))
    facts = reader.load_facts(ME, *day_bounds(DAY), None, v2=False)
    assert len(facts) == len(reader.load(ME, *day_bounds(DAY), None, CALL_DTYPES)) == 11
    writer.close()
    reader.close()


def test_a_full_reload_elsewhere_mid_pack_never_leaves_the_old_calls_counted(store_where):
    writer, reader = CallStore(store_where), CallStore(store_where)
    writer.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 10, 100), NOW)

    def full_reload_and_a_new_read():  # the day and its identity start again from nothing
        writer.clear(ME)
        writer.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 4, 500), NOW)

    _before_the_first_write(reader, full_reload_and_a_new_read)
    reader.load_facts(ME, *day_bounds(DAY), None, v2=False)
    later = CallStore(store_where)
    assert len(later.load_facts(ME, *day_bounds(DAY), None, v2=False)) == 4
    for store in (writer, reader, later):
        store.close()


def test_packed_days_are_kept_uncompressed_on_a_server(postgres):
    # pglz would halve them, and undoing it costs more than the bytes it saves on one host.
    from sqlalchemy import text

    url = postgres.create_database("packed_storage")
    store = CallStore(url)
    store.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 300, 1), NOW)
    assert len(store.load_facts(ME, *day_bounds(DAY), None, v2=False)) == 300
    with _raw(url) as connection:
        storage = connection.execute(text(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'call_facts'::regclass "
            "AND attname = 'facts'")).scalar()
        stored, packed_bytes = connection.execute(text(
            "SELECT pg_column_size(facts), octet_length(facts) FROM call_facts")).one()
    assert storage == "e" and stored >= packed_bytes
    store.close()


def test_a_read_that_fails_midway_leaves_no_fetch_running_and_the_store_usable(store_where,
                                                                                monkeypatch):
    # On PostgreSQL a thread fetches the packed days while the reader unpacks them: a reader
    # that stops (here: out of memory on the third day) must end that fetch before its
    # connection goes back to the pool.
    import threading

    from lib.store import facts

    store = CallStore(store_where)
    days = [DAY + timedelta(days=n) for n in range(40)]  # more than the fetch queue holds
    store.replace_days(ME, ALL_USERS, whole(*days),
                       [call for n, day in enumerate(days) for call in day_rows(day, 5, 100 * n)],
                       NOW)
    store.pack_facts(ME)
    span = day_bounds(days[0])[0], day_bounds(days[-1])[1]
    original, seen = facts.FactsBuilder.add, []

    def add_then_fail(builder, blob):
        seen.append(blob)
        if len(seen) == 3:
            raise MemoryError("no room for a third day")
        original(builder, blob)

    monkeypatch.setattr(facts.FactsBuilder, "add", add_then_fail)
    with pytest.raises(MemoryError) as failed:  # its traceback keeps the read's frame alive
        store.load_facts(ME, *span, None, v2=False)
    assert [t for t in threading.enumerate() if t.name == "callboard-packed-days"] == []
    del failed
    monkeypatch.setattr(facts.FactsBuilder, "add", original)
    assert len(store.load_facts(ME, *span, None, v2=False)) == 200
    store.close()


def test_an_outcome_mapping_is_kept_per_organisation_and_outlives_a_full_reload(store_where):
    store = CallStore(store_where)
    assert store.outcome_flags("org A") == {}
    store.save_outcome_flags("org A", {3: {"connected"}, 7: {"connected", "conversation"},
                                       9: set()}, by="ada@example.com", at=NOW)
    store.save_outcome_flags("org B", {1: {"meeting"}}, by="bob@example.com", at=NOW)
    store.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 4, 1), NOW)
    store.clear()  # every identity's calls: never what an admin chose
    other = CallStore(store_where)  # another replica
    assert other.outcome_flags("org A") == {3: frozenset({"connected"}),
                                            7: frozenset({"connected", "conversation"}),
                                            9: frozenset()}
    store.save_outcome_flags("org A", {7: {"positive"}}, by="ada@example.com", at=NOW)
    assert other.outcome_flags("org A") == {7: frozenset({"positive"})}  # replaced, not merged
    store.save_outcome_flags("org A", {}, by="ada@example.com", at=NOW)
    assert other.outcome_flags("org A") == {}
    assert other.outcome_flags("org B") == {1: frozenset({"meeting"})}
    store.close()
    other.close()


def test_two_admins_saving_at_once_never_fail_and_one_of_them_wins(store_where):
    from concurrent.futures import ThreadPoolExecutor

    stores = [CallStore(store_where) for _ in range(2)]  # two replicas
    choices = [{n: {"connected"} for n in range(1, 30)}, {n: {"meeting"} for n in range(15, 45)}]
    for _ in range(5):
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda pair: pair[0].save_outcome_flags("org A", pair[1], "x", NOW),
                          zip(stores, choices, strict=True)))
        kept = stores[0].outcome_flags("org A")
        assert kept in [{n: frozenset(flags) for n, flags in choice.items()}
                        for choice in choices]
    for store in stores:
        store.close()


# ----- goals (lib.analytics.goals), kept like the outcome mapping -----


def test_goals_are_kept_per_organisation_and_outlive_a_full_reload_and_a_rebuild(store_where):
    from sqlalchemy import text

    from lib.analytics.goals import Goal

    store = CallStore(store_where)
    assert store.goals("org A") == []
    saved_at = NOW + timedelta(minutes=5)
    store.save_goals("org A", [Goal(2, "calls", "day", 50), Goal(None, "connects", "week", 40),
                               Goal(3, "connects", "week", 12)], [], "ada@example.com", saved_at)
    store.save_goals("org B", [Goal(2, "calls", "week", 7)], [], "bob@example.com", saved_at)
    store.replace_days(ME, ALL_USERS, whole(DAY), day_rows(DAY, 4, 1), NOW)
    store.clear(ME)  # one sign-in's Full reload
    store.clear()  # and every identity's: never what an admin set
    other = CallStore(store_where)  # another replica
    kept = [Goal(None, "connects", "week", 40, saved_at, "ada@example.com"),
            Goal(2, "calls", "day", 50, saved_at, "ada@example.com"),
            Goal(3, "connects", "week", 12, saved_at, "ada@example.com")]
    assert other.goals("org A") == kept  # the team's first, then by rep and metric

    # A save changes only the goals it names: a new target, one cleared, the rest kept.
    later = saved_at + timedelta(hours=1)
    store.save_goals("org A", [Goal(2, "calls", "week", 200)], [(None, "connects")],
                     "cy@example.com", later)
    assert other.goals("org A") == [Goal(2, "calls", "week", 200, later, "cy@example.com"),
                                    kept[2]]
    assert other.goals("org B") == [Goal(2, "calls", "week", 7, saved_at, "bob@example.com")]
    store.close()
    other.close()

    with _raw(store_where) as connection:  # a store of an older layout: rebuilt on opening
        connection.execute(text("UPDATE callboard_schema SET version = 4"))
        connection.commit()
    rebuilt = CallStore(store_where)
    assert rebuilt.call_count() == 0  # the calls went, as they always do in a rebuild
    assert [goal.target for goal in rebuilt.goals("org A")] == [200, 12]
    rebuilt.close()

    # A row this release would refuse (a later one allows bigger targets, say) is left out,
    # never a broken page.
    with _raw(store_where) as connection:
        connection.execute(text("UPDATE goals SET target = 10000000 WHERE metric = 'connects'"))
        connection.commit()
    later_release = CallStore(store_where)
    assert [(goal.rep_id, goal.metric) for goal in later_release.goals("org A")] == [
        (2, "calls")]
    later_release.close()


def test_two_admins_setting_goals_at_once_keep_both(store_where):
    from concurrent.futures import ThreadPoolExecutor

    from lib.analytics.goals import Goal

    stores = [CallStore(store_where) for _ in range(2)]  # two replicas
    for round_ in range(5):
        choices = [[Goal(rep, "calls", "day", 10 + round_) for rep in range(1, 30)],
                   [Goal(rep, "connects", "week", 20 + round_) for rep in range(15, 45)]]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda pair: pair[0].save_goals("org A", pair[1], [], "x", NOW),
                          zip(stores, choices, strict=True)))
        kept = {(goal.rep_id, goal.metric): goal.target for goal in stores[1].goals("org A")}
        assert kept == {**{(rep, "calls"): 10 + round_ for rep in range(1, 30)},
                        **{(rep, "connects"): 20 + round_ for rep in range(15, 45)}}
    for store in stores:
        store.close()
