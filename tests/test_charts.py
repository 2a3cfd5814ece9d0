"""Charts that read at a glance (issue 16): each figure is inspected as matplotlib drew it with
the Agg renderer — axis ranges, whole-number user and minute ticks, legends present and off
the data, no two labels overlapping, markers inside the axes — and minutes are numbered from 1
in every output."""

import itertools
import json
import warnings
from pathlib import Path

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.patches import Rectangle
from matplotlib.text import Text

import irsim.present.plots as plots
from irsim.cli.app import main
from irsim.present.chartkit import spread
from irsim.present.planplots import (
    INFEASIBLE,
    LIGHT,
    NONE,
    cost_figure,
    crossover_figure,
    crossover_grid,
    recommendation_figure,
)
from irsim.present.plots import BenchmarkSeries, JobChart, job_figure, per_minute_figure
from irsim.present.units import with_units, without_units
from irsim.service.minutes import FIRST_MINUTE, minute_number, numbered_minutes
from simulator import simulate


def agg(fig: Figure) -> Figure:
    """``fig`` on an Agg canvas (a saved and closed figure keeps none), drawn."""
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig


def texts(fig: Figure) -> list[Text]:
    """Every drawn, non-empty text of the figure: titles, labels, annotations, legend entries and
    the tick labels of ticks in view (matplotlib keeps labels of ticks outside the view, undrawn)."""
    agg(fig)
    ticks, drawn = set(), []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update((id(tick.label1), id(tick.label2)))
                if low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    drawn += [label for label in (tick.label1, tick.label2) if label.get_visible()]
    others = [t for t in fig.findobj(Text) if id(t) not in ticks and t.get_visible()]
    return [t for t in others + drawn if t.get_text().strip() and t.get_window_extent().width > 0]


def overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes overlap by more than a pixel each way (the Agg renderer's boxes)."""
    renderer = fig.canvas.get_renderer()
    # an annotation's own text, not its leader line
    boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for t in texts(fig)]
    found = []
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if width > 1 and height > 1:
            found.append((a, b))
    return found


def legend_clear_of_axes(fig: Figure) -> bool:
    """Every legend sits outside every axes' box (so over no data and no threshold)."""
    agg(fig)
    renderer = fig.canvas.get_renderer()
    legends = list(fig.findobj(Legend))
    assert legends, "the figure has no legend"
    return all(not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
               for legend in legends for ax in fig.axes)


def legend_labels(fig: Figure) -> list[str]:
    return [t.get_text() for legend in fig.findobj(Legend) for t in legend.get_texts()]


def whole_ticks(axis) -> bool:
    low, high = sorted(axis.get_view_interval())
    ticks = [t for t in axis.get_ticklocs() if low <= t <= high]
    return bool(ticks) and all(float(t).is_integer() for t in ticks)


def minute_frame(users: list[int], invocations: list[int], p95_ms: list[float]) -> pd.DataFrame:
    n = len(users)
    return numbered_minutes(pd.DataFrame({
        "minute": range(n), "start_s": [60.0 * i for i in range(n)], "seconds": [60.0] * n, "Users": users,
        "Invocations": invocations, "ModelLatency_p50": [v * 600 for v in p95_ms],
        "ModelLatency_p95": [v * 1000 for v in p95_ms], "ModelLatency_p99": [v * 1300 for v in p95_ms]}))


# --- minute numbering -----------------------------------------------------------------------------

def test_minutes_are_numbered_from_one_in_one_place():
    assert FIRST_MINUTE == 1 and minute_number(0) == 1 and minute_number(None) is None
    frame = pd.DataFrame({"minute": [0, 1, 2], "Invocations": [5, 6, 7]})
    numbered = numbered_minutes(frame)
    assert numbered["minute"].tolist() == [1, 2, 3]
    assert frame["minute"].tolist() == [0, 1, 2]  # the simulator's own frame is left as it is


