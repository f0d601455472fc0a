"""The client over real loopback HTTP: paging, filters, creating, every error path, retries.

Every test that talks to an API runs twice, against the sandbox's 1.0 and its v2 (the `api`
fixture): both clients must give the same answers and the same typed errors.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from lib.analytics.timerange import utc_bounds
from lib.frames import V2_CALL_DTYPES, frame_from_rows
from lib.outreach import (
    ApiInfo,
    ApiUnavailable,
    CallWindow,
    IncompleteRead,
    InvalidInput,
    MissingScope,
    NewCall,
    NotAuthorised,
    NotFound,
    OutreachClient,
    QuotaExhausted,
    RateLimited,
    StaticToken,
    UnexpectedResponse,
    V1Dialect,
    V2Dialect,
    dialect_for,
)
from lib.outreach.dialect import NextPages
from lib.outreach.records import calls_frame, parse_call
from lib.sandbox import start_sandbox
from tests.api_versions import ALL_SCOPES, API_1_0, API_2, Api, fresh_client, own_token
from tests.conftest import NOW, WORKDAY, no_sleep

# A token that outlives the rate windows a test lets pass by moving the sandbox's clock.
DAY_S = 86_400


def utc_day(day: date) -> tuple[datetime, datetime]:
    """That UTC day as [start, end)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def wait_for_requests(sandbox, count: int, timeout_s: float = 5.0) -> None:
    """Waits until the sandbox has counted `count` requests (it counts one after its
    latency, in the request's own thread)."""
    deadline = time.monotonic() + timeout_s
    while sandbox.request_count < count:
        assert time.monotonic() < deadline, f"{sandbox.request_count} of {count} requests"
        time.sleep(0.01)


@pytest.fixture
def client(sandbox, api) -> OutreachClient:
    """This module's client speaks the version under test."""
    with fresh_client(sandbox, api) as made:
        yield made


# ----- reading -----


def test_info(sandbox, client, api):
    sandbox.reset_request_count()
    info = client.info()
    assert isinstance(info, ApiInfo)
    if api.version == "1.0":
        assert info.user_id == 1 and info.email and "@" in info.email
        assert info.scopes == frozenset(ALL_SCOPES)
        assert info.requests_maximum == 10_000 and info.requests_current >= 1
        assert info.org == "5007"  # meta.org.id of seed 7's org
    else:  # v2 has no "who am I" route: nothing is known, and nothing is asked
        assert info == ApiInfo(None, None, frozenset(), None, None)
        assert sandbox.request_count == 0


def test_all_calls_across_many_pages(sandbox, client, api):
    progress: list[tuple[int, int]] = []
    before = sandbox.clock.now()
    sandbox.reset_request_count()
    frame = client.list_calls(None, before, on_progress=lambda d, k: progress.append((d, k)))

    want = api.expected(sandbox, before=before)
    assert len(want) > 40 * 50  # really many pages
    assert frame.equals(want)
    pages = api.pages(len(want))
    assert pages > 1
    assert progress[-1] == (pages, pages)
    assert [done for done, _ in progress] == list(range(1, pages + 1))
    assert sandbox.request_count == pages  # one request a page, nothing re-read
    assert client.quota.limit == 10_000 and client.quota.remaining is not None


def test_before_none_pins_now(sandbox, client, api):
    # The client's clock is the sandbox's: everything there is up to now.
    everything = client.list_calls(None, None)
    assert everything.equals(api.expected(sandbox, before=sandbox.clock.now()))
    # "Now" is the client's clock's, not the wall clock's: one stopped five days back reads
    # the calls up to then and none after.
    then = NOW - timedelta(days=5)
    with fresh_client(sandbox, api, clock=lambda: then) as earlier:
        frame = earlier.list_calls(None, None)
    want = api.expected(sandbox, before=then)
    assert 0 < len(want) < len(everything)
    assert frame.equals(want)


def test_window_filters_exactly_despite_minute_filters(sandbox, client, api):
    records = calls_frame(sandbox.all_calls())
    # Bounds with seconds and milliseconds, which the API's minute filters cannot express.
    after = records["created_at"].iloc[1000].to_pydatetime() + timedelta(milliseconds=1)
    before = records["created_at"].iloc[1600].to_pydatetime()
    frame = client.list_calls(after, before)
    assert frame.equals(api.expected(sandbox, after, before))
    assert frame["created_at"].min() >= after and frame["created_at"].max() < before

    # A window of one millisecond holds exactly the calls of that instant.
    moment = records["created_at"].iloc[500].to_pydatetime()
    single = client.list_calls(moment, moment + timedelta(milliseconds=1))
    assert single.equals(api.expected(sandbox, moment, moment + timedelta(milliseconds=1)))
    assert records["id"].iloc[500] in set(single["id"])


