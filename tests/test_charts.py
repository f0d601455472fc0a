"""The charts' Vega-Lite specs: marks, encodings, colours, selection, and the data they embed."""

import json

import pandas as pd
import pytest

from lib.analytics.charts import (
    INBOUND_COLOUR,
    OUTBOUND_COLOUR,
    OUTCOME_COLOURS,
    disposition_chart,
    heatmap_chart,
    outbound_ratio_chart,
    volume_chart,
)

VOLUME = pd.DataFrame(
    {
        "period": pd.to_datetime(["2026-06-01", "2026-06-08"]),
        "period_end": pd.to_datetime(["2026-06-07", "2026-06-14"]),
        "days": [7, 7],
        "outbound": [3, 0],
        "inbound": [1, 0],
        "total": [4, 0],
        "outbound_ratio": [0.75, float("nan")],
    }
)
MIX = pd.DataFrame(
    {
        "disposition_id": pd.array([None, 1, 4], dtype="Int64"),
        "disposition": ["No disposition", "Meeting booked", "No answer"],
        "outcome": ["No disposition", "Answered", "Not Answered"],
        "count": [2, 1, 1],
        "share": [0.5, 0.25, 0.25],
    }
)
HEATMAP = pd.DataFrame(
    {
        "weekday": [0, 6],
        "weekday_name": ["Mon", "Sun"],
        "hour": [9, 14],
        "calls": [3, 1],
        "outbound": [2, 0],
        "connected": [1, 0],
        "connect_rate": [0.5, float("nan")],
        "reliable": [False, False],
    }
)


def spec(chart) -> dict:
    result = chart.to_dict()
    json.dumps(result)  # what Streamlit sends to the browser must be plain JSON
    return result


def data_of(result: dict) -> list[dict]:
    return result["datasets"][result["data"]["name"]]


def tooltip_titles(result: dict) -> dict[str, str]:
    return {t["field"]: t["title"] for t in result["encoding"]["tooltip"]}


def test_volume_chart_stacks_outbound_over_inbound():
    result = spec(volume_chart(VOLUME))
    assert result["mark"]["type"] == "bar"
    assert result["width"] == "container"
    assert result["transform"][0] == {
        "fold": ["outbound", "inbound"],
        "as": ["direction_key", "calls"],
    }
    encoding = result["encoding"]
    assert encoding["x"]["field"] == "period"
    assert encoding["x"]["timeUnit"] == "yearmonthdate"
    assert encoding["y"] == {
        "field": "calls",
        "type": "quantitative",
        "title": "Calls",
        "stack": "zero",
    }
    assert encoding["color"]["field"] == "direction"
    assert encoding["color"]["scale"] == {
        "domain": ["Outbound", "Inbound"],
        "range": [OUTBOUND_COLOUR, INBOUND_COLOUR],
    }
    assert tooltip_titles(result) == {
        "period": "From",
        "period_end": "To",
        "outbound": "Outbound calls",
        "inbound": "Inbound calls",
        "total": "All calls",
        "outbound_ratio": "Outbound share",
    }


def test_volume_chart_embeds_the_frame_as_is():
    assert data_of(spec(volume_chart(VOLUME))) == [
        {
            "period": "2026-06-01T00:00:00",
            "period_end": "2026-06-07T00:00:00",
            "days": 7,
            "outbound": 3,
            "inbound": 1,
            "total": 4,
            "outbound_ratio": 0.75,
        },
        {
            "period": "2026-06-08T00:00:00",
            "period_end": "2026-06-14T00:00:00",
            "days": 7,
            "outbound": 0,
            "inbound": 0,
            "total": 0,
            "outbound_ratio": None,  # an empty period has no ratio, not 0 %
        },
    ]


