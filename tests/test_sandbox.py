"""The Outreach sandbox over real loopback HTTP: envelopes, filters, auth, limits, faults, data.

Every sandbox here runs on a pinned clock (NOW): its history, created calls, token lifetimes and
rate windows are the same at every run, and tests move the clock instead of sleeping. How fast it
serves and generates is measured by benchmarks/sandbox_speed.py, not asserted here.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import requests

import lib.sandbox.server as sandbox_server
from lib.sandbox import start_sandbox
from lib.sandbox.data import ANSWERED_IDS, CREATED_ID_FLOOR, generate

ROOT = Path(__file__).resolve().parents[1]
END = "2026-03-18T16:00:00"  # a Wednesday
NOW = datetime.fromisoformat(END).replace(tzinfo=UTC)  # the sandboxes' clock starts here
SMALL = {"seed": 11, "reps": 4, "days": 21, "end": END, "now": NOW, "mint_interval": 0}
# Another pinned instant, for the tests that "now" decides the history: a Wednesday at 17:00
# UTC, with calls earlier that day in both histories started from it below.
ELSEWHEN = datetime(2027, 7, 7, 17, 0, tzinfo=UTC)

AFTER = "filter[metadata/created/after]"
BEFORE = "filter[metadata/created/before]"


def _created(record: dict) -> datetime:
    text = record["attributes"]["metadata"]["created"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _get(sandbox, path: str, token: str | None = "full", **params: object) -> requests.Response:
    headers = {}
    if token is not None:
        value = {"full": sandbox.full_token, "read": sandbox.read_token}.get(token, token)
        headers["Authorization"] = f"Bearer {value}"
    return requests.get(f"{sandbox.base_url}{path}", params=params, headers=headers, timeout=10)


def _post_call(sandbox, body: object, token: str | None = None,
               content_type: str = "application/json") -> requests.Response:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return requests.post(
        f"{sandbox.base_url}/1.0/calls",
        data=data,
        headers={"Authorization": f"Bearer {token or sandbox.full_token}",
                 "Content-Type": content_type},
        timeout=10,
    )


def _new_call(**attributes: object) -> dict:
    base: dict = {"connection": {"from": "+15550001111", "to": "+44 20 7946 0123",
                                 "outbound": True}}
    base.update(attributes)
    return {"data": {"type": "call", "attributes": base}}


def _pointer(response: requests.Response) -> list[str]:
    return [e["source"]["pointer"] for e in response.json()["errors"]]


@pytest.fixture(scope="module")
def sandbox():
    """Shared and read-mostly; tests that change settings start their own."""
    box = start_sandbox(**SMALL)
    yield box
    box.stop()


@pytest.fixture
def fresh():
    boxes = []

    def make(**overrides):
        box = start_sandbox(**{**SMALL, **overrides})
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        box.stop()


# ----- envelopes and paging -----

def test_list_envelope_pages_through_everything_in_order(sandbox):
    expected = [c for c in sandbox.all_calls() if c["id"] < CREATED_ID_FLOOR]
    first = _get(sandbox, "/1.0/calls", **{"page[size]": 50})
    assert first.status_code == 200
    body = first.json()
    total = body["meta"]["results"]["total"]
    assert total == len(expected) > 100
    assert body["meta"]["page"] == {"current": 1, "entries": 50,
                                    "maximum": math.ceil(total / 50)}
    assert "prev" not in body["links"]
    assert body["links"]["next"].startswith(sandbox.base_url + "/1.0/calls?")

    seen, url, pages = [], f"{sandbox.base_url}/1.0/calls", 0
    headers = {"Authorization": f"Bearer {sandbox.full_token}"}
    while url:
        page = requests.get(url, headers=headers, timeout=10).json()
        pages += 1
        seen.extend(page["data"])
        url = page["links"].get("next")
        if pages > 1:
            assert "prev" in page["links"]
    assert pages == math.ceil(total / 50)
    assert "next" not in page["links"]
    assert page["meta"]["page"]["current"] == page["meta"]["page"]["maximum"]
    assert len(page["data"]) == total - 50 * (pages - 1)
    assert seen == expected[: len(seen)] and len(seen) == total


def test_records_have_the_reference_shape(sandbox):
    record = _get(sandbox, "/1.0/calls", **{"page[size]": 1}).json()["data"][0]
    assert isinstance(record["id"], int) and record["type"] == "call"
    attributes = record["attributes"]
    assert set(attributes) == {"connection", "purpose", "disposition", "prospect", "user",
                               "metadata"}
    assert set(attributes["connection"]) == {"from", "to", "outbound"}
    assert isinstance(attributes["connection"]["outbound"], bool)
    assert set(attributes["metadata"]) == {"note", "created", "updated"}
    created = attributes["metadata"]["created"]
    assert len(created) == 24 and created.endswith("Z") and created[19] == "."
    for key in ("purpose", "disposition", "prospect", "user"):
        assert set(attributes[key]) == {"id"}


def test_order_is_created_then_id(sandbox):
    calls = sandbox.all_calls()
    keys = [(_created(c), c["id"]) for c in calls]
    assert keys == sorted(keys)
    assert len({c["id"] for c in calls}) == len(calls)


def test_page_size_is_clamped_and_bad_paging_is_400(sandbox):
    body = _get(sandbox, "/1.0/calls", **{"page[size]": 500}).json()
    assert len(body["data"]) == 50 and body["meta"]["page"]["entries"] == 50
    small = _get(sandbox, "/1.0/calls", **{"page[size]": 7, "page[number]": 3}).json()
    assert len(small["data"]) == 7
    assert small["data"] == sandbox.all_calls()[14:21]
    for name, value in [("page[number]", 0), ("page[number]", "abc"), ("page[number]", -1),
                        ("page[size]", 0), ("page[size]", "x")]:
        response = _get(sandbox, "/1.0/calls", **{name: value})
        assert response.status_code == 400, (name, value)
        assert response.json()["errors"][0]["source"]["parameter"] == name


def test_page_past_the_end_is_empty_and_points_back(sandbox):
    body = _get(sandbox, "/1.0/calls", **{"page[number]": 10_000}).json()
    assert body["data"] == []
    assert "next" not in body["links"]
    assert f"page[number]={body['meta']['page']['maximum']}" in body["links"]["prev"]


def test_empty_result_has_total_zero_and_one_page(sandbox):
    body = _get(sandbox, "/1.0/calls", **{AFTER: "2030-01-01"}).json()
    assert body["data"] == []
    assert body["meta"]["results"]["total"] == 0
    assert body["meta"]["page"]["maximum"] == 1
    assert body["links"] == {}


def test_links_preserve_filters(sandbox):
    params = {"filter[user/id]": 2, AFTER: "2026-03-01", "page[size]": 5}
    body = _get(sandbox, "/1.0/calls", **params).json()
    following = requests.get(body["links"]["next"], timeout=10,
                             headers={"Authorization": f"Bearer {sandbox.full_token}"}).json()
    assert following["meta"]["results"]["total"] == body["meta"]["results"]["total"]
    assert following["meta"]["page"]["current"] == 2
    assert all(c["attributes"]["user"]["id"] == 2 for c in following["data"])
    assert all(_created(c) >= datetime(2026, 3, 1, tzinfo=UTC) for c in following["data"])


# ----- filters -----

def _read_all(sandbox, **params: object) -> list[dict]:
    out, number = [], 1
    while True:
        body = _get(sandbox, "/1.0/calls", **params, **{"page[number]": number}).json()
        out.extend(body["data"])
        if "next" not in body["links"]:
            return out
        number += 1


def test_user_filter(sandbox):
    calls = _read_all(sandbox, **{"filter[user/id]": 3})
    expected = [c for c in sandbox.all_calls() if c["attributes"]["user"]["id"] == 3]
    assert calls == expected and calls
    assert _get(sandbox, "/1.0/calls", **{"filter[user/id]": 999}).json()["meta"]["results"][
        "total"] == 0
    response = _get(sandbox, "/1.0/calls", **{"filter[user/id]": "me"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["parameter"] == "filter[user/id]"


def test_created_bounds_after_inclusive_before_exclusive(sandbox):
    calls = sandbox.all_calls()
    # A minute that holds a call, so the inclusive/exclusive edge is actually exercised.
    pivot = _created(calls[len(calls) // 2]).replace(second=0, microsecond=0)
    text = pivot.strftime("%Y-%m-%dT%H:%M")
    at_or_after = [c for c in calls if _created(c) >= pivot]
    before = [c for c in calls if _created(c) < pivot]
    assert _read_all(sandbox, **{AFTER: text}) == at_or_after
    assert _read_all(sandbox, **{BEFORE: text}) == before
    day_start, day_end = "2026-03-10", "2026-03-11"
    window = _read_all(sandbox, **{AFTER: day_start, BEFORE: day_end})
    lo, hi = datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)
    assert window == [c for c in calls if lo <= _created(c) < hi] and window


def test_combined_filters(sandbox):
    params = {"filter[user/id]": 4, AFTER: "2026-03-05T12:30", BEFORE: "2026-03-12"}
    lo, hi = datetime(2026, 3, 5, 12, 30, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC)
    expected = [c for c in sandbox.all_calls()
                if c["attributes"]["user"]["id"] == 4 and lo <= _created(c) < hi]
    assert _read_all(sandbox, **params) == expected and expected


@pytest.mark.parametrize("value", ["2026-3-1", "2026-03-01T10:00:00", "2026-03-01T10:00Z",
                                   "yesterday", "", "2026-02-30", "2026-03-01 10:00"])
def test_malformed_dates_are_400_naming_the_parameter(sandbox, value):
    for name in (AFTER, BEFORE):
        response = _get(sandbox, "/1.0/calls", **{name: value})
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["source"]["parameter"] == name


def test_unknown_filter_is_400(sandbox):
    response = _get(sandbox, "/1.0/calls", **{"filter[created]": "2026-01-01"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["parameter"] == "filter[created]"


# ----- single records, lookups, info -----

def test_get_call_by_id(sandbox):
    record = sandbox.all_calls()[5]
    response = _get(sandbox, f"/1.0/calls/{record['id']}")
    assert response.status_code == 200 and response.json() == {"data": record}
    assert _get(sandbox, "/1.0/calls/1").status_code == 404
    assert _get(sandbox, "/1.0/calls/1").json()["errors"][0]["id"] == "notFound"
    assert _get(sandbox, "/1.0/calls/abc").status_code == 400


def test_dispositions_and_purposes(sandbox):
    dispositions = _get(sandbox, "/1.0/call_dispositions").json()
    assert dispositions["meta"]["results"]["total"] == len(dispositions["data"]) == 9
    outcomes = {d["attributes"]["name"]: d["attributes"]["outcome"] for d in dispositions["data"]}
    assert outcomes["Meeting booked"] == "Answered" and outcomes["No answer"] == "Not Answered"
    assert set(outcomes.values()) == {"Answered", "Not Answered"}
    orders = [d["attributes"]["order"] for d in dispositions["data"]]
    assert orders == sorted(orders)
    purposes = _get(sandbox, "/1.0/call_purposes", **{"page[size]": 2}).json()
    assert purposes["meta"]["results"]["total"] == 5 and len(purposes["data"]) == 2
    assert purposes["data"][0]["attributes"] == {"name": "Prospecting", "order": 1}
    assert "next" in purposes["links"]


def test_users_sorted_filtered_and_by_id(sandbox):
    users = _get(sandbox, "/1.0/users").json()["data"]
    assert len(users) == 5  # the owner plus four reps
    last_names = [u["attributes"]["metadata"]["last_name"] for u in users]
    assert last_names == sorted(last_names, key=str.lower)
    owner = next(u for u in users if u["id"] == sandbox.owner_user_id)
    assert "@" in owner["attributes"]["contact"]["email"]
    rep = users[0]["attributes"]["metadata"]
    found = _get(sandbox, "/1.0/users", **{"filter[metadata/first_name]": rep["first_name"],
                                           "filter[metadata/last_name]": rep["last_name"]})
    assert [u["id"] for u in found.json()["data"]] == [users[0]["id"]]
    assert _get(sandbox, f"/1.0/users/{users[0]['id']}").json() == {"data": users[0]}
    assert _get(sandbox, "/1.0/users/9999").status_code == 404


def test_info_shows_user_scopes_and_counters(fresh):
    box = fresh()
    _get(box, "/1.0/calls", token="read")
    info = _get(box, "/1.0/info", token="read").json()["meta"]
    assert info["user"]["id"] == box.owner_user_id and "@" in info["user"]["email"]
    assert set(info["api"]["permissions"]) == {"read_calls", "read_users",
                                               "read_call_dispositions", "read_call_purposes",
                                               "read_prospects"}
    assert info["api"]["requests"] == {"current": 2, "maximum": 10_000}


# ----- creating calls -----

def _ms(moment: datetime) -> datetime:
    """A clock reading cut to the millisecond, as the sandbox stamps created calls."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_create_then_get(fresh):
    box = fresh()
    seeded_max = max(c["id"] for c in box.all_calls())
    before = box.clock.now()
    response = _post_call(box, _new_call(
        purpose={"id": "2"}, disposition={"id": 1}, prospect={"id": "42"},
        metadata={"note": 'Booked <demo> & "pricing"'}))
    assert response.status_code == 200
    record = response.json()["data"]
    attributes = record["attributes"]
    assert record["id"] > seeded_max
    assert attributes["user"]["id"] == box.owner_user_id
    assert attributes["purpose"] == {"id": 2} and attributes["disposition"] == {"id": 1}
    assert attributes["prospect"] == {"id": 42}
    assert attributes["metadata"]["note"] == 'Booked <demo> & "pricing"'
    assert attributes["connection"]["outbound"] is True
    created = _created(record)
    # Stamped on the sandbox's clock (pinned at NOW), not the wall clock.
    assert NOW <= _ms(before) <= created <= box.clock.now()
    assert _get(box, f"/1.0/calls/{record['id']}").json() == {"data": record}
    assert box.all_calls()[-1] == record
    # The seeded history ends at NOW (16:00), so from that minute on there is only this call.
    latest = _get(box, "/1.0/calls", **{AFTER: created.strftime("%Y-%m-%dT%H:%M")}).json()
    assert latest["data"] == [record]

    minimal = _post_call(box, {"data": {"attributes": {"connection": {"outbound": False}}}})
    assert minimal.status_code == 200
    assert minimal.json()["data"]["id"] == record["id"] + 1
    assert minimal.json()["data"]["attributes"]["disposition"] == {"id": None}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/data"),
        ({"data": {}}, "/data/attributes"),
        ({"data": {"attributes": {}}}, "/data/attributes/connection/outbound"),
        ({"data": {"attributes": {"connection": {"to": "+15550001111"}}}},
         "/data/attributes/connection/outbound"),
        (_new_call(connection={"outbound": "true"}), "/data/attributes/connection/outbound"),
        (_new_call(connection={"outbound": 1}), "/data/attributes/connection/outbound"),
        (_new_call(connection={"outbound": True, "to": "call me"}),
         "/data/attributes/connection/to"),
        (_new_call(connection={"outbound": True, "from": "12345"}),
         "/data/attributes/connection/from"),
        (_new_call(connection={"outbound": True, "to": "+1234567890123456"}),
         "/data/attributes/connection/to"),
        (_new_call(disposition={"id": "999"}), "/data/attributes/disposition/id"),
        (_new_call(purpose={"id": 42}), "/data/attributes/purpose/id"),
        (_new_call(purpose={"id": "two"}), "/data/attributes/purpose/id"),
        (_new_call(prospect={"id": "abc"}), "/data/attributes/prospect/id"),
        (_new_call(metadata={"note": 5}), "/data/attributes/metadata/note"),
    ],
)
def test_create_validation_is_422_with_pointer(sandbox, body, pointer):
    before = len(sandbox.all_calls())
    response = _post_call(sandbox, body)
    assert response.status_code == 422
    assert pointer in _pointer(response)
    assert response.json()["errors"][0]["id"] == "validationError"
    assert len(sandbox.all_calls()) == before


