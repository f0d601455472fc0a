"""Keeps closed UTC-day windows of parsed call rows in a local SQLite file, so each is read once."""

# What a stored window is: every call of one UTC day, of one user scope (a user id, or ALL_USERS
# for a read of every user), of one identity (whose data: API host and the token's user), read
# completely from the API at `fetched_at`. Which windows may be stored (only closed days), and
# how old a window may be before it is read again, is the caller's policy (lib/datasource.py);
# this module only keeps what it is given and answers exactly what it is asked.
#
# Layout (PRAGMA user_version = SCHEMA_VERSION; another version is dropped and rebuilt):
#   sources  (id, identity)                                            one row per identity
#   windows  (source, scope, day, fetched_at, calls, numbers, texts,   one row per stored window
#             v2_numbers, v2_texts)
# `day` counts UTC days since 1970-01-01. A window's calls are stored column-wise in two
# values: `numbers`, the little-endian int64 matrix of NUMBER_COLUMNS (one row of the matrix
# per column, NULL as INT64_NA; created_us is microseconds since the epoch), and `texts`, a JSON
# array of the TEXT_COLUMNS lists. A quarter of a 25-rep team is ~65,000 calls in 90 windows:
# read as rows through sqlite3 that took 0.2 s of Python tuples, as columns it is ~90 blobs.
# Calls read from API v2 carry more (lib.frames.V2_CALL_DTYPES): `v2_numbers` holds V2_NUMBER_
# COLUMNS the same way and `v2_texts` the JSON of V2_TEXT_COLUMNS (null kept: unknown); both are
# NULL for 1.0 calls. A load has the v2 columns only when every window with calls has them, so
# a frame never claims v2 facts for some calls and leaves them out for others.
# Each call sits in the window of its own creation day, once (save de-duplicates by id), so the
# store can serve a call neither for another day nor twice; load trims to [after, before).
#
# Nothing secret is stored: no tokens, only call rows and an identity such as
# "https://api.outreach.io user 5".
#
# Every operation opens its own short-lived connection: the dashboard reads from several
# threads and the CLI from another process, and SQLite's own locking (WAL, busy timeout) keeps
# them consistent without a lock of ours.

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib.frames import CALL_DTYPES, V2_CALL_DTYPES, has_v2_fields

__all__ = ["ALL_USERS", "CallStore", "day_bounds", "utc_day"]

log = logging.getLogger(__name__)

