"""PNG charts of plans: a recommendation's cost against latency, a sweep's cost against rate
and where the cheapest choice changes (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from irsim.present.chartkit import HEADROOM, outside_legend, save_figure, spread, threshold_limit
from irsim.service.labels import detail_label

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

POINT = "tab:blue"
INFEASIBLE = "#b00020"  # 6.5:1 on white
#: Fills of the crossover map: light enough that black text on each passes WCAG AA (>= 4.5:1).
LIGHT = ("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")
NONE = "#eeeeee"


def _recommendation_points(document: dict) -> list[tuple[str, float, float, float, float, bool]]:
    """(label, percentile ms, low, high, cost per hour, verified) of every alternative, in the
    document's order (the console's)."""
    percentile = document["Target"]["Percentile"]
    costs = {i["RecommendationId"]: i["Metrics"]["CostPerHour"] for i in document["InferenceRecommendations"]}
    points = []
    for detail in document["Details"]:
        low, high = detail[percentile]["ConfidenceInterval95"]
        points.append((detail_label(detail), detail[percentile]["Milliseconds"], low, high,
                       costs[detail["RecommendationId"]], bool(detail["Verified"])))
    return points


def plot_recommendation(document: dict, path: Path) -> None:
    """A recommendation's chart: :func:`recommendation_figure` as a PNG."""
    save_figure(recommendation_figure(document), path)


def recommendation_figure(document: dict) -> Figure:
    """Cost per hour against the percentile reached, one point per verified alternative with
    its 95 % interval, the chosen one ringed, the Pareto front joined. Labels sit in a column
    beside the axes, spread so they never overlap, each joined to its point; the SLO is a line
    when near the data, else marked at the edge."""
    target = document["Target"]
    percentile = target["Percentile"]
    points = _recommendation_points(document)
    fig, ax = plt.subplots(figsize=(9.5, max(4.5, 0.24 * len(points) + 1.8)), layout="constrained")
    handles: list[Artist] = []
    for _, value, low, high, cost, verified in points:
        ax.errorbar(value, cost, xerr=[[value - low], [high - value]], fmt="o", color=POINT, capsize=3)
        if verified:
            handles.append(ax.scatter([value], [cost], s=220, facecolors="none", edgecolors="green", linewidths=1.5,
                                      label="verified cheapest", zorder=3))
    front = sorted((p[f"{percentile}Ms"], p["CostPerHour"]) for p in document["Pareto"])
    if len(front) > 1:
        handles += ax.plot(*zip(*front, strict=True), linestyle=":", color="grey", label="Pareto front")
    highest = max((p[3] for p in points), default=1.0)
    slo = threshold_limit(ax, target["ValueInMilliseconds"], highest,
                          f"SLO {percentile} {target['ValueInMilliseconds']:g} ms", vertical=True)
    handles += [slo] if slo is not None else []
    _latency_range(ax, [p[2] for p in points], highest, target["ValueInMilliseconds"] if slo is not None else None)
    top = max((p[4] for p in points), default=1.0) * HEADROOM
    ax.set_ylim(0, top)
    _label_column(ax, [(p[0], p[1], p[4]) for p in points], top)
    ax.set_xlabel(f"{percentile} ModelLatency at {target['InvocationsPerMinute']:,.0f} invocations/min (ms)")
    ax.set_ylabel("cost per hour (USD)")
    ax.set_title(f"Endpoints that meet {percentile} <= {target['ValueInMilliseconds']:g} ms at "
                 f"{target['InvocationsPerMinute']:,.0f} invocations/min, by cost and latency", fontsize=10)
    outside_legend(fig, handles, columns=3)
    return fig


def _latency_range(ax: Axes, lows: list[float], highest: float, slo_ms: float | None) -> None:
    """The latency axis on the intervals (and the SLO when it is drawn), a margin either side:
    alternatives a few per cent apart stay apart."""
    lowest = min(lows, default=0.0)
    right = max(highest, slo_ms or 0.0)
    margin = max(right - lowest, 0.05 * right, 1e-6) * 0.12
    ax.set_xlim(max(0.0, lowest - margin), right + margin)


def _label_column(ax: Axes, labels: list[tuple[str, float, float]], top: float) -> None:
    """Each (text, x, y) as a label right of the axes at the height of its point, spread to
    one text line apart, with a thin leader line to the point."""
    gap = 1.0 / max(len(labels) + 1, 12)
    heights = spread([y / top for _, _, y in labels], gap)
    for (text, x, y), height in zip(labels, heights, strict=True):
        ax.annotate(text, xy=(x, y), xycoords="data", xytext=(1.02, height), textcoords="axes fraction",
                    va="center", ha="left", fontsize=7,
                    arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.6, "shrinkA": 0, "shrinkB": 3})


