"""Outcomes page: what each disposition counts as in every rate, and an admin's edits of it."""

import streamlit as st

from lib.analytics.outcomes import DEFAULT_RULES, FLAG_LABELS, FLAGS, chosen_flags
from lib.display.markdown import escape
from lib.outreach.errors import OutreachError
from lib.ui import cache, frame
from lib.ui.connect import ADMIN_SETTING, admin_name

frame.page_frame()  # first: the sign-in gate and the frame, before any page code

_SAVED = "outcomes_saved"  # the sentence shown once after a save
_FORM = "outcomes_form"

st.title("Outcomes")
st.caption("What each disposition counts as. Every rate on the overview and in "
           "`python -m lib.cli summary` is counted by this mapping, and names it.")

try:
    mapping = cache.outcome_mapping()
except OutreachError as error:
    frame.show_error(error, "The dispositions could not be loaded")
    st.stop()

if saved := st.session_state.pop(_SAVED, None):
    st.success(saved, icon=":material/check:")

names = dict(zip(mapping.table["id"].tolist(), mapping.table["name"].tolist(), strict=True))
who = admin_name()
if who is None:
    st.info(f"Only admins may change it: ask whoever runs Callboard to add your address to "
            f"{ADMIN_SETTING}.", icon=":material/lock:")

with st.form(_FORM, border=False, enter_to_submit=False):
    chosen = {
        flag: st.multiselect(
            f"{FLAG_LABELS[flag]}: these dispositions", list(names),
            default=mapping.ids(flag).tolist(), format_func=lambda i: names[i],
            key=f"outcomes_{flag}", disabled=who is None,
            help=f"By default: {DEFAULT_RULES[flag]}." + (
                " On API v2 Callboard counts a conversation by its talk time instead "
                "(CALLBOARD_CONVERSATION_SECONDS); this choice counts on 1.0."
                if flag == "conversation" else ""), placeholder="None")
        for flag in FLAGS
    }
    save = st.form_submit_button("Save mapping", type="primary", icon=":material/save:",
                                 disabled=who is None)

if mapping.edited:
    st.caption(f"{len(mapping.edited)} of {len(mapping.table)} dispositions follow an admin's "
               "choice; the rest, and any disposition added in Outreach since, the defaults.")
else:
    st.caption("Every disposition follows the defaults (hover a question mark for its rule).")


def _keep(flags: dict, done: str) -> None:
    try:
        cache.save_outcome_mapping(flags, by=who)
    except cache.NotSaved as error:  # the choices stay in the form above
        st.error("**The mapping could not be saved; your choices are still above.** "
                 + escape(str(error)), icon=":material/error:")
        st.stop()
    for flag in FLAGS:  # shown afresh from what is kept
        st.session_state.pop(f"outcomes_{flag}", None)
    st.session_state[_SAVED] = done
    st.rerun()


if save and who is not None:
    _keep(chosen_flags(mapping, chosen),
          "Saved. Every rate here uses it now; other replicas within a minute.")
if who is not None and mapping.edited and st.button("Back to the defaults",
                                                    icon=":material/restart_alt:"):
    _keep({}, "Back to the defaults.")
