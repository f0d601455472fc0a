"""The sandbox's prospects: the people its seeded calls were made to, with names, companies,
titles, e-mails and numbers, found by the exact filters the Outreach API offers."""

from __future__ import annotations

import random
import threading
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

# Fictional companies on the reserved .example domain, so no real mailbox is ever shown.
COMPANIES: list[tuple[str, str]] = [
    ("Acme Logistics", "acmelogistics.example"),
    ("Brightline Health", "brightlinehealth.example"),
    ("Cobalt Robotics", "cobaltrobotics.example"),
    ("Daybreak Foods", "daybreakfoods.example"),
    ("Evergreen Insurance", "evergreen-ins.example"),
    ("Fjord Analytics", "fjordanalytics.example"),
    ("Granite & Co", "graniteco.example"),
    ("Harbor Freight Lines", "harborfreight.example"),
    ("Ironwood Capital", "ironwoodcap.example"),
    ("Juniper Schools", "juniperschools.example"),
    ("Keystone Builders", "keystonebuilders.example"),
    ("Lumen Retail", "lumenretail.example"),
    ("Meridian Travel", "meridiantravel.example"),
    ("Nordlicht Energie", "nordlicht.example"),
    ("Orchid Biotech", "orchidbio.example"),
    ("Pioneer Telecom", "pioneertel.example"),
    ("Quarry Media", "quarrymedia.example"),
    ("Redwood Legal", "redwoodlegal.example"),
    ("Summit Payments", "summitpay.example"),
    ("Thames Valley Water", "tvwater.example"),
    ("Umbra Security", "umbrasec.example"),
    ("Vantage Hotels", "vantagehotels.example"),
    ("Willow Dental", "willowdental.example"),
    ("Zephyr Airlines", "zephyrair.example"),
]
TITLES = [
    "VP Sales", "Head of Operations", "IT Director", "CFO", "Office Manager",
    "Procurement Lead", "RevOps Manager", "Chief of Staff", "Facilities Manager",
    "Marketing Director", "CTO", "Customer Success Lead", "Finance Manager", "COO",
]
FIRST_NAMES = [
    "Ava", "Ben", "Carmen", "Daniel", "Emily", "Farah", "George", "Helena", "Ivan", "Julia",
    "Kevin", "Laura", "Mohammed", "Nina", "Oscar", "Paula", "Rafael", "Sara", "Thomas", "Uma",
    "Victor", "Wendy", "Xavier", "Yasmin", "Zach", "Anna", "Björn", "Chloé", "David", "Eva",
    "Maya", "Jordan", "Priya", "Marcus", "Elena", "Aisha", "Connor", "Hannah", "Diego", "Sofia",
]
LAST_NAMES = [
    "Anderson", "Baker", "Carter", "Dietrich", "Evans", "Fernández", "Gallagher", "Hughes",
    "Iyer", "Jackson", "Keller", "Lopez", "Mitchell", "Nowak", "O'Connor", "Petrov", "Russo",
    "Shah", "Turner", "Underwood", "Vasquez", "Wagner", "Young", "Zimmermann", "Bianchi",
    "Cohen", "Demir", "Eriksen", "Fontaine", "Goldberg", "Okafor", "Patel", "Reyes", "Chen",
]


class Prospect(NamedTuple):
    id: int
    first_name: str
    last_name: str
    email: str
    company: str
    title: str
    phone: str
    timezone: str
    owner_id: int


def _mailbox(text: str) -> str:
    """A name as the part of an address before the @: accents dropped, letters only."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def directory(seed: int, pools: Iterable[tuple[int, list[tuple[int, str, str]]]]
              ) -> list[Prospect]:
    """Every rep's prospects, named from a stream of their own (so the calls' stream, and thus
    every call, stays as it was), in id order. Names repeat across a big team, as they do in
    real orgs; e-mails never do."""
    found: list[Prospect] = []
    taken: set[str] = set()
    for owner_id, pool in pools:
        rng = random.Random(f"{seed}/prospects/{owner_id}")
        for prospect_id, phone, zone in pool:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            company, domain = rng.choice(COMPANIES)
            local = f"{_mailbox(first)}.{_mailbox(last)}"
            email, n = f"{local}@{domain}", 1
            while email in taken:
                n += 1
                email = f"{local}{n}@{domain}"
            taken.add(email)
            found.append(Prospect(prospect_id, first, last, email, company, rng.choice(TITLES),
                                  phone, zone, owner_id))
    found.sort(key=lambda p: p.id)
    return found


class ProspectBook:
    """The prospects and their lookups by id, first name, last name and e-mail, built on first
    use: most sandboxes (benchmarks, most tests) never ask for a prospect."""

    def __init__(self, seed: int, pools: tuple[tuple[int, list[tuple[int, str, str]]], ...]):
        self._seed, self._pools = seed, pools
        self._lock = threading.Lock()
        self._all: list[Prospect] | None = None

    def _built(self) -> list[Prospect]:
        with self._lock:
            if self._all is None:
                self._all = directory(self._seed, self._pools)
                self._by_id = {p.id: p for p in self._all}
                self._by: dict[str, dict[str, list[Prospect]]] = {
                    "first": {}, "last": {}, "email": {}}
                for p in self._all:
                    for field, value in (("first", p.first_name), ("last", p.last_name),
                                         ("email", p.email)):
                        self._by[field].setdefault(value.casefold(), []).append(p)
            return self._all

    def get(self, prospect_id: int) -> Prospect | None:
        self._built()
        return self._by_id.get(prospect_id)

    def find(self, first: str | None = None, last: str | None = None,
             email: str | None = None) -> list[Prospect]:
        """The prospects matching every given filter, in id order. (P) Each filter is an exact
        match ignoring case, as the sandbox's user filters are: Outreach documents these
        filters but neither prefix matching nor case."""
        everyone = self._built()
        given = [(field, value) for field, value in (("first", first), ("last", last),
                                                       ("email", email)) if value is not None]
        if not given:
            return list(everyone)
        field, value = given[0]
        found = self._by[field].get(value.casefold(), [])
        for field, value in given[1:]:
            wanted = value.casefold()
            found = [p for p in found if _value(p, field).casefold() == wanted]
        return sorted(found, key=lambda p: p.id)


def _value(prospect: Prospect, field: str) -> str:
    return {"first": prospect.first_name, "last": prospect.last_name,
            "email": prospect.email}[field]
