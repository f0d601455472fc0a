"""Callboard's clock and CALLBOARD_NOW: a pinned instant that runs on, and settings that refuse
what would break it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from lib.clock import PinnedClock, parse_clock, pin_text, real_clock
from lib.settings import Settings, SettingsError

INSTANT = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)


def test_a_pinned_clock_starts_at_its_instant_and_runs_on():
    clock = PinnedClock(INSTANT)
    first = clock()
    assert INSTANT <= first < INSTANT + timedelta(seconds=5)
    assert clock() >= first  # it runs on, never back


def test_the_same_instant_and_real_time_is_the_same_clock_in_another_process():
    real = time.time() - 3600  # pinned an hour ago (of real time)
    here = PinnedClock(INSTANT, real_at=real)
    there = parse_clock(pin_text(INSTANT, real))
    # An hour has passed on both since the pin, whatever today's date is.
    assert abs((there() - here()).total_seconds()) < 1
    assert timedelta(minutes=59) < here() - INSTANT < timedelta(minutes=61)
    assert pin_text(INSTANT, 1796000000.5) == "2026-11-18T17:00:00+00:00@1796000000.500000"


@pytest.mark.parametrize("text", ["2026-11-18T17:00:00Z", "2026-11-18T17:00:00",
                                  "2026-11-18T18:00:00+01:00", "2026-11-18 17:00"])
def test_naive_and_offset_instants_are_read_as_the_same_utc_moment(text):
    assert INSTANT <= parse_clock(text)() < INSTANT + timedelta(seconds=5)


@pytest.mark.parametrize("text", [
    "yesterday", "", "2026-13-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",  # overflows when turned to UTC
    "0001-03-01T00:00:00Z", "2015-06-01T00:00:00Z",  # a history before it could not be made
    "9999-12-31T23:59:00Z",  # a year of ranges after it would overflow
    "2026-11-18T17:00:00Z@", "2026-11-18T17:00:00Z@ 12", "2026-11-18T17:00:00Z@1_000",
    "2026-11-18T17:00:00Z@inf", "2026-11-18T17:00:00Z@nan",
])
def test_crafted_values_are_refused_with_a_sentence(text):
    with pytest.raises(ValueError):
        parse_clock(text)
    if text:  # a blank setting is simply unset
        with pytest.raises(SettingsError, match="CALLBOARD_NOW must be an ISO instant"):
            Settings.from_mapping({"CALLBOARD_NOW": text})


def test_unset_is_the_real_clock():
    assert Settings.from_mapping({}).make_clock() is real_clock
    assert Settings.from_mapping({"CALLBOARD_NOW": "  "}).make_clock() is real_clock


def test_a_pinned_now_works_with_the_sandbox_and_is_refused_against_a_real_api():
    pinned = {"CALLBOARD_NOW": "2026-11-18T17:00:00Z"}
    # Demo mode: the app starts the sandbox on that clock.
    assert Settings.from_mapping(pinned).now == "2026-11-18T17:00:00Z"
    # A sandbox started separately, on this machine.
    for base in ("http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765"):
        settings = Settings.from_mapping({**pinned, "OUTREACH_API_BASE": base,
                                          "OUTREACH_ACCESS_TOKEN": "a-token-1234"})
        assert INSTANT <= settings.make_clock()() < INSTANT + timedelta(seconds=5)
    # The real API stamps calls and rate windows on the real clock: a pinned one would misread
    # every reset time, so it is refused, with the token and the secret kept out of the message.
    for credentials in ({"OUTREACH_ACCESS_TOKEN": "a-token-1234"},
                        {"OUTREACH_CLIENT_ID": "app", "OUTREACH_CLIENT_SECRET": "secret-5678",
                         "OUTREACH_REFRESH_TOKEN": "refresh-9012"}):
        for base in ({}, {"OUTREACH_API_BASE": "https://api.outreach.io"},
                     {"OUTREACH_API_BASE": "https://127.0.0.1.example.com"}):
            with pytest.raises(SettingsError, match="works only with the sandbox") as info:
                Settings.from_mapping({**pinned, **credentials, **base})
            assert not any(secret in str(info.value) for secret in credentials.values())
