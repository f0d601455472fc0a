"""What an API answer means: a 2xx's JSON object, a fault another try may mend, or the typed
error of a refusal (the status policy of lib.outreach.transport)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from lib.outreach.dialect import Dialect
from lib.outreach.errors import (
    InvalidInput,
    MissingScope,
    NotAuthorised,
    NotFound,
    OutreachError,
    UnexpectedResponse,
)


@dataclass(frozen=True)
class Fault:
    """A try that failed in a way another try may mend: a 429, a 5xx, a 2xx that is not JSON,
    a timeout or a broken connection. `problem` names it for the log and the final error
    (never a token); `sent` is False only when the server surely saw nothing."""

    problem: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    sent: bool = True


def json_or_none(response: requests.Response) -> Any:
    """The answer's JSON, or None when its body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def judge(response: requests.Response, what: str, method: str, path: str,
          dialect: Dialect) -> dict[str, Any] | Fault:
    """The JSON object of a 2xx, or the Fault of one worth repeating; raises the typed error of
    any other answer (4xx; a 401 here is final: the caller has had its one refresh)."""
    status = response.status_code
    if 200 <= status < 300:
        data = json_or_none(response)
        if isinstance(data, dict):
            return data
        if data is not None:
            raise UnexpectedResponse(f"{what} answered JSON that is not an object.", status=status)
        # The live API sends such bodies now and then: a fault, never data.
        return Fault(f"HTTP {status} with a body that is not JSON", status)
    if status == 429 or status >= 500:
        return Fault(f"HTTP {status}", status, response.headers)
    raise refusal(response, what, method, path, dialect)


def refusal(response: requests.Response, what: str, method: str, path: str,
            dialect: Dialect) -> OutreachError:
    """The typed error of a 4xx: NotAuthorised, MissingScope with the scope, NotFound, or
    InvalidInput with the field to blame."""
    status = response.status_code
    error = _first_error(response)
    detail = str(error.get("detail") or error.get("title") or f"HTTP {status}")
    if status == 401:
        return NotAuthorised(f"{what} was refused (HTTP 401): the access token is missing, "
                             "expired, revoked or unknown.", status=401)
    if status == 403:
        named = dialect.scope_pattern.search(f"{error.get('detail', '')} {error.get('title', '')}")
        scope = named.group(1) if named else route_scope(dialect, method, path)
        lacks = f"the token lacks the scope {scope}" if scope else "the token lacks a scope"
        return MissingScope(f"{what} was refused (HTTP 403): {lacks}.", scope=scope)
    if status == 404:
        return NotFound(f"{what}: {detail}", status=404)
    if status in (400, 422):
        return InvalidInput(detail, field=dialect.error_field(error), status=status)
    return OutreachError(f"{what} was refused (HTTP {status}): {detail}", status=status)


def route_scope(dialect: Dialect, method: str, path: str) -> str | None:
    """The scope a route needs, per the reference; for a 403 that does not name it."""
    if not path.startswith(dialect.prefix + "/"):
        return None
    resource = path[len(dialect.prefix) + 1:].split("/")[0]
    if resource not in dialect.resources.values():
        return None
    return dialect.scope_name(resource, write=method == "POST")


def _first_error(response: requests.Response) -> Mapping[str, Any]:
    body = json_or_none(response)
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return errors[0]
    return {}


def pointer_parts(error: Mapping[str, Any]) -> list[str]:
    """The names in an error's source.pointer ("/data/attributes/to" -> data, attributes, to)."""
    source = error.get("source")
    pointer = source.get("pointer") if isinstance(source, Mapping) else None
    return [part for part in pointer.split("/") if part] if isinstance(pointer, str) else []


def field_of(error: Mapping[str, Any]) -> str | None:
    """The offending input: source.pointer's last part ("/data/.../outbound" -> "outbound"),
    or source.parameter ("filter[metadata/created/after]"). A pointer ending in /id names the
    object the id belongs to ("/data/attributes/purpose/id" -> "purpose")."""
    parts = pointer_parts(error)
    if parts:
        if parts[-1] == "id" and len(parts) > 1 and parts[-2] != "data":
            return parts[-2]
        return parts[-1]
    source = error.get("source")
    parameter = source.get("parameter") if isinstance(source, Mapping) else None
    return parameter if isinstance(parameter, str) and parameter else None
