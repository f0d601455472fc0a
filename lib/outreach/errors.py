"""Typed errors of the Outreach API client, each carrying what a page needs to explain it."""

from __future__ import annotations

from datetime import datetime


class OutreachError(Exception):
    """Base of every error the client raises. `detail` never contains a token or secret."""

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class NotAuthorised(OutreachError):
    """The token is missing, expired, revoked or unknown (401), and could not be refreshed."""


class MissingScope(OutreachError):
    """The token lacks the OAuth scope the request needs (403)."""

    def __init__(self, detail: str, *, scope: str | None = None, status: int | None = 403) -> None:
        super().__init__(detail, status=status)
        self.scope = scope


class NotFound(OutreachError):
    """No record with that id (404)."""


class InvalidInput(OutreachError):
    """The API rejected a parameter or body (400, 422); `field` names the offending input."""

    def __init__(self, detail: str, *, field: str | None = None, status: int | None = 422) -> None:
        super().__init__(detail, status=status)
        self.field = field


class RateLimited(OutreachError):
    """Still rate limited (429) after the retries; `retry_at` says when to try again (UTC)."""

    def __init__(
        self, detail: str, *, retry_at: datetime | None = None, status: int | None = 429
    ) -> None:
        super().__init__(detail, status=status)
        self.retry_at = retry_at


class QuotaExhausted(RateLimited):
    """Callboard's share of the user's hourly request quota (CALLBOARD_QUOTA_SHARE) is spent,
    or would be before the read could finish: the client stopped before asking, rather than
    collect 429s. Nothing of the read is shown. `retry_at` is the rate window's reset (UTC,
    None if unknown), when a new share starts; `share` the fraction of `limit` (the user's
    requests an hour) Callboard may spend; `needed` the requests the read still needed, where
    known (1.0 knows after each query's first page), and `budget` the share in requests.
    `whole_quota` is True when what ran out is the user's whole quota (other integrations
    spent it), before Callboard's share was."""

    def __init__(self, detail: str, *, retry_at: datetime | None, share: float,
                 limit: int | None = None, needed: int | None = None,
                 budget: int | None = None, whole_quota: bool = False) -> None:
        # No 429 was answered: the client held back.
        super().__init__(detail, retry_at=retry_at, status=None)
        self.share = share
        self.limit = limit
        self.needed = needed
        self.budget = budget
        self.whole_quota = whole_quota


class ApiUnavailable(OutreachError):
    """Server faults, connection failures or non-JSON bodies that outlasted the retries."""


class UnexpectedResponse(OutreachError):
    """JSON that does not have the documented shape."""


class IncompleteRead(OutreachError):
    """A read of many pages failed part way; nothing of it may be shown as complete."""

    def __init__(self, detail: str, *, cause: OutreachError | None = None) -> None:
        super().__init__(detail, status=cause.status if cause else None)
        self.cause = cause