@pytest.mark.slow
def test_metrics_csv_and_best_minute_count_from_one(tmp_path):
    """In metrics.csv the best minute is recomputed independently (the largest Invocations of a
    full minute within the threshold): its number is irsim.json's best_minute."""
    job = tmp_path / "job.json"
    request = json.loads((Path(__file__).parent.parent / "examples" / "stairs-job.json").read_text())
    job.write_text(json.dumps(request))
    assert main(["run", str(job), "--quiet", "--out", str(tmp_path / "out")]) == 0
    metrics = pd.read_csv(tmp_path / "out" / "metrics.csv")
    extensions = json.loads((tmp_path / "out" / "irsim.json").read_text())
    threshold = request["StoppingConditions"]["ModelLatencyThresholds"][0]
    column = f"ModelLatency_p{threshold['Percentile'][1:]}_us"  # the header says its unit (microseconds)
    for benchmark in extensions["benchmarks"]:
        rows = metrics[metrics["benchmark"] == benchmark["index"]]
        assert rows["minute"].iloc[0] == 1 and rows["minute"].diff().dropna().eq(1).all()
        within = rows[(rows["seconds"] >= 60) & (rows[column] / 1000 <= threshold["ValueInMilliseconds"])]
        best = within.loc[within["Invocations"].idxmax()]
        assert benchmark["best_minute"] == best["minute"] >= 1
        assert benchmark["per_instance_max_invocations"] == best["Invocations"]


# --- the job's report.png ---------------------------------------------------------------------------

def one_minute_chart() -> JobChart:
    series = BenchmarkSeries(label="ml.c5.xlarge", frame=minute_frame([1], [2308], [7.7]), status="COMPLETED",
                             best_minute=1, stop_reason="MaxInvocationsReached")
    return JobChart(title="seed job", percentile="P95", threshold_ms=100.0, max_invocations=1000, planned_minutes=4,
                    benchmarks=(series,))


@pytest.mark.slow  # drawing and measuring every label takes a second or two
def test_a_one_minute_benchmark_is_drawn_on_the_whole_pattern():
    fig = job_figure(one_minute_chart())
    left, right, users = fig.axes[0], fig.axes[1], fig.axes[2]
    assert left.get_xlim() == (0.5, 4.5) and right.get_xlim() == (0.5, 4.5)
    assert whole_ticks(left.xaxis) and whole_ticks(users.yaxis) and whole_ticks(left.yaxis)
    bar = next(p for p in left.patches if isinstance(p, Rectangle) and p.get_height() > 0)
    assert bar.get_x() < 1 < bar.get_x() + bar.get_width() and bar.get_height() == 2308
    assert bar.get_height() < left.get_ylim()[1]  # the bar and its label fit
    (line,) = [ln for ln in users.get_lines() if ln.get_label() == "users"]
    assert line.get_marker() == "s" and 0 < 1 < users.get_ylim()[1] / 1.2  # one user: a visible point, not the edge
    target = [ln for ln in left.get_lines() if ln.get_label() == "MaxInvocations target"]
    assert target and target[0].get_ydata()[0] == 1000
    assert "stopped by MaxInvocationsReached" in left.get_title(loc="left") and "1 of 4 min" in left.get_title("left")
    assert "best minute 1: 2,308 invocations" in left.get_title("left")  # in the title, never on the bar
    assert any(t.get_text() == "not run" for t in left.texts)
    # 100 ms is 13x the data: said at the edge, the data keep the axis
    assert right.get_ylim()[1] < 10 and any("beyond the chart" in t.get_text() for t in right.texts)
    labels = legend_labels(fig)
    assert {"invocations / min", "best minute (per-instance max)", "users", "MaxInvocations target",
            "ModelLatency P95", "not run: the test had stopped"} <= set(labels)
    assert legend_clear_of_axes(fig)
    assert overlapping_texts(fig) == []


