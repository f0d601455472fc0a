"""The sign-in gate in front of every page: OpenID Connect login and the e-mail allow-list."""

from __future__ import annotations

import os
from collections.abc import Mapping

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from lib.display.markdown import code_span, escape
from lib.ui.allow_list import AllowListError, is_allowed, rules_from

# The keys Streamlit's st.login needs; checked here so that a half-written [auth] section locks
# the dashboard with a plain sentence instead of a traceback (or, worse, no lock at all).
_SHARED_KEYS = ("redirect_uri", "cookie_secret")
_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def require_access() -> None:
    """Stop the script unless the visitor may see data. Call it first, before any page code.

    Without an `[auth]` section in the secrets it does nothing: sign-in is optional. With one,
    visitors see only a sign-in screen until they are signed in, and signed-in visitors whose
    address is not on CALLBOARD_ALLOWED_EMAILS see only a refusal with a sign-out button.
    """
    auth = _auth_section()
    if auth is None:
        return

    providers = _providers(auth)
    if not providers or any(not auth.get(key) for key in _SHARED_KEYS):
        _locked(
            "Sign-in is switched on but not fully set up, so Callboard stays locked. Whoever "
            "runs Callboard should complete the [auth] section of its secrets (see "
            "docs/DEPLOY.md)."
        )

    if not st.user.is_logged_in:
        _sign_in_screen(providers)

    try:
        rules = rules_from(os.environ, _secrets())
    except AllowListError as exc:
        # The message quotes the faulty entry (an address or domain, never a secret).
        _locked("Callboard's list of who may sign in is invalid, so it stays locked. "
                + escape(str(exc)))

    email = st.user.get("email")
    if not is_allowed(email, rules, email_verified=st.user.get("email_verified")):
        _refusal(email if isinstance(email, str) else None, no_one_allowed=rules.is_empty)

    with st.sidebar:
        # Addresses as code spans: shown literally and copied exactly (see code_span).
        st.caption(f"Signed in as {code_span(str(email))}")
        st.button("Sign out", on_click=st.logout, key="callboard_sign_out")


def _secrets() -> Mapping[str, object]:
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return {}


def _auth_section() -> Mapping[str, object] | None:
    section = _secrets().get("auth")
    return section if isinstance(section, Mapping) else None


def _providers(auth: Mapping[str, object]) -> list[str | None]:
    """None for the unnamed provider set directly in [auth], else the [auth.NAME] sections."""
    if all(auth.get(key) for key in _PROVIDER_KEYS):
        return [None]
    return [
        name
        for name, section in auth.items()
        if isinstance(section, Mapping) and all(section.get(key) for key in _PROVIDER_KEYS)
    ]


def _sign_in_screen(providers: list[str | None]) -> None:
    st.title("Callboard")
    st.write("Sign in with your company account to see your team's calls.")
    for provider in providers:
        label = "Sign in" if provider is None else f"Sign in with {escape(provider.title())}"
        st.button(label, on_click=st.login, args=(provider,), type="primary",
                  key=f"callboard_sign_in_{provider or 'default'}")
    st.stop()


def _refusal(email: str | None, *, no_one_allowed: bool) -> None:
    st.title("Callboard")
    who = code_span(email) if email else "an account without an e-mail address"
    st.warning(f"You are signed in as {who}, which may not open Callboard.", icon="🔒")
    if no_one_allowed:
        st.write("No one has been given access yet: whoever runs Callboard must set "
                 "CALLBOARD_ALLOWED_EMAILS.")
    else:
        st.write("If you should have access, ask whoever runs Callboard to add your address "
                 "or your company's domain, or sign out and use another account.")
    st.button("Sign out", on_click=st.logout, key="callboard_sign_out")
    st.stop()


def _locked(sentence: str) -> None:
    st.title("Callboard")
    st.error(sentence, icon="🔒")
    st.stop()

