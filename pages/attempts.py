"""Attempts page: the pickup rate of the 1st, 2nd, 3rd… call to a prospect, so a manager sees
when one more attempt stops paying."""

import streamlit as st

from lib.analytics import attempts, charts
from lib.analytics.timerange import utc_bounds
from lib.outreach.errors import OutreachError
from lib.ui import cache, frame

frame.page_frame()  # first: the sign-in gate and the frame, before any page code

filters = frame.current_filters()
lookups = cache.lookups()
rep_ids = list(filters.rep_ids) if filters.rep_ids else lookups.users["id"].tolist()

st.title("Attempts", help=attempts.DEFINITION)
st.caption(frame.describe_filters(filters, len(rep_ids)))

range_start, range_end = utc_bounds(filters.start, filters.end, filters.tz)
read_from, _ = utc_bounds(attempts.lookback_start(filters.start), filters.end, filters.tz)
try:
    # One read from the lookback's first day: the range's attempts are numbered over it.
    loaded = cache.calls_with_numbers(read_from, range_end, filters.rep_ids)
except OutreachError as error:
    frame.show_error(error, "The calls could not be loaded")
    st.stop()

frame.data_note([loaded], filters.tz)
found = attempts.attempt_figures(loaded.calls, cache.outcome_mapping(), range_start, rep_ids)
table = found.table()
if table["calls"].any():
    st.altair_chart(charts.attempts_chart(table), width="stretch")
else:
    st.info("No attempts in these days for these reps: no outbound call to a prospect not "
            "reached before.", icon=":material/phone_disabled:")
st.caption(f"{found.prospects:,} prospects tried in these days. Counted apart: "
           f"{found.follow_ups:,} calls to prospects already reached, "
           f"{found.without_prospect:,} outbound calls without a prospect. Earlier attempts are "
           f"counted from {attempts.LOOKBACK_DAYS} days before the range; pale bars rest on "
           "too few calls to judge.")
st.dataframe(table.drop(columns=["attempt"]), hide_index=True, width="stretch",
             column_config=frame.ATTEMPT_COLUMNS)
