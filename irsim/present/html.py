"""One self-contained HTML page for an output folder: a job's run, a recommendation, a sweep
or an autoscaling what-if (alone or in a run's folder). Interactive charts run on
plotly.js inlined once in the page; PNGs are embedded as data URIs: the page fetches nothing.
A new kind of output adds a section function and a line in ``SECTIONS``."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path

from irsim.present.autoscale import autoscale_report
from irsim.present.files import read_folder_csv, read_folder_json
from irsim.present.headlines import cheapest_by_axis, sweep_counts
from irsim.present.htmljob import job_sections
from irsim.present.htmlparts import Num, figures, image, money, ms, notices, per_inference, table
from irsim.present.planplots import answered, sweep_facets
from irsim.present.plantable import plan_table, throttling
from irsim.present.webcharts import PLOTLY_FILE, figure_div, plotly_script, recommendation_figure, sweep_figure
from irsim.service.labels import detail_label
from simulator import InputError

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em;
  overflow-wrap: anywhere; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.9em; } th, td { padding: 4px 10px; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f5f5f5; overflow-wrap: normal; } td { overflow-wrap: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
img { max-width: 100%; height: auto; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #595959; font-size: 0.9em; }
.chosen { background: #eaf6ea; } .headline { font-size: 1.15em; padding: 0.6em 1em; background: #eef4fb;
  border-left: 4px solid #2b6cb0; } ul.caveat { color: #7a4b00; } ul.warning { color: #a00; }
ul.answers { font-size: 1.05em; }
dl.inputs { display: grid; grid-template-columns: max-content auto; gap: 2px 1.2em; } dt { font-weight: 600; }
dd { margin: 0; } .plotly-figure { width: 100%; min-height: 360px; }
@media (max-width: 600px) { body { margin: 1em auto; padding: 0 0.6em; } dl.inputs { grid-template-columns: auto; }
  dd { margin-bottom: 0.4em; } .plotly-figure { min-height: 300px; } }
"""
# Draws each interactive chart when plotly.js is beside the page (else opens its PNG), then marks
# the page: images decoded, charts drawn, whether anything overflows the window's width
# (headless checks read the marks from the DOM).
SCRIPT = """
window.addEventListener('load', function () {
  var body = document.body, drawing = [];
  document.querySelectorAll('.plotly-figure').forEach(function (div) {
    var still = div.parentNode.querySelector('details.still');
    if (window.Plotly) {
      var figure = JSON.parse(div.getAttribute('data-figure'));
      drawing.push(Plotly.newPlot(div, figure.data, figure.layout, {displaylogo: false, responsive: true}));
    } else {
      div.style.display = 'none';
      if (still) { still.open = true; }
    }
  });
  Promise.all(drawing).then(function () {
    var images = Array.prototype.slice.call(document.images);
    var ok = images.every(function (i) { return i.complete && i.naturalWidth > 0; });
    body.setAttribute('data-images-loaded', ok ? 'true' : 'false');
    body.setAttribute('data-image-count', String(images.length));
    body.setAttribute('data-charts-drawn', String(document.querySelectorAll('.plotly-figure .main-svg').length > 0));
    var root = document.documentElement;
    body.setAttribute('data-overflow', String(root.scrollWidth > root.clientWidth + 1));
  });
});
"""


