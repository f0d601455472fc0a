"""Reads Outreach 1.0 JSON records into call rows and the lookup frames (columns: lib.frames).

Parsing is defensive about shape (the live API's 1.0 call record is not publicly documented),
but strict about meaning: a record without a usable id, created time or outbound flag raises
UnexpectedResponse instead of being guessed at or silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from lib.frames import (
    CALL_DTYPES,
    DISPOSITION_COLUMNS,
    PURPOSE_COLUMNS,
    USER_COLUMNS,
    frame_from_rows,
)
from lib.outreach.errors import UnexpectedResponse

# ----- small readers -----


def as_object(value: Any) -> Mapping[str, Any]:
    """A JSON object, or an empty one for null/missing (the API omits or nulls empty parts)."""
    return value if isinstance(value, Mapping) else {}


def _record_label(record: Any) -> str:
    # Names the record in error messages without dumping its (possibly personal) contents.
    if isinstance(record, Mapping) and record.get("id") is not None:
        return f"record {record.get('id')!r}"
    return "a record"


def to_id(value: Any) -> int | None:
    """An id given as a number or a numeric string; None if it is not one.

    Booleans and fractional numbers are not ids (JSON true is not 1).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
    return None


def relationship_id(record: Mapping[str, Any], name: str) -> Any:
    """JSON:API relationships.<name>.data.id as sent (None when absent or null)."""
    related = as_object(as_object(record.get("relationships")).get(name))
    return as_object(related.get("data")).get("id")


def _related_id(record: Mapping[str, Any], attributes: Mapping[str, Any], name: str) -> int | None:
    """attributes.<name>.id, else JSON:API relationships.<name>.data.id; None if neither is set."""
    raw = as_object(attributes.get(name)).get("id")
    if raw is None:
        raw = relationship_id(record, name)
    if raw is None:
        return None
    parsed = to_id(raw)
    if parsed is None:
        raise UnexpectedResponse(
            f"The {name} id of {_record_label(record)} is not a number: {raw!r}."
        )
    return parsed


def _text(value: Any, what: str, record: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # A phone number sent as a JSON number; its digits are still the data.
        return str(value)
    raise UnexpectedResponse(f"The {what} of {_record_label(record)} is not text.")


def parse_timestamp(value: Any) -> datetime:
    """An ISO-8601 timestamp with Z or an offset, with or without fractions, as aware UTC.

    A timestamp without a zone is rejected: guessing its zone could shift calls across days.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return moment.astimezone(UTC)


# ----- calls -----


def parse_call(record: Any) -> dict[str, Any]:
    """One 1.0 call record as a row dict with the CALL_COLUMNS keys (created_at aware UTC), and
    `updated_at` (aware UTC, or None when the record does not say) for the store's sync."""
    if not isinstance(record, Mapping):
        raise UnexpectedResponse("A call record is not a JSON object.")
    call_id = to_id(record.get("id"))
    if call_id is None:
        raise UnexpectedResponse(f"A call record has no usable id: {record.get('id')!r}.")

    attributes = as_object(record.get("attributes"))
    metadata = as_object(attributes.get("metadata"))
    connection = as_object(attributes.get("connection"))

    raw_created = metadata.get("created")
    if raw_created is None:
        raw_created = attributes.get("created")
    try:
        created_at = parse_timestamp(raw_created)
    except ValueError as exc:
        raise UnexpectedResponse(
            f"Call {call_id} has no usable creation time ({exc})."
        ) from None

    outbound = connection.get("outbound")
    if not isinstance(outbound, bool):
        # Direction drives most metrics; a missing or non-boolean flag is not something to guess.
        raise UnexpectedResponse(f"Call {call_id} has no boolean connection.outbound.")

    note = metadata.get("note")
    if note is None:
        note = attributes.get("note")

    raw_updated = metadata.get("updated")
    if raw_updated is None:
        raw_updated = attributes.get("updated")
    try:
        # Only the store's change bookmark uses it: unknown is fine, never a failed read.
        updated_at = None if raw_updated is None else parse_timestamp(raw_updated)
    except (ValueError, UnexpectedResponse):
        updated_at = None

    return {
        "id": call_id,
        "created_at": created_at,
        "user_id": _related_id(record, attributes, "user"),
        "outbound": outbound,
        "from_number": _text(connection.get("from"), "from number", record),
        "to_number": _text(connection.get("to"), "to number", record),
        "purpose_id": _related_id(record, attributes, "purpose"),
        "disposition_id": _related_id(record, attributes, "disposition"),
        "prospect_id": _related_id(record, attributes, "prospect"),
        "note": _text(note, "note", record),
        "updated_at": updated_at,
    }


def calls_frame(records: Iterable[Any]) -> pd.DataFrame:
    """The calls frame of raw 1.0 call records; raises UnexpectedResponse on a malformed record."""
    return frame_from_rows((parse_call(record) for record in records), CALL_DTYPES)


# ----- lookups -----


def record_id(record: Any, what: str) -> int:
    """The id of a lookup or prospect record; UnexpectedResponse when it is not one."""
    if not isinstance(record, Mapping):
        raise UnexpectedResponse(f"A {what} record is not a JSON object.")
    value = to_id(record.get("id"))
    if value is None:
        raise UnexpectedResponse(f"A {what} record has no usable id: {record.get('id')!r}.")
    return value


def _order(value: Any) -> int | None:
    return to_id(value) if value is not None else None


def _typed_frame(rows: list[dict[str, Any]], columns: tuple[str, ...],
                 dtypes: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: pd.Series([row[name] for row in rows], dtype=dtypes[name]) for name in columns}
    )
    # Keep the API's order (users come sorted by last name), dropping repeats from paging.
    return frame.drop_duplicates("id", keep="first").reset_index(drop=True)


