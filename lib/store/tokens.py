"""The token store: the newest Outreach tokens of an OAuth app, encrypted at rest (Fernet, with
CALLBOARD_SECRET_KEY) in SQLite, so Connect Outreach and rotated refresh tokens survive restarts.

One row per (API host, OAuth client id). Only those two and the time of the last write are
stored in the clear; the tokens, their expiry, the granted scopes and where the tokens came
from are one Fernet token (AES-128-CBC with HMAC-SHA256: authenticated, so a changed or
swapped row is refused, never read). Without a key nothing is stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from lib.outreach.auth import AccessGrant, RefreshingToken, token_url_for
from lib.outreach.oauth import TokenGrant
from lib.settings import MAKE_SECRET_KEY, Settings, SettingsError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    api_base TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    saved_at REAL NOT NULL,
    PRIMARY KEY (api_base, client_id)
)
"""


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
    """The encrypted store file (created, with its folder, on the first write; mode 0600)."""

    def __init__(self, path: str | Path, secret_key: str) -> None:
        self.path = Path(path)
        self._fernet = Fernet(secret_key.encode("ascii"))

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r}, <key hidden>)"

    def load(self, api_base: str, client_id: str) -> StoredTokens | None:
        """The kept tokens, or None. TokenStoreError when a row is there but cannot be opened
        with this key (CALLBOARD_SECRET_KEY changed, or the file was altered)."""
        if not self.path.exists():
            return None
        try:
            with closing(self._connect()) as db:
                row = db.execute("SELECT sealed FROM tokens WHERE api_base = ? AND client_id = ?",
                                 (api_base, client_id)).fetchone()
        except sqlite3.Error as exc:
            raise TokenStoreError(f"The token store {self.path} cannot be read "
                                  f"({type(exc).__name__}).") from None
        return None if row is None else self._open(row[0], api_base, client_id)

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
        if not self.path.exists():
            return False
        try:
            with closing(self._connect()) as db, db:
                cursor = db.execute("DELETE FROM tokens WHERE api_base = ? AND client_id = ?",
                                    (api_base, client_id))
                return cursor.rowcount > 0
        except sqlite3.Error as exc:
            raise TokenStoreError(f"The token store {self.path} cannot be written "
                                  f"({type(exc).__name__}).") from None

    # ----- the file -----

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute(_SCHEMA)
        return db

    def _write(self, api_base: str, client_id: str, tokens: StoredTokens,
               allowed: Callable[[StoredTokens | None], bool]) -> bool:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            created = not self.path.exists()
            with closing(self._connect()) as db:
                if created:
                    os.chmod(self.path, 0o600)  # the tokens are sealed; still nobody else's
                db.execute("BEGIN IMMEDIATE")  # read and write as one, against other processes
                try:
                    row = db.execute("SELECT sealed FROM tokens WHERE api_base = ? AND "
                                     "client_id = ?", (api_base, client_id)).fetchone()
                    try:
                        current = None if row is None else self._open(row[0], api_base,
                                                                       client_id)
                    except TokenStoreError:
                        current = None  # unreadable with this key: a new one replaces it
                    if not allowed(current):
                        db.execute("ROLLBACK")
                        return False
                    db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)",
                               (api_base, client_id, self._seal(tokens, api_base, client_id),
                                time.time()))
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            return True
        except (sqlite3.Error, OSError) as exc:
            raise TokenStoreError(f"The token store {self.path} cannot be written "
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
            f"The tokens kept in {self.path} cannot be opened with CALLBOARD_SECRET_KEY (the "
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
    """The settings' token store, or None without CALLBOARD_SECRET_KEY (nothing is kept)."""
    if not settings.secret_key:
        return None
    return TokenStore(settings.token_db, settings.secret_key)


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
        kept = store.load(settings.api_base, settings.client_id or "")
    except TokenStoreError as exc:
        return Connection("setting" if configured else None, problem=str(exc))
    if kept is not None and (configured is None or
                             kept.from_setting == setting_fingerprint(configured)):
        return Connection("store", kept)
    return Connection("setting" if configured else None)


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
             settings.api_base, store.path)
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
    """Writes each token a RefreshingToken mints to the store, over its own lineage only."""

    def __init__(self, store: TokenStore, settings: Settings, tokens: StoredTokens,
                 create: bool) -> None:
        self._store = store
        self._api_base = settings.api_base
        self._client_id = settings.client_id or ""
        self._tokens = tokens
        self._create = create

    def new_refresh_token(self, refresh_token: str) -> None:
        # Written at once and first: this one is what a restart needs (the old is spent).
        self._keep(replace(self._tokens, refresh_token=refresh_token))

    def new_access_token(self, grant: AccessGrant) -> None:
        scopes = tuple(sorted(grant.scopes)) if grant.scopes is not None else self._tokens.scopes
        self._keep(replace(self._tokens, access_token=grant.access_token,
                           expires_at=grant.expires_at, scopes=scopes,
                           minted_at=grant.minted_at))

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
        else:
            log.warning("The Outreach tokens kept for this app were replaced or forgotten "
                        "(Connect or Disconnect elsewhere): this process's tokens are not kept.")


def refreshing_token(settings: Settings, clock: Callable[[], float]) -> tuple[RefreshingToken,
                                                                                 str]:
    """The RefreshingToken for an OAuth app, and a stable id of its grant (for the store of
    calls: a new grant starts cold). Prefers a kept refresh token that is newer than the
    configured one (see `connection`), and keeps every rotated refresh token and new access
    token in the store. NotConnected when no refresh token is known."""
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
    )
    return auth, grant_id
