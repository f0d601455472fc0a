"""Bearer tokens for the Outreach API: a fixed one, or one kept fresh by the OAuth refresh grant."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from lib.outreach.answers import json_or_none
from lib.outreach.errors import ApiUnavailable, NotAuthorised, RateLimited, UnexpectedResponse
from lib.outreach.waiting import backoff_delay

log = logging.getLogger(__name__)

# Refresh this long before the token's expiry, so a token never expires between the check and a
# slow multi-page read that uses it.
REFRESH_MARGIN_S = 300.0
# The reference documents a 2 hour lifetime; used when an answer omits expires_in.
DEFAULT_EXPIRES_IN_S = 7200.0
# Outreach mints about one access token per user and app per 60 s; past that /oauth/token is 429.
MINT_INTERVAL_S = 60.0
USER_AGENT = "callboard/0.1"


def token_url_for(base_url: str) -> str:
    """The OAuth token endpoint of an API host root, e.g. https://api.outreach.io/oauth/token."""
    return base_url.rstrip("/") + "/oauth/token"


@dataclass(frozen=True)
class AccessGrant:
    """An access token, when it expires (epoch seconds on the token's clock) and the scopes the
    token endpoint named: what a RefreshingToken starts from after a restart, and what it hands
    to `on_new_access_token` after each mint. The token is hidden from repr."""

    access_token: str = field(repr=False)
    expires_at: float
    scopes: frozenset[str] | None = None
    minted_at: float | None = None  # when it was minted (same clock); None: not known


@dataclass(frozen=True)
class SharedTokens:
    """Tokens of the same grant that another process (a replica beside this one) minted and
    kept: its refresh token, which with rotation is the only one still valid, and its access
    token, if any. What a RefreshingToken's `newest` hook hands back. Hidden from repr."""

    refresh_token: str = field(repr=False)
    access: AccessGrant | None = None


class StaticToken:
    """A fixed access token (a sandbox token or one pasted into the settings); cannot refresh."""

    def __init__(self, access_token: str) -> None:
        self._access_token = access_token

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    def access_token(self) -> str:
        return self._access_token

    def refresh_after_401(self, rejected: str | None = None) -> bool:
        """Nothing to refresh: the caller must report the 401."""
        return False


