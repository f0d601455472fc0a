"""Line health page: each calling number's connect rate, and the lines that dropped well below
their own past and the team's other lines (as numbers labelled spam do)."""

import streamlit as st

from lib.analytics import charts, figures, lines
from lib.analytics.timerange import utc_bounds
from lib.display.callform import shown_number
from lib.display.markdown import escape
from lib.outreach.errors import OutreachError
from lib.ui import cache, frame

frame.page_frame()  # first: the sign-in gate and the frame, before any page code

filters = frame.current_filters()
lookups = cache.lookups()
rep_ids = list(filters.rep_ids) if filters.rep_ids else lookups.users["id"].tolist()
previous_start, previous_end = figures.previous_period(filters.start, filters.end)

st.title("Line health", help=lines.DEFINITION)
st.caption(frame.describe_filters(filters, len(rep_ids)))

try:
    current = cache.calls_with_numbers(*utc_bounds(filters.start, filters.end, filters.tz),
                                       filters.rep_ids)
    previous = cache.calls_with_numbers(
        *utc_bounds(previous_start, previous_end, filters.tz), filters.rep_ids)
except OutreachError as error:
    frame.show_error(error, "The calls could not be loaded")
    st.stop()

frame.data_note([current, previous], filters.tz)
mapping = cache.outcome_mapping()
health = lines.line_health(current.calls, previous.calls, mapping, filters.tz, rep_ids)
if not health.lines:
    st.info("No outbound calls in these days for these reps. Try a longer date range or more "
            "reps.", icon=":material/phone_disabled:")
    st.stop()

if health.flagged:
    for line in health.flagged:
        st.warning(escape(lines.flag_sentence(line, shown_number)), icon=":material/warning:")
else:
    st.success(f"No line connects well below its own past and the team's other lines "
               f"({len(health.lines)} lines).", icon=":material/check:")

st.subheader("Connect rate per week", help=mapping.describe("connected", escape))
st.altair_chart(charts.line_health_chart(health, shown_number), width="stretch")
st.caption(f"Weeks start on Monday in {filters.tz}. Pale points are weeks of fewer than "
           f"{figures.MIN_CALLS_FOR_RATE} calls, left off the line.")

st.subheader("Lines")
st.dataframe(lines.line_table(health, lookups.users, shown_number), hide_index=True,
             width="stretch", column_config=frame.LINE_COLUMNS)
