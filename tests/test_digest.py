"""The weekly digest's figures, ranking and rendering on a small team worked out by hand below."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy

import numpy as np
import pandas as pd
import pytest

from lib.analytics.digest import (
    Week,
    build_digest,
    definitions,
    last_complete_week,
    week_containing,
)
from lib.analytics.overview import build_overview
from lib.analytics.timerange import utc_bounds
from lib.display import digest as words
from lib.display.markdown import escape

BERLIN = "Europe/Berlin"
# The week: Monday 8 June to Sunday 14 June 2026 in Berlin; the week before: 1 to 7 June.
WEEK = Week(date(2026, 6, 8), date(2026, 6, 14))
THIS_TUESDAY = "2026-06-09T08:00:00Z"  # 10:00 in Berlin
LAST_TUESDAY = "2026-06-02T08:00:00Z"
# The edge of the weeks in Berlin: Sunday 7 June 23:30 (last week) and Monday 8 June 00:30.
LAST_SUNDAY_LATE = "2026-06-07T21:30:00Z"
THIS_MONDAY_EARLY = "2026-06-07T22:30:00Z"

MEETING, INTERESTED, NOT_INTERESTED, NO_ANSWER, GATEKEEPER, HOSTILE = 1, 2, 3, 4, 5, 6
DISPOSITIONS = pd.DataFrame({
    "id": np.array([1, 2, 3, 4, 5, 6], dtype=np.int64),
    "name": ["Meeting booked", "Interested", "Not interested", "No answer", "Gatekeeper",
             'Interested <b>maybe</b> & "soon"'],  # counts as positive; no call has it
    "order": [1, 2, 3, 4, 5, 6],
    "outcome": ["Answered", "Answered", "Answered", "Not Answered", "Answered", "Answered"],
})
# By the default mapping: connected = 1, 2, 3, 5, 6; conversation = 1, 2, 3, 6 (a gatekeeper is
# not one); positive = 1, 2, 6; meeting = 1.
ADA, BOB, CY = 10, 20, 30
BOB_NAME = 'Bob <b>"Bell"</b> & Co'
USERS = pd.DataFrame({
    "id": np.array([ADA, BOB, CY], dtype=np.int64),
    "first_name": ["Ada", "Bob", "Cy"],
    "last_name": ["Lovelace", "Bell", "Cole"],
    "name": ["Ada Lovelace", BOB_NAME, "Cy Cole"],
    "email": ["ada@example.com", "bob@example.com", "cy@example.com"],
})
REPS = [ADA, BOB, CY]  # Cy makes no call in either week


def calls_of(groups: list[tuple[int, str, bool, int | None, int]]) -> pd.DataFrame:
    """Groups of (rep, created_at UTC, outbound, disposition id or None, how many calls) as a
    frame of the figures' columns, as DataSource.list_calls(figures_only=True) gives them."""
    rows = [(rep, at, outbound, disposition) for rep, at, outbound, disposition, n in groups
            for _ in range(n)]
    users, created, outbound, disposition = zip(*rows, strict=True)
    return pd.DataFrame({
        "id": np.arange(1, len(rows) + 1, dtype=np.int64),
        "created_at": pd.to_datetime(list(created), utc=True).astype("datetime64[ns, UTC]"),
        "user_id": pd.array(users, dtype="Int64"),
        "outbound": np.array(outbound, dtype=bool),
        "disposition_id": pd.array(disposition, dtype="Int64"),
    })


