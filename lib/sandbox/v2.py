"""The sandbox's API v2 (JSON:API at /api/v2): records, filters (createdAt and updatedAt ranges;
a user filter takes a comma list, as v2's do), sorts and cursor paging, same data.

An OAuth app may ask for 1.0 or v2 scope names and is told the names it asked for; inside, each
v2 scope stands for its 1.0 twin (lib.sandbox.state.V2_SCOPES), so one token works on both
versions, and a v2 403 names the v2 scope. v2-only call fields (direction, outcome, state and
the dialed/answered/completed times) are derived from each call's row, the same on every start,
without changing any 1.0 answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from .data import ANSWERED_IDS, DISPOSITIONS, CallRow, User
from .prospects import Prospect
from .state import format_ms
from .validation import parse_new_call

MAX_V2_PAGE_SIZE = 1000
DEFAULT_V2_PAGE_SIZE = 50
V2_CONTENT_TYPE = "application/vnd.api+json"

_OUTCOMES = {d[0]: d[3] for d in DISPOSITIONS}


class V2Error(Exception):
    """An error answer in v2's JSON:API `errors` form."""

    def __init__(self, status: int, title: str, detail: str, source: dict | None = None) -> None:
        super().__init__(detail)
        self.status = status
        entry: dict = {"status": str(status), "title": title, "detail": detail}
        if source:
            entry["source"] = source
        self.errors = [entry]


def _ms_text(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)


def call_times(row: CallRow) -> tuple[int, int | None, int]:
    """(dialedAt, answeredAt or None, completedAt) in ms: the call is logged as it completes;
    ring and talk seconds come from the id, so they are the same on every start."""
    answered = row.disposition_id in ANSWERED_IDS
    ring_s = 5 + row.id % 20
    talk_s = 30 + (row.id * 7919) % 600 if answered else 0
    completed = row.created_ms
    dialed = completed - 1000 * (ring_s + talk_s)
    return dialed, (dialed + 1000 * ring_s) if answered else None, completed


def call_record_v2(row: CallRow) -> dict:
    dialed, answered, completed = call_times(row)

    def related(kind: str, value: int | None) -> dict:
        return {"data": None if value is None else {"type": kind, "id": value}}

    return {
        "type": "call",
        "id": row.id,
        "attributes": {
            "direction": "outbound" if row.outbound else "inbound",
            "outcome": _OUTCOMES.get(row.disposition_id) if row.disposition_id else None,
            "state": "completed",
            "from": row.from_number,
            "to": row.to_number,
            "note": row.note,
            "dialedAt": _ms_text(dialed),
            "answeredAt": _ms_text(answered),
            "completedAt": _ms_text(completed),
            "createdAt": format_ms(row.created_ms),
            "updatedAt": format_ms(row.updated_ms),
        },
        "relationships": {
            "user": related("user", row.user_id),
            "prospect": related("prospect", row.prospect_id),
            "callDisposition": related("callDisposition", row.disposition_id),
            "callPurpose": related("callPurpose", row.purpose_id),
        },
    }


def user_record_v2(user: User) -> dict:
    return {"type": "user", "id": user.id, "attributes": {
        "firstName": user.first_name, "lastName": user.last_name, "email": user.email}}


def prospect_record_v2(prospect: Prospect) -> dict:
    # (P) Attribute names as v2's prospect resource documents them; phones are lists there.
    return {"type": "prospect", "id": prospect.id, "attributes": {
        "firstName": prospect.first_name, "lastName": prospect.last_name,
        "emails": [prospect.email], "company": prospect.company, "title": prospect.title,
        "workPhones": [prospect.phone], "mobilePhones": [], "timeZone": prospect.timezone},
        "relationships": {"owner": {"data": {"type": "user", "id": prospect.owner_id}}}}


def disposition_record_v2(item: tuple[int, str, int, str]) -> dict:
    return {"type": "callDisposition", "id": item[0],
            "attributes": {"name": item[1], "order": item[2], "outcome": item[3]}}


def purpose_record_v2(item: tuple[int, str, int]) -> dict:
    return {"type": "callPurpose", "id": item[0], "attributes": {"name": item[1], "order": item[2]}}


