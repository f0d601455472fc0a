"""The sandbox's HTTP layer: routing, auth, scopes, rate limits, faults, envelopes and errors."""

from __future__ import annotations

import calendar
import json
import math
import re
import socket
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from .data import CallRow, User
from .oauth import GRANTABLE_SCOPES, consent_page, error_page, with_params
from .prospects import Prospect
from .state import (
    ALL_SCOPES,
    RATE_WINDOW_S,
    V2_SCOPES,
    RateStatus,
    SandboxState,
    Token,
    format_ms,
)
from .v2 import (
    V2_CONTENT_TYPE,
    V2Error,
    call_record_v2,
    call_sort,
    check_known,
    decode_cursor,
    decode_key_cursor,
    disposition_record_v2,
    encode_cursor,
    encode_key_cursor,
    page_size,
    parse_new_call_v2,
    prospect_record_v2,
    purpose_record_v2,
    time_range,
    user_filter,
    user_record_v2,
)
from .validation import parse_new_call

MAX_PAGE_SIZE = 50
_NUMBER = re.compile(r"\d{1,18}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


class ApiError(Exception):
    """An error answer with the reference's `errors` body."""

    def __init__(self, status: int, error_id: str, title: str, detail: str,
                 source: dict | None = None, extra: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        entry: dict = {"id": error_id, "title": title, "detail": detail}
        if source:
            entry["source"] = source
        self.errors = [entry, *(extra or [])]
        self.headers: dict[str, str] = {}


def _bad_parameter(name: str, detail: str) -> ApiError:
    return ApiError(400, "badRequest", "Bad Request", detail, {"parameter": name})


# ----- rendering -----

def call_record(row: CallRow) -> dict:
    """A call as the 1.0 API answers it; absent optional ids are present as null."""
    return {
        "id": row.id,
        "type": "call",
        "attributes": {
            "connection": {"from": row.from_number, "to": row.to_number,
                           "outbound": row.outbound},
            "purpose": {"id": row.purpose_id},
            "disposition": {"id": row.disposition_id},
            "prospect": {"id": row.prospect_id},
            "user": {"id": row.user_id},
            "metadata": {
                "note": row.note,
                "created": format_ms(row.created_ms),
                "updated": format_ms(row.updated_ms),
            },
        },
    }


def call_json(row: CallRow, cache: dict[int, tuple[CallRow, bytes]]) -> bytes:
    """The record's JSON, cached by id with the row it was made from: benchmarks page through
    50,000 calls many times over. A call's view is a new row whenever it changes (a later
    disposition, an edit), so a cached entry is used only while its row is the very one."""
    cached = cache.get(row.id)
    if cached is None or cached[0] is not row:
        cached = cache[row.id] = (row, json.dumps(call_record(row)).encode())
    return cached[1]


def user_record(user: User) -> dict:
    return {
        "id": user.id,
        "type": "user",
        "attributes": {
            "metadata": {"first_name": user.first_name, "last_name": user.last_name},
            "contact": {"email": user.email},
            "timezone": user.timezone,
        },
    }


def prospect_record(prospect: Prospect) -> dict:
    # (P) The filters' paths (personal/name/first, contact/email) are documented; the rest of
    # the shape follows them.
    return {
        "id": prospect.id,
        "type": "prospect",
        "attributes": {
            "personal": {"name": {"first": prospect.first_name, "last": prospect.last_name},
                         "title": prospect.title},
            "contact": {"email": prospect.email, "phone": {"work": prospect.phone},
                        "timezone": prospect.timezone},
            "company": {"name": prospect.company},
        },
        "relationships": {"owner": {"data": {"id": prospect.owner_id}}},
    }


def _disposition_record(item: tuple[int, str, int, str]) -> dict:
    return {"id": item[0], "type": "call_disposition",
            "attributes": {"name": item[1], "order": item[2], "outcome": item[3]}}


def _purpose_record(item: tuple[int, str, int]) -> dict:
    return {"id": item[0], "type": "call_purpose",
            "attributes": {"name": item[1], "order": item[2]}}


# ----- parameters -----

def _paging(query: dict[str, str]) -> tuple[int, int]:
    raw_number = query.get("page[number]", "1")
    if not _NUMBER.fullmatch(raw_number) or int(raw_number) < 1:
        raise _bad_parameter("page[number]", "page[number] must be a whole number from 1.")
    raw_size = query.get("page[size]", str(MAX_PAGE_SIZE))
    if not _NUMBER.fullmatch(raw_size) or int(raw_size) < 1:
        raise _bad_parameter("page[size]", "page[size] must be a whole number from 1.")
    return int(raw_number), min(int(raw_size), MAX_PAGE_SIZE)


def _check_known(query: dict[str, str], allowed: set[str]) -> None:
    # Unknown filters are errors rather than silently ignored: a typo must not read everything.
    for name in query:
        if name.startswith(("filter[", "page[")) and name not in allowed:
            raise _bad_parameter(name, f"{name} is not a supported parameter here.")


def _bound_ms(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    value = query[name]
    try:
        if _DATE.fullmatch(value):
            moment = datetime.strptime(value, "%Y-%m-%d")
        elif _DATE_TIME.fullmatch(value):
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M")
        else:
            raise ValueError(value)
    except ValueError:
        raise _bad_parameter(
            name, f"{name} must be a date as yyyy-MM-dd or yyyy-MM-ddTHH:mm (read as UTC)."
        ) from None
    return calendar.timegm(moment.timetuple()) * 1000


def _id_from_path(segment: str) -> int:
    if not _NUMBER.fullmatch(segment):
        raise _bad_parameter("id", "The id in the path must be a number.")
    return int(segment)


# ----- the handler -----

class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        self.state = state
        super().__init__(address, SandboxHandler)


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OutreachSandbox/1.0"
    # Buffered writes plus TCP_NODELAY: headers and body leave in one segment, so keep-alive
    # clients do not stall on delayed ACKs (about 40 ms a request otherwise).
    wbufsize = -1
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -- plumbing --

    @property
    def state(self) -> SandboxState:
        return self.server.state

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: object,
                   headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8",
                   headers)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            return self.rfile.read(int(length))
        except ValueError:
            return b""

    def _base_url(self) -> str:
        host = self.headers.get("Host")
        if host:
            return f"http://{host}"
        address, port = self.server.server_address[:2]
        return f"http://{address}:{port}"

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body = self._read_body()
        try:
            if path.startswith("/_sandbox/"):
                self._admin(method, path, body)
                return
            latency = self.state.config.latency_ms
            if latency > 0:
                # A sleep, not a busy wait: other threads keep serving meanwhile.
                time.sleep(latency / 1000)
            if path.startswith("/oauth/"):
                self._oauth(method, path, query, body)
            elif path == "/1.0" or path.startswith("/1.0/"):
                self._api(method, path, split.query, query, body)
            elif path.startswith("/api/v2/"):
                self._api(method, path, split.query, query, body, v2=True)
            else:
                self._send_json(404, {"errors": [{"id": "notFound", "title": "Not Found",
                                                  "detail": f"No route {path}."}]})
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- the 1.0 API --

    def _rate_headers(self, rate: RateStatus) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(rate.limit),
            "X-RateLimit-Remaining": str(rate.remaining),
            "X-RateLimit-Reset": str(rate.reset),
        }

    def _api(self, method: str, path: str, raw_query: str, query: dict[str, str],
             body: bytes, v2: bool = False) -> None:
        state = self.state
        state.count_request()
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        info = state.lookup_token(token) if scheme.lower() == "bearer" and token else None
        if info is None:
            limit = state.config.rate_limit
            headers = self._rate_headers(
                RateStatus(True, limit, limit, int(state.clock.time()) + RATE_WINDOW_S)
            )
            self._send_json(401, {"errors": [{
                "id": "unauthorized", "title": "Unauthorized",
                "detail": "The bearer token is missing, unknown, expired or revoked.",
            }]}, headers)
            return
        rate = state.take_request(token)
        headers = self._rate_headers(rate)
        if not rate.allowed:
            state.count_api_429(info.user_id)
            headers["Retry-After"] = str(rate.retry_after)
            self._send_json(429, {"errors": [{
                "id": "rateLimitExceeded", "title": "Rate Limit Exceeded",
                "detail": f"More than {rate.limit} requests this hour; retry after the reset.",
            }]}, headers)
            return

        fault = state.roll_fault()
        if fault == "truncated" and method != "GET":
            # A truncated answer to a create would leave the client unsure whether it happened;
            # keep side effects clean and fail before the handler instead.
            fault = "502-html"
        if fault in ("500", "503"):
            status = int(fault)
            title = "Internal Server Error" if status == 500 else "Service Unavailable"
            self._send_json(status, {"errors": [{
                "id": "internalServerError" if status == 500 else "serviceUnavailable",
                "title": title, "detail": "Injected sandbox fault.",
            }]}, headers)
            return
        if fault == "502-html":
            # A proxy's page: HTML, and no rate-limit headers.
            self._send(502, _HTML_502, "text/html")
            return

        content_type = V2_CONTENT_TYPE if v2 else "application/json; charset=utf-8"
        try:
            if v2:
                status, payload = self._route_v2(method, path, query, body, info)
            else:
                status, payload = self._route(method, path, raw_query, query, body, info)
        except (ApiError, V2Error) as error:
            headers.update(getattr(error, "headers", {}))
            self._send(error.status, json.dumps({"errors": error.errors}).encode(),
                       content_type, headers)
            return
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        if fault == "truncated" and status == 200:
            self._send(200, data[: max(1, len(data) * 3 // 5)], content_type, headers)
            return
        self._send(status, data, content_type, headers)

    # -- the v2 API (JSON:API; records and rules in .v2) --

    def _route_v2(self, method: str, path: str, query: dict[str, str], body: bytes,
                  info: Token) -> tuple[int, object]:
        parts = path.split("/")[3:]
        resource = parts[0] if parts else ""
        state = self.state
        if len(parts) == 1 and resource == "calls" and method == "POST":
            self._need_v2(info, "calls.write")
            return self._create_call_v2(body, info.user_id)
        if method != "GET":
            raise V2Error(405, "Method Not Allowed", f"{method} is not supported on {path}.")
        if len(parts) == 1 and resource == "calls":
            self._need_v2(info, "calls.read")
            return 200, self._list_calls_v2(query)
        if len(parts) == 2 and resource == "calls":
            self._need_v2(info, "calls.read")
            row = state.get_call(_id_from_path(parts[1])) if parts[1].isdigit() else None
            if row is None:
                raise V2Error(404, "Not Found", f"No call has the id {parts[1]}.")
            return 200, {"data": call_record_v2(row)}
        if resource == "prospects" and len(parts) in (1, 2):
            self._need_v2(info, "prospects.read")
            return 200, self._prospects_v2(parts, query)
        lookups = {
            "users": ("users.read", lambda: [user_record_v2(u) for u in state.users]),
            "callDispositions": ("callDispositions.read",
                                 lambda: [disposition_record_v2(d) for d in state.dispositions]),
            "callPurposes": ("callPurposes.read",
                             lambda: [purpose_record_v2(p) for p in state.purposes]),
        }
        if len(parts) == 1 and resource in lookups:
            scope, records = lookups[resource]
            self._need_v2(info, scope)
            check_known(query, {"page[size]", "page[after]"})
            size, offset = page_size(query), decode_cursor(query)
            everything = records()
            return 200, self._v2_page(everything[offset : offset + size], offset, size,
                                      len(everything), query)
        raise V2Error(404, "Not Found", f"No route {path}.")

    @staticmethod
    def _need_v2(info: Token, scope: str) -> None:
        if V2_SCOPES[scope] not in info.scopes:
            raise V2Error(403, "Forbidden", f"This token is missing the scope {scope}.")

    def _v2_page(self, data: list[dict], offset: int, size: int, total: int,
                 query: dict[str, str]) -> dict:
        # No count (count=false is what clients ask); only a next link while more remain.
        links: dict[str, str] = {}
        if offset + size < total:
            links["next"] = self._v2_next(encode_cursor(offset + size))
        return {"data": data, "links": links, "meta": {}}

    def _v2_next(self, cursor: str) -> str:
        split = urlsplit(self.path)
        kept = [(k, v) for k, v in parse_qsl(split.query, keep_blank_values=True)
                if k != "page[after]"]
        pairs = [*kept, ("page[after]", cursor)]
        return (f"{self._base_url()}{split.path}?"
                + urlencode(pairs, safe="[]/:", quote_via=quote))

    def _prospects_v2(self, parts: list[str], query: dict[str, str]) -> dict:
        """GET /api/v2/prospects (filter[firstName], filter[lastName], filter[emails]; a
        cursor) or /api/v2/prospects/{id}."""
        book = self.state.prospects
        if len(parts) == 2:
            prospect = book.get(int(parts[1])) if parts[1].isdigit() else None
            if prospect is None:
                raise V2Error(404, "Not Found", f"No prospect has the id {parts[1]}.")
            return {"data": prospect_record_v2(prospect)}
        check_known(query, {"filter[firstName]", "filter[lastName]", "filter[emails]",
                            "page[size]", "page[after]"})
        found = book.find(query.get("filter[firstName]"), query.get("filter[lastName]"),
                          query.get("filter[emails]"))
        size, offset = page_size(query), decode_cursor(query)
        return self._v2_page([prospect_record_v2(p) for p in found[offset:offset + size]],
                             offset, size, len(found), query)

    def _list_calls_v2(self, query: dict[str, str]) -> dict:
        """GET /api/v2/calls: filter[createdAt], filter[updatedAt] (a..b, a..inf, neginf..b),
        filter[user][id] (one id or a list), sort (createdAt by default, updatedAt, id; - for
        descending; ties by id the same way round), page[size]; links.next carries the last
        call's sort key, so the pages stay right while calls change between them."""
        check_known(query, {"filter[createdAt]", "filter[updatedAt]", "filter[user][id]",
                            "page[size]", "page[after]"})
        created = time_range(query, "filter[createdAt]")
        updated = time_range(query, "filter[updatedAt]")
        users = user_filter(query)
        field, descending = call_sort(query)
        sort = f"-{field}" if descending else field
        size, after = page_size(query), decode_key_cursor(query, sort)
        rows, more = self.state.query_calls(users, created, updated, field, descending, after,
                                            size)
        links: dict[str, str] = {}
        if more and rows:
            last = rows[-1]
            key = {"createdAt": last.created_ms, "updatedAt": last.updated_ms,
                   "id": last.id}[field]
            links["next"] = self._v2_next(encode_key_cursor(sort, (key, last.id)))
        return {"data": [call_record_v2(r) for r in rows], "links": links, "meta": {}}

    def _create_call_v2(self, body: bytes, user_id: int) -> tuple[int, object]:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != V2_CONTENT_TYPE:
            raise V2Error(415, "Unsupported Media Type", f"Send the body as {V2_CONTENT_TYPE}.")
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise V2Error(400, "Bad Request", "The body is not valid JSON.") from None
        new = parse_new_call_v2(parsed, self.state.purpose_ids, self.state.disposition_ids)
        row = self.state.create_call(
            user_id, new.outbound, new.from_number, new.to_number, new.purpose_id,
            new.disposition_id, new.prospect_id, new.note,
        )
        return 201, {"data": call_record_v2(row)}

    def _route(self, method: str, path: str, raw_query: str, query: dict[str, str],
               body: bytes, info: Token) -> tuple[int, object]:
        parts = path.split("/")[2:]
        routes: dict[tuple[str, str], tuple[str | None, Callable[[], tuple[int, object]]]] = {}
        resource = parts[0] if parts else ""
        if len(parts) == 1:
            if resource == "calls":
                routes[("GET", "calls")] = ("read_calls", lambda: self._list_calls(query))
                routes[("POST", "calls")] = (
                    "create_calls", lambda: self._create_call(body, info.user_id)
                )
            elif resource == "call_dispositions":
                routes[("GET", resource)] = ("read_call_dispositions", lambda: self._paged(
                    query, set(), [_disposition_record(d) for d in self.state.dispositions]))
            elif resource == "call_purposes":
                routes[("GET", resource)] = ("read_call_purposes", lambda: self._paged(
                    query, set(), [_purpose_record(p) for p in self.state.purposes]))
            elif resource == "users":
                routes[("GET", resource)] = ("read_users", lambda: self._list_users(query))
            elif resource == "prospects":
                routes[("GET", resource)] = ("read_prospects",
                                             lambda: self._list_prospects(query))
            elif resource == "info":
                routes[("GET", resource)] = (None, lambda: self._info(info))
        elif len(parts) == 2:
            if resource == "calls":
                routes[("GET", resource)] = ("read_calls", lambda: self._get_call(parts[1]))
            elif resource == "users":
                routes[("GET", resource)] = ("read_users", lambda: self._get_user(parts[1]))
            elif resource == "prospects":
                routes[("GET", resource)] = ("read_prospects",
                                             lambda: self._get_prospect(parts[1]))
        if not routes:
            raise ApiError(404, "notFound", "Not Found", f"No route {path}.")
        route = routes.get((method, resource))
        if route is None:
            error = ApiError(405, "methodNotAllowed", "Method Not Allowed",
                             f"{method} is not supported on {path}.")
            error.headers["Allow"] = ", ".join(sorted({m for m, _ in routes}))
            raise error
        scope, handler = route
        if scope is not None and scope not in info.scopes:
            raise ApiError(403, "unauthorizedOauthScope", "Unauthorized OAuth Scope",
                           f"This token is missing the scope {scope}")
        return handler()

    def _page_links(self, number: int, size: int, maximum: int) -> dict[str, str]:
        split = urlsplit(self.path)
        kept = [(k, v) for k, v in parse_qsl(split.query, keep_blank_values=True)
                if k not in ("page[number]", "page[size]")]
        # Brackets and slashes stay readable, as in the reference's parameter names.
        base = f"{self._base_url()}{split.path}?"

        def url(page: int) -> str:
            pairs = [*kept, ("page[number]", str(page)), ("page[size]", str(size))]
            return base + urlencode(pairs, safe="[]/:", quote_via=quote)

        links: dict[str, str] = {}
        if number > 1:
            links["prev"] = url(min(number - 1, maximum))
        if number < maximum:
            links["next"] = url(number + 1)
        return links

    def _envelope(self, data: list[dict], total: int, number: int, size: int) -> dict:
        # An empty result still has one (empty) page, so `maximum` is never below 1.
        maximum = max(1, math.ceil(total / size))
        return {
            "data": data,
            "meta": {"page": {"current": number, "entries": size, "maximum": maximum},
                     "results": {"total": total}},
            "links": self._page_links(number, size, maximum),
        }

    def _calls_envelope(self, rows: list[CallRow], total: int, number: int, size: int) -> bytes:
        # Spliced from cached record JSON; same bytes as json.dumps of the whole envelope.
        rest = json.dumps(self._envelope([], total, number, size)).encode()
        cache = self.state.record_json
        assert rest.startswith(b'{"data": [], ')
        return b'{"data": [' + b", ".join(call_json(r, cache) for r in rows) + b"], " + rest[13:]

    def _paged(self, query: dict[str, str], filters: set[str],
               records: list[dict]) -> tuple[int, object]:
        _check_known(query, {"page[number]", "page[size]", *filters})
        number, size = _paging(query)
        start = (number - 1) * size
        return 200, self._envelope(records[start : start + size], len(records), number, size)

    def _list_calls(self, query: dict[str, str]) -> tuple[int, object]:
        names = {"filter[user/id]", "filter[metadata/created/after]",
                 "filter[metadata/created/before]", "page[number]", "page[size]"}
        _check_known(query, names)
        user_id = None
        if "filter[user/id]" in query:
            raw = query["filter[user/id]"]
            if not _NUMBER.fullmatch(raw):
                raise _bad_parameter("filter[user/id]", "filter[user/id] must be a number.")
            user_id = int(raw)
        after = _bound_ms(query, "filter[metadata/created/after]")
        before = _bound_ms(query, "filter[metadata/created/before]")
        number, size = _paging(query)
        rows, total = self.state.list_calls(user_id, after, before, (number - 1) * size, size)
        return 200, self._calls_envelope(rows, total, number, size)

    def _get_call(self, segment: str) -> tuple[int, object]:
        row = self.state.get_call(_id_from_path(segment))
        if row is None:
            raise ApiError(404, "notFound", "Not Found", f"No call has the id {segment}.")
        return 200, {"data": call_record(row)}

    def _create_call(self, body: bytes, user_id: int) -> tuple[int, object]:
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ApiError(415, "unsupportedMediaType", "Unsupported Media Type",
                           "Send the body as application/json.")
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "badRequest", "Bad Request",
                           "The body is not valid JSON.") from None
        new, problems = parse_new_call(parsed, self.state.purpose_ids, self.state.disposition_ids)
        if new is None:
            first, *rest = problems
            raise ApiError(
                422, "validationError", "Validation Error", first.detail,
                {"pointer": first.pointer},
                [{"id": "validationError", "title": "Validation Error", "detail": p.detail,
                  "source": {"pointer": p.pointer}} for p in rest],
            )
        row = self.state.create_call(
            user_id, new.outbound, new.from_number, new.to_number, new.purpose_id,
            new.disposition_id, new.prospect_id, new.note,
        )
        return 200, {"data": call_record(row)}

    def _list_users(self, query: dict[str, str]) -> tuple[int, object]:
        names = {"filter[metadata/first_name]", "filter[metadata/last_name]"}
        users = self.state.users
        first = query.get("filter[metadata/first_name]")
        last = query.get("filter[metadata/last_name]")
        # Exact matches, case-insensitive.
        if first is not None:
            users = [u for u in users if u.first_name.lower() == first.lower()]
        if last is not None:
            users = [u for u in users if u.last_name.lower() == last.lower()]
        return self._paged(query, names, [user_record(u) for u in users])

    def _list_prospects(self, query: dict[str, str]) -> tuple[int, object]:
        names = {"filter[personal/name/first]", "filter[personal/name/last]",
                 "filter[contact/email]"}
        _check_known(query, {"page[number]", "page[size]", *names})
        found = self.state.prospects.find(query.get("filter[personal/name/first]"),
                                          query.get("filter[personal/name/last]"),
                                          query.get("filter[contact/email]"))
        number, size = _paging(query)
        start = (number - 1) * size
        return 200, self._envelope([prospect_record(p) for p in found[start:start + size]],
                                   len(found), number, size)

    def _get_prospect(self, segment: str) -> tuple[int, object]:
        prospect = self.state.prospects.get(_id_from_path(segment))
        if prospect is None:
            raise ApiError(404, "notFound", "Not Found", f"No prospect has the id {segment}.")
        return 200, {"data": prospect_record(prospect)}

    def _get_user(self, segment: str) -> tuple[int, object]:
        user = self.state.users_by_id.get(_id_from_path(segment))
        if user is None:
            raise ApiError(404, "notFound", "Not Found", f"No user has the id {segment}.")
        return 200, {"data": user_record(user)}

    def _info(self, info: Token) -> tuple[int, object]:
        user = self.state.users_by_id.get(info.user_id)
        auth = self.headers.get("Authorization", "").partition(" ")[2].strip()
        return 200, {"meta": {
            "user": {"id": info.user_id, "email": user.email if user else None},
            "org": self.state.org,
            "api": {
                "permissions": [s for s in ALL_SCOPES if s in info.scopes],
                "requests": {"current": self.state.rate_usage(auth),
                             "maximum": self.state.config.rate_limit},
            },
        }}

    # -- OAuth --

    def _oauth(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        state = self.state
        if path == "/oauth/token" and method == "POST":
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            text = body.decode("utf-8", errors="replace")
            if content_type == "application/json":
                try:
                    loaded = json.loads(text)
                except ValueError:
                    loaded = None
                form = {k: str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
            else:
                form = dict(parse_qsl(text, keep_blank_values=True))
            result = state.mint(form)
            if result.plain_text:
                self._send(result.status, str(result.body).encode(), "text/plain; charset=utf-8")
            else:
                self._send_json(result.status, result.body,
                                {"Cache-Control": "no-store", "Pragma": "no-cache"})
            return
        if path == "/oauth/authorize" and method == "GET":
            self._authorize(query)
            return
        if path == "/oauth/authorize" and method == "POST":
            text = body.decode("utf-8", errors="replace")
            self._consent_answer(dict(parse_qsl(text, keep_blank_values=True)))
            return
        self._send_json(404, {"error": "not_found"})

    def _page(self, status: int, html: bytes) -> None:
        # Not to be cached, nor framed by another site (a consent page must not be clickjacked).
        self._send(status, html, "text/html; charset=utf-8", {
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                       "frame-ancestors 'none'",
        })

    def _redirect(self, uri: str, params: dict[str, str], app_state: str | None) -> None:
        if app_state is not None:
            params["state"] = app_state
        self._send(302, b"", "text/plain", {"Location": with_params(uri, params),
                                            "Cache-Control": "no-store"})

    def _authorize(self, query: dict[str, str]) -> None:
        """GET /oauth/authorize: the consent page, or where the request is wrong an error page
        (client or redirect URI: the browser cannot be trusted back) or an error redirect."""
        state = self.state
        if query.get("client_id") != state.client_id:
            self._page(400, error_page("invalid_client", "No app has this client_id."))
            return
        redirect = query.get("redirect_uri", "")
        if not redirect:
            self._page(400, error_page("invalid_request", "The request has no redirect_uri."))
            return
        if not state.redirect_allowed(redirect):
            self._page(400, error_page("invalid_redirect_uri",
                                       "The redirect_uri is not one registered for this app."))
            return
        app_state = query.get("state")
        if query.get("response_type") != "code":
            self._redirect(redirect, {"error": "unsupported_response_type",
                                      "error_description": "response_type must be code."},
                           app_state)
            return
        # An app that names no scope is given the sandbox's default: every 1.0 scope.
        scopes = list(dict.fromkeys(query.get("scope", "").split())) or list(ALL_SCOPES)
        unknown = [scope for scope in scopes if scope not in GRANTABLE_SCOPES]
        if unknown:
            self._redirect(redirect, {"error": "invalid_scope",
                                      "error_description": f"Unknown scope {unknown[0]}."},
                           app_state)
            return
        consent_id = state.begin_consent(scopes, redirect, app_state)
        owner = state.users_by_id[state.owner_user_id]
        self._page(200, consent_page(scopes, consent_id, redirect,
                                     f"{owner.first_name} {owner.last_name}", owner.email))

    def _consent_answer(self, form: dict[str, str]) -> None:
        """POST /oauth/authorize from the consent page: Allow sends a code back, anything
        else access_denied; without a live consent id nothing is sent back."""
        pending = self.state.end_consent(form.get("consent", ""))
        if pending is None or pending.redirect_uri is None:
            self._page(400, error_page("invalid_request",
                                       "This consent request is unknown, answered or expired; "
                                       "start again from the app."))
            return
        if form.get("decision") == "allow":
            code = self.state.issue_code(pending.scopes, pending.user_id, pending.redirect_uri)
            self._redirect(pending.redirect_uri, {"code": code}, pending.state)
        else:
            self._redirect(pending.redirect_uri, {
                "error": "access_denied",
                "error_description": "The user denied the request."}, pending.state)

    # -- test-only admin routes --

    def _admin(self, method: str, path: str, body: bytes) -> None:
        state = self.state
        name = path.removeprefix("/_sandbox/")
        if name.startswith("calls/") and method in ("PATCH", "DELETE"):
            self._admin_call(method, name.removeprefix("calls/"), body)
            return
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            self._send_json(400, {"error": "body must be JSON"})
            return
        if not isinstance(payload, dict):
            self._send_json(400, {"error": "body must be a JSON object"})
            return
        if method == "GET" and name == "stats":
            self._send_json(200, state.stats())
        elif method == "POST" and name == "configure":
            try:
                config = state.configure(**payload)
            except (TypeError, ValueError) as error:
                self._send_json(400, {"error": str(error)})
                return
            self._send_json(200, config)
        elif method == "POST" and name == "revoke":
            self._send_json(200, {"revoked": state.revoke(str(payload.get("token", "")))})
        elif method == "POST" and name == "tokens":
            scopes = payload.get("scopes", list(ALL_SCOPES))
            ttl = payload.get("ttl", state.config.token_ttl)
            if not isinstance(scopes, list) or not isinstance(ttl, int | float):
                self._send_json(400, {"error": "scopes must be a list and ttl a number"})
                return
            self._send_json(200, {"access_token": state.issue_token(
                [str(s) for s in scopes], int(ttl))})
        elif method == "POST" and name == "codes":
            scopes = payload.get("scopes")
            redirect = payload.get("redirect_uri")
            self._send_json(200, {"code": state.issue_code(
                scopes if isinstance(scopes, list) else None,
                redirect_uri=redirect if isinstance(redirect, str) else None)})
        elif method == "POST" and name == "reset":
            state.reset_stats()
            state.reset_rate_limits()
            self._send_json(200, {"reset": True})
        else:
            self._send_json(404, {"error": f"no admin route {method} {path}"})

    def _admin_call(self, method: str, segment: str, body: bytes) -> None:
        """PATCH /_sandbox/calls/<id> {disposition_id?, note?}: 200 {id, updated}; DELETE: 204.
        A body that is not such an object is a 400; an unknown or deleted call a 404."""
        state = self.state
        call_id = int(segment) if _NUMBER.fullmatch(segment) else None
        if method == "DELETE":
            if call_id is None or not state.delete_call(call_id):
                self._send_json(404, {"error": f"no call {segment}"})
                return
            self._send(204, b"", "application/json; charset=utf-8")
            return
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else None
        except ValueError:  # UnicodeDecodeError too
            self._send_json(400, {"error": "body must be JSON"})
            return
        try:
            changes = state.check_changes(payload)
        except ValueError as error:
            self._send_json(400, {"error": str(error)})
            return
        try:
            if call_id is None:
                raise KeyError(segment)
            row = state.edit_call(call_id, changes)
        except KeyError:
            self._send_json(404, {"error": f"no call {segment}"})
            return
        self._send_json(200, {"id": row.id, "updated": format_ms(row.updated_ms)})
