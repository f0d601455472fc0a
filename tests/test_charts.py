"""What each chart shows, read from its Vega-Lite spec as a browser would use it: the rows it is
given (the analytics' own output for a small hand-written calls frame) in its dataset, which
field is on which channel, the titles, legend and tooltip a person reads, and what the spec's
own transforms and conditions make of those rows (a small Vega expression evaluator below runs
the spec's filters, calculations and opacity tests, so "fewer than MIN_CALLS_FOR_RATE calls is
pale" is checked on a period just below and one at the threshold)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from lib.analytics.breakdowns import disposition_mix, hour_weekday_heatmap, volume_over_time
from lib.analytics.charts import (
    DISPOSITION_SELECTION,
    INBOUND_COLOUR,
    OUTBOUND_COLOUR,
    disposition_chart,
    heatmap_chart,
    outbound_ratio_chart,
    volume_chart,
)
from lib.analytics.figures import MIN_CALLS_FOR_RATE
from lib.analytics.overview import selected_dispositions

TZ = "Europe/Berlin"  # UTC+2 in June: local hours and days differ from UTC ones
MON, TUE, WED, THU = (date(2026, 6, d) for d in (1, 2, 3, 4))

DISPOSITIONS = pd.DataFrame({
    "id": pd.Series([1, 2, 3], dtype="int64"),
    "name": pd.Series(["Meeting booked", "No answer", "Left voicemail"], dtype=object),
    "order": pd.Series([1, 2, 3], dtype="Int64"),
    "outcome": pd.Series(["Answered", "Not Answered", "Not Answered"], dtype=object),
})


def calls_frame(calls: list[tuple[date, int, int, bool, int | None]]) -> pd.DataFrame:
    """A calls frame of (local day, local hour, minute, outbound, disposition id) in TZ."""
    zone = ZoneInfo(TZ)
    created = [datetime(d.year, d.month, d.day, h, m, tzinfo=zone).astimezone(UTC)
               for d, h, m, _, _ in calls]
    return pd.DataFrame({
        "id": pd.Series(range(1, len(calls) + 1), dtype="int64"),
        "created_at": pd.Series(created, dtype="datetime64[ns, UTC]"),
        "user_id": pd.Series([5] * len(calls), dtype="Int64"),
        "outbound": pd.Series([c[3] for c in calls], dtype=bool),
        "disposition_id": pd.Series([c[4] for c in calls], dtype="Int64"),
    })


# Seven calls over Monday to Wednesday (local days in TZ):
CALLS = calls_frame([
    (MON, 9, 10, True, 1),  # Meeting booked (Answered)
    (MON, 9, 40, True, 2),  # No answer
    (MON, 14, 5, False, None),  # inbound, no disposition
    (TUE, 1, 30, False, 99),  # Tuesday 01:30 local is Monday 23:30 UTC; a disposition not listed
    (TUE, 10, 0, True, 2),
    (TUE, 10, 20, True, 2),
    (TUE, 16, 0, True, 1),
])


def few_and_enough(days: dict[date, int]) -> pd.DataFrame:
    """That many outbound calls on each day, all at 09:xx local, every third one answered."""
    return calls_frame([(day, 9, minute % 60, True, 1 if minute % 3 == 0 else 2)
                        for day, count in days.items() for minute in range(count)])


def spec(chart) -> dict:
    # What Streamlit sends to the browser: plain JSON.
    return json.loads(json.dumps(chart.to_dict()))


def dataset(result: dict) -> list[dict]:
    return result["datasets"][result["data"]["name"]]


def tooltips(layer: dict) -> dict[str, tuple[str, str, str | None]]:
    """field -> (title, type, format) of each tooltip entry."""
    return {t["field"]: (t["title"], t["type"], t.get("format"))
            for t in layer["encoding"]["tooltip"]}


def channel(layer: dict, name: str) -> tuple[str, str, str | None]:
    """(field, type, title) on an encoding channel."""
    entry = layer["encoding"][name]
    return entry["field"], entry["type"], entry.get("title")


# ----- a small evaluator of Vega expressions and Vega-Lite transforms -----

_TOKENS = re.compile(r"""\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<name>[A-Za-z_$][\w$]*)
    |(?P<op>===|!==|==|!=|>=|<=|&&|\|\||[-+*/%<>!?:().\[\]]))""", re.VERBOSE)
_BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "===": 3, "!==": 3,
           "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}


def _apply(op: str, a: Any, b: Any) -> Any:
    if op in ("===", "!=="):
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        same = a == b and (numbers or type(a) is type(b))
        return same if op == "===" else not same
    if op in ("==", "!="):
        return (a == b) if op == "==" else (a != b)
    if op in ("<", "<=", ">", ">="):
        if a is None or b is None:  # JavaScript: a comparison with null/undefined data fails
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    return a % b


class _Parser:
    """Reads a Vega expression into a tree of tuples: ("const", v), ("datum",),
    ("get", base, key), ("not", x), ("neg", x), (op, a, b), ("?", test, yes, no)."""

    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while text[position:].strip():
            match = _TOKENS.match(text, position)
            if match is None:
                raise ValueError(f"cannot read {text[position:]!r} in {text!r}")
            self.tokens.append((match.lastgroup, match.group(match.lastgroup)))
            position = match.end()
        self.tokens.append(("end", ""))
        self.at = 0

    def peek(self) -> str:
        return self.tokens[self.at][1]

    def take(self, expected: str | None = None) -> tuple[str, str]:
        kind, value = self.tokens[self.at]
        if expected is not None and value != expected:
            raise ValueError(f"expected {expected!r}, found {value!r} in {self.text!r}")
        self.at += 1
        return kind, value

    def whole(self) -> tuple:
        tree = self.ternary()
        self.take("")
        return tree

    def ternary(self) -> tuple:
        test = self.binary(1)
        if self.peek() != "?":
            return test
        self.take("?")
        yes = self.ternary()
        self.take(":")
        return ("?", test, yes, self.ternary())

    def binary(self, level: int) -> tuple:
        left = self.unary()
        while self.tokens[self.at][0] == "op" and _BINARY.get(self.peek(), 0) >= level:
            op = self.take()[1]
            left = (op, left, self.binary(_BINARY[op] + 1))
        return left

    def unary(self) -> tuple:
        if self.peek() in ("!", "-"):
            op = self.take()[1]
            return ("not" if op == "!" else "neg", self.unary())
        node = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                node = ("get", node, ("const", self.take()[1]))
            else:
                node = ("get", node, self.ternary())
                self.take("]")
        return node

    def primary(self) -> tuple:
        kind, value = self.take()
        if kind == "num":
            number = float(value)
            return ("const", int(number) if number.is_integer() else number)
        if kind == "str":
            return ("const", json.loads('"' + value[1:-1].replace('"', '\\"') + '"'))
        if kind == "name" and value == "datum":
            return ("datum",)
        if kind == "name" and value in ("true", "false", "null"):
            return ("const", {"true": True, "false": False, "null": None}[value])
        if value == "(":
            inner = self.ternary()
            self.take(")")
            return inner
        raise ValueError(f"unsupported {value!r} in {self.text!r}")


def _evaluate(tree: tuple, datum: dict) -> Any:
    kind = tree[0]
    if kind == "const":
        return tree[1]
    if kind == "datum":
        return datum
    if kind == "get":
        base = _evaluate(tree[1], datum)
        return base.get(_evaluate(tree[2], datum)) if isinstance(base, dict) else None
    if kind == "not":
        return not _evaluate(tree[1], datum)
    if kind == "neg":
        return -_evaluate(tree[1], datum)
    if kind == "?":
        branch = tree[2] if _evaluate(tree[1], datum) else tree[3]
        return _evaluate(branch, datum)
    left = _evaluate(tree[1], datum)
    if kind == "&&":
        return left and _evaluate(tree[2], datum)
    if kind == "||":
        return left or _evaluate(tree[2], datum)
    return _apply(kind, left, _evaluate(tree[2], datum))


def vega_expression(text: str) -> Callable[[dict], Any]:
    """A Vega expression (the subset Vega-Lite writes for filters, calculations and
    conditions) as a function of one datum."""
    tree = _Parser(text).whole()
    return lambda datum: _evaluate(tree, datum)


def transformed(rows: list[dict], transforms: list[dict]) -> list[dict]:
    """The rows after Vega-Lite's fold, calculate and filter transforms, in order."""
    for step in transforms:
        if "fold" in step:
            key, value = step.get("as", ["key", "value"])
            rows = [{**row, key: name, value: row[name]} for row in rows for name in step["fold"]]
        elif "calculate" in step:
            compute = vega_expression(step["calculate"])
            rows = [{**row, step["as"]: compute(row)} for row in rows]
        elif "filter" in step:
            keep = vega_expression(step["filter"])
            rows = [row for row in rows if keep(row)]
        else:
            raise AssertionError(f"a transform this test does not know: {step}")
    return rows


