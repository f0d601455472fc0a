"""The overview's figures: counts and rates of a calls frame, one period against the last."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from lib.analytics.calls import CallCounts, check_range, count_calls, kind_flags

MIN_CALLS_FOR_RATE = 20
"""A rate whose denominator is below this is shown, but marked as built on too few calls."""

DEFAULT_POSITIVE: frozenset[str] = frozenset({"Meeting booked", "Interested"})

METRIC_DEFINITIONS: dict[str, str] = {
    "calls": "Every call logged by the selected reps in the selected days.",
    "outbound": "Calls the rep placed (outbound), as opposed to calls received.",
    "inbound": "Calls the rep received: all calls minus outbound calls.",
    "outbound_share": "Outbound calls divided by all calls.",
    "connect_rate": (
        "Outbound calls whose disposition counts as Answered, divided by all outbound calls; "
        "a call with no disposition logged (or an unknown one) counts as not connected."
    ),
    "calls_per_rep_per_day": (
        "Calls divided by (selected reps × working days, Monday to Friday, in the range); "
        "reps with no calls still count."
    ),
    "no_disposition": "Calls with no disposition logged, and their share of all calls.",
    "positive": (
        "Calls whose disposition is a meeting or other positive outcome "
        "(by default: Meeting booked, Interested)."
    ),
    "few_calls": (
        f"A rate built on fewer than {MIN_CALLS_FOR_RATE} calls, so a single call moves it a lot."
    ),
}



# --- rates and overview figures ------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A ratio that keeps its counts, so the page can show what a percentage is built on."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """numerator / denominator, or None when there is nothing to divide by."""
        return self.numerator / self.denominator if self.denominator else None

    @property
    def reliable(self) -> bool:
        """True when the denominator has at least MIN_CALLS_FOR_RATE calls."""
        return self.denominator >= MIN_CALLS_FOR_RATE

    def to_dict(self) -> dict:
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": self.value,
            "reliable": self.reliable,
        }


@dataclass(frozen=True)
class OverviewFigures:
    """Every headline figure of the overview; `to_dict()` is what the CLI prints."""

    calls: int
    outbound: int
    inbound: int
    outbound_share: Rate
    connect_rate: Rate
    calls_per_rep_per_day: float | None
    reps: int
    working_days: int
    no_disposition: int
    no_disposition_share: Rate
    positive: int
    positive_share: Rate

    def to_dict(self) -> dict:
        return {
            "calls": self.calls,
            "outbound": self.outbound,
            "inbound": self.inbound,
            "outbound_share": self.outbound_share.to_dict(),
            "connect_rate": self.connect_rate.to_dict(),
            "calls_per_rep_per_day": {
                "value": self.calls_per_rep_per_day,
                "reps": self.reps,
                "working_days": self.working_days,
            },
            "no_disposition": self.no_disposition,
            "no_disposition_share": self.no_disposition_share.to_dict(),
            "positive": self.positive,
            "positive_share": self.positive_share.to_dict(),
        }


def overview_figures(
    calls: pd.DataFrame,
    dispositions: pd.DataFrame,
    rep_ids: Sequence[int],
    start: date,
    end: date,
    tz: str,
    positive: Collection[str] = DEFAULT_POSITIVE,
    *,
    counts: CallCounts | None = None,
) -> OverviewFigures:
    """The overview's figures for exactly the calls given (the caller picks reps and days).
    `counts`: the calls' `count_calls` by these dispositions, when the caller has them already
    (build_overview shares one between every figure).

    calls: count. outbound share: outbound / calls. inbound: calls - outbound.
    connect rate: outbound calls with an "Answered" disposition / outbound calls (no or unknown
    disposition = not connected). calls per rep per working day: calls / (len(set(rep_ids)) ×
    Mon-Fri days from `start` to `end` inclusive, local days in `tz`); None if either is 0.
    no disposition: calls with no disposition_id. positive: calls whose disposition name is in
    `positive` (case-insensitive).
    """
    counts = counts or count_calls(calls, dispositions, (), None, None, tz)
    flags = kind_flags(counts, dispositions, positive)
    by_kind = counts.by_kind
    total = int(by_kind.sum())
    outbound = int(by_kind[:, 1].sum())
    reps = len(set(rep_ids))
    days = working_days(start, end)
    no_disposition = int(by_kind[flags.none].sum())
    positive_count = int(by_kind[flags.positive].sum())
    return OverviewFigures(
        calls=total,
        outbound=outbound,
        inbound=total - outbound,
        outbound_share=Rate(outbound, total),
        connect_rate=Rate(int(by_kind[flags.answered, 1].sum()), outbound),
        calls_per_rep_per_day=total / (reps * days) if reps and days else None,
        reps=reps,
        working_days=days,
        no_disposition=no_disposition,
        no_disposition_share=Rate(no_disposition, total),
        positive=positive_count,
        positive_share=Rate(positive_count, total),
    )


@dataclass(frozen=True)
class PeriodComparison:
    """Figures for a period and for the same-length period just before it, and the change."""

    current: OverviewFigures
    previous: OverviewFigures
    previous_start: date
    previous_end: date

    @property
    def deltas(self) -> dict[str, float | int | None]:
        """current - previous: absolute for counts and calls per rep per day, percentage points
        for rates; None when either side has no value."""
        counts = ("calls", "outbound", "inbound", "no_disposition", "positive")
        rates = ("outbound_share", "connect_rate", "no_disposition_share", "positive_share")
        out: dict[str, float | int | None] = {
            name: getattr(self.current, name) - getattr(self.previous, name) for name in counts
        }
        for name in rates:
            now, before = getattr(self.current, name).value, getattr(self.previous, name).value
            out[name] = None if now is None or before is None else 100 * (now - before)
        now, before = self.current.calls_per_rep_per_day, self.previous.calls_per_rep_per_day
        out["calls_per_rep_per_day"] = None if now is None or before is None else now - before
        return out

    def to_dict(self) -> dict:
        return {
            "current": self.current.to_dict(),
            "previous": self.previous.to_dict(),
            "previous_range": {
                "start": self.previous_start.isoformat(),
                "end": self.previous_end.isoformat(),
            },
            "deltas": self.deltas,
        }


def compare_periods(
    current_calls: pd.DataFrame,
    previous_calls: pd.DataFrame,
    dispositions: pd.DataFrame,
    rep_ids: Sequence[int],
    start: date,
    end: date,
    tz: str,
    positive: Collection[str] = DEFAULT_POSITIVE,
    *,
    counts: CallCounts | None = None,
) -> PeriodComparison:
    """Overview figures for `start..end` and for `previous_period(start, end)`, with the change.

    `previous_calls` must hold the calls of the previous period (same reps). `counts`: those
    of `current_calls` by these dispositions, when the caller has them already.
    """
    before_start, before_end = previous_period(start, end)
    return PeriodComparison(
        current=overview_figures(current_calls, dispositions, rep_ids, start, end, tz, positive,
                                 counts=counts),
        previous=overview_figures(
            previous_calls, dispositions, rep_ids, before_start, before_end, tz, positive
        ),
        previous_start=before_start,
        previous_end=before_end,
    )


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The range of the same number of days that ends the day before `start`. Raises
    ValueError (never OverflowError) when that range would begin before the calendar does."""
    check_range(start, end)
    length = (end - start).days + 1
    if (start - date.min).days < length:
        raise ValueError(f"No period of {length} days comes before {start.isoformat()}.")
    return start - timedelta(days=length), start - timedelta(days=1)


def working_days(start: date, end: date) -> int:
    """Monday-to-Friday days from `start` to `end`, both included (no public holidays)."""
    check_range(start, end)
    return int(np.busday_count(start, end + timedelta(days=1)))

