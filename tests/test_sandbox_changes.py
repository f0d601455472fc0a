"""The sandbox as a peer for an incremental sync, over real loopback HTTP: calls that get their
disposition later and calls that are deleted (its own simulation, on its clock), edits and
deletions through the admin routes, and v2's filter[updatedAt] and sort with cursor paging.

Every sandbox runs on a pinned clock (NOW); tests move it with `clock.advance` and put it back
with `clock.reset`, never sleep. Expected values are worked out here from the raw generated rows
(lib.sandbox.data.generate, which knows nothing of the simulation) and from what the API
answers, never with the sandbox's own schedule.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from lib.sandbox import start_sandbox
from lib.sandbox.data import generate

END = "2026-03-18T16:00:00"  # a Wednesday afternoon, as in tests/test_sandbox.py
NOW = datetime.fromisoformat(END).replace(tzinfo=UTC)
SMALL = {"seed": 11, "reps": 4, "days": 21, "end": END, "now": NOW, "mint_interval": 0}
DAY_S = 86_400
MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000
V2 = "/api/v2/calls"


@pytest.fixture
def fresh():
    boxes = []

    def make(**overrides):
        boxes.append(start_sandbox(port=0, **{**SMALL, **overrides}))
        return boxes[-1]

    yield make
    for box in boxes:
        box.stop()


# ----- helpers: plain HTTP and plain arithmetic -----

def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _get(box, path: str, **params: object) -> requests.Response:
    return requests.get(f"{box.base_url}{path}", params=params, timeout=10,
                        headers={"Authorization": f"Bearer {box.full_token}"})


def _v2_pages(box, **params: object) -> list[list[dict]]:
    """Every page of a v2 call list, following links.next."""
    headers = {"Authorization": f"Bearer {box.full_token}"}
    response = _get(box, V2, **params)
    pages = []
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["data"])
        following = body["links"].get("next")
        if not following:
            return pages
        response = requests.get(following, headers=headers, timeout=10)


def _v2_all(box, **params: object) -> list[dict]:
    return [record for page in _v2_pages(box, **{"page[size]": 1000, **params})
            for record in page]


def _v1_all(box, **params: object) -> tuple[list[dict], int]:
    """Every call of a 1.0 list, and the total its first page announced."""
    out, number, total = [], 1, None
    while True:
        body = _get(box, "/1.0/calls", **params, **{"page[number]": number}).json()
        total = body["meta"]["results"]["total"] if total is None else total
        out.extend(body["data"])
        if "next" not in body["links"]:
            return out, total
        number += 1


def _disposition_v2(record: dict) -> int | None:
    data = record["relationships"]["callDisposition"]["data"]
    return None if data is None else int(data["id"])


def _outcomes(box) -> dict[int, str]:
    return {int(d["id"]): d["attributes"]["outcome"]
            for d in _get(box, "/api/v2/callDispositions").json()["data"]}


def _raw(**overrides) -> dict:
    """The generated rows (no simulation) of the sandbox with these options, by id."""
    options = {**SMALL, **overrides}
    end = datetime.fromisoformat(options["end"]).replace(tzinfo=UTC)
    return {row.id: row for row in generate(options["seed"], options["reps"],
                                            options["days"], end).calls}


def _move_to(box, ms: int) -> None:
    """The sandbox's clock at about `ms` (the clock runs on from there)."""
    box.clock.reset()
    box.clock.advance(max(0.0, ms / 1000 - box.clock.time()))


def _patch(box, call_id: object, body: object) -> requests.Response:
    return requests.patch(f"{box.base_url}/_sandbox/calls/{call_id}", json=body, timeout=10)


def _delete(box, call_id: object) -> requests.Response:
    return requests.delete(f"{box.base_url}/_sandbox/calls/{call_id}", timeout=10)


# ----- the simulation -----

