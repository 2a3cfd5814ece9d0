"""Console tables: a job's recommendations and steps, replications, a plan, a simulation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from irsim.service.job import JobResult
from irsim.service.labels import detail_label, endpoint_label, extension_label
from irsim.service.minutes import numbered_minutes
from simulator import SimulationResult


def recommendation_table(result: JobResult) -> str:
    """The recommendations ranked by CostPerHour, with what the AWS shape cannot say."""
    return describe_table(result.describe, result.extensions())


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
    rows = ranked_rows(describe, extensions)
    if extensions and extensions.get("headline"):
        lines.append(headline_line(extensions["headline"]))
    if rows:
        header = (f"{'#':>2}  {'instance type':<34} {'count':>5} {'MaxInvocations':>14} {percentile + ' ms':>8} "
                  f"{'$/hour':>8} {'$/inference':>12} {'CPU %':>7} {'mem %':>6}  calibrated    price       "
                  f"{'in production':<18}")
        lines += ["", header, "-" * len(header)]
        notes = []
        for rank, row in enumerate(rows, start=1):
            _, label, count, invocations, latency, cost, per_inference, cpu, memory, calibrated, confidence, check = row
            lines.append(f"{rank:>2}  {label:<34} {count:>5} {invocations:>14,} {latency:>8.2f} {cost:>8.3f} "
                         f"{per_inference:>12.3e} {_maybe(cpu, 7)} {_maybe(memory, 6)}  {calibrated:<13} "
                         f"{confidence:<11} {production_cell(check)}")
            if check and check.get("meets_threshold") is False:
                notes.append(f"#{rank} {label}: {production_failure(check)}")
        lines += ["", *notes] if notes else []
        lines += [("\n" if i == 0 else "") + note for i, note in enumerate(caveat_notes(rows))]
    lines += job_notices(describe, extensions, percentile)
    return "\n".join(lines)


def ranked_rows(describe: Mapping[str, Any], extensions: Mapping[str, Any] | None) -> list[tuple]:
    """The recommendations as the console ranks them (CostPerHour, CostPerInference, then the
    label), each ``(sort key, label, count, MaxInvocations, latency ms, $/hour, $/inference, CPU,
    memory, calibrated, price confidence, production check)``; the report shows the same rows."""
    benchmarks = extensions["benchmarks"] if extensions else []
    succeeded = [b for b in benchmarks if b["Status"] == "COMPLETED" and "EndpointName" not in b]
    recommendations = describe.get("InferenceRecommendations", [])
    extras = succeeded if len(succeeded) == len(recommendations) else [None] * len(recommendations)
    rows = []
    for recommendation, extra in zip(recommendations, extras, strict=True):
        metrics = recommendation["Metrics"]
        endpoint = recommendation["EndpointConfiguration"]
        calibrated = "?" if extra is None else "yes" if extra["calibrated"] else DERIVED
        rows.append(((metrics["CostPerHour"], metrics["CostPerInference"]),
                     endpoint_label(endpoint, recommendation["ModelConfiguration"]),
                     endpoint.get("InitialInstanceCount", "-"), metrics["MaxInvocations"],
                     metrics["ModelLatency"] / 1000.0, metrics["CostPerHour"], metrics["CostPerInference"],
                     metrics.get("CpuUtilization"), metrics.get("MemoryUtilization"),
                     calibrated, "?" if extra is None else extra["price_confidence"],
                     None if extra is None else extra.get("production_check")))
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


DERIVED = "NO (derived)"


def job_notices(describe: Mapping[str, Any], extensions: Mapping[str, Any] | None, percentile: str) -> list[str]:
    """Existing endpoints measured, warnings, failed, not scheduled and stopped benchmarks, one line each."""
    benchmarks = extensions["benchmarks"] if extensions else []
    notices: list[str] = []
    for performance in describe.get("EndpointPerformances", []):
        metrics = performance["Metrics"]
        notices.append(f"EXISTING ENDPOINT {performance['EndpointInfo']['EndpointName']}: MaxInvocations "
                       f"{metrics['MaxInvocations']:,}/min, ModelLatency {percentile} "
                       f"{metrics['ModelLatency'] / 1000:.2f} ms")
    for warning in (extensions or {}).get("warnings", []):
        notices.append(f"WARNING {warning}")
    for benchmark in benchmarks:
        for warning in benchmark.get("warnings", []):
            notices.append(f"WARNING {warning}")
        if benchmark["Status"] == "FAILED":
            notices.append(f"FAILED {extension_label(benchmark)}: {benchmark.get('failure_reason')}")
    for benchmark in (extensions or {}).get("not_scheduled", []):
        notices.append(f"NOT SCHEDULED {benchmark['InstanceType']}: {benchmark['reason']}")
    for benchmark in (extensions or {}).get("stopped", []):
        notices.append(f"STOPPED {benchmark['InstanceType']}: the job was stopped before this benchmark finished")
    return notices


def caveat_notes(rows: list[tuple]) -> list[str]:
    """What the calibrated and price columns of ``ranked_rows`` mean when they are not plain yes/confirmed."""
    notes = []
    flagged = sorted({row[10] for row in rows} - {"confirmed", "?"})
    if flagged:
        notes.append(f"Prices marked {', '.join(flagged)} are not confirmed AWS list prices "
                     "(see pricing/data/PRICES_NOTES.md).")
    if any(row[9] == DERIVED for row in rows):
        notes.append("Entries marked NO were derived by scaling rules (calibration/transfer.py), not measured.")
    return notes


def production_cell(check: Mapping[str, Any] | None) -> str:
    """The row's production check in a few characters: the percentile and the verdict."""
    if not check:
        return "-"
    value = "unstable" if check["percentile_ms"] is None else f"{check['percentile_ms']:,.1f} ms"
    verdict = {True: "meets", False: "FAILS", None: ""}[check["meets_threshold"]]
    return f"{value} {verdict}".strip()


