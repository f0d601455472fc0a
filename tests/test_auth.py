"""Bearer tokens: minting and renewing against the sandbox's /oauth/token, and 401 recovery."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
import requests

from lib.outreach import (
    ApiUnavailable,
    NotAuthorised,
    OutreachClient,
    RateLimited,
    RefreshingToken,
    StaticToken,
    token_url_for,
)
from lib.outreach.auth import MINT_INTERVAL_S, AccessGrant, SharedTokens
from lib.outreach.records import parse_call
from lib.sandbox.state import ALL_SCOPES
from tests.conftest import no_sleep


class Clock:
    """A settable clock (epoch seconds), so expiry can be reached without waiting; it stands
    still until a test sets it."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class CountingSession(requests.Session):
    """A real session that counts the token requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.posts = 0
        self._count_lock = threading.Lock()

    def post(self, *args, **kwargs):
        with self._count_lock:
            self.posts += 1
        return super().post(*args, **kwargs)


def own_refresh_token(sandbox) -> str:
    """A refresh token of a new grant: the sandbox limits minting per grant, so tests that
    provoke that limit must not share the sandbox's initial one."""
    answer = requests.post(sandbox.token_url, data={
        "grant_type": "authorization_code", "code": sandbox.issue_code(),
        "client_id": sandbox.client_id, "client_secret": sandbox.client_secret,
        "redirect_uri": "http://localhost/callback",
    }, timeout=10)
    answer.raise_for_status()
    return answer.json()["refresh_token"]


def refreshing(sandbox, refresh_token=None, **options) -> RefreshingToken:
    """A RefreshingToken of the sandbox, on the sandbox's clock unless given another."""
    options.setdefault("sleep", no_sleep)
    options.setdefault("clock", sandbox.clock.time)
    return RefreshingToken(sandbox.token_url, sandbox.client_id, sandbox.client_secret,
                           refresh_token or own_refresh_token(sandbox), **options)


def test_static_token_cannot_refresh():
    token = StaticToken("abc")
    assert token.access_token() == "abc"
    assert token.refresh_after_401() is False
    assert "abc" not in repr(token)


def test_token_url_for():
    assert token_url_for("http://127.0.0.1:8765/") == "http://127.0.0.1:8765/oauth/token"


def test_mints_on_first_use_and_keeps_the_new_refresh_token(sandbox):
    auth = refreshing(sandbox, sandbox.refresh_token)
    first = auth.access_token()
    assert first and auth.access_token() == first  # cached while valid
    assert auth.granted_scopes == frozenset(ALL_SCOPES)  # as the token endpoint named them
    assert auth.refresh_token != sandbox.refresh_token  # the sandbox rotates; we keep the new one
    client = OutreachClient(sandbox.base_url, auth, sleep=no_sleep, clock=sandbox.clock.now)
    assert client.info().user_id == sandbox.owner_user_id
    assert client.token_url == sandbox.token_url
    assert sandbox.client_secret not in repr(auth) and sandbox.refresh_token not in repr(auth)


def test_refreshes_when_expiry_is_within_five_minutes(sandbox):
    fake = Clock(sandbox.clock.time())
    auth = refreshing(sandbox, clock=fake)
    first = auth.access_token()
    assert auth.expires_at == pytest.approx(fake.now + 7200)
    fake.now = auth.expires_at - 301
    assert auth.access_token() == first
    fake.now = auth.expires_at - 299
    assert auth.access_token() != first


def test_expired_token_is_refreshed_after_a_401(sandbox, configure_sandbox, clock):
    configure_sandbox(token_ttl=1)
    # Our clock stands still, so the token looks fresh to us while the server expires it.
    auth = refreshing(sandbox, clock=Clock(clock.time()))
    client = OutreachClient(sandbox.base_url, auth, sleep=no_sleep, clock=clock.now)
    stale = auth.access_token()
    configure_sandbox(token_ttl=7200)
    clock.advance(1)  # the token's second passes on the sandbox's clock
    assert client.info().user_id == 1  # 401, refresh, one retry
    assert auth.access_token() != stale


