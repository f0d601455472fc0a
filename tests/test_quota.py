"""The client's rate budget against the sandbox over loopback: at most its share of the user's
hourly quota, paced by the X-RateLimit-* headers (both forms of Remaining), never by 429s; what
other integrations of the user spent before counts against the user, not against the share; a
read the budget cannot carry says so (QuotaExhausted, with the window's reset) instead of
showing part, or waits when the reset is near; and the sentence a manager reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from lib.display.messages import explain, explain_partial
from lib.outreach import OutreachClient, QuotaExhausted, RateLimited, StaticToken
from lib.sandbox.data import OWNER_USER_ID
from tests.api_versions import API_1_0, API_2, fresh_client, own_token
from tests.conftest import NOW

DAY_S = 86_400  # a token that outlives the windows a test lets pass


def spend_elsewhere(sandbox, token: str, count: int) -> None:
    """Another integration of the same Outreach user spends `count` of the rate window."""
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(count):
        answer = requests.get(f"{sandbox.base_url}/1.0/call_purposes", headers=headers,
                              timeout=10)
        assert answer.status_code == 200


def spend_until_stopped(client: OutreachClient, most: int = 1000) -> tuple[int, QuotaExhausted]:
    """One-request reads until the budget stops the client: how many went, and the error."""
    for sent in range(most):
        try:
            client.list_purposes()
        except QuotaExhausted as stopped:
            return sent, stopped
    raise AssertionError(f"{most} requests and the budget never stopped the client")


def window_reset(sandbox, token: str) -> datetime:
    """The token's rate window's reset as the sandbox tells it (a request of its own)."""
    answer = requests.get(f"{sandbox.base_url}/1.0/call_purposes", timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    return datetime.fromtimestamp(int(answer.headers["X-RateLimit-Reset"]), UTC)


# ----- a read the share cannot carry -----


def test_a_read_that_would_overrun_the_share_stops_without_a_429(sandbox, configure_sandbox,
                                                                 clock, api):
    configure_sandbox(rate_limit=40)  # a budget of 20 requests an hour; the read needs ~95
    token = own_token(sandbox)
    client = fresh_client(sandbox, api, token, max_workers=2, **api.pages_of_50)
    sandbox.reset_stats()
    pages: list[int] = []
    with pytest.raises(QuotaExhausted) as info:
        client.list_calls(None, None, on_progress=lambda done, known: pages.append(done))
    stopped = info.value
    stats = sandbox.stats()
    assert stats["api_429s"] == 0 and stats["api_429s_by_user"] == {}
    assert stats["request_count"] <= 20  # never beyond the share
    # Stopped for the rest of the hour: retry_at is the window's reset, an hour from its start.
    assert stopped.retry_at == window_reset(sandbox, token)
    assert timedelta(minutes=59) < stopped.retry_at - clock.now() <= timedelta(hours=1, seconds=2)
    assert (stopped.share, stopped.limit, stopped.budget) == (0.5, 40, 20)
    assert not stopped.whole_quota and stopped.status is None
    assert isinstance(stopped, RateLimited)  # what a caller of rate limits already handles
    if api.dialect.pages_in_parallel:
        # 1.0: page 1 tells how many pages there are; no request is spent on pages that could
        # not be shown.
        assert stats["request_count"] == 1 and pages == []
        want = api.pages(len(api.expected(sandbox)))
        assert stopped.needed == want - 1 > stopped.budget
    else:
        # v2's cursor tells no count: the budget stops it as it goes, at the share's end.
        assert stopped.needed is None
        assert 20 - 2 * 2 <= stats["request_count"] <= 20


def test_a_1_0_read_that_fits_the_share_is_not_stopped(sandbox, configure_sandbox, api):
    configure_sandbox(rate_limit=400)  # a budget of 200; the read needs ~95
    client = fresh_client(sandbox, api, own_token(sandbox), max_workers=4, **api.pages_of_50)
    sandbox.reset_stats()
    frame = client.list_calls(None, None)
    assert frame.equals(api.expected(sandbox, before=client.clock()))
    assert sandbox.stats()["api_429s"] == 0
    assert client.quota.left() is not None and client.quota.left() > 0


def test_a_near_reset_is_waited_for_and_the_read_goes_on_window_by_window(
        sandbox, configure_sandbox, clock, api):
    configure_sandbox(rate_limit=20)  # a budget of 10 an hour
    spent_by_window: list[int] = []

    def sleep(seconds: float) -> None:
        spent_by_window.append(sandbox.request_count)
        sandbox.reset_request_count()
        clock.advance(seconds)  # to the window's reset, on the sandbox's clock

    # A reset within max_backoff is waited out, on the injected sleep.
    client = fresh_client(sandbox, api, own_token(sandbox, ttl=DAY_S), sleep=sleep,
                          max_backoff=7200, max_workers=1, **api.pages_of_50)
    sandbox.reset_stats()
    after = NOW - timedelta(days=12)
    before = clock.now()
    frame = client.list_calls(after, before)
    want = api.expected(sandbox, after, before)
    assert len(want) > 3 * 10 * 50  # more pages than three windows' shares
    assert frame.equals(want)
    assert len(spent_by_window) >= 3  # it took several windows
    assert all(spent <= 10 for spent in spent_by_window)  # each within the share
    assert sandbox.stats()["api_429s"] == 0


# ----- what others spent -----


@pytest.mark.parametrize(("used_elsewhere", "ours", "whole_quota"), [
    (10, 20, False),  # 30 left: the whole share of 20, down to 10 remaining
    (30, 8, True),  # 10 left: less than the share, so down to the reserve (2)
])
def test_requests_used_by_other_integrations_count_against_the_user_not_the_share(
        sandbox, configure_sandbox, api, used_elsewhere, ours, whole_quota):
    configure_sandbox(rate_limit=40)
    token = own_token(sandbox)
    spend_elsewhere(sandbox, token, used_elsewhere)  # before the client's first request
    client = fresh_client(sandbox, api, token, max_workers=1)  # reserve: 2 * 1
    sandbox.reset_stats()
    sent, stopped = spend_until_stopped(client)
    assert sent == ours
    assert sandbox.stats()["api_429s"] == 0
    assert stopped.whole_quota is whole_quota
    assert client.quota.remaining == 40 - used_elsewhere - ours


def test_the_share_is_configurable(sandbox, configure_sandbox, api):
    configure_sandbox(rate_limit=40)
    client = fresh_client(sandbox, api, own_token(sandbox), max_workers=1, quota_share=0.25)
    assert spend_until_stopped(client)[0] == 10
    with pytest.raises(ValueError):
        fresh_client(sandbox, api, quota_share=0)
    with pytest.raises(ValueError):
        fresh_client(sandbox, api, quota_share=1.5)


def test_a_new_window_brings_a_new_share(sandbox, configure_sandbox, clock, api):
    configure_sandbox(rate_limit=40)
    token = own_token(sandbox, ttl=DAY_S)
    client = fresh_client(sandbox, api, token, max_workers=1)
    assert spend_until_stopped(client)[0] == 20
    clock.advance(3601)  # past the reset
    spend_elsewhere(sandbox, token, 5)  # the new window's first requests are someone else's
    assert spend_until_stopped(client)[0] == 20
    assert client.quota.remaining == 40 - 5 - 20


# ----- the headers, in both forms -----


JSON = {"Content-Type": "application/json"}


def _purposes(remaining: str, limit: str, reset: int) -> tuple[int, dict, bytes]:
    return 200, {**JSON, "X-RateLimit-Remaining": remaining, "X-RateLimit-Limit": limit,
                 "X-RateLimit-Reset": str(reset)}, json.dumps({"data": []}).encode()


@pytest.mark.parametrize("form", ["{}", "{}, 19988"], ids=["one number", "two numbers"])
def test_both_header_forms_pace_the_budget(scripted, form):
    # Outreach may send "9999, 19988" in X-RateLimit-Remaining (and Limit): the first counts.
    reset = int(NOW.timestamp()) + 1800
    counts = iter([6000, 5500, 1001])
    server = scripted(lambda *a: _purposes(form.format(next(counts)), form.format(10000),
                                           reset))
    client = OutreachClient(server.base_url, StaticToken("t"), clock=lambda: NOW,
                            sleep=lambda s: pytest.fail("no wait is near"))
    client.list_purposes()
    # First sight: 4,000 of the user's 10,000 went elsewhere; the share is 5,000 more, so the
    # budget ends at 6,001 - 5,000 = 1,001 remaining.
    assert (client.quota.limit, client.quota.remaining, client.quota.budget) == (10000, 6000,
                                                                                 5000)
    assert client.quota.floor == 1001 and client.quota.left() == 4999
    client.list_purposes()
    assert client.quota.left() == 4499
    client.list_purposes()  # 1,001 left: the share is spent (others spent alongside)
    with pytest.raises(QuotaExhausted) as info:
        client.list_purposes()
    assert len(server.requests) == 3  # the fourth was never sent
    assert info.value.retry_at == datetime.fromtimestamp(reset, UTC)


def test_unknown_counts_do_not_stop_the_client(scripted):
    server = scripted(lambda *a: (200, JSON, json.dumps({"data": []}).encode()))
    client = OutreachClient(server.base_url, StaticToken("t"), clock=lambda: NOW)
    for _ in range(3):
        client.list_purposes()
    assert client.quota.left() is None and len(server.requests) == 3


# ----- the sentence -----


def test_the_sentences_say_what_failed_and_when_to_try_again(sandbox, configure_sandbox,
                                                             clock):
    configure_sandbox(rate_limit=40)
    sandbox.reset_stats()
    client = fresh_client(sandbox, API_2, own_token(sandbox), max_workers=1)
    stopped = spend_until_stopped(client)[1]
    now = clock.now()
    minutes = round((stopped.retry_at - now).total_seconds() / 60)
    assert explain(stopped, now=now) == (
        "Callboard has used its share of your Outreach requests for this hour (50%; the rest "
        "is left for your other Outreach tools), so the calls were not loaded and nothing is "
        f"shown. Try again in about {minutes} minutes ({stopped.retry_at:%H:%M} UTC).")
    # Nearly due: in seconds.
    assert explain(stopped, now=stopped.retry_at - timedelta(seconds=40)).endswith(
        "Try again in about 40 seconds.")
    assert explain(stopped, now=stopped.retry_at).endswith("Try again in a moment.")
    # A range partly loaded when the share ran out: said above the figures, never as complete.
    assert explain_partial(0.6, stopped, now=now) == (
        "Only 60 % of this range is loaded yet: Callboard has used its share (50%) of your "
        "Outreach requests for this hour, so the figures below leave out the rest. Try again "
        f"in about {minutes} minutes ({stopped.retry_at:%H:%M} UTC). What is loaded is kept; "
        "only the rest is read.")

    token = own_token(sandbox)
    spend_elsewhere(sandbox, token, 35)
    whole = spend_until_stopped(fresh_client(sandbox, API_1_0, token, max_workers=1))[1]
    assert explain(whole, now=now).startswith(
        "Your Outreach request limit for this hour is used up (your other Outreach tools draw "
        "on it too), so the calls were not loaded and nothing is shown. Try again in about ")
    assert explain_partial(0.25, whole, now=now).startswith(
        "Only 25 % of this range is loaded yet: your Outreach request limit for this hour is "
        "used up (your other Outreach tools draw on it too), so the figures below leave out")

    too_big = QuotaExhausted("GET /1.0/calls needs 12000 more requests", retry_at=now,
                             share=0.5, limit=10000, needed=12000, budget=5000)
    assert explain(too_big, now=now) == (
        "Loading these calls needs about 12,000 Outreach requests, more than Callboard may use "
        "in an hour (5,000, 50% of your hourly limit), so nothing is shown. Choose a shorter "
        "date range or fewer reps; once a shorter range is loaded, a longer one reads only the "
        "days still missing.")
    assert sandbox.stats()["api_429s_by_user"].get(str(OWNER_USER_ID), 0) == 0
