"""The sandbox's side of "Connect Outreach", over real loopback HTTP: the consent page of
/oauth/authorize, the code exchange's checks, registered redirect URIs, refresh-token rotation and
the counters tests read. Every sandbox runs on the suite's pinned clock (NOW); tests move it
instead of sleeping."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from lib.sandbox import start_sandbox
from lib.sandbox.oauth import CODE_TTL_S, GRANTABLE_SCOPES
from lib.sandbox.state import KNOWN_SCOPES
from tests.conftest import NOW

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = {"seed": 7, "reps": 2, "days": 3, "now": NOW, "mint_interval": 0}
# Where a browser test runs Callboard.
REDIRECT = "http://127.0.0.1:8501/oauth/callback"
HTTPS_REDIRECT = "https://callboard.example.com/oauth/callback"


@pytest.fixture
def fresh():
    """make(**options) -> a started sandbox, stopped after the test."""
    boxes = []

    def make(**overrides):
        boxes.append(start_sandbox(port=0, **{**OPTIONS, **overrides}))
        return boxes[-1]

    yield make
    for box in boxes:
        box.stop()


class _Form(HTMLParser):
    """The consent page's form as a browser would submit it: action, method, hidden fields
    and the submit buttons as (name, value, label)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action = self.method = None
        self.hidden: dict[str, str] = {}
        self.buttons: list[tuple[str, str, str]] = []
        self._button: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action, self.method = attrs.get("action"), attrs.get("method")
        elif tag == "input" and attrs.get("type") == "hidden":
            self.hidden[attrs["name"]] = attrs["value"]
        elif tag == "button":
            self._button = attrs

    def handle_data(self, data):
        if self._button is not None:
            self.buttons.append((self._button["name"], self._button["value"], data.strip()))
            self._button = None


def _authorize(box, **params: str) -> requests.Response:
    query = {"client_id": box.client_id, "redirect_uri": REDIRECT, "response_type": "code",
             "scope": "read_calls read_users", "state": "state-1", **params}
    return requests.get(box.authorize_url, params={k: v for k, v in query.items() if v},
                        allow_redirects=False, timeout=10)


def _answer(box, page: requests.Response, decision: str) -> requests.Response:
    form = _Form(page.text)
    return requests.post(f"{box.base_url}{form.action}", data={**form.hidden, "decision": decision},
                         allow_redirects=False, timeout=10)


def _back(response: requests.Response) -> tuple[str, dict[str, str]]:
    """Where a redirect sends the browser: (the URI without its query, the query)."""
    assert response.status_code == 302, response.text
    split = urlsplit(response.headers["Location"])
    query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
    return split._replace(query="").geturl(), query


def _code(box, **params: str) -> str:
    """The code of an authorize request the user allowed."""
    page = _authorize(box, **params)
    assert page.status_code == 200, page.text
    return _back(_answer(box, page, "allow"))[1]["code"]


def _token(box, **form: str) -> requests.Response:
    data = {"client_id": box.client_id, "client_secret": box.client_secret, **form}
    return requests.post(box.token_url, data={k: v for k, v in data.items() if v is not None},
                         timeout=10)


def _exchange(box, code: str, redirect_uri: str | None = REDIRECT) -> requests.Response:
    return _token(box, grant_type="authorization_code", code=code, redirect_uri=redirect_uri)


def _refresh(box, refresh_token: str, redirect_uri: str | None = REDIRECT) -> requests.Response:
    return _token(box, grant_type="refresh_token", refresh_token=refresh_token,
                  redirect_uri=redirect_uri)


