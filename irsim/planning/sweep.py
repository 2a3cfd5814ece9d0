"""What-if sweeps: a base request and axes expanded into scenarios, each an optimizer run
(`irsim.recommend`), run on Dask — a LocalCluster by default, or an existing scheduler —
with one seed per scenario from a SeedSequence, so results do not depend on the number of
workers or the order they finish."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from botocore.exceptions import ClientError, ParamValidationError

from irsim.planning.cluster import connect, local_cluster
from irsim.planning.recommend import parse_slo, recommend
from irsim.present.files import reported_as_write_errors, write_atomically
from irsim.present.plots import plot_sweep
from irsim.service.labels import detail_label
from irsim.service.request import parse_request
from simulator import ROUTING_POLICIES, InputError, checks, load_profile
from simulator.jsonfiles import read_json

log = logging.getLogger(__name__)

AXES = ("target_per_minute", "slo", "routing", "service_scale", "replications", "candidates", "instance_types")
#: A sweep expands to the product of its axes' lengths: beyond this many scenarios it is refused
#: before anything starts (a typo of three axes can ask for hundreds of millions).
MAX_SCENARIOS = 1000
MAX_SERVICE_SCALE = 1000.0
MAX_REPLICATIONS = 100


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file: the base request, the profile document and the scenarios."""

    base: Mapping[str, Any]
    profile: Mapping[str, Any]
    scenarios: tuple[Mapping[str, Any], ...]


def load_sweep(path: str | Path, max_scenarios: int = MAX_SCENARIOS) -> Sweep:
    """Read SWEEP.json: {"base": request or path, "profile": path or "demo", "seed": S,
    "axes": {name: [values...]}}. Every axis value is checked here, and a sweep of more than
    ``max_scenarios`` scenarios is refused, before anything runs."""
    path = Path(path)
    document = read_json(path, "sweep")
    if not isinstance(document, dict) or "base" not in document or "axes" not in document:
        raise InputError(str(path), 'must be an object with "base" (a request or its path) and "axes"')
    base = document["base"]
    if isinstance(base, str):
        base = read_json((path.parent / base).resolve(), f"{path}: base")
    if not isinstance(base, dict):
        raise InputError(f"{path}: base", "must be a CreateInferenceRecommendationsJob request (an object) or the "
                                          "path of one")
    profile_source = document.get("profile", "demo")
    if not isinstance(profile_source, (str, dict)):
        raise InputError(f"{path}: profile", 'must be a profile (an object), the path of one, or "demo"')
    if isinstance(profile_source, str) and profile_source != "demo":
        profile_source = path.parent / profile_source
    try:
        profile = load_profile(profile_source).to_dict()
    except InputError as exc:
        raise InputError(f"{path}: profile", exc.message if exc.field == "profile" else str(exc)) from None
    axes = _checked_axes(document["axes"], path, max_scenarios)
    _check_base(base, axes, profile, f"{path}: base")
    seed = checks.seed(document.get("seed", 0), f"{path}: seed")
    names = list(axes)
    combinations = list(itertools.product(*(axes[n] for n in names)))
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(len(combinations))]
    scenarios = []
    for values, scenario_seed in zip(combinations, seeds, strict=True):
        settings = dict(zip(names, values, strict=True))
        key = json.dumps({"settings": settings, "seed": scenario_seed, "base": base}, sort_keys=True, default=str)
        scenarios.append({"id": hashlib.sha256(key.encode()).hexdigest()[:12], "seed": scenario_seed, **settings})
    return Sweep(base=base, profile=profile, scenarios=tuple(scenarios))


def _checked_axes(axes: Any, path: Path, max_scenarios: int) -> dict[str, list[Any]]:
    """The axes, each a non-empty list of values the optimizer takes, and no more scenarios
    (the product of their lengths) than ``max_scenarios``."""
    if not isinstance(axes, dict) or not axes:
        raise InputError(f"{path}: axes", f"must be an object of lists; allowed axes: {', '.join(AXES)}")
    for name, values in axes.items():
        if name not in AXES:
            raise InputError(f"{path}: axes.{name}", f"is not an axis (allowed: {', '.join(AXES)})")
        if not isinstance(values, list) or not values:
            raise InputError(f"{path}: axes.{name}", "must be a non-empty list of values")
    scenarios = math.prod(len(values) for values in axes.values())
    if scenarios > max_scenarios:
        sizes = " x ".join(f"{len(values)} {name}" for name, values in axes.items())
        raise InputError("max_scenarios", f"{path}: {sizes} make {scenarios:,} scenarios, more than the "
                                          f"{max_scenarios:,} a sweep may run")
    for name, values in axes.items():
        for i, value in enumerate(values):
            _check_axis_value(name, value, f"{path}: axes.{name}[{i}]")
    return axes


