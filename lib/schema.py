"""Turns Outreach 1.0 JSON records into the normalised calls frame and lookup frames."""

# The calls frame: one row per call, sorted by (created_at, id), ids unique.
#
#   column          dtype                 source in a 1.0 record
#   id              int64                 id (string or number)
#   created_at      datetime64[ns, UTC]   attributes.metadata.created, else attributes.created
#   user_id         Int64 (nullable)      attributes.user.id, else relationships.user.data.id
#   outbound        bool                  attributes.connection.outbound (a real JSON boolean)
#   from_number     object (str, "")      attributes.connection.from
#   to_number       object (str, "")      attributes.connection.to
#   purpose_id      Int64                 attributes.purpose.id / relationships.purpose.data.id
#   disposition_id  Int64                 attributes.disposition.id / relationships...data.id
#   prospect_id     Int64                 attributes.prospect.id / relationships.prospect.data.id
#   note            object (str, "")      attributes.metadata.note, else attributes.note
#
# API v2 records carry more (lib.client_v2 reads them); a frame of v2 calls has these columns too,
# a frame of 1.0 calls never has them (absent, not empty: 1.0 does not know these facts):
#
#   outcome         object (str or None)  attributes.outcome: "Answered", "Not Answered", None
#   state           object (str or None)  attributes.state
#   dialed_at       datetime64[ns, UTC]   attributes.dialedAt (NaT when absent)
#   answered_at     datetime64[ns, UTC]   attributes.answeredAt (NaT: not answered or unknown)
#   completed_at    datetime64[ns, UTC]   attributes.completedAt
#
# Text columns are plain `object` columns of Python str (never missing: "" when absent), as
# ARCHITECTURE.md specifies. pandas 3 would otherwise infer its `str` dtype, so every dtype here
# is set explicitly rather than inferred.
#
# Parsing is defensive about shape (the live API's 1.0 call record is not publicly documented),
# but strict about meaning: a record without a usable id, created time or outbound flag raises
# UnexpectedResponse instead of being guessed at or silently dropped.

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from lib.errors import UnexpectedResponse

CALL_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "user_id",
    "outbound",
    "from_number",
    "to_number",
    "purpose_id",
    "disposition_id",
    "prospect_id",
    "note",
)

CALL_DTYPES: dict[str, str] = {
    "id": "int64",
    "created_at": "datetime64[ns, UTC]",
    "user_id": "Int64",
    "outbound": "bool",
    "from_number": "object",
    "to_number": "object",
    "purpose_id": "Int64",
    "disposition_id": "Int64",
    "prospect_id": "Int64",
    "note": "object",
}

V2_CALL_DTYPES: dict[str, str] = {
    "outcome": "object",
    "state": "object",
    "dialed_at": "datetime64[ns, UTC]",
    "answered_at": "datetime64[ns, UTC]",
    "completed_at": "datetime64[ns, UTC]",
}
CALL_DTYPES_V2: dict[str, str] = {**CALL_DTYPES, **V2_CALL_DTYPES}  # a calls frame read on v2

USER_COLUMNS: tuple[str, ...] = ("id", "first_name", "last_name", "name", "email")
DISPOSITION_COLUMNS: tuple[str, ...] = ("id", "name", "order", "outcome")
PURPOSE_COLUMNS: tuple[str, ...] = ("id", "name", "order")

_TEXT_COLUMNS = [name for name, dtype in CALL_DTYPES.items() if dtype == "object"]
_NULLABLE_INT_COLUMNS = [name for name, dtype in CALL_DTYPES.items() if dtype == "Int64"]


# ----- small readers -----


def _obj(value: Any) -> Mapping[str, Any]:
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


def _related_id(record: Mapping[str, Any], attributes: Mapping[str, Any], name: str) -> int | None:
    """attributes.<name>.id, else JSON:API relationships.<name>.data.id; None if neither is set."""
    raw = _obj(attributes.get(name)).get("id")
    if raw is None:
        raw = _obj(_obj(_obj(record.get("relationships")).get(name)).get("data")).get("id")
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
    """One 1.0 call record as a row dict with the CALL_COLUMNS keys (created_at aware UTC)."""
    if not isinstance(record, Mapping):
        raise UnexpectedResponse("A call record is not a JSON object.")
    call_id = to_id(record.get("id"))
    if call_id is None:
        raise UnexpectedResponse(f"A call record has no usable id: {record.get('id')!r}.")

    attributes = _obj(record.get("attributes"))
    metadata = _obj(attributes.get("metadata"))
    connection = _obj(attributes.get("connection"))

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
    }


def empty_calls_frame(dtypes: Mapping[str, str] = CALL_DTYPES) -> pd.DataFrame:
    """A calls frame with no rows and exactly these columns and dtypes (CALL_DTYPES, or with
    V2_CALL_DTYPES added for API v2)."""
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})


def frame_from_rows(rows: Iterable[Mapping[str, Any]],
                    dtypes: Mapping[str, str]) -> pd.DataFrame:
    """A calls frame from already parsed rows (parse_call output): typed, de-duplicated, sorted.

    When an id repeats, the last row wins (a later page of a read is the fresher copy).
    `dtypes` gives the columns: CALL_DTYPES, or CALL_DTYPES_V2 for API v2 (a row without a v2
    field has it unknown). Always given, never guessed from the rows: a read's columns are its
    API version's whether it found calls or not.
    """
    rows = list(rows)
    if not rows:
        return empty_calls_frame(dtypes)
    columns: dict[str, pd.Series] = {}
    for name, dtype in dtypes.items():
        if name in CALL_DTYPES:
            values = [row[name] for row in rows]
        else:  # a v2 field a row lacks is unknown
            values = [row.get(name) for row in rows]
        if dtype.startswith("datetime64"):
            series = pd.Series(pd.to_datetime(values, utc=True)).astype(dtype)
        elif name in _NULLABLE_INT_COLUMNS:
            series = pd.Series(values, dtype=dtype)
        elif name in _TEXT_COLUMNS:
            series = pd.Series(["" if v is None else v for v in values], dtype=object)
        elif dtype == "object":  # v2's outcome and state: None means unknown, kept as None
            series = pd.Series(values, dtype=object)
        else:
            series = pd.Series(values, dtype=dtype)
        columns[name] = series
    frame = pd.DataFrame(columns)
    frame = frame.drop_duplicates("id", keep="last")
    frame = frame.sort_values(["created_at", "id"], kind="stable").reset_index(drop=True)
    return frame


def calls_frame(records: Iterable[Any]) -> pd.DataFrame:
    """The calls frame of raw 1.0 call records; raises UnexpectedResponse on a malformed record."""
    return frame_from_rows((parse_call(record) for record in records), CALL_DTYPES)


# ----- lookups -----


def _lookup_id(record: Any, what: str) -> int:
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
        user_id = _lookup_id(record, "user")
        attributes = _obj(record.get("attributes"))
        metadata = _obj(attributes.get("metadata"))
        contact = _obj(attributes.get("contact"))
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
        disposition_id = _lookup_id(record, "disposition")
        attributes = _obj(record.get("attributes"))
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
        purpose_id = _lookup_id(record, "purpose")
        attributes = _obj(record.get("attributes"))
        rows.append({
            "id": purpose_id,
            "name": _text(attributes.get("name"), "name", record),
            "order": _order(attributes.get("order")),
        })
    dtypes = {"id": "int64", "name": "object", "order": "Int64"}
    return _typed_frame(rows, PURPOSE_COLUMNS, dtypes)
