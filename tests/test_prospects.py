"""Finding a prospect by name or e-mail: the questions a typed text stands for, the sandbox's
prospect routes on 1.0 and v2, and OutreachClient.find_prospects against them over loopback."""

from __future__ import annotations

import pytest
import requests

from lib.outreach import MissingScope, OutreachClient, StaticToken, V2Dialect
from lib.outreach.prospects import ProspectFilter, prospect_filters, prospect_v1, prospect_v2
from lib.sandbox import start_sandbox
from lib.sandbox.prospects import COMPANIES
from tests.conftest import SANDBOX_OPTIONS, no_sleep


def _client(sandbox, token=None, v2=False) -> OutreachClient:
    return OutreachClient(sandbox.base_url, StaticToken(token or sandbox.full_token),
                          dialect=V2Dialect() if v2 else None, sleep=no_sleep)


def _namesakes(sandbox, first: str, last: str) -> list[int]:
    """The test's own answer: every seeded prospect of that name, ids in order."""
    return sorted(p.id for p in sandbox.prospects()
                  if p.first_name.casefold() == first.casefold()
                  and p.last_name.casefold() == last.casefold())


# ----- what a typed text asks -----

@pytest.mark.parametrize(("typed", "asked"), [
    ("", []),
    ("  a ", []),  # one letter would match nearly everyone
    ("Maya", [ProspectFilter(first="Maya"), ProspectFilter(last="Maya")]),
    ("  maya   okafor ", [ProspectFilter(first="maya", last="okafor"),
                          ProspectFilter(last="maya okafor")]),
    ("Okafor, Maya", [ProspectFilter(first="Maya", last="Okafor")]),
    ("Okafor,", [ProspectFilter(first="Okafor"), ProspectFilter(last="Okafor")]),
    ("Ana de la Cruz", [ProspectFilter(first="Ana", last="de la Cruz"),
                        ProspectFilter(first="Ana de la", last="Cruz"),
                        ProspectFilter(last="Ana de la Cruz")]),
    ("Maya.Okafor@Acme.example", [ProspectFilter(email="Maya.Okafor@Acme.example")]),
    (" maya.okafor @acme.example", [ProspectFilter(email="maya.okafor@acme.example")]),
])
def test_a_typed_text_stands_for_whole_value_questions(typed, asked):
    assert prospect_filters(typed) == asked


def test_records_of_both_versions_read_alike():
    v1 = {"id": "42", "type": "prospect", "attributes": {
        "personal": {"name": {"first": "Maya ", "last": "Okafor"}, "title": "CFO"},
        "contact": {"email": "maya@acme.example", "phone": {"work": None, "mobile": "+15550001"},
                    "timezone": "America/Chicago"},
        "company": {"name": "Acme"}}, "relationships": {"owner": {"data": {"id": 5}}}}
    v2 = {"id": 42, "type": "prospect", "attributes": {
        "firstName": "Maya", "lastName": "Okafor", "emails": ["", "maya@acme.example"],
        "company": "Acme", "title": "CFO", "workPhones": [], "mobilePhones": ["+15550001"],
        "timeZone": "America/Chicago"},
        "relationships": {"owner": {"data": {"type": "user", "id": "5"}}}}
    one, two = prospect_v1(v1), prospect_v2(v2)
    assert one == two
    assert (one.id, one.name, one.email, one.company, one.title, one.phone, one.timezone,
            one.owner_id) == (42, "Maya Okafor", "maya@acme.example", "Acme", "CFO",
                              "+15550001", "America/Chicago", 5)
    assert prospect_v2({"id": 7, "attributes": {"emails": ["x@y.example"]}}).name == "x@y.example"
    assert prospect_v1({"id": 8}).name == "Prospect 8"


# ----- the sandbox serves realistic prospects -----

def test_the_sandbox_prospects_are_the_people_its_calls_were_made_to(sandbox):
    prospects = {p.id: p for p in sandbox.prospects()}
    assert len(prospects) > 1000
    called = [c["attributes"] for c in sandbox.all_calls()
              if c["attributes"]["prospect"]["id"] is not None][:500]
    assert called
    for call in called:
        prospect = prospects[call["prospect"]["id"]]
        connection = call["connection"]
        # The number dialled (or that called in) is the prospect's own.
        assert prospect.phone == (connection["to"] if connection["outbound"]
                                  else connection["from"])
        assert prospect.owner_id == call["user"]["id"]
    emails = [p.email for p in prospects.values()]
    assert len(set(emails)) == len(emails)
    domains = {domain for _, domain in COMPANIES}
    assert all(e.split("@")[1] in domains and e.endswith(".example") for e in emails)
    assert all(p.first_name and p.last_name and p.company and p.title for p in prospects.values())