# Ada this week: 40 outbound (4 meetings, 6 interested, 6 not interested, 24 no answer), 10
# inbound (8 not interested, 2 with no disposition). 50 calls, 80.0 % outbound, connected 16
# of 40 = 40.0 %, conversations 16 of 40 = 40.0 %, positive 10 of 16 = 62.5 %, 4 meetings, no
# disposition 2 of 50 = 4.0 %.
# Bob this week: 8 outbound (3 interested, 5 no answer): 8 calls, 100.0 % outbound, connected 3
# of 8 = 37.5 %, conversations 3 of 8 = 37.5 %, positive 3 of 3 = 100.0 %, no meetings.
THIS_WEEK = calls_of([
    (ADA, THIS_MONDAY_EARLY, True, MEETING, 1),
    (ADA, THIS_TUESDAY, True, MEETING, 3),
    (ADA, THIS_TUESDAY, True, INTERESTED, 6),
    (ADA, THIS_TUESDAY, True, NOT_INTERESTED, 6),
    (ADA, THIS_TUESDAY, True, NO_ANSWER, 24),
    (ADA, THIS_TUESDAY, False, NOT_INTERESTED, 8),
    (ADA, THIS_TUESDAY, False, None, 2),
    (BOB, THIS_TUESDAY, True, INTERESTED, 3),
    (BOB, THIS_TUESDAY, True, NO_ANSWER, 5),
])
# Ada last week: 40 outbound (1 meeting, 3 interested, 6 not interested, 30 no answer), 10
# inbound (not interested). 50 calls, 80.0 %, connected 10 of 40 = 25.0 %, conversations 10
# of 40 = 25.0 %, positive 4 of 10 = 40.0 %, 1 meeting, no disposition 0 of 50.
# Bob last week: 30 outbound (3 interested, 3 gatekeeper, 24 no answer): connected 6 of 30 =
# 20.0 %, conversations 3 of 30 = 10.0 %, positive 3 of 3, no meetings.
LAST_WEEK = calls_of([
    (ADA, LAST_TUESDAY, True, MEETING, 1),
    (ADA, LAST_TUESDAY, True, INTERESTED, 3),
    (ADA, LAST_TUESDAY, True, NOT_INTERESTED, 6),
    (ADA, LAST_TUESDAY, True, NO_ANSWER, 29),
    (ADA, LAST_SUNDAY_LATE, True, NO_ANSWER, 1),
    (ADA, LAST_TUESDAY, False, NOT_INTERESTED, 10),
    (BOB, LAST_TUESDAY, True, INTERESTED, 3),
    (BOB, LAST_TUESDAY, True, GATEKEEPER, 3),
    (BOB, LAST_TUESDAY, True, NO_ANSWER, 24),
])
# The team this week: 58 calls, 48 outbound (82.8 %), connected 19 of 48 = 39.6 %,
# conversations 19 of 48 = 39.6 %, positive 13 of 19 = 68.4 % (few calls: 19 < 20),
# 4 meetings, no disposition 2 of 58 = 3.4 %.
# Last week: 80 calls, 70 outbound (87.5 %), connected 16 of 70 = 22.9 %, conversations 13 of
# 70 = 18.6 %, positive 7 of 13 = 53.8 % (few), 1 meeting, no disposition 0 of 80 = 0.0 %.
#
# Each change over its standard error (two proportions pooled; counts as Poisson), by hand:
#   Bob calls        8 vs 30:  -22 / sqrt(38)                                     = -3.569
#   Team conversation 19/48 vs 13/70: p = 32/118, se = sqrt(p(1-p)(1/48 + 1/70)) =  2.522
#   Team connect     19/48 vs 16/70: p = 35/118                                   =  1.954
#   Team calls       58 vs 80: -22 / sqrt(138)                                    = -1.873
#   Team no disposition 2/58 vs 0/80: p = 2/138                                   =  1.673
#   Ada connect, conversation 16/40 vs 10/40: p = 26/80                           =  1.432
#   Ada no disposition 2/50 vs 0/50: p = 2/100                                    =  1.429
#   Team meetings, Ada meetings 4 vs 1: 3 / sqrt(5)                               =  1.342
#   Team outbound share 48/58 vs 70/80: p = 118/138                               = -0.781
# Not ranked, on too few calls (pp): Bob conversation +27.5, Ada positive +22.5 (10 last
# week), Bob connect +17.5, team positive +14.6; Bob's outbound share, positive rate and no
# disposition did not change.