def test_a_later_disposition_appears_at_its_moment_with_updated_bumped(fresh):
    box = fresh()
    raw = _raw()
    outcomes = _outcomes(box)
    at_start = {r["id"]: r for r in _v2_all(box)}
    v1_at_start = {c["id"]: c for c in _v1_all(box)[0]}
    # Logged with a disposition in the generated data, but none yet: it comes later.
    pending = [r for r in at_start.values()
               if raw[r["id"]].disposition_id is not None and _disposition_v2(r) is None]
    assert len(pending) >= 3
    for record in pending:
        attributes = record["attributes"]
        assert attributes["updatedAt"] == attributes["createdAt"]
        assert attributes["outcome"] is None and attributes["answeredAt"] is None
        v1 = v1_at_start[record["id"]]["attributes"]
        assert v1["disposition"] == {"id": None}
        assert v1["metadata"]["updated"] == v1["metadata"]["created"]

    # Three days on, each has its generated disposition, set 5 minutes to 3 days after it was
    # logged, and `updated` is that moment.
    box.clock.advance(3 * DAY_S + 60)
    later = {r["id"]: r for r in _v2_all(box)}
    moments = {}
    for record in pending:
        now_record = later.get(record["id"])
        if now_record is None:  # deleted meanwhile
            continue
        row = raw[record["id"]]
        assert _disposition_v2(now_record) == row.disposition_id
        moment = _ms(now_record["attributes"]["updatedAt"])
        assert 5 * MINUTE_MS <= moment - row.created_ms < 3 * DAY_MS
        assert moment > NOW.timestamp() * 1000
        moments[record["id"]] = moment
    assert moments

    # Right before its moment it has none; from its moment on it has it, in both versions.
    call_id, moment = min(moments.items(), key=lambda item: item[1])
    row = raw[call_id]
    _move_to(box, moment - 1500)
    before_v1 = _get(box, f"/1.0/calls/{call_id}").json()["data"]["attributes"]
    before_v2 = _get(box, f"{V2}/{call_id}").json()["data"]
    assert before_v1["disposition"] == {"id": None}
    assert before_v1["metadata"]["updated"] == _iso(row.created_ms)
    assert _disposition_v2(before_v2) is None
    assert before_v2["attributes"]["updatedAt"] == _iso(row.created_ms)
    box.clock.advance(2)
    after_v1 = _get(box, f"/1.0/calls/{call_id}").json()["data"]["attributes"]
    after_v2 = _get(box, f"{V2}/{call_id}").json()["data"]
    assert after_v1["disposition"] == {"id": row.disposition_id}
    assert after_v1["metadata"]["updated"] == _iso(moment)
    assert _disposition_v2(after_v2) == row.disposition_id
    assert after_v2["attributes"]["updatedAt"] == _iso(moment)
    assert after_v2["attributes"]["outcome"] == outcomes[row.disposition_id]
    assert (after_v2["attributes"]["answeredAt"] is not None) == (
        outcomes[row.disposition_id] == "Answered")
    # Lists say the same as GETs.
    listed = _v1_all(box, **{"filter[user/id]": row.user_id})[0]
    assert next(c for c in listed if c["id"] == call_id)["attributes"] == after_v1


