"""tests/expected_calls.py, the suite's independent answer to "what should a read return": it
agrees with the client on reads of the sandbox (both API versions), it reads hand-written raw
records as documented, it differs from a frame that a parsing error would give, and it shares
no code with the client."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.api_versions import fresh_client
from tests.conftest import WEEKEND_DAY, WORKDAY
from tests.expected_calls import CALL_DTYPES_1_0, CALL_DTYPES_2, calls_from_records, expected_calls


def utc_day(day) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), UTC)
    return start, start + timedelta(days=1)


def read(sandbox, api, after, before, users=None) -> pd.DataFrame:
    with fresh_client(sandbox, api) as client:
        return client.list_calls(after, before, users)


# ----- the client agrees with it on the sandbox -----


def test_a_days_read_is_the_sandboxs_calls_of_that_day(sandbox, api):
    after, before = utc_day(WORKDAY)
    want = expected_calls(sandbox, after, before, version=api.version)
    # Something to compare, in every column: both directions, notes, calls with and without
    # a disposition (the pinned history has them all on a working day).
    assert len(want) > 50
    assert want["outbound"].any() and not want["outbound"].all()
    assert want["note"].ne("").any() and want["note"].eq("").any()
    assert want["user_id"].nunique() > 1 and want["prospect_id"].notna().any()
    assert want["created_at"].between(after, before, inclusive="left").all()
    if api.version == "2":
        assert want["answered_at"].isna().any() and want["answered_at"].notna().any()
        assert set(want["outcome"].dropna()) == {"Answered", "Not Answered"}
    pd.testing.assert_frame_equal(read(sandbox, api, after, before), want)


def test_a_read_of_some_reps_between_two_calls(sandbox, api):
    day = expected_calls(sandbox, *utc_day(WORKDAY), version=api.version)
    # Bounds on calls' own instants: [after, before) holds the call at `after`, not the one at
    # `before`.
    after, before = day["created_at"].iloc[5], day["created_at"].iloc[-5]
    # The reps of both edge calls, so each edge is decided by the bounds, not the reps.
    reps = sorted({int(day["user_id"].iloc[5]), int(day["user_id"].iloc[-5])})
    want = expected_calls(sandbox, after, before, reps, version=api.version)
    assert 0 < len(want) < len(day)
    assert set(want["user_id"]) == set(reps) < set(day["user_id"])
    assert want["id"].iloc[0] == day["id"].iloc[5]
    assert day["id"].iloc[-5] not in set(want["id"])
    pd.testing.assert_frame_equal(read(sandbox, api, after, before, reps), want)


def test_a_day_without_calls_is_an_empty_frame_of_that_versions_columns(sandbox, api):
    after, before = utc_day(WEEKEND_DAY)
    want = expected_calls(sandbox, after, before, version=api.version)
    assert want.empty
    assert dict(want.dtypes.astype(str)) == (CALL_DTYPES_2 if api.version == "2"
                                             else CALL_DTYPES_1_0)
    pd.testing.assert_frame_equal(read(sandbox, api, after, before), want)


def test_both_versions_records_hold_the_same_calls(sandbox):
    # Two record shapes, each read by hand: the 1.0 columns agree call for call.
    window = utc_day(WORKDAY)
    v1 = expected_calls(sandbox, *window, version="1.0")
    v2 = expected_calls(sandbox, *window, version="2")
    pd.testing.assert_frame_equal(v2[list(CALL_DTYPES_1_0)], v1)


# ----- it would catch a parsing error -----


def swap_numbers(frame):
    frame[["from_number", "to_number"]] = frame[["to_number", "from_number"]].to_numpy()


def created_as_local_time(frame):
    frame["created_at"] = frame["created_at"] + pd.Timedelta(hours=1)


def direction_inverted(frame):
    frame["outbound"] = ~frame["outbound"]


def notes_lost(frame):
    frame["note"] = ""


def relationship_ids_lost(frame):
    frame["prospect_id"] = pd.array([None] * len(frame), dtype="Int64")


def ids_read_as_text(frame):
    frame["id"] = frame["id"].astype(str).astype(object)


def answered_at_from_dialed_at(frame):
    if "answered_at" in frame:
        frame["answered_at"] = frame["dialed_at"]
    else:  # 1.0 has no such field: the nearest 1.0 mistake, the note read as empty
        notes_lost(frame)


@pytest.mark.parametrize("mistake", [swap_numbers, created_as_local_time, direction_inverted,
                                     notes_lost, relationship_ids_lost, ids_read_as_text,
                                     answered_at_from_dialed_at])
def test_a_frame_parsed_wrongly_does_not_match(sandbox, api, mistake):
    after, before = utc_day(WORKDAY)
    wrong = read(sandbox, api, after, before)
    mistake(wrong)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(
            wrong, expected_calls(sandbox, after, before, version=api.version))


def test_it_shares_no_code_with_the_client():
    # The point of the module: nothing of lib (records, clients, lib.frames) may build it.
    source = Path(__file__).with_name("expected_calls.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported == {"__future__", "collections.abc", "datetime", "typing", "pandas"}


# ----- it reads raw records as documented -----


def test_1_0_records_by_hand():
    records = [
        {"id": "12", "type": "call", "attributes": {  # string ids, created under attributes
            "created": "2026-11-02T18:03:00+01:00", "note": "top-level note",
            "connection": {"outbound": False, "from": "+4930111", "to": None},
            "user": {"id": "5"}, "disposition": {"id": None}}},
        {"id": 11, "type": "call", "attributes": {  # relationships instead of attributes ids
            "metadata": {"created": "2026-11-02T17:03:00.250Z", "note": None},
            "connection": {"outbound": True, "from": "+15550001111", "to": "+15552223333"}},
         "relationships": {"user": {"data": {"type": "user", "id": 6}},
                           "purpose": {"data": {"type": "callPurpose", "id": "3"}},
                           "disposition": {"data": None},
                           "prospect": {"data": {"type": "prospect", "id": 42}}}},
        {"id": 10, "type": "call", "attributes": {  # same instant as 12: sorted by id
            "metadata": {"created": "2026-11-02T17:03:00Z", "note": "n"},
            "created": "2026-11-01T09:00:00Z", "note": "not this one",  # metadata's come first
            "connection": {"outbound": True, "from": "+1", "to": "+2"},
            "purpose": {"id": 4}, "disposition": {"id": 7}, "prospect": {"id": 43},
            "user": {"id": 5}},
         # attributes' ids come first
         "relationships": {"user": {"data": {"type": "user", "id": 99}},
                           "prospect": {"data": {"type": "prospect", "id": 98}}}},
    ]
    frame = calls_from_records(records, "1.0")
    assert frame.to_dict("list") == {
        "id": [10, 12, 11],
        "created_at": [pd.Timestamp("2026-11-02T17:03:00Z")] * 2
        + [pd.Timestamp("2026-11-02T17:03:00.250Z")],
        "user_id": [5, 5, 6],
        "outbound": [True, False, True],
        "from_number": ["+1", "+4930111", "+15550001111"],
        "to_number": ["+2", "", "+15552223333"],
        "purpose_id": [4, None, 3],
        "disposition_id": [7, None, None],
        "prospect_id": [43, None, 42],
        "note": ["n", "top-level note", ""],
    }
    assert dict(frame.dtypes.astype(str)) == CALL_DTYPES_1_0
    assert list(frame.index) == [0, 1, 2]
    window = calls_from_records(records, "1.0", after=pd.Timestamp("2026-11-02T17:03:00.001Z"),
                                users={6})
    assert list(window["id"]) == [11]


def test_v2_records_by_hand():
    def related(kind, value):
        return {"data": None if value is None else {"type": kind, "id": value}}

    records = [
        {"type": "call", "id": 21, "attributes": {
            "direction": "inbound", "outcome": None, "state": "completed", "from": "+1",
            "to": "+2", "note": None, "dialedAt": "2026-11-02T17:02:00.000Z", "answeredAt": None,
            "completedAt": "2026-11-02T17:03:00.000Z", "createdAt": "2026-11-02T17:03:00.000Z"},
         "relationships": {"user": related("user", "7"), "prospect": related("prospect", None),
                           "callDisposition": related("callDisposition", None),
                           "callPurpose": related("callPurpose", 2)}},
        {"type": "call", "id": "20", "attributes": {
            "direction": "outbound", "outcome": "Answered", "state": "completed",
            "from": "+3", "to": "+4", "note": "booked", "dialedAt": "2026-11-02T16:00:00.000Z",
            "answeredAt": "2026-11-02T16:00:09.000Z", "completedAt": "2026-11-02T16:05:00.000Z",
            "createdAt": "2026-11-02T16:05:00.500Z"},
         "relationships": {"user": related("user", 8), "prospect": related("prospect", 44),
                           "callDisposition": related("callDisposition", 1),
                           "callPurpose": related("callPurpose", None)}},
    ]
    frame = calls_from_records(records, "2")
    nat = pd.NaT
    assert frame.to_dict("list") == {
        "id": [20, 21],
        "created_at": [pd.Timestamp("2026-11-02T16:05:00.500Z"),
                       pd.Timestamp("2026-11-02T17:03:00Z")],
        "user_id": [8, 7],
        "outbound": [True, False],
        "from_number": ["+3", "+1"],
        "to_number": ["+4", "+2"],
        "purpose_id": [None, 2],
        "disposition_id": [1, None],
        "prospect_id": [44, None],
        "note": ["booked", ""],
        "outcome": ["Answered", None],
        "state": ["completed", "completed"],
        "dialed_at": [pd.Timestamp("2026-11-02T16:00:00Z"), pd.Timestamp("2026-11-02T17:02:00Z")],
        "answered_at": [pd.Timestamp("2026-11-02T16:00:09Z"), nat],
        "completed_at": [pd.Timestamp("2026-11-02T16:05:00Z"),
                         pd.Timestamp("2026-11-02T17:03:00Z")],
    }
    assert dict(frame.dtypes.astype(str)) == CALL_DTYPES_2
    assert pd.isna(frame.loc[1, "answered_at"])
