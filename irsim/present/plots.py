"""PNG charts of simulated runs (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from calibration.fit import QUANTILES, Calibration, light_load_minutes, per_instance_invocations, quantile_ms
from irsim.service.labels import detail_label
from simulator.analytic import allen_cunneen_mean_response_s

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd


def plot_per_minute(frame: pd.DataFrame, title: str, path: Path, threshold_ms: float | None = None) -> None:
    """Invocations per minute, ModelLatency percentiles and users against simulated minutes."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    minutes = frame["start_s"] / 60.0 + frame["seconds"] / 120.0
    top.plot(minutes, frame["Invocations"] * 60.0 / frame["seconds"], marker="o", label="Invocations / min")
    top.set_ylabel("invocations per minute")
    users = top.twinx()
    users.step(frame["start_s"] / 60.0, frame["Users"], where="post", color="grey", alpha=0.6, label="users")
    users.set_ylabel("users")
    top.set_ylim(bottom=0)
    users.set_ylim(bottom=0)
    top.set_title(title)
    for column, label in (("ModelLatency_p50", "p50"), ("ModelLatency_p95", "p95"), ("ModelLatency_p99", "p99")):
        bottom.plot(minutes, frame[column] / 1000.0, marker=".", label=label)
    if threshold_ms is not None:
        bottom.axhline(threshold_ms, color="red", linestyle="--", label=f"threshold {threshold_ms:g} ms")
    bottom.set_ylabel("ModelLatency (ms)")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("simulated minute")
    bottom.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def plot_job_report(benchmarks: list[tuple[str, pd.DataFrame, str]], percentile: str, threshold_ms: float | None,
                    title: str, path: Path) -> None:
    """Per benchmark: invocations per minute with users, and the latency percentile against
    the threshold. ``benchmarks`` holds (label, per-minute frame, status)."""
    rows = max(1, len(benchmarks))
    fig, axes = plt.subplots(rows, 2, figsize=(11, 2.6 * rows + 0.6), squeeze=False)
    column = f"ModelLatency_p{percentile[1:]}"
    # strict=False: with no benchmark the figure keeps one empty row
    for (label, frame, status), (left, right) in zip(benchmarks, axes, strict=False):
        full = frame[frame["seconds"] >= 60.0]
        minutes = full["minute"] + 1
        left.bar(minutes, full["Invocations"], color="tab:blue", alpha=0.8, label="Invocations / min")
        left.set_ylabel("invocations / min")
        left.set_title(f"{label} ({status})", fontsize=9, loc="left")
        users = left.twinx()
        users.step(minutes, full["Users"], where="mid", color="black", alpha=0.6, label="users")
        users.set_ylabel("users")
        users.set_ylim(bottom=0)
        right.plot(minutes, full[column] / 1000.0, marker="o", color="tab:orange", label=f"ModelLatency {percentile}")
        if threshold_ms is not None:
            right.axhline(threshold_ms, color="red", linestyle="--", label=f"threshold {threshold_ms:g} ms")
        right.set_ylabel("ms")
        right.set_ylim(bottom=0)
        right.legend(loc="upper left", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("minute of the benchmark")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)


def plot_calibration(calibration: Calibration, frame: pd.DataFrame | None, instance_count: int,
                     path: Path) -> None:
    """Left: observed light-load percentiles against the fitted family's. Right: mean latency
    against load, observed minutes and the fitted M/G/c curve."""


    service = calibration.service
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    ps = np.linspace(0.01, 0.995, 200)
    left.plot(ps * 100, [quantile_ms(service.family, service.mean_ms, service.cv, p) for p in ps],
              label=f"fitted {service.family} (cv {service.cv:.2f})")
    if frame is not None:
        invocations = per_instance_invocations(frame, instance_count)
        light = light_load_minutes(frame, invocations)
        for p in QUANTILES:
            column = f"ModelLatency_p{p}"
            if column in frame:
                left.scatter([p] * int(light.sum()), frame.loc[light, column] / 1000.0, color="black", s=12)
        left.scatter([], [], color="black", s=12, label="observed, light-load minutes")
        mean_s = service.mean_ms / 1000.0
        right.scatter(invocations, frame["ModelLatency_Average"] / 1000.0, s=14, label="observed minutes")
        grid = np.linspace(1, invocations.max(), 100)
        curve = [allen_cunneen_mean_response_s(x / 60.0, calibration.entry.workers, mean_s, service.cv) * 1000
                 for x in grid]
        right.plot(grid, curve, color="tab:orange",
                   label=f"open-traffic M/G/c, c = {calibration.entry.workers} (a closed test queues less)")
        capacity = calibration.entry.workers / mean_s * 60.0
        right.axvline(capacity, color="grey", linestyle="--", label=f"capacity c / E[S] = {capacity:,.0f} / min")
        right.set_ylim(0, max(frame["ModelLatency_Average"].max() / 1000.0 * 1.2, service.mean_ms * 2))
    right.set_xlabel("invocations / min per instance")
    right.set_ylabel("mean ModelLatency (ms)")
    right.legend(fontsize=8)
    left.set_xlabel("percentile")
    left.set_ylabel("ModelLatency (ms)")
    left.set_title(f"{calibration.entry.instance_type}: service time", fontsize=10)
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)


