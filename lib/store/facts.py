"""Packs one day's calls into the few columns the overview's figures read (created time, rep,
direction, disposition; v2's outcome and talk times) as one blob, and unpacks blobs into a frame:
the store's columnar copy, so a year of a large team's calls is read in a second, not a minute."""

# A calls table row by row is what a sync needs (calls change one by one); the figures need
# only four of its columns, for every call of a range. SQLite groups rows by sorting them (17 s
# for 10 million calls, per GROUP BY) and a driver hands rows over as Python tuples (seconds per
# million), so the store also keeps each UTC day's calls packed here (lib.store.callstore's
# `call_facts`), rebuilt from the calls table whenever that day changed.
#
# The blob: a header, then each column's little-endian array for the day's n calls, sorted by
# (created time, id), read back as views of the blob without a copy or a parser:
#   header        "CBF1", n (uint32), the length of `outcomes` (uint32), then `outcomes`: the
#                 day's distinct outcome texts (v2's), as a JSON list in UTF-8
#   created_us    int64   epoch microseconds
#   user_id       int64   NONE when the call has no rep
#   disposition   int64   NONE when none is logged
#   answered_us, completed_us  int64, NONE when unknown (v2; always NONE on 1.0)
#   outcome       int16   index into `outcomes`, -1 when unknown
#   outbound      uint8   1 or 0

from __future__ import annotations

import json
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

NONE = np.iinfo(np.int64).min
"""An unknown id or time in a packed column (Outreach ids and epoch times are never this)."""


@dataclass
class _Columns:
    """A day's (or a range's) packed columns, as numpy arrays of one length."""

    created_us: np.ndarray
    user_id: np.ndarray
    outbound: np.ndarray
    disposition: np.ndarray
    outcome: np.ndarray
    outcomes: list[str]
    answered_us: np.ndarray
    completed_us: np.ndarray