def test_the_sandbox_prospects_do_not_change_the_seeded_calls():
    # Naming the prospects draws from streams of their own: a sandbox of the same seed holds
    # exactly the same calls with or without a prospect asked.
    options = {**SANDBOX_OPTIONS, "days": 3}
    with start_sandbox(port=0, **options) as first, start_sandbox(port=0, **options) as second:
        first.prospects()
        assert first.all_calls() == second.all_calls()
        assert first.prospects() == second.prospects()


def test_the_1_0_route_filters_by_whole_names_and_e_mail(sandbox):
    target = sandbox.prospects()[3]
    url, auth = f"{sandbox.base_url}/1.0/prospects", {
        "Authorization": f"Bearer {sandbox.full_token}"}
    answer = requests.get(url, headers=auth, timeout=10, params={
        "filter[personal/name/first]": target.first_name.upper(),
        "filter[personal/name/last]": target.last_name})
    assert answer.status_code == 200
    body = answer.json()
    assert [r["id"] for r in body["data"]] == _namesakes(sandbox, target.first_name,
                                                          target.last_name)
    assert body["meta"]["results"]["total"] == len(body["data"])
    record = next(r for r in body["data"] if r["id"] == target.id)
    assert record["attributes"]["contact"]["email"] == target.email
    assert record["attributes"]["company"]["name"] == target.company

    by_mail = requests.get(url, headers=auth, timeout=10,
                           params={"filter[contact/email]": target.email}).json()
    assert [r["id"] for r in by_mail["data"]] == [target.id]
    partial = requests.get(url, headers=auth, timeout=10,
                           params={"filter[personal/name/last]": target.last_name[:-1]}).json()
    assert not any(r["attributes"]["personal"]["name"]["last"] == target.last_name
                   for r in partial["data"])
    one = requests.get(f"{url}/{target.id}", headers=auth, timeout=10)
    assert one.json()["data"]["id"] == target.id
    assert requests.get(f"{url}/99", headers=auth, timeout=10).status_code == 404
    typo = requests.get(url, headers=auth, timeout=10, params={"filter[name]": "x"})
    assert typo.status_code == 400


def test_the_routes_need_the_prospect_scope(sandbox):
    token = sandbox.issue_token(["read_calls", "read_users"], ttl=600)
    auth = {"Authorization": f"Bearer {token}"}
    v1 = requests.get(f"{sandbox.base_url}/1.0/prospects", headers=auth, timeout=10)
    v2 = requests.get(f"{sandbox.base_url}/api/v2/prospects", timeout=10,
                      headers={**auth, "Accept": "application/vnd.api+json"})
    assert (v1.status_code, v2.status_code) == (403, 403)
    assert "read_prospects" in v1.text and "prospects.read" in v2.text


# ----- the client -----

def test_find_prospects_by_name_finds_every_namesake_in_name_order(sandbox):
    target = sandbox.prospects()[10]
    for typed in (f"{target.first_name} {target.last_name}",
                  f"{target.last_name.lower()}, {target.first_name.lower()}"):
        found = _client(sandbox).find_prospects(typed)
        assert sorted(p.id for p in found.prospects) == _namesakes(
            sandbox, target.first_name, target.last_name)
        assert not found.more
        shown = next(p for p in found.prospects if p.id == target.id)
        assert (shown.email, shown.company, shown.phone, shown.timezone) == (
            target.email, target.company, target.phone, target.timezone)
        companies = [(p.company or "").casefold() for p in found.prospects]
        assert companies == sorted(companies)  # namesakes told apart by company


def test_find_prospects_by_e_mail_and_on_v2(sandbox):
    target = sandbox.prospects()[20]
    for v2 in (False, True):
        client = _client(sandbox, v2=v2)
        assert [p.id for p in client.find_prospects(target.email).prospects] == [target.id]
        by_name = client.find_prospects(f"{target.first_name} {target.last_name}")
        assert target.id in [p.id for p in by_name.prospects]


def test_a_common_first_name_is_cut_and_says_there_are_more(sandbox):
    first = sandbox.prospects()[0].first_name
    everyone = [p for p in sandbox.prospects()
                if first.casefold() in (p.first_name.casefold(), p.last_name.casefold())]
    assert len(everyone) > 20
    found = _client(sandbox).find_prospects(first, limit=20)
    assert len(found.prospects) == 20 and found.more
    names = [(p.last_name.casefold(), p.first_name.casefold()) for p in found.prospects]
    assert names == sorted(names)


def test_a_short_text_asks_nothing(sandbox):
    sandbox.reset_request_count()
    found = _client(sandbox).find_prospects(" x ")
    assert found.prospects == () and not found.more
    assert sandbox.request_count == 0


def test_a_token_without_the_scope_is_told_which(sandbox):
    token = sandbox.issue_token(["read_calls"], ttl=600)
    with pytest.raises(MissingScope) as caught:
        _client(sandbox, token).find_prospects("Maya")
    assert caught.value.scope == "read_prospects"
    assert token not in str(caught.value)
