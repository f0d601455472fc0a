"""The token store (lib/store/tokens.py): sealed with Fernet, keyed by API host and client id,
written only over its own lineage, which refresh token a restart uses, and replicas sharing
one store (a SQLite file, or a database on SQLite or PostgreSQL) renewing one at a time."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from lib.outreach import NotAuthorised
from lib.outreach.oauth import TokenGrant, exchange_code
from lib.sandbox import start_sandbox
from lib.settings import Settings
from lib.store import tokens
from lib.store.callstore import CallStore
from lib.store.tokens import StoredTokens, TokenStore, TokenStoreError
from tests.conftest import NOW

ROOT = Path(__file__).resolve().parents[1]

REFRESH = "refresh-token-of-the-test-0123456789"
ACCESS = "access-token-of-the-test-9876543210"
API = "http://127.0.0.1:9"


def kept(**changes) -> StoredTokens:
    values = {"refresh_token": REFRESH, "access_token": ACCESS, "expires_at": 1_800_000_000.0,
              "scopes": ("read_calls", "read_users"), "lineage": "aaaa", "via": "connect",
              "connected_at": 1_700_000_000.0, "minted_at": 1_799_992_800.0}
    return StoredTokens(**{**values, **changes})


def settings_for(tmp_path, key: str | None, **extra: str) -> Settings:
    values = {"OUTREACH_API_BASE": API, "OUTREACH_CLIENT_ID": "callboard-app",
              "OUTREACH_CLIENT_SECRET": "client-secret-of-the-test-000",
              "CALLBOARD_TOKEN_DB": str(tmp_path / "tokens.sqlite"), **extra}
    if key is not None:
        values["CALLBOARD_SECRET_KEY"] = key
    return Settings.from_mapping(values)


def test_a_kept_row_round_trips_and_the_file_holds_no_token(tmp_path):
    store = TokenStore(tmp_path / "sub" / "tokens.sqlite", Fernet.generate_key().decode())
    assert store.load(API, "app") is None  # no file yet: nothing kept, nothing created
    assert not store.path.exists()
    store.save(API, "app", kept())
    assert store.load(API, "app") == kept()
    assert store.load(API, "other-app") is None and store.load("http://other", "app") is None
    data = store.path.read_bytes()
    assert REFRESH.encode() not in data and ACCESS.encode() not in data
    assert b"read_calls" not in data  # the scopes and the lineage are sealed too
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert ACCESS not in repr(store.load(API, "app")) and REFRESH not in repr(kept())


def test_another_key_or_an_altered_row_is_refused_with_a_sentence(tmp_path):
    path = tmp_path / "tokens.sqlite"
    TokenStore(path, Fernet.generate_key().decode()).save(API, "app", kept())
    with pytest.raises(TokenStoreError, match="cannot be opened with CALLBOARD_SECRET_KEY"):
        TokenStore(path, Fernet.generate_key().decode()).load(API, "app")

    key = Fernet.generate_key().decode()
    store = TokenStore(path, key)
    store.save(API, "app", kept())
    store.save(API, "other-app", kept(refresh_token="another-refresh-token-123456"))
    with sqlite3.connect(path) as db:  # one app's sealed row copied over the other's
        sealed = db.execute("SELECT sealed FROM tokens WHERE client_id = 'other-app'").fetchone()
        db.execute("UPDATE tokens SET sealed = ? WHERE client_id = 'app'", sealed)
    with pytest.raises(TokenStoreError) as refused:
        store.load(API, "app")
    assert REFRESH not in str(refused.value)


def test_writes_go_only_over_their_own_lineage(tmp_path):
    store = TokenStore(tmp_path / "tokens.sqlite", Fernet.generate_key().decode())
    # A process whose grant has no row may create one only when asked to (a configured token).
    assert not store.save_if_lineage(API, "app", kept(), create=False)
    assert store.load(API, "app") is None
    assert store.save_if_lineage(API, "app", kept(), create=True)
    newer = kept(refresh_token="rotated-refresh-token-000000")
    assert store.save_if_lineage(API, "app", newer, create=False)
    assert store.load(API, "app") == newer
    # A Connect elsewhere replaced the lineage: a stale process's rotation writes nothing.
    store.save(API, "app", kept(lineage="bbbb", refresh_token="connected-again-0000000"))
    assert not store.save_if_lineage(API, "app", kept(refresh_token="stale-rotation-00000"),
                                     create=True)
    assert store.load(API, "app").lineage == "bbbb"
    assert store.delete(API, "app") and not store.delete(API, "app")
    assert not store.save_if_lineage(API, "app", kept(lineage="bbbb"), create=False)


def test_a_changed_setting_s_rotations_replace_the_older_row(tmp_path):
    store = TokenStore(tmp_path / "tokens.sqlite", Fernet.generate_key().decode())
    store.save(API, "app", kept(from_setting=tokens.setting_fingerprint("old-setting")))
    # The setting changed: its lineage (create) replaces the row kept under the old one ...
    new = kept(lineage="cccc", via="refresh", refresh_token="rotated-new-setting-0000",
               from_setting=tokens.setting_fingerprint("new-setting"))
    assert store.save_if_lineage(API, "app", new, create=True)
    assert store.load(API, "app") == new
    # ... but not a row kept under the same setting by another lineage (a newer Connect).
    other = kept(lineage="dddd", from_setting=new.from_setting)
    assert not store.save_if_lineage(API, "app", other, create=True)


def test_connection_says_which_refresh_token_a_restart_uses(tmp_path):
    key = Fernet.generate_key().decode()
    grant = TokenGrant("access-from-connect-00000", "refresh-from-connect-0000", 1e9,
                       frozenset({"read_calls"}))

    none = settings_for(tmp_path, key)
    assert not tokens.connection(none).connected
    tokens.connect(none, grant)
    state = tokens.connection(none)
    assert state.source == "store" and state.kept.refresh_token == "refresh-from-connect-0000"
    assert state.kept.access_grant().scopes == frozenset({"read_calls"})

    # A setting added after the Connect is newer than the kept token: the setting wins.
    configured = settings_for(tmp_path, key, OUTREACH_REFRESH_TOKEN="configured-refresh-00")
    assert tokens.connection(configured).source == "setting"
    # A Connect made while that setting is in force is newer than it: the store wins.
    tokens.connect(configured, grant)
    assert tokens.connection(configured).source == "store"
    # And when the setting changes again, the new setting wins.
    changed = settings_for(tmp_path, key, OUTREACH_REFRESH_TOKEN="configured-refresh-01")
    assert tokens.connection(changed).source == "setting"

    assert tokens.disconnect(configured)
    assert tokens.connection(configured).source == "setting"  # the setting still connects
    assert not tokens.connection(none).connected


def test_without_a_key_nothing_is_kept_and_the_reason_is_given(tmp_path):
    settings = settings_for(tmp_path, None)
    state = tokens.connection(settings)
    assert not state.connected and "CALLBOARD_SECRET_KEY is not set" in state.problem
    assert "Fernet.generate_key()" in state.problem  # how to make one
    with pytest.raises(TokenStoreError, match="never stores them unencrypted"):
        tokens.connect(settings, TokenGrant("a" * 20, "r" * 20, 0.0, None))
    assert not (tmp_path / "tokens.sqlite").exists()
    with pytest.raises(tokens.NotConnected, match="not connected to Outreach yet"):
        tokens.refreshing_token(settings, clock=lambda: 0.0)


def test_an_unreadable_store_is_a_problem_not_a_crash(tmp_path):
    key = Fernet.generate_key().decode()
    tokens.connect(settings_for(tmp_path, key), TokenGrant("a" * 20, "r" * 20, 0.0, None))
    other_key = settings_for(tmp_path, Fernet.generate_key().decode())
    state = tokens.connection(other_key)
    assert not state.connected and "cannot be opened" in state.problem
    # A new Connect with the new key replaces the unreadable row.
    tokens.connect(other_key, TokenGrant("b" * 20, "s" * 20, 0.0, None))
    assert tokens.connection(other_key).kept.refresh_token == "s" * 20


# ----- the previous release's file -----

# The previous release's table, exactly as it made it.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    api_base TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    saved_at REAL NOT NULL,
    PRIMARY KEY (api_base, client_id)
)
"""


