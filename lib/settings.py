"""Callboard's settings, read from the environment or from Streamlit's secrets mapping."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lib.clock import EARLIEST_YEAR, LATEST_YEAR, Clock, clock_from_setting, parse_clock

log = logging.getLogger(__name__)

_DATABASE_SCHEMES = ("postgresql+psycopg://", "sqlite:///")

REAL_API_BASE = "https://api.outreach.io"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_SANDBOX_DB = ".callboard/sandbox.sqlite"
DEFAULT_CACHE_DB = ".callboard/calls.sqlite"
# Where Connect Outreach and refreshes keep the newest tokens, encrypted with CALLBOARD_SECRET_KEY.
DEFAULT_TOKEN_DB = ".callboard/tokens.sqlite"
DEFAULT_SYNC_EVERY_MINUTES = 5.0
DEFAULT_SYNC_TRAILING_DAYS = 3
DEFAULT_SYNC_REREAD_DAYS = 7.0
DEFAULT_CONVERSATION_SECONDS = 60.0  # the usual line between a connect and a conversation
# Concurrent requests of one read. The API documents no concurrency limit; 12 is far below what
# it serves and enough to make a quarter's read an order of magnitude faster than one page at a
# time (see README, Performance). The hourly request quota is the same whatever this is.
DEFAULT_MAX_WORKERS = 12
# The share of the token user's hourly API quota one Callboard process may spend: Outreach counts
# requests per user, and the same user's other integrations draw on the same 10,000 an hour.
DEFAULT_QUOTA_SHARE = 0.5
MAX_WORKERS_LIMIT = 32
_OFF = {"off", "none", "false", "no", "0"}
_ON = {"on", "true", "yes", "1"}
# The weekly digest's mail server: submission with STARTTLS unless told otherwise.
DEFAULT_SMTP_PORT = 587
# What the digest needs before it can be sent, in the order a message names what is missing.
DIGEST_MAIL_KEYS = ("CALLBOARD_SMTP_HOST", "CALLBOARD_SMTP_FROM", "CALLBOARD_DIGEST_TO")
# An address as mail servers take it: something@domain, no spaces, brackets or separators.
_ADDRESS = re.compile(r"[^@\s<>,;:\"()\[\]]+@[^@\s<>,;:\"()\[\]]+")

_OAUTH_APP_KEYS = ("OUTREACH_CLIENT_ID", "OUTREACH_CLIENT_SECRET")
_OAUTH_KEYS = (*_OAUTH_APP_KEYS, "OUTREACH_REFRESH_TOKEN")
# How an admin makes a CALLBOARD_SECRET_KEY (a Fernet key), in every message that asks for one.
MAKE_SECRET_KEY = ('python -c "from cryptography.fernet import Fernet; '
                   'print(Fernet.generate_key().decode())"')


# "auto": 1.0, unless OAuth refresh credentials turn out to be granted only v2 scopes (the token
# endpoint names them); a pasted access token says nothing about itself, so it means 1.0.
API_VERSIONS = {"1.0": "1.0", "1": "1.0", "2": "2", "2.0": "2", "auto": "auto"}


def _is_loopback(url: str) -> bool:
    return _is_loopback_host(urlsplit(url).hostname or "")


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingsError(ValueError):
    """Settings that cannot work together; the message names the setting, never its value."""


def _check_redirect_uri(uri: str) -> None:
    """OUTREACH_REDIRECT_URI: Callboard's Connect page as Outreach sends the browser back to it.
    Outreach registers only https:// redirect URIs; http:// is taken on loopback, where the
    sandbox runs. The message never quotes the value (it is not secret, but settings errors
    never quote values)."""
    try:
        split = urlsplit(uri)
        split.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        split = None
    if (split is None or split.scheme not in ("http", "https") or not split.hostname
            or "@" in split.netloc or split.fragment or "#" in uri
            or any(character.isspace() for character in uri)):
        raise SettingsError("OUTREACH_REDIRECT_URI must be an absolute https:// address "
                            "without user name or #fragment, such as "
                            "https://callboard.northwind.example/connect.")
    if split.scheme == "http" and not _is_loopback(uri):
        raise SettingsError("OUTREACH_REDIRECT_URI must start with https:// (Outreach accepts "
                            "no other redirect URIs); http:// works only on this machine "
                            "(127.0.0.1 or localhost), against the sandbox.")
    if not split.path.rstrip("/").endswith("/connect"):
        raise SettingsError("OUTREACH_REDIRECT_URI must be Callboard's own address followed by "
                            "/connect (its Connect Outreach page), such as "
                            "https://callboard.northwind.example/connect.")


def _check_secret_key(key: str) -> None:
    from cryptography.fernet import Fernet  # only when a key is set

    try:
        Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SettingsError(
            "CALLBOARD_SECRET_KEY must be a Fernet key (32 random bytes in URL-safe base64, 44 "
            f"characters); make one with: {MAKE_SECRET_KEY}") from None


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
    # OUTREACH_REDIRECT_URI: where Outreach sends the browser back after Connect (and what the
    # token endpoint is told on every exchange and refresh); None: Connect is not set up.
    redirect_uri: str | None = None
    # CALLBOARD_SECRET_KEY: the Fernet key the token store encrypts with; None: tokens from
    # Connect and rotated refresh tokens are not kept (never stored unencrypted).
    secret_key: str | None = field(default=None, repr=False)
    # CALLBOARD_TOKEN_DB: the token store's SQLite file, when no CALLBOARD_DATABASE_URL is set.
    token_db: str = DEFAULT_TOKEN_DB
    timezone: str = DEFAULT_TIMEZONE
    sandbox_db: str = DEFAULT_SANDBOX_DB
    cache_db: str | None = DEFAULT_CACHE_DB  # None: no local store of calls
    # CALLBOARD_DATABASE_URL: the store of calls, and the token store, as a SQLAlchemy URL (a
    # PostgreSQL shared by replicas, postgresql+psycopg://...); None: the SQLite files cache_db
    # and token_db. Hidden: it may hold a password.
    database_url: str | None = field(default=None, repr=False)
    # How the store keeps in sync (lib.store.sync.SyncPolicy): sync when the data is older than
    # this many minutes; re-read today and the days before it whole, this many days in all; and
    # re-read an older stored day whole once it is this many days old.
    sync_every_minutes: float = DEFAULT_SYNC_EVERY_MINUTES
    sync_trailing_days: int = DEFAULT_SYNC_TRAILING_DAYS
    sync_reread_days: float = DEFAULT_SYNC_REREAD_DAYS
    max_workers: int = DEFAULT_MAX_WORKERS
    quota_share: float = DEFAULT_QUOTA_SHARE
    # On API v2, a connected call talked at least this many seconds is a conversation.
    conversation_seconds: float = DEFAULT_CONVERSATION_SECONDS
    api_version: str = "auto"  # "1.0", "2", or "auto" (lib.store.opening.open_source decides)
    # CALLBOARD_NOW: a pinned "now" for tests and reproducible demos (lib.clock.parse_clock);
    # None is the real clock. Kept as text: a pinned clock starts when it is made (make_clock).
    now: str | None = None
    # The weekly digest's mail (`python -m lib.cli digest --send`): the server, its login (the
    # password hidden from repr, like every secret), the sender and the recipients; STARTTLS
    # before the login unless CALLBOARD_SMTP_STARTTLS=off.
    smtp_host: str | None = None
    smtp_port: int = DEFAULT_SMTP_PORT
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = True
    smtp_from: str | None = None
    digest_to: tuple[str, ...] = ()
    mail_problem: str | None = None  # what is wrong with the settings above, if anything

    @property
    def uses_oauth_refresh(self) -> bool:
        """An OAuth app (client id and secret): tokens come from its refresh token, configured
        (OUTREACH_REFRESH_TOKEN) or kept by Connect Outreach in the token store."""
        return not self.access_token and bool(self.client_id)

    @property
    def has_credentials(self) -> bool:
        return bool(self.access_token or self.client_id)

    def digest_mail_missing(self) -> list[str]:
        """The settings the digest's e-mail still needs (none: it can be sent)."""
        present = {"CALLBOARD_SMTP_HOST": self.smtp_host, "CALLBOARD_SMTP_FROM": self.smtp_from,
                   "CALLBOARD_DIGEST_TO": self.digest_to}
        return [key for key in DIGEST_MAIL_KEYS if not present[key]]

    def make_clock(self) -> Clock:
        """The clock these settings ask for: pinned by CALLBOARD_NOW (from this moment on when
        it names no real time), else the real one."""
        return clock_from_setting(self.now)

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
        app_keys = [oauth[key] for key in _OAUTH_APP_KEYS]
        # The app's id and secret are needed together; the refresh token may come from Connect
        # Outreach (the token store) instead of the settings.
        if any(oauth.values()) and not all(app_keys) and not get("OUTREACH_ACCESS_TOKEN"):
            missing = ", ".join(key for key in _OAUTH_APP_KEYS if not oauth[key])
            raise SettingsError(f"OAuth needs both OUTREACH_CLIENT_ID and "
                                f"OUTREACH_CLIENT_SECRET (the app that OUTREACH_REFRESH_TOKEN "
                                f"and Connect Outreach belong to); missing: {missing}.")

        redirect_uri = get("OUTREACH_REDIRECT_URI")
        if redirect_uri is not None:
            _check_redirect_uri(redirect_uri)
        secret_key = get("CALLBOARD_SECRET_KEY")
        if secret_key is not None:
            _check_secret_key(secret_key)

        timezone = get("CALLBOARD_TIMEZONE") or DEFAULT_TIMEZONE
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"CALLBOARD_TIMEZONE {timezone!r} is not a known time zone "
                "(use an IANA name such as Europe/Berlin)."
            ) from exc

        cache_db: str | None = get("CALLBOARD_CACHE_DB") or DEFAULT_CACHE_DB
        if cache_db.lower() in _OFF:
            cache_db = None
        database_url = get("CALLBOARD_DATABASE_URL")
        if database_url is not None and not database_url.startswith(_DATABASE_SCHEMES):
            # Never the value: it may hold a password.
            raise SettingsError("CALLBOARD_DATABASE_URL must be a SQLAlchemy URL starting with "
                                "postgresql+psycopg:// (a shared PostgreSQL) or sqlite:///.")

        sync_every = _number(get("CALLBOARD_SYNC_EVERY_MINUTES"), DEFAULT_SYNC_EVERY_MINUTES,
                             0, 24 * 60, "CALLBOARD_SYNC_EVERY_MINUTES",
                             "a number of minutes from 0 to 1440")
        trailing = _number(get("CALLBOARD_SYNC_TRAILING_DAYS"), DEFAULT_SYNC_TRAILING_DAYS,
                           1, 31, "CALLBOARD_SYNC_TRAILING_DAYS",
                           "a whole number of days from 1 to 31", whole=True)
        reread = _number(get("CALLBOARD_SYNC_REREAD_DAYS"), DEFAULT_SYNC_REREAD_DAYS, 1, 366,
                         "CALLBOARD_SYNC_REREAD_DAYS", "a number of days from 1 to 366")
        conversation = _number(get("CALLBOARD_CONVERSATION_SECONDS"),
                               DEFAULT_CONVERSATION_SECONDS, 1, 3600,
                               "CALLBOARD_CONVERSATION_SECONDS",
                               "a number of seconds from 1 to 3600")
        if get("CALLBOARD_CACHE_MAX_AGE_HOURS") is not None:
            log.warning("CALLBOARD_CACHE_MAX_AGE_HOURS is no longer read: the store now syncs "
                        "(see CALLBOARD_SYNC_EVERY_MINUTES and CALLBOARD_SYNC_REREAD_DAYS).")

        raw_workers = get("CALLBOARD_MAX_WORKERS")
        try:
            max_workers = DEFAULT_MAX_WORKERS if raw_workers is None else int(raw_workers)
        except ValueError:
            max_workers = 0
        if not 1 <= max_workers <= MAX_WORKERS_LIMIT:
            raise SettingsError(f"CALLBOARD_MAX_WORKERS must be a whole number from 1 to "
                                f"{MAX_WORKERS_LIMIT}.")

        raw_share = get("CALLBOARD_QUOTA_SHARE")
        try:
            quota_share = DEFAULT_QUOTA_SHARE if raw_share is None else float(raw_share)
        except ValueError:
            quota_share = -1.0
        if not 0 < quota_share <= 1:
            raise SettingsError("CALLBOARD_QUOTA_SHARE must be a fraction of the hourly API quota, "
                                "more than 0 and at most 1 (for example 0.5).")

        raw_version = (get("OUTREACH_API_VERSION") or "auto").lower().removeprefix("v")
        api_version = API_VERSIONS.get(raw_version)
        if api_version is None:
            raise SettingsError("OUTREACH_API_VERSION must be 1.0, 2 or auto.")

        now = get("CALLBOARD_NOW")
        if now is not None:
            try:
                parse_clock(now)
            except ValueError as exc:
                raise SettingsError(
                    f"CALLBOARD_NOW must be an ISO instant from {EARLIEST_YEAR} to "
                    f"{LATEST_YEAR}, such as 2026-11-18T17:00:00Z (or that followed by "
                    "@<epoch seconds>).") from exc
            has_credentials = any(oauth.values()) or get("OUTREACH_ACCESS_TOKEN")
            if has_credentials and not _is_loopback(get("OUTREACH_API_BASE") or REAL_API_BASE):
                # A real API stamps calls and rate windows on the real clock.
                raise SettingsError("CALLBOARD_NOW works only with the sandbox (no "
                                    "credentials, or OUTREACH_API_BASE on this machine).")

        # The digest's mail settings matter to `digest --send` only: a mistake there is said
        # by that command, and never stops the dashboard or the sync.
        try:
            mail = _mail_settings(get)
            mail_problem = None
        except SettingsError as exc:
            mail, mail_problem = {}, str(exc)

        return cls(
            api_base=(get("OUTREACH_API_BASE") or REAL_API_BASE).rstrip("/"),
            access_token=get("OUTREACH_ACCESS_TOKEN"),
            client_id=oauth["OUTREACH_CLIENT_ID"],
            client_secret=oauth["OUTREACH_CLIENT_SECRET"],
            refresh_token=oauth["OUTREACH_REFRESH_TOKEN"],
            redirect_uri=redirect_uri,
            secret_key=secret_key,
            token_db=get("CALLBOARD_TOKEN_DB") or DEFAULT_TOKEN_DB,
            timezone=timezone,
            sandbox_db=get("CALLBOARD_SANDBOX_DB") or DEFAULT_SANDBOX_DB,
            cache_db=cache_db,
            database_url=database_url,
            sync_every_minutes=sync_every,
            sync_trailing_days=int(trailing),
            sync_reread_days=reread,
            max_workers=max_workers,
            quota_share=quota_share,
            conversation_seconds=conversation,
            api_version=api_version,
            now=now,
            **mail,
            mail_problem=mail_problem,
        )

    @classmethod
    def from_env(cls, extra: Mapping[str, object] | None = None) -> Settings:
        """Settings from `extra` (e.g. Streamlit secrets), overridden by the environment."""
        merged: dict[str, object] = dict(extra or {})
        merged.update({key: value for key, value in os.environ.items() if value.strip()})
        return cls.from_mapping(merged)


