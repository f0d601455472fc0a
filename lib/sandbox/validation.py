"""Checks a POST /1.0/calls body and turns it into call fields or pointer-named 422 errors."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PHONE_NOISE = re.compile(r"[\s\-.()]")
_PHONE = re.compile(r"\+?\d{7,15}")
_DIGITS = re.compile(r"\d{1,18}")
MAX_NOTE = 10_000


@dataclass
class NewCall:
    outbound: bool
    from_number: str | None
    to_number: str | None
    purpose_id: int | None
    disposition_id: int | None
    prospect_id: int | None
    note: str | None


@dataclass
class FieldError:
    pointer: str
    detail: str


def is_phone_number(text: str) -> bool:
    """After spaces, dashes, dots and parentheses go: an optional + then 7-15 digits."""
    return _PHONE.fullmatch(_PHONE_NOISE.sub("", text)) is not None


def _as_id(value: object) -> int | None:
    # Documented as strings, answered as numbers: accept both, but never booleans or floats.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
        return number if number > 0 else None
    return None


def parse_new_call(
    body: object, purpose_ids: frozenset[int], disposition_ids: frozenset[int]
) -> tuple[NewCall | None, list[FieldError]]:
    """The call to create, or every problem found (each with its JSON pointer)."""
    errors: list[FieldError] = []
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return None, [FieldError("/data", "data is required and must be an object.")]
    data = body["data"]
    if "type" in data and data["type"] != "call":
        errors.append(FieldError("/data/type", 'type must be "call".'))
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        return None, [*errors, FieldError("/data/attributes",
                                          "attributes is required and must be an object.")]

    base = "/data/attributes"
    connection = attributes.get("connection")
    outbound = None
    from_number = to_number = None
    if connection is None:
        errors.append(FieldError(f"{base}/connection/outbound",
                                 "connection.outbound is required (true or false)."))
    elif not isinstance(connection, dict):
        errors.append(FieldError(f"{base}/connection", "connection must be an object."))
    else:
        outbound = connection.get("outbound")
        if not isinstance(outbound, bool):
            errors.append(FieldError(f"{base}/connection/outbound",
                                     "outbound is required and must be true or false."))
        for key in ("from", "to"):
            value = connection.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not is_phone_number(value):
                errors.append(FieldError(f"{base}/connection/{key}",
                                         f"{key} must be a phone number such as +15550001111."))
            elif key == "from":
                from_number = value
            else:
                to_number = value

    ids: dict[str, int | None] = {}
    for key, known in (("purpose", purpose_ids), ("disposition", disposition_ids),
                       ("prospect", None)):
        value = attributes.get(key)
        ids[key] = None
        if value is None:
            continue
        if not isinstance(value, dict):
            errors.append(FieldError(f"{base}/{key}", f"{key} must be an object with an id."))
            continue
        if value.get("id") is None:
            continue
        number = _as_id(value["id"])
        if number is None:
            errors.append(FieldError(f"{base}/{key}/id", f"{key} id must be a positive number."))
        elif known is not None and number not in known:
            errors.append(FieldError(f"{base}/{key}/id", f"No {key} has the id {number}."))
        else:
            ids[key] = number

    note = None
    metadata = attributes.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            errors.append(FieldError(f"{base}/metadata", "metadata must be an object."))
        else:
            note = metadata.get("note")
            if note is not None and not isinstance(note, str):
                errors.append(FieldError(f"{base}/metadata/note", "note must be a string."))
                note = None
            elif note is not None and len(note) > MAX_NOTE:
                errors.append(FieldError(f"{base}/metadata/note",
                                         f"note must be at most {MAX_NOTE} characters."))

    if errors:
        return None, errors
    assert isinstance(outbound, bool)
    return NewCall(outbound, from_number, to_number, ids["purpose"], ids["disposition"],
                   ids["prospect"], note), []
