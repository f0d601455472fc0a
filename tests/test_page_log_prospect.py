"""Finding the prospect by name or e-mail on the "Log a call" page (AppTest, sandbox over
loopback): choosing one fills the form, and the call is logged against them."""

from __future__ import annotations

import pytest

from tests.apptest_tools import READ_SCOPES, open_page, set_app_env, shown
from tests.conftest import pinned_now
from tests.test_page_log_call import PAGE, submit

SEARCH, CHOICE = "log_prospect_search", "log_prospect_choice"


@pytest.fixture
def app_env(sandbox, monkeypatch, tmp_path_factory):
    set_app_env(monkeypatch, sandbox.base_url, sandbox.full_token,
                tmp_path_factory.getbasetemp() / "log_prospect.sqlite", now=pinned_now(sandbox))


def _someone_with_namesakes(sandbox):
    """A seeded prospect who shares their name with others, and all of them (ids in order)."""
    by_name: dict[tuple[str, str], list] = {}
    for p in sandbox.prospects():
        by_name.setdefault((p.first_name, p.last_name), []).append(p)
    group = next(group for group in by_name.values() if 2 <= len(group) <= 20)
    return group[-1], group


def _lines_of(choice, prospects) -> list[str]:
    """The option naming each prospect (by their e-mail, which no two share), checked to say
    who they are: name, title, company, e-mail and number, as written here by hand."""
    assert len(choice.options) == len(prospects)
    lines = []
    for p in prospects:
        [line] = [option for option in choice.options if f" · {p.email} · " in option]
        assert line.startswith(f"{p.first_name} {p.last_name} ({p.title}, {p.company}) · ")
        lines.append(line)
    return lines


def _search(app, text: str):
    app.text_input(key=SEARCH).input(text).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_a_name_lists_every_namesake_and_the_choice_fills_the_form(sandbox, app_env):
    target, namesakes = _someone_with_namesakes(sandbox)
    app = _search(open_page(PAGE), f"{target.first_name.lower()} {target.last_name}")
    choice = app.selectbox(key=CHOICE)
    assert choice.value is None  # nothing is chosen for the rep
    _lines_of(choice, namesakes)  # each line tells the namesakes apart
    assert choice.label == f"Prospect ({len(namesakes)} found)"

    choice.select(target.id).run()
    assert app.text_input(key="log_prospect").value == str(target.id)
    # The number is put in at submit, where the rep left it empty: see below.
    assert app.text_input(key="log_to_number").value == ""
    assert [t.value for t in app.text if t.value.startswith(
        f"{target.first_name} {target.last_name} is filled in below as prospect {target.id}; "
        "the call is to (or from) +")]

    app.radio(key="log_direction").set_value("Outbound")
    before = len(sandbox.all_calls())
    submit(app)
    assert len(sandbox.all_calls()) == before + 1
    logged = sandbox.all_calls()[-1]["attributes"]
    assert logged["prospect"]["id"] == target.id
    assert logged["connection"]["to"] == target.phone
    # Logged: the next call is most often to someone else, so the search starts again.
    assert app.text_input(key=SEARCH).value == ""
    assert app.text_input(key="log_prospect").value == ""
    assert not app.selectbox(key="log_purpose").value  # nothing was picked there


def test_an_e_mail_finds_one_and_a_number_typed_already_is_kept(sandbox, app_env):
    # (A browser keeps what was typed in the form while the search runs; AppTest does not
    # model that, so here the number is typed after: tests/browser/test_log_call.py types it
    # before.)
    target = sandbox.prospects()[7]
    app = _search(open_page(PAGE), target.email.upper())
    choice = app.selectbox(key=CHOICE)
    _lines_of(choice, [target])
    assert choice.label == "Prospect (1 found)"
    choice.select(target.id).run()
    assert app.text_input(key="log_prospect").value == str(target.id)
    app.text_input(key="log_to_number").input("+1 212 555 0199")
    app.radio(key="log_direction").set_value("Outbound")
    submit(app)
    logged = sandbox.all_calls()[-1]["attributes"]
    assert (logged["prospect"]["id"], logged["connection"]["to"]) == (target.id, "+12125550199")


def test_an_inbound_call_from_the_chosen_prospect_is_from_their_number(sandbox, app_env):
    target = sandbox.prospects()[9]
    app = _search(open_page(PAGE), target.email)
    app.selectbox(key=CHOICE).select(target.id).run()
    app.text_input(key="log_from_number").input("")
    app.text_input(key="log_to_number").input("(415) 555-0142")
    app.radio(key="log_direction").set_value("Inbound")
    submit(app)
    logged = sandbox.all_calls()[-1]["attributes"]
    assert logged["connection"] == {"outbound": False, "from": target.phone,
                                    "to": "+14155550142"}
    assert logged["prospect"]["id"] == target.id


