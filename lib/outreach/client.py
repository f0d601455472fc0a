"""Speaks the Outreach Calls API 1.0 over HTTP: paging, retries, rate limits and typed errors."""

# Retry policy, in one place:
#   retried   429 (waiting Retry-After, else X-RateLimit-Reset, else backoff), 5xx, connection
#             errors and timeouts, and 2xx bodies that are not JSON (the live API sends those
#             now and then; they are faults, never data).
#   once      401: the auth is asked for a new token once, then the request is repeated once.
#   never     other 4xx: they will not get better by asking again.
# Creating a call is not idempotent, so a create is repeated only when the server surely did not
# process it: a 429, a 401, or a connection that failed before the request was sent. After a
# 5xx, a timeout or a broken connection the call may exist, so the client says so instead of
# risking a duplicate.
#
# Nothing here logs or raises a token: tokens only ever travel in the Authorization header.

from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from lib.clock import Clock, real_clock, require_utc
from lib.frames import CALL_DTYPES, frame_from_rows
from lib.outreach.auth import USER_AGENT, token_url_for
from lib.outreach.errors import (
    ApiUnavailable,
    IncompleteRead,
    InvalidInput,
    MissingScope,
    NotAuthorised,
    NotFound,
    OutreachError,
    RateLimited,
    UnexpectedResponse,
)
from lib.outreach.records import dispositions_frame, parse_call, purposes_frame, to_id, users_frame
from lib.outreach.windows import format_api_time, widen_window

__all__ = ["ApiInfo", "CallWindow", "NewCall", "OutreachClient", "PAGE_SIZE", "token_url_for"]

log = logging.getLogger(__name__)

PAGE_SIZE = 50  # the 1.0 maximum
_SCOPE_IN_TEXT = re.compile(r"\b((?:read|create|update|delete|write)_[a-z_]+)\b")


class Auth(Protocol):
    """What the client needs from lib.outreach.auth's StaticToken / RefreshingToken."""

    def access_token(self) -> str: ...

    def refresh_after_401(self, rejected: str | None = None) -> bool: ...


@dataclass(frozen=True)
class ApiInfo:
    """GET /1.0/info: who the token belongs to, what it may do, and its request counters."""

    email: str | None
    user_id: int | None
    scopes: frozenset[str]
    requests_current: int | None
    requests_maximum: int | None


@dataclass(frozen=True)
class CallWindow:
    """One query of a multi-window read: the calls with after <= created_at < before, of one
    user (user_id) or of every user (None). `after` None means from the beginning."""

    after: datetime | None
    before: datetime
    user_id: int | None = None


@dataclass(frozen=True)
class NewCall:
    """A call to log with POST /1.0/calls; the API makes the token's user its owner."""

    outbound: bool
    from_number: str | None = None
    to_number: str | None = None
    purpose_id: int | None = None
    disposition_id: int | None = None
    prospect_id: int | None = None
    note: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The documented create body: ids as strings, optional parts omitted when None."""
        if not isinstance(self.outbound, bool):
            raise InvalidInput("outbound must be true or false.", field="outbound", status=None)
        connection: dict[str, Any] = {"outbound": self.outbound}
        for key, value in (("from", self.from_number), ("to", self.to_number)):
            if value is not None:
                if not isinstance(value, str):
                    raise InvalidInput(f"{key} must be text.", field=key, status=None)
                connection[key] = value
        attributes: dict[str, Any] = {"connection": connection}
        for key, value in (("purpose", self.purpose_id), ("disposition", self.disposition_id),
                           ("prospect", self.prospect_id)):
            if value is None:
                continue
            number = to_id(value)
            if number is None:
                raise InvalidInput(f"The {key} id must be a number.", field=key, status=None)
            attributes[key] = {"id": str(number)}
        if self.note is not None:
            attributes["metadata"] = {"note": self.note}
        return {"data": {"type": "call", "attributes": attributes}}


def distinct_user_ids(user_ids: Sequence[int] | None) -> list[int] | None:
    """None (every user) or the distinct user ids, in the order given; InvalidInput for an id
    that is not a number, before anything is asked."""
    if user_ids is None:
        return None
    if isinstance(user_ids, (str, bytes, int)):
        raise TypeError("user_ids is a sequence of user ids, e.g. [5, 7].")
    unique: list[int] = []
    for value in user_ids:
        number = to_id(value)
        if number is None:
            raise InvalidInput(f"A user id is a number; got {value!r}.",
                               field="filter[user/id]", status=None)
        if number not in unique:
            unique.append(number)
    return unique


def rows_in_window(rows: Iterable[dict[str, Any]], after: datetime | None, before: datetime,
                   user_id: int | None) -> list[dict[str, Any]]:
    """Exactly the parsed rows with after <= created_at < before (of `user_id` when given),
    de-duplicated by id and sorted by (created_at, id): what a window read returns whatever the
    server's filters did at their edges."""
    by_id: dict[int, dict[str, Any]] = {}
    for row in rows:
        if not (after is None or after <= row["created_at"]) or row["created_at"] >= before:
            continue
        if user_id is not None and row["user_id"] != user_id:
            # A server that ignored the user filter must not leak other reps' calls.
            continue
        by_id[row["id"]] = row
    return sorted(by_id.values(), key=lambda row: (row["created_at"], row["id"]))


