"""Connect Outreach's HTTP: the authorize URL, the callback it sends back, and the exchange of
its code for tokens (OAuth 2.0 authorization code grant). No Streamlit, no store."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import requests

from lib.outreach.answers import json_or_none
from lib.outreach.auth import DEFAULT_EXPIRES_IN_S, USER_AGENT, token_url_for

# The scopes Callboard asks for: read calls, log calls, the names behind their ids, and the
# prospects a rep finds by name when logging a call. API 1.0's names, or v2's for
# OUTREACH_API_VERSION=2 (whose grant then makes "auto" speak v2).
SCOPES_V1 = ("read_calls", "create_calls", "read_users", "read_call_dispositions",
             "read_call_purposes", "read_prospects")
SCOPES_V2 = ("calls.read", "calls.write", "users.read", "callDispositions.read",
             "callPurposes.read", "prospects.read")
# How long a started Connect may take, from the authorize URL to the callback: as long as
# Outreach's authorization code lives (Doorkeeper's default, 10 minutes).
STATE_TTL_S = 600.0
# Connects started and not finished that are remembered at once (oldest dropped first).
MAX_PENDING = 64


def scopes_for(api_version: str) -> tuple[str, ...]:
    """The scope names to ask for when Callboard speaks this API version ("1.0", "2", "auto")."""
    return SCOPES_V2 if api_version == "2" else SCOPES_V1


def authorize_url(api_base: str, client_id: str, redirect_uri: str, scopes: tuple[str, ...],
                  state: str) -> str:
    """Outreach's consent page for this app: carries the client id, redirect URI, scopes and
    state, and nothing secret."""
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri,
                       "response_type": "code", "scope": " ".join(scopes), "state": state},
                      quote_via=quote)  # spaces as %20: the scope list is space separated
    return f"{api_base.rstrip('/')}/oauth/authorize?{query}"


class ConnectError(Exception):
    """Connect Outreach could not finish; the message is a sentence to show as it is (it never
    holds a code, a token or the client secret)."""


@dataclass(frozen=True)
class Callback:
    """What Outreach sent back to the redirect URI: a code, or an error, and the state."""

    state: str | None
    code: str | None = field(default=None, repr=False)
    error: str | None = None

    @classmethod
    def from_query(cls, query: dict[str, str]) -> Callback:
        def one(name: str) -> str | None:
            value = query.get(name)
            return value.strip() or None if isinstance(value, str) else None

        return cls(one("state"), one("code"), one("error"))

    @classmethod
    def from_url(cls, url: str) -> Callback:
        """The callback in an address pasted from the browser (the redirect URI with its query);
        a bare query string (`code=...&state=...`) is taken too."""
        text = url.strip()
        query = urlsplit(text).query if "://" in text else text.lstrip("?")
        parsed = parse_qs(query, keep_blank_values=True)
        return cls.from_query({name: values[0] for name, values in parsed.items() if values})

    @property
    def is_callback(self) -> bool:
        return self.state is not None or self.code is not None or self.error is not None


@dataclass(frozen=True)
class Pending:
    owner: str | None  # who started it (a signed-in admin's address), None for a local one
    started_at: float


class PendingStates:
    """The `state` values of Connects started and not yet finished, kept on the server: each is
    random, bound to who started it, used at most once, and refused after STATE_TTL_S. A
    callback whose state is not here is forged, stale, or answered already."""

    def __init__(self, clock: Callable[[], float] = time.time, ttl_s: float = STATE_TTL_S,
                 max_pending: int = MAX_PENDING) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._max = max_pending
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}

    def begin(self, owner: str | None) -> str:
        state = secrets.token_urlsafe(24)
        now = self._clock()
        with self._lock:
            self._drop_expired(now)
            while len(self._pending) >= self._max:
                self._pending.pop(next(iter(self._pending)))
            self._pending[state] = Pending(owner, now)
        return state

    def is_live(self, state: str, owner: str | None) -> bool:
        with self._lock:
            pending = self._pending.get(state)
        return pending is not None and pending.owner == owner and \
            self._clock() - pending.started_at < self._ttl_s

    def take(self, state: str | None, owner: str | None) -> bool:
        """True once for a live state started by `owner`; it is spent either way."""
        if not state:
            return False
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or pending.owner != owner:
            return False
        return self._clock() - pending.started_at < self._ttl_s

    def _drop_expired(self, now: float) -> None:
        for state in [s for s, p in self._pending.items() if now - p.started_at >= self._ttl_s]:
            del self._pending[state]


@dataclass(frozen=True)
class TokenGrant:
    """What the code exchange gave: tokens (hidden from repr), the access token's expiry in
    epoch seconds on the caller's clock, and the scopes the endpoint named."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float
    scopes: frozenset[str] | None


