"""The report of a job's output folder: the headline, the inputs, the recommendations
as the console ranks them with every caveat it shows, and the per-minute charts."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from irsim.present.files import read_folder_csv, read_folder_json
from irsim.present.htmlparts import (
    Num,
    count,
    facts,
    figures,
    interval,
    money,
    ms,
    notices,
    per_inference,
    percent,
    table,
)
from irsim.present.tables import (
    Row,
    caveat_notes,
    headline_line,
    job_notices,
    production_cell,
    ranked_rows,
    verdict_notes,
)
from irsim.present.units import without_units
from irsim.present.webcharts import figure_div, job_minutes_figure
from irsim.service.result import JobDocument, Replications


def job_sections(folder: Path) -> tuple[str, list[str]]:
    """Title and sections of a job's page."""
    describe = read_folder_json(folder, "describe.json")
    document = JobDocument.from_json(read_folder_json(folder, "irsim.json")) \
        if (folder / "irsim.json").exists() else None
    conditions = describe.get("StoppingConditions", {})
    thresholds = conditions.get("ModelLatencyThresholds") or []
    percentile = thresholds[0]["Percentile"] if thresholds and describe.get("JobType") == "Advanced" else "P95"
    rows = ranked_rows(describe, document)
    sections = [headline(describe, document, rows), "<h2>Inputs</h2>" + facts(inputs(describe, document))]
    sections.append(f"<h2>Recommendations, as the console ranks them</h2>{recommendations_table(rows, percentile)}"
                    + notices([*production_notes(rows), *caveat_notes(rows)])
                    + notices(job_notices(describe, document, percentile), css="warning"))
    if describe.get("FailureReason"):
        sections.append(notices([f"FailureReason: {describe['FailureReason']}"], css="warning"))
    if document and document.replications:
        sections.append(replications_section(document.replications))
    if (folder / "metrics.csv").exists() and document and document.benchmarks:
        sections.append(minutes_section(folder, describe, document, percentile))
    return f"Inference Recommender job {describe['JobName']} (simulated)", sections


def headline(describe: Mapping[str, Any], document: JobDocument | None, rows: list[Row]) -> str:
    """The answer first: the cheapest recommendation that meets the threshold in production,
    its cost and its latency there (the console's headline line)."""
    found = document.headline if document else None
    if document and found:
        record = document.benchmark(found.index)
        check = record.production_check if record else None
        latency = ""
        if check and check.percentile_ms is not None and check.interval_ms and check.count == found.count:
            low, high = check.interval_ms
            latency = (f" Its {check.percentile} in production: {check.percentile_ms:,.1f} ms "
                       f"[{low:,.1f}, {high:,.1f}] (95% interval) at {check.rate_per_minute:,.0f} invocations/min.")
        elif check:
            latency = (f" At the AWS-method count of {check.count} its {check.percentile} in production is "
                       f"{production_cell(check)}; {found.count} instance(s) meet it.")
        return f'<p class="headline">{html.escape(headline_line(found) + "." + latency)}</p>'
    if rows:
        text = ("No recommendation was checked in production (the job has no latency threshold or no instance "
                f"recommendation); the cheapest by the AWS method is {rows[0].count} x {rows[0].label} at "
                f"${rows[0].cost_per_hour:.3f}/hour.")
        if any(row.check for row in rows):
            text = "No recommendation meets the threshold in production at any count: see the notes below."
        return f'<p class="headline">{html.escape(text)}</p>'
    return f'<p class="headline">{html.escape("No recommendation: " + describe.get("Status", "?"))}</p>'


def traffic_text(pattern: Mapping[str, Any] | None) -> str:
    """The traffic pattern in words (the service's default when the request gave none)."""
    if not pattern:
        return "the service's default pattern"
    if pattern.get("TrafficType") == "STAIRS" or "Stairs" in pattern:
        stairs = pattern.get("Stairs", {})
        return (f"STAIRS: {stairs.get('NumberOfSteps')} steps of {stairs.get('UsersPerStep')} user(s), "
                f"{stairs.get('DurationInSeconds')} s in all")
    phases = pattern.get("Phases", [])
    parts = [f"{p.get('InitialNumberOfUsers')} user(s) +{p.get('SpawnRate')}/min for {p.get('DurationInSeconds')} s"
             for p in phases]
    return f"PHASES ({len(phases)}): " + "; ".join(parts)


