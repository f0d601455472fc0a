"""The outcome mapping edited on its page (AppTest, the sandbox over loopback): every rate on
the overview and in the CLI follows it, counted here from the sandbox's own records."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from lib.display.filters import today_in
from tests.conftest import NOW
from tests.expected_calls import expected_calls
from tests.test_page_overview import TZ, app_env, cards, cli_summary, open_app, percent

__all__ = ["app_env"]  # the fixture, shared with the overview's page tests

# The sandbox's dispositions (lib/sandbox/data.py), written out: 1 Meeting booked, 2 Interested,
# 3 Not interested, 4 Call back later, 5 Wrong person (all Answered), 6 No answer, 7 Left
# voicemail, 8 Busy, 9 Bad number.
ANSWERED = {1, 2, 3, 4, 5}


def counts(calls, connected: set[int], conversation: set[int], positive: set[int]) -> dict:
    """The figures of a mapping, counted from the calls frame by the test itself."""
    outbound = calls[calls["outbound"]]
    talks = outbound[outbound["disposition_id"].isin(conversation)]
    return {
        "connected": int(outbound["disposition_id"].isin(connected).sum()),
        "outbound": len(outbound),
        "conversations": len(talks),
        "positive": int(calls["disposition_id"].isin(positive).sum()),
        "positive_talks": int(talks["disposition_id"].isin(positive).sum()),
    }


def test_the_mapping_edited_in_the_app_changes_every_rate_on_the_page_and_in_the_cli(
        sandbox, app_env):
    today = today_in(TZ, NOW)
    start = today - timedelta(days=29)
    zone = ZoneInfo(TZ)
    calls = expected_calls(sandbox, datetime.combine(start, time(), zone),
                           datetime.combine(today + timedelta(days=1), time(), zone))
    before = cli_summary(sandbox, app_env, start, today)
    default = counts(calls, ANSWERED, {1, 2, 3, 4}, {1, 2})
    assert before["connect_rate"]["numerator"] == default["connected"]
    assert before["conversation_rate"]["numerator"] == default["conversations"]
    assert before["positive"] == default["positive"]
    app = open_app()
    assert cards(app)["Connect rate"][0] == percent(before["connect_rate"])
    assert "by the default mapping" in next(m.help for m in app.metric
                                            if m.label.startswith("Connect rate"))

    # An admin: Not interested is no connect, a voicemail is; Call back later is positive.
    app.switch_page("pages/outcomes.py").run()
    assert not app.exception, [e.value for e in app.exception]
    app.multiselect(key="outcomes_connected").unselect(3).select(7)
    app.multiselect(key="outcomes_positive").select(4)
    next(button for button in app.button if button.label == "Save mapping").click().run()
    assert [s.value for s in app.success] == [
        "Saved. Every rate here uses it now; other replicas within a minute."]

    edited = counts(calls, {1, 2, 4, 5, 7}, {1, 2, 3, 4}, {1, 2, 4})
    assert edited["connected"] != default["connected"]
    after = cli_summary(sandbox, app_env, start, today)  # the CLI reads the same store
    assert after["connect_rate"] == {**after["connect_rate"], "numerator": edited["connected"],
                                     "denominator": edited["outbound"]}
    assert after["positive"] == edited["positive"]
    assert after["positive_rate"]["numerator"] == edited["positive_talks"]
    assert after["conversation_rate"]["numerator"] == edited["conversations"]
    assert after["outcome_mapping"]["connected"] == [
        "Meeting booked", "Interested", "Call back later", "Wrong person", "Left voicemail"]

    app.switch_page("pages/overview.py").run()
    shown = cards(app)
    assert shown["Connect rate"][0] == percent(after["connect_rate"])
    assert shown["Positive rate"][0] == percent(after["positive_rate"])
    assert shown["Conversation rate"][0] == percent(after["conversation_rate"])
    assert "as mapped on the Outcomes page" in next(m.help for m in app.metric
                                                    if m.label.startswith("Connect rate"))

    # Back to the defaults: the store forgets the edit, the figures are the first ones again.
    app.switch_page("pages/outcomes.py").run()
    next(button for button in app.button if button.label == "Back to the defaults").click().run()
    assert [s.value for s in app.success] == ["Back to the defaults."]
    again = cli_summary(sandbox, app_env, start, today)
    assert (again["connect_rate"], again["outcome_mapping"]["edited"]) == (
        before["connect_rate"], [])
