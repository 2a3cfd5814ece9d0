"""The report of an `irsim run --out` folder: the headline, the inputs, the recommendations
as the console ranks them with every caveat it shows, and the per-minute charts."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

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
    caveat_notes,
    headline_line,
    job_notices,
    production_cell,
    production_failure,
    ranked_rows,
)
from irsim.present.webcharts import figure_div, job_minutes_figure
from irsim.service.labels import extension_label


def job_sections(folder: Path) -> tuple[str, list[str]]:
    """Title and sections of a job's page."""
    describe = json.loads((folder / "describe.json").read_text())
    extensions = json.loads((folder / "irsim.json").read_text()) if (folder / "irsim.json").exists() else {}
    conditions = describe.get("StoppingConditions", {})
    thresholds = conditions.get("ModelLatencyThresholds") or []
    percentile = thresholds[0]["Percentile"] if thresholds and describe.get("JobType") == "Advanced" else "P95"
    rows = ranked_rows(describe, extensions or None)
    sections = [headline(describe, extensions, rows), "<h2>Inputs</h2>" + facts(inputs(describe, extensions))]
    sections.append(f"<h2>Recommendations, as the console ranks them</h2>{recommendations_table(rows, percentile)}"
                    + notices([*production_notes(rows), *caveat_notes(rows)])
                    + notices(job_notices(describe, extensions or None, percentile), css="warning"))
    if describe.get("FailureReason"):
        sections.append(notices([f"FailureReason: {describe['FailureReason']}"], css="warning"))
    if extensions.get("replications"):
        sections.append(replications_section(extensions["replications"]))
    if (folder / "metrics.csv").exists() and extensions.get("benchmarks"):
        sections.append(minutes_section(folder, describe, extensions, percentile))
    return f"Inference Recommender job {describe['JobName']} (simulated)", sections


def headline(describe: Mapping[str, Any], extensions: Mapping[str, Any], rows: list[tuple]) -> str:
    """The answer first: the cheapest recommendation that meets the threshold in production,
    its cost and its latency there (the console's headline line)."""
    found = extensions.get("headline")
    if found:
        check = next((b.get("production_check") for b in extensions.get("benchmarks", [])
                      if b.get("index") == found["index"]), None)
        latency = ""
        if check and check.get("percentile_ms") is not None and check["count"] == found["count"]:
            low, high = check["interval_ms"]
            latency = (f" Its {check['percentile']} in production: {check['percentile_ms']:,.1f} ms "
                       f"[{low:,.1f}, {high:,.1f}] (95% interval) at {check['rate_per_minute']:,.0f} invocations/min.")
        elif check:
            latency = (f" At the AWS-method count of {check['count']} its {check['percentile']} in production is "
                       f"{production_cell(check)}; {found['count']} instance(s) meet it.")
        return f'<p class="headline">{html.escape(headline_line(found) + "." + latency)}</p>'
    if rows:
        text = ("No recommendation was checked in production (the job has no latency threshold or no instance "
                f"recommendation); the cheapest by the AWS method is {rows[0][2]} x {rows[0][1]} at "
                f"${rows[0][5]:.3f}/hour.")
        if any(row[11] for row in rows):
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