def pack(rows: Sequence[Sequence[Any]]) -> bytes:
    """One day's calls as a blob. `rows` are (created_us, user_id, outbound, disposition_id,
    outcome, answered_us, completed_us), sorted by (created_us, id); None for unknown."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * 7
    created, users, outbound, dispositions, outcome_texts, answered, completed = columns
    outcomes = sorted({text for text in outcome_texts if text is not None})
    code = {text: number for number, text in enumerate(outcomes)}
    names = json.dumps(outcomes).encode()
    return b"".join([
        _MAGIC, struct.pack("<II", len(rows), len(names)), names,
        *(_ints(values).tobytes() for values in (created, users, dispositions, answered,
                                                 completed)),
        np.array([-1 if text is None else code[text] for text in outcome_texts],
                 dtype="<i2").tobytes(),
        np.array(outbound, dtype=np.uint8).tobytes()])


_MAGIC = b"CBF1"


def _ints(values: Sequence[int | None]) -> np.ndarray:
    return np.array([NONE if value is None else value for value in values], dtype="<i8")


def _unpack(blob: bytes) -> _Columns:
    if blob[:4] != _MAGIC or len(blob) < 12:
        raise ValueError("not a packed day of calls")
    count, length = struct.unpack_from("<II", blob, 4)
    start = 12 + length
    outcomes = json.loads(blob[12:start].decode())

    def take(dtype: str, width: int) -> np.ndarray:
        nonlocal start
        values = np.frombuffer(blob, dtype=dtype, count=count, offset=start)
        start += width * count
        return values

    if start + 43 * count != len(blob):
        raise ValueError("a packed day of calls of the wrong length")
    created, users, dispositions, answered, completed = (take("<i8", 8) for _ in range(5))
    outcome = take("<i2", 2)
    outbound = take("u1", 1).view(bool)
    return _Columns(created_us=created, user_id=users, outbound=outbound,
                    disposition=dispositions, outcome=outcome,
                    outcomes=outcomes, answered_us=answered,
                    completed_us=completed)


class FactsBuilder:
    """Collects unpacked days into arrays sized once (a year of 10 million calls is never held
    twice), keeping only the calls of [after_us, before_us) and of `user_ids` (None: all)."""

    def __init__(self, capacity: int, after_us: int, before_us: int,
                 user_ids: Collection[int] | None) -> None:
        self._after, self._before = after_us, before_us
        self._users = None if user_ids is None else np.array(sorted(set(user_ids)),
                                                              dtype=np.int64)
        self._size = 0
        self._outcomes: list[str] = []
        self._columns = _Columns(
            created_us=np.empty(capacity, np.int64), user_id=np.empty(capacity, np.int64),
            outbound=np.empty(capacity, bool), disposition=np.empty(capacity, np.int64),
            outcome=np.empty(capacity, np.int16), outcomes=[],
            answered_us=np.empty(capacity, np.int64), completed_us=np.empty(capacity, np.int64))

    def add(self, blob: bytes) -> None:
        day = _unpack(blob)
        keep = slice(*np.searchsorted(day.created_us, [self._after, self._before]))
        chosen: slice | np.ndarray = keep
        if self._users is not None:
            inside = np.isin(day.user_id[keep], self._users)
            chosen = np.flatnonzero(inside) + keep.start
        count = len(day.created_us[chosen])
        if not count:
            return
        # A day's outcome codes index its own list: renumbered into the range's list.
        known = {text: number for number, text in enumerate(self._outcomes)}
        for text in day.outcomes:
            known.setdefault(text, len(known))
        self._outcomes = list(known)
        recode = np.array([known[text] for text in day.outcomes] + [-1],
                          dtype=np.int16)
        if self._size + count > len(self._columns.created_us):
            self._grow(self._size + count)
        into = slice(self._size, self._size + count)
        target = self._columns
        for name in ("created_us", "user_id", "outbound", "disposition", "answered_us",
                     "completed_us"):
            getattr(target, name)[into] = getattr(day, name)[chosen]
        target.outcome[into] = recode[day.outcome[chosen]]
        self._size += count

    def _grow(self, needed: int) -> None:
        # Only when a day was packed again between counting and reading (PostgreSQL reads
        # each statement afresh): rare, so a plain copy.
        for name in ("created_us", "user_id", "outbound", "disposition", "outcome",
                     "answered_us", "completed_us"):
            old = getattr(self._columns, name)
            new = np.empty(max(needed, len(old) + len(old) // 4), old.dtype)
            new[:self._size] = old[:self._size]
            setattr(self._columns, name, new)

    def frame(self, v2: bool) -> pd.DataFrame:
        """The collected calls as a facts frame: lib.frames.FIGURE_COLUMNS (and
        V2_FIGURE_COLUMNS for v2) with the calls frame's dtypes, sorted by (created_at, id)."""
        size, columns = self._size, self._columns
        data: dict[str, Any] = {
            "created_at": _times(columns.created_us[:size]),
            "user_id": _nullable(columns.user_id[:size]),
            "outbound": pd.Series(columns.outbound[:size]),
            "disposition_id": _nullable(columns.disposition[:size]),
        }
        if v2:
            codes = columns.outcome[:size]
            data["outcome"] = pd.Series(pd.Categorical.from_codes(
                codes, categories=pd.Index(self._outcomes, dtype=object)))
            data["answered_at"] = _times(columns.answered_us[:size])
            data["completed_at"] = _times(columns.completed_us[:size])
        return pd.DataFrame(data)


def empty_facts_frame(v2: bool) -> pd.DataFrame:
    """A facts frame without calls."""
    return FactsBuilder(0, 0, 0, None).frame(v2)


def _nullable(values: np.ndarray) -> pd.Series:
    missing = values == NONE
    return pd.Series(pd.arrays.IntegerArray(np.where(missing, 0, values), missing))


def _times(micros: np.ndarray) -> pd.Series:
    missing = micros == NONE
    stamps = np.where(missing, 0, micros).astype("datetime64[us]").astype("datetime64[ns]")
    times = pd.Series(stamps).dt.tz_localize("UTC")
    if missing.any():
        times = times.where(~missing)
    return times.astype("datetime64[ns, UTC]")
