"""The token store: the newest Outreach tokens of an OAuth app, encrypted at rest (Fernet, with
CALLBOARD_SECRET_KEY), so Connect Outreach and rotated refresh tokens survive restarts and are
shared by every replica: in the database of CALLBOARD_DATABASE_URL when set, else in the SQLite
file CALLBOARD_TOKEN_DB.

One row per (API host, OAuth client id). Only those two and the time of the last write are
stored in the clear; the tokens, their expiry, the granted scopes and where the tokens came
from are one Fernet token (AES-128-CBC with HMAC-SHA256: authenticated, so a changed or
swapped row is refused, never read). Without a key nothing is stored.

Replicas renew one at a time: a renewal holds a lock per (API host, client id) across
processes (a PostgreSQL session advisory lock on a connection of its own, or an flock on a
file beside a SQLite database) and first re-reads the row, so the second replica takes the
access token and the rotated refresh token the first one kept instead of asking Outreach
again (which allows about one renewal a minute, and with rotation spends the old token).
"""

# Layout: one SQLAlchemy Core table, the same columns on both engines. In the
# CALLBOARD_TOKEN_DB file it is `tokens`, the table of the release before, so its files are
# read (and stay readable by it) as they are; in a shared database, beside the call store's
# tables, it is `callboard_tokens`. Either is created when missing, in its own MetaData: the
# call store's layout versions never touch it.

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import (
    Column,
    Engine,
    Float,
    LargeBinary,
    MetaData,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine import Connection as Database
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from lib.outreach.auth import AccessGrant, RefreshingToken, SharedTokens, token_url_for
from lib.outreach.oauth import TokenGrant
from lib.settings import MAKE_SECRET_KEY, Settings, SettingsError
from lib.store.locks import advisory_lock, file_lock

log = logging.getLogger(__name__)

FILE_TABLE = "tokens"  # in the CALLBOARD_TOKEN_DB file: the previous release's table
SHARED_TABLE = "callboard_tokens"  # in the shared CALLBOARD_DATABASE_URL database
_BUSY_TIMEOUT_S = 10.0


def _table(name: str) -> Table:
    return Table(
        name, MetaData(),
        Column("api_base", Text, primary_key=True),
        Column("client_id", Text, primary_key=True),
        Column("sealed", LargeBinary, nullable=False),
        Column("saved_at", Float, nullable=False),
    )


# One engine per database and process: the dashboard asks the store on every page, and a new
# pool each time would open (and leave) new server connections.
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()
_MADE: set[tuple[str, str]] = set()  # (database, table) this process made sure of (servers)


def _engine_for(url: URL) -> Engine:
    key = url.render_as_string(hide_password=False)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            if url.get_backend_name() == "sqlite":
                # A connection per use, as sqlite3 was: a file replaced meanwhile is the new one.
                engine = create_engine(url, poolclass=NullPool,
                                       connect_args={"timeout": _BUSY_TIMEOUT_S})
                _sqlite_transactions(engine)
            else:
                # Keepalives: a renewal lock's connection that dies silently is noticed within
                # minutes. A lock and a write of the same renewal need two connections at once.
                engine = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=8,
                                       connect_args={"keepalives": 1, "keepalives_idle": 60,
                                                     "keepalives_interval": 10,
                                                     "keepalives_count": 5})
            _ENGINES[key] = engine
        return engine


