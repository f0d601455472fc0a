"""Line health: the connect rate of each calling number (`from`), week by week, and the lines
whose rate has dropped well below both their own past and the rest of the team's lines."""

# Why a line drops: carriers and phones label numbers that dial a lot as "spam" or "scam
# likely", and people stop answering them, while the same reps on other lines still connect.
# So a line is judged against the other lines of the same period (the team's, which share the
# prospects, the hours and the pitch) and against its own previous period. A flag needs a drop
# that is large (DROP) and unlikely to be chance (Z_MIN, a two-proportion z-test), on enough
# calls (MIN_CALLS_FOR_RATE) in both periods; a line without a comparable past is judged
# against the team only, and says so.

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import phonenumbers

from lib.analytics.figures import MIN_CALLS_FOR_RATE, Rate
from lib.analytics.labels import display_names
from lib.analytics.outcomes import OutcomeMapping

DROP = 0.4
"""A flagged line connects at most (1 - DROP) of the rate it is compared with: 40 % less."""
Z_MIN = 2.0
"""How many standard errors the gap must be (one-sided, about 2.3 % by chance)."""
NUMBER_REGION = "US"
"""Where a number logged without a country code is read, as the log form reads one
(lib.display.callform.DEFAULT_REGION)."""
NO_LINE = "(no number)"
"""The line of outbound calls logged without a `from` number: counted, never flagged."""

DEFINITION = (
    "Each calling number's connect rate: its outbound calls whose disposition counts as "
    "connected, divided by its outbound calls. A line is flagged when, on at least "
    f"{MIN_CALLS_FOR_RATE} calls, it connects at least {DROP:.0%} less than the team's other "
    f"lines in the same days and than itself in the period before (on at least "
    f"{MIN_CALLS_FOR_RATE} calls there too), each gap being at least {Z_MIN:g} standard errors "
    "wide, so that chance alone rarely flags a line. A line with too few calls before is "
    "judged against the team only."
)


@dataclass(frozen=True)
class LineFigures:
    """One calling number: this period's rate, its previous period's, the team's other
    lines' in this period, and whether (and why) it is flagged."""

    line: str
    reps: tuple[int, ...]  # who called from it this period, by user id
    rate: Rate
    past: Rate
    team: Rate  # every other line, this period
    flagged: bool
    reason: str

    def to_dict(self) -> dict:
        return {"line": self.line, "reps": list(self.reps), "rate": self.rate.to_dict(),
                "past": self.past.to_dict(), "team": self.team.to_dict(),
                "flagged": self.flagged, "reason": self.reason}


@dataclass(frozen=True)
class LineHealth:
    """Every line of the period, flagged ones first, then by calls; `weekly` holds
    line, week (its Monday, in the team's zone), calls, connects and rate."""

    lines: tuple[LineFigures, ...]
    weekly: pd.DataFrame

    @property
    def flagged(self) -> tuple[LineFigures, ...]:
        return tuple(line for line in self.lines if line.flagged)

    def to_dict(self) -> dict:
        return {"definition": DEFINITION, "flagged": [f.line for f in self.flagged],
                "lines": [line.to_dict() for line in self.lines]}


def z_below(low: Rate, high: Rate) -> float:
    """How many standard errors `low` lies below `high` (two-proportion z, pooled); 0 when
    either has no calls or the pooled rate is 0 or 1."""
    if not low.denominator or not high.denominator:
        return 0.0
    pooled = (low.numerator + high.numerator) / (low.denominator + high.denominator)
    spread = pooled * (1 - pooled) * (1 / low.denominator + 1 / high.denominator)
    if spread <= 0:
        return 0.0
    return ((high.value or 0.0) - (low.value or 0.0)) / math.sqrt(spread)


def _dropped(rate: Rate, against: Rate) -> bool:
    return (against.value is not None and rate.value is not None
            and rate.value <= (1 - DROP) * against.value and z_below(rate, against) >= Z_MIN)


def _outbound_by_line(calls: pd.DataFrame, mapping: OutcomeMapping,
                      rep_ids: Sequence[int] | None) -> pd.DataFrame:
    """line (a category), user_id, created_at, connected of the outbound calls of these
    reps."""
    outbound = calls[calls["outbound"].fillna(False).astype(bool)]
    if rep_ids is not None:
        outbound = outbound[outbound["user_id"].isin(list(rep_ids))]
    # A few hundred lines among millions of calls: the text is cleaned once per distinct number.
    codes, numbers = pd.factorize(outbound["from_number"], use_na_sentinel=True)
    # The last name stands for a missing number (factorize's code -1).
    names = pd.Categorical([line_of(number) for number in numbers] + [NO_LINE])
    return pd.DataFrame({
        "line": pd.Categorical.from_codes(names.codes[codes], categories=names.categories),
        "user_id": outbound["user_id"].reset_index(drop=True),
        "created_at": outbound["created_at"].reset_index(drop=True),
        "connected": outbound["disposition_id"].isin(mapping.ids("connected")).to_numpy(),
    })


def line_of(number: object) -> str:
    """The line a `from` number is: in E.164 whatever style it was logged in, so that
    "(212) 555-0101" and "+12125550101" are one line; as logged when it cannot be read."""
    text = str(number).strip() if number is not None else ""
    if not text:
        return NO_LINE
    try:
        parsed = phonenumbers.parse(text, NUMBER_REGION)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(parsed):
        return text
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _tallies(frame: pd.DataFrame) -> dict[str, tuple[int, int]]:
    codes, lines = frame["line"].cat.codes.to_numpy(), frame["line"].cat.categories
    calls = np.bincount(codes, minlength=len(lines))
    connects = np.bincount(codes, weights=frame["connected"].to_numpy(), minlength=len(lines))
    return {str(line): (int(connects[k]), int(calls[k]))
            for k, line in enumerate(lines) if calls[k]}