def old_sealed(key: str, tokens_: StoredTokens, api_base: str, client_id: str) -> bytes:
    """A row's sealed value as the previous release wrote it."""
    payload = {"api_base": api_base, "client_id": client_id,
               "refresh_token": tokens_.refresh_token, "access_token": tokens_.access_token,
               "expires_at": tokens_.expires_at, "minted_at": tokens_.minted_at,
               "scopes": list(tokens_.scopes) if tokens_.scopes is not None else None,
               "lineage": tokens_.lineage, "from_setting": tokens_.from_setting,
               "connected_at": tokens_.connected_at, "via": tokens_.via}
    return Fernet(key.encode()).encrypt(json.dumps(payload).encode())


def old_release_file(folder: Path, key: str) -> Path:
    """A token file as the previous release left it: its table, and one row of kept()."""
    path = folder / "tokens.sqlite"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(OLD_SCHEMA)
        db.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)",
                   (API, "callboard-app", old_sealed(key, kept(), API, "callboard-app"),
                    time.time()))
    return path


def table_layout(path: Path) -> tuple[list[str], list[tuple]]:
    with closing(sqlite3.connect(path)) as db:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        columns = [row[1:] for row in db.execute("PRAGMA table_info(tokens)")]
    return tables, columns


def test_a_token_file_of_the_previous_release_is_read_and_stays_its_layout(tmp_path):
    key = Fernet.generate_key().decode()
    path = old_release_file(tmp_path, key)
    before = table_layout(path)

    settings = settings_for(tmp_path, key)
    state = tokens.connection(settings)
    assert state.source == "store" and state.kept == kept()
    # A rotation writes over it in the same table, which the previous release reads back.
    store = tokens.store_for(settings)
    rotated = kept(refresh_token="rotated-after-the-upgrade-000")
    assert store.save_if_lineage(API, "callboard-app", rotated, create=False)
    assert table_layout(path) == before == (["tokens"], [
        ("api_base", "TEXT", 1, None, 1), ("client_id", "TEXT", 1, None, 2),
        ("sealed", "BLOB", 1, None, 0), ("saved_at", "REAL", 1, None, 0)])
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT sealed FROM tokens WHERE api_base = ? AND client_id = ?",
                          (API, "callboard-app")).fetchall()
    assert len(rows) == 1
    assert json.loads(Fernet(key.encode()).decrypt(rows[0][0]))["refresh_token"] == \
        rotated.refresh_token


