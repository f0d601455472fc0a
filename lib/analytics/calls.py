"""Per-call facts the figures are counted from: direction and disposition flags, local times."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


def check_range(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"The range ends ({end}) before it starts ({start}).")


@dataclass(frozen=True)
class CallFlags:
    """Per-call booleans that the figures count (numpy arrays, one entry per call)."""

    outbound: np.ndarray
    connected: np.ndarray
    no_disposition: np.ndarray
    positive: np.ndarray


def call_flags(calls: pd.DataFrame, dispositions: pd.DataFrame,
               positive: Collection[str]) -> CallFlags:
    ids = calls["disposition_id"]
    missing = ids.isna().to_numpy(dtype=bool)
    values = ids.to_numpy(dtype=np.float64, na_value=np.nan)
    outcome = casefold(dispositions.get("outcome", pd.Series(dtype=object)))
    names = casefold(dispositions.get("name", pd.Series(dtype=object)))
    lookup_ids = dispositions.get("id", pd.Series(dtype=np.int64)).to_numpy()
    answered_ids = lookup_ids[(outcome == "answered").to_numpy(dtype=bool)]
    wanted = {str(name).strip().casefold() for name in positive}
    positive_ids = lookup_ids[names.isin(wanted).to_numpy(dtype=bool)]
    outbound = calls["outbound"].to_numpy(dtype=bool)
    return CallFlags(
        outbound=outbound,
        connected=outbound & np.isin(values, answered_ids) & ~missing,
        no_disposition=missing,
        positive=np.isin(values, positive_ids) & ~missing,
    )


def casefold(series: pd.Series) -> pd.Series:
    return series.astype(object).fillna("").astype(str).str.strip().str.casefold()


def utc_times(created_at: pd.Series) -> pd.Series:
    if not isinstance(created_at.dtype, pd.DatetimeTZDtype):
        created_at = pd.to_datetime(created_at, utc=True)
    return created_at.dt.tz_convert("UTC")


def local_times(calls: pd.DataFrame, tz: str) -> np.ndarray:
    """Local wall-clock times (naive datetime64) in `tz`, one per call: the DST-aware step
    every local bucketing starts from, done once per call on the whole column."""
    return utc_times(calls["created_at"]).dt.tz_convert(tz).dt.tz_localize(None).to_numpy()


def day_offsets(calls: pd.DataFrame, tz: str, start: date) -> np.ndarray:
    """Local day of each call, counted in days from `start` (negative before it)."""
    days = local_times(calls, tz).astype("datetime64[D]")
    return (days - np.datetime64(start, "D")).astype(np.int64)