def test_after_only_and_empty_windows(sandbox, client, api):
    after = NOW - timedelta(days=3)
    want = api.expected(sandbox, after=after, before=sandbox.clock.now())
    assert len(want) > 0
    assert client.list_calls(after, None).equals(want)
    future = sandbox.clock.now() + timedelta(days=400)  # the sandbox has no calls there
    empty = client.list_calls(future, future + timedelta(days=1))
    assert len(empty) == 0 and list(empty.dtypes) == list(calls_frame([]).dtypes) + (
        [] if api.version == "1.0" else list(V2_CALL_DTYPES.values()))  # same columns, no data
    assert empty.equals(api.expected(sandbox, future, future + timedelta(days=1)))
    assert len(client.list_calls(future, future - timedelta(days=1))) == 0


def test_one_user_and_several_users(sandbox, client, api):
    # Eight days of the pinned history, six of them working days for every rep.
    after, before = NOW - timedelta(days=10), NOW - timedelta(days=2)
    one = client.list_calls(after, before, user_ids=[3])
    assert len(one) > 0 and set(one["user_id"]) == {3}
    assert one.equals(api.expected(sandbox, after, before, users={3}))

    progress: list[tuple[int, int]] = []
    several = client.list_calls(after, before, user_ids=[2, "5", 3, 2],
                                on_progress=lambda d, k: progress.append((d, k)))
    assert set(several["user_id"]) == {2, 3, 5}
    assert several.equals(api.expected(sandbox, after, before, users={2, 3, 5}))
    assert progress[-1][0] == progress[-1][1]
    assert len(client.list_calls(after, before, user_ids=[])) == 0
    assert len(client.list_calls(after, before, user_ids=[999])) == 0


def test_naive_datetimes_are_refused(client):
    with pytest.raises(ValueError, match="timezone-aware"):
        client.list_calls(datetime(2026, 1, 1), None)


def test_lookups(client):
    users = client.list_users()
    assert len(users) == 6 and 1 in set(users["id"])  # five reps and their manager
    assert set(client.list_dispositions()["outcome"]) == {"Answered", "Not Answered"}
    assert list(client.list_purposes()["order"]) == [1, 2, 3, 4, 5]


def test_calls_in_window_gives_sorted_parsed_rows(sandbox, client, api):
    after, before = utc_day(WORKDAY)  # every rep's calls
    rows = client.calls_in_window(after, before)
    assert len(rows) > 0
    assert frame_from_rows(rows, client.call_dtypes).equals(api.expected(sandbox, after, before))
    assert all(after <= row["created_at"] < before for row in rows)
    assert [(r["created_at"], r["id"]) for r in rows] == sorted(
        (r["created_at"], r["id"]) for r in rows)


# ----- time zones -----


@pytest.mark.parametrize(
    ("end", "dst_day", "hours"),
    [
        ("2026-11-01T12:00:00", date(2026, 10, 25), 25),
        ("2026-04-05T12:00:00", date(2026, 3, 29), 23),
    ],
)
def test_berlin_days_around_dst_hold_exactly_their_local_calls(api, end, dst_day, hours):
    # DST changes on a Sunday, which has few calls; the weekdays around it have calls right up
    # to local midnight (west-coast reps' evenings), so a wrong offset would move calls between
    # days and show here.
    berlin = ZoneInfo("Europe/Berlin")
    start, stop = utc_bounds(dst_day, dst_day, "Europe/Berlin")
    assert stop - start == timedelta(hours=hours)
    # Pinned there, the history ends at `end` whatever the wall clock says.
    with start_sandbox(port=0, seed=11, reps=8, days=14, now=end) as box:
        client = fresh_client(box, api)
        rows = [parse_call(r) for r in box.all_calls()]
        days = [dst_day + timedelta(days=n) for n in range(-2, 3)]
        seen = 0
        for day in days:
            frame = client.list_calls(*utc_bounds(day, day, "Europe/Berlin"))
            want = {row["id"] for row in rows
                    if row["created_at"].astimezone(berlin).date() == day}
            assert set(frame["id"]) == want, day
            seen += len(want)
        whole = client.list_calls(*utc_bounds(days[0], days[-1], "Europe/Berlin"))
        assert len(whole) == seen > 0


# ----- single calls and creating -----


def test_create_then_fetch(sandbox, client):
    new = NewCall(outbound=False, from_number="+15550001111", to_number="+15552223333",
                  purpose_id=2, disposition_id=7, prospect_id=4242, note="Left VM & <more>")
    created = client.create_call(new)
    assert created["user_id"] == sandbox.owner_user_id
    assert (created["outbound"], created["purpose_id"], created["disposition_id"],
            created["prospect_id"], created["note"]) == (False, 2, 7, 4242, "Left VM & <more>")
    assert client.get_call(created["id"]) == created
    assert client.get_call(str(created["id"])) == created
    recent = client.list_calls(created["created_at"], None, user_ids=[sandbox.owner_user_id])
    assert created["id"] in set(recent["id"])


def test_create_body_has_string_ids_and_omits_nones():
    assert NewCall(outbound=True, purpose_id=3).to_body() == {
        "data": {"type": "call", "attributes": {"connection": {"outbound": True},
                                                "purpose": {"id": "3"}}}}


def test_minimal_create(client):
    created = client.create_call(NewCall(outbound=True))
    assert created["from_number"] == "" and created["purpose_id"] is None


# ----- error paths -----


