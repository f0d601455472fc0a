"""Call lookup: one call by id, every field with names instead of ids, in the chosen time zone."""

import streamlit as st

from lib.analytics.labels import NO_VALUE
from lib.display.calldetail import BadCallId, call_details, parse_call_id
from lib.outreach.errors import NotFound, OutreachError
from lib.ui import cache, frame

frame.page_frame()  # first: the sign-in gate and the frame, before any page code

_ID = "lookup_id"  # the id box
_URL_ID = "lookup_url_id"  # the ?id= this page last read or wrote


def _sync_url(call_id: str) -> None:
    """Keep ?id= equal to the id shown, so the address can be shared; none when nothing is."""
    st.session_state[_URL_ID] = call_id
    if call_id:
        if st.query_params.get("id") != call_id:
            st.query_params["id"] = call_id
    elif "id" in st.query_params:
        del st.query_params["id"]


# A deep link (?id=...) fills the box; so does a new ?id= arriving later in the same session
# (the link shown after logging a call), while the user's own typing is left alone.
url_id = st.query_params.get("id", "")
if _ID not in st.session_state or st.session_state.get(_URL_ID) != url_id:
    st.session_state[_ID] = url_id
    st.session_state[_URL_ID] = url_id

st.title("Call lookup")
with st.form("lookup", border=False):
    box, button = st.columns([4, 1], vertical_alignment="bottom")
    box.text_input("Call id", key=_ID, placeholder="e.g. 4319081",
                   help="The number Outreach gave the call; it is also in the address (?id=).")
    button.form_submit_button("Look up", icon=":material/search:", width="stretch")

try:
    call_id = parse_call_id(st.session_state[_ID])
except BadCallId as problem:
    _sync_url("")
    st.error(str(problem), icon=":material/pin:")
    st.stop()
if call_id is None:
    _sync_url("")
    st.caption("Type a call's id and press **Look up**.")
    st.stop()
_sync_url(str(call_id))

try:
    row = cache.get_call(call_id)
except NotFound:
    st.warning(
        f"Outreach has no call with the id {call_id}. Check the number; a call logged a moment "
        "ago has the id shown when it was logged.",
        icon=":material/search_off:",
    )
    st.stop()
except OutreachError as error:
    frame.show_error(error, f"Call {call_id} could not be loaded")
    st.stop()

lookups = cache.lookups()
details = call_details(
    row, lookups.users, lookups.dispositions, lookups.purposes, frame.current_filters().tz
)

st.subheader(f"Call {details.call_id}")
# Values from Outreach (names, numbers, the note) go through st.text: never read as Markdown or
# HTML, so a note such as "<b>hi</b> [x](y)" shows exactly as the rep typed it.
columns = st.columns(4)
for index, (label, value) in enumerate(details.fields):
    with columns[index % 4]:
        st.caption(label)
        st.text(value)
st.caption("Note")
st.text(details.note or NO_VALUE)
