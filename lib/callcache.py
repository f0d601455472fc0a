"""Keeps closed UTC-day windows of parsed call rows in a local SQLite file, so each is read once."""

# What a stored window is: every call of one UTC day, of one user scope (a user id, or ALL_USERS
# for a read of every user), of one identity (whose data: API host and the token's user), read
# completely from the API at `fetched_at`. Which windows may be stored (only closed days), and
# how old a window may be before it is read again, is the caller's policy (lib/datasource.py);
# this module only keeps what it is given and answers exactly what it is asked.
#
# Layout (PRAGMA user_version = SCHEMA_VERSION; another version is dropped and rebuilt):
#   sources  (id, identity)                                   one row per identity
#   windows  (source, scope, day, fetched_at)                 one row per stored window
#   calls    (source, scope, day, id, created_us, user_id, outbound, from_number, to_number,
#             purpose_id, disposition_id, prospect_id, note)  the window's rows
# `day` counts UTC days since 1970-01-01; `created_us` is microseconds since the epoch (exact:
# the API's times have millisecond precision). Each call sits in the window of its own creation
# day, and (source, scope, day, id) is the key, so a window can hold a call only once.
#
# Nothing secret is stored: no tokens, only call rows and an identity such as
# "https://api.outreach.io user 5".
#
# Every operation opens its own short-lived connection: the dashboard reads from several
# threads and the CLI from another process, and SQLite's own locking (WAL, busy timeout) keeps
# them consistent without a lock of ours.

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib.schema import CALL_DTYPES

__all__ = ["ALL_USERS", "CallStore", "day_bounds", "utc_day"]

log = logging.getLogger(__name__)

