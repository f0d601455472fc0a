"""Callboard's numbers: a calls frame (plus lookups) in, figures and tidy frames out."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from lib.metrics_v2 import talk_seconds

MIN_CALLS_FOR_RATE = 20
"""A rate whose denominator is below this is shown, but marked as built on too few calls."""

DEFAULT_POSITIVE: frozenset[str] = frozenset({"Meeting booked", "Interested"})
NO_DISPOSITION = "No disposition"
NO_VALUE = "–"
"""What is shown for a figure or field that does not exist (a rate without calls, the talk time
of an unanswered call, a call without a number): the same dash on cards, tables and the lookup."""
OTHER_USERS = "Other users"
TEAM = "Team"
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAILY_MAX_DAYS = 62
"""Ranges up to this many days are charted per day; longer ones per week."""

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
) -> OverviewFigures:
    """The overview's figures for exactly the calls given (the caller picks reps and days).

    calls: count. outbound share: outbound / calls. inbound: calls - outbound.
    connect rate: outbound calls with an "Answered" disposition / outbound calls (no or unknown
    disposition = not connected). calls per rep per working day: calls / (len(set(rep_ids)) ×
    Mon-Fri days from `start` to `end` inclusive, local days in `tz`); None if either is 0.
    no disposition: calls with no disposition_id. positive: calls whose disposition name is in
    `positive` (case-insensitive).
    """
    del tz  # the days are already local; kept so every figure is asked for with the same filters
    flags = _flags(calls, dispositions, positive)
    total = len(calls)
    outbound = int(flags.outbound.sum())
    reps = len(set(rep_ids))
    days = working_days(start, end)
    no_disposition = int(flags.no_disposition.sum())
    positive_count = int(flags.positive.sum())
    return OverviewFigures(
        calls=total,
        outbound=outbound,
        inbound=total - outbound,
        outbound_share=Rate(outbound, total),
        connect_rate=Rate(int(flags.connected.sum()), outbound),
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
) -> PeriodComparison:
    """Overview figures for `start..end` and for `previous_period(start, end)`, with the change.

    `previous_calls` must hold the calls of the previous period (same reps).
    """
    before_start, before_end = previous_period(start, end)
    return PeriodComparison(
        current=overview_figures(current_calls, dispositions, rep_ids, start, end, tz, positive),
        previous=overview_figures(
            previous_calls, dispositions, rep_ids, before_start, before_end, tz, positive
        ),
        previous_start=before_start,
        previous_end=before_end,
    )


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The range of the same number of days that ends the day before `start`."""
    _check_range(start, end)
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def working_days(start: date, end: date) -> int:
    """Monday-to-Friday days from `start` to `end`, both included (no public holidays)."""
    _check_range(start, end)
    return int(np.busday_count(start, end + timedelta(days=1)))


# --- chart and table data ------------------------------------------------------------------------


def pick_frequency(start: date, end: date) -> Literal["D", "W"]:
    """ "D" (per day) for ranges up to DAILY_MAX_DAYS days, else "W" (weeks starting Monday)."""
    return "D" if (end - start).days + 1 <= DAILY_MAX_DAYS else "W"


def volume_over_time(
    calls: pd.DataFrame, tz: str, start: date, end: date, freq: Literal["D", "W"] = "D"
) -> pd.DataFrame:
    """Calls per local day or week (weeks start Monday), every period present, zeros included.

    Columns: period (local start day, datetime64 midnight, no tz), period_end (last local day of
    the period inside the range), days (days of the period inside the range: a first or last
    week may be partial), outbound, inbound, total, outbound_ratio (outbound / total, NaN for
    an empty period). Calls outside the range are ignored.
    """
    _check_range(start, end)
    if freq not in ("D", "W"):
        raise ValueError(f"freq must be 'D' or 'W', not {freq!r}.")
    n_days = (end - start).days + 1
    offset = _day_offsets(calls, tz, start)
    inside = (offset >= 0) & (offset < n_days)
    # Periods are counted from the first period's start, so a week index is just offset // 7.
    lead = start.weekday() if freq == "W" else 0
    step = 7 if freq == "W" else 1
    n_periods = (n_days + lead + step - 1) // step
    index = (offset[inside] + lead) // step
    total = np.bincount(index, minlength=n_periods)
    outbound = np.bincount(
        index, weights=calls["outbound"].to_numpy(dtype=bool)[inside], minlength=n_periods
    ).astype(np.int64)

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
    names = _labels(ids, dispositions, "name", NO_DISPOSITION, _unknown_disposition)
    outcomes = _labels(ids, dispositions, "outcome", NO_DISPOSITION, lambda _: "Unknown")
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


