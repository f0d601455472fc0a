"""Generates the sandbox's seeded team, lookups and call history, deterministically and fast."""

from __future__ import annotations

import calendar
import math
import random
import struct
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import NamedTuple
from zoneinfo import ZoneInfo

# Seeded ids are (UTC day since ID_ORIGIN) * block + rank within that day, so a call keeps its id
# when the sandbox restarts with a later `end` (the real API's ids never change, and the app caches
# by id). Calls created through the API get ids from CREATED_ID_FLOOR up, which stays above every
# seeded id for teams of up to MAX_REPS until about 2040.
ID_ORIGIN = date(2015, 1, 1)
CREATED_ID_FLOOR = 1_000_000_001
MAX_REPS = 500
OWNER_USER_ID = 1

DAY_MS = 86_400_000
# ID_ORIGIN as a UTC day number (days since 1970-01-01).
ORIGIN_DAY = calendar.timegm(ID_ORIGIN.timetuple()) * 1000 // DAY_MS
WORK_START_S = 8 * 3600 + 30 * 60
WORK_END_S = 17 * 3600 + 30 * 60

# (id, name, order, outcome)
DISPOSITIONS: list[tuple[int, str, int, str]] = [
    (1, "Meeting booked", 1, "Answered"),
    (2, "Interested", 2, "Answered"),
    (3, "Not interested", 3, "Answered"),
    (4, "Call back later", 4, "Answered"),
    (5, "Wrong person", 5, "Answered"),
    (6, "No answer", 6, "Not Answered"),
    (7, "Left voicemail", 7, "Not Answered"),
    (8, "Busy", 8, "Not Answered"),
    (9, "Bad number", 9, "Not Answered"),
]
# (id, name, order)
PURPOSES: list[tuple[int, str, int]] = [
    (1, "Prospecting", 1),
    (2, "Follow-up", 2),
    (3, "Discovery", 3),
    (4, "Demo scheduling", 4),
    (5, "Customer check-in", 5),
]
ANSWERED_IDS = frozenset(d[0] for d in DISPOSITIONS if d[3] == "Answered")

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
]
_ZONE_WEIGHTS = [3, 2, 1, 2, 1, 1]

FIRST_NAMES = [
    "Maya", "Jordan", "Priya", "Marcus", "Elena", "Tomás", "Aisha", "Connor", "Hannah", "Diego",
    "Sofia", "Kwame", "Lena", "Ravi", "Chloe", "Mateo", "Grace", "Noah", "Yuki", "Fatima",
    "Liam", "Zoe", "Omar", "Ingrid", "Ethan", "Amara", "Lucas", "Nadia", "Samuel", "Freya",
    "Jamal", "Clara", "Hiro", "Isabel", "Felix", "Leah", "Arjun", "Mia", "Owen", "Beatriz",
]
LAST_NAMES = [
    "Okafor", "Lindqvist", "Patel", "Reyes", "O'Brien", "Nakamura", "Schmidt", "Walsh", "Haddad",
    "Brennan", "Kowalski", "Mensah", "Fischer", "Alvarez", "Chen", "Dubois", "Hughes", "Rossi",
    "Novak", "Sullivan", "Adeyemi", "Bergström", "Castillo", "Duarte", "Engel", "Garcia",
    "Hoffmann", "Ibrahim", "Jensen", "Kim", "Larsen", "Morgan", "Nguyen", "Park", "Quinn",
    "Richter", "Santos", "Thompson", "Vogel", "Whitaker",
]
_MANAGER = ("Dana", "Whitfield")
EMAIL_DOMAIN = "northwind-sales.example"

_US_AREA = {
    "America/New_York": ["212", "646", "917", "617", "404", "305"],
    "America/Chicago": ["312", "773", "214", "512", "612"],
    "America/Denver": ["303", "720", "801", "505"],
    "America/Los_Angeles": ["213", "310", "415", "650", "206", "503"],
}
_ALL_US_AREA = [code for codes in _US_AREA.values() for code in codes]

