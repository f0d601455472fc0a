"""The weekly digest's figures: one Monday–Sunday week against the week before, for the team and
for each rep, with the counts behind every rate and the week's biggest changes ranked."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from lib.analytics import figures, labels
from lib.analytics.calls import count_calls
from lib.analytics.outcomes import OutcomeMapping, outcome_mapping

BIGGEST_SHOWN = 5
"""How many ranked changes the digest leads with."""
UNJUDGED_SHOWN = 5
"""How many of the largest changes built on too few calls it lists as such."""


@dataclass(frozen=True)
class FigureSpec:
    """One figure the digest compares: its key in OverviewFigures (and METRIC_DEFINITIONS),
    its label, what a rate is counted of (None: a count) and which way is good ("normal": up,
    "inverse": down, "off": neither), as the overview's cards say it."""

    key: str
    label: str
    of: str | None
    colour: str

    @property
    def is_rate(self) -> bool:
        return self.of is not None


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("calls", "Calls", None, "off"),
    FigureSpec("outbound_share", "Outbound share", "calls", "off"),
    FigureSpec("connect_rate", "Connect rate", "outbound calls", "normal"),
    FigureSpec("conversation_rate", "Conversation rate", "outbound calls", "normal"),
    FigureSpec("positive_rate", "Positive rate", "conversations", "normal"),
    FigureSpec("meetings", "Meetings booked", None, "normal"),
    FigureSpec("no_disposition_share", "No disposition logged", "calls", "inverse"),
)
SPECS = {spec.key: spec for spec in FIGURES}

RANKING_DEFINITION = (
    "Ranked by how far each change goes beyond what chance alone moves a figure built on that "
    "many calls (the change divided by its standard error), so 5 pp on 400 calls ranks above "
    "10 pp on 40. A rate built on fewer than "
    f"{figures.MIN_CALLS_FOR_RATE} calls in either week is not ranked: it is listed as too few "
    "calls to judge."
)


@dataclass(frozen=True)
class Week:
    """A Monday–Sunday week of local days."""

    start: date
    end: date

    @property
    def previous(self) -> Week:
        return Week(self.start - timedelta(days=7), self.start - timedelta(days=1))


def week_containing(day: date) -> Week:
    """The Monday–Sunday week that `day` is in."""
    monday = day - timedelta(days=day.weekday())
    return Week(monday, monday + timedelta(days=6))


def last_complete_week(now: datetime, tz: str) -> Week:
    """The last Monday–Sunday week that has ended at `now` (Callboard's clock) in `tz`: on a
    Monday, the week that ended last night."""
    today = now.astimezone(ZoneInfo(tz)).date()
    return week_containing(today).previous


@dataclass(frozen=True)
class FigureChange:
    """One figure of the team or a rep, this week against last. `current`/`previous` are the
    count, or the Rate with the counts behind it; `delta` is the difference (percentage points
    for a rate; None when either week has no value). `few_calls`: a rate resting on fewer than
    MIN_CALLS_FOR_RATE calls in either week, the overview cards' rule (Rate.reliable), so never
    ranked. `score`: the change over its standard error, the ranking's key; None when not
    ranked."""

    subject: str  # labels.TEAM, or the rep's display name
    rep_id: int | None
    spec: FigureSpec
    current: int | figures.Rate
    previous: int | figures.Rate
    delta: float | None
    few_calls: bool
    score: float | None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def changed(self) -> bool:
        return self.delta is not None and self.delta != 0


@dataclass(frozen=True)
class SubjectFigures:
    """Every figure of one subject (the team, or one rep), in FIGURES' order."""

    name: str
    rep_id: int | None
    changes: tuple[FigureChange, ...]

    def __getitem__(self, key: str) -> FigureChange:
        return next(change for change in self.changes if change.key == key)

    @property
    def calls(self) -> int:
        """This week's calls."""
        return int(self["calls"].current)  # a count, never a Rate


@dataclass(frozen=True)
class Digest:
    """The week's digest: the team, each rep with calls in either week (busiest this week
    first), the reps with none, the judged changes ranked (largest first) and the largest
    changes that rest on too few calls to judge."""

    week: Week
    tz: str
    team: SubjectFigures
    reps: tuple[SubjectFigures, ...]
    quiet_reps: tuple[str, ...]
    ranked: tuple[FigureChange, ...]
    unjudged: tuple[FigureChange, ...]
    mapping: OutcomeMapping
    conversation_s: float
    timed: bool  # conversations by talk time (API v2), not by the mapping (1.0)

    @property
    def previous(self) -> Week:
        return self.week.previous

    @property
    def biggest(self) -> tuple[FigureChange, ...]:
        return self.ranked[:BIGGEST_SHOWN]