def test_create_accepts_formatted_phone_numbers(fresh):
    box = fresh()
    body = _new_call(connection={"outbound": True, "from": "(212) 555-0100",
                                 "to": "+49 30.1234-5678"})
    assert _post_call(box, body).status_code == 200


def test_create_bad_json_is_400_and_wrong_type_is_415(sandbox):
    assert _post_call(sandbox, "{not json").status_code == 400
    assert _post_call(sandbox, "").status_code == 400
    response = _post_call(sandbox, json.dumps(_new_call()), content_type="text/plain")
    assert response.status_code == 415
    assert "errors" in response.json()


def test_created_calls_persist_across_restart(tmp_path):
    db = tmp_path / "sandbox.sqlite"
    first = start_sandbox(**SMALL, db_path=db)
    try:
        created = _post_call(first, _new_call(metadata={"note": "persist me"})).json()["data"]
    finally:
        first.stop()
    second = start_sandbox(**SMALL, db_path=db)
    try:
        assert _get(second, f"/1.0/calls/{created['id']}").json() == {"data": created}
        assert second.all_calls()[-1] == created
        again = _post_call(second, _new_call()).json()["data"]
        assert again["id"] == created["id"] + 1
    finally:
        second.stop()


# ----- auth and scopes -----

def test_missing_scope_is_403_naming_it(sandbox):
    response = _post_call(sandbox, _new_call(), token=sandbox.read_token)
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["id"] == "unauthorizedOauthScope"
    assert error["detail"] == "This token is missing the scope create_calls"
    calls_only = sandbox.issue_token(["read_calls"], 60)
    assert _get(sandbox, "/1.0/calls", token=calls_only).status_code == 200
    for path, scope in [("/1.0/users", "read_users"), ("/1.0/users/1", "read_users"),
                        ("/1.0/call_dispositions", "read_call_dispositions"),
                        ("/1.0/call_purposes", "read_call_purposes")]:
        response = _get(sandbox, path, token=calls_only)
        assert response.status_code == 403
        assert scope in response.json()["errors"][0]["detail"]
    assert _get(sandbox, "/1.0/info", token=calls_only).status_code == 200