def hour_weekday_heatmap(calls: pd.DataFrame, dispositions: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Calls by local weekday and hour: all 7 × 24 cells, Monday 00:00 first.

    Columns: weekday (0 = Monday), weekday_name ("Mon"...), hour (0-23), calls, outbound,
    connected (outbound and Answered), connect_rate (connected / outbound, NaN when no outbound
    calls), reliable (outbound >= MIN_CALLS_FOR_RATE).
    """
    local = _local_times(calls, tz)
    days = local.astype("datetime64[D]")
    hour = ((local - days) // np.timedelta64(1, "h")).astype(np.int64)
    # 1970-01-01 was a Thursday (weekday 3).
    weekday = (days.astype(np.int64) + 3) % 7
    cell = weekday * 24 + hour
    flags = _flags(calls, dispositions, ())
    total = np.bincount(cell, minlength=168)
    outbound = np.bincount(cell, weights=flags.outbound, minlength=168).astype(np.int64)
    connected = np.bincount(cell, weights=flags.connected, minlength=168).astype(np.int64)
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


def rep_table(
    calls: pd.DataFrame,
    dispositions: pd.DataFrame,
    users: pd.DataFrame,
    rep_ids: Sequence[int],
    start: date,
    end: date,
    tz: str,
    positive: Collection[str] = DEFAULT_POSITIVE,
) -> pd.DataFrame:
    """One row per rep in scope (even with no calls), busiest first, then "Other users" (only if
    some calls belong to nobody in scope), then "Team", whose figures are `overview_figures`.

    Columns: rep_id (Int64, <NA> on the last two rows), rep, calls, outbound, outbound_share,
    connected, connect_rate (connected / outbound), positive, no_disposition, calls_per_day
    (calls per working day; for Team, per rep per working day), daily_calls (list of calls per
    local day from start to end, for a sparkline), few_calls (a rate has a denominator below
    MIN_CALLS_FOR_RATE), is_team.
    """
    reps = list(dict.fromkeys(int(rep) for rep in rep_ids))
    n_slots = len(reps) + 1  # the last slot collects calls of users outside the scope
    slot = pd.Index(reps, dtype=np.int64).get_indexer(
        calls["user_id"].to_numpy(dtype=np.float64, na_value=np.nan)
    )
    slot[slot < 0] = len(reps)
    flags = _flags(calls, dispositions, positive)

    def per_slot(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(slot, weights=weights, minlength=n_slots).astype(np.int64)

    n_days = (end - start).days + 1
    offset = _day_offsets(calls, tz, start)
    inside = (offset >= 0) & (offset < n_days)
    daily = np.bincount(slot[inside] * n_days + offset[inside], minlength=n_slots * n_days).reshape(
        n_slots, n_days
    )

    frame = pd.DataFrame(
        {
            "rep_id": pd.array([*reps, None], dtype="Int64"),
            "rep": [*_user_names(reps, users), OTHER_USERS],
            "calls": per_slot(),
            "outbound": per_slot(flags.outbound),
            "connected": per_slot(flags.connected),
            "positive": per_slot(flags.positive),
            "no_disposition": per_slot(flags.no_disposition),
            "daily_calls": [row.tolist() for row in daily],
        }
    )
    days = working_days(start, end)
    frame["calls_per_day"] = frame["calls"] / days if days else np.nan
    rep_rows = frame.iloc[: len(reps)].sort_values(
        ["calls", "rep"], ascending=[False, True], kind="stable"
    )
    other = frame.iloc[len(reps) :].assign(calls_per_day=np.nan)  # not one rep: no per-day rate
    parts = [rep_rows, other] if other["calls"].iloc[0] > 0 else [rep_rows]

    team = overview_figures(calls, dispositions, reps, start, end, tz, positive)
    team_row = {
        "rep_id": pd.NA,
        "rep": TEAM,
        "calls": team.calls,
        "outbound": team.outbound,
        "connected": team.connect_rate.numerator,
        "positive": team.positive,
        "no_disposition": team.no_disposition,
        "daily_calls": daily.sum(axis=0).tolist(),
        "calls_per_day": np.nan
        if team.calls_per_rep_per_day is None
        else team.calls_per_rep_per_day,
    }
    frame = pd.concat([*parts, pd.DataFrame([team_row])], ignore_index=True)
    frame["rep_id"] = frame["rep_id"].astype("Int64")
    for column in ("calls", "outbound", "connected", "positive", "no_disposition"):
        frame[column] = frame[column].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["outbound_share"] = frame["outbound"] / frame["calls"].where(frame["calls"] > 0)
        frame["connect_rate"] = frame["connected"] / frame["outbound"].where(frame["outbound"] > 0)
    frame["few_calls"] = (frame["calls"] < MIN_CALLS_FOR_RATE) | (
        frame["outbound"] < MIN_CALLS_FOR_RATE
    )
    frame["is_team"] = frame["rep"].eq(TEAM) & frame["rep_id"].isna()
    return frame[
        [
            "rep_id",
            "rep",
            "calls",
            "outbound",
            "outbound_share",
            "connected",
            "connect_rate",
            "positive",
            "no_disposition",
            "calls_per_day",
            "daily_calls",
            "few_calls",
            "is_team",
        ]
    ]


def calls_table(
    calls: pd.DataFrame,
    users: pd.DataFrame,
    dispositions: pd.DataFrame,
    purposes: pd.DataFrame,
    tz: str,
) -> pd.DataFrame:
    """The calls for reading, newest first.

    Columns: time (tz-aware, in `tz`), rep ("" when none, "User <id>" when not in `users`),
    direction ("Outbound"/"Inbound"), from, to, purpose ("" when none), disposition (same labels
    as `disposition_mix`, so a chart selection can filter this table), note, id; and for calls
    read from API v2 (lib.schema.V2_CALL_DTYPES), outcome ("" when unknown) and talk_s (talk
    seconds, NaN when the call was not answered) before id.
    """
    created = _utc(calls["created_at"])
    # Newest first; the id breaks ties so the order is stable between reloads.
    order = np.lexsort(
        (-calls["id"].to_numpy(dtype=np.int64), -created.dt.tz_localize(None).to_numpy().view("i8"))
    )
    rep_names = _labels(
        calls["user_id"], _with_display_names(users), "_display", "", lambda i: f"User {i}"
    )
    disposition_names = _labels(
        calls["disposition_id"], dispositions, "name", NO_DISPOSITION, _unknown_disposition
    )
    purpose_names = _labels(calls["purpose_id"], purposes, "name", "", lambda i: f"Purpose {i}")
    direction = pd.array(["Inbound", "Outbound"], dtype="str").take(
        calls["outbound"].to_numpy(dtype=np.int64)
    )
    # Takes on the columns' own arrays: no round trip of a million strings through Python objects.
    table = {
        "time": created.dt.tz_convert(tz).array.take(order),
        "rep": rep_names.take(order),
        "direction": direction.take(order),
        "from": calls["from_number"].array.take(order),
        "to": calls["to_number"].array.take(order),
        "purpose": purpose_names.take(order),
        "disposition": disposition_names.take(order),
        "note": calls["note"].array.take(order),
    }
    if {"outcome", "answered_at", "completed_at"} <= set(calls.columns):
        table["outcome"] = calls["outcome"].fillna("").to_numpy(dtype=object)[order]
        table["talk_s"] = talk_seconds(calls).to_numpy(dtype=float)[order]
    table["id"] = calls["id"].to_numpy(dtype=np.int64)[order]
    return pd.DataFrame(table)


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy in which every text cell a spreadsheet would run as a formula (starting with =, +,
    -, @, tab or carriage return) starts with a single quote instead; numbers are untouched.

    Phone numbers such as "+15551234567" are text here and so become "'+15551234567": that is
    the usual spreadsheet practice (OWASP "CSV injection"), and the quote is not shown in Excel.
    """
    out = frame.copy()
    out.columns = [_neutralise(c) if isinstance(c, str) else c for c in out.columns]
    for column in range(out.shape[1]):
        series = out.iloc[:, column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = series.cat.categories
            if categories.dtype == object or pd.api.types.is_string_dtype(categories.dtype):
                safe = [_neutralise(c) if isinstance(c, str) else c for c in categories]
                if len(set(safe)) == len(safe):
                    out.isetitem(column, series.cat.rename_categories(safe))
                else:
                    out.isetitem(column, series.astype(object).map(_neutralise_any))
            continue
        if not (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
            continue
        try:
            risky = series.str.match(_FORMULA_START, na=False)
        except AttributeError:  # an object column holding no strings at all
            continue
        if risky.any():
            fixed = series.copy()
            fixed[risky] = "'" + series[risky].astype(str)
            out.isetitem(column, fixed)
    return out


# --- helpers -------------------------------------------------------------------------------------

_FORMULA_START = r"[=+\-@\t\r]"
_FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_CHARS) else text


def _neutralise_any(value: object) -> object:
    return _neutralise(value) if isinstance(value, str) else value


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"The range ends ({end}) before it starts ({start}).")


@dataclass(frozen=True)
class _Flags:
    """Per-call booleans that the figures count (numpy arrays, one entry per call)."""

    outbound: np.ndarray
    connected: np.ndarray
    no_disposition: np.ndarray
    positive: np.ndarray


def _flags(calls: pd.DataFrame, dispositions: pd.DataFrame, positive: Collection[str]) -> _Flags:
    ids = calls["disposition_id"]
    missing = ids.isna().to_numpy(dtype=bool)
    values = ids.to_numpy(dtype=np.float64, na_value=np.nan)
    outcome = _casefold(dispositions.get("outcome", pd.Series(dtype=object)))
    names = _casefold(dispositions.get("name", pd.Series(dtype=object)))
    lookup_ids = dispositions.get("id", pd.Series(dtype=np.int64)).to_numpy()
    answered_ids = lookup_ids[(outcome == "answered").to_numpy(dtype=bool)]
    wanted = {str(name).strip().casefold() for name in positive}
    positive_ids = lookup_ids[names.isin(wanted).to_numpy(dtype=bool)]
    outbound = calls["outbound"].to_numpy(dtype=bool)
    return _Flags(
        outbound=outbound,
        connected=outbound & np.isin(values, answered_ids) & ~missing,
        no_disposition=missing,
        positive=np.isin(values, positive_ids) & ~missing,
    )


def _casefold(series: pd.Series) -> pd.Series:
    return series.astype(object).fillna("").astype(str).str.strip().str.casefold()


def _utc(created_at: pd.Series) -> pd.Series:
    if not isinstance(created_at.dtype, pd.DatetimeTZDtype):
        created_at = pd.to_datetime(created_at, utc=True)
    return created_at.dt.tz_convert("UTC")


def _local_times(calls: pd.DataFrame, tz: str) -> np.ndarray:
    """Local wall-clock times (naive datetime64) in `tz`, one per call: the DST-aware step
    every local bucketing starts from, done once per call on the whole column."""
    return _utc(calls["created_at"]).dt.tz_convert(tz).dt.tz_localize(None).to_numpy()


def _day_offsets(calls: pd.DataFrame, tz: str, start: date) -> np.ndarray:
    """Local day of each call, counted in days from `start` (negative before it)."""
    days = _local_times(calls, tz).astype("datetime64[D]")
    return (days - np.datetime64(start, "D")).astype(np.int64)


def _labels(
    ids: pd.Series | Sequence[int | None],
    table: pd.DataFrame,
    column: str,
    missing: str,
    unknown: Callable[[int], str],
) -> pd.api.extensions.ExtensionArray:
    """table[column] for each id (matched on table["id"]) as a string array: `missing` where the
    id is missing, `unknown(id)` where the lookup has no such id."""
    ids = pd.array(ids, dtype="Int64")
    values = ids.to_numpy(dtype=np.float64, na_value=np.nan)
    position = pd.Index(table["id"].to_numpy(dtype=np.int64)).get_indexer(values)
    labels = [*table[column].astype(object), missing]
    absent = np.asarray(ids.isna(), dtype=bool)
    strangers = (position < 0) & ~absent
    if strangers.any():
        found, which = np.unique(values[strangers].astype(np.int64), return_inverse=True)
        position[strangers] = len(labels) + which
        labels += [unknown(int(i)) for i in found]
    position[absent] = len(table)
    # The label list is short: build it once, then take per call.
    return pd.array(labels, dtype="str").take(position)


def _unknown_disposition(disposition_id: int) -> str:
    return f"Unknown disposition {disposition_id}"


def display_names(users: pd.DataFrame) -> dict[int, str]:
    """Each user's name as every page shows it: name, else first + last name, else e-mail,
    else "User <id>"."""
    named = _with_display_names(users)
    return dict(zip(named["id"].astype(int).tolist(), named["_display"].tolist(), strict=True))


def _with_display_names(users: pd.DataFrame) -> pd.DataFrame:
    """users plus "_display": name, else first + last name, else email, else "User <id>"."""
    users = users.reset_index(drop=True)

    def text(column: str) -> pd.Series:
        if column not in users:
            return pd.Series([""] * len(users), dtype=object)
        return users[column].astype(object).fillna("").astype(str).str.strip()

    full = (text("first_name") + " " + text("last_name")).str.strip()
    fallback = "User " + users["id"].astype(str)
    display = text("name").where(text("name") != "", full)
    display = display.where(display != "", text("email"))
    display = display.where(display != "", fallback)
    return users.assign(_display=display.to_numpy(dtype=object))


def _user_names(rep_ids: Sequence[int], users: pd.DataFrame) -> list[str]:
    return list(_labels(rep_ids, _with_display_names(users), "_display", "", lambda i: f"User {i}"))
