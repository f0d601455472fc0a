"""v2-only call metrics: talk time per rep and per disposition, answer rate by outcome (pure).

API v2 records carry `outcome`, `answeredAt` and `completedAt` (no duration field: talk time is
completedAt - answeredAt, per section 4 of the API reference). A calls frame read from v2 has
them as columns (lib.frames.V2_CALL_DTYPES); one read from 1.0 has not, and `has_v2_fields`
says whether the cards can be drawn at all: on 1.0 they are absent, never shown as zero.
"""

from __future__ import annotations

import pandas as pd


def talk_seconds(frame: pd.DataFrame) -> pd.Series:
    """completedAt - answeredAt in seconds; NaN for unanswered calls, unknown times, or a
    completion before the answer (bad data is left out, not counted as negative talk)."""
    seconds = (frame["completed_at"] - frame["answered_at"]).dt.total_seconds()
    return seconds.where(seconds >= 0)


def talk_time_by(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Talk time grouped by `key` ("user_id" per rep, "disposition_id" per disposition).

    Columns: key, talked (calls with a talk time), total_s, mean_s, median_s; only groups with
    at least one talked call, sorted by total_s descending then key.
    """
    seconds = talk_seconds(frame)
    talked = frame.assign(_talk=seconds)[seconds.notna() & frame[key].notna()]
    columns = [key, "talked", "total_s", "mean_s", "median_s"]
    if talked.empty:
        return pd.DataFrame(columns=columns)
    grouped = talked.groupby(key)["_talk"].agg(["count", "sum", "mean", "median"]).reset_index()
    grouped.columns = columns
    return grouped.sort_values(["total_s", key], ascending=[False, True]).reset_index(drop=True)


def answer_rate_by_outcome(frame: pd.DataFrame) -> pd.DataFrame:
    """Calls per outcome and their share of calls with a known outcome.

    Columns: outcome, calls, share (0..1); rows "Answered" then "Not Answered" (both always
    present when any outcome is known, so a zero is a real zero); calls without an outcome
    are not in the denominator. Empty when no call has an outcome.
    """
    known = frame["outcome"].dropna()
    if known.empty:
        return pd.DataFrame(columns=["outcome", "calls", "share"])
    order = ["Answered", "Not Answered"]
    # Any other outcome the live API may send is kept after the two documented ones.
    order += sorted(set(known.unique().tolist()) - set(order))
    counts = known.value_counts().reindex(order, fill_value=0)
    return pd.DataFrame({"outcome": order, "calls": counts.to_numpy(),
                         "share": (counts / len(known)).to_numpy()})


def answer_rate(frame: pd.DataFrame) -> float | None:
    """Answered / calls with a known outcome; None (no card) when no outcome is known."""
    known = frame["outcome"].dropna()
    return None if known.empty else float((known == "Answered").mean())