def test_the_simulation_picks_its_shares_and_delays_and_zero_turns_it_off(fresh):
    raw = _raw()
    box = fresh()
    box.clock.advance(3 * DAY_S + 60)  # every simulated change of the history has happened
    served = {r["id"]: r for r in _v2_all(box)}
    disposed = [row for row in raw.values() if row.disposition_id is not None]
    # A call whose `updated` is not the generated one got its disposition later.
    delays = sorted(_ms(served[row.id]["attributes"]["updatedAt"]) - row.created_ms
                    for row in disposed if row.id in served
                    and _ms(served[row.id]["attributes"]["updatedAt"]) != row.updated_ms)
    assert 0.14 <= len(delays) / len(disposed) <= 0.26  # later_dispositions=0.2
    assert delays[0] >= 5 * MINUTE_MS and delays[-1] < 3 * DAY_MS
    assert delays[len(delays) // 2] < 2 * HOUR_MS  # mostly soon
    assert delays[int(len(delays) * 0.9)] > 6 * HOUR_MS  # some days later
    deleted = set(raw) - set(served)
    assert 1 <= len(deleted) <= 0.015 * len(raw)  # deletions=0.005
    assert all(_disposition_v2(served[row.id]) == row.disposition_id for row in disposed
               if row.id in served)

    off = fresh(later_dispositions=0, deletions=0)
    off.clock.advance(3 * DAY_S + 60)
    records = off.all_calls()
    assert [c["id"] for c in records] == sorted(raw, key=lambda i: (raw[i].created_ms, i))
    assert all(c["attributes"]["metadata"]["updated"] == _iso(raw[c["id"]].updated_ms)
               and c["attributes"]["disposition"]["id"] == raw[c["id"]].disposition_id
               for c in records)
    with pytest.raises(ValueError):
        start_sandbox(**SMALL, deletions=1.5)


def test_a_simulated_deletion_goes_at_its_moment_from_lists_totals_and_gets(fresh):
    box = fresh(deletions=0.05)
    raw = _raw()
    present = {c["id"] for c in _v1_all(box)[0]}
    box.clock.advance(3 * DAY_S + 60)
    gone = present - {c["id"] for c in _v1_all(box)[0]}
    assert gone
    call_id = min(gone)
    row = raw[call_id]

    def there(offset_s: float) -> bool:
        box.clock.reset()
        box.clock.advance(offset_s)
        status = _get(box, f"/1.0/calls/{call_id}").status_code
        assert status in (200, 404)
        return status == 200

    # Where it goes, to the second: present up to `low`, gone from `high` on.
    low, high = 0.0, 3 * DAY_S + 60.0
    assert there(low) and not there(high)
    while high - low > 1:
        middle = (low + high) / 2
        low, high = (middle, high) if there(middle) else (low, middle)
    assert there(low)
    last_seen = box.clock.time() * 1000
    assert 1 * HOUR_MS - 2000 <= last_seen - row.created_ms < 3 * DAY_MS
    # Some seconds before, for the reads below to finish before it goes.
    assert there(low - 10)

    window = {"filter[user/id]": row.user_id,
              "filter[metadata/created/after]": _iso(row.created_ms)[:16]}
    v2_window = {"filter[user][id]": row.user_id,
                 "filter[createdAt]": f"{_iso(row.created_ms)}..{_iso(row.created_ms)}"}
    calls_before, total_before = _v1_all(box)
    listed_before, window_before = _v1_all(box, **window)
    assert call_id in {c["id"] for c in calls_before} and total_before == len(calls_before)
    assert call_id in {c["id"] for c in listed_before} and window_before == len(listed_before)
    assert [r["id"] for r in _v2_all(box, **v2_window)] == [call_id]
    assert _get(box, f"{V2}/{call_id}").status_code == 200

    box.clock.reset()
    box.clock.advance(high + 0.5)
    calls_after, total_after = _v1_all(box)
    after_ids = {c["id"] for c in calls_after}
    assert call_id not in after_ids and total_after == len(calls_after)
    # Totals count exactly the calls that went (this one, and any other that went meanwhile).
    assert total_before - total_after == len({c["id"] for c in calls_before} - after_ids)
    listed_after, window_after = _v1_all(box, **window)
    assert call_id not in {c["id"] for c in listed_after} and window_after == len(listed_after)
    assert window_before - window_after == len(
        {c["id"] for c in listed_before} - {c["id"] for c in listed_after}) >= 1
    assert _v2_all(box, **v2_window) == []
    # A GET answers as for an id that never was.
    unknown_v1, unknown_v2 = _get(box, "/1.0/calls/1"), _get(box, f"{V2}/1")
    for path, unknown in ((f"/1.0/calls/{call_id}", unknown_v1), (f"{V2}/{call_id}", unknown_v2)):
        response = _get(box, path)
        assert response.status_code == unknown.status_code == 404
        assert set(response.json()) == set(unknown.json()) == {"errors"}
        assert {k: v for k, v in response.json()["errors"][0].items() if k != "detail"} == \
            {k: v for k, v in unknown.json()["errors"][0].items() if k != "detail"}
    # And it stays gone.
    box.clock.advance(DAY_S)
    assert _get(box, f"/1.0/calls/{call_id}").status_code == 404


def test_the_same_seed_gives_the_same_change_moments(fresh):
    one, two = fresh(), fresh()
    for box in (one, two):
        box.clock.advance(3 * DAY_S + 60)
    first = [(r["id"], r["attributes"]["updatedAt"], _disposition_v2(r)) for r in _v2_all(one)]
    assert first == [(r["id"], r["attributes"]["updatedAt"], _disposition_v2(r))
                     for r in _v2_all(two)]
    # A call keeps its fate when the history window is longer (or starts later).
    longer = fresh(days=28)
    longer.clock.advance(3 * DAY_S + 60)
    by_id = {r["id"]: (r["attributes"]["updatedAt"], _disposition_v2(r))
             for r in _v2_all(longer)}
    assert all(by_id.get(call_id) == (updated, disposition)
               for call_id, updated, disposition in first)
    raw_ids = set(_raw(days=28)) - set(_raw())
    assert raw_ids and set(by_id) - {i for i, _, _ in first} <= raw_ids
    # Another seed, other moments.
    other = fresh(seed=12)
    other.clock.advance(3 * DAY_S + 60)
    assert [(r["id"], r["attributes"]["updatedAt"]) for r in _v2_all(other)] != \
        [(i, u) for i, u, _ in first]


# ----- edits and deletions by the admin routes -----

def test_admin_patch_sets_fields_and_bumps_updated_in_both_versions(fresh):
    box = fresh(later_dispositions=0, deletions=0)
    record = box.all_calls()[10]
    call_id = record["id"]
    before_ms = round(box.clock.time() * 1000)
    response = _patch(box, call_id, {"disposition_id": 9, "note": "Re-dialled: bad number"})
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"id", "updated"} and answer["id"] == call_id
    assert before_ms <= _ms(answer["updated"]) <= box.clock.time() * 1000 + 1
    v1 = _get(box, f"/1.0/calls/{call_id}").json()["data"]["attributes"]
    assert v1["disposition"] == {"id": 9} and v1["metadata"]["note"] == "Re-dialled: bad number"
    assert v1["metadata"]["updated"] == answer["updated"]
    assert v1["metadata"]["created"] == record["attributes"]["metadata"]["created"]
    v2 = _get(box, f"{V2}/{call_id}").json()["data"]
    assert _disposition_v2(v2) == 9 and v2["attributes"]["outcome"] == _outcomes(box)[9]
    assert v2["attributes"]["updatedAt"] == answer["updated"]
    assert v2["attributes"]["note"] == "Re-dialled: bad number"
    # The list serves the edited record, not a cached one.
    listed = _v1_all(box, **{"filter[user/id]": record["attributes"]["user"]["id"]})[0]
    assert next(c for c in listed if c["id"] == call_id)["attributes"] == v1

    # The same value again still bumps `updated`; either field alone; null clears.
    box.clock.advance(60)
    again = _patch(box, call_id, {"note": "Re-dialled: bad number"}).json()
    assert _ms(again["updated"]) >= _ms(answer["updated"]) + 60_000
    assert _patch(box, call_id, {"disposition_id": None}).status_code == 200
    v1 = _get(box, f"/1.0/calls/{call_id}").json()["data"]["attributes"]
    assert v1["disposition"] == {"id": None} and v1["metadata"]["note"] == "Re-dialled: bad number"

    # The Python API does the same.
    edited = box.edit_call(call_id, note=None)
    assert edited["id"] == call_id and _ms(edited["updated"]) >= _ms(again["updated"])
    assert _get(box, f"/1.0/calls/{call_id}").json()["data"]["attributes"]["metadata"][
        "note"] is None
    with pytest.raises(ValueError):
        box.edit_call(call_id, outcome="Answered")
    with pytest.raises(KeyError):
        box.edit_call(1, note="x")