def page_size(query: dict[str, str]) -> int:
    raw = query.get("page[size]", str(DEFAULT_V2_PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_V2_PAGE_SIZE:
        raise V2Error(400, "Bad Request",
                      f"page[size] must be a whole number from 1 to {MAX_V2_PAGE_SIZE}.",
                      {"parameter": "page[size]"})
    return int(raw)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_cursor(query: dict[str, str]) -> int:
    raw = query.get("page[after]")
    if raw is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(raw.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        offset = None
    if not isinstance(offset, int) or offset < 0:
        raise V2Error(400, "Bad Request", "page[after] is not a cursor this API gave.",
                      {"parameter": "page[after]"})
    return offset


def time_range(query: dict[str, str], name: str) -> tuple[int | None, int | None]:
    """filter[createdAt] or filter[updatedAt] = a..b (both included), a..inf or neginf..b, as
    ms bounds [low, high)."""
    raw = query.get(name)
    if raw is None:
        return None, None
    low_text, sep, high_text = raw.partition("..")
    try:
        if not sep:
            raise ValueError(raw)
        low = None if low_text == "neginf" else _parse_moment(low_text)
        high = None if high_text == "inf" else _parse_moment(high_text) + 1
    except ValueError:
        raise V2Error(400, "Bad Request",
                      f"{name} must be FROM..TO with ISO-8601 times, inf or neginf.",
                      {"parameter": name}) from None
    return low, high


# sort= values a call list takes: the field it sorts by (ties by id, the same way round).
SORTS = {"createdAt": "createdAt", "updatedAt": "updatedAt", "id": "id"}


def call_sort(query: dict[str, str]) -> tuple[str, bool]:
    """sort=createdAt (the default), updatedAt or id, each with a leading - for descending:
    (field, descending)."""
    raw = query.get("sort", "createdAt")
    descending = raw.startswith("-")
    field = SORTS.get(raw[1:] if descending else raw)
    if field is None:
        raise V2Error(400, "Bad Request",
                      "sort must be createdAt, updatedAt or id, with a leading - for "
                      "descending order.", {"parameter": "sort"})
    return field, descending


def encode_key_cursor(sort: str, key: tuple[int, int]) -> str:
    """A call list's cursor: the sort and the (sort value, id) of the page's last call; the
    next page starts after it, so calls that change or go meanwhile never shift the pages."""
    return base64.urlsafe_b64encode(
        json.dumps({"sort": sort, "after": list(key)}).encode()).decode()


def decode_key_cursor(query: dict[str, str], sort: str) -> tuple[int, int] | None:
    raw = query.get("page[after]")
    if raw is None:
        return None
    try:
        cursor = json.loads(base64.urlsafe_b64decode(raw.encode()))
        key = cursor["after"]
        given = cursor["sort"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        key = given = None
    if (given != sort or not isinstance(key, list) or len(key) != 2
            or not all(isinstance(part, int) and not isinstance(part, bool) for part in key)):
        raise V2Error(400, "Bad Request", "page[after] is not a cursor this API gave.",
                      {"parameter": "page[after]"})
    return key[0], key[1]


def _parse_moment(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def user_filter(query: dict[str, str]) -> tuple[int, ...] | None:
    """filter[user][id]=5, or a comma-separated list (5,7,9) as v2 filters take: the users'
    ids, or None for every user."""
    raw = query.get("filter[user][id]")
    if raw is None:
        return None
    parts = [part.strip() for part in raw.split(",")]
    if not all(part.isdigit() for part in parts):
        raise V2Error(400, "Bad Request",
                      "filter[user][id] must be a user id or a comma-separated list of them.",
                      {"parameter": "filter[user][id]"})
    return tuple(dict.fromkeys(int(part) for part in parts))


def check_known(query: dict[str, str], allowed: set[str]) -> None:
    for name in query:
        if name.startswith(("filter[", "page[")) and name not in allowed:
            raise V2Error(400, "Bad Request", f"{name} is not a supported parameter here.",
                          {"parameter": name})


# v2 names of the create body -> the 1.0 body the shared validation reads, and back for errors.
_POINTERS_BACK = {
    "/data/attributes/connection/outbound": "/data/attributes/direction",
    "/data/attributes/connection/from": "/data/attributes/from",
    "/data/attributes/connection/to": "/data/attributes/to",
    "/data/attributes/metadata/note": "/data/attributes/note",
    "/data/attributes/purpose/id": "/data/relationships/callPurpose/data/id",
    "/data/attributes/disposition/id": "/data/relationships/callDisposition/data/id",
    "/data/attributes/prospect/id": "/data/relationships/prospect/data/id",
}


def parse_new_call_v2(body: object, purpose_ids: frozenset[int],
                      disposition_ids: frozenset[int]):
    """The v2 create body checked by the same rules as 1.0; errors carry v2 pointers."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise V2Error(422, "Validation Error", "data is required and must be an object.",
                      {"pointer": "/data"})
    attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
    relationships = (data.get("relationships")
                     if isinstance(data.get("relationships"), dict) else {})
    direction = attributes.get("direction")
    if direction not in ("inbound", "outbound"):
        raise V2Error(422, "Validation Error", 'direction must be "inbound" or "outbound".',
                      {"pointer": "/data/attributes/direction"})
    connection: dict = {"outbound": direction == "outbound"}
    for key in ("from", "to"):
        if attributes.get(key) is not None:
            connection[key] = attributes[key]
    legacy: dict = {"connection": connection}
    if attributes.get("note") is not None:
        legacy["metadata"] = {"note": attributes["note"]}
    for v2_name, v1_name in (("callPurpose", "purpose"), ("callDisposition", "disposition"),
                             ("prospect", "prospect")):
        related = relationships.get(v2_name)
        target = related.get("data") if isinstance(related, dict) else None
        if isinstance(target, dict) and "id" in target:
            legacy[v1_name] = {"id": target["id"]}
    new, problems = parse_new_call({"data": {"type": "call", "attributes": legacy}},
                                   purpose_ids, disposition_ids)
    if new is None:
        first = problems[0]
        raise V2Error(422, "Validation Error", first.detail,
                      {"pointer": _POINTERS_BACK.get(first.pointer, first.pointer)})
    return new
