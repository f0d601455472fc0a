"""The "Log a call" page through Streamlit's AppTest, against the sandbox over loopback."""

from __future__ import annotations

import pandas as pd
import pytest

from lib.display import callform
from tests.apptest_tools import (
    READ_SCOPES,
    element_after,
    fields_shown,
    messages,
    open_page,
    set_app_env,
    shown,
)
from tests.conftest import pinned_now

PAGE = "pages/log.py"
DISCOVERY, INTERESTED = 3, 2  # the sandbox's purpose and disposition ids
TYPED = {"log_from_number": "(415) 555-0142", "log_to_number": "+44 20 7946 0958",
         "log_prospect": "200012", "log_note": "Asked for pricing <b>by e-mail</b>"}


@pytest.fixture
def full_token_app(sandbox, monkeypatch, tmp_path_factory):
    set_app_env(monkeypatch, sandbox.base_url, sandbox.full_token,
                tmp_path_factory.getbasetemp() / "log_call.sqlite", now=pinned_now(sandbox))


def fill(app, direction: str | None = "Outbound", purpose: int | None = DISCOVERY,
         disposition: int | None = INTERESTED, **typed: str):
    """Type into the form as a rep would: widgets by key; the boxes hold ids and show names."""
    for key, value in {**TYPED, **typed}.items():
        widget = app.text_area(key=key) if key == "log_note" else app.text_input(key=key)
        widget.input(value)
    if direction is not None:
        app.radio(key="log_direction").set_value(direction)
    for key, value in (("log_purpose", purpose), ("log_disposition", disposition)):
        if value is not None:
            app.selectbox(key=key).select(value)
    return app


def submit(app):
    app.form_submit_button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def typed_values(app) -> dict[str, str]:
    values = {key: app.text_input(key=key).value for key in TYPED if key != "log_note"}
    values["log_note"] = app.text_area(key="log_note").value
    return values


def test_the_page_says_who_will_own_the_call_and_offers_names(full_token_app):
    app = open_page(PAGE)
    assert any(t.value.startswith("Logged as Dana Whitfield:") for t in app.text)
    assert app.radio(key="log_direction").value is None  # no default direction
    assert app.radio(key="log_direction").options == ["Outbound", "Inbound"]
    purposes = app.selectbox(key="log_purpose")
    assert purposes.value is None
    assert purposes.options[:3] == ["Prospecting", "Follow-up", "Discovery"]
    dispositions = app.selectbox(key="log_disposition")
    assert dispositions.options[:2] == ["Meeting booked (Answered)", "Interested (Answered)"]
    assert "Left voicemail (Not Answered)" in dispositions.options
    assert not messages(app)


def test_one_click_logs_exactly_one_call_and_links_to_it(sandbox, full_token_app):
    app = fill(open_page(PAGE))
    before = len(sandbox.all_calls())
    submit(app)
    calls = sandbox.all_calls()
    assert len(calls) == before + 1
    new = calls[-1]
    assert new["attributes"]["connection"] == {"from": "+14155550142", "to": "+442079460958",
                                              "outbound": True}
    assert new["attributes"]["purpose"]["id"] == DISCOVERY
    assert new["attributes"]["disposition"]["id"] == INTERESTED
    assert new["attributes"]["prospect"]["id"] == 200012
    assert new["attributes"]["metadata"]["note"] == TYPED["log_note"]
    assert new["attributes"]["user"]["id"] == sandbox.owner_user_id

    assert [s.value for s in app.success] == [
        f"Logged call {new['id']}. It is in the dashboard now."]
    link = app.page_link[0]
    assert link.proto.page.endswith("lookup")
    assert link.proto.query_string == f"id={new['id']}"
    # Logged: the form is ready for the next call, with the line and the purpose kept.
    assert typed_values(app) == {"log_from_number": TYPED["log_from_number"],
                                 "log_to_number": "", "log_prospect": "", "log_note": ""}
    assert app.radio(key="log_direction").value is None
    assert app.selectbox(key="log_purpose").value == DISCOVERY
    assert app.selectbox(key="log_disposition").value is None
    # "Log another": the message goes, the kept fields stay, and the next call logs as well.
    app.button(key="log_another").click().run()
    assert not app.success
    assert app.text_input(key="log_from_number").value == TYPED["log_from_number"]
    fill(app, log_to_number="+1 212 555 0199")
    submit(app)
    assert sandbox.all_calls()[-1]["attributes"]["connection"]["to"] == "+12125550199"
    assert sandbox.all_calls()[-1]["attributes"]["purpose"]["id"] == DISCOVERY
    app.query_params["id"] = str(new["id"])

    # The link's target: the lookup finds the call, with names.
    app.query_params["id"] = str(new["id"])
    app.switch_page("pages/lookup.py").run()
    shown = fields_shown(app)
    assert shown["Call id"] == str(new["id"])
    assert shown["Rep"] == "Dana Whitfield"
    assert shown["To"] == "+442079460958"
    assert shown["Purpose"] == "Discovery"
    assert shown["Disposition"] == "Interested"
    assert shown["Note"] == TYPED["log_note"]


