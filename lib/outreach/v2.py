"""How API v2 spells things (V2Dialect): JSON:API at /api/v2, createdAt ranges, cursor pages
of up to 1000 through links.next, records translated for lib.outreach.records plus v2's own
call fields, dotted scopes."""

# A cursor walk is sequential by nature, so a v2 read's concurrency comes from its queries
# (days) going side by side; with 1000-call pages a quarter of a 25-rep team is ~70 requests,
# not 1,300. Chosen reps share one query per window: filter[user][id] takes a comma list.

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import pandas as pd

from lib.frames import CALL_DTYPES_V2, frame_from_rows
from lib.outreach import records
from lib.outreach.answers import field_of, pointer_parts
from lib.outreach.dialect import NextPages
from lib.outreach.errors import UnexpectedResponse
from lib.outreach.prospects import ProspectFilter, prospect_v2
from lib.outreach.records import as_object, parse_call, parse_timestamp, relationship_id
from lib.outreach.values import ApiInfo, NewCall

V2_PAGE_SIZE = 1000  # v2's maximum
_V2_SCOPE = re.compile(r"\b([a-z][A-Za-z]*\.(?:read|write|delete|all))\b")
_V1_SCOPE = re.compile(r"(?:read|create|update|delete)_[a-z_]+")
# A v2 validation pointer's last names -> the 1.0 field names the form and messages know.
_V2_FIELDS = {"direction": "outbound", "callPurpose": "purpose",
              "callDisposition": "disposition", "prospect": "prospect"}
# 1.0's names of a call's relations -> v2's.
_RELATIONS = (("user", "user"), ("purpose", "callPurpose"),
              ("disposition", "callDisposition"), ("prospect", "prospect"))


def names_v2_scopes(scopes: Iterable[str] | None) -> bool:
    """True when these granted scopes name v2 resources (`calls.read`) and no 1.0 ones
    (`read_calls`): credentials made for v2. Names of neither kind (`profile`, `email`,
    `offline_access`) say nothing either way. False for 1.0 names, a mix, or nothing known."""
    names = list(scopes or ())
    return (any(_V2_SCOPE.fullmatch(name) for name in names)
            and not any(_V1_SCOPE.fullmatch(name) for name in names))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def call_as_v1(record: Any) -> dict[str, Any]:
    """A v2 call record in the 1.0 shape lib.outreach.records.parse_call reads."""
    if not isinstance(record, Mapping):
        raise UnexpectedResponse("A call record is not a JSON object.")
    attributes = as_object(record.get("attributes"))
    direction = attributes.get("direction")
    outbound = {"outbound": True, "inbound": False}.get(direction) if isinstance(
        direction, str) else None
    return {
        "id": record.get("id"),
        "attributes": {
            "connection": {"outbound": outbound, "from": attributes.get("from"),
                           "to": attributes.get("to")},
            "metadata": {"created": attributes.get("createdAt"), "note": attributes.get("note"),
                         "updated": attributes.get("updatedAt")},
        },
        "relationships": {v1: {"data": {"id": relationship_id(record, v2)}}
                          for v1, v2 in _RELATIONS},
    }


def _time_or_none(value: Any) -> datetime | None:
    # A missing or unreadable v2-only time means "unknown": the call then has no talk time,
    # rather than failing a whole read over a field 1.0 does without.
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except (TypeError, ValueError, UnexpectedResponse):
        return None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def call_row(record: Any) -> dict[str, Any]:
    """A v2 call record as a parsed row: records.parse_call's columns and V2_CALL_DTYPES'."""
    row = parse_call(call_as_v1(record))
    attributes = as_object(record.get("attributes"))
    row.update(
        outcome=_text_or_none(attributes.get("outcome")),
        state=_text_or_none(attributes.get("state")),
        dialed_at=_time_or_none(attributes.get("dialedAt")),
        answered_at=_time_or_none(attributes.get("answeredAt")),
        completed_at=_time_or_none(attributes.get("completedAt")),
    )
    return row


def calls_frame_v2(records: Iterable[Any]) -> pd.DataFrame:
    """The calls frame of raw v2 call records, with the v2 columns."""
    return frame_from_rows((call_row(record) for record in records), CALL_DTYPES_V2)


def _user_as_v1(record: Any) -> Any:
    if not isinstance(record, Mapping):
        return record
    attributes = as_object(record.get("attributes"))
    return {"id": record.get("id"), "attributes": {
        "first_name": attributes.get("firstName"), "last_name": attributes.get("lastName"),
        "email": attributes.get("email")}}


