"""Goals page: each rep's and the team's daily or weekly targets of calls and connects, which
the overview's rep table paces; admins set them."""

import streamlit as st

from lib.analytics import goals
from lib.analytics.labels import TEAM, display_names
from lib.display.markdown import escape
from lib.outreach.errors import OutreachError
from lib.ui import cache, frame
from lib.ui.connect import ADMIN_SETTING, admin_name

frame.page_frame()  # first: the sign-in gate and the frame, before any page code

_SAVED = "goals_saved"  # the sentence shown once after a save
_FORM = "goals_form"
_WHOSE = "goals_whose"

st.title("Goals")
st.caption("Daily or weekly targets of calls and connects, for each rep and for the team as a "
           "whole. The overview's rep table shows each one's progress in the chosen days and "
           "whether they are on pace (hover its columns for how that is counted); "
           "`python -m lib.cli summary` prints the same.")

try:
    lookups = cache.lookups()
    kept = cache.goals()
except OutreachError as error:
    frame.show_error(error, "The goals could not be loaded")
    st.stop()

if saved := st.session_state.pop(_SAVED, None):
    st.success(saved, icon=":material/check:")

# The team first, then every rep; a selectbox option cannot be None, so the team is TEAM_ID.
names = {goals.TEAM_ID: TEAM, **display_names(lookups.users)}


def _name(rep_id: int | None) -> str:
    return TEAM if rep_id is None else names.get(rep_id, f"User {rep_id}")


who = admin_name()
if who is None:
    st.info(f"Only admins may set goals: ask whoever runs Callboard to add your address to "
            f"{ADMIN_SETTING}.", icon=":material/lock:")

by_key = goals.goals_by_key(kept)
if kept:
    # Names are the organisation's own text: in a grid, shown as text, never as Markdown.
    st.dataframe(
        goals.goals_table(kept, names, cache.settings().timezone), hide_index=True,
        width="stretch",
        column_config={"Saved": st.column_config.DatetimeColumn("Saved",
                                                                format="D MMM YYYY, HH:mm")})
else:
    st.caption("No goals are set yet: the rep table shows no goal columns until one is.")

whose = st.selectbox("Whose goals", list(names), format_func=lambda i: names[i], key=_WHOSE,
                     help="The team's goal is for every rep together, and is judged when the "
                          "overview shows every rep.")
subject = None if whose == goals.TEAM_ID else int(whose)
with st.form(_FORM, border=False, enter_to_submit=False):
    chosen: dict[str, tuple[int, str]] = {}
    for metric in goals.METRICS:
        goal = by_key.get((subject, metric))
        left, right = st.columns(2)
        # Keyed by whose goal it is, so that each starts from what is kept for them.
        target = left.number_input(
            f"{goals.METRIC_LABELS[metric]} target", min_value=0, max_value=goals.MAX_TARGET,
            step=1, value=goal.target if goal else 0, key=f"goals_{metric}_target_{whose}",
            disabled=who is None,
            help="0: no goal." + (f" {goals.DEFINITIONS['connects']}"
                                  if metric == "connects" else ""))
        period = right.radio(
            "per", goals.PERIODS, index=goals.PERIODS.index(goal.period) if goal else 0,
            format_func=lambda p: f"a {p}", horizontal=True,
            key=f"goals_{metric}_period_{whose}", disabled=who is None,
            help="A weekly target is spread evenly over its five working days.")
        chosen[metric] = (int(target), period)
    save = st.form_submit_button("Save goals", type="primary", icon=":material/save:",
                                 disabled=who is None)

st.caption(goals.DEFINITIONS["goal"] + " " + goals.DEFINITIONS["expected"])

if save and who is not None:
    setting = [goals.Goal(subject, metric, period, target)
               for metric, (target, period) in chosen.items() if target]
    cleared = [(subject, metric) for metric, (target, _period) in chosen.items()
               if not target and (subject, metric) in by_key]
    try:
        cache.save_goals(setting, cleared, by=who)
    except cache.NotSaved as error:  # the choices stay in the form above
        st.error("**The goals could not be saved; your choices are still above.** "
                 + escape(str(error)), icon=":material/error:")
        st.stop()
    for metric in goals.METRICS:  # shown afresh from what is kept
        st.session_state.pop(f"goals_{metric}_target_{whose}", None)
        st.session_state.pop(f"goals_{metric}_period_{whose}", None)
    # A rep's name is the organisation's own text: escaped for the notice's Markdown.
    st.session_state[_SAVED] = (f"Saved the goals of {escape(_name(subject))}. The overview "
                                "paces them now; other replicas within a minute.")
    st.rerun()
