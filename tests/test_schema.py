"""The calls frame's parsing, dtypes, order and de-duplication, and the lookup frames."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from lib.frames import CALL_COLUMNS, CALL_DTYPES, CALL_DTYPES_V2, empty_calls_frame, frame_from_rows
from lib.outreach.errors import UnexpectedResponse
from lib.outreach.records import (
    calls_frame,
    dispositions_frame,
    parse_call,
    purposes_frame,
    users_frame,
)


def record(call_id=9001, created="2026-11-02T17:03:00.000Z", **attributes):
    base = {
        "connection": {"from": "+15550001111", "to": "+15552223333", "outbound": True},
        "purpose": {"id": 3},
        "disposition": {"id": 7},
        "prospect": {"id": 42},
        "user": {"id": 5},
        "metadata": {"note": "left voicemail", "created": created},
    }
    base.update(attributes)
    return {"id": call_id, "type": "call", "attributes": base}


def expected_dtypes():
    return {
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


def expected_v2_dtypes():
    """A v2 read's columns: 1.0's, then v2's own facts (lib/schema.py's table)."""
    return {
        **expected_dtypes(),
        "outcome": "object",
        "state": "object",
        "dialed_at": "datetime64[ns, UTC]",
        "answered_at": "datetime64[ns, UTC]",
        "completed_at": "datetime64[ns, UTC]",
    }


def dtypes_of(frame):
    return {name: str(dtype) for name, dtype in frame.dtypes.items()}


def test_parse_documented_record():
    assert parse_call(record()) == {
        "id": 9001,
        "created_at": datetime(2026, 11, 2, 17, 3, tzinfo=UTC),
        "user_id": 5,
        "outbound": True,
        "from_number": "+15550001111",
        "to_number": "+15552223333",
        "purpose_id": 3,
        "disposition_id": 7,
        "prospect_id": 42,
        "note": "left voicemail",
    }


def test_string_ids_everywhere():
    row = parse_call({
        "id": "9001",
        "attributes": {
            "connection": {"outbound": False},
            "user": {"id": "5"}, "purpose": {"id": "3"}, "disposition": {"id": " 7 "},
            "prospect": {"id": "42"},
            "metadata": {"created": "2026-11-02T17:03:00Z"},
        },
    })
    assert (row["id"], row["user_id"], row["purpose_id"], row["disposition_id"],
            row["prospect_id"]) == (9001, 5, 3, 7, 42)
    assert row["outbound"] is False


def test_created_directly_under_attributes_and_note_there_too():
    row = parse_call({
        "id": 1,
        "attributes": {"created": "2026-11-02T18:03:00+01:00", "note": "n",
                       "connection": {"outbound": True}},
    })
    assert row["created_at"] == datetime(2026, 11, 2, 17, 3, tzinfo=UTC)
    assert row["note"] == "n"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-02T17:03:00Z",
        "2026-11-02T17:03:00.000Z",
        "2026-11-02T17:03:00.000000Z",
        "2026-11-02T17:03:00+00:00",
        "2026-11-02T12:03:00-05:00",
        "2026-11-02T19:03:00.000+02:00",
    ],
)
def test_timestamp_forms(text):
    row = parse_call(record(created=text))
    assert row["created_at"] == datetime(2026, 11, 2, 17, 3, tzinfo=UTC)
    assert row["created_at"].tzinfo == UTC


def test_relationships_form():
    row = parse_call({
        "id": 77,
        "type": "call",
        "attributes": {"connection": {"outbound": True},
                       "metadata": {"created": "2026-11-02T17:03:00Z"}},
        "relationships": {
            "user": {"data": {"type": "user", "id": "5"}},
            "purpose": {"data": {"type": "callPurpose", "id": 3}},
            "disposition": {"data": None},
            "prospect": {"data": {"type": "prospect", "id": 42}},
        },
    })
    assert (row["user_id"], row["purpose_id"], row["disposition_id"], row["prospect_id"]) == (
        5, 3, None, 42)


def test_null_and_missing_parts_become_empty():
    row = parse_call({
        "id": 3,
        "attributes": {
            "connection": {"outbound": True, "from": None},
            "purpose": None,
            "disposition": {"id": None},
            "user": None,
            "metadata": {"created": "2026-11-02T17:03:00Z", "note": None},
        },
        "relationships": None,
    })
    assert row["from_number"] == "" and row["to_number"] == "" and row["note"] == ""
    assert row["purpose_id"] is None and row["user_id"] is None and row["prospect_id"] is None


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"id": None, "attributes": record()["attributes"]}, "id"),
        ({"id": "abc", "attributes": record()["attributes"]}, "id"),
        ({"id": True, "attributes": record()["attributes"]}, "id"),
        ({"id": 1, "attributes": None}, "creation time"),
        ({"id": 1}, "creation time"),
        (record(created="2026-11-02T17:03:00"), "creation time"),  # no zone: not guessed
        (record(created="yesterday"), "creation time"),
        (record(connection={"from": "+1555"}), "outbound"),
        (record(connection={"outbound": "true"}), "outbound"),
        (record(connection=None), "outbound"),
        (record(user={"id": "five"}), "user id"),
        ("not an object", "object"),
    ],
)
def test_unusable_records_raise(bad, reason):
    with pytest.raises(UnexpectedResponse, match=reason):
        parse_call(bad)


def test_frame_dtypes_are_exact():
    frame = calls_frame([record(), record(call_id=9002, user=None, purpose=None)])
    assert list(frame.columns) == list(CALL_COLUMNS)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == expected_dtypes()
    assert expected_dtypes() == CALL_DTYPES
    assert frame.loc[1, "user_id"] is pd.NA
    assert isinstance(frame.loc[0, "note"], str)


def test_empty_frame_has_the_same_dtypes():
    for frame in (empty_calls_frame(), calls_frame([]), frame_from_rows([], CALL_DTYPES)):
        assert len(frame) == 0
        assert dtypes_of(frame) == expected_dtypes()


def test_empty_frame_has_the_columns_of_the_version_it_is_given():
    # Never guessed from the rows: no rows still means that version's columns, in order.
    v2 = frame_from_rows([], CALL_DTYPES_V2)
    assert len(v2) == 0
    assert list(v2.columns) == list(expected_v2_dtypes())
    assert dtypes_of(v2) == expected_v2_dtypes()
    assert dtypes_of(empty_calls_frame(CALL_DTYPES_V2)) == expected_v2_dtypes()
    v1 = frame_from_rows([], CALL_DTYPES)
    assert len(v1) == 0
    assert list(v1.columns) == list(CALL_COLUMNS) == list(expected_dtypes())
    assert dtypes_of(v1) == expected_dtypes()


def test_rows_do_not_change_the_columns_they_are_given():
    v2_fields = {"outcome": "Answered", "state": "completed",
                 "dialed_at": datetime(2026, 11, 2, 17, 3, tzinfo=UTC),
                 "answered_at": datetime(2026, 11, 2, 17, 3, 9, tzinfo=UTC),
                 "completed_at": datetime(2026, 11, 2, 17, 9, tzinfo=UTC)}
    with_v2 = {**parse_call(record()), **v2_fields}
    # Rows carrying v2's fields, given 1.0's columns: 1.0's columns only.
    assert dtypes_of(frame_from_rows([with_v2], CALL_DTYPES)) == expected_dtypes()
    # A row without v2's fields, given v2's columns: they are there, and unknown.
    frame = frame_from_rows([parse_call(record())], CALL_DTYPES_V2)
    assert dtypes_of(frame) == expected_v2_dtypes()
    assert frame.loc[0, "outcome"] is None and frame.loc[0, "state"] is None
    assert frame[["dialed_at", "answered_at", "completed_at"]].isna().all(axis=None)
    full = frame_from_rows([with_v2], CALL_DTYPES_V2)
    assert dtypes_of(full) == expected_v2_dtypes()
    assert full.loc[0, "outcome"] == "Answered"
    assert full.loc[0, "answered_at"] == pd.Timestamp("2026-11-02T17:03:09Z")


def test_sorted_by_created_then_id_and_deduplicated():
    records = [
        record(call_id=3, created="2026-11-02T10:00:00Z"),
        record(call_id=2, created="2026-11-02T10:00:00Z"),
        record(call_id=1, created="2026-11-02T11:00:00Z"),
        record(call_id=2, created="2026-11-02T10:00:00Z", metadata={
            "created": "2026-11-02T10:00:00Z", "note": "newer copy"}),
    ]
    frame = calls_frame(records)
    assert list(frame["id"]) == [2, 3, 1]
    assert frame.loc[0, "note"] == "newer copy"
    assert list(frame.index) == [0, 1, 2]


def test_lookup_frames():
    users = users_frame([
        {"id": 5, "attributes": {"metadata": {"first_name": "Clara", "last_name": "Adeyemi"},
                                 "contact": {"email": "clara@example.com"}}},
        {"id": "2", "attributes": {"contact": {"email": "x@example.com"}}},
        {"id": 9, "attributes": None},
    ])
    assert list(users["name"]) == ["Clara Adeyemi", "x@example.com", "User 9"]
    assert str(users["id"].dtype) == "int64" and users["email"].dtype == object

    dispositions = dispositions_frame([
        {"id": 1, "attributes": {"name": "Meeting booked", "order": 1, "outcome": "Answered"}},
        {"id": "6", "attributes": {"name": "No answer", "outcome": "Not Answered"}},
    ])
    assert list(dispositions.columns) == ["id", "name", "order", "outcome"]
    assert str(dispositions["order"].dtype) == "Int64" and dispositions.loc[1, "order"] is pd.NA

    purposes = purposes_frame([{"id": 1, "attributes": {"name": "Prospecting", "order": 1}},
                               {"id": 1, "attributes": {"name": "Prospecting", "order": 1}}])
    assert list(purposes["id"]) == [1] and str(purposes["id"].dtype) == "int64"

    with pytest.raises(UnexpectedResponse):
        users_frame([{"attributes": {}}])