def _check_base(base: Mapping[str, Any], axes: Mapping[str, list[Any]], profile: Mapping[str, Any],
                field: str) -> None:
    """The base request valid as the scenarios will send it (with the first instance_types
    value's endpoint configurations, when that axis is swept)."""
    request = copy.deepcopy(dict(base))
    if "instance_types" in axes and isinstance(request.get("InputConfig"), dict):
        request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": t} for t in axes["instance_types"][0]]
    try:
        parse_request(request, default_instance_types=profile["instances"])
    except (ClientError, ParamValidationError) as exc:
        raise InputError(field, " ".join(str(exc).split())) from None


def _check_axis_value(name: str, value: Any, field: str) -> None:
    """One value of an axis, as recommend() takes it."""
    if name == "target_per_minute":
        checks.positive(value, field, what="invocations per minute")
    elif name == "service_scale":
        checks.positive(value, field, maximum=MAX_SERVICE_SCALE, what="a factor")
    elif name == "replications":
        checks.integer(value, field, minimum=2, maximum=MAX_REPLICATIONS)
    elif name == "routing":
        checks.choice(value, field, ROUTING_POLICIES)
    elif name == "candidates":
        checks.choice(value, field, ("job", "all"))
    elif name == "slo":
        parse_slo(value, field)
    elif not (isinstance(value, list) and value and all(isinstance(t, str) for t in value)):  # instance_types
        raise InputError(field, f"must be a non-empty list of instance types, got {value!r}")


