"""What every dashboard page shares: the navigation, the sign-in gate, the demo banner, the
sidebar filters kept in the URL, notes; `page_frame()` is every page's first statement."""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Literal
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

from lib.analytics import figures, labels
from lib.display.filters import (
    PRESETS,
    DashboardFilters,
    filters_from_query,
    preset_range,
    today_in,
)
from lib.display.messages import escape_markdown, explain
from lib.outreach.errors import OutreachError
from lib.settings import SettingsError
from lib.ui import cache
from lib.ui.access import require_access

_FILTER_PARAMS = ("tz", "range", "start", "end", "reps")
_FILTERS = "callboard_filters"


# The pages, by the file each is in. A file's name is its URL path (the overview's is the
# root), so Streamlit's folder mode (see page_frame) finds a deep link's file under that name.
_PAGES = (
    ("pages/overview.py", "Overview", ":material/monitoring:", ""),
    ("pages/lookup.py", "Call lookup", ":material/search:", "lookup"),
    ("pages/log.py", "Log a call", ":material/add_call:", "log"),
)
_FRAMED = "callboard_framed"  # set only while run_app() runs the page it has framed, this run


def run_app() -> None:
    """app.py's whole job: the sign-in gate, the navigation, the frame (demo banner, sidebar
    filters), then the page the URL asks for, whose page_frame() finds the frame drawn."""
    # Registering the pages first ends Streamlit's folder mode for the whole process (see
    # page_frame). Hidden, because no page is listed until the gate has let the visitor in.
    _navigation(position="hidden")
    st.set_page_config(page_title="Callboard", page_icon=":material/call:", layout="wide")
    require_access()  # before any page code: with sign-in configured, no data without it
    page = _navigation()
    # Drawn here, outside the page, so the sidebar's widgets are the same on every page and
    # the filters stay as they are when the visitor moves between pages.
    _render_frame()
    st.session_state[_FRAMED] = True
    try:
        page.run()
    finally:
        st.session_state.pop(_FRAMED, None)


def page_frame() -> None:
    """Every page's first statement: no page code runs unless run_app() has passed the sign-in
    gate and drawn the frame in this run.

    With a `pages/` folder beside app.py, Streamlit runs its old folder mode until the first
    `st.navigation` call in the process (`PagesManager.uses_pages_directory`): the first
    request after a restart to `/lookup?id=5` runs pages/lookup.py by itself, not app.py.
    Then this call runs the app as app.py does, which runs this page again, inside it, and
    stops the direct run, so nothing of the page runs or is drawn outside app.py's order.
    """
    if not st.session_state.pop(_FRAMED, False):
        run_app()
        st.stop()


def _navigation(position: Literal["sidebar", "hidden"] = "sidebar") -> st.Page:
    return st.navigation(
        [st.Page(path, title=title, icon=icon, url_path=url_path or None, default=not url_path)
         for path, title, icon, url_path in _PAGES],
        position=position,
    )


def _render_frame() -> None:
    """Demo banner and sidebar for the page about to run; stops the page when no data can be
    read, with a sentence saying why and what to do."""
    try:
        source = cache.data_source()
        if source.demo:
            st.info(
                "**Demo data.** No Outreach credentials are set, so Callboard shows its built-in "
                "sandbox: made-up reps and calls. See the README to connect your Outreach.",
                icon=":material/science:",
            )
        lookups = cache.lookups()
    except (OutreachError, SettingsError) as error:
        what = ("Callboard's settings need attention" if isinstance(error, SettingsError)
                else "Callboard could not read the list of reps from Outreach")
        show_error(error, what)
        _sidebar_controls()  # the message says to press Refresh: it must be there
        st.stop()
    default_tz = cache.settings().timezone
    st.session_state[_FILTERS] = _sidebar_filters(lookups.users, default_tz)
    _sidebar_controls()


def current_filters() -> DashboardFilters:
    """The filters chosen in the sidebar for this run (drawn by run_app)."""
    return st.session_state[_FILTERS]


def show_error(error: Exception, what: str) -> None:
    """An error as a manager reads it: what failed, and what to do next. Never a traceback."""
    # The sentence may quote Outreach, which may quote user input: shown as text, not Markdown.
    try:
        moment = cache.now()  # a rate limit's "try again in" counts on Callboard's clock
    except (OutreachError, SettingsError):
        moment = None
    st.error(f"**{what}.** {escape_markdown(explain(error, now=moment))}",
             icon=":material/error:")


def data_note(loaded_at: datetime, tz: str) -> None:
    """When the figures were read, and the zone every figure uses."""
    moment = pd.Timestamp(loaded_at).tz_convert(tz)
    st.sidebar.caption(f"Data as of {moment:%d %b %Y, %H:%M} · all times in {tz}")


def describe_filters(filters: DashboardFilters, reps: int) -> str:
    """One line saying what the page shows, e.g. "01 Nov – 30 Nov 2026 · all 8 reps · Berlin"."""
    who = f"all {reps} reps" if filters.rep_ids is None else f"{reps} of the reps"
    return f"{_describe_range(filters.start, filters.end)} · {who} · times in {filters.tz}"


_COUNT = st.column_config.NumberColumn
_SHARE = "percent"

