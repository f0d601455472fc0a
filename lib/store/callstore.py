"""Keeps calls by id in a local SQLite file, with which day ranges are complete and each
identity's sync bookmark: the store every read answers from (lib.store.sync fills it)."""

# What is kept, per identity (whose data: org, user and API version; see lib.store.sync):
#   calls      every call read, by id (an upsert replaces the older copy), with its
#              `updated_at` where the API gave one. A call sits under its own creation time,
#              so it is served for no other day and never twice.
#   coverage   (scope, day) -> complete up to `complete_to`, as read at `fetched_at`: every call
#              of that UTC day created before `complete_to` (the day's end for a closed day, the
#              read's pinned end for today) of that scope (a user id, or ALL_USERS for every
#              user) is in `calls`, as the API held it at `fetched_at`. Only `replace_days`
#              writes coverage: a day is only ever marked complete together with its calls.
#   identities the bookmark of v2's change feed (the largest `updatedAt` stored from it) and
#              when the last sync finished.
# Replacing a day removes the scope's stored calls of that span that the re-read no longer
# returned: that is how a deleted call leaves the store (the API has no deletion feed).
#
# Layout: PRAGMA user_version = SCHEMA_VERSION. A file of an older layout (version 3 kept whole
# days as column blobs, with no ids to upsert) is dropped and rebuilt: the store holds only
# what the API can give again, so the price is one cold read, never a crash.
#
# Nothing secret is stored: no tokens; an identity is kept as a hash of its text.
#
# Every operation opens its own short-lived connection: the dashboard reads from several
# threads and the CLI from another process, and SQLite's own locking (WAL, busy timeout) keeps
# them consistent without a lock of ours.

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib.frames import empty_calls_frame, has_v2_fields

__all__ = ["ALL_USERS", "CallStore", "Covered", "SyncMarks", "day_bounds", "utc_day"]

log = logging.getLogger(__name__)

