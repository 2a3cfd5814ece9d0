"""A measured test as a real job reports it: the benchmark's outcome (the per-instance max at
the best minute within the threshold, as the simulator's benchmarks report it), the
per-minute table, and the DescribeInferenceRecommendationsJob and
ListInferenceRecommendationsJobSteps answers for the one benchmark that ran, on this machine.

The machine is named as such: InstanceType is the SageMaker type it stands for when
``--as-instance-type`` says one (and then CostPerHour and CostPerInference come from its price),
else the machine itself, with no AWS price."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from irsim.measure.live import MODEL_ERROR, Clock, MeasuredMinute
from irsim.measure.loadgen import TestRun
from irsim.service.benchmark import BenchmarkOutcome, Measurement
from irsim.service.request import BenchmarkSpec, JobSpec
from irsim.service.responses import instance_count, job_arn, recommendation_metrics
from pricing import Price
from simulator.metrics import per_minute
from simulator.stopping import JOB_STOPPED, best_minute

EXTRA_COLUMNS = ("Unanswered", "GeneratorCPU", "ClientCPU_us", "LoopLag_ms", "GeneratorLimited")


@dataclass(frozen=True)
class Stand:
    """What the measured machine is reported as: its label, the SageMaker type it stands for
    (None: none) and that type's price (None: no AWS price)."""

    machine_label: str
    instance_type: str | None = None
    price: Price | None = None

    @property
    def label(self) -> str:
        return self.instance_type or f"local: {self.machine_label}"


def minutes_frame(run: TestRun, job: JobSpec, clock: Clock) -> pd.DataFrame:
    """metrics.csv's rows (the simulator's per-minute columns, measured; seconds and start_s are
    wall-clock), plus what the generator saw of itself."""
    stats = [m.stats for m in run.minutes]
    frame = per_minute(stats, 1, users_at=lambda s: job.traffic.users_at(clock.pattern_s(s)))
    minutes = run.minutes
    frame["Invocation4XXErrors"] = [m.errors_4xx for m in minutes]
    frame["Invocation5XXErrors"] = [m.errors_5xx for m in minutes]
    frame["CPUUtilization"] = [m.cpu_percent for m in minutes]
    frame["MemoryUtilization"] = [m.memory_percent for m in minutes]
    frame["Unanswered"] = [m.failed for m in minutes]
    frame["GeneratorCPU"] = [round(m.generator.cpu_fraction, 4) for m in minutes]
    frame["ClientCPU_us"] = [round(m.generator.client_cpu_us, 1) for m in minutes]
    frame["LoopLag_ms"] = [round(m.generator.loop_lag_ms, 4) for m in minutes]
    frame["GeneratorLimited"] = [m.generator.limited for m in minutes]
    return frame


def per_60_s(count: int, clock: Clock) -> int:
    """A minute's count as Invocations per 60 s (the same count when minutes last 60 s)."""
    return round(count / clock.scale)


def outcome_of(run: TestRun, job: JobSpec, spec: BenchmarkSpec, clock: Clock, frame: pd.DataFrame) -> BenchmarkOutcome:
    """The benchmark's outcome: STOPPED (Ctrl-C), FAILED (a ModelError, or no minute within the
    threshold) or COMPLETED at its best minute. Durations are in traffic-pattern seconds."""
    duration = clock.pattern_s(run.wall_s)
    reason = run.verdict.reason
    if reason == JOB_STOPPED:
        return BenchmarkOutcome.stopped(spec, calibrated=True, duration_s=duration, per_minute=frame)
    if reason == MODEL_ERROR:
        return BenchmarkOutcome.failed(spec, run.verdict.failure or MODEL_ERROR, stop_reason=reason,
                                       calibrated=True, duration_s=duration, per_minute=frame)
    whole: list[MeasuredMinute] = [m for m in run.minutes if m.summary is not None]
    best = best_minute([m.summary for m in whole if m.summary is not None], clock.stopping(job.stopping))
    if best is None:
        failure = "The benchmark ended before its first full minute" if not whole else (
            f"ModelLatency {job.percentile} exceeded the threshold already at the lowest load "
            f"({whole[0].summary.users_end if whole[0].summary else 0} users)")
        return BenchmarkOutcome.failed(spec, failure, stop_reason=reason, calibrated=True, duration_s=duration,
                                       per_minute=frame)
    row = frame.iloc[best.minute]
    latency = float(row[f"ModelLatency_p{job.percentile[1:]}"])
    cpu, memory = float(row["CPUUtilization"]), float(row["MemoryUtilization"])
    measurement = Measurement(per_instance_max=per_60_s(best.invocations, clock), best_minute=best.minute,
                              model_latency_us=round(latency),
                              cpu_utilization=None if math.isnan(cpu) else round(cpu, 2),
                              memory_utilization=None if math.isnan(memory) else round(memory, 2))
    warnings = tuple(f"minute {m.stats.minute + 1}: the load generator limited it (CPU "
                     f"{m.generator.cpu_fraction:.0%} of a core, loop lag {m.generator.loop_lag_ms:.3f} ms)"
                     for m in run.minutes if m.generator.limited)
    return BenchmarkOutcome.completed(spec, measurement, stop_reason=reason, duration_s=duration, calibrated=True,
                                      per_minute=frame, warnings=warnings)