#: Sweep axes that split the results into panels when they take more than one value.
FACETS = ("service_scale", "routing", "replications", "candidates", "instance_types")
STYLES = ("-", "--", ":", "-.")


def sweep_facets(table: pd.DataFrame) -> list[str]:
    """The sweep axes besides the rate and the SLO that vary in ``table`` (each splits the
    charts: one line style or one row per value)."""
    return [c for c in FACETS if c in table and table[c].nunique(dropna=False) > 1]


def facet_label(values: dict) -> str:
    """``service x1.3, routing least_outstanding_requests``: one facet's settings in words."""
    words = {"service_scale": "service x{:g}", "routing": "routing {}", "replications": "{} replications",
             "candidates": "candidates {}", "instance_types": "types {}"}
    return ", ".join(words[k].format(v) for k, v in values.items())


def answered(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the scenarios that were answered."""
    return table[table["status"] == "ok"] if "status" in table else table.iloc[0:0]


def _percentile(part: pd.DataFrame) -> str:
    """The percentile of a sweep's rows: its own column, else the SLO as given (``P95=10``)."""
    for value in (*part.get("percentile", pd.Series(dtype=object)).dropna(), *part.get("slo", pd.Series(dtype=object))):
        if isinstance(value, str) and value:
            return value.split("=")[0]
    return "latency"


def cost_figure(table: pd.DataFrame) -> Figure:
    """cost_vs_rate.png: per type, the cost per hour of its smallest passing endpoint against
    the target rate (the count written beside each point, the chosen ones ringed): one panel per
    SLO (columns) and per value of every other varied axis such as service_scale (rows). A
    scenario without an endpoint is marked where its rate is; a panel with none says so."""
    ok = answered(table)
    facets = sweep_facets(table if "status" in table else ok)
    rows = [dict(zip(facets, key, strict=True)) for key, _ in table.groupby(facets)] if facets else [{}]
    slos = sorted(table["slo_ms"].unique())
    fig, axes = plt.subplots(len(rows), len(slos), figsize=(6 * len(slos), 4.2 * len(rows) + 1.0), squeeze=False,
                             layout="constrained")
    types = sorted(ok["instance_type"].unique())
    colors = {t: plt.get_cmap("tab10")(i % 10) for i, t in enumerate(types)}
    for r, values in enumerate(rows):
        part = table
        for column, value in values.items():
            part = part[part[column] == value]
        for c, slo in enumerate(slos):
            _cost_panel(axes[r][c], part[part["slo_ms"] == slo], colors, slo, facet_label(values))
    handles: list[Artist] = [Line2D([], [], color=colors[t], marker="o", label=t) for t in types]
    handles.append(Line2D([], [], marker="o", markersize=11, markerfacecolor="none", color="black", linestyle="",
                          label="chosen (numbers: instances)"))
    if "status" in table and (table["status"] != "ok").any():
        handles.append(Line2D([], [], marker="x", color=INFEASIBLE, linestyle="", markersize=9,
                              label="no endpoint meets the SLO"))
    fig.suptitle("Cost per hour of each type's smallest endpoint that meets the SLO", fontsize=11)
    outside_legend(fig, handles, columns=6)
    return fig


def plot_sweep(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """cost_vs_rate.png and crossover.png (:func:`cost_figure`, :func:`crossover_figure`), when
    some scenario was answered."""
    ok = answered(table)
    written: list[Path] = []
    if not ok.empty:
        written.append(out_dir / "cost_vs_rate.png")
        save_figure(cost_figure(table), written[-1])
    if not ok.empty and ok["chosen"].astype(bool).any():
        written.append(out_dir / "crossover.png")
        save_figure(crossover_figure(table), written[-1])
    return written


def _cost_panel(ax: Axes, part: pd.DataFrame, colors: dict, slo: float, facet: str) -> None:
    ok = answered(part) if "status" in part else part
    counts: dict[tuple[float, float], list[str]] = {}  # one label per point: types at the same cost share it
    for instance_type, rows in ok.groupby("instance_type"):
        rows = rows.groupby("target_per_minute").agg(cost=("cost_per_hour", "min"), count=("count", "min"),
                                                     chosen=("chosen", "max")).reset_index()
        color = colors[instance_type]
        ax.plot(rows["target_per_minute"], rows["cost"], marker="o", color=color)
        for _, row in rows.iterrows():
            counts.setdefault((float(row["target_per_minute"]), round(float(row["cost"]), 9)), []).append(
                f"{int(row['count'])}")
        chosen = rows[rows["chosen"].astype(bool)]
        ax.scatter(chosen["target_per_minute"], chosen["cost"], s=140, facecolors="none", edgecolors="black")
    for (x, y), labels in counts.items():
        ax.annotate(" / ".join(labels), (x, y), textcoords="offset points", xytext=(7, 5), fontsize=8, color="black")
    top = max(float(ok["cost_per_hour"].max()) if len(ok) else 0.0, 1e-9) * HEADROOM
    ax.set_ylim(0, top if len(ok) else 1.0)
    missing = part[part["status"] != "ok"].drop_duplicates("scenario") if "status" in part else part.iloc[0:0]
    if len(missing):
        ax.scatter(missing["target_per_minute"], [0.0] * len(missing), marker="x", s=60, color=INFEASIBLE,
                   clip_on=False, zorder=3)
    if ok.empty:
        ax.text(0.5, 0.5, "no endpoint meets this SLO\nat any rate of the sweep", transform=ax.transAxes,
                ha="center", va="center", fontsize=10, color=INFEASIBLE)
        ax.set_yticks([])
    rates = sorted(part["target_per_minute"].unique())
    ax.set_xticks(rates, [f"{r:,.0f}" for r in rates])
    ax.set_title(f"{_percentile(part)} <= {slo:g} ms" + (f"; {facet}" if facet else ""), fontsize=9)
    ax.set_xlabel("target rate (invocations per minute)")
    ax.set_ylabel("cost per hour (USD)")


def crossover_grid(chosen: pd.DataFrame, facets: list[str]) -> pd.DataFrame:
    """The chosen endpoint for each (SLO, other varied axes) row and target rate column."""
    index = ["slo_ms", *facets]
    return chosen.pivot_table(index=index, columns="target_per_minute", values="endpoint", aggfunc="first")


def crossover_figure(table: pd.DataFrame) -> Figure:
    """crossover.png: the chosen endpoint per rate (columns) and per SLO and other varied axis
    (rows); a scenario without one says why. Light fills under black text (WCAG AA contrast)."""
    facets = sweep_facets(table)
    ok = answered(table) if "status" in table else table
    chosen = ok[ok["chosen"].astype(bool)]
    index = ["slo_ms", *facets]
    cells = chosen[[*index, "target_per_minute", "endpoint", "instance_type"]].copy()
    if "status" in table:
        missing = table[table["status"] != "ok"].drop_duplicates("scenario")
        cells = pd.concat([cells, missing.assign(endpoint=missing["status"].str.upper(), instance_type="")[
            [*index, "target_per_minute", "endpoint", "instance_type"]]])
    grid = cells.pivot_table(index=index, columns="target_per_minute", values="endpoint", aggfunc="first")
    kinds = cells.pivot_table(index=index, columns="target_per_minute", values="instance_type", aggfunc="first")
    types = sorted(t for t in chosen["instance_type"].unique())
    fig, ax = plt.subplots(figsize=(1.7 * grid.shape[1] + 3, 0.7 * grid.shape[0] + 1.8), layout="constrained")
    colors = [LIGHT[types.index(k) % len(LIGHT)] if isinstance(k, str) and k in types else NONE
              for k in kinds.to_numpy().ravel()]
    image = np.array([matplotlib.colors.to_rgb(c) for c in colors]).reshape(grid.shape[0], grid.shape[1], 3)
    ax.imshow(image, aspect="auto")
    for (i, j), label in np.ndenumerate(grid.to_numpy()):
        ax.text(j, i, "-" if not isinstance(label, str) else label.replace(" x ml.", "x "), ha="center",
                va="center", fontsize=8, color="black")
    ax.set_xticks(range(grid.shape[1]), [f"{c:,.0f}" for c in grid.columns])
    keys = [k if isinstance(k, tuple) else (k,) for k in grid.index]
    ax.set_yticks(range(grid.shape[0]), [f"{k[0]:g} ms" + (f"; {facet_label(dict(zip(facets, k[1:], strict=True)))}"
                                                          if facets else "") for k in keys])
    ax.set_xlabel("target rate (invocations per minute)")
    percentile = _percentile(table)
    ax.set_ylabel(f"{percentile} latency threshold")
    ax.set_title(f"Cheapest endpoint per rate and {percentile} threshold (INFEASIBLE: no endpoint meets it)",
                 fontsize=10)
    return fig
