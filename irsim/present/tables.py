"""Console tables: a job's recommendations and steps, replications, a plan, a simulation."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from irsim.service.labels import endpoint_label
from irsim.service.minutes import numbered_minutes
from irsim.service.result import (
    BenchmarkRecord,
    Headline,
    ImportedJob,
    Interval,
    JobDocument,
    JobResult,
    ProductionCheckRecord,
    Replications,
    SettleRecord,
)
from optimizer.verdict import settle_words
from simulator import SimulationResult

#: The console's width: the default view fits it (the wide view shows every column, however wide).
CONSOLE_COLUMNS = 100
CPU_SCALE = "CPU %: CloudWatch's CPUUtilization, 100% per vCPU (an instance of 4 vCPUs at full load reads 400%)"
PER_MILLION = "$/M inf: dollars per million inferences"


def recommendation_table(result: JobResult, wide: bool = False) -> str:
    """The recommendations ranked by CostPerHour, with what the AWS shape cannot say."""
    return describe_table(result.describe, result.document(), wide=wide)


def describe_table(describe: dict[str, Any], document: JobDocument | ImportedJob | None = None,
                   wide: bool = False) -> str:
    """A Describe response as a table ranked by CostPerHour; with irsim's document, also
    whether each entry was calibrated and how sure its price is, and what failed. It fits
    CONSOLE_COLUMNS unless ``wide`` (every column, CPU and memory included)."""
    thresholds = describe.get("StoppingConditions", {}).get("ModelLatencyThresholds", [])
    percentile = thresholds[0]["Percentile"] if thresholds and describe["JobType"] == "Advanced" else "P95"
    title = f"Job {describe['JobName']} ({describe['JobType']}): {describe['Status']}"
    if document:
        title += f" — model {document.model}, seed {document.seed}"
    simulated = document if isinstance(document, JobDocument) else None
    lines = [title]
    if describe.get("FailureReason"):
        lines.append(f"FailureReason: {describe['FailureReason']}")
    rows = ranked_rows(describe, simulated)
    if simulated and simulated.headline:
        lines.append(headline_line(simulated.headline))
    lines = lines[:1] + fitted(lines[1:], wide)  # the title stays one line (it may name a long path)
    if rows:
        lines += _rows_table(rows, percentile, wide)
    lines += fitted(job_notices(describe, simulated, percentile), wide)
    return "\n".join(lines)


def wrapped(label: str, width: int) -> list[str]:
    """``label`` over as many lines of ``width`` as it needs, broken at spaces where it can:
    never cut, so that two rows cannot read the same."""
    return textwrap.wrap(label, width, break_on_hyphens=False) or [""]


def fitted(lines: list[str], wide: bool) -> list[str]:
    """Prose lines wrapped to CONSOLE_COLUMNS (continuations indented), unless ``wide``."""
    if wide:
        return lines
    out: list[str] = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line, CONSOLE_COLUMNS, subsequent_indent=indent + "  ", break_on_hyphens=False,
                             break_long_words=False) or [""]
    return out


def _rows_table(rows: list[Row], percentile: str, wide: bool) -> list[str]:
    """The ranked rows under their header (labels wrapped, never cut, to fit CONSOLE_COLUMNS
    unless ``wide``), the notes on rows that fail in production, and what the units mean."""
    longest = max(len("endpoint"), *(len(row.label) for row in rows))
    fixed = 80 + (15 if wide else 0)
    width = longest if wide else max(12, min(longest, CONSOLE_COLUMNS - fixed))
    cells = [(f"{'#':>2}  ", f"  {'n':>3} {'max/min':>9} {percentile + ' ms':>7} {'$/hour':>7} {'$/M inf':>8}"
              + (f" {'CPU %':>7} {'mem %':>6}" if wide else "")
              + f"  {'calib.':<6} {'price':<11} in production")]
    header = cells[0][0] + f"{'endpoint':<{width}}" + cells[0][1]
    lines = ["", header, "-" * len(header)]
    notes = []
    for rank, row in enumerate(rows, start=1):
        label = wrapped(row.label, width)
        usage = f" {_maybe(row.cpu, 7)} {_maybe(row.memory, 6)}" if wide else ""
        lines.append(f"{rank:>2}  {label[0]:<{width}}  {row.count:>3} {row.invocations:>9,} {row.latency_ms:>7.2f} "
                     f"{row.cost_per_hour:>7.3f} {row.cost_per_inference * 1e6:>8.3f}{usage}  "
                     f"{'NO' if row.calibrated == DERIVED else row.calibrated:<6} {row.price_confidence:<11} "
                     f"{production_cell(row.check)}")
        lines += [f"    {more}" for more in label[1:]]
        notes += verdict_notes(rank, row)
    lines += ["", *fitted(notes, wide)] if notes else []
    legend = [PER_MILLION] + ([CPU_SCALE] if wide else [])
    lines += ["", *fitted([*legend, *caveat_notes(rows)], wide)]
    return lines


@dataclass(frozen=True)
class Row:
    """A recommendation as the console and the report show it."""

    label: str
    count: int | str
    invocations: int
    latency_ms: float
    cost_per_hour: float
    cost_per_inference: float
    cpu: float | None
    memory: float | None
    calibrated: str  # yes, NO (derived), or ? without irsim's document
    price_confidence: str
    check: ProductionCheckRecord | None


def ranked_rows(describe: Mapping[str, Any], document: JobDocument | None) -> list[Row]:
    """The recommendations as the console ranks them (CostPerHour, CostPerInference, then the
    label); the report shows the same rows."""
    benchmarks = document.benchmarks if document else ()
    succeeded = [b for b in benchmarks if b.status == "COMPLETED" and b.endpoint_name is None]
    recommendations = describe.get("InferenceRecommendations", [])
    extras: list[BenchmarkRecord | None] = (
        list(succeeded) if len(succeeded) == len(recommendations) else [None] * len(recommendations))
    rows = []
    for recommendation, extra in zip(recommendations, extras, strict=True):
        metrics = recommendation["Metrics"]
        endpoint = recommendation["EndpointConfiguration"]
        rows.append(Row(label=endpoint_label(endpoint, recommendation["ModelConfiguration"]),
                        count=endpoint.get("InitialInstanceCount", "-"), invocations=metrics["MaxInvocations"],
                        latency_ms=metrics["ModelLatency"] / 1000.0, cost_per_hour=metrics["CostPerHour"],
                        cost_per_inference=metrics["CostPerInference"], cpu=metrics.get("CpuUtilization"),
                        memory=metrics.get("MemoryUtilization"),
                        calibrated="?" if extra is None else "yes" if extra.calibrated else DERIVED,
                        price_confidence="?" if extra is None else str(extra.price_confidence),
                        check=None if extra is None else extra.production_check))
    rows.sort(key=lambda r: (r.cost_per_hour, r.cost_per_inference, r.calibrated != "yes",
                             r.price_confidence != "confirmed", r.label))
    return rows


DERIVED = "NO (derived)"


def job_notices(describe: Mapping[str, Any], document: JobDocument | None, percentile: str) -> list[str]:
    """Existing endpoints measured, warnings, failed, not scheduled and stopped benchmarks, one line each."""
    notices: list[str] = []
    for performance in describe.get("EndpointPerformances", []):
        metrics = performance["Metrics"]
        notices.append(f"EXISTING ENDPOINT {performance['EndpointInfo']['EndpointName']}: MaxInvocations "
                       f"{metrics['MaxInvocations']:,}/min, ModelLatency {percentile} "
                       f"{metrics['ModelLatency'] / 1000:.2f} ms")
    if document is None:
        return notices
    notices += [f"WARNING {warning}" for warning in document.warnings]
    for benchmark in document.benchmarks:
        notices += [f"WARNING {warning}" for warning in benchmark.warnings]
        if benchmark.status == "FAILED":
            notices.append(f"FAILED {benchmark.label}: {benchmark.failure_reason}")
    notices += [f"NOT SCHEDULED {left.instance_type}: {left.reason}" for left in document.not_scheduled]
    notices += [f"STOPPED {left.instance_type}: the job was stopped before this benchmark finished"
                for left in document.stopped]
    return notices


def caveat_notes(rows: list[Row]) -> list[str]:
    """What the calibrated and price columns of ``ranked_rows`` mean when they are not plain yes/confirmed."""
    notes = []
    flagged = sorted({row.price_confidence for row in rows} - {"confirmed", "?"})
    if flagged:
        notes.append(f"Prices marked {', '.join(flagged)} are not confirmed AWS list prices "
                     "(see pricing/data/PRICES_NOTES.md).")
    if any(row.calibrated == DERIVED for row in rows):
        notes.append("Entries marked NO were derived by scaling rules (calibration/transfer.py), not measured.")
    return notes


VERDICT_CELL = {"meets": "meets", "misses": "MISSES", "too close to call": "TOO CLOSE", None: ""}


def production_cell(check: ProductionCheckRecord | None) -> str:
    """The row's production check in a few characters: the percentile and the three-valued verdict."""
    if not check:
        return "-"
    value = "unstable" if check.percentile_ms is None else f"{check.percentile_ms:,.1f} ms"
    return f"{value} {VERDICT_CELL[record_verdict(check)]}".strip()


