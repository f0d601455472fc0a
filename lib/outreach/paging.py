"""The one page walk of both dialects: every record of each query, pages on one bounded pool,
all or nothing."""

# The dialect says how to ask a query's page 1 and what an answered page says of the rest
# (lib.outreach.dialect.NextPages). When a page tells the last page's number (1.0's meta), the
# pages up to it are asked side by side at once; otherwise the next one is asked when this one
# is answered (1.0 without meta, v2's cursor), so a query's pages come one after another while
# the queries go side by side.
#
# The rate budget (lib.outreach.waiting.RateQuota): once page 1 tells how many pages a query
# has, a read that needs more requests than the budget has left stops at once
# (QuotaExhausted), rather than spend the rest on pages it could not show; a cursor is learnt
# as it goes, so there the throttle says so when the budget runs out.
#
# Failing fast: on the first failure that ends the read, the cancel event is set, which cuts
# every page's backoff and rate wait short (lib.outreach.transport), pages not yet started are
# dropped, and the walk raises without joining its workers; a request already in flight
# finishes in the background and its answer is ignored.

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lib.outreach.dialect import Dialect
from lib.outreach.errors import IncompleteRead, OutreachError, QuotaExhausted, UnexpectedResponse
from lib.outreach.transport import Transport


@dataclass(frozen=True)
class Query:
    """One list request of many pages: its route, its filters (without paging) and its name in
    messages ("GET /1.0/calls (user 5)")."""

    path: str
    params: Mapping[str, str]
    label: str


def read_queries(
    transport: Transport,
    dialect: Dialect,
    queries: Sequence[Query],
    max_workers: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[list[Any]]:
    """Every record of each query, in page order.

    `on_progress(pages_done, pages_known)` runs in this thread after each page. If any page
    fails, nothing is returned: IncompleteRead when some pages had already been read, else the
    page's own error (nothing was read, nothing is partial); QuotaExhausted as itself, before
    or during the read, when the rate budget cannot carry it. It returns or raises without
    waiting for pages still asleep or in flight.
    """
    records: dict[tuple[int, int], list[Any]] = {}
    scheduled = [0] * len(queries)  # highest page number asked, per query
    known: list[int | None] = [None] * len(queries)  # last page number, once told
    done = 0
    cancel = threading.Event()

    pool = ThreadPoolExecutor(max_workers, thread_name_prefix="callboard-page")
    pending: dict[Future, tuple[int, int]] = {}

    def ask(index: int, page: int, params: Mapping[str, str]) -> None:
        query = queries[index]
        future = pool.submit(transport.request, "GET", query.path, params=params,
                             what=f"{query.label} page {page}", cancel=cancel)
        pending[future] = (index, page)
        scheduled[index] = max(scheduled[index], page)

    finished_well = False
    try:
        for index, query in enumerate(queries):
            ask(index, 1, dialect.page_params(query.params, 1))
        while pending:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            # In page order, so that of pages failing together the first is the one told.
            for future in sorted(finished, key=pending.__getitem__):
                index, page = pending.pop(future)
                query = queries[index]
                try:
                    body = future.result()
                except OutreachError as exc:
                    # Out of budget is "not now", never partial: said as itself.
                    if done == 0 or isinstance(exc, QuotaExhausted):
                        raise
                    of = f" of {known[index]}" if known[index] else ""
                    raise IncompleteRead(
                        f"Reading stopped at {query.label} page {page}{of}: {exc.detail}",
                        cause=exc,
                    ) from exc
                data = body.get("data")
                if not isinstance(data, list):
                    raise UnexpectedResponse(
                        f"{query.label} page {page} answered without a data list.")
                records[(index, page)] = data
                done += 1
                after = dialect.next_pages(body, data, query.params, page)
                if after.last is not None:
                    known[index] = max(known[index] or 0, after.last)
                    more = range(scheduled[index] + 1, after.last + 1)
                    if more:
                        # Those pages and every page asked and not yet answered.
                        transport.quota.check(len(more) + sum(
                            not asked.done() for asked in pending), query.label)
                    for number in more:
                        ask(index, number, dialect.page_params(query.params, number))
                elif after.follow is not None and page == scheduled[index]:
                    ask(index, page + 1, follow_params(after.follow, transport.base_url, query))
                if on_progress is not None:
                    on_progress(done, sum(max(last or 0, count)
                                          for last, count in zip(known, scheduled,
                                                                 strict=True)))
        finished_well = True
    finally:
        if not finished_well:
            cancel.set()  # cuts the other pages' waits; their tries end with "abandoned"
        # After a failure, neither wait for pages asleep in a backoff nor for requests in
        # flight: the read is over, and their answers are dropped with `records`.
        pool.shutdown(wait=finished_well, cancel_futures=True)

    return [[record for page in range(1, scheduled[index] + 1)
             for record in records.get((index, page), [])]
            for index in range(len(queries))]


def follow_params(follow: Mapping[str, str] | str, base_url: str, query: Query) -> dict[str, str]:
    """The next page's parameters, from a dialect's parameters or from a link. A link is
    followed only on our own host and the route being read: the bearer token goes nowhere
    else."""
    if not isinstance(follow, str):
        return dict(follow)
    split, ours = urlsplit(follow), urlsplit(base_url)
    if (split.scheme, split.netloc) != (ours.scheme, ours.netloc) or split.path != query.path:
        raise UnexpectedResponse(f"GET {query.path} linked its next page elsewhere.")
    return dict(parse_qsl(split.query, keep_blank_values=True))
