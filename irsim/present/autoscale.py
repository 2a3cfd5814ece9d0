"""What `irsim autoscale` shows and writes: the comparison table, the timeline chart, the
per-minute CSV (written all-or-nothing), and the section `irsim report` renders from them."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

from irsim.present.files import made_folders, read_folder_json, reported_as_write_errors
from irsim.present.formats import dumps
from irsim.present.htmlparts import Num
from optimizer.verdict import TOO_CLOSE

matplotlib.use("Agg")
import matplotlib.pyplot as plt

#: The files an autoscaling what-if writes in its output folder.
DOCUMENT, MINUTES, CHART = "autoscale.json", "autoscale.csv", "autoscale.png"
POLICY_KEYS = ("MinCapacity", "MaxCapacity", "TargetValue", "ScaleInCooldown", "ScaleOutCooldown")


def _plans(document: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]]:
    """(label, totals, policy) of each plan the document compares, the recommendation first."""
    static = document["static_peak"]
    aws = document["aws_policy"]
    return [("recommended policy", document, document["policy"]),
            ("AWS's recommendation", aws, aws),
            (f"static at the peak ({static['count']})", static, None)]


def autoscale_headline(document: Mapping[str, Any]) -> str:
    """The answer in one sentence: the policy, its cost against static provisioning at the peak,
    and its violating minutes against the budget."""
    policy, static = document["policy"], document["static_peak"]
    saving = 1 - document["cost"] / static["cost"] if static["cost"] else 0.0
    if not document.get("within_budget", True):
        return (f"No policy searched kept the SLO-violating minutes within the budget of "
                f"{document['budget_minutes']:,}: provision {static['count']} instance(s) statically "
                f"(${static['cost']:,.2f} over the curve).")
    return (f"Scale {document['instance_type']} between {policy['MinCapacity']} and {policy['MaxCapacity']} "
            f"instances at a target of {policy['TargetValue']:,.0f} invocations per instance per minute: "
            f"${document['cost']:,.2f} over the {document['minutes']:,}-minute curve, {saving:.0%} less than "
            f"{static['count']} instances at the peak (${static['cost']:,.2f}), with "
            f"{document['violating_minutes']:,} SLO-violating minute(s){_too_close(document)} (the budget "
            f"allows {document['budget_minutes']:,}).")


def _too_close(plan: Mapping[str, Any]) -> str:
    """", and N too close to call" when a plan has such minutes."""
    count = plan.get("too_close_minutes", 0)
    return f" and {count:,} {TOO_CLOSE}" if count else ""


def autoscale_table(document: Mapping[str, Any]) -> str:
    """The console answer: the inputs in a few lines, then one row per plan (fits 100 columns)."""
    traffic, slo = document["traffic"], document["slo"]
    lines = [autoscale_headline(document), "",
             f"job       {document['job']}: {document['instance_type']} at ${document['price_per_hour']:.3f}/hour "
             f"(recommendation {document['recommendation_id']})",
             f"traffic   {traffic['minutes']:,} minutes, peak {traffic['peak_per_minute']:,.0f}/min, "
             f"{traffic['total_invocations']:,.0f} invocations: {traffic['source']}",
             f"SLO       {slo['percentile']} <= {slo['ms']:g} ms in all but {document['violation_budget']:.2%} of "
             f"minutes ({document['budget_minutes']:,} allowed); instances start in {document['startup_s']:g} s",
             *(f"note      {note}" for note in traffic.get("notes", []))]
    lines = [wrapped_line for line in lines for wrapped_line in
             (textwrap.wrap(line, 100, subsequent_indent=" " * 10, break_on_hyphens=False) or [""])]
    header = (f"{'plan':<24} {'Min':>4} {'Max':>4} {'TargetValue':>11} {'cooldown in/out':>15} "
              f"{'violating min':>14} {'cost $':>10} {'vs static':>14}")
    lines += ["", header, "-" * len(header)]
    static_cost = document["static_peak"]["cost"]
    for label, totals, policy in _plans(document):
        if policy is None:
            settings = f"{'-':>4} {'-':>4} {'-':>11} {'-':>15}"
        else:
            settings = (f"{policy['MinCapacity']:>4} {policy['MaxCapacity']:>4} {policy['TargetValue']:>11,.0f} "
                        f"{str(policy['ScaleInCooldown']) + '/' + str(policy['ScaleOutCooldown']) + ' s':>15}")
        share = totals["violating_minutes"] / document["minutes"] if document["minutes"] else 0.0
        change = totals["cost"] / static_cost - 1 if static_cost else 0.0  # negative: it costs less
        lines.append(f"{label:<24} {settings} {totals['violating_minutes']:>6,} {f'({share:.2%})':>7} "
                     f"{totals['cost']:>10,.2f} {cost_change(change):>14}")
    if not document.get("within_budget", True):
        lines.append("\nNo policy searched kept within the budget: the answer is the static count at the peak.")
    for said in (too_close_line(document), engine_line(document)):
        if said:
            lines += ["", *textwrap.wrap(said, 100)]
    lines.append("\nvs static: the cost against static provisioning at the peak. AWS's recommendation is "
                 "GetScalingConfigurationRecommendation's policy.")
    lines += textwrap.wrap(f"The AWS policy: {document['aws_policy']['rule']}.", 100)
    return "\n".join(lines)


def cost_change(change: float) -> str:
    """A plan's cost against the static count's, in words whose sign means what it says:
    "saves 36%", "costs 12% more", or "same"."""
    if round(change * 100) == 0:
        return "same"
    return f"saves {-change:.0%}" if change < 0 else f"costs {change:.0%} more"


def minutes_frame(recommended: pd.DataFrame, aws: pd.DataFrame, static: pd.DataFrame,
                  engine: Any = None) -> pd.DataFrame:
    """The per-minute CSV: the recommended policy's timeline, with the AWS policy's and the
    static count's capacity, percentile, violations and verdicts beside it, and the engine
    check's percentile, violations and verdicts when ``engine`` (its Timeline) is given."""
    frame = recommended.copy()
    for prefix, other in (("aws", aws), ("static", static)):
        for column in ("capacity", "percentile_ms", "violating", "verdict"):
            frame[f"{prefix}_{column}"] = other[column].to_numpy()
    if engine is not None:
        for column in ("percentile_ms", "violating", "verdict"):
            frame[f"engine_{column}"] = engine.frame[column].to_numpy()
    return frame


