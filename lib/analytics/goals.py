"""Goals and pacing: each rep's (and the team's) daily or weekly targets for calls and
connects, held against what was done in a range and how much of its working time has passed."""

# The definition every figure here follows (DEFINITIONS says it on hover, `summary` prints it):
#
#   working time  Monday to Friday, 09:00 to 17:00 local time in the zone the range is counted
#                 in (the page's time zone, `--tz` in the CLI), the same working days as
#                 figures.working_days; no public holidays.
#   target        for the range: a daily target × the range's working days, or a weekly target
#                 × (working days / 5), i.e. a weekly target spread evenly over its five working
#                 days. A range with no working day (a weekend) has a target of 0: not judged.
#   elapsed share of the range's working time that lies before "now" (lib.clock, Callboard's
#                 one "now"; CALLBOARD_NOW pins it): every working day before today counts
#                 whole, today counts by the hours of 09:00-17:00 that have passed (at 13:00,
#                 half of it; before 09:00 nothing; after 17:00 all of it), later days nothing.
#                 A range wholly in the past is 1; a range wholly in the future is 0.
#   expected      target × elapsed: what should be done by now.
#   on pace       done >= expected; not judged (None) while nothing is expected yet (a future
#                 range, today before 09:00, no working day, no goal).
#   few           0 < expected < MIN_CALLS_FOR_RATE: a verdict so early (or a target so small)
#                 that one call turns it, marked as the cards mark a rate on few calls.
#
# Calls are every call the rep logged in the range (the rep table's "calls"); connects are
# outbound calls whose disposition counts as connected by the outcome mapping (its
# "connected"), so a goal of connects moves with the mapping as the connect rate does.

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from lib.analytics.figures import MIN_CALLS_FOR_RATE, working_days
from lib.analytics.labels import NO_VALUE, TEAM
from lib.clock import require_utc

METRICS: tuple[str, ...] = ("calls", "connects")
PERIODS: tuple[str, ...] = ("day", "week")
METRIC_LABELS = {"calls": "Calls", "connects": "Connects"}
METRIC_COLUMN = {"calls": "calls", "connects": "connected"}  # the rep table's count of each
TEAM_ID = -1  # the subject of a team goal where an integer is needed (the store's key)
WORKDAY_START, WORKDAY_END = time(9), time(17)
WORKING_DAYS_A_WEEK = 5
MAX_TARGET = 100_000  # a typing slip (an extra zero or three) is refused, not paced against

DEFINITIONS: dict[str, str] = {
    "goal": ("Done of the target for the range: a daily target × the range's working days "
             "(Monday to Friday), or a weekly target × working days / 5."),
    "expected": ("What should be done by now: the range's target × the share of its working "
                 "time (Monday to Friday, 09:00-17:00 in the chosen time zone) that has passed. "
                 "Days before today count whole, today by its hours passed; a range in the "
                 "past counts whole, one in the future not yet."),
    "on_pace": ("yes when done is at least what is expected by now, no when it is less; "
                "– when nothing is expected yet (a range still to come, today before 09:00, "
                "no working day in the range) or there is no goal."),
    "few": (f"⚠: fewer than {MIN_CALLS_FOR_RATE} expected so far, so a single call turns the "
            "verdict."),
    "connects": "Connects are outbound calls whose disposition counts as connected by the "
                "outcome mapping.",
    "team": "The team's goal is for every rep together, so it is judged only when every rep "
            "is shown.",
}


@dataclass(frozen=True)
class Goal:
    """A target of calls or connects a day or a week, for one rep (`rep_id`) or, with
    `rep_id` None, for the team as a whole. Who saved it and when, once it is kept."""

    rep_id: int | None
    metric: str
    period: str
    target: int
    saved_at: datetime | None = None
    saved_by: str | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"A goal is of {' or '.join(METRICS)}, not {self.metric!r}.")
        if self.period not in PERIODS:
            raise ValueError(f"A goal is per {' or '.join(PERIODS)}, not {self.period!r}.")
        if isinstance(self.target, bool) or not isinstance(self.target, (int, np.integer)) \
                or not 1 <= self.target <= MAX_TARGET:
            raise ValueError(f"A target is a whole number from 1 to {MAX_TARGET:,}.")
        if self.rep_id is not None and (isinstance(self.rep_id, bool) or self.rep_id < 1):
            raise ValueError(f"A rep's user id is a positive number, not {self.rep_id!r}.")

    @property
    def key(self) -> tuple[int | None, str]:
        """Whose goal of what: a rep (or the team) has at most one goal of each metric."""
        return self.rep_id, self.metric

    def per_working_day(self) -> float:
        return self.target / (1 if self.period == "day" else WORKING_DAYS_A_WEEK)

    def describe(self) -> str:
        """E.g. "50 calls a day", "12 connects a week", "1 call a day"."""
        metric = self.metric.removesuffix("s") if self.target == 1 else self.metric
        return f"{self.target:,} {metric} a {self.period}"


