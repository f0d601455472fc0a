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


class ApiUnavailable(OutreachError):
    """Server faults, connection failures or non-JSON bodies that outlasted the retries."""


class UnexpectedResponse(OutreachError):
    """JSON that does not have the documented shape."""


class IncompleteRead(OutreachError):
    """A read of many pages failed part way; nothing of it may be shown as complete."""

    def __init__(self, detail: str, *, cause: OutreachError | None = None) -> None:
        super().__init__(detail, status=cause.status if cause else None)
        self.cause = cause