def inputs(describe: Mapping[str, Any], extensions: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the job ran under: the pattern, the stopping conditions, the profile and its
    provenance, the seed, the date and the irsim that ran it."""
    config = describe.get("InputConfig", {})
    conditions = describe.get("StoppingConditions", {})
    thresholds = conditions.get("ModelLatencyThresholds") or []
    provenance = extensions.get("profile_provenance") or {}
    return [
        ("Job", f"{describe.get('JobName')} ({describe.get('JobType')}), {describe.get('Status')}"),
        ("Traffic pattern", traffic_text(config.get("TrafficPattern"))),
        ("Latency threshold", "; ".join(f"{t['Percentile']} <= {t['ValueInMilliseconds']:,} ms" for t in thresholds)
         or "none"),
        ("MaxInvocations target", f"{conditions['MaxInvocations']:,} invocations/min"
         if conditions.get("MaxInvocations") else "none"),
        ("Flat invocations", str(conditions.get("FlatInvocations", "Continue (default)"))),
        ("Profile", f"{extensions.get('model', '?')}: {provenance.get('source', 'no provenance recorded')}"
                    + (f" (created {provenance['created']})" if provenance.get("created") else "")),
        ("Seed", str(extensions.get("seed", "?"))),
        ("Date", str(describe.get("CreationTime", "?"))),
        ("irsim", str(extensions.get("irsim_version", "?"))),
    ]


COLUMNS = ("#", "Endpoint", "Instances", "MaxInvocations (per min)", "{p} latency (ms)", "Cost per hour",
           "Cost per inference", "CPU", "Memory", "Calibrated", "Price", "In production")


def recommendations_table(rows: list[tuple], percentile: str) -> str:
    """ranked_rows in the console's order and wording, with units in the headers."""
    body = []
    for rank, row in enumerate(rows, start=1):
        _, label, instances, invocations, latency, cost, cost_one, cpu, memory, calibrated, price, check = row
        body.append([Num(str(rank)), label, count(instances), count(invocations), ms(latency), money(cost),
                     per_inference(cost_one), percent(cpu), percent(memory), calibrated, price,
                     production_cell(check)])
    header = [c.format(p=percentile) for c in COLUMNS]
    return table(header, body, [i == 0 for i in range(len(body))], css="recommendations")


def production_notes(rows: list[tuple]) -> list[str]:
    """The console's note under the table for each row that misses the threshold in production."""
    return [f"#{rank} {row[1]}: {production_failure(row[11])}" for rank, row in enumerate(rows, start=1)
            if row[11] and row[11].get("meets_threshold") is False]


def replications_section(summary: Mapping[str, Any]) -> str:
    """Per benchmark, mean and 95 % interval over the replications (the console's formats)."""
    fields = (("production_percentile_ms", "{:,.2f}"), ("smallest_passing_count", "{:.1f}"),
              ("per_instance_max_invocations", "{:,.0f}"), ("model_latency_ms", "{:,.2f}"),
              ("count_margin", "{:+.1%}"))
    rows = []
    for entry in summary["benchmarks"]:
        cells: list[Any] = [extension_label(entry)]
        for name, fmt in fields:
            value = entry.get(name)
            cells.append(interval(value["mean"], value["ci95"][0], value["ci95"][1], fmt) if value else Num("-"))
        rows.append(cells)
    header = ["Benchmark", "Latency in production (ms)", "Smallest passing count", "Per-instance max (per min)",
              "Test latency (ms)", "Count margin"]
    return (f"<h2>Over {summary['replications']} seeded replications: mean [95% interval]</h2>"
            + table(header, rows))


def minutes_section(folder: Path, describe: Mapping[str, Any], extensions: Mapping[str, Any],
                    percentile: str) -> str:
    """The per-minute series of every benchmark, interactive, and report.png."""
    metrics = pd.read_csv(folder / "metrics.csv")
    benchmarks = extensions["benchmarks"]
    labels = {int(b["index"]): extension_label(b) for b in benchmarks}
    best = {int(b["index"]): b.get("best_minute") for b in benchmarks}
    conditions = describe.get("StoppingConditions", {})
    thresholds = conditions.get("ModelLatencyThresholds") or []
    threshold = thresholds[0]["ValueInMilliseconds"] if thresholds else None
    stops = notices([f"{extension_label(b)}: {b.get('stop_reason')} after {b.get('simulated_s', 0) / 60:,.1f} "
                     f"simulated min, best minute {b.get('best_minute') or '-'}" for b in benchmarks], css="stops")
    chart = figure_div(job_minutes_figure(metrics, labels, percentile, threshold, conditions.get("MaxInvocations"),
                                          best), "job-minutes")
    return ("<h2>Per benchmark, minute by minute (minutes numbered from 1; click the legend to hide a "
            "benchmark)</h2>" + stops + figures(chart, folder / "report.png", "per-benchmark charts"))
