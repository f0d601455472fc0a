"""Chooses where calls come from: the Outreach API when credentials are set, else the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

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

    def list_calls(
        self,
        created_after: datetime,
        created_before: datetime | None,
        user_ids: Sequence[int] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame:
        """Exactly the calls created in [created_after, created_before), as a calls frame.

        The one read path of the dashboard and the CLI, so that both see the same calls.
        """
        return self.client.list_calls(created_after, created_before, user_ids, on_progress)

    def clear_cache(self) -> None:
        """Forget every stored call, so the next read fetches everything again."""

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
