"""The report's interactive charts: Plotly figures (hover for values, click the legend to hide
or show a series) drawn by plotly.js from one script file beside the pages (PLOTLY_FILE), so a
page weighs kilobytes, not megabytes. Each figure travels as JSON in its page; without the
script the page shows the same chart as a PNG and fetches nothing."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly import __version__ as plotly_version
from plotly.colors import qualitative
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from irsim.service.labels import detail_label

CONFIG = {"displaylogo": False, "responsive": True}
#: Colours of the series: Plotly's own, less the two whose contrast on white is under 3:1
#: (a line or marker a reader must tell apart, WCAG 1.4.11).
PALETTE = [c for c in qualitative.Plotly if c not in ("#00CC96", "#FECB52")]
#: The one script every page of a folder shares (written beside them by the report's writer).
PLOTLY_FILE = f"plotly-{plotly_version}.min.js"


def plotly_script() -> str:
    """plotly.js itself: the contents of PLOTLY_FILE (no CDN)."""
    return get_plotlyjs()


def figure_div(fig: go.Figure, div_id: str) -> str:
    """The figure as an empty ``<div>`` carrying the figure's JSON; the page's script draws it
    when plotly.js is there (html.SCRIPT)."""
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 40, "b": 50},
                      legend={"orientation": "h", "y": -0.18}, autosize=True)
    figure = html.escape(fig.to_json(), quote=True)
    return f'<div class="plotly-figure" id="{html.escape(div_id)}" data-figure="{figure}"></div>'


def job_minutes_figure(metrics: pd.DataFrame, labels: Mapping[int, str], percentile: str,
                       threshold_ms: float | None, max_invocations: int | None,
                       best: Mapping[int, int | None]) -> go.Figure:
    """Per benchmark (one legend entry each): invocations per minute, users and the latency
    percentile against the minute (numbered from 1); the threshold, the MaxInvocations target
    and each benchmark's best minute drawn."""
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("Invocations per minute", "Users", f"ModelLatency {percentile} (ms)"))
    column = f"ModelLatency_p{percentile[1:]}"
    full = metrics[metrics["seconds"] >= 60.0]
    for n, index in enumerate(sorted({int(i) for i in full["benchmark"].tolist()})):
        rows = full[full["benchmark"] == index]
        label = labels.get(index, str(index))
        color = PALETTE[n % len(PALETTE)]  # one colour per benchmark in every panel
        group = {"legendgroup": label, "name": label, "line": {"color": color}, "marker_color": color}
        fig.add_trace(go.Scatter(x=rows["minute"], y=rows["Invocations"], mode="lines+markers", **group,
                                 hovertemplate="minute %{x}: %{y:,} invocations<extra>" + label + "</extra>"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=rows["minute"], y=rows["Users"], mode="lines+markers", line_shape="hv",
                                 showlegend=False, **group,
                                 hovertemplate="minute %{x}: %{y} users<extra>" + label + "</extra>"), row=2, col=1)
        fig.add_trace(go.Scatter(x=rows["minute"], y=rows[column] / 1000.0, mode="lines+markers", showlegend=False,
                                 **group, hovertemplate="minute %{x}: %{y:.2f} ms<extra>" + label + "</extra>"),
                      row=3, col=1)
        minute = best.get(index)
        if minute is not None and (rows["minute"] == minute).any():
            value = int(rows.loc[rows["minute"] == minute, "Invocations"].to_numpy()[0])
            fig.add_trace(go.Scatter(x=[minute], y=[value], mode="markers", showlegend=False, legendgroup=label,
                                     name=label, marker={"symbol": "star", "size": 14, "color": color,
                                                         "line": {"width": 1}},
                                     hovertemplate=f"best minute {minute}: {value:,} (per-instance max)"
                                                   f"<extra>{label}</extra>"), row=1, col=1)
    if max_invocations:
        fig.add_hline(y=max_invocations, line_dash="dash", line_color="purple", row=1, col=1,
                      annotation_text=f"MaxInvocations target {max_invocations:,}")
    if threshold_ms is not None:
        fig.add_hline(y=threshold_ms, line_dash="dash", line_color="red", row=3, col=1,
                      annotation_text=f"threshold {threshold_ms:g} ms")
    fig.update_xaxes(title_text="minute of the benchmark", dtick=1, row=3, col=1)
    fig.update_yaxes(rangemode="tozero")
    most = int(full["Users"].max()) if len(full) else 1
    fig.update_yaxes(tick0=0, dtick=max(1, math.ceil(most / 5)), tickformat="d", row=2, col=1)  # whole users only
    fig.update_layout(height=720, hovermode="closest")
    return fig