@pytest.mark.parametrize("call_id", ["abc", "12a", "", None, True, 1.5, "-3"])
def test_bad_call_id_is_refused_without_a_request(sandbox, client, call_id):
    sandbox.reset_request_count()
    with pytest.raises(InvalidInput) as info:
        client.get_call(call_id)
    assert info.value.field == "id"
    assert sandbox.request_count == 0


def test_unknown_id_is_not_found(client):
    with pytest.raises(NotFound):
        client.get_call(999_999_999_999)


def test_unknown_token_is_not_authorised(sandbox, api):
    token = "not-a-real-token-0123456789"
    with pytest.raises(NotAuthorised) as info:
        fresh_client(sandbox, api, token).list_calls(None, None)
    assert info.value.status == 401 and token not in str(info.value)


def test_revoked_token_is_not_authorised(sandbox, api):
    token = own_token(sandbox)
    client = fresh_client(sandbox, api, token)
    assert len(client.list_purposes()) == 5
    sandbox.revoke(token)
    with pytest.raises(NotAuthorised) as info:
        client.get_call(1)
    assert token not in info.value.detail


def test_read_only_token_creating_lacks_create_calls(sandbox, api):
    client = fresh_client(sandbox, api, sandbox.read_token)
    with pytest.raises(MissingScope) as info:
        client.create_call(NewCall(outbound=True))
    assert info.value.scope == api.scope("create_calls") and info.value.status == 403
    assert sandbox.read_token not in str(info.value)


def test_missing_read_scope_is_named(sandbox, api):
    client = fresh_client(sandbox, api, own_token(sandbox, ["read_calls"]))
    with pytest.raises(MissingScope) as info:
        client.list_users()
    assert info.value.scope == api.scope("read_users")


@pytest.mark.parametrize(
    ("new", "field"),
    [
        (NewCall(outbound=True, to_number="not a phone"), "to"),
        (NewCall(outbound=True, from_number="12"), "from"),
        (NewCall(outbound=True, purpose_id=999), "purpose"),
        (NewCall(outbound=True, disposition_id=999), "disposition"),
    ],
)
def test_validation_errors_name_the_field(client, new, field):
    with pytest.raises(InvalidInput) as info:
        client.create_call(new)
    assert info.value.status == 422 and info.value.field == field
    assert info.value.detail


def test_client_side_validation_sends_nothing(sandbox, client):
    sandbox.reset_request_count()
    with pytest.raises(InvalidInput) as info:
        client.create_call(NewCall(outbound="yes"))  # type: ignore[arg-type]
    assert info.value.field == "outbound"
    with pytest.raises(InvalidInput):
        client.create_call(NewCall(outbound=True, purpose_id="three"))  # type: ignore[arg-type]
    assert sandbox.request_count == 0


@pytest.mark.parametrize(("api", "path", "parameter", "value"), [
    (API_1_0, "/1.0/calls", "page[number]", "0"),
    (API_2, "/api/v2/calls", "page[size]", "1001"),
    (API_2, "/api/v2/calls", "page[after]", "not-a-cursor"),
], ids=["v1.0", "v2-size", "v2-cursor"])
def test_bad_parameter_is_invalid_input_with_the_parameter(client, path, parameter, value):
    with pytest.raises(InvalidInput) as info:
        client.transport.request("GET", path, params={parameter: value})
    assert info.value.status == 400 and info.value.field == parameter


# ----- rate limits -----


def spend_elsewhere(sandbox, token: str, count: int | None = None) -> int:
    """Another integration of the same Outreach user spends `count` requests of the token's rate
    window (None: all that is left), behind the client's back; returns how many it spent."""
    headers = {"Authorization": f"Bearer {token}"}
    spent = 0
    while count is None or spent < count:
        answer = requests.get(f"{sandbox.base_url}/1.0/call_purposes", headers=headers,
                              timeout=10)
        if answer.status_code == 429:
            break
        assert answer.status_code == 200
        spent += 1
    return spent


def test_429_waits_retry_after_then_succeeds(sandbox, configure_sandbox, clock, api):
    # The budget keeps the client out of 429s; another integration draining the user's quota
    # behind its back still draws one, and its Retry-After is honoured.
    configure_sandbox(rate_limit=10)
    token = own_token(sandbox, ttl=DAY_S)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)  # the wait passes on the sandbox's clock, and the window with it

    client = fresh_client(sandbox, api, token, sleep=sleep, max_backoff=7200)
    client.list_purposes()
    assert client.quota.remaining == 9 and client.quota.left() > 0
    assert spend_elsewhere(sandbox, token) == 9
    expected_wait = (client.quota.reset - clock.now()).total_seconds()
    sandbox.reset_stats()
    assert len(client.list_purposes()) == 5  # a 429, one wait, then success
    assert sandbox.stats()["api_429s"] == 1
    assert len(slept) == 1
    # Retry-After is whole seconds to the reset; it was honoured, not replaced by backoff.
    assert abs(slept[0] - expected_wait) <= 2 and slept[0] > 3000