def test_unknown_missing_revoked_and_expired_tokens_are_401(fresh):
    box = fresh()
    for token in (None, "nope", ""):
        response = _get(box, "/1.0/calls", token=token)
        assert response.status_code == 401
        assert response.json()["errors"][0]["id"] == "unauthorized"
    token = box.issue_token(["read_calls"], 3600)
    assert _get(box, "/1.0/calls", token=token).status_code == 200
    assert box.revoke(token) is True
    assert _get(box, "/1.0/calls", token=token).status_code == 401
    expired = box.issue_token(["read_calls"], 0)
    assert _get(box, "/1.0/calls", token=expired).status_code == 401
    # Lifetimes are measured on the sandbox's clock: moving it stands in for waiting.
    short = box.issue_token(["read_calls"], 60)
    assert _get(box, "/1.0/calls", token=short).status_code == 200
    box.clock.advance(50)
    assert _get(box, "/1.0/calls", token=short).status_code == 200
    box.clock.advance(10)
    assert _get(box, "/1.0/calls", token=short).status_code == 401


def test_admin_routes(fresh):
    box = fresh()
    admin = f"{box.base_url}/_sandbox"
    token = requests.post(f"{admin}/tokens", json={"scopes": ["read_calls"], "ttl": 60},
                          timeout=10).json()["access_token"]
    assert _get(box, "/1.0/calls", token=token).status_code == 200
    assert requests.post(f"{admin}/revoke", json={"token": token}, timeout=10).json() == {
        "revoked": True}
    assert _get(box, "/1.0/calls", token=token).status_code == 401
    config = requests.post(f"{admin}/configure", json={"latency_ms": 5, "fault_rate": 0.25},
                           timeout=10).json()
    assert config["latency_ms"] == 5 and config["fault_rate"] == 0.25
    assert requests.post(f"{admin}/configure", json={"fault_rate": 3},
                         timeout=10).status_code == 400
    stats = requests.get(f"{admin}/stats", timeout=10).json()
    assert stats["request_count"] == box.request_count == 2
    assert stats["calls"] == len(box.all_calls())
    requests.post(f"{admin}/reset", timeout=10)
    assert box.request_count == 0