def test_a_new_token_file_has_the_layout_the_previous_release_reads(tmp_path):
    key = Fernet.generate_key().decode()
    path = tmp_path / "tokens.sqlite"
    TokenStore(path, key).save(API, "app", kept())
    tables, columns = table_layout(path)
    assert tables == ["tokens"]
    # Its statements: the same columns in the same order (INSERT ... VALUES (?, ?, ?, ?)),
    # and the key that INSERT OR REPLACE replaces by.
    assert [(name, notnull, pk) for name, _type, notnull, _default, pk in columns] == [
        ("api_base", 1, 1), ("client_id", 1, 2), ("sealed", 1, 0), ("saved_at", 1, 0)]
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(OLD_SCHEMA)
        db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)",
                   (API, "app", old_sealed(key, kept(lineage="old"), API, "app"), time.time()))
    assert TokenStore(path, key).load(API, "app").lineage == "old"


# ----- one store, several replicas -----

REDIRECT_URI = "http://127.0.0.1:8501/connect"
_databases = itertools.count(1)


@pytest.fixture(params=["token-file", "sqlite", "postgresql"])
def token_where(request, tmp_path) -> str:
    """Where the replicas of a test keep their tokens: the CALLBOARD_TOKEN_DB file (replicas
    and the sync worker on one host), a CALLBOARD_DATABASE_URL SQLite file, or a new database
    of its own on the run's PostgreSQL server (the `postgres` fixture)."""
    if request.param == "token-file":
        return str(tmp_path / "tokens.sqlite")
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return request.getfixturevalue("postgres").create_database(f"tokens_{next(_databases)}")


@pytest.fixture
def rotating():
    """A sandbox that rotates refresh tokens (a second use of one is 400 invalid_grant) and
    mints at most one access token a minute per grant, on the suite's pinned clock; each
    request takes 150 ms, so that a second replica arrives while the first one renews."""
    with start_sandbox(port=0, seed=7, reps=2, days=3, now=NOW, rotate_refresh_tokens=True,
                       mint_interval=60, latency_ms=150) as box:
        yield box