def _sqlite_transactions(engine: Engine) -> None:
    """SQLite through pysqlite: our own BEGIN, IMMEDIATE for a write, so that a read-then-write
    (save_if_lineage) holds the write lock from its start against other processes."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite's own implicit BEGIN off

    @event.listens_for(engine, "begin")
    def _begin(connection: Database) -> None:
        write = connection.get_execution_options().get("tokens_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _lock_key(purpose: str, api_base: str, client_id: str) -> int:
    """A PostgreSQL advisory lock key (a positive bigint) for one app's row. Each purpose its
    own key: a renewal holds one on its own connection while its writes take another, and
    a key shared by both would wait for itself."""
    text = f"callboard tokens {purpose}\n{api_base}\n{client_id}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


class TokenStoreError(Exception):
    """The store could not be read or written; the message says why (never a token)."""


class NotConnected(SettingsError):
    """An OAuth app is set up but no refresh token is known: neither the setting nor a kept one."""


def setting_fingerprint(refresh_token: str | None) -> str | None:
    """Which OUTREACH_REFRESH_TOKEN a kept row descends from, as a hash (inside the sealed part:
    it never needs to be compared in the clear)."""
    if not refresh_token:
        return None
    return hashlib.sha256(refresh_token.encode()).hexdigest()


@dataclass(frozen=True)
class StoredTokens:
    """One app's newest tokens, as kept. `lineage` is random per grant (a Connect, or the first
    rotation of a configured refresh token): a refresh writes only over its own lineage, so a
    Disconnect or a newer Connect is never overwritten by a stale process. `from_setting` is the
    fingerprint of the OUTREACH_REFRESH_TOKEN in force when the lineage began (None: none)."""

    refresh_token: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: float = 0.0
    scopes: tuple[str, ...] | None = None
    minted_at: float | None = None  # when the access token was minted (epoch seconds)
    lineage: str = ""
    from_setting: str | None = None
    connected_at: float = 0.0  # when the lineage began (epoch seconds)
    via: str = "refresh"  # "connect" (the Connect page or the CLI) or "refresh" (a rotation)

    def access_grant(self) -> AccessGrant | None:
        if not self.access_token:
            return None
        return AccessGrant(self.access_token, self.expires_at,
                           frozenset(self.scopes) if self.scopes is not None else None,
                           self.minted_at)


class TokenStore:
    """The encrypted store: a SQLite file (a path; created, with its folder, on the first write,
    mode 0600; table `tokens`), or a database given as a SQLAlchemy URL (sqlite:///... or
    postgresql+psycopg://...; table `callboard_tokens`, created on first use)."""

    def __init__(self, where: str | Path, secret_key: str) -> None:
        text = str(where)
        shared = "://" in text
        self.url = make_url(text if shared else f"sqlite:///{Path(text)}")
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # The SQLite file; None for a server.
        self.path: Path | None = Path(self.url.database) if self.is_sqlite and \
            self.url.database else None
        if self.is_sqlite and self.path is None:
            raise TokenStoreError("The token store must be a file or a server database, not "
                                  "an in-memory SQLite database: tokens would die with it.")
        self._table = _table(SHARED_TABLE if shared else FILE_TABLE)
        self._fernet = Fernet(secret_key.encode("ascii"))

    def __repr__(self) -> str:
        return f"TokenStore({self.where!r}, <key hidden>)"

    @property
    def where(self) -> str:
        """The store named for messages: its file, or its server without a password."""
        if self.path is not None:
            return str(self.path)
        # Host, port and database only: a password can also hide in the query string.
        port = f":{self.url.port}" if self.url.port else ""
        return f"{self.url.get_backend_name()}://{self.url.host or 'localhost'}{port}/" \
            f"{self.url.database or ''}"

    def load(self, api_base: str, client_id: str) -> StoredTokens | None:
        """The kept tokens, or None. TokenStoreError when a row is there but cannot be opened
        with this key (CALLBOARD_SECRET_KEY changed, or the file was altered)."""
        if self.path is not None and not self.path.exists():
            return None
        try:
            if not self.is_sqlite:
                self._make_table()
            with self._engine().connect() as db, db.begin():
                if self.is_sqlite and not inspect(db).has_table(self._table.name):
                    return None
                sealed = db.execute(self._row(api_base, client_id)).scalar()
        except SQLAlchemyError as exc:
            raise TokenStoreError(f"The token store {self.where} cannot be read "
                                  f"({type(exc).__name__}).") from None
        return None if sealed is None else self._open(sealed, api_base, client_id)

    def save(self, api_base: str, client_id: str, tokens: StoredTokens) -> None:
        """Keep these tokens, replacing what the app had."""
        self._write(api_base, client_id, tokens, lambda current: True)

    def save_if_lineage(self, api_base: str, client_id: str, tokens: StoredTokens, *,
                        create: bool) -> bool:
        """Keep these tokens only over the same lineage: a process holding tokens of a
        Disconnected or replaced grant writes nothing. With `create` (a lineage that began
        from the configured refresh token) also where the app has no row, or a row that does
        not descend from that setting (older than it: the setting changed since)."""
        def allowed(current: StoredTokens | None) -> bool:
            if current is None:
                return create
            if current.lineage == tokens.lineage:
                return True
            return create and current.from_setting != tokens.from_setting

        return self._write(api_base, client_id, tokens, allowed)

    def delete(self, api_base: str, client_id: str) -> bool:
        """Forget the app's tokens; True if there were some."""
        if self.path is not None and not self.path.exists():
            return False
        try:
            with self._writing(api_base, client_id) as db:
                if self.is_sqlite and not inspect(db).has_table(self._table.name):
                    return False
                table = self._table
                done = db.execute(delete(table).where(table.c.api_base == api_base,
                                                      table.c.client_id == client_id))
                return done.rowcount > 0
        except SQLAlchemyError as exc:
            raise TokenStoreError(f"The token store {self.where} cannot be written "
                                  f"({type(exc).__name__}).") from None

    @contextmanager
    def renewal_lock(self, api_base: str, client_id: str) -> Iterator[None]:
        """Held while one process renews the app's access token, so that replicas sharing
        this store never renew twice: the next one waits, then finds the new tokens kept.
        PostgreSQL: a session advisory lock on a connection of its own; SQLite: an exclusive
        flock on a file beside the database. Both end with their holder, however it ends.
        TokenStoreError when the lock cannot be taken (the caller may renew without it)."""
        key = _lock_key("renewal", api_base, client_id)
        lock = file_lock(Path(f"{self.path}.renewal-{key:x}.lock")) if self.path is not None \
            else advisory_lock(self._engine(), key, "token renewal")
        with ExitStack() as held:
            try:
                held.enter_context(lock)  # only taking it is the store's failure
            except (OSError, SQLAlchemyError) as exc:
                raise TokenStoreError(f"The token store {self.where} cannot be locked for a "
                                      f"renewal ({type(exc).__name__}).") from None
            yield

    # ----- the database -----

    def _engine(self) -> Engine:
        return _engine_for(self.url)

    def _row(self, api_base: str, client_id: str) -> Any:
        table = self._table
        return select(table.c.sealed).where(table.c.api_base == api_base,
                                            table.c.client_id == client_id)

    def _make_table(self) -> None:
        """Make the table on a server at first use (once per process)."""
        made = (self.url.render_as_string(hide_password=False), self._table.name)
        if made in _MADE:
            return
        with self._engine().connect() as db, db.begin():
            # Replicas starting together on a new database: one creates, the others wait.
            db.execute(select(func.pg_advisory_xact_lock(_lock_key("layout", "", ""))))
            self._table.create(db, checkfirst=True)
        _MADE.add(made)

    @contextmanager
    def _writing(self, api_base: str, client_id: str) -> Iterator[Database]:
        """One write transaction, which holds the app's row against other writers from its
        start (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction advisory lock), so a read
        and the write that depends on it are one step."""
        if not self.is_sqlite:
            self._make_table()
        with self._engine().connect().execution_options(tokens_write=True) as db, db.begin():
            if not self.is_sqlite:
                db.execute(select(func.pg_advisory_xact_lock(
                    _lock_key("write", api_base, client_id))))
            yield db

    def _write(self, api_base: str, client_id: str, tokens: StoredTokens,
               allowed: Callable[[StoredTokens | None], bool]) -> bool:
        try:
            created = False
            if self.path is not None:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                created = not self.path.exists()
            with self._writing(api_base, client_id) as db:
                if created:
                    assert self.path is not None
                    os.chmod(self.path, 0o600)  # the tokens are sealed; still nobody else's
                if self.is_sqlite:
                    self._table.create(db, checkfirst=True)
                sealed = db.execute(self._row(api_base, client_id)).scalar()
                try:
                    current = None if sealed is None else self._open(sealed, api_base,
                                                                     client_id)
                except TokenStoreError:
                    current = None  # unreadable with this key: a new one replaces it
                if not allowed(current):
                    return False  # nothing written: the commit ends a read
                values = {"api_base": api_base, "client_id": client_id,
                          "sealed": self._seal(tokens, api_base, client_id),
                          "saved_at": time.time()}
                insert = (sqlite.insert if self.is_sqlite else postgresql.insert)(self._table)
                db.execute(insert.values(**values).on_conflict_do_update(
                    index_elements=["api_base", "client_id"],
                    set_={"sealed": values["sealed"], "saved_at": values["saved_at"]}))
            return True
        except (SQLAlchemyError, OSError) as exc:
            raise TokenStoreError(f"The token store {self.where} cannot be written "
                                  f"({type(exc).__name__}).") from None

    def _seal(self, tokens: StoredTokens, api_base: str, client_id: str) -> bytes:
        # The row's key goes inside too, so a sealed value copied to another row is refused.
        payload = {"api_base": api_base, "client_id": client_id,
                   "refresh_token": tokens.refresh_token, "access_token": tokens.access_token,
                   "expires_at": tokens.expires_at, "minted_at": tokens.minted_at,
                   "scopes": list(tokens.scopes) if tokens.scopes is not None else None,
                   "lineage": tokens.lineage, "from_setting": tokens.from_setting,
                   "connected_at": tokens.connected_at, "via": tokens.via}
        return self._fernet.encrypt(json.dumps(payload).encode())

    def _open(self, sealed: bytes, api_base: str, client_id: str) -> StoredTokens:
        unreadable = TokenStoreError(
            f"The tokens kept in {self.where} cannot be opened with CALLBOARD_SECRET_KEY (the "
            "key changed, or the file was altered): connect Outreach again.")
        try:
            payload = json.loads(self._fernet.decrypt(bytes(sealed)))
        except (InvalidToken, ValueError, TypeError):
            raise unreadable from None
        if not isinstance(payload, dict) or payload.get("api_base") != api_base or \
                payload.get("client_id") != client_id or \
                not isinstance(payload.get("refresh_token"), str):
            raise unreadable
        scopes = payload.get("scopes")
        return StoredTokens(
            refresh_token=payload["refresh_token"],
            access_token=payload.get("access_token") or None,
            expires_at=float(payload.get("expires_at") or 0.0),
            minted_at=_seconds_or_none(payload.get("minted_at")),
            scopes=tuple(scopes) if isinstance(scopes, list) else None,
            lineage=str(payload.get("lineage") or ""),
            from_setting=payload.get("from_setting"),
            connected_at=float(payload.get("connected_at") or 0.0),
            via=str(payload.get("via") or "refresh"),
        )


def _seconds_or_none(value: object) -> float | None:
    # A file from before minted_at was kept has none: the mint gate then starts open.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


# ----- the app's connection: what the settings and the store say together -----------------


def store_for(settings: Settings) -> TokenStore | None:
    """The settings' token store, or None without CALLBOARD_SECRET_KEY (nothing is kept): the
    shared database of CALLBOARD_DATABASE_URL when set (every replica's), else the file
    CALLBOARD_TOKEN_DB."""
    if not settings.secret_key:
        return None
    return TokenStore(settings.database_url or settings.token_db, settings.secret_key)


@dataclass(frozen=True)
class Connection:
    """Whether the OAuth app has a refresh token, and from where: "store" (kept by Connect or a
    rotation), "setting" (OUTREACH_REFRESH_TOKEN), or None (not connected). `problem` is a
    sentence about the store (no key, unreadable), to show an admin."""

    source: str | None
    kept: StoredTokens | None = None
    problem: str | None = None

    @property
    def connected(self) -> bool:
        return self.source is not None


NO_KEY = ("CALLBOARD_SECRET_KEY is not set, so Callboard cannot keep Outreach tokens (it never "
          f"stores them unencrypted). Make a key with {MAKE_SECRET_KEY}, set it, and restart.")


def connect_problem(settings: Settings) -> str | None:
    """Why Connect Outreach cannot run with these settings (a sentence), or None."""
    if not settings.uses_oauth_refresh:
        return ("Connect Outreach needs an OAuth app: set OUTREACH_CLIENT_ID and "
                "OUTREACH_CLIENT_SECRET (and no OUTREACH_ACCESS_TOKEN).")
    if not settings.redirect_uri:
        return ("Connect Outreach needs OUTREACH_REDIRECT_URI: Callboard's address followed by "
                "/connect (https://, as registered with the Outreach app), such as "
                "https://callboard.northwind.example/connect.")
    if not settings.secret_key:
        return NO_KEY
    return None


def connection(settings: Settings) -> Connection:
    """Which refresh token the app would use now. A kept one wins when OUTREACH_REFRESH_TOKEN is
    unset or is the one the kept lineage began under (so the kept one is newer); a setting that
    changed since is newer than the store, and wins."""
    store = store_for(settings)
    configured = settings.refresh_token
    if store is None:
        return Connection("setting" if configured else None, problem=NO_KEY)
    try:
        _carry_over(settings, store)
        kept = store.load(settings.api_base, settings.client_id or "")
    except TokenStoreError as exc:
        return Connection("setting" if configured else None, problem=str(exc))
    if kept is not None and (configured is None or
                             kept.from_setting == setting_fingerprint(configured)):
        return Connection("store", kept)
    return Connection("setting" if configured else None)


def _carry_over(settings: Settings, store: TokenStore) -> None:
    """Move the app's tokens from the CALLBOARD_TOKEN_DB file into the shared database, where
    the release before kept them even beside a CALLBOARD_DATABASE_URL: so an upgrade stays
    connected. Moved, not copied, so that a Disconnect is not undone by the file. Where the
    shared database has a row already, the file's replaces it only when it is a later mint of
    the same grant (a process of the release before kept renewing into the file during the
    upgrade): its refresh token is then the only one Outreach still takes."""
    if not settings.database_url or not settings.secret_key:
        return
    old = TokenStore(settings.token_db, settings.secret_key)
    if old.path is None or not old.path.exists():
        return
    api_base, client_id = settings.api_base, settings.client_id or ""
    try:
        tokens = old.load(api_base, client_id)
    except TokenStoreError:
        return  # not readable with this key: nothing to carry over, and not ours to delete
    if tokens is None:
        return
    def older(current: StoredTokens | None) -> bool:
        return current is None or (current.lineage == tokens.lineage
                                   and (tokens.minted_at or 0) > (current.minted_at or 0))

    if store._write(api_base, client_id, tokens, older):
        log.info("The Outreach tokens kept in %s are moved into the shared database %s, "
                 "which every replica uses from now on.", old.where, store.where)
    old.delete(api_base, client_id)


def connect(settings: Settings, grant: TokenGrant) -> StoredTokens:
    """Keep the tokens a Connect got (a new lineage, replacing any other of this app)."""
    store = store_for(settings)
    if store is None:
        raise TokenStoreError(NO_KEY)
    tokens = StoredTokens(
        refresh_token=grant.refresh_token, access_token=grant.access_token,
        expires_at=grant.expires_at,
        scopes=tuple(sorted(grant.scopes)) if grant.scopes is not None else None,
        lineage=secrets.token_hex(8), from_setting=setting_fingerprint(settings.refresh_token),
        connected_at=time.time(), via="connect")
    store.save(settings.api_base, settings.client_id or "", tokens)
    log.info("Connected to Outreach at %s: the tokens are kept encrypted in %s.",
             settings.api_base, store.where)
    return tokens


def disconnect(settings: Settings) -> bool:
    """Forget the app's kept tokens; True if there were some. OUTREACH_REFRESH_TOKEN, if set,
    still connects: only the settings can remove it."""
    store = store_for(settings)
    if store is None:
        return False
    forgotten = store.delete(settings.api_base, settings.client_id or "")
    if forgotten:
        log.info("Disconnected from Outreach at %s: the kept tokens are forgotten.",
                 settings.api_base)
    return forgotten


class _Keeper:
    """Writes each token a RefreshingToken mints to the store, over its own lineage only, and
    gives it what other processes of the same grant kept meanwhile (its `newest` hook) and the
    store's lock around a renewal (its `renewal_lock` hook)."""

    def __init__(self, store: TokenStore, settings: Settings, tokens: StoredTokens,
                 create: bool) -> None:
        self._store = store
        self._api_base = settings.api_base
        self._client_id = settings.client_id or ""
        self._tokens = tokens
        self._create = create
        # The tokens as the store last held them to this process's knowledge (read or
        # written): a row that still holds them has nothing newer, even where a write of this
        # process failed and its own tokens are newer than the row.
        self._seen: tuple[str, str | None] | None = None if create else \
            (tokens.refresh_token, tokens.access_token)

    def new_refresh_token(self, refresh_token: str) -> None:
        # Written at once and first: this one is what a restart needs (the old is spent).
        self._keep(replace(self._tokens, refresh_token=refresh_token))

    def new_access_token(self, grant: AccessGrant) -> None:
        scopes = tuple(sorted(grant.scopes)) if grant.scopes is not None else self._tokens.scopes
        self._keep(replace(self._tokens, access_token=grant.access_token,
                           expires_at=grant.expires_at, scopes=scopes,
                           minted_at=grant.minted_at))

    def newest(self) -> SharedTokens | None:
        """What another process of this grant kept since this one last looked, or None."""
        try:
            stored = self._store.load(self._api_base, self._client_id)
        except TokenStoreError as exc:
            log.warning("%s This process renews with the tokens it holds.", exc)
            return None
        if stored is None or not self._same_grant(stored):
            return None
        seen = (stored.refresh_token, stored.access_token)
        if seen == self._seen:
            return None
        self._seen = seen
        self._tokens, self._create = stored, False  # its lineage is this process's from now on
        return SharedTokens(stored.refresh_token, stored.access_grant())

    @contextmanager
    def renewal_lock(self) -> Iterator[None]:
        with ExitStack() as stack:
            try:
                stack.enter_context(self._store.renewal_lock(self._api_base, self._client_id))
            except TokenStoreError as exc:
                # Renewing unlocked risks a second renewal elsewhere; not renewing stops reads.
                log.warning("%s Renewing without it: another replica may renew at the same "
                            "time.", exc)
            yield

    def _same_grant(self, stored: StoredTokens) -> bool:
        if stored.lineage == self._tokens.lineage:
            return True
        # Replicas started together from one OUTREACH_REFRESH_TOKEN each began a lineage of
        # it: the one kept first is that grant's, and the others join it. A Connect is
        # another grant, never joined.
        return stored.via == "refresh" and self._tokens.via == "refresh" and \
            self._tokens.from_setting is not None and \
            stored.from_setting == self._tokens.from_setting

    def _keep(self, tokens: StoredTokens) -> None:
        self._tokens = tokens
        try:
            kept = self._store.save_if_lineage(self._api_base, self._client_id, tokens,
                                               create=self._create)
        except TokenStoreError as exc:
            # The tokens still work in memory; only a restart would lose them.
            log.warning("The new Outreach tokens could not be kept: %s", exc)
            return
        if kept:
            self._create = False  # the lineage exists now: only over it from here on
            self._seen = (tokens.refresh_token, tokens.access_token)
        else:
            log.warning("The Outreach tokens kept for this app were replaced or forgotten "
                        "(Connect or Disconnect elsewhere): this process's tokens are not kept.")


def refreshing_token(settings: Settings, clock: Callable[[], float]) -> tuple[RefreshingToken,
                                                                                 str]:
    """The RefreshingToken for an OAuth app, and a stable id of its grant (for the store of
    calls: a new grant starts cold). Prefers a kept refresh token that is newer than the
    configured one (see `connection`), and keeps every rotated refresh token and new access
    token in the store, which replicas sharing it renew through one at a time (see the top).
    NotConnected when no refresh token is known."""
    state = connection(settings)
    if state.problem is not None and state.source == "setting":
        log.warning("%s A rotated refresh token lives only in memory until then.",
                    state.problem)
    store = store_for(settings)
    if state.source is None:
        raise NotConnected(
            "Callboard is not connected to Outreach yet: an admin connects it on its Connect "
            "Outreach page, or with `python -m lib.cli connect` (or set "
            "OUTREACH_REFRESH_TOKEN)." + (f" {state.problem}" if state.problem else ""))
    if state.source == "store":
        assert state.kept is not None
        kept, create = state.kept, False
        # A rotation of the configured token is still that grant; a Connect is a new one.
        grant_id = settings.refresh_token if kept.via != "connect" and settings.refresh_token \
            else f"kept {kept.lineage}"
        log.info("Using the Outreach refresh token kept in the token store (%s).",
                 "from Connect Outreach" if kept.via == "connect"
                 else "newer than OUTREACH_REFRESH_TOKEN")
    else:
        assert settings.refresh_token is not None
        kept = StoredTokens(refresh_token=settings.refresh_token, lineage=secrets.token_hex(8),
                            from_setting=setting_fingerprint(settings.refresh_token),
                            connected_at=time.time(), via="refresh")
        create, grant_id = True, settings.refresh_token
        log.info("Using OUTREACH_REFRESH_TOKEN.")
    keeper = _Keeper(store, settings, kept, create) if store is not None else None
    auth = RefreshingToken(
        token_url=token_url_for(settings.api_base),
        client_id=settings.client_id or "",
        client_secret=settings.client_secret or "",
        refresh_token=kept.refresh_token,
        clock=clock,
        redirect_uri=settings.redirect_uri,
        on_new_refresh_token=keeper.new_refresh_token if keeper else None,
        current=kept.access_grant(),
        on_new_access_token=keeper.new_access_token if keeper else None,
        newest=keeper.newest if keeper else None,
        renewal_lock=keeper.renewal_lock if keeper else None,
    )
    return auth, grant_id
