"""Reading Outreach records into the calls frame, checked against hand-written raw records:
each documented column from its documented source field, with its documented dtype, the
fallbacks, refusals of malformed records, order and de-duplication, the lookup frames; and the
column table in docs/ARCHITECTURE.md, read from the file, against what lib.frames produces."""

import re
from datetime import UTC, datetime
from pathlib import Path

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
from tests.expected_calls import CALL_DTYPES_1_0, CALL_DTYPES_2


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


# The documented dtypes, written out once for the tests (tests/expected_calls.py); the last test
# below checks that copy against docs/ARCHITECTURE.md.
DOCUMENTED_DTYPES = CALL_DTYPES_1_0
DOCUMENTED_V2_DTYPES = CALL_DTYPES_2


def expected_dtypes():
    return dict(DOCUMENTED_DTYPES)


def expected_v2_dtypes():
    """A v2 read's columns: 1.0's, then v2's own facts."""
    return dict(DOCUMENTED_V2_DTYPES)


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
        "updated_at": None,  # the record does not say
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
        (record(user={"id": 5.5}), "user id"),
        ({"id": 1, "attributes": record()["attributes"] | {"purpose": None},
          "relationships": {"purpose": {"data": {"id": "3a"}}}}, "purpose id"),
        (record(connection={"outbound": True, "from": {"number": "+1555"}}), "from number"),
        (record(connection={"outbound": True, "to": ["+1555"]}), "to number"),
        (record(metadata={"created": "2026-11-02T17:03:00Z", "note": {"text": "hi"}}), "note"),
        ("not an object", "object"),
    ],
)
def test_unusable_records_raise(bad, reason):
    with pytest.raises(UnexpectedResponse, match=reason):
        parse_call(bad)


def test_frame_dtypes_are_exact():
    frame = calls_frame([record(), record(call_id=9002, user=None, purpose=None)])
    assert list(frame.columns) == list(CALL_COLUMNS)
    assert dtypes_of(frame) == expected_dtypes()
    assert frame.loc[1, "user_id"] is pd.NA and frame.loc[1, "purpose_id"] is pd.NA
    assert frame.loc[0, "user_id"] == 5 and frame.loc[0, "created_at"] == pd.Timestamp(
        "2026-11-02T17:03:00Z")
    assert all(isinstance(frame.loc[i, c], str) for i in (0, 1)
               for c in ("from_number", "to_number", "note"))


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


# ----- fallbacks: which source wins when both are there -----


def test_metadata_created_and_note_come_before_the_attributes_ones():
    row = parse_call({"id": 1, "attributes": {
        "metadata": {"created": "2026-11-02T17:03:00Z", "note": "from metadata"},
        "created": "2026-10-01T09:00:00Z", "note": "from attributes",
        "connection": {"outbound": True}}})
    assert row["created_at"] == datetime(2026, 11, 2, 17, 3, tzinfo=UTC)
    assert row["note"] == "from metadata"


def test_a_null_metadata_created_falls_back_to_attributes_created():
    row = parse_call({"id": 1, "attributes": {
        "metadata": {"created": None, "note": None}, "created": "2026-10-01T09:00:00Z",
        "note": "from attributes", "connection": {"outbound": False}}})
    assert row["created_at"] == datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    assert row["note"] == "from attributes"


def test_attributes_ids_come_before_relationships_ids():
    related = {name: {"data": {"type": name, "id": 900 + n}}
               for n, name in enumerate(("user", "purpose", "disposition", "prospect"))}
    both = parse_call({**record(), "relationships": related})
    assert (both["user_id"], both["purpose_id"], both["disposition_id"],
            both["prospect_id"]) == (5, 3, 7, 42)
    # An attributes id that is null defers to the relationship.
    attributes = record()["attributes"] | {"user": {"id": None}, "prospect": None}
    fallback = parse_call({"id": 1, "attributes": attributes, "relationships": related})
    assert (fallback["user_id"], fallback["prospect_id"]) == (900, 903)
    assert fallback["purpose_id"] == 3


def test_numbers_sent_as_json_numbers_keep_their_digits():
    row = parse_call(record(connection={"outbound": True, "from": 15550001111, "to": "+1"}))
    assert row["from_number"] == "15550001111" and row["to_number"] == "+1"


# ----- the documented table (docs/ARCHITECTURE.md) -----

ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"