def drawn(result: dict, layer: dict | None = None) -> list[dict]:
    """The rows a mark is drawn from: the chart's dataset through its and the layer's
    transforms."""
    rows = transformed(dataset(result), result.get("transform", []))
    return transformed(rows, (layer or {}).get("transform", []))


def opacity(layer: dict, datum: dict, selected: bool = False) -> float:
    """The opacity a datum is drawn with: a test condition is evaluated on it, a selection
    condition holds when the datum is selected."""
    entry = layer["encoding"]["opacity"]
    condition = entry.get("condition")
    if condition is not None:
        holds = (vega_expression(condition["test"])(datum) if "test" in condition
                 else selected)
        if holds:
            return condition["value"]
    return entry["value"]


def test_the_evaluator_reads_what_vega_lite_writes():
    # The evaluator is only as good as its reading of the expressions the charts use.
    assert vega_expression("(datum.total >= 20)")({"total": 20}) is True
    assert vega_expression("(datum.total >= 20)")({"total": 19}) is False
    assert vega_expression("(datum.total >= 20)")({"total": None}) is False
    assert vega_expression("datum.reliable")({"reliable": False}) is False
    pick = vega_expression("datum.k === 'outbound' ? 'Outbound' : 'Inbound'")
    assert (pick({"k": "outbound"}), pick({"k": "inbound"})) == ("Outbound", "Inbound")
    assert vega_expression("!(datum['a'] < 2 && datum.b == null) || 1 + 2 * 3 === 7")(
        {"a": 1, "b": None}) is True


