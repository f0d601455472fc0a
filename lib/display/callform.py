"""Turns what a rep typed into the "Log a call" form into a NewCall, or a message for each field."""

# No Streamlit here: the page arranges widgets and hands their raw values to parse_form, so every
# rule about what may be sent to POST /1.0/calls is tested without a browser.
#
# Phone numbers are normalised to E.164 (+15550001111) with Google's libphonenumber rules
# (the `phonenumbers` package): reps type numbers in every local style, and the API and the
# dashboard should see one form of each number. A number without a country code is read in
# DEFAULT_REGION.

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from lib.analytics.labels import display_names
from lib.display.typed_ids import typed_id
from lib.outreach import ApiInfo, NewCall, Prospect

# Where a number typed without "+country code" is taken to be (ISO 3166 region code).
DEFAULT_REGION = "US"

# The form's fields; the page uses them as widget names and to place messages next to widgets.
DIRECTION = "direction"
FROM_NUMBER = "from_number"
TO_NUMBER = "to_number"
PURPOSE = "purpose"
DISPOSITION = "disposition"
PROSPECT = "prospect"
NOTE = "note"
FIELDS: tuple[str, ...] = (DIRECTION, FROM_NUMBER, TO_NUMBER, PURPOSE, DISPOSITION, PROSPECT, NOTE)
REMEMBERED: frozenset[str] = frozenset({FROM_NUMBER, PURPOSE})
"""Kept in the form after a call is logged: the line a rep calls from, and the purpose."""
CHOICES: frozenset[str] = frozenset({DIRECTION, PURPOSE, DISPOSITION})  # the rest is text

OUTBOUND = "Outbound"
INBOUND = "Inbound"
DIRECTIONS: tuple[str, ...] = (OUTBOUND, INBOUND)

# After a server fault or a timeout the POST was not repeated (a repeat could log the call twice),
# but Outreach may have stored it before failing: the rep must check before trying again.
MAYBE_LOGGED = (
    "Outreach may have stored the call before the failure. Look for it on the dashboard "
    "before you log it again, so that it is not there twice."
)

# The sandbox's limit; the live API documents none, and a longer note is surely a paste mistake.
MAX_NOTE = 10_000

# The last part of the API's error pointer (InvalidInput.field) -> the form field it is about.
_API_FIELDS: dict[str, str] = {
    "outbound": DIRECTION,
    "connection": DIRECTION,
    "from": FROM_NUMBER,
    "to": TO_NUMBER,
    "purpose": PURPOSE,
    "disposition": DISPOSITION,
    "prospect": PROSPECT,
    "note": NOTE,
    "metadata": NOTE,
}


class FieldProblem(ValueError):
    """One field's input cannot be sent; the message says what to type instead."""


@dataclass(frozen=True)
class CallFormInput:
    """The form's raw values, exactly as the widgets return them."""

    direction: str | None = None
    from_number: str = ""
    to_number: str = ""
    purpose_id: int | None = None
    disposition_id: int | None = None
    prospect: str = ""
    note: str = ""
    # The number of the prospect chosen by search (E.164), for the number on their side of
    # the call (To when outbound, From when inbound) if the rep left it empty.
    prospect_phone: str | None = None
    # The line the rep called from, kept in the From field after their last call: on an
    # inbound call left that way it is where the call came in, the To.
    own_line: str | None = None


def normalise_phone(text: str | None, region: str = DEFAULT_REGION) -> str | None:
    """A phone number in E.164 (+15550001111), None when left empty.

    Raises FieldProblem for text that cannot be a phone number, saying why.
    """
    text = (text or "").strip()
    if not text:
        return None
    example = _example(region)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            raise FieldProblem(
                "This number's country code is unknown. Type + and a real country code, "
                f"or the number as dialled in {region}, e.g. {example}."
            ) from None
        raise FieldProblem(f"This is not a phone number. Type one such as {example}.") from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == ValidationResult.TOO_SHORT or reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        raise FieldProblem(
            f"Too few digits for a phone number: include the area code, e.g. {example}."
        )
    if reason == ValidationResult.TOO_LONG:
        raise FieldProblem(f"Too many digits for a phone number. Type one such as {example}.")
    if not phonenumbers.is_valid_number(number):
        raise FieldProblem(
            "No phone number has this form. Check the digits, or type + and the country code "
            f"for a number outside {region}, e.g. {example}."
        )
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def parse_prospect_id(text: str | None) -> int | None:
    """An Outreach prospect id (digits only), None when left empty."""
    found = typed_id(text)
    if found == "not digits":
        raise FieldProblem("A prospect id is digits only, e.g. 200012. Leave it empty if unknown.")
    if found == "no such id":
        raise FieldProblem("No prospect has this id. Check it, or leave it empty if unknown.")
    return found