def test_rate_limit_far_away_raises_with_retry_at(sandbox, configure_sandbox, clock, api):
    configure_sandbox(rate_limit=10)
    token = own_token(sandbox)
    slept: list[float] = []
    client = fresh_client(sandbox, api, token, sleep=slept.append)
    client.list_purposes()
    spend_elsewhere(sandbox, token)
    with pytest.raises(RateLimited) as info:
        client.list_purposes()
    assert not isinstance(info.value, QuotaExhausted)  # the server's 429, not the budget
    assert slept == []  # an hour is too long to wait inside a page load
    retry_at = info.value.retry_at
    assert retry_at is not None
    assert timedelta(minutes=55) < retry_at - clock.now() <= timedelta(hours=1, seconds=2)


def test_rate_limit_outlasting_retries_raises_rate_limited(sandbox, configure_sandbox, api):
    configure_sandbox(rate_limit=10)
    token = own_token(sandbox)
    slept: list[float] = []
    client = fresh_client(sandbox, api, token, sleep=slept.append,
                          max_backoff=7200, max_retries=2)
    client.list_purposes()
    spend_elsewhere(sandbox, token)
    with pytest.raises(RateLimited) as info:
        client.list_purposes()
    assert "failed after 3 tries: HTTP 429" in info.value.detail
    assert len(slept) == 2 and info.value.retry_at is not None


def test_rate_limit_mid_read_is_an_incomplete_read(sandbox, configure_sandbox, api):
    configure_sandbox(rate_limit=1000)  # a budget of 500 carries the read
    # One page at a time, so that the first page to fail is the first refused.
    client = fresh_client(sandbox, api, own_token(sandbox), max_workers=1, **api.pages_of_50)

    def drained_elsewhere(done: int, known: int) -> None:
        if done == 1:
            # The user's quota is gone behind the client's back (other integrations): at once,
            # so that no page read meanwhile can outrun it.
            configure_sandbox(rate_limit=1)

    with pytest.raises(IncompleteRead) as info:
        client.list_calls(None, None, on_progress=drained_elsewhere)
    assert isinstance(info.value.cause, RateLimited)
    assert not isinstance(info.value.cause, QuotaExhausted)


def test_throttles_before_the_window_runs_out(sandbox, configure_sandbox, clock, api):
    configure_sandbox(rate_limit=10)
    client: OutreachClient
    remaining_when_slept: list[int | None] = []

    def sleep(seconds: float) -> None:
        remaining_when_slept.append(client.quota.remaining)
        clock.advance(seconds)  # to the window's reset, on the sandbox's clock

    client = fresh_client(sandbox, api, own_token(sandbox, ttl=DAY_S), sleep=sleep,
                          max_backoff=7200, max_workers=1, **api.pages_of_50)
    before = clock.now()
    after = NOW - timedelta(days=12)
    frame = client.list_calls(after, None)
    want = api.expected(sandbox, after, before)
    assert len(want) > 3 * 10 * 50  # more pages than three windows allow
    assert frame.equals(want)
    assert len(remaining_when_slept) >= 2
    # It slowed down while requests were left, never after a 429 (which reports 0 left).
    assert all(remaining and remaining > 0 for remaining in remaining_when_slept)


# ----- faults and retries -----


def test_faults_are_retried_and_the_result_is_exact(sandbox, configure_sandbox, api):
    configure_sandbox(fault_rate=0.3)
    slept: list[float] = []
    client = fresh_client(sandbox, api, own_token(sandbox), sleep=slept.append, max_retries=12,
                          **api.pages_of_50)
    before = NOW
    after = before - timedelta(days=20)  # three working weeks: many pages
    frame = client.list_calls(after, before, user_ids=[2, 4])
    configure_sandbox(fault_rate=0.0)
    want = api.expected(sandbox, after, before, users={2, 4})
    assert len(want) > 20 * 50
    assert frame.equals(want)
    assert len(slept) > 3  # faults really happened and were retried
    assert all(0 < s <= client.max_backoff for s in slept)


def test_persistent_faults_name_what_failed(sandbox, configure_sandbox, api):
    configure_sandbox(fault_rate=1.0)
    client = fresh_client(sandbox, api, own_token(sandbox), max_retries=2)
    with pytest.raises(ApiUnavailable) as info:
        client.list_purposes()
    # The last try's fault is named: a 5xx, or a 200 whose body was cut off (not JSON).
    assert re.match(rf"GET {re.escape(api.purposes_path)} page 1 failed after 3 tries: "
                    r"HTTP (5\d\d|200 with a body that is not JSON)", info.value.detail
                    ), info.value.detail


def test_create_is_not_repeated_after_a_server_fault(sandbox, configure_sandbox, api):
    configure_sandbox(fault_rate=1.0)
    client = fresh_client(sandbox, api, own_token(sandbox))
    sandbox.reset_request_count()
    with pytest.raises(ApiUnavailable) as info:
        client.create_call(NewCall(outbound=True, note="only once"))
    assert sandbox.request_count == 1
    assert "may have been created" in info.value.detail


