"""Who may open the dashboard once signed in: the e-mail allow-list and its check (no Streamlit)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ALLOW_LIST_SETTING = "CALLBOARD_ALLOWED_EMAILS"
EVERYONE = "*"

# Deliberately strict: one "@", no spaces or brackets, a dotted domain of plain labels. An address
# that does not look like this is refused rather than guessed at.
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_LOCAL = re.compile(r"^[^\s@<>()\[\],;:\"\\]{1,64}$")


class AllowListError(ValueError):
    """An allow-list entry that is neither an address nor a domain; the message quotes it."""


@dataclass(frozen=True)
class AccessRules:
    """Exact addresses and whole domains (the part after "@") that may open the dashboard.

    `everyone` means any signed-in user with an address; it must be asked for with "*", so
    that an empty or missing setting locks everyone out instead of letting everyone in.
    """

    addresses: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    everyone: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.addresses or self.domains or self.everyone)


def parse_allow_list(value: object) -> AccessRules:
    """Rules from a setting: a list of entries, or one string separated by commas or spaces.

    Entries are "@northwind.example" (anyone at exactly that domain), "northwind.example" (the
    same), "boss@other.example" (that address only) or "*" (anyone signed in). Case is ignored.
    None or blank gives empty rules, which allow nobody.
    """
    if value is None:
        return AccessRules()
    if isinstance(value, str):
        entries: Iterable[object] = re.split(r"[\s,;]+", value)
    elif isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        entries = value
    else:
        raise AllowListError(
            f"{ALLOW_LIST_SETTING} must be a list of addresses and domains, "
            f"not {type(value).__name__}."
        )

    addresses: set[str] = set()
    domains: set[str] = set()
    everyone = False
    for entry in entries:
        if not isinstance(entry, str):
            raise AllowListError(f"{ALLOW_LIST_SETTING} entry {entry!r} is not text.")
        text = entry.strip().lower()
        if not text:
            continue
        if text == EVERYONE:
            everyone = True
        elif "@" not in text or text.startswith("@"):
            domain = text.removeprefix("@")
            if not _DOMAIN.match(domain):
                raise AllowListError(f"{ALLOW_LIST_SETTING} entry {entry!r} is not a domain.")
            domains.add(domain)
        else:
            if _split_address(text) is None:
                raise AllowListError(
                    f"{ALLOW_LIST_SETTING} entry {entry!r} is not an e-mail address."
                )
            addresses.add(text)
    return AccessRules(frozenset(addresses), frozenset(domains), everyone)


def rules_from(*sources: Mapping[str, object]) -> AccessRules:
    """The allow-list from the first source that sets it (e.g. the environment, then secrets)."""
    for source in sources:
        value = source.get(ALLOW_LIST_SETTING)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        return parse_allow_list(value)
    return AccessRules()


def is_allowed(email: object, rules: AccessRules, email_verified: object = None) -> bool:
    """True if this signed-in address may open the dashboard.

    `email_verified` is the identity token's claim when the provider sends one: an address the
    provider says is unverified is refused (anyone can type someone else's address into a
    self-service account), while a provider that never sends the claim is trusted as configured.
    """
    if rules.is_empty or not isinstance(email, str):
        return False
    if _is_false(email_verified):
        return False
    address = email.strip().lower()
    parts = _split_address(address)
    if parts is None:
        return False
    if rules.everyone:
        return True
    return address in rules.addresses or parts[1] in rules.domains


def _split_address(address: str) -> tuple[str, str] | None:
    local, at, domain = address.partition("@")
    if not at or not _LOCAL.match(local) or not _DOMAIN.match(domain):
        return None
    return local, domain


def _is_false(claim: object) -> bool:
    # Some providers send the claim as the string "false" rather than a JSON boolean.
    if isinstance(claim, bool):
        return not claim
    if isinstance(claim, str):
        return claim.strip().lower() in {"false", "0", "no"}
    return False