# ----- call volume per period -----

# The volume of CALLS, Monday to Wednesday, counted by hand (local days in TZ).
VOLUME_ROWS = [
    {"period": "2026-06-01T00:00:00", "period_end": "2026-06-01T00:00:00", "days": 1,
     "outbound": 2, "inbound": 1, "total": 3, "outbound_ratio": 2 / 3},
    {"period": "2026-06-02T00:00:00", "period_end": "2026-06-02T00:00:00", "days": 1,
     "outbound": 3, "inbound": 1, "total": 4, "outbound_ratio": 0.75},
    {"period": "2026-06-03T00:00:00", "period_end": "2026-06-03T00:00:00", "days": 1,
     "outbound": 0, "inbound": 0, "total": 0, "outbound_ratio": None},  # no calls: no share
]
PERIOD_TOOLTIPS = {
    "period": ("From", "temporal"),
    "period_end": ("To", "temporal"),
    "outbound": ("Outbound calls", "quantitative"),
    "inbound": ("Inbound calls", "quantitative"),
    "total": ("All calls", "quantitative"),
    "outbound_ratio": ("Outbound share", "quantitative"),
}


def volume(calls=CALLS, start=MON, end=WED, freq="D") -> pd.DataFrame:
    return volume_over_time(calls, TZ, start, end, freq)


def test_volume_chart_embeds_each_periods_counts():
    assert dataset(spec(volume_chart(volume()))) == VOLUME_ROWS


