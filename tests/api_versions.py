"""The two API versions as tests see them: what differs (client class, scope names, page size),
the sandbox's own calls as the expected answer, and clients and tokens of the sandbox.

The `api` fixture (tests/conftest.py) runs a test once per version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from lib.outreach import Dialect, OutreachClient, StaticToken, V1Dialect, V2Dialect
from lib.sandbox.data import OWNER_USER_ID
from lib.sandbox.state import V2_SCOPES
from tests.conftest import no_sleep
from tests.expected_calls import expected_calls

ALL_SCOPES = ["read_calls", "create_calls", "read_users", "read_call_dispositions",
              "read_call_purposes", "read_prospects"]


def expected(sandbox, after=None, before=None, users=None, version="1.0"):
    """The sandbox's calls in [after, before) of those users, from its own raw records of that
    version (v2's with their extra columns), read by the test's own code
    (tests/expected_calls.py), never by the client's parser."""
    return expected_calls(sandbox, after, before, users, version)


@dataclass(frozen=True)
class Api:
    """What differs between the two versions, as far as these tests need to know."""

    version: str
    dialect: Dialect  # what its clients speak, by default
    purposes_path: str  # the route of list_purposes, a one-request read on both versions
    page_size: int  # the client's default records a page
    scope_names: dict[str, str] = field(default_factory=dict)  # 1.0 name -> this version's
    # Client options that make a read take one request per 50 calls, as 1.0 always does:
    # tests of faults and rate limits need many requests from a small read.
    pages_of_50: dict[str, Dialect] = field(default_factory=dict)

    def client(self, base_url: str, auth, **options) -> OutreachClient:
        """A client speaking this version (OutreachClient's options; a `dialect` among them
        replaces the default one)."""
        return OutreachClient(base_url, auth, **{"dialect": self.dialect, **options})

    def scope(self, v1_name: str) -> str:
        return self.scope_names.get(v1_name, v1_name)

    def expected(self, sandbox, after=None, before=None, users=None):
        return expected(sandbox, after, before, users, self.version)

    def pages(self, calls: int) -> int:
        return max(1, -(-calls // self.page_size))


API_1_0 = Api("1.0", V1Dialect(), "/1.0/call_purposes", 50)
API_2 = Api("2", V2Dialect(), "/api/v2/callPurposes", 1000,
            {v1: v2 for v2, v1 in V2_SCOPES.items()}, {"dialect": V2Dialect(page_size=50)})


def fresh_client(sandbox, api: Api, token=None, **options) -> OutreachClient:
    options.setdefault("sleep", no_sleep)
    options.setdefault("clock", sandbox.clock.now)
    return api.client(sandbox.base_url, StaticToken(token or sandbox.full_token), **options)


def own_token(sandbox, scopes=ALL_SCOPES, ttl=3600) -> str:
    # A token of its own gives a test its own rate window, and may be revoked freely.
    return sandbox.issue_token(list(scopes), ttl)


def refresh_token_for(sandbox, scopes: list[str], user_id: int = OWNER_USER_ID) -> dict:
    """An OAuth app's first exchange: a code that this user granted these scope names, for
    tokens."""
    code = sandbox.issue_code(scopes, user_id)
    answer = requests.post(f"{sandbox.base_url}/oauth/token", data={
        "grant_type": "authorization_code", "code": code,
        "client_id": sandbox.client_id, "client_secret": sandbox.client_secret}, timeout=10)
    assert answer.status_code == 200
    return answer.json()