def check_callback(callback: Callback, pending: PendingStates, owner: str | None) -> str:
    """The code of a callback Callboard started (ConnectError otherwise, with the sentence to
    show). The state is checked first and spent, so a forged callback changes nothing."""
    if not pending.take(callback.state, owner):
        raise ConnectError(
            "This answer from Outreach does not belong to a Connect that was started here in "
            "the last 10 minutes (or it was used already), so it was refused and nothing "
            "changed. Start Connect Outreach again.")
    if callback.error is not None:
        if callback.error == "access_denied":
            raise ConnectError("Outreach did not connect: access was denied on its consent "
                               "page. Nothing changed; start Connect Outreach again to retry.")
        reason = callback.error if callback.error.replace("_", "").isalnum() else "an error"
        raise ConnectError(f"Outreach did not connect ({reason}). Nothing changed; check the "
                           "OAuth app's redirect URI and scopes, then start again.")
    if callback.code is None:
        raise ConnectError("Outreach's answer has no authorization code. Nothing changed; "
                           "start Connect Outreach again.")
    return callback.code


def exchange_code(api_base: str, client_id: str, client_secret: str, code: str,
                  redirect_uri: str, *, session: requests.Session | None = None,
                  clock: Callable[[], float] = time.time,
                  timeout: tuple[float, float] = (3.05, 30)) -> TokenGrant:
    """POST the authorization code grant to `{api_base}/oauth/token` (form-encoded). Tried once:
    a code is single-use, and a failed exchange may have spent it. ConnectError says why."""
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
            "client_secret": client_secret, "redirect_uri": redirect_uri}
    http = session or requests.Session()
    try:
        response = http.post(token_url_for(api_base), data=form, timeout=timeout,
                             headers={"Accept": "application/json", "User-Agent": USER_AGENT})
    except requests.RequestException as exc:
        raise ConnectError(f"Outreach's token endpoint could not be reached "
                           f"({type(exc).__name__}). Start Connect Outreach again.") from None
    finally:
        if session is None:
            http.close()
    status = response.status_code
    body = json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    reason = f" ({error})" if isinstance(error, str) and error.isidentifier() else ""
    if status == 429:
        raise ConnectError("Outreach is limiting how often tokens are made (HTTP 429). Wait a "
                           "minute, then start Connect Outreach again.")
    if error == "invalid_client":
        raise ConnectError(f"Outreach refused the OAuth app's credentials (HTTP {status}"
                           f"{reason}): check OUTREACH_CLIENT_ID and OUTREACH_CLIENT_SECRET.")
    if status in (400, 401, 403):
        raise ConnectError(f"Outreach refused the authorization code (HTTP {status}{reason}): "
                           "it expired, was used already, or OUTREACH_REDIRECT_URI is not the "
                           "OAuth app's. Start Connect Outreach again.")
    if status != 200 or not isinstance(body, dict):
        raise ConnectError(f"Outreach's token endpoint answered HTTP {status} without tokens. "
                           "Start Connect Outreach again in a minute.")
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
        raise ConnectError("Outreach's answer holds no access and refresh token, so Callboard "
                           "cannot stay connected. Start Connect Outreach again.")
    expires_in = body.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
        expires_in = DEFAULT_EXPIRES_IN_S
    scope = body.get("scope")
    scopes = frozenset(scope.split()) if isinstance(scope, str) and scope.strip() else None
    return TokenGrant(access, refresh, clock() + float(expires_in), scopes)