def test_volume_chart_draws_outbound_and_inbound_bars_stacked_per_period():
    result = spec(volume_chart(volume()))
    assert result["mark"]["type"] == "bar"
    # One band per period on x, calls on y, the segments stacked from zero to the period's total.
    x, y = result["encoding"]["x"], result["encoding"]["y"]
    assert (x["field"], x["type"], x["timeUnit"], x["title"]) == (
        "period", "ordinal", "yearmonthdate", "Period starting")
    assert (y["type"], y["title"], y["stack"]) == ("quantitative", "Calls", "zero")
    bars = drawn(result)
    direction, _, legend_title = channel(result, "color")
    assert legend_title == "Direction"
    assert sorted((b["period"][:10], b[direction], b[y["field"]]) for b in bars) == [
        ("2026-06-01", "Inbound", 1), ("2026-06-01", "Outbound", 2),
        ("2026-06-02", "Inbound", 1), ("2026-06-02", "Outbound", 3),
        ("2026-06-03", "Inbound", 0), ("2026-06-03", "Outbound", 0),
    ]
    for row in VOLUME_ROWS:
        assert sum(b[y["field"]] for b in bars if b["period"] == row["period"]) == row["total"]
    # The legend names both directions, in the order the segments stack, in the page's colours.
    scale = result["encoding"]["color"]["scale"]
    assert scale["domain"] == ["Outbound", "Inbound"]
    assert {b[direction] for b in bars} == set(scale["domain"])
    assert dict(zip(scale["domain"], scale["range"], strict=True)) == {
        "Outbound": OUTBOUND_COLOUR, "Inbound": INBOUND_COLOUR}
    assert OUTBOUND_COLOUR != INBOUND_COLOUR
    order = result["encoding"]["order"]
    stacked = sorted(scale["domain"], reverse=order.get("sort") == "descending")
    assert order["field"] == direction and stacked == scale["domain"]


def test_volume_chart_tooltip_names_every_count_of_the_period():
    entries = tooltips(spec(volume_chart(volume())))
    assert {field: entry[:2] for field, entry in entries.items()} == PERIOD_TOOLTIPS
    assert entries["outbound_ratio"][2].endswith("%")  # a share is read as a percentage
    assert all(entries[f][2] == "," for f in ("outbound", "inbound", "total"))


def test_volume_chart_per_week_embeds_the_partial_weeks():
    # Wed 3 June to Tue 16 June per week: the first and last weeks are partial.
    weeks = volume(start=WED, end=date(2026, 6, 16), freq="W")
    rows = dataset(spec(volume_chart(weeks)))
    assert [(r["period"][:10], r["period_end"][:10], r["days"], r["total"]) for r in rows] == [
        ("2026-06-01", "2026-06-07", 5, 0), ("2026-06-08", "2026-06-14", 7, 0),
        ("2026-06-15", "2026-06-16", 2, 0)]


# ----- outbound share per period -----


def test_outbound_ratio_chart_plots_each_periods_share_on_a_0_to_100_percent_axis():
    result = spec(outbound_ratio_chart(volume()))
    assert dataset(result) == VOLUME_ROWS
    line, points = result["layer"]
    assert (line["mark"]["type"], points["mark"]["type"]) == ("line", "circle")
    for layer in (line, points):
        assert channel(layer, "x")[:2] == ("period", "ordinal")
        assert channel(layer, "y") == ("outbound_ratio", "quantitative", "Outbound share")
        y = layer["encoding"]["y"]
        assert y["scale"]["domain"] == [0, 1] and y["axis"]["format"].endswith("%")
        assert {f: e[:2] for f, e in tooltips(layer).items()} == PERIOD_TOOLTIPS
    # Each point is as big as its period's calls; line and points in the outbound colour.
    assert channel(points, "size") == ("total", "quantitative", "Calls")
    assert line["mark"]["color"] == points["mark"]["color"] == OUTBOUND_COLOUR


def test_outbound_ratio_chart_pales_and_leaves_off_the_line_periods_of_few_calls():
    enough, few = MIN_CALLS_FOR_RATE, MIN_CALLS_FOR_RATE - 1
    calls = few_and_enough({MON: enough, TUE: few, WED: 1, THU: enough + 5})
    result = spec(outbound_ratio_chart(volume(calls, MON, THU)))
    line, points = result["layer"]
    totals = {row["period"][:10]: row["total"] for row in dataset(result)}
    assert totals == {"2026-06-01": enough, "2026-06-02": few, "2026-06-03": 1,
                      "2026-06-04": enough + 5}
    # The line joins only the periods with enough calls...
    assert [row["period"][:10] for row in drawn(result, line)] == ["2026-06-01", "2026-06-04"]
    # ...and every period has a point, pale when built on fewer calls than that.
    shades = {row["period"][:10]: opacity(points, row) for row in drawn(result, points)}
    assert shades["2026-06-01"] == shades["2026-06-04"] == 1.0
    assert shades["2026-06-02"] == shades["2026-06-03"] < 0.5