@pytest.mark.slow  # drawing and measuring every label takes a second or two
def test_a_ramp_marks_the_threshold_and_the_best_minute_without_overlaps():
    series = BenchmarkSeries(label="ml.c5.large [OMP_NUM_THREADS=2]",
                             frame=minute_frame([2, 4, 6, 8, 10, 12, 14, 16], [4500, 9000, 13500, 18000, 22000, 25500,
                                                                               28200, 29300],
                                                [10, 11, 11.5, 12, 14, 16, 18.8, 22.4]),
                             status="COMPLETED", best_minute=7, stop_reason="LatencyThresholdExceeded")
    twin = BenchmarkSeries(label="ml.c5.large [OMP_NUM_THREADS=1]", frame=series.frame, status="COMPLETED",
                           best_minute=7, stop_reason="LatencyThresholdExceeded")
    fig = job_figure(JobChart(title="stairs", percentile="P95", threshold_ms=20.0, max_invocations=30000,
                              planned_minutes=10, benchmarks=(series, twin)))
    right = fig.axes[1]
    (threshold,) = [ln for ln in right.get_lines() if ln.get_label() == "threshold 20 ms"]
    assert threshold.get_ydata()[0] == 20 and right.get_ylim()[1] > 22.4  # line and data both in view
    left = fig.axes[0]
    colors = {round(p.get_x() + p.get_width() / 2): p.get_facecolor() for p in left.patches if p.get_height() > 0}
    assert colors[7] != colors[6]  # the best minute stands out
    assert "[OMP_NUM_THREADS=2]" in left.get_title("left")
    assert legend_clear_of_axes(fig) and overlapping_texts(fig) == []


# --- simulate --plot --------------------------------------------------------------------------------

@pytest.mark.slow  # drawing and measuring every label takes a second or two
def test_simulate_plot_keeps_its_markers_inside_the_axes():
    result = simulate("demo", "ml.c5.large", users=6, duration_s=240, seed=1)
    fig = agg(per_minute_figure(numbered_minutes(result.per_minute), "t", threshold_ms=15.0))
    for ax in fig.axes:
        box = ax.get_window_extent()
        for line in ax.get_lines():
            if line.get_marker() in ("None", None, "") or not len(line.get_xdata()):
                continue
            radius = line.get_markersize() / 2 * fig.dpi / 72
            points = ax.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
            assert (points[:, 1] + radius <= box.y1).all(), line.get_label()
            assert (points[:, 0] - radius >= box.x0).all() and (points[:, 0] + radius <= box.x1).all()
    bottom = fig.axes[1]
    assert bottom.get_xlim() == (0.5, 4.5) and whole_ticks(bottom.xaxis) and whole_ticks(fig.axes[2].yaxis)
    assert legend_clear_of_axes(fig) and overlapping_texts(fig) == []


# --- calibrate --plot -------------------------------------------------------------------------------

