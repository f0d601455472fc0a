"""The overview's figures: counts and rates of a calls frame, one period against the last."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from lib.analytics.calls import CallCounts, check_range, count_calls, kind_flags
from lib.analytics.outcomes import OutcomeMapping, outcome_mapping

MIN_CALLS_FOR_RATE = 20
"""A rate whose denominator is below this is shown, but marked as built on too few calls."""

CONVERSATION_SECONDS = 60.0
"""On API v2, a connected call talked at least this long is a conversation (the setting
CALLBOARD_CONVERSATION_SECONDS); on 1.0, which has no talk times, the mapping says."""

METRIC_DEFINITIONS: dict[str, str] = {
    "calls": "Every call logged by the selected reps in the selected days.",
    "outbound": "Calls the rep placed (outbound), as opposed to calls received.",
    "inbound": "Calls the rep received: all calls minus outbound calls.",
    "outbound_share": "Outbound calls divided by all calls.",
    "connect_rate": (
        "Outbound calls whose disposition counts as connected, divided by all outbound calls; "
        "a call with no disposition logged (or an unknown one) counts as not connected."
    ),
    "conversation_rate": (
        "Outbound conversations divided by all outbound calls. On API v2 a conversation is a "
        "connected call talked at least the conversation threshold; on 1.0, a call whose "
        "disposition counts as a conversation."
    ),
    "positive_rate": "Conversations whose disposition counts as positive, divided by all "
                     "conversations.",
    "meetings": "Calls whose disposition counts as a meeting booked.",
    "calls_per_rep_per_day": (
        "Calls divided by (selected reps × working days, Monday to Friday, in the range); "
        "reps with no calls still count."
    ),
    "no_disposition": "Calls with no disposition logged, and their share of all calls.",
    "positive": "Calls whose disposition counts as positive (a meeting booked, or interest).",
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
    conversations: int
    conversation_rate: Rate
    positive_rate: Rate
    meetings: int
    bad_numbers: int

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
            "conversations": self.conversations,
            "conversation_rate": self.conversation_rate.to_dict(),
            "positive_rate": self.positive_rate.to_dict(),
            "meetings": self.meetings,
            "bad_numbers": self.bad_numbers,
        }


def overview_figures(
    calls: pd.DataFrame,
    dispositions: pd.DataFrame,
    rep_ids: Sequence[int],
    start: date,
    end: date,
    tz: str,
    mapping: OutcomeMapping | None = None,
    *,
    counts: CallCounts | None = None,
    conversation_s: float = CONVERSATION_SECONDS,
) -> OverviewFigures:
    """The overview's figures for exactly the calls given (the caller picks reps and days),
    each disposition counted as `mapping` says (None: the default mapping of `dispositions`).
    `counts`: the calls' `count_calls` by these dispositions (and `conversation_s`), when the
    caller has them already (build_overview shares one between every figure).

    calls: count. outbound share: outbound / calls. inbound: calls - outbound.
    connect rate: outbound calls with a connected disposition / outbound calls (no or unknown
    disposition = not connected). calls per rep per working day: calls / (len(set(rep_ids)) ×
    Mon-Fri days from `start` to `end` inclusive, local days in `tz`); None if either is 0.
    no disposition: calls with no disposition_id. positive, meetings, bad numbers: calls whose
    disposition counts as that. conversations: outbound calls connected and talked at least
    `conversation_s` (API v2's times), or, without times (1.0), outbound calls whose
    disposition counts as a conversation. conversation rate: conversations / outbound.
    positive rate: conversations whose disposition counts as positive / conversations.
    """
    mapping = mapping or outcome_mapping(dispositions)
    counts = counts or count_calls(calls, dispositions, (), None, None, tz, conversation_s)
    flags = kind_flags(counts, mapping)
    by_kind = counts.by_kind
    total = int(by_kind.sum())
    outbound = int(by_kind[:, 1].sum())
    reps = len(set(rep_ids))
    days = working_days(start, end)
    no_disposition = int(by_kind[flags.none].sum())
    positive_count = int(by_kind[flags.positive].sum())
    if counts.talked is not None:  # API v2: connected and talked long enough
        talked = counts.talked.sum(axis=0)
        conversations = int(talked[flags.connected].sum())
        positive_talks = int(talked[flags.connected & flags.positive].sum())
    else:
        conversations = int(by_kind[flags.conversation, 1].sum())
        positive_talks = int(by_kind[flags.conversation & flags.positive, 1].sum())
    return OverviewFigures(
        calls=total,
        outbound=outbound,
        inbound=total - outbound,
        outbound_share=Rate(outbound, total),
        connect_rate=Rate(int(by_kind[flags.connected, 1].sum()), outbound),
        calls_per_rep_per_day=total / (reps * days) if reps and days else None,
        reps=reps,
        working_days=days,
        no_disposition=no_disposition,
        no_disposition_share=Rate(no_disposition, total),
        positive=positive_count,
        positive_share=Rate(positive_count, total),
        conversations=conversations,
        conversation_rate=Rate(conversations, outbound),
        positive_rate=Rate(positive_talks, conversations),
        meetings=int(by_kind[flags.meeting].sum()),
        bad_numbers=int(by_kind[flags.bad_number].sum()),
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
        counts = ("calls", "outbound", "inbound", "no_disposition", "positive", "conversations",
                  "meetings", "bad_numbers")
        rates = ("outbound_share", "connect_rate", "no_disposition_share", "positive_share",
                 "conversation_rate", "positive_rate")
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
    mapping: OutcomeMapping | None = None,
    *,
    counts: CallCounts | None = None,
    conversation_s: float = CONVERSATION_SECONDS,
) -> PeriodComparison:
    """Overview figures for `start..end` and for `previous_period(start, end)`, with the change.

    `previous_calls` must hold the calls of the previous period (same reps). `counts`: those
    of `current_calls` by these dispositions, when the caller has them already.
    """
    before_start, before_end = previous_period(start, end)
    return PeriodComparison(
        current=overview_figures(current_calls, dispositions, rep_ids, start, end, tz, mapping,
                                 counts=counts, conversation_s=conversation_s),
        previous=overview_figures(previous_calls, dispositions, rep_ids, before_start,
                                  before_end, tz, mapping, conversation_s=conversation_s),
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