def production_failure(check: Mapping[str, Any]) -> str:
    """In words: the AWS-method count misses the threshold under production traffic, and what does not."""
    if check["percentile_ms"] is None:
        reached = f"cannot keep up (utilization {check['utilization']:.0%}: the queue grows without bound)"
    else:
        reached = (f"reach {check['percentile']} {check['percentile_ms']:,.1f} ms > {check['threshold_ms']:g} ms "
                   f"(utilization {check['utilization']:.0%})")
    advice = (f"{check['smallest_passing_count']} would meet it" if check["smallest_passing_count"]
              else f"no count meets it ({check['reason']})")
    return (f"{check['count']} instance(s) at {check['rate_per_minute']:,.0f} invocations/min of open (Poisson) "
            f"traffic {reached}; {advice}.")


def headline_line(headline: Mapping[str, Any]) -> str:
    """One line: the cheapest recommendation that meets the threshold in production."""
    aws = "" if headline["count"] == headline["aws_count"] else f" (the AWS method says {headline['aws_count']})"
    threshold = f"{headline['percentile']} <= {headline['threshold_ms']:g} ms"
    return (f"Cheapest that meets {threshold} in production at {headline['rate_per_minute']:,.0f} invocations/min: "
            f"{headline['count']} x {headline['InstanceType']}, ${headline['cost_per_hour']:.3f}/hour{aws}")


def _maybe(value: float | None, width: int) -> str:
    return f"{value:>{width}.1f}" if value is not None else " " * (width - 3) + "n/a"


def replication_table(summary: dict[str, Any]) -> str:
    """Per benchmark: mean and 95 % interval over the replications; first what a user acts on
    (the production check), then the test procedure's own figures."""
    lines = [f"\nOver {summary['replications']} seeded replications (mean [95% interval]):"]
    for entry in summary["benchmarks"]:
        percentile = entry.get("production_percentile", "percentile")
        acted_on = _intervals(entry, (("production_percentile_ms", f"{percentile} ms", "{:.2f}"),
                                      ("smallest_passing_count", "smallest passing count", "{:.1f}")))
        procedure = _intervals(entry, (("per_instance_max_invocations", "per-instance max", "{:,.0f}"),
                                       ("model_latency_ms", "latency ms", "{:.2f}"),
                                       ("count_margin", "count margin", "{:+.1%}")))
        at = f" at {entry['production_count']} instance(s)" if "production_count" in entry else ""
        label = f"  {extension_label(entry):<34} "
        if acted_on:
            lines.append(f"{label}in production{at}: {'; '.join(acted_on)}")
            label = " " * len(label)
        count = f", count {entry['count']}" if "count" in entry else ""
        lines.append(f"{label}test procedure: {'; '.join(procedure) or 'no replication succeeded'}{count}")
    return "\n".join(lines)


