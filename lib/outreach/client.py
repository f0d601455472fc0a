"""The Outreach API client (OutreachClient): calls and lookups as frames and rows, in the
dialect of API 1.0 or v2, over one transport, rate quota and page walk."""

# Retry policy, in one place (lib.outreach.transport carries it out):
#   retried   429 (waiting Retry-After, else X-RateLimit-Reset, else backoff), 5xx, connection
#             errors and timeouts, and 2xx bodies that are not JSON (the live API sends those
#             now and then; they are faults, never data).
#   once      401: the auth is asked for a new token once, then the request is repeated once.
#   never     other 4xx: they will not get better by asking again.
# A wait longer than max_backoff is not waited: RateLimited says when to try again (retry_at).
#
# Rate budget (lib.outreach.waiting.RateQuota): the client spends at most `quota_share` of each
# hourly window's X-RateLimit-Limit (the user's other integrations share the quota), paced by
# X-RateLimit-Remaining/-Reset rather than by 429s. When the budget is spent it waits for a
# reset within max_backoff, and otherwise sends nothing more and raises QuotaExhausted (a
# RateLimited whose retry_at is the reset); a 1.0 read that page 1 shows to need more than is
# left raises it before reading on. A read's first failure cuts its other pages' waits short.
# Creating a call is not idempotent, so a create is repeated only when the server surely did not
# process it: a 429, a 401, or a connection that failed before the request was sent. After a
# 5xx, a timeout or a broken connection the call may exist, so the client says so instead of
# risking a duplicate.
#
# Nothing here logs or raises a token: tokens only ever travel in the Authorization header.

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from lib.clock import Clock, real_clock, require_utc
from lib.frames import frame_from_rows
from lib.outreach.auth import token_url_for
from lib.outreach.dialect import Dialect
from lib.outreach.errors import InvalidInput, UnexpectedResponse
from lib.outreach.paging import Query, follow_params, read_queries
from lib.outreach.prospects import Prospect, ProspectMatches, prospect_filters, sort_key
from lib.outreach.records import to_id
from lib.outreach.transport import Auth, Sleep, Transport, Wait, event_wait, sleep_then_look
from lib.outreach.v1 import V1Dialect
from lib.outreach.v2 import V2Dialect
from lib.outreach.values import ApiInfo, NewCall
from lib.outreach.waiting import RateQuota
from lib.outreach.windows import (
    CallWindow,
    distinct_user_ids,
    format_api_time,
    rows_in_window,
    widen_window,
)

DIALECTS: Mapping[str, Callable[..., Dialect]] = {"1.0": V1Dialect, "2": V2Dialect}
SEARCH_PAGE_SIZE = 50  # records asked per prospect-search question (1.0's page size)


def dialect_for(version: str, **options: Any) -> Dialect:
    """The dialect of an API version as OUTREACH_API_VERSION names it, "1.0" or "2";
    `options` go to it (v2: page_size)."""
    try:
        make = DIALECTS[version]
    except KeyError:
        raise ValueError(f"No Outreach API {version!r}: 1.0 or 2.") from None
    return make(**options)