def recommendation_figure(document: Mapping[str, Any]) -> go.Figure:
    """Cost per hour against the percentile reached, with 95 % intervals; hover names the endpoint."""
    target = document["Target"]
    percentile = target["Percentile"]
    costs = {i["RecommendationId"]: i["Metrics"]["CostPerHour"] for i in document["InferenceRecommendations"]}
    fig = go.Figure()
    for detail in document["Details"]:
        value = detail[percentile]["Milliseconds"]
        low, high = detail[percentile]["ConfidenceInterval95"]
        label = detail_label(detail) + (" (verified cheapest)" if detail["Verified"] else "")
        fig.add_trace(go.Scatter(
            x=[value], y=[costs[detail["RecommendationId"]]], mode="markers", name=label,
            error_x={"type": "data", "symmetric": False, "array": [high - value], "arrayminus": [value - low]},
            marker={"size": 14 if detail["Verified"] else 9, "symbol": "star" if detail["Verified"] else "circle"},
            hovertemplate=f"{label}<br>{percentile} %{{x:.2f}} ms [{low:.2f}, {high:.2f}]<br>$%{{y:.3f}}/hour"
                          "<extra></extra>"))
    fig.add_vline(x=target["ValueInMilliseconds"], line_dash="dash", line_color="red",
                  annotation_text=f"SLO {percentile} {target['ValueInMilliseconds']:g} ms")
    # A linear axis over the intervals and the SLO: a log axis reads add_vline's annotation in
    # log units (a 27 ms SLO stretched it to 10^27 ms, every point crushed to the left edge).
    spans = [target["ValueInMilliseconds"], *(value for detail in document["Details"]
                                              for value in detail[percentile]["ConfidenceInterval95"])]
    lowest, highest = min(spans), max(spans)
    margin = max(highest - lowest, 0.05 * highest, 1e-6) * 0.12
    fig.update_xaxes(title_text=f"{percentile} ModelLatency at {target['InvocationsPerMinute']:,.0f} "
                                "invocations/min (ms)", range=[max(0.0, lowest - margin), highest + margin])
    fig.update_yaxes(title_text="cost per hour (USD)", rangemode="tozero", tickprefix="$")
    fig.update_layout(height=480)
    return fig


def sweep_figure(ok: pd.DataFrame, facets: list[str]) -> go.Figure:
    """Cost per hour of each type's smallest passing endpoint against the target rate, one
    series per type, SLO and other varied axis (service_scale ...), toggled from the legend."""
    fig = go.Figure()
    keys = ["instance_type", "slo_ms", *facets]
    for key, rows in ok.groupby(keys, sort=True):
        values = dict(zip(keys, key, strict=True))
        name = f"{values['instance_type']}, {rows['percentile'].iloc[0]} <= {values['slo_ms']:g} ms" + "".join(
            f", {k} {values[k]}" for k in facets)
        best = rows.groupby("target_per_minute").agg(cost=("cost_per_hour", "min"), count=("count", "min"),
                                                     endpoint=("endpoint", "first")).reset_index()
        fig.add_trace(go.Scatter(x=best["target_per_minute"], y=best["cost"], mode="lines+markers", name=name,
                                 customdata=best[["endpoint"]].to_numpy(),
                                 hovertemplate="%{x:,} /min: %{customdata[0]}, $%{y:.3f}/hour<extra>" + name
                                               + "</extra>"))
    fig.update_xaxes(title_text="target rate (invocations per minute)")
    fig.update_yaxes(title_text="cost per hour (USD)", rangemode="tozero", tickprefix="$")
    fig.update_layout(height=520)
    return fig
