"""Overview page: the team's calls in the chosen days, as cards, charts and tables."""

import streamlit as st

from lib.analytics import charts, figures, goals, labels, prospect_zones
from lib.analytics.exports import calls_csv
from lib.analytics.overview import (
    CALLS_SHOWN,
    build_overview,
    calls_caption,
    disposition_ids_named,
    metric_cards,
    outcome_cards,
    percent_text,
    selected_dispositions,
    talk_time_table,
)
from lib.analytics.tables import calls_table
from lib.analytics.timerange import utc_bounds
from lib.display.markdown import escape
from lib.outreach.errors import OutreachError
from lib.ui import cache, frame

frame.page_frame()  # first: the sign-in gate and the frame, before any page code

filters = frame.current_filters()
lookups = cache.lookups()
rep_ids = list(filters.rep_ids) if filters.rep_ids else lookups.users["id"].tolist()
previous_start, previous_end = figures.previous_period(filters.start, filters.end)

st.title("Overview")
st.caption(frame.describe_filters(filters, len(rep_ids)))

bounds = utc_bounds(filters.start, filters.end, filters.tz)
try:
    current = cache.calls_for_figures(*bounds, filters.rep_ids)
    previous = cache.calls_for_figures(
        *utc_bounds(previous_start, previous_end, filters.tz), filters.rep_ids
    )
except OutreachError as error:
    frame.show_error(error, "The calls could not be loaded")
    st.stop()

frame.data_note([current, previous], filters.tz)
mapping = cache.outcome_mapping()
overview = build_overview(
    current.calls, previous.calls, lookups.users, lookups.dispositions,
    rep_ids, filters.start, filters.end, filters.tz,
    mapping, cache.settings().conversation_seconds,
    # Paced at Callboard's "now"; the team's goal only while the Team row is every rep.
    goals_set=cache.goals(), now=cache.now(), whole_team=filters.rep_ids is None,
)

# Disposition names are the organisation's own text: each escaped for the cards' Markdown help.
for cards in (metric_cards(overview.comparison, mapping, escape), outcome_cards(overview, escape)):
    for column, card in zip(st.columns(5), cards, strict=False):
        with column:
            frame.metric_card(card)
st.caption("Connected, conversation, positive and meeting are counted by the "
           "[outcome mapping](outcomes) (hover a card for the dispositions behind it).")

if overview.figures.calls == 0:
    st.info(
        "No calls in these days for these reps. Try a longer date range or more reps; "
        "calls logged a moment ago appear after **Refresh**.",
        icon=":material/phone_disabled:",
    )
    st.stop()

per = "day" if overview.frequency == "D" else "week"
left, right = st.columns(2)
with left:
    st.subheader(f"Call volume per {per}")
    st.altair_chart(charts.volume_chart(overview.volume), width="stretch")
with right:
    st.subheader(f"Outbound share per {per}")
    st.altair_chart(charts.outbound_ratio_chart(overview.volume), width="stretch")

left, right = st.columns(2)
with left:
    st.subheader("Disposition mix", help="Click a bar to show only those calls in the table below.")
    mix_event = st.altair_chart(
        charts.disposition_chart(overview.mix), width="stretch", on_select="rerun", key="mix"
    )
with right:
    st.subheader("When do we reach people?", help=figures.METRIC_DEFINITIONS["connect_rate"]
                 + "\n\n" + mapping.describe("connected", escape)
                 + "\n\nIn the prospect's zone: " + prospect_zones.DEFINITION)
    # Like "Shade by", kept in the session only: the URL holds the sidebar's filters.
    with st.container(horizontal=True):
        shade = st.segmented_control(
            "Shade by", ["Calls", "Connect rate"], default="Calls", key="heat_value"
        )
        hours_in = st.segmented_control(
            "Hours in", ["yours", "prospects"], default="yours", required=True, key="heat_zone",
            format_func={"yours": f"Your zone ({filters.tz})",
                         "prospects": "Prospect's zone"}.get,
        )
    value = "connect_rate" if shade == "Connect rate" else "calls"
    pale = (f" Pale cells: fewer than {figures.MIN_CALLS_FOR_RATE} outbound calls."
            if value == "connect_rate" else "")
    if hours_in == "prospects":
        # The numbers are read only now: the figures' read above holds none.
        try:
            numbered = cache.calls_with_numbers(*bounds, filters.rep_ids)
        except OutreachError as error:
            frame.show_error(error, "The calls' numbers could not be loaded")
        else:
            by_prospect = prospect_zones.prospect_zone_heatmap(numbered.calls, mapping)
            st.altair_chart(charts.heatmap_chart(by_prospect.cells, value,
                                                 hour_title="Hour (prospect's local time)"),
                            width="stretch")
            st.caption(by_prospect.caption() + pale)
    else:
        st.altair_chart(charts.heatmap_chart(overview.heatmap, value), width="stretch")
        st.caption(f"Local hours in {filters.tz}.{pale}")