def test_read_timeouts_are_retried_but_a_create_is_not(sandbox, configure_sandbox, api):
    latency_s = 0.4
    configure_sandbox(latency_ms=int(latency_s * 1000))
    client = fresh_client(sandbox, api, own_token(sandbox), timeout=(3.05, 0.1), max_retries=1)
    sandbox.reset_request_count()
    with pytest.raises(ApiUnavailable,
                       match=f"GET {api.purposes_path} page 1 failed after 2 tries: timed out"):
        client.list_purposes()
    # The server counts a request after its latency: let those two finish first.
    wait_for_requests(sandbox, 2)
    sandbox.reset_request_count()
    with pytest.raises(ApiUnavailable, match="may have been created"):
        client.create_call(NewCall(outbound=True, note="slow"))
    gave_up = time.monotonic()
    # The server finishes the request the client gave up on; any other sent before the client
    # gave up would be counted within the latency too.
    wait_for_requests(sandbox, 1)
    time.sleep(max(0.0, gave_up + latency_s + 0.1 - time.monotonic()))
    assert sandbox.request_count == 1


def test_failure_part_way_is_incomplete_never_partial(sandbox, api):
    token = own_token(sandbox)
    client = fresh_client(sandbox, api, token, max_workers=2)

    def revoke_after_first_page(done: int, known: int) -> None:
        if done == 1:
            sandbox.revoke(token)

    with pytest.raises(IncompleteRead) as info:
        client.list_calls(None, None, on_progress=revoke_after_first_page)
    assert isinstance(info.value.cause, NotAuthorised)
    assert "page" in info.value.detail


def test_first_page_failure_is_the_plain_error(sandbox, api):
    with pytest.raises(MissingScope) as info:
        fresh_client(sandbox, api, own_token(sandbox, ["read_users"])).list_calls(None, None)
    assert info.value.scope == api.scope("read_calls")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_retried_then_unavailable(api):
    slept: list[float] = []
    client = api.client(f"http://127.0.0.1:{_closed_port()}", StaticToken("t"),
                        sleep=slept.append, max_retries=2)
    with pytest.raises(ApiUnavailable, match="failed after 3 tries: connection failed"):
        client.list_purposes()
    # Nothing reached a server, so even a create may be retried.
    with pytest.raises(ApiUnavailable, match="failed after 3 tries"):
        client.create_call(NewCall(outbound=True))
    assert len(slept) == 4


# ----- shapes the sandbox does not produce: a scripted loopback server -----


def _json(payload) -> bytes:
    return json.dumps(payload).encode()


JSON = {"Content-Type": "application/json"}


def jsonapi_call(call_id: int, minute: int) -> dict:
    # The JSON:API form: string ids, created under attributes, owners as relationships.
    return {
        "id": str(call_id), "type": "call",
        "attributes": {"created": f"2026-11-02T17:{minute:02d}:00.000+00:00",
                       "connection": {"outbound": True}},
        "relationships": {"user": {"data": {"type": "user", "id": "5"}},
                          "prospect": {"data": {"type": "prospect", "id": "9"}}},
    }


def empty_list(api: Api) -> dict:
    """A last, empty page of a list in the version's envelope."""
    return ({"data": [], "meta": {"page": {"maximum": 1}}} if api.version == "1.0"
            else {"data": [], "links": {}})


def one_call(api: Api) -> dict:
    """A single inbound call in the version's record shape."""
    if api.version == "1.0":
        return {"data": {"id": 1, "attributes": {"connection": {"outbound": False},
                                                 "metadata": {"created": "2026-11-02T17:03:00Z"}}}}
    return {"data": {"id": "1", "type": "call", "attributes": {
        "direction": "inbound", "createdAt": "2026-11-02T17:03:00.000Z"}}}


def test_other_record_forms_and_links_only_paging(scripted):
    pages = {1: [jsonapi_call(i, i % 60) for i in range(1, 51)],
             2: [jsonapi_call(i, i % 60) for i in range(51, 61)]}

    def answer(method, path, query, headers):
        number = int(query["page[number]"])
        links = {"next": "more"} if number == 1 else {}
        # No meta at all: the client must walk the links.
        return 200, JSON, _json({"data": pages[number], "links": links})

    server = scripted(answer)
    client = OutreachClient(server.base_url, StaticToken("t"), sleep=no_sleep)
    frame = client.list_calls(None, datetime(2026, 11, 3, tzinfo=UTC))
    assert sorted(frame["id"]) == list(range(1, 61))
    assert set(frame["user_id"]) == {5} and set(frame["prospect_id"]) == {9}
    assert [q["page[number]"] for _, _, q, _ in server.requests] == ["1", "2"]
    assert server.requests[0][2]["filter[metadata/created/before]"] == "2026-11-03T00:01"
    assert server.requests[0][3]["User-Agent"] == "callboard/0.1"


def v2_call(call_id: int, minute: int) -> dict:
    # String ids, as JSON:API writes them, and relationships that may be null.
    return {
        "id": str(call_id), "type": "call",
        "attributes": {"createdAt": f"2026-11-02T17:{minute:02d}:00.000Z",
                       "direction": "outbound", "outcome": None},
        "relationships": {"user": {"data": {"type": "user", "id": "5"}},
                          "prospect": {"data": {"type": "prospect", "id": "9"}},
                          "callDisposition": {"data": None}},
    }


