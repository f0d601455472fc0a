"""Locks held across processes while one of them does what the others must not repeat (a sync,
a token renewal): a PostgreSQL session advisory lock, or an flock on a file beside a SQLite
database. Both end with their holder, however it ends: a process killed holding one blocks
nobody."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (made, with its folder, private to this user), waited for.
    OSError when it cannot be made or taken."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the flock


@contextmanager
def advisory_lock(engine: Engine, key: int, what: str) -> Iterator[None]:
    """PostgreSQL's session advisory lock `key` on a connection of its own, waited for.
    SQLAlchemyError when it cannot be taken; a connection lost while it is held only logs
    (the lock went with it, and the caller's own outcome is what matters)."""
    with engine.connect() as connection:
        connection.execute(select(func.pg_advisory_lock(key)))
        connection.commit()
        try:
            yield
        finally:
            try:
                connection.execute(select(func.pg_advisory_unlock(key)))
                connection.commit()
            except SQLAlchemyError as exc:
                log.warning("The %s lock's connection was lost (%s).", what,
                            type(exc).__name__)
                connection.invalidate()