st.subheader("Reps")
reps_shown = overview.reps.drop(columns=["rep_id", "is_team"])
# Goal columns (only when some goal is set) right after the rep's name, where they are read.
goal_config = {
    column: (st.column_config.NumberColumn(label, format="%.1f", help=text)
             if column.endswith("_expected") else st.column_config.TextColumn(label, help=text))
    for column, (label, text) in goals.column_texts(overview.pacing).items()
}
st.dataframe(
    reps_shown,
    hide_index=True,
    width="stretch",
    column_config={**frame.REP_COLUMNS, **goal_config},
    column_order=["rep", *goal_config,
                  *(c for c in reps_shown.columns if c != "rep" and c not in goal_config)],
    placeholder=labels.NO_VALUE,  # the cards' dash, not the grid's "None"
)
st.caption(
    f"Rates built on fewer than {figures.MIN_CALLS_FOR_RATE} calls are marked as few calls: "
    "too few to rank anyone on."
)
if goal_config:
    # The zone's name is the visitor's pick: escaped for the caption's Markdown.
    st.caption(escape(overview.pacing.caption()) + " Goals are set on the [Goals](goals) page.")

# API v2 only: answers and talk time from the calls' own times. On 1.0 the section is absent.
answers = overview.answers
if answers is not None:
    st.subheader("Answers and talk time", help="From API v2's own call times and outcomes.")
    rate = answers.rate
    # The card as wide as the five above it; the two tables share the row below.
    with st.columns(5)[0]:
        st.metric("Answer rate", percent_text(rate), border=True,
                  help="Calls whose outcome is Answered, of calls with a known outcome.")
        # Outcomes are Outreach's own text: shown as text, never as Markdown.
        st.caption(" · ".join(f"{row.calls:,} {escape(str(row.outcome))}"
                              for row in answers.by_outcome.itertuples(index=False))
                   or "No call in this range has a known outcome.")
    left, right = st.columns(2)
    with left:
        st.dataframe(talk_time_table(answers.talk_by_rep, "user_id",
                                     labels.display_names(lookups.users), "Rep"),
                     hide_index=True, width="stretch", column_config=frame.TALK_COLUMNS)
    with right:
        st.dataframe(talk_time_table(answers.talk_by_disposition, "disposition_id",
                                     lookups.dispositions, "Disposition"),
                     hide_index=True, width="stretch", column_config=frame.TALK_COLUMNS)
    st.caption("Talk time is completed minus answered; unanswered calls have none.")

chosen = selected_dispositions(mix_event)
chosen_ids = disposition_ids_named(overview.mix, chosen) if chosen else None
try:
    newest = cache.newest_calls(*bounds, filters.rep_ids, CALLS_SHOWN, chosen_ids)
except OutreachError as error:
    frame.show_error(error, "The calls table could not be loaded")
    st.stop()
shown = calls_table(newest, lookups.users, lookups.dispositions, lookups.purposes, filters.tz)
st.subheader("Calls")
# Disposition names are the organisation's own text: shown as text, never as Markdown.
st.caption(calls_caption(overview, len(shown), chosen, quote=escape))
st.dataframe(shown, hide_index=True, width="stretch", column_config=frame.CALL_COLUMNS,
             placeholder=labels.NO_VALUE)
st.download_button(
    "Download these calls (CSV)",
    data=calls_csv(shown),
    file_name=f"calls_{filters.start}_{filters.end}.csv",
    mime="text/csv",
    icon=":material/download:",
)