@pytest.mark.parametrize("body", [
    {}, [], "x", None, {"disposition": 3}, {"note": "x", "user_id": 2},
    {"disposition_id": "3"}, {"disposition_id": True}, {"disposition_id": 1.5},
    {"disposition_id": 999}, {"note": 5}, {"note": ["a"]}, {"note": "x" * 10_001},
])
def test_admin_patch_refuses_other_bodies_with_400(fresh, body):
    box = fresh(later_dispositions=0, deletions=0)
    call_id = box.all_calls()[0]["id"]
    before = _get(box, f"/1.0/calls/{call_id}").json()
    response = _patch(box, call_id, body)
    assert response.status_code == 400 and "error" in response.json()
    assert _get(box, f"/1.0/calls/{call_id}").json() == before


def test_admin_delete_and_the_404s(fresh):
    box = fresh(later_dispositions=0, deletions=0)
    calls = box.all_calls()
    call_id, other = calls[3]["id"], calls[4]["id"]
    total = _v1_all(box)[1]
    deleted = _delete(box, call_id)
    assert deleted.status_code == 204 and deleted.content == b""
    assert _get(box, f"/1.0/calls/{call_id}").status_code == 404
    assert _get(box, f"{V2}/{call_id}").status_code == 404
    remaining, after_total = _v1_all(box)
    assert after_total == total - 1 and call_id not in {c["id"] for c in remaining}
    assert call_id not in {r["id"] for r in _v2_all(box)}
    assert call_id not in {c["id"] for c in box.all_calls()}
    assert _delete(box, call_id).status_code == 404
    assert _patch(box, call_id, {"note": "x"}).status_code == 404
    for unknown in (1, 999_999_999_999, "abc"):
        assert _patch(box, unknown, {"note": "x"}).status_code == 404
        assert _delete(box, unknown).status_code == 404
    assert box.delete_call(other) is True and box.delete_call(other) is False
    assert box.delete_call(1) is False
    assert _v1_all(box)[1] == total - 2
    # A call created through the API can be edited and deleted too.
    created = requests.post(f"{box.base_url}/1.0/calls", timeout=10, json={
        "data": {"attributes": {"connection": {"outbound": True}}}},
        headers={"Authorization": f"Bearer {box.full_token}"}).json()["data"]
    assert _patch(box, created["id"], {"disposition_id": 1}).status_code == 200
    assert _get(box, f"/1.0/calls/{created['id']}").json()["data"]["attributes"][
        "disposition"] == {"id": 1}
    assert _delete(box, created["id"]).status_code == 204
    assert _get(box, f"/1.0/calls/{created['id']}").status_code == 404


