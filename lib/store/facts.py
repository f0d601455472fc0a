"""Packs one day's calls into the few columns the overview's figures read (created time, rep,
direction, disposition; v2's outcome and talk times) as one blob, and unpacks blobs into a frame:
the store's columnar copy, so a year of a large team's calls is read in a second, not a minute."""

# A calls table row by row is what a sync needs (calls change one by one); the figures need
# only four of its columns, for every call of a range. SQLite groups rows by sorting them (17 s
# for 10 million calls, per GROUP BY) and a driver hands rows over as Python tuples (seconds per
# million), so the store also keeps each UTC day's calls packed here (lib.store.callstore's
# `call_facts`), rebuilt from the calls table whenever that day changed.
#
# The blob: a header, then little-endian arrays read back as views of it, without a copy or a
# parser. Reps and dispositions are a day's short lists, each call holding an index into them,
# as narrow as the list allows; creation times are milliseconds after the day's first call
# (Outreach's times have no finer part) unless one has microseconds; v2's columns are there
# only when the day has any. A year of ten million 1.0 calls of 500 reps is 84 MB (8 bytes a
# call; plain ids and times would take 43): moving it out of PostgreSQL was most of reading
# the figures.
#   header   "CBF3", then uint32s: n calls, the day's reps, its dispositions, the byte length
#            of `outcomes` (the day's distinct v2 outcome texts, a JSON list in UTF-8), flags
#            (1: the answer and completion times follow; 2: creation times are int64
#            microseconds, not uint32 milliseconds after `first`); then int64 `first`, the
#            first call's epoch microseconds; then `outcomes`
#   reps, dispositions          int64, the ids the indexes point to
#   created                     uint32[n] ms after `first` (int64[n] µs with flag 2), sorted
#                               by (created time, id)
#   rep, disposition            index[n], the narrowest unsigned type that holds the list's
#                               length, which stands for none
#   outcome                     index[n] as above, into `outcomes` (absent when it is empty)
#   outbound                    uint8[n] 1 or 0
#   answered_us, completed_us   int64[n], NONE when unknown (only with flag 1)
# A day packed by the release before ("CBF2": int64 µs, int32 and int16 indexes with -1 for
# none, always an outcome column) is still read, so an upgrade repacks nothing.

from __future__ import annotations

import json
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

NONE = np.iinfo(np.int64).min
"""An unknown id or time in a packed column (Outreach ids and epoch times are never this; it is
numpy's NaT, so a time column of it reads as unknown)."""

_MAGIC = b"CBF3"
_HEADER = struct.Struct("<4s5Iq")
_OLD_MAGIC = b"CBF2"
_OLD_HEADER = struct.Struct("<4s5I")
_WITH_TIMES = 1
_MICROSECONDS = 2


@dataclass(frozen=True)
class _Day:
    """One unpacked day: views of its blob. Each index array's "none" is its table's last
    entry (the id tables end with NONE)."""

    created: np.ndarray  # `step` µs after `first`
    first: int
    step: int
    reps: np.ndarray
    rep: np.ndarray
    dispositions: np.ndarray
    disposition: np.ndarray
    outcomes: list[str]
    outcome: np.ndarray
    outbound: np.ndarray
    answered_us: np.ndarray | None
    completed_us: np.ndarray | None

    def created_us(self) -> np.ndarray:
        return self.created.astype(np.int64) * self.step + self.first

    def span(self, after_us: int, before_us: int) -> tuple[int, int]:
        """The first and the past-last index of the calls in [after_us, before_us)."""
        if not len(self.created):
            return 0, 0
        earliest, latest = (self.first + int(self.created[end]) * self.step for end in (0, -1))
        if after_us <= earliest and latest < before_us:
            return 0, len(self.created)  # most days of a range: no search, no copy
        low, high = np.searchsorted(self.created_us(), [after_us, before_us])
        return int(low), int(high)


