"""Callboard's settings, read from the environment or from Streamlit's secrets mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REAL_API_BASE = "https://api.outreach.io"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_SANDBOX_DB = ".callboard/sandbox.sqlite"

_OAUTH_KEYS = ("OUTREACH_CLIENT_ID", "OUTREACH_CLIENT_SECRET", "OUTREACH_REFRESH_TOKEN")


class SettingsError(ValueError):
    """Settings that cannot work together; the message names the setting, never its value."""


@dataclass(frozen=True)
class Settings:
    """Where the data comes from and how to present it.

    Secrets are excluded from repr so that a logged or displayed Settings never shows them.
    """

    api_base: str = REAL_API_BASE
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    timezone: str = DEFAULT_TIMEZONE
    sandbox_db: str = DEFAULT_SANDBOX_DB

    @property
    def uses_oauth_refresh(self) -> bool:
        return not self.access_token and bool(self.client_id)

    @property
    def has_credentials(self) -> bool:
        return bool(self.access_token or self.client_id)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Settings:
        """Build settings from flat keys such as OUTREACH_ACCESS_TOKEN (blank means unset)."""

        def get(key: str) -> str | None:
            value = values.get(key)
            if value is None:
                return None
            text = str(value).strip()
            return text or None

        oauth = {key: get(key) for key in _OAUTH_KEYS}
        if any(oauth.values()) and not all(oauth.values()) and not get("OUTREACH_ACCESS_TOKEN"):
            missing = ", ".join(key for key, value in oauth.items() if not value)
            raise SettingsError(f"OAuth refresh needs all three settings; missing: {missing}.")

        timezone = get("CALLBOARD_TIMEZONE") or DEFAULT_TIMEZONE
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"CALLBOARD_TIMEZONE {timezone!r} is not a known time zone "
                "(use an IANA name such as Europe/Berlin)."
            ) from exc

        return cls(
            api_base=(get("OUTREACH_API_BASE") or REAL_API_BASE).rstrip("/"),
            access_token=get("OUTREACH_ACCESS_TOKEN"),
            client_id=oauth["OUTREACH_CLIENT_ID"],
            client_secret=oauth["OUTREACH_CLIENT_SECRET"],
            refresh_token=oauth["OUTREACH_REFRESH_TOKEN"],
            timezone=timezone,
            sandbox_db=get("CALLBOARD_SANDBOX_DB") or DEFAULT_SANDBOX_DB,
        )

    @classmethod
    def from_env(cls, extra: Mapping[str, object] | None = None) -> Settings:
        """Settings from `extra` (e.g. Streamlit secrets), overridden by the environment."""
        merged: dict[str, object] = dict(extra or {})
        merged.update({key: value for key, value in os.environ.items() if value.strip()})
        return cls.from_mapping(merged)
