"""Calls broken down for the charts: volume per period, the disposition mix, hour by weekday."""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from lib.analytics.calls import CallCounts, check_range, count_calls, kind_flags
from lib.analytics.figures import MIN_CALLS_FOR_RATE
from lib.analytics.labels import NO_DISPOSITION, WEEKDAY_NAMES, labels_for, unknown_disposition
from lib.analytics.outcomes import OutcomeMapping, outcome_mapping

DAILY_MAX_DAYS = 62
"""Ranges up to this many days are charted per day; longer ones per week."""



def pick_frequency(start: date, end: date) -> Literal["D", "W"]:
    """ "D" (per day) for ranges up to DAILY_MAX_DAYS days, else "W" (weeks starting Monday)."""
    return "D" if (end - start).days + 1 <= DAILY_MAX_DAYS else "W"


def volume_over_time(
    calls: pd.DataFrame, tz: str, start: date, end: date, freq: Literal["D", "W"] = "D",
    *, counts: CallCounts | None = None,
) -> pd.DataFrame:
    """Calls per local day or week (weeks start Monday), every period present, zeros included.

    Columns: period (local start day, datetime64 midnight, no tz), period_end (last local day of
    the period inside the range), days (days of the period inside the range: a first or last
    week may be partial), outbound, inbound, total, outbound_ratio (outbound / total, NaN for
    an empty period). Calls outside the range are ignored. `counts`: the calls' count_calls
    for start..end in `tz`, when the caller has them already.
    """
    check_range(start, end)
    if freq not in ("D", "W"):
        raise ValueError(f"freq must be 'D' or 'W', not {freq!r}.")
    n_days = (end - start).days + 1
    if counts is None:
        counts = count_calls(calls, pd.DataFrame({"id": []}), (), start, end, tz)
    else:
        counts.check(tz, start=start, end=end)
    # Periods are counted from the first period's start, so a day's week is (day + lead) // 7.
    lead = start.weekday() if freq == "W" else 0
    step = 7 if freq == "W" else 1
    n_periods = (n_days + lead + step - 1) // step
    per_day = counts.by_rep_day[:, 1:-1].sum(axis=0)  # [day, inbound / outbound]
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


def disposition_mix(calls: pd.DataFrame, dispositions: pd.DataFrame, *,
                    counts: CallCounts | None = None) -> pd.DataFrame:
    """Calls per disposition, most frequent first; only dispositions that occur.

    Columns: disposition_id (Int64, <NA> for none), disposition (name; "No disposition" for
    calls without one; "Unknown disposition <id>" for ids missing from the lookup), outcome
    ("Answered", "Not Answered", "No disposition" or "Unknown"), count, share (of all calls).
    `counts`: the calls' count_calls by these dispositions, when the caller has them already.
    """
    counts = counts or count_calls(calls, dispositions, (), None, None, "UTC")
    per_kind = counts.by_kind.sum(axis=1)
    known = np.flatnonzero(per_kind[:counts.unknown_kind])
    found = [*counts.disposition_ids[known].tolist(), *counts.unknown,
             *([None] if per_kind[counts.none_kind] else [])]
    tally = [*per_kind[known].tolist(), *counts.unknown.values(),
             *([int(per_kind[counts.none_kind])] if per_kind[counts.none_kind] else [])]
    ids = pd.array(found, dtype="Int64")
    names = labels_for(ids, dispositions, "name", NO_DISPOSITION, unknown_disposition)
    outcomes = labels_for(ids, dispositions, "outcome", NO_DISPOSITION, lambda _: "Unknown")
    # Ties keep the lookup's own order (as Outreach lists dispositions), then the name.
    ranks = dispositions["order"] if "order" in dispositions else range(len(dispositions))
    order_of = dict(zip(dispositions["id"], ranks, strict=True))
    order = [order_of.get(i, np.inf) if i is not pd.NA else np.inf for i in ids]
    total = sum(tally)
    frame = pd.DataFrame(
        {
            "disposition_id": ids,
            "disposition": names,
            "outcome": outcomes,
            "count": np.array(tally, dtype=np.int64),
            "share": np.array(tally, dtype=np.float64) / total if total else 0.0,
            "_order": order,
        }
    )
    frame = frame.sort_values(
        ["count", "_order", "disposition"], ascending=[False, True, True], kind="stable"
    )
    return frame.drop(columns="_order").reset_index(drop=True)


def hour_weekday_heatmap(calls: pd.DataFrame, dispositions: pd.DataFrame, tz: str,
                         mapping: OutcomeMapping | None = None, *,
                         counts: CallCounts | None = None) -> pd.DataFrame:
    """Calls by local weekday and hour: all 7 × 24 cells, Monday 00:00 first.

    Columns: weekday (0 = Monday), weekday_name ("Mon"...), hour (0-23), calls, outbound,
    connected (outbound, and connected by `mapping`; None: the default mapping of
    `dispositions`), connect_rate (connected / outbound, NaN when no outbound
    calls), reliable (outbound >= MIN_CALLS_FOR_RATE). `counts`: the calls' count_calls by
    these dispositions in `tz`, when the caller has them already.
    """
    if counts is None:
        counts = count_calls(calls, dispositions, (), None, None, tz)
    counts.check(tz)
    by_cell = counts.by_week_hour  # [hour of the week, kind, direction]
    total = by_cell.sum(axis=(1, 2))
    outbound = by_cell[:, :, 1].sum(axis=1)
    flags = kind_flags(counts, mapping or outcome_mapping(dispositions))
    connected = by_cell[:, flags.connected, 1].sum(axis=1)
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