def recommendation_sections(folder: Path) -> tuple[str, list[str]]:
    """A recommendation's folder: the target, the verified cheapest first, every alternative and why
    the others cannot serve."""
    document = read_folder_json(folder, "recommendation.json")
    target = document["Target"]
    percentile = target["Percentile"]
    items = {i["RecommendationId"]: i for i in document["InferenceRecommendations"]}
    rows, chosen = [], []
    for rank, detail in enumerate(document["Details"], start=1):
        metrics = items[detail["RecommendationId"]]["Metrics"]
        low, high = detail[percentile]["ConfidenceInterval95"]
        utilization = "-" if detail["Utilization"] is None else f"{detail['Utilization']:.0%}"
        rows.append([Num(str(rank)), detail_label(detail), money(metrics["CostPerHour"]),
                     per_inference(metrics["CostPerInference"]), ms(detail[percentile]["Milliseconds"]),
                     Num(f"[{low:.2f}, {high:.2f}]"), Num(utilization), "yes" if detail["Calibrated"] else "NO",
                     ",".join(detail["PriceConfidence"])])
        chosen.append(bool(detail["Verified"]))
    verified = next((d for d in document["Details"] if d["Verified"]), None)
    headline = "No endpoint meets the target."
    if verified is not None:
        cost = items[verified["RecommendationId"]]["Metrics"]["CostPerHour"]
        headline = (f"Verified cheapest at {target['InvocationsPerMinute']:,.0f} invocations/min with {percentile} "
                    f"<= {target['ValueInMilliseconds']:g} ms: {detail_label(verified)}, ${cost:.3f}/hour, "
                    f"{percentile} {verified[percentile]['Milliseconds']:.2f} ms.")
        if verified.get("ThrottledShareFirstMinute") is not None:
            headline += (f" Serverless: {verified['ThrottledShareFirstMinute']:.1%} of requests throttled in the "
                         "first minute from cold (see below).")
    lines = plan_table(document, wide=True).splitlines()
    throttled = [f"#{rank} {detail_label(d)}: {throttling(d)}" for rank, d in enumerate(document["Details"], start=1)
                 if d.get("ServerlessConfig") and d.get("ThrottledShareSteady") is not None]
    said = [*([f"Order: {document['Ranking']}."] if len(document["Details"]) > 1 and document.get("Ranking") else []),
            *document["Explanation"]]
    if document["NotSimulated"]:
        said.append(f"{len(document['NotSimulated'])} type(s) not simulated: their lower-bound cost already exceeds "
                    "the answer (recommendation.json lists them)")
    sections = [f'<p class="headline">{html.escape(headline)}</p>',
                f"<p>{html.escape(lines[0])}.</p>",
                "<h2>Endpoints that meet the target, as the console ranks them</h2>" + table(
                    ["#", "Endpoint", "Cost per hour", "Cost per inference", f"{percentile} (ms)",
                     "95% interval (ms)", "Utilization", "Calibrated", "Price"], rows, chosen)
                + notices(throttled) + notices(said)
                + notices([f"WARNING {w}" for w in document.get("Warnings", [])]
                          + [f"INFEASIBLE {e.get('InstanceType') or detail_label(e)}: {e['Reason']}"
                             for e in document["Infeasible"]], css="warning")
                + f'<p class="note">{html.escape(lines[-1])}.</p>']
    if document["Details"]:
        sections.append("<h2>Cost against latency (hover for values; the latency axis is logarithmic)</h2>"
                        + figures(figure_div(recommendation_figure(document), "recommendation"),
                                  folder / "recommendation.png", "cost against latency"))
    return "Cheapest endpoint (simulated and verified)", sections


def sweep_sections(folder: Path) -> tuple[str, list[str]]:
    """A sweep's folder: the cheapest endpoint of every scenario, the unanswered ones by their axis
    values, cost against rate."""
    frame = read_folder_csv(folder, "results.csv")
    ok = answered(frame)
    facets = sweep_facets(ok)
    chosen = ok[ok["chosen"].astype(bool)] if "chosen" in ok else ok.iloc[0:0]
    order = [c for c in ("slo_ms", *facets, "target_per_minute") if c in chosen]
    rows = [[Num(f"{r['target_per_minute']:,.0f}"), f"{r['percentile']} <= {r['slo_ms']:g} ms",
             *(str(r[f]) for f in facets), r["endpoint"], money(r["cost_per_hour"]), ms(r["percentile_ms"])]
            for _, r in chosen.sort_values(order).iterrows()]
    status = frame.groupby("scenario")["status"].first()
    unanswered = frame[frame["scenario"].isin(status[status != "ok"].index)].drop_duplicates("scenario")
    lines = [f"{row['status'].upper()} " + ", ".join(f"{k} {row[k]}" for k in ("target_per_minute", "slo_ms",
                                                                                   *facets) if k in row)
             + f": {row.get('error', '')}" for _, row in unanswered.iterrows()]
    answers = cheapest_by_axis(chosen)
    sections = [f'<p class="headline">{html.escape(sweep_counts(frame))} '
                + ("The cheapest feasible scenario for each value of each axis:" if answers else
                   "No scenario has an endpoint.") + "</p>",
                f'<ul class="answers">{"".join(f"<li>{html.escape(line)}</li>" for line in answers)}</ul>'
                if answers else "",
                "<h2>The cheapest endpoint of every scenario</h2>" + table(
                    ["Target (per min)", "SLO", *[f.replace("_", " ") for f in facets], "Endpoint", "Cost per hour",
                     "Latency (ms)"], rows) + notices(lines, css="warning")]
    if not ok.empty:
        sections.append("<h2>Cost per hour against the target rate (click the legend to compare series)</h2>"
                        + figures(figure_div(sweep_figure(ok, facets), "sweep"), folder / "cost_vs_rate.png",
                                  "cost against rate"))
    if (folder / "crossover.png").exists():
        sections.append("<h2>Where the cheapest choice changes</h2>" + image(folder / "crossover.png", "crossover"))
    return "What-if sweep (simulated)", sections


