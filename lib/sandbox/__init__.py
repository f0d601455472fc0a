"""Starts a local imitation of the Outreach API (1.0 and v2) in-process, with seeded data.

Imports only the standard library and nothing else of lib, so it can run anywhere and test the
client from outside; `python -m lib.sandbox` runs it alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from .clock import SandboxClock
from .data import OWNER_USER_ID, generate
from .oauth import registered_redirect_uris
from .prospects import Prospect
from .server import SandboxHTTPServer, call_record
from .state import Config, SandboxState, format_ms
from .store import CallStore
from .v2 import call_record_v2

__all__ = ["Sandbox", "SandboxClock", "start_sandbox", "parse_end", "parse_instant"]


def parse_instant(value: str | datetime) -> datetime:
    """An ISO-8601 instant (or a datetime) as an aware UTC datetime; naive values are UTC.
    ValueError unless it is from 2016 (the seeded ids start in 2015) to 2999."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{value} is out of range") from exc
    if not 2016 <= moment.year <= 2999:
        raise ValueError(f"{moment.date().isoformat()} is not from 2016 to 2999")
    return moment


def parse_end(value: str | datetime | None, now: datetime) -> datetime:
    """The end of the seeded history: `value` (naive is UTC), never later than `now`, since the
    sandbox has no calls in the future; None means `now`."""
    return now if value is None else min(parse_instant(value), now)


