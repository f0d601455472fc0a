"""What every dashboard page shares: the navigation, the sign-in gate, the demo banner, the
sidebar filters kept in the URL, notes; `page_frame()` is every page's first statement."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import Literal

import pandas as pd
import streamlit as st

from lib.analytics import figures, labels
from lib.analytics.overview import Card
from lib.display.filters import (
    ALL_FILTERS,
    DATES,
    FIRST_DAY,
    MAX_RANGE_DAYS,
    PRESETS,
    REPS,
    ZONE,
    DashboardFilters,
    bound_range,
    describe_days,
    last_day,
    preset_range,
    read_link,
    time_zones,
    today_in,
)
from lib.display.markdown import escape
from lib.display.messages import explain, explain_partial
from lib.outreach.errors import OutreachError
from lib.settings import SettingsError
from lib.ui import cache, connect
from lib.ui.access import require_access

_FILTER_PARAMS = ("tz", "range", "start", "end", "reps")
_FILTERS = "callboard_filters"
# The sidebar filters each page uses, by its url_path ("" is the overview); a page not listed
# uses none (no sidebar filters drawn). Filters a page does not use keep their values for the
# pages that do, and leave its URL.
PAGE_FILTERS: dict[str, tuple[str, ...]] = {"": ALL_FILTERS, "lines": ALL_FILTERS,
                                             "attempts": ALL_FILTERS, "lookup": (ZONE,),
                                             "log": ()}
_WIDGETS = {REPS: ("f_reps",), ZONE: ("f_tz",), DATES: ("f_range", "f_days")}
_KEPT = "callboard_filter_values"  # every filter widget's value, kept while no page draws it
_LINK = "callboard_link_reading"  # what the session's first URL asked for, with notes (LinkReading)


# The pages, by the file each is in. A file's name is its URL path (the overview's is the
# root), so Streamlit's folder mode (see page_frame) finds a deep link's file under that name.
_PAGES = (
    ("pages/overview.py", "Overview", ":material/monitoring:", ""),
    ("pages/digest.py", "Weekly digest", ":material/summarize:", "digest"),
    ("pages/lines.py", "Line health", ":material/sim_card_alert:", "lines"),
    ("pages/attempts.py", "Attempts", ":material/redo:", "attempts"),
    ("pages/lookup.py", "Call lookup", ":material/search:", "lookup"),
    ("pages/log.py", "Log a call", ":material/add_call:", "log"),
    ("pages/outcomes.py", "Outcomes", ":material/rule:", "outcomes"),
    ("pages/goals.py", "Goals", ":material/flag:", "goals"),
)
# Listed for admins while an OAuth app is set up (lib/ui/connect.py); the whole app while
# that app has no refresh token.
_CONNECT_PAGE = ("pages/connect.py", "Connect Outreach", ":material/link:", "connect")
_FRAMED = "callboard_framed"  # set only while run_app() runs the page it has framed, this run


def run_app() -> None:
    """app.py's whole job: the sign-in gate, the navigation, the frame (demo banner, sidebar
    filters), then the page the URL asks for, whose page_frame() finds the frame drawn."""
    # Registering the pages first ends Streamlit's folder mode for the whole process (see
    # page_frame). Hidden, because no page is listed until the gate has let the visitor in.
    _navigation(position="hidden")
    st.set_page_config(page_title="Callboard", page_icon=":material/call:", layout="wide")
    require_access()  # before any page code: with sign-in configured, no data without it
    connection = connect.state()
    if connection == "not connected":
        # No data to show: the Connect page instead of the dashboard, whatever the address
        # (every page stays registered, so a deep link is not "Page not found").
        page = _navigation(position="hidden")
        if page.url_path != _CONNECT_PAGE[3]:
            st.switch_page(_CONNECT_PAGE[0])
        connect.show_flash()
    else:
        page = _navigation(with_connect=connection == "connected" and connect.is_admin())
        # Drawn here, outside the page, so the sidebar's widgets are the same on every page
        # and the filters stay as they are when the visitor moves between pages. Not on the
        # Connect page, which reads no data: a refused token must not hide its Reconnect.
        if page.url_path != _CONNECT_PAGE[3]:
            _render_frame(page.url_path)
        connect.show_flash()
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


def _navigation(position: Literal["sidebar", "hidden"] = "sidebar",
                with_connect: bool = True) -> st.Page:
    pages = (*_PAGES, _CONNECT_PAGE) if with_connect else _PAGES
    return st.navigation(
        [st.Page(path, title=title, icon=icon, url_path=url_path or None, default=not url_path)
         for path, title, icon, url_path in pages],
        position=position,
    )


def _render_frame(url_path: str) -> None:
    """Demo banner and sidebar (the filters the page at `url_path` uses) for the page about to
    run; stops the page when no data can be read, with a sentence saying why and what to do."""
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
    uses = PAGE_FILTERS.get(url_path, ())
    st.session_state[_FILTERS] = _sidebar_filters(lookups.users, default_tz, uses)
    _sidebar_controls()


def current_filters() -> DashboardFilters:
    """The filters chosen in the sidebar for this run (drawn by run_app)."""
    return st.session_state[_FILTERS]


def metric_card(card: Card) -> None:
    """One of the overview's cards: the figure, its change, its definition on hover and the
    counts behind it underneath."""
    st.metric(
        card.label + (" ⚠" if card.few_calls else ""),
        card.value,
        card.delta,
        delta_color=card.delta_color,
        delta_description=card.compared_with if card.delta else None,
        help=card.help,
        border=True,
    )
    st.caption(card.basis)


def show_error(error: Exception, what: str) -> None:
    """An error as a manager reads it: what failed, and what to do next. Never a traceback."""
    # The sentence may quote Outreach, which may quote user input: shown as text, not Markdown.
    try:
        moment = cache.now()  # a rate limit's "try again in" counts on Callboard's clock
    except (OutreachError, SettingsError):
        moment = None
    st.error(f"**{what}.** {escape(explain(error, now=moment))}", icon=":material/error:")


def data_note(reads: Sequence[cache.LoadedCalls], tz: str) -> None:
    """When the store last synced with Outreach, how much of the range is loaded, and the zone
    every figure uses; a warning on the page when part of a range is still missing."""
    synced = pd.Timestamp(min(read.synced_at for read in reads)).tz_convert(tz)
    loaded = min(read.loaded for read in reads)
    share = "" if loaded >= 1 else f" · {int(loaded * 100)} % of this range loaded"
    st.sidebar.caption(f"Synced to {synced:%d %b %Y, %H:%M}{share} · all times in {tz}")
    failed = next((read.sync_failed for read in reads if read.sync_failed), None)
    if failed is not None:
        st.warning(f"**These calls are as of {synced:%H:%M}: the sync with Outreach failed.** "
                   + escape(explain(failed, now=cache.now())), icon=":material/sync_problem:")
    problem = next((read.store_problem for read in reads if read.store_problem), None)
    if problem is not None:
        st.warning("**These calls were read from Outreach directly: the store of calls could "
                   "not be used.** " + escape(problem) + " Every read asks Outreach again "
                   "until the store is fixed (see CALLBOARD_DATABASE_URL or CALLBOARD_CACHE_DB).",
                   icon=":material/database_off:")
    if loaded < 1:
        stopped = next(read.stopped_by for read in reads if read.loaded < 1)
        st.warning(escape(explain_partial(loaded, stopped, now=cache.now())),
                   icon=":material/hourglass_top:")


def describe_filters(filters: DashboardFilters, reps: int) -> str:
    """One line saying what the page shows, e.g. "01 Nov – 30 Nov 2026 · all 8 reps · Berlin"."""
    who = f"all {reps} reps" if filters.rep_ids is None else f"{reps} of the reps"
    return f"{describe_days(filters.start, filters.end)} · {who} · times in {filters.tz}"


_COUNT = st.column_config.NumberColumn
_SHARE = "percent"
_FEW_CALLS = st.column_config.CheckboxColumn("Few calls",
                                             help=figures.METRIC_DEFINITIONS["few_calls"])

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
    "few_calls": _FEW_CALLS,
}
LINE_COLUMNS = {
    "line": st.column_config.TextColumn("Line", pinned=True, help="The number called from."),
    "reps": st.column_config.TextColumn("Called by"),
    "calls": _COUNT("Outbound", help="Outbound calls made from this number in the range."),
    "connected": _COUNT("Connected", help="Of them, calls whose disposition counts as "
                        "connected (the outcome mapping)."),
    "connect_rate": _COUNT("Connect rate", format=_SHARE),
    "few_calls": _FEW_CALLS,
    "before": st.column_config.TextColumn(
        "Period before", help="Connected of outbound calls from this number in the period "
        "of the same length before the range."),
    "team": st.column_config.TextColumn(
        "Other lines", help="Connected of outbound calls from every other number in the range."),
    "flagged": st.column_config.CheckboxColumn("Flagged"),
    "why": st.column_config.TextColumn("Why", width="large"),
}
ATTEMPT_COLUMNS = {
    "label": st.column_config.TextColumn("Attempt"),
    "calls": _COUNT("Calls", help="Outbound calls in the range that were this attempt."),
    "connected": _COUNT("Connected", help="Of them, calls whose disposition counts as "
                        "connected (the outcome mapping): the prospect was reached."),
    "pickup_rate": _COUNT("Pickup rate", format=_SHARE),
    "few_calls": _FEW_CALLS,
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


def _sidebar_filters(
    users: pd.DataFrame, default_tz: str, uses: tuple[str, ...]
) -> DashboardFilters:
    """Draw the filters the page uses, and give all of them (the others as last set); notes
    about what a link or a pick asked for that was changed go above the page."""
    names = labels.display_names(users)
    state = st.session_state
    if _KEPT not in state:
        _filters_from_url(list(names), default_tz)
    values = dict(state[_KEPT])
    values["f_reps"] = [rep for rep in values["f_reps"] if rep in names]  # a rep may have left
    # A widget not drawn in a run loses its state: a page's widgets start from the kept values.
    for name in uses:
        for key in _WIDGETS[name]:
            if key not in state:
                state[key] = values[key]

    sidebar = st.sidebar
    if uses:
        sidebar.header("Filters")
    if REPS in uses:
        values["f_reps"] = sidebar.multiselect(
            "Reps",
            options=list(names),
            format_func=lambda user_id: names.get(user_id, f"User {user_id}"),
            key="f_reps",
            placeholder=f"All reps ({len(names)})",
            help="Leave empty for every rep.",
        )
    if ZONE in uses:
        values["f_tz"] = sidebar.selectbox(
            "Time zone",
            options=_time_zones(default_tz),
            key="f_tz",
            help=f"Days, hours and weekdays are counted in this zone. "
            f"The organisation's default is {default_tz}.",
        )
    tz = values["f_tz"]
    today = today_in(tz, cache.now())
    if DATES in uses:
        values["f_range"] = sidebar.selectbox("Dates", options=PRESETS, key="f_range")
    preset, cut_note = values["f_range"], None
    if preset == "Custom":
        if DATES in uses:
            moved = _moved_inside(state["f_days"], FIRST_DAY, last_day(today))
            if moved is not None:  # else date_input raises: its value must be within bounds
                state["f_days"] = moved
            values["f_days"] = sidebar.date_input(
                "From – to", key="f_days", format="YYYY-MM-DD", min_value=FIRST_DAY,
                max_value=last_day(today),
                help=f"At most {MAX_RANGE_DAYS} days at a time: a longer pick is cut to "
                f"{MAX_RANGE_DAYS}, with a note saying so.",
            )
        start, end = _picked_range(values["f_days"], today)
        start, end, cut_note = bound_range(start, end, today)
    else:
        start, end = preset_range(preset, today)
        # Kept so that switching to Custom starts from the range last shown.
        values["f_days"] = (start, end)
        if DATES in uses:
            state["f_days"] = (start, end)
            sidebar.caption(describe_days(start, end))
    state[_KEPT] = values

    filters = DashboardFilters(rep_ids=tuple(values["f_reps"]) or None, preset=preset,
                               start=start, end=end, tz=tz)
    _filters_to_url(filters, uses)
    link = state.get(_LINK)
    notes = (link.notes_for(filters, uses) if link else []) + (
        [cut_note] if cut_note and DATES in uses else [])
    if notes:
        # Plain sentences that may quote the link: escaped, one paragraph each.
        st.info("\n\n".join(escape(note) for note in notes), icon=":material/tune:")
    return filters


def _sidebar_controls() -> None:
    sidebar = st.sidebar
    left, right = sidebar.columns(2)
    if left.button("Refresh", icon=":material/refresh:", key="refresh",
                   help="Sync with Outreach now: new calls, edits and deletions."):
        try:
            cache.refresh()
        except OutreachError as error:
            show_error(error, "Refresh could not sync with Outreach")
    with right.popover("More", icon=":material/more_horiz:"):
        st.caption("Calls are kept in a local store and synced with Outreach. A full reload "
                   "forgets them and reads everything again.")
        if st.button("Full reload", icon=":material/restart_alt:", key="full_reload"):
            cache.full_reload()


def _filters_from_url(known_rep_ids: list[int], default_tz: str) -> None:
    """The session's first run: the filters the URL asks for (made valid) become the kept
    values, and what was changed in them becomes the link's notes."""
    query = {key: st.query_params.get(key, "") for key in _FILTER_PARAMS}
    reading = read_link(query, default_tz=default_tz, known_rep_ids=known_rep_ids,
                        now=cache.now())
    filters = reading.filters
    st.session_state[_LINK] = reading
    st.session_state[_KEPT] = {"f_reps": list(filters.rep_ids or []), "f_tz": filters.tz,
                               "f_range": filters.preset, "f_days": (filters.start, filters.end)}