_NOTES_BY_DISPOSITION: dict[int | None, list[str]] = {
    1: [
        "Booked intro meeting for Thursday",
        "Demo set with VP Sales & RevOps lead",
        "Meeting booked - send calendar invite + deck",
        "Agreed to 30 min discovery next week",
    ],
    2: [
        "Interested, wants pricing <enterprise tier>",
        'Asked about "seat-based" vs usage pricing',
        "Positive - loop in their IT team",
        "Evaluating vendors in Q3; send case study",
    ],
    3: [
        "Not interested, happy with current tool",
        "No budget this year",
        "Said 'take me off your list' - flag DNC",
        "Locked into contract > 12 months",
    ],
    4: [
        "Call back after 3pm",
        "In a meeting, asked to call back tomorrow",
        "Travelling; try again next week",
    ],
    5: ["Wrong contact, referred to Ops manager", "Gatekeeper; real buyer is the CFO"],
    6: ["No answer", "Rang out"],
    7: ["Left VM re: follow-up email", "Left voicemail #2", "VM full? left short msg"],
    8: ["Line busy"],
    9: ["Number disconnected", "Fax tone - bad number"],
    None: [
        "Call dropped",
        "Spoke briefly, see email thread",
        "Inbound question on invoice & terms",
    ],
}


class CallRow(NamedTuple):
    """One call, compact; (created_ms, id) come first so rows sort and bisect as tuples."""

    created_ms: int
    id: int
    user_id: int
    outbound: bool
    from_number: str | None
    to_number: str | None
    purpose_id: int | None
    disposition_id: int | None
    prospect_id: int | None
    note: str | None
    updated_ms: int


@dataclass(frozen=True)
class User:
    id: int
    first_name: str
    last_name: str
    email: str
    timezone: str
    phone: str


@dataclass(frozen=True)
class _Rep:
    user: User
    base_calls: float
    outbound_share: float
    connect_rate: float
    off_rate: float
    prospects: list[tuple[int, str, str]]  # (prospect id, phone number, time zone)


@dataclass(frozen=True)
class SeedData:
    users: list[User]
    calls: list[CallRow]
    start: datetime
    end: datetime
    # The size of a UTC day's id block (id_block(reps)): a seeded id's day is id // block.
    block: int = 1000
    # Each rep's prospects as (owner's user id, [(prospect id, number, zone)]): the people
    # the calls were made to, named only when asked (prospect_directory).
    pools: tuple[tuple[int, list[tuple[int, str, str]]], ...] = ()


def id_block(reps: int) -> int:
    """Size of one UTC day's id block: a power of ten above the most calls a day can hold."""
    return 10 ** max(3, math.ceil(math.log10(max(1, reps) * 150)))


def _ascii(text: str) -> str:
    table = str.maketrans({"á": "a", "ö": "o", "ä": "a", "ü": "u", "é": "e", "'": ""})
    return text.translate(table).lower()


def _phone(rng: random.Random, zone: str) -> str:
    if zone == "Europe/London":
        # Ofcom's ranges reserved for drama, so no real subscriber is shown.
        prefix = rng.choice(["44207946", "44161496", "44113496", "447700900"])
        return f"+{prefix}{rng.randrange(1000):03d}"
    if zone == "Europe/Berlin":
        prefix = rng.choice(["4930", "4989", "4940", "4969"])
        return f"+{prefix}{rng.randrange(10_000_000):07d}"
    area = rng.choice(_US_AREA.get(zone, _ALL_US_AREA))
    # The 555 exchange is (almost entirely) unassigned in North America.
    return f"+1{area}555{rng.randrange(10_000):04d}"


def _prospect_zone(rng: random.Random, rep_zone: str) -> str:
    if rep_zone.startswith("America/"):
        return rng.choice(ZONES[:4]) if rng.random() < 0.92 else rng.choice(ZONES[4:])
    return rep_zone if rng.random() < 0.7 else rng.choice(ZONES)


