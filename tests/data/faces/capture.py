"""A fixed set of outputs of irsim's public faces, with fixed seeds and small inputs: what
``tests/test_faces_unchanged.py`` recomputes and compares against ``faces.json``, so that a
refactor can show it changed no result.

Run ``.venv/bin/python tests/data/faces/capture.py`` to write ``faces.json`` again (only when a
change of results is intended, and say so in the commit).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import irsim
from autoscaling import Scenario, evaluate_policy, parse_curve, recommend_policy, static_peak
from irsim.service.job import execute_job, run_job
from simulator import (
    ConstantUsers,
    InstanceResources,
    LatencyThreshold,
    Phase,
    Phases,
    PoissonArrivals,
    SimulationResult,
    Stairs,
    StoppingConditions,
    load_profile,
    simulate,
    simulate_serverless,
)

HERE = Path(__file__).resolve().parent
CAPTURE = HERE / "faces.json"
EXAMPLES = HERE.parents[2] / "examples"
CREATED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
COMPLETED = CREATED + timedelta(hours=1)


def plain(value: Any) -> Any:
    """``value`` as plain JSON values (NaN and infinities kept as floats)."""
    if isinstance(value, pd.DataFrame):
        return {str(column): plain(value[column].tolist()) for column in value.columns}
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return float(value)
    return value


def _array(values: np.ndarray) -> dict[str, Any]:
    """A per-request array in brief: its size, sum, first values and quartiles."""
    values = np.asarray(values)
    return {"size": int(values.size), "sum": float(values.sum()) if values.size else 0.0,
            "head": plain(values[:8]),
            "quartiles": plain(np.percentile(values, (25, 50, 75))) if values.size else []}


def result(out: SimulationResult) -> dict[str, Any]:
    """What a SimulationResult says: the summary, the minutes, the per-minute frame, the arrays."""
    kept = out.requests_kept
    return {
        "summary": plain(out.summary()),
        "queued": out.queued, "in_service": out.in_service, "throttled": out.throttled,
        "cold_starts": out.cold_starts, "requests_kept": kept,
        "minutes": plain(out.minutes),
        "minute_stats": plain(out.minute_stats),
        "per_minute": plain(out.per_minute),
        "latency_ms": _array(out.latency_ms), "service_ms": _array(out.service_ms),
        "completion_s": _array(out.completion_s), "instance": _array(out.instance),
        "mean_latency_ms": out.mean_latency_ms,
    }


OVERHEAD_PROFILE = {
    "model": "faces", "overhead_ms": {"family": "lognormal", "mean_ms": 3.0, "cv": 0.5},
    "instances": {"ml.c5.large": {"workers": 2, "service_time": {"family": "gamma", "mean_ms": 12.0, "cv": 0.8},
                                  "memory_mb": 900, "cpu_per_worker": 0.7,
                                  "provenance": {"observed_invocations_per_minute": [100, 2000]}}},
}


def simulations() -> dict[str, Any]:
    """``simulate`` and ``simulate_serverless`` in their every shape, small."""
    threshold = StoppingConditions(max_invocations=7000, latency=LatencyThreshold(95, 40.0))
    return {
        "closed_users": result(simulate("demo", "ml.c5.large", users=4, duration_s=150, seed=1)),
        "poisson": result(simulate("demo", "ml.c5.xlarge", arrival_rate_per_s=120.0, duration_s=130, seed=2)),
        "phases_stopping": result(simulate(
            "demo", "ml.c5.large", traffic=Phases((Phase(1, 3, 120), Phase(6, 2, 120))), stopping=threshold,
            seed=3)),
        "stairs_flat_odd_percentile": result(simulate(
            "demo", "ml.m5.large", traffic=Stairs(240, 4, 3),
            stopping=StoppingConditions(latency=LatencyThreshold(97.5, 500.0), stop_on_flat_invocations=True),
            seed=4)),
        "random_routing_overhead_think": result(simulate(
            OVERHEAD_PROFILE, "ml.c5.large", instance_count=3, users=12, duration_s=125, seed=5, think_time_s=0.01,
            resources=InstanceResources(vcpu=2, memory_mb=4096))),
        "least_outstanding_open_dropped": result(simulate(
            OVERHEAD_PROFILE, "ml.c5.large", instance_count=3, routing="least_outstanding_requests",
            traffic=PoissonArrivals(((0.0, 100.0), (60.0, 300.0)), 150.0), seed=6, keep_requests=False)),
        "serverless_closed": result(simulate_serverless(
            "demo", 2048, 5, provisioned_concurrency=1, users=6, duration_s=130, seed=7, think_time_s=0.02)),
        "serverless_open_warm": result(simulate_serverless(
            "demo", 4096, 8, arrival_rate_per_s=200.0, duration_s=100, seed=8, warm_environments=4)),
        "serverless_stairs_stopping": result(simulate_serverless(
            OVERHEAD_PROFILE | {"serverless": load_profile("demo").to_dict()["serverless"]}, 1024, 3,
            traffic=Stairs(180, 3, 2), stopping=StoppingConditions(max_invocations=4000), seed=9,
            keep_requests=False)),
        "constant_users_traffic": result(simulate("demo", "ml.c5.large", traffic=ConstantUsers(3, 70.0), seed=10)),
    }


def short_request(name: str, **traffic: Any) -> dict[str, Any]:
    """An example job made short (its traffic replaced)."""
    request = json.loads((EXAMPLES / name).read_text())
    request["InputConfig"]["TrafficPattern"] = traffic
    return request


def jobs() -> dict[str, Any]:
    """``run_job`` and ``execute_job`` on short versions of the examples."""
    stairs = short_request("stairs-job.json", TrafficType="STAIRS",
                           Stairs={"DurationInSeconds": 180, "NumberOfSteps": 3, "UsersPerStep": 2})
    stairs["InputConfig"]["ResourceLimit"] = {"MaxNumberOfTests": 2, "MaxParallelOfTests": 1}
    serverless = short_request("serverless-job.json", TrafficType="PHASES",
                               Phases=[{"InitialNumberOfUsers": 1, "SpawnRate": 2, "DurationInSeconds": 180}])
    serverless["StoppingConditions"].pop("MaxInvocations")  # no production check: small and quick
    done = execute_job(serverless, seed=12, created=CREATED, completed=COMPLETED, parallel=False, production=False)
    extensions = done.extensions()
    extensions.pop("irsim_version")
    return {
        "run_job_stairs": _timeless(plain(run_job(stairs, seed=11))),
        "execute_job_serverless": {"describe": plain(done.describe), "steps": plain(done.steps),
                                   "extensions": plain(extensions),
                                   "per_minute": [plain(item.outcome.per_minute) for item in done.scheduled]},
    }


TIME_KEYS = {"CreationTime", "LastModifiedTime", "CompletionTime", "InvocationStartTime", "InvocationEndTime"}


def _timeless(value: Any) -> Any:
    """``value`` with its wall-clock timestamps replaced (they depend on when it ran)."""
    if isinstance(value, dict):
        return {k: "<time>" if k in TIME_KEYS else _timeless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def planning() -> dict[str, Any]:
    """``irsim.recommend``: the optimizer in the Describe shape, on a small case."""
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.large"},
                                                        {"InstanceType": "ml.c5.xlarge"}]
    answer = irsim.recommend(request, seed=13, target_per_minute=6000, slo="P95=30", replications=1)
    return {"recommend": plain(answer)}


def autoscaling() -> dict[str, Any]:
    """The autoscaling API on a short synthetic curve: the search, the static peak and the engine's check."""
    curve = parse_curve("diurnal:peak=6000,trough=600,hours=3,seed=1")
    entry = load_profile("demo").instance("ml.c5.large")
    scenario = Scenario.of(curve, entry, price_per_hour=0.1, percentile="P95", slo_ms=40.0)
    found = recommend_policy(scenario, violation_budget=0.02)
    static = static_peak(curve, entry, price_per_hour=0.1, slo_ms=40.0)
    short = parse_curve("step:from=1200,to=4800,at=3,minutes=6")
    verified = evaluate_policy(Scenario.of(short, entry, price_per_hour=0.1, slo_ms=40.0), found.policy, engine=True,
                               seed=14)
    return {"policy": plain(found.policy), "timeline": plain(found.timeline.frame), "tried": found.tried,
            "within_budget": found.within_budget, "cost": found.timeline.cost,
            "static_count": static.count, "static_cost": static.timeline.cost,
            "verified": plain(verified.frame)}