def _intervals(entry: Mapping[str, Any], fields: tuple[tuple[str, str, str], ...]) -> list[str]:
    """``label mean [low, high]`` for each field the entry has."""
    parts = []
    for name, label, fmt in fields:
        if name in entry:
            value = entry[name]
            parts.append(f"{label} {fmt.format(value['mean'])} [{fmt.format(value['ci95'][0])}, "
                         f"{fmt.format(value['ci95'][1])}]")
    return parts


def plan_table(document: Mapping[str, Any]) -> str:
    """The recommendations best first, with the interval and flags the AWS shape cannot carry."""
    target = document["Target"]
    percentile = target["Percentile"]
    lines = [f"Target: {target['InvocationsPerMinute']:,.0f} invocations/min, {percentile} <= "
             f"{target['ValueInMilliseconds']:g} ms, {target['Traffic']} traffic, {target['Routing']} routing"]
    items: dict[str, Mapping[str, Any]] = {}
    for item in document["InferenceRecommendations"]:
        items.setdefault(item["RecommendationId"], item)
    answered = any(detail["Verified"] for detail in document["Details"])
    if not answered:  # said first: the rows below are for comparison, none is an answer
        lines += ["", *document["Explanation"]]
    if document["Details"]:
        header = (f"{'#':>2}  {'endpoint':<32} {'$/hour':>8} {'$/inference':>12} {percentile + ' ms':>8} "
                  f"{'95% interval':>17} {'util':>5}  calibrated  price        {'score':>5}")
        lines += ["", header, "-" * len(header)]
    for position, detail in enumerate(document["Details"], start=1):
        metrics = items[detail["RecommendationId"]]["Metrics"]
        endpoint = detail_label(detail)
        utilization = "-" if detail["Utilization"] is None else f"{detail['Utilization']:.0%}"
        low, high = detail[percentile]["ConfidenceInterval95"]
        mark = ("  <- verified cheapest" if detail["Verified"]
                else "  (outside the limits: for comparison)" if detail.get("WithinLimits") is False else "")
        score = detail.get("RankScore")
        lines.append(f"{position:>2}  {endpoint:<32} {metrics['CostPerHour']:>8.3f} "
                     f"{metrics['CostPerInference']:>12.3e} {detail[percentile]['Milliseconds']:>8.2f} "
                     f"{f'[{low:.2f}, {high:.2f}]':>17} "
                     f"{utilization:>5}  {'yes' if detail['Calibrated'] else 'NO':<10}  "
                     f"{','.join(detail['PriceConfidence']):<12} {'-' if score is None else f'{score:.2f}':>5}{mark}")
        if detail.get("ServerlessConfig") and detail.get("ThrottledShareSteady") is not None:
            lines.append(f"    {_throttling(detail)}")
    if len(document["Details"]) > 1 and document.get("Ranking"):
        lines.append(f"Order: {document['Ranking']}.")
    if answered:
        lines += document["Explanation"]
    lines += [f"WARNING {warning}" for warning in document.get("Warnings", [])]
    for entry in document["Infeasible"]:
        what = entry.get("InstanceType") or f"serverless {entry.get('ServerlessConfig', {}).get('MemorySizeInMB')} MB"
        lines.append(f"INFEASIBLE {what}: {entry['Reason']}")
    if document["NotSimulated"]:
        lines.append(f"{len(document['NotSimulated'])} type(s) not simulated: their lower-bound cost already exceeds "
                     "the answer (see --json)")
    runs = document["Simulations"]
    lines.append(f"simulations: {runs['run']} run ({runs['without_prescreen']} without the pre-screen), "
                 f"{runs['verifications']} verification(s)")
    return "\n".join(lines)


def _throttling(detail: Mapping[str, Any]) -> str:
    """A serverless row's throttling: steady state (simulated, and the sizing law's figure) and
    the first minute from cold, with the MaxConcurrency that would keep that minute in bounds."""
    first_minute = detail.get("ThrottledShareFirstMinute")
    text = (f"throttled: {detail['ThrottledShareSteady']:.2%} at steady state (the sizing law with cold starts: "
            f"{detail.get('ThrottledSharePredicted', float('nan')):.2%})")
    if first_minute is not None:
        enough = detail.get("MaxConcurrencyFirstMinute")
        text += (f"; {first_minute:.2%} in the first minute from cold"
                 + (f" (MaxConcurrency {enough} keeps it within 0.1%)" if enough else
                    " (no MaxConcurrency up to 200 keeps it within 0.1%)"))
    return text


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
