"""The hour × weekday heat map in each prospect's own local time, from the zone of their number."""

# Why the prospect's zone: a manager in New York who sees "Tuesday 9:00 connects best" is
# looking at 6:00 in Los Angeles and 15:00 in Berlin. The zone comes from the number itself
# (its country and, in countries of several zones, its area code: libphonenumber's data), which
# every call has, rather than from a prospect record a 1.0 call may not name. A number whose
# country or area spans several zones (toll-free numbers, Russia) cannot be placed in one, and a
# number libphonenumber does not know cannot be placed at all: both are counted apart and named,
# never guessed at, and so are calls logged without a number.

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import timezone as phone_zones

from lib.analytics.calls import HOUR_NS, local_clock
from lib.analytics.figures import MIN_CALLS_FOR_RATE, Rate
from lib.analytics.labels import WEEKDAY_NAMES
from lib.analytics.outcomes import OutcomeMapping


class _Several(enum.Enum):
    AMBIGUOUS = "several zones"


AMBIGUOUS: Literal[_Several.AMBIGUOUS] = _Several.AMBIGUOUS
"""What `zone_of_number` gives for a number whose country or area spans several zones."""

Zone = str | None | Literal[_Several.AMBIGUOUS]

DEFINITION = (
    "Each call is placed at the hour and weekday it was in the prospect's own time zone: the "
    "zone of the number dialled on an outbound call, or of the caller's number on an inbound "
    "one, read from the number's country and area code (libphonenumber's time-zone data), on "
    "the call's own date, so summer time is exact. Calls: every call, outbound and inbound. "
    "Connect rate: the hour's outbound calls whose disposition counts as connected, divided by "
    f"its outbound calls; drawn pale on fewer than {MIN_CALLS_FOR_RATE} outbound calls. Calls "
    "to a number whose country or area spans several zones (such as toll-free numbers), to a "
    "number with no known zone, and calls logged without a number are left out and counted "
    "apart."
)

_CACHED_NUMBERS = 1 << 18
"""Distinct numbers whose zone is kept between reads: a large team's range has about 100,000,
and each costs libphonenumber some 50 µs the first time."""