def test_unknown_routes_and_methods(sandbox):
    assert _get(sandbox, "/1.0/nothing").status_code == 404
    assert _get(sandbox, "/1.0/nothing", token=None).status_code == 401
    assert _get(sandbox, "/2.0/calls").status_code == 404
    response = requests.delete(f"{sandbox.base_url}/1.0/calls/1", timeout=10,
                               headers={"Authorization": f"Bearer {sandbox.full_token}"})
    assert response.status_code == 405 and response.json()["errors"][0]["id"]


# ----- rate limits -----

def test_rate_limit_headers_and_429(fresh):
    box = fresh(rate_limit=3)
    remaining = []
    for _ in range(3):
        response = _get(box, "/1.0/calls", **{"page[size]": 1})
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        reset = int(response.headers["X-RateLimit-Reset"])
        # The window is an hour of the sandbox's clock (pinned at NOW), not of the wall clock.
        assert box.clock.time() < reset <= box.clock.time() + 3601
    assert remaining == [2, 1, 0]
    limited = _get(box, "/1.0/calls")
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["id"] == "rateLimitExceeded"
    assert 0 < int(limited.headers["Retry-After"]) <= 3600
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    # Per token: the read-only token still has its own window.
    assert _get(box, "/1.0/calls", token="read").status_code == 200
    # The window ends when the clock reaches the reset time, and a new one starts.
    box.clock.advance(max(0.0, reset - box.clock.time()) + 1)
    renewed = _get(box, "/1.0/calls", **{"page[size]": 1})
    assert renewed.status_code == 200 and renewed.headers["X-RateLimit-Remaining"] == "2"
    assert int(renewed.headers["X-RateLimit-Reset"]) >= reset + 3600
    for _ in range(2):
        assert _get(box, "/1.0/calls").status_code == 200
    assert _get(box, "/1.0/calls").status_code == 429
    box.configure(rate_limit=10)
    assert _get(box, "/1.0/calls").status_code == 200


