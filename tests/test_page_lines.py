"""The Line health page (AppTest) against a sandbox of its own, in which one new line made
calls nobody answered: the page flags it with the counts behind it, as `cli summary` does."""

from __future__ import annotations

from datetime import date

import pytest

from lib.analytics.timerange import utc_bounds
from lib.outreach import NewCall
from lib.sandbox.data import DISPOSITIONS
from tests.apptest_tools import sandbox_with_calls, shown
from tests.conftest import pinned_now
from tests.test_page_overview import TZ, cli_summary, open_app

BURNT = "+12125550999"  # a line every call from goes unanswered, as a spam-labelled one does
NO_ANSWER = 6


@pytest.fixture
def own_sandbox():
    burnt = NewCall(outbound=True, from_number=BURNT, to_number="+13125550100",
                    disposition_id=NO_ANSWER)
    with sandbox_with_calls(*[burnt] * 30) as box:
        yield box


def own_env(box, monkeypatch, tmp_path) -> dict[str, str]:
    """The app's settings for this sandbox, on its clock (as tests.test_page_overview's)."""
    env = {"OUTREACH_API_BASE": box.base_url, "OUTREACH_ACCESS_TOKEN": box.full_token,
           "CALLBOARD_TIMEZONE": TZ, "CALLBOARD_SANDBOX_DB": str(tmp_path / "sandbox.sqlite"),
           "CALLBOARD_CACHE_DB": str(tmp_path / "calls.sqlite"), "CALLBOARD_NOW": pinned_now(box)}
    for key in ("OUTREACH_CLIENT_ID", "OUTREACH_CLIENT_SECRET", "OUTREACH_REFRESH_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def team_counts(box, day: date, leave_out: str) -> tuple[int, int]:
    """The test's own count of (connected, outbound) calls of that local day from every line
    but `leave_out`, from the sandbox's records: connected is an Answered disposition."""
    answered = {d[0] for d in DISPOSITIONS if d[3] == "Answered"}
    after, before = utc_bounds(day, day, TZ)
    connected = outbound = 0
    for record in box.all_calls():
        attributes = record["attributes"]
        created = attributes["metadata"]["created"]
        if not after.isoformat()[:19] <= created[:19] < before.isoformat()[:19]:
            continue
        if not attributes["connection"]["outbound"]:
            continue
        if attributes["connection"]["from"] == leave_out:
            continue
        outbound += 1
        connected += attributes["disposition"]["id"] in answered
    return connected, outbound


def test_a_line_nobody_answers_is_flagged_on_the_page_and_in_the_cli(own_sandbox, monkeypatch,
                                                                      tmp_path):
    env = own_env(own_sandbox, monkeypatch, tmp_path)
    # The calls were logged at the sandbox's "now": that day is the range.
    today = date.fromisoformat(own_sandbox.all_calls()[-1]["attributes"]["metadata"]["created"]
                               [:10])
    app = open_app({"start": str(today), "end": str(today)})
    app.switch_page("pages/lines.py").run()
    assert not app.exception, [e.value for e in app.exception]

    summary = cli_summary(own_sandbox, env, today, today)["line_health"]
    assert summary["flagged"] == [BURNT]
    burnt = next(line for line in summary["lines"] if line["line"] == BURNT)
    assert (burnt["rate"]["numerator"], burnt["rate"]["denominator"]) == (0, 30)
    connected, outbound = team_counts(own_sandbox, today, BURNT)
    assert outbound >= 20
    assert (burnt["team"]["numerator"], burnt["team"]["denominator"]) == (connected, outbound)

    warnings = [shown(w.value) for w in app.warning]
    assert len(warnings) == 1
    assert warnings[0].startswith("+1 212-555-0999 connected 0 of 30 (0%) outbound calls, "
                                  f"against {connected:,} of {outbound:,} "
                                  f"({connected / outbound:.0%}) on the team's other lines.")
    table = app.dataframe[0].value
    row = table[table["line"] == "+1 212-555-0999"].iloc[0]
    assert (row["calls"], row["connected"], bool(row["flagged"])) == (30, 0, True)
    assert row["before"] == "no calls"
    assert int(table["flagged"].sum()) == 1
