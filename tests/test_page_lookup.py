"""The call lookup page through Streamlit's AppTest, against the sandbox over loopback."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd
import pytest

from lib.outreach import NewCall
from tests.apptest_tools import READ_SCOPES, TZ, fields_shown, open_page, set_app_env, shown
from tests.conftest import pinned_now

PAGE = "pages/lookup.py"


@pytest.fixture
def full_token_app(sandbox, monkeypatch, tmp_path_factory):
    # One settings fingerprint for the module, so the app's lookups cache is shared across tests.
    set_app_env(monkeypatch, sandbox.base_url, sandbox.full_token,
                tmp_path_factory.getbasetemp() / "lookup.sqlite", now=pinned_now(sandbox))


@pytest.fixture
def names(client) -> dict[str, dict[int, str]]:
    """The sandbox's own names, read over its API."""
    dispositions = client.list_dispositions()
    return {
        "users": dict(zip(client.list_users()["id"], client.list_users()["name"], strict=True)),
        "purposes": dict(zip(client.list_purposes()["id"], client.list_purposes()["name"],
                             strict=True)),
        "dispositions": dict(zip(dispositions["id"], dispositions["name"], strict=True)),
        "outcomes": dict(zip(dispositions["id"], dispositions["outcome"], strict=True)),
    }


def complete_seeded_call(sandbox, among: Collection[int] | None = None) -> dict:
    """A seeded call (of the ids `among`, if given) with every optional part set, as the
    sandbox keeps it."""
    for record in sandbox.all_calls():
        attributes = record["attributes"]
        if among is not None and record["id"] not in among:
            continue
        if (attributes["purpose"]["id"] and attributes["disposition"]["id"]
                and attributes["prospect"]["id"] and attributes["metadata"]["note"]
                and attributes["connection"]["from"] and attributes["connection"]["to"]):
            return record
    raise AssertionError("the sandbox has no call with every part set")


def expected_fields(record: dict, names: dict) -> dict[str, str]:
    attributes = record["attributes"]
    created = pd.Timestamp(attributes["metadata"]["created"]).tz_convert(TZ)
    disposition = attributes["disposition"]["id"]
    return {
        "Call id": str(record["id"]),
        "Logged": f"{created:%a %d %b %Y, %H:%M:%S} ({TZ})",
        "Rep": names["users"][attributes["user"]["id"]],
        "Direction": "Outbound" if attributes["connection"]["outbound"] else "Inbound",
        "From": attributes["connection"]["from"],
        "To": attributes["connection"]["to"],
        "Prospect id": str(attributes["prospect"]["id"]),
        "Purpose": names["purposes"][attributes["purpose"]["id"]],
        "Disposition": names["dispositions"][disposition],
        "Outcome": names["outcomes"][disposition],
        "Note": attributes["metadata"]["note"],
    }


def look_up(app, typed: str):
    app.text_input(key="lookup_id").input(typed)
    app.form_submit_button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_a_good_id_shows_every_field_with_names(sandbox, full_token_app, names):
    record = complete_seeded_call(sandbox)
    app = look_up(open_page(PAGE), str(record["id"]))
    assert fields_shown(app) == expected_fields(record, names)
    assert app.query_params["id"] == str(record["id"])
    assert not app.error and not app.warning


def test_a_deep_link_fills_the_box_and_a_new_lookup_rewrites_the_link(sandbox, full_token_app,
                                                                      names):
    first, second = sandbox.all_calls()[3], sandbox.all_calls()[-5]
    app = open_page(PAGE, {"id": str(first["id"])})
    assert app.text_input(key="lookup_id").value == str(first["id"])
    assert fields_shown(app)["Call id"] == str(first["id"])
    assert fields_shown(app)["Rep"] == names["users"][first["attributes"]["user"]["id"]]
    # The sidebar's own parameters stay beside ours.
    assert app.query_params["tz"] == TZ

    look_up(app, f" {second['id']} ")
    assert app.query_params["id"] == str(second["id"])
    assert fields_shown(app)["Call id"] == str(second["id"])


def test_an_unknown_id_says_there_is_no_such_call(full_token_app):
    app = look_up(open_page(PAGE), "999999999")
    assert [w.value for w in app.warning] == [
        "Outreach has no call with the id 999999999. Check the number; a call logged a moment "
        "ago has the id shown when it was logged."
    ]
    assert not app.main.text  # no half-drawn call
    assert app.query_params["id"] == "999999999"


@pytest.mark.parametrize("typed", ["abc", "12-34", "4.5"])
def test_a_non_number_is_refused_without_asking_outreach(sandbox, full_token_app, typed):
    app = open_page(PAGE)
    sandbox.reset_request_count()
    look_up(app, typed)
    assert [shown(e.value) for e in app.error] == [
        "A call id is a number, e.g. 4319081. Check what was typed."
    ]
    assert sandbox.request_count == 0
    assert app.text_input(key="lookup_id").value == typed  # kept, to be corrected
    assert "id" not in app.query_params
    assert not app.main.text