class Sandbox:
    """A running sandbox server; its tokens and credentials, and test controls."""

    def __init__(self, server: SandboxHTTPServer, state: SandboxState, store: CallStore) -> None:
        self._server = server
        self._state = state
        self._store = store
        host, port = server.server_address[:2]
        self.host: str = str(host)
        self.port: int = int(port)
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.base_url: str = f"http://{shown}:{self.port}"
        self.full_token: str = state.full_token
        self.read_token: str = state.read_token
        self.client_id: str = state.client_id
        self.client_secret: str = state.client_secret
        self.refresh_token: str = state.refresh_token
        self.owner_user_id: int = OWNER_USER_ID
        self.token_url: str = f"{self.base_url}/oauth/token"
        self.authorize_url: str = f"{self.base_url}/oauth/authorize"
        # The app's registered redirect URIs (none: any loopback one), and whether a refresh
        # spends the refresh token it presents.
        self.redirect_uris: tuple[str, ...] = state.redirect_uris
        self.rotate_refresh_tokens: bool = state.rotate_refresh_tokens
        # The sandbox's time; in-process tests give it to the client and the data source too.
        self.clock: SandboxClock = state.clock
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"outreach-sandbox-{self.port}",
            daemon=True,
        )
        self._stopped = False

    def _start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the database; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._store.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- for tests and benchmarks -----

    def all_calls(self, version: str = "1.0") -> list[dict]:
        """Every call (seeded and created) as API records of that version ("1.0" or "2"), in
        API order, as the API holds them now: deleted calls left out, dispositions and
        `updated` as of the sandbox's clock."""
        record = call_record_v2 if version == "2" else call_record
        return [record(row) for row in self._state.all_calls()]

    def prospects(self) -> list[Prospect]:
        """Every prospect the seeded calls were made to, in id order, as the prospect routes
        serve them (lib.sandbox.prospects)."""
        return self._state.prospects.find()

    def edit_call(self, call_id: int, **changes: int | str | None) -> dict:
        """What PATCH /_sandbox/calls/<id> does: set `disposition_id` (a known id or None)
        and/or `note` (text or None) and bump the call's `updated` to the sandbox's now, even
        if nothing else changes. Returns {"id", "updated"}. ValueError for other fields or
        values; KeyError if there is no such call or it is deleted."""
        row = self._state.edit_call(call_id, changes)
        return {"id": row.id, "updated": format_ms(row.updated_ms)}

    def delete_call(self, call_id: int) -> bool:
        """What DELETE /_sandbox/calls/<id> does: the call is gone from lists and GETs from
        now on. False if there is no such call or it is deleted already."""
        return self._state.delete_call(call_id)

    def configure(self, *, latency_ms: int | None = None, fault_rate: float | None = None,
                  rate_limit: int | None = None, mint_interval: float | None = None,
                  token_ttl: int | None = None) -> dict:
        """Change behaviour at runtime; None leaves a setting as it is. Returns the settings."""
        return self._state.configure(latency_ms=latency_ms, fault_rate=fault_rate,
                                     rate_limit=rate_limit, mint_interval=mint_interval,
                                     token_ttl=token_ttl)

    def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token; False if the sandbox does not know it."""
        return self._state.revoke(token)

    def issue_token(self, scopes: list[str], ttl: int) -> str:
        """A new access token of the owner with exactly these scopes, valid ttl seconds."""
        return self._state.issue_token(scopes, ttl)

    def issue_code(self, scopes: list[str] | None = None, user_id: int = OWNER_USER_ID,
                   redirect_uri: str | None = None) -> str:
        """A single-use authorization code for /oauth/token (all scopes when None), granted by
        this user, valid 10 minutes on the sandbox's clock; with a redirect_uri, as if the
        authorize request had given it (the exchange must give the same)."""
        return self._state.issue_code(scopes, user_id, redirect_uri)

    @property
    def request_count(self) -> int:
        """API requests (1.0 and v2) served since start or the last reset_request_count()."""
        return self._state.request_count

    def reset_request_count(self) -> None:
        self._state.reset_request_count()

    def stats(self) -> dict:
        """What GET /_sandbox/stats answers: `request_count`; `api_429s` (429 answers of the
        API, 1.0 and v2) and `api_429s_by_user` (by the token's user id, as text);
        `token_429s` (of /oauth/token); `mints` (tokens minted, by grant type:
        `authorization_code`, `refresh_token`); `calls`; `config`; `oauth`."""
        return self._state.stats()

    def reset_stats(self) -> None:
        """Zero the request count and every 429 and mint count."""
        self._state.reset_stats()

    def reset_rate_limits(self) -> None:
        self._state.reset_rate_limits()


def start_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 7,
    reps: int = 8,
    days: int = 120,
    end: str | datetime | None = None,
    now: str | datetime | None = None,
    latency_ms: int = 0,
    rate_limit: int = 10_000,
    fault_rate: float = 0.0,
    fault_seed: int = 0,
    db_path: str | Path | None = None,
    token_ttl: int = 7200,
    mint_interval: float = 60,
    user_names: Mapping[int, tuple[str, str]] | None = None,
    redirect_uris: Iterable[str] = (),
    rotate_refresh_tokens: bool = False,
    later_dispositions: float = 0.2,
    deletions: float = 0.005,
) -> Sandbox:
    """Generate the seeded data and serve it in a daemon thread; port=0 picks a free port.

    `now` pins the sandbox's clock to that instant (it runs on from there): the seeded history,
    token lifetimes and rate windows are then the same at every run. None is the real clock.
    `end` cuts the history earlier than now.

    db_path=None keeps created calls in an in-memory SQLite database (gone on stop).
    user_names maps user ids to (first name, last name) in place of the seeded ones.

    redirect_uris are the OAuth app's registered redirect URIs: https://, or http:// on
    loopback (ValueError otherwise); /oauth/authorize and /oauth/token then take only these.
    None registered: any loopback URI. rotate_refresh_tokens: a refresh spends the refresh
    token it presents (a second use is 400 invalid_grant); by default it stays valid.

    later_dispositions is the share of seeded calls with a disposition that get it later
    (5 minutes to 3 days after they were logged; until then they have none), deletions the
    share of seeded calls deleted 1 hour to 3 days after; 0 turns either off. Which calls and
    when follow from the seed (lib.sandbox.data.change_schedule).
    """
    if not 0 <= fault_rate <= 1:
        raise ValueError("fault_rate must be between 0 and 1")
    for name, share in (("later_dispositions", later_dispositions), ("deletions", deletions)):
        if not 0 <= share <= 1:
            raise ValueError(f"{name} must be between 0 and 1")
    registered = registered_redirect_uris(redirect_uris)
    clock = SandboxClock(None if now is None else parse_instant(now))
    seed_data = generate(seed, reps, days, parse_end(end, clock.now()))
    if user_names:
        # For tests of hostile input: names an organisation could really give its users.
        seed_data = replace(seed_data, users=[
            replace(user, first_name=user_names[user.id][0], last_name=user_names[user.id][1])
            if user.id in user_names else user
            for user in seed_data.users
        ])
    store = CallStore(db_path)
    config = Config(latency_ms=latency_ms, fault_rate=fault_rate, rate_limit=rate_limit,
                    token_ttl=token_ttl, mint_interval=float(mint_interval))
    state = SandboxState(seed_data, store, config, seed=seed, fault_seed=fault_seed,
                         clock=clock, redirect_uris=registered,
                         rotate_refresh_tokens=rotate_refresh_tokens,
                         later_dispositions=later_dispositions, deletions=deletions)
    try:
        server = SandboxHTTPServer((host, port), state)
    except OSError:
        store.close()
        raise
    sandbox = Sandbox(server, state, store)
    sandbox._start()
    return sandbox