@dataclass(frozen=True)
class V2Dialect:
    """The Outreach API v2 (lib.outreach.dialect.Dialect). `page_size`: records a page, 1 to
    1000 (v2's maximum and the default; smaller pages only cost more requests, which tests use
    to make a small read take many)."""

    version: ClassVar[str] = "2"
    media_type: ClassVar[str] = "application/vnd.api+json"
    prefix: ClassVar[str] = "/api/v2"
    resources: ClassVar[Mapping[str, str]] = {
        "calls": "calls", "users": "users", "dispositions": "callDispositions",
        "purposes": "callPurposes", "prospects": "prospects"}
    pages_in_parallel: ClassVar[bool] = False  # a cursor: each page names the next
    call_dtypes: ClassVar[Mapping[str, str]] = CALL_DTYPES_V2  # outcome and times ride along
    has_info: ClassVar[bool] = False  # no "who am I" route: user and scopes stay unknown
    scope_pattern: ClassVar[re.Pattern[str]] = _V2_SCOPE

    page_size: int = V2_PAGE_SIZE

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= V2_PAGE_SIZE:
            raise ValueError(f"page_size must be from 1 to {V2_PAGE_SIZE}.")

    # filter[user][id]=1,2,3: v2 filters take a comma list. Outreach documents no longest
    # list; a hundred ids keep the URL well under a kilobyte.
    users_per_query: ClassVar[int] = 100
    reads_changes: ClassVar[bool] = True  # filter[updatedAt] with sort=updatedAt

    def window_params(self, after: datetime | None, before: datetime,
                      user_ids: Sequence[int] | None) -> dict[str, str]:
        low = "neginf" if after is None else _iso(after)
        params = {"filter[createdAt]": f"{low}..{_iso(before)}"}
        if user_ids is not None:
            if not 1 <= len(user_ids) <= self.users_per_query:
                raise ValueError(f"A v2 calls query filters by 1 to {self.users_per_query} "
                                 "users.")
            params["filter[user][id]"] = ",".join(str(uid) for uid in user_ids)
        return params

    def changes_params(self, since: datetime) -> dict[str, str]:
        # Ties on updatedAt are ordered by id (the sandbox's rule; the live API's is not
        # documented), so a bookmark resumes with an overlap rather than exactly.
        return {"filter[updatedAt]": f"{_iso(since)}..inf", "sort": "updatedAt"}

    def page_params(self, params: Mapping[str, str], number: int) -> dict[str, str]:
        if number != 1:
            raise ValueError("A v2 cursor's later pages are reached through links.next only.")
        return {**params, "page[size]": str(self.page_size), "count": "false"}

    def next_pages(self, body: Mapping[str, Any], data: list[Any], params: Mapping[str, str],
                   number: int) -> NextPages:
        link = as_object(body.get("links")).get("next")
        return NextPages(follow=str(link) if link else None)

    call_row = staticmethod(call_row)
    prospect = staticmethod(prospect_v2)

    def prospect_params(self, wanted: ProspectFilter) -> dict[str, str]:
        names = (("filter[firstName]", wanted.first), ("filter[lastName]", wanted.last),
                 ("filter[emails]", wanted.email))
        return {name: value for name, value in names if value is not None}
    dispositions_frame = staticmethod(records.dispositions_frame)
    purposes_frame = staticmethod(records.purposes_frame)

    def users_frame(self, found: Iterable[Any]) -> pd.DataFrame:
        return records.users_frame(_user_as_v1(record) for record in found)

    def info(self, body: Mapping[str, Any]) -> ApiInfo:
        return ApiInfo.unknown()

    def create_body(self, new: NewCall) -> dict[str, Any]:
        legacy = new.to_body()["data"]["attributes"]  # checked as 1.0's is
        connection = legacy["connection"]
        attributes: dict[str, Any] = {"direction": "outbound" if new.outbound else "inbound"}
        for key in ("from", "to"):
            if key in connection:
                attributes[key] = connection[key]
        if new.note is not None:
            attributes["note"] = new.note
        relationships = {v2: {"data": {"type": v2, "id": int(legacy[v1]["id"])}}
                         for v1, v2 in _RELATIONS if v1 in legacy}
        return {"data": {"type": "call", "attributes": attributes,
                         "relationships": relationships}}

    def scope_name(self, resource: str, write: bool) -> str:
        return f"{resource}.{'write' if write else 'read'}"

    def error_field(self, error: Mapping[str, Any]) -> str | None:
        """As 1.0's, but "/data/relationships/callDisposition/data/id" names the relation, and
        v2's names are told in 1.0's ("direction" -> "outbound")."""
        field = field_of(error)
        if field is None:
            return None
        names = [part for part in pointer_parts(error) if part not in ("data", "id")]
        field = names[-1] if names else field
        return _V2_FIELDS.get(field, field)
