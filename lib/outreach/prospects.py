"""Finding a prospect by what a rep types: the exact-match filters a name or an e-mail stands
for, and prospect records of either API version read into Prospect values."""

# Outreach's prospect filters (1.0 personal/name/first, personal/name/last, contact/email; v2
# firstName, lastName, emails) match whole values; no prefix search is documented. So a typed
# text is read as the few whole-value questions it can mean: an e-mail, a first or a last
# name, "first last", "last, first", a surname of several words.

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lib.outreach.records import as_object, record_id, relationship_id, to_id

MIN_SEARCH = 2  # fewer characters than this ask nothing: every prospect would match
_PHONE_KINDS_V1 = ("work", "mobile", "home", "other", "voip")
_PHONE_KINDS_V2 = ("workPhones", "mobilePhones", "homePhones", "otherPhones", "voipPhones")


@dataclass(frozen=True)
class Prospect:
    """A person a call can be logged against, with what tells two namesakes apart."""

    id: int
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company: str | None = None
    title: str | None = None
    phone: str | None = None  # the first number Outreach has for them, work first
    timezone: str | None = None
    owner_id: int | None = None

    @property
    def name(self) -> str:
        """First and last name, or the e-mail, or the id: never empty."""
        parts = [part for part in (self.first_name, self.last_name) if part]
        return " ".join(parts) or self.email or f"Prospect {self.id}"


@dataclass(frozen=True)
class ProspectFilter:
    """One whole-value question: every given field must match."""

    first: str | None = None
    last: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class ProspectMatches:
    """The prospects found for a text, best first; `more` when Outreach has others that were
    not read (the rep should type more of the name)."""

    prospects: tuple[Prospect, ...]
    more: bool = False


def prospect_filters(text: str) -> list[ProspectFilter]:
    """The questions a typed text stands for, none when it is too short to mean anyone."""
    text = " ".join(text.split())
    if len(text) < MIN_SEARCH:
        return []
    if "@" in text:
        return [ProspectFilter(email=text.replace(" ", ""))]
    if "," in text:
        last, _, first = (part.strip() for part in text.partition(","))
        if first and last:
            return [ProspectFilter(first=first, last=last)]
        text = first or last
    words = text.split(" ")
    if len(words) == 1:
        return [ProspectFilter(first=text), ProspectFilter(last=text)]
    found = [ProspectFilter(first=words[0], last=" ".join(words[1:])),
             ProspectFilter(last=text)]
    if len(words) > 2:
        found.insert(1, ProspectFilter(first=" ".join(words[:-1]), last=words[-1]))
    return found


def sort_key(prospect: Prospect) -> tuple:
    """Namesakes side by side, then by company: the order a rep scans a list of people in."""
    return tuple((value or "").casefold() for value in (
        prospect.last_name, prospect.first_name, prospect.company, prospect.email)) + (
        prospect.id,)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _first_text(values: Any) -> str | None:
    if isinstance(values, list):
        return next((text for text in map(_text, values) if text), None)
    return _text(values)


def _first_phone(phones: Mapping[str, Any], kinds: tuple[str, ...]) -> str | None:
    return next((phone for phone in map(_first_text, (phones.get(kind) for kind in kinds))
                 if phone), None)


def prospect_v1(record: Any) -> Prospect:
    """An API 1.0 prospect record: attributes.personal.name.first/last, contact.email,
    contact.phone.<kind>, contact.timezone, company.name, personal.title."""
    prospect_id = record_id(record, "prospect")
    attributes = as_object(record.get("attributes"))
    personal, contact = as_object(attributes.get("personal")), as_object(attributes.get("contact"))
    name = as_object(personal.get("name"))
    phones = as_object(contact.get("phone"))
    return Prospect(
        id=prospect_id,
        first_name=_text(name.get("first")),
        last_name=_text(name.get("last")),
        email=_first_text(contact.get("email")),
        company=_text(as_object(attributes.get("company")).get("name")),
        title=_text(personal.get("title")),
        phone=_first_phone(phones, _PHONE_KINDS_V1),
        timezone=_text(contact.get("timezone")),
        owner_id=to_id(relationship_id(record, "owner")),
    )


def prospect_v2(record: Any) -> Prospect:
    """An API v2 prospect record: firstName, lastName, emails[], company, title, the phone
    lists (work first) and timeZone."""
    prospect_id = record_id(record, "prospect")
    attributes = as_object(record.get("attributes"))
    return Prospect(
        id=prospect_id,
        first_name=_text(attributes.get("firstName")),
        last_name=_text(attributes.get("lastName")),
        email=_first_text(attributes.get("emails")),
        company=_text(attributes.get("company")),
        title=_text(attributes.get("title")),
        phone=_first_phone(attributes, _PHONE_KINDS_V2),
        timezone=_text(attributes.get("timeZone")),
        owner_id=to_id(relationship_id(record, "owner")),
    )
