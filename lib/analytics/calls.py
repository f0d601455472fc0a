"""Counts the calls once for every figure: by disposition, direction, rep, local day and hour."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from lib.analytics.outcomes import FLAGS, OutcomeMapping


def check_range(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"The range ends ({end}) before it starts ({start}).")


CHUNK = 1 << 18
"""Calls counted at a time: a quarter of a million calls' temporaries fit in the processor's
caches and under malloc's mmap threshold, where one pass over ten million calls would map,
fault in and zero a fresh 80 MB array per step (that was most of the overview's time)."""


@dataclass(frozen=True)
class CallCounts:
    """The calls counted once by everything the overview's figures break them down by: every
    figure, chart and rep-table cell is a sum of these cells, not another pass over the calls.

    A call's kind is its disposition: kinds 0..len(dispositions)-1 are `disposition_ids` (the
    lookup's ids, sorted), then one kind for ids the lookup lacks (`unknown` counts those per
    id), then one for no disposition. Slots are `rep_ids` in order, then one for everyone else
    (and calls without a rep). Local days run from `start`; the first and last day columns of
    `by_rep_day` collect the calls before and after the range.
    """

    tz: str
    disposition_ids: np.ndarray
    unknown: dict[int, int]
    rep_ids: tuple[int, ...]
    start: date | None
    end: date | None
    by_week_hour: np.ndarray  # [168, kinds, 2]: local hour since Monday 00:00, kind, outbound
    by_rep: np.ndarray  # [slots, kinds, 2]: slot, kind, outbound
    by_rep_day: np.ndarray  # [slots, days + 2, 2]: slot, local day (see above), outbound
    talked: np.ndarray | None = None  # [slots, kinds]: outbound calls talked long enough (v2)

    @property
    def unknown_kind(self) -> int:
        return len(self.disposition_ids)

    @property
    def none_kind(self) -> int:
        return len(self.disposition_ids) + 1

    @property
    def by_kind(self) -> np.ndarray:
        """[kinds, 2]: calls per kind and direction."""
        return self.by_rep.sum(axis=0)

    def check(self, tz: str, *, rep_ids: Sequence[int] | None = None,
              start: date | None = None, end: date | None = None) -> None:
        """Raises ValueError unless these counts were made in `tz` (and for these reps and
        days, when given): counts shared between figures must be of the same filters."""
        if tz != self.tz or (rep_ids is not None and tuple(rep_ids) != self.rep_ids) or (
                start is not None and (start, end) != (self.start, self.end)):
            raise ValueError("These call counts were made for other filters.")


@dataclass(frozen=True)
class KindFlags:
    """What each kind of CallCounts counts as, by an OutcomeMapping (numpy bool arrays, one
    entry per kind): an unknown id or none counts as nothing."""

    connected: np.ndarray
    conversation: np.ndarray
    positive: np.ndarray
    meeting: np.ndarray
    bad_number: np.ndarray
    none: np.ndarray


def kind_flags(counts: CallCounts, mapping: OutcomeMapping) -> KindFlags:
    neither = np.zeros(2, dtype=bool)
    by_flag = {flag: np.concatenate((np.isin(counts.disposition_ids, mapping.ids(flag)),
                                     neither)) for flag in FLAGS}
    return KindFlags(**by_flag, none=np.arange(counts.none_kind + 1) == counts.none_kind)


def count_calls(calls: pd.DataFrame, dispositions: pd.DataFrame, rep_ids: Sequence[int],
                start: date | None, end: date | None, tz: str,
                conversation_s: float | None = None) -> CallCounts:
    """The CallCounts of `calls` by `dispositions`' ids, `rep_ids` and the local days
    `start`..`end` in `tz` (no days without `start`); with `conversation_s` and API v2's times,
    also the outbound calls talked at least that many seconds."""
    kinds = np.unique(dispositions.get("id", pd.Series(dtype=np.int64)).to_numpy(np.int64))
    reps = tuple(dict.fromkeys(int(rep) for rep in rep_ids))
    # A rep's slot is its place in `rep_ids`, found by searching them sorted.
    order = np.argsort(np.array(reps, dtype=np.int64), kind="stable")
    rep_of = _positions_in(np.array(reps, dtype=np.int64)[order], len(reps))
    slot_of = np.append(order, len(reps))
    kind_of = _positions_in(kinds, len(kinds))
    n_kinds, n_slots = len(kinds) + 2, len(reps) + 1
    n_days = first_day = 0
    if start is not None:
        check_range(start, end)
        n_days, first_day = (end - start).days + 1, (start - date(1970, 1, 1)).days
    timed = conversation_s is not None and {"answered_at", "completed_at"} <= set(calls)
    times = [utc_nanos(calls[name]) for name in ("created_at", "answered_at", "completed_at")
             if name == "created_at" or timed]
    # The columns' own arrays, sliced per chunk: views, safe to read from several threads.
    disposition, user = calls["disposition_id"].array, calls["user_id"].array
    outbound = calls["outbound"].to_numpy(dtype=bool)

    def count(low: int, high: int) -> _Tally:
        """The calls low..high, a chunk at a time, into tables of their own."""
        tally = _Tally(np.zeros(168 * n_kinds * 2, dtype=np.int64),
                       np.zeros(n_slots * n_kinds * 2, dtype=np.int64),
                       np.zeros((n_days + 2) * n_slots * 2, dtype=np.int64),
                       np.zeros(n_slots * n_kinds, dtype=np.int64) if timed else None, {})
        for first in range(low, high, CHUNK):
            last = min(first + CHUNK, high)
            chunk = disposition[first:last]
            ids = chunk.to_numpy(dtype=np.int64, na_value=-1)
            missing = np.asarray(pd.isna(chunk), dtype=bool)
            kind = kind_of(ids)
            strangers = kind == len(kinds)
            strangers &= ~missing
            if strangers.any():
                found, seen = np.unique(ids[strangers], return_counts=True)
                for value, number in zip(found.tolist(), seen.tolist(), strict=True):
                    tally.unknown[value] = tally.unknown.get(value, 0) + number
            kind[missing] = len(kinds) + 1
            kind *= 2
            kind += outbound[first:last]
            slot = slot_of[rep_of(user[first:last].to_numpy(dtype=np.int64, na_value=-1))]
            hour = _local_nanos(times[0][first:last], tz) // HOUR_NS
            # Hours since a Monday 00:00: 1970-01-01 was a Thursday, 72 hours after one.
            # (Written with a division: numpy's % of int64 is twenty times slower.)
            since_monday = hour + 72
            week_hour = since_monday - since_monday // 168 * 168
            tally.by_week_hour += np.bincount(week_hour * (2 * n_kinds) + kind,
                                              minlength=len(tally.by_week_hour))
            tally.by_rep += np.bincount(slot * (2 * n_kinds) + kind,
                                        minlength=len(tally.by_rep))
            if tally.talked is not None:
                answered, completed = times[1][first:last], times[2][first:last]
                long = (kind & 1).astype(bool) & (answered != _NAT) & (completed != _NAT)
                long &= completed - answered >= round(conversation_s * 1e9)
                tally.talked += np.bincount(slot[long] * n_kinds + (kind[long] >> 1),
                                            minlength=len(tally.talked))
            day = hour // 24 - first_day + 1
            np.clip(day, 0, n_days + 1, out=day)
            # Day-major: calls in order of time fill a few days' cells, not every rep's year.
            cell = (day * n_slots + slot) * 2 + (kind & 1)
            lowest = int(cell.min())
            part = np.bincount(cell - lowest)
            tally.by_day_rep[lowest:lowest + len(part)] += part
        return tally

    # Chunks are independent, and numpy lets go of the interpreter while it counts: a large
    # frame is counted on every core, each thread into tables of its own, summed at the end.
    spans = _spans(len(calls))
    if len(spans) == 1:
        tallies = [count(*spans[0])]
    else:
        with ThreadPoolExecutor(len(spans), thread_name_prefix="callboard-count") as pool:
            tallies = list(pool.map(lambda span: count(*span), spans))
    total = tallies[0]
    for other in tallies[1:]:
        total.add(other)
    return CallCounts(
        tz=tz, disposition_ids=kinds, unknown=total.unknown, rep_ids=reps, start=start,
        end=end, by_week_hour=total.by_week_hour.reshape(168, n_kinds, 2),
        by_rep=total.by_rep.reshape(n_slots, n_kinds, 2),
        by_rep_day=total.by_day_rep.reshape(n_days + 2, n_slots, 2).transpose(1, 0, 2),
        talked=None if total.talked is None else total.talked.reshape(n_slots, n_kinds))


@dataclass
class _Tally:
    """count_calls' tables for some of the calls (flat; shaped once all are summed)."""

    by_week_hour: np.ndarray
    by_rep: np.ndarray
    by_day_rep: np.ndarray
    talked: np.ndarray | None
    unknown: dict[int, int]

    def add(self, other: _Tally) -> None:
        self.by_week_hour += other.by_week_hour
        self.by_rep += other.by_rep
        self.by_day_rep += other.by_day_rep
        if self.talked is not None and other.talked is not None:
            self.talked += other.talked
        for value, number in other.unknown.items():
            self.unknown[value] = self.unknown.get(value, 0) + number


def _spans(size: int) -> list[tuple[int, int]]:
    """`size` calls cut into one span per thread: as many as there are cores (at most four),
    each several chunks long; one span for a frame that a thread counts in a moment."""
    threads = max(1, min(os.cpu_count() or 1, 4, size // (4 * CHUNK)))
    step = max(1, -(-size // threads))
    return [(low, min(low + step, size)) for low in range(0, size, step)] or [(0, 0)]


_NAT = np.iinfo(np.int64).min  # an unknown time, as a datetime column's int64 holds it
_DENSE_IDS = 1 << 20
"""Ids below this are looked up in a table indexed by id (Outreach's rep and disposition ids
are small numbers); larger ones by binary search, several times slower."""


def _positions_in(ids: np.ndarray, absent: int) -> Callable[[np.ndarray], np.ndarray]:
    """A function giving each value's index into the sorted `ids`, or `absent` where it is
    not one of them."""
    if len(ids) and ids[0] >= 0 and ids[-1] < _DENSE_IDS:
        # Shifted by one, so that -1 (no id) and anything past the last id read as absent.
        table = np.full(int(ids[-1]) + 3, absent, dtype=np.int64)
        table[ids + 1] = np.arange(len(ids))

        def dense(values: np.ndarray) -> np.ndarray:
            return table[np.clip(values + 1, 0, len(table) - 1)]
        return dense

    def searched(values: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.full(len(values), absent, dtype=np.int64)
        where = np.minimum(np.searchsorted(ids, values), len(ids) - 1)
        where[ids[where] != values] = absent
        return where
    return searched


def utc_times(created_at: pd.Series) -> pd.Series:
    if not isinstance(created_at.dtype, pd.DatetimeTZDtype):
        created_at = pd.to_datetime(created_at, utc=True)
    return created_at.dt.tz_convert("UTC")


DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9
_QUARTER_HOUR_NS = 900 * 10**9
"""Every UTC offset in use since 1972 is a whole number of quarter hours, and so is the instant
of every change of one: an offset looked up at a quarter hour holds until the next."""


def utc_nanos(created_at: pd.Series) -> np.ndarray:
    """Creation times as int64 nanoseconds since the epoch (UTC)."""
    times = utc_times(created_at)
    if times.dt.unit != "ns":  # as_unit copies even to its own unit
        times = times.dt.as_unit("ns")
    return np.asarray(times.array.asi8)


def local_clock(calls: pd.DataFrame, tz: str) -> np.ndarray:
    """Local wall-clock times in `tz` as int64 nanoseconds since 1970-01-01 00:00 local, one
    per call: the DST-aware step every local bucketing starts from."""
    return _local_nanos(utc_nanos(calls["created_at"]), tz)


def _local_nanos(utc: np.ndarray, tz: str) -> np.ndarray:
    # The zone is asked once per quarter hour of the calls' span rather than once per call
    # (ten million calls in a fraction of the time): the offset holds from one change to the
    # next, and a call in a quarter hour that holds a change is converted on its own, so every
    # zone and every change is exact.
    if not len(utc):
        return utc.astype(np.int64)
    first = utc.min() // _QUARTER_HOUR_NS * _QUARTER_HOUR_NS
    grid = first + np.arange(int((utc.max() - first) // _QUARTER_HOUR_NS) + 2,
                             dtype=np.int64) * _QUARTER_HOUR_NS
    on_grid = pd.DatetimeIndex(grid.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)
    offsets = np.asarray(on_grid.tz_localize(None).asi8) - grid
    # The quarter hours [grid[i], grid[i + 1]) whose ends' offsets differ hold a change.
    changes = np.flatnonzero(offsets[:-1] != offsets[1:])
    if not len(changes):
        return utc + offsets[0]
    if len(utc) < 2 or bool(np.all(utc[1:] >= utc[:-1])):
        return _sorted_local_clock(utc, grid[changes + 1],
                                   offsets[np.concatenate(([0], changes + 1))], tz)
    segment = np.searchsorted(grid[changes + 1], utc, side="right")
    local = utc + offsets[np.concatenate(([0], changes + 1))][segment]
    ends = np.append(grid[changes + 1], np.iinfo(np.int64).max)[segment]
    near = np.flatnonzero(utc >= ends - _QUARTER_HOUR_NS)
    if len(near):
        exact = pd.DatetimeIndex(utc[near].view("datetime64[ns]")).tz_localize("UTC")
        local[near] = np.asarray(exact.tz_convert(tz).tz_localize(None).asi8)
    return local


def _sorted_local_clock(utc: np.ndarray, ends: np.ndarray, offsets: np.ndarray,
                       tz: str) -> np.ndarray:
    """local_clock of times in order (a calls frame is sorted by creation): each offset holds
    for a run of calls, up to the quarter hour `ends[i]` that ends with its change, and the
    calls of that quarter hour are converted on their own."""
    cuts = np.searchsorted(utc, ends)
    local = utc.copy()
    for offset, low, high in zip(offsets, [0, *cuts], [*cuts, len(utc)], strict=True):
        local[low:high] += offset
    for end in ends:
        low, high = np.searchsorted(utc, [end - _QUARTER_HOUR_NS, end])
        if high > low:
            exact = pd.DatetimeIndex(utc[low:high].view("datetime64[ns]")).tz_localize("UTC")
            local[low:high] = np.asarray(exact.tz_convert(tz).tz_localize(None).asi8)
    return local