def test_v2_cursor_paging_follows_links_next_on_our_host_only(scripted):
    server = None

    def answer(method, path, query, headers):
        if "page[after]" not in query:
            calls = [v2_call(i, i % 60) for i in range(1, 1001)]
            link = f"{server.base_url}/api/v2/calls?page[after]=abc&page[size]=1000&count=false"
            return 200, JSON, _json({"data": calls, "links": {"next": link}})
        return 200, JSON, _json({"data": [v2_call(i, i % 60) for i in range(1001, 1011)]})

    server = scripted(answer)
    client = OutreachClient(server.base_url, StaticToken("t"), sleep=no_sleep, dialect=V2Dialect())
    frame = client.list_calls(None, datetime(2026, 11, 3, tzinfo=UTC))
    assert sorted(frame["id"]) == list(range(1, 1011))
    assert set(frame["user_id"]) == {5} and frame["disposition_id"].isna().all()
    first, second = server.requests[0][2], server.requests[1][2]
    assert first == {"filter[createdAt]": "neginf..2026-11-03T00:01:00.000Z",
                     "page[size]": "1000", "count": "false"}
    assert second == {"page[after]": "abc", "page[size]": "1000", "count": "false"}
    assert server.requests[0][3]["Accept"] == "application/vnd.api+json"

    # A next link to another host would carry the token there: refused, nothing is sent.
    def elsewhere(method, path, query, headers):
        return 200, JSON, _json({"data": [v2_call(1, 1)],
                                 "links": {"next": "https://evil.example/api/v2/calls?x=1"}})

    other = scripted(elsewhere)
    with pytest.raises(UnexpectedResponse, match="elsewhere"):
        OutreachClient(other.base_url, StaticToken("t"), sleep=no_sleep,
                       dialect=V2Dialect()).list_calls(None, datetime(2026, 11, 3, tzinfo=UTC))
    assert len(other.requests) == 1


def test_non_json_200_is_retried_and_two_number_remaining_header(scripted, api):
    answers = iter([
        (200, {"Content-Type": "text/html"}, b"<html>oops</html>"),
        (429, {}, b""),  # no headers at all: plain backoff
        (200, {**JSON, "X-RateLimit-Remaining": "9999, 19988", "X-RateLimit-Limit": "10000"},
         _json(one_call(api))),
    ])
    server = scripted(lambda *a: next(answers))
    slept: list[float] = []
    client = api.client(server.base_url, StaticToken("t"), sleep=slept.append)
    assert client.get_call(1)["outbound"] is False
    assert client.quota.remaining == 9999 and client.quota.limit == 10000
    assert len(slept) == 2 and all(0 < s <= 30 for s in slept)


def test_info_reads_string_ids_and_space_separated_permissions(scripted):
    info_body = {"meta": {"user": {"id": "7", "email": "a@b.example"},
                          "api": {"permissions": "read_calls read_users",
                                  "requests": {"current": 1, "maximum": 10000}}}}
    server = scripted(lambda *a: (200, JSON, _json(info_body)))
    info = OutreachClient(server.base_url, StaticToken("t"), sleep=no_sleep).info()
    assert info == ApiInfo("a@b.example", 7, frozenset({"read_calls", "read_users"}), 1, 10000)
    assert info.org is None  # not named: unknown


@pytest.mark.parametrize(("org", "named"), [({"id": 4120, "name": "Acme"}, "4120"),
                                            ({"name": "Acme"}, "Acme"),
                                            ({"shortname": "acme"}, "acme"),
                                            ({"id": "", "name": " "}, None), ("Acme", None)])
def test_info_names_the_org_where_the_answer_does(scripted, org, named):
    body = {"meta": {"user": {"id": 7}, "org": org, "api": {}}}
    server = scripted(lambda *a: (200, JSON, _json(body)))
    assert OutreachClient(server.base_url, StaticToken("t"), sleep=no_sleep).info().org == named


def test_retry_after_seconds_honoured(scripted, api):
    answers = iter([(429, {"Retry-After": "7"}, b"{}"),
                    (503, {}, b"busy"),
                    (200, JSON, _json(one_call(api)))])
    server = scripted(lambda *a: next(answers))
    slept: list[float] = []
    client = api.client(server.base_url, StaticToken("t"), sleep=slept.append)
    assert client.get_call(1)["outbound"] is False
    assert slept[0] == 7 and 0.5 <= slept[1] <= 1.0  # second try: 0.5 * 2, jittered


def test_429_without_retry_after_waits_for_the_reset_header(scripted, api):
    reset = int(NOW.timestamp()) + 6  # epoch seconds, on the client's (stopped) clock
    answers = iter([(429, {"X-RateLimit-Reset": str(reset), "X-RateLimit-Remaining": "0"}, b""),
                    (200, JSON, _json(empty_list(api)))])
    server = scripted(lambda *a: next(answers))
    slept: list[float] = []
    client = api.client(server.base_url, StaticToken("t"), sleep=slept.append,
                        throttle_below=0, clock=lambda: NOW)
    assert len(client.list_purposes()) == 0
    assert slept == [6.0]


