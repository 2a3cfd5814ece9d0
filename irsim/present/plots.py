"""PNG charts of simulated runs (matplotlib, headless), each readable at a glance: counts on
integer axes, one legend outside the data, thresholds that do not squeeze it, minutes numbered
from 1 (irsim.service.minutes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np

from calibration.fit import QUANTILES, Calibration, light_load_minutes, per_instance_invocations, quantile_ms
from irsim.present.chartkit import HEADROOM, integer_ticks, outside_legend, save_figure, threshold_limit
from irsim.present.planplots import plot_recommendation, plot_sweep
from simulator.analytic import allen_cunneen_mean_response_s

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = ["BenchmarkSeries", "JobChart", "calibration_figure", "job_figure", "per_minute_figure", "plot_calibration",
           "plot_job_report", "plot_per_minute", "plot_recommendation", "plot_sweep"]
INVOCATIONS, USERS, LATENCY, BEST, NOT_RUN = "tab:blue", "black", "tab:orange", "tab:green", "0.85"


@dataclass(frozen=True)
class BenchmarkSeries:
    """One benchmark as charted: its per-minute frame (minutes numbered from 1), its status,
    its best minute (numbered from 1) and what ended it."""

    label: str
    frame: pd.DataFrame
    status: str
    best_minute: int | None = None
    stop_reason: str | None = None


@dataclass(frozen=True)
class JobChart:
    """A job's benchmarks and the conditions they ran under."""

    title: str
    percentile: str
    threshold_ms: float | None
    max_invocations: int | None
    planned_minutes: int  # the traffic pattern's length, rounded up to whole minutes
    benchmarks: tuple[BenchmarkSeries, ...]


def plot_per_minute(frame: pd.DataFrame, title: str, path: Path, threshold_ms: float | None = None) -> None:
    """A simulation's chart: :func:`per_minute_figure` as a PNG."""
    save_figure(per_minute_figure(frame, title, threshold_ms), path, dpi=100)


