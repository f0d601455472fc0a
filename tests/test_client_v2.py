"""API v2: the sandbox's v2 routes over loopback, and a v2 client that reads what 1.0 reads."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from lib.analytics import figures, overview
from lib.analytics.timerange import utc_bounds
from lib.frames import CALL_COLUMNS, V2_CALL_DTYPES
from lib.outreach import (
    CallWindow,
    MissingScope,
    NewCall,
    NotAuthorised,
    OutreachClient,
    StaticToken,
    V1Dialect,
    V2Dialect,
    names_v2_scopes,
)
from lib.sandbox.state import ALL_SCOPES
from lib.settings import Settings, SettingsError
from lib.store.opening import open_source
from tests.api_versions import refresh_token_for
from tests.conftest import NOW, WORKDAY, conversations_of, no_sleep, pinned_now

V2_TYPE = "application/vnd.api+json"


def clients(sandbox, token: str | None = None) -> tuple[OutreachClient, OutreachClient]:
    """A 1.0 client and a v2 client of the sandbox, with the same token."""
    auth = StaticToken(token or sandbox.full_token)
    return (OutreachClient(sandbox.base_url, auth, sleep=no_sleep, clock=sandbox.clock.now),
            OutreachClient(sandbox.base_url, auth, sleep=no_sleep, clock=sandbox.clock.now,
                           dialect=V2Dialect()))


def v1_columns(row: dict) -> dict:
    return {name: row[name] for name in CALL_COLUMNS}


def since(days: int) -> datetime:
    """That many days before the pinned history's end (tests.conftest.NOW)."""
    return NOW - timedelta(days=days)


