"""The overview's content for one set of filters: figures, tables and the words on its cards."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from lib import frames
from lib.analytics import breakdowns, charts, figures, goals, labels, tables, talk
from lib.analytics.calls import count_calls
from lib.analytics.outcomes import FLAGS, OutcomeMapping, outcome_mapping

CALLS_SHOWN = 20_000
"""The calls table holds at most the newest this many calls of the range (a browser grid and
its CSV stay quick); the figures always count every call, and `lib.cli export` writes all."""


@dataclass(frozen=True)
class Card:
    """One metric card: what st.metric shows, and the count behind a rate."""

    key: str
    label: str
    value: str
    delta: str | None
    compared_with: str  # e.g. "vs 01 Oct – 30 Oct", next to the delta
    delta_color: str  # "normal": up is good; "inverse": up is bad; "off": neutral
    help: str
    basis: str  # e.g. "812 of 1,130 outbound calls", shown under the card
    few_calls: bool


@dataclass(frozen=True)
class Answers:
    """API v2's figures of the current period (lib.analytics.talk): absent on 1.0, never zero."""

    rate: float | None  # answered / calls with a known outcome
    by_outcome: pd.DataFrame  # outcome, calls, share
    talk_by_rep: pd.DataFrame  # talk.talk_time_by(calls, "user_id")
    talk_by_disposition: pd.DataFrame  # talk.talk_time_by(calls, "disposition_id")


@dataclass(frozen=True)
class Overview:
    """The overview page's figures, charts' data and rep table, all from the same calls (the
    calls table beside them is lib.analytics.tables.calls_table of the newest few)."""

    comparison: figures.PeriodComparison
    mapping: OutcomeMapping
    conversation_s: float
    timed: bool  # conversations by talk time (API v2), not by the mapping (1.0)
    volume: pd.DataFrame
    frequency: str
    mix: pd.DataFrame
    heatmap: pd.DataFrame
    reps: pd.DataFrame
    answers: Answers | None = None  # None unless the calls came from API v2
    pacing: goals.Pacing | None = None  # None unless build_overview was given goals

    @property
    def figures(self) -> figures.OverviewFigures:
        return self.comparison.current


def build_overview(
    calls: pd.DataFrame,
    previous_calls: pd.DataFrame,
    users: pd.DataFrame,
    dispositions: pd.DataFrame,
    rep_ids: Sequence[int],
    start: date,
    end: date,
    tz: str,
    mapping: OutcomeMapping | None = None,
    conversation_s: float = figures.CONVERSATION_SECONDS,
    *,
    goals_set: Collection[goals.Goal] | None = None,
    now: datetime | None = None,
    whole_team: bool = True,
) -> Overview:
    """The overview of `calls` (created in the local days start..end by `rep_ids`), against
    `previous_calls` (the same reps in figures.previous_period(start, end)). Both need only
    the columns figures count (lib.store.facts.FIGURE_COLUMNS; v2's too for its answers and
    conversations). Dispositions count as `mapping` says (None: their default mapping).

    `goals_set` (None: goals are not asked about; the summary then has no goals section): the
    goals kept (DataSource.goals), paced at `now` (Callboard's clock) in the rep table and in
    `pacing`; the team's goal only when `whole_team` (`rep_ids` are every rep, not a pick)."""
    if goals_set is not None and now is None:
        raise ValueError("Pacing goals needs the moment to pace them at (now).")
    frequency = breakdowns.pick_frequency(start, end)
    mapping = mapping or outcome_mapping(dispositions)
    # The calls are counted once, in one pass, by everything the figures break them down by:
    # every figure below is a sum of those counts (ten million calls in half a second).
    counts = count_calls(calls, dispositions, rep_ids, start, end, tz, conversation_s)
    reps = tables.rep_table(calls, dispositions, users, rep_ids, start, end, tz, mapping,
                            counts=counts, goals=goals_set or (), now=now,
                            whole_team=whole_team)
    return Overview(
        comparison=figures.compare_periods(
            calls, previous_calls, dispositions, rep_ids, start, end, tz, mapping,
            counts=counts, conversation_s=conversation_s,
        ),
        mapping=mapping,
        conversation_s=conversation_s,
        timed=counts.talked is not None,
        volume=breakdowns.volume_over_time(calls, tz, start, end, frequency, counts=counts),
        frequency=frequency,
        mix=breakdowns.disposition_mix(calls, dispositions, counts=counts),
        heatmap=breakdowns.hour_weekday_heatmap(calls, dispositions, tz, mapping,
                                                counts=counts),
        reps=reps,
        answers=_answers(calls) if frames.has_v2_fields(calls) else None,
        pacing=None if goals_set is None else goals.pacing(reps, goals_set, start, end, tz,
                                                           now, whole_team),
    )


def _answers(calls: pd.DataFrame) -> Answers:
    return Answers(
        rate=talk.answer_rate(calls),
        by_outcome=talk.answer_rate_by_outcome(calls),
        talk_by_rep=talk.talk_time_by(calls, "user_id"),
        talk_by_disposition=talk.talk_time_by(calls, "disposition_id"),
    )


