"""Attempts: the pickup rate of the 1st, 2nd, 3rd… call to the same prospect, counting the
calls before the range too, so a manager sees when one more attempt stops paying."""

# An attempt is an outbound call to a prospect who has not been reached yet: the outbound calls
# to a prospect are counted in time order from the first one in LOOKBACK_DAYS before the range,
# up to and including the first that connects (by the outcome mapping). A connected call from
# the prospect (inbound) reaches them too, and ends their attempts without being one. Later
# outbound calls to someone already reached are follow-ups, not attempts: counted apart, as are
# outbound calls logged without a prospect. Only the calls of the reps chosen are read, so with
# a pick of reps the attempts are theirs; with every rep they are the team's.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from lib.analytics.calls import utc_nanos
from lib.analytics.figures import MIN_CALLS_FOR_RATE, Rate
from lib.analytics.outcomes import OutcomeMapping

LOOKBACK_DAYS = 90
"""How far before the range earlier attempts are looked for."""
LAST_SHOWN = 10
"""Attempts from this one on are shown together ("10th or later")."""

DEFINITION = (
    "Pickup rate of the n-th attempt: of the outbound calls in the range that were the n-th "
    "call to a prospect not reached before, the share that connected (by the outcome mapping). "
    f"Earlier calls count from {LOOKBACK_DAYS} days before the range; a prospect's attempts end "
    "with the first call that connects, theirs to us included. Calls to prospects already "
    "reached, and outbound calls without a prospect, are counted apart. A rate on fewer than "
    f"{MIN_CALLS_FOR_RATE} calls is marked as few calls."
)


def lookback_start(start: date) -> date:
    """The first local day whose calls are read to number the range's attempts."""
    return start - timedelta(days=LOOKBACK_DAYS)


@dataclass(frozen=True)
class AttemptFigures:
    """Per attempt number (1 to LAST_SHOWN, the last one "or later"), the range's calls that
    were that attempt and how many connected; and the range's outbound calls counted apart."""

    by_attempt: tuple[Rate, ...]
    follow_ups: int  # calls to prospects reached before them
    without_prospect: int
    prospects: int  # prospects with an attempt in the range

    def table(self) -> pd.DataFrame:
        """attempt (1…), label ("1st", …, "10th or later"), calls, connected, pickup_rate,
        few_calls."""
        rows = [{"attempt": n, "label": attempt_label(n), "calls": rate.denominator,
                 "connected": rate.numerator, "pickup_rate": rate.value,
                 "few_calls": not rate.reliable}
                for n, rate in enumerate(self.by_attempt, start=1)]
        return pd.DataFrame(rows, columns=["attempt", "label", "calls", "connected",
                                           "pickup_rate", "few_calls"])

    def to_dict(self) -> dict:
        return {"definition": DEFINITION, "lookback_days": LOOKBACK_DAYS,
                "by_attempt": [{"attempt": attempt_label(n), **rate.to_dict()}
                               for n, rate in enumerate(self.by_attempt, start=1)],
                "follow_ups": self.follow_ups, "without_prospect": self.without_prospect,
                "prospects": self.prospects}


def attempt_label(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", …, LAST_SHOWN -> "10th or later"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}" + (" or later" if n == LAST_SHOWN else "")


def attempt_figures(calls: pd.DataFrame, mapping: OutcomeMapping, range_start: pd.Timestamp,
                    rep_ids: Sequence[int] | None = None) -> AttemptFigures:
    """The attempts of the outbound calls created from `range_start` (UTC) on, numbered over
    every call in `calls` (which should start LOOKBACK_DAYS earlier); calls need created_at,
    id, user_id, outbound, prospect_id and disposition_id."""
    # Column arrays, not filtered frames: a year of a large team is millions of calls.
    chosen = np.ones(len(calls), dtype=bool)
    if rep_ids is not None:
        chosen = calls["user_id"].isin(list(rep_ids)).to_numpy(dtype=bool)
    outbound = calls["outbound"].fillna(False).to_numpy(dtype=bool)
    created = utc_nanos(calls["created_at"])
    in_range = created >= pd.Timestamp(range_start).as_unit("ns").value
    has_prospect = calls["prospect_id"].notna().to_numpy(dtype=bool)
    without_prospect = int(np.count_nonzero(chosen & outbound & in_range & ~has_prospect))

    # Inbound calls too: a prospect who called back and connected has been reached.
    tried = np.flatnonzero(chosen & has_prospect)
    prospect = calls["prospect_id"].to_numpy(dtype=np.int64, na_value=0)[tried]
    order = np.lexsort((calls["id"].to_numpy(np.int64)[tried], created[tried], prospect))
    tried, prospect = tried[order], prospect[order]
    connected = calls["disposition_id"].isin(mapping.ids("connected")).to_numpy(dtype=bool)[tried]
    dialled = outbound[tried]
    counted = in_range[tried] & dialled
    # Sorted by prospect, then time: each prospect's calls are one run. An outbound call's
    # attempt number is its place among its run's outbound calls; it is an attempt while its
    # run has no connect (either way) before it.
    places = np.arange(len(prospect))
    first_of_run = np.ones(len(prospect), dtype=bool)
    first_of_run[1:] = prospect[1:] != prospect[:-1]
    run_start = np.maximum.accumulate(np.where(first_of_run, places, 0)) if len(places) else \
        places
    dials = np.cumsum(dialled)
    attempt = dials - (dials - dialled)[run_start]
    earlier = np.cumsum(connected) - connected  # connects before each call, in any run
    is_attempt = earlier - earlier[run_start] == 0
    shown = np.minimum(attempt, LAST_SHOWN)
    by_attempt = []
    for n in range(1, LAST_SHOWN + 1):
        mine = counted & is_attempt & (shown == n)
        by_attempt.append(Rate(int(connected[mine].sum()), int(mine.sum())))
    return AttemptFigures(
        by_attempt=tuple(by_attempt),
        follow_ups=int((counted & ~is_attempt).sum()),
        without_prospect=without_prospect,
        # Runs are one per prospect, in order: count the runs with an attempt in the range.
        prospects=int(np.count_nonzero(np.diff(run_start[counted & is_attempt],
                                               prepend=-1))),
    )