def _scaled(profile: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """The profile with every service time (and serverless one) multiplied by ``factor``."""
    scaled = copy.deepcopy(dict(profile))
    for entry in scaled["instances"].values():
        entry["service_time"] = _scale_distribution(entry["service_time"], factor)
        for variant in entry.get("variants", []):
            if "service_time" in variant:
                variant["service_time"] = _scale_distribution(variant["service_time"], factor)
    if scaled.get("serverless"):
        scaled["serverless"]["service_time"] = _scale_distribution(scaled["serverless"]["service_time"], factor)
    return scaled


def _scale_distribution(spec: dict[str, Any], factor: float) -> dict[str, Any]:
    spec = dict(spec)
    if "samples_ms" in spec:
        spec["samples_ms"] = [v * factor for v in spec["samples_ms"]]
    else:
        spec["mean_ms"] = spec["mean_ms"] * factor
    return spec


def run_scenario(base: Mapping[str, Any], profile: Mapping[str, Any], scenario: Mapping[str, Any]) -> list[dict]:
    """One scenario: the optimizer's verified answer and its alternatives as tidy rows. A
    failure becomes one row with its error (the sweep goes on)."""

    settings = {k: v for k, v in scenario.items() if k not in ("id", "seed")}
    common = {"scenario": scenario["id"], "seed": scenario["seed"],
              **{k: (json.dumps(v) if isinstance(v, list) else v) for k, v in settings.items()}}
    try:
        request = copy.deepcopy(dict(base))
        if "instance_types" in settings:
            request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": t} for t in settings["instance_types"]]
        scale = float(settings.get("service_scale", 1.0))
        document = recommend(request, _scaled(profile, scale) if scale != 1.0 else profile, seed=scenario["seed"],
                             target_per_minute=settings.get("target_per_minute"), slo=settings.get("slo"),
                             routing=settings.get("routing", "random"),
                             replications=int(settings.get("replications", 3)),
                             candidates=settings.get("candidates", "job"))
    except Exception as exc:  # recorded, not raised: one bad scenario must not stop the sweep
        return [{**common, "status": "error", "error": f"{type(exc).__name__}: {exc}"}]
    target = document["Target"]
    rows = []
    for detail in document["Details"]:
        item = next(i for i in document["InferenceRecommendations"]
                    if i["RecommendationId"] == detail["RecommendationId"])
        percentile = detail[target["Percentile"]]
        counts = detail["Counts"] or {detail_label(detail): 1}
        rows.append({**common, "status": "ok", "error": "",
                     "target_per_minute": target["InvocationsPerMinute"], "percentile": target["Percentile"],
                     "slo_ms": target["ValueInMilliseconds"],
                     "endpoint": detail_label(detail),
                     "instance_type": next(iter(sorted(counts))), "count": sum(counts.values()),
                     "chosen": detail["Verified"], "cost_per_hour": item["Metrics"]["CostPerHour"],
                     "percentile_ms": percentile["Milliseconds"], "ci_low_ms": percentile["ConfidenceInterval95"][0],
                     "ci_high_ms": percentile["ConfidenceInterval95"][1], "calibrated": detail["Calibrated"]})
    if not rows:
        rows.append({**common, "status": "infeasible", "error": " ".join(document["Explanation"])[:500],
                     "target_per_minute": target["InvocationsPerMinute"], "slo_ms": target["ValueInMilliseconds"]})
    return rows


def run_sweep(sweep: Sweep, out_dir: Path, *, scheduler: str | None = None, workers: int | None = None,
              resume: bool = False, progress: Callable[[int, int, Mapping[str, Any], str], None] | None = None
              ) -> pd.DataFrame:
    """Run every scenario on Dask (skipping those already in ``out_dir`` with ``resume``);
    returns the tidy table and writes it with the per-scenario results and the plots."""
    from dask.distributed import as_completed

    scenario_dir = out_dir / "scenarios"
    done = _answered_scenarios(scenario_dir, sweep) if resume else {}
    todo = [s for s in sweep.scenarios if s["id"] not in done]
    client, cluster = connect(scheduler) if scheduler else local_cluster(workers or os.cpu_count() or 1)
    try:
        with reported_as_write_errors(scenario_dir):
            scenario_dir.mkdir(parents=True, exist_ok=True)  # only once the cluster is there

        base, profile = client.scatter(dict(sweep.base), broadcast=True), client.scatter(dict(sweep.profile),
                                                                                       broadcast=True)
        futures = {client.submit(run_scenario, base, profile, scenario, pure=False): scenario for scenario in todo}
        for count, future in enumerate(as_completed(futures), start=1):
            scenario = futures[future]
            rows = future.result()
            text = json.dumps(rows, default=str)
            write_atomically(scenario_dir / f"{scenario['id']}.json", _text_writer(text))
            done[scenario["id"]] = json.loads(text)  # as a resumed sweep reads it back
            if progress:
                progress(count, len(todo), scenario, rows[0]["status"])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    table = pd.DataFrame([row for s in sweep.scenarios for row in done[s["id"]]])
    write_atomically(out_dir / "results.parquet", lambda tmp: table.to_parquet(tmp, index=False))
    write_atomically(out_dir / "results.csv", lambda tmp: table.to_csv(tmp, index=False))
    with reported_as_write_errors(out_dir):
        plot_sweep(table, out_dir)
    return table


def _text_writer(text: str) -> Callable[[Path], int]:
    return lambda tmp: tmp.write_text(text)


def _answered_scenarios(scenario_dir: Path, sweep: Sweep) -> dict[str, list[dict[str, Any]]]:
    """The rows of the scenarios a resumed sweep need not run again: each file of this sweep's
    scenarios read on the hardened loader, and kept only when it holds that scenario's rows (a
    file that cannot be read or holds something else is run again, and said in the log)."""
    answered: dict[str, list[dict[str, Any]]] = {}
    for scenario in sweep.scenarios:
        path = scenario_dir / f"{scenario['id']}.json"
        if not path.exists():
            continue
        try:
            rows = read_json(path, "resume")
        except InputError as exc:
            log.warning("running scenario %s again: %s", scenario["id"], exc.message)
            continue
        if isinstance(rows, list) and rows and all(isinstance(r, dict) and r.get("scenario") == scenario["id"]
                                                   for r in rows):
            answered[scenario["id"]] = rows
        else:
            log.warning("running scenario %s again: %s does not hold its results", scenario["id"], path)
    return answered


def answered(table: pd.DataFrame) -> bool:
    """Whether every scenario has an answer: an endpoint, or "infeasible" with the reason (an
    answer too); only a scenario that raised an error has none."""
    return not table.empty and bool(table["status"].isin(("ok", "infeasible")).all())


def scenario_settings(row: Mapping[Any, Any]) -> str:
    """A scenario by its axis values (``target_per_minute=20000, slo=P95=10``), not its hash."""
    return ", ".join(f"{axis}={_axis_value(row[axis])}" for axis in AXES if axis in row and not _missing(row[axis]))


def _axis_value(value: Any) -> str:
    if isinstance(value, str) and value.startswith("["):  # instance_types, kept as JSON in the table
        with contextlib.suppress(ValueError):
            return "+".join(json.loads(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def scenarios_summary(table: pd.DataFrame) -> str:
    """The chosen endpoint of every scenario, one line each, then the infeasible scenarios and
    those that failed, each by its axis values."""
    if table.empty:
        return "no scenarios"
    lines = _chosen_lines(table) if "chosen" in table else []  # no column when no scenario answered
    for status, heading in (("infeasible", "INFEASIBLE"), ("error", "ERROR")):
        for _, row in table[table["status"] == status].iterrows():
            lines.append(f"{heading} {scenario_settings(row.to_dict())}: {row['error']}")
    return "\n".join(lines)


def _chosen_lines(table: pd.DataFrame) -> list[str]:
    chosen = table[table["chosen"].eq(True)]
    order = [c for c in ("slo_ms", "service_scale", "target_per_minute") if c in chosen]
    lines = []
    for _, row in chosen.sort_values(order).iterrows():
        scale = f"  service x{row['service_scale']:g}" if "service_scale" in row and row["service_scale"] != 1 else ""
        lines.append(f"{row['target_per_minute']:>8,.0f}/min  {row['percentile']} <= {row['slo_ms']:>5g} ms{scale}  "
                     f"{row['endpoint']:<28} ${row['cost_per_hour']:.3f}/h  "
                     f"{row['percentile']} {row['percentile_ms']:.1f} ms")
    return lines