def _a_pending_call(box, raw) -> tuple[int, int]:
    """The call whose disposition comes last, and that moment (read three days on)."""
    pending = [r["id"] for r in _v2_all(box)
               if raw[r["id"]].disposition_id is not None and _disposition_v2(r) is None]
    box.clock.advance(3 * DAY_S + 60)
    later = {r["id"]: r for r in _v2_all(box)}
    box.clock.reset()
    moments = {i: _ms(later[i]["attributes"]["updatedAt"]) for i in pending if i in later}
    call_id = max(moments, key=moments.__getitem__)
    assert moments[call_id] > box.clock.time() * 1000 + HOUR_MS
    return call_id, moments[call_id]


def test_an_edit_after_the_later_disposition_wins_and_one_before_it_is_overtaken(fresh):
    raw = _raw()
    box = fresh(deletions=0)
    call_id, moment = _a_pending_call(box, raw)
    other = 9 if raw[call_id].disposition_id != 9 else 8

    # Edited before the moment: the edit shows, then the later disposition overtakes it.
    edited = box.edit_call(call_id, disposition_id=other)
    assert _ms(edited["updated"]) < moment
    record = _get(box, f"/1.0/calls/{call_id}").json()["data"]["attributes"]
    assert record["disposition"] == {"id": other}
    assert record["metadata"]["updated"] == edited["updated"]
    _move_to(box, moment + 1000)
    record = _get(box, f"/1.0/calls/{call_id}").json()["data"]["attributes"]
    assert record["disposition"] == {"id": raw[call_id].disposition_id}
    assert record["metadata"]["updated"] == _iso(moment)

    # Edited after it: the edit wins, and stays.
    box.clock.advance(30)
    edited = box.edit_call(call_id, disposition_id=other)
    assert _ms(edited["updated"]) > moment
    box.clock.advance(3 * DAY_S)
    v2 = _get(box, f"{V2}/{call_id}").json()["data"]
    assert _disposition_v2(v2) == other and v2["attributes"]["updatedAt"] == edited["updated"]