def utc_day(day: date) -> tuple[datetime, datetime]:
    """That UTC day as [start, end)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


# ----- the sandbox's v2 -----


def test_v2_pages_with_a_cursor_and_filters_by_created_and_user(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.full_token}"}
    low = since(12).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = {"filter[createdAt]": f"{low}..inf", "filter[user][id]": "3", "page[size]": "25",
              "count": "false"}
    url, seen, pages = f"{sandbox.base_url}/api/v2/calls", [], 0
    while url:
        answer = requests.get(url, params=params if pages == 0 else None, headers=headers,
                              timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == V2_TYPE
        body = answer.json()
        seen += body["data"]
        pages += 1
        url = body["links"].get("next")
    expected = [c for c in sandbox.all_calls() if c["attributes"]["user"]["id"] == 3
                and c["attributes"]["metadata"]["created"] >= low]
    assert len(expected) > 4 * 25  # several pages
    assert [c["id"] for c in seen] == [c["id"] for c in expected]
    assert pages == len(expected) // 25 + 1
    first = seen[0]
    assert first["relationships"]["user"]["data"] == {"type": "user", "id": 3}
    assert first["attributes"]["direction"] in ("inbound", "outbound")
    assert first["attributes"]["completedAt"] == first["attributes"]["createdAt"]


def test_v2_rules_content_type_scopes_sizes_and_status_codes(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.full_token}"}
    calls = f"{sandbox.base_url}/api/v2/calls"
    body = {"data": {"type": "call", "attributes": {"direction": "outbound"}}}
    assert requests.post(calls, json=body, headers=headers, timeout=10).status_code == 415
    created = requests.post(calls, data=requests.compat.json.dumps(body),
                            headers={**headers, "Content-Type": V2_TYPE}, timeout=10)
    assert created.status_code == 201
    read_only = {"Authorization": f"Bearer {sandbox.read_token}", "Content-Type": V2_TYPE}
    refused = requests.post(calls, data="{}", headers=read_only, timeout=10)
    assert refused.status_code == 403 and "calls.write" in refused.text
    too_big = requests.get(calls, params={"page[size]": "1001"}, headers=headers, timeout=10)
    assert too_big.status_code == 400
    assert requests.get(f"{calls}/5", headers=headers, timeout=10).status_code == 404
    assert requests.get(calls, timeout=10).status_code == 401


def test_v2_user_filter_takes_a_comma_list(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.full_token}"}
    low = since(6).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = {"filter[createdAt]": f"{low}..inf", "filter[user][id]": "4,2", "page[size]": "40"}
    url, seen = f"{sandbox.base_url}/api/v2/calls", []
    while url:
        answer = requests.get(url, params=params if not seen else None, headers=headers,
                              timeout=10)
        assert answer.status_code == 200
        seen += answer.json()["data"]
        url = answer.json()["links"].get("next")
    expected = [c for c in sandbox.all_calls() if c["attributes"]["user"]["id"] in (2, 4)
                and c["attributes"]["metadata"]["created"] >= low]
    assert len(expected) > 3 * 40  # several pages, across both users
    # Both users' calls, in created order across them, each once.
    assert [c["id"] for c in seen] == [c["id"] for c in expected]
    assert {c["relationships"]["user"]["data"]["id"] for c in seen} == {2, 4}
    for bad in ("2,x", "2,,4", ""):
        refused = requests.get(f"{sandbox.base_url}/api/v2/calls", headers=headers, timeout=10,
                               params={"filter[user][id]": bad})
        assert refused.status_code == 400, bad
        assert refused.json()["errors"][0]["source"] == {"parameter": "filter[user][id]"}


def test_a_v2_read_of_chosen_reps_is_one_query_a_window_and_1_0_one_a_rep(sandbox):
    v1, v2 = clients(sandbox)
    reps = [2, 3, 5, 6]
    sandbox.reset_request_count()
    by_v2 = v2.list_calls(since(12), since(1), user_ids=reps)
    v2_requests = sandbox.request_count
    sandbox.reset_request_count()
    by_v1 = v1.list_calls(since(12), since(1), user_ids=reps)
    v1_requests = sandbox.request_count
    assert by_v2[list(CALL_COLUMNS)].equals(by_v1) and set(by_v1["user_id"]) == set(reps)
    # v2: one query for all four, its pages of 1000; 1.0: a query a rep (one user a filter).
    assert v2_requests == -(-len(by_v2) // 1000) == 2
    assert v1_requests == sum(-(-int((by_v1["user_id"] == rep).sum()) // 50) for rep in reps)

    # Windows of single users: those with the same bounds share a query; the rows are split
    # per window, each exactly what a read of that user alone gives.
    windows = [CallWindow(since(9), since(8), 2), CallWindow(since(9), since(8), 5),
               CallWindow(since(8), since(7), 2), CallWindow(since(9), since(8), None)]
    sandbox.reset_request_count()
    split = v2.calls_in_windows(windows)
    assert sandbox.request_count == 3  # two days: one query each, and the every-user one
    assert [[v1_columns(row) for row in rows] for rows in split] == \
        [[v1_columns(row) for row in rows] for rows in v1.calls_in_windows(windows)]
    assert all(split) and {row["user_id"] for row in split[1]} == {5}


# ----- the v2 client against the 1.0 client, same sandbox -----


def test_the_v2_client_reads_exactly_what_the_1_0_client_reads_in_far_fewer_requests(sandbox):
    v1, v2 = clients(sandbox)
    sandbox.reset_request_count()
    by_v1 = v1.list_calls(since(25), None)
    v1_requests = sandbox.request_count
    sandbox.reset_request_count()
    by_v2 = v2.list_calls(since(25), None)
    assert sandbox.request_count * 10 < v1_requests  # 1000-call pages against 50-call pages
    assert len(by_v1) > 1000
    # The same frame, and v2's own facts besides.
    assert list(by_v2.columns) == [*CALL_COLUMNS, *V2_CALL_DTYPES]
    assert by_v2[list(CALL_COLUMNS)].equals(by_v1)
    assert "outbound" in by_v1 and "outcome" not in by_v1
    assert v2.list_calls(since(25), None, user_ids=[2, 4])[list(CALL_COLUMNS)].equals(
        v1.list_calls(since(25), None, user_ids=[2, 4]))
    windows = [CallWindow(since(10), since(9), None), CallWindow(since(9), since(8), 5)]
    by_v1_windows = [[v1_columns(row) for row in rows] for rows in v1.calls_in_windows(windows)]
    assert all(by_v1_windows)  # a Sunday evening into a Monday, and a Monday into a Tuesday
    assert [[v1_columns(row) for row in rows] for rows in v2.calls_in_windows(windows)] == \
        by_v1_windows
    for lookup in ("list_users", "list_dispositions", "list_purposes"):
        assert getattr(v2, lookup)().equals(getattr(v1, lookup)())


def test_create_with_v2_then_fetch_with_both(sandbox):
    v1, v2 = clients(sandbox)
    row = v2.create_call(NewCall(outbound=False, from_number="+14155550142", purpose_id=3,
                                 disposition_id=2, prospect_id=200012, note="asked for v2"))
    assert (row["outbound"], row["purpose_id"], row["disposition_id"], row["prospect_id"],
            row["note"]) == (False, 3, 2, 200012, "asked for v2")
    assert v2.get_call(row["id"]) == row
    assert v1_columns(v1.get_call(row["id"])) == v1_columns(row)
    # Both versions say when it was last changed (1.0 metadata.updated, v2 updatedAt).
    assert row["updated_at"] is not None and v1.get_call(row["id"])["updated_at"] == \
        row["updated_at"]
    assert row["outcome"] == "Answered" and row["state"] is not None  # disposition 2 answers


# ----- chosen by a setting; the overview agrees -----


def test_the_api_version_setting():
    assert Settings.from_mapping({}).api_version == "auto"
    assert Settings.from_mapping({"OUTREACH_API_VERSION": "1"}).api_version == "1.0"
    assert Settings.from_mapping({"OUTREACH_API_VERSION": "v2"}).api_version == "2"
    assert Settings.from_mapping({"OUTREACH_API_VERSION": "2"}).api_version == "2"
    with pytest.raises(SettingsError, match="OUTREACH_API_VERSION"):
        Settings.from_mapping({"OUTREACH_API_VERSION": "3"})


V2_GRANT = ["calls.read", "calls.write", "users.read", "callDispositions.read",
            "callPurposes.read"]


def oauth_settings(sandbox, refresh_token: str, tmp_path, **extra: str) -> Settings:
    """Settings of an OAuth app of the sandbox, on the sandbox's clock."""
    return Settings.from_mapping({
        "OUTREACH_API_BASE": sandbox.base_url, "OUTREACH_CLIENT_ID": sandbox.client_id,
        "OUTREACH_CLIENT_SECRET": sandbox.client_secret, "OUTREACH_REFRESH_TOKEN": refresh_token,
        "CALLBOARD_CACHE_DB": str(tmp_path / "calls.sqlite"),
        "CALLBOARD_NOW": pinned_now(sandbox), **extra})