def documented_tables() -> dict[str, list[tuple[list[str], str, str]]]:
    """The calls frame's column tables of docs/ARCHITECTURE.md, by record version ("1.0",
    "v2"): (columns, dtype cell, source cell) per row, as written."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    sections = [part for part in re.split(r"^### ", text, flags=re.MULTILINE)[1:]
                if re.search(r"`lib/frames\.py`|schema", part.splitlines()[0])]
    assert len(sections) == 1, "docs/ARCHITECTURE.md has no one section on the calls frame"
    tables = {}
    table = re.compile(r"^\| column \| dtype \| source in a (\S+) record \|\n"
                       r"\|[-| ]+\|\n((?:\|.*\|\n)+)", re.MULTILINE)
    for version, body in table.findall(sections[0]):
        rows = []
        for line in body.splitlines():
            name, dtype, source = (cell.strip() for cell in line.strip().strip("|").split("|"))
            rows.append(([c.strip(" `") for c in name.split(",")], dtype, source))
        tables[version] = rows
    assert set(tables) == {"1.0", "v2"}, f"tables found: {sorted(tables)}"
    return tables


def documented_dtype(cell: str) -> str:
    """A dtype cell as pandas names it: 'string (object, "" if absent)' is object,
    'Int64 (nullable)' is Int64."""
    return "object" if "object" in cell else cell.split(" (")[0].strip()


def documented_columns(version: str) -> dict[str, str]:
    return {column: documented_dtype(dtype)
            for columns, dtype, _ in documented_tables()[version] for column in columns}


def test_the_documented_columns_are_the_frames_columns_in_order_and_dtype():
    v1 = documented_columns("1.0")
    v2 = {**v1, **documented_columns("v2")}
    # What lib.frames gives, with rows and without: calls parsed from 1.0 records, and a
    # frame of v2's columns.
    assert dtypes_of(calls_frame([record(), record(call_id=2, user=None)])) == v1
    assert list(calls_frame([record()]).columns) == list(v1)
    assert dtypes_of(empty_calls_frame()) == v1
    assert dtypes_of(frame_from_rows([parse_call(record())], CALL_DTYPES_V2)) == v2
    assert list(empty_calls_frame(CALL_DTYPES_V2).columns) == list(v2)
    # The test's own copy agrees with the docs too.
    assert v1 == DOCUMENTED_DTYPES and v2 == DOCUMENTED_V2_DTYPES


def minimal_record() -> dict:
    return {"id": 1, "attributes": {"metadata": {"created": "2026-11-02T17:03:00Z"},
                                    "connection": {"outbound": True}}}


def put(record: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        record = record.setdefault(key, {})
    record[leaf] = value


def drop(record: dict, path: str) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        record = record.get(key) or {}
    record.pop(leaf, None)


def sample(dtype: str, n: int = 0):
    """(value sent in a record, value expected in the row) for a column of that dtype; another
    n, another value."""
    if dtype.startswith("datetime64"):
        return f"2026-11-{3 + n:02d}T08:09:10Z", datetime(2026, 11, 3 + n, 8, 9, 10, tzinfo=UTC)
    if dtype.lower() == "int64":
        return 4242 + n, 4242 + n
    if dtype == "bool":
        return False, False  # the minimal record's is True
    return f"text {n}", f"text {n}"


def test_each_documented_column_is_read_from_its_documented_source():
    checked = 0
    for columns, dtype_cell, source in documented_tables()["1.0"]:
        (column,) = columns
        dtype = documented_dtype(dtype_cell)
        paths = re.findall(r"`([^`]+)`", source)
        assert paths, f"no source field documented for {column}"
        for n, path in enumerate(paths):
            raw = minimal_record()
            for other in paths:  # only this source present
                drop(raw, other)
            sent, wanted = sample(dtype, n)
            put(raw, path, sent)
            assert parse_call(raw)[column] == wanted, f"{column} from {path}"
            checked += 1
        if " else " in source:  # "a, else b": a wins when both are there
            raw = minimal_record()
            for n, path in enumerate(paths):
                put(raw, path, sample(dtype, n)[0])
            assert parse_call(raw)[column] == sample(dtype, 0)[1], f"{column}: {paths[0]} first"
        if '"" if absent' in dtype_cell:
            raw = minimal_record()
            for path in paths:
                drop(raw, path)
            assert parse_call(raw)[column] == "", f"{column} absent"
    assert checked >= 16  # every source of the ten columns' table was tried