def pack(rows: Sequence[Sequence[Any]]) -> bytes:
    """One day's calls as a blob. `rows` are (created_us, user_id, outbound, disposition_id,
    outcome, answered_us, completed_us), sorted by (created_us, id); None for unknown."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * 7
    created_at, users, outbound, dispositions, outcome_texts, answered, completed = columns
    rep_ids, rep_index = _indexed(users)
    disposition_ids, disposition_index = _indexed(dispositions)
    outcomes = sorted({text for text in outcome_texts if text is not None})
    code = {text: number for number, text in enumerate(outcomes)}
    names = json.dumps(outcomes).encode()
    created = np.array(created_at, dtype=np.int64)
    first = int(created[0]) if len(created) else 0
    after = created - first
    flags = 0
    if len(after) and (int(after[-1]) >= 1000 << 32 or bool((after % 1000).any())):
        flags |= _MICROSECONDS
    if any(value is not None for value in (*answered, *completed)):
        flags |= _WITH_TIMES
    parts = [
        _HEADER.pack(_MAGIC, len(rows), len(rep_ids), len(disposition_ids), len(names), flags,
                     first), names,
        np.array(rep_ids, dtype="<i8").tobytes(),
        np.array(disposition_ids, dtype="<i8").tobytes(),
        (created.astype("<i8") if flags & _MICROSECONDS
         else (after // 1000).astype("<u4")).tobytes(),
        rep_index.astype(_index_type(len(rep_ids))).tobytes(),
        disposition_index.astype(_index_type(len(disposition_ids))).tobytes()]
    if outcomes:
        parts.append(np.array([len(outcomes) if text is None else code[text]
                               for text in outcome_texts], dtype=_index_type(len(outcomes)))
                     .tobytes())
    parts.append(np.array(outbound, dtype=np.uint8).tobytes())
    if flags & _WITH_TIMES:
        parts += [_ints(answered).tobytes(), _ints(completed).tobytes()]
    return b"".join(parts)


def _index_type(size: int) -> str:
    """The narrowest unsigned type holding 0..size (size itself stands for none)."""
    return "u1" if size < 1 << 8 else "<u2" if size < 1 << 16 else "<u4"


def _indexed(values: Sequence[int | None]) -> tuple[list[int], np.ndarray]:
    """The distinct ids, and each value's index into them (their count for None)."""
    ids = sorted({value for value in values if value is not None})
    position = {value: number for number, value in enumerate(ids)}
    return ids, np.array([len(ids) if value is None else position[value] for value in values],
                         dtype=np.int64)


def _ints(values: Sequence[int | None]) -> np.ndarray:
    return np.array([NONE if value is None else value for value in values], dtype="<i8")


def _unpack(blob: bytes) -> _Day:
    if blob[:4] == _OLD_MAGIC:
        return _unpack_old(blob)
    if len(blob) < _HEADER.size or blob[:4] != _MAGIC:
        raise ValueError("not a packed day of calls")
    _, count, reps, dispositions, length, flags, first = _HEADER.unpack_from(blob)
    start = _HEADER.size + length
    if len(blob) < start:
        raise ValueError("a packed day of calls of the wrong length")
    outcomes = json.loads(blob[_HEADER.size:start].decode())
    created_type = "<i8" if flags & _MICROSECONDS else "<u4"
    index_types = [_index_type(reps), _index_type(dispositions)]
    if outcomes:
        index_types.append(_index_type(len(outcomes)))
    per_call = sum(np.dtype(kind).itemsize for kind in [created_type, *index_types, "u1"])
    per_call += 16 if flags & _WITH_TIMES else 0
    if start + 8 * (reps + dispositions) + per_call * count != len(blob):
        raise ValueError("a packed day of calls of the wrong length")
    take = _Reader(blob, start)
    rep_ids, disposition_ids = take("<i8", reps), take("<i8", dispositions)
    created = take(created_type, count)
    rep, disposition = take(index_types[0], count), take(index_types[1], count)
    outcome = (take(index_types[2], count) if outcomes
               else np.zeros(count, dtype=np.uint8))  # index 0 of no outcomes: none
    outbound = take("u1", count).view(bool)
    times = (take("<i8", count), take("<i8", count)) if flags & _WITH_TIMES else (None, None)
    for index, size in ((rep, reps), (disposition, dispositions), (outcome, len(outcomes))):
        if count and int(index.max()) > size:
            raise ValueError("a packed day of calls with an index out of range")
    micros = bool(flags & _MICROSECONDS)
    return _Day(created=created, first=0 if micros else first, step=1 if micros else 1000,
                reps=np.append(rep_ids, NONE), rep=rep,
                dispositions=np.append(disposition_ids, NONE), disposition=disposition,
                outcomes=outcomes, outcome=outcome, outbound=outbound,
                answered_us=times[0], completed_us=times[1])