@pytest.fixture(scope="module")
def digest():
    return build_digest(THIS_WEEK, LAST_WEEK, USERS, DISPOSITIONS, REPS, WEEK, BERLIN)


def test_the_weeks_are_monday_to_sunday_in_the_teams_zone():
    # Wednesday 18 November 2026, 17:00 UTC: the last complete week is 9-15 November.
    wednesday = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
    assert last_complete_week(wednesday, BERLIN) == Week(date(2026, 11, 9), date(2026, 11, 15))
    # Sunday 15 November 23:30 UTC is Monday 00:30 in Berlin: that week has just ended there,
    # not yet in UTC or in Los Angeles.
    sunday_night = datetime(2026, 11, 15, 23, 30, tzinfo=UTC)
    assert last_complete_week(sunday_night, BERLIN) == Week(date(2026, 11, 9),
                                                            date(2026, 11, 15))
    assert last_complete_week(sunday_night, "UTC") == Week(date(2026, 11, 2), date(2026, 11, 8))
    assert last_complete_week(sunday_night, "America/Los_Angeles") == Week(
        date(2026, 11, 2), date(2026, 11, 8))
    assert week_containing(date(2026, 11, 22)) == Week(date(2026, 11, 16), date(2026, 11, 22))
    assert week_containing(date(2026, 11, 16)).previous == Week(date(2026, 11, 9),
                                                                 date(2026, 11, 15))
    # The CLI and the page read a week as its local days (utc_bounds): the calls at the edge
    # of the weeks in Berlin fall in the weeks the data set below puts them in.
    after, before = utc_bounds(WEEK.start, WEEK.end, BERLIN)
    assert after <= pd.Timestamp(THIS_MONDAY_EARLY) < before
    assert pd.Timestamp(LAST_SUNDAY_LATE) < after
    earlier_after, earlier_before = utc_bounds(WEEK.previous.start, WEEK.previous.end, BERLIN)
    assert earlier_after <= pd.Timestamp(LAST_SUNDAY_LATE) < earlier_before == after


def test_the_teams_figures_this_week_and_last(digest):
    team = digest.team
    assert team.name == "Team" and team.rep_id is None
    assert (team["calls"].current, team["calls"].previous, team["calls"].delta) == (58, 80, -22)
    share = team["outbound_share"]
    assert (share.current.numerator, share.current.denominator) == (48, 58)
    assert (share.previous.numerator, share.previous.denominator) == (70, 80)
    connect = team["connect_rate"]
    assert (connect.current.numerator, connect.current.denominator) == (19, 48)
    assert (connect.previous.numerator, connect.previous.denominator) == (16, 70)
    assert connect.delta == pytest.approx(100 * (19 / 48 - 16 / 70))
    conversation = team["conversation_rate"]
    assert (conversation.current.numerator, conversation.previous.numerator) == (19, 13)
    positive = team["positive_rate"]
    assert (positive.current.numerator, positive.current.denominator) == (13, 19)
    assert (positive.previous.numerator, positive.previous.denominator) == (7, 13)
    assert positive.few_calls and positive.score is None  # 19 and 13 conversations
    assert (team["meetings"].current, team["meetings"].previous) == (4, 1)
    none = team["no_disposition_share"]
    assert (none.current.numerator, none.current.denominator) == (2, 58)
    assert (none.previous.numerator, none.previous.denominator) == (0, 80)
    assert not any(team[key].few_calls for key in ("outbound_share", "connect_rate",
                                                   "conversation_rate", "no_disposition_share"))


def test_the_teams_figures_are_the_overviews_for_that_week(digest):
    comparison = build_overview(THIS_WEEK, LAST_WEEK, USERS, DISPOSITIONS, REPS, WEEK.start,
                                WEEK.end, BERLIN).comparison
    assert comparison.previous_start == date(2026, 6, 1)
    for change in digest.team.changes:
        assert change.current == getattr(comparison.current, change.key)
        assert change.previous == getattr(comparison.previous, change.key)
        assert change.delta == comparison.deltas[change.key]


