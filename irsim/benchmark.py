"""One benchmark of an Inference Recommender job: one instance under the job's traffic until
a stopping condition, reduced to the numbers a recommendation is made of."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from irsim.jobspec import BenchmarkSpec
from simulator import InstanceResources, Profile, StoppingConditions, simulate
from simulator.distributions import Distribution
from simulator.profiles import InstanceProfile
from simulator.stopping import best_minute
from simulator.traffic import Phases, Stairs

COMPLETED, FAILED = "COMPLETED", "FAILED"


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


def run_benchmark(spec: BenchmarkSpec, entry: InstanceProfile, overhead: Distribution | None,
                  traffic: Phases | Stairs, stopping: StoppingConditions, percentile: str,
                  resources: InstanceResources | None, seed: int) -> BenchmarkOutcome:
    """Simulate the benchmark and apply DESIGN.md's per-instance max rule."""
    entry = entry.for_environment(dict(spec.environment))
    profile = Profile("benchmark", {spec.instance_type: entry}, overhead)
    result = simulate(profile, spec.instance_type, traffic=traffic, stopping=stopping, seed=seed,
                      resources=resources)
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
                                None, None, entry.calibrated, result.per_minute)
    row = result.per_minute.iloc[best.minute]
    memory = row["MemoryUtilization"]
    return BenchmarkOutcome(
        spec, COMPLETED, None, result.stop_reason, result.duration_s, best.invocations, best.minute,
        int(round(row[column])), round(float(row["CPUUtilization"]), 2),
        None if math.isnan(memory) else round(float(memory), 2), entry.calibrated, result.per_minute)
