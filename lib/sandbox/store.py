"""Persists the calls created through the sandbox's API in SQLite, so they survive restarts."""

from __future__ import annotations

import sqlite3
import threading
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


class CallStore:
    """Created calls only; seeded calls are regenerated from the seed on every start."""

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

    def close(self) -> None:
        with self._lock:
            self._conn.close()