def test_edits_and_deletions_survive_a_restart_on_the_same_db(tmp_path):
    db = tmp_path / "sandbox.sqlite"
    first = start_sandbox(port=0, **SMALL, db_path=db)
    try:
        calls = first.all_calls()
        edited_id, deleted_id = calls[20]["id"], calls[21]["id"]
        edited = _patch(first, edited_id, {"disposition_id": 2, "note": "kept"}).json()
        assert _delete(first, deleted_id).status_code == 204
        created = requests.post(f"{first.base_url}/1.0/calls", timeout=10, json={
            "data": {"attributes": {"connection": {"outbound": False}}}},
            headers={"Authorization": f"Bearer {first.full_token}"}).json()["data"]
        created_edit = first.edit_call(created["id"], note="created, then edited")
        want = _get(first, f"/1.0/calls/{edited_id}").json()
    finally:
        first.stop()
    second = start_sandbox(port=0, **SMALL, db_path=db)
    try:
        assert _get(second, f"/1.0/calls/{edited_id}").json() == want
        assert want["data"]["attributes"]["metadata"]["updated"] == edited["updated"]
        assert want["data"]["attributes"]["disposition"] == {"id": 2}
        assert _get(second, f"/1.0/calls/{deleted_id}").status_code == 404
        assert deleted_id not in {c["id"] for c in second.all_calls()}
        again = _get(second, f"/1.0/calls/{created['id']}").json()["data"]["attributes"]
        assert again["metadata"]["note"] == "created, then edited"
        assert again["metadata"]["updated"] == created_edit["updated"]
    finally:
        second.stop()


def test_a_sandbox_file_from_before_the_changes_table_still_opens(tmp_path):
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:  # the schema of the created calls alone, as it was
        conn.execute(
            "CREATE TABLE created_calls (id INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL,"
            " user_id INTEGER NOT NULL, outbound INTEGER NOT NULL, from_number TEXT,"
            " to_number TEXT, purpose_id INTEGER, disposition_id INTEGER, prospect_id INTEGER,"
            " note TEXT, updated_ms INTEGER NOT NULL)")
        stamp = round(NOW.timestamp() * 1000) + 5000
        conn.execute("INSERT INTO created_calls VALUES (1000000001, ?, 1, 1, NULL, NULL, NULL,"
                     " 6, NULL, 'old file', ?)", (stamp, stamp))
    conn.close()
    box = start_sandbox(port=0, **SMALL, db_path=db)
    try:
        record = _get(box, "/1.0/calls/1000000001").json()["data"]["attributes"]
        assert record["metadata"]["note"] == "old file"
        assert box.edit_call(1000000001, note="new file")["id"] == 1000000001
    finally:
        box.stop()
    box = start_sandbox(port=0, **SMALL, db_path=db)
    try:
        record = _get(box, "/1.0/calls/1000000001").json()["data"]["attributes"]
        assert record["metadata"]["note"] == "new file"
    finally:
        box.stop()


# ----- v2: filter[updatedAt] and sort -----

def _key(record: dict, field: str) -> tuple[int, int]:
    attributes = record["attributes"]
    value = {"createdAt": lambda: _ms(attributes["createdAt"]),
             "updatedAt": lambda: _ms(attributes["updatedAt"]),
             "id": lambda: int(record["id"])}[field]()
    return value, int(record["id"])


