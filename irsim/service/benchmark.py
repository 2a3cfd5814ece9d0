"""One benchmark of an Inference Recommender job: one instance under the job's traffic until
a stopping condition, reduced to the numbers a recommendation is made of."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from irsim.service.request import BenchmarkSpec
from pricing import Catalogue
from pricing.serverless import billed_ms
from simulator import InstanceResources, Profile, StoppingConditions, simulate, simulate_serverless
from simulator.distributions import Distribution
from simulator.profiles import InstanceProfile
from simulator.serverless import ServerlessProfile
from simulator.stopping import JOB_STOPPED, best_minute
from simulator.traffic import Phases, Stairs

COMPLETED, FAILED, STOPPED = "COMPLETED", "FAILED", "STOPPED"


@dataclass(frozen=True)
class BenchmarkOutcome:
    """What one benchmark measured. Latency in integer microseconds, as the API reports it."""

    spec: BenchmarkSpec
    status: str
    failure_reason: str | None
    stop_reason: str
    duration_s: float
    per_instance_max: int | None  # Invocations in the best minute within the latency threshold
    best_minute: int | None
    model_latency_us: int | None
    cpu_utilization: float | None
    memory_utilization: float | None
    calibrated: bool
    per_minute: pd.DataFrame
    warnings: tuple[str, ...] = ()
    # serverless only: what the cost and the ModelSetupTime metric are made of
    mean_billed_ms: float | None = None
    model_setup_time_us: int | None = None
    payload_kb: float | None = None


def run_benchmark(spec: BenchmarkSpec, entry: InstanceProfile | ServerlessProfile | None,
                  overhead: Distribution | None,
                  traffic: Phases | Stairs, stopping: StoppingConditions, percentile: str,
                  resources: InstanceResources | None, seed: int,
                  interrupt: Callable[[], bool] | None = None) -> BenchmarkOutcome:
    """Simulate the benchmark and apply DESIGN.md's per-instance max rule. A benchmark
    ``interrupt`` ends (its job was stopped) is STOPPED and yields no numbers."""
    if interrupt is not None and interrupt():
        return BenchmarkOutcome(spec, STOPPED, None, JOB_STOPPED, 0.0, None, None, None, None, None,
                                getattr(entry, "calibrated", True), pd.DataFrame())
    serverless_extra: dict = {}
    if spec.serverless is not None:
        if entry is None:
            return BenchmarkOutcome(spec, FAILED, "The profile has no serverless section to simulate a "
                                    "ServerlessConfig with", "NotSimulated", 0.0, None, None, None, None, None,
                                    False, pd.DataFrame())
        config = spec.serverless
        result = simulate_serverless(Profile("benchmark", {}, overhead, serverless=entry), config.memory_mb,
                                     config.max_concurrency, config.provisioned_concurrency, traffic=traffic,
                                     stopping=stopping, seed=seed, interrupt=interrupt)
        setup = result.per_minute["ModelSetupTime_Average"]
        cold = result.per_minute["ColdStarts"]
        serverless_extra = {
            "mean_billed_ms": float(np.mean([billed_ms(v) for v in result.service_ms])) if result.completed else None,
            "model_setup_time_us": int(round(float((setup.fillna(0) * cold).sum() / cold.sum()))) if cold.sum() else 0,
            "payload_kb": entry.payload_kb}
        calibrated = True
    else:
        entry = entry.for_environment(dict(spec.environment))
        calibrated = entry.calibrated
        result = simulate(Profile("benchmark", {spec.instance_type: entry}, overhead), spec.instance_type,
                          traffic=traffic, stopping=stopping, seed=seed, resources=resources, interrupt=interrupt)
    if result.stop_reason == JOB_STOPPED:
        return BenchmarkOutcome(spec, STOPPED, None, JOB_STOPPED, result.duration_s, None, None, None, None,
                                None, calibrated, result.per_minute)
    best = best_minute(result.minutes, stopping)
    column = f"ModelLatency_p{percentile[1:]}"
    if best is None:
        first = result.per_minute.iloc[0]
        latency_ms = first[column] / 1000.0
        threshold = stopping.latency.value_ms if stopping.latency else math.nan
        reason = (f"ModelLatency {percentile} of {latency_ms:.1f} ms exceeded the {threshold:g} ms threshold "
                  f"already at the lowest load ({int(first['Users'])} users)")
        if not result.minutes:
            reason = "The benchmark ended before its first full minute"
        return BenchmarkOutcome(spec, FAILED, reason, result.stop_reason, result.duration_s, None, None, None,
                                None, None, calibrated, result.per_minute, result.warnings, **serverless_extra)
    row = result.per_minute.iloc[best.minute]
    memory, cpu = row["MemoryUtilization"], row["CPUUtilization"]
    warnings = result.warnings
    if spec.serverless is not None and spec.serverless.provisioned_concurrency:
        warnings += (f"ProvisionedConcurrency {spec.serverless.provisioned_concurrency}: no known price in the "
                     "data, so CostPerHour and CostPerInference leave it out",)
    return BenchmarkOutcome(
        spec, COMPLETED, None, result.stop_reason, result.duration_s, best.invocations, best.minute,
        int(round(row[column])), None if math.isnan(cpu) else round(float(cpu), 2),
        None if math.isnan(memory) else round(float(memory), 2), calibrated, result.per_minute,
        warnings, **serverless_extra)


def instance_resources(catalogue: Catalogue, instance_type: str) -> InstanceResources | None:
    """The vCPUs and memory of a catalogue instance type (None for one the catalogue lacks):
    the scale of CPUUtilization and MemoryUtilization."""
    spec = catalogue.specs.get(instance_type)
    return InstanceResources(spec.vcpu, spec.memory_mb) if spec else None