ALL_USERS = -1  # the scope of a read of every user (Outreach user ids are positive)
SCHEMA_VERSION = 3
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
    calls INTEGER NOT NULL,
    numbers BLOB NOT NULL,
    texts TEXT NOT NULL,
    v2_numbers BLOB,
    v2_texts TEXT,
    PRIMARY KEY (source, scope, day)
) WITHOUT ROWID;
"""

NUMBER_COLUMNS = ("id", "created_us", "user_id", "outbound", "purpose_id", "disposition_id",
                  "prospect_id")
TEXT_COLUMNS = ("from_number", "to_number", "note")
V2_NUMBER_COLUMNS = ("dialed_at", "answered_at", "completed_at")  # as epoch microseconds
V2_TEXT_COLUMNS = ("outcome", "state")
INT64_NA = np.iinfo(np.int64).min  # no Outreach id or epoch time comes near it
_INT64 = np.dtype("<i8")


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
                    "DROP TABLE IF EXISTS sources; VACUUM;")
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
                    fetched_since: datetime, *, with_v2_fields: bool = False) -> set[date]:
        """The days from `first` to `last` (both included) stored for this identity and scope
        by a read at or after `fetched_since` (older windows count as absent: expired).
        `with_v2_fields`: only windows whose calls carry v2's fields (or that have no calls)."""
        with self._connect() as connection:
            source = self._source_id(connection, identity, create=False)
            if source is None:
                return set()
            rows = connection.execute(
                "SELECT day FROM windows WHERE source = ? AND scope = ? AND day BETWEEN ? AND ?"
                " AND fetched_at >= ?"
                + (" AND (calls = 0 OR v2_numbers IS NOT NULL)" if with_v2_fields else ""),
                (source, scope, _day_number(first), _day_number(last),
                 fetched_since.timestamp()),
            ).fetchall()
        return {_EPOCH_DAY + timedelta(days=day) for (day,) in rows}

    def load(self, identity: str, scope: int, days: Collection[date], after: datetime,
             before: datetime, user_ids: Collection[int] | None = None) -> pd.DataFrame:
        """The stored calls of these days' windows with after <= created_at < before (and of
        `user_ids` only, when given), as a calls frame (lib.frames dtypes; unsorted).

        Ask only for days that `stored_days` reported: a day that is not stored gives no rows.
        """
        wanted = {_day_number(day) for day in days}
        windows: list[tuple[int, bytes, str, bytes | None, str | None]] = []
        with self._connect() as connection:
            source = self._source_id(connection, identity, create=False)
            if source is not None and wanted:
                # One snapshot for all runs, so a concurrent writer cannot split the answer.
                connection.execute("BEGIN")
                for first, last in _runs(wanted):
                    windows.extend(connection.execute(
                        "SELECT calls, numbers, texts, v2_numbers, v2_texts FROM windows"
                        " WHERE source = ? AND scope = ? AND day BETWEEN ? AND ? AND calls > 0",
                        (source, scope, first, last)))
                connection.execute("COMMIT")
        try:
            frame = _frame(windows)
        except ValueError as exc:  # a blob or JSON of the wrong shape: as damaged as a bad page
            raise sqlite3.DatabaseError(f"A stored window is damaged ({exc}).") from exc
        keep = ((frame["created_at"] >= after) & (frame["created_at"] < before)).to_numpy()
        if user_ids is not None:
            keep = keep & frame["user_id"].isin(list(user_ids)).to_numpy(dtype=bool, na_value=False)
        return frame if keep.all() else frame[keep].reset_index(drop=True)

    # ----- writing -----

    def save(self, identity: str, scope: int, days: Collection[date],
             rows: Iterable[Mapping[str, Any]], fetched_at: datetime) -> None:
        """Store these days' windows as read completely at `fetched_at`, replacing older copies.

        `rows` are parsed call rows, each created on one of `days` (a row of another
        day is a ValueError: it would be served for a day it does not belong to). A day without
        rows is stored too: "no calls that day" is worth remembering.
        """
        day_numbers = {_day_number(day) for day in days}
        by_day: dict[int, dict[int, Mapping[str, Any]]] = {day: {} for day in day_numbers}
        for row in rows:
            created = row["created_at"]
            day = _day_number(utc_day(created))
            if day not in by_day:
                raise ValueError(f"Call {row['id']} was created on {utc_day(created)}, which is "
                                 "not one of the days being stored.")
            by_day[day][int(row["id"])] = row  # once per window; the last copy wins
        if not by_day:
            return
        records = [(day, fetched_at.timestamp(), len(calls), *_pack(list(calls.values())))
                   for day, calls in by_day.items()]
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                source = self._source_id(connection, identity, create=True)
                connection.executemany(
                    "INSERT OR REPLACE INTO windows (source, scope, day, fetched_at, calls,"
                    " numbers, texts, v2_numbers, v2_texts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            connection.execute("DELETE FROM windows")
            connection.execute("DELETE FROM sources")
            connection.execute("COMMIT")

    def window_count(self) -> int:
        """How many windows are stored (all identities and scopes); for tests and benchmarks."""
        with self._connect() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM windows").fetchone()[0])


def _int64_matrix(columns: Sequence[Sequence[int]], calls: int) -> bytes:
    """Columns of `calls` int64 values each, as one blob (one matrix row per column)."""
    return np.array(columns, dtype=_INT64).reshape(len(columns), calls).tobytes()


def _pack(rows: Sequence[Mapping[str, Any]]) -> tuple[bytes, str, bytes | None, str | None]:
    """One window's rows as (numbers, texts, v2_numbers, v2_texts); see the layout above."""
    def number(value: Any) -> int:
        return INT64_NA if value is None else int(value)

    def micros(value: Any) -> int:
        return INT64_NA if value is None or pd.isna(value) else _micros(value)

    columns = [[_micros(row["created_at"]) for row in rows] if name == "created_us"
               else [number(row[name]) for row in rows] for name in NUMBER_COLUMNS]
    texts = [[row[name] or "" for row in rows] for name in TEXT_COLUMNS]
    packed = (_int64_matrix(columns, len(rows)), json.dumps(texts, ensure_ascii=False))
    if not rows or not all(has_v2_fields(row) for row in rows):
        return (*packed, None, None)
    v2_columns = [[micros(row[name]) for row in rows] for name in V2_NUMBER_COLUMNS]
    v2_texts = [[row[name] for row in rows] for name in V2_TEXT_COLUMNS]
    return (*packed, _int64_matrix(v2_columns, len(rows)),
            json.dumps(v2_texts, ensure_ascii=False))


def _matrix(blob: bytes, n_columns: int, calls: int) -> np.ndarray:
    """The (n_columns, calls) int64 matrix `_int64_matrix` packed; a blob of another size is
    an error rather than a silently reshaped matrix."""
    return np.frombuffer(blob, dtype=_INT64).reshape(n_columns, calls)


def _frame(windows: Sequence[tuple[int, bytes, str, bytes | None, str | None]]) -> pd.DataFrame:
    """A calls frame (lib.frames dtypes) from stored windows with calls, column by column; with
    the v2 columns when every window has them."""
    if windows:
        matrix = np.concatenate([_matrix(blob, len(NUMBER_COLUMNS), calls)
                                 for calls, blob, *_rest in windows], axis=1)
    else:
        matrix = np.empty((len(NUMBER_COLUMNS), 0), dtype=_INT64)
    texts = [json.loads(text) for _calls, _blob, text, *_rest in windows]
    by_name = dict(zip(NUMBER_COLUMNS, matrix, strict=True))
    data: dict[str, Any] = {}
    for name, dtype in CALL_DTYPES.items():
        if name == "created_at":
            data[name] = _times(by_name["created_us"], dtype)
        elif name == "outbound":
            data[name] = pd.Series(by_name[name].astype(bool))
        elif name in TEXT_COLUMNS:
            column = TEXT_COLUMNS.index(name)
            values = [text for window in texts for text in window[column]]
            data[name] = pd.Series(values, dtype=object)
        elif dtype == "Int64":
            values = by_name[name]
            data[name] = pd.Series(pd.arrays.IntegerArray(values.copy(), values == INT64_NA))
        else:
            data[name] = pd.Series(by_name[name].astype(dtype))
    if windows and all(v2_blob is not None for *_base, v2_blob, _v2_text in windows):
        v2_matrix = np.concatenate([_matrix(v2_blob, len(V2_NUMBER_COLUMNS), calls)
                                    for calls, _blob, _text, v2_blob, _v2_text in windows],
                                   axis=1)
        v2_texts = [json.loads(text) for *_base, text in windows]
        for name, dtype in V2_CALL_DTYPES.items():  # in the order lib.outreach.records gives them
            if name in V2_NUMBER_COLUMNS:
                data[name] = _times(v2_matrix[V2_NUMBER_COLUMNS.index(name)], dtype)
            else:
                index = V2_TEXT_COLUMNS.index(name)
                data[name] = pd.Series([value for window in v2_texts for value in window[index]],
                                       dtype=object)
    return pd.DataFrame(data)


def _times(micros: np.ndarray, dtype: str) -> pd.Series:
    """Epoch microseconds (INT64_NA: unknown) as aware UTC times of `dtype`."""
    missing = micros == INT64_NA
    if not missing.any():
        return pd.Series(pd.to_datetime(micros, unit="us", utc=True)).astype(dtype)
    times = pd.Series(pd.to_datetime(np.where(missing, 0, micros), unit="us", utc=True))
    return times.where(~missing).astype(dtype)
