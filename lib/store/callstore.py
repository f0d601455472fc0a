"""Keeps calls by id in a SQL database (a local SQLite file, or a PostgreSQL shared by several
replicas), with which day ranges are complete and each identity's sync bookmark: the store
every read answers from (lib.store.sync fills it)."""

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
#   call_facts per UTC day, the columns the overview's figures read, packed (lib.store.facts):
#              every write of a day's calls stamps a new `version`; a read finds the days
#              whose blob was `built` from another version and packs them again first.
# Replacing a day removes the scope's stored calls of that span that the re-read no longer
# returned: that is how a deleted call leaves the store (the API has no deletion feed).
# Beside them, per organisation (the API's address and org, as a hash):
#   outcome_mappings  what an admin said each disposition counts as (lib.analytics.outcomes):
#              the one thing here the API cannot give again, so neither a Full reload nor a
#              rebuild of the layout drops it.
#   goals      each rep's and the team's targets of calls and connects (lib.analytics.goals),
#              kept like the mappings: never dropped by a Full reload or a rebuild.
#
# Layout: the tables below, one code path for both engines (SQLAlchemy Core), and the version
# of the layout in the one-row table `callboard_schema`. A store of another version (or of a
# layout before that table: version 3 kept whole days as column blobs, version 4 the same
# tables unversioned) is dropped and rebuilt: the store holds only what the API can give
# again, so the price is one cold read, never a crash. Layout 5 (without `call_facts`) is
# carried over: the table is added with every stored day marked unpacked. A later layout
# change either adds such a step, or rebuilds.
#
# Nothing secret is stored: no tokens; an identity is kept as a hash of its text.
#
# Every operation takes a pooled connection for one transaction: the dashboard reads from
# several threads and the CLI from another process; each engine's own locking (SQLite: WAL, a
# busy timeout and BEGIN IMMEDIATE for writes; PostgreSQL: row locks of the upserts) keeps
# them consistent without a lock of ours.

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import queue
import secrets
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    false,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.exc import SQLAlchemyError as StoreError

from lib.analytics.goals import TEAM_ID, Goal
from lib.frames import empty_calls_frame, has_v2_fields
from lib.store import facts as packed
from lib.store.locks import advisory_lock, file_lock

__all__ = ["ALL_USERS", "CallStore", "Covered", "StoreError", "StoreRefused", "SyncMarks",
           "day_bounds", "utc_day"]

log = logging.getLogger(__name__)


class StoreRefused(StoreError):
    """The store cannot be used as it is, said in a sentence of ours (safe to show): a layout
    newer than this Callboard's, or a database holding another application's tables."""

ALL_USERS = -1  # the scope of a read of every user (Outreach user ids are positive)
SCHEMA_VERSION = 6
_CARRIED_OVER = 5  # the layout `_migrate` upgrades in place (it lacks only call_facts)
_DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.date()
_MICROSECOND = timedelta(microseconds=1)