def _team(seed: int, reps: int) -> tuple[User, list[_Rep]]:
    team_rng = random.Random(f"{seed}/team")
    firsts = team_rng.sample(FIRST_NAMES, len(FIRST_NAMES))
    lasts = team_rng.sample(LAST_NAMES, len(LAST_NAMES))
    first_zones = team_rng.sample(ZONES, len(ZONES))
    manager = User(
        id=OWNER_USER_ID,
        first_name=_MANAGER[0],
        last_name=_MANAGER[1],
        email=f"{_ascii(_MANAGER[0])}.{_ascii(_MANAGER[1])}@{EMAIL_DOMAIN}",
        timezone="America/New_York",
        phone="+12125550100",
    )
    team: list[_Rep] = []
    for index in range(reps):
        # Each rep has its own stream, so adding reps leaves the existing ones unchanged.
        rng = random.Random(f"{seed}/rep/{index}")
        first = firsts[index % len(firsts)]
        last = lasts[(index + index // len(lasts)) % len(lasts)]
        zone = (
            first_zones[index]
            if index < len(first_zones)
            else rng.choices(ZONES, weights=_ZONE_WEIGHTS)[0]
        )
        user_id = OWNER_USER_ID + 1 + index
        suffix = "" if index < len(firsts) else str(index // len(firsts))
        user = User(
            id=user_id,
            first_name=first,
            last_name=last,
            email=f"{_ascii(first)}.{_ascii(last)}{suffix}@{EMAIL_DOMAIN}",
            timezone=zone,
            phone=_phone(rng, zone),
        )
        pool_size = rng.randrange(250, 600)
        first_prospect = 200_000 + index * 5_000
        prospects = []
        for k in range(pool_size):
            prospect_zone = _prospect_zone(rng, zone)
            prospects.append((first_prospect + k, _phone(rng, prospect_zone), prospect_zone))
        team.append(
            _Rep(
                user=user,
                base_calls=rng.uniform(30, 52),
                outbound_share=rng.uniform(0.80, 0.90),
                connect_rate=rng.uniform(0.20, 0.30),
                off_rate=rng.uniform(0.02, 0.06),
                prospects=prospects,
            )
        )
    return manager, team


def _weighted(pairs: list[tuple[int | None, float]]) -> tuple[list[int | None], list[float]]:
    values = [value for value, _ in pairs]
    cumulative = list(accumulate(weight for _, weight in pairs))
    total = cumulative[-1]
    return values, [c / total for c in cumulative]


_OUT_ANSWERED = _weighted([(1, 10), (2, 20), (3, 30), (4, 25), (5, 15)])
_OUT_MISSED = _weighted([(6, 45), (7, 40), (8, 8), (9, 7)])
_IN_ANSWERED = _weighted([(1, 10), (2, 30), (3, 10), (4, 40), (5, 10)])
_IN_MISSED = _weighted([(6, 70), (7, 25), (8, 5)])
_OUT_PURPOSE = _weighted([(1, 45), (2, 30), (3, 10), (4, 10), (5, 5), (None, 8)])
_IN_PURPOSE = _weighted([(2, 30), (3, 15), (4, 20), (5, 35), (None, 8)])


def _pick(rng: random.Random, table: tuple[list[int | None], list[float]]) -> int | None:
    values, cumulative = table
    return values[min(bisect_right(cumulative, rng.random()), len(values) - 1)]


def _second_of_day(rng: random.Random) -> float:
    # Peaks mid-morning and mid-afternoon with a lunch dip, like a real dialer's log.
    while True:
        u = rng.random()
        if u < 0.45:
            t = rng.gauss(10.25 * 3600, 0.8 * 3600)
        elif u < 0.87:
            t = rng.gauss(14.6 * 3600, 0.9 * 3600)
        else:
            t = rng.uniform(WORK_START_S, WORK_END_S)
        if WORK_START_S <= t < WORK_END_S:
            return t


def _local_midnight_ms(day: date, zone: ZoneInfo) -> int:
    # Weekday working hours never straddle a DST switch (those happen at night on Sundays), so
    # noon's offset holds for the whole working day.
    offset = datetime(day.year, day.month, day.day, 12, tzinfo=zone).utcoffset()
    assert offset is not None
    return (calendar.timegm(day.timetuple()) - int(offset.total_seconds())) * 1000


def _rep_day(seed: int, rep: _Rep, day: date, zone: ZoneInfo) -> list[tuple]:
    if day.weekday() >= 5:
        return []
    rng = random.Random(f"{seed}/{rep.user.id}/{day.isoformat()}")
    if rng.random() < rep.off_rate:
        return []
    busyness = {0: 1.08, 4: 0.85}.get(day.weekday(), 1.0)
    count = round(rng.gauss(rep.base_calls * busyness, rep.base_calls * 0.15))
    count = max(18, min(70, count))
    seconds = sorted(_second_of_day(rng) for _ in range(count))
    midnight = _local_midnight_ms(day, zone)
    rows: list[tuple] = []
    last = -1e9
    prospects = rep.prospects
    user = rep.user
    for second in seconds:
        # A rep dials one call at a time: keep at least 40 s between consecutive calls.
        second = max(second, last + 40)
        if second >= WORK_END_S:
            break
        last = second
        created = midnight + int(second * 1000)
        outbound = rng.random() < rep.outbound_share
        if rng.random() < 0.05:
            disposition = None
        elif outbound:
            answered = rng.random() < rep.connect_rate
            disposition = _pick(rng, _OUT_ANSWERED if answered else _OUT_MISSED)
        else:
            answered = rng.random() < 0.85
            disposition = _pick(rng, _IN_ANSWERED if answered else _IN_MISSED)
        purpose = _pick(rng, _OUT_PURPOSE if outbound else _IN_PURPOSE)
        if not outbound and rng.random() < 0.1:
            prospect_id, number = None, _phone(rng, user.timezone)
        else:
            prospect_id, number, _ = prospects[int(len(prospects) * rng.random() ** 1.7)]
        if outbound:
            from_number, to_number = user.phone, number
        else:
            from_number, to_number = number, user.phone
        note = None
        note_chance = 0.55 if disposition in ANSWERED_IDS else 0.2
        if rng.random() < note_chance:
            note = rng.choice(_NOTES_BY_DISPOSITION[disposition])
        duration = rng.uniform(60, 900) if disposition in ANSWERED_IDS else rng.uniform(15, 60)
        rows.append(
            (
                created,
                user.id,
                outbound,
                from_number,
                to_number,
                purpose,
                disposition,
                prospect_id,
                note,
                created + int(duration * 1000),
            )
        )
    return rows


def users_for(seed: int, reps: int) -> list[User]:
    """The token owner (a manager without calls of their own) followed by the reps."""
    manager, team = _team(seed, reps)
    return [manager] + [rep.user for rep in team]


def generate(seed: int, reps: int, days: int, end: datetime) -> SeedData:
    """The team and its calls created in [end - days, end), sorted by (created, id)."""
    if not 1 <= reps <= MAX_REPS:
        raise ValueError(f"reps must be between 1 and {MAX_REPS}")
    if days < 0:
        raise ValueError("days must not be negative")
    end = end.astimezone(UTC)
    start = end - timedelta(days=days)
    if start.date() <= ID_ORIGIN:
        raise ValueError(f"the seeded history must start after {ID_ORIGIN.isoformat()}")
    manager, team = _team(seed, reps)
    start_ms = int(start.timestamp() * 1000)
    end_ms = int(end.timestamp() * 1000)

    raw: list[tuple] = []
    # A UTC day holds calls of the previous local day in the Americas, so generate from the day
    # before `start`: every UTC day that reaches into the window is then complete, and a call's
    # rank within its day (hence its id) does not depend on where the window starts.
    first_day = start.date() - timedelta(days=1)
    span = (end.date() - first_day).days + 1
    for rep in team:
        zone = ZoneInfo(rep.user.timezone)
        for offset in range(span):
            raw.extend(_rep_day(seed, rep, first_day + timedelta(days=offset), zone))
    raw.sort(key=lambda row: (row[0], row[1]))

    block = id_block(reps)
    origin_day = ORIGIN_DAY
    calls: list[CallRow] = []
    current_day = None
    rank = 0
    for row in raw:
        day = row[0] // DAY_MS
        if day != current_day:
            current_day, rank = day, 0
        rank += 1
        created = row[0]
        if start_ms <= created < end_ms:
            call_id = (day - origin_day) * block + rank
            calls.append(CallRow(created, call_id, *row[1:9], min(row[9], end_ms)))
    return SeedData(users=[manager] + [rep.user for rep in team], calls=calls, start=start, end=end,
                    block=block, pools=tuple((rep.user.id, rep.prospects) for rep in team))


# ----- changes after a call is logged (the sandbox's own simulation) -----

MIN_LATER_MS = 5 * 60_000  # a later disposition comes 5 minutes ...
MAX_LATER_MS = 3 * DAY_MS  # ... to 3 days after the call was logged, mostly soon
MIN_DELETION_MS = 3_600_000  # a deletion 1 hour ...
MAX_DELETION_MS = 3 * DAY_MS  # ... to 3 days after
# The most a seeded call's updated time can trail its created time without an edit.
MAX_CHANGE_LAG_MS = MAX_LATER_MS


@dataclass(frozen=True)
class ChangeSchedule:
    """When seeded calls change by themselves: `later` maps a call id to the moment (epoch ms)
    its disposition is set (before it the call has none), `deleted` to the moment it is
    deleted."""

    later: dict[int, int]
    deleted: dict[int, int]


_CHANGE_CHUNK = 64  # calls of a UTC day (by rank) that share one random stream


def change_schedule(seed: int, calls: list[CallRow], block: int, later_share: float,
                    deletion_share: float) -> ChangeSchedule:
    """Which seeded calls get their disposition later, and which are deleted, and when.

    Each call has four random 32-bit words of its own, by its id's UTC day and rank: the
    stream `{seed}/changes/{day}` gives each day's ranks in order, 64 at a time, so a call
    keeps its fate and its moments whatever window of the history is generated, and a larger
    share picks a superset. A call with a disposition is picked with probability
    `later_share` (word 1); its disposition is set at created + 5 min x 864^(u^2) (u from
    word 2, uniform in [0, 1): 5 min to 3 days, median about 27 min). Any call is picked for
    deletion with probability `deletion_share` (word 3), at created + 1 h x 72^u (u from word
    4: 1 h to 3 days, log-uniform)."""
    for name, share in (("later_dispositions", later_share), ("deletions", deletion_share)):
        if not 0 <= share <= 1:
            raise ValueError(f"{name} must be between 0 and 1")
    later: dict[int, int] = {}
    deleted: dict[int, int] = {}
    if later_share <= 0 and deletion_share <= 0:
        return ChangeSchedule(later, deleted)
    whole = 2.0 ** 32
    later_cut, deletion_cut = later_share * whole, deletion_share * whole
    later_span = MAX_LATER_MS / MIN_LATER_MS
    deletion_span = MAX_DELETION_MS / MIN_DELETION_MS
    layout = struct.Struct(f"<{4 * _CHANGE_CHUNK}I")
    current_day = next_chunk = -1
    stream = random.Random(0)
    words: tuple[int, ...] = ()
    for created, call_id, _, _, _, _, _, disposition, _, _, _ in calls:
        day, rank = divmod(call_id, block)
        if day != current_day:
            current_day, next_chunk = day, 0
            stream = random.Random(f"{seed}/changes/{day}")
        chunk, at = divmod(rank - 1, _CHANGE_CHUNK)
        while next_chunk <= chunk:  # the day's chunks in order, those before the window too
            words = layout.unpack(stream.randbytes(layout.size))
            next_chunk += 1
        at *= 4
        if words[at] < later_cut and disposition is not None:
            u = words[at + 1] / whole
            delay = int(MIN_LATER_MS * later_span ** (u * u))
            later[call_id] = created + min(delay, MAX_LATER_MS - 1)
        if words[at + 2] < deletion_cut:
            delay = int(MIN_DELETION_MS * deletion_span ** (words[at + 3] / whole))
            deleted[call_id] = created + min(delay, MAX_DELETION_MS - 1)
    return ChangeSchedule(later, deleted)