def test_the_sandbox_grants_v2_scope_names_to_an_app_that_asks_for_them(sandbox):
    tokens = refresh_token_for(sandbox, V2_GRANT)
    assert tokens["scope"].split() == V2_GRANT
    v1, v2 = clients(sandbox, tokens["access_token"])
    assert len(v2.list_purposes()) == len(v1.list_purposes()) == 5  # good on both versions
    read_only = refresh_token_for(sandbox, ["calls.read"])
    with pytest.raises(MissingScope) as info:
        clients(sandbox, read_only["access_token"])[1].list_users()
    assert info.value.scope == "users.read"


def test_auto_speaks_v2_when_the_oauth_grant_names_v2_scopes_and_no_1_0_ones(
        sandbox, tmp_path, caplog):
    v2_grant = refresh_token_for(sandbox, V2_GRANT)["refresh_token"]
    with caplog.at_level(logging.INFO, logger="lib.store.opening"):
        source = open_source(oauth_settings(sandbox, v2_grant, tmp_path))
    assert "calls.read" in caplog.text and "speaking API v2" in caplog.text  # why, in the log
    assert v2_grant not in caplog.text
    assert source.client.dialect == V2Dialect()
    assert source.description.startswith("the Outreach API 2 at")
    assert source.client.auth.granted_scopes == frozenset(V2_GRANT)
    assert len(source.list_calls(*utc_day(WORKDAY))) > 0  # every rep's calls
    # Names of neither version (OpenID's) beside v2's: still v2.
    with_profile = refresh_token_for(sandbox, ["profile", "email", *V2_GRANT])
    assert with_profile["scope"].split()[-2:] == ["email", "profile"]
    assert open_source(oauth_settings(sandbox, with_profile["refresh_token"],
                                      tmp_path)).client.dialect == V2Dialect()

    # 1.0 names, the sandbox's own grant: 1.0. The setting, when given, is obeyed.
    v1_grant = refresh_token_for(sandbox, list(ALL_SCOPES))["refresh_token"]
    assert open_source(oauth_settings(sandbox, v1_grant, tmp_path)).client.dialect == \
        V1Dialect()
    pinned = oauth_settings(sandbox, v2_grant, tmp_path, OUTREACH_API_VERSION="1.0")
    assert open_source(pinned).client.dialect == V1Dialect()
    # A pasted token tells nothing about itself: 1.0, and no request is made to find out.
    sandbox.reset_request_count()
    pasted = Settings.from_mapping({"OUTREACH_API_BASE": sandbox.base_url,
                                    "OUTREACH_ACCESS_TOKEN": sandbox.full_token})
    assert open_source(pasted).client.dialect == V1Dialect()
    assert sandbox.request_count == 0