def parse_form(form: CallFormInput, region: str = DEFAULT_REGION) -> NewCall | dict[str, str]:
    """The call to log, or {field: message} naming every field that cannot be sent as typed.

    Every field is checked, so the rep sees all problems at once rather than one per attempt.
    """
    problems: dict[str, str] = {}
    if form.direction == OUTBOUND:
        outbound: bool | None = True
    elif form.direction == INBOUND:
        outbound = False
    else:
        outbound = None
        problems[DIRECTION] = "Choose whether you called them (outbound) or they called you."

    typed = {FROM_NUMBER: form.from_number, TO_NUMBER: form.to_number}
    kept = (form.own_line or "").strip()
    if (outbound is False and kept and (typed[FROM_NUMBER] or "").strip() == kept
            and not (typed[TO_NUMBER] or "").strip()):
        typed[FROM_NUMBER], typed[TO_NUMBER] = "", kept
    theirs = TO_NUMBER if outbound else FROM_NUMBER
    if outbound is not None and form.prospect_phone and not (typed[theirs] or "").strip():
        typed[theirs] = form.prospect_phone
    numbers: dict[str, str | None] = {}
    for field, text in typed.items():
        try:
            numbers[field] = normalise_phone(text, region)
        except FieldProblem as problem:
            problems[field] = str(problem)

    prospect_id = None
    try:
        prospect_id = parse_prospect_id(form.prospect)
    except FieldProblem as problem:
        problems[PROSPECT] = str(problem)

    note = form.note or ""
    if len(note) > MAX_NOTE:
        problems[NOTE] = (
            f"A note holds at most {MAX_NOTE:,} characters; this one has {len(note):,}."
        )

    if problems or outbound is None:
        return problems
    return NewCall(
        outbound=outbound,
        from_number=numbers[FROM_NUMBER],
        to_number=numbers[TO_NUMBER],
        purpose_id=form.purpose_id,
        disposition_id=form.disposition_id,
        prospect_id=prospect_id,
        # A note of only spaces says nothing; inner line breaks are the rep's and are kept.
        note=note.strip() or None,
    )


def form_field_for(api_field: str | None) -> str | None:
    """The form field an API validation error is about (InvalidInput.field), None if none is."""
    if not api_field:
        return None
    return _API_FIELDS.get(api_field.strip().lower())


def choices(lookup: pd.DataFrame) -> dict[int, str]:
    """{id: label} of a purposes or dispositions frame in the API's display order.

    Dispositions get their outcome in the label, since that decides the connect rate.
    """
    if lookup.empty:
        return {}
    frame = lookup.copy()
    if "order" not in frame.columns:
        frame["order"] = pd.NA
    # Missing orders go last; the name then the id keep the order stable.
    frame = frame.sort_values(["order", "name", "id"], na_position="last", kind="stable")
    labels: dict[int, str] = {}
    for row in frame.itertuples(index=False):
        name = str(row.name or "").strip() or f"#{row.id}"
        outcome = str(getattr(row, "outcome", "") or "").strip()
        labels[int(row.id)] = f"{name} ({outcome})" if outcome else name
    return labels


SEARCH_HELP = (
    "Outreach matches whole names: type a first name, a last name, both, or the whole e-mail "
    "address, then press Enter. Choosing a prospect fills in their id; their number is used "
    "for the call unless you type another."
)


def prospect_label(prospect: Prospect) -> str:
    """One line that tells a prospect from their namesakes: name, title and company, e-mail,
    number (plain text: it is an option of a select box)."""
    work = ", ".join(part for part in (prospect.title, prospect.company) if part)
    parts = [prospect.name + (f" ({work})" if work else "")]
    if prospect.email and prospect.email != prospect.name:
        parts.append(prospect.email)
    if prospect.phone:
        parts.append(shown_number(prospect.phone))
    return " · ".join(parts)


def shown_number(number: str) -> str:
    """A stored number as people read it (+1 646-555-2940); as stored if it cannot be read."""
    try:
        parsed = phonenumbers.parse(number, None)
    except NumberParseException:
        return number
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)


def owner_name(info: ApiInfo, users: pd.DataFrame) -> str:
    """Who a logged call will belong to: the token's user by name, else their e-mail."""
    names = display_names(users) if not users.empty else {}
    if info.user_id is not None and info.user_id in names:
        return names[info.user_id]
    if info.email:
        return info.email
    if info.user_id is not None:
        return f"User {info.user_id}"
    return "the user of Callboard's Outreach token"


def _example(region: str) -> str:
    """A number that region's people would recognise, in their own national style."""
    example = phonenumbers.example_number(region)
    if example is None:
        return "+1 212 555 0100"
    return phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