def test_json_of_the_wrong_shape_is_unexpected(scripted, api):
    server = scripted(lambda *a: (200, JSON, _json({"data": {"id": 1, "attributes": {}}})))
    client = api.client(server.base_url, StaticToken("t"), sleep=no_sleep)
    with pytest.raises(UnexpectedResponse):
        client.get_call(1)
    server2 = scripted(lambda *a: (200, JSON, _json({"data": "nope"})))
    with pytest.raises(UnexpectedResponse):
        api.client(server2.base_url, StaticToken("t")).list_purposes()


def test_403_without_a_scope_in_the_text_uses_the_routes_scope(scripted, api):
    server = scripted(lambda *a: (403, JSON, _json({"errors": [{"id": "forbidden"}]})))
    client = api.client(server.base_url, StaticToken("t"), sleep=no_sleep)
    with pytest.raises(MissingScope) as info:
        client.list_dispositions()
    assert info.value.scope == api.scope("read_call_dispositions")


# ----- failing fast: the first failure that ends a read cuts the others' waits -----


def _user_of(query: dict) -> str | None:
    return query.get("filter[user/id]") or query.get("filter[user][id]")


def _two_windows() -> list[CallWindow]:
    # Different days and users, so that no dialect asks them as one query.
    return [CallWindow(*utc_day(WORKDAY), user_id=1),
            CallWindow(*utc_day(WORKDAY - timedelta(days=1)), user_id=2)]


def test_a_failure_cuts_another_pages_long_backoff_short(scripted, api):
    asleep, cut_recorded = threading.Event(), threading.Event()
    waits: list[float] = []
    cut: list[bool] = []

    def answer(method, path, query, headers):
        if _user_of(query) == "2":
            return 503, {}, b"busy"  # retried, after a long backoff
        assert asleep.wait(10)  # fails for good once the other page is asleep
        return 403, JSON, _json({"errors": [{"id": "forbidden"}]})

    def wait(seconds: float, cancel: threading.Event) -> bool:
        waits.append(seconds)
        asleep.set()
        # A real wait on the read's cancel event; 60 s is only a safety net, never reached
        # when the failure cuts it.
        cut.append(cancel.wait(60))
        cut_recorded.set()
        return cut[-1]

    server = scripted(answer)
    client = api.client(server.base_url, StaticToken("t"), wait=wait, backoff_factor=300,
                        max_backoff=600)
    with pytest.raises(MissingScope):
        client.calls_in_windows(_two_windows())
    assert cut_recorded.wait(10)
    assert len(waits) == 1 and waits[0] >= 150  # it was in a backoff of minutes...
    assert cut == [True]  # ...which the failure cut short, rather than being waited out
    # and the page was abandoned, not tried again.
    assert [_user_of(query) for _, _, query, _ in server.requests].count("2") == 1


def test_a_failure_does_not_wait_for_a_request_in_flight(scripted, api):
    arrived, release, answered = threading.Event(), threading.Event(), threading.Event()

    def answer(method, path, query, headers):
        if _user_of(query) == "2":
            arrived.set()
            release.wait(20)  # a slow answer, until the test lets it go
            answered.set()
            return 200, JSON, _json(empty_list(api))
        assert arrived.wait(10)
        return 403, JSON, _json({"errors": [{"id": "forbidden"}]})

    server = scripted(answer)
    client = api.client(server.base_url, StaticToken("t"), sleep=no_sleep)
    try:
        with pytest.raises(MissingScope):
            client.calls_in_windows(_two_windows())
        # The read ended while the other request was still in flight: it was not joined.
        assert arrived.is_set() and not answered.is_set()
    finally:
        release.set()
    assert answered.wait(10)  # it finishes in the background; its answer is dropped


# ----- the dialects' seams, on hand-written answers -----


def test_a_1_0_page_tells_the_last_page_or_the_next_one():
    v1, filters = V1Dialect(), {"filter[user/id]": "5"}
    assert v1.page_params(filters, 3) == {"filter[user/id]": "5", "page[number]": "3",
                                          "page[size]": "50"}
    full, short = [{}] * 50, [{}] * 7
    # The meta says how many pages there are: by maximum, else by total and entries.
    assert v1.next_pages({"meta": {"page": {"maximum": 7}}}, full, filters, 1) == \
        NextPages(last=7)
    assert v1.next_pages({"meta": {"page": {"entries": 50}, "results": {"total": 101}}}, full,
                         filters, 1) == NextPages(last=3)
    # Without meta: links.next decides, else a full page means there may be more.
    assert v1.next_pages({"links": {"next": "page 3"}}, short, filters, 2) == \
        NextPages(follow=v1.page_params(filters, 3))
    assert v1.next_pages({"links": {"prev": "page 1"}}, full, filters, 2) == NextPages()
    assert v1.next_pages({}, full, filters, 2) == NextPages(follow=v1.page_params(filters, 3))
    assert v1.next_pages({}, short, filters, 2) == NextPages()
    assert v1.next_pages({"links": {"next": "more"}}, [], filters, 2) == NextPages()


