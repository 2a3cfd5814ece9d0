"""One benchmark of an Inference Recommender job: one instance under the job's traffic until
a stopping condition, reduced to the numbers a recommendation is made of."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from irsim.service.request import BenchmarkSpec
from pricing import Catalogue
from simulator import InstanceResources, Profile, SimulationResult, StoppingConditions, simulate, simulate_serverless
from simulator.distributions import Distribution
from simulator.harness import MinuteHook
from simulator.profiles import InstanceProfile
from simulator.serverless import ServerlessProfile
from simulator.simulation import MAX_REQUESTS_PER_S
from simulator.stopping import JOB_STOPPED, best_minute
from simulator.traffic import Phases, Stairs

COMPLETED, FAILED, STOPPED = "COMPLETED", "FAILED", "STOPPED"


@dataclass(frozen=True)
class Measurement:
    """The numbers of a COMPLETED benchmark, read at its best minute within the latency
    threshold. Latency in integer microseconds, as the API reports it."""

    per_instance_max: int  # Invocations in the best minute
    best_minute: int
    model_latency_us: int
    cpu_utilization: float | None = None  # None when the catalogue lacks the instance's size
    memory_utilization: float | None = None


@dataclass(frozen=True)
class ServerlessUsage:
    """What a serverless benchmark's cost and ModelSetupTime metric are made of."""

    mean_billed_ms: float | None  # None when no request completed
    model_setup_time_us: int
    payload_kb: float


@dataclass(frozen=True)
class BenchmarkOutcome:
    """What one benchmark measured: its status and, when COMPLETED, its ``measurement``.

    Build one with ``completed``, ``failed`` or ``stopped``: each says which fields its
    status carries."""

    spec: BenchmarkSpec
    status: str
    stop_reason: str
    duration_s: float
    calibrated: bool
    per_minute: pd.DataFrame
    failure_reason: str | None = None
    measurement: Measurement | None = None
    warnings: tuple[str, ...] = ()
    serverless_usage: ServerlessUsage | None = None

    @classmethod
    def completed(cls, spec: BenchmarkSpec, measurement: Measurement, *, stop_reason: str, duration_s: float,
                  calibrated: bool, per_minute: pd.DataFrame, warnings: tuple[str, ...] = (),
                  serverless_usage: ServerlessUsage | None = None) -> BenchmarkOutcome:
        return cls(spec=spec, status=COMPLETED, stop_reason=stop_reason, duration_s=duration_s,
                   calibrated=calibrated, per_minute=per_minute, measurement=measurement, warnings=warnings,
                   serverless_usage=serverless_usage)

    @classmethod
    def failed(cls, spec: BenchmarkSpec, reason: str, *, stop_reason: str, calibrated: bool,
               duration_s: float = 0.0, per_minute: pd.DataFrame | None = None, warnings: tuple[str, ...] = (),
               serverless_usage: ServerlessUsage | None = None) -> BenchmarkOutcome:
        return cls(spec=spec, status=FAILED, stop_reason=stop_reason, duration_s=duration_s, calibrated=calibrated,
                   per_minute=pd.DataFrame() if per_minute is None else per_minute, failure_reason=reason,
                   warnings=warnings, serverless_usage=serverless_usage)

    @classmethod
    def stopped(cls, spec: BenchmarkSpec, *, calibrated: bool, duration_s: float = 0.0,
                per_minute: pd.DataFrame | None = None) -> BenchmarkOutcome:
        """Cut short because its job was stopped: no numbers."""
        return cls(spec=spec, status=STOPPED, stop_reason=JOB_STOPPED, duration_s=duration_s, calibrated=calibrated,
                   per_minute=pd.DataFrame() if per_minute is None else per_minute)

    def measured(self) -> Measurement:
        """The measurement of a COMPLETED outcome (asking any other is a programming error)."""
        assert self.measurement is not None, f"benchmark {self.spec.index} is {self.status}: it has no numbers"
        return self.measurement

    # The measurement's numbers, read flat (None unless COMPLETED).
    @property
    def per_instance_max(self) -> int | None:
        return self.measurement.per_instance_max if self.measurement else None

    @property
    def best_minute(self) -> int | None:
        return self.measurement.best_minute if self.measurement else None

    @property
    def model_latency_us(self) -> int | None:
        return self.measurement.model_latency_us if self.measurement else None

    @property
    def cpu_utilization(self) -> float | None:
        return self.measurement.cpu_utilization if self.measurement else None

    @property
    def memory_utilization(self) -> float | None:
        return self.measurement.memory_utilization if self.measurement else None

    # A serverless benchmark's usage, read flat (None for an instance benchmark).
    @property
    def mean_billed_ms(self) -> float | None:
        return self.serverless_usage.mean_billed_ms if self.serverless_usage else None

    @property
    def model_setup_time_us(self) -> int | None:
        return self.serverless_usage.model_setup_time_us if self.serverless_usage else None

    @property
    def payload_kb(self) -> float | None:
        return self.serverless_usage.payload_kb if self.serverless_usage else None


@dataclass(frozen=True)
class BenchmarkTask:
    """Everything one benchmark needs, sent whole to a worker process (so it pickles:
    ``interrupt`` must too when benchmarks run in processes)."""

    spec: BenchmarkSpec
    #: The profile's entry: the instance type's, or the serverless section (None if the
    #: profile has none, which fails a serverless benchmark).
    entry: InstanceProfile | ServerlessProfile | None
    overhead: Distribution | None
    traffic: Phases | Stairs
    stopping: StoppingConditions
    percentile: str  # "P95" or "P99"
    resources: InstanceResources | None
    seed: int
    interrupt: Callable[[], bool] | None = None
    max_requests_per_s: float = MAX_REQUESTS_PER_S  # the simulator's work budget