@lru_cache(maxsize=_CACHED_NUMBERS)
def zone_of_number(number: str | None) -> Zone:
    """The IANA zone of an E.164 number (`+12125550100`: "America/New_York"); AMBIGUOUS when
    its country or area spans several zones; None when it has no known zone (not a number,
    not a valid one, or a zone this machine's time-zone data lacks) or is empty."""
    if not isinstance(number, str) or not number.strip():
        return None
    try:
        parsed = phonenumbers.parse(number.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    zones = [zone for zone in phone_zones.time_zones_for_number(parsed)
             if zone != phone_zones.UNKNOWN_TIMEZONE]
    if len(zones) > 1:
        return AMBIGUOUS
    if not zones or not _convertible(zones[0]):
        return None
    return zones[0]


@lru_cache(maxsize=1024)
def _convertible(zone: str) -> bool:
    """True when pandas can convert to `zone` here (libphonenumber's zone list may name one the
    installed time-zone data lacks)."""
    try:
        pd.Timestamp(0, tz="UTC").tz_convert(zone)
    except (KeyError, ValueError, LookupError):  # zoneinfo's ZoneInfoNotFoundError is a KeyError
        return False
    return True


@dataclass(frozen=True)
class LeftOut:
    """Calls left out of the heat map for one reason, and how many distinct numbers they were."""

    calls: int
    numbers: int

    def to_dict(self) -> dict:
        return {"calls": self.calls, "numbers": self.numbers}


@dataclass(frozen=True)
class ProspectZoneHeatmap:
    """`cells`: the 7 × 24 frame `hour_weekday_heatmap` gives (weekday, weekday_name, hour,
    calls, outbound, connected, connect_rate, reliable), in each prospect's local time, of the
    calls placed in a zone; `calls` every call looked at; `zones` the calls per zone, most first;
    the rest are left out and counted by reason."""

    cells: pd.DataFrame
    calls: int
    zones: tuple[tuple[str, int], ...]
    several_zones: LeftOut
    no_zone: LeftOut
    no_number: int

    @property
    def counted(self) -> int:
        """Calls placed in the grid."""
        return int(self.cells["calls"].sum())

    def caption(self) -> str:
        """What the chart shows and what it leaves out, in counts (plain text, no Markdown)."""
        shown = (f"Hours in each prospect's own zone, from the number called (the caller's on "
                 f"an inbound call): {self.counted:,} of {_count(self.calls, 'call')}, in "
                 f"{_count(len(self.zones), 'zone')}.")
        parts = []
        if self.several_zones.calls:
            parts.append(f"{_count(self.several_zones.calls, 'call')} to "
                         f"{_count(self.several_zones.numbers, 'number')} in several zones "
                         "(such as toll-free numbers)")
        if self.no_zone.calls:
            parts.append(f"{_count(self.no_zone.calls, 'call')} to "
                         f"{_count(self.no_zone.numbers, 'number')} with no known zone")
        if self.no_number:
            parts.append(f"{_count(self.no_number, 'call')} with no number")
        left_out = f" Left out: {'; '.join(parts)}." if parts else " No call left out."
        return shown + left_out

    def to_dict(self) -> dict:
        """What `cli summary` prints: the counts, and every cell with calls in it."""
        with_calls = self.cells[self.cells["calls"] > 0]
        return {
            "definition": DEFINITION,
            "calls": self.calls,
            "counted": self.counted,
            "zones": dict(self.zones),
            "left_out": {"several_zones": self.several_zones.to_dict(),
                         "no_zone": self.no_zone.to_dict(),
                         "no_number": {"calls": self.no_number}},
            "cells": [{"weekday": int(row.weekday), "day": row.weekday_name,
                       "hour": int(row.hour), "calls": int(row.calls),
                       "connect_rate": Rate(int(row.connected), int(row.outbound)).to_dict()}
                      for row in with_calls.itertuples(index=False)],
        }


def prospect_numbers(calls: pd.DataFrame) -> pd.Series:
    """Each call's prospect's number: `to_number` of an outbound call, `from_number` of an
    inbound one; None where it is missing or blank."""
    outbound = calls["outbound"].fillna(False).to_numpy(dtype=bool)
    number = np.where(outbound, calls["to_number"].to_numpy(dtype=object),
                      calls["from_number"].to_numpy(dtype=object))
    cleaned = [value.strip() if isinstance(value, str) and value.strip() else None
               for value in number]
    return pd.Series(cleaned, index=calls.index, dtype=object)


def prospect_zone_heatmap(calls: pd.DataFrame, mapping: OutcomeMapping,
                          rep_ids: Sequence[int] | None = None) -> ProspectZoneHeatmap:
    """The heat map of `calls` (created_at, outbound, from_number, to_number, disposition_id;
    user_id with `rep_ids`) in each prospect's local time: every call for the volume, the
    outbound ones for the connect rate (connected by `mapping`), as the heat map in the
    manager's zone counts them. `rep_ids` (None: every call of the frame) keeps those reps'."""
    if rep_ids is not None:
        calls = calls[calls["user_id"].isin(list(rep_ids)).fillna(False).to_numpy(dtype=bool)]
    numbers = prospect_numbers(calls)
    # Each distinct number is looked up once (zone_of_number also remembers it across reads):
    # a team's range has far fewer numbers than calls.
    codes, distinct = pd.factorize(numbers, use_na_sentinel=True)
    found = [zone_of_number(number) for number in distinct]
    known = sorted({zone for zone in found if isinstance(zone, str)})
    place = {zone: index for index, zone in enumerate(known)}
    several, unknown = -2, -3
    zone_code = np.array([place[z] if isinstance(z, str) else several if z is AMBIGUOUS
                          else unknown for z in found], dtype=np.int64)
    call_zone = np.where(codes >= 0, zone_code[np.maximum(codes, 0)] if len(zone_code)
                         else unknown, -1)

    outbound = calls["outbound"].fillna(False).to_numpy(dtype=bool)
    connected = outbound & np.asarray(
        calls["disposition_id"].isin(mapping.ids("connected")).fillna(False), dtype=bool)
    week_hour = np.full(len(calls), -1, dtype=np.int64)
    created = calls[["created_at"]]
    order = np.argsort(call_zone, kind="stable")  # calls of one zone together, in time order
    bounds = np.searchsorted(call_zone[order], np.arange(len(known) + 1))
    per_zone = []
    for index, zone in enumerate(known):
        rows = order[bounds[index]:bounds[index + 1]]
        # The zone's own clock on each call's instant: a change of summer time moves the
        # same UTC hour to another local hour, as it did for the prospect.
        hour = local_clock(created.iloc[rows], zone) // HOUR_NS
        # Hours since a Monday 00:00: 1970-01-01 was a Thursday, 72 hours after one.
        week_hour[rows] = (hour + 72) % 168
        per_zone.append((zone, len(rows)))
    placed = week_hour >= 0
    cells = np.arange(168)
    total = np.bincount(week_hour[placed], minlength=168)
    out = np.bincount(week_hour[placed & outbound], minlength=168)
    hits = np.bincount(week_hour[placed & connected], minlength=168)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(out > 0, hits / np.maximum(out, 1), np.nan)
    frame = pd.DataFrame({
        "weekday": cells // 24,
        "weekday_name": np.array(WEEKDAY_NAMES, dtype=object)[cells // 24],
        "hour": cells % 24,
        "calls": total.astype(np.int64),
        "outbound": out.astype(np.int64),
        "connected": hits.astype(np.int64),
        "connect_rate": rate,
        "reliable": out >= MIN_CALLS_FOR_RATE,
    })
    return ProspectZoneHeatmap(
        cells=frame,
        calls=len(calls),
        zones=tuple(sorted(per_zone, key=lambda item: (-item[1], item[0]))),
        several_zones=_left_out(call_zone, codes, several),
        no_zone=_left_out(call_zone, codes, unknown),
        no_number=int((codes < 0).sum()),
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _left_out(call_zone: np.ndarray, codes: np.ndarray, reason: int) -> LeftOut:
    which = call_zone == reason
    return LeftOut(calls=int(which.sum()), numbers=len(np.unique(codes[which])))