def record_verdict(check: ProductionCheckRecord) -> str | None:
    """The check's verdict (a document written before verdicts were three-valued: from meets_threshold)."""
    if check.verdict is not None or check.meets_threshold is None:
        return check.verdict
    return "meets" if check.meets_threshold else "misses"


def verdict_notes(rank: int, row: Row) -> list[str]:
    """The notes under the table for a row whose check misses or is too close to call, and for
    a row whose next count down is too close to call (with what budget would settle it)."""
    check = row.check
    if check is None:
        return []
    notes = [f"#{rank} {row.label}: {check.workers_note}"] if check.workers_note else []
    verdict = record_verdict(check)
    if verdict == "misses":
        notes.append(f"#{rank} {row.label}: {production_failure(check)}")
    elif verdict == "too close to call":
        notes.append(f"#{rank} {row.label}: {too_close_words(check)}")
    below = check.next_count_down
    if below is not None and below.verdict == "too close to call" and below.interval_ms is not None:
        notes.append(f"#{rank} {row.label}: {check.smallest_passing_count} instance(s) surely meet the threshold; "
                     f"{below.count} is too close to call at the budget used ({check.percentile} "
                     f"{below.percentile_ms:,.1f} ms, interval [{below.interval_ms[0]:,.1f}, "
                     f"{below.interval_ms[1]:,.1f}] ms holds {check.threshold_ms:g} ms); {settle_text(below.settle)}.")
    return notes