class OutreachClient:
    """A client of the Outreach API, speaking `dialect` (default: API 1.0); safe to share
    between threads.

    `base_url` is the host root (https://api.outreach.io, or the sandbox's
    http://127.0.0.1:port); the dialect says where its routes start. `bound_margin` widens each
    calls query beyond the wanted window: the API's created filters have whole-minute
    precision and undocumented inclusivity, so a minute either side guarantees the edge calls
    are in the answer, and the client then keeps exactly [after, before) by each call's own
    created time (see lib.outreach.windows.widen_window). A day would also cover a server that
    reads the filters in the user's zone. `clock` is "now" for an open-ended read and for the
    rate window's reset (the server's epoch). `quota_share` (0 to 1, default 0.5) is the share
    of the user's hourly request quota the client may spend, and `throttle_below` (default
    2 * max_workers) how many remaining requests it always leaves (lib.outreach.waiting.
    RateQuota). At most `max_workers` requests are in flight.

    Waits: `sleep(seconds)` for a request of its own (default time.sleep), and
    `wait(seconds, cancel) -> cut` for a page of a read, which the read's first failure cuts
    short by setting `cancel` (default: `cancel.wait(seconds)`; with only `sleep` given, that
    sleep and then a look at `cancel`). Tests inject them so that they never really wait.
    """

    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        dialect: Dialect | None = None,
        timeout: float | tuple[float, float] = (3.05, 30),
        max_retries: int = 5,
        backoff_factor: float = 0.5,
        max_backoff: float = 30,
        max_workers: int = 4,
        bound_margin: timedelta = timedelta(minutes=1),
        session: requests.Session | None = None,
        sleep: Sleep | None = None,
        wait: Wait | None = None,
        throttle_below: int | None = None,
        quota_share: float = 0.5,
        clock: Clock = real_clock,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1.")
        if not 0 < quota_share <= 1:
            raise ValueError("quota_share must be more than 0 and at most 1.")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.dialect: Dialect = dialect or V1Dialect()
        self.max_workers = max_workers
        self.max_backoff = max_backoff
        self.bound_margin = bound_margin
        self.clock = clock
        # Each worker may have a request in flight, hence the reserve's default.
        self.quota = RateQuota(clock, share=quota_share, max_wait=max_backoff,
                               throttle_below=max_workers * 2 if throttle_below is None
                               else throttle_below)
        if wait is None:
            wait = event_wait if sleep is None else sleep_then_look(sleep)
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max_workers)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.transport = Transport(
            self.base_url, auth, self.dialect, session=session, timeout=timeout,
            retry=Retry(total=max_retries, backoff_factor=backoff_factor,
                        backoff_max=max_backoff),
            quota=self.quota, sleep=time.sleep if sleep is None else sleep, wait=wait,
            max_in_flight=max_workers)

    @property
    def call_dtypes(self) -> Mapping[str, str]:
        """The columns of the calls frames it answers (v2's extra fields on v2)."""
        return self.dialect.call_dtypes

    @property
    def pages_in_parallel(self) -> bool:
        """Whether one query's pages are read side by side (1.0), or one after another (v2)."""
        return self.dialect.pages_in_parallel

    @property
    def token_url(self) -> str:
        """Where a RefreshingToken for this API host mints tokens."""
        return token_url_for(self.base_url)

    def close(self) -> None:
        if self._owns_session:
            self.transport.session.close()

    def __enter__(self) -> OutreachClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- calls -----

    def info(self) -> ApiInfo:
        """The token's user, scopes and rate-limit counters (GET /1.0/info); all unknown on
        an API without such a route (v2), which is then not asked."""
        if not self.dialect.has_info:
            return ApiInfo.unknown()
        return self.dialect.info(self.transport.request("GET", f"{self.dialect.prefix}/info"))

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
        A read that fails after some pages raises IncompleteRead, and one the rate budget
        cannot carry QuotaExhausted (before or during it): never partial data.
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
        """Parsed call rows (the dialect's call_row) with after <= created_at < before.

        Rows are filtered exactly, de-duplicated by id and sorted by (created_at, id).
        """
        before = self.clock() if before is None else require_utc(before, "created_before")
        wanted_users = distinct_user_ids(user_ids)
        if wanted_users == []:
            return []
        # One window per user; calls_in_windows asks them in as few queries as the dialect's
        # user filter allows (1.0: one user a query, v2: a comma list).
        windows = [CallWindow(after, before, uid) for uid in (wanted_users or [None])]
        found = self.calls_in_windows(windows, on_progress)
        return rows_in_window(itertools.chain.from_iterable(found), None, before, None)

    def calls_in_windows(
        self,
        windows: Sequence[CallWindow],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """The parsed rows of each window, read side by side: every page of every query on the
        one bounded pool (the building block of a cache that reads only the windows it lacks).

        One query per window, except that windows of single users with the same bounds share
        one when the dialect's user filter takes a list (v2: `filter[user][id]=2,3,5`, at most
        `users_per_query` a query); its rows are then split per user. Each list holds exactly
        that window's calls, de-duplicated by id, sorted by (created_at, id). All or nothing:
        if any page fails, no window is returned.
        """
        bounds: list[tuple[datetime | None, datetime]] = []
        for window in windows:
            before = require_utc(window.before, "before")
            after = None if window.after is None else require_utc(window.after, "after")
            bounds.append((after, before))
        labelled_by_time = len(set(bounds)) > 1
        path = self._path("calls")
        # Which windows each query answers (empty windows ask nothing): windows of one user
        # and the same bounds go together, up to users_per_query users a query.
        groups: dict[object, list[int]] = {}
        for index, (window, (after, before)) in enumerate(zip(windows, bounds, strict=True)):
            if after is not None and after >= before:
                continue
            shared = window.user_id is not None and self.dialect.users_per_query > 1
            groups.setdefault((after, before) if shared else index, []).append(index)
        queries: list[Query] = []
        answers: list[list[int]] = []  # the windows each query answers
        per_query = self.dialect.users_per_query
        for members in groups.values():
            after, before = bounds[members[0]]
            users = list(dict.fromkeys(windows[index].user_id for index in members))
            for first in range(0, len(users), per_query):
                chunk = users[first:first + per_query]  # [None]: every user
                user_ids = None if chunk == [None] else chunk
                queries.append(self._calls_query(path, after, before, user_ids,
                                                 labelled_by_time))
                answers.append([index for index in members if windows[index].user_id in chunk])

        results: list[list[dict[str, Any]]] = [[] for _ in windows]
        pages = self._read(queries, on_progress) if queries else []
        for members, records in zip(answers, pages, strict=True):
            rows = [self.dialect.call_row(record) for record in records]
            by_user: dict[int | None, list[dict[str, Any]]] = {}
            if len(members) > 1:
                for row in rows:
                    by_user.setdefault(row["user_id"], []).append(row)
            for index in members:
                after, before = bounds[index]
                user = windows[index].user_id
                mine = rows if len(members) == 1 else by_user.get(user, [])
                results[index] = rows_in_window(mine, after, before, user)
        return results

    @property
    def reads_changes(self) -> bool:
        """Whether the API can list the calls changed since a moment (v2; 1.0 cannot)."""
        return self.dialect.reads_changes

    def changed_calls(self, since: datetime,
                      on_page: Callable[[list[dict[str, Any]]], None]) -> int:
        """Walk every call changed (created or edited) at or after `since`, oldest change
        first, one page after another: each page's parsed rows go to `on_page` before the next
        page is asked, so the caller can store a page and advance its bookmark past it. A
        failure raises after the pages already handed over (they stay valid). Returns how many
        pages were read. ValueError on a version that cannot ask (see `reads_changes`)."""
        params = self.dialect.changes_params(require_utc(since, "since"))
        if params is None:
            raise ValueError(f"API {self.dialect.version} cannot list changed calls.")
        path = self._path("calls")
        query = Query(path, params, f"GET {path} changed since {format_api_time(since)}")
        page, ask = 1, self.dialect.page_params(params, 1)
        while True:
            body = self.transport.request("GET", path, params=ask, what=f"{query.label} page "
                                          f"{page}")
            data = body.get("data")
            if not isinstance(data, list):
                raise UnexpectedResponse(f"{query.label} page {page} answered without a data "
                                         "list.")
            on_page([self.dialect.call_row(record) for record in data])
            follow = self.dialect.next_pages(body, data, params, page).follow
            if follow is None or not data:
                return page
            page, ask = page + 1, follow_params(follow, self.base_url, query)

    def get_call(self, call_id: int | str) -> dict[str, Any]:
        """One call as a parsed row; InvalidInput(field="id") for a non-number, without asking."""
        number = to_id(call_id)
        if number is None:
            raise InvalidInput(f"A call id is a number; got {call_id!r}.", field="id", status=None)
        path = f"{self._path('calls')}/{number}"
        return self._call_of(self.transport.request("GET", path), f"GET {path}")

    def create_call(self, new: NewCall) -> dict[str, Any]:
        """Log a call; returns the created call as a parsed row.

        Not repeated after the server may have received it (see the module comment): an
        ApiUnavailable from here may mean the call exists, and its message says so.
        """
        body = self.dialect.create_body(new)
        path = self._path("calls")
        return self._call_of(self.transport.request("POST", path, body=body), f"POST {path}")

    # ----- lookups -----

    def list_users(self) -> pd.DataFrame:
        """Every user of the org (records.users_frame), in the API's order (last name)."""
        return self.dialect.users_frame(self._read_all("users"))

    def list_dispositions(self) -> pd.DataFrame:
        """Every call disposition (lib.outreach.records.dispositions_frame)."""
        return self.dialect.dispositions_frame(self._read_all("dispositions"))

    def list_purposes(self) -> pd.DataFrame:
        """Every call purpose (lib.outreach.records.purposes_frame)."""
        return self.dialect.purposes_frame(self._read_all("purposes"))

    # ----- prospects -----

    def find_prospects(self, text: str, limit: int = 20) -> ProspectMatches:
        """The prospects a typed name or e-mail stands for (lib.outreach.prospects), at most
        `limit`, namesakes side by side; nothing is asked for a text under two characters.
        Each question reads its first page only: a search that many prospects answer should
        be typed more precisely, not paged through."""
        path = self._path("prospects")
        found: dict[int, Prospect] = {}
        more = False
        for wanted in prospect_filters(text):
            params = self.dialect.prospect_params(wanted)
            # One page of each question, no bigger than 1.0's: v2's 1000 would be read for 20.
            ask = {**self.dialect.page_params(params, 1), "page[size]": str(SEARCH_PAGE_SIZE)}
            body = self.transport.request("GET", path, params=ask,
                                          what=f"GET {path} (prospect search)")
            data = body.get("data")
            if not isinstance(data, list):
                raise UnexpectedResponse(f"GET {path} answered without a data list.")
            for record in data:
                prospect = self.dialect.prospect(record)
                found.setdefault(prospect.id, prospect)
            after = self.dialect.next_pages(body, data, params, 1)
            more = more or bool(after.follow) or (after.last or 1) > 1
        ordered = sorted(found.values(), key=sort_key)
        return ProspectMatches(tuple(ordered[:limit]), more or len(ordered) > limit)

    # ----- helpers -----

    def _path(self, resource: str) -> str:
        return f"{self.dialect.prefix}/{self.dialect.resources[resource]}"

    def _calls_query(self, path: str, after: datetime | None, before: datetime,
                     user_ids: list[int] | None, labelled_by_time: bool) -> Query:
        """The calls query of one window of these users (None: all), on widened bounds, named
        for messages ("GET /1.0/calls [2026-11-02T00:00, 2026-11-03T00:00) (user 5)")."""
        wide_after, wide_before = widen_window(after, before, self.bound_margin)
        assert wide_before is not None
        label = f"GET {path}"
        if labelled_by_time:
            since = "" if after is None else format_api_time(after)
            label += f" [{since}, {format_api_time(before)})"
        if user_ids:
            label += (f" (user {user_ids[0]})" if len(user_ids) == 1 else
                      f" (users {', '.join(str(uid) for uid in user_ids)})")
        return Query(path, self.dialect.window_params(wide_after, wide_before, user_ids), label)

    def _read(self, queries: Sequence[Query],
              on_progress: Callable[[int, int], None] | None = None) -> list[list[Any]]:
        return read_queries(self.transport, self.dialect, queries, self.max_workers, on_progress)

    def _read_all(self, resource: str) -> list[Any]:
        path = self._path(resource)
        return self._read([Query(path, {}, f"GET {path}")])[0]

    def _call_of(self, answer: Mapping[str, Any], what: str) -> dict[str, Any]:
        data = answer.get("data")
        if not isinstance(data, Mapping):
            raise UnexpectedResponse(f"{what} answered without a data object.")
        return self.dialect.call_row(data)