def inputs(describe: Mapping[str, Any], document: JobDocument | None) -> list[tuple[str, str]]:
    """What the job ran under: the pattern, the stopping conditions, the profile and its
    provenance, the seed, the date and the irsim that ran it."""
    config = describe.get("InputConfig", {})
    conditions = describe.get("StoppingConditions", {})
    thresholds = conditions.get("ModelLatencyThresholds") or []
    provenance = (document.profile_provenance if document else None) or {}
    return [
        ("Job", f"{describe.get('JobName')} ({describe.get('JobType')}), {describe.get('Status')}"),
        ("Traffic pattern", traffic_text(config.get("TrafficPattern"))),
        ("Latency threshold", "; ".join(f"{t['Percentile']} <= {t['ValueInMilliseconds']:,} ms" for t in thresholds)
         or "none"),
        ("MaxInvocations target", f"{conditions['MaxInvocations']:,} invocations/min"
         if conditions.get("MaxInvocations") else "none"),
        ("Flat invocations", str(conditions.get("FlatInvocations", "Continue (default)"))),
        ("Profile", f"{document.model if document else '?'}: {provenance.get('source', 'no provenance recorded')}"
                    + (f" (created {provenance['created']})" if provenance.get("created") else "")),
        ("Seed", str(document.seed if document else "?")),
        ("Date", str(describe.get("CreationTime", "?"))),
        ("irsim", document.irsim_version if document else "?"),
    ]


COLUMNS = ("#", "Endpoint", "Instances", "MaxInvocations (per min)", "{p} latency (ms)", "Cost per hour",
           "Cost per inference", "CPU", "Memory", "Calibrated", "Price", "In production")


def recommendations_table(rows: list[Row], percentile: str) -> str:
    """ranked_rows in the console's order and wording, with units in the headers."""
    body = []
    for rank, row in enumerate(rows, start=1):
        body.append([Num(str(rank)), row.label, count(row.count), count(row.invocations), ms(row.latency_ms),
                     money(row.cost_per_hour), per_inference(row.cost_per_inference), percent(row.cpu),
                     percent(row.memory), row.calibrated, row.price_confidence, production_cell(row.check)])
    header = [c.format(p=percentile) for c in COLUMNS]
    return table(header, body, [i == 0 for i in range(len(body))], css="recommendations")


def production_notes(rows: list[Row]) -> list[str]:
    """The console's note under the table for each row that misses the threshold in production."""
    return [note for rank, row in enumerate(rows, start=1) for note in verdict_notes(rank, row)]


def replications_section(summary: Replications) -> str:
    """Per benchmark, mean and 95 % interval over the replications (the console's formats)."""
    rows = []
    for entry in summary.benchmarks:
        cells: list[Any] = [entry.label]
        for value, fmt in ((entry.production_percentile_ms, "{:,.2f}"), (entry.smallest_passing_count, "{:.1f}"),
                           (entry.per_instance_max_invocations, "{:,.0f}"), (entry.model_latency_ms, "{:,.2f}"),
                           (entry.count_margin, "{:+.1%}")):
            cells.append(interval(value.mean, value.ci95[0], value.ci95[1], fmt) if value else Num("-"))
        rows.append(cells)
    header = ["Benchmark", "Latency in production (ms)", "Smallest passing count", "Per-instance max (per min)",
              "Test latency (ms)", "Count margin"]
    return (f"<h2>Over {summary.replications} seeded replications: mean [95% interval]</h2>"
            + table(header, rows))


def minutes_section(folder: Path, describe: Mapping[str, Any], document: JobDocument, percentile: str) -> str:
    """The per-minute series of every benchmark, interactive, and report.png."""
    metrics = without_units(read_folder_csv(folder, "metrics.csv"))
    labels = {b.index: b.label for b in document.benchmarks}
    best = {b.index: b.best_minute for b in document.benchmarks}
    conditions = describe.get("StoppingConditions", {})
    thresholds = conditions.get("ModelLatencyThresholds") or []
    threshold = thresholds[0]["ValueInMilliseconds"] if thresholds else None
    stops = notices([f"{b.label}: {b.stop_reason} after {b.simulated_s / 60:,.1f} simulated min, best minute "
                     f"{b.best_minute or '-'}" for b in document.benchmarks], css="stops")
    chart = figure_div(job_minutes_figure(metrics, labels, percentile, threshold, conditions.get("MaxInvocations"),
                                          best), "job-minutes")
    return ("<h2>Per benchmark, minute by minute (minutes numbered from 1; click the legend to hide a "
            "benchmark)</h2>" + stops + figures(chart, folder / "report.png", "per-benchmark charts"))