ALL_USERS = -1  # the scope of a read of every user (Outreach user ids are positive)
SCHEMA_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.date()
_MICROSECOND = timedelta(microseconds=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY,
    identity TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS windows (
    source INTEGER NOT NULL,
    scope INTEGER NOT NULL,
    day INTEGER NOT NULL,
    fetched_at REAL NOT NULL,
    PRIMARY KEY (source, scope, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS calls (
    source INTEGER NOT NULL,
    scope INTEGER NOT NULL,
    day INTEGER NOT NULL,
    id INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    user_id INTEGER,
    outbound INTEGER NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    purpose_id INTEGER,
    disposition_id INTEGER,
    prospect_id INTEGER,
    note TEXT NOT NULL,
    PRIMARY KEY (source, scope, day, id)
) WITHOUT ROWID;
"""

# The stored columns in the order of the SELECT below, and the frame column each one fills.
_COLUMNS = ("id", "created_us", "user_id", "outbound", "from_number", "to_number", "purpose_id",
            "disposition_id", "prospect_id", "note")


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


def _runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted numbers as inclusive (first, last) runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


class CallStore:
    """Stored UTC-day windows of call rows in one SQLite file, created on first use."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._ready = False

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

    def _prepare(self) -> None:
        """Create the file and its tables; a file of another schema version is rebuilt."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._create_schema()
        except sqlite3.DatabaseError as exc:
            # Not a database (or damaged): it is only a cache, so start it again.
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
                connection.executescript(
                    "DROP TABLE IF EXISTS calls; DROP TABLE IF EXISTS windows; "
                    "DROP TABLE IF EXISTS sources;")
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @staticmethod
    def _source_id(connection: sqlite3.Connection, identity: str, create: bool) -> int | None:
        row = connection.execute("SELECT id FROM sources WHERE identity = ?",
                                 (identity,)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            return None
        cursor = connection.execute("INSERT INTO sources (identity) VALUES (?)", (identity,))
        return int(cursor.lastrowid)

    # ----- reading -----

    def stored_days(self, identity: str, scope: int, first: date, last: date,
                    fetched_since: datetime) -> set[date]:
        """The days from `first` to `last` (both included) stored for this identity and scope
        by a read at or after `fetched_since` (older windows count as absent: expired)."""
        with self._connect() as connection:
            source = self._source_id(connection, identity, create=False)
            if source is None:
                return set()
            rows = connection.execute(
                "SELECT day FROM windows WHERE source = ? AND scope = ? AND day BETWEEN ? AND ?"
                " AND fetched_at >= ?",
                (source, scope, _day_number(first), _day_number(last),
                 fetched_since.timestamp()),
            ).fetchall()
        return {_EPOCH_DAY + timedelta(days=day) for (day,) in rows}

    def load(self, identity: str, scope: int, days: Collection[date], after: datetime,
             before: datetime, user_ids: Collection[int] | None = None) -> pd.DataFrame:
        """The stored calls of these days' windows with after <= created_at < before (and of
        `user_ids` only, when given), as a calls frame (lib.schema dtypes; unsorted).

        Ask only for days that `stored_days` reported: a day that is not stored gives no rows.
        """
        low, high = _micros(after), _micros(before)
        users = None if user_ids is None else sorted(set(user_ids))
        rows: list[tuple[Any, ...]] = []
        with self._connect() as connection:
            source = self._source_id(connection, identity, create=False)
            if source is not None and days and users != []:
                user_filter = ""
                if users is not None:
                    user_filter = f" AND user_id IN ({','.join('?' * len(users))})"
                sql = (f"SELECT {', '.join(_COLUMNS)} FROM calls WHERE source = ? AND scope = ?"
                       " AND day BETWEEN ? AND ? AND created_us >= ? AND created_us < ?"
                       + user_filter)
                # One snapshot for all runs, so a concurrent writer cannot split the answer.
                connection.execute("BEGIN")
                for first, last in _runs(_day_number(day) for day in days):
                    rows.extend(connection.execute(
                        sql, (source, scope, first, last, low, high, *(users or ()))))
                connection.execute("COMMIT")
        return _frame(rows)

    # ----- writing -----

    def save(self, identity: str, scope: int, days: Collection[date],
             rows: Iterable[Mapping[str, Any]], fetched_at: datetime) -> None:
        """Store these days' windows as read completely at `fetched_at`, replacing older copies.

        `rows` are lib.schema.parse_call rows, each created on one of `days` (a row of another
        day is a ValueError: it would be served for a day it does not belong to). A day without
        rows is stored too: "no calls that day" is worth remembering.
        """
        day_numbers = {_day_number(day) for day in days}
        records: list[tuple[Any, ...]] = []
        for row in rows:
            created = row["created_at"]
            day = _day_number(utc_day(created))
            if day not in day_numbers:
                raise ValueError(f"Call {row['id']} was created on {utc_day(created)}, which is "
                                 "not one of the days being stored.")
            records.append((
                day, row["id"], _micros(created), row["user_id"], bool(row["outbound"]),
                row["from_number"] or "", row["to_number"] or "", row["purpose_id"],
                row["disposition_id"], row["prospect_id"], row["note"] or "",
            ))
        if not day_numbers:
            return
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                source = self._source_id(connection, identity, create=True)
                for first, last in _runs(day_numbers):
                    connection.execute(
                        "DELETE FROM calls WHERE source = ? AND scope = ? AND day BETWEEN ? AND ?",
                        (source, scope, first, last))
                connection.executemany(
                    "INSERT OR REPLACE INTO windows (source, scope, day, fetched_at)"
                    " VALUES (?, ?, ?, ?)",
                    [(source, scope, day, fetched_at.timestamp()) for day in day_numbers])
                connection.executemany(
                    f"INSERT OR REPLACE INTO calls (source, scope, day, {', '.join(_COLUMNS)})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(source, scope, *record) for record in records])
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def purge(self, fetched_before: datetime) -> int:
        """Delete every window (of every identity) read before `fetched_before`: expired ones
        are never served, so this only bounds the file's size. Returns how many went."""
        cutoff = fetched_before.timestamp()
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute(
                    "DELETE FROM calls WHERE (source, scope, day) IN"
                    " (SELECT source, scope, day FROM windows WHERE fetched_at < ?)", (cutoff,))
                gone = connection.execute("DELETE FROM windows WHERE fetched_at < ?",
                                          (cutoff,)).rowcount
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return gone

    def clear(self) -> None:
        """Forget every stored window (the "full reload")."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("DELETE FROM calls")
            connection.execute("DELETE FROM windows")
            connection.execute("DELETE FROM sources")
            connection.execute("COMMIT")

    def window_count(self) -> int:
        """How many windows are stored (all identities and scopes); for tests and benchmarks."""
        with self._connect() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM windows").fetchone()[0])


def _frame(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """A calls frame (lib.schema.CALL_DTYPES) from stored tuples, built column by column: the
    warm read of a quarter is tens of thousands of rows, and per-row dicts would dominate it."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in _COLUMNS]
    by_name = dict(zip(_COLUMNS, columns, strict=True))
    created = pd.to_datetime(np.asarray(by_name.pop("created_us"), dtype="int64"), unit="us",
                             utc=True)
    data: dict[str, Any] = {}
    for name, dtype in CALL_DTYPES.items():
        if name == "created_at":
            data[name] = pd.Series(created).astype(dtype)
        elif name == "outbound":
            data[name] = pd.Series(np.asarray(by_name[name], dtype=bool))
        elif dtype == "object":
            data[name] = pd.Series(list(by_name[name]), dtype=object)
        else:
            data[name] = pd.Series(list(by_name[name]), dtype=dtype)
    return pd.DataFrame(data)