# ----- OAuth -----

def _token(box, **form: str) -> requests.Response:
    data = {"client_id": box.client_id, "client_secret": box.client_secret,
            "redirect_uri": "http://localhost/cb", **form}
    return requests.post(f"{box.base_url}/oauth/token", data=data, timeout=10)


def test_refresh_rotates_but_keeps_the_old_refresh_token(fresh):
    box = fresh()
    response = _token(box, grant_type="refresh_token", refresh_token=box.refresh_token)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope",
                         "created_at"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 7200
    assert body["refresh_token"] != box.refresh_token
    assert "create_calls" in body["scope"].split()
    # On the sandbox's clock (pinned at NOW), not the wall clock.
    assert abs(body["created_at"] - box.clock.time()) < 5
    assert _get(box, "/1.0/calls", token=body["access_token"]).status_code == 200
    rotated = _token(box, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert rotated.status_code == 200
    old = _token(box, grant_type="refresh_token", refresh_token=box.refresh_token)
    assert old.status_code == 200
    assert _get(box, "/1.0/calls", token=old.json()["access_token"]).status_code == 200


def test_token_endpoint_errors(fresh):
    box = fresh(mint_interval=60, token_ttl=1)
    wrong = requests.post(f"{box.base_url}/oauth/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": box.refresh_token,
        "client_id": box.client_id, "client_secret": "wrong"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert _token(box, grant_type="refresh_token", refresh_token="unknown").status_code == 401
    assert _token(box, grant_type="password").status_code == 400

    first = _token(box, grant_type="refresh_token", refresh_token=box.refresh_token)
    assert first.status_code == 200 and first.json()["expires_in"] == 1
    again = _token(box, grant_type="refresh_token", refresh_token=first.json()["refresh_token"])
    assert again.status_code == 429
    assert again.headers["Content-Type"].startswith("text/plain")
    assert not any(h.lower().startswith("x-ratelimit") for h in again.headers)
    with pytest.raises(ValueError):
        again.json()
    access = first.json()["access_token"]
    assert _get(box, "/1.0/info", token=access).status_code == 200
    box.clock.advance(1)  # the token's second passes on the sandbox's clock
    assert _get(box, "/1.0/info", token=access).status_code == 401
    # The mint interval is measured on the same clock: once the minute has passed, the family
    # may mint again.
    box.clock.advance(60)
    later = _token(box, grant_type="refresh_token", refresh_token=first.json()["refresh_token"])
    assert later.status_code == 200 and later.json()["expires_in"] == 1


def test_authorization_code_is_single_use(fresh):
    box = fresh()
    authorize = requests.get(f"{box.base_url}/oauth/authorize", allow_redirects=False, timeout=10,
                             params={"client_id": box.client_id, "response_type": "code",
                                     "redirect_uri": "http://localhost:9/cb", "state": "xyz",
                                     "scope": "read_calls read_users"})
    # The consent page (tests/test_sandbox_oauth.py); its Allow sends the code back.
    assert authorize.status_code == 200
    consent = re.search(r'name="consent" value="([^"]+)"', authorize.text).group(1)
    authorize = requests.post(f"{box.base_url}/oauth/authorize", allow_redirects=False,
                              timeout=10, data={"consent": consent, "decision": "allow"})
    assert authorize.status_code == 302
    location = authorize.headers["Location"]
    assert location.startswith("http://localhost:9/cb?code=") and "state=xyz" in location
    code = location.split("code=")[1].split("&")[0]
    # The exchange names the authorize request's redirect_uri (test_sandbox_oauth.py).
    exchanged = _token(box, grant_type="authorization_code", code=code,
                       redirect_uri="http://localhost:9/cb")
    assert exchanged.status_code == 200
    assert exchanged.json()["scope"] == "read_calls read_users"
    token = exchanged.json()["access_token"]
    assert _get(box, "/1.0/calls", token=token).status_code == 200
    assert _get(box, "/1.0/users", token=token).status_code == 200
    assert _post_call(box, _new_call(), token=token).status_code == 403
    reused = _token(box, grant_type="authorization_code", code=code)
    assert reused.status_code == 401 and reused.json()["error"] == "invalid_grant"
    other = box.issue_code()
    assert _token(box, grant_type="authorization_code", code=other).status_code == 200


# ----- faults and latency -----

def _statuses(box, count: int) -> list[tuple[int, bool]]:
    out = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {box.full_token}"
        for _ in range(count):
            response = session.get(f"{box.base_url}/1.0/calls", timeout=10)
            try:
                response.json()
                is_json = True
            except ValueError:
                is_json = False
            out.append((response.status_code, is_json))
    return out


def test_fault_injection_rate_and_reproducibility(fresh):
    box = fresh(fault_rate=0.5, fault_seed=3)
    results = _statuses(box, 400)
    failed = sum(1 for status, is_json in results if status != 200 or not is_json)
    non_json = sum(1 for _, is_json in results if not is_json)
    assert 0.4 <= failed / 400 <= 0.6
    assert 0.1 <= non_json / 400 <= 0.3  # 502 HTML pages and truncated 200s
    kinds = {status for status, _ in results}
    assert {200, 500, 502, 503} <= kinds
    assert any(status == 200 and not is_json for status, is_json in results)
    assert box.request_count == 400
    same = fresh(fault_rate=0.5, fault_seed=3)
    assert _statuses(same, 400) == results
    box.configure(fault_rate=0)
    assert all(r == (200, True) for r in _statuses(box, 20))


class _LatencyMeeting:
    """Stands in for the `time` module of lib.sandbox.server: its latency sleeps are recorded,
    and each waits until `parties` requests are sleeping at once before it sleeps. Requests
    served one at a time would never all meet there (the wait gives up after `give_up` s)."""

    def __init__(self, parties: int, give_up: float = 5.0) -> None:
        self.barrier = threading.Barrier(parties)
        self.give_up = give_up
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
        with contextlib.suppress(threading.BrokenBarrierError):  # the test sees barrier.broken
            self.barrier.wait(self.give_up)
        time.sleep(seconds)


def test_requests_wait_out_their_latency_side_by_side(fresh, monkeypatch):
    box = fresh(latency_ms=200)
    meeting = _LatencyMeeting(8)
    monkeypatch.setattr(sandbox_server, "time", meeting)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: _get(box, "/1.0/calls").status_code, range(8)))
    assert codes == [200] * 8
    # Every request got the configured latency (how much concurrency saves is
    # benchmarks/sandbox_speed.py's figure, not a test's).
    assert meeting.slept == [0.2] * 8
    # All eight were in their latency sleep at the same time: none waited for another.
    assert not meeting.barrier.broken


