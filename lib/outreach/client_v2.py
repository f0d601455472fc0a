"""Outreach API v2 (JSON:API at /api/v2) behind the same interface as the 1.0 client."""

# Only the wire format differs: paths, filters, cursor paging, the media type and record shapes.
# Retries, backoff, rate limits, token refresh and typed errors are OutreachClient's. Each v2
# record is translated into the 1.0 shape, so records.parse_call reads both versions into the same
# frames; a v2 call row also carries v2's own fields (lib.frames.V2_CALL_DTYPES). A cursor walk
# is sequential by nature, so concurrency comes from reading windows (days, users) side by
# side; with 1000-call pages a quarter of a 25-rep team is ~70 requests, not 1,300.

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd

from lib.clock import require_utc
from lib.frames import CALL_DTYPES_V2, frame_from_rows
from lib.outreach.client import ApiInfo, CallWindow, NewCall, OutreachClient, rows_in_window
from lib.outreach.errors import IncompleteRead, InvalidInput, OutreachError, UnexpectedResponse
from lib.outreach.records import (
    dispositions_frame,
    parse_call,
    parse_timestamp,
    purposes_frame,
    to_id,
    users_frame,
)
from lib.outreach.windows import widen_window

V2_PAGE_SIZE = 1000  # v2's maximum
_V2_SCOPE = re.compile(r"\b([a-z][A-Za-z]*\.(?:read|write|delete|all))\b")
_V1_SCOPE = re.compile(r"(?:read|create|update|delete)_[a-z_]+")
_ROUTE_SCOPES = (("/api/v2/calls", "calls"), ("/api/v2/users", "users"),
                 ("/api/v2/callDispositions", "callDispositions"),
                 ("/api/v2/callPurposes", "callPurposes"))
# A v2 validation pointer's last names -> the 1.0 field names the form and messages know.
_V2_FIELDS = {"direction": "outbound", "callPurpose": "purpose",
              "callDisposition": "disposition", "prospect": "prospect"}


def names_v2_scopes(scopes: Iterable[str] | None) -> bool:
    """True when these granted scopes name v2 resources (`calls.read`) and no 1.0 ones
    (`read_calls`): credentials made for v2. Names of neither kind (`profile`, `email`,
    `offline_access`) say nothing either way. False for 1.0 names, a mix, or nothing known."""
    names = list(scopes or ())
    return (any(_V2_SCOPE.fullmatch(name) for name in names)
            and not any(_V1_SCOPE.fullmatch(name) for name in names))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _related(record: Mapping[str, Any], name: str) -> Any:
    relationships = record.get("relationships")
    related = relationships.get(name) if isinstance(relationships, Mapping) else None
    target = related.get("data") if isinstance(related, Mapping) else None
    return target.get("id") if isinstance(target, Mapping) else None


