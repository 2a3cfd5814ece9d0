"""One benchmark of an Inference Recommender job: one instance under the job's traffic until
a stopping condition, reduced to the numbers a recommendation is made of."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

import simulator
from irsim.service.request import BenchmarkSpec
from pricing import Catalogue
from simulator import (
    MAX_REQUESTS_PER_S,
    InstanceEndpoint,
    InstanceProfile,
    InstanceResources,
    Percentile,
    RunSpec,
    ServerlessEndpoint,
    ServerlessProfile,
    SimulationResult,
    StoppingConditions,
)
from simulator.distributions import Distribution
from simulator.harness import MinuteHook
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


def endpoint_under_test(spec: BenchmarkSpec, entry: InstanceProfile | ServerlessProfile | None,
                        resources: InstanceResources | None = None) -> InstanceEndpoint | ServerlessEndpoint | None:
    """The endpoint a benchmark simulates, resolved from its profile entry: the instance type's
    entry under the benchmark's environment (and the deployed count of an existing endpoint),
    or the serverless section at the benchmark's size; None when a serverless benchmark's
    profile has no serverless section."""
    if spec.serverless is not None:
        return ServerlessEndpoint(entry, spec.serverless) if isinstance(entry, ServerlessProfile) else None
    assert isinstance(entry, InstanceProfile), "an instance benchmark runs on its instance type's entry"
    return InstanceEndpoint(entry.for_environment(dict(spec.environment)), instance_count=spec.instance_count,
                            resources=resources)


@dataclass(frozen=True)
class BenchmarkTask:
    """Everything one benchmark needs, sent whole to a worker process (so it pickles:
    ``interrupt`` must too when benchmarks run in processes): the one run it is, built and
    checked (work budget included) in the parent before any benchmark starts."""

    spec: BenchmarkSpec
    #: The run: the endpoint under test on its profile entry, the job's traffic and stopping
    #: conditions, the benchmark's own seed; None when a serverless benchmark's profile has no
    #: serverless section (the benchmark fails, unsimulated).
    run: RunSpec | None
    percentile: str  # "P95" or "P99"
    interrupt: Callable[[], bool] | None = None


def benchmark_run(endpoint: InstanceEndpoint | ServerlessEndpoint | None, job_run: JobRun,
                  seed: int) -> RunSpec | None:
    """The RunSpec of one benchmark (None without an endpoint): what the job's traffic and
    stopping conditions do to ``endpoint``, per-minute statistics only (a job keeps no request)."""
    if endpoint is None:
        return None
    return RunSpec(endpoint=endpoint, traffic=job_run.traffic, overhead=job_run.overhead, stopping=job_run.stopping,
                   seed=seed, max_requests_per_s=job_run.max_requests_per_s, keep_requests=False)


@dataclass(frozen=True)
class JobRun:
    """What every benchmark of one job runs under."""

    traffic: Phases | Stairs
    stopping: StoppingConditions
    overhead: Distribution | None
    max_requests_per_s: float = MAX_REQUESTS_PER_S  # the simulator's work budget


def run_benchmark(task: BenchmarkTask, on_minute: MinuteHook | None = None) -> BenchmarkOutcome:
    """Simulate the benchmark (its RunSpec, built by the job before anything ran: the one
    crossing into the simulator, whose SimulationResult is the one crossing back) and apply the
    per-instance max rule of docs/semantics.md (for an existing endpoint, the whole endpoint's
    best minute, its instances behind the default routing). A benchmark ``interrupt`` ends (its
    job was stopped) is STOPPED and yields no numbers. ``on_minute`` hears each simulated minute
    as it closes (live progress)."""
    spec, run = task.spec, task.run
    calibrated = run.endpoint.calibrated if run is not None else True
    if task.interrupt is not None and task.interrupt():
        return BenchmarkOutcome.stopped(spec, calibrated=calibrated)
    if run is None:
        return BenchmarkOutcome.failed(
            spec, "The profile has no serverless section to simulate a ServerlessConfig with",
            stop_reason="NotSimulated", calibrated=False)
    endpoint = run.endpoint
    result = simulator.run(run, interrupt=task.interrupt, on_minute=on_minute)
    if result.stop_reason == JOB_STOPPED:
        return BenchmarkOutcome.stopped(spec, calibrated=calibrated, duration_s=result.duration_s,
                                        per_minute=result.per_minute)
    usage = _serverless_usage(result, endpoint.section) if isinstance(endpoint, ServerlessEndpoint) else None
    return _outcome(task, result, calibrated, usage)


def _serverless_usage(result: SimulationResult, section: ServerlessProfile) -> ServerlessUsage:
    """What a serverless benchmark's cost and ModelSetupTime are made of: billed by the
    millisecond, rounded up (pricing.serverless.billed_ms), summed as each minute closed."""
    completed = sum(m.invocations for m in result.minute_stats)
    billed_ms = sum(m.billed_ms for m in result.minute_stats)
    setup = result.per_minute["ModelSetupTime_Average"]
    cold = result.per_minute["ColdStarts"]
    return ServerlessUsage(
        mean_billed_ms=billed_ms / completed if completed else None,
        model_setup_time_us=round(float((setup.fillna(0) * cold).sum() / cold.sum())) if cold.sum() else 0,
        payload_kb=section.payload_kb)


def _outcome(task: BenchmarkTask, result: SimulationResult, calibrated: bool,
             usage: ServerlessUsage | None) -> BenchmarkOutcome:
    """A finished simulation as COMPLETED (its best minute within the threshold) or FAILED."""
    assert task.run is not None, "only a simulated benchmark has an outcome"
    spec, stopping, percentile = task.spec, task.run.stopping, Percentile.parse(task.percentile)
    best = best_minute(result.minutes, stopping)
    column = percentile.column
    if best is None:
        if not result.minutes:
            reason = "The benchmark ended before its first full minute"
        else:
            first = result.per_minute.iloc[0]
            latency_ms = first[column] / 1000.0
            threshold = stopping.latency.value_ms if stopping.latency else math.nan
            reason = (f"ModelLatency {percentile.label} of {latency_ms:.1f} ms exceeded the {threshold:g} ms threshold "
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