# ----- seeded data -----

def test_same_seed_same_data_and_other_seed_differs():
    end = datetime(2026, 2, 11, 18, tzinfo=UTC)
    first, second = generate(5, 3, 14, end), generate(5, 3, 14, end)
    assert first.calls == second.calls and first.users == second.users
    assert generate(6, 3, 14, end).calls != first.calls


def test_same_seed_same_api_answers(fresh):
    one, two = fresh(), fresh()
    assert one.all_calls() == two.all_calls()
    assert one.full_token == two.full_token and one.client_secret == two.client_secret
    assert _get(one, "/1.0/users").json()["data"] == _get(two, "/1.0/users").json()["data"]


def test_ids_are_stable_when_the_history_window_moves():
    early = generate(5, 3, 20, datetime(2026, 2, 11, 18, tzinfo=UTC))
    later = generate(5, 3, 20, datetime(2026, 2, 16, 9, tzinfo=UTC))
    by_time = {(c.created_ms, c.user_id): c for c in early.calls}
    shared = [c for c in later.calls if (c.created_ms, c.user_id) in by_time]
    assert len(shared) > 100
    # Only `updated` may differ, where the earlier window's end cut a call's duration short.
    assert all(by_time[(c.created_ms, c.user_id)][:10] == c[:10] for c in shared)


