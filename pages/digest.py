"""Weekly digest page: the week's biggest changes per rep and team, as `lib.cli digest` has them."""

import streamlit as st

from lib.analytics import figures
from lib.analytics.digest import RANKING_DEFINITION, build_digest, last_complete_week
from lib.analytics.timerange import utc_bounds
from lib.display import digest as words
from lib.display.filters import FIRST_DAY
from lib.display.markdown import escape
from lib.display.messages import explain
from lib.outreach.errors import OutreachError
from lib.ui import cache, frame

frame.page_frame()  # first: the sign-in gate and the frame, before any page code

CARDS_PER_ROW = 4


def show_cards(cards: list[words.DigestCard]) -> None:
    """Cards as the overview draws them: figure, change, definition on hover, counts under it."""
    for first in range(0, len(cards), CARDS_PER_ROW):
        for column, card in zip(st.columns(CARDS_PER_ROW), cards[first:first + CARDS_PER_ROW],
                                strict=False):
            with column:
                st.metric(card.label + (" ⚠" if card.few_calls else ""), card.value, card.delta,
                          delta_color=card.delta_color,
                          delta_description=card.compared_with if card.delta else None,
                          help=card.help, border=True)
                st.caption(card.basis)


# The team's digest: every rep, in the organisation's zone, as the CLI makes it.
tz = cache.settings().timezone
lookups = cache.lookups()
latest = last_complete_week(cache.now(), tz)

st.title("Weekly digest")
picked = st.date_input(
    "Week of", value=latest.start, min_value=FIRST_DAY, max_value=latest.end,
    format="YYYY-MM-DD", key="digest_week",
    help=f"Any day of a Monday–Sunday week that has ended in {tz}; the digest compares it with "
    "the week before. `python -m lib.cli digest --week` writes and sends the latest one.")
week, is_latest = words.week_picked(picked if not isinstance(picked, tuple) else None, latest)

try:
    current = cache.calls_for_figures(*utc_bounds(week.start, week.end, tz), None)
    previous = cache.calls_for_figures(
        *utc_bounds(week.previous.start, week.previous.end, tz), None)
except OutreachError as error:
    frame.show_error(error, "The calls could not be loaded")
    st.stop()

partial = [(read, days) for read, days in ((current, week), (previous, week.previous))
           if read.loaded < 1]
if partial:
    # A digest of part of a week would rank changes that are only missing calls: none is
    # shown (and not the frame's note either, which speaks of figures below).
    stopped = next((read.stopped_by for read, _ in partial if read.stopped_by), None)
    st.warning("**The digest needs both weeks whole, so it is not shown yet.** Loaded so far: "
               + "; ".join(f"{int(read.loaded * 100)} % of {words.week_text(days)}"
                           for read, days in partial) + "."
               + (f" {escape(explain(stopped, now=cache.now()))}" if stopped else "")
               + " What is loaded is kept; the rest is read at the next visit or Refresh.",
               icon=":material/hourglass_top:")
    st.stop()
frame.data_note([current, previous], tz)

digest = build_digest(current.calls, previous.calls, lookups.users, lookups.dispositions,
                      lookups.users["id"].tolist(), week, tz, cache.outcome_mapping(),
                      cache.settings().conversation_seconds)

st.caption(f"{words.week_text(week)} · {words.chosen_week(digest, is_latest)}")

st.subheader("Biggest changes", help=RANKING_DEFINITION)
if digest.biggest:
    show_cards(words.cards(digest.biggest, digest, escape, with_subject=True))
else:
    st.info("No figure changed from the week before.", icon=":material/horizontal_rule:")

if digest.unjudged:
    st.subheader(words.UNJUDGED_HEADING, help=figures.METRIC_DEFINITIONS["few_calls"])
    show_cards(words.cards(digest.unjudged, digest, escape, with_subject=True))

st.subheader("Team")
show_cards(words.cards(digest.team.changes, digest, escape))

st.subheader("Reps")
for rep in digest.reps:
    # Names are the organisation's own text: escaped for the expander's Markdown label.
    with st.expander(escape(words.rep_heading(rep))):
        show_cards(words.cards(rep.changes, digest, escape))
if digest.quiet_reps:
    st.caption("No calls in either week: " + escape(", ".join(digest.quiet_reps)))
st.caption(f"Rates built on fewer than {figures.MIN_CALLS_FOR_RATE} calls in either week are "
           "marked ⚠ and never ranked. Connected, conversation, positive and meeting are "
           "counted by the [outcome mapping](outcomes) (hover a card for the dispositions "
           "behind it).")
