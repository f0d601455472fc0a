"""The sandbox's OAuth pages and redirect rules: which redirect URIs an app may use, the consent
page of /oauth/authorize and its error page (stdlib only)."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from urllib.parse import urlencode, urlsplit

APP_NAME = "Callboard"
# Doorkeeper's (Outreach's OAuth server) default lifetime of an authorization code; a consent
# page left open lives as long.
CODE_TTL_S = 600
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# What each scope name the sandbox knows lets the app do, as the consent page says it. `profile`
# and `email` are Outreach scope names the sandbox grants and reports but never checks.
SCOPE_TEXT = {
    "read_calls": "Read calls",
    "create_calls": "Log calls",
    "read_users": "Read users",
    "read_call_dispositions": "Read call dispositions",
    "read_call_purposes": "Read call purposes",
    "read_prospects": "Read prospects",
    "calls.read": "Read calls",
    "calls.write": "Log calls",
    "users.read": "Read users",
    "callDispositions.read": "Read call dispositions",
    "callPurposes.read": "Read call purposes",
    "prospects.read": "Read prospects",
    "profile": "See your profile",
    "email": "See your email address",
}
# The scope names /oauth/authorize grants; any other is an invalid_scope.
GRANTABLE_SCOPES = frozenset(SCOPE_TEXT)


def _parts(uri: str) -> tuple[str, str] | None:
    """(scheme, host) of an absolute http(s) URI without user info or fragment, else None."""
    try:
        split = urlsplit(uri)
        split.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return None
    if split.scheme not in ("http", "https") or not split.hostname or "@" in split.netloc:
        return None
    if split.fragment or "#" in uri or any(c.isspace() for c in uri):
        return None
    return split.scheme, split.hostname.lower()


def is_loopback(uri: str) -> bool:
    """An http(s) URI on this machine (127.0.0.1, localhost, ::1), any port."""
    parts = _parts(uri)
    return parts is not None and parts[1] in LOOPBACK_HOSTS


def registered_redirect_uris(uris: Iterable[str]) -> tuple[str, ...]:
    """The redirect URIs an app registers, checked as Outreach checks them (https://), except
    that the sandbox also takes http:// on loopback, where browser tests run the app. ValueError
    names the first one refused."""
    checked: list[str] = []
    for uri in uris:
        parts = _parts(uri)
        if parts is None or (parts[0] == "http" and parts[1] not in LOOPBACK_HOSTS):
            raise ValueError(f"redirect URI {uri!r} must be https:// (or http:// on loopback), "
                             "absolute, without user info or fragment")
        if uri not in checked:
            checked.append(uri)
    return tuple(checked)


def redirect_allowed(uri: str, registered: tuple[str, ...]) -> bool:
    """Whether the app may send the browser back to `uri`: exactly one of the registered URIs,
    or, when none are registered, any loopback URI."""
    return uri in registered if registered else is_loopback(uri)


def with_params(uri: str, params: dict[str, str]) -> str:
    """`uri` with these query parameters added after any it has."""
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;"
          "padding:0 1rem;color:#1d2330}button{font-size:1rem;padding:.5rem 1.5rem;"
          "margin-right:.5rem}code{background:#eef1f6;padding:0 .2rem}")


def _html(title: str, body: str) -> bytes:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)} · Outreach sandbox</title><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>\n").encode()


def consent_page(scopes: Iterable[str], consent_id: str, redirect_uri: str,
                 user_name: str, user_email: str) -> bytes:
    """The page that asks the signed-in user to allow or deny the app these scopes; its form
    posts the one-time consent id back to /oauth/authorize."""
    items = "".join(
        f"<li><code>{escape(scope)}</code> {escape(SCOPE_TEXT.get(scope, ''))}</li>"
        for scope in scopes
    )
    return _html(f"Authorize {APP_NAME}", (
        f"<h1>Authorize {escape(APP_NAME)}</h1>"
        f"<p>Signed in to Outreach as <strong>{escape(user_name)}</strong> "
        f"({escape(user_email)}).</p>"
        f"<p><strong>{escape(APP_NAME)}</strong> asks to:</p><ul>{items}</ul>"
        f"<p>Afterwards you are sent back to <code>{escape(redirect_uri)}</code>.</p>"
        '<form method="post" action="/oauth/authorize">'
        f'<input type="hidden" name="consent" value="{escape(consent_id)}">'
        '<button type="submit" name="decision" value="allow">Allow</button>'
        '<button type="submit" name="decision" value="deny">Deny</button>'
        "</form>"
    ))


def error_page(error: str, description: str) -> bytes:
    """What the browser is shown when it cannot be sent back to the app."""
    return _html("Authorization failed", (
        "<h1>Outreach could not authorize the app</h1>"
        f"<p><code>{escape(error)}</code>: {escape(description)}</p>"
    ))