def summary(overview: Overview, start: date, end: date, tz: str, rep_ids: Sequence[int]) -> dict:
    """The overview as JSON-ready data: what `python -m lib.cli summary` prints."""
    comparison = overview.comparison
    reps = overview.reps[~overview.reps["is_team"]]
    return {
        "filters": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "tz": tz,
            "users": [int(rep) for rep in rep_ids],
        },
        **comparison.current.to_dict(),
        "previous": {**comparison.to_dict()["previous_range"], **comparison.previous.to_dict()},
        "deltas": comparison.deltas,
        # What every rate above counted as what: the page names the same under its cards.
        "outcome_mapping": {
            "edited": sorted(overview.mapping.edited),
            **{flag: overview.mapping.names(flag) for flag in FLAGS},
            "conversations": (f"connected and talked at least {overview.conversation_s:g} s"
                              if overview.timed else "by the mapping"),
        },
        "by_disposition": dict(
            zip(overview.mix["disposition"], overview.mix["count"].tolist(), strict=True)
        ),
        "by_user": {
            str(int(rep_id)): int(count)
            for rep_id, count in zip(reps["rep_id"], reps["calls"], strict=True)
            if not pd.isna(rep_id) and count
        },
        # API v2 only: the key is absent on 1.0, whose calls carry no outcome or times.
        **({} if overview.answers is None else {"answers": _answers_summary(overview.answers)}),
        # Only when goals were asked about (the page's rep table shows the same verdicts).
        **({} if overview.pacing is None else {"goals": goals.summary(overview.pacing)}),
    }


def _answers_summary(answers: Answers) -> dict:
    def talk(table: pd.DataFrame, key: str) -> dict[str, dict]:
        return {str(int(row[key])): {"talked": int(row["talked"]),
                                     "total_s": round(float(row["total_s"]), 3)}
                for _, row in table.iterrows()}

    return {
        "answer_rate": answers.rate,
        "by_outcome": dict(zip(answers.by_outcome["outcome"],
                               answers.by_outcome["calls"].astype(int).tolist(), strict=True)),
        "talk_by_user": talk(answers.talk_by_rep, "user_id"),
        "talk_by_disposition": talk(answers.talk_by_disposition, "disposition_id"),
    }


def _rate_card(comparison: figures.PeriodComparison, key: str, label: str, rate: figures.Rate,
               of: str, colour: str, mapping_line: str = "") -> Card:
    deltas = comparison.deltas
    help_text = figures.METRIC_DEFINITIONS[key] + (f"\n\n{mapping_line}" if mapping_line else "")
    if not rate.reliable:
        help_text += "\n\n" + figures.METRIC_DEFINITIONS["few_calls"]
    return Card(
        key=key,
        label=label,
        value=percent_text(rate.value),
        delta=None if deltas[key] is None else f"{deltas[key]:+.1f} pp",
        compared_with=_since(comparison),
        delta_color=colour,
        help=help_text,
        basis=f"{rate.numerator:,} of {rate.denominator:,} {of}"
        + (" · too few calls to judge" if rate.denominator and not rate.reliable else ""),
        few_calls=not rate.reliable,
    )


def _since(comparison: figures.PeriodComparison) -> str:
    return f"vs {comparison.previous_start:%d %b} – {comparison.previous_end:%d %b}"


def metric_cards(comparison: figures.PeriodComparison,
                 mapping: OutcomeMapping | None = None,
                 quote: Callable[[str], str] = str) -> list[Card]:
    """The five headline cards, each with its change against the previous period; the
    connect rate names the `mapping` behind it, each disposition name made to fit the card's
    help text by `quote` (the page's Markdown escape)."""
    now, before, deltas = comparison.current, comparison.previous, comparison.deltas
    since = _since(comparison)
    definitions = figures.METRIC_DEFINITIONS

    def rate_card(key: str, label: str, rate: figures.Rate, of: str, colour: str,
                  flag: str | None = None) -> Card:
        line = mapping.describe(flag, quote) if mapping is not None and flag else ""
        return _rate_card(comparison, key, label, rate, of, colour, line)

    per_rep = now.calls_per_rep_per_day
    per_rep_delta = deltas["calls_per_rep_per_day"]
    return [
        Card(
            key="calls",
            label="Calls",
            value=f"{now.calls:,}",
            delta=f"{deltas['calls']:+,}",
            compared_with=since,
            delta_color="off",
            help=definitions["calls"] + f" Previous period: {before.calls:,} calls.",
            basis=f"{now.outbound:,} outbound · {now.inbound:,} inbound",
            few_calls=False,
        ),
        rate_card("outbound_share", "Outbound share", now.outbound_share, "calls", "off"),
        rate_card("connect_rate", "Connect rate", now.connect_rate, "outbound calls", "normal",
                  "connected"),
        Card(
            key="calls_per_rep_per_day",
            label="Calls per rep per working day",
            value=labels.NO_VALUE if per_rep is None else f"{per_rep:.1f}",
            delta=None if per_rep_delta is None else f"{per_rep_delta:+.1f}",
            compared_with=since,
            delta_color="normal",
            help=definitions["calls_per_rep_per_day"],
            basis=f"{now.calls:,} calls / ({now.reps} reps × {now.working_days} working days)",
            few_calls=False,
        ),
        Card(
            key="no_disposition",
            label="No disposition logged",
            value=f"{now.no_disposition:,}",
            delta=f"{deltas['no_disposition']:+,}",
            compared_with=since,
            delta_color="inverse",
            help=definitions["no_disposition"],
            basis=f"{percent_text(now.no_disposition_share.value)} of {now.calls:,} calls",
            few_calls=False,
        ),
    ]