_METADATA = MetaData()
# The layout's version, one row: a store of another version is rebuilt (see the top).
_SCHEMA = Table("callboard_schema", _METADATA, Column("version", Integer, nullable=False))
_IDENTITIES = Table(
    "identities", _METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identity", String(64), nullable=False, unique=True),  # a sha256, never the text
    Column("bookmark_us", BigInteger),
    Column("synced_at_us", BigInteger),
)
# Clustered by creation time (SQLite: WITHOUT ROWID), so a range is read in one scan; the
# unique index on id is what an upsert resolves against.
_CALLS = Table(
    "calls", _METADATA,
    Column("identity", Integer, primary_key=True),
    Column("created_us", BigInteger, primary_key=True),
    Column("id", BigInteger, primary_key=True),
    Column("updated_us", BigInteger),
    Column("user_id", BigInteger),
    Column("outbound", Boolean, nullable=False),
    Column("from_number", Text, nullable=False),
    Column("to_number", Text, nullable=False),
    Column("purpose_id", BigInteger),
    Column("disposition_id", BigInteger),
    Column("prospect_id", BigInteger),
    Column("note", Text, nullable=False),
    Column("outcome", Text),
    Column("state", Text),
    Column("dialed_us", BigInteger),
    Column("answered_us", BigInteger),
    Column("completed_us", BigInteger),
    Index("calls_by_id", "identity", "id", unique=True),
    sqlite_with_rowid=False,
)
_COVERAGE = Table(
    "coverage", _METADATA,
    Column("identity", Integer, primary_key=True),
    Column("scope", BigInteger, primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("complete_to_us", BigInteger, nullable=False),
    Column("fetched_at_us", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
_FACTS = Table(
    "call_facts", _METADATA,
    Column("identity", Integer, primary_key=True),
    Column("day", Integer, primary_key=True),  # the UTC day, in days since 1970-01-01
    Column("version", BigInteger, nullable=False),  # stamped anew by every write of the day
    Column("built", BigInteger),  # the version `facts` was packed from; NULL: never packed
    Column("calls", Integer),
    Column("facts", LargeBinary),
    sqlite_with_rowid=False,
)
_MAPPINGS = Table(
    "outcome_mappings", _METADATA,
    Column("organisation", String(64), primary_key=True),  # a sha256, never the text
    Column("disposition_id", BigInteger, primary_key=True),
    Column("flags", Text, nullable=False),  # e.g. "connected conversation", or ""
    Column("saved_us", BigInteger, nullable=False),
    Column("saved_by", Text, nullable=False),
    sqlite_with_rowid=False,
)
_GOALS = Table(
    "goals", _METADATA,
    Column("organisation", String(64), primary_key=True),  # a sha256, never the text
    Column("subject", BigInteger, primary_key=True),  # a rep's user id, or TEAM_ID (-1)
    Column("metric", String(16), primary_key=True),  # "calls" or "connects"
    Column("period", String(8), nullable=False),  # "day" or "week"
    Column("target", Integer, nullable=False),
    Column("saved_us", BigInteger, nullable=False),
    Column("saved_by", Text, nullable=False),
    sqlite_with_rowid=False,
)
_MIGRATION_LOCK = 0x63616C6C626F6172  # "callboard": the advisory lock key of a migration
# Tables of layouts before the versioned one (SQLite only), dropped when met.
_OLD_TABLES = ("windows", "sources", "coverage", "calls", "identities", "call_facts",
               "callboard_schema")

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
    """Calls by id, their coverage and sync marks, in one SQL database created on first use:
    a SQLite file (a path, or a sqlite:/// URL) or a shared PostgreSQL
    (postgresql+psycopg://...), through one code path (SQLAlchemy Core)."""

    def __init__(self, where: str | Path, *, busy_timeout: float = 30.0) -> None:
        text = str(where)
        self.url = make_url(text if "://" in text else f"sqlite:///{Path(text)}")
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # The SQLite file (created with its folder); None for a server.
        self.path: Path | None = Path(self.url.database) if self.is_sqlite and \
            self.url.database else None
        self.busy_timeout = busy_timeout
        self._engine: Engine | None = None

    def __repr__(self) -> str:
        return f"CallStore({self.where!r})"

    @property
    def where(self) -> str:
        """The store named for messages: its file, or its URL without a password."""
        if self.path:
            return str(self.path)
        # Host, port and database only: a password can also hide in the query string.
        port = f":{self.url.port}" if self.url.port else ""
        return f"{self.url.get_backend_name()}://{self.url.host or 'localhost'}{port}/" \
            f"{self.url.database or ''}"

    # ----- connections -----

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection inside one read transaction (one snapshot)."""
        with self._ready().connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A connection inside one write transaction, committed when the block ends well.
        On SQLite it takes the write lock at BEGIN (IMMEDIATE): a transaction that reads and
        then writes could otherwise fail at once against a concurrent writer."""
        engine = self._ready()
        with engine.connect().execution_options(callboard_write=True) as connection, \
                connection.begin():
            yield connection

    def _ready(self) -> Engine:
        if self._engine is None:
            if self.path is None:
                self._engine = self._open()
            else:
                # Processes opening one new file at once: one sets it up, the others wait.
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(f"{self.path}.setup.lock", "a+b") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    self._engine = self._open_file()
        return self._engine

    def _open_file(self) -> Engine:
        assert self.path is not None
        try:
            return self._open()
        except (DatabaseError, sqlite3.DatabaseError) as exc:
            # (The driver's own error where `_open` speaks to it directly.)
            if isinstance(exc, (OperationalError, sqlite3.OperationalError)):
                raise  # busy or unreachable, not damaged: never throw a good file away
            # Not a database (or damaged): it holds only what the API can give again.
            log.warning("The call store %s was unreadable (%s); starting it afresh.",
                        self.path, type(exc).__name__)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return self._open()

    def _open(self) -> Engine:
        if self.path is not None:
            engine = create_engine(self.url, connect_args={"timeout": self.busy_timeout})
            _sqlite_transactions(engine)
        else:
            # Keepalives: a connection holding the sync lock that dies silently is noticed
            # within minutes, not at TCP's default two hours.
            engine = create_engine(self.url, pool_pre_ping=True, connect_args={
                "keepalives": 1, "keepalives_idle": 60, "keepalives_interval": 10,
                "keepalives_count": 5})
        try:
            if self.path is not None:
                # Once per file (it stays in WAL mode): readers never wait for a writer. On
                # the driver's connection: outside any transaction, as SQLite requires.
                raw = engine.raw_connection()
                try:
                    cursor = raw.cursor()
                    cursor.execute("PRAGMA journal_mode = WAL")
                    cursor.close()
                finally:
                    raw.close()
            self._migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        return engine

    def _migrate(self, engine: Engine) -> None:
        """Create the tables; a store of another layout version is dropped and rebuilt."""
        with engine.connect().execution_options(callboard_write=True) as connection, \
                connection.begin():
            if not self.is_sqlite:
                # Replicas starting together on a new database: one creates, the others wait
                # (SQLite's BEGIN IMMEDIATE already does this).
                connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            tables = set(inspect(connection).get_table_names())
            version = None
            if "callboard_schema" in tables:
                version = connection.execute(select(_SCHEMA.c.version)).scalar()
            if version is not None and version > SCHEMA_VERSION:
                # A newer Callboard beside this one (a rolling deploy): never undo its work.
                raise StoreRefused(f"The call store {self.where} has layout {version}, newer "
                                 f"than this Callboard's {SCHEMA_VERSION}: upgrade Callboard.")
            ours = tables & set(_OLD_TABLES)
            if ours and version is None and not self.is_sqlite:
                # Only SQLite files had unversioned layouts: in a server database these names
                # may be another application's tables.
                raise StoreRefused(f"The database {self.where} has tables named "
                                 f"{', '.join(sorted(ours))} that Callboard did not make: give "
                                 "Callboard a database of its own.")
            if version == _CARRIED_OVER:
                self._add_facts(connection)
                version = SCHEMA_VERSION
            if ours and version != SCHEMA_VERSION:
                log.info("The call store %s has layout %s; rebuilding it as layout %s (the "
                         "next read is a cold one).", self.where, version or "before 5",
                         SCHEMA_VERSION)
                for name in _OLD_TABLES:
                    if name in tables:
                        Table(name, MetaData()).drop(connection)
                version = None
            new = "call_facts" not in set(inspect(connection).get_table_names())
            _METADATA.create_all(connection)
            if new:
                self._store_facts_uncompressed(connection)
            if version is None:
                connection.execute(_SCHEMA.insert().values(version=SCHEMA_VERSION))

    def _store_facts_uncompressed(self, connection: Connection) -> None:
        """PostgreSQL compresses a large value by default (pglz, at about half the size of a
        packed day): on one host, undoing that costs more than moving twice the bytes (40 %
        of the read of a year's packed days). Storage, not behaviour: SQLite never compresses."""
        if not self.is_sqlite:
            connection.exec_driver_sql(
                "ALTER TABLE call_facts ALTER COLUMN facts SET STORAGE EXTERNAL")

    def _add_facts(self, connection: Connection) -> None:
        """Layout 5 to 6: add call_facts, every day that has calls marked never packed."""
        log.info("The call store %s has layout %s; adding its figures' columns (layout %s).",
                 self.where, _CARRIED_OVER, SCHEMA_VERSION)
        _FACTS.create(connection)
        self._store_facts_uncompressed(connection)
        day = _CALLS.c.created_us // _DAY_US
        days = select(_CALLS.c.identity, day, 1).group_by(_CALLS.c.identity, day)
        connection.execute(_FACTS.insert().from_select(["identity", "day", "version"], days))
        connection.execute(update(_SCHEMA).values(version=SCHEMA_VERSION))

    @contextmanager
    def sync_lock(self, identity: str) -> Iterator[None]:
        """Held while one process syncs an identity, so that replicas sharing the store never
        repeat each other's requests: the second waits, then finds the data fresh. PostgreSQL:
        a session advisory lock on a connection of its own; SQLite: an exclusive flock on a
        file beside the database. Both are released when the holder ends, however it ends (a
        replica killed mid-sync blocks nobody; what it stored page by page stays)."""
        key = int(hashlib.sha256(identity.encode()).hexdigest()[:15], 16)  # fits a bigint
        if self.path is not None:
            with file_lock(Path(f"{self.path}.sync-{key:x}.lock")):
                yield
            return
        with advisory_lock(self._ready(), key, "sync"):
            yield

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _identity_id(self, connection: Connection, identity: str,
                     create: bool) -> int | None:
        key = hashlib.sha256(identity.encode()).hexdigest()
        query = select(_IDENTITIES.c.id).where(_IDENTITIES.c.identity == key)
        found = connection.execute(query).scalar()
        if found is not None or not create:
            return found
        # Another process may create it at the same moment: insert if absent, then read.
        connection.execute(self._insert(_IDENTITIES).values(identity=key)
                           .on_conflict_do_nothing(index_elements=["identity"]))
        return connection.execute(query).scalar_one()

    def _insert(self, table: Table) -> Any:
        """INSERT with ON CONFLICT in this engine's dialect (both speak it alike)."""
        return (sqlite.insert if self.is_sqlite else postgresql.insert)(table)

    # ----- outcome mappings -----

    def outcome_flags(self, organisation: str) -> dict[int, frozenset[str]]:
        """The flags an admin saved for each disposition of this organisation ({}: none, the
        defaults hold)."""
        key = hashlib.sha256(organisation.encode()).hexdigest()
        m = _MAPPINGS.c
        with self._reading() as connection:
            rows = connection.execute(select(m.disposition_id, m.flags)
                                      .where(m.organisation == key)).all()
        return {int(disposition): frozenset(flags.split()) for disposition, flags in rows}

    def save_outcome_flags(self, organisation: str, flags: Mapping[int, Collection[str]],
                           by: str, at: datetime) -> None:
        """Replace this organisation's saved flags with `flags` ({}: back to the defaults)."""
        key = hashlib.sha256(organisation.encode()).hexdigest()
        with self._writing() as connection:
            if not self.is_sqlite:
                # Two admins saving at once: one after the other, or the second's delete would
                # miss the first's new rows and its insert collide with them. (SQLite's
                # BEGIN IMMEDIATE already makes writers take turns.)
                connection.execute(select(func.pg_advisory_xact_lock(
                    int.from_bytes(bytes.fromhex(key)[:8], "big", signed=True))))
            connection.execute(delete(_MAPPINGS).where(_MAPPINGS.c.organisation == key))
            if flags:
                connection.execute(_MAPPINGS.insert(), [
                    {"organisation": key, "disposition_id": int(disposition),
                     "flags": " ".join(sorted(set(chosen))), "saved_us": _micros(at),
                     "saved_by": by} for disposition, chosen in flags.items()])

    # ----- goals -----

    def goals(self, organisation: str) -> list[Goal]:
        """The goals kept for this organisation, the team's first, then by rep and metric."""
        key = hashlib.sha256(organisation.encode()).hexdigest()
        g = _GOALS.c
        with self._reading() as connection:
            rows = connection.execute(
                select(g.subject, g.metric, g.period, g.target, g.saved_us, g.saved_by)
                .where(g.organisation == key).order_by(g.subject, g.metric)).all()
        kept = []
        for subject, metric, period, target, saved, saved_by in rows:
            try:
                kept.append(Goal(None if subject == TEAM_ID else int(subject), metric, period,
                                 int(target), _moment(saved), saved_by))
            except ValueError:
                # Written by another release with other rules: left out, not a broken page.
                log.warning("A kept goal (%s of %s) is not one this release paces; left out.",
                            metric, "the team" if subject == TEAM_ID else f"user {subject}")
        return kept

    def save_goals(self, organisation: str, goals: Iterable[Goal],
                   cleared: Iterable[tuple[int | None, str]], by: str, at: datetime) -> None:
        """Keep these goals (each replacing the one of its rep, or the team, and metric) and
        forget the goals of the `cleared` (rep id or None, metric) keys, in one transaction.
        Only the goals named change: two admins setting different reps' goals at once both
        keep theirs. (Row upserts and deletes by key need no lock of ours, unlike the
        mapping's replacement of a whole set: the engine's own row locks order them.)"""
        key = hashlib.sha256(organisation.encode()).hexdigest()
        rows = {(TEAM_ID if goal.rep_id is None else goal.rep_id, goal.metric): goal
                for goal in goals}
        gone = {(TEAM_ID if rep is None else int(rep), metric) for rep, metric in cleared}
        g = _GOALS.c
        with self._writing() as connection:
            for subject, metric in sorted(gone - set(rows)):
                connection.execute(delete(_GOALS).where(
                    g.organisation == key, g.subject == subject, g.metric == metric))
            if rows:
                statement = self._insert(_GOALS)
                connection.execute(statement.on_conflict_do_update(
                    index_elements=["organisation", "subject", "metric"],
                    set_={name: statement.excluded[name]
                          for name in ("period", "target", "saved_us", "saved_by")}),
                    [{"organisation": key, "subject": subject, "metric": metric,
                      "period": goal.period, "target": int(goal.target),
                      "saved_us": _micros(at), "saved_by": by}
                     for (subject, metric), goal in sorted(rows.items())])

    # ----- sync marks -----

    def marks(self, identity: str) -> SyncMarks:
        """The identity's bookmark and last sync (both None before its first sync)."""
        with self._reading() as connection:
            source = self._identity_id(connection, identity, create=False)
            if source is None:
                return SyncMarks()
            bookmark, synced = connection.execute(
                select(_IDENTITIES.c.bookmark_us, _IDENTITIES.c.synced_at_us)
                .where(_IDENTITIES.c.id == source)).one()
        return SyncMarks(_moment(bookmark), _moment(synced))

    def set_marks(self, identity: str, *, bookmark: datetime | None = None,
                  synced_at: datetime | None = None) -> None:
        """Write the bookmark and/or the last sync (None leaves that one as it is)."""
        values = {}
        if bookmark is not None:
            values["bookmark_us"] = _micros(bookmark)
        if synced_at is not None:
            values["synced_at_us"] = _micros(synced_at)
        with self._writing() as connection:
            source = self._identity_id(connection, identity, create=True)
            if values:
                connection.execute(update(_IDENTITIES).where(_IDENTITIES.c.id == source)
                                   .values(**values))

    # ----- coverage -----

    def coverage(self, identity: str, scopes: Collection[int], first: date,
                 last: date) -> dict[tuple[int, date], Covered]:
        """The complete (scope, day)s of these scopes from `first` to `last` (both included)."""
        c = _COVERAGE.c
        with self._reading() as connection:
            source = self._identity_id(connection, identity, create=False)
            if source is None or not scopes:
                return {}
            rows = connection.execute(
                select(c.scope, c.day, c.complete_to_us, c.fetched_at_us).where(
                    c.identity == source, c.scope.in_(list(scopes)),
                    c.day.between(_day_number(first), _day_number(last)))).all()
        return {(scope, _EPOCH_DAY + timedelta(days=day)):
                Covered(_moment(complete_to), _moment(fetched_at))
                for scope, day, complete_to, fetched_at in rows}

    def covered_days(self, identity: str, *, since: date | None = None,
                     fetched_before: datetime | None = None,
                     limit: int | None = None) -> list[tuple[int, date]]:
        """(scope, day)s stored complete: from `since` on, and/or read before
        `fetched_before`; the longest unread first, at most `limit`."""
        c = _COVERAGE.c
        with self._reading() as connection:
            source = self._identity_id(connection, identity, create=False)
            if source is None:
                return []
            query = select(c.scope, c.day).where(c.identity == source)
            if since is not None:
                query = query.where(c.day >= _day_number(since))
            if fetched_before is not None:
                query = query.where(c.fetched_at_us < _micros(fetched_before))
            query = query.order_by(c.fetched_at_us, c.day, c.scope).limit(limit)
            rows = connection.execute(query).all()
        return [(scope, _EPOCH_DAY + timedelta(days=day)) for scope, day in rows]

    # ----- reading -----

    def load(self, identity: str, after: datetime, before: datetime,
             user_ids: Collection[int] | None, dtypes: Mapping[str, str], *,
             newest: int | None = None,
             disposition_ids: Collection[int | None] | None = None) -> pd.DataFrame:
        """The stored calls with after <= created_at < before (of `user_ids` only, when given),
        as a calls frame of `dtypes` (lib.frames; v2's columns when they name them), sorted
        by (created_at, id). Ask only for what `coverage` says is complete.

        `newest`: only the latest that many (still sorted oldest first). `disposition_ids`:
        only calls with one of these dispositions (None in it: calls without one)."""
        columns = _BASE_COLUMNS + (_V2_COLUMNS if has_v2_fields(dtypes) else ())
        c = _CALLS.c
        with self._reading() as connection:
            source = self._identity_id(connection, identity, create=False)
            if source is None:
                return empty_calls_frame(dtypes)
            inner = select(*(c[name] for name in columns)).where(
                c.identity == source, c.created_us >= _micros(after),
                c.created_us < _micros(before))
            if user_ids is not None:
                wanted = sorted(set(user_ids))
                if not wanted:
                    return empty_calls_frame(dtypes)
                inner = inner.where(c.user_id.in_(wanted))
            if disposition_ids is not None:
                named = sorted({int(i) for i in disposition_ids if i is not None})
                none = None in disposition_ids
                if not named and not none:
                    return empty_calls_frame(dtypes)
                inner = inner.where(or_(c.disposition_id.in_(named),
                                        c.disposition_id.is_(None) if none else false()))
            if newest is not None:
                latest = inner.order_by(c.created_us.desc(), c.id.desc()).limit(newest) \
                    .subquery()
                ordered = select(latest).order_by(latest.c.created_us, latest.c.id).subquery()
            else:
                ordered = inner.order_by(c.created_us, c.id).subquery()
            # Column-wise: one JSON array per column, which the JSON parser turns into lists
            # in C; rows as tuples cost three times as long for a quarter of a team's calls.
            # The one word the engines spell differently: json_group_array / json_agg.
            as_array = func.json_group_array if self.is_sqlite else func.json_agg
            arrays = connection.execute(select(
                func.count(), *(as_array(ordered.c[name]) for name in columns))).one()
        if not arrays[0]:
            return empty_calls_frame(dtypes)
        try:
            by_name = {name: json.loads(value) if isinstance(value, str) else value
                       for name, value in zip(columns, arrays[1:], strict=True)}
        except ValueError as exc:
            raise StoreError(f"The stored calls are damaged ({exc}).") from exc
        return _frame(arrays[0], by_name, dtypes)

    def load_facts(self, identity: str, after: datetime, before: datetime,
                   user_ids: Collection[int] | None, v2: bool) -> pd.DataFrame:
        """The columns every figure reads (lib.store.facts: created_at, user_id, outbound,
        disposition_id; with `v2`, outcome and the answer and completion times) of exactly the
        calls `load` would give, in the same order. Days changed since they were last packed
        are packed first (the sync worker's `pack_facts` usually has). Ask only for what
        `coverage` says is complete."""
        after_us, before_us = _micros(after), _micros(before)
        if after_us >= before_us or (user_ids is not None and not user_ids):
            return packed.empty_facts_frame(v2)
        first, last = after_us // _DAY_US, (before_us - 1) // _DAY_US
        f = _FACTS.c
        with self._reading() as connection:
            source = self._identity_id(connection, identity, create=False)
        if source is None:
            return packed.empty_facts_frame(v2)
        for _attempt in range(2):
            self._pack_stale(source, first, last)
            with self._reading() as connection:
                days = f.identity == source, f.day.between(first, last)
                # Sized once from the days' counts: a year of calls is never held twice.
                capacity = connection.execute(select(func.coalesce(func.sum(f.calls), 0))
                                              .where(*days)).scalar_one()
                builder = packed.FactsBuilder(int(capacity), after_us, before_us, user_ids,
                                              v2)
                # A day changed since `_pack_stale` (a sync this very moment) is read as
                # packed: as of a second ago, like the rest of the read.
                blobs = self._stream(connection, select(f.day, f.facts).where(
                    *days, f.facts.is_not(None)).order_by(f.day))
                unreadable = []
                with closing(blobs):  # its fetch ends before the connection is given back
                    for day, blob in blobs:
                        try:
                            builder.add(bytes(blob))
                        except ValueError:
                            unreadable.append(day)
            if not unreadable:
                return builder.frame()
            # Damaged, or packed by another layout of the blob: packed again from the calls.
            log.warning("%d packed day(s) of the call store %s were unreadable; packing them "
                        "again.", len(unreadable), self.where)
            with self._writing() as connection:
                connection.execute(update(_FACTS).where(f.identity == source,
                                                        f.day.in_(unreadable))
                                   .values(built=None))
        raise StoreError("The stored calls are damaged: their packed days stay unreadable.")

    def _stream(self, connection: Connection, query: Any) -> Iterator[tuple[Any, ...]]:
        """The rows of a query of packed days, a few at a time (a year of them is 84 MB). On
        PostgreSQL in binary (its text form of a blob is hex, twice the bytes to move and
        decode), fetched by a thread of its own while the caller unpacks the days before:
        the server's reading and the unpacking then take the time of the longer, not both."""
        if self.is_sqlite:
            yield from connection.execution_options(yield_per=8).execute(query)
            return
        compiled = query.compile(dialect=connection.dialect)
        driver = connection.connection.driver_connection
        rows: queue.Queue[Any] = queue.Queue(maxsize=32)
        stop = threading.Event()

        def fetch() -> None:
            try:
                with driver.cursor(name="callboard_packed_days", binary=True) as cursor:
                    cursor.itersize = 8
                    cursor.execute(str(compiled), compiled.params)
                    for row in cursor:
                        if stop.is_set():
                            break
                        rows.put(row)
            except BaseException as exc:  # raised again in the reading thread
                rows.put(_Failed(exc))
            finally:
                rows.put(_DONE)

        fetcher = threading.Thread(target=fetch, name="callboard-packed-days", daemon=True)
        fetcher.start()
        done = False
        try:
            while (item := rows.get()) is not _DONE:
                if isinstance(item, _Failed):
                    raise item.error
                yield item
            done = True
        finally:
            stop.set()
            while not done:  # let a fetch blocked on a full queue see `stop` and finish
                done = rows.get() is _DONE
            fetcher.join()

    def pack_facts(self, identity: str) -> int:
        """Pack every day of this identity whose calls changed since it was last packed (the
        sync worker does, so that the dashboard's next read has nothing to pack). Returns how
        many days were packed."""
        with self._reading() as connection:
            source = self._identity_id(connection, identity, create=False)
        return 0 if source is None else self._pack_stale(source, None, None)

    def _pack_stale(self, source: int, first: int | None, last: int | None) -> int:
        f = _FACTS.c
        query = select(f.day, f.version).where(
            f.identity == source, f.built.is_(None) | (f.built != f.version))
        if first is not None:
            query = query.where(f.day.between(first, last))
        with self._reading() as connection:
            stale = connection.execute(query.order_by(f.day)).all()
        c = _CALLS.c
        for day, _ in stale:
            # One write transaction a day, its row locked first: a writer of that day's calls
            # (which marks the row in its own transaction) either committed before, and its
            # calls are read here, or waits, and marks the day again after. SQLite's
            # BEGIN IMMEDIATE excludes writers; PostgreSQL's FOR UPDATE waits for them.
            with self._writing() as connection:
                version = connection.execute(
                    select(f.version).where(f.identity == source, f.day == day)
                    .with_for_update()).scalar()
                if version is None:  # forgotten meanwhile (a Full reload)
                    continue
                rows = connection.execute(
                    select(c.created_us, c.user_id, c.outbound, c.disposition_id, c.outcome,
                           c.answered_us, c.completed_us)
                    .where(c.identity == source, c.created_us >= day * _DAY_US,
                           c.created_us < (day + 1) * _DAY_US)
                    .order_by(c.created_us, c.id)).all()
                connection.execute(
                    update(_FACTS).where(f.identity == source, f.day == day)
                    .values(built=version, calls=len(rows), facts=packed.pack(rows)))
        return len(stale)

    def call_count(self, identity: str | None = None) -> int:
        """How many calls are stored (of one identity, or of all); for tests and benchmarks."""
        with self._reading() as connection:
            query = select(func.count()).select_from(_CALLS)
            if identity is not None:
                source = self._identity_id(connection, identity, create=False)
                if source is None:
                    return 0
                query = query.where(_CALLS.c.identity == source)
            return int(connection.execute(query).scalar_one())

    # ----- writing -----

    def upsert(self, identity: str, rows: Iterable[Mapping[str, Any]],
               bookmark: datetime | None = None) -> int:
        """Keep these parsed call rows, replacing stored copies by id (unless the stored copy
        is newer, by `updated_at`); with `bookmark`, move the identity's bookmark to it in the
        same transaction (a page of the change feed is stored and marked read together, or
        neither). Returns how many rows were given."""
        records = [_record(row) for row in rows]
        with self._writing() as connection:
            source = self._identity_id(connection, identity, create=True)
            self._upsert(connection, source, records)
            if bookmark is not None:
                connection.execute(update(_IDENTITIES).where(_IDENTITIES.c.id == source)
                                   .values(bookmark_us=_micros(bookmark)))
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
        kept = {record["id"] for record in records}
        fetched_us = _micros(fetched_at)
        removed = 0
        c = _CALLS.c
        with self._writing() as connection:
            source = self._identity_id(connection, identity, create=True)
            for day, (start, end) in bounds.items():
                query = select(c.id, c.updated_us).where(
                    c.identity == source, c.created_us >= start, c.created_us < end)
                if scope != ALL_USERS:
                    query = query.where(c.user_id == scope)
                # A call changed after this read began exists (another process stored its
                # change meanwhile): only a call the read lacks and nobody touched since goes.
                gone = [call_id for call_id, updated in connection.execute(query)
                        if call_id not in kept and (updated is None or updated <= fetched_us)]
                if gone:
                    connection.execute(delete(_CALLS).where(c.identity == source,
                                                            c.id.in_(gone)))
                removed += len(gone)
                covered = self._insert(_COVERAGE).values(
                    identity=source, scope=scope, day=day, complete_to_us=end,
                    fetched_at_us=fetched_us)
                connection.execute(covered.on_conflict_do_update(
                    index_elements=["identity", "scope", "day"],
                    set_={"complete_to_us": end, "fetched_at_us": fetched_us}))
            self._touch(connection, source, set(bounds))
            self._upsert(connection, source, records)
        return removed

    def clear(self, identity: str | None = None) -> None:
        """Forget the stored calls, coverage and bookmark of one identity (the "full reload"
        of one sign-in: others sharing the database keep theirs), or of every identity."""
        with self._writing() as connection:
            if identity is None:
                for table in (_CALLS, _COVERAGE, _FACTS, _IDENTITIES):
                    connection.execute(delete(table))
                return
            source = self._identity_id(connection, identity, create=False)
            if source is None:
                return
            connection.execute(delete(_CALLS).where(_CALLS.c.identity == source))
            connection.execute(delete(_COVERAGE).where(_COVERAGE.c.identity == source))
            connection.execute(delete(_FACTS).where(_FACTS.c.identity == source))
            connection.execute(delete(_IDENTITIES).where(_IDENTITIES.c.id == source))

    def _upsert(self, connection: Connection, source: int,
                records: Sequence[dict[str, Any]]) -> None:
        """Insert, or replace the stored copy by id unless that copy is newer: another
        process (the cron sync beside the dashboard) may have stored a later edit than this
        read saw."""
        if not records:
            return
        # The days the rows land in, and the days stored copies leave (a call whose creation
        # time moved would otherwise stay counted where it was).
        days = {record["created_us"] // _DAY_US for record in records}
        ids = [record["id"] for record in records]
        for chunk in range(0, len(ids), 5000):
            days.update(connection.execute(
                select(_CALLS.c.created_us // _DAY_US).distinct().where(
                    _CALLS.c.identity == source,
                    _CALLS.c.id.in_(ids[chunk:chunk + 5000]))).scalars())
        self._touch(connection, source, days)
        statement = self._insert(_CALLS)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["identity", "id"],
            set_={name: new[name] for name in _ALL_COLUMNS if name != "id"},
            where=(new.updated_us.is_(None) | _CALLS.c.updated_us.is_(None)
                   | (new.updated_us >= _CALLS.c.updated_us)))
        connection.execute(statement, [{"identity": source, **record} for record in records])


    def _touch(self, connection: Connection, source: int, days: Collection[int]) -> None:
        """Mark these days' packed figures stale (in the transaction that changes their calls,
        so a blob is never taken for current when it is not). A version is a random stamp,
        never a count: after a Full reload a day (and on SQLite its identity's id) starts
        again, and a count would repeat a version an old blob was packed from."""
        if not days:
            return
        version = secrets.randbits(62)
        statement = self._insert(_FACTS).values(
            [{"identity": source, "day": day, "version": version} for day in sorted(days)])
        connection.execute(statement.on_conflict_do_update(
            index_elements=["identity", "day"], set_={"version": version}))


_DONE = object()
"""The end of a stream of packed days."""


@dataclass(frozen=True)
class _Failed:
    """What stopped the fetch of a stream of packed days, for the reading thread to raise."""

    error: BaseException


def _sqlite_transactions(engine: Engine) -> None:
    """SQLite through pysqlite: our own BEGIN (IMMEDIATE for writes) and synchronous=NORMAL
    (crash-safe under WAL, which `_open` sets once per file)."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite's own implicit BEGIN off
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("callboard_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A parsed call row as the calls table's values (without the identity)."""
    def micros(value: Any) -> int | None:
        return None if value is None or pd.isna(value) else _micros(value)

    def number(value: Any) -> int | None:
        return None if value is None or pd.isna(value) else int(value)

    def text(value: Any) -> str | None:
        # PostgreSQL refuses NUL in text (SQLite would keep it): dropped on both engines.
        return value.replace("\x00", "") if isinstance(value, str) else value

    return {"id": int(row["id"]), "created_us": _micros(row["created_at"]),
            "user_id": number(row["user_id"]), "outbound": bool(row["outbound"]),
            "from_number": text(row["from_number"]) or "",
            "to_number": text(row["to_number"]) or "",
            "purpose_id": number(row["purpose_id"]),
            "disposition_id": number(row["disposition_id"]),
            "prospect_id": number(row["prospect_id"]), "note": text(row["note"]) or "",
            "updated_us": micros(row.get("updated_at")), "outcome": text(row.get("outcome")),
            "state": text(row.get("state")), "dialed_us": micros(row.get("dialed_at")),
            "answered_us": micros(row.get("answered_at")),
            "completed_us": micros(row.get("completed_at"))}


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
