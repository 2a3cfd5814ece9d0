"""`irsim report DIR -o report.html`: one self-contained HTML page (plots embedded) for a job
(`irsim run --out`), a recommendation (`irsim recommend --out`) or a sweep (`irsim sweep --out`)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from irsim.present.autoscale import autoscale_report
from irsim.service.labels import detail_label, endpoint_label
from simulator import InputError

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; } th, td { padding: 4px 10px; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; } .note { color: #666; font-size: 0.9em; }
.chosen { background: #eaf6ea; }
"""
# Marks the page once every image has loaded (headless checks read it back from the DOM).
SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-loaded', ok ? 'true' : 'false');
  document.body.setAttribute('data-image-count', String(images.length));
});
"""


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(columns: list[str], rows: Iterable[list[Any]], chosen: Iterable[bool] | None = None) -> str:
    marks = list(chosen) if chosen is not None else None
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(f'<td class="num">{html.escape(_format(v))}</td>' if isinstance(v, (int, float))
                        else f"<td>{html.escape(_format(v))}</td>" for v in row)
        css = ' class="chosen"' if marks and marks[i] else ""
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3e}" if 0 < abs(value) < 1e-3 else f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def _job_sections(folder: Path) -> tuple[str, list[str]]:
    describe = json.loads((folder / "describe.json").read_text())
    extensions = json.loads((folder / "irsim.json").read_text()) if (folder / "irsim.json").exists() else {}
    thresholds = describe.get("StoppingConditions", {}).get("ModelLatencyThresholds") or [{}]
    slo = (f"{thresholds[0].get('Percentile')} <= {thresholds[0].get('ValueInMilliseconds')} ms"
           if thresholds[0] else "no latency threshold")
    target = describe.get("StoppingConditions", {}).get("MaxInvocations")
    sections = [f"<p>Status <b>{html.escape(describe['Status'])}</b>; SLO {html.escape(slo)}; target "
                f"{_format(target) if target else '-'} invocations per minute; model "
                f"{html.escape(str(extensions.get('model', '?')))}, "
                f"seed {html.escape(str(extensions.get('seed', '?')))}.</p>"]
    rows = []
    for recommendation in sorted(describe.get("InferenceRecommendations", []),
                                 key=lambda r: r["Metrics"]["CostPerHour"]):
        endpoint = recommendation["EndpointConfiguration"]
        metrics = recommendation["Metrics"]
        rows.append([endpoint_label(endpoint, recommendation.get("ModelConfiguration")),
                     endpoint.get("InitialInstanceCount", "-"), metrics["MaxInvocations"],
                     metrics["ModelLatency"] / 1000.0, metrics["CostPerHour"], metrics["CostPerInference"]])
    sections.append("<h2>Recommendations, cheapest first</h2>" + _table(
        ["endpoint", "count", "MaxInvocations", "ModelLatency ms", "CostPerHour", "CostPerInference"], rows))
    replicated = extensions.get("replications")
    if replicated:
        rows = []
        for entry in replicated["benchmarks"]:
            cells = [entry["InstanceType"]]
            for name in ("per_instance_max_invocations", "model_latency_ms", "count_margin"):
                value = entry.get(name)
                cells.append(f"{value['mean']:,.3g} [{value['ci95'][0]:,.3g}, {value['ci95'][1]:,.3g}]"
                             if value else "-")
            rows.append(cells)
        sections.append(f"<h2>Over {replicated['replications']} seeded replications (mean [95% interval])</h2>"
                        + _table(["benchmark", "per-instance max", "latency ms", "count margin"], rows))
    if describe.get("FailureReason"):
        sections.append(f"<p>FailureReason: {html.escape(describe['FailureReason'])}</p>")
    if (folder / "report.png").exists():
        sections.append("<h2>Per benchmark: invocations, users and the latency percentile</h2>"
                        + _image(folder / "report.png", "per-benchmark charts"))
    return f"Inference Recommender job {describe['JobName']} (simulated)", sections


def _recommendation_sections(folder: Path) -> tuple[str, list[str]]:
    document = json.loads((folder / "recommendation.json").read_text())
    target = document["Target"]
    percentile = target["Percentile"]
    items = {i["RecommendationId"]: i for i in document["InferenceRecommendations"]}
    rows, chosen = [], []
    for detail in document["Details"]:
        metrics = items[detail["RecommendationId"]]["Metrics"]
        endpoint = detail_label(detail)
        low, high = detail[percentile]["ConfidenceInterval95"]
        rows.append([endpoint, metrics["CostPerHour"], metrics["CostPerInference"], detail[percentile]["Milliseconds"],
                     f"[{low:.2f}, {high:.2f}]"])
        chosen.append(detail["Verified"])
    sections = [f"<p>Target {_format(target['InvocationsPerMinute'])} invocations per minute, SLO "
                f"{percentile} <= {target['ValueInMilliseconds']:g} ms, {html.escape(target['Traffic'])} traffic, "
                f"{html.escape(target['Routing'])} routing. The highlighted row is the verified cheapest.</p>",
                "<h2>Endpoints that meet the target</h2>" + _table(
                    ["endpoint", "CostPerHour", "CostPerInference", f"{percentile} ms", "95% interval"], rows, chosen)]
    if (folder / "recommendation.png").exists():
        sections.append("<h2>Cost against latency</h2>" + _image(folder / "recommendation.png", "cost against latency"))
    if document["Infeasible"]:
        sections.append("<h2>Cannot serve</h2><ul>" + "".join(
            f"<li>{html.escape(str(e.get('InstanceType', e.get('ServerlessConfig'))))}: {html.escape(e['Reason'])}</li>"
            for e in document["Infeasible"]) + "</ul>")
    return "Cheapest endpoint (simulated and verified)", sections


def _sweep_sections(folder: Path) -> tuple[str, list[str]]:
    table = pd.read_csv(folder / "results.csv")
    ok = table[table["status"] == "ok"]
    chosen = ok[ok["chosen"]].sort_values(["slo_ms", "target_per_minute"])
    columns = [c for c in ("target_per_minute", "percentile", "slo_ms", "service_scale", "routing", "endpoint",
                           "cost_per_hour", "percentile_ms") if c in chosen]
    unanswered = int((table.groupby("scenario")["status"].first() != "ok").sum())
    sections = [f"<p>{table['scenario'].nunique()} scenarios; {unanswered} without an answer (see results.csv).</p>",
                "<h2>The cheapest endpoint of every scenario</h2>" + _table(columns, chosen[columns].values.tolist())]
    for name, title in (("cost_vs_rate.png", "Cost per hour against the target rate"),
                        ("crossover.png", "Where the cheapest choice changes")):
        if (folder / name).exists():
            sections.append(f"<h2>{title}</h2>" + _image(folder / name, title))
    return "What-if sweep (simulated)", sections


def build_report(folder: str | Path) -> str:
    """The HTML page for an output folder of run, recommend or sweep."""
    folder = Path(folder)
    if (folder / "describe.json").exists():
        title, sections = _job_sections(folder)
    elif (folder / "recommendation.json").exists():
        title, sections = _recommendation_sections(folder)
    elif (folder / "results.csv").exists():
        title, sections = _sweep_sections(folder)
    elif (folder / "autoscale.json").exists():
        title, sections = "Autoscaling what-if (simulated)", []
    else:
        raise InputError(str(folder), "holds no describe.json (irsim run --out), recommendation.json "
                                      "(irsim recommend --out), results.csv (irsim sweep --out) or autoscale.json "
                                      "(irsim autoscale --out)")
    autoscale = autoscale_report(folder)  # `irsim autoscale --out` may share a run's folder
    if autoscale is not None:
        sections.append(f"<h2>Autoscaling what-if</h2><p>{html.escape(autoscale.intro)}</p>"
                        + _table(autoscale.columns, autoscale.rows, [True, False, False])
                        + (_image(autoscale.chart, "autoscaling timeline") if autoscale.chart else ""))
    body = "\n".join(sections)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body><h1>{html.escape(title)}</h1>\n{body}\n"
            f"<p class=\"note\">Made by irsim: simulated offline, not measured on AWS.</p></body></html>\n")