def test_a_v2_page_names_the_next_by_its_link_only():
    v2 = V2Dialect(page_size=20)
    assert v2.page_params({"filter[user][id]": "5"}, 1) == {
        "filter[user][id]": "5", "page[size]": "20", "count": "false"}
    with pytest.raises(ValueError):
        v2.page_params({}, 2)  # a cursor's later pages have no number
    link = "http://127.0.0.1:1/api/v2/calls?page[after]=abc"
    assert v2.next_pages({"links": {"next": link}}, [{}], {}, 1) == NextPages(follow=link)
    assert v2.next_pages({"links": {}}, [{}] * 20, {}, 1) == NextPages()
    assert v2.next_pages({"data": []}, [], {}, 1) == NextPages()


def test_each_dialect_spells_the_window_filters_its_own_way():
    after, before = datetime(2026, 11, 2, 17, 3, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    assert V1Dialect().window_params(after, before, [5]) == {
        "filter[metadata/created/after]": "2026-11-02T17:03",
        "filter[metadata/created/before]": "2026-11-03T00:00", "filter[user/id]": "5"}
    assert V1Dialect().window_params(None, before, None) == {
        "filter[metadata/created/before]": "2026-11-03T00:00"}
    assert V2Dialect().window_params(after, before, [5]) == {
        "filter[createdAt]": "2026-11-02T17:03:00.000Z..2026-11-03T00:00:00.000Z",
        "filter[user][id]": "5"}
    # v2 filters take a comma list; 1.0's takes one user.
    assert V2Dialect().window_params(after, before, [5, 7, 9])["filter[user][id]"] == "5,7,9"
    with pytest.raises(ValueError):
        V1Dialect().window_params(after, before, [5, 7])
    assert (V1Dialect.users_per_query, V2Dialect.users_per_query) == (1, 100)
    assert V2Dialect().window_params(None, before, None) == {
        "filter[createdAt]": "neginf..2026-11-03T00:00:00.000Z"}


@pytest.mark.parametrize(("pointer", "v1_field", "v2_field"), [
    ("/data/attributes/connection/outbound", "outbound", "outbound"),
    ("/data/attributes/direction", "direction", "outbound"),
    ("/data/attributes/purpose/id", "purpose", "purpose"),
    ("/data/relationships/callDisposition/data/id", "id", "disposition"),
    ("/data/attributes/to", "to", "to"),
])
def test_a_validation_pointer_names_the_field_in_1_0s_words(pointer, v1_field, v2_field):
    error = {"id": "validationError", "source": {"pointer": pointer}}
    assert V1Dialect().error_field(error) == v1_field
    assert V2Dialect().error_field(error) == v2_field
    parameter = {"source": {"parameter": "page[size]"}}
    assert V1Dialect().error_field(parameter) == V2Dialect().error_field(parameter) == \
        "page[size]"
    assert V1Dialect().error_field({}) is V2Dialect().error_field({}) is None


def test_dialect_for_names_the_two_versions():
    assert dialect_for("1.0") == V1Dialect() and dialect_for("2") == V2Dialect()
    assert dialect_for("2", page_size=50) == V2Dialect(page_size=50) != V2Dialect()
    with pytest.raises(ValueError, match="1.0 or 2"):
        dialect_for("3")
    client = OutreachClient("http://127.0.0.1:1/", StaticToken("t"))
    assert client.dialect == V1Dialect() and client.base_url == "http://127.0.0.1:1"
    assert (client.pages_in_parallel, client.call_dtypes) == (True, V1Dialect.call_dtypes)
    v2 = OutreachClient("http://127.0.0.1:1", StaticToken("t"), dialect=V2Dialect())
    assert (v2.pages_in_parallel, v2.call_dtypes) == (False, V2Dialect.call_dtypes)


def test_the_v2_create_body_is_json_api_with_relationships():
    new = NewCall(outbound=False, from_number="+15550001111", purpose_id=3, prospect_id="42",
                  note="hi")
    assert V2Dialect().create_body(new) == {"data": {
        "type": "call",
        "attributes": {"direction": "inbound", "from": "+15550001111", "note": "hi"},
        "relationships": {"callPurpose": {"data": {"type": "callPurpose", "id": 3}},
                          "prospect": {"data": {"type": "prospect", "id": 42}}}}}
    assert V1Dialect().create_body(new) == new.to_body()
    with pytest.raises(InvalidInput) as info:
        V2Dialect().create_body(NewCall(outbound=True, disposition_id="seven"))
    assert info.value.field == "disposition"


def test_a_page_wait_ends_when_its_read_is_cancelled_or_its_time_is_up():
    from lib.outreach.transport import event_wait

    cancel = threading.Event()
    assert event_wait(0, cancel) is False and event_wait(0.01, cancel) is False
    started = threading.Event()

    def cancel_soon() -> None:
        started.wait()
        cancel.set()

    threading.Thread(target=cancel_soon).start()
    started.set()
    # Would sleep a minute if the cancel went unseen (pytest-timeout then fails the test).
    assert event_wait(60, cancel) is True
    assert event_wait(60, cancel) is True  # an already cancelled read does not wait at all
