"""The overview's tables: one row per rep, one row per call."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd

from lib.analytics import goals as goal_pacing
from lib.analytics.calls import CallCounts, count_calls, kind_flags, utc_times
from lib.analytics.figures import MIN_CALLS_FOR_RATE, overview_figures, working_days
from lib.analytics.labels import (
    NO_DISPOSITION,
    OTHER_USERS,
    TEAM,
    labels_for,
    unknown_disposition,
    user_names,
    with_display_names,
)
from lib.analytics.outcomes import OutcomeMapping, outcome_mapping
from lib.analytics.talk import talk_seconds


def rep_table(
    calls: pd.DataFrame,
    dispositions: pd.DataFrame,
    users: pd.DataFrame,
    rep_ids: Sequence[int],
    start: date,
    end: date,
    tz: str,
    mapping: OutcomeMapping | None = None,
    *,
    counts: CallCounts | None = None,
    goals: Collection[goal_pacing.Goal] = (),
    now: datetime | None = None,
    whole_team: bool = True,
) -> pd.DataFrame:
    """One row per rep in scope (even with no calls), busiest first, then "Other users" (only if
    some calls belong to nobody in scope), then "Team", whose figures are `overview_figures`.

    Columns: rep_id (Int64, <NA> on the last two rows), rep, calls, outbound, outbound_share,
    connected, connect_rate (connected / outbound), positive, no_disposition, calls_per_day
    (calls per working day; for Team, per rep per working day), daily_calls (list of calls per
    local day from start to end, for a sparkline), few_calls (a rate has a denominator below
    MIN_CALLS_FOR_RATE), is_team. Connected and positive are as `mapping` says (None: the
    default mapping of `dispositions`). `counts`: the calls' count_calls by these
    dispositions, reps and days in `tz`, when the caller has them already.

    With `goals` (lib.analytics.goals), held against the range at `now`, three more columns for
    each metric some goal is of, after is_team: <metric>_goal ("34 of 50 calls"),
    <metric>_expected and <metric>_on_pace (goals.goal_columns); the team row's goal only when
    `whole_team` (the rows are every rep).
    """
    reps = list(dict.fromkeys(int(rep) for rep in rep_ids))
    if counts is None:
        counts = count_calls(calls, dispositions, reps, start, end, tz)
    else:
        counts.check(tz, rep_ids=reps, start=start, end=end)
    mapping = mapping or outcome_mapping(dispositions)
    flags = kind_flags(counts, mapping)
    by_rep = counts.by_rep  # [slot: reps, then everyone else; kind; direction]
    daily = counts.by_rep_day[:, 1:-1].sum(axis=2)  # the range's days, both directions

    frame = pd.DataFrame(
        {
            "rep_id": pd.array([*reps, None], dtype="Int64"),
            "rep": [*user_names(reps, users), OTHER_USERS],
            "calls": by_rep.sum(axis=(1, 2)),
            "outbound": by_rep[:, :, 1].sum(axis=1),
            "connected": by_rep[:, flags.connected, 1].sum(axis=1),
            "positive": by_rep[:, flags.positive].sum(axis=(1, 2)),
            "no_disposition": by_rep[:, flags.none].sum(axis=(1, 2)),
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

    team = overview_figures(calls, dispositions, reps, start, end, tz, mapping, counts=counts)
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
    frame = frame[
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
    if not goals:
        return frame
    if now is None:
        raise ValueError("Pacing goals needs the moment to pace them at (now).")
    paced = goal_pacing.pacing(frame, goals, start, end, tz, now, whole_team)
    return goal_pacing.goal_columns(frame, paced)


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
    read from API v2 (lib.frames.V2_CALL_DTYPES), outcome ("" when unknown) and talk_s (talk
    seconds, NaN when the call was not answered) before id.
    """
    created = utc_times(calls["created_at"])
    # Newest first; the id breaks ties so the order is stable between reloads.
    order = np.lexsort(
        (-calls["id"].to_numpy(dtype=np.int64), -created.dt.tz_localize(None).to_numpy().view("i8"))
    )
    rep_names = labels_for(
        calls["user_id"], with_display_names(users), "_display", "", lambda i: f"User {i}"
    )
    disposition_names = labels_for(
        calls["disposition_id"], dispositions, "name", NO_DISPOSITION, unknown_disposition
    )
    purpose_names = labels_for(calls["purpose_id"], purposes, "name", "", lambda i: f"Purpose {i}")
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