def test_outbound_ratio_chart_is_a_line_with_points_sized_by_calls():
    result = spec(outbound_ratio_chart(VOLUME))
    line, points = result["layer"]
    assert line["mark"] == {"type": "line", "color": OUTBOUND_COLOUR, "clip": True}
    assert line["transform"] == [{"filter": "(datum.total >= 20)"}]  # few-call days: no line
    assert points["mark"]["type"] == "circle"
    for layer in (line, points):
        assert layer["encoding"]["x"]["field"] == "period"
        assert layer["encoding"]["y"]["field"] == "outbound_ratio"
        assert layer["encoding"]["y"]["scale"] == {"domain": [0, 1]}
        assert layer["encoding"]["y"]["axis"]["format"] == "%"
        assert tooltip_titles(layer)["outbound_ratio"] == "Outbound share"
    assert points["encoding"]["size"]["field"] == "total"
    # A period built on few calls is drawn pale.
    assert points["encoding"]["opacity"]["condition"]["test"] == "(datum.total >= 20)"
    assert result["width"] == "container"
    assert len(data_of(result)) == 2


def test_disposition_chart_bars_colours_and_selection():
    result = spec(disposition_chart(MIX))
    assert result["mark"]["type"] == "bar"
    encoding = result["encoding"]
    assert encoding["y"]["field"] == "disposition"
    assert encoding["y"]["sort"] is None  # keep the frame's most-frequent-first order
    assert encoding["x"]["field"] == "count"
    assert encoding["color"]["field"] == "outcome"
    colours = dict(
        zip(encoding["color"]["scale"]["domain"], encoding["color"]["scale"]["range"], strict=True)
    )
    assert colours == OUTCOME_COLOURS
    assert colours["Answered"] == "#2ca02c"  # green
    assert colours["Not Answered"] == "#9e9e9e"  # grey
    assert colours["No disposition"] == "#ff7f0e"  # orange
    assert result["params"] == [
        {"name": "disposition", "select": {"type": "point", "fields": ["disposition"]}}
    ]
    assert encoding["opacity"]["condition"]["param"] == "disposition"
    assert tooltip_titles(result) == {
        "disposition": "Disposition",
        "outcome": "Outcome",
        "count": "Calls",
        "share": "Share of calls",
    }
    assert [row["disposition"] for row in data_of(result)] == MIX["disposition"].tolist()
    assert data_of(result)[0]["disposition_id"] is None
    assert result["width"] == "container"


@pytest.mark.parametrize(
    ("value", "scheme", "domain"), [("calls", "blues", None), ("connect_rate", "greens", [0, 1])]
)
def test_heatmap_chart(value, scheme, domain):
    result = spec(heatmap_chart(HEATMAP, value=value))
    assert result["mark"]["type"] == "rect"
    encoding = result["encoding"]
    assert (encoding["x"]["field"], encoding["x"]["type"]) == ("hour", "ordinal")
    assert encoding["y"]["field"] == "weekday_name"
    assert encoding["y"]["sort"] == {"field": "weekday", "order": "ascending"}
    assert encoding["color"]["field"] == value
    assert encoding["color"]["scale"]["scheme"] == scheme
    assert encoding["color"]["scale"].get("domain") == domain
    assert tooltip_titles(result) == {
        "weekday_name": "Day",
        "hour": "Hour",
        "calls": "Calls",
        "outbound": "Outbound calls",
        "connected": "Connected",
        "connect_rate": "Connect rate",
    }
    rows = data_of(result)
    assert [(r["weekday_name"], r["hour"], r["calls"]) for r in rows] == [
        ("Mon", 9, 3),
        ("Sun", 14, 1),
    ]
    assert rows[1]["connect_rate"] is None
    assert result["width"] == "container"


def test_heatmap_connect_rate_on_few_calls_is_pale():
    by_rate = spec(heatmap_chart(HEATMAP, value="connect_rate"))["encoding"]["opacity"]
    assert by_rate["condition"] == {"test": "datum.reliable", "value": 1.0}
    assert by_rate["value"] == 0.35
    assert spec(heatmap_chart(HEATMAP, value="calls"))["encoding"]["opacity"] == {"value": 1.0}


def test_heatmap_chart_rejects_an_unknown_value():
    with pytest.raises(ValueError):
        heatmap_chart(HEATMAP, value="meetings")
