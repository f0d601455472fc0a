"""What each disposition counts as (connected, conversation, positive, meeting booked, bad
number): the defaults read from Outreach's outcome and the names, and an admin's edits."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

FLAGS: tuple[str, ...] = ("connected", "conversation", "positive", "meeting", "bad_number")
FLAG_LABELS: dict[str, str] = {
    "connected": "Connected",
    "conversation": "Conversation",
    "positive": "Positive",
    "meeting": "Meeting booked",
    "bad_number": "Bad number",
}
DEFAULT_RULES: dict[str, str] = {
    "connected": "its outcome in Outreach is Answered",
    "conversation": ("connected, unless its name says voicemail, gatekeeper, wrong person, no "
                     "answer or a bad number"),
    "positive": ("a meeting booked, or its name says interested, qualified, positive or "
                 "referral (not \"not interested\", \"unqualified\", \"disqualified\")"),
    "meeting": ("its name says a meeting, appointment or demo booked, set, scheduled or "
                "confirmed"),
    "bad_number": "its name says wrong, bad or invalid number, disconnected or not in service",
}
"""How the defaults are read, in words: shown beside the mapping and under every rate."""

_GAP = r"[\s_-]+"  # how names part their words: "Not interested", "not-interested"
_NOT_A_CONVERSATION = re.compile(
    rf"voice{_GAP}?mail|gatekeeper|wrong{_GAP}(person|contact)|no{_GAP}answer", re.I)
_MEETING = re.compile(
    rf"\b(meeting|appointment|demo){_GAP}(booked|set|scheduled|confirmed)\b"
    rf"|\b(booked|set|scheduled){_GAP}(a{_GAP})?(meeting|appointment|demo)\b", re.I)
_POSITIVE = re.compile(r"\b(interested|qualified|positive|referral)\b", re.I)
_NEGATED = re.compile(rf"\b(not|no|dis|un){_GAP}?(interested|qualified)\b", re.I)
_BAD_NUMBER = re.compile(
    rf"\b(wrong|bad|invalid){_GAP}(phone{_GAP})?number|disconnected|not{_GAP}in{_GAP}service",
    re.I)


def default_flags(name: str, outcome: str) -> frozenset[str]:
    """The flags a disposition gets unless an admin says otherwise."""
    name = name if isinstance(name, str) else ""
    connected = isinstance(outcome, str) and outcome.strip().casefold() == "answered"
    meeting = bool(_MEETING.search(name))
    bad_number = bool(_BAD_NUMBER.search(name))
    flags = {
        "connected": connected,
        "conversation": connected and not bad_number and not _NOT_A_CONVERSATION.search(name),
        "meeting": meeting,
        "positive": meeting or (bool(_POSITIVE.search(name)) and not _NEGATED.search(name)),
        "bad_number": bad_number,
    }
    return frozenset(flag for flag, on in flags.items() if on)


@dataclass(frozen=True)
class OutcomeMapping:
    """Each disposition's flags. `table`: id, name, then one bool column per flag, in the
    lookup's order; `edited`: the ids whose flags an admin saved (the rest are defaults)."""

    table: pd.DataFrame
    edited: frozenset[int]
    defaults: Mapping[int, frozenset[str]]  # each id's flags by the defaults alone

    def ids(self, flag: str) -> np.ndarray:
        """The ids of the dispositions that count as `flag`."""
        return self.table.loc[self.table[flag], "id"].to_numpy(dtype=np.int64)

    def names(self, flag: str) -> list[str]:
        return [str(name) for name in self.table.loc[self.table[flag], "name"]]

    def describe(self, flag: str, quote: Callable[[str], str] = str) -> str:
        """The mapping behind a rate, in a sentence: which dispositions count, and whether
        that is the default or an admin's choice. `quote` makes each name (the
        organisation's own text) fit where the sentence goes: the page's Markdown escape."""
        names = [quote(name) for name in self.names(flag)]
        edited = self.edited & set(self.table["id"].tolist())
        source = (f"as mapped on the Outcomes page ({len(edited)} of {len(self.table)} "
                  "dispositions edited)" if edited
                  else f"by the default mapping ({DEFAULT_RULES[flag]})")
        return (f"{FLAG_LABELS[flag]}: {len(names)} of {len(self.table)} dispositions "
                f"({', '.join(names) if names else 'none'}), {source}.")


def outcome_mapping(dispositions: pd.DataFrame,
                    saved: Mapping[int, Collection[str]] | None = None) -> OutcomeMapping:
    """The mapping of `dispositions` (id, name, outcome): an admin's `saved` flags where there
    are some for an id, the defaults elsewhere (a disposition added in Outreach since the last
    edit starts with its defaults)."""
    saved = saved or {}
    ids = dispositions.get("id", pd.Series(dtype=np.int64)).astype(np.int64).tolist()
    names = dispositions.get("name", pd.Series([""] * len(ids), dtype=object)).tolist()
    outcomes = dispositions.get("outcome", pd.Series([""] * len(ids), dtype=object)).tolist()
    rows, defaults = [], {}
    for disposition_id, name, outcome in zip(ids, names, outcomes, strict=True):
        defaults[disposition_id] = default_flags(name, outcome)
        flags = saved.get(disposition_id)
        flags = defaults[disposition_id] if flags is None else frozenset(flags)
        rows.append({"id": disposition_id, "name": "" if pd.isna(name) else str(name),
                     **{flag: flag in flags for flag in FLAGS}})
    table = pd.DataFrame(rows, columns=["id", "name", *FLAGS]).astype(
        {"id": np.int64, **dict.fromkeys(FLAGS, bool)})
    return OutcomeMapping(table=table, edited=frozenset(int(i) for i in saved) & set(ids),
                          defaults=defaults)


def chosen_flags(mapping: OutcomeMapping,
                 chosen: Mapping[str, Collection[int]]) -> dict[int, frozenset[str]]:
    """What an admin's choice keeps: for each flag, the ids `chosen` to count as it (a flag
    left out keeps the mapping's ids); only the dispositions whose flags then differ from their
    defaults, so a disposition left as it was follows the defaults, as one added later does."""
    kept: dict[int, frozenset[str]] = {}
    for row in mapping.table.itertuples(index=False):
        disposition = int(row.id)
        flags = frozenset(flag for flag in FLAGS if disposition in chosen.get(
            flag, mapping.ids(flag).tolist()))
        default = mapping.defaults.get(disposition, frozenset())
        if flags != default:
            kept[disposition] = flags
    return kept
