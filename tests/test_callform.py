"""The log-a-call form's rules and the lookup's layout, on hand-written inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from lib.analytics.labels import NO_VALUE
from lib.display import callform
from lib.display.calldetail import BadCallId, call_details, parse_call_id
from lib.display.callform import (
    DIRECTION,
    FROM_NUMBER,
    NOTE,
    PROSPECT,
    TO_NUMBER,
    CallFormInput,
    FieldProblem,
    choices,
    form_field_for,
    normalise_phone,
    owner_name,
    parse_form,
    parse_prospect_id,
)
from lib.outreach import ApiInfo, NewCall

USERS = pd.DataFrame({"id": [1, 2], "first_name": ["Dana", ""], "last_name": ["Whitfield", ""],
                      "name": ["Dana Whitfield", "rep@example.com"],
                      "email": ["dana@example.com", "rep@example.com"]})
DISPOSITIONS = pd.DataFrame({"id": [7, 1], "name": ["Left voicemail", "Meeting booked"],
                             "order": pd.array([7, 1], dtype="Int64"),
                             "outcome": ["Not Answered", "Answered"]})
PURPOSES = pd.DataFrame({"id": [3, 1, 9], "name": ["Discovery", "Prospecting", "Zeta"],
                         "order": pd.array([3, 1, None], dtype="Int64")})


# ----- phone numbers -----


@pytest.mark.parametrize(("typed", "e164"), [
    ("(212) 555-0100", "+12125550100"),
    ("212.555.0100", "+12125550100"),
    ("  2125550100 ", "+12125550100"),
    ("1 212 555 0100", "+12125550100"),
    ("+1 (212) 555-0100", "+12125550100"),
    ("+44 20 7946 0958", "+442079460958"),
    ("+49 30 901820", "+4930901820"),
])
def test_numbers_in_any_style_become_e164(typed, e164):
    assert normalise_phone(typed) == e164


def test_an_empty_number_is_no_number():
    assert normalise_phone("") is None
    assert normalise_phone("   ") is None
    assert normalise_phone(None) is None


def test_a_number_without_country_code_is_read_in_the_given_region():
    assert normalise_phone("030 901820", region="DE") == "+4930901820"
    assert normalise_phone("020 7946 0958", region="GB") == "+442079460958"
    assert callform.DEFAULT_REGION == "US"


@pytest.mark.parametrize(("typed", "says"), [
    ("hello", "not a phone number"),
    ("555-0100", "Too few digits"),
    ("12", "Too few digits"),
    ("+1 212 555 0100 12345", "Too many digits"),
    ("212555010012345678", "not a phone number"),
    ("+999 123 4567", "country code is unknown"),
    ("(012) 555-0100", "No phone number has this form"),
])
def test_text_that_cannot_be_a_number_says_why(typed, says):
    with pytest.raises(FieldProblem, match=says) as caught:
        normalise_phone(typed)
    # Every message shows what to type instead.
    assert "(201) 555-0123" in str(caught.value)


# ----- prospect ids -----


def test_prospect_ids_are_digits_only():
    assert parse_prospect_id(" 200012 ") == 200012
    assert parse_prospect_id("") is None
    for bad in ("12a", "-5", "1.5", "١٢", "12 34"):
        with pytest.raises(FieldProblem, match="digits only"):
            parse_prospect_id(bad)
    for impossible in ("0", "9" * 19):
        with pytest.raises(FieldProblem, match="No prospect"):
            parse_prospect_id(impossible)


# ----- the whole form -----


def test_a_complete_form_becomes_the_call_to_send():
    parsed = parse_form(CallFormInput(
        direction="Inbound", from_number="(212) 555-0100", to_number="+44 20 7946 0958",
        purpose_id=3, disposition_id=7, prospect="42", note="  Call back <b>Tuesday</b>\n",
    ))
    assert parsed == NewCall(outbound=False, from_number="+12125550100",
                             to_number="+442079460958", purpose_id=3, disposition_id=7,
                             prospect_id=42, note="Call back <b>Tuesday</b>")
    body = parsed.to_body()["data"]["attributes"]
    assert body["connection"] == {"outbound": False, "from": "+12125550100",
                                  "to": "+442079460958"}


def test_only_the_direction_is_required():
    assert parse_form(CallFormInput(direction="Outbound")) == NewCall(outbound=True)
    assert parse_form(CallFormInput(direction="Outbound", note="   ")) == NewCall(outbound=True)


def test_the_chosen_prospects_number_is_on_their_side_where_left_empty():
    theirs = "+16465552940"
    out = parse_form(CallFormInput(direction="Outbound", from_number="(212) 555-0100",
                                   prospect="42", prospect_phone=theirs))
    assert (out.from_number, out.to_number) == ("+12125550100", theirs)
    inbound = parse_form(CallFormInput(direction="Inbound", to_number="(212) 555-0100",
                                       prospect="42", prospect_phone=theirs))
    assert (inbound.from_number, inbound.to_number) == (theirs, "+12125550100")
    # A number the rep typed is theirs to choose, and wins.
    typed = parse_form(CallFormInput(direction="Outbound", to_number="+44 20 7946 0958",
                                     prospect="42", prospect_phone=theirs))
    assert typed.to_number == "+442079460958"
    # Without a direction there is no side to put it on: the direction is asked for.
    assert set(parse_form(CallFormInput(prospect="42", prospect_phone=theirs))) == {DIRECTION}


def test_on_an_inbound_call_the_line_kept_from_the_last_call_is_the_to():
    mine, theirs = "(212) 555-0100", "+16465552940"
    inbound = parse_form(CallFormInput(direction="Inbound", from_number=mine, own_line=mine,
                                       prospect="42", prospect_phone=theirs))
    assert (inbound.from_number, inbound.to_number) == (theirs, "+12125550100")
    # Without a prospect chosen, the caller's number is unknown: only the line moves.
    unknown = parse_form(CallFormInput(direction="Inbound", from_number=mine, own_line=mine))
    assert (unknown.from_number, unknown.to_number) == (None, "+12125550100")
    # A From the rep typed anew, or a To typed, is theirs: nothing moves.
    typed = parse_form(CallFormInput(direction="Inbound", from_number="+44 20 7946 0958",
                                     own_line=mine))
    assert (typed.from_number, typed.to_number) == ("+442079460958", None)
    both = parse_form(CallFormInput(direction="Inbound", from_number=mine, to_number="+1 212 "
                                    "555 0199", own_line=mine))
    assert (both.from_number, both.to_number) == ("+12125550100", "+12125550199")
    outbound = parse_form(CallFormInput(direction="Outbound", from_number=mine, own_line=mine,
                                        prospect="42", prospect_phone=theirs))
    assert (outbound.from_number, outbound.to_number) == ("+12125550100", theirs)


def test_every_problem_is_reported_at_once_by_field():
    problems = parse_form(CallFormInput(direction=None, from_number="abc", to_number="555",
                                        prospect="p-1", note="x" * (callform.MAX_NOTE + 1)))
    assert set(problems) == {DIRECTION, FROM_NUMBER, TO_NUMBER, PROSPECT, NOTE}
    assert "outbound" in problems[DIRECTION]
    assert "10,000" in problems[NOTE]


def test_a_direction_that_is_not_one_of_the_two_is_not_guessed():
    assert DIRECTION in parse_form(CallFormInput(direction="outbound "))


def test_a_note_of_exactly_the_maximum_is_accepted():
    parsed = parse_form(CallFormInput(direction="Outbound", note="x" * callform.MAX_NOTE))
    assert isinstance(parsed, NewCall)


@pytest.mark.parametrize(("api_field", "form_field"), [
    ("outbound", DIRECTION), ("connection", DIRECTION), ("from", FROM_NUMBER),
    ("to", TO_NUMBER), ("purpose", "purpose"), ("disposition", "disposition"),
    ("prospect", PROSPECT), ("note", NOTE), ("metadata", NOTE), ("To", TO_NUMBER),
    ("data", None), ("filter[user/id]", None), (None, None), ("", None),
])
def test_api_errors_are_placed_next_to_the_field_they_name(api_field, form_field):
    assert form_field_for(api_field) == form_field


def test_choices_follow_the_api_order_and_dispositions_show_their_outcome():
    assert choices(PURPOSES) == {1: "Prospecting", 3: "Discovery", 9: "Zeta"}
    assert choices(DISPOSITIONS) == {1: "Meeting booked (Answered)",
                                     7: "Left voicemail (Not Answered)"}
    assert choices(PURPOSES.iloc[0:0]) == {}
    assert list(choices(PURPOSES.drop(columns="order"))) == [3, 1, 9]


def test_the_owner_is_named_else_their_email():
    def info(user_id, email):
        return ApiInfo(email=email, user_id=user_id, scopes=frozenset(), requests_current=None,
                       requests_maximum=None)

    assert owner_name(info(1, "dana@example.com"), USERS) == "Dana Whitfield"
    assert owner_name(info(99, "x@example.com"), USERS) == "x@example.com"
    assert owner_name(info(None, "x@example.com"), USERS) == "x@example.com"
    assert owner_name(info(99, None), USERS) == "User 99"
    assert owner_name(info(None, None), USERS.iloc[0:0]).startswith("the user")


# ----- the lookup -----


def test_call_ids_are_numbers():
    assert parse_call_id(" 4319081 ") == 4319081
    assert parse_call_id("#12") == 12
    assert parse_call_id("") is None
    assert parse_call_id(None) is None
    for bad in ("abc", "12x", "-3", "1e5", "4 5"):
        with pytest.raises(BadCallId, match="is a number"):
            parse_call_id(bad)
    for impossible in ("0", "1" * 19):
        with pytest.raises(BadCallId, match="No call"):
            parse_call_id(impossible)


def _row(**changes):
    row = {"id": 9001, "created_at": datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "user_id": 1,
           "outbound": True, "from_number": "+15550001111", "to_number": "",
           "purpose_id": 3, "disposition_id": 7, "prospect_id": None,
           "note": "<script>x</script> **bold**"}
    row.update(changes)
    return row


def test_details_show_names_and_local_time():
    details = call_details(_row(), USERS, DISPOSITIONS, PURPOSES, "Europe/Berlin")
    shown = details.as_dict()
    assert shown == {
        "Call id": "9001",
        # Berlin's clocks went from 02:00 to 03:00 at 01:00 UTC: 01:30 UTC is 03:30 summer time.
        "Logged": "Sun 29 Mar 2026, 03:30:00 (Europe/Berlin)",
        "Rep": "Dana Whitfield",
        "Direction": "Outbound",
        "From": "+15550001111",
        "To": NO_VALUE,
        "Prospect id": NO_VALUE,
        "Purpose": "Discovery",
        "Disposition": "Left voicemail",
        "Outcome": "Not Answered",
    }
    assert details.note == "<script>x</script> **bold**"  # kept exactly: the page shows it as text


def test_details_of_a_v2_call_show_its_own_outcome_and_talk_time():
    answered = datetime(2026, 3, 29, 1, 25, 55, tzinfo=UTC)
    talked = _row(outcome="Answered", state="completed", dialed_at=answered,
                  answered_at=answered, completed_at=answered + timedelta(seconds=245))
    shown = call_details(talked, USERS, DISPOSITIONS, PURPOSES, "UTC").as_dict()
    # The call's own outcome wins over its disposition's ("Left voicemail": Not Answered).
    assert (shown["Outcome"], shown["Talk time"]) == ("Answered", "4 min 05 s")
    # A v2 row always has all five of v2's fields (lib.frames.V2_CALL_DTYPES), known or not.
    short = _row(outcome="Answered", state="completed", dialed_at=answered, answered_at=answered,
                 completed_at=answered + timedelta(seconds=9))
    assert call_details(short, USERS, DISPOSITIONS, PURPOSES, "UTC").as_dict()["Talk time"] == \
        "9 s"
    unanswered = _row(outcome="Not Answered", state="completed", dialed_at=answered,
                      answered_at=pd.NaT, completed_at=answered)
    shown = call_details(unanswered, USERS, DISPOSITIONS, PURPOSES, "UTC").as_dict()
    assert (shown["Outcome"], shown["Talk time"]) == ("Not Answered", NO_VALUE)
    # A 1.0 call has no talk time at all: the line is absent, not a dash.
    assert "Talk time" not in call_details(_row(), USERS, DISPOSITIONS, PURPOSES, "UTC").as_dict()


def test_details_of_unknown_or_missing_ids_say_so():
    row = _row(user_id=pd.NA, purpose_id=42, disposition_id=None, prospect_id=77, outbound=False,
               note="")
    shown = call_details(row, USERS, DISPOSITIONS, PURPOSES, "UTC").as_dict()
    assert shown["Rep"] == NO_VALUE
    assert shown["Purpose"] == "Purpose 42 (not in Outreach's list)"
    assert shown["Disposition"] == NO_VALUE
    assert shown["Outcome"] == NO_VALUE
    assert shown["Prospect id"] == "77"
    assert shown["Direction"] == "Inbound"
    assert shown["Logged"] == "Sun 29 Mar 2026, 01:30:00 (UTC)"
