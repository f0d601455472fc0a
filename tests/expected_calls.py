"""What a read of the sandbox should return, worked out by the tests alone.

The expected calls frame is built here from the sandbox's raw API records with code written for
the test: it reads the JSON fields itself and types the columns with the dtypes written out below
(docs/ARCHITECTURE.md's tables), and imports nothing of lib.outreach or lib.frames. A parsing
error in the client therefore shows as a difference instead of being made on both sides.
(tests/test_expected_calls.py checks that this module keeps to that.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

# The documented columns, in order, with their dtypes (docs/ARCHITECTURE.md).
CALL_DTYPES_1_0: dict[str, str] = {
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
CALL_DTYPES_2: dict[str, str] = {
    **CALL_DTYPES_1_0,
    "outcome": "object",
    "state": "object",
    "dialed_at": "datetime64[ns, UTC]",
    "answered_at": "datetime64[ns, UTC]",
    "completed_at": "datetime64[ns, UTC]",
}

_V1_RELATED = {"user_id": "user", "purpose_id": "purpose", "disposition_id": "disposition",
               "prospect_id": "prospect"}
_V2_RELATED = {"user_id": "user", "purpose_id": "callPurpose",
               "disposition_id": "callDisposition", "prospect_id": "prospect"}
_V2_TIMES = {"dialed_at": "dialedAt", "answered_at": "answeredAt", "completed_at": "completedAt"}


def expected_calls(sandbox, after: datetime | None = None, before: datetime | None = None,
                   users: Collection[int] | None = None, version: str = "1.0") -> pd.DataFrame:
    """The sandbox's calls with after <= created_at < before (None: unbounded) of those users
    (None: everyone), as the calls frame of that API version ("1.0" or "2"), from the sandbox's
    own records of that version."""
    return calls_from_records(sandbox.all_calls(version), version, after, before, users)


def calls_from_records(records: Iterable[Mapping[str, Any]], version: str = "1.0",
                       after: datetime | None = None, before: datetime | None = None,
                       users: Collection[int] | None = None) -> pd.DataFrame:
    """The calls frame of these raw records of that version, trimmed like expected_calls."""
    if version not in ("1.0", "2"):
        raise ValueError(f"version must be '1.0' or '2', not {version!r}")
    read = _row_2 if version == "2" else _row_1_0
    rows = [read(record) for record in records]
    rows = [row for row in rows
            if (after is None or row["created_at"] >= after)
            and (before is None or row["created_at"] < before)
            and (users is None or (row["user_id"] is not None and row["user_id"] in users))]
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), "the sandbox served a call id twice"
    dtypes = CALL_DTYPES_2 if version == "2" else CALL_DTYPES_1_0
    frame = pd.DataFrame({name: pd.Series([row[name] for row in rows], dtype=dtype)
                          for name, dtype in dtypes.items()})
    return frame.sort_values(["created_at", "id"], kind="stable").reset_index(drop=True)


# ----- reading raw records -----


def _instant(text: str | None) -> datetime | None:
    """An ISO-8601 instant with a zone (the API's "...Z") as aware UTC; None stays None."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"a timestamp without a zone: {text!r}"
    return moment.astimezone(UTC)


def _id(value: Any) -> int | None:
    """An id sent as a number or a string of digits; None (JSON null) stays None."""
    if value is None:
        return None
    assert not isinstance(value, bool), f"a boolean is not an id: {value!r}"
    return int(value)


def _text(value: str | None) -> str:
    return "" if value is None else value


def _related_id(record: Mapping[str, Any], name: str) -> int | None:
    data = ((record.get("relationships") or {}).get(name) or {}).get("data")
    return None if data is None else _id(data.get("id"))


def _row_1_0(record: Mapping[str, Any]) -> dict[str, Any]:
    attributes = record["attributes"]
    metadata = attributes.get("metadata") or {}
    connection = attributes["connection"]
    created = metadata.get("created", attributes.get("created"))
    note = metadata.get("note", attributes.get("note"))
    row = {
        "id": _id(record["id"]),
        "created_at": _instant(created),
        "outbound": connection["outbound"],
        "from_number": _text(connection.get("from")),
        "to_number": _text(connection.get("to")),
        "note": _text(note),
    }
    for column, name in _V1_RELATED.items():
        inline = attributes.get(name)
        if inline is not None and inline.get("id") is not None:
            row[column] = _id(inline["id"])
        else:
            row[column] = _related_id(record, name)
    assert isinstance(row["outbound"], bool)
    return row


def _row_2(record: Mapping[str, Any]) -> dict[str, Any]:
    attributes = record["attributes"]
    direction = attributes["direction"]
    assert direction in ("outbound", "inbound"), f"direction {direction!r}"
    row = {
        "id": _id(record["id"]),
        "created_at": _instant(attributes["createdAt"]),
        "outbound": direction == "outbound",
        "from_number": _text(attributes.get("from")),
        "to_number": _text(attributes.get("to")),
        "note": _text(attributes.get("note")),
        "outcome": attributes.get("outcome") or None,
        "state": attributes.get("state") or None,
    }
    for column, name in _V2_RELATED.items():
        row[column] = _related_id(record, name)
    for column, name in _V2_TIMES.items():
        row[column] = _instant(attributes.get(name))
    return row
