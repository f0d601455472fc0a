"""The packed day of calls (lib.store.facts): what goes in comes out, in the narrow layout and
the one before it."""

from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import pytest

from lib.store import facts

DAY_US = 86_400_000_000
FIRST = 20_540 * DAY_US  # 2026-03-28 00:00 UTC, in epoch microseconds


def rows(count: int, *, step_us: int = 1_000_000, reps: int = 3, dispositions: int = 7,
         outcomes: tuple[str, ...] = (), times: bool = False) -> list[tuple]:
    """`count` calls a `step_us` apart, as pack takes them: (created_us, user_id, outbound,
    disposition_id, outcome, answered_us, completed_us)."""
    made = []
    for n in range(count):
        created = FIRST + 3_600_000_000 + n * step_us
        made.append((created, 1000 + n % reps, n % 3 != 0,
                     None if n % 5 == 0 else 500 + n % dispositions,
                     outcomes[n % len(outcomes)] if outcomes and n % 4 else None,
                     created + 5_000_000 if times and n % 2 else None,
                     created + 65_000_000 if times and n % 2 else None))
    return made


def unpacked(blob: bytes, v2: bool = False) -> pd.DataFrame:
    builder = facts.FactsBuilder(0, FIRST, FIRST + DAY_US, None, v2)
    builder.add(blob)
    return builder.frame()


def assert_same_calls(frame: pd.DataFrame, made: list[tuple], v2: bool = False) -> None:
    def micros(column: str) -> list[int | None]:
        return [None if pd.isna(value) else value.value // 1000 for value in frame[column]]

    assert micros("created_at") == [row[0] for row in made]
    assert [None if pd.isna(v) else int(v) for v in frame["user_id"]] == [r[1] for r in made]
    assert frame["outbound"].tolist() == [row[2] for row in made]
    assert [None if pd.isna(v) else int(v) for v in frame["disposition_id"]] == [
        row[3] for row in made]
    if v2:
        assert [None if pd.isna(v) else v for v in frame["outcome"]] == [r[4] for r in made]
        assert micros("answered_at") == [row[5] for row in made]
        assert micros("completed_at") == [row[6] for row in made]


def test_a_day_of_whole_milliseconds_takes_seven_bytes_a_call():
    made = rows(1000, step_us=37_001_000)  # Outreach's times: whole milliseconds
    blob = facts.pack(made)
    header = struct.calcsize("<4s5Iq") + len(b"[]")
    # A call: 4 bytes of time, 1 of rep (a list of 3), 1 of disposition, 1 of direction.
    assert len(blob) == header + 8 * (3 + 7) + 7 * 1000
    assert_same_calls(unpacked(blob), made)


def test_microseconds_are_kept_exactly():
    made = rows(500, step_us=1_000_123)
    assert_same_calls(unpacked(facts.pack(made)), made)


def test_long_lists_of_reps_and_dispositions_get_wider_indexes():
    made = rows(70_100, step_us=1_000, reps=70_000, dispositions=300)
    assert_same_calls(unpacked(facts.pack(made)), made)


def test_v2_outcomes_and_times_come_back():
    made = rows(400, outcomes=("Answered", "No Answer", "Voicemail"), times=True)
    assert_same_calls(unpacked(facts.pack(made), v2=True), made, v2=True)


def test_a_day_without_calls():
    assert unpacked(facts.pack([])).empty


def previous_release_blob(made: list[tuple]) -> bytes:
    """A day as the release before packed it ("CBF2"), written here from its documented
    layout rather than by the code under test."""
    reps = sorted({row[1] for row in made})
    dispositions = sorted({row[3] for row in made if row[3] is not None})
    outcomes = sorted({row[4] for row in made if row[4] is not None})
    names = json.dumps(outcomes).encode()
    with_times = any(row[5] is not None for row in made)
    none = -(2 ** 63)
    parts = [struct.pack("<4s5I", b"CBF2", len(made), len(reps), len(dispositions),
                         len(names), 1 if with_times else 0), names,
             np.array(reps, "<i8").tobytes(), np.array(dispositions, "<i8").tobytes(),
             np.array([row[0] for row in made], "<i8").tobytes(),
             np.array([reps.index(row[1]) for row in made], "<i4").tobytes(),
             np.array([-1 if row[3] is None else dispositions.index(row[3]) for row in made],
                      "<i4").tobytes(),
             np.array([-1 if row[4] is None else outcomes.index(row[4]) for row in made],
                      "<i2").tobytes(),
             np.array([row[2] for row in made], "u1").tobytes()]
    if with_times:
        parts += [np.array([none if row[k] is None else row[k] for row in made],
                           "<i8").tobytes() for k in (5, 6)]
    return b"".join(parts)


@pytest.mark.parametrize("v2", [False, True])
def test_a_day_packed_by_the_release_before_is_still_read(v2):
    made = rows(300, step_us=1_000_123, outcomes=("Answered", "No Answer") if v2 else (),
                times=v2)
    assert_same_calls(unpacked(previous_release_blob(made), v2=v2), made, v2=v2)


@pytest.mark.parametrize("damage", [
    lambda blob: blob[:-1],  # cut short
    lambda blob: b"CBF9" + blob[4:],  # another layout
    lambda blob: blob[:-1001] + b"\xff" + blob[-1000:],  # a disposition index past its list
])
def test_a_damaged_day_is_refused(damage):
    blob = facts.pack(rows(1000, step_us=37_001_000))
    with pytest.raises(ValueError):
        unpacked(damage(blob))
