"""Persists what the sandbox's API and admin routes changed in SQLite, so it survives restarts:
the calls created through the API, and the edits and deletions made by the admin routes."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from .data import CallRow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS created_calls (
    id INTEGER PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    outbound INTEGER NOT NULL,
    from_number TEXT,
    to_number TEXT,
    purpose_id INTEGER,
    disposition_id INTEGER,
    prospect_id INTEGER,
    note TEXT,
    updated_ms INTEGER NOT NULL
)
"""
# An overlay on any call (seeded or created), by id. Files from before it gain it on opening.
_CHANGES_SCHEMA = """
CREATE TABLE IF NOT EXISTS call_changes (
    id INTEGER PRIMARY KEY,
    disposition_set INTEGER NOT NULL DEFAULT 0,
    disposition_id INTEGER,
    disposition_ms INTEGER,
    note_set INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    updated_ms INTEGER NOT NULL,
    deleted_ms INTEGER
)
"""


@dataclass
class CallChange:
    """What the admin routes did to one call: the fields they set (each with the moment, epoch
    ms), the `updated` they stamped, and when they deleted it (None: not deleted)."""

    updated_ms: int
    disposition_set: bool = False
    disposition_id: int | None = None
    disposition_ms: int = 0
    note_set: bool = False
    note: str | None = None
    deleted_ms: int | None = None


class CallStore:
    """Created calls and the admin routes' changes; seeded calls are regenerated from the seed
    on every start."""

    def __init__(self, path: str | Path | None) -> None:
        if path is None:
            target = ":memory:"
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            target = str(path)
        # One connection shared by the server's threads, serialised by our own lock.
        self._conn = sqlite3.connect(target, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._conn:
            self._conn.execute(_SCHEMA)
            self._conn.execute(_CHANGES_SCHEMA)

    def load(self) -> list[CallRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT created_ms, id, user_id, outbound, from_number, to_number, purpose_id,"
                " disposition_id, prospect_id, note, updated_ms FROM created_calls"
                " ORDER BY created_ms, id"
            ).fetchall()
        return [CallRow(r[0], r[1], r[2], bool(r[3]), *r[4:]) for r in rows]

    def add(self, row: CallRow) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO created_calls (created_ms, id, user_id, outbound, from_number,"
                " to_number, purpose_id, disposition_id, prospect_id, note, updated_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row[:3], int(row.outbound), *row[4:]),
            )

    def load_changes(self) -> dict[int, CallChange]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, disposition_set, disposition_id, disposition_ms, note_set, note,"
                " updated_ms, deleted_ms FROM call_changes"
            ).fetchall()
        return {r[0]: CallChange(updated_ms=r[6], disposition_set=bool(r[1]),
                                 disposition_id=r[2], disposition_ms=r[3] or 0,
                                 note_set=bool(r[4]), note=r[5], deleted_ms=r[7])
                for r in rows}

    def save_change(self, call_id: int, change: CallChange) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO call_changes (id, disposition_set, disposition_id,"
                " disposition_ms, note_set, note, updated_ms, deleted_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (call_id, int(change.disposition_set), change.disposition_id,
                 change.disposition_ms, int(change.note_set), change.note, change.updated_ms,
                 change.deleted_ms),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