def test_token_revoked_mid_read_is_replaced_and_the_read_is_complete(sandbox):
    auth = refreshing(sandbox)
    client = OutreachClient(sandbox.base_url, auth, sleep=no_sleep, max_workers=4,
                            clock=sandbox.clock.now)

    def revoke_once(done: int, known: int) -> None:
        if done == 1:
            sandbox.revoke(auth.access_token())

    before = sandbox.clock.now()  # the whole pinned history: many pages, so a read to break
    frame = client.list_calls(None, before, on_progress=revoke_once)
    want = {row["id"] for row in map(parse_call, sandbox.all_calls())
            if row["created_at"] < before}
    assert len(want) > 100
    assert set(frame["id"]) == want


def test_concurrent_401s_for_one_token_mint_once(sandbox):
    session = CountingSession()
    auth = refreshing(sandbox, session=session)
    rejected = auth.access_token()
    assert session.posts == 1
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(auth.refresh_after_401(rejected)))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 6
    assert session.posts == 2  # one renewal for all six threads
    assert auth.access_token() != rejected


def test_plain_text_429_from_the_token_endpoint_is_waited_out(sandbox, configure_sandbox,
                                                               clock):
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        configure_sandbox(mint_interval=0)  # the server's own limit passes

    auth = refreshing(sandbox, sleep=sleep)
    first = auth.access_token()
    clock.advance(61)  # past our one-a-minute gate, but not past the server's stricter limit
    configure_sandbox(mint_interval=120)
    # The renewal is refused with a plain-text 429, no headers: backed off, then retried.
    assert auth.refresh_after_401(first) is True
    assert len(waits) == 1 and 0 < waits[0] <= 30
    assert auth.access_token() != first


def test_token_endpoint_429_that_persists_is_rate_limited(sandbox, configure_sandbox, clock):
    slept: list[float] = []
    auth = refreshing(sandbox, sleep=slept.append, max_retries=3)
    auth.access_token()
    clock.advance(61)
    configure_sandbox(mint_interval=3600)
    with pytest.raises(RateLimited) as info:
        auth.refresh_after_401(None)
    assert len(slept) == 3 and info.value.retry_at is not None
    # A minute from now on the token's clock, the sandbox's (not the wall clock).
    now = sandbox.clock.now()
    assert now < info.value.retry_at <= now + timedelta(seconds=MINT_INTERVAL_S)
    assert all(0 < s <= 30 for s in slept)
    text = str(info.value)
    assert sandbox.client_secret not in text and auth.refresh_token not in text


def test_a_forced_renewal_within_the_minute_waits_for_it_instead_of_a_429(
        sandbox, configure_sandbox, clock):
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    session = CountingSession()
    auth = refreshing(sandbox, sleep=sleep, session=session)
    first = auth.access_token()
    configure_sandbox(mint_interval=60)  # the server refuses a second mint within the minute
    clock.advance(20)
    assert auth.refresh_after_401(first) is True  # the API refused it: a renewal is needed
    assert slept == [pytest.approx(40, abs=1)]  # the rest of the minute, then one request
    assert session.posts == 2  # never a refused one
    assert auth.access_token() != first


def test_a_token_inside_its_expiry_margin_is_kept_until_the_minute_has_passed(
        sandbox, configure_sandbox, clock):
    configure_sandbox(token_ttl=200)  # inside the 300 s renewal margin as soon as minted
    session = CountingSession()
    auth = refreshing(sandbox, session=session, sleep=lambda s: pytest.fail("must not wait"))
    first = auth.access_token()
    clock.advance(30)
    assert auth.access_token() == first  # still valid: kept rather than minting twice a minute
    assert session.posts == 1
    clock.advance(31)
    assert auth.access_token() != first
    assert session.posts == 2


