"""How a finished job is shown: the console table, the progress lines, and the --out files."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from irsim.benchmark import BenchmarkOutcome
from irsim.job import JobResult

BAR_WIDTH = 24


def json_default(value: Any) -> Any:
    """datetimes as ISO 8601 (as the AWS CLI prints them); numpy scalars as numbers."""
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, default=json_default)


def benchmark_label(outcome: BenchmarkOutcome) -> str:
    environment = ",".join(f"{k}={v}" for k, v in outcome.spec.environment)
    return outcome.spec.instance_type + (f" [{environment}]" if environment else "")


def progress_printer(traffic_duration_s: float, stream: TextIO | None = None):
    """A callback that draws one bar per finished benchmark: how much of the traffic ran."""

    def show(outcome: BenchmarkOutcome, done: int, total: int) -> None:
        fraction = min(1.0, outcome.duration_s / traffic_duration_s) if traffic_duration_s else 1.0
        filled = round(fraction * BAR_WIDTH)
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        print(f"[{done}/{total}] {benchmark_label(outcome):<34} |{bar}| {outcome.duration_s / 60:>4.0f} min  "
              f"{outcome.status:<9} {outcome.stop_reason}", file=stream or sys.stderr, flush=True)

    return show


def recommendation_table(result: JobResult) -> str:
    """The recommendations ranked by CostPerHour, with what the AWS shape cannot say."""
    return describe_table(result.describe, result.extensions())


def endpoint_label(endpoint: dict[str, Any], model: dict[str, Any] | None = None) -> str:
    """An AWS EndpointConfiguration (and ModelConfiguration) in one line: the instance type or
    the serverless size, then the environment parameters."""
    serverless = endpoint.get("ServerlessConfig")
    target = endpoint.get("InstanceType") or (
        f"serverless {serverless['MemorySizeInMB']} MB x{serverless['MaxConcurrency']}" if serverless else "?")
    environment = ",".join(f"{p['Key']}={p['Value']}" for p in (model or {}).get("EnvironmentParameters", []))
    return target + (f" [{environment}]" if environment else "")


def describe_table(describe: dict[str, Any], extensions: dict[str, Any] | None = None) -> str:
    """A Describe response as a table ranked by CostPerHour; with irsim's extensions, also
    whether each entry was calibrated and how sure its price is, and what failed."""
    thresholds = describe.get("StoppingConditions", {}).get("ModelLatencyThresholds", [])
    percentile = thresholds[0]["Percentile"] if thresholds and describe["JobType"] == "Advanced" else "P95"
    title = f"Job {describe['JobName']} ({describe['JobType']}): {describe['Status']}"
    if extensions:
        title += f" — model {extensions['model']}, seed {extensions['seed']}"
    lines = [title]
    if describe.get("FailureReason"):
        lines.append(f"FailureReason: {describe['FailureReason']}")
    benchmarks = extensions["benchmarks"] if extensions else []
    succeeded = [b for b in benchmarks if b["Status"] == "COMPLETED"]
    recommendations = describe.get("InferenceRecommendations", [])
    extras = succeeded if len(succeeded) == len(recommendations) else [None] * len(recommendations)
    rows = []
    for recommendation, extra in zip(recommendations, extras):
        metrics = recommendation["Metrics"]
        calibrated = "?" if extra is None else "yes" if extra["calibrated"] else "NO (derived)"
        rows.append(((metrics["CostPerHour"], metrics["CostPerInference"]), endpoint_label(recommendation["EndpointConfiguration"], recommendation["ModelConfiguration"]),
                     recommendation["EndpointConfiguration"].get("InitialInstanceCount", "-"), metrics["MaxInvocations"],
                     metrics["ModelLatency"] / 1000.0, metrics["CostPerHour"], metrics["CostPerInference"],
                     metrics.get("CpuUtilization"), metrics.get("MemoryUtilization"),
                     calibrated, "?" if extra is None else extra["price_confidence"]))
    rows.sort(key=lambda r: (r[0], r[1]))
    if rows:
        header = (f"{'#':>2}  {'instance type':<34} {'count':>5} {'MaxInvocations':>14} {percentile + ' ms':>8} "
                  f"{'$/hour':>8} {'$/inference':>12} {'CPU %':>7} {'mem %':>6}  calibrated    price")
        lines += ["", header, "-" * len(header)]
        for rank, row in enumerate(rows, start=1):
            _, label, count, invocations, latency, cost, per_inference, cpu, memory, calibrated, confidence = row
            lines.append(f"{rank:>2}  {label:<34} {count:>5} {invocations:>14,} {latency:>8.2f} {cost:>8.3f} "
                         f"{per_inference:>12.3e} {_maybe(cpu, 7)} {_maybe(memory, 6)}  {calibrated:<13} {confidence}")
        flagged = sorted({row[10] for row in rows} - {"confirmed", "?"})
        if flagged:
            lines.append(f"\nPrices marked {', '.join(flagged)} are not confirmed AWS list prices "
                         "(see pricing/data/PRICES_NOTES.md).")
        if any(row[9] == "NO (derived)" for row in rows):
            lines.append("Entries marked NO were derived by scaling rules (calibration/transfer.py), not measured.")
    for benchmark in benchmarks:
        for warning in benchmark.get("warnings", []):
            lines.append(f"WARNING {warning}")
        if benchmark["Status"] == "FAILED":
            lines.append(f"FAILED {_extension_label(benchmark)}: {benchmark.get('failure_reason')}")
    for benchmark in (extensions or {}).get("not_scheduled", []):
        lines.append(f"NOT SCHEDULED {benchmark['InstanceType']}: {benchmark['reason']}")
    for benchmark in (extensions or {}).get("stopped", []):
        lines.append(f"STOPPED {benchmark['InstanceType']}: the job was stopped before this benchmark finished")
    return "\n".join(lines)


def _extension_label(benchmark: dict[str, Any]) -> str:
    environment = ",".join(f"{k}={v}" for k, v in benchmark.get("EnvironmentParameters", {}).items())
    return benchmark["InstanceType"] + (f" [{environment}]" if environment else "")


def _maybe(value: float | None, width: int) -> str:
    return f"{value:>{width}.1f}" if value is not None else " " * (width - 3) + "n/a"


def metrics_frame(result: JobResult) -> pd.DataFrame:
    """Per benchmark, per minute: the CloudWatch-shaped series of every scheduled benchmark."""
    frames = []
    for item in result.scheduled:
        outcome = item.outcome
        frame = outcome.per_minute.copy()
        frame.insert(0, "EnvironmentParameters", ";".join(f"{k}={v}" for k, v in outcome.spec.environment))
        frame.insert(0, "InstanceType", outcome.spec.instance_type)
        frame.insert(0, "benchmark", outcome.spec.index)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def replication_table(summary: dict[str, Any]) -> str:
    """Per benchmark: mean and 95 % interval over the replications."""
    lines = [f"\nOver {summary['replications']} seeded replications (mean [95% interval]):"]
    for entry in summary["benchmarks"]:
        parts = []
        for name, label, fmt in (("per_instance_max_invocations", "per-instance max", "{:,.0f}"),
                                 ("model_latency_ms", "latency ms", "{:.2f}"), ("count_margin", "count margin", "{:+.1%}")):
            if name in entry:
                value = entry[name]
                parts.append(f"{label} {fmt.format(value['mean'])} [{fmt.format(value['ci95'][0])}, "
                             f"{fmt.format(value['ci95'][1])}]")
        count = f", count {entry['count']}" if "count" in entry else ""
        lines.append(f"  {_extension_label(entry):<34} {'; '.join(parts) or 'no replication succeeded'}{count}")
    return "\n".join(lines)


def write_outputs(result: JobResult, out_dir: Path, replicated: dict[str, Any] | None = None) -> list[Path]:
    """describe.json, steps.json, irsim.json (extensions), metrics.csv and report.png.

    Written in a staging folder first, then moved into ``out_dir``: a failure leaves nothing.
    """
    from irsim.plots import plot_job_report

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (staging / "describe.json").write_text(dumps(result.describe) + "\n")
        (staging / "steps.json").write_text(dumps(result.steps) + "\n")
        extensions = result.extensions()
        if replicated:
            extensions["replications"] = replicated
        (staging / "irsim.json").write_text(dumps(extensions) + "\n")
        metrics_frame(result).to_csv(staging / "metrics.csv", index=False)
        threshold = result.spec.stopping.latency.value_ms if result.spec.stopping.latency else None
        plot_job_report([(benchmark_label(i.outcome), i.outcome.per_minute,
                          "COMPLETED" if i.succeeded else "FAILED") for i in result.scheduled],
                        result.spec.percentile, threshold, f"{result.describe['JobName']}: simulated benchmarks",
                        staging / "report.png")
        out_dir.mkdir(exist_ok=True)
        written = []
        for path in sorted(staging.iterdir()):
            target = out_dir / path.name
            path.replace(target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