def _reps_by_line(frame: pd.DataFrame) -> dict[str, tuple[int, ...]]:
    pairs = pd.DataFrame({"line": frame["line"].cat.codes.to_numpy(),
                          "user": pd.to_numeric(frame["user_id"]).to_numpy()}).drop_duplicates()
    lines = frame["line"].cat.categories
    return {str(lines[code]): tuple(sorted(int(user) for user in users if user == user))
            for code, users in pairs.groupby("line")["user"]}


def line_health(calls: pd.DataFrame, previous: pd.DataFrame, mapping: OutcomeMapping,
                tz: str, rep_ids: Sequence[int] | None = None) -> LineHealth:
    """The line health of the outbound calls in `calls` (a period) against `previous` (the
    period before it, of the same length), of these reps (None: all); both frames need
    created_at, user_id, outbound, from_number and disposition_id."""
    now, before = (_outbound_by_line(frame, mapping, rep_ids) for frame in (calls, previous))
    tally, past_tally = _tallies(now), _tallies(before)
    total_connects, total_calls = int(now["connected"].sum()), len(now)
    reps = _reps_by_line(now)
    figures: list[LineFigures] = []
    for line, (connects, count) in tally.items():
        rate = Rate(connects, count)
        past = Rate(*past_tally.get(line, (0, 0)))
        team = Rate(total_connects - connects, total_calls - count)
        flagged, reason = _judge(line, rate, past, team)
        figures.append(LineFigures(line, reps.get(line, ()), rate, past, team, flagged, reason))
    figures.sort(key=lambda f: (not f.flagged, -f.rate.denominator, f.line))
    return LineHealth(tuple(figures), _weekly(now, tz))


def _judge(line: str, rate: Rate, past: Rate, team: Rate) -> tuple[bool, str]:
    if line == NO_LINE:
        return False, "Calls logged without the number they were made from."
    if not rate.reliable:
        return False, f"Too few calls to judge ({rate.denominator} of {MIN_CALLS_FOR_RATE})."
    if not team.reliable:
        return False, "Too few calls on the team's other lines to compare with."
    below_team = _dropped(rate, team)
    if not past.reliable:
        if below_team:
            return True, ("Connects well below the team's other lines; too few calls in the "
                          "period before to compare with its own past.")
        return False, "Not well below the team's other lines (no comparable past)."
    below_past = _dropped(rate, past)
    if below_team and below_past:
        return True, "Connects well below both its own past and the team's other lines."
    if below_team:
        return False, "Below the team's other lines, but no worse than its own past."
    if below_past:
        return False, "Below its own past, but not below the team's other lines."
    return False, "Healthy: not well below its own past or the team's other lines."


def _weekly(outbound: pd.DataFrame, tz: str) -> pd.DataFrame:
    columns = ["line", "week", "calls", "connects", "rate"]
    if outbound.empty:
        return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in zip(
            columns, ("object", "datetime64[ns]", "int64", "int64", "float64"), strict=True)})
    local_day = outbound["created_at"].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    week = local_day - pd.to_timedelta(local_day.dt.day_of_week, unit="D")
    grouped = (outbound.assign(week=week)
               .groupby(["line", "week"], sort=True, observed=True)["connected"]
               .agg(calls="size", connects="sum").reset_index())
    grouped["line"] = grouped["line"].astype(str).astype(object)
    grouped["connects"] = grouped["connects"].astype(np.int64)
    grouped["rate"] = grouped["connects"] / grouped["calls"]
    return grouped[columns]


def _counted(rate: Rate) -> str:
    if not rate.denominator:
        return "no calls"
    return f"{rate.numerator:,} of {rate.denominator:,} ({rate.value:.0%})"


def line_table(health: LineHealth, users: pd.DataFrame,
               shown: Callable[[str], str] = str) -> pd.DataFrame:
    """One row per line for the page: the number as `shown` writes it, who called from it,
    its counts and rate, the same of the period before and of the team's other lines, and the
    verdict with its reason."""
    names = display_names(users) if not users.empty else {}
    rows = [{
        "line": line.line if line.line == NO_LINE else shown(line.line),
        "reps": ", ".join(names.get(rep, f"User {rep}") for rep in line.reps),
        "calls": line.rate.denominator,
        "connected": line.rate.numerator,
        "connect_rate": line.rate.value,
        "few_calls": not line.rate.reliable,
        "before": _counted(line.past),
        "team": _counted(line.team),
        "flagged": line.flagged,
        "why": line.reason,
    } for line in health.lines]
    columns = ["line", "reps", "calls", "connected", "connect_rate", "few_calls", "before",
               "team", "flagged", "why"]
    return pd.DataFrame(rows, columns=columns)


def flag_sentence(line: LineFigures, shown: Callable[[str], str] = str) -> str:
    """A flagged line in one sentence with the counts behind it."""
    past = (f"{_counted(line.past)} in the period before and " if line.past.reliable else "")
    return (f"{shown(line.line)} connected {_counted(line.rate)} outbound calls, against "
            f"{past}{_counted(line.team)} on the team's other lines. Numbers labelled as spam "
            "by carriers drop like this: check it, and rest or replace it.")