def test_the_mint_gate_survives_a_restart(scripted):
    body = {"access_token": "A2", "expires_in": 7200}
    server = scripted(lambda *a: (200, {"Content-Type": "application/json"},
                                  json.dumps(body).encode()))
    fake = Clock(1_000_000.0)
    slept: list[float] = []
    # Kept from before the restart: minted 15 s ago and refused by the API just now.
    kept = AccessGrant("A1", expires_at=fake.now + 7185, minted_at=fake.now - 15)
    auth = RefreshingToken(token_url_for(server.base_url), "cid", "csecret", "R0",
                           clock=fake, sleep=slept.append, current=kept)
    assert auth.access_token() == "A1"
    assert auth.refresh_after_401("A1") is True
    assert slept == [pytest.approx(45)]
    assert auth.access_token() == "A2"


def test_wrong_secret_is_not_authorised_without_leaking_it(sandbox):
    auth = RefreshingToken(sandbox.token_url, sandbox.client_id, "wrong-secret-value",
                           sandbox.refresh_token, sleep=no_sleep)
    with pytest.raises(NotAuthorised) as info:
        auth.access_token()
    assert "invalid_client" in info.value.detail
    assert "wrong-secret-value" not in info.value.detail


def test_revoked_refresh_token_is_not_authorised(sandbox):
    refresh = own_refresh_token(sandbox)
    sandbox.revoke(refresh)
    auth = refreshing(sandbox, refresh)
    with pytest.raises(NotAuthorised, match="invalid_grant") as info:
        auth.access_token()
    assert refresh not in info.value.detail
    # Through the client: the 401 cannot be fixed by a refresh, so it is NotAuthorised.
    client = OutreachClient(sandbox.base_url, auth, sleep=no_sleep)
    with pytest.raises(NotAuthorised):
        client.info()


def test_keeps_the_old_refresh_token_and_retries_faults(scripted):
    answers = iter([
        (503, {}, b"busy"),
        (200, {"Content-Type": "text/html"}, b"<html>proxy</html>"),
        (200, {"Content-Type": "application/json"},
         json.dumps({"access_token": "A1", "token_type": "bearer", "expires_in": 7200}).encode()),
    ])
    server = scripted(lambda *a: next(answers))
    slept: list[float] = []
    auth = RefreshingToken(token_url_for(server.base_url), "cid", "csecret", "R0",
                           sleep=slept.append)
    assert auth.access_token() == "A1"
    assert auth.refresh_token == "R0"  # none returned: keep using the old one
    assert auth.granted_scopes is None  # nor any scope: unknown, not "none"
    assert len(slept) == 2
    form = dict(parse_qsl(server.bodies[-1].decode()))
    assert form == {"grant_type": "refresh_token", "refresh_token": "R0", "client_id": "cid",
                    "client_secret": "csecret"}


def test_granted_scopes_may_come_as_a_list(scripted):
    body = {"access_token": "A1", "expires_in": 7200, "scope": ["calls.read", "users.read"]}
    server = scripted(lambda *a: (200, {"Content-Type": "application/json"},
                                  json.dumps(body).encode()))
    auth = RefreshingToken(token_url_for(server.base_url), "cid", "csecret", "R0")
    auth.access_token()
    assert auth.granted_scopes == {"calls.read", "users.read"}


def test_token_endpoint_down_is_unavailable(scripted):
    server = scripted(lambda *a: (502, {}, b"bad gateway"))
    auth = RefreshingToken(token_url_for(server.base_url), "cid", "csecret", "R0",
                           sleep=no_sleep, max_retries=2)
    with pytest.raises(ApiUnavailable, match="after 3 tries: HTTP 502"):
        auth.access_token()


# ----- replicas: the hooks a shared token store plugs in (lib/store/tokens.py) -----