def test_auto_with_a_refused_refresh_token_says_so_rather_than_guess(sandbox, tmp_path):
    refused = refresh_token_for(sandbox, V2_GRANT)["refresh_token"]
    sandbox.revoke(refused)
    with pytest.raises(NotAuthorised, match="renew the access token"):
        open_source(oauth_settings(sandbox, refused, tmp_path))


@pytest.mark.parametrize(("scopes", "v2"), [
    (V2_GRANT, True), (["calls.read"], True), (list(ALL_SCOPES), False),
    (["calls.read", "read_users"], False), ([], False), (None, False),
    (["profile", "email", "offline_access", "calls.read", "users.read"], True),
    (["profile", "email"], False), (["profile", "read_calls"], False)])
def test_which_scope_names_mean_v2(scopes, v2):
    assert names_v2_scopes(scopes) is v2


def test_the_overview_is_the_same_on_both_versions(sandbox, tmp_path):
    summaries, cold_requests = [], []
    for version in ("1.0", "2"):
        settings = Settings.from_mapping({
            "OUTREACH_API_BASE": sandbox.base_url, "OUTREACH_ACCESS_TOKEN": sandbox.full_token,
            "OUTREACH_API_VERSION": version,
            "CALLBOARD_CACHE_DB": str(tmp_path / f"calls-{version}.sqlite"),
            "CALLBOARD_NOW": pinned_now(sandbox),  # the source's "today" is the sandbox's
        })
        source = open_source(settings)
        assert source.client.dialect.version == version
        # Two weeks of the pinned history ending three days before NOW: closed days only, so
        # the store keeps them.
        end = NOW.date() - timedelta(days=3)
        start, tz = end - timedelta(days=13), "America/Chicago"
        previous = figures.previous_period(start, end)
        client = source.client
        users = client.list_users()
        sandbox.reset_request_count()
        current = source.list_calls(*utc_bounds(start, end, tz))
        cold_requests.append(sandbox.request_count)
        built = overview.build_overview(
            current,
            source.list_calls(*utc_bounds(*previous, tz)),
            users, client.list_dispositions(), users["id"].tolist(), start, end, tz)
        summaries.append(overview.summary(built, start, end, tz, users["id"].tolist()))
        # A second read comes from the store on v2 too: closed days are not asked again.
        sandbox.reset_request_count()
        warm = source.list_calls(*utc_bounds(start, end, tz))
        assert sandbox.request_count == 0
        # With everything it was read with, v2's own columns too.
        assert warm.equals(current) and ("answered_at" in warm) == (version == "2")
        source.close()
    assert summaries[0]["calls"] > 500
    assert "answers" not in summaries[0]  # absent on 1.0, not zero
    answers = summaries[1].pop("answers")
    # Conversations differ by design: on v2 a connect talked at least 60 s, on 1.0 the mapping.
    talks = [conversations_of(summary) for summary in summaries]
    assert summaries[1] == summaries[0]

    # v2's own figures, by hand from the sandbox's v2 records of those local days.
    low, high = utc_bounds(start, end, tz)
    outcomes: dict[str, int] = {}
    talk: dict[str, dict[str, dict]] = {"user": {}, "callDisposition": {}}
    for record in sandbox.all_calls("2"):
        sent = record["attributes"]
        if not low <= datetime.fromisoformat(sent["createdAt"]) < high:
            continue
        if sent["outcome"] is not None:  # no disposition logged: outcome unknown, not counted
            outcomes[sent["outcome"]] = outcomes.get(sent["outcome"], 0) + 1
        if sent["answeredAt"]:
            seconds = (datetime.fromisoformat(sent["completedAt"])
                       - datetime.fromisoformat(sent["answeredAt"])).total_seconds()
            for kind, totals in talk.items():
                related = record["relationships"][kind]["data"]
                if related is None:
                    continue
                entry = totals.setdefault(str(related["id"]), {"talked": 0, "total_s": 0.0})
                entry["talked"] += 1
                entry["total_s"] += seconds
    assert answers["by_outcome"] == outcomes
    assert answers["answer_rate"] == outcomes["Answered"] / sum(outcomes.values())
    for kind, key in (("user", "talk_by_user"), ("callDisposition", "talk_by_disposition")):
        assert talk[kind], kind  # the data has talk time to check
        assert answers[key] == {
            id_: {"talked": entry["talked"], "total_s": round(entry["total_s"], 3)}
            for id_, entry in talk[kind].items()}
    # One day a query on v2 (a cursor cannot be read in parallel), at most one page a day here.
    assert cold_requests[1] <= 15 < cold_requests[0]
    # v2's conversations by hand: outbound, an Answered disposition, talked 60 s or more.
    from lib.sandbox.data import ANSWERED_IDS

    long_talks = 0
    for record in sandbox.all_calls("2"):
        sent = record["attributes"]
        disposition = record["relationships"]["callDisposition"]["data"]
        if (low <= datetime.fromisoformat(sent["createdAt"]) < high
                and sent["direction"] == "outbound" and disposition is not None
                and int(disposition["id"]) in ANSWERED_IDS and sent["answeredAt"]
                and (datetime.fromisoformat(sent["completedAt"])
                     - datetime.fromisoformat(sent["answeredAt"])).total_seconds() >= 60):
            long_talks += 1
    assert talks[1]["conversations"] == long_talks
    assert talks[1]["conversation_rate"]["numerator"] == long_talks
    assert talks[0]["outcome_mapping"] == "by the mapping"
    assert talks[1]["outcome_mapping"] == "connected and talked at least 60 s"


