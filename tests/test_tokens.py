"""The token store (lib/store/tokens.py): sealed with Fernet, keyed by API host and client id,
written only over its own lineage, and which refresh token a restart uses."""

from __future__ import annotations

import sqlite3
import stat

import pytest
from cryptography.fernet import Fernet

from lib.outreach.oauth import TokenGrant
from lib.settings import Settings
from lib.store import tokens
from lib.store.tokens import StoredTokens, TokenStore, TokenStoreError

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