def _stable_snapshot(box, read):
    """read() with the whole default list before and after it, repeated until no simulated
    change happened in between (the clock runs on at real speed)."""
    for _ in range(5):
        before = _v2_all(box)
        result = read(before)
        if _v2_all(box) == before:
            return before, result
    raise AssertionError("the calls kept changing")


@pytest.mark.parametrize("size", [1000, 7])
def test_updated_filter_and_sort_page_exactly_the_calls_in_range(fresh, size):
    box = fresh()
    box.clock.advance(DAY_S)  # later dispositions and deletions of the last day happen
    oldest = box.all_calls("2")[0]["id"]
    box.edit_call(oldest, note="touched today")  # updated now, created three weeks ago
    logged = requests.post(f"{box.base_url}/1.0/calls", timeout=10, json={
        "data": {"attributes": {"connection": {"outbound": True}}}},
        headers={"Authorization": f"Bearer {box.full_token}"}).json()["data"]["id"]
    now_ms = round(box.clock.time() * 1000)
    low, high = now_ms - 2 * DAY_MS, now_ms + 1000
    flt = f"{_iso(low)}..{_iso(high)}"
    sorts = ("updatedAt", "createdAt", "-id")

    def read(everything):
        return {sort: _v2_all(box, sort=sort, **{"filter[updatedAt]": flt,
                                                 "page[size]": size}) for sort in sorts}

    everything, got = _stable_snapshot(box, read)
    in_range = [r for r in everything if low <= _ms(r["attributes"]["updatedAt"]) <= high]
    want = sorted(in_range, key=lambda r: _key(r, "updatedAt"))
    assert [r["id"] for r in got["updatedAt"]] == [r["id"] for r in want]
    assert got["updatedAt"] == want
    assert {oldest, logged} <= {r["id"] for r in want}
    assert any(r["attributes"]["updatedAt"] != r["attributes"]["createdAt"] for r in want)
    # The same calls in the other orders (the edited old call included).
    for sort in sorts[1:]:
        field = sort.lstrip("-")
        ordered = sorted(in_range, key=lambda r, f=field: _key(r, f),
                         reverse=sort.startswith("-"))
        assert [r["id"] for r in got[sort]] == [r["id"] for r in ordered], sort
    # Page sizes as asked.
    pages = _v2_pages(box, sort="updatedAt", **{"filter[updatedAt]": flt, "page[size]": size})
    assert all(len(page) == size for page in pages[:-1]) and 0 < len(pages[-1]) <= size


@pytest.mark.parametrize("sort", ["updatedAt", "-updatedAt", "createdAt", "-createdAt",
                                  "id", "-id"])