def call_as_v1(record: Any) -> dict[str, Any]:
    """A v2 call record in the 1.0 shape lib.outreach.records.parse_call reads."""
    if not isinstance(record, Mapping):
        raise UnexpectedResponse("A call record is not a JSON object.")
    attributes = record.get("attributes")
    attributes = attributes if isinstance(attributes, Mapping) else {}
    direction = attributes.get("direction")
    outbound = {"outbound": True, "inbound": False}.get(direction) if isinstance(
        direction, str) else None
    return {
        "id": record.get("id"),
        "attributes": {
            "connection": {"outbound": outbound, "from": attributes.get("from"),
                           "to": attributes.get("to")},
            "metadata": {"created": attributes.get("createdAt"), "note": attributes.get("note")},
        },
        "relationships": {
            v1: {"data": {"id": _related(record, v2)}}
            for v1, v2 in (("user", "user"), ("purpose", "callPurpose"),
                           ("disposition", "callDisposition"), ("prospect", "prospect"))
        },
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
    attributes = record.get("attributes")
    attributes = attributes if isinstance(attributes, Mapping) else {}
    row.update(
        outcome=_text_or_none(attributes.get("outcome")),
        state=_text_or_none(attributes.get("state")),
        dialed_at=_time_or_none(attributes.get("dialedAt")),
        answered_at=_time_or_none(attributes.get("answeredAt")),
        completed_at=_time_or_none(attributes.get("completedAt")),
    )
    return row


def calls_frame_v2(records: Any) -> pd.DataFrame:
    """The calls frame of raw v2 call records, with the v2 columns."""
    return frame_from_rows((call_row(record) for record in records), CALL_DTYPES_V2)


def _user_as_v1(record: Any) -> Any:
    if not isinstance(record, Mapping):
        return record
    attributes = record.get("attributes")
    attributes = attributes if isinstance(attributes, Mapping) else {}
    return {"id": record.get("id"), "attributes": {
        "first_name": attributes.get("firstName"), "last_name": attributes.get("lastName"),
        "email": attributes.get("email")}}


class OutreachClientV2(OutreachClient):
    """A client of the Outreach API v2; the same methods and answers as OutreachClient."""

    media_type = "application/vnd.api+json"
    scope_pattern = _V2_SCOPE
    pages_in_parallel = False  # cursor paging: each query's pages come one after another
    call_dtypes = CALL_DTYPES_V2  # v2's outcome and times ride along, unknown where absent

    def __init__(self, *args: Any, page_size: int = V2_PAGE_SIZE, **options: Any) -> None:
        """As OutreachClient, plus `page_size`: records a page, 1 to 1000 (v2's maximum and
        the default; smaller pages only cost more requests)."""
        if not 1 <= page_size <= V2_PAGE_SIZE:
            raise ValueError(f"page_size must be from 1 to {V2_PAGE_SIZE}.")
        super().__init__(*args, **options)
        self.page_size = page_size

    def info(self) -> ApiInfo:
        """v2 has no "who am I" route: the token's user and scopes are unknown (None, empty)."""
        return ApiInfo(email=None, user_id=None, scopes=frozenset(), requests_current=None,
                       requests_maximum=None)

    def calls_in_windows(
        self,
        windows: Sequence[CallWindow],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """As OutreachClient.calls_in_windows: each window's exact rows (with v2's own fields),
        all or nothing."""
        queries: list[tuple[dict[str, str], str]] = []
        asked: list[int] = []
        bounds: list[tuple[datetime | None, datetime]] = []
        for index, window in enumerate(windows):
            before = require_utc(window.before, "before")
            after = None if window.after is None else require_utc(window.after, "after")
            bounds.append((after, before))
            if after is not None and after >= before:
                continue
            wide_after, wide_before = widen_window(after, before, self.bound_margin)
            low = "neginf" if wide_after is None else _iso(wide_after)
            params = {"filter[createdAt]": f"{low}..{_iso(wide_before)}",
                      "page[size]": str(self.page_size), "count": "false"}
            label = "GET /api/v2/calls"
            if window.user_id is not None:
                params["filter[user][id]"] = str(window.user_id)
                label += f" (user {window.user_id})"
            queries.append((params, label))
            asked.append(index)
        results: list[list[dict[str, Any]]] = [[] for _ in windows]
        pages = self._walk_cursors("/api/v2/calls", queries, on_progress) if queries else []
        for index, records in zip(asked, pages, strict=True):
            after, before = bounds[index]
            results[index] = rows_in_window(map(call_row, records), after, before,
                                            windows[index].user_id)
        return results

    def get_call(self, call_id: int | str) -> dict[str, Any]:
        number = to_id(call_id)
        if number is None:
            raise InvalidInput(f"A call id is a number; got {call_id!r}.", field="id", status=None)
        body = self._request("GET", f"/api/v2/calls/{number}")
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise UnexpectedResponse(f"GET /api/v2/calls/{number} answered without a data object.")
        return call_row(data)

    def create_call(self, new: NewCall) -> dict[str, Any]:
        """Log a call (201); never repeated once the server may have received it."""
        legacy = new.to_body()["data"]["attributes"]  # validated like 1.0
        connection = legacy["connection"]
        attributes: dict[str, Any] = {"direction": "outbound" if new.outbound else "inbound"}
        for key in ("from", "to"):
            if key in connection:
                attributes[key] = connection[key]
        if new.note is not None:
            attributes["note"] = new.note
        relationships = {
            v2: {"data": {"type": v2, "id": int(legacy[v1]["id"])}}
            for v1, v2 in (("purpose", "callPurpose"), ("disposition", "callDisposition"),
                           ("prospect", "prospect"))
            if v1 in legacy
        }
        body = {"data": {"type": "call", "attributes": attributes,
                         "relationships": relationships}}
        answer = self._request("POST", "/api/v2/calls", body=body, idempotent=False)
        data = answer.get("data")
        if not isinstance(data, Mapping):
            raise UnexpectedResponse("POST /api/v2/calls answered without a data object.")
        return call_row(data)

    def list_users(self) -> pd.DataFrame:
        records = self._walk_cursors("/api/v2/users", [self._lookup_query("users")])[0]
        return users_frame(_user_as_v1(record) for record in records)

    def list_dispositions(self) -> pd.DataFrame:
        query = self._lookup_query("callDispositions")
        return dispositions_frame(self._walk_cursors("/api/v2/callDispositions", [query])[0])

    def list_purposes(self) -> pd.DataFrame:
        query = self._lookup_query("callPurposes")
        return purposes_frame(self._walk_cursors("/api/v2/callPurposes", [query])[0])

    # ----- v2 specifics -----

    def _lookup_query(self, resource: str) -> tuple[dict[str, str], str]:
        return ({"page[size]": str(self.page_size), "count": "false"},
                f"GET /api/v2/{resource}")

    @staticmethod
    def _route_scope(method: str, path: str) -> str | None:
        for prefix, resource in _ROUTE_SCOPES:
            if path.startswith(prefix):
                return f"{resource}.write" if method == "POST" else f"{resource}.read"
        return None

    def _client_error(self, method: str, path: str, what: str, response: Any) -> OutreachError:
        error = super()._client_error(method, path, what, response)
        if isinstance(error, InvalidInput) and error.field is not None:
            # "/data/relationships/callDisposition/data/id" arrives as "id"; name the relation.
            pointer = self._pointer(response)
            names = [part for part in pointer.split("/") if part and part not in ("data", "id")]
            field = names[-1] if names else error.field
            error.field = _V2_FIELDS.get(field, field)
        return error

    @staticmethod
    def _pointer(response: Any) -> str:
        try:
            source = response.json()["errors"][0].get("source") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return ""
        pointer = source.get("pointer") if isinstance(source, Mapping) else None
        return pointer if isinstance(pointer, str) else ""

    def _walk_cursors(
        self,
        path: str,
        queries: Sequence[tuple[dict[str, str], str]],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[list[Any]]:
        """Every record of each query, following links.next; the queries run side by side.

        All or nothing, as 1.0's paging: IncompleteRead once some pages had been read, else the
        first page's own error. Progress counts a query's next page as known once it is linked.
        """
        records: list[list[Any]] = [[] for _ in queries]
        cancel = threading.Event()
        done = 0
        known = len(queries)
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="callboard-v2") as pool:
            pending: dict[Future, tuple[int, dict[str, str], int]] = {}

            def submit(index: int, params: dict[str, str], page: int) -> None:
                what = f"{queries[index][1]} page {page}"
                future = pool.submit(self._request, "GET", path, params=params, what=what,
                                     cancel=cancel)
                pending[future] = (index, params, page)

            for index, (params, _label) in enumerate(queries):
                submit(index, params, 1)
            try:
                while pending:
                    finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                    for future in finished:
                        index, _params, page = pending.pop(future)
                        try:
                            body = future.result()
                        except OutreachError as exc:
                            if done == 0:
                                raise
                            raise IncompleteRead(
                                f"Reading stopped at {queries[index][1]} page {page}: "
                                f"{exc.detail}", cause=exc) from exc
                        data = body.get("data")
                        if not isinstance(data, list):
                            raise UnexpectedResponse(
                                f"{queries[index][1]} page {page} answered without a data list.")
                        records[index].extend(data)
                        done += 1
                        following = self._next_params(body, path)
                        if following is not None:
                            known += 1
                            submit(index, following, page + 1)
                        if on_progress is not None:
                            on_progress(done, known)
            except BaseException:
                cancel.set()
                for future in pending:
                    future.cancel()
                raise
        return records

    def _next_params(self, body: Mapping[str, Any], path: str) -> dict[str, str] | None:
        links = body.get("links")
        link = links.get("next") if isinstance(links, Mapping) else None
        if not link:
            return None
        split, ours = urlsplit(str(link)), urlsplit(self.base_url)
        # The bearer token goes only to our own host, and only for the route being read.
        if (split.scheme, split.netloc) != (ours.scheme, ours.netloc) or split.path != path:
            raise UnexpectedResponse(f"GET {path} linked its next page elsewhere.")
        return dict(parse_qsl(split.query, keep_blank_values=True))
