"""Connect Outreach in the app: who is an admin, whether the OAuth app is connected, and the
Connect page (Outreach's consent page and back, the callback's checks, Disconnect)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from lib.display.markdown import escape
from lib.outreach import oauth
from lib.settings import Settings, SettingsError
from lib.store import tokens
from lib.ui import cache
from lib.ui.allow_list import ALLOW_LIST_SETTING, AllowListError, is_allowed, parse_allow_list

ADMIN_SETTING = "CALLBOARD_ADMIN_EMAILS"
PAGE = "pages/connect.py"
AFTER_CONNECT_PAGE = "pages/overview.py"
# Connects started in this process and not finished: the `state` values are kept here, on the
# server (Outreach's redirect back opens a new browser session, so not in session state).
PENDING = oauth.PendingStates()
_STATE = "callboard_connect_state"  # this session's started Connect
_FLASH = "callboard_connect_flash"  # a sentence for the next page, after a Connect

State = Literal["not oauth", "connected", "not connected"]


def state() -> State:
    """"not oauth" (a pasted token, the demo, or settings in error, which the frame reports),
    "connected" (a refresh token is known) or "not connected" (an OAuth app without one)."""
    try:
        settings = cache.settings()
    except SettingsError:
        return "not oauth"
    if not settings.uses_oauth_refresh:
        return "not oauth"
    return "connected" if tokens.connection(settings).connected else "not connected"


# ----- who is an admin ---------------------------------------------------------------------


def admin_verdict(sign_in: bool, email: object, email_verified: object,
                  admins: object) -> tuple[bool, str | None]:
    """(may this visitor connect and disconnect, a sentence when the admin list is invalid).
    Without sign-in (a local Callboard) whoever opens it; with sign-in the addresses and
    domains of CALLBOARD_ADMIN_EMAILS (the allow-list's syntax; empty or unset: nobody)."""
    if not sign_in:
        return True, None
    try:
        rules = parse_allow_list(admins)
    except AllowListError as exc:
        return False, str(exc).replace(ALLOW_LIST_SETTING, ADMIN_SETTING)
    return is_allowed(email, rules, email_verified=email_verified), None


def _secrets() -> Mapping[str, object]:
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return {}


def _sign_in_configured() -> bool:
    return isinstance(_secrets().get("auth"), Mapping)


def _admins_setting() -> object:
    value = os.environ.get(ADMIN_SETTING)
    if value is not None and value.strip():
        return value
    return _secrets().get(ADMIN_SETTING)


def _visitor() -> str | None:
    """The signed-in address (lower case), or None without sign-in."""
    if not _sign_in_configured():
        return None
    email = st.user.get("email")
    return email.strip().lower() if isinstance(email, str) else None


def admin_name() -> str | None:
    """Who the visitor is for the record of an admin's change (their address; without sign-in,
    "the dashboard's user"), or None when they are no admin."""
    if not is_admin():
        return None
    return _visitor() or "the dashboard's user (sign-in is off)"


def is_admin() -> bool:
    sign_in = _sign_in_configured()
    admin, _problem = admin_verdict(sign_in, st.user.get("email") if sign_in else None,
                                    st.user.get("email_verified") if sign_in else None,
                                    _admins_setting())
    return admin


# ----- the page ----------------------------------------------------------------------------


def render() -> None:
    """The Connect Outreach page: the callback from Outreach when one arrived, else the state
    of the connection and what an admin can do about it."""
    st.title("Connect Outreach")
    settings = cache.settings()
    sign_in = _sign_in_configured()
    admin, admin_problem = admin_verdict(
        sign_in, st.user.get("email") if sign_in else None,
        st.user.get("email_verified") if sign_in else None, _admins_setting())
    connection = tokens.connection(settings)
    if not admin:
        _not_an_admin(connection.connected, admin_problem)
        return

    callback = oauth.Callback.from_query({name: st.query_params.get(name, "")
                                          for name in ("code", "state", "error")})
    if callback.is_callback:
        _finish(settings, callback)
        return

    if connection.connected:
        _connected(settings, connection)
    else:
        st.write("Callboard is not connected to Outreach yet. Connect it as the Outreach user "
                 "whose access Callboard should use: Outreach asks you to allow Callboard, "
                 "then sends you back here.")
    problem = tokens.connect_problem(settings)
    if problem is None and connection.problem is not None:
        problem = connection.problem
    if problem is not None:
        st.warning(escape(problem), icon=":material/key:")
        return
    assert settings.client_id and settings.redirect_uri
    label = "Reconnect Outreach" if connection.connected else "Connect Outreach"
    st.link_button(label, _authorize_url(settings), type="primary", icon=":material/link:")
    st.caption("Outreach opens in a new tab; the link works once, for 10 minutes.")


def _not_an_admin(connected: bool, problem: str | None) -> None:
    if connected:
        st.info("Callboard is connected to Outreach. Only an administrator can change that.")
    else:
        st.warning("Callboard is not connected to Outreach yet. Ask an administrator (an "
                   f"address on {ADMIN_SETTING}) to connect it.", icon=":material/link_off:")
    if problem is not None:
        st.error(escape(f"The list of administrators is invalid: {problem}"),
                 icon=":material/error:")


def _authorize_url(settings: Settings) -> str:
    """The consent link for this session: one state, kept on the server, bound to the admin."""
    owner = _visitor()
    started = st.session_state.get(_STATE)
    if not isinstance(started, str) or not PENDING.is_live(started, owner):
        started = st.session_state[_STATE] = PENDING.begin(owner)
    assert settings.client_id and settings.redirect_uri
    return oauth.authorize_url(settings.api_base, settings.client_id, settings.redirect_uri,
                               oauth.scopes_for(settings.api_version), started)


def _finish(settings: Settings, callback: oauth.Callback) -> None:
    """Outreach sent the browser back: check the state, exchange the code, keep the tokens."""
    st.query_params.clear()  # the code is single-use: never left in the address bar
    try:
        code = oauth.check_callback(callback, PENDING, _visitor())
        problem = tokens.connect_problem(settings)
        if problem is not None:
            raise oauth.ConnectError(problem)
        assert settings.client_id and settings.client_secret and settings.redirect_uri
        grant = oauth.exchange_code(settings.api_base, settings.client_id,
                                    settings.client_secret, code, settings.redirect_uri,
                                    clock=lambda: cache.now().timestamp())
        tokens.connect(settings, grant)
    except (oauth.ConnectError, tokens.TokenStoreError) as exc:
        st.session_state.pop(_STATE, None)
        st.error(escape(str(exc)), icon=":material/link_off:")
        if st.button("Back to Connect Outreach", key="callboard_connect_back"):
            st.rerun()
        return
    st.session_state.pop(_STATE, None)
    cache.reopen_source()
    st.session_state[_FLASH] = "Connected to Outreach. The tokens are kept encrypted on the server."
    st.switch_page(AFTER_CONNECT_PAGE)


def _connected(settings: Settings, connection: tokens.Connection) -> None:
    if connection.source == "setting":
        st.success("Callboard is connected to Outreach with the refresh token in its settings "
                   "(OUTREACH_REFRESH_TOKEN).", icon=":material/link:")
        return
    kept = connection.kept
    assert kept is not None
    since = datetime.fromtimestamp(kept.connected_at or time.time(), UTC)
    how = "with Connect Outreach" if kept.via == "connect" else "from its settings' refresh token"
    st.success(escape(
        f"Callboard is connected to Outreach at {settings.api_base}, {how}, since "
        f"{since:%d %b %Y, %H:%M} UTC. The newest tokens are kept encrypted on the server."),
        icon=":material/link:")
    with st.popover("Disconnect…", icon=":material/link_off:"):
        st.write("Callboard forgets the tokens it keeps and shows no data until someone "
                 "connects it again. (To revoke its access in Outreach too, remove the app "
                 "there.)")
        if st.button("Disconnect", key="callboard_disconnect", type="primary"):
            tokens.disconnect(settings)
            cache.reopen_source()
            st.session_state[_FLASH] = ("Disconnected: Callboard forgot its Outreach tokens." +
                                        (" OUTREACH_REFRESH_TOKEN still connects it."
                                         if settings.refresh_token else ""))
            st.rerun()


def show_flash() -> None:
    """The sentence a Connect or Disconnect left for the page that follows, once."""
    sentence = st.session_state.pop(_FLASH, None)
    if sentence:
        st.success(sentence, icon=":material/check_circle:")