def _endpoint(job: JobSpec, stand: Stand, count: int) -> dict[str, Any]:
    digest = hashlib.sha256(f"{job.job_name}:{stand.label}".encode()).hexdigest()
    return {"EndpointName": f"irsim-measure-{digest[:16]}", "VariantName": "local",
            "InstanceType": stand.label, "InitialInstanceCount": count}


def _metrics(measured: Measurement, count: int, stand: Stand) -> dict[str, Any]:
    if stand.price is not None:
        return recommendation_metrics(measured.per_instance_max, count, stand.price.per_hour,
                                      measured.model_latency_us, measured.cpu_utilization, measured.memory_utilization)
    metrics: dict[str, Any] = {"MaxInvocations": count * measured.per_instance_max,
                               "ModelLatency": measured.model_latency_us}
    if measured.cpu_utilization is not None:
        metrics["CpuUtilization"] = measured.cpu_utilization
    if measured.memory_utilization is not None:
        metrics["MemoryUtilization"] = measured.memory_utilization
    return metrics


def describe_answer(job: JobSpec, outcome: BenchmarkOutcome, run: TestRun, stand: Stand, region: str) -> dict[str, Any]:
    """DescribeInferenceRecommendationsJob for the one measured benchmark."""
    response: dict[str, Any] = {
        "JobName": job.job_name, "JobType": job.job_type, "JobArn": job_arn(job, region), "RoleArn": job.role_arn,
        "Status": "COMPLETED", "CreationTime": run.started, "CompletionTime": run.ended,
        "LastModifiedTime": run.ended, "InputConfig": job.request["InputConfig"],
    }
    for key in ("JobDescription", "StoppingConditions"):
        if key in job.request:
            response[key] = job.request[key]
    if outcome.status == "COMPLETED":
        measured = outcome.measured()
        count = instance_count(job.stopping.max_invocations if job.job_type == "Advanced" else None,
                               measured.per_instance_max)
        response["InferenceRecommendations"] = [{
            "RecommendationId": f"{job.job_name}/{hashlib.sha256(job.job_name.encode()).hexdigest()[:8]}",
            "Metrics": _metrics(measured, count, stand), "EndpointConfiguration": _endpoint(job, stand, count),
            "ModelConfiguration": {}, "InvocationStartTime": run.started, "InvocationEndTime": run.ended}]
    elif outcome.status == "STOPPED":
        response["Status"] = "STOPPED"
    else:
        response["Status"] = "FAILED"
        response["FailureReason"] = f"No benchmark succeeded. {stand.label}: {outcome.failure_reason}"[:1024]
    return response


def steps_answer(job: JobSpec, outcome: BenchmarkOutcome, run: TestRun, stand: Stand) -> dict[str, Any]:
    """ListInferenceRecommendationsJobSteps: the one BENCHMARK step, on one instance."""
    benchmark: dict[str, Any] = {"EndpointConfiguration": _endpoint(job, stand, 1), "ModelConfiguration": {},
                                 "InvocationStartTime": run.started, "InvocationEndTime": run.ended}
    if outcome.status == "COMPLETED":
        measured = outcome.measured()
        benchmark["Metrics"] = _metrics(measured, 1, stand)
        benchmark["EndpointMetrics"] = {"MaxInvocations": measured.per_instance_max,
                                        "ModelLatency": measured.model_latency_us}
    elif outcome.status == "FAILED":
        benchmark["FailureReason"] = outcome.failure_reason
    return {"Steps": [{"StepType": "BENCHMARK", "JobName": job.job_name, "Status": outcome.status,
                       "InferenceBenchmark": benchmark}]}
