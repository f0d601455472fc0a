"""Callboard's entry point: page navigation, and the frame (banner, filters) around every page."""

import streamlit as st

from lib.ui import frame
from lib.ui.access import require_access

st.set_page_config(page_title="Callboard", page_icon=":material/call:", layout="wide")
require_access()  # before any page code: with sign-in configured, no data without it

page = st.navigation(
    [
        st.Page("views/overview.py", title="Overview", icon=":material/monitoring:", default=True),
        st.Page("views/lookup.py", title="Call lookup", icon=":material/search:",
                url_path="lookup"),
        st.Page("views/log_call.py", title="Log a call", icon=":material/add_call:",
                url_path="log"),
    ]
)
frame.render_frame()
page.run()
