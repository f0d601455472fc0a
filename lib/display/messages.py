"""Sentences a sales manager understands for each error the client raises, with what to do next."""

from __future__ import annotations

from datetime import UTC, datetime

from lib.outreach.errors import (
    ApiUnavailable,
    IncompleteRead,
    InvalidInput,
    MissingScope,
    NotAuthorised,
    NotFound,
    OutreachError,
    QuotaExhausted,
    RateLimited,
    UnexpectedResponse,
)
from lib.settings import SettingsError

_SCOPE_NEEDS = {
    "read_calls": "read calls",
    "create_calls": "log calls",
    "read_users": "read the list of reps",
    "read_call_dispositions": "read call dispositions",
    "read_call_purposes": "read call purposes",
    "read_prospects": "find prospects by name",
    # API v2's names for the same permissions
    "calls.read": "read calls",
    "calls.write": "log calls",
    "users.read": "read the list of reps",
    "callDispositions.read": "read call dispositions",
    "callPurposes.read": "read call purposes",
    "prospects.read": "find prospects by name",
}


def explain(error: Exception, *, now: datetime | None = None) -> str:
    """One or two sentences saying what failed and what to do; never includes a token."""
    if isinstance(error, IncompleteRead):
        cause = explain(error.cause, now=now) if error.cause else error.detail
        return f"Only part of the calls could be loaded, so nothing is shown. {cause}"
    if isinstance(error, NotAuthorised):
        return (
            "Outreach did not accept Callboard's credentials (expired, revoked or unknown token). "
            "Ask whoever set up Callboard to renew the Outreach access token or refresh token."
        )
    if isinstance(error, MissingScope):
        scope = error.scope or "a needed permission"
        action = _SCOPE_NEEDS.get(error.scope or "", "do this")
        return (
            f"Callboard's Outreach token is not allowed to {action} (it lacks the scope "
            f"'{scope}'). Ask your Outreach admin to reconnect Callboard with that scope."
        )
    if isinstance(error, NotFound):
        return "Outreach has no record with that id. Check the id and try again."
    if isinstance(error, InvalidInput):
        where = f" ({error.field})" if error.field else ""
        return f"Outreach rejected the input{where}: {error.detail}"
    if isinstance(error, QuotaExhausted):
        return _quota_sentence(error, now)
    if isinstance(error, RateLimited):
        return "Outreach's request limit is used up for now. " + _retry_hint(error, now)
    if isinstance(error, ApiUnavailable):
        return (
            "Outreach could not be reached or answered with an error, even after retrying. "
            "Wait a minute and press Refresh; if it persists, check Outreach's status page."
        )
    if isinstance(error, UnexpectedResponse):
        return (
            "Outreach answered with data Callboard does not understand, so nothing is shown. "
            "Please report this to the Callboard team."
        )
    if isinstance(error, SettingsError):
        return f"Callboard's settings are incomplete: {error}"
    if isinstance(error, OutreachError):
        return f"The Outreach request failed: {error.detail}"
    return "Something unexpected went wrong. Press Refresh; if it persists, report it."


def explain_partial(loaded: float, error: RateLimited | None, *,
                    now: datetime | None = None) -> str:
    """What a page says above figures of a range only partly loaded (the quota share ran out
    part way through reading it): how much is there, why the rest is not, and when it comes."""
    if isinstance(error, QuotaExhausted) and error.whole_quota:
        why = ("your Outreach request limit for this hour is used up (your other Outreach tools "
               "draw on it too)")
    elif isinstance(error, QuotaExhausted):
        why = f"Callboard has used its share ({error.share:.0%}) of your Outreach requests " \
              "for this hour"
    else:
        why = "Outreach's request limit is used up for now"
    hint = _retry_hint(error, now) if error is not None else "Try again in a few minutes."
    return (f"Only {int(loaded * 100)} % of this range is loaded yet: {why}, so the figures "
            f"below leave out the rest. {hint} What is loaded is kept; only the rest is read.")


def _quota_sentence(error: QuotaExhausted, now: datetime | None) -> str:
    share = f"{error.share:.0%}"
    if error.whole_quota:
        return (
            "Your Outreach request limit for this hour is used up (your other Outreach tools "
            "draw on it too), so the calls were not loaded and nothing is shown. "
            + _retry_hint(error, now)
        )
    if error.needed is not None and error.budget is not None and error.needed > error.budget:
        # Not even a fresh hour would carry it: waiting does not help, a smaller read does.
        return (
            f"Loading these calls needs about {error.needed:,} Outreach requests, more than "
            f"Callboard may use in an hour ({error.budget:,}, {share} of your hourly limit), so "
            "nothing is shown. Choose a shorter date range or fewer reps; once a shorter range "
            "is loaded, a longer one reads only the days still missing."
        )
    return (
        f"Callboard has used its share of your Outreach requests for this hour ({share}; the "
        "rest is left for your other Outreach tools), so the calls were not loaded and "
        "nothing is shown. " + _retry_hint(error, now)
    )


def _retry_hint(error: RateLimited, now: datetime | None) -> str:
    if error.retry_at is None:
        return "Try again in a few minutes."
    now = now or datetime.now(UTC)
    seconds = max(0, int((error.retry_at - now).total_seconds()))
    if seconds <= 1:
        return "Try again in a moment."
    if seconds < 90:
        return f"Try again in about {seconds} seconds."
    return f"Try again in about {round(seconds / 60)} minutes ({error.retry_at:%H:%M} UTC)."
