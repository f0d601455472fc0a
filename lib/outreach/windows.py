"""What a read asks for: its windows (CallWindow), on whole-minute filter values widened so
that the answer surely holds each window, then trimmed exactly to it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lib.clock import require_utc
from lib.outreach.errors import InvalidInput
from lib.outreach.records import to_id

API_TIME_FORMAT = "%Y-%m-%dT%H:%M"  # the 1.0 filters' yyyy-MM-ddTHH:mm: no seconds, no zone
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class CallWindow:
    """One query of a multi-window read: the calls with after <= created_at < before, of one
    user (user_id) or of every user (None). `after` None means from the beginning."""

    after: datetime | None
    before: datetime
    user_id: int | None = None


def format_api_time(moment: datetime) -> str:
    """An aware datetime as the API's filter value in UTC, e.g. 2026-03-29T22:00.

    Seconds are dropped (truncated); callers that need a bound to cover an instant use
    `widen_window` first.
    """
    return require_utc(moment, "moment").strftime(API_TIME_FORMAT)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def ceil_minute(moment: datetime) -> datetime:
    floored = floor_minute(moment)
    return floored if floored == moment else floored + _MINUTE


def widen_window(
    after: datetime | None, before: datetime | None, margin: timedelta = _MINUTE
) -> tuple[datetime | None, datetime | None]:
    """A request window, on whole UTC minutes, that surely contains [after, before).

    The API's filters take whole minutes and their inclusivity is not documented (the sandbox
    treats `after` as inclusive and `before` as exclusive; the live API may differ, or compare
    truncated timestamps). Flooring `after` and ceiling `before` to the minute, then moving each
    out by `margin`, makes the answer a superset whichever way the server reads the bounds; the
    caller then filters exactly on the records' own created_at. A margin of a day also covers a
    server that reads the filter in the user's zone instead of UTC.
    """
    if margin < timedelta(0):
        raise ValueError("The bound margin must not be negative.")
    wide_after = None if after is None else floor_minute(require_utc(after, "after")) - margin
    wide_before = None if before is None else ceil_minute(require_utc(before, "before")) + margin
    return wide_after, wide_before


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