def _connect(box, **params: str) -> dict:
    """The whole flow: authorize, Allow, exchange. The token answer."""
    answer = _exchange(box, _code(box, **params), params.get("redirect_uri", REDIRECT))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _api(box, token: str, path: str = "/1.0/calls") -> int:
    return requests.get(f"{box.base_url}{path}", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code


def _error_page(response: requests.Response, error: str) -> None:
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Location" not in response.headers
    assert error in response.text


def _grant_error(response: requests.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


# ----- the consent page -----

def test_the_consent_page_names_the_app_and_the_scopes_and_asks(fresh):
    box = fresh()
    page = _authorize(box, scope="read_calls read_users")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "Location" not in page.headers
    assert "Authorize Callboard" in page.text
    assert "<code>read_calls</code>" in page.text and "<code>read_users</code>" in page.text
    assert "create_calls" not in page.text
    assert "Dana Whitfield" in page.text  # who is signed in: the sandbox's owner
    form = _Form(page.text)
    assert (form.method, form.action) == ("post", "/oauth/authorize")
    assert set(form.hidden) == {"consent"} and len(form.hidden["consent"]) >= 16
    assert form.buttons == [("decision", "allow", "Allow"), ("decision", "deny", "Deny")]
    # Nothing the flow does not need: no credentials, no code, not even the app's state.
    for secret in (box.client_secret, box.full_token, box.read_token, box.refresh_token):
        assert secret not in page.text
    assert "state-1" not in page.text and "code=" not in page.text


def test_allow_sends_a_single_use_code_and_the_state_back(fresh):
    box = fresh()
    address, query = _back(_answer(box, _authorize(box, state="xyz/+ ="), "allow"))
    assert address == REDIRECT and set(query) == {"code", "state"}
    assert query["state"] == "xyz/+ ="
    tokens = _exchange(box, query["code"])
    assert tokens.status_code == 200
    body = tokens.json()
    assert body["scope"] == "read_calls read_users" and body["token_type"] == "bearer"
    assert _api(box, body["access_token"]) == 200
    assert _api(box, body["access_token"], "/1.0/call_purposes") == 403  # not granted
    # Authorization codes are single-use (reuse: 401).
    _grant_error(_exchange(box, query["code"]), 401, "invalid_grant")


def test_v2_and_profile_scopes_are_granted_and_an_absent_scope_means_every_1_0_scope(fresh):
    box = fresh()
    assert set(KNOWN_SCOPES) < GRANTABLE_SCOPES
    v2 = _connect(box, scope="calls.read users.read profile email")
    assert v2["scope"].split() == ["calls.read", "users.read", "email", "profile"]
    assert _api(box, v2["access_token"], "/api/v2/calls") == 200
    every = _connect(box, scope="")
    assert every["scope"].split() == ["read_calls", "create_calls", "read_users",
                                      "read_call_dispositions", "read_call_purposes",
                                      "read_prospects"]


def test_deny_sends_access_denied_back_without_a_code(fresh):
    box = fresh()
    page = _authorize(box)
    address, query = _back(_answer(box, page, "deny"))
    assert address == REDIRECT
    assert query["error"] == "access_denied" and query["state"] == "state-1"
    assert "code" not in query
    # The consent was answered: Allow on the same page now is refused.
    _error_page(_answer(box, page, "allow"), "invalid_request")


def test_a_forged_replayed_or_stale_consent_is_refused_without_a_redirect(fresh):
    box = fresh()
    forged = {"decision": "allow"}
    _error_page(requests.post(box.authorize_url, data=forged, allow_redirects=False,
                              timeout=10), "invalid_request")
    _error_page(requests.post(box.authorize_url, data={**forged, "consent": "made-up"},
                              allow_redirects=False, timeout=10), "invalid_request")
    page = _authorize(box)
    assert _back(_answer(box, page, "allow"))[1]["code"]
    _error_page(_answer(box, page, "allow"), "invalid_request")  # replayed
    stale = _authorize(box)
    box.clock.advance(CODE_TTL_S)
    _error_page(_answer(box, stale, "allow"), "invalid_request")


def test_authorize_errors_are_pages_until_the_redirect_is_known_then_redirects(fresh):
    box = fresh()
    _error_page(_authorize(box, client_id="someone-else"), "invalid_client")
    _error_page(_authorize(box, redirect_uri=""), "invalid_request")
    # With none registered, only loopback redirect URIs are taken.
    for wrong in ("https://evil.example.com/cb", "http://localhost.evil.example.com/cb",
                  "http://127.0.0.1@evil.example.com/cb", "http://127.0.0.1:8501/cb#x",
                  "javascript:alert(1)", "/relative"):
        _error_page(_authorize(box, redirect_uri=wrong), "invalid_redirect_uri")
    for response_type in ("token", ""):
        address, query = _back(_authorize(box, response_type=response_type))
        assert address == REDIRECT
        assert query["error"] == "unsupported_response_type" and query["state"] == "state-1"
    _, query = _back(_authorize(box, scope="read_calls read_everything"))
    assert query["error"] == "invalid_scope" and query["state"] == "state-1"
    assert "read_everything" in query["error_description"]
    _, query = _back(_authorize(box, scope="nope", state=""))
    assert "state" not in query  # none given, none sent back
    # A redirect URI with a query of its own keeps it; the answer is added after it.
    address, query = _back(_authorize(box, redirect_uri=f"{REDIRECT}?tenant=a", scope="x"))
    assert query == {"tenant": "a", "error": "invalid_scope", "state": "state-1",
                     "error_description": "Unknown scope x."}


def test_what_the_page_echoes_is_escaped(fresh):
    box = fresh(user_names={1: ("<b>Dana</b>", "O'Hara & <script>alert(1)</script>")})
    hostile = f"{REDIRECT}?next=%22%3E%3Cscript%3Ealert(2)%3C/script%3E&a=<i>"
    page = _authorize(box, redirect_uri=hostile, state="<script>alert(3)</script>")
    assert page.status_code == 200
    assert "<script>" not in page.text and "<b>" not in page.text and "<i>" not in page.text
    assert "&lt;b&gt;Dana&lt;/b&gt; O&#x27;Hara &amp; &lt;script&gt;alert(1)" in page.text
    assert "a=&lt;i&gt;" in page.text
    # The browser goes back to exactly the URI the app gave, its own query untouched.
    back = _answer(box, page, "allow").headers["Location"]
    assert back.startswith(hostile + "&code=")


# ----- the code exchange -----

def test_the_exchange_wants_the_authorize_requests_redirect_uri(fresh):
    box = fresh()
    for wrong in ("http://127.0.0.1:8502/oauth/callback", None):
        _grant_error(_exchange(box, _code(box), redirect_uri=wrong), 400, "invalid_grant")
    # A wrong client is refused before the code is looked at, so the code still works after.
    code = _code(box)
    wrong_secret = _token(box, grant_type="authorization_code", code=code,
                          redirect_uri=REDIRECT, client_secret="wrong")
    _grant_error(wrong_secret, 401, "invalid_client")
    _grant_error(_token(box, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                        client_id="other"), 401, "invalid_client")
    assert _exchange(box, code).status_code == 200
    # A code is spent by its first exchange, even one that failed.
    spent = _code(box)
    _grant_error(_exchange(box, spent, redirect_uri=None), 400, "invalid_grant")
    _grant_error(_exchange(box, spent), 401, "invalid_grant")
    _grant_error(_token(box, grant_type="authorization_code"), 400, "invalid_request")


def test_a_code_expires_after_ten_minutes_on_the_sandboxs_clock(fresh):
    box = fresh()
    early, late = _code(box), _code(box)
    box.clock.advance(CODE_TTL_S - 5)
    assert _exchange(box, early).status_code == 200
    box.clock.advance(5)
    _grant_error(_exchange(box, late), 401, "invalid_grant")
    # issue_code's codes expire alike.
    issued = box.issue_code(["read_calls"])
    box.clock.advance(CODE_TTL_S)
    _grant_error(_exchange(box, issued), 401, "invalid_grant")


def test_the_mint_limit_holds_for_a_new_grant(fresh):
    box = fresh(mint_interval=60)
    first = _connect(box)
    refused = _refresh(box, first["refresh_token"])
    assert refused.status_code == 429 and refused.headers["Content-Type"].startswith("text/plain")
    box.clock.advance(60)
    assert _refresh(box, first["refresh_token"]).status_code == 200


# ----- registered redirect URIs -----

def test_registered_redirect_uris_are_the_only_ones_taken(fresh):
    box = fresh(redirect_uris=(REDIRECT, HTTPS_REDIRECT))
    assert box.redirect_uris == (REDIRECT, HTTPS_REDIRECT)
    for other in ("http://127.0.0.1:8502/oauth/callback", f"{REDIRECT}/", f"{REDIRECT}?a=1",
                  "http://localhost:8501/oauth/callback"):
        _error_page(_authorize(box, redirect_uri=other), "invalid_redirect_uri")
    for registered in (REDIRECT, HTTPS_REDIRECT):
        tokens = _connect(box, redirect_uri=registered)
        assert _api(box, tokens["access_token"]) == 200
    # A code given at no authorize (issue_code) still needs a registered redirect URI.
    for wrong in (None, "http://localhost/cb"):
        _grant_error(_exchange(box, box.issue_code(), redirect_uri=wrong), 400, "invalid_grant")
    assert _exchange(box, box.issue_code(), redirect_uri=HTTPS_REDIRECT).status_code == 200
    # A refresh that carries a redirect URI must carry a registered one; one without is taken.
    refresh = tokens["refresh_token"]
    _grant_error(_refresh(box, refresh, redirect_uri="http://localhost/cb"), 400,
                 "invalid_grant")
    assert _refresh(box, refresh, redirect_uri=None).status_code == 200
    assert _refresh(box, refresh, redirect_uri=REDIRECT).status_code == 200


def test_without_registered_uris_token_requests_take_loopback_ones_only(fresh):
    box = fresh()
    assert box.redirect_uris == ()
    assert _exchange(box, box.issue_code(), redirect_uri=None).status_code == 200
    assert _exchange(box, box.issue_code(), redirect_uri="http://[::1]:9/cb").status_code == 200
    _grant_error(_exchange(box, box.issue_code(), redirect_uri=HTTPS_REDIRECT), 400,
                 "invalid_grant")
    _grant_error(_refresh(box, box.refresh_token, redirect_uri=HTTPS_REDIRECT), 400,
                 "invalid_grant")


@pytest.mark.parametrize("uri", ["http://callboard.example.com/cb", "https://x.example/cb#top",
                                 "https://user@x.example/cb", "callboard://cb", "not a uri"])
def test_a_redirect_uri_outreach_would_not_register_is_refused_at_start(uri, tmp_path):
    with pytest.raises(ValueError, match="https://"):
        start_sandbox(port=0, redirect_uris=[HTTPS_REDIRECT, uri], **OPTIONS)
    result = subprocess.run(
        [sys.executable, "-m", "lib.sandbox", "--port", "0", "--db", str(tmp_path / "s.sqlite"),
         "--redirect-uri", HTTPS_REDIRECT, "--redirect-uri", uri],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("Outreach sandbox could not start:")


# ----- refresh-token rotation -----

def test_with_rotation_a_refresh_token_works_once(fresh):
    box = fresh(rotate_refresh_tokens=True)
    assert box.rotate_refresh_tokens
    first = _connect(box)
    second = _refresh(box, first["refresh_token"])
    assert second.status_code == 200
    newest = second.json()["refresh_token"]
    assert newest != first["refresh_token"]
    _grant_error(_refresh(box, first["refresh_token"]), 400, "invalid_grant")
    third = _refresh(box, newest, redirect_uri=None)
    assert third.status_code == 200
    _grant_error(_refresh(box, newest), 400, "invalid_grant")
    # Access tokens live their time; only refresh tokens are spent.
    for answer in (first, second.json(), third.json()):
        assert _api(box, answer["access_token"]) == 200
    # The sandbox's printed refresh token rotates too.
    assert _refresh(box, box.refresh_token).status_code == 200
    _grant_error(_refresh(box, box.refresh_token), 400, "invalid_grant")
    # Revoked stays what it was: 401.
    revoked = _refresh(box, third.json()["refresh_token"]).json()["refresh_token"]
    assert box.revoke(revoked)
    _grant_error(_refresh(box, revoked), 401, "invalid_grant")


def test_with_rotation_a_refused_refresh_spends_nothing(fresh):
    box = fresh(rotate_refresh_tokens=True, mint_interval=60)
    refresh = _connect(box)["refresh_token"]
    assert _refresh(box, refresh).status_code == 429  # the mint limit: the token is kept
    _grant_error(_refresh(box, refresh, redirect_uri=HTTPS_REDIRECT), 400, "invalid_grant")
    box.clock.advance(60)
    assert _refresh(box, refresh).status_code == 200
    _grant_error(_refresh(box, refresh), 400, "invalid_grant")


def test_without_rotation_every_refresh_token_keeps_working(fresh):
    box = fresh()
    assert not box.rotate_refresh_tokens
    first = _connect(box)
    newer = _refresh(box, first["refresh_token"]).json()["refresh_token"]
    assert newer != first["refresh_token"]
    assert _refresh(box, first["refresh_token"]).status_code == 200
    assert _refresh(box, newer).status_code == 200


# ----- counters -----

def test_stats_count_429s_by_user_and_mints(fresh):
    box = fresh(rate_limit=1, mint_interval=60)
    zero = {"api_429s": 0, "api_429s_by_user": {}, "token_429s": 0,
            "mints": {"authorization_code": 0, "refresh_token": 0}}
    assert {key: box.stats()[key] for key in zero} == zero
    owner = _connect(box)
    rep = _exchange(box, box.issue_code(["read_calls"], user_id=2)).json()
    assert _refresh(box, owner["refresh_token"]).status_code == 429
    box.clock.advance(60)
    assert _refresh(box, owner["refresh_token"]).status_code == 200
    for token, path in [(owner["access_token"], "/1.0/calls")] * 3 + [
            (rep["access_token"], "/api/v2/calls")] * 2:
        _api(box, token, path)
    stats = box.stats()
    assert stats["api_429s"] == 3
    assert stats["api_429s_by_user"] == {"1": 2, "2": 1}
    assert stats["token_429s"] == 1
    assert stats["mints"] == {"authorization_code": 2, "refresh_token": 1}
    assert stats["oauth"] == {"redirect_uris": [], "rotate_refresh_tokens": False}
    # Over HTTP the same, and /_sandbox/reset zeroes them (as reset_stats does).
    assert requests.get(f"{box.base_url}/_sandbox/stats", timeout=10).json() == stats
    assert requests.post(f"{box.base_url}/_sandbox/reset", timeout=10).status_code == 200
    reset = box.stats()
    assert {key: reset[key] for key in zero} == zero and reset["request_count"] == 0
    _api(box, owner["access_token"])
    assert box.stats()["api_429s"] == 0  # the rate windows were reset too
    assert _api(box, owner["access_token"]) == 429
    assert box.stats()["api_429s_by_user"] == {"1": 1}
    box.reset_stats()
    assert box.stats()["api_429s"] == 0 and box.stats()["request_count"] == 0


def test_admin_codes_take_a_redirect_uri(fresh):
    box = fresh()
    code = requests.post(f"{box.base_url}/_sandbox/codes", timeout=10,
                         json={"scopes": ["read_calls"], "redirect_uri": REDIRECT}).json()["code"]
    _grant_error(_exchange(box, code, redirect_uri="http://localhost/cb"), 400, "invalid_grant")
    code = box.issue_code(["read_calls"], redirect_uri=REDIRECT)
    assert _exchange(box, code).json()["scope"] == "read_calls"


# ----- nothing leaks -----

def test_the_command_line_sandbox_logs_no_code_or_token(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "lib.sandbox", "--port", "0", "--db", str(tmp_path / "s.sqlite"),
         "--reps", "2", "--days", "3", "--now", NOW.isoformat(), "--mint-interval", "0",
         "--redirect-uri", REDIRECT, "--rotate-refresh-tokens"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("Outreach sandbox on http://127.0.0.1:"), process.stderr.read()
        url = line.split()[3]
        box = type("Served", (), {
            "base_url": url, "authorize_url": f"{url}/oauth/authorize",
            "token_url": f"{url}/oauth/token", "client_id": line.split("client id: ")[1].split()[0],
            "client_secret": line.split("client secret: ")[1].split()[0]})
        page = _authorize(box)
        consent = _Form(page.text).hidden["consent"]
        code = _back(_answer(box, page, "allow"))[1]["code"]
        tokens = _exchange(box, code).json()
        rotated = _refresh(box, tokens["refresh_token"]).json()
        _grant_error(_refresh(box, tokens["refresh_token"]), 400, "invalid_grant")
        assert _api(box, rotated["access_token"]) == 200
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert out == "" and err == ""  # after its one line, not a word: no request log at all
    for secret in (consent, code, tokens["access_token"], tokens["refresh_token"],
                   rotated["refresh_token"]):
        assert secret not in line