def build_digest(
    calls: pd.DataFrame,
    previous_calls: pd.DataFrame,
    users: pd.DataFrame,
    dispositions: pd.DataFrame,
    rep_ids: Sequence[int],
    week: Week,
    tz: str,
    mapping: OutcomeMapping | None = None,
    conversation_s: float = figures.CONVERSATION_SECONDS,
) -> Digest:
    """The digest of `calls` (created in `week`'s local days in `tz` by `rep_ids`) against
    `previous_calls` (the same reps in the week before), in the figures' columns as
    DataSource.list_calls(figures_only=True) gives them. The team's figures are the overview's
    for that week, made as build_overview makes them (one count_calls shared with
    compare_periods); each rep's are the same figures of that rep's calls alone.

    (Not build_overview itself: it draws the overview's charts too, and lib.display, which
    renders the digest, may not depend on Altair.)"""
    mapping = mapping or outcome_mapping(dispositions)
    reps = list(dict.fromkeys(int(rep) for rep in rep_ids))
    counts = count_calls(calls, dispositions, reps, week.start, week.end, tz, conversation_s)
    team = _subject(labels.TEAM, None, figures.compare_periods(
        calls, previous_calls, dispositions, reps, week.start, week.end, tz, mapping,
        counts=counts, conversation_s=conversation_s))

    current_rows, previous_rows = _rows_by_rep(calls), _rows_by_rep(previous_calls)
    names = dict(zip(reps, labels.user_names(reps, users), strict=True))
    rep_figures, quiet = [], []
    for rep in reps:
        mine = calls.take(current_rows.get(rep, []))
        before = previous_calls.take(previous_rows.get(rep, []))
        if mine.empty and before.empty:
            quiet.append(names[rep])
            continue
        comparison = figures.compare_periods(mine, before, dispositions, [rep], week.start,
                                             week.end, tz, mapping, conversation_s=conversation_s)
        rep_figures.append(_subject(names[rep], rep, comparison))
    rep_figures.sort(key=lambda rep: (-rep.calls, rep.name))

    changes = [change for subject in (team, *rep_figures) for change in subject.changes]
    # sorted() is stable: equal scores keep the team first, then the reps, figures in order.
    ranked = sorted((change for change in changes
                     if change.score is not None and change.changed),
                    key=lambda change: -abs(change.score or 0.0))
    unjudged = sorted((change for change in changes if change.few_calls and change.changed),
                      key=lambda change: -abs(change.delta or 0.0))
    return Digest(
        week=week, tz=tz, team=team, reps=tuple(rep_figures), quiet_reps=tuple(sorted(quiet)),
        ranked=tuple(ranked), unjudged=tuple(unjudged[:UNJUDGED_SHOWN]), mapping=mapping,
        conversation_s=conversation_s, timed=counts.talked is not None,
    )


def definitions(digest: Digest, quote: Callable[[str], str] = str) -> dict[str, str]:
    """Each figure's definition, naming the outcome mapping behind it as the overview's cards
    do; each disposition name made to fit where the text goes by `quote` (Markdown or HTML
    escaping)."""
    mapping, text = digest.mapping, dict(figures.METRIC_DEFINITIONS)
    text["no_disposition_share"] = text["no_disposition"]
    if digest.timed:
        conversation = (f"On API v2 a conversation is a connected call talked at least "
                        f"{digest.conversation_s:g} s (CALLBOARD_CONVERSATION_SECONDS). "
                        + mapping.describe("connected", quote))
    else:
        conversation = mapping.describe("conversation", quote)
    lines = {
        "connect_rate": mapping.describe("connected", quote),
        "conversation_rate": conversation,
        "positive_rate": mapping.describe("positive", quote),
        "meetings": mapping.describe("meeting", quote),
    }
    return {spec.key: text[spec.key] + (f" {lines[spec.key]}" if spec.key in lines else "")
            for spec in FIGURES}


def _subject(name: str, rep_id: int | None,
             comparison: figures.PeriodComparison) -> SubjectFigures:
    deltas = comparison.deltas
    changes = []
    for spec in FIGURES:
        now = getattr(comparison.current, spec.key)
        before = getattr(comparison.previous, spec.key)
        delta = deltas[spec.key]
        if spec.is_rate:
            few = not (now.reliable and before.reliable)
            score = None if few else _rate_score(now, before)
        else:
            few, score = False, _count_score(now, before)
        changes.append(FigureChange(name, rep_id, spec, now, before, delta, few, score))
    return SubjectFigures(name, rep_id, tuple(changes))


def _rate_score(now: figures.Rate, before: figures.Rate) -> float:
    """The change of a rate over its standard error (two proportions, pooled): how many times
    larger than chance alone would make it, for counts that large."""
    pooled = (now.numerator + before.numerator) / (now.denominator + before.denominator)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / now.denominator + 1 / before.denominator))
    if spread == 0:  # 0 % or 100 % in both weeks: nothing moved
        return 0.0
    return ((now.value or 0.0) - (before.value or 0.0)) / spread


def _count_score(now: int, before: int) -> float:
    """The change of a count over its standard error (each week's count taken as Poisson)."""
    return 0.0 if now + before == 0 else (now - before) / math.sqrt(now + before)


def _rows_by_rep(calls: pd.DataFrame) -> dict[int, list[int]]:
    """Each rep's rows of `calls` (positions), split once rather than filtered per rep."""
    if calls.empty:
        return {}
    groups = calls.groupby(calls["user_id"], sort=False, dropna=True).indices
    return {int(rep): list(rows) for rep, rows in groups.items()}

