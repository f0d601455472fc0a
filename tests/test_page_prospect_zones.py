"""The overview's heat map switched to the prospect's zone (AppTest), against a sandbox of its
own holding calls to numbers of several zones and calls without a number: the caption's counts
and the chart's cells are `cli summary`'s."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from lib.analytics import prospect_zones
from lib.outreach import NewCall
from tests.apptest_tools import sandbox_with_calls
from tests.test_page_lines import own_env
from tests.test_page_overview import cli_summary, open_app

TOLL_FREE = "+18005550100"  # North America's toll-free plan: every zone of it
LONDON = "+442079460123"
NO_ANSWER = 6


@pytest.fixture
def own_sandbox():
    with sandbox_with_calls(
            *[NewCall(outbound=True, to_number=TOLL_FREE, disposition_id=NO_ANSWER)] * 3,
            NewCall(outbound=True, disposition_id=NO_ANSWER),  # no number
            NewCall(outbound=False, from_number=LONDON, to_number="+12125550100")) as box:
        yield box


def heatmap_cells(app: AppTest) -> dict[tuple[int, int], tuple[int, int, int]]:
    """The heat map's embedded data as (weekday, hour) -> (calls, outbound, connected), cells
    with calls only (the chart is the one Altair chart with those columns)."""
    for chart in app.get("vega_lite_chart"):
        for dataset in chart.proto.datasets:
            table = pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()
            if {"weekday", "hour", "calls", "connected"} <= set(table.columns):
                shown = table[table["calls"] > 0]
                return {(int(r.weekday), int(r.hour)): (int(r.calls), int(r.outbound),
                                                        int(r.connected))
                        for r in shown.itertuples(index=False)}
    raise AssertionError("no heat map on the page")


def test_the_prospect_zone_heat_map_and_its_caption_are_the_clis(own_sandbox, monkeypatch,
                                                                   tmp_path):
    env = own_env(own_sandbox, monkeypatch, tmp_path)
    # The calls were logged at the sandbox's "now": that day is the range.
    today = date.fromisoformat(own_sandbox.all_calls()[-1]["attributes"]["metadata"]["created"]
                               [:10])
    app = open_app({"start": str(today), "end": str(today)})
    in_managers_zone = heatmap_cells(app)
    app.session_state["heat_zone"] = "prospects"
    app.run()
    assert not app.exception, [e.value for e in app.exception]

    summary = cli_summary(own_sandbox, env, today, today)["prospect_zone_heatmap"]
    left_out = summary["left_out"]
    assert left_out["several_zones"]["calls"] >= 3  # the toll-free calls at least
    assert left_out["no_number"]["calls"] >= 1
    caption = next(c.value for c in app.caption if c.value.startswith("Hours in each prospect"))
    assert f": {summary['counted']:,} of {summary['calls']:,} calls, in " in caption
    assert (f"{left_out['several_zones']['calls']:,} calls to "
            f"{left_out['several_zones']['numbers']:,} number") in caption
    assert f"{left_out['no_number']['calls']:,} call" in caption and "with no number" in caption
    if left_out["no_zone"]["calls"]:
        assert (f"{left_out['no_zone']['calls']:,} calls to {left_out['no_zone']['numbers']:,}"
                " number") in caption
    assert summary["counted"] + left_out["several_zones"]["calls"] + left_out["no_zone"][
        "calls"] + left_out["no_number"]["calls"] == summary["calls"]

    cells = heatmap_cells(app)
    assert cells == {(c["weekday"], c["hour"]): (c["calls"], c["connect_rate"]["denominator"],
                                                 c["connect_rate"]["numerator"])
                     for c in summary["cells"]}
    assert cells != in_managers_zone  # the hours moved to the prospects' clocks
    # Every call is in the manager's grid; the prospects' grid holds those placed in a zone.
    assert sum(calls for calls, _, _ in in_managers_zone.values()) == summary["calls"]
    assert sum(calls for calls, _, _ in cells.values()) == summary["counted"]

    # The connect rate's guard: pale cells are named, and the switch back shows the
    # manager's zone again.
    app.session_state["heat_value"] = "Connect rate"
    app.run()
    assert any("Pale cells: fewer than 20 outbound calls." in c.value for c in app.caption)
    app.session_state["heat_zone"] = "yours"
    app.run()
    assert heatmap_cells(app) == in_managers_zone
    assert any(c.value.startswith("Local hours in ") for c in app.caption)
    # The definition is on the subject's hover and in the CLI's summary, word for word.
    subject = next(h for h in app.subheader if h.value == "When do we reach people?")
    assert prospect_zones.DEFINITION in subject.proto.help
    assert summary["definition"] == prospect_zones.DEFINITION