def too_close_line(document: Mapping[str, Any]) -> str:
    """The minutes each plan leaves too close to call, said out loud (empty when none does)."""
    counts = [(label, plan.get("too_close_minutes", 0)) for label, plan, _ in _plans(document)]
    if not any(count for _, count in counts):
        return ""
    listed = ", ".join(f"{label} {count:,}" for label, count in counts)
    return (f"Too close to call (the minute's measured {document['slo']['percentile']} could land on either side "
            f"of the SLO; counted above by the model's prediction): {listed} minute(s).")


def engine_line(document: Mapping[str, Any]) -> str:
    """The engine check of the recommended policy, three-valued (empty without one)."""
    check = document.get("engine_check")
    if check is None:
        return ""
    return (f"Engine check, {check['replay']}: {check['violating_minutes']:,} minute(s) above the SLO; per "
            f"minute {check['meets_minutes']:,} meet, {check['misses_minutes']:,} miss and "
            f"{check['too_close_minutes']:,} are {TOO_CLOSE} at 95 % confidence.")


def plot_autoscale(frame: pd.DataFrame, document: Mapping[str, Any], path: Path) -> None:
    """Traffic; capacity of the three plans; the recommended policy's percentile against the
    SLO, its violating minutes marked. Hours on the x axis for curves longer than a day."""
    slo = document["slo"]
    long = len(frame) > 24 * 60
    x = (frame["minute"].to_numpy() - 1) / (60.0 if long else 1.0)
    unit = "hours" if long else "minutes"
    fig, (traffic, capacity, latency) = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True,
                                                     gridspec_kw={"height_ratios": [1, 1, 1.2]})
    traffic.plot(x, frame["invocations"], color="tab:blue", linewidth=0.8)
    traffic.set_ylabel("invocations / min")
    curve = document["traffic"]
    traffic.set_title(f"{document['job']}: {document['instance_type']} at ${document['price_per_hour']:.3f}/h, "
                      f"{curve['minutes']:,} minutes, peak {curve['peak_per_minute']:,.0f}/min, {slo['percentile']} "
                      f"<= {slo['ms']:g} ms", fontsize=10)
    static = document["static_peak"]["count"]
    capacity.step(x, frame["capacity"], where="post", color="tab:green", label="recommended policy")
    capacity.step(x, frame["aws_capacity"], where="post", color="tab:purple", alpha=0.7,
                  label="GetScalingConfigurationRecommendation")
    capacity.axhline(static, color="0.4", linestyle="--", linewidth=1, label=f"static at the peak ({static})")
    capacity.set_ylabel("instances in service")
    capacity.yaxis.get_major_locator().set_params(integer=True)
    capacity.legend(loc="upper left", fontsize=8, framealpha=0.9)
    percentile = np.nan_to_num(frame["percentile_ms"].to_numpy(dtype=float), nan=0.0, posinf=np.nan)
    latency.plot(x, percentile, color="tab:orange", linewidth=0.8, label=f"{slo['percentile']} (recommended)")
    if "aws_percentile_ms" in frame:
        aws = np.nan_to_num(frame["aws_percentile_ms"].to_numpy(dtype=float), nan=0.0, posinf=np.nan)
        latency.plot(x, aws, color="tab:purple", linewidth=0.6, alpha=0.6, label=f"{slo['percentile']} (AWS policy)")
    latency.axhline(slo["ms"], color="tab:red", linestyle="--", linewidth=1, label=f"SLO {slo['ms']:g} ms")
    bad = frame["violating"].to_numpy(dtype=bool)
    if bad.any():
        marks = np.where(np.isnan(percentile[bad]), slo["ms"] * 1.1, percentile[bad])
        latency.scatter(x[bad], marks, color="tab:red", s=12, zorder=3,
                        label=f"violating minutes ({int(bad.sum())})")
    if "verdict" in frame and (frame["verdict"] == TOO_CLOSE).any():
        close = (frame["verdict"] == TOO_CLOSE).to_numpy()
        marks = np.where(np.isnan(percentile[close]), slo["ms"], percentile[close])
        latency.scatter(x[close], marks, facecolors="none", edgecolors="0.3", s=16, zorder=3,
                        label=f"too close to call ({int(close.sum())})")
    if "aws_violating" in frame and frame["aws_violating"].any():
        missed = frame["aws_violating"].to_numpy(dtype=bool)
        latency.scatter(x[missed], np.full(int(missed.sum()), slo["ms"] * 1.02), color="tab:purple", marker="x",
                        s=14, zorder=3, label=f"AWS policy's violating minutes ({int(missed.sum())})")
    top = np.nanmax(np.append(percentile, slo["ms"]))
    latency.set_ylim(0, min(top, slo["ms"] * 3) * 1.15)
    latency.set_ylabel(f"{slo['percentile']} ms")
    latency.set_xlabel(f"{unit} from the start of the curve")
    latency.legend(loc="lower right", fontsize=8, framealpha=0.9, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_autoscale_outputs(out_dir: Path, document: Mapping[str, Any], frame: pd.DataFrame) -> list[Path]:
    """autoscale.json, autoscale.csv and autoscale.png, made in a staging folder beside
    ``out_dir`` and moved in only once all three exist: a failure leaves nothing half-written."""
    out_dir = Path(out_dir)
    with reported_as_write_errors(out_dir), made_folders(out_dir.parent):
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
        try:
            (staging / DOCUMENT).write_text(dumps(document) + "\n")
            frame.to_csv(staging / MINUTES, index=False)
            plot_autoscale(frame, document, staging / CHART)
            out_dir.mkdir(exist_ok=True)
            written = []
            for name in (DOCUMENT, MINUTES, CHART):
                (staging / name).replace(out_dir / name)
                written.append(out_dir / name)
            return written
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class AutoscaleReport:
    """What `irsim report` shows of an autoscale folder: a paragraph, a table and the chart."""

    headline: str
    intro: str
    columns: list[str]
    rows: list[list[Any]]
    chart: Path | None


def autoscale_report(folder: Path) -> AutoscaleReport | None:
    """The report section of ``folder``'s autoscale.json (None when it has none)."""
    if not (folder / DOCUMENT).exists():
        return None
    document = read_folder_json(folder, DOCUMENT)
    slo, traffic = document["slo"], document["traffic"]
    intro = (f"{document['instance_type']} for job {document['job']} under {traffic['source']} "
             f"({traffic['minutes']:,} minutes, peak {traffic['peak_per_minute']:,.0f}/min); SLO {slo['percentile']} "
             f"<= {slo['ms']:g} ms in all but {document['violation_budget']:.2%} of minutes; instances start in "
             f"{document['startup_s']:g} s. The per-minute series is in {MINUTES}.")
    rows = [[label, *_policy_cells(policy), Num(f"{totals['violating_minutes']:,}"),
             Num(f"{totals.get('too_close_minutes', 0):,}"), Num(f"${totals['cost']:,.2f}")]
            for label, totals, policy in _plans(document)]
    intro = " ".join(part for part in (intro, too_close_line(document), engine_line(document)) if part)
    chart = folder / CHART if (folder / CHART).exists() else None
    return AutoscaleReport(headline=autoscale_headline(document), intro=intro, columns=[
        "Plan", "MinCapacity", "MaxCapacity", "TargetValue (per instance per min)", "Scale-in cooldown",
        "Scale-out cooldown", "Violating minutes", "Minutes too close to call", "Cost over the curve"], rows=rows,
        chart=chart)


def _policy_cells(policy: Mapping[str, Any] | None) -> list[Num]:
    """A policy's settings for people: whole instances, invocations and seconds."""
    if policy is None:
        return [Num("-")] * len(POLICY_KEYS)
    return [Num(f"{policy['MinCapacity']:,}"), Num(f"{policy['MaxCapacity']:,}"),
            Num(f"{policy['TargetValue']:,.0f}"), Num(f"{policy['ScaleInCooldown']:,} s"),
            Num(f"{policy['ScaleOutCooldown']:,} s")]
