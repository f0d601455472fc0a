"""v2-only metrics: hand-computed talk time and answer rates; the sandbox's v2 records read raw."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
import pytest
import requests

from lib import frames
from lib.analytics import talk
from lib.analytics.tables import calls_table
from lib.frames import CALL_COLUMNS, V2_CALL_DTYPES, frame_from_rows
from lib.outreach import CallWindow, OutreachClient, StaticToken, V2Dialect
from lib.outreach.records import calls_frame
from lib.outreach.v2 import calls_frame_v2
from lib.sandbox.data import ANSWERED_IDS
from tests.conftest import NOW, no_sleep


def record(call_id, user, disposition, outcome, answered, completed, direction="outbound"):
    def rel(kind, value):
        return {"data": None if value is None else {"type": kind, "id": value}}

    # Created in the order of the ids, so the frame (sorted by creation) keeps this order.
    created = f"2026-11-02T09:{int(call_id):02d}:00.000Z"
    return {"type": "call", "id": call_id,
            "attributes": {"direction": direction, "outcome": outcome, "state": "completed",
                           "createdAt": created,
                           "dialedAt": "2026-11-02T10:00:00.000Z", "answeredAt": answered,
                           "completedAt": completed},
            "relationships": {"user": rel("user", user),
                              "callDisposition": rel("callDisposition", disposition)}}


RECORDS = [
    # rep 1: 60 s + 120 s; rep 2: 30 s; one unanswered, one with completion before answer (bad)
    record(1, 1, 7, "Answered", "2026-11-02T10:00:10Z", "2026-11-02T10:01:10Z"),
    record(2, 1, 8, "Answered", "2026-11-02T11:00:00.000Z", "2026-11-02T11:02:00.000Z"),
    record("3", "2", 7, "Answered", "2026-11-02T12:00:00+00:00", "2026-11-02T12:00:30+00:00"),
    record(4, 2, 9, "Not Answered", None, "2026-11-02T13:00:00Z"),
    record(5, 3, 7, "Answered", "2026-11-02T14:00:00Z", "2026-11-02T13:59:00Z"),
    record(6, 3, None, None, None, None, direction="inbound"),
]


def test_v2_calls_frame_reads_ids_as_numbers_or_text_and_times_as_utc():
    frame = calls_frame_v2(RECORDS)
    assert list(frame.columns) == [*CALL_COLUMNS, *V2_CALL_DTYPES]
    assert frame["outbound"].tolist() == [True] * 5 + [False]
    assert frame["outcome"].tolist() == ["Answered"] * 3 + ["Not Answered", "Answered", None]
    assert frame["id"].tolist() == [1, 2, 3, 4, 5, 6]
    assert frame["user_id"].tolist() == [1, 1, 2, 2, 3, 3]
    assert frame["disposition_id"].isna().tolist() == [False] * 5 + [True]
    assert str(frame["answered_at"].dt.tz) == "UTC"
    assert frame["answered_at"].isna().tolist() == [False, False, False, True, False, True]


def test_talk_time_per_rep_and_per_disposition():
    frame = calls_frame_v2(RECORDS)
    seconds = talk.talk_seconds(frame)
    assert seconds.iloc[:3].tolist() == [60.0, 120.0, 30.0]
    assert seconds.iloc[3:].isna().all()  # unanswered, negative, unknown
    per_rep = talk.talk_time_by(frame, "user_id")
    assert per_rep["user_id"].tolist() == [1, 2]
    assert per_rep["talked"].tolist() == [2, 1]
    assert per_rep["total_s"].tolist() == [180.0, 30.0]
    assert per_rep["mean_s"].tolist() == [90.0, 30.0]
    assert per_rep["median_s"].tolist() == [90.0, 30.0]
    per_disposition = talk.talk_time_by(frame, "disposition_id")
    assert per_disposition["disposition_id"].tolist() == [8, 7]
    assert per_disposition["total_s"].tolist() == [120.0, 90.0]
    assert per_disposition["talked"].tolist() == [1, 2]


def test_answer_rate_by_outcome_counts_only_known_outcomes():
    frame = calls_frame_v2(RECORDS)
    rates = talk.answer_rate_by_outcome(frame)
    assert rates["outcome"].tolist() == ["Answered", "Not Answered"]
    assert rates["calls"].tolist() == [4, 1]
    assert rates["share"].tolist() == [0.8, 0.2]
    assert talk.answer_rate(frame) == 0.8
    none_answered = calls_frame_v2([RECORDS[3]])
    assert talk.answer_rate_by_outcome(none_answered)["calls"].tolist() == [0, 1]


def test_on_1_0_data_the_cards_are_absent_not_zero(sandbox):
    # A 1.0 calls frame has none of the v2 columns; v2 records without outcomes have the cards
    # with nothing known in them (not zero), as has a v2 read without calls.
    assert not frames.has_v2_fields(calls_frame(sandbox.all_calls()[:50]))
    assert not frames.has_v2_fields(calls_frame([]))
    assert frames.has_v2_fields(calls_frame_v2([]))
    empty = calls_frame_v2([RECORDS[5]])
    assert frames.has_v2_fields(empty)
    assert talk.answer_rate(empty) is None
    assert talk.answer_rate_by_outcome(empty).empty
    assert talk.talk_time_by(empty, "user_id").empty
    assert frames.has_v2_fields(calls_frame_v2(RECORDS))


def test_metrics_from_the_sandbox_v2_records_over_loopback(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.full_token}"}
    # The pinned history's last ten days: two working weeks' worth of calls.
    low = (NOW - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = f"{sandbox.base_url}/api/v2/calls"
    params: dict | None = {"filter[createdAt]": f"{low}..inf", "page[size]": "1000",
                           "count": "false"}
    records: list[dict] = []
    while url:
        answer = requests.get(url, params=params, headers=headers, timeout=10)
        assert answer.status_code == 200
        body = answer.json()
        records += body["data"]
        url, params = body["links"].get("next"), None
    assert records
    frame = calls_frame_v2(records)
    assert frames.has_v2_fields(frame)
    answered = frame["disposition_id"].isin(list(ANSWERED_IDS)).fillna(False)
    assert answered.any() and not answered.all()
    # The sandbox answers exactly the calls whose disposition is an answered one, and those
    # (and only those) have a talk time.
    assert (frame.loc[answered, "outcome"] == "Answered").all()
    assert talk.talk_seconds(frame).notna().tolist() == answered.tolist()
    per_rep = talk.talk_time_by(frame, "user_id")
    assert per_rep["talked"].sum() == int(answered.sum())
    assert math.isclose(per_rep["total_s"].sum(), talk.talk_seconds(frame).sum())
    rates = talk.answer_rate_by_outcome(frame)
    assert rates["calls"].sum() == frame["outcome"].notna().sum()
    assert math.isclose(rates["share"].sum(), 1.0)


def test_the_v2_client_reads_each_calls_own_times_and_outcome(sandbox):
    client = OutreachClient(sandbox.base_url, StaticToken(sandbox.full_token), sleep=no_sleep,
                            clock=sandbox.clock.now, dialect=V2Dialect())
    # Of the pinned history: Tuesday to Saturday, and Saturday to NOW (Wednesday) for rep 3.
    windows = [CallWindow(NOW - timedelta(days=8), NOW - timedelta(days=4)),
               CallWindow(NOW - timedelta(days=4), NOW, user_id=3)]
    rows = client.calls_in_windows(windows)
    assert rows[0] and rows[1] and {row["user_id"] for row in rows[1]} == {3}
    records = {record["id"]: record["attributes"] for record in sandbox.all_calls("2")}

    def moment(text):
        return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))

    for row in rows[0] + rows[1]:
        sent = records[row["id"]]
        assert (row["outcome"], row["state"]) == (sent["outcome"], sent["state"])
        assert row["dialed_at"] == moment(sent["dialedAt"])
        assert row["answered_at"] == moment(sent["answeredAt"])
        assert row["completed_at"] == moment(sent["completedAt"])
        assert (row["answered_at"] is not None) == (row["disposition_id"] in ANSWERED_IDS)
    assert frames.has_v2_fields(frame_from_rows(rows[0], client.call_dtypes))


def test_the_calls_table_shows_outcome_and_talk_seconds_on_v2_only(sandbox):
    lookups = (pd.DataFrame({"id": [1], "first_name": ["A"], "last_name": ["B"], "name": ["A B"],
                             "email": [""]}), pd.DataFrame(columns=["id", "name", "order",
                                                                    "outcome"]),
               pd.DataFrame(columns=["id", "name", "order"]))
    table = calls_table(calls_frame_v2(RECORDS), *lookups, "UTC")
    by_id = table.set_index("id")
    assert list(table.columns)[-3:] == ["outcome", "talk_s", "id"]
    assert by_id["talk_s"].to_dict() == pytest.approx(
        {1: 60.0, 2: 120.0, 3: 30.0, 4: math.nan, 5: math.nan, 6: math.nan}, nan_ok=True)
    assert by_id.loc[4, "outcome"] == "Not Answered" and by_id.loc[6, "outcome"] == ""
    one_oh = calls_table(calls_frame(sandbox.all_calls()[:20]), *lookups, "UTC")
    assert "outcome" not in one_oh and "talk_s" not in one_oh


def test_talk_time_tables_name_reps_and_dispositions_in_minutes():
    from lib.analytics.overview import talk_time_table

    frame = calls_frame_v2(RECORDS)
    per_rep = talk_time_table(talk.talk_time_by(frame, "user_id"), "user_id",
                              {1: "Ann Lee"}, "Rep")
    assert per_rep.to_dict("list") == {
        "Rep": ["Ann Lee", "Rep 2"],  # a rep not in the list keeps its id
        "Calls talked": [2, 1], "Total min": [3.0, 0.5], "Mean min": [1.5, 0.5],
        "Median min": [1.5, 0.5]}
    dispositions = pd.DataFrame({"id": [7, 8], "name": ["Interested", "Meeting booked"]})
    per_disposition = talk_time_table(talk.talk_time_by(frame, "disposition_id"),
                                      "disposition_id", dispositions, "Disposition")
    assert per_disposition["Disposition"].tolist() == ["Meeting booked", "Interested"]
    assert per_disposition["Total min"].tolist() == [2.0, 1.5]
