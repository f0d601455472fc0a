"""The Attempts page (AppTest) against the sandbox: its figures equal the test's own numbering
of the sandbox's records, and `cli summary`'s."""

from __future__ import annotations

from datetime import date, timedelta

from lib.analytics.timerange import utc_bounds
from lib.sandbox.data import DISPOSITIONS
from tests.test_page_overview import TZ, app_env, cli_summary, open_app  # noqa: F401

LOOKBACK_DAYS = 90  # the definition's, written here again: the test's own numbering


def attempts_by_hand(sandbox, start: date, end: date) -> tuple[list[tuple[int, int]], int, int]:
    """(connected, calls) per attempt 1..10 (10: or later), follow-ups and calls without a
    prospect, numbered by this test from the sandbox's 1.0 records."""
    answered = {d[0] for d in DISPOSITIONS if d[3] == "Answered"}
    first, _ = utc_bounds(start - timedelta(days=LOOKBACK_DAYS), end, TZ)
    range_start, range_end = utc_bounds(start, end, TZ)
    stamp = "%Y-%m-%dT%H:%M:%S"
    low, begin, stop = (moment.strftime(stamp) for moment in (first, range_start, range_end))
    by_prospect: dict[int, list[tuple[str, int, bool]]] = {}
    without = 0
    for record in sandbox.all_calls():
        attributes = record["attributes"]
        created = attributes["metadata"]["created"][:19]
        outbound = attributes["connection"]["outbound"]
        if not low <= created < stop:
            continue
        prospect = attributes["prospect"]["id"]
        if prospect is None:
            without += outbound and created >= begin
            continue
        reached = attributes["disposition"]["id"] in answered
        by_prospect.setdefault(prospect, []).append((created, record["id"], reached, outbound))
    counts = [[0, 0] for _ in range(10)]
    follow_ups = 0
    for calls in by_prospect.values():
        reached_before, dials = False, 0
        for created, _, reached, outbound in sorted(calls):
            dials += outbound
            if outbound and created >= begin:
                if reached_before:
                    follow_ups += 1
                else:
                    slot = counts[min(dials, 10) - 1]
                    slot[0] += reached
                    slot[1] += 1
            # A connected call either way reaches them (they called back, and got through).
            reached_before = reached_before or reached
    return [tuple(slot) for slot in counts], follow_ups, without


# A week of the seeded history, before the pinned "now" (Wednesday 18 November 2026).
START, END = date(2026, 11, 11), date(2026, 11, 17)


def test_the_page_numbers_attempts_as_the_records_do(sandbox, app_env):  # noqa: F811
    app = open_app({"start": str(START), "end": str(END)})
    app.switch_page("pages/attempts.py").run()
    assert not app.exception, [e.value for e in app.exception]
    table = app.dataframe[0].value
    shown = list(zip(table["connected"].tolist(), table["calls"].tolist(), strict=True))
    expected, follow_ups, without = attempts_by_hand(sandbox, START, END)
    assert shown == expected
    assert sum(calls for _, calls in shown) > 100  # a week of a team's calls
    assert expected[2][1] > 0  # third attempts happen in the seeded history
    caption = next(c.value for c in app.caption if "prospects tried" in c.value)
    assert f"{follow_ups:,} calls to prospects already reached" in caption
    assert f"{without:,} outbound calls without a prospect" in caption
    assert follow_ups > 0

    by_attempt = cli_summary(sandbox, app_env, START, END)["attempts"]["by_attempt"]
    assert [(a["numerator"], a["denominator"]) for a in by_attempt] == expected