def test_realistic_team_and_calls():
    end = datetime(2026, 5, 20, 15, 45, tzinfo=UTC)
    data = generate(7, 8, 60, end)
    reps = {u.id: u for u in data.users if u.id != 1}
    assert len(reps) == 8 and {u.timezone for u in reps.values()} >= {
        "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
        "Europe/London", "Europe/Berlin"}
    assert len({u.email for u in data.users}) == 9
    calls = data.calls
    assert calls and max(c.created_ms for c in calls) < end.timestamp() * 1000
    assert min(c.created_ms for c in calls) >= (end - timedelta(days=60)).timestamp() * 1000
    ids = [c.id for c in calls]
    assert ids == sorted(ids)

    outbound = [c for c in calls if c.outbound]
    assert 0.75 <= len(outbound) / len(calls) <= 0.95
    connect = sum(c.disposition_id in ANSWERED_IDS for c in outbound) / len(outbound)
    assert 0.15 <= connect <= 0.40
    inbound = [c for c in calls if not c.outbound]
    assert sum(c.disposition_id in ANSWERED_IDS for c in inbound) / len(inbound) > 0.6
    assert 0.02 <= sum(c.disposition_id is None for c in calls) / len(calls) <= 0.08
    assert all(c.from_number == reps[c.user_id].phone for c in outbound)
    assert all(c.to_number == reps[c.user_id].phone for c in inbound)
    assert 0.1 < sum(c.note is not None for c in calls) / len(calls) < 0.6
    assert any(c.note and any(ch in c.note for ch in "<>&\"'") for c in calls)

    per_day: Counter = Counter()
    for call in calls:
        zone = ZoneInfo(reps[call.user_id].timezone)
        local = datetime.fromtimestamp(call.created_ms / 1000, UTC).astimezone(zone)
        assert local.weekday() < 5
        minutes = local.hour * 60 + local.minute
        assert 8 * 60 + 30 <= minutes < 17 * 60 + 30
        per_day[(call.user_id, local.date())] += 1
    # Whole days only: the first and last local days are cut by the window.
    first_day, last_day = min(d for _, d in per_day), max(d for _, d in per_day)
    counts = [n for (_, day), n in per_day.items() if first_day < day < last_day]
    assert min(counts) >= 15 and max(counts) <= 70
    assert 30 <= sum(counts) / len(counts) <= 50