def per_minute_figure(frame: pd.DataFrame, title: str, threshold_ms: float | None = None) -> Figure:
    """Invocations per minute with users, and the ModelLatency percentiles, against the minute
    (numbered from 1; a partial last minute is drawn hollow, its rate scaled to a minute)."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.2), sharex=True, layout="constrained")
    minutes = frame["minute"]
    full = frame["seconds"] >= 60.0
    rate = frame["Invocations"] * 60.0 / frame["seconds"].clip(lower=1e-9)
    handles: list[Artist] = [top.plot(minutes, rate, color=INVOCATIONS, marker="o", label="invocations / min")[0]]
    if (~full).any():
        top.scatter(minutes[~full], rate[~full], s=60, facecolors="white", edgecolors=INVOCATIONS, zorder=3)
        handles.append(Line2D([], [], marker="o", markerfacecolor="white", color=INVOCATIONS, linestyle="",
                              label="partial minute (rate scaled)"))
    top.set_ylabel("invocations per minute")
    top.set_ylim(0, max(float(rate.max()) if len(rate) else 1.0, 1.0) * HEADROOM)
    users = top.twinx()
    handles.append(users.plot(minutes, frame["Users"], color=USERS, marker="s", markersize=4, alpha=0.7,
                              drawstyle="steps-mid", label="users")[0])
    _users_axis(users, frame["Users"])
    top.set_title(title, fontsize=10)
    styles = (("ModelLatency_p50", "p50", "tab:green"), ("ModelLatency_p95", "p95", LATENCY),
              ("ModelLatency_p99", "p99", "tab:red"))
    for column, label, color in styles:
        handles.append(bottom.plot(minutes, frame[column] / 1000.0, marker=".", color=color, label=label)[0])
    highest = float(frame["ModelLatency_p99"].max() / 1000.0) if len(frame) else 1.0
    line = threshold_limit(bottom, threshold_ms, highest, f"threshold {threshold_ms:g} ms" if threshold_ms else "")
    handles += [line] if line is not None else []
    bottom.set_ylabel("ModelLatency (ms)")
    bottom.set_xlabel("minute")
    _minute_axis(bottom, int(minutes.max()) if len(minutes) else 1)
    outside_legend(fig, handles, columns=6)
    return fig


def _users_axis(ax: Axes, users: pd.Series) -> None:
    """Users from 0 with head room (one user is a visible point, not a line on the top edge)."""
    ax.set_ylabel("users")
    ax.set_ylim(0, max(float(users.max()) if len(users) else 1.0, 1.0) * 1.5)
    integer_ticks(ax.yaxis)


def _minute_axis(ax: Axes, last: int) -> None:
    """Whole minutes from 1 to ``last``, half a minute of room either side."""
    ax.set_xlim(0.5, max(last, 1) + 0.5)
    integer_ticks(ax.xaxis)


def plot_job_report(chart: JobChart, path: Path) -> None:
    """report.png: :func:`job_figure` as a PNG."""
    save_figure(job_figure(chart), path)


def job_figure(chart: JobChart) -> Figure:
    """Per benchmark, on the job's whole traffic pattern: invocations per minute (the best
    minute in green) with users and the MaxInvocations target, and the latency percentile
    against the threshold; the minutes the benchmark did not run are shaded with why."""
    rows = max(1, len(chart.benchmarks))
    fig, axes = plt.subplots(rows, 2, figsize=(11, 2.8 * rows + 1.2), squeeze=False, layout="constrained")
    handles: dict[str, Artist] = {}
    for series, (left, right) in zip(chart.benchmarks, axes, strict=False):
        handles.update(_benchmark_row(series, chart, left, right))
    if not chart.benchmarks:
        axes[0][0].text(0.5, 0.5, "no benchmark ran", ha="center", va="center", transform=axes[0][0].transAxes)
    for left, right in axes:
        for ax in (left, right):
            _minute_axis(ax, chart.planned_minutes)
    for ax in axes[-1]:
        ax.set_xlabel("minute of the benchmark")
    fig.suptitle(chart.title)
    outside_legend(fig, list(handles.values()), columns=4)
    return fig


def _benchmark_row(series: BenchmarkSeries, chart: JobChart, left: Axes, right: Axes) -> dict[str, Artist]:
    """One benchmark's two panels; the legend handles they drew, by label."""
    frame = series.frame[series.frame["seconds"] >= 60.0]
    minutes, invocations = frame["minute"], frame["Invocations"]
    ran = int(minutes.max()) if len(minutes) else 0
    reason = f", stopped by {series.stop_reason}" if series.stop_reason else ""
    best = ""
    if series.best_minute is not None and series.best_minute in set(minutes):
        value = int(invocations[minutes == series.best_minute].iloc[0])
        best = f"\nbest minute {series.best_minute}: {value:,} invocations (the per-instance max)"
    # The best minute's count is said in the title, never written on the bars (where the users
    # line crosses it, and white on green is below WCAG AA's 4.5:1).
    left.set_title(f"{series.label}: {series.status}, {ran} of {chart.planned_minutes} min{reason}{best}", fontsize=9,
                   loc="left", pad=11)  # clear of the users axis' top label
    colors = [BEST if m == series.best_minute else INVOCATIONS for m in minutes]
    left.bar(minutes, invocations, width=0.6, color=colors, alpha=0.85)
    drawn: dict[str, Artist] = {"bars": Patch(color=INVOCATIONS, alpha=0.85, label="invocations / min")}
    target = threshold_limit(left, chart.max_invocations, float(invocations.max()) if len(invocations) else 1.0,
                             "MaxInvocations target", color="purple")
    if target is not None:
        drawn["target"] = target
    if best:
        drawn["best"] = Patch(color=BEST, alpha=0.85, label="best minute (per-instance max)")
    left.set_ylabel("invocations / min")
    integer_ticks(left.yaxis)
    users = left.twinx()
    drawn["users"] = users.plot(minutes, frame["Users"], color=USERS, marker="s", markersize=5, alpha=0.75,
                                drawstyle="steps-mid", label="users")[0]
    _users_axis(users, frame["Users"])
    column = f"ModelLatency_p{chart.percentile[1:]}"
    values = frame[column] / 1000.0
    drawn["latency"] = right.plot(minutes, values, marker="o", color=LATENCY,
                                  label=f"ModelLatency {chart.percentile}")[0]
    threshold = threshold_limit(right, chart.threshold_ms, float(values.max()) if len(values) else 1.0,
                                f"threshold {chart.threshold_ms:g} ms" if chart.threshold_ms else "")
    if threshold is not None:
        drawn["threshold"] = threshold
    right.set_ylabel(f"{chart.percentile} ms")
    if ran < chart.planned_minutes:
        for ax in (left, right):
            ax.axvspan(ran + 0.5, chart.planned_minutes + 0.5, color=NOT_RUN, zorder=0)
        left.text((ran + chart.planned_minutes + 1) / 2, 0.5, "not run", transform=left.get_xaxis_transform(),
                  ha="center", va="center", fontsize=8, color="0.35")
        drawn["not run"] = Patch(color=NOT_RUN, label="not run: the test had stopped")
    return drawn


