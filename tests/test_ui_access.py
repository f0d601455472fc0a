"""The sign-in gate's screens for each configuration, run by Streamlit's AppTest (no browser).

The browser tests (tests/browser/test_sign_in.py) sign in for real; these cover the
configurations a deployment can get wrong, which would be slow to start one app each for.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.display.markdown import JOINER, code_span

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a-cookie-secret-for-tests-only",
    "client_id": "callboard",
    "client_secret": "a-client-secret-for-tests-only",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
PAGE_TEXT = "page code ran"
REPO = Path(__file__).resolve().parents[1]


def gated_page() -> None:
    import streamlit as st

    from lib.ui.access import require_access

    require_access()
    st.write("page code ran")


def run(secrets: dict, user: dict | None = None) -> AppTest:
    app = AppTest.from_function(gated_page, default_timeout=30)
    for key, value in secrets.items():
        app.secrets[key] = value
    if user is not None:
        app.user = user
    return app.run()


def texts(app: AppTest) -> str:
    parts = [element.value for kind in ("markdown", "title", "caption", "error", "warning")
             for element in getattr(app, kind)]
    return "\n".join(str(part) for part in parts)


def plain(markdown: str) -> str:
    """What a reader sees of escaped Markdown: each escaped character as itself, no joiner."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(JOINER, "")


@pytest.fixture(autouse=True)
def no_allow_list_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALLBOARD_ALLOWED_EMAILS", raising=False)


def test_without_an_auth_section_the_gate_does_nothing():
    app = run({"CALLBOARD_TIMEZONE": "UTC"})
    assert not app.exception
    assert PAGE_TEXT in texts(app)
    assert not app.button


def test_signed_out_visitors_see_only_the_sign_in_button():
    app = run({"auth": AUTH}, user={"is_logged_in": False})
    assert not app.exception
    assert [button.label for button in app.button] == ["Sign in"]
    assert PAGE_TEXT not in texts(app)


def test_each_named_provider_gets_a_button():
    shared = {key: AUTH[key] for key in ("redirect_uri", "cookie_secret")}
    provider = {key: AUTH[key] for key in ("client_id", "client_secret", "server_metadata_url")}
    app = run({"auth": {**shared, "okta": provider, "google": provider}},
              user={"is_logged_in": False})
    assert sorted(button.label for button in app.button) == [
        "Sign in with Google", "Sign in with Okta"]


@pytest.mark.parametrize("missing", ["cookie_secret", "redirect_uri", "client_secret"])
def test_a_half_configured_sign_in_locks_the_app_with_a_sentence(missing):
    auth = {key: value for key, value in AUTH.items() if key != missing}
    app = run({"auth": auth}, user={"is_logged_in": True, "email": "ann@northwind.example"})
    assert not app.exception
    assert "not fully set up" in texts(app)
    assert PAGE_TEXT not in texts(app)
    # The sentence names no secret.
    assert AUTH["cookie_secret"] not in texts(app) and AUTH["client_secret"] not in texts(app)


def test_an_allowed_address_reaches_the_page_and_can_sign_out():
    app = run({"auth": AUTH, "CALLBOARD_ALLOWED_EMAILS": ["@northwind.example"]},
              user={"is_logged_in": True, "email": "ann@northwind.example"})
    assert not app.exception
    assert PAGE_TEXT in texts(app)
    assert "ann@northwind.example" in " ".join(c.value for c in app.sidebar.caption)
    assert [button.label for button in app.sidebar.button] == ["Sign out"]


def test_with_no_allow_list_nobody_gets_in_and_the_reason_is_given():
    app = run({"auth": AUTH}, user={"is_logged_in": True, "email": "ann@northwind.example"})
    assert PAGE_TEXT not in texts(app)
    assert "may not open Callboard" in texts(app)
    assert "CALLBOARD_ALLOWED_EMAILS" in texts(app)
    assert [button.label for button in app.button] == ["Sign out"]