def test_each_reps_figures_and_the_reps_without_calls(digest):
    assert [rep.name for rep in digest.reps] == ["Ada Lovelace", BOB_NAME]  # busiest first
    assert digest.quiet_reps == ("Cy Cole",)
    ada, bob = digest.reps
    assert ada.rep_id == ADA and bob.rep_id == BOB
    assert (ada["calls"].current, ada["calls"].previous) == (50, 50)
    assert (ada["connect_rate"].current.numerator, ada["connect_rate"].current.denominator) \
        == (16, 40)
    assert ada["connect_rate"].previous.numerator == 10
    assert ada["connect_rate"].delta == pytest.approx(15.0)
    assert (ada["positive_rate"].current.numerator, ada["positive_rate"].current.denominator) \
        == (10, 16)
    assert (ada["positive_rate"].previous.numerator,
            ada["positive_rate"].previous.denominator) == (4, 10)
    assert ada["positive_rate"].few_calls
    assert (ada["meetings"].current, ada["meetings"].previous) == (4, 1)
    assert ada["no_disposition_share"].current.numerator == 2
    assert (bob["calls"].current, bob["calls"].previous) == (8, 30)
    assert (bob["connect_rate"].current.numerator, bob["connect_rate"].current.denominator) \
        == (3, 8)
    assert (bob["connect_rate"].previous.numerator, bob["connect_rate"].previous.denominator) \
        == (6, 30)
    # A gatekeeper is connected but no conversation: 3 of Bob's 6 connects last week.
    assert bob["conversation_rate"].previous.numerator == 3
    assert bob["connect_rate"].few_calls and bob["connect_rate"].score is None  # 8 this week


def test_the_biggest_changes_are_ranked_by_their_counts_and_few_calls_are_never_ranked(digest):
    ranked = [(change.subject, change.key) for change in digest.biggest]
    assert ranked == [
        (BOB_NAME, "calls"),
        ("Team", "conversation_rate"),
        ("Team", "connect_rate"),
        ("Team", "calls"),
        ("Team", "no_disposition_share"),
    ]
    assert [round(change.score, 3) for change in digest.biggest] == [
        -3.569, 2.522, 1.954, -1.873, 1.673]
    # Bob's conversation rate moved most (+27.5 pp) but on 8 calls: listed, never ranked.
    unjudged = [(change.subject, change.key, round(change.delta, 1))
                for change in digest.unjudged]
    assert unjudged == [
        (BOB_NAME, "conversation_rate", 27.5),
        ("Ada Lovelace", "positive_rate", 22.5),
        (BOB_NAME, "connect_rate", 17.5),
        ("Team", "positive_rate", 14.6),
    ]
    assert all(not change.few_calls for change in digest.ranked)
    # Ada's calls and outbound share did not change: not a change at all.
    assert ("Ada Lovelace", "calls") not in [(c.subject, c.key) for c in digest.ranked]


