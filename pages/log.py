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
from lib.outreach import MIN_PROSPECT_SEARCH, Prospect
from lib.outreach.errors import ApiUnavailable, InvalidInput, MissingScope, OutreachError
from lib.ui import cache, frame

frame.page_frame()  # first: the sign-in gate and the frame, before any page code

KEYS = {field: f"log_{field}" for field in callform.FIELDS}  # widget keys: input survives reruns
_PROBLEMS = "log_problems"  # {field: message} of the last attempt
_FAILURE = "log_failure"  # the last attempt's error that is about no single field
_LOGGED = "log_logged_id"  # the id of the call logged by the last attempt
_CLEAR = "log_clear_form"  # empty the form on the next run (after a call was logged)
_SEARCH = "log_prospect_search"  # what the rep typed to find the prospect
_CHOSEN = "log_prospect_choice"  # the id of the prospect chosen among those found
_PICKED = "log_prospect_picked"  # that prospect (a Prospect), for their number at submit
_OWN_LINE = "log_own_line"  # the line called from, as kept in the form after the last call
_LOGGED_VALUES = "log_logged_values"  # what the emptied fields held when the call was logged
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
            prospect_phone=_picked_phone(),
            own_line=state.get(_OWN_LINE),
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
            state[_LOGGED_VALUES] = {key: state.get(key) for key in _EMPTIED}


def _choose_prospect(found: dict[int, Prospect]) -> None:
    """Fill the form with the prospect just chosen. Only their id: the numbers the rep may
    have typed are still in the browser (a form sends its values on submit only), so their
    number is put in at submit, where the rep left it empty (callform.parse_form)."""
    chosen = found.get(st.session_state.get(_CHOSEN))
    st.session_state[_PICKED] = chosen
    if chosen is not None:
        st.session_state[KEYS[PROSPECT]] = str(chosen.id)


def _picked_phone() -> str | None:
    """The chosen prospect's number while the form still names that prospect."""
    picked = st.session_state.get(_PICKED)
    if picked is None or (st.session_state.get(KEYS[PROSPECT]) or "").strip() != str(picked.id):
        return None
    return picked.phone


def _search_changed() -> None:
    """A new search lists someone else, with nothing chosen yet (the form's own fields are
    left as they are: what the rep typed there reaches the server only on submit)."""
    st.session_state[_CHOSEN] = None


def _prospect_search() -> None:
    """Find the prospect by name or e-mail; choosing one fills the form (_choose_prospect)."""
    st.text_input("Find the prospect", key=_SEARCH, help=callform.SEARCH_HELP,
                  placeholder="A name or an e-mail, e.g. Maya Okafor", on_change=_search_changed)
    text = " ".join((st.session_state.get(_SEARCH) or "").split())
    if not text:
        return
    if len(text) < MIN_PROSPECT_SEARCH:
        st.caption("Type at least two letters of the name.")
        return
    try:
        matches = cache.find_prospects(text)
    except MissingScope as error:
        st.info(f"{escape(explain(error))} You can still type the prospect's id below.",
                icon=":material/lock:")
        return
    except OutreachError as error:
        frame.show_error(error, "Prospects could not be searched")
        st.caption("You can still type the prospect's id below.")
        return
    if not matches.prospects:
        # What was typed goes through st.text, never Markdown.
        st.text(f"No prospect in Outreach has the name or e-mail “{text}”. Outreach matches "
                "whole names: type the full first or last name, or the whole e-mail.")
        return
    found = {prospect.id: prospect for prospect in matches.prospects}
    earlier = st.session_state.get(_PICKED)
    if (earlier is not None and st.session_state.get(_CHOSEN) is None
            and st.session_state.get(KEYS[PROSPECT]) == str(earlier.id)):
        # Found anew, nothing chosen: the form still holds the one chosen before.
        st.warning(escape(f"Still in the form below: {earlier.name}, prospect {earlier.id}, "
                          "chosen before. Choose from this list to replace them."),
                   icon=":material/person_alert:")
    count = f"{len(found)} found" + ("; there are more, type more of the name to narrow them"
                                     if matches.more else "")
    st.selectbox(f"Prospect ({count})", list(found), index=None, key=_CHOSEN,
                 format_func=lambda prospect_id: callform.prospect_label(found[prospect_id]),
                 placeholder="Choose the prospect you called", on_change=_choose_prospect,
                 args=(found,))
    chosen = found.get(st.session_state.get(_CHOSEN))
    if chosen is not None and st.session_state.get(KEYS[PROSPECT]) == str(chosen.id):
        number = (f"; the call is to (or from) {callform.shown_number(chosen.phone)} unless "
                  "you type another number" if chosen.phone else "")
        st.text(f"{chosen.name} is filled in below as prospect {chosen.id}{number}.")


# The fields emptied after a call is logged, and what each is emptied to.
_EMPTIED = {**{key: None if field in callform.CHOICES else ""
               for field, key in KEYS.items() if field not in callform.REMEMBERED},
            _SEARCH: ""}


def _log_another() -> None:
    """Log another call: the notice goes. A click that follows the success fast can carry
    back the values of the call just logged, which the browser held until the emptied form
    reached it: those are emptied again (anything typed since is not the same, and stays)."""
    st.session_state.pop(_LOGGED, None)
    for key, value in st.session_state.pop(_LOGGED_VALUES, {}).items():
        if value not in (None, "") and st.session_state.get(key) == value:
            st.session_state[key] = _EMPTIED[key]


if st.session_state.pop(_CLEAR, False):
    # Widget values can only be reset before the widgets are drawn, hence on the run after;
    # by a value, since a key merely dropped takes the browser's last value back. The line
    # called from and the purpose are kept: a rep's next call is most often alike.
    # The next call is most often to someone else: the search and the choice go too.
    for key, empty in _EMPTIED.items():
        st.session_state[key] = empty
    st.session_state[_CHOSEN], st.session_state[_PICKED] = None, None
    st.session_state[_OWN_LINE] = st.session_state.get(KEYS[FROM_NUMBER])

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
        another.button("Log another call", icon=":material/add_call:", key="log_another",
                       help="The same line and purpose are filled in already.",
                       on_click=_log_another)

_prospect_search()

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
                  help="Filled in when you choose a prospect above; or type their id in "
                       "Outreach, digits only.")
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