class RefreshingToken:
    """An access token obtained and renewed with the OAuth refresh_token grant.

    Thread-safe: pages are fetched concurrently, and all threads share one token. A lock makes
    sure only one thread mints at a time, which also matters because minting is rate limited:
    it mints at most once per MINT_INTERVAL_S. Within that minute a token still valid is kept
    (even inside its expiry margin), and a renewal the API forced (a 401, an expired token)
    first sleeps out the rest of the minute, so the token endpoint never answers 429 for us.

    Several processes of one grant (replicas sharing a token store) coordinate through two
    hooks: every renewal runs inside `renewal_lock()` (a lock across processes), and first asks
    `newest()` for what another process minted meanwhile. A newer access token found there is
    used instead of minting, a rotated refresh token is taken over, and the other's mint counts
    towards the one-a-minute limit, which Outreach applies per user and app, not per process.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] = (3.05, 30),
        max_retries: int = 4,
        backoff_factor: float = 2.0,
        max_backoff: float = 30.0,
        redirect_uri: str | None = None,
        on_new_refresh_token: Callable[[str], None] | None = None,
        current: AccessGrant | None = None,
        on_new_access_token: Callable[[AccessGrant], None] | None = None,
        newest: Callable[[], SharedTokens | None] | None = None,
        renewal_lock: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        """`redirect_uri` is sent with every refresh when set (OAuth apps registered with one).
        `current` is an access token kept from before (a restart): used until its expiry
        margin, so a restart does not mint again. After each mint `on_new_refresh_token` gets
        a rotated refresh token (first), then `on_new_access_token` the new access token, both
        under the token's lock (and inside `renewal_lock`), so they see the mints in order.
        `newest` returns the tokens another process kept since this one last looked (None:
        nothing new); `renewal_lock` returns a context manager held around each renewal."""
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._session = session or requests.Session()
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff_factor = backoff_factor
        self._max_backoff = max_backoff
        self._redirect_uri = redirect_uri
        self._on_new_refresh_token = on_new_refresh_token
        self._on_new_access_token = on_new_access_token
        self._newest = newest
        self._renewal_lock = renewal_lock or nullcontext
        self._lock = threading.Lock()
        self._access_token: str | None = current.access_token if current else None
        self._expires_at = current.expires_at if current else 0.0
        self._granted_scopes: frozenset[str] | None = current.scopes if current else None
        self._minted_at: float | None = current.minted_at if current else None

    def __repr__(self) -> str:
        return f"RefreshingToken({self._token_url!r}, <credentials hidden>)"

    @property
    def refresh_token(self) -> str:
        """The refresh token to store: the newest one the server issued, else the original."""
        with self._lock:
            return self._refresh_token

    @property
    def expires_at(self) -> float:
        """Epoch seconds (by `clock`) when the current access token expires; 0 if none yet."""
        with self._lock:
            return self._expires_at

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        """The scopes the token endpoint said it granted, in its own names (1.0's `read_calls`
        or v2's `calls.read`); None until a token was minted or when it did not say."""
        with self._lock:
            return self._granted_scopes

    def access_token(self) -> str:
        """A token valid for at least REFRESH_MARGIN_S more seconds, minting one if needed."""
        with self._lock:
            if self._needs_mint(self._clock()):
                with self._renewal_lock():
                    # Another process may have renewed while this one waited for the lock.
                    self._take_newest(refused=None)
                    if self._needs_mint(self._clock()):
                        self._mint()
            assert self._access_token is not None
            return self._access_token

    def refresh_after_401(self, rejected: str | None = None) -> bool:
        """Get a new access token after the API refused one; True if there is a new one.

        `rejected` is the token the API refused (None: the current one). When several threads
        or processes get a 401 for the same token, only the first mints; the others see the
        token has already changed and retry with it (minting again would hit the token
        endpoint's one-per-minute limit).
        """
        with self._lock:
            if rejected is not None and self._access_token not in (None, rejected):
                return True
            refused = rejected if rejected is not None else self._access_token
            previous = self._access_token
            with self._renewal_lock():
                self._take_newest(refused=refused)
                if self._access_token is not None and self._access_token != refused:
                    return True
                self._mint()
            return self._access_token is not None and self._access_token != previous

    # ----- the exchange -----

    def _needs_mint(self, now: float) -> bool:
        """Whether access_token() must mint: no token, or one inside its expiry margin, unless
        that one is still valid and the last mint was under a minute ago (then keep it)."""
        renewing = self._access_token is None or now >= self._expires_at - REFRESH_MARGIN_S
        early = self._access_token is not None and now < self._expires_at \
            and self._mint_wait(now) > 0
        return renewing and not early

    def _take_newest(self, refused: str | None) -> None:
        """Take over what another process of this grant minted (the `newest` hook), inside
        the renewal lock: its refresh token, and its access token when that one is still
        valid, is not `refused`, and outlives this process's own. Caller holds the lock."""
        if self._newest is None:
            return
        shared = self._newest()
        if shared is None:
            return
        if shared.refresh_token and shared.refresh_token != self._refresh_token:
            # Rotated elsewhere: the one this process holds may be spent already.
            self._refresh_token = shared.refresh_token
            log.info("Using the Outreach refresh token another process renewed.")
        grant = shared.access
        if grant is None:
            return
        if grant.minted_at is not None:
            # The one-a-minute limit counts every process's mints.
            self._minted_at = grant.minted_at if self._minted_at is None \
                else max(self._minted_at, grant.minted_at)
        own_usable = self._access_token is not None and self._access_token != refused
        if grant.access_token in (self._access_token, refused) or \
                self._clock() >= grant.expires_at or \
                (own_usable and grant.expires_at <= self._expires_at):
            return
        self._access_token = grant.access_token
        self._expires_at = grant.expires_at
        if grant.scopes is not None:
            self._granted_scopes = grant.scopes
        log.info("Using the Outreach access token another process renewed (expires in %.0f s).",
                 grant.expires_at - self._clock())

    def _mint_wait(self, now: float) -> float:
        """Seconds until the next mint is allowed (0 or less: now)."""
        if self._minted_at is None:
            return 0.0
        return self._minted_at + MINT_INTERVAL_S - now

    def _mint(self) -> None:
        """POST the refresh grant, retrying rate limits and faults; caller holds the lock.
        Waits out the rest of the minute since the last mint first."""
        wait = self._mint_wait(self._clock())
        if wait > 0:
            log.info("Waiting %.0f s to renew the access token (one renewal a minute).", wait)
            self._sleep(wait)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        if self._redirect_uri:
            form["redirect_uri"] = self._redirect_uri
        last_problem = ""
        rate_limited = False
        for attempt in range(self._max_retries + 1):
            if attempt:
                self._sleep(self._delay(attempt - 1))
            try:
                response = self._session.post(
                    self._token_url, data=form, timeout=self._timeout,
                    headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                )
            except requests.RequestException as exc:
                # The exception text holds only the URL, never the form, but keep it terse.
                last_problem = f"connection error ({type(exc).__name__})"
                rate_limited = False
                continue
            status = response.status_code
            if status == 429:
                # Plain text and no headers: nothing tells when to retry, so back off.
                last_problem, rate_limited = "HTTP 429", True
                continue
            if status >= 500:
                last_problem, rate_limited = f"HTTP {status}", False
                continue
            body = json_or_none(response)
            if status in (400, 401, 403):
                code = body.get("error") if isinstance(body, dict) else None
                reason = f" ({code})" if isinstance(code, str) and code.isidentifier() else ""
                raise NotAuthorised(
                    f"Outreach refused to renew the access token: HTTP {status}{reason}. "
                    "The refresh token or the client credentials are no longer valid.",
                    status=401 if status == 403 else status,
                )
            if status != 200:
                raise UnexpectedResponse(
                    f"The token endpoint answered HTTP {status}.", status=status
                )
            if body is None:
                # A non-JSON answer is a transient fault, as for the API itself.
                last_problem, rate_limited = "a body that is not JSON", False
                continue
            self._accept(body)
            return
        tries = self._max_retries + 1
        detail = f"Renewing the access token failed after {tries} tries: {last_problem}."
        if rate_limited:
            retry_at = datetime.fromtimestamp(self._clock() + MINT_INTERVAL_S, UTC)
            raise RateLimited(detail, retry_at=retry_at)
        raise ApiUnavailable(detail)

    def _accept(self, body: Any) -> None:
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise UnexpectedResponse("The token endpoint's answer has no access_token.")
        expires_in = body.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
            expires_in = DEFAULT_EXPIRES_IN_S
        self._access_token = token
        scope = body.get("scope")
        if isinstance(scope, str) and scope.strip():
            self._granted_scopes = frozenset(scope.split())
        elif isinstance(scope, list) and scope and all(isinstance(s, str) for s in scope):
            self._granted_scopes = frozenset(scope)
        # Our own clock, not the server's created_at: the margin must hold against local time.
        self._minted_at = self._clock()
        self._expires_at = self._minted_at + float(expires_in)
        new_refresh = body.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh and new_refresh != self._refresh_token:
            # Rotation is undocumented: keep a new one when given, else keep using the old one.
            self._refresh_token = new_refresh
            if self._on_new_refresh_token is not None:
                self._on_new_refresh_token(new_refresh)
        if self._on_new_access_token is not None:
            self._on_new_access_token(AccessGrant(token, self._expires_at, self._granted_scopes,
                                                  self._minted_at))
        log.info("Obtained a new Outreach access token (expires in %.0f s).", float(expires_in))

    def _delay(self, retry: int) -> float:
        return backoff_delay(retry + 1, self._backoff_factor, self._max_backoff)