def test_a_prospect_id_typed_over_the_choice_wins_and_takes_no_number(sandbox, app_env):
    target = sandbox.prospects()[11]
    app = _search(open_page(PAGE), target.email)
    app.selectbox(key=CHOICE).select(target.id).run()
    app.text_input(key="log_prospect").input("200012")
    app.radio(key="log_direction").set_value("Outbound")
    submit(app)
    logged = sandbox.all_calls()[-1]["attributes"]
    assert (logged["prospect"]["id"], logged["connection"]["to"]) == (200012, None)


def test_a_common_name_says_there_are_more_and_a_stranger_says_none(sandbox, app_env):
    first = sandbox.prospects()[0].first_name
    app = _search(open_page(PAGE), first)
    assert app.selectbox(key=CHOICE).label == (
        "Prospect (20 found; there are more, type more of the name to narrow them)")
    _search(app, "Zzyzx Quarternion")
    assert CHOICE not in [box.key for box in app.selectbox]  # no list to choose from
    assert any(t.value.startswith("No prospect in Outreach has the name or e-mail "
                                  "“Zzyzx Quarternion”.") for t in app.text)
    _search(app, "Z")
    assert [c.value for c in app.caption if "at least two" in c.value]
    assert not app.exception


def test_without_the_prospect_scope_the_page_says_so_and_still_logs_by_id(sandbox,
                                                                          monkeypatch,
                                                                          tmp_path):
    token = sandbox.issue_token([*READ_SCOPES, "create_calls"], ttl=600)
    set_app_env(monkeypatch, sandbox.base_url, token, tmp_path / "sandbox.sqlite",
                now=pinned_now(sandbox))
    app = _search(open_page(PAGE), "Maya Okafor")
    notes = [shown(i.value) for i in app.info]
    assert any("read_prospects" in n and "type the prospect's id below" in n
               for n in notes), notes
    assert token not in " ".join(notes)
    app.text_input(key="log_prospect").input("200012")
    app.radio(key="log_direction").set_value("Inbound")
    submit(app)
    assert sandbox.all_calls()[-1]["attributes"]["prospect"]["id"] == 200012


def test_on_api_v2_the_search_finds_the_same_prospect(sandbox, app_env, monkeypatch):
    monkeypatch.setenv("OUTREACH_API_VERSION", "2")
    target, namesakes = _someone_with_namesakes(sandbox)
    app = _search(open_page(PAGE), f"{target.last_name}, {target.first_name}")
    _lines_of(app.selectbox(key=CHOICE), namesakes)
    app.selectbox(key=CHOICE).select(target.id).run()
    assert app.text_input(key="log_prospect").value == str(target.id)


def test_after_an_outbound_call_an_inbound_one_from_a_prospect_comes_in_on_the_kept_line(
        sandbox, app_env):
    first, second = sandbox.prospects()[13], sandbox.prospects()[14]
    app = _search(open_page(PAGE), first.email)
    app.selectbox(key=CHOICE).select(first.id).run()
    app.text_input(key="log_from_number").input("(415) 555-0142")
    app.radio(key="log_direction").set_value("Outbound")
    submit(app)
    assert app.text_input(key="log_from_number").value == "(415) 555-0142"  # kept

    _search(app, second.email)
    app.selectbox(key=CHOICE).select(second.id).run()
    app.radio(key="log_direction").set_value("Inbound")
    submit(app)
    logged = sandbox.all_calls()[-1]["attributes"]
    assert logged["connection"] == {"outbound": False, "from": second.phone,
                                    "to": "+14155550142"}
    assert logged["prospect"]["id"] == second.id


def test_a_new_search_says_the_prospect_chosen_before_is_still_in_the_form(sandbox, app_env):
    first, second = sandbox.prospects()[15], sandbox.prospects()[16]
    app = _search(open_page(PAGE), first.email)
    app.selectbox(key=CHOICE).select(first.id).run()
    _search(app, second.email)
    assert app.selectbox(key=CHOICE).value is None  # the new list: nobody chosen yet
    assert [shown(w.value) for w in app.warning] == [
        f"Still in the form below: {first.first_name} {first.last_name}, prospect {first.id}, "
        "chosen before. Choose from this list to replace them."]
    # What the form shows is what is logged: the first prospect, on their number.
    app.radio(key="log_direction").set_value("Outbound")
    submit(app)
    logged = sandbox.all_calls()[-1]["attributes"]
    assert (logged["prospect"]["id"], logged["connection"]["to"]) == (first.id, first.phone)

    # Choosing from the new list replaces them, and the note goes.
    _search(app, second.email)
    app.selectbox(key=CHOICE).select(second.id).run()
    assert app.text_input(key="log_prospect").value == str(second.id)
    assert not app.warning