def settle_text(settle: SettleRecord | None) -> str:
    """What budget would settle a verdict too close to call, in words (optimizer.verdict's words)."""
    return settle_words(settle, unknown="more replications would settle it")


def too_close_words(check: ProductionCheckRecord) -> str:
    """In words: the AWS-method count is too close to call, and what would settle it."""
    low, high = check.interval_ms or (math.nan, math.nan)
    value = check.percentile_ms if check.percentile_ms is not None else math.nan
    advice = (f"{check.smallest_passing_count} would surely meet it" if check.smallest_passing_count
              else f"no count surely meets it ({check.reason})")
    return (f"{check.count} instance(s) at {check.rate_per_minute:,.0f} invocations/min are too close to call at the "
            f"budget used ({check.replications} replications): {check.percentile} {value:,.1f} ms, interval "
            f"[{low:,.1f}, {high:,.1f}] ms holds {check.threshold_ms:g} ms; "
            f"{settle_text(check.settle)}; {advice}.")


def production_failure(check: ProductionCheckRecord) -> str:
    """In words: the AWS-method count misses the threshold under production traffic, and what does not."""
    if check.percentile_ms is None:
        reached = f"cannot keep up (utilization {check.utilization:.0%}: the queue grows without bound)"
    else:
        reached = (f"reach {check.percentile} {check.percentile_ms:,.1f} ms > {check.threshold_ms:g} ms "
                   f"(utilization {check.utilization:.0%})")
    advice = (f"{check.smallest_passing_count} would surely meet it" if check.smallest_passing_count
              else f"no count meets it ({check.reason})")
    return (f"{check.count} instance(s) at {check.rate_per_minute:,.0f} invocations/min of open (Poisson) "
            f"traffic {reached}; {advice}.")


def headline_line(headline: Headline) -> str:
    """One line: the cheapest recommendation that meets the threshold in production."""
    aws = "" if headline.count == headline.aws_count else f" (the AWS method says {headline.aws_count})"
    threshold = f"{headline.percentile} <= {headline.threshold_ms:g} ms"
    return (f"Cheapest that meets {threshold} in production at {headline.rate_per_minute:,.0f} invocations/min: "
            f"{headline.count} x {headline.label}, ${headline.cost_per_hour:.3f}/hour{aws}")


def _maybe(value: float | None, width: int) -> str:
    return f"{value:>{width}.1f}" if value is not None else " " * (width - 3) + "n/a"


