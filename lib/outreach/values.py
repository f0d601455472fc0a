"""The client's value types besides frames: what a token may do (ApiInfo) and a call to log
(NewCall)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.outreach.errors import InvalidInput
from lib.outreach.records import to_id


@dataclass(frozen=True)
class ApiInfo:
    """GET /1.0/info: who the token belongs to, what it may do, and its request counters."""

    email: str | None
    user_id: int | None
    scopes: frozenset[str]
    requests_current: int | None
    requests_maximum: int | None
    org: str | None = None  # the org's id or name where the answer names it

    @classmethod
    def unknown(cls) -> ApiInfo:
        """Nothing known: what an API without a "who am I" route (v2) answers."""
        return cls(email=None, user_id=None, scopes=frozenset(), requests_current=None,
                   requests_maximum=None)


@dataclass(frozen=True)
class NewCall:
    """A call to log; the API makes the token's user its owner."""

    outbound: bool
    from_number: str | None = None
    to_number: str | None = None
    purpose_id: int | None = None
    disposition_id: int | None = None
    prospect_id: int | None = None
    note: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The documented 1.0 create body, checked first (InvalidInput with the field, before
        anything is sent): ids as strings, optional parts omitted when None."""
        if not isinstance(self.outbound, bool):
            raise InvalidInput("outbound must be true or false.", field="outbound", status=None)
        connection: dict[str, Any] = {"outbound": self.outbound}
        for key, value in (("from", self.from_number), ("to", self.to_number)):
            if value is not None:
                if not isinstance(value, str):
                    raise InvalidInput(f"{key} must be text.", field=key, status=None)
                connection[key] = value
        attributes: dict[str, Any] = {"connection": connection}
        for key, value in (("purpose", self.purpose_id), ("disposition", self.disposition_id),
                           ("prospect", self.prospect_id)):
            if value is None:
                continue
            number = to_id(value)
            if number is None:
                raise InvalidInput(f"The {key} id must be a number.", field=key, status=None)
            attributes[key] = {"id": str(number)}
        if self.note is not None:
            attributes["metadata"] = {"note": self.note}
        return {"data": {"type": "call", "attributes": attributes}}