def test_a_second_click_sent_while_the_first_was_in_flight_logs_nothing(sandbox,
                                                                         full_token_app):
    app = fill(open_page(PAGE))
    button = app.form_submit_button[0]
    before = len(sandbox.all_calls())
    button.click().run()
    assert len(sandbox.all_calls()) == before + 1
    logged = app.success[0].value
    # The browser still held the same button with the same values: as if clicked twice fast.
    button.click().run()
    assert not app.exception
    assert len(sandbox.all_calls()) == before + 1
    assert [s.value for s in app.success] == [logged]


def test_the_new_call_is_on_the_dashboard_without_a_refresh(sandbox, full_token_app):
    app = open_page("pages/overview.py")
    calls_before = int(next(m.value for m in app.metric if m.label.startswith("Calls"))
                       .replace(",", ""))
    app.switch_page(PAGE).run()
    submit(fill(app))
    assert app.success
    app.switch_page("pages/overview.py").run()
    calls_after = int(next(m.value for m in app.metric if m.label.startswith("Calls"))
                      .replace(",", ""))
    assert calls_after == calls_before + 1


def test_no_direction_is_asked_for_next_to_the_choice(sandbox, full_token_app):
    app = fill(open_page(PAGE), direction=None)
    before = len(sandbox.all_calls())
    submit(app)
    assert len(sandbox.all_calls()) == before
    after = element_after(app, "log_direction")
    assert after is not None and after.type == "error"
    assert "called them (outbound) or they called you" in after.value
    assert typed_values(app) == TYPED
    assert app.selectbox(key="log_purpose").value == DISCOVERY


@pytest.mark.parametrize(("key", "typed", "says"), [
    ("log_to_number", "555-01", "Too few digits"),
    ("log_from_number", "call me", "not a phone number"),
    ("log_to_number", "+999 555 0100", "country code is unknown"),
    ("log_prospect", "P-200012", "digits only"),
])
def test_a_bad_field_is_refused_next_to_it_and_everything_typed_stays(
        sandbox, full_token_app, key, typed, says):
    app = fill(open_page(PAGE), **{key: typed})
    before = len(sandbox.all_calls())
    submit(app)
    assert len(sandbox.all_calls()) == before
    after = element_after(app, key)
    assert after is not None and after.type == "error"
    assert says in after.value
    # Only that field has a message; the summary under the form says the call was not logged.
    field_errors = [e.value for e in app.error if "not logged" not in e.value]
    assert field_errors == [after.value]
    assert any("The call was not logged" in shown(e.value) for e in app.error)
    assert typed_values(app) == {**TYPED, key: typed}
    assert app.radio(key="log_direction").value == "Outbound"
    assert app.selectbox(key="log_disposition").value == INTERESTED
    assert not app.success


def test_a_token_that_cannot_log_calls_says_so_and_keeps_the_input(sandbox, monkeypatch,
                                                                   tmp_path):
    token = sandbox.issue_token(READ_SCOPES, ttl=600)
    set_app_env(monkeypatch, sandbox.base_url, token, tmp_path / "sandbox.sqlite",
                now=pinned_now(sandbox))
    app = open_page(PAGE)
    # Told before typing anything: the token's scopes are known from /1.0/info.
    assert any("not allowed to log calls" in w.value for w in app.warning)
    fill(app)
    before = len(sandbox.all_calls())
    submit(app)
    assert len(sandbox.all_calls()) == before
    errors = [shown(e.value) for e in app.error]
    assert any("The call was not logged" in e and "create_calls" in e for e in errors), errors
    assert token not in " ".join(errors)
    assert typed_values(app) == TYPED
    assert app.radio(key="log_direction").value == "Outbound"
    assert not app.success