def run_benchmark(task: BenchmarkTask, on_minute: MinuteHook | None = None) -> BenchmarkOutcome:
    """Simulate the benchmark and apply the per-instance max rule of docs/semantics.md (for an existing
    endpoint, the whole endpoint's best minute, its instances behind the default routing). A
    benchmark ``interrupt`` ends (its job was stopped) is STOPPED and yields no numbers.
    ``on_minute`` hears each simulated minute as it closes (live progress)."""
    spec = task.spec
    if task.interrupt is not None and task.interrupt():
        return BenchmarkOutcome.stopped(spec, calibrated=getattr(task.entry, "calibrated", True))
    usage = None
    if spec.serverless is not None:
        if not isinstance(task.entry, ServerlessProfile):
            return BenchmarkOutcome.failed(
                spec, "The profile has no serverless section to simulate a ServerlessConfig with",
                stop_reason="NotSimulated", calibrated=False)
        result, usage = _simulate_serverless(task, task.entry, on_minute)
        calibrated = True
    else:
        assert isinstance(task.entry, InstanceProfile), "an instance benchmark runs on its instance type's entry"
        entry = task.entry.for_environment(dict(spec.environment))
        calibrated = entry.calibrated
        result = simulate(Profile(model="benchmark", instances={spec.instance_type: entry}, overhead=task.overhead),
                          spec.instance_type, instance_count=spec.instance_count, traffic=task.traffic,
                          stopping=task.stopping, seed=task.seed, resources=task.resources, interrupt=task.interrupt,
                          max_requests_per_s=task.max_requests_per_s, keep_requests=False, on_minute=on_minute)
    if result.stop_reason == JOB_STOPPED:
        return BenchmarkOutcome.stopped(spec, calibrated=calibrated, duration_s=result.duration_s,
                                        per_minute=result.per_minute)
    return _outcome(task, result, calibrated, usage)


def _simulate_serverless(task: BenchmarkTask, section: ServerlessProfile,
                         on_minute: MinuteHook | None) -> tuple[SimulationResult, ServerlessUsage]:
    config = task.spec.serverless
    assert config is not None, "only a serverless benchmark runs on the serverless section"
    result = simulate_serverless(Profile(model="benchmark", instances={}, overhead=task.overhead, serverless=section),
                                 config.memory_mb, config.max_concurrency, config.provisioned_concurrency,
                                 traffic=task.traffic, stopping=task.stopping, seed=task.seed,
                                 interrupt=task.interrupt, max_requests_per_s=task.max_requests_per_s,
                                 keep_requests=False, on_minute=on_minute)
    # Billed by the millisecond, rounded up (pricing.serverless.billed_ms), summed as each minute closed.
    completed = sum(m.invocations for m in result.minute_stats)
    billed_ms = sum(m.billed_ms for m in result.minute_stats)
    setup = result.per_minute["ModelSetupTime_Average"]
    cold = result.per_minute["ColdStarts"]
    usage = ServerlessUsage(
        mean_billed_ms=billed_ms / completed if completed else None,
        model_setup_time_us=round(float((setup.fillna(0) * cold).sum() / cold.sum())) if cold.sum() else 0,
        payload_kb=section.payload_kb)
    return result, usage


def _outcome(task: BenchmarkTask, result: SimulationResult, calibrated: bool,
             usage: ServerlessUsage | None) -> BenchmarkOutcome:
    """A finished simulation as COMPLETED (its best minute within the threshold) or FAILED."""
    spec, stopping, percentile = task.spec, task.stopping, task.percentile
    best = best_minute(result.minutes, stopping)
    column = f"ModelLatency_p{percentile[1:]}"
    if best is None:
        if not result.minutes:
            reason = "The benchmark ended before its first full minute"
        else:
            first = result.per_minute.iloc[0]
            latency_ms = first[column] / 1000.0
            threshold = stopping.latency.value_ms if stopping.latency else math.nan
            reason = (f"ModelLatency {percentile} of {latency_ms:.1f} ms exceeded the {threshold:g} ms threshold "
                      f"already at the lowest load ({int(first['Users'])} users)")
        return BenchmarkOutcome.failed(spec, reason, stop_reason=result.stop_reason, duration_s=result.duration_s,
                                       calibrated=calibrated, per_minute=result.per_minute,
                                       warnings=result.warnings, serverless_usage=usage)
    row = result.per_minute.iloc[best.minute]
    memory, cpu = row["MemoryUtilization"], row["CPUUtilization"]
    warnings = result.warnings
    if spec.serverless is not None and spec.serverless.provisioned_concurrency:
        warnings += (f"ProvisionedConcurrency {spec.serverless.provisioned_concurrency}: no known price in the "
                     "data, so CostPerHour and CostPerInference leave it out",)
    measurement = Measurement(per_instance_max=best.invocations, best_minute=best.minute,
                              model_latency_us=round(float(row[column])),
                              cpu_utilization=None if math.isnan(cpu) else round(float(cpu), 2),
                              memory_utilization=None if math.isnan(memory) else round(float(memory), 2))
    return BenchmarkOutcome.completed(spec, measurement, stop_reason=result.stop_reason,
                                      duration_s=result.duration_s, calibrated=calibrated,
                                      per_minute=result.per_minute, warnings=warnings, serverless_usage=usage)


def instance_resources(catalogue: Catalogue, instance_type: str) -> InstanceResources | None:
    """The vCPUs and memory of a catalogue instance type (None for one the catalogue lacks):
    the scale of CPUUtilization and MemoryUtilization."""
    spec = catalogue.specs.get(instance_type)
    return InstanceResources(vcpu=spec.vcpu, memory_mb=spec.memory_mb) if spec else None