def _filters_to_url(filters: DashboardFilters, uses: tuple[str, ...]) -> None:
    # Only our own keys, and only the filters this page uses: other pages keep theirs (the
    # lookup's ?id=), and a page shows no parameter it does not read.
    wanted = filters.to_query(uses)
    for key in _FILTER_PARAMS:
        if key in wanted:
            if st.query_params.get(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]


def _moved_inside(picked: object, first: date, last: date) -> tuple | None:
    """A date_input value moved inside its bounds, or None when it is inside them (a change of
    zone moves today, hence the last day, by a day)."""
    days = tuple(picked) if isinstance(picked, (tuple, list)) else (picked,)
    moved = tuple(min(max(day, first), last) if isinstance(day, date) else day for day in days)
    return moved if moved != days else None


def _picked_range(picked: object, today: date) -> tuple[date, date]:
    # While a range is being picked the widget holds only its first day.
    days = list(picked) if isinstance(picked, (tuple, list)) else [picked]
    days = [day for day in days if isinstance(day, date)]
    if not days:
        return today, today
    return min(days), max(days)


@functools.cache
def _all_time_zones() -> tuple[str, ...]:
    return tuple(sorted(time_zones()))


def _time_zones(default_tz: str) -> list[str]:
    zones = list(_all_time_zones())
    if default_tz in zones:
        zones.remove(default_tz)
    return [default_tz, *zones]
