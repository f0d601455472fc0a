"""Per-call facts the figures are counted from: direction and disposition flags, local times."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


def check_range(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"The range ends ({end}) before it starts ({start}).")


@dataclass(frozen=True)
class CallFlags:
    """Per-call booleans that the figures count (numpy arrays, one entry per call)."""

    outbound: np.ndarray
    connected: np.ndarray
    no_disposition: np.ndarray
    positive: np.ndarray


def call_flags(calls: pd.DataFrame, dispositions: pd.DataFrame,
               positive: Collection[str]) -> CallFlags:
    ids = calls["disposition_id"]
    missing = ids.isna().to_numpy(dtype=bool)
    values = ids_or(ids, -1)
    outcome = casefold(dispositions.get("outcome", pd.Series(dtype=object)))
    names = casefold(dispositions.get("name", pd.Series(dtype=object)))
    lookup_ids = dispositions.get("id", pd.Series(dtype=np.int64)).to_numpy()
    answered_ids = lookup_ids[(outcome == "answered").to_numpy(dtype=bool)]
    wanted = {str(name).strip().casefold() for name in positive}
    positive_ids = lookup_ids[names.isin(wanted).to_numpy(dtype=bool)]
    outbound = calls["outbound"].to_numpy(dtype=bool)
    return CallFlags(
        outbound=outbound,
        # kind="sort": ids are few, calls many (numpy's own choice is slower here).
        connected=outbound & np.isin(values, answered_ids, kind="sort") & ~missing,
        no_disposition=missing,
        positive=np.isin(values, positive_ids, kind="sort") & ~missing,
    )


def casefold(series: pd.Series) -> pd.Series:
    return series.astype(object).fillna("").astype(str).str.strip().str.casefold()


def utc_times(created_at: pd.Series) -> pd.Series:
    if not isinstance(created_at.dtype, pd.DatetimeTZDtype):
        created_at = pd.to_datetime(created_at, utc=True)
    return created_at.dt.tz_convert("UTC")


def ids_or(ids: pd.Series, missing: int) -> np.ndarray:
    """A column of ids (Int64) as int64, `missing` where there is none: integers compare and
    look up several times faster than the float copy with NaN."""
    return ids.to_numpy(dtype=np.int64, na_value=missing)


DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9
_QUARTER_HOUR_NS = 900 * 10**9
"""Every UTC offset in use since 1972 is a whole number of quarter hours, and so is the instant
of every change of one: an offset looked up at a quarter hour holds until the next."""


def local_clock(calls: pd.DataFrame, tz: str) -> np.ndarray:
    """Local wall-clock times in `tz` as int64 nanoseconds since 1970-01-01 00:00 local, one
    per call: the DST-aware step every local bucketing starts from.

    The zone is asked once per quarter hour of the calls' span rather than once per call (ten
    million calls in a fraction of the time): the offset holds from one change to the next,
    and a call in a quarter hour that holds a change is converted on its own, so every zone
    and every change is exact."""
    created = utc_times(calls["created_at"]).dt.as_unit("ns")
    utc = np.asarray(created.array.asi8)
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


def day_offsets(calls: pd.DataFrame, tz: str, start: date,
                clock: np.ndarray | None = None) -> np.ndarray:
    """Local day of each call, counted in days from `start` (negative before it). `clock`:
    the calls' `local_clock` in `tz`, when the caller has it already."""
    start_day = (start - date(1970, 1, 1)).days
    return (local_clock(calls, tz) if clock is None else clock) // DAY_NS - start_day