def plot_recommendation(document: dict, path: Path) -> None:
    """Cost per hour against the percentile reached, one point per verified alternative, the
    SLO drawn; the chosen endpoint ringed and the Pareto front joined."""

    target = document["Target"]
    percentile = target["Percentile"]
    fig, ax = plt.subplots(figsize=(8, 5))
    for detail, item_id in ((d, d["RecommendationId"]) for d in document["Details"]):
        cost = next(i["Metrics"]["CostPerHour"] for i in document["InferenceRecommendations"]
                    if i["RecommendationId"] == item_id)
        low, high = detail[percentile]["ConfidenceInterval95"]
        value = detail[percentile]["Milliseconds"]
        label = detail_label(detail).replace(" x ml.", "x ")
        ax.errorbar(value, cost, xerr=[[value - low], [high - value]], fmt="o", capsize=3)
        ax.annotate(label, (value, cost), textcoords="offset points", xytext=(6, 4), fontsize=8)
        if detail["Verified"]:
            ax.scatter([value], [cost], s=220, facecolors="none", edgecolors="green", label="verified cheapest")
    front = sorted((p[f"{percentile}Ms"], p["CostPerHour"]) for p in document["Pareto"])
    if len(front) > 1:
        ax.plot(*zip(*front, strict=True), linestyle=":", color="grey", label="Pareto front")
    ax.axvline(target["ValueInMilliseconds"], color="red", linestyle="--",
               label=f"SLO {percentile} {target['ValueInMilliseconds']:g} ms")
    ax.set_xlabel(f"{percentile} ModelLatency at {target['InvocationsPerMinute']:,.0f} invocations/min (ms)")
    ax.set_ylabel("cost per hour (USD)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Endpoints that meet the target, by cost and latency")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)


def plot_sweep(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """cost_vs_rate.png: per type, the cost per hour of its smallest passing endpoint against
    the target rate (the count annotated, the chosen ones ringed), one panel per SLO.
    crossover.png: for each rate and threshold, the cheapest type."""

    ok = table[table["status"] == "ok"] if "status" in table else table.iloc[0:0]
    written: list[Path] = []
    if ok.empty:
        return written
    slos = sorted(ok["slo_ms"].unique())
    fig, axes = plt.subplots(1, len(slos), figsize=(6 * len(slos), 4.5), squeeze=False)
    for ax, slo in zip(axes[0], slos, strict=True):
        part = ok[ok["slo_ms"] == slo]
        for instance_type, rows in part.groupby("instance_type"):
            rows = rows.groupby("target_per_minute").agg(cost=("cost_per_hour", "min"), count=("count", "min"),
                                                         chosen=("chosen", "max")).reset_index()
            line, = ax.plot(rows["target_per_minute"], rows["cost"], marker="o", label=instance_type)
            for _, row in rows.iterrows():
                ax.annotate(f"{int(row['count'])}", (row["target_per_minute"], row["cost"]),
                            textcoords="offset points", xytext=(3, 4), fontsize=7, color=line.get_color())
            chosen = rows[rows["chosen"]]
            ax.scatter(chosen["target_per_minute"], chosen["cost"], s=140, facecolors="none", edgecolors="black")
        ax.set_title(f"{part['percentile'].iloc[0]} <= {slo:g} ms (ringed: chosen; numbers: instances)", fontsize=9)
        ax.set_xlabel("target rate (invocations per minute)")
        ax.set_ylabel("cost per hour (USD)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / "cost_vs_rate.png"
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)
    written.append(path)

    chosen = ok[ok["chosen"]]
    if chosen["target_per_minute"].nunique() >= 1 and not chosen.empty:
        grid = chosen.pivot_table(index="slo_ms", columns="target_per_minute", values="endpoint", aggfunc="first")
        types = sorted(chosen["instance_type"].unique())
        codes = chosen.pivot_table(index="slo_ms", columns="target_per_minute", values="instance_type",
                                   aggfunc="first").apply(lambda col: col.map(types.index))
        fig, ax = plt.subplots(figsize=(1.4 * grid.shape[1] + 2, 0.9 * grid.shape[0] + 1.5))
        ax.imshow(codes.to_numpy(dtype=float), cmap="tab20", aspect="auto", vmin=0, vmax=max(19, len(types)))
        for (i, j), label in np.ndenumerate(grid.to_numpy()):
            ax.text(j, i, str(label).replace(" x ml.", "x "), ha="center", va="center", fontsize=7)
        ax.set_xticks(range(grid.shape[1]), [f"{c:,.0f}" for c in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{r:g} ms" for r in grid.index])
        ax.set_xlabel("target rate (invocations per minute)")
        ax.set_ylabel("latency threshold")
        ax.set_title("Cheapest endpoint per rate and threshold")
        fig.tight_layout()
        path = out_dir / "crossover.png"
        fig.savefig(path, format="png", dpi=90)
        plt.close(fig)
        written.append(path)
    return written