def goals_by_key(goals: Iterable[Goal]) -> dict[tuple[int | None, str], Goal]:
    """The goals by (rep id or None for the team, metric); a later one of a key wins."""
    return {goal.key: goal for goal in goals}


def goals_table(goals: Iterable[Goal], names: Mapping[int, str], tz: str) -> pd.DataFrame:
    """The goals kept, for reading: Who (the team, a rep's name from `names`, or "User <id>"),
    Goal ("50 calls a day"), Saved by, Saved (in `tz`; NaT when unknown)."""
    kept = list(goals)
    return pd.DataFrame({
        "Who": [TEAM if goal.rep_id is None else names.get(goal.rep_id, f"User {goal.rep_id}")
                for goal in kept],
        "Goal": [goal.describe() for goal in kept],
        "Saved by": [goal.saved_by or "" for goal in kept],
        "Saved": pd.Series([pd.NaT if goal.saved_at is None else pd.Timestamp(goal.saved_at)
                            for goal in kept], dtype="datetime64[ns, UTC]").dt.tz_convert(tz),
    })


def elapsed_share(start: date, end: date, tz: str, now: datetime) -> float:
    """The share of the working time of the local days start..end in `tz` (Monday to Friday,
    09:00-17:00) that lies before `now` (aware): 0 to 1, and 0 for a range without a working
    day. See the module comment."""
    now = require_utc(now, "now")
    days = working_days(start, end)
    if not days:
        return 0.0
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    if today > end:
        return 1.0
    if today < start:
        return 0.0
    # Whole days before today, then today's hours passed (in UTC: a DST change never
    # stretches the day's eight hours).
    passed = float(working_days(start, today - timedelta(days=1))) if today > start else 0.0
    if np.is_busday(today):
        opens = datetime.combine(today, WORKDAY_START, zone)
        closes = datetime.combine(today, WORKDAY_END, zone)
        passed += min(max((now - opens) / (closes - opens), 0.0), 1.0)
    return passed / days


@dataclass(frozen=True)
class Pace:
    """One goal held against what was done in a range: the counts behind every verdict."""

    goal: Goal
    done: int
    target: float  # for the whole range
    expected: float  # by now

    @property
    def progress(self) -> float | None:
        """done / target (above 1 past the target), None without a target."""
        return self.done / self.target if self.target else None

    @property
    def on_pace(self) -> bool | None:
        """done >= expected, None (not judged) while nothing is expected."""
        return None if self.expected <= 0 else self.done >= self.expected

    @property
    def few(self) -> bool:
        return 0 < self.expected < MIN_CALLS_FOR_RATE

    def progress_text(self) -> str:
        """E.g. "34 of 50 calls"."""
        if not self.target:
            return f"{self.done:,} {self.goal.metric} · no working day"
        return f"{self.done:,} of {number_text(self.target)} {self.goal.metric}"

    def pace_text(self) -> str:
        """"yes", "no" or the dash, with ⚠ when the verdict rests on few expected."""
        verdict = self.on_pace
        if verdict is None:
            return NO_VALUE
        return ("yes" if verdict else "no") + (" ⚠" if self.few else "")

    def to_dict(self) -> dict:
        return {"period": self.goal.period, "target_per_period": self.goal.target,
                "target": self.target, "done": self.done, "expected": round(self.expected, 3),
                "progress": None if self.progress is None else round(self.progress, 4),
                "on_pace": self.on_pace, "few": self.few}


def pace(goal: Goal, done: int, start: date, end: date, tz: str, now: datetime) -> Pace:
    """`goal` against `done` in the local days start..end of `tz`, at `now`."""
    days = working_days(start, end)
    target = goal.per_working_day() * days
    return Pace(goal, int(done), target, target * elapsed_share(start, end, tz, now))


@dataclass(frozen=True)
class Pacing:
    """Every goal of a range's rep table held against it, at one "now"."""

    start: date
    end: date
    tz: str
    now: datetime
    working_days: int
    elapsed: float  # elapsed_share of the range at `now`
    whole_team: bool  # the team row is every rep: its goal is judged
    paces: Mapping[tuple[int | None, str], Pace]  # by (rep id or None for the team, metric)
    metrics: tuple[str, ...]  # the metrics some goal is of, in METRICS' order

    def of(self, rep_id: int | None, metric: str) -> Pace | None:
        return self.paces.get((rep_id, metric))

    def caption(self) -> str:
        """What the verdicts are measured against, e.g. "On pace: done ≥ target × 47.5 %, the
        working time passed (2.4 of 5 working days, Mon–Fri 09:00–17:00 in Europe/Berlin)"."""
        text = (f"On pace: done ≥ target × {100 * self.elapsed:.1f} %, the working time passed "
                f"by {self.now.astimezone(ZoneInfo(self.tz)):%a %d %b %H:%M} "
                f"({self.elapsed * self.working_days:.1f} of {self.working_days} working days, "
                f"Mon–Fri {WORKDAY_START:%H:%M}–{WORKDAY_END:%H:%M} in {self.tz}).")
        if not self.whole_team:
            text += " " + DEFINITIONS["team"]
        return text