def test_a_bad_id_in_a_link_gets_the_same_message(full_token_app):
    app = open_page(PAGE, {"id": "call-7"})
    assert app.text_input(key="lookup_id").value == "call-7"
    assert "is a number" in shown(app.error[0].value)


def test_a_token_without_read_calls_says_which_scope_is_missing(sandbox, monkeypatch, tmp_path):
    token = sandbox.issue_token([s for s in READ_SCOPES if s != "read_calls"], ttl=600)
    set_app_env(monkeypatch, sandbox.base_url, token, tmp_path / "sandbox.sqlite",
                now=pinned_now(sandbox))
    call_id = sandbox.all_calls()[0]["id"]
    app = open_page(PAGE, {"id": str(call_id)})
    errors = [shown(e.value) for e in app.main.error]
    assert any(f"Call {call_id} could not be loaded" in e and "read_calls" in e
               and "not allowed to read calls" in e for e in errors), errors
    assert token not in " ".join(errors)
    assert not app.main.text


def test_an_api_failure_is_a_sentence_not_a_traceback(sandbox, full_token_app,
                                                      configure_sandbox):
    call_id = sandbox.all_calls()[0]["id"]
    app = open_page(PAGE)  # the frame's lookups are read while the API is well
    configure_sandbox(fault_rate=1.0)
    look_up(app, str(call_id))
    assert any(f"Call {call_id} could not be loaded" in shown(e.value) and "could not be reached"
               in shown(e.value) for e in app.error)
    assert not app.exception
    assert not app.main.text


def test_notes_and_numbers_show_as_typed_never_as_markup(sandbox, full_token_app, client):
    note = "<b>bold?</b> <script>alert(1)</script> **stars** [link](https://example.com) $x$"
    created = client.create_call(NewCall(outbound=False, to_number="+15550001111", note=note))
    app = look_up(open_page(PAGE), str(created["id"]))
    shown = fields_shown(app)
    assert shown["Note"] == note
    assert shown["Rep"] == "Dana Whitfield"  # the sandbox token's owner
    assert shown["Direction"] == "Inbound"
    assert shown["Purpose"] == shown["Disposition"] == shown["From"] == "–"
    assert not app.html
    assert not any("<script>" in m.value or "**stars**" in m.value for m in app.markdown)


def test_on_api_v2_a_call_shows_its_talk_time(sandbox, monkeypatch, tmp_path, names):
    set_app_env(monkeypatch, sandbox.base_url, sandbox.full_token, tmp_path / "v2.sqlite",
                now=pinned_now(sandbox))
    monkeypatch.setenv("OUTREACH_API_VERSION", "2")
    answered = {r["id"]: r["attributes"] for r in sandbox.all_calls("2")
                if r["attributes"]["answeredAt"]}
    record = complete_seeded_call(sandbox, among=answered)
    v2 = answered[record["id"]]
    app = look_up(open_page(PAGE), str(record["id"]))
    shown_fields = fields_shown(app)
    seconds = int((pd.Timestamp(v2["completedAt"]) - pd.Timestamp(v2["answeredAt"]))
                  .total_seconds())
    assert seconds > 0
    # The 1.0 page's fields, and the talk time: completed minus answered, by hand.
    assert shown_fields == {**expected_fields(record, names), "Outcome": "Answered",
                            "Talk time": f"{seconds // 60} min {seconds % 60:02d} s"
                            if seconds >= 60 else f"{seconds} s"}


def test_the_lookup_shows_only_the_zone_filter_and_its_link_only_the_zone(sandbox, full_token_app):
    call_id = str(sandbox.all_calls()[3]["id"])
    app = open_page(PAGE, {"id": call_id, "tz": "America/New_York", "range": "Yesterday",
                           "reps": "2"})
    assert [box.label for box in app.sidebar.selectbox] == ["Time zone"]
    assert app.sidebar.selectbox(key="f_tz").value == "America/New_York"
    assert not app.sidebar.multiselect and not app.sidebar.date_input
    assert fields_shown(app)["Logged"].endswith("(America/New_York)")
    assert dict(app.query_params.items()) == {"id": call_id, "tz": "America/New_York"}
    # The dates and reps of the link wait for the overview.
    app.switch_page("pages/overview.py").run()
    assert app.sidebar.selectbox(key="f_range").value == "Yesterday"
    assert app.sidebar.multiselect(key="f_reps").value == [2]


@pytest.mark.parametrize("link", [{"id": "<img src=x>**1**"}, {"id": "-1"},
                                  {"id": "99999999999999999999"},
                                  {"id": "5", "tz": ":red[Mars]\n==="}])
def test_crafted_lookup_links_give_a_sentence(full_token_app, link):
    app = open_page(PAGE, link)
    assert app.text_input(key="lookup_id").value == link["id"]  # kept as the link had it
    said = [shown(message.value) for message in [*app.error, *app.warning, *app.info]]
    assert said, "no sentence"
    if "tz" in link:
        assert any("The link's time zone “:red[Mars] ===” is not one Callboard knows"
                   in sentence.replace("\u2060", "") for sentence in said)