# ----- disposition mix -----

# The disposition mix of CALLS, by hand: most frequent first; ties by name.
MIX_ROWS = [
    {"disposition_id": 2, "disposition": "No answer", "outcome": "Not Answered", "count": 3,
     "share": 3 / 7},
    {"disposition_id": 1, "disposition": "Meeting booked", "outcome": "Answered", "count": 2,
     "share": 2 / 7},
    {"disposition_id": None, "disposition": "No disposition", "outcome": "No disposition",
     "count": 1, "share": 1 / 7},
    {"disposition_id": 99, "disposition": "Unknown disposition 99", "outcome": "Unknown",
     "count": 1, "share": 1 / 7},
]


def mix_spec() -> dict:
    return spec(disposition_chart(disposition_mix(CALLS, DISPOSITIONS)))


def test_disposition_chart_embeds_the_mix_most_frequent_first():
    rows = dataset(mix_spec())
    assert [{**r, "share": pytest.approx(r["share"])} for r in MIX_ROWS] == rows


def test_disposition_chart_draws_a_bar_per_disposition_in_the_mixs_order():
    result = mix_spec()
    assert result["mark"]["type"] == "bar"
    assert channel(result, "y") == ("disposition", "nominal", "Disposition")
    assert result["encoding"]["y"]["sort"] is None  # top to bottom as embedded: most first
    assert channel(result, "x") == ("count", "quantitative", "Calls")
    assert {f: e[:2] for f, e in tooltips(result).items()} == {
        "disposition": ("Disposition", "nominal"),
        "outcome": ("Outcome", "nominal"),
        "count": ("Calls", "quantitative"),
        "share": ("Share of calls", "quantitative"),
    }
    assert tooltips(result)["share"][2].endswith("%")


def test_disposition_chart_colours_every_outcome_from_its_legend():
    result = mix_spec()
    assert channel(result, "color") == ("outcome", "nominal", "Outcome")
    scale = result["encoding"]["color"]["scale"]
    colours = dict(zip(scale["domain"], scale["range"], strict=True))
    # Every outcome a bar can have is a legend entry with a colour of its own.
    assert {"Answered", "Not Answered", "No disposition", "Unknown"} <= set(colours)
    assert {row["outcome"] for row in dataset(result)} <= set(colours)
    assert len(set(colours.values())) == len(colours)


def test_clicking_a_bar_selects_its_disposition_for_the_calls_table():
    result = mix_spec()
    selections = [p for p in result["params"] if "select" in p]
    assert [(p["name"], p["select"]["type"]) for p in selections] == [
        (DISPOSITION_SELECTION, "point")]
    fields = selections[0]["select"]["fields"]
    assert fields == ["disposition"]
    # Streamlit's on_select reports the clicked point's fields under the parameter's name; the
    # page turns that into the dispositions to show.
    clicked = dataset(result)[1]
    event = {"selection": {selections[0]["name"]: [{f: clicked[f] for f in fields}]}}
    assert selected_dispositions(event) == ["Meeting booked"]
    # The clicked bar stays full, the others fade.
    condition = result["encoding"]["opacity"]["condition"]
    assert condition["param"] == DISPOSITION_SELECTION
    assert opacity(result, clicked, selected=True) == 1.0
    assert opacity(result, clicked, selected=False) < 1.0


# ----- hour by weekday -----

# The cells of CALLS with calls in them, by hand: (day, local hour) -> calls, outbound,
# connected, connect rate. Every other of the 7 × 24 cells is empty.
HEAT_CELLS = {
    ("Mon", 9): (2, 2, 1, 0.5),
    ("Mon", 14): (1, 0, 0, None),  # no outbound calls: no connect rate
    ("Tue", 1): (1, 0, 0, None),
    ("Tue", 10): (2, 2, 0, 0.0),
    ("Tue", 16): (1, 1, 1, 1.0),
}


