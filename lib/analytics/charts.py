"""Callboard's charts: the analytics' frames in, Altair charts out (no Streamlit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import altair as alt
import pandas as pd

from lib.analytics.figures import MIN_CALLS_FOR_RATE
from lib.analytics.lines import NO_LINE, LineHealth

# One palette for every page, so outbound, answered etc. look the same wherever they appear.
OUTBOUND_COLOUR = "#1f77b4"
INBOUND_COLOUR = "#9ecae1"
OUTCOME_COLOURS = {
    "Answered": "#2ca02c",
    "Not Answered": "#9e9e9e",
    "No disposition": "#ff7f0e",
    "Unknown": "#c7c7c7",
}
DISPOSITION_SELECTION = "disposition"
"""Name of the disposition chart's selection; Streamlit's on_select reports it under this key."""

_DIRECTION_SCALE = alt.Scale(
    domain=["Outbound", "Inbound"], range=[OUTBOUND_COLOUR, INBOUND_COLOUR]
)
_PERIOD_AXIS = alt.Axis(format="%d %b", labelAngle=0, labelOverlap=True)


def volume_chart(volume: pd.DataFrame) -> alt.Chart:
    """Stacked bars of outbound and inbound calls per period (a `volume_over_time` frame)."""
    return (
        alt.Chart(volume)
        # Folding in the chart keeps the embedded data the frame itself, one row per period.
        .transform_fold(["outbound", "inbound"], as_=["direction_key", "calls"])
        .transform_calculate(
            direction="datum.direction_key === 'outbound' ? 'Outbound' : 'Inbound'"
        )
        .mark_bar()
        .encode(
            # Ordinal time: one band per period, so day and week bars both fill their slot.
            x=alt.X("yearmonthdate(period):O", title="Period starting", axis=_PERIOD_AXIS),
            y=alt.Y("calls:Q", title="Calls", stack="zero"),
            color=alt.Color("direction:N", title="Direction", scale=_DIRECTION_SCALE),
            order=alt.Order("direction:N", sort="descending"),
            tooltip=_period_tooltip(),
        )
        .properties(width="container")
    )


def outbound_ratio_chart(volume: pd.DataFrame) -> alt.LayerChart:
    """Outbound share of calls per period (a `volume_over_time` frame): a line, and a point per
    period sized by its calls; periods with fewer than MIN_CALLS_FOR_RATE calls are pale, so a
    weekend day of two outbound calls does not read as a 100% day."""
    base = alt.Chart(volume).encode(
        x=alt.X("yearmonthdate(period):O", title="Period starting", axis=_PERIOD_AXIS),
        y=alt.Y(
            "outbound_ratio:Q",
            title="Outbound share",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=_period_tooltip(),
    )
    # The line joins only periods with enough calls; a two-call weekend day is a pale point.
    line = base.transform_filter(alt.datum.total >= MIN_CALLS_FOR_RATE).mark_line(
        color=OUTBOUND_COLOUR, clip=True
    )
    points = base.mark_circle(color=OUTBOUND_COLOUR, clip=True).encode(
        size=alt.Size("total:Q", title="Calls", scale=alt.Scale(range=[15, 150])),
        opacity=alt.condition(
            alt.datum.total >= MIN_CALLS_FOR_RATE, alt.value(1.0), alt.value(0.3)
        ),
    )
    return alt.layer(line, points).properties(width="container")


def disposition_chart(mix: pd.DataFrame) -> alt.Chart:
    """Horizontal bars of calls per disposition (a `disposition_mix` frame), coloured by outcome.

    Clicking a bar selects that disposition: the selection parameter is named "disposition" and
    selects on the `disposition` field, for Streamlit's `on_select` to filter the calls table.
    """
    selection = alt.selection_point(name=DISPOSITION_SELECTION, fields=["disposition"])
    return (
        alt.Chart(mix)
        .mark_bar()
        .encode(
            # sort=None keeps the frame's order: most frequent first.
            y=alt.Y("disposition:N", title="Disposition", sort=None),
            x=alt.X("count:Q", title="Calls"),
            color=alt.Color(
                "outcome:N",
                title="Outcome",
                scale=alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values())),
            ),
            opacity=alt.condition(selection, alt.value(1.0), alt.value(0.4)),
            tooltip=[
                alt.Tooltip("disposition:N", title="Disposition"),
                alt.Tooltip("outcome:N", title="Outcome"),
                alt.Tooltip("count:Q", title="Calls", format=","),
                alt.Tooltip("share:Q", title="Share of calls", format=".1%"),
            ],
        )
        .add_params(selection)
        .properties(width="container")
    )


def heatmap_chart(
    heatmap: pd.DataFrame, value: Literal["calls", "connect_rate"] = "calls", *,
    hour_title: str = "Hour (local time)",
) -> alt.Chart:
    """Weekday × local hour grid (an `hour_weekday_heatmap` frame, or a ProspectZoneHeatmap's
    cells), shaded by calls or by connect rate; hours with no outbound calls have no connect
    rate and stay blank, and hours with fewer than MIN_CALLS_FOR_RATE outbound calls are pale.
    `hour_title` says whose local time the hours are."""
    if value == "calls":
        colour = alt.Color("calls:Q", title="Calls", scale=alt.Scale(scheme="blues"))
    elif value == "connect_rate":
        colour = alt.Color(
            "connect_rate:Q",
            title="Connect rate",
            scale=alt.Scale(scheme="greens", domain=[0, 1]),
            legend=alt.Legend(format="%"),
        )
    else:
        raise ValueError(f"value must be 'calls' or 'connect_rate', not {value!r}.")
    # A connect rate on few outbound calls is drawn pale, so nobody reads a lucky hour as a trend.
    opacity = (
        alt.condition(alt.datum.reliable, alt.value(1.0), alt.value(0.35))
        if value == "connect_rate"
        else alt.value(1.0)
    )
    return (
        alt.Chart(heatmap)
        .mark_rect()
        .encode(
            opacity=opacity,
            x=alt.X("hour:O", title=hour_title, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "weekday_name:O",
                title=None,
                sort=alt.EncodingSortField("weekday", order="ascending"),
            ),
            color=colour,
            tooltip=[
                alt.Tooltip("weekday_name:N", title="Day"),
                alt.Tooltip("hour:O", title="Hour"),
                alt.Tooltip("calls:Q", title="Calls", format=","),
                alt.Tooltip("outbound:Q", title="Outbound calls", format=","),
                alt.Tooltip("connected:Q", title="Connected", format=","),
                alt.Tooltip("connect_rate:Q", title="Connect rate", format=".1%"),
            ],
        )
        .properties(width="container")
    )


def _period_tooltip() -> list[alt.Tooltip]:
    return [
        alt.Tooltip("period:T", title="From", format="%a %d %b %Y"),
        alt.Tooltip("period_end:T", title="To", format="%a %d %b %Y"),
        alt.Tooltip("outbound:Q", title="Outbound calls", format=","),
        alt.Tooltip("inbound:Q", title="Inbound calls", format=","),
        alt.Tooltip("total:Q", title="All calls", format=","),
        alt.Tooltip("outbound_ratio:Q", title="Outbound share", format=".0%"),
    ]


def line_health_chart(health: LineHealth, shown: Callable[[str], str] = str) -> alt.LayerChart:
    """Connect rate per week of each calling number (written by `shown`): flagged lines in
    red, the rest grey; weeks with fewer than MIN_CALLS_FOR_RATE calls are pale points, off
    the line."""
    weekly = health.weekly
    flagged = weekly["line"].isin([line.line for line in health.flagged])
    frame = weekly.assign(
        line=weekly["line"].map(lambda line: line if line == NO_LINE else shown(line)),
        flagged=flagged.map({True: "Flagged", False: "Not flagged"}))
    base = alt.Chart(frame).encode(
        x=alt.X("week:T", title="Week starting", axis=_PERIOD_AXIS),
        y=alt.Y("rate:Q", title="Connect rate", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("flagged:N", title=None, scale=alt.Scale(
            domain=["Flagged", "Not flagged"], range=["#d62728", "#9e9e9e"])),
        detail="line:N",
        tooltip=[
            alt.Tooltip("line:N", title="Line"),
            alt.Tooltip("week:T", title="Week starting", format="%a %d %b %Y"),
            alt.Tooltip("connects:Q", title="Connected calls", format=","),
            alt.Tooltip("calls:Q", title="Outbound calls", format=","),
            alt.Tooltip("rate:Q", title="Connect rate", format=".0%"),
        ],
    )
    line = base.transform_filter(alt.datum.calls >= MIN_CALLS_FOR_RATE).mark_line(clip=True)
    points = base.mark_circle(clip=True).encode(
        size=alt.Size("calls:Q", title="Calls", scale=alt.Scale(range=[15, 150])),
        opacity=alt.condition(alt.datum.calls >= MIN_CALLS_FOR_RATE, alt.value(1.0),
                              alt.value(0.3)),
    )
    return alt.layer(line, points).properties(width="container")


def attempts_chart(table: pd.DataFrame) -> alt.Chart:
    """Pickup rate of each attempt (an AttemptFigures.table()): a bar per attempt in order,
    pale when built on fewer than MIN_CALLS_FOR_RATE calls."""
    return (
        alt.Chart(table)
        .mark_bar(color=OUTBOUND_COLOUR)
        .encode(
            x=alt.X("label:N", title="Attempt", sort=table["label"].tolist(),
                    axis=alt.Axis(labelAngle=0)),
            y=alt.Y("pickup_rate:Q", title="Pickup rate", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            opacity=alt.condition(alt.datum.calls >= MIN_CALLS_FOR_RATE, alt.value(1.0),
                                  alt.value(0.35)),
            tooltip=[
                alt.Tooltip("label:N", title="Attempt"),
                alt.Tooltip("connected:Q", title="Connected", format=","),
                alt.Tooltip("calls:Q", title="Calls", format=","),
                alt.Tooltip("pickup_rate:Q", title="Pickup rate", format=".0%"),
            ],
        )
        .properties(width="container")
    )