# ----- the sandbox's clock -----

def _history(calls: list[dict]) -> list[tuple[int, int]]:
    return [(c["id"], round(_created(c).timestamp() * 1000)) for c in calls]


def test_a_pinned_now_ends_the_history_and_stamps_created_calls(fresh):
    # No simulated deletions, so every generated call is served (tests/test_sandbox_changes.py).
    box = fresh(end=None, now=ELSEWHEN, deletions=0)
    assert box.clock.pinned
    assert box.clock.now() >= ELSEWHEN
    # The history is the one generated up to that instant, computed here on its own.
    want = generate(SMALL["seed"], SMALL["reps"], SMALL["days"], ELSEWHEN).calls
    assert len(want) > 0
    calls = box.all_calls()
    assert _history(calls) == [(c.id, c.created_ms) for c in want]
    created = [_created(c) for c in calls]
    assert ELSEWHEN - timedelta(days=SMALL["days"]) <= min(created)
    assert ELSEWHEN - timedelta(hours=12) < max(created) < ELSEWHEN  # up to that afternoon

    # A created call is stamped on the sandbox's clock, and moving the clock moves its stamp.
    before = box.clock.now()
    first = _post_call(box, _new_call()).json()["data"]
    assert ELSEWHEN <= _ms(before) <= _created(first) <= box.clock.now()
    box.clock.advance(3600)
    second = _post_call(box, _new_call()).json()["data"]
    assert _created(second) >= _created(first) + timedelta(hours=1)
    assert _read_all(box, **{AFTER: ELSEWHEN.strftime("%Y-%m-%dT%H:%M")}) == [first, second]
    # reset undoes the moves, not the calls.
    box.clock.reset()
    assert box.clock.now() < _created(second)
    assert box.all_calls()[-2:] == [first, second]


def test_without_now_the_sandbox_runs_on_the_real_clock(fresh):
    box = fresh(end=None, now=None, reps=1, days=3)
    assert not box.clock.pinned
    assert abs(box.clock.time() - time.time()) < 60
    assert all(_created(c) < box.clock.now() for c in box.all_calls())


# ----- command line -----

def _start_cli(tmp_path, *options: str) -> tuple[subprocess.Popen, str]:
    """`python -m lib.sandbox` with these options, and the one line it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lib.sandbox", "--port", "0", "--db",
         str(tmp_path / "cli.sqlite"), *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    return process, process.stdout.readline()


def test_cli_prints_one_line_and_serves(tmp_path):
    process, line = _start_cli(tmp_path, "--reps", "2", "--days", "5")
    try:
        assert line.startswith("Outreach sandbox on http://127.0.0.1:")
        words = line.split()
        url = words[3]
        full = words[words.index("token:", 5) + 1]
        read_only = line.split("read-only token: ")[1].split()[0]
        response = requests.get(f"{url}/1.0/info", headers={"Authorization": f"Bearer {full}"},
                                timeout=10)
        assert response.status_code == 200
        forbidden = requests.post(f"{url}/1.0/calls", json=_new_call(), timeout=10,
                                  headers={"Authorization": f"Bearer {read_only}"})
        assert forbidden.status_code == 403
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_now_serves_the_history_up_to_that_instant(tmp_path):
    process, line = _start_cli(tmp_path, "--reps", "2", "--days", "5", "--deletions", "0",
                               "--now", ELSEWHEN.strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        assert line.startswith("Outreach sandbox on http://127.0.0.1:"), process.stderr.read()
        words = line.split()
        served = SimpleNamespace(base_url=words[3],
                                 full_token=words[words.index("token:", 5) + 1],
                                 read_token=line.split("read-only token: ")[1].split()[0])
        # The command line's default seed is 7; its history is generated up to --now.
        want = generate(7, 2, 5, ELSEWHEN).calls
        assert len(want) > 0
        assert _history(_read_all(served)) == [(c.id, c.created_ms) for c in want]
        # Its clock starts there too: a call logged now is stamped after the history's end.
        created = _post_call(served, _new_call()).json()["data"]
        assert ELSEWHEN <= _created(created) < ELSEWHEN + timedelta(days=1)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("now", ["0001-01-02T00:00:00Z", "0001-01-01T00:00:00+14:00",
                                 "9999-12-31T23:59:00Z", "not a time"])
def test_a_pinned_now_out_of_range_is_refused_in_one_line(now, tmp_path):
    with pytest.raises(ValueError):
        start_sandbox(now=now, days=5, reps=2)
    result = subprocess.run(
        [sys.executable, "-m", "lib.sandbox", "--port", "0", "--now", now,
         "--db", str(tmp_path / "cli.sqlite")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("Outreach sandbox could not start:")
    assert "Traceback" not in result.stderr