def test_the_dashboard_shows_the_same_cards_on_both_versions_and_answers_only_on_v2(
        sandbox, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from lib.display.filters import today_in
    from lib.outreach.records import calls_frame
    from lib.sandbox.data import ANSWERED_IDS
    from tests.apptest_tools import ROOT, TZ, set_app_env

    # The app's "today" is the sandbox's.
    set_app_env(monkeypatch, sandbox.base_url, sandbox.full_token, tmp_path / "sandbox.sqlite",
                now=pinned_now(sandbox))
    shown, captions = {}, {}
    for version in ("1.0", "2"):
        monkeypatch.setenv("OUTREACH_API_VERSION", version)
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        app.run()
        assert not app.exception and not app.error
        shown[version] = {m.label: (m.value, m.delta) for m in app.metric}
        captions[version] = [c.value for c in app.caption]
    assert "Answer rate" not in shown["1.0"]  # absent on 1.0, not zero
    answer = shown["2"].pop("Answer rate")
    for differs in ("Conversation rate", "Positive rate"):  # v2 counts talk time (see above)
        for version in shown:
            shown[version] = {label: value for label, value in shown[version].items()
                              if not label.startswith(differs)}
    assert shown["2"] == shown["1.0"]

    # By hand from the sandbox's records: the outcome follows the disposition's.
    calls = calls_frame(sandbox.all_calls())
    day = calls["created_at"].dt.tz_convert(TZ).dt.date
    today = today_in(TZ, sandbox.clock.now())
    current = calls[(day >= today - timedelta(days=29)) & (day <= today)]
    known = current["disposition_id"].dropna()
    assert len(known) > 0
    answered = int(known.isin(ANSWERED_IDS).sum())
    assert answer[0] == f"{100 * answered / len(known):.1f}%"
    assert f"{answered:,} Answered · {len(known) - answered:,} Not Answered" in captions["2"]


@pytest.mark.parametrize("size", [0, 1001])
def test_a_v2_page_size_outside_1_to_1000_is_refused(sandbox, size):
    with pytest.raises(ValueError, match="page_size"):
        V2Dialect(page_size=size)