def _route_scope(method: str, path: str) -> str | None:
    """The scope a route needs, per the reference; used when a 403 does not name it."""
    if path.startswith("/1.0/calls"):
        return "create_calls" if method == "POST" else "read_calls"
    if path.startswith("/1.0/users"):
        return "read_users"
    if path.startswith("/1.0/call_dispositions"):
        return "read_call_dispositions"
    if path.startswith("/1.0/call_purposes"):
        return "read_call_purposes"
    return None


def _failed_before_sending(exc: requests.RequestException) -> bool:
    """True when the connection could not even be opened, so the server saw nothing."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3 wraps it in MaxRetryError
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


def _describe(exc: requests.RequestException) -> str:
    # The type only: requests' messages hold URLs and socket details nobody needs to read.
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return f"transport error ({type(exc).__name__})"


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _first_error(response: requests.Response) -> Mapping[str, Any]:
    body = _json_or_none(response)
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return errors[0]
    return {}


def _field_of(error: Mapping[str, Any]) -> str | None:
    """The offending input: source.pointer's last part ("/data/.../outbound" -> "outbound"),
    or source.parameter ("filter[metadata/created/after]"). A pointer ending in /id names the
    object the id belongs to ("/data/attributes/purpose/id" -> "purpose")."""
    source = error.get("source")
    if not isinstance(source, Mapping):
        return None
    pointer = source.get("pointer")
    if isinstance(pointer, str) and pointer.strip("/"):
        parts = [part for part in pointer.split("/") if part]
        if parts[-1] == "id" and len(parts) > 1 and parts[-2] != "data":
            return parts[-2]
        return parts[-1]
    parameter = source.get("parameter")
    return parameter if isinstance(parameter, str) and parameter else None


def _first_number(value: str | None) -> float | None:
    """A header's first number: X-RateLimit-Remaining may read "9999, 19988"."""
    if not value:
        return None
    match = re.match(r"\s*(\d+(?:\.\d+)?)", value)
    return float(match.group(1)) if match else None