def test_the_text_has_every_figure_with_its_counts(digest):
    text = words.digest_text(digest)
    lines = text.splitlines()
    assert lines[0] == "Callboard weekly digest: Mon 08 Jun – Sun 14 Jun 2026"
    assert lines[1] == ("The last complete Monday–Sunday week in Europe/Berlin, against the "
                        "week before (Mon 01 Jun – Sun 07 Jun 2026).")
    assert f"  1. {BOB_NAME} · Calls: 8, was 30, -22" in lines
    assert ("  2. Team · Conversation rate: 39.6% (19 of 48 outbound calls), was 18.6% "
            "(13 of 70 outbound calls), +21.0 pp") in lines
    assert ("  3. Team · Connect rate: 39.6% (19 of 48 outbound calls), was 22.9% "
            "(16 of 70 outbound calls), +16.7 pp") in lines
    assert (f"  - {BOB_NAME} · Conversation rate: 37.5% (3 of 8 outbound calls), was 10.0% "
            "(3 of 30 outbound calls), +27.5 pp · too few calls to judge") in lines
    assert ("  Positive rate: 68.4% (13 of 19 conversations), was 53.8% (7 of 13 "
            "conversations), +14.6 pp · too few calls to judge") in lines
    assert "  Meetings booked: 4, was 1, +3" in lines
    assert ("  No disposition logged: 3.4% (2 of 58 calls), was 0.0% (0 of 80 calls), "
            "+3.4 pp") in lines
    assert "    Outbound share: 80.0% (40 of 50 calls), was 80.0% (40 of 50 calls), +0.0 pp" \
        in lines
    assert "  No calls in either week: Cy Cole" in lines
    # The mapping behind each rate is named, with the dispositions' own names.
    assert 'Positive: 3 of 6 dispositions (Meeting booked, Interested, Interested <b>maybe' \
        in text


def test_the_html_escapes_every_name_and_defines_each_figure_on_hover(digest):
    page = words.digest_html(digest)
    assert "<b>" not in page and "<b>maybe" not in page
    assert "Bob &lt;b&gt;&quot;Bell&quot;&lt;/b&gt; &amp; Co" in page
    assert "Interested &lt;b&gt;maybe&lt;/b&gt; &amp; &quot;soon&quot;" in page
    assert '<abbr title="Outbound calls whose disposition counts as connected' in page
    # The definitions hold quotes of their own ("not interested"): escaped in the title too.
    assert "(not &quot;not interested&quot;" in page
    assert "19 of 48 outbound calls" in page and "⚠ too few calls to judge" in page
    assert page.count("<table>") == 2 + 1 + 2  # biggest, unjudged, team, two reps


def test_the_email_is_text_and_html_in_one_message(digest):
    sent_at = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)
    message = words.digest_email(digest, "Callboard <callboard@example.com>",
                                 ["lead@example.com", "ops@example.com"], sent_at)
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == "Callboard weekly digest: Mon 08 Jun – Sun 14 Jun 2026"
    assert parsed["To"] == "lead@example.com, ops@example.com"
    text, html = (part.get_content() for part in parsed.iter_parts())
    assert text == words.digest_text(digest)
    assert html == words.digest_html(digest)


def test_the_page_cards_carry_the_counts_and_the_guard(digest):
    cards = words.cards(digest.team.changes, digest, escape)
    connect = cards[2]
    assert (connect.label, connect.value, connect.delta) == ("Connect rate", "39.6%", "+16.7 pp")
    assert connect.basis == "19 of 48 outbound calls · was 16 of 70 outbound calls"
    assert connect.compared_with == "vs Mon 01 Jun – Sun 07 Jun 2026"
    assert connect.help.startswith("Outbound calls whose disposition counts as connected")
    positive = cards[4]
    assert positive.few_calls and positive.basis.endswith("· too few calls to judge")
    assert "fewer than 20 calls" in positive.help
    # Names go into Markdown escaped.
    unjudged = words.cards(digest.unjudged, digest, escape, with_subject=True)
    assert unjudged[0].label == f"{escape(BOB_NAME)} · Conversation rate"
    assert escape('Interested <b>maybe</b> & "soon"') in definitions(digest, escape)[
        "positive_rate"]


def test_an_empty_week_is_said_not_broken():
    nothing = THIS_WEEK.iloc[0:0]
    empty = build_digest(nothing, nothing, USERS, DISPOSITIONS, REPS, WEEK, BERLIN)
    assert empty.reps == () and empty.ranked == () and empty.unjudged == ()
    assert empty.quiet_reps == ("Ada Lovelace", BOB_NAME, "Cy Cole")
    text = words.digest_text(empty)
    assert "  No figure changed." in text
    assert "  Connect rate: – (0 of 0 outbound calls), was – (0 of 0 outbound calls) · too " \
        "few calls to judge" in text
