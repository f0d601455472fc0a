"""What the client asks of a dialect, one version of the Outreach API: the Dialect protocol
and NextPages, what an answered page says of the pages after it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from lib.outreach.prospects import Prospect, ProspectFilter
from lib.outreach.values import ApiInfo, NewCall


@dataclass(frozen=True)
class NextPages:
    """What an answered page says of the pages after it: the last page's number when it says
    how many there are (the rest can then be asked side by side), else how to ask the next
    one, as its query parameters or as a link; neither when it was the last."""

    last: int | None = None
    follow: Mapping[str, str] | str | None = None


class Dialect(Protocol):
    """How one version of the API spells routes, filters, paging, scopes and records.

    lib.outreach.client does HTTP, retries, the rate quota, tokens and the page walk once for
    both versions; a dialect only says how its version spells what they send and read. The
    two (lib.outreach.v1.V1Dialect, lib.outreach.v2.V2Dialect) are immutable and shareable.
    """

    version: str  # "1.0" or "2", as OUTREACH_API_VERSION names it
    media_type: str  # of request bodies and of the answers asked for
    prefix: str  # where the version's routes start, e.g. "/1.0"
    # "calls", "users", "dispositions", "purposes", "prospects" -> route name
    resources: Mapping[str, str]
    pages_in_parallel: bool  # whether one query's pages can be asked side by side
    call_dtypes: Mapping[str, str]  # the columns of the calls frames read with it
    has_info: bool  # whether it has a "who am I" route, GET <prefix>/info
    scope_pattern: re.Pattern[str]  # a scope named in a 403's text (group 1)
    # How many user ids one calls query's user filter takes: 1 on 1.0, a comma list on v2.
    users_per_query: int
    reads_changes: bool  # whether changes_params can ask for calls changed since a moment

    def window_params(self, after: datetime | None, before: datetime,
                      user_ids: Sequence[int] | None) -> dict[str, str]:
        """The filters of a calls query from `after` (None: the beginning) to `before`, both
        already widened to whole minutes, of these users (at most users_per_query of them) or
        (None) of all."""
        ...

    def changes_params(self, since: datetime) -> dict[str, str] | None:
        """The filters of a calls query for every call changed at or after `since`, oldest
        change first (v2: filter[updatedAt] and sort=updatedAt); None when the version cannot
        ask for changes (1.0 filters by creation only)."""
        ...

    def page_params(self, params: Mapping[str, str], number: int) -> dict[str, str]:
        """A query's parameters for its page `number` (1, or more once a page said `last`)."""
        ...

    def next_pages(self, body: Mapping[str, Any], data: list[Any], params: Mapping[str, str],
                   number: int) -> NextPages:
        """What answered page `number` of the query with these filters (its JSON object and
        its data list) says of the pages after it."""
        ...

    def call_row(self, record: Any) -> dict[str, Any]:
        """A call record as a row with the call_dtypes columns (lib.outreach.records)."""
        ...

    def users_frame(self, records: Iterable[Any]) -> pd.DataFrame: ...

    def prospect_params(self, wanted: ProspectFilter) -> dict[str, str]:
        """The filters of a prospects query asking this one whole-value question."""
        ...

    def prospect(self, record: Any) -> Prospect:
        """A prospect record (lib.outreach.prospects)."""
        ...

    def dispositions_frame(self, records: Iterable[Any]) -> pd.DataFrame: ...

    def purposes_frame(self, records: Iterable[Any]) -> pd.DataFrame: ...

    def info(self, body: Mapping[str, Any]) -> ApiInfo:
        """The answer of GET <prefix>/info (only asked when has_info)."""
        ...

    def create_body(self, new: NewCall) -> dict[str, Any]:
        """The body of POST <prefix>/<calls>; InvalidInput, before anything is sent, for a
        value the API would refuse."""
        ...

    def scope_name(self, resource: str, write: bool) -> str:
        """The scope that reads (or writes) a resource, e.g. read_calls or calls.read."""
        ...

    def error_field(self, error: Mapping[str, Any]) -> str | None:
        """The input a 400/422 error object blames, in the names lib.display knows
        ("outbound", "to", "purpose", "filter[metadata/created/after]", ...)."""
        ...