def replication_table(summary: Replications) -> str:
    """Per benchmark: mean and 95 % interval over the replications; first what a user acts on
    (the production check), then the test procedure's own figures."""
    lines = [f"\nOver {summary.replications} seeded replications (mean [95% interval]):"]
    for entry in summary.benchmarks:
        percentile = entry.production_percentile or "percentile"
        acted_on = _intervals(((entry.production_percentile_ms, f"{percentile} ms", "{:.2f}"),
                               (entry.smallest_passing_count, "smallest passing count", "{:.1f}")))
        procedure = _intervals(((entry.per_instance_max_invocations, "per-instance max", "{:,.0f}"),
                                (entry.model_latency_ms, "latency ms", "{:.2f}"),
                                (entry.count_margin, "count margin", "{:+.1%}")))
        at = f" at {entry.production_count} instance(s)" if entry.production_count is not None else ""
        label = f"  {entry.label:<34} "
        if acted_on:
            lines.append(f"{label}in production{at}: {'; '.join(acted_on)}")
            label = " " * len(label)
        count = f", count {entry.count}" if entry.count is not None else ""
        lines.append(f"{label}test procedure: {'; '.join(procedure) or 'no replication succeeded'}{count}")
    return "\n".join(lines)


def _intervals(fields: tuple[tuple[Interval | None, str, str], ...]) -> list[str]:
    """``label mean [low, high]`` for each interval there is."""
    return [f"{label} {fmt.format(value.mean)} [{fmt.format(value.ci95[0])}, {fmt.format(value.ci95[1])}]"
            for value, label, fmt in fields if value is not None]


def steps_table(steps: Mapping[str, Any]) -> str:
    """A ListInferenceRecommendationsJobSteps response, one line a benchmark."""
    lines: list[str] = []
    lines.append(f"{'#':>2}  {'status':<11} {'instance type':<34} {'MaxInvocations':>14} {'latency ms':>10}  reason")
    for i, step in enumerate(steps.get("Steps", [])):
        benchmark = step.get("InferenceBenchmark", {})
        label = endpoint_label(benchmark.get("EndpointConfiguration", {}), benchmark.get("ModelConfiguration"))
        metrics = benchmark.get("EndpointMetrics", {})
        invocations = f"{metrics['MaxInvocations']:,}" if metrics else "-"
        latency = f"{metrics['ModelLatency'] / 1000:.2f}" if metrics else "-"
        lines.append(f"{i:>2}  {step['Status']:<11} {label:<34} {invocations:>14} {latency:>10}  "
              f"{benchmark.get('FailureReason', '')}")
    return "\n".join(lines)


def simulation_summary(result: SimulationResult, model: str, traffic: str) -> str:
    """The console summary of one simulation, with its per-minute table."""
    s = result.summary()
    lat = s["latency_ms"]
    frame = result.per_minute
    cpu = frame["CPUUtilization"].mean()
    memory = frame["MemoryUtilization"].iloc[0] if len(frame) else math.nan
    lines = [
        f"irsim simulate: {model} on {result.instance_count} x {result.instance_type} "
        f"({result.workers} workers each, routing {result.routing}{'' if result.calibrated else ', NOT calibrated'})",
        f"  traffic          {traffic}, seed {result.seed}",
        f"  simulated        {result.duration_s:,.0f} s, ended by {result.stop_reason}",
        f"  completed        {result.completed:,} requests ({s['in_flight']} in flight at the end)",
        f"  throughput       {result.throughput_per_s:,.1f} /s = {s['invocations_per_minute']:,.0f} invocations/min",
        f"  ModelLatency ms  mean {lat['mean']:.2f}   p50 {lat['p50']:.2f}   p90 {lat['p90']:.2f}   "
        f"p95 {lat['p95']:.2f}   p99 {lat['p99']:.2f}",
        f"  utilization      CPU {cpu:.0f}% (0-100 x vCPU), memory "
        + ("n/a" if math.isnan(memory) else f"{memory:.0f}%"),
        *(f"  WARNING          {warning}" for warning in result.warnings),
        "",
        "  minute  users  invocations  p95 ms   p99 ms",
    ]
    for row in numbered_minutes(frame).to_dict("records"):
        lines.append(f"  {row['minute']:>6}  {row['Users']:>5}  {row['Invocations']:>11,}  "
                     f"{row['ModelLatency_p95'] / 1000:>7.2f}  {row['ModelLatency_p99'] / 1000:>7.2f}"
                     + ("  (partial)" if row["seconds"] < 60 else ""))
    return "\n".join(lines)