REP_COLUMNS = {
    "rep": st.column_config.TextColumn("Rep", pinned=True),
    "calls": _COUNT("Calls", help=figures.METRIC_DEFINITIONS["calls"]),
    "outbound": _COUNT("Outbound", help=figures.METRIC_DEFINITIONS["outbound"]),
    "outbound_share": _COUNT(
        "Outbound share", format=_SHARE, help=figures.METRIC_DEFINITIONS["outbound_share"]
    ),
    "connected": _COUNT("Connected", help="Outbound calls whose disposition counts as Answered."),
    "connect_rate": _COUNT(
        "Connect rate", format=_SHARE, help=figures.METRIC_DEFINITIONS["connect_rate"]
    ),
    "positive": _COUNT("Meetings & positive", help=figures.METRIC_DEFINITIONS["positive"]),
    "no_disposition": _COUNT("No disposition", help=figures.METRIC_DEFINITIONS["no_disposition"]),
    "calls_per_day": _COUNT(
        "Calls per working day",
        format="%.1f",
        help="Calls per Monday-to-Friday day in the range; for Team, per rep.",
    ),
    "daily_calls": st.column_config.LineChartColumn("Calls per day", y_min=0),
    "few_calls": st.column_config.CheckboxColumn(
        "Few calls", help=figures.METRIC_DEFINITIONS["few_calls"]
    ),
}
CALL_COLUMNS = {
    "time": st.column_config.DatetimeColumn("Time", format="ddd D MMM YYYY, HH:mm"),
    "rep": "Rep",
    "direction": "Direction",
    "from": "From",
    "to": "To",
    "purpose": "Purpose",
    "disposition": "Disposition",
    "note": st.column_config.TextColumn("Note", width="large"),
    "outcome": "Outcome",  # this and talk_s: API v2 only
    "talk_s": st.column_config.NumberColumn("Talk (s)", format="%d",
                                            help="Completed minus answered, in seconds."),
    "id": st.column_config.NumberColumn("Call id", format="%d"),
}

# The talk-time tables (lib.analytics.overview.talk_time_table): minutes with one decimal, always.
TALK_COLUMNS = {
    name: st.column_config.NumberColumn(name, format="%.1f")
    for name in ("Total min", "Mean min", "Median min")
}


# ----- sidebar ----------------------------------------------------------------------------------


def _sidebar_filters(users: pd.DataFrame, default_tz: str) -> DashboardFilters:
    names = labels.display_names(users)
    if "f_range" not in st.session_state:
        _filters_from_url(list(names), default_tz)

    sidebar = st.sidebar
    sidebar.header("Filters")
    rep_ids = sidebar.multiselect(
        "Reps",
        options=list(names),
        format_func=lambda user_id: names.get(user_id, f"User {user_id}"),
        key="f_reps",
        placeholder=f"All reps ({len(names)})",
        help="Leave empty for every rep.",
    )
    tz = sidebar.selectbox(
        "Time zone",
        options=_time_zones(default_tz),
        key="f_tz",
        help=f"Days, hours and weekdays are counted in this zone. "
        f"The organisation's default is {default_tz}.",
    )
    preset = sidebar.selectbox("Dates", options=PRESETS, key="f_range")
    if preset == "Custom":
        picked = sidebar.date_input("From – to", key="f_days", format="YYYY-MM-DD")
        start, end = _picked_range(picked, today_in(tz, cache.now()))
    else:
        start, end = preset_range(preset, today_in(tz, cache.now()))
        # Kept so that switching to Custom starts from the range last shown.
        st.session_state["f_days"] = (start, end)
        sidebar.caption(_describe_range(start, end))

    filters = DashboardFilters(
        rep_ids=tuple(rep_ids) if rep_ids else None, preset=preset, start=start, end=end, tz=tz
    )
    _filters_to_url(filters)
    return filters


def _sidebar_controls() -> None:
    sidebar = st.sidebar
    left, right = sidebar.columns(2)
    if left.button("Refresh", icon=":material/refresh:", help="Read today's calls again.",
                   key="refresh"):
        cache.refresh()
    with right.popover("More", icon=":material/more_horiz:"):
        st.caption("Closed days are kept in a local store. A full reload reads everything again.")
        if st.button("Full reload", icon=":material/restart_alt:", key="full_reload"):
            cache.full_reload()


def _filters_from_url(known_rep_ids: list[int], default_tz: str) -> None:
    query = {key: st.query_params.get(key, "") for key in _FILTER_PARAMS}
    filters = filters_from_query(query, default_tz=default_tz, known_rep_ids=known_rep_ids,
                                 now=cache.now())
    st.session_state["f_reps"] = list(filters.rep_ids or [])
    st.session_state["f_tz"] = filters.tz
    st.session_state["f_range"] = filters.preset
    st.session_state["f_days"] = (filters.start, filters.end)


def _filters_to_url(filters: DashboardFilters) -> None:
    # Only our own keys: other pages keep theirs (the lookup's ?id=).
    wanted = filters.to_query()
    for key in _FILTER_PARAMS:
        if key in wanted:
            if st.query_params.get(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]


def _picked_range(picked: object, today: date) -> tuple[date, date]:
    # While a range is being picked the widget holds only its first day.
    days = list(picked) if isinstance(picked, (tuple, list)) else [picked]
    days = [day for day in days if isinstance(day, date)]
    if not days:
        return today, today
    return min(days), max(days)


def _describe_range(start: date, end: date) -> str:
    if start == end:
        return f"{start:%a %d %b %Y}"
    return f"{start:%d %b} – {end:%d %b %Y} ({(end - start).days + 1} days)"


@functools.cache
def _all_time_zones() -> tuple[str, ...]:
    return tuple(sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC"))


def _time_zones(default_tz: str) -> list[str]:
    zones = list(_all_time_zones())
    if default_tz in zones:
        zones.remove(default_tz)
    return [default_tz, *zones]