@pytest.mark.parametrize("value", ["calls", "connect_rate"])
def test_heatmap_embeds_every_weekday_and_hour(value):
    rows = dataset(spec(heatmap_chart(hour_weekday_heatmap(CALLS, DISPOSITIONS, TZ), value)))
    assert len(rows) == 7 * 24
    assert len({(r["weekday_name"], r["hour"]) for r in rows}) == 7 * 24
    filled = {(r["weekday_name"], r["hour"]): (r["calls"], r["outbound"], r["connected"],
                                               r["connect_rate"])
              for r in rows if r["calls"]}
    assert filled == HEAT_CELLS
    assert all(r["connect_rate"] is None for r in rows if not r["outbound"])


@pytest.mark.parametrize(("value", "title"), [("calls", "Calls"),
                                              ("connect_rate", "Connect rate")])
def test_heatmap_puts_hours_across_weekdays_down_and_shades_by_the_chosen_value(value, title):
    result = spec(heatmap_chart(hour_weekday_heatmap(CALLS, DISPOSITIONS, TZ), value))
    assert result["mark"]["type"] == "rect"
    assert channel(result, "x") == ("hour", "ordinal", "Hour (local time)")
    assert channel(result, "y")[:2] == ("weekday_name", "ordinal")
    # Weekdays read Monday first, whatever order their names sort in.
    sort = result["encoding"]["y"]["sort"]
    rows = sorted(dataset(result), key=lambda r: r[sort["field"]],
                  reverse=sort["order"] == "descending")
    assert list(dict.fromkeys(r["weekday_name"] for r in rows)) == [
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert channel(result, "color") == (value, "quantitative", title)
    assert {f: e[:2] for f, e in tooltips(result).items()} == {
        "weekday_name": ("Day", "nominal"),
        "hour": ("Hour", "ordinal"),
        "calls": ("Calls", "quantitative"),
        "outbound": ("Outbound calls", "quantitative"),
        "connected": ("Connected", "quantitative"),
        "connect_rate": ("Connect rate", "quantitative"),
    }
    assert tooltips(result)["connect_rate"][2].endswith("%")


def test_heatmap_connect_rate_is_on_a_fixed_0_to_100_percent_scale():
    # The same shade means the same rate on any range: the scale does not stretch to the data.
    colour = spec(heatmap_chart(hour_weekday_heatmap(CALLS, DISPOSITIONS, TZ),
                                "connect_rate"))["encoding"]["color"]
    assert colour["scale"]["domain"] == [0, 1]
    assert colour["legend"]["format"].endswith("%")


def test_heatmap_connect_rate_on_few_outbound_calls_is_pale():
    enough, few = MIN_CALLS_FOR_RATE, MIN_CALLS_FOR_RATE - 1
    heat = hour_weekday_heatmap(few_and_enough({MON: few, TUE: enough}), DISPOSITIONS, TZ)
    by_rate = spec(heatmap_chart(heat, "connect_rate"))
    cells = {(r["weekday_name"], r["hour"]): r for r in dataset(by_rate)}
    assert (cells["Mon", 9]["outbound"], cells["Tue", 9]["outbound"]) == (few, enough)
    assert opacity(by_rate, cells["Tue", 9]) == 1.0
    assert opacity(by_rate, cells["Mon", 9]) < 0.5
    # Shaded by calls, nothing is pale: a count needs no minimum.
    by_calls = spec(heatmap_chart(heat, "calls"))
    assert {opacity(by_calls, r) for r in dataset(by_calls)} == {1.0}


def test_heatmap_chart_rejects_an_unknown_value():
    with pytest.raises(ValueError):
        heatmap_chart(hour_weekday_heatmap(CALLS, DISPOSITIONS, TZ), value="meetings")


def test_few_and_enough_builds_what_it_says():
    # The helper the pale-period tests stand on.
    calls = few_and_enough({MON: 3, TUE: 1})
    assert len(calls) == 4 and calls["outbound"].all()
    local = calls["created_at"].dt.tz_convert(TZ)
    assert list(local.dt.date) == [MON, MON, MON, TUE] and set(local.dt.hour) == {9}
    assert list(calls["disposition_id"]) == [1, 2, 2, 1]