def test_every_sort_with_combined_filters_pages_in_order(fresh, sort):
    box = fresh()
    box.clock.advance(DAY_S / 2)
    calls = box.all_calls("2")
    touched = calls[len(calls) // 3]
    stamp = box.edit_call(touched["id"], disposition_id=4)["updated"]
    users = sorted({int(r["relationships"]["user"]["data"]["id"]) for r in calls})[:2]
    now_ms = round(box.clock.time() * 1000)
    c_low, c_high = _ms(calls[0]["attributes"]["createdAt"]) + DAY_MS, now_ms - 2 * DAY_MS
    u_low = c_low + 3 * DAY_MS
    field, descending = sort.lstrip("-"), sort.startswith("-")
    params = {"sort": sort, "filter[user][id]": ",".join(map(str, users)),
              "filter[createdAt]": f"{_iso(c_low)}..{_iso(c_high)}",
              "filter[updatedAt]": f"{_iso(u_low)}..inf", "page[size]": 25}

    everything, got = _stable_snapshot(box, lambda _: _v2_all(box, **params))
    want = sorted((r for r in everything
                   if int(r["relationships"]["user"]["data"]["id"]) in users
                   and c_low <= _ms(r["attributes"]["createdAt"]) <= c_high
                   and _ms(r["attributes"]["updatedAt"]) >= u_low),
                  key=lambda r: _key(r, field), reverse=descending)
    assert len(want) > 50
    assert [r["id"] for r in got] == [r["id"] for r in want]
    edited = next(r for r in everything if r["id"] == touched["id"])
    assert edited["attributes"]["updatedAt"] == stamp and _disposition_v2(edited) == 4
    # Without filters, each sort holds every call once.
    whole = _v2_all(box, sort=sort)
    assert sorted(r["id"] for r in whole) == sorted(r["id"] for r in _v2_all(box))
    keys = [_key(r, field) for r in whole]
    assert keys == sorted(keys, reverse=descending)


def test_the_default_order_is_created_then_id_and_bad_sorts_are_400(fresh):
    box = fresh()
    records = _v2_all(box)
    keys = [_key(r, "createdAt") for r in records]
    assert keys == sorted(keys) and records == _v2_all(box, sort="createdAt")
    for bad in ("updated", "+updatedAt", "updatedAt,id", "", "-"):
        response = _get(box, V2, sort=bad)
        assert response.status_code == 400, bad
        error = response.json()["errors"][0]
        assert error["status"] == "400" and error["source"] == {"parameter": "sort"}
    for bad in ("2026-03-01", "yesterday..inf", "..", "2026-13-01..inf"):
        response = _get(box, V2, **{"filter[updatedAt]": bad})
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["source"] == {"parameter": "filter[updatedAt]"}
    # A cursor belongs to its sort.
    following = _get(box, V2, sort="updatedAt", **{"page[size]": 5}).json()["links"]["next"]
    cursor = parse_qs(urlsplit(following).query)["page[after]"][0]
    assert _get(box, V2, sort="updatedAt", **{"page[after]": cursor}).status_code == 200
    response = _get(box, V2, sort="-updatedAt", **{"page[after]": cursor})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "page[after]"}


def test_a_call_changed_while_paging_comes_again_and_none_is_skipped(fresh):
    box = fresh(later_dispositions=0, deletions=0)
    headers = {"Authorization": f"Bearer {box.full_token}"}
    body = _get(box, V2, sort="updatedAt", **{"filter[updatedAt]": "neginf..inf",
                                              "page[size]": 100}).json()
    seen = [r["id"] for r in body["data"]]
    changed = seen[10]
    box.clock.advance(5)
    box.edit_call(changed, note="changed while paging")
    while body["links"].get("next"):
        body = requests.get(body["links"]["next"], headers=headers, timeout=10).json()
        seen.extend(r["id"] for r in body["data"])
    assert seen.count(changed) == 2 and seen[-1] == changed
    assert set(seen) == {r["id"] for r in _v2_all(box)}
    assert len(seen) == len(set(seen)) + 1


# ----- 1.0 and the current view -----

@pytest.mark.parametrize("name", ["filter[metadata/updated/after]",
                                  "filter[metadata/updated/before]", "filter[updatedAt]",
                                  "filter[updated]"])
def test_1_0_refuses_an_updated_filter(fresh, name):
    box = fresh()
    response = _get(box, "/1.0/calls", **{name: "2026-03-01"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["parameter"] == name


def test_all_calls_is_what_the_api_holds_now(fresh):
    box = fresh()
    box.clock.advance(DAY_S)
    calls = box.all_calls()
    box.edit_call(calls[0]["id"], note="now")
    box.delete_call(calls[1]["id"])
    for version, read in (("1.0", lambda: _v1_all(box)[0]), ("2", lambda: _v2_all(box))):
        # Unless a simulated change happened between the reads (the clock runs on).
        for _ in range(3):
            held, served = box.all_calls(version), read()
            if box.all_calls(version) == held:
                break
        assert held == served
    assert calls[1]["id"] not in {c["id"] for c in box.all_calls()}
    assert box.all_calls()[0]["attributes"]["metadata"]["note"] == "now"
    assert box.stats()["calls"] == len(box.all_calls())