@pytest.fixture
def token_posts(monkeypatch) -> list[str]:
    """The grant types of every request to an /oauth/token endpoint this process sends."""
    posts: list[str] = []
    lock = threading.Lock()
    real = requests.Session.post

    def post(self, url, *args, **kwargs):
        if str(url).endswith("/oauth/token"):
            with lock:
                posts.append((kwargs.get("data") or {}).get("grant_type"))
        return real(self, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", post)
    return posts


def replica_settings(box, where: str, key: str, tmp_path: Path, **extra: str) -> Settings:
    """The settings every replica of `box`'s OAuth app shares, its tokens kept at `where`."""
    values = {"OUTREACH_API_BASE": box.base_url, "OUTREACH_CLIENT_ID": box.client_id,
              "OUTREACH_CLIENT_SECRET": box.client_secret,
              "OUTREACH_REDIRECT_URI": REDIRECT_URI, "CALLBOARD_SECRET_KEY": key, **extra}
    if "://" in where:
        values["CALLBOARD_DATABASE_URL"] = where
        # Never used then: the test checks that nothing lands there.
        values["CALLBOARD_TOKEN_DB"] = str(tmp_path / "per-replica" / "tokens.sqlite")
    else:
        values["CALLBOARD_TOKEN_DB"] = where
    return Settings.from_mapping(values)


def connect_app(box, settings: Settings) -> StoredTokens:
    """Connect Outreach, as an admin does once for all replicas."""
    grant = exchange_code(box.base_url, box.client_id, box.client_secret,
                          box.issue_code(redirect_uri=REDIRECT_URI), REDIRECT_URI,
                          clock=box.clock.time)
    return tokens.connect(settings, grant)


def at_once(*calls):
    """Run the calls in threads released together; their results, or the exception raised."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call) -> None:
        start.wait()
        try:
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index, call))
               for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def api_accepts(box, access_token: str) -> bool:
    answer = requests.get(f"{box.base_url}/1.0/info", timeout=10,
                          headers={"Authorization": f"Bearer {access_token}"})
    return answer.status_code == 200


def stored_text(where: str, request) -> str:
    """Everything the store holds, as text: the files beside a SQLite store, or the token
    table's rows on PostgreSQL (sealed as bytea's escape text)."""
    if where.startswith("postgresql"):
        database = where.split("?")[0].rsplit("/", 1)[1]
        return request.getfixturevalue("postgres").run_sql(
            "SELECT api_base || ' ' || client_id || ' ' || encode(sealed, 'escape') || ' ' || "
            "saved_at FROM callboard_tokens", database=database)
    folder = Path(where.removeprefix("sqlite:///")).parent
    return "".join(path.read_bytes().decode("latin-1") for path in folder.rglob("*")
                   if path.is_file())


def test_replicas_whose_tokens_expire_at_once_renew_once_and_follow_rotations(
        rotating, token_where, token_posts, tmp_path, request):
    box = rotating
    key = Fernet.generate_key().decode()
    settings = replica_settings(box, token_where, key, tmp_path)
    connected = connect_app(box, settings)
    store = tokens.store_for(settings)

    def newest() -> StoredTokens:
        return store.load(box.base_url, box.client_id)

    # Two replicas start from the kept access token: no renewal.
    a, grant_a = tokens.refreshing_token(settings, clock=box.clock.time)
    b, grant_b = tokens.refreshing_token(settings, clock=box.clock.time)
    assert grant_a == grant_b
    assert a.access_token() == b.access_token() == connected.access_token
    assert token_posts == ["authorization_code"]

    # Both expire at once: one renews, the other takes its token.
    box.clock.advance(7201)
    first, second = at_once(a.access_token, b.access_token)
    assert token_posts.count("refresh_token") == 1
    assert first == second != connected.access_token and api_accepts(box, first)
    kept_now = newest()
    assert kept_now.access_token == first and kept_now.lineage == connected.lineage
    assert a.refresh_token == b.refresh_token == kept_now.refresh_token != \
        connected.refresh_token
    seen = [connected, kept_now]

    # Each renews alone in turn, on refresh tokens the other rotated: never invalid_grant.
    for replica in (b, a, a, b):
        box.clock.advance(7201)
        token = replica.access_token()
        assert api_accepts(box, token)
        seen.append(newest())
        assert seen[-1].access_token == token and replica.refresh_token == seen[-1].refresh_token
    assert token_posts.count("refresh_token") == 5
    assert len({tokens_.refresh_token for tokens_ in seen}) == 6  # each rotation kept

    # a's own token expired meanwhile: it takes the one b minted last, without a renewal.
    current = b.access_token()
    assert a.access_token() == current and token_posts.count("refresh_token") == 5

    # A token the API refuses (revoked) sends both replicas to renew: one POST again.
    box.revoke(current)
    box.clock.advance(61)
    assert at_once(lambda: a.refresh_after_401(current),
                   lambda: b.refresh_after_401(current)) == [True, True]
    assert token_posts.count("refresh_token") == 6
    assert a.access_token() == b.access_token() == newest().access_token
    assert api_accepts(box, a.access_token())
    seen.append(newest())

    # A third replica starting now takes the kept access token: no renewal.
    c, _ = tokens.refreshing_token(settings, clock=box.clock.time)
    assert c.access_token() == a.access_token()
    assert token_posts.count("refresh_token") == 6
    assert box.stats()["mints"]["refresh_token"] == 6 and box.stats()["token_429s"] == 0

    # The tokens are sealed at rest, on every engine.
    text = stored_text(token_where, request)
    assert box.client_id in text or token_where.startswith("sqlite")
    for tokens_ in seen:
        for secret in (tokens_.refresh_token, tokens_.access_token):
            assert secret not in text
    assert box.client_secret not in text
    if "://" in token_where:
        assert not (tmp_path / "per-replica").exists()  # the shared database, not a file


def test_replicas_started_together_from_the_setting_join_one_lineage(
        rotating, token_where, token_posts, tmp_path):
    box = rotating
    key = Fernet.generate_key().decode()
    configured = exchange_code(box.base_url, box.client_id, box.client_secret,
                               box.issue_code(redirect_uri=REDIRECT_URI), REDIRECT_URI,
                               clock=box.clock.time).refresh_token
    settings = replica_settings(box, token_where, key, tmp_path,
                                OUTREACH_REFRESH_TOKEN=configured)
    box.clock.advance(61)  # the code's exchange was this grant's mint of the minute
    # Nothing kept yet: each replica begins a lineage of the configured refresh token.
    a, grant_a = tokens.refreshing_token(settings, clock=box.clock.time)
    b, grant_b = tokens.refreshing_token(settings, clock=box.clock.time)
    assert grant_a == grant_b == configured  # one grant, to the store of calls too
    first, second = at_once(a.access_token, b.access_token)
    assert first == second and token_posts.count("refresh_token") == 1
    store = tokens.store_for(settings)
    kept_first = store.load(box.base_url, box.client_id)
    assert kept_first.access_token == first

    # Whichever renews next writes over the one lineage both share now.
    for replica in (b, a):
        box.clock.advance(7201)
        token = replica.access_token()
        now_kept = store.load(box.base_url, box.client_id)
        assert now_kept.access_token == token and now_kept.lineage == kept_first.lineage
    assert token_posts.count("refresh_token") == 3

    # A restart uses the kept tokens (newer than the setting, which is spent).
    assert tokens.connection(settings).source == "store"
    c, grant_c = tokens.refreshing_token(settings, clock=box.clock.time)
    assert grant_c == configured and c.access_token() == a.access_token()
    assert token_posts.count("refresh_token") == 3


def test_without_the_shared_store_replicas_spend_each_other_s_refresh_tokens(
        rotating, token_posts, tmp_path):
    # The failure the shared store prevents: replicas with their own token files.
    box = rotating
    key = Fernet.generate_key().decode()
    here = replica_settings(box, str(tmp_path / "a.sqlite"), key, tmp_path)
    connected = connect_app(box, here)
    there = replica_settings(box, str(tmp_path / "b.sqlite"), key, tmp_path)
    tokens.store_for(there).save(box.base_url, box.client_id, connected)
    a, _ = tokens.refreshing_token(here, clock=box.clock.time)
    b, _ = tokens.refreshing_token(there, clock=box.clock.time)
    box.clock.advance(7201)
    a.access_token()
    box.clock.advance(61)
    with pytest.raises(NotAuthorised, match="invalid_grant"):
        b.access_token()


def test_the_renewal_lock_is_held_across_stores_and_only_for_its_app(token_where):
    key = Fernet.generate_key().decode()
    first, second = TokenStore(token_where, key), TokenStore(token_where, key)
    order: list[str] = []

    def take() -> None:
        with second.renewal_lock(API, "app"):
            order.append("second holds it")

    waiting = threading.Thread(target=take)
    with first.renewal_lock(API, "app"):
        waiting.start()
        time.sleep(0.3)  # ample for the other to take it, were it free
        # Another app's lock is not this one.
        with second.renewal_lock(API, "other-app"):
            pass
        order.append("first lets go")
    waiting.join()
    assert order == ["first lets go", "second holds it"]


def test_a_renewal_lock_that_cannot_be_taken_is_said_and_the_renewal_goes_on(
        rotating, tmp_path, token_posts, caplog, monkeypatch):
    box = rotating
    key = Fernet.generate_key().decode()
    settings = replica_settings(box, str(tmp_path / "tokens.sqlite"), key, tmp_path)
    connect_app(box, settings)

    def refused(self, api_base, client_id):
        raise TokenStoreError(f"The token store {self.where} cannot be locked for a renewal "
                              "(PermissionError).")

    monkeypatch.setattr(TokenStore, "renewal_lock", refused)
    auth, _ = tokens.refreshing_token(settings, clock=box.clock.time)
    box.clock.advance(7201)
    assert api_accepts(box, auth.access_token())
    assert token_posts.count("refresh_token") == 1
    assert "Renewing without it" in caplog.text
    assert auth.refresh_token not in caplog.text


def test_the_shared_table_lives_beside_the_call_store(store_where, tmp_path):
    # CALLBOARD_DATABASE_URL holds both: the call store's setup leaves the token table alone,
    # whichever is made first.
    where = store_where if "://" in store_where else f"sqlite:///{store_where}"
    key = Fernet.generate_key().decode()
    store = TokenStore(where, key)
    assert store.load(API, "app") is None
    store.save(API, "app", kept())
    calls = CallStore(where)
    try:
        assert calls.marks("someone").synced_at is None  # made its tables, refused nothing
    finally:
        calls.close()
    assert TokenStore(where, key).load(API, "app") == kept()
    assert "password" not in repr(store) and "<key hidden>" in repr(store)


# ----- two processes -----

REPLICA = """
import hashlib, sys, time
from pathlib import Path
from lib.settings import Settings
from lib.store import tokens