def plot_calibration(calibration: Calibration, frame: pd.DataFrame | None, instance_count: int,
                     path: Path, samples: np.ndarray | None = None) -> None:
    """A calibration's chart: :func:`calibration_figure` as a PNG."""
    save_figure(calibration_figure(calibration, frame, instance_count, samples), path)


def calibration_figure(calibration: Calibration, frame: pd.DataFrame | None, instance_count: int,
                       samples: np.ndarray | None = None) -> Figure:
    """The fitted service time against what was observed: its percentiles beside the
    light-load minutes' (CloudWatch) or the samples'; with CloudWatch minutes, a second panel
    of mean latency against load with the fitted M/G/c curve. Only panels with data are drawn."""
    two = frame is not None
    fig, panels = plt.subplots(1, 2 if two else 1, figsize=(11 if two else 6.5, 4.4), squeeze=False,
                               layout="constrained")
    left = panels[0][0]
    service = calibration.service
    ps = np.linspace(0.01, 0.995, 200)
    fitted = [quantile_ms(service.family, service.mean_ms, service.cv, p) for p in ps]
    handles: list[Artist] = [left.plot(ps * 100, fitted, label=f"fitted {service.family} (cv {service.cv:.2f})")[0]]
    if samples is not None and len(samples):
        observed = np.percentile(samples, QUANTILES)
        handles.append(left.scatter(QUANTILES, observed, color="black", s=18, zorder=3,
                                    label=f"observed, {len(samples):,} samples"))
    if frame is not None:
        handles += _light_load_points(left, frame, instance_count)
        handles += _load_panel(panels[0][1], calibration, frame, instance_count)
    left.set_xlabel("percentile")
    left.set_ylabel("ModelLatency (ms)")
    left.set_ylim(bottom=0)
    left.set_title(f"{calibration.entry.instance_type}: service time", fontsize=10)
    outside_legend(fig, handles, columns=2)
    return fig


def _light_load_points(ax: Axes, frame: pd.DataFrame, instance_count: int) -> list[Artist]:
    """The light-load minutes' percentiles (where queueing adds nothing), as points."""
    light = light_load_minutes(frame, per_instance_invocations(frame, instance_count))
    drawn = False
    for p in QUANTILES:
        column = f"ModelLatency_p{p}"
        if column in frame and light.any():
            ax.scatter([p] * int(light.sum()), frame.loc[light, column] / 1000.0, color="black", s=12)
            drawn = True
    return [Line2D([], [], marker="o", color="black", linestyle="", markersize=4,
                   label="observed, light-load minutes")] if drawn else []


def _load_panel(ax: Axes, calibration: Calibration, frame: pd.DataFrame, instance_count: int) -> list[Artist]:
    """Mean latency against per-instance load: observed minutes, the fitted M/G/c curve, capacity."""
    service = calibration.service
    invocations = per_instance_invocations(frame, instance_count)
    mean_s = service.mean_ms / 1000.0
    handles: list[Artist] = [ax.scatter(invocations, frame["ModelLatency_Average"] / 1000.0, s=14,
                                        label="observed minutes")]
    grid = np.linspace(1, max(float(invocations.max()), 2.0), 100)
    curve = [allen_cunneen_mean_response_s(x / 60.0, calibration.entry.workers, mean_s, service.cv) * 1000
             for x in grid]
    handles += ax.plot(grid, curve, color=LATENCY,
                       label=f"open-traffic M/G/c, c = {calibration.entry.workers} (a closed test queues less)")
    capacity = calibration.entry.workers / mean_s * 60.0
    handles.append(ax.axvline(capacity, color="grey", linestyle="--",
                              label=f"capacity c / E[S] = {capacity:,.0f} / min"))
    ax.set_ylim(0, max(frame["ModelLatency_Average"].max() / 1000.0 * 1.2, service.mean_ms * 2))
    ax.set_xlim(0, max(capacity, float(invocations.max())) * 1.08)
    ax.set_xlabel("invocations / min per instance")
    ax.set_ylabel("mean ModelLatency (ms)")
    return handles