def _unpack_old(blob: bytes) -> _Day:
    """A day packed as "CBF2" (see the layout above), whose indexes are signed, -1 for none:
    renumbered so that none is the table's length, as in the new layout."""
    if len(blob) < _OLD_HEADER.size:
        raise ValueError("not a packed day of calls")
    _, count, reps, dispositions, length, flags = _OLD_HEADER.unpack_from(blob)
    start = _OLD_HEADER.size + length
    per_call = 19 + (16 if flags & _WITH_TIMES else 0)
    if start + 8 * (reps + dispositions) + per_call * count != len(blob):
        raise ValueError("a packed day of calls of the wrong length")
    outcomes = json.loads(blob[_OLD_HEADER.size:start].decode())
    take = _Reader(blob, start)
    rep_ids, disposition_ids = take("<i8", reps), take("<i8", dispositions)
    created, rep, disposition = take("<i8", count), take("<i4", count), take("<i4", count)
    outcome, outbound = take("<i2", count), take("u1", count).view(bool)
    times = (take("<i8", count), take("<i8", count)) if flags & _WITH_TIMES else (None, None)
    for index, size in ((rep, reps), (disposition, dispositions), (outcome, len(outcomes))):
        if count and not -1 <= int(index.min()) <= int(index.max()) < size:
            raise ValueError("a packed day of calls with an index out of range")
    rep, disposition, outcome = (np.where(index < 0, size, index) for index, size in (
        (rep, reps), (disposition, dispositions), (outcome, len(outcomes))))
    return _Day(created=created, first=0, step=1, reps=np.append(rep_ids, NONE), rep=rep,
                dispositions=np.append(disposition_ids, NONE), disposition=disposition,
                outcomes=outcomes, outcome=outcome, outbound=outbound,
                answered_us=times[0], completed_us=times[1])


class _Reader:
    """Reads arrays one after another out of a blob, as views of it."""

    def __init__(self, blob: bytes, start: int) -> None:
        self._blob, self._at = blob, start

    def __call__(self, dtype: str, size: int) -> np.ndarray:
        values = np.frombuffer(self._blob, dtype=dtype, count=size, offset=self._at)
        self._at += values.nbytes
        return values