class OutreachClient:
    """A client of the Outreach Calls API 1.0; safe to share between threads.

    `base_url` is the host root (https://api.outreach.io, or the sandbox's http://127.0.0.1:port);
    paths start at /1.0. `bound_margin` widens each list request beyond the wanted window: the
    API's created filters have whole-minute precision and undocumented inclusivity, so a minute
    either side guarantees the edge calls are in the answer, and the client then keeps exactly
    [after, before) by each call's own created time (see lib.outreach.windows.widen_window). A day
    would also cover a server that reads the filters in the user's zone. `sleep` is injectable
    so tests never wait; `throttle_below` (default 2 * max_workers) is how few remaining
    requests make the client wait for the rate window's reset.
    """

    media_type = "application/json"  # of request bodies and the answers asked for
    scope_pattern = _SCOPE_IN_TEXT  # how a 403's text names the missing scope
    pages_in_parallel = True  # page[number] paging: a query's pages are read side by side
    call_dtypes: Mapping[str, str] = CALL_DTYPES  # the columns of the calls frames it answers

    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        timeout: float | tuple[float, float] = (3.05, 30),
        max_retries: int = 5,
        backoff_factor: float = 0.5,
        max_backoff: float = 30,
        max_workers: int = 4,
        bound_margin: timedelta = timedelta(minutes=1),
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        throttle_below: int | None = None,
        clock: Clock = real_clock,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1.")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.max_backoff = max_backoff
        self.max_workers = max_workers
        self.bound_margin = bound_margin
        # Below this many remaining requests the client waits for the window's reset instead of
        # running into 429s; each worker may have a request in flight, hence the default.
        self.throttle_below = max_workers * 2 if throttle_below is None else throttle_below
        self._sleep = sleep
        # "Now" for an open-ended read and for the rate window's reset (the server's epoch).
        self.clock = clock
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max_workers)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self._session = session
        self._rate_lock = threading.Lock()
        # Every read has its own pool of max_workers threads; this bounds the requests in flight
        # across all of them (two dashboard sessions reading at once share one client), so the
        # API never sees more than max_workers concurrent requests from this client.
        self._in_flight = threading.BoundedSemaphore(max_workers)
        self.rate_limit_limit: int | None = None
        self.rate_limit_remaining: int | None = None
        self.rate_limit_reset: datetime | None = None

    @property
    def token_url(self) -> str:
        """Where a RefreshingToken for this API host mints tokens."""
        return token_url_for(self.base_url)

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> OutreachClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- public API -----

    def info(self) -> ApiInfo:
        """The token's user, scopes and rate-limit counters (GET /1.0/info)."""
        body = self._request("GET", "/1.0/info")
        meta = body.get("meta")
        if not isinstance(meta, Mapping):
            raise UnexpectedResponse("GET /1.0/info answered without meta.")
        user = meta.get("user") if isinstance(meta.get("user"), Mapping) else {}
        api = meta.get("api") if isinstance(meta.get("api"), Mapping) else {}
        counters = api.get("requests") if isinstance(api.get("requests"), Mapping) else {}
        permissions = api.get("permissions")
        if isinstance(permissions, str):
            permissions = permissions.split()
        if not isinstance(permissions, list):
            permissions = []
        email = user.get("email")
        return ApiInfo(
            email=email if isinstance(email, str) else None,
            user_id=to_id(user.get("id")),
            scopes=frozenset(str(scope) for scope in permissions),
            requests_current=to_id(counters.get("current")),
            requests_maximum=to_id(counters.get("maximum")),
        )

    def list_calls(
        self,
        created_after: datetime | None,
        created_before: datetime | None,
        user_ids: Sequence[int] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame:
        """Exactly the calls with created_after <= created_at < created_before, as a calls frame.

        `created_before` None means now (pinned once, so paging sees a set that does not grow);
        `created_after` None means from the beginning. `user_ids` None means every user.
        `on_progress(pages_done, pages_known)` is called in this thread after each page.
        A read that fails after some pages raises IncompleteRead: never partial data.
        """
        rows = self.calls_in_window(created_after, created_before, user_ids, on_progress)
        return frame_from_rows(rows, self.call_dtypes)

    def calls_in_window(
        self,
        after: datetime | None,
        before: datetime | None,
        user_ids: Sequence[int] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Parsed call rows (lib.outreach.records.parse_call) with after <= created_at < before.

        Rows are filtered exactly, de-duplicated by id and sorted by (created_at, id).
        """
        before = self.clock() if before is None else require_utc(before, "created_before")
        wanted_users = distinct_user_ids(user_ids)
        if wanted_users == []:
            return []
        # The API takes one user id per filter: one window per user.
        windows = [CallWindow(after, before, uid) for uid in (wanted_users or [None])]
        by_id: dict[int, dict[str, Any]] = {}
        for rows in self.calls_in_windows(windows, on_progress):
            for row in rows:
                by_id[row["id"]] = row
        return sorted(by_id.values(), key=lambda row: (row["created_at"], row["id"]))

    def calls_in_windows(
        self,
        windows: Sequence[CallWindow],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """The parsed rows of each window, read side by side: one query per window, and every
        page of every query on the one bounded pool (the building block of a cache that reads
        only the windows it lacks).

        Each list holds exactly that window's calls, de-duplicated by id, sorted by
        (created_at, id). All or nothing: if any page fails, no window is returned.
        """
        bounds: list[tuple[datetime | None, datetime]] = []
        for window in windows:
            before = require_utc(window.before, "before")
            after = None if window.after is None else require_utc(window.after, "after")
            bounds.append((after, before))
        labelled_by_time = len(set(bounds)) > 1
        queries: list[tuple[dict[str, str], str]] = []
        asked: list[int] = []  # index into windows of each query (empty windows ask nothing)
        for index, (window, (after, before)) in enumerate(zip(windows, bounds, strict=True)):
            if after is not None and after >= before:
                continue
            wide_after, wide_before = widen_window(after, before, self.bound_margin)
            params: dict[str, str] = {}
            if wide_after is not None:
                params["filter[metadata/created/after]"] = format_api_time(wide_after)
            params["filter[metadata/created/before]"] = format_api_time(wide_before)
            label = "GET /1.0/calls"
            if labelled_by_time:
                since = "" if after is None else format_api_time(after)
                label += f" [{since}, {format_api_time(before)})"
            if window.user_id is not None:
                params["filter[user/id]"] = str(window.user_id)
                label += f" (user {window.user_id})"
            queries.append((params, label))
            asked.append(index)

        results: list[list[dict[str, Any]]] = [[] for _ in windows]
        pages = self._read_pages("/1.0/calls", queries, on_progress) if queries else []
        for index, records in zip(asked, pages, strict=True):
            after, before = bounds[index]
            results[index] = rows_in_window(map(parse_call, records), after, before,
                                            windows[index].user_id)
        return results

    def get_call(self, call_id: int | str) -> dict[str, Any]:
        """One call as a parsed row; InvalidInput(field="id") for a non-number, without asking."""
        number = to_id(call_id)
        if number is None:
            raise InvalidInput(f"A call id is a number; got {call_id!r}.", field="id", status=None)
        body = self._request("GET", f"/1.0/calls/{number}")
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise UnexpectedResponse(f"GET /1.0/calls/{number} answered without a data object.")
        return parse_call(data)

    def create_call(self, new: NewCall) -> dict[str, Any]:
        """Log a call; returns the created call as a parsed row.

        Not repeated after the server may have received it (see the module comment): an
        ApiUnavailable from here may mean the call exists, and its message says so.
        """
        body = new.to_body()
        answer = self._request("POST", "/1.0/calls", body=body, idempotent=False)
        data = answer.get("data")
        if not isinstance(data, Mapping):
            raise UnexpectedResponse("POST /1.0/calls answered without a data object.")
        return parse_call(data)

    def list_users(self) -> pd.DataFrame:
        """Every user of the org (records.users_frame), in the API's order (last name)."""
        return users_frame(self._read_pages("/1.0/users", [({}, "GET /1.0/users")])[0])

    def list_dispositions(self) -> pd.DataFrame:
        """Every call disposition (lib.outreach.records.dispositions_frame)."""
        query = [({}, "GET /1.0/call_dispositions")]
        return dispositions_frame(self._read_pages("/1.0/call_dispositions", query)[0])

    def list_purposes(self) -> pd.DataFrame:
        """Every call purpose (lib.outreach.records.purposes_frame)."""
        query = [({}, "GET /1.0/call_purposes")]
        return purposes_frame(self._read_pages("/1.0/call_purposes", query)[0])

    # ----- paging -----

    def _read_pages(
        self,
        path: str,
        queries: Sequence[tuple[dict[str, str], str]],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[list[Any]]:
        """Every record of each (params, label) query, reading pages concurrently.

        Page 1 of each query comes first (it tells how many pages there are); the rest follow on
        the pool. If any page fails, nothing is returned: IncompleteRead when some pages had
        already been read, else the page's own error (nothing was read, nothing is partial).
        """
        records: dict[tuple[int, int], list[Any]] = {}
        scheduled = [0] * len(queries)  # highest page number submitted, per query
        known: list[int | None] = [None] * len(queries)  # last page number, once learned
        done = 0
        cancel = threading.Event()

        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="callboard-page") as pool:
            pending: dict[Future, tuple[int, int]] = {}

            def submit(index: int, page: int) -> None:
                params, label = queries[index]
                page_params = {**params, "page[number]": str(page), "page[size]": str(PAGE_SIZE)}
                what = f"{label} page {page}"
                future = pool.submit(self._request, "GET", path, params=page_params, what=what,
                                     cancel=cancel)
                pending[future] = (index, page)
                scheduled[index] = max(scheduled[index], page)

            for index in range(len(queries)):
                submit(index, 1)
            try:
                while pending:
                    finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                    for future in finished:
                        index, page = pending.pop(future)
                        try:
                            body = future.result()
                        except OutreachError as exc:
                            if done == 0:
                                raise
                            label = queries[index][1]
                            of = f" of {known[index]}" if known[index] else ""
                            raise IncompleteRead(
                                f"Reading stopped at {label} page {page}{of}: {exc.detail}",
                                cause=exc,
                            ) from exc
                        data, last, more = self._page_of(body, queries[index][1], page)
                        records[(index, page)] = data
                        done += 1
                        if last is not None:
                            known[index] = max(known[index] or 0, last)
                            for extra in range(scheduled[index] + 1, last + 1):
                                submit(index, extra)
                        elif more and page == scheduled[index]:
                            # No paging meta: walk on one page at a time until a short page.
                            submit(index, page + 1)
                        if on_progress is not None:
                            on_progress(done, self._pages_known(known, scheduled))
            except BaseException:
                cancel.set()
                for future in pending:
                    future.cancel()
                raise

        return [
            [record for page in range(1, scheduled[index] + 1)
             for record in records.get((index, page), [])]
            for index in range(len(queries))
        ]

    @staticmethod
    def _pages_known(known: list[int | None], scheduled: list[int]) -> int:
        return sum(max(last or 0, count) for last, count in zip(known, scheduled, strict=True))

    @staticmethod
    def _page_of(body: Mapping[str, Any], label: str, page: int) -> tuple[list, int | None, bool]:
        """(records, last page number if the meta says, whether more pages may follow)."""
        data = body.get("data")
        if not isinstance(data, list):
            raise UnexpectedResponse(f"{label} page {page} answered without a data list.")
        meta = body.get("meta") if isinstance(body.get("meta"), Mapping) else {}
        paging = meta.get("page") if isinstance(meta.get("page"), Mapping) else {}
        results = meta.get("results") if isinstance(meta.get("results"), Mapping) else {}
        last = to_id(paging.get("maximum"))
        if last is None:
            total = to_id(results.get("total"))
            entries = to_id(paging.get("entries")) or PAGE_SIZE
            if total is not None and entries > 0:
                last = max(1, math.ceil(total / entries))
        links = body.get("links")
        if isinstance(links, Mapping) and links:
            more = bool(links.get("next"))
        else:
            more = len(data) >= PAGE_SIZE
        return data, last, bool(data) and more

    # ----- one request, with retries -----

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        what: str | None = None,
        idempotent: bool = True,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """The JSON object answered by one API request, after the retry policy above."""
        what = what or f"{method} {path}"
        url = self.base_url + path
        tries = 0
        refreshed = False
        while True:
            if cancel is not None and cancel.is_set():
                raise ApiUnavailable(f"{what} was abandoned because another page failed.")
            token = self.auth.access_token()
            self._throttle()
            tries += 1
            retry_at: datetime | None = None
            status: int | None = None
            try:
                with self._in_flight:
                    headers = {"Authorization": f"Bearer {token}",
                               "Accept": self.media_type, "User-Agent": USER_AGENT}
                    if body is not None:
                        headers["Content-Type"] = self.media_type
                    response = self._session.request(
                        method, url, params=params,
                        data=None if body is None else json.dumps(body).encode(),
                        timeout=self.timeout, headers=headers,
                    )
            except requests.RequestException as exc:
                problem = _describe(exc)
                if not idempotent and not _failed_before_sending(exc):
                    raise ApiUnavailable(
                        f"{what} {problem} after the request was sent; it was not repeated "
                        "because the call may have been created. Check before trying again."
                    ) from None
                delay = self._backoff(tries)
            else:
                status = response.status_code
                self._note_rate_headers(response.headers)
                if 200 <= status < 300:
                    data = _json_or_none(response)
                    if isinstance(data, dict):
                        return data
                    if data is not None:
                        raise UnexpectedResponse(f"{what} answered JSON that is not an object.",
                                                 status=status)
                    problem = f"HTTP {status} with a body that is not JSON"
                    if not idempotent:
                        raise ApiUnavailable(
                            f"{what} answered {problem}; the call may have been created, so it "
                            "was not repeated. Check before trying again.", status=status)
                    delay = self._backoff(tries)
                elif status == 401:
                    if not refreshed:
                        refreshed = True
                        if self.auth.refresh_after_401(token):
                            tries -= 1  # a renewed token is a fresh start, not a fault retry
                            continue
                    raise NotAuthorised(
                        f"{what} was refused (HTTP 401): the access token is missing, expired, "
                        "revoked or unknown.", status=401)
                elif status == 429:
                    problem = "HTTP 429"
                    delay, retry_at = self._rate_limit_wait(response, tries)
                    if delay > self.max_backoff:
                        # Waiting that long inside a page load helps nobody: say when instead.
                        raise RateLimited(
                            f"{what} was rate limited (HTTP 429) until "
                            f"{retry_at:%Y-%m-%d %H:%M:%S} UTC.", retry_at=retry_at)
                elif status >= 500:
                    problem = f"HTTP {status}"
                    if not idempotent:
                        raise ApiUnavailable(
                            f"{what} answered {problem}; the call may have been created, so it "
                            "was not repeated. Check before trying again.", status=status)
                    delay = self._backoff(tries)
                else:
                    raise self._client_error(method, path, what, response)

            if tries > self.max_retries:
                detail = f"{what} failed after {tries} tries: {problem}"
                if status == 429:
                    raise RateLimited(detail, retry_at=retry_at)
                raise ApiUnavailable(detail, status=status)
            log.info("%s: %s; retry %d of %d in %.1f s", what, problem, tries,
                        self.max_retries, delay)
            self._sleep(delay)

    def _client_error(self, method: str, path: str, what: str,
                      response: requests.Response) -> OutreachError:
        status = response.status_code
        error = _first_error(response)
        detail = error.get("detail") or error.get("title") or f"HTTP {status}"
        detail = str(detail)
        if status == 403:
            named = self.scope_pattern.search(f"{error.get('detail', '')} {error.get('title', '')}")
            scope = named.group(1) if named else self._route_scope(method, path)
            lacks = f"the token lacks the scope {scope}" if scope else "the token lacks a scope"
            return MissingScope(f"{what} was refused (HTTP 403): {lacks}.", scope=scope)
        if status == 404:
            return NotFound(f"{what}: {detail}", status=404)
        if status in (400, 422):
            return InvalidInput(detail, field=_field_of(error), status=status)
        return OutreachError(f"{what} was refused (HTTP {status}): {detail}", status=status)

    @staticmethod
    def _route_scope(method: str, path: str) -> str | None:
        return _route_scope(method, path)

    # ----- waiting -----

    def _backoff(self, tries: int) -> float:
        """Exponential backoff with jitter, so concurrent pages do not retry in lockstep."""
        base = min(self.max_backoff, self.backoff_factor * (2 ** (tries - 1)))
        return base * random.uniform(0.5, 1.0)

    def _rate_limit_wait(self, response: requests.Response,
                         tries: int) -> tuple[float, datetime]:
        """Seconds to wait after a 429, and when that is: Retry-After, else the window's reset,
        else backoff (some 429s carry no headers at all)."""
        now = self.clock().timestamp()
        delay: float | None = None
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            seconds = _first_number(retry_after)
            if seconds is not None and retry_after.strip().replace(".", "", 1).isdigit():
                delay = seconds
            else:
                try:
                    delay = parsedate_to_datetime(retry_after).timestamp() - now
                except (TypeError, ValueError, IndexError):
                    delay = None
        if delay is None:
            reset = self._reset_epoch(response.headers.get("X-RateLimit-Reset"), now)
            if reset is not None:
                delay = reset - now
        if delay is None:
            delay = self._backoff(tries)
        delay = max(0.0, delay)
        return delay, datetime.fromtimestamp(now + delay, UTC)

    @staticmethod
    def _reset_epoch(value: str | None, now: float) -> float | None:
        reset = _first_number(value)
        if reset is None:
            return None
        # Documented as epoch seconds; a small number can only be "seconds from now".
        return reset if reset > 1_000_000_000 else now + reset

    def _note_rate_headers(self, headers: Mapping[str, str]) -> None:
        remaining = _first_number(headers.get("X-RateLimit-Remaining"))
        limit = _first_number(headers.get("X-RateLimit-Limit"))
        reset = self._reset_epoch(headers.get("X-RateLimit-Reset"), self.clock().timestamp())
        with self._rate_lock:
            if remaining is not None:
                self.rate_limit_remaining = int(remaining)
            if limit is not None:
                self.rate_limit_limit = int(limit)
            if reset is not None:
                self.rate_limit_reset = datetime.fromtimestamp(reset, UTC)

    def _throttle(self) -> None:
        """Slow down when the window is nearly used up, rather than collect 429s.

        Waits for the reset when it is near (within max_backoff); when it is far away, waiting
        would only stall the page, so the request goes ahead and a 429 reports the retry time.
        """
        with self._rate_lock:
            remaining, reset = self.rate_limit_remaining, self.rate_limit_reset
        if remaining is None or remaining >= self.throttle_below:
            return
        wait_s = ((reset - self.clock()).total_seconds() if reset else self.backoff_factor)
        if wait_s <= 0 or wait_s > self.max_backoff:
            return
        log.info("Only %d API requests left in this window; waiting %.1f s for its reset.",
                 remaining, wait_s)
        self._sleep(wait_s)
        with self._rate_lock:
            if self.rate_limit_reset == reset and reset is not None:
                # The window has turned over; the next answer will tell the new count.
                self.rate_limit_remaining = None
