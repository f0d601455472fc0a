"""Calls broken down for the charts: volume per period, the disposition mix, hour by weekday."""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from lib.analytics.calls import (
    HOUR_NS,
    CallFlags,
    call_flags,
    check_range,
    day_offsets,
    local_clock,
)
from lib.analytics.figures import MIN_CALLS_FOR_RATE
from lib.analytics.labels import NO_DISPOSITION, WEEKDAY_NAMES, labels_for, unknown_disposition

DAILY_MAX_DAYS = 62
"""Ranges up to this many days are charted per day; longer ones per week."""



def pick_frequency(start: date, end: date) -> Literal["D", "W"]:
    """ "D" (per day) for ranges up to DAILY_MAX_DAYS days, else "W" (weeks starting Monday)."""
    return "D" if (end - start).days + 1 <= DAILY_MAX_DAYS else "W"


def volume_over_time(
    calls: pd.DataFrame, tz: str, start: date, end: date, freq: Literal["D", "W"] = "D",
    *, clock: np.ndarray | None = None,
) -> pd.DataFrame:
    """Calls per local day or week (weeks start Monday), every period present, zeros included.

    Columns: period (local start day, datetime64 midnight, no tz), period_end (last local day of
    the period inside the range), days (days of the period inside the range: a first or last
    week may be partial), outbound, inbound, total, outbound_ratio (outbound / total, NaN for
    an empty period). Calls outside the range are ignored. `clock`: the calls' local_clock in
    `tz`, when the caller has it already.
    """
    check_range(start, end)
    if freq not in ("D", "W"):
        raise ValueError(f"freq must be 'D' or 'W', not {freq!r}.")
    n_days = (end - start).days + 1
    offset = day_offsets(calls, tz, start, clock)
    inside = (offset >= 0) & (offset < n_days)
    # Periods are counted from the first period's start, so a day's week is (day + lead) // 7.
    lead = start.weekday() if freq == "W" else 0
    step = 7 if freq == "W" else 1
    n_periods = (n_days + lead + step - 1) // step
    outbound_flag = calls["outbound"].to_numpy(dtype=bool)
    if not inside.all():  # only the range's calls; a frame of exactly the range skips a copy
        offset, outbound_flag = offset[inside], outbound_flag[inside]
    # One count per (day, direction), then days summed into their periods: a division per
    # day of the range, not per call.
    per_day = np.bincount(offset * 2 + outbound_flag, minlength=2 * n_days).reshape(n_days, 2)
    both = np.zeros((n_periods, 2), dtype=np.int64)
    np.add.at(both, (np.arange(n_days) + lead) // step, per_day)
    total, outbound = both.sum(axis=1), both[:, 1]

    first = np.datetime64(start, "D") - lead
    period = first + np.arange(n_periods) * step
    range_start, range_end = np.datetime64(start, "D"), np.datetime64(end, "D")
    period_end = np.minimum(period + (step - 1), range_end)
    shown_start = np.maximum(period, range_start)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total > 0, outbound / np.maximum(total, 1), np.nan)
    return pd.DataFrame(
        {
            "period": period.astype("datetime64[ns]"),
            "period_end": period_end.astype("datetime64[ns]"),
            "days": (period_end - shown_start).astype(np.int64) + 1,
            "outbound": outbound,
            "inbound": total - outbound,
            "total": total.astype(np.int64),
            "outbound_ratio": ratio,
        }
    )


def disposition_mix(calls: pd.DataFrame, dispositions: pd.DataFrame) -> pd.DataFrame:
    """Calls per disposition, most frequent first; only dispositions that occur.

    Columns: disposition_id (Int64, <NA> for none), disposition (name; "No disposition" for
    calls without one; "Unknown disposition <id>" for ids missing from the lookup), outcome
    ("Answered", "Not Answered", "No disposition" or "Unknown"), count, share (of all calls).
    """
    counts = calls["disposition_id"].value_counts(dropna=False)
    ids = pd.array(counts.index, dtype="Int64")
    names = labels_for(ids, dispositions, "name", NO_DISPOSITION, unknown_disposition)
    outcomes = labels_for(ids, dispositions, "outcome", NO_DISPOSITION, lambda _: "Unknown")
    # Ties keep the lookup's own order (as Outreach lists dispositions), then the name.
    ranks = dispositions["order"] if "order" in dispositions else range(len(dispositions))
    order_of = dict(zip(dispositions["id"], ranks, strict=True))
    order = [order_of.get(i, np.inf) if i is not pd.NA else np.inf for i in ids]
    total = len(calls)
    frame = pd.DataFrame(
        {
            "disposition_id": ids,
            "disposition": names,
            "outcome": outcomes,
            "count": counts.to_numpy(dtype=np.int64),
            "share": counts.to_numpy(dtype=np.float64) / total if total else 0.0,
            "_order": order,
        }
    )
    frame = frame.sort_values(
        ["count", "_order", "disposition"], ascending=[False, True, True], kind="stable"
    )
    return frame.drop(columns="_order").reset_index(drop=True)


def hour_weekday_heatmap(calls: pd.DataFrame, dispositions: pd.DataFrame, tz: str, *,
                         flags: CallFlags | None = None,
                         clock: np.ndarray | None = None) -> pd.DataFrame:
    """Calls by local weekday and hour: all 7 × 24 cells, Monday 00:00 first.

    Columns: weekday (0 = Monday), weekday_name ("Mon"...), hour (0-23), calls, outbound,
    connected (outbound and Answered), connect_rate (connected / outbound, NaN when no outbound
    calls), reliable (outbound >= MIN_CALLS_FOR_RATE). `flags` and `clock`: the calls'
    call_flags and local_clock in `tz`, when the caller has them already.
    """
    local = local_clock(calls, tz) if clock is None else clock
    # Hours since a Monday 00:00: 1970-01-01 was a Thursday, 72 hours after one.
    cell = (local // HOUR_NS + 72) % 168
    flags = flags or call_flags(calls, dispositions, ())
    # One count per (cell, kind): 0 inbound, 1 outbound not connected, 2 connected (outbound).
    kind = flags.outbound.view(np.uint8) + flags.connected.view(np.uint8)
    counts = np.bincount(cell * 3 + kind, minlength=3 * 168).reshape(168, 3)
    total = counts.sum(axis=1)
    outbound = (counts[:, 1] + counts[:, 2]).astype(np.int64)
    connected = counts[:, 2].astype(np.int64)
    cells = np.arange(168)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(outbound > 0, connected / np.maximum(outbound, 1), np.nan)
    return pd.DataFrame(
        {
            "weekday": cells // 24,
            "weekday_name": np.array(WEEKDAY_NAMES, dtype=object)[cells // 24],
            "hour": cells % 24,
            "calls": total.astype(np.int64),
            "outbound": outbound,
            "connected": connected,
            "connect_rate": rate,
            "reliable": outbound >= MIN_CALLS_FOR_RATE,
        }
    )