def token_server(scripted, tokens: list[str]):
    """A token endpoint that hands out `tokens` in turn, each with refresh token R-<token>."""
    answers = iter(tokens)

    def answer(*_):
        token = next(answers)
        body = {"access_token": token, "expires_in": 7200, "refresh_token": f"R-{token}"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    return scripted(answer)


def posted_refresh_tokens(server) -> list[str]:
    return [dict(parse_qsl(body.decode()))["refresh_token"] for body in server.bodies]


class Renewals:
    """A renewal_lock hook that records when it is held."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def __call__(self):
        @contextmanager
        def held():
            self.events.append("lock")
            try:
                yield
            finally:
                self.events.append("unlock")

        return held()


def test_a_newer_access_token_kept_elsewhere_is_used_instead_of_minting(scripted):
    server = token_server(scripted, ["A2"])
    fake = Clock(1_000_000.0)
    elsewhere: list[SharedTokens | None] = [None]
    lock = Renewals()
    auth = RefreshingToken(token_url_for(server.base_url), "cid", "csecret", "R0", clock=fake,
                           sleep=lambda s: pytest.fail("must not wait"),
                           current=AccessGrant("A1", fake.now + 100, minted_at=fake.now - 7100),
                           newest=lambda: elsewhere[0], renewal_lock=lock)
    # Inside the margin: a renewal, but another replica renewed first and kept its token.
    elsewhere[0] = SharedTokens("R1", AccessGrant("B1", fake.now + 7000,
                                                  frozenset({"read_calls"}), fake.now - 200))
    assert auth.access_token() == "B1"
    assert server.bodies == [] and lock.events == ["lock", "unlock"]
    assert auth.refresh_token == "R1" and auth.expires_at == fake.now + 7000
    assert auth.granted_scopes == {"read_calls"}
    # Valid and outside the margin: neither the lock nor the store is asked again.
    elsewhere[0] = None
    assert auth.access_token() == "B1" and lock.events == ["lock", "unlock"]


def test_a_refresh_token_rotated_elsewhere_is_the_one_presented(scripted):
    server = token_server(scripted, ["A2"])
    fake = Clock(1_000_000.0)
    lock = Renewals()
    # The other replica's access token expired too; only its refresh token is of use.
    shared = SharedTokens("R5", AccessGrant("B1", fake.now - 1, minted_at=fake.now - 7201))
    auth = RefreshingToken(token_url_for(server.base_url), "cid", "csecret", "R0", clock=fake,
                           sleep=no_sleep, newest=lambda: shared, renewal_lock=lock)
    assert auth.access_token() == "A2"
    assert posted_refresh_tokens(server) == ["R5"]  # never the spent R0
    assert auth.refresh_token == "R-A2"
    assert lock.events == ["lock", "unlock"]  # the mint ran inside the lock


def test_a_mint_elsewhere_counts_towards_the_one_a_minute_limit(scripted):
    server = token_server(scripted, ["A2"])
    fake = Clock(1_000_000.0)
    slept: list[float] = []
    # Another replica minted 20 s ago, and the API refused that token too (revoked).
    shared = SharedTokens("R1", AccessGrant("B1", fake.now + 7180, minted_at=fake.now - 20))
    auth = RefreshingToken(token_url_for(server.base_url), "cid", "csecret", "R0", clock=fake,
                           sleep=slept.append, newest=lambda: shared,
                           current=AccessGrant("A1", fake.now + 3000,
                                               minted_at=fake.now - 4200))
    assert auth.refresh_after_401("A1") is True  # B1 is another token: used, no mint
    assert auth.access_token() == "B1" and server.bodies == []
    assert auth.refresh_after_401("B1") is True
    assert slept == [pytest.approx(40)]  # the rest of the other replica's minute
    assert auth.access_token() == "A2" and posted_refresh_tokens(server) == ["R1"]


def test_without_hooks_a_renewal_is_as_before(scripted):
    server = token_server(scripted, ["A1", "A2"])
    fake = Clock(1_000_000.0)
    auth = RefreshingToken(token_url_for(server.base_url), "cid", "csecret", "R0", clock=fake,
                           sleep=no_sleep)
    assert auth.access_token() == "A1"
    fake.now += 61
    assert auth.refresh_after_401(None) is True and auth.access_token() == "A2"
    assert posted_refresh_tokens(server) == ["R0", "R-A1"]
