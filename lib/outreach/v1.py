"""How API 1.0 spells things (V1Dialect): /1.0 routes, whole-minute created filters, numbered
pages of 50 read side by side, JSON records parsed by lib.outreach.records, snake_case scopes."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from lib.frames import CALL_DTYPES
from lib.outreach import records
from lib.outreach.answers import field_of
from lib.outreach.dialect import NextPages
from lib.outreach.errors import UnexpectedResponse
from lib.outreach.prospects import ProspectFilter, prospect_v1
from lib.outreach.records import as_object, to_id
from lib.outreach.values import ApiInfo, NewCall
from lib.outreach.windows import format_api_time

PAGE_SIZE = 50  # the 1.0 maximum


@dataclass(frozen=True)
class V1Dialect:
    """The Outreach API 1.0 (lib.outreach.dialect.Dialect)."""

    version: ClassVar[str] = "1.0"
    media_type: ClassVar[str] = "application/json"
    prefix: ClassVar[str] = "/1.0"
    resources: ClassVar[Mapping[str, str]] = {
        "calls": "calls", "users": "users", "dispositions": "call_dispositions",
        "purposes": "call_purposes", "prospects": "prospects"}
    pages_in_parallel: ClassVar[bool] = True  # page[number]: once page 1 tells how many
    call_dtypes: ClassVar[Mapping[str, str]] = CALL_DTYPES
    has_info: ClassVar[bool] = True
    scope_pattern: ClassVar[re.Pattern[str]] = re.compile(
        r"\b((?:read|create|update|delete|write)_[a-z_]+)\b")

    users_per_query: ClassVar[int] = 1  # filter[user/id] takes one user
    reads_changes: ClassVar[bool] = False  # no filter on updated

    def changes_params(self, since: datetime) -> None:
        return None  # 1.0 has no updated filter: a sync re-reads recent days whole instead

    def window_params(self, after: datetime | None, before: datetime,
                      user_ids: Sequence[int] | None) -> dict[str, str]:
        params: dict[str, str] = {}
        if after is not None:
            params["filter[metadata/created/after]"] = format_api_time(after)
        params["filter[metadata/created/before]"] = format_api_time(before)
        if user_ids is not None:
            if len(user_ids) != 1:
                raise ValueError("An API 1.0 calls query filters by one user.")
            params["filter[user/id]"] = str(user_ids[0])
        return params

    def page_params(self, params: Mapping[str, str], number: int) -> dict[str, str]:
        return {**params, "page[number]": str(number), "page[size]": str(PAGE_SIZE)}

    def next_pages(self, body: Mapping[str, Any], data: list[Any], params: Mapping[str, str],
                   number: int) -> NextPages:
        """The last page's number from meta.page.maximum, else from meta.results.total; without
        meta, the next page while links.next says so (or, without links, the page was full)."""
        meta = as_object(body.get("meta"))
        paging, results = as_object(meta.get("page")), as_object(meta.get("results"))
        last = to_id(paging.get("maximum"))
        if last is None:
            total = to_id(results.get("total"))
            entries = to_id(paging.get("entries")) or PAGE_SIZE
            if total is not None and entries > 0:
                last = max(1, math.ceil(total / entries))
        if last is not None:
            return NextPages(last=last)
        links = body.get("links")
        more = bool(links.get("next")) if isinstance(links, Mapping) and links else \
            len(data) >= PAGE_SIZE
        return NextPages(follow=self.page_params(params, number + 1) if data and more else None)

    call_row = staticmethod(records.parse_call)
    prospect = staticmethod(prospect_v1)

    def prospect_params(self, wanted: ProspectFilter) -> dict[str, str]:
        names = (("filter[personal/name/first]", wanted.first),
                 ("filter[personal/name/last]", wanted.last),
                 ("filter[contact/email]", wanted.email))
        return {name: value for name, value in names if value is not None}
    users_frame = staticmethod(records.users_frame)
    dispositions_frame = staticmethod(records.dispositions_frame)
    purposes_frame = staticmethod(records.purposes_frame)

    def info(self, body: Mapping[str, Any]) -> ApiInfo:
        meta = body.get("meta")
        if not isinstance(meta, Mapping):
            raise UnexpectedResponse("GET /1.0/info answered without meta.")
        user, api = as_object(meta.get("user")), as_object(meta.get("api"))
        counters = as_object(api.get("requests"))
        permissions = api.get("permissions")
        if isinstance(permissions, str):
            permissions = permissions.split()
        if not isinstance(permissions, list):
            permissions = []
        email = user.get("email")
        # (P) The org, under meta.org (id, else name, else shortname); unknown when absent.
        org = as_object(meta.get("org"))
        org_name = next((str(org[key]) for key in ("id", "name", "shortname")
                         if isinstance(org.get(key), (str, int)) and str(org[key]).strip()),
                        None)
        return ApiInfo(
            org=org_name,
            email=email if isinstance(email, str) else None,
            user_id=to_id(user.get("id")),
            scopes=frozenset(str(scope) for scope in permissions),
            requests_current=to_id(counters.get("current")),
            requests_maximum=to_id(counters.get("maximum")),
        )

    def create_body(self, new: NewCall) -> dict[str, Any]:
        return new.to_body()

    def scope_name(self, resource: str, write: bool) -> str:
        return f"{'create' if write else 'read'}_{resource}"

    def error_field(self, error: Mapping[str, Any]) -> str | None:
        return field_of(error)