class FactsBuilder:
    """Collects unpacked days into arrays sized once (a year of 10 million calls is never held
    twice), keeping only the calls of [after_us, before_us) and of `user_ids` (None: all);
    v2's columns only with `v2`."""

    def __init__(self, capacity: int, after_us: int, before_us: int,
                 user_ids: Collection[int] | None, v2: bool) -> None:
        self._after, self._before, self._v2 = after_us, before_us, v2
        self._users = None if user_ids is None else np.array(sorted(set(user_ids)),
                                                              dtype=np.int64)
        self._size = 0
        self._outcomes: list[str] = []
        self._arrays: dict[str, np.ndarray] = {
            name: np.empty(capacity, dtype) for name, dtype in self._dtypes().items()}

    def _dtypes(self) -> dict[str, Any]:
        # Times in nanoseconds, NONE (NaT) when unknown: what the frame's datetime columns
        # hold, so they are made without another pass over ten million values.
        dtypes: dict[str, Any] = {"created_ns": np.int64, "user_id": np.int64,
                                  "no_user": bool, "outbound": bool, "disposition": np.int64,
                                  "no_disposition": bool}
        if self._v2:
            dtypes.update(outcome=np.int16, answered_ns=np.int64, completed_ns=np.int64)
        return dtypes

    def add(self, blob: bytes) -> None:
        day = _unpack(blob)
        low, high = day.span(self._after, self._before)
        chosen: slice | np.ndarray = slice(low, high)
        if self._users is not None:
            wanted = np.isin(day.reps, self._users)  # the day's reps, NONE last: never wanted
            chosen = np.flatnonzero(wanted[day.rep[low:high]]) + low
        rep = day.rep[chosen]
        count = len(rep)
        if not count:
            return
        if self._size + count > len(self._arrays["created_ns"]):
            self._grow(self._size + count)
        into = slice(self._size, self._size + count)
        target = self._arrays
        # Written straight into the frame's arrays, without a temporary per column: at ten
        # million calls, each pass over fresh memory is a tenth of a second.
        created_ns = target["created_ns"][into]
        np.multiply(day.created[chosen], day.step * 1000, out=created_ns, dtype=np.int64)
        created_ns += day.first * 1000
        disposition = day.disposition[chosen]
        # mode="clip" takes without a buffer; every index was checked on unpacking.
        np.take(day.reps, rep, out=target["user_id"][into], mode="clip")
        np.equal(rep, len(day.reps) - 1, out=target["no_user"][into])
        np.take(day.dispositions, disposition, out=target["disposition"][into], mode="clip")
        np.equal(disposition, len(day.dispositions) - 1, out=target["no_disposition"][into])
        target["outbound"][into] = day.outbound[chosen]
        if self._v2:
            # A day's outcome codes index its own list: renumbered into the range's list.
            known = {text: number for number, text in enumerate(self._outcomes)}
            for text in day.outcomes:
                known.setdefault(text, len(known))
            self._outcomes = list(known)
            recode = np.array([known[text] for text in day.outcomes] + [-1], dtype=np.int16)
            target["outcome"][into] = recode[day.outcome[chosen]]
            for name in ("answered", "completed"):
                times = getattr(day, f"{name}_us")
                if times is None:
                    target[f"{name}_ns"][into] = NONE
                else:
                    times = times[chosen]
                    target[f"{name}_ns"][into] = np.where(times == NONE, NONE, times * 1000)
        self._size += count

    def _grow(self, needed: int) -> None:
        # Only when a day was packed again between counting and reading (PostgreSQL reads
        # each statement afresh): rare, so a plain copy.
        for name, old in self._arrays.items():
            new = np.empty(max(needed, len(old) + len(old) // 4), old.dtype)
            new[:self._size] = old[:self._size]
            self._arrays[name] = new

    def frame(self) -> pd.DataFrame:
        """The collected calls as a facts frame: lib.frames.FIGURE_COLUMNS (and
        V2_FIGURE_COLUMNS for v2) with the calls frame's dtypes, sorted by (created_at, id)."""
        size, arrays = self._size, self._arrays
        data: dict[str, Any] = {
            "created_at": _times(arrays["created_ns"][:size]),
            "user_id": _nullable(arrays["user_id"][:size], arrays["no_user"][:size]),
            "outbound": pd.Series(arrays["outbound"][:size], copy=False),
            "disposition_id": _nullable(arrays["disposition"][:size],
                                        arrays["no_disposition"][:size]),
        }
        if self._v2:
            data["outcome"] = pd.Series(pd.Categorical.from_codes(
                arrays["outcome"][:size], categories=pd.Index(self._outcomes, dtype=object)))
            data["answered_at"] = _times(arrays["answered_ns"][:size])
            data["completed_at"] = _times(arrays["completed_ns"][:size])
        return pd.DataFrame(data, copy=False)


def empty_facts_frame(v2: bool) -> pd.DataFrame:
    """A facts frame without calls."""
    return FactsBuilder(0, 0, 0, None, v2).frame()


def _nullable(values: np.ndarray, unknown: np.ndarray) -> pd.Series:
    # The mask says what is unknown; the values under it are never read.
    return pd.Series(pd.arrays.IntegerArray(values, unknown), copy=False)


def _times(nanos: np.ndarray) -> pd.Series:
    # Epoch nanoseconds are what an aware UTC column holds, NONE its NaT: taken as they are.
    return pd.Series(nanos, dtype="datetime64[ns, UTC]", copy=False)
