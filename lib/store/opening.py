"""Opens the data source the settings describe: the real Outreach API (its token, API version
and client) or, without credentials, the bundled sandbox with demo data; either with its store."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from pathlib import Path

from lib.clock import Clock
from lib.outreach import (
    OutreachClient,
    RefreshingToken,
    StaticToken,
    dialect_for,
    names_v2_scopes,
)
from lib.settings import Settings
from lib.store.callstore import CallStore
from lib.store.datasource import DataSource
from lib.store.sync import SyncPolicy
from lib.store.tokens import refreshing_token

log = logging.getLogger(__name__)


def open_source(settings: Settings, clock: Clock | None = None,
                **sandbox_options: object) -> DataSource:
    """A ready data source. Without credentials this starts the bundled sandbox on a free local
    port. The store of calls is settings.cache_db (created on first use; None: no store).

    `clock` is Callboard's (default: the one the settings ask for); the client, the token and
    the source read it, and in demo mode with CALLBOARD_NOW the sandbox is pinned to it.
    `sandbox_options` go to `lib.sandbox.start_sandbox` (tests use them for small data sets).
    """
    where = settings.database_url or settings.cache_db
    store = CallStore(where) if where else None
    policy = sync_policy(settings)
    clock = clock or settings.make_clock()
    if settings.has_credentials:
        auth, grant_id = _auth(settings, clock)
        version = api_version_of(settings, auth)
        client = OutreachClient(settings.api_base, auth, dialect=dialect_for(version),
                                max_workers=settings.max_workers,
                                quota_share=settings.quota_share, clock=clock)
        description = f"the Outreach API {version} at {settings.api_base}"
        return DataSource(client, demo=False, description=description, store=store,
                          store_identity=_v2_identity(settings, version, grant_id),
                          organisation=_v2_organisation(settings, version),
                          credential_key=_credential_key(settings, grant_id),
                          policy=policy, clock=clock)

    # Imported here so that a deployment with credentials never loads the sandbox.
    from lib.sandbox import start_sandbox

    Path(settings.sandbox_db).parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, object] = {"db_path": settings.sandbox_db, **sandbox_options}
    if settings.now is not None:
        # One clock: the sandbox is pinned to the same instant as Callboard.
        options.setdefault("now", clock())
    sandbox = start_sandbox(port=0, **options)
    version = "2" if settings.api_version == "2" else "1.0"
    client = OutreachClient(sandbox.base_url, StaticToken(sandbox.full_token),
                            dialect=dialect_for(version), max_workers=settings.max_workers,
                            quota_share=settings.quota_share, clock=clock)
    return DataSource(
        client,
        demo=True,
        description=f"the local Outreach sandbox with demo data at {sandbox.base_url}",
        sandbox=sandbox,
        store=store,
        store_identity=_sandbox_identity(options, clock()) + f" api={version}",
        # Its data set, not its start day: an edited mapping outlives a restart.
        organisation=_sandbox_identity(options, clock()).rsplit(" started=", 1)[0],
        policy=policy,
        clock=clock,
    )


def sync_policy(settings: Settings) -> SyncPolicy:
    """How the store keeps in sync, from the CALLBOARD_SYNC_* settings."""
    return SyncPolicy(every=timedelta(minutes=settings.sync_every_minutes),
                      trailing_days=settings.sync_trailing_days,
                      reread_after=timedelta(days=settings.sync_reread_days))


def api_version_of(settings: Settings, auth: StaticToken | RefreshingToken) -> str:
    """The API version to speak: the setting's, or with "auto" the one the credentials can use.

    Only OAuth refresh credentials can tell: the token endpoint names the granted scopes, and
    names that are all v2's (`calls.read`, ...) mean v2. This mints the first access token (the
    client would at its first request anyway), so an auth failure is raised here. A pasted
    access token, 1.0 names, a mix, or no names at all mean 1.0, the default.
    """
    if settings.api_version != "auto":
        return settings.api_version
    if not isinstance(auth, RefreshingToken):
        log.info("A pasted access token does not tell its API version: speaking API 1.0.")
        return "1.0"
    auth.access_token()
    granted = " ".join(sorted(auth.granted_scopes or ())) or "none named"
    if names_v2_scopes(auth.granted_scopes):
        log.info("The OAuth grant names API v2 scopes (%s): speaking API v2.", granted)
        return "2"
    log.info("The OAuth grant's scopes (%s) are not API v2's alone: speaking API 1.0.", granted)
    return "1.0"


def _v2_identity(settings: Settings, version: str, grant_id: str | None) -> str | None:
    """Whose calls a v2 store holds. v2 has no route naming the token's user (1.0 asks
    /1.0/info), so the credential stands for the user: the OAuth app with its grant (the
    configured refresh token, which its rotations keep standing for, or a Connect's lineage in
    the token store; one app serves many users and organisations), or a pasted access token. A
    new credential therefore starts an empty store, even for the same user: a cold read, never
    another user's calls. None on 1.0: the identity comes from /1.0/info on first read."""
    if version != "2":
        return None
    return f"{settings.api_base} v2 {_credential_key(settings, grant_id)}"


def _v2_organisation(settings: Settings, version: str) -> str | None:
    """Whose outcome mapping a v2 Callboard uses. v2 names no organisation, and a credential
    changes with every Connect or pasted token, so it is the OAuth app (one organisation's,
    as a deployment registers it) or, with a pasted token, the API alone. None on 1.0:
    /1.0/info names the org on first read."""
    if version != "2":
        return None
    return f"{settings.api_base} v2 " + (f"app {settings.client_id}" if settings.client_id
                                         else "pasted token")


def _credential_key(settings: Settings, grant_id: str | None) -> str:
    """A hash of the credential (the store file must never hold a secret): the pasted access
    token, or the OAuth app with its grant."""
    credential = settings.access_token or f"{settings.client_id}\n{grant_id}"
    return hashlib.sha256(credential.encode()).hexdigest()[:16]


def _sandbox_identity(options: dict[str, object], now: datetime) -> str:
    """Whose calls a demo store holds: the sandbox's generating options. Its port changes at
    every start, its data only with these; the start day (on Callboard's clock, which the
    sandbox shares) is included because the seeded history is cut at the moment the sandbox
    starts."""
    import inspect

    from lib.sandbox import start_sandbox

    defaults = {name: parameter.default
                for name, parameter in inspect.signature(start_sandbox).parameters.items()}
    shown = {name: options.get(name, defaults.get(name))
             for name in ("seed", "reps", "days", "end", "db_path")}
    started = now.date().isoformat()
    return "sandbox " + " ".join(f"{name}={value}" for name, value in shown.items()) + \
        f" started={started}"


def _auth(settings: Settings, clock: Clock) -> tuple[StaticToken | RefreshingToken, str | None]:
    """The bearer token, and for an OAuth app the id of its grant. The refresh token is the
    newest known (lib.store.tokens.refreshing_token: a kept one newer than the setting wins),
    and every new one is kept in the token store; NotConnected when there is none."""
    if settings.access_token:
        return StaticToken(settings.access_token), None
    return refreshing_token(settings, clock=lambda: clock().timestamp())