ready, go = Path(sys.argv[1]), Path(sys.argv[2])
auth, _ = tokens.refreshing_token(Settings.from_env(), clock=time.time)
ready.touch()
for _ in range(6000):  # short sleeps, never a timed wait (faketime runs)
    if go.exists():
        break
    time.sleep(0.01)
print(hashlib.sha256(auth.access_token().encode()).hexdigest())
"""


def test_two_processes_renew_once(rotating, token_where, tmp_path):
    box = rotating
    key = Fernet.generate_key().decode()
    settings = replica_settings(box, token_where, key, tmp_path)
    connected = connect_app(box, settings)
    # Kept as expired, by any process's clock (a faketime run starts each at its own time).
    tokens.store_for(settings).save(box.base_url, box.client_id,
                                    replace(connected, expires_at=0.0, minted_at=None))
    box.clock.advance(61)  # the Connect was this grant's mint of the minute
    box.reset_stats()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("OUTREACH_", "CALLBOARD_"))}
    env.update(OUTREACH_API_BASE=box.base_url, OUTREACH_CLIENT_ID=box.client_id,
               OUTREACH_CLIENT_SECRET=box.client_secret, OUTREACH_REDIRECT_URI=REDIRECT_URI,
               CALLBOARD_SECRET_KEY=key)
    if "://" in token_where:
        env["CALLBOARD_DATABASE_URL"] = token_where
        env["CALLBOARD_TOKEN_DB"] = str(tmp_path / "per-replica" / "tokens.sqlite")
    else:
        env["CALLBOARD_TOKEN_DB"] = token_where
    go = tmp_path / "go"
    readies = [tmp_path / f"ready-{n}" for n in range(2)]
    replicas = [subprocess.Popen([sys.executable, "-c", REPLICA, str(ready), str(go)],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for ready in readies]
    try:
        for _ in range(6000):
            if all(ready.exists() for ready in readies) or \
                    any(replica.poll() is not None for replica in replicas):
                break
            time.sleep(0.01)
        go.touch()
        results = [replica.communicate(timeout=120) for replica in replicas]
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.kill()
                replica.wait()
    for replica, (_out, err) in zip(replicas, results, strict=True):
        assert replica.returncode == 0, err
        assert connected.refresh_token not in err
    printed = {out.strip() for out, _ in results}
    newest = tokens.store_for(settings).load(box.base_url, box.client_id)
    assert printed == {hashlib.sha256(newest.access_token.encode()).hexdigest()}
    assert box.stats()["mints"]["refresh_token"] == 1 and box.stats()["token_429s"] == 0
    assert newest.refresh_token != connected.refresh_token


def test_disconnect_and_connect_on_the_shared_store(rotating, token_where, tmp_path):
    # The lineage rules hold across replicas on every engine: after a Disconnect and a new
    # Connect elsewhere, an old replica's renewal keeps nothing over the new grant.
    box = rotating
    key = Fernet.generate_key().decode()
    settings = replica_settings(box, token_where, key, tmp_path)
    connect_app(box, settings)
    old, _ = tokens.refreshing_token(settings, clock=box.clock.time)
    assert tokens.disconnect(settings) and not tokens.connection(settings).connected
    again = connect_app(box, settings)
    box.clock.advance(7201)
    assert api_accepts(box, old.access_token())  # still works, in memory
    store = tokens.store_for(settings)
    assert store.load(box.base_url, box.client_id) == again  # but is kept nowhere
    new, _ = tokens.refreshing_token(settings, clock=box.clock.time)
    assert api_accepts(box, new.access_token())  # renews the new grant's refresh token
    renewed = store.load(box.base_url, box.client_id)
    assert renewed.lineage == again.lineage and renewed.refresh_token != again.refresh_token
    assert renewed.refresh_token == new.refresh_token


def test_an_upgrade_moves_the_token_file_s_row_into_the_shared_database(store_where,
                                                                        tmp_path):
    # The release before kept tokens in CALLBOARD_TOKEN_DB even beside a CALLBOARD_DATABASE_URL:
    # after the upgrade the replica is still connected, through the shared database.
    where = store_where if "://" in store_where else f"sqlite:///{store_where}"
    key = Fernet.generate_key().decode()
    path = old_release_file(tmp_path, key)
    settings = settings_for(tmp_path, key, CALLBOARD_DATABASE_URL=where)
    state = tokens.connection(settings)
    assert state.source == "store" and state.kept == kept()
    assert TokenStore(where, key).load(API, "callboard-app") == kept()
    assert TokenStore(path, key).load(API, "callboard-app") is None  # moved, not copied
    # So a Disconnect stays one: the file does not bring the tokens back.
    assert tokens.disconnect(settings)
    assert not tokens.connection(settings).connected
    # Another replica's file, older than the shared row, is not taken over it.
    TokenStore(path, key).save(API, "callboard-app", kept(lineage="old"))
    tokens.connect(settings, TokenGrant("access-of-the-new-connect", "refresh-of-the-new-0",
                                        1e9, None))
    assert tokens.connection(settings).kept.refresh_token == "refresh-of-the-new-0"
    assert TokenStore(path, key).load(API, "callboard-app") is None


def test_an_upgrade_takes_the_file_s_later_mint_of_the_same_grant_over_the_shared_row(
        store_where, tmp_path):
    # During the upgrade a process of the release before kept renewing into the file: its
    # refresh token is the newest (Outreach spent the shared row's), so it must not be lost.
    where = store_where if "://" in store_where else f"sqlite:///{store_where}"
    key = Fernet.generate_key().decode()
    shared = TokenStore(where, key)
    shared.save(API, "callboard-app", kept(lineage="grant", minted_at=1000.0,
                                           refresh_token="spent-refresh"))
    path = tmp_path / "tokens.sqlite"
    TokenStore(path, key).save(API, "callboard-app", kept(
        lineage="grant", minted_at=5000.0, refresh_token="newest-refresh"))
    settings = settings_for(tmp_path, key, CALLBOARD_DATABASE_URL=where)
    assert tokens.connection(settings).kept.refresh_token == "newest-refresh"
    assert TokenStore(path, key).load(API, "callboard-app") is None
