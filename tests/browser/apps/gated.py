"""A one-page app behind the sign-in gate, to test the gate alone: it reads calls past it only."""

from datetime import UTC, datetime, timedelta

import streamlit as st

from lib.ui_access import require_access

require_access()

# Past the gate: the same read path as the dashboard, so a request reaching the sandbox proves
# that page code ran.
from lib.datasource import open_source  # noqa: E402
from lib.settings import Settings  # noqa: E402

source = open_source(Settings.from_env())
now = datetime.now(UTC)
calls = source.list_calls(now - timedelta(days=30), now)
st.title("Gated data")
st.metric("Calls in the last 30 days", len(calls))