#: Each kind of output folder: the file that marks it and its sections.
SECTIONS: tuple[tuple[str, Callable[[Path], tuple[str, list[str]]]], ...] = (
    ("describe.json", job_sections), ("recommendation.json", recommendation_sections),
    ("results.csv", sweep_sections), ("autoscale.json", lambda folder: ("Autoscaling what-if (simulated)", [])))


def autoscale_section(folder: Path) -> str | None:
    """An autoscaling what-if's section (it may share a run's folder)."""
    autoscale = autoscale_report(folder)
    if autoscale is None:
        return None
    return (f'<h2>Autoscaling what-if</h2><p class="headline">{html.escape(autoscale.headline)}</p>'
            f"<p>{html.escape(autoscale.intro)}</p>"
            + table(autoscale.columns, autoscale.rows, [True, False, False])
            + (image(autoscale.chart, "autoscaling timeline") if autoscale.chart else ""))


def _read_sections(folder: Path, make: Callable[[Path], tuple[str, list[str]]], writer: str
                   ) -> tuple[str, list[str], str | None]:
    """The folder's title and sections, and its autoscaling section. A file that is there but not
    as irsim writes it (a missing key, a wrong type, a table without its columns) is an InputError
    naming the folder and what is wrong, never a traceback."""
    try:
        title, sections = make(folder)
        return title, sections, autoscale_section(folder)
    except InputError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OSError) as exc:
        problem = f"missing {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(str(folder), f"holds files that are not as {writer} writes them ({problem})") from None


#: What writes the file that marks each kind of output folder, in the library's words (the
#: command line passes its own: the command and option that write it).
WRITERS = {"describe.json": "a job's run", "recommendation.json": "a recommendation", "results.csv": "a sweep",
           "autoscale.json": "an autoscaling what-if"}


def build_report(folder: str | Path, writers: Mapping[str, str] = WRITERS) -> str:
    """The HTML page for an output folder of a run, a recommendation, a sweep or an autoscaling
    what-if; a folder with none of their files is an InputError saying what ``writers`` each."""
    folder = Path(folder)
    found = next(((marker, make) for marker, make in SECTIONS if (folder / marker).exists()), None)
    if found is None:
        kinds = [f"{marker} ({writers.get(marker, WRITERS.get(marker, '?'))})" for marker, _ in SECTIONS]
        raise InputError(str(folder), f"holds no {', '.join(kinds[:-1])} or {kinds[-1]}")
    title, sections, extra = _read_sections(folder, found[1], writers.get(found[0], WRITERS[found[0]]))
    sections += [extra] if extra else []
    body = "\n".join(sections)
    charts = f'<script src="{PLOTLY_FILE}"></script>' if needs_plotly(body) else ""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style>{charts}<script>{SCRIPT}</script></head>"
            f"<body><h1>{html.escape(title)}</h1>\n"
            f"{body}\n<p class=\"note\">Made by irsim: simulated offline, not measured on AWS.</p></body></html>\n")


def needs_plotly(page: str) -> bool:
    """Whether ``page`` has an interactive chart (then PLOTLY_FILE belongs beside it)."""
    return 'class="plotly-figure"' in page


def shared_script() -> tuple[str, str]:
    """The file name and contents of the script the pages with charts share (plotly.js)."""
    return PLOTLY_FILE, plotly_script()
