"""Reads the id typed into the call lookup, and lays out one call with names instead of ids."""

# No Streamlit here: pages/lookup.py shows these (label, value) pairs as plain text.

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.analytics.labels import NO_VALUE
from lib.display.typed_ids import typed_id
from lib.frames import has_v2_fields


class BadCallId(ValueError):
    """The typed id cannot be a call id; the message says what one looks like."""


@dataclass(frozen=True)
class CallDetails:
    """One call ready to show: (label, text) pairs in reading order, and its note."""

    call_id: int
    fields: tuple[tuple[str, str], ...]
    note: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)


def parse_call_id(text: str | None) -> int | None:
    """The call id typed by the user; None when nothing was typed. Raises BadCallId otherwise."""
    found = typed_id((text or "").strip().removeprefix("#"))
    if found == "not digits":
        raise BadCallId("A call id is a number, e.g. 4319081. Check what was typed.")
    if found == "no such id":
        raise BadCallId("No call can have this id: Outreach ids are whole numbers from 1 up.")
    return found


def call_details(
    row: Mapping[str, Any],
    users: pd.DataFrame,
    dispositions: pd.DataFrame,
    purposes: pd.DataFrame,
    tz: str,
) -> CallDetails:
    """A parsed call row (lib.outreach parse_call) with reps, purposes and dispositions by name,
    and its creation time in the zone `tz`. A row read from API v2 also shows its own outcome
    (rather than its disposition's) and its talk time."""
    created = pd.Timestamp(row["created_at"]).tz_convert(tz)
    disposition_id = _id(row.get("disposition_id"))
    disposition = _lookup_row(dispositions, disposition_id)
    outcome = str(disposition.get("outcome") or "").strip() if disposition else ""
    from_v2 = has_v2_fields(row)
    if from_v2:
        outcome = str(row.get("outcome") or "").strip()
    prospect_id = _id(row.get("prospect_id"))
    fields = (
        ("Call id", str(int(row["id"]))),
        ("Logged", f"{created:%a %d %b %Y, %H:%M:%S} ({tz})"),
        ("Rep", _name(users, _id(row.get("user_id")), "User")),
        ("Direction", "Outbound" if row.get("outbound") else "Inbound"),
        ("From", str(row.get("from_number") or "") or NO_VALUE),
        ("To", str(row.get("to_number") or "") or NO_VALUE),
        ("Prospect id", NO_VALUE if prospect_id is None else str(prospect_id)),
        ("Purpose", _name(purposes, _id(row.get("purpose_id")), "Purpose")),
        ("Disposition", _name(dispositions, disposition_id, "Disposition")),
        ("Outcome", outcome or NO_VALUE),
    )
    if from_v2:
        fields += (("Talk time", _talk_time(row.get("answered_at"), row.get("completed_at"))),)
    return CallDetails(int(row["id"]), fields, str(row.get("note") or ""))


def _talk_time(answered: Any, completed: Any) -> str:
    """Completed minus answered, as "4 min 05 s"; NO_VALUE when the call was not answered or a
    time is unknown (v2 has no duration field)."""
    if answered is None or completed is None or pd.isna(answered) or pd.isna(completed):
        return NO_VALUE
    seconds = int((pd.Timestamp(completed) - pd.Timestamp(answered)).total_seconds())
    if seconds < 0:
        return NO_VALUE
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _id(value: Any) -> int | None:
    # Rows carry pandas' NA for a missing id (nullable Int64); a dict from parse_call carries None.
    if value is None or value is pd.NA:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return int(value)


def _lookup_row(frame: pd.DataFrame, wanted: int | None) -> dict[str, Any] | None:
    if wanted is None or frame.empty or "id" not in frame.columns:
        return None
    match = frame[frame["id"] == wanted]
    return None if match.empty else match.iloc[0].to_dict()


def _name(frame: pd.DataFrame, wanted: int | None, kind: str) -> str:
    """The record's name; an id Outreach's list does not know is shown as such, not hidden."""
    if wanted is None:
        return NO_VALUE
    record = _lookup_row(frame, wanted)
    name = str(record.get("name") or "").strip() if record else ""
    if not name and record:
        name = str(record.get("email") or "").strip()
    return name or f"{kind} {wanted} (not in Outreach's list)"