def _mail_settings(get: Callable[[str], str | None]) -> dict[str, object]:
    """The digest's mail settings as Settings fields, else a SettingsError naming the setting
    (never its value)."""
    smtp_host = get("CALLBOARD_SMTP_HOST")
    smtp_port = _number(get("CALLBOARD_SMTP_PORT"), DEFAULT_SMTP_PORT, 1, 65535,
                        "CALLBOARD_SMTP_PORT", "a port number from 1 to 65535", whole=True)
    raw_starttls = (get("CALLBOARD_SMTP_STARTTLS") or "on").lower()
    if raw_starttls not in _ON | _OFF:
        raise SettingsError("CALLBOARD_SMTP_STARTTLS must be on or off.")
    starttls = raw_starttls in _ON
    smtp_user, smtp_password = get("CALLBOARD_SMTP_USER"), get("CALLBOARD_SMTP_PASSWORD")
    if bool(smtp_user) != bool(smtp_password):
        raise SettingsError("CALLBOARD_SMTP_USER and CALLBOARD_SMTP_PASSWORD go together: "
                            "set both (the mail server's login) or neither.")
    if smtp_password and not starttls and not _is_loopback_host(smtp_host or ""):
        # Never the password in the clear over a network.
        raise SettingsError("CALLBOARD_SMTP_STARTTLS=off would send CALLBOARD_SMTP_PASSWORD "
                            "unencrypted: keep STARTTLS on (off only for a mail server on "
                            "this machine).")
    smtp_from = get("CALLBOARD_SMTP_FROM")
    if smtp_from is not None:
        _check_addresses([smtp_from], "CALLBOARD_SMTP_FROM",
                         "an e-mail address, such as callboard@northwind.example")
    digest_to = get("CALLBOARD_DIGEST_TO")
    recipients = ([address.strip() for address in digest_to.split(",") if address.strip()]
                  if digest_to else [])
    _check_addresses(recipients, "CALLBOARD_DIGEST_TO",
                     "e-mail addresses separated by commas, such as "
                     "sales-leads@northwind.example, ana@northwind.example")
    return {"smtp_host": smtp_host, "smtp_port": int(smtp_port), "smtp_user": smtp_user,
            "smtp_password": smtp_password, "smtp_starttls": starttls, "smtp_from": smtp_from,
            "digest_to": tuple(recipients)}


def _check_addresses(values: list[str], name: str, what: str) -> None:
    """Each value one address ("Name <address>" too); else a SettingsError naming the setting,
    never the value. A line break anywhere would start a header of its own."""
    for value in values:
        parsed = getaddresses([value])
        address = parseaddr(value)[1]
        if (len(parsed) != 1 or any(character in value for character in "\r\n")
                or not _ADDRESS.fullmatch(address)):
            raise SettingsError(f"{name} must be {what}.")


def _number(raw: str | None, default: float, low: float, high: float, name: str, what: str,
            *, whole: bool = False) -> float:
    """A numeric setting within [low, high], else a SettingsError naming it (not the value)."""
    if raw is None:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}.") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be {what}.")
    return value