def users_frame(records: Iterable[Any]) -> pd.DataFrame:
    """Users: id (int64), first_name, last_name, name ("First Last", else email, else "User N"),
    email (object str, "" if absent), in the API's order."""
    rows = []
    for record in records:
        user_id = record_id(record, "user")
        attributes = as_object(record.get("attributes"))
        metadata = as_object(attributes.get("metadata"))
        contact = as_object(attributes.get("contact"))
        first = _text(metadata.get("first_name", attributes.get("first_name")), "first name",
                      record)
        last = _text(metadata.get("last_name", attributes.get("last_name")), "last name", record)
        email = _text(contact.get("email", attributes.get("email")), "email", record)
        name = f"{first} {last}".strip() or email or f"User {user_id}"
        rows.append({"id": user_id, "first_name": first, "last_name": last, "name": name,
                     "email": email})
    dtypes = {"id": "int64", "first_name": "object", "last_name": "object", "name": "object",
              "email": "object"}
    return _typed_frame(rows, USER_COLUMNS, dtypes)


def dispositions_frame(records: Iterable[Any]) -> pd.DataFrame:
    """Call dispositions: id (int64), name, order (Int64), outcome ("Answered", "Not Answered")."""
    rows = []
    for record in records:
        disposition_id = record_id(record, "disposition")
        attributes = as_object(record.get("attributes"))
        rows.append({
            "id": disposition_id,
            "name": _text(attributes.get("name"), "name", record),
            "order": _order(attributes.get("order")),
            "outcome": _text(attributes.get("outcome"), "outcome", record),
        })
    dtypes = {"id": "int64", "name": "object", "order": "Int64", "outcome": "object"}
    return _typed_frame(rows, DISPOSITION_COLUMNS, dtypes)


def purposes_frame(records: Iterable[Any]) -> pd.DataFrame:
    """Call purposes: id (int64), name, order (Int64)."""
    rows = []
    for record in records:
        purpose_id = record_id(record, "purpose")
        attributes = as_object(record.get("attributes"))
        rows.append({
            "id": purpose_id,
            "name": _text(attributes.get("name"), "name", record),
            "order": _order(attributes.get("order")),
        })
    dtypes = {"id": "int64", "name": "object", "order": "Int64"}
    return _typed_frame(rows, PURPOSE_COLUMNS, dtypes)