def test_an_api_failure_is_a_sentence_and_keeps_the_input(sandbox, full_token_app,
                                                          configure_sandbox):
    app = fill(open_page(PAGE))
    before = len(sandbox.all_calls())
    configure_sandbox(fault_rate=1.0)
    submit(app)
    assert len(sandbox.all_calls()) == before
    errors = [shown(e.value) for e in app.error]
    assert any("The call was not logged" in e and "could not be reached" in e
               for e in errors), errors
    # The POST is never repeated, so whether Outreach kept it is unknown: the rep is told.
    assert [w.value for w in app.warning] == [callform.MAYBE_LOGGED]
    assert not app.exception
    assert typed_values(app) == TYPED
    assert not app.success

    # Once Outreach is back, the same input logs the call with one more click.
    configure_sandbox(fault_rate=0.0)
    submit(app)
    assert len(sandbox.all_calls()) == before + 1
    assert app.success


def test_on_api_v2_the_form_logs_the_call_and_its_lookup_shows_v2s_fields(
        sandbox, monkeypatch, tmp_path):
    set_app_env(monkeypatch, sandbox.base_url, sandbox.full_token, tmp_path / "v2.sqlite",
                now=pinned_now(sandbox))
    monkeypatch.setenv("OUTREACH_API_VERSION", "2")
    app = open_page(PAGE)
    # v2 cannot say whose token it is: the page says so rather than guess a name.
    assert any(t.value.startswith("Logged as the user of Callboard's Outreach token:")
               for t in app.text)
    before = len(sandbox.all_calls())
    submit(fill(app, direction="Inbound"))
    calls = sandbox.all_calls("2")
    assert len(calls) == before + 1
    new = calls[-1]
    assert new["attributes"]["direction"] == "inbound"
    assert (new["attributes"]["from"], new["attributes"]["to"]) == ("+14155550142",
                                                                   "+442079460958")
    assert new["relationships"]["callPurpose"]["data"]["id"] == DISCOVERY
    assert new["relationships"]["callDisposition"]["data"]["id"] == INTERESTED
    assert [s.value for s in app.success] == [
        f"Logged call {new['id']}. It is in the dashboard now."]

    app.query_params["id"] = str(new["id"])
    app.switch_page("pages/lookup.py").run()
    details = fields_shown(app)
    assert (details["Direction"], details["Disposition"], details["Outcome"]) == (
        "Inbound", "Interested", new["attributes"]["outcome"])
    sent = new["attributes"]  # "Interested" answers: the call has a talk time
    seconds = int((pd.Timestamp(sent["completedAt"]) - pd.Timestamp(sent["answeredAt"]))
                  .total_seconds())
    assert seconds > 0 and details["Talk time"] == (
        f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s")


def test_the_log_page_shows_no_filters_and_keeps_them_for_the_overview(full_token_app):
    # The first run (the overview) reads the link; the log page then draws none of its filters
    # and its address holds none of them; back on the overview they are as the link set them.
    app = open_page(PAGE, {"tz": "America/New_York", "range": "Last 7 days", "reps": "2"})
    assert app.title[0].value == "Log a call"
    assert not app.sidebar.multiselect and not app.sidebar.selectbox
    assert not app.sidebar.date_input
    assert "Filters" not in [header.value for header in app.sidebar.header]
    assert not {"tz", "range", "start", "end", "reps"} & set(app.query_params)
    assert app.sidebar.button(key="refresh")  # the sidebar's controls stay
    app.switch_page("pages/overview.py").run()
    assert not app.exception
    assert app.sidebar.selectbox(key="f_tz").value == "America/New_York"
    assert app.sidebar.selectbox(key="f_range").value == "Last 7 days"
    assert app.sidebar.multiselect(key="f_reps").value == [2]
    assert app.query_params["tz"] == "America/New_York" and app.query_params["reps"] == "2"
