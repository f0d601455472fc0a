"""count_calls against counts pandas makes on its own, chunk by chunk and thread by thread."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from lib.analytics import calls as counting

TZ = "America/New_York"
START, END = date(2026, 3, 1), date(2026, 3, 20)  # over New York's spring change (8 March)
DISPOSITIONS = pd.DataFrame({"id": [3, 5, 8], "name": ["A", "B", "C"],
                             "outcome": ["Answered", "Answered", "Not Answered"]})
REPS = [40, 10, 30]  # in scope, in this order; 20 and unknown reps are "everyone else"


def random_calls(count: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = pd.Timestamp("2026-02-27", tz="UTC").value
    created = first + rng.integers(0, 25 * 86_400, count) * 10**9  # around the range, unsorted
    answered = created + rng.integers(0, 30, count) * 10**9
    talk = rng.integers(0, 200, count) * 10**9
    frame = pd.DataFrame({
        "created_at": pd.Series(created, dtype="datetime64[ns, UTC]"),
        "user_id": pd.array(rng.choice([10, 20, 30, 40, None], count), dtype="Int64"),
        "outbound": rng.random(count) < 0.7,
        "disposition_id": pd.array(rng.choice([3, 5, 8, 99, 77, None], count), dtype="Int64"),
        "answered_at": pd.Series(np.where(rng.random(count) < 0.6, answered,
                                          np.iinfo(np.int64).min), dtype="datetime64[ns, UTC]"),
    })
    frame["completed_at"] = frame["answered_at"] + pd.to_timedelta(talk)
    return frame


@pytest.mark.parametrize("chunk", [1_000, 1 << 18])  # many chunks on several threads; one
def test_the_counts_are_those_pandas_makes(monkeypatch, chunk):
    monkeypatch.setattr(counting, "CHUNK", chunk)
    calls = random_calls(20_000)
    counts = counting.count_calls(calls, DISPOSITIONS, REPS, START, END, TZ, 60.0)

    slot = calls["user_id"].map({40: 0, 10: 1, 30: 2}).fillna(3).astype(int)
    kind = calls["disposition_id"].map({3: 0, 5: 1, 8: 2}).astype("Float64")
    kind = kind.mask(calls["disposition_id"].isna(), 4).fillna(3).astype(int)
    way = calls["outbound"].astype(int)
    local = calls["created_at"].dt.tz_convert(TZ)

    def table(*keys: pd.Series, shape: tuple[int, ...]) -> np.ndarray:
        expected = np.zeros(shape, dtype=np.int64)
        for key, number in pd.DataFrame(dict(enumerate(keys))).value_counts().items():
            expected[key] += number
        return expected

    assert (counts.by_rep == table(slot, kind, way, shape=(4, 5, 2))).all()
    week_hour = local.dt.day_of_week * 24 + local.dt.hour
    assert (counts.by_week_hour == table(week_hour, kind, way, shape=(168, 5, 2))).all()
    day = (local.dt.date - START).map(lambda gap: gap.days).clip(-1, 20) + 1
    assert (counts.by_rep_day == table(slot, day, way, shape=(4, 22, 2))).all()
    assert counts.unknown == calls["disposition_id"][
        calls["disposition_id"].isin([99, 77])].value_counts().to_dict()
    seconds = (calls["completed_at"] - calls["answered_at"]).dt.total_seconds()
    long = calls["outbound"] & (seconds >= 60).fillna(False)
    assert (counts.talked == table(slot[long], kind[long], shape=(4, 5))).all()
