"""The outcome mapping's defaults, an admin's choices over them, and the sentence each rate
shows about the mapping behind it."""

from __future__ import annotations

import pandas as pd
import pytest

from lib.analytics.outcomes import chosen_flags, default_flags, outcome_mapping

# Names as organisations write them, with the flags a manager would expect of each.
TYPICAL = [
    ("Meeting booked", "Answered", {"connected", "conversation", "positive", "meeting"}),
    ("Connected - demo scheduled", "Answered",
     {"connected", "conversation", "positive", "meeting"}),
    ("Interested", "Answered", {"connected", "conversation", "positive"}),
    ("Not interested", "Answered", {"connected", "conversation"}),
    ("Uninterested", "Answered", {"connected", "conversation"}),
    ("Qualified - send proposal", "Answered", {"connected", "conversation", "positive"}),
    ("Gatekeeper", "Answered", {"connected"}),
    ("Wrong person", "Answered", {"connected"}),
    ("Wrong number", "Answered", {"connected", "bad_number"}),
    ("Left voicemail", "Not Answered", set()),
    ("No answer", "Not Answered", set()),
    ("Bad number", "Not Answered", {"bad_number"}),
    ("Disconnected line", "Not Answered", {"bad_number"}),
    ("Busy", None, set()),
    # Negations and failures are not what they name (found in review).
    ("Disqualified", "Answered", {"connected", "conversation"}),
    ("Unqualified", "Answered", {"connected", "conversation"}),
    ("Not qualified", "Answered", {"connected", "conversation"}),
    ("Not-interested", "Answered", {"connected", "conversation"}),
    ("Not  interested", "Answered", {"connected", "conversation"}),
    ("Meeting cancelled", "Answered", {"connected", "conversation"}),
    ("No meeting", "Answered", {"connected", "conversation"}),
    ("Meeting declined", "Answered", {"connected", "conversation"}),
    ("Booked a demo", "Answered", {"connected", "conversation", "positive", "meeting"}),
    ("Invalid number", "Answered", {"connected", "bad_number"}),
    ("Disconnected number", "Answered", {"connected", "bad_number"}),
    ("Left VM - no answer", "Not Answered", set()),
]


@pytest.mark.parametrize(("name", "outcome", "flags"), TYPICAL)
def test_the_defaults_read_outreachs_outcome_and_the_name(name, outcome, flags):
    assert default_flags(name, outcome) == flags


DISPOSITIONS = pd.DataFrame({"id": [11, 12, 13], "name": ["Meeting booked", "No answer", "Busy"],
                             "outcome": ["Answered", "Not Answered", "Not Answered"]})


def test_saved_flags_win_over_the_defaults_and_a_new_disposition_starts_with_them():
    mapping = outcome_mapping(DISPOSITIONS, {12: {"connected"}, 99: {"positive"}})
    assert mapping.ids("connected").tolist() == [11, 12]
    assert mapping.ids("meeting").tolist() == [11]  # 11 was never edited: its defaults
    assert mapping.edited == {12}  # 99 is no longer in Outreach: ignored
    assert mapping.describe("connected") == (
        "Connected: 2 of 3 dispositions (Meeting booked, No answer), as mapped on the Outcomes "
        "page (1 of 3 dispositions edited).")
    assert outcome_mapping(DISPOSITIONS).describe("bad_number").startswith(
        "Bad number: 0 of 3 dispositions (none), by the default mapping (its name says")


def test_names_in_the_sentence_are_quoted_for_where_it_goes():
    from lib.display.markdown import escape

    hostile = pd.DataFrame({"id": [1], "name": ["Interested [win](https://evil.example) **NOW**"],
                            "outcome": ["Answered"]})
    sentence = outcome_mapping(hostile).describe("positive", escape)
    assert "[win](" not in sentence and "**NOW**" not in sentence
    assert escape("Interested [win](https://evil.example) **NOW**") in sentence


def test_an_admins_choice_keeps_only_what_differs_from_the_defaults():
    mapping = outcome_mapping(DISPOSITIONS, {12: {"connected"}})
    # Connected: 11 and 13 (12 taken out again); every other flag left as it was.
    kept = chosen_flags(mapping, {"connected": [11, 13]})
    assert kept == {13: frozenset({"connected"})}
    assert chosen_flags(mapping, {}) == {12: frozenset({"connected"})}
    assert chosen_flags(mapping, {"meeting": []}) == {
        11: frozenset({"connected", "conversation", "positive"}),
        12: frozenset({"connected"})}