ALL_USERS = -1  # the scope of a read of every user (Outreach user ids are positive)
SCHEMA_VERSION = 4
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.date()
_MICROSECOND = timedelta(microseconds=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS identities (
    id INTEGER PRIMARY KEY,
    identity TEXT NOT NULL UNIQUE,
    bookmark_us INTEGER,
    synced_at_us INTEGER
);
CREATE TABLE IF NOT EXISTS calls (
    identity INTEGER NOT NULL,
    id INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER,
    user_id INTEGER,
    outbound INTEGER NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    purpose_id INTEGER,
    disposition_id INTEGER,
    prospect_id INTEGER,
    note TEXT NOT NULL,
    outcome TEXT,
    state TEXT,
    dialed_us INTEGER,
    answered_us INTEGER,
    completed_us INTEGER,
    PRIMARY KEY (identity, created_us, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS calls_by_id ON calls (identity, id);
CREATE TABLE IF NOT EXISTS coverage (
    identity INTEGER NOT NULL,
    scope INTEGER NOT NULL,
    day INTEGER NOT NULL,
    complete_to_us INTEGER NOT NULL,
    fetched_at_us INTEGER NOT NULL,
    PRIMARY KEY (identity, scope, day)
) WITHOUT ROWID;
"""

_BASE_COLUMNS = ("id", "created_us", "user_id", "outbound", "from_number", "to_number",
                 "purpose_id", "disposition_id", "prospect_id", "note")
_V2_COLUMNS = ("outcome", "state", "dialed_us", "answered_us", "completed_us")
_ALL_COLUMNS = (*_BASE_COLUMNS, "updated_us", *_V2_COLUMNS)
_TIME_COLUMNS = {"created_us": "created_at", "dialed_us": "dialed_at",
                 "answered_us": "answered_at", "completed_us": "completed_at",
                 "updated_us": "updated_at"}


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware datetime."""
    return moment.astimezone(UTC).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The half-open UTC interval [day 00:00, next day 00:00)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _day_number(day: date) -> int:
    return (day - _EPOCH_DAY).days


def _micros(moment: datetime) -> int:
    # Integer arithmetic on timedeltas: float timestamps would lose microseconds.
    return (moment.astimezone(UTC) - _EPOCH) // _MICROSECOND


def _moment(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + micros * _MICROSECOND


@dataclass(frozen=True)
class Covered:
    """One stored complete (scope, day): complete up to `complete_to`, read at `fetched_at`."""

    complete_to: datetime
    fetched_at: datetime


@dataclass(frozen=True)
class SyncMarks:
    """An identity's sync state: v2's change bookmark and when the last sync finished."""

    bookmark: datetime | None = None
    synced_at: datetime | None = None


class CallStore:
    """Calls by id, their coverage and sync marks, in one SQLite file created on first use."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._ready = False

    def __repr__(self) -> str:
        return f"CallStore({str(self.path)!r})"

    # ----- connections -----

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode; callers open transactions explicitly."""
        if not self._ready:
            self._prepare()
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout,
                                     isolation_level=None)) as connection:
            connection.execute("PRAGMA synchronous = NORMAL")  # WAL keeps this crash-safe
            yield connection

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one write transaction, committed when the block ends well."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def _prepare(self) -> None:
        """Create the file and its tables; a file of another layout is rebuilt."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._create_schema()
        except sqlite3.DatabaseError as exc:
            # Not a database (or damaged): it holds only what the API can give again.
            log.warning("The call store %s was unreadable (%s); starting it afresh.",
                        self.path, exc)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._create_schema()
        self._ready = True

    def _create_schema(self) -> None:
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout,
                                     isolation_level=None)) as connection:
            connection.execute("PRAGMA journal_mode = WAL")  # readers never wait for a writer
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                log.info("The call store %s has layout %s; rebuilding it as layout %s (the "
                         "next read is a cold one).", self.path, version, SCHEMA_VERSION)
                connection.executescript(
                    "DROP TABLE IF EXISTS windows; DROP TABLE IF EXISTS sources; "
                    "DROP TABLE IF EXISTS coverage; DROP TABLE IF EXISTS calls; "
                    "DROP TABLE IF EXISTS identities; VACUUM;")
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @staticmethod
    def _identity_id(connection: sqlite3.Connection, identity: str, create: bool) -> int | None:
        key = hashlib.sha256(identity.encode()).hexdigest()
        row = connection.execute("SELECT id FROM identities WHERE identity = ?",
                                 (key,)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            return None
        cursor = connection.execute("INSERT INTO identities (identity) VALUES (?)", (key,))
        return int(cursor.lastrowid)

    # ----- sync marks -----

    def marks(self, identity: str) -> SyncMarks:
        """The identity's bookmark and last sync (both None before its first sync)."""
        with self._connect() as connection:
            source = self._identity_id(connection, identity, create=False)
            if source is None:
                return SyncMarks()
            bookmark, synced = connection.execute(
                "SELECT bookmark_us, synced_at_us FROM identities WHERE id = ?",
                (source,)).fetchone()
        return SyncMarks(_moment(bookmark), _moment(synced))

    def set_marks(self, identity: str, *, bookmark: datetime | None = None,
                  synced_at: datetime | None = None) -> None:
        """Write the bookmark and/or the last sync (None leaves that one as it is)."""
        with self._writing() as connection:
            source = self._identity_id(connection, identity, create=True)
            if bookmark is not None:
                connection.execute("UPDATE identities SET bookmark_us = ? WHERE id = ?",
                                   (_micros(bookmark), source))
            if synced_at is not None:
                connection.execute("UPDATE identities SET synced_at_us = ? WHERE id = ?",
                                   (_micros(synced_at), source))

    # ----- coverage -----

    def coverage(self, identity: str, scopes: Collection[int], first: date,
                 last: date) -> dict[tuple[int, date], Covered]:
        """The complete (scope, day)s of these scopes from `first` to `last` (both included)."""
        with self._connect() as connection:
            source = self._identity_id(connection, identity, create=False)
            if source is None or not scopes:
                return {}
            marks = ",".join("?" * len(scopes))
            rows = connection.execute(
                "SELECT scope, day, complete_to_us, fetched_at_us FROM coverage WHERE "
                f"identity = ? AND scope IN ({marks}) AND day BETWEEN ? AND ?",
                (source, *scopes, _day_number(first), _day_number(last))).fetchall()
        return {(scope, _EPOCH_DAY + timedelta(days=day)):
                Covered(_moment(complete_to), _moment(fetched_at))
                for scope, day, complete_to, fetched_at in rows}

    def covered_days(self, identity: str, *, since: date | None = None,
                     fetched_before: datetime | None = None,
                     limit: int | None = None) -> list[tuple[int, date]]:
        """(scope, day)s stored complete: from `since` on, and/or read before
        `fetched_before`; the longest unread first, at most `limit`."""
        where, params = ["identity = ?"], []
        if since is not None:
            where.append("day >= ?")
            params.append(_day_number(since))
        if fetched_before is not None:
            where.append("fetched_at_us < ?")
            params.append(_micros(fetched_before))
        with self._connect() as connection:
            source = self._identity_id(connection, identity, create=False)
            if source is None:
                return []
            rows = connection.execute(
                f"SELECT scope, day FROM coverage WHERE {' AND '.join(where)}"
                " ORDER BY fetched_at_us, day, scope" + ("" if limit is None else " LIMIT ?"),
                (source, *params, *([] if limit is None else [limit]))).fetchall()
        return [(scope, _EPOCH_DAY + timedelta(days=day)) for scope, day in rows]

    # ----- reading -----

    def load(self, identity: str, after: datetime, before: datetime,
             user_ids: Collection[int] | None, dtypes: Mapping[str, str]) -> pd.DataFrame:
        """The stored calls with after <= created_at < before (of `user_ids` only, when given),
        as a calls frame of `dtypes` (lib.frames; v2's columns when they name them), sorted
        by (created_at, id). Ask only for what `coverage` says is complete."""
        v2 = has_v2_fields(dtypes)
        columns = _BASE_COLUMNS + (_V2_COLUMNS if v2 else ())
        with self._connect() as connection:
            source = self._identity_id(connection, identity, create=False)
            if source is None:
                return empty_calls_frame(dtypes)
            query = (f"SELECT {', '.join(columns)} FROM calls WHERE identity = ?"
                     " AND created_us >= ? AND created_us < ?")
            params: list[Any] = [source, _micros(after), _micros(before)]
            if user_ids is not None:
                wanted = sorted(set(user_ids))
                if not wanted:
                    return empty_calls_frame(dtypes)
                query += f" AND user_id IN ({','.join('?' * len(wanted))})"
                params.extend(wanted)
            # Column-wise: one JSON array per column, which json.loads turns into lists in C;
            # rows as tuples cost three times as long for a quarter of a team's calls.
            arrays = connection.execute(
                f"SELECT COUNT(*), {', '.join(f'json_group_array({c})' for c in columns)} FROM "
                f"({query} ORDER BY created_us, id)", params).fetchone()
        try:
            by_name = dict(zip(columns, (json.loads(a) for a in arrays[1:]), strict=True))
        except ValueError as exc:
            raise sqlite3.DatabaseError(f"The stored calls are damaged ({exc}).") from exc
        return _frame(arrays[0], by_name, dtypes)

    def call_count(self, identity: str | None = None) -> int:
        """How many calls are stored (of one identity, or of all); for tests and benchmarks."""
        with self._connect() as connection:
            if identity is None:
                return int(connection.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
            source = self._identity_id(connection, identity, create=False)
            if source is None:
                return 0
            return int(connection.execute("SELECT COUNT(*) FROM calls WHERE identity = ?",
                                          (source,)).fetchone()[0])

    # ----- writing -----

    def upsert(self, identity: str, rows: Iterable[Mapping[str, Any]],
               bookmark: datetime | None = None) -> int:
        """Keep these parsed call rows, replacing stored copies by id (unless the stored copy
        is newer, by `updated_at`); with `bookmark`, move
        the identity's bookmark to it in the same transaction (a page of the change feed is
        stored and marked read together, or neither). Returns how many rows were given."""
        records = [_record(row) for row in rows]
        with self._writing() as connection:
            source = self._identity_id(connection, identity, create=True)
            _upsert(connection, source, records)
            if bookmark is not None:
                connection.execute("UPDATE identities SET bookmark_us = ? WHERE id = ?",
                                   (_micros(bookmark), source))
        return len(records)

    def replace_days(self, identity: str, scope: int, spans: Mapping[date, datetime],
                     rows: Iterable[Mapping[str, Any]], fetched_at: datetime) -> int:
        """Store a complete re-read of these days of one scope: `spans` maps each day to how
        far it was read (`complete_to`, at most the day's end), `rows` are every call of the
        scope created in [day start, complete_to) of those days as read at `fetched_at`.
        Stored calls of those spans and that scope that `rows` lack were deleted in Outreach
        and are removed. A row outside the spans is a ValueError (it would be served for a day
        it does not belong to). Returns how many stored calls were removed."""
        bounds = {}
        for day, complete_to in spans.items():
            start, end = day_bounds(day)
            if not start <= complete_to <= end:
                raise ValueError(f"{complete_to} is not within {day}.")
            bounds[_day_number(day)] = (_micros(start), _micros(complete_to))
        records = []
        for row in rows:
            created = _micros(row["created_at"])
            span = bounds.get(_day_number(utc_day(row["created_at"])))
            if span is None or not span[0] <= created < span[1]:
                raise ValueError(f"Call {row['id']} was created at {row['created_at']}, which "
                                 "is not in the spans being stored.")
            if scope != ALL_USERS and row["user_id"] != scope:
                raise ValueError(f"Call {row['id']} is of user {row['user_id']}, not {scope}.")
            records.append(_record(row))
        kept = {record[0] for record in records}
        removed = 0
        with self._writing() as connection:
            source = self._identity_id(connection, identity, create=True)
            for day, (start, end) in bounds.items():
                query = ("SELECT id, updated_us FROM calls WHERE identity = ? AND"
                         " created_us >= ? AND created_us < ?")
                params: list[Any] = [source, start, end]
                if scope != ALL_USERS:
                    query += " AND user_id = ?"
                    params.append(scope)
                # A call changed after this read began exists (another process stored its
                # change meanwhile): only a call the read lacks and nobody touched since goes.
                fetched_us = _micros(fetched_at)
                gone = [(source, call_id) for call_id, updated in connection.execute(query, params)
                        if call_id not in kept and (updated is None or updated <= fetched_us)]
                connection.executemany("DELETE FROM calls WHERE identity = ? AND id = ?", gone)
                removed += len(gone)
                connection.execute(
                    "INSERT OR REPLACE INTO coverage (identity, scope, day, complete_to_us,"
                    " fetched_at_us) VALUES (?, ?, ?, ?, ?)",
                    (source, scope, day, end, _micros(fetched_at)))
            _upsert(connection, source, records)
        return removed

    def clear(self) -> None:
        """Forget every stored call, coverage and bookmark (the "full reload")."""
        with self._writing() as connection:
            for table in ("calls", "coverage", "identities"):
                connection.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)


def _record(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A parsed call row as the calls table's values (_ALL_COLUMNS' order, without identity)."""
    def micros(value: Any) -> int | None:
        return None if value is None or pd.isna(value) else _micros(value)

    def number(value: Any) -> int | None:
        return None if value is None or pd.isna(value) else int(value)

    return (int(row["id"]), _micros(row["created_at"]), number(row["user_id"]),
            int(bool(row["outbound"])), row["from_number"] or "", row["to_number"] or "",
            number(row["purpose_id"]), number(row["disposition_id"]),
            number(row["prospect_id"]), row["note"] or "", micros(row.get("updated_at")),
            row.get("outcome"), row.get("state"), micros(row.get("dialed_at")),
            micros(row.get("answered_at")), micros(row.get("completed_at")))


def _upsert(connection: sqlite3.Connection, source: int | None,
            records: Sequence[tuple[Any, ...]]) -> None:
    """Insert, or replace the stored copy by id unless that copy is newer: another process
    (the cron sync beside the dashboard) may have stored a later edit than this read saw."""
    marks = ", ".join("?" * (len(_ALL_COLUMNS) + 1))
    updates = ", ".join(f"{name} = excluded.{name}" for name in _ALL_COLUMNS if name != "id")
    connection.executemany(
        f"INSERT INTO calls (identity, {', '.join(_ALL_COLUMNS)}) VALUES ({marks})"
        f" ON CONFLICT (identity, id) DO UPDATE SET {updates}"
        " WHERE excluded.updated_us IS NULL OR calls.updated_us IS NULL"
        " OR excluded.updated_us >= calls.updated_us",
        [(source, *record) for record in records])


def _frame(count: int, by_name: Mapping[str, list[Any]],
           dtypes: Mapping[str, str]) -> pd.DataFrame:
    """A calls frame of `dtypes` from `count` stored calls given column by column."""
    if not count:
        return empty_calls_frame(dtypes)
    data: dict[str, pd.Series] = {}
    for name, dtype in dtypes.items():
        stored = next((key for key, value in _TIME_COLUMNS.items() if value == name), name)
        values = by_name[stored]
        if stored in _TIME_COLUMNS:
            data[name] = _times(values, dtype)
        elif name == "outbound":
            data[name] = pd.Series(np.array(values, dtype=bool))
        elif dtype == "Int64":
            data[name] = _nullable_ints(values)
        elif dtype == "object":
            data[name] = pd.Series(values, dtype=object)
        else:
            data[name] = pd.Series(np.array(values, dtype=dtype))
    frame = pd.DataFrame(data)
    # The subquery's order is SQLite's scan of the (created, id) key; checked, never assumed.
    if not frame.set_index(["created_at", "id"]).index.is_monotonic_increasing:
        frame = frame.sort_values(["created_at", "id"], kind="stable").reset_index(drop=True)
    return frame


def _numbers(values: Sequence[int | None]) -> tuple[np.ndarray, np.ndarray]:
    """Integers (None: unknown) as an int64 array and its mask of unknowns, without a loop in
    Python: None becomes NaN in a float array (exact: ids and microsecond times stay below
    2**53)."""
    floats = np.array(values, dtype=np.float64)
    missing = np.isnan(floats)
    return np.where(missing, 0, floats).astype(np.int64), missing


def _nullable_ints(values: Sequence[int | None]) -> pd.Series:
    numbers, missing = _numbers(values)
    return pd.Series(pd.arrays.IntegerArray(numbers, missing))


def _times(micros: Sequence[int | None], dtype: str) -> pd.Series:
    """Epoch microseconds (None: unknown) as aware UTC times of `dtype`."""
    numbers, missing = _numbers(micros)
    times = pd.Series(pd.to_datetime(numbers, unit="us", utc=True))
    if missing.any():
        times = times.where(~missing)
    return times.astype(dtype)