@pytest.mark.slow
def test_calibrate_plot_from_samples_has_no_empty_panel_and_no_warning(tmp_path, monkeypatch):
    samples = np.random.default_rng(7).lognormal(np.log(8.0), 0.4, 2000)
    path = tmp_path / "samples.csv"
    path.write_text("latency_ms\n" + "\n".join(f"{v:.4f}" for v in samples))
    figures = []
    original = plots.calibration_figure
    monkeypatch.setattr(plots, "calibration_figure", lambda *a, **k: figures.append(original(*a, **k)) or figures[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a matplotlib UserWarning would fail the command
        assert main(["calibrate", "--instance-type", "ml.c5.xlarge", "--samples", str(path), "-o",
                     str(tmp_path / "p.json"), "--plot", str(tmp_path / "fit.png")]) == 0
    (fig,) = figures
    assert len(fig.axes) == 1  # no empty load panel without CloudWatch minutes
    labels = legend_labels(fig)
    assert len(labels) == 2 and labels[1] == "observed, 2,000 samples"
    (observed,) = list(fig.axes[0].collections)
    assert np.allclose(observed.get_offsets()[:, 1], np.percentile(samples, [50, 90, 95, 99]))
    assert legend_clear_of_axes(fig) and overlapping_texts(fig) == []


# --- recommend --plot -------------------------------------------------------------------------------

def crowded_document(n: int = 14) -> dict:
    """n alternatives within a few ms and cents of each other, the SLO far beyond them."""
    details, items = [], []
    for i in range(n):
        value = 5.0 + 0.05 * i
        details.append({"RecommendationId": f"r{i}", "Counts": {f"ml.c5.{i}xlarge": 1 + i % 3},
                        "P95": {"Milliseconds": value, "ConfidenceInterval95": [value - 0.1, value + 0.1]},
                        "Verified": i == 0})
        items.append({"RecommendationId": f"r{i}", "Metrics": {"CostPerHour": 0.2 + 0.002 * i}})
    return {"Target": {"Percentile": "P95", "ValueInMilliseconds": 100.0, "InvocationsPerMinute": 12000},
            "Details": details, "InferenceRecommendations": items,
            "Pareto": [{"P95Ms": 5.0, "CostPerHour": 0.2}, {"P95Ms": 5.65, "CostPerHour": 0.226}]}


@pytest.mark.slow  # drawing and measuring every label takes a second or two
def test_recommend_plot_labels_do_not_overlap_and_the_slo_does_not_squeeze_the_data():
    fig = recommendation_figure(crowded_document())
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    assert high < 100 and (5.75 - 4.9) / (high - low) > 0.7  # the SLO is not on the axis; the data fill it
    assert any("SLO P95 100 ms: beyond the chart" in t.get_text() for t in ax.texts)
    labels = [t for t in ax.texts if t.get_text().startswith("1 x") or " x ml." in t.get_text()]
    assert len(labels) == 14
    assert overlapping_texts(fig) == []
    assert "verified cheapest" in legend_labels(fig) and legend_clear_of_axes(fig)


@pytest.mark.slow  # drawing and measuring every label takes a second or two
def test_recommend_plot_draws_a_near_slo_as_a_line():
    document = crowded_document(3)
    document["Target"]["ValueInMilliseconds"] = 6.0
    ax = recommendation_figure(document).axes[0]
    (slo,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("SLO")]
    assert slo.get_xdata()[0] == 6.0 and ax.get_xlim()[1] > 6.0


def test_spread_keeps_labels_a_gap_apart_in_their_order():
    placed = spread([0.5, 0.5, 0.51, 0.9, 0.95], gap=0.1)
    assert all(b - a >= 0.1 - 1e-12 for a, b in itertools.pairwise(sorted(placed)))
    assert placed.index(min(placed)) == 0 and min(placed) >= 0 and max(placed) <= 1
    assert spread([0.2, 0.8], gap=0.1) == [0.2, 0.8]  # far apart: left where they are


# --- the sweep ----------------------------------------------------------------------------------

def sweep_table() -> pd.DataFrame:
    """Two SLOs, two service scales; at 10,000/min the cheapest type differs between the scales."""
    rows = []
    for scale, slo, rate, kind, count, cost in [
            (1.0, 10, 5000, "ml.c5.large", 1, 0.10), (1.0, 10, 10000, "ml.c5.large", 2, 0.20),
            (1.0, 10, 10000, "ml.m5.xlarge", 1, 0.23), (1.3, 10, 5000, "ml.c5.large", 2, 0.20),
            (1.3, 10, 10000, "ml.c5.large", 3, 0.30), (1.3, 10, 10000, "ml.m5.xlarge", 1, 0.23),
            (1.0, 100, 10000, "ml.c5.large", 1, 0.10), (1.3, 100, 10000, "ml.c5.large", 2, 0.20)]:
        rows.append({"scenario": f"{scale}-{slo}-{rate}", "status": "ok", "service_scale": scale, "slo_ms": slo,
                     "percentile": "P95", "target_per_minute": rate, "instance_type": kind,
                     "endpoint": f"{count} x {kind}", "count": count, "cost_per_hour": cost, "chosen": False})
    table = pd.DataFrame(rows)
    cheapest = table.groupby("scenario")["cost_per_hour"].idxmin()
    table.loc[cheapest, "chosen"] = True
    return table


@pytest.mark.slow  # drawing and measuring every label takes a second or two
def test_cost_vs_rate_separates_service_scales():
    fig = cost_figure(sweep_table())
    titles = sorted(ax.get_title() for ax in fig.axes)
    assert len(fig.axes) == 4 and titles == ["P95 <= 10 ms; service x1", "P95 <= 10 ms; service x1.3",
                                             "P95 <= 100 ms; service x1", "P95 <= 100 ms; service x1.3"]
    scaled = next(ax for ax in fig.axes if ax.get_title() == "P95 <= 10 ms; service x1.3")
    costs = sorted(tuple(ln.get_ydata()) for ln in scaled.get_lines())
    assert costs == [(0.2, 0.3), (0.23,)]  # only the 1.3 scenarios, not drawn over the 1.0 ones
    assert legend_clear_of_axes(fig) and overlapping_texts(fig) == []


@pytest.mark.slow  # drawing and measuring every label takes a second or two
def test_crossover_tells_service_scales_apart():
    grid = crossover_grid(sweep_table()[sweep_table()["chosen"]], ["service_scale"])
    assert grid.loc[(10, 1.0), 10000] == "2 x ml.c5.large" and grid.loc[(10, 1.3), 10000] == "1 x ml.m5.xlarge"
    fig = crossover_figure(sweep_table())
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "10 ms; service x1.3" in labels and "100 ms; service x1" in labels
    assert overlapping_texts(fig) == []


def test_metrics_csv_headers_carry_units_and_old_headers_still_read():
    frame = pd.DataFrame({"minute": [1], "ModelLatency_p95": [1500.0], "OverheadLatency_Average": [20.0],
                          "CPUUtilization": [180.0], "MemoryUtilization": [22.0], "Invocations": [10]})
    written = with_units(frame)
    assert list(written.columns) == ["minute", "ModelLatency_p95_us", "OverheadLatency_Average_us",
                                     "CPUUtilization_pct", "MemoryUtilization_pct", "Invocations"]
    assert without_units(written).equals(frame) and without_units(frame).equals(frame)  # a folder from before


def contrast(foreground: str, background: str) -> float:
    """WCAG 2's contrast ratio of two colours."""
    def luminance(colour: str) -> float:
        channels = [c / 1 for c in matplotlib.colors.to_rgb(colour)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.slow  # drawing and measuring every label takes a second or two
def test_infeasible_scenarios_are_shown_as_such_with_text_that_passes_wcag_aa():
    table = sweep_table()
    missing = {"scenario": "1.3-10-20000", "status": "infeasible", "service_scale": 1.3, "slo_ms": 10,
               "slo": "P95=10", "target_per_minute": 20000, "error": "No instance type can meet the SLO"}
    table = pd.concat([table.assign(slo=lambda t: "P95=" + t["slo_ms"].astype(str)), pd.DataFrame([missing])])
    grid = crossover_figure(table)
    texts = list(grid.axes[0].texts)
    assert any(t.get_text() == "INFEASIBLE" for t in texts) and "P95" in grid.axes[0].get_title()
    assert all(contrast("black", fill) >= 4.5 for fill in (*LIGHT, NONE))  # every fill under black text
    assert contrast("white", "tab:green") < 4.5  # the check can fail: white on green, as the best minute's was
    fig = cost_figure(table)
    panel = next(ax for ax in fig.axes if ax.get_title() == "P95 <= 10 ms; service x1.3")
    assert [c for c in panel.collections if c.get_offsets().shape[0] and tuple(c.get_offsets()[0]) == (20000, 0)]
    assert contrast(INFEASIBLE, "white") >= 4.5


def test_a_panel_with_no_answer_says_so_and_names_its_percentile():
    table = sweep_table()
    table = table[~((table["slo_ms"] == 10) & (table["service_scale"] == 1.3))].assign(slo="P95=10")
    lost = pd.DataFrame([{"scenario": f"lost-{r}", "status": "infeasible", "service_scale": 1.3, "slo_ms": 10,
                          "slo": "P95=10", "target_per_minute": r, "error": "none"} for r in (5000, 10000)])
    fig = cost_figure(pd.concat([table, lost]))
    panel = next(ax for ax in fig.axes if ax.get_title() == "P95 <= 10 ms; service x1.3")
    assert any("no endpoint meets this SLO" in t.get_text() for t in panel.texts)
