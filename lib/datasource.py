"""Chooses where calls come from: the Outreach API when credentials are set, else the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lib.auth import RefreshingToken, StaticToken, token_url_for
from lib.client import OutreachClient
from lib.settings import Settings


@dataclass
class DataSource:
    """An API client and what the user must be told about it (demo data or the real thing)."""

    client: OutreachClient
    demo: bool
    description: str
    # lib.sandbox.Sandbox in demo mode; typed loosely so that the real API never loads it.
    sandbox: object | None = None

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()


def open_source(settings: Settings, **sandbox_options: object) -> DataSource:
    """A ready client. Without credentials this starts the bundled sandbox on a free local port.

    `sandbox_options` go to `lib.sandbox.start_sandbox` (tests use them for small data sets).
    """
    if settings.has_credentials:
        client = OutreachClient(settings.api_base, _auth(settings))
        description = f"the Outreach API at {settings.api_base}"
        return DataSource(client, demo=False, description=description)

    # Imported here so that a deployment with credentials never loads the sandbox.
    from lib.sandbox import start_sandbox

    Path(settings.sandbox_db).parent.mkdir(parents=True, exist_ok=True)
    options = {"db_path": settings.sandbox_db, **sandbox_options}
    sandbox = start_sandbox(port=0, **options)
    client = OutreachClient(sandbox.base_url, StaticToken(sandbox.full_token))
    return DataSource(
        client,
        demo=True,
        description=f"the local Outreach sandbox with demo data at {sandbox.base_url}",
        sandbox=sandbox,
    )


def _auth(settings: Settings) -> StaticToken | RefreshingToken:
    if settings.access_token:
        return StaticToken(settings.access_token)
    return RefreshingToken(
        token_url=token_url_for(settings.api_base),
        client_id=settings.client_id or "",
        client_secret=settings.client_secret or "",
        refresh_token=settings.refresh_token or "",
    )