def test_an_invalid_allow_list_locks_the_app_and_quotes_the_entry():
    app = run({"auth": AUTH, "CALLBOARD_ALLOWED_EMAILS": ["@northwind"]},
              user={"is_logged_in": True, "email": "ann@northwind.example"})
    assert not app.exception
    assert PAGE_TEXT not in texts(app)
    assert "'@northwind'" in plain(texts(app))


def test_the_environment_overrides_the_secrets_allow_list(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CALLBOARD_ALLOWED_EMAILS", "boss@other.example")
    secrets = {"auth": AUTH, "CALLBOARD_ALLOWED_EMAILS": ["@northwind.example"]}
    refused = run(secrets, user={"is_logged_in": True, "email": "ann@northwind.example"})
    assert PAGE_TEXT not in texts(refused)
    allowed = run(secrets, user={"is_logged_in": True, "email": "boss@other.example"})
    assert PAGE_TEXT in texts(allowed)


def test_an_unverified_address_is_refused():
    app = run({"auth": AUTH, "CALLBOARD_ALLOWED_EMAILS": "@northwind.example"},
              user={"is_logged_in": True, "email": "ann@northwind.example",
                    "email_verified": False})
    assert PAGE_TEXT not in texts(app)
    assert "may not open Callboard" in texts(app)


def test_the_dashboard_reads_nothing_before_sign_in(sandbox, monkeypatch: pytest.MonkeyPatch):
    """app.py itself is gated: signed out, not one request reaches the API."""
    monkeypatch.setenv("OUTREACH_API_BASE", sandbox.base_url)
    monkeypatch.setenv("OUTREACH_ACCESS_TOKEN", sandbox.full_token)
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    app.secrets["auth"] = AUTH
    app.secrets["CALLBOARD_ALLOWED_EMAILS"] = "@northwind.example"
    app.user = {"is_logged_in": False}
    before = sandbox.request_count
    app.run()
    assert not app.exception
    assert [button.label for button in app.button] == ["Sign in"]
    assert sandbox.request_count == before

    # A signed-in outsider gets the refusal, and still no request is made.
    app.user = {"is_logged_in": True, "email": "eve@evil.example"}
    app.run()
    assert "may not open Callboard" in texts(app)
    assert sandbox.request_count == before


HOSTILE_EMAIL = "<img src=x>**ann**`x`:red[a]$b$\n# h@northwind.example"
# What an allowed address can hold (allow_list refuses <, >, brackets, spaces...): still Markdown.
MARKDOWN_EMAIL = "*ann*_b_`c`~~d~~$e$#f|g@northwind.example"


def test_an_address_is_shown_as_a_literal_code_span():
    app = run({"auth": AUTH, "CALLBOARD_ALLOWED_EMAILS": ["@northwind.example"]},
              user={"is_logged_in": True, "email": MARKDOWN_EMAIL})
    assert PAGE_TEXT in texts(app)
    caption = app.sidebar.caption[0].value
    assert caption == f"Signed in as {code_span(MARKDOWN_EMAIL)}"
    assert caption == "Signed in as `` *ann*_b_`c`~~d~~$e$#f|g@northwind.example ``"


def test_a_refused_hostile_address_is_a_code_span_and_a_bad_entry_is_escaped():
    refused = run({"auth": AUTH, "CALLBOARD_ALLOWED_EMAILS": ["@other.example"]},
                  user={"is_logged_in": True, "email": HOSTILE_EMAIL})
    assert refused.warning[0].value.startswith(f"You are signed in as {code_span(HOSTILE_EMAIL)},")
    locked = run({"auth": AUTH, "CALLBOARD_ALLOWED_EMAILS": ["<b>x</b>"]},
                 user={"is_logged_in": True, "email": "ann@northwind.example"})
    message = locked.error[0].value
    assert "<b>" not in message and "\\<b\\>x\\<\\/b\\>" in message