def pacing(reps: pd.DataFrame, goals: Collection[Goal], start: date, end: date, tz: str,
           now: datetime, whole_team: bool = True) -> Pacing:
    """The goals of the rep table `reps` (lib.analytics.tables.rep_table: rep_id, calls,
    connected, is_team) held against it: each rep row's own goals, and the team row's the
    team's goals (only when `whole_team`: with some reps chosen, the row is not the team the
    goal is for). A rep without a goal, and the "Other users" row, have no pace."""
    by_key = goals_by_key(goals)
    paces: dict[tuple[int | None, str], Pace] = {}
    for row in reps.itertuples(index=False):
        subject = _subject(row.rep_id, row.is_team)
        if subject is _NOBODY or (subject is None and not whole_team):
            continue
        for metric in METRICS:
            goal = by_key.get((subject, metric))
            if goal is not None:
                paces[(subject, metric)] = pace(goal, getattr(row, METRIC_COLUMN[metric]),
                                                start, end, tz, now)
    metrics = tuple(metric for metric in METRICS if any(g.metric == metric for g in goals))
    return Pacing(start, end, tz, require_utc(now, "now"), working_days(start, end),
                  elapsed_share(start, end, tz, now), whole_team, paces, metrics)


_NOBODY = object()  # the "Other users" row: nobody's goal


def _subject(rep_id: object, is_team: bool) -> int | None | object:
    """Whose goals a rep table row is held against: a rep's id, None for the team row."""
    if is_team:
        return None
    return _NOBODY if pd.isna(rep_id) else int(rep_id)


def goal_columns(reps: pd.DataFrame, paced: Pacing) -> pd.DataFrame:
    """`reps` with, for each metric some goal is of, three columns: `<metric>_goal` (progress,
    "34 of 50 calls"), `<metric>_expected` (expected by now, NaN without a goal) and
    `<metric>_on_pace` ("yes", "no", the dash; ⚠ on few). No goal at all: `reps` as it is."""
    if not paced.metrics:
        return reps
    subjects = [_subject(rep, bool(team))
                for rep, team in zip(reps["rep_id"], reps["is_team"], strict=True)]
    out = reps.copy()
    for metric in paced.metrics:
        found = [None if subject is _NOBODY else paced.of(subject, metric)
                 for subject in subjects]
        out[f"{metric}_goal"] = [NO_VALUE if p is None else p.progress_text() for p in found]
        out[f"{metric}_expected"] = np.array(
            [np.nan if p is None else p.expected for p in found], dtype=float)
        out[f"{metric}_on_pace"] = [NO_VALUE if p is None else p.pace_text() for p in found]
    return out


def column_texts(paced: Pacing | None) -> dict[str, tuple[str, str]]:
    """The goal columns of the rep table (goal_columns), each with its label and its definition
    for the hover: {} without goals."""
    if paced is None:
        return {}
    texts: dict[str, tuple[str, str]] = {}
    for metric in paced.metrics:
        label = METRIC_LABELS[metric]
        what = f" {DEFINITIONS['connects']}" if metric == "connects" else ""
        texts[f"{metric}_goal"] = (f"{label} goal", DEFINITIONS["goal"] + what)
        texts[f"{metric}_expected"] = (f"{label} expected by now", DEFINITIONS["expected"])
        texts[f"{metric}_on_pace"] = (f"{label} on pace", " ".join(
            DEFINITIONS[key] for key in ("on_pace", "few", "team")))
    return texts


def summary(paced: Pacing) -> dict:
    """The goals section of `python -m lib.cli summary`: the same verdicts as the rep table,
    with the counts behind them and the definition."""
    def paces_of(subject: int | None) -> dict:
        return {metric: paced.paces[(subject, metric)].to_dict() for metric in METRICS
                if (subject, metric) in paced.paces}

    reps = sorted({rep for rep, _metric in paced.paces if rep is not None})
    return {
        "now": paced.now.isoformat(),
        "working_days": paced.working_days,
        "working_hours": f"Mon-Fri {WORKDAY_START:%H:%M}-{WORKDAY_END:%H:%M} {paced.tz}",
        "elapsed_share": round(paced.elapsed, 6),
        "whole_team": paced.whole_team,
        "by_user": {str(rep): paces_of(rep) for rep in reps},
        "team": paces_of(None) or None,
        "definition": " ".join(DEFINITIONS[key] for key in ("goal", "expected", "on_pace",
                                                             "few", "connects", "team")),
    }


def number_text(value: float) -> str:
    """A target as the table shows it: whole when it is ("50"), else one decimal ("8.8")."""
    rounded = round(value, 1)
    return f"{rounded:,.0f}" if float(rounded).is_integer() else f"{rounded:,.1f}"