def client(home: Path) -> dict[str, Any]:
    """``irsim.client()``: create, wait, describe (a job's worker is its own process)."""
    request = short_request("stairs-job.json", TrafficType="STAIRS",
                            Stairs={"DurationInSeconds": 120, "NumberOfSteps": 2, "UsersPerStep": 2})
    request["InputConfig"]["ResourceLimit"] = {"MaxNumberOfTests": 1, "MaxParallelOfTests": 1}
    sagemaker = irsim.client(home=home, seed=15)
    sagemaker.create_inference_recommendations_job(**copy.deepcopy(request))
    sagemaker.wait_for_job(request["JobName"], poll_s=0.1, timeout_s=120)
    described = sagemaker.describe_inference_recommendations_job(JobName=request["JobName"])
    described.pop("ResponseMetadata", None)
    return {"describe": _timeless(plain(described))}


#: The faces computed in this process (a few seconds in all); the client's job runs in a worker process.
FACES: dict[str, Callable[[], dict[str, Any]]] = {"simulations": simulations, "jobs": jobs, "planning": planning,
                                                  "autoscaling": autoscaling}


def capture(home: Path) -> dict[str, Any]:
    """Every face's outputs."""
    out = {name: compute() for name, compute in FACES.items()}
    out["client"] = client(home)
    return out


def differences(expected: Any, actual: Any, path: str = "", rel: float = 1e-9) -> list[str]:
    """Where ``actual`` differs from ``expected``: ints, strings and shapes exactly, floats to ``rel``."""
    if isinstance(expected, float) or isinstance(actual, float):
        if not (isinstance(expected, float) and isinstance(actual, float)):  # an int stays an int
            return [f"{path}: {expected!r} != {actual!r}"]
        if math.isnan(expected) and math.isnan(actual):
            return []
        if expected == actual or math.isclose(expected, actual, rel_tol=rel, abs_tol=0.0):
            return []
        return [f"{path}: {expected!r} != {actual!r}"]
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            return [f"{path}: keys {sorted(expected)} != {sorted(actual)}"]
        return [d for key in expected for d in differences(expected[key], actual[key], f"{path}.{key}", rel)]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: length {len(expected)} != {len(actual)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in differences(e, a, f"{path}[{i}]", rel)]
    return [] if expected == actual and type(expected) is type(actual) else [f"{path}: {expected!r} != {actual!r}"]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as home:
        captured = capture(Path(home))
    CAPTURE.write_text(json.dumps(captured, indent=1, sort_keys=True) + "\n")
    print(f"wrote {CAPTURE} ({CAPTURE.stat().st_size:,} bytes)", file=sys.stderr)