def outcome_cards(overview: Overview, quote: Callable[[str], str] = str) -> list[Card]:
    """Conversation rate, positive rate and meetings booked, each naming the mapping (and, on
    API v2, the talk-time threshold) behind it; names made to fit by `quote`, as in
    metric_cards."""
    comparison, mapping = overview.comparison, overview.mapping
    now, deltas = comparison.current, comparison.deltas
    talk = (f"On API v2 a conversation is a connected call talked at least "
            f"{overview.conversation_s:g} s (CALLBOARD_CONVERSATION_SECONDS). "
            + mapping.describe("connected", quote)) if overview.timed else mapping.describe(
                "conversation", quote)
    return [
        _rate_card(comparison, "conversation_rate", "Conversation rate", now.conversation_rate,
                   "outbound calls", "normal", talk),
        _rate_card(comparison, "positive_rate", "Positive rate", now.positive_rate,
                   "conversations", "normal", mapping.describe("positive", quote)),
        Card(
            key="meetings",
            label="Meetings booked",
            value=f"{now.meetings:,}",
            delta=f"{deltas['meetings']:+,}",
            compared_with=_since(comparison),
            delta_color="normal",
            help=figures.METRIC_DEFINITIONS["meetings"] + "\n\n"
            + mapping.describe("meeting", quote),
            basis=f"of {now.calls:,} calls · {now.bad_numbers:,} bad numbers",
            few_calls=False,
        ),
    ]


def percent_text(value: float | None) -> str:
    """A share as the cards show it ("42.5%"), or the dash when there is none."""
    return labels.NO_VALUE if value is None else f"{100 * value:.1f}%"


def selected_dispositions(chart_event: object) -> list[str]:
    """Names of the dispositions clicked in the disposition chart (Streamlit's on_select state),
    or [] when nothing is selected."""
    selection = _get(chart_event, "selection") or {}
    points = _get(selection, charts.DISPOSITION_SELECTION) or []
    names = [_get(point, "disposition") for point in points if isinstance(point, Mapping)]
    return [name for name in names if isinstance(name, str)]


def disposition_ids_named(mix: pd.DataFrame, names: Sequence[str]) -> list[int | None]:
    """The disposition ids behind these names of the disposition mix (None: no disposition
    logged); two dispositions of one name are both chosen, as their bar is one."""
    wanted = set(names)
    return [None if pd.isna(i) else int(i)
            for name, i in zip(mix["disposition"], mix["disposition_id"], strict=True)
            if name in wanted]


def calls_caption(overview: Overview, shown: int, chosen: Sequence[str],
                  quote: Callable[[str], str] = str) -> str:
    """What the calls table holds: e.g. "812 of 1,130 calls · disposition: No answer (click the
    bar again to show all)", or, past CALLS_SHOWN, which newest calls of how many. `chosen`
    are the disposition names as the mix has them; `quote` makes each fit the caption's
    text (the page's Markdown escape)."""
    total = overview.figures.calls
    wanted = set(chosen)
    matching = int(overview.mix.loc[overview.mix["disposition"].isin(wanted), "count"].sum()) \
        if chosen else total
    if shown < matching:
        text = f"The newest {shown:,} of {matching:,} calls" + (
            f" ({total:,} in all)" if chosen else "") + \
            " · `python -m lib.cli export` writes every one"
    else:
        text = f"{shown:,} of {total:,} calls"
    if chosen:
        text += (f" · disposition: {', '.join(quote(name) for name in chosen)} (click the bar "
                 "again to show all)")
    return text


def _get(container: object, key: str) -> object:
    if isinstance(container, Mapping):
        return container.get(key)
    return getattr(container, key, None)


def talk_time_table(
    table: pd.DataFrame, key: str, lookup: pd.DataFrame | dict[int, str], label: str
) -> pd.DataFrame:
    """A talk-time table (Answers.talk_by_rep, key "user_id", or talk_by_disposition, key
    "disposition_id") by name, in minutes: label, calls talked, total, mean, median minutes."""
    names = lookup if isinstance(lookup, dict) else dict(
        zip(lookup["id"].tolist(), lookup["name"].tolist(), strict=True))
    return pd.DataFrame({
        label: [names.get(int(i), f"{label} {int(i)}") for i in table[key]],
        "Calls talked": table["talked"].astype(int).to_numpy(),
        "Total min": (table["total_s"] / 60).round(1).to_numpy(),
        "Mean min": (table["mean_s"] / 60).round(1).to_numpy(),
        "Median min": (table["median_s"] / 60).round(1).to_numpy(),
    })
