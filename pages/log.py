"""Log a call: a form for POST /1.0/calls; the new call is then in the lookup and the dashboard."""

import streamlit as st

from lib.display import callform
from lib.display.callform import (
    DIRECTION,
    DISPOSITION,
    FROM_NUMBER,
    NOTE,
    PROSPECT,
    PURPOSE,
    TO_NUMBER,
    CallFormInput,
)
from lib.display.markdown import escape
from lib.display.messages import explain
from lib.outreach.errors import ApiUnavailable, InvalidInput, MissingScope, OutreachError
from lib.ui import cache, frame

frame.page_frame()  # first: the sign-in gate and the frame, before any page code

KEYS = {field: f"log_{field}" for field in callform.FIELDS}  # widget keys: input survives reruns
_PROBLEMS = "log_problems"  # {field: message} of the last attempt
_FAILURE = "log_failure"  # the last attempt's error that is about no single field
_LOGGED = "log_logged_id"  # the id of the call logged by the last attempt
_CLEAR = "log_clear_form"  # empty the form on the next run (after a call was logged)
# One submit button instance submits at most once. Its key changes as soon as it has been
# pressed, before the POST: a second click that reaches the server while the first is still
# being sent (a slow API) presses a button that no longer exists, so it logs nothing.
_GENERATION = "log_submit_generation"


def _problem(field: str) -> None:
    """The last attempt's message about this field, right under it."""
    message = st.session_state.get(_PROBLEMS, {}).get(field)
    if message:
        st.error(message, icon=":material/error:")


def _submit() -> None:
    """Validate and send the form once; the outcome goes to session_state for the next run."""
    for key in (_PROBLEMS, _FAILURE, _LOGGED):
        st.session_state.pop(key, None)
    state = st.session_state
    parsed = callform.parse_form(
        CallFormInput(
            direction=state.get(KEYS[DIRECTION]),
            from_number=state.get(KEYS[FROM_NUMBER]) or "",
            to_number=state.get(KEYS[TO_NUMBER]) or "",
            purpose_id=state.get(KEYS[PURPOSE]),
            disposition_id=state.get(KEYS[DISPOSITION]),
            prospect=state.get(KEYS[PROSPECT]) or "",
            note=state.get(KEYS[NOTE]) or "",
        ),
        region=callform.DEFAULT_REGION,
    )
    if isinstance(parsed, dict):
        state[_PROBLEMS] = parsed
        return
    with st.spinner("Logging the call in Outreach…"):
        # The outcome is stored before any other Streamlit call: a rerun queued meanwhile stops
        # this script at its next Streamlit call, and the outcome must not be lost with it.
        try:
            created = cache.create_call(parsed)
        except InvalidInput as error:
            field = callform.form_field_for(error.field)
            if field is not None:
                # Outreach's own words, which may quote input: shown as text, not Markdown.
                state[_PROBLEMS] = {field: escape(error.detail)}
            else:
                state[_FAILURE] = error
        except OutreachError as error:
            state[_FAILURE] = error
        else:
            state[_LOGGED] = int(created["id"])
            state[_CLEAR] = True


if st.session_state.pop(_CLEAR, False):
    # Widget values can only be reset before the widgets are drawn, hence on the run after;
    # by a value, since a key merely dropped takes the browser's last value back. The line
    # called from and the purpose are kept: a rep's next call is most often alike.
    for field, key in KEYS.items():
        if field not in callform.REMEMBERED:
            st.session_state[key] = None if field in callform.CHOICES else ""

st.title("Log a call")
lookups = cache.lookups()
try:
    owner = cache.token_owner()
except OutreachError:
    owner = None  # who it will be is nice to know, not needed to log a call
if owner is not None:
    # Names go through st.text, never Markdown.
    st.text(f"Logged as {callform.owner_name(owner, lookups.users)}: Outreach makes the owner "
            "of Callboard's token the owner of every call logged here.")
    if owner.scopes and "create_calls" not in owner.scopes:
        st.warning(escape(explain(MissingScope("", scope="create_calls"))), icon=":material/lock:")

# Drawn in every run, so that the form below keeps its place in the page whether or not a
# call was just logged: a form that moved up would be drawn anew beside the old one.
notice = st.container()
logged = st.session_state.get(_LOGGED)
if logged is not None:
    with notice:
        st.success(f"Logged call {logged}. It is in the dashboard now.", icon=":material/check:")
        link, another = st.columns(2, width=560)
        link.page_link("pages/lookup.py", label=f"Open call {logged} in the call lookup",
                       icon=":material/search:", query_params={"id": str(logged)})
        if another.button("Log another call", icon=":material/add_call:", key="log_another",
                          help="The same line and purpose are filled in already."):
            st.session_state.pop(_LOGGED, None)
            st.rerun()

purposes = callform.choices(lookups.purposes)
dispositions = callform.choices(lookups.dispositions)
generation = st.session_state.setdefault(_GENERATION, 0)
region = callform.DEFAULT_REGION
number_help = (f"Any style, e.g. (201) 555-0123 or +44 20 7946 0958; saved as + country code "
               f"and number. Without +, it is read as a number in {region}.")

with st.form("log_call", clear_on_submit=False, enter_to_submit=False):
    st.radio("Direction (required)", callform.DIRECTIONS, index=None, horizontal=True,
             key=KEYS[DIRECTION], captions=("You called them", "They called you"))
    _problem(DIRECTION)
    left, right = st.columns(2)
    with left:
        st.text_input("From number", key=KEYS[FROM_NUMBER], help=number_help)
        _problem(FROM_NUMBER)
    with right:
        st.text_input("To number", key=KEYS[TO_NUMBER], help=number_help)
        _problem(TO_NUMBER)
    left, right = st.columns(2)
    with left:
        st.selectbox("Purpose", list(purposes), format_func=purposes.__getitem__, index=None,
                     placeholder="None", key=KEYS[PURPOSE])
        _problem(PURPOSE)
    with right:
        st.selectbox("Disposition", list(dispositions), format_func=dispositions.__getitem__,
                     index=None, placeholder="None", key=KEYS[DISPOSITION])
        _problem(DISPOSITION)
    st.text_input("Prospect id", key=KEYS[PROSPECT], placeholder="Optional, e.g. 200012",
                  help="The prospect's id in Outreach: digits only.")
    _problem(PROSPECT)
    st.text_area("Note", key=KEYS[NOTE], max_chars=callform.MAX_NOTE)
    _problem(NOTE)
    submitted = st.form_submit_button("Log call", type="primary", icon=":material/add_call:",
                                      key=f"log_submit_{generation}")

if submitted:
    st.session_state[_GENERATION] = generation + 1
    _submit()
    # Draw the page anew: the new submit button, the outcome, and (after success) an empty form.
    st.rerun()

failure = st.session_state.get(_FAILURE)
if failure is not None:
    frame.show_error(failure, "The call was not logged")
    if isinstance(failure, ApiUnavailable):
        st.warning(callform.MAYBE_LOGGED, icon=":material/warning:")
elif st.session_state.get(_PROBLEMS):
    st.error("The call was not logged: see the messages above.", icon=":material/error:")
