"""Connect Outreach without a browser: the authorize URL and callback checks
(lib/outreach/oauth.py), the settings' sentences, `python -m lib.cli connect` with a pasted
address (a subprocess reading stdin), restarts after rotations, and the Connect page's screens
for admins and others (Streamlit's AppTest)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from streamlit.testing.v1 import AppTest

from lib.outreach import oauth
from lib.sandbox import Sandbox, start_sandbox
from lib.settings import Settings, SettingsError
from lib.store.tokens import TokenStore
from tests.conftest import NOW, WORKDAY, sandbox_now
from tests.test_ui_access import AUTH  # an [auth] section: sign-in configured

ROOT = Path(__file__).resolve().parent.parent
REDIRECT_URI = "http://127.0.0.1:8599/connect"


@pytest.fixture
def box() -> Iterator[Sandbox]:
    """A sandbox of its own per test: rotating refresh tokens, one registered redirect URI,
    and Outreach's mint limit of one token a minute (on its clock)."""
    with start_sandbox(port=0, seed=7, reps=2, days=8, now=NOW, redirect_uris=(REDIRECT_URI,),
                       rotate_refresh_tokens=True) as sandbox:
        yield sandbox


def consent(authorize_url: str, decision: str = "allow") -> str:
    """What a browser does on the sandbox's consent page: open it, press Allow (or Deny), and
    land at the redirect URI; returns that address."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    consent_id = re.search(r'name="consent" value="([^"]+)"', page.text).group(1)
    answer = requests.post(f"{authorize_url.split('?')[0]}",
                           data={"consent": consent_id, "decision": decision},
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return answer.headers["Location"]


# ----- the flow's pieces -------------------------------------------------------------------


def test_the_authorize_url_carries_nothing_secret(box):
    url = oauth.authorize_url(box.base_url, box.client_id, REDIRECT_URI, oauth.SCOPES_V1, "st8")
    split = urlsplit(url)
    assert f"{split.scheme}://{split.netloc}{split.path}" == box.authorize_url
    query = parse_qs(split.query)
    assert set(query) == {"client_id", "redirect_uri", "response_type", "scope", "state"}
    assert query["scope"] == [" ".join(oauth.SCOPES_V1)] and query["response_type"] == ["code"]
    assert box.client_secret not in url and box.refresh_token not in url
    assert oauth.scopes_for("2") == oauth.SCOPES_V2 and oauth.scopes_for("auto") == \
        oauth.SCOPES_V1


def test_a_state_is_single_use_bound_to_who_started_it_and_expires():
    now = [1000.0]
    pending = oauth.PendingStates(clock=lambda: now[0])
    state = pending.begin("boss@northwind.example")
    assert not pending.take(state, "ann@northwind.example")  # someone else: refused, spent
    assert not pending.take(state, "boss@northwind.example")
    state = pending.begin(None)
    assert pending.take(state, None) and not pending.take(state, None)  # once
    state = pending.begin(None)
    now[0] += oauth.STATE_TTL_S
    assert not pending.take(state, None)  # stale
    assert not pending.take("made-up", None) and not pending.take(None, None)
    many = [pending.begin(None) for _ in range(oauth.MAX_PENDING + 5)]
    assert not pending.is_live(many[0], None) and pending.is_live(many[-1], None)


def test_a_forged_or_denied_callback_is_refused_with_a_sentence():
    pending = oauth.PendingStates()
    with pytest.raises(oauth.ConnectError, match="does not belong to a Connect"):
        oauth.check_callback(oauth.Callback.from_url(f"{REDIRECT_URI}?code=abc&state=forged"),
                             pending, None)
    state = pending.begin(None)
    with pytest.raises(oauth.ConnectError, match="access was denied"):
        oauth.check_callback(oauth.Callback.from_url(
            f"{REDIRECT_URI}?error=access_denied&state={state}"), pending, None)
    state = pending.begin(None)
    callback = oauth.Callback.from_url(f"  code=the-code&state={state}\n")  # a bare query
    assert oauth.check_callback(callback, pending, None) == "the-code"
    assert "the-code" not in repr(callback)


def test_the_code_exchange_and_its_refusals(box):
    pending = oauth.PendingStates()
    url = oauth.authorize_url(box.base_url, box.client_id, REDIRECT_URI, oauth.SCOPES_V1,
                              pending.begin(None))
    code = oauth.check_callback(oauth.Callback.from_url(consent(url)), pending, None)
    grant = oauth.exchange_code(box.base_url, box.client_id, box.client_secret, code,
                                REDIRECT_URI, clock=box.clock.time)
    assert grant.scopes == frozenset(oauth.SCOPES_V1)
    assert grant.expires_at == pytest.approx(box.clock.time() + 7200, abs=5)
    assert grant.refresh_token not in repr(grant) and grant.access_token not in repr(grant)
    with pytest.raises(oauth.ConnectError, match="refused the authorization code") as reused:
        oauth.exchange_code(box.base_url, box.client_id, box.client_secret, code, REDIRECT_URI)
    assert code not in str(reused.value)
    with pytest.raises(oauth.ConnectError, match="OUTREACH_CLIENT_SECRET") as wrong:
        oauth.exchange_code(box.base_url, box.client_id, "not-the-secret-at-all",
                            box.issue_code(redirect_uri=REDIRECT_URI), REDIRECT_URI)
    assert "not-the-secret-at-all" not in str(wrong.value)


# ----- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "sentence"), [
    ({"CALLBOARD_SECRET_KEY": "not-a-fernet-key"}, "must be a Fernet key"),
    ({"CALLBOARD_SECRET_KEY": "x" * 44}, "Fernet.generate_key()"),
    ({"OUTREACH_REDIRECT_URI": "http://cb.acme.example/connect"}, "must start with https://"),
    ({"OUTREACH_REDIRECT_URI": "http://10.0.0.5:8501/connect"}, "must start with https://"),
    ({"OUTREACH_REDIRECT_URI": "https://cb.acme.example/"}, "followed by /connect"),
    ({"OUTREACH_REDIRECT_URI": "cb.acme.example/connect"}, "absolute https://"),
    ({"OUTREACH_REDIRECT_URI": "https://cb.acme.example/connect#x"}, "#fragment"),
    ({"OUTREACH_REDIRECT_URI": "https://me@cb.acme.example/connect"}, "without user name"),
    ({"OUTREACH_REFRESH_TOKEN": "a-refresh-token-alone"}, "OUTREACH_CLIENT_ID and"),
    ({"OUTREACH_CLIENT_ID": "callboard-app-id"}, "missing: OUTREACH_CLIENT_SECRET"),
])
def test_settings_errors_are_sentences_without_the_value(values, sentence):
    with pytest.raises(SettingsError, match=re.escape(sentence)) as error:
        Settings.from_mapping(values)
    text = str(error.value)
    assert any(name in text for name in values)  # names the setting ...
    for value in values.values():
        assert value not in text  # ... never its value


def test_good_connect_settings_are_taken():
    key = Fernet.generate_key().decode()
    for uri in ("https://callboard.northwind.example/connect", "http://127.0.0.1:8501/connect",
                "http://localhost:8501/callboard/connect/", "https://intranet.example/cb/connect"):
        settings = Settings.from_mapping({"OUTREACH_CLIENT_ID": "app",
                                          "OUTREACH_CLIENT_SECRET": "secret-of-the-app",
                                          "OUTREACH_REDIRECT_URI": uri,
                                          "CALLBOARD_SECRET_KEY": key})
        assert settings.redirect_uri == uri and settings.uses_oauth_refresh
        assert settings.refresh_token is None and key not in repr(settings)
    assert Settings.from_mapping({}).token_db == ".callboard/tokens.sqlite"


# ----- python -m lib.cli connect -------------------------------------------------------------


def cli_env(box: Sandbox, tmp_path: Path, key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "CALLBOARD_"))}
    env.update(OUTREACH_API_BASE=box.base_url, OUTREACH_CLIENT_ID=box.client_id,
               OUTREACH_CLIENT_SECRET=box.client_secret, OUTREACH_REDIRECT_URI=REDIRECT_URI,
               CALLBOARD_TOKEN_DB=str(tmp_path / "tokens.sqlite"), CALLBOARD_CACHE_DB="off",
               CALLBOARD_NOW=sandbox_now(box))
    if key is not None:
        env["CALLBOARD_SECRET_KEY"] = key
    return env


def cli_connect(env: dict[str, str], answer=consent) -> subprocess.CompletedProcess:
    """`python -m lib.cli connect`: read the address it prints, let `answer` turn it into the
    address to paste, and paste that on its standard input."""
    process = subprocess.Popen([sys.executable, "-m", "lib.cli", "connect"], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    pasted = answer(url) if url else ""
    out, err = process.communicate(pasted + "\n", timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, url + "\n" + out, err)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def summary_calls(env: dict[str, str]) -> int:
    result = cli("summary", "--start", str(WORKDAY), "--end", str(WORKDAY), "--tz", "UTC",
                 env=env)
    assert result.returncode == 0, result.stderr
    return int(re.search(r'"calls": (\d+)', result.stdout).group(1))


def kept(tmp_path: Path, key: str, box: Sandbox):
    return TokenStore(tmp_path / "tokens.sqlite", key).load(box.base_url, box.client_id)


def test_cli_connect_with_a_pasted_address_then_restarts_after_rotations(box, tmp_path):
    key = Fernet.generate_key().decode()
    env = cli_env(box, tmp_path, key)
    result = cli("summary", "--start", str(WORKDAY), "--end", str(WORKDAY), env=env)
    assert result.returncode == 1 and "not connected to Outreach yet" in result.stderr

    result = cli_connect(env)
    assert result.returncode == 0, result.stderr
    assert f"{box.authorize_url}?" in result.stdout and "Connected to Outreach" in result.stderr
    connected = kept(tmp_path, key, box)
    assert connected.via == "connect" and connected.access_token
    data = (tmp_path / "tokens.sqlite").read_bytes()
    assert connected.refresh_token.encode() not in data
    assert connected.access_token.encode() not in data

    # A new process reads with the kept access token: no mint.
    calls = summary_calls(env)
    assert calls > 0 and box.stats()["mints"] == {"authorization_code": 1, "refresh_token": 0}

    # Two hours later the access token has expired: the next process renews it, and the
    # refresh token rotates; the kept one is the newest, and the old one is refused.
    box.clock.advance(7200 + 61)
    assert summary_calls({**env, "CALLBOARD_NOW": sandbox_now(box)}) == calls
    rotated = kept(tmp_path, key, box)
    assert rotated.refresh_token != connected.refresh_token
    # When it was minted is kept too, so the next process keeps to one renewal a minute.
    assert rotated.minted_at == pytest.approx(box.clock.time(), abs=30)
    old = requests.post(box.token_url, data={
        "grant_type": "refresh_token", "refresh_token": connected.refresh_token,
        "client_id": box.client_id, "client_secret": box.client_secret}, timeout=10)
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"

    # A process started afresh after that reads the kept newest token, and renews again.
    box.clock.advance(7200 + 61)
    assert summary_calls({**env, "CALLBOARD_NOW": sandbox_now(box)}) == calls
    assert kept(tmp_path, key, box).refresh_token != rotated.refresh_token
    assert box.stats()["mints"] == {"authorization_code": 1, "refresh_token": 2}

    result = cli("disconnect", env=env)
    assert result.returncode == 0 and "forgotten" in result.stderr
    assert kept(tmp_path, key, box) is None
    result = cli("summary", "--start", str(WORKDAY), "--end", str(WORKDAY), env=env)
    assert result.returncode == 1 and "not connected" in result.stderr


def test_cli_connect_refuses_a_forged_state_and_keeps_nothing(box, tmp_path):
    key = Fernet.generate_key().decode()

    def forged(url: str) -> str:
        real = consent(url)
        return re.sub(r"state=[^&]+", "state=forged-state", real)

    result = cli_connect(cli_env(box, tmp_path, key), forged)
    assert result.returncode == 1
    assert "does not belong to a Connect" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "tokens.sqlite").exists()


def test_cli_connect_says_what_is_missing(box, tmp_path):
    result = cli_connect(cli_env(box, tmp_path, None))
    assert result.returncode == 1 and "CALLBOARD_SECRET_KEY is not set" in result.stderr
    assert "Fernet.generate_key()" in result.stderr and result.stdout.strip() == ""
    env = {k: v for k, v in cli_env(box, tmp_path, Fernet.generate_key().decode()).items()
           if k != "OUTREACH_REDIRECT_URI"}
    result = cli_connect(env)
    assert result.returncode == 1 and "needs OUTREACH_REDIRECT_URI" in result.stderr
    result = cli_connect({**env, "OUTREACH_REDIRECT_URI": "http://callboard.example/connect"})
    assert result.returncode == 1 and "must start with https://" in result.stderr


# ----- the Connect page's screens (AppTest) -------------------------------------------------

def connect_page() -> None:
    from lib.ui import connect

    connect.render()


@pytest.fixture
def page_secrets(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    for name in list(os.environ):
        if name.startswith(("OUTREACH_", "CALLBOARD_")):
            monkeypatch.delenv(name)
    return {"OUTREACH_API_BASE": box.base_url, "OUTREACH_CLIENT_ID": box.client_id,
            "OUTREACH_CLIENT_SECRET": box.client_secret, "OUTREACH_REDIRECT_URI": REDIRECT_URI,
            "CALLBOARD_SECRET_KEY": Fernet.generate_key().decode(),
            "CALLBOARD_TOKEN_DB": str(tmp_path / "tokens.sqlite"), "CALLBOARD_CACHE_DB": "off",
            "CALLBOARD_NOW": sandbox_now(box)}


def run_page(secrets: dict, user: dict | None = None, query: dict | None = None) -> AppTest:
    app = AppTest.from_function(connect_page, default_timeout=30)
    for key, value in secrets.items():
        app.secrets[key] = value
    if user is not None:
        app.user = user
    app.query_params.update(query or {})
    return app.run()


def texts(app: AppTest) -> str:
    """What the page says, as read (Markdown escapes taken out)."""
    shown = "\n".join(str(element.value) for kind in
                      ("markdown", "caption", "error", "warning", "info", "success")
                      for element in getattr(app, kind))
    return re.sub(r"\\(.)", r"\1", shown).replace("\u2060", "")


def test_with_sign_in_only_listed_admins_may_connect(page_secrets):
    secrets = {**page_secrets, "auth": AUTH, "CALLBOARD_ADMIN_EMAILS": ["boss@northwind.example"]}
    app = run_page(secrets, {"is_logged_in": True, "email": "ann@northwind.example"})
    assert not app.exception
    assert "Ask an administrator" in texts(app) and not app.get("link_button")

    app = run_page(secrets, {"is_logged_in": True, "email": "Boss@Northwind.example"})
    assert not app.exception
    [button] = app.get("link_button")
    assert button.value == "Connect Outreach"
    query = parse_qs(urlsplit(button.proto.url).query)
    assert query["client_id"] == [page_secrets["OUTREACH_CLIENT_ID"]]
    from lib.ui import connect

    assert connect.PENDING.is_live(query["state"][0], "boss@northwind.example")
    assert not connect.PENDING.is_live(query["state"][0], "ann@northwind.example")

    # An invalid admin list names itself, and makes nobody an admin.
    app = run_page({**secrets, "CALLBOARD_ADMIN_EMAILS": ["@northwind"]},
                   {"is_logged_in": True, "email": "boss@northwind.example"})
    assert "CALLBOARD_ADMIN_EMAILS entry '@northwind' is not a domain" in texts(app)
    assert not app.get("link_button")


def test_a_local_callboard_without_a_key_says_how_to_make_one(page_secrets):
    secrets = {k: v for k, v in page_secrets.items() if k != "CALLBOARD_SECRET_KEY"}
    app = run_page(secrets)
    assert not app.exception
    assert "CALLBOARD_SECRET_KEY is not set" in texts(app) and not app.get("link_button")


def test_the_page_refuses_a_forged_callback_and_keeps_nothing(page_secrets, tmp_path):
    app = run_page(page_secrets, query={"code": "a-code", "state": "forged-state"})
    assert not app.exception
    assert "does not belong to a Connect" in texts(app)
    assert not app.query_params.get("code")  # the address bar is cleared
    assert not (tmp_path / "tokens.sqlite").exists()
