"""The AWS response shapes: DescribeInferenceRecommendationsJob and
ListInferenceRecommendationsJobSteps, built from scheduled benchmark outcomes (and the steps of a
job still running, built from its benchmarks)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from irsim.service.admission import NotScheduled, plan_schedule
from irsim.service.benchmark import COMPLETED, BenchmarkOutcome
from irsim.service.request import BenchmarkSpec, JobSpec
from pricing import Price, ServerlessRate, serverless_cost_per_inference


@dataclass(frozen=True)
class ScheduledBenchmark:
    """A benchmark placed on the job's simulated timeline (offsets from the timeline's origin)."""

    outcome: BenchmarkOutcome
    invocation_start_s: float
    invocation_end_s: float
    price: Price | ServerlessRate | None
    price_error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome.status == COMPLETED and self.price is not None


def instance_count(max_invocations_target: int | None, per_instance_max: int) -> int:
    """InitialInstanceCount = ceil(target / per-instance max), at least 1 (1 without a target)."""
    if not max_invocations_target:
        return 1
    return max(1, math.ceil(max_invocations_target / per_instance_max))


def recommendation_metrics(per_instance_max: int, count: int, price_per_hour: float, model_latency_us: int,
                           cpu_utilization: float | None, memory_utilization: float | None) -> dict[str, Any]:
    """docs/semantics.md's formulas: MaxInvocations = count x per-instance max, CostPerHour = count x
    price, CostPerInference = CostPerHour / (MaxInvocations x 60)."""
    max_invocations = count * per_instance_max
    cost_per_hour = count * price_per_hour
    metrics: dict[str, Any] = {
        "CostPerHour": cost_per_hour,
        "CostPerInference": cost_per_hour / (max_invocations * 60),
        "MaxInvocations": max_invocations,
        "ModelLatency": model_latency_us,
    }
    if cpu_utilization is not None:
        metrics["CpuUtilization"] = cpu_utilization
    if memory_utilization is not None:
        metrics["MemoryUtilization"] = memory_utilization
    return metrics


def serverless_metrics(outcome: BenchmarkOutcome, rate: ServerlessRate) -> dict[str, Any]:
    """Serverless: CostPerInference = mean billed duration x the memory size's rate + data
    processing of the payload; CostPerHour = CostPerInference x MaxInvocations x 60.

    ``outcome`` is a COMPLETED serverless benchmark (anything with its flat numbers)."""
    mean_billed_ms, payload_kb, per_instance_max = outcome.mean_billed_ms, outcome.payload_kb, outcome.per_instance_max
    assert mean_billed_ms is not None and payload_kb is not None and per_instance_max is not None, \
        "a COMPLETED serverless benchmark completed requests"
    per_inference = serverless_cost_per_inference(mean_billed_ms, rate, payload_kb)
    return {"CostPerHour": per_inference * per_instance_max * 60, "CostPerInference": per_inference,
            "MaxInvocations": per_instance_max, "ModelLatency": outcome.model_latency_us,
            "ModelSetupTime": outcome.model_setup_time_us}


def _metrics(outcome: BenchmarkOutcome, count: int, price: Price | ServerlessRate | None) -> dict[str, Any]:
    """The Metrics of a succeeded benchmark (COMPLETED and priced) at ``count`` instances."""
    if outcome.spec.serverless is not None:
        assert isinstance(price, ServerlessRate), "a serverless benchmark is priced by its memory size"
        return serverless_metrics(outcome, price)
    assert isinstance(price, Price), "an instance benchmark is priced by its instance type"
    measured = outcome.measured()
    return recommendation_metrics(measured.per_instance_max, count, price.per_hour, measured.model_latency_us,
                                  measured.cpu_utilization, measured.memory_utilization)


def _endpoint_configuration(job: JobSpec, spec: BenchmarkSpec, seed: int, count: int) -> dict[str, Any]:
    """The endpoint a benchmark ran on: one Inference Recommender made (its names derived from
    the job, so they are known before it runs), or the existing endpoint as deployed."""
    if spec.endpoint is not None:
        return {"EndpointName": spec.endpoint.name, "VariantName": spec.endpoint.variants[0].name,
                "InstanceType": spec.instance_type, "InitialInstanceCount": spec.instance_count}
    endpoint_name, variant_name = _endpoint_names(job, spec.index, seed)
    config = spec.serverless
    if config is None:
        return {"EndpointName": endpoint_name, "VariantName": variant_name,
                "InstanceType": spec.instance_type, "InitialInstanceCount": count}
    serverless = {"MemorySizeInMB": config.memory_mb, "MaxConcurrency": config.max_concurrency}
    if config.provisioned_concurrency:
        serverless["ProvisionedConcurrency"] = config.provisioned_concurrency
    return {"EndpointName": endpoint_name, "VariantName": variant_name, "ServerlessConfig": serverless}


def _digest(*parts: Any) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def _endpoint_names(job: JobSpec, index: int, seed: int) -> tuple[str, str]:
    digest = _digest(job.job_name, index, seed)
    return f"sm-epc-{digest[:24]}", f"sm-epv-{digest[24:48]}"


def _model_configuration(spec: BenchmarkSpec) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if spec.inference_specification_name:
        config["InferenceSpecificationName"] = spec.inference_specification_name
    if spec.environment:
        config["EnvironmentParameters"] = [{"Key": key, "ValueType": "String", "Value": value}
                                           for key, value in spec.environment]
    return config


def job_arn(job: JobSpec, region: str) -> str:
    return f"arn:aws:sagemaker:{region}:{job.account}:inference-recommendations-job/{job.job_name}"


def _recommendation(job: JobSpec, item: ScheduledBenchmark, origin: datetime, seed: int) -> dict[str, Any]:
    outcome = item.outcome
    count = instance_count(job.stopping.max_invocations if job.job_type == "Advanced" else None,
                           outcome.measured().per_instance_max)
    return {
        "RecommendationId": f"{job.job_name}/{_digest(job.job_name, outcome.spec.index, seed, 'r')[:8]}",
        "Metrics": _metrics(outcome, count, item.price),
        "EndpointConfiguration": _endpoint_configuration(job, outcome.spec, seed, count),
        "ModelConfiguration": _model_configuration(outcome.spec),
        "InvocationStartTime": origin + timedelta(seconds=item.invocation_start_s),
        "InvocationEndTime": origin + timedelta(seconds=item.invocation_end_s),
    }


def _endpoint_performance(item: ScheduledBenchmark) -> dict[str, Any]:
    """An existing endpoint's EndpointPerformance: the best minute of the whole endpoint within
    the threshold, and the latency percentile there."""
    measured = item.outcome.measured()
    assert item.outcome.spec.endpoint is not None, "only an existing endpoint has an EndpointPerformance"
    return {"EndpointInfo": {"EndpointName": item.outcome.spec.endpoint.name},
            "Metrics": {"MaxInvocations": measured.per_instance_max, "ModelLatency": measured.model_latency_us}}


def failure_reason(item: ScheduledBenchmark) -> str | None:
    return item.outcome.failure_reason or item.price_error


def describe_response(job: JobSpec, scheduled: list[ScheduledBenchmark], created: datetime, completed: datetime,
                      region: str, seed: int, stopped: bool = False, origin: datetime | None = None) -> dict[str, Any]:
    """The complete DescribeInferenceRecommendationsJob answer (datetimes as datetime, like boto3).
    The benchmarks' offsets count from ``origin`` (default ``created``).

    A ``stopped`` job is STOPPED and recommends from the benchmarks that finished; an existing
    endpoint's benchmark gives an EndpointPerformance instead of a recommendation."""
    origin = created if origin is None else origin
    request = job.request
    response: dict[str, Any] = {
        "JobName": job.job_name,
        "JobType": job.job_type,
        "JobArn": job_arn(job, region),
        "RoleArn": job.role_arn,
        "Status": "COMPLETED",
        "CreationTime": created,
        "CompletionTime": completed,
        "LastModifiedTime": completed,
        "InputConfig": request["InputConfig"],
    }
    if "JobDescription" in request:
        response["JobDescription"] = request["JobDescription"]
    if "StoppingConditions" in request:
        response["StoppingConditions"] = request["StoppingConditions"]
    recommendations = [_recommendation(job, item, origin, seed) for item in scheduled
                       if item.succeeded and item.outcome.spec.endpoint is None]
    if recommendations:
        response["InferenceRecommendations"] = recommendations
    performances = [_endpoint_performance(item) for item in scheduled
                    if item.succeeded and item.outcome.spec.endpoint is not None]
    if performances:
        response["EndpointPerformances"] = performances
    if stopped:
        response["Status"] = "STOPPED"
    elif not recommendations and not performances:
        reasons = "; ".join(f"{item.outcome.spec.instance_type}: {failure_reason(item)}" for item in scheduled)
        response["Status"] = "FAILED"
        response["FailureReason"] = ("No benchmark succeeded. " + (reasons or "No benchmark fit in "
                                     "JobDurationInSeconds."))[:1024]
    return response


def _step_configuration(job: JobSpec, spec: BenchmarkSpec, seed: int) -> dict[str, Any]:
    return {"EndpointConfiguration": _endpoint_configuration(job, spec, seed, 1),
            "ModelConfiguration": _model_configuration(spec)}


def steps_response(job: JobSpec, scheduled: list[ScheduledBenchmark], created: datetime, seed: int,
                   stopped: Sequence[BenchmarkOutcome] = (), origin: datetime | None = None,
                   not_scheduled: Sequence[NotScheduled] = ()) -> dict[str, Any]:
    """The ListInferenceRecommendationsJobSteps answer: one BENCHMARK step per scheduled test,
    each as run (one instance; an existing endpoint as deployed), a FAILED step (with the
    arithmetic) for each benchmark the job's duration could not schedule, then a STOPPED step
    for each benchmark a stop cut short: every benchmark keeps its step. Offsets count from
    ``origin`` (default ``created``)."""
    origin = created if origin is None else origin
    steps = []
    for item in scheduled:
        outcome = item.outcome
        benchmark: dict[str, Any] = {
            **_step_configuration(job, outcome.spec, seed),
            "InvocationStartTime": origin + timedelta(seconds=item.invocation_start_s),
            "InvocationEndTime": origin + timedelta(seconds=item.invocation_end_s),
        }
        if item.succeeded:
            if outcome.spec.endpoint is None:
                benchmark["Metrics"] = _metrics(outcome, 1, item.price)
            benchmark["EndpointMetrics"] = {"MaxInvocations": outcome.per_instance_max,
                                            "ModelLatency": outcome.model_latency_us}
        else:
            benchmark["FailureReason"] = failure_reason(item)
        steps.append({"StepType": "BENCHMARK", "JobName": job.job_name,
                      "Status": "COMPLETED" if item.succeeded else "FAILED", "InferenceBenchmark": benchmark})
    for left in not_scheduled:
        steps.append(_unscheduled_step(job, left.spec, seed, left.reason))
    for outcome in stopped:
        steps.append({"StepType": "BENCHMARK", "JobName": job.job_name, "Status": "STOPPED",
                      "InferenceBenchmark": _step_configuration(job, outcome.spec, seed)})
    return {"Steps": steps}


def _unscheduled_step(job: JobSpec, spec: BenchmarkSpec, seed: int, reason: str) -> dict[str, Any]:
    """The FAILED step of a benchmark the job's duration cannot schedule (known at create)."""
    return {"StepType": "BENCHMARK", "JobName": job.job_name, "Status": "FAILED",
            "InferenceBenchmark": {**_step_configuration(job, spec, seed),
                                   "FailureReason": f"Not scheduled: {reason}"}}


def running_steps(job: JobSpec, seed: int, job_status: str, finished: Mapping[str, str]) -> list[dict[str, Any]]:
    """The steps of a job that has not ended, one per benchmark in the shape the finished steps
    will have (the same endpoint names; a ServerlessConfig for a serverless benchmark): COMPLETED
    or FAILED once ``finished`` (benchmark index -> status) says so, else IN_PROGRESS for as many
    as run at once (MaxParallelOfTests) while the job runs, PENDING for the rest. Metrics and
    timestamps come when the job ends (the simulated timeline needs every benchmark). A job that
    ended without its steps (its worker died) leaves the unfinished ones in its own status."""
    running = job.max_parallel if job_status in ("IN_PROGRESS", "STOPPING") else 0
    plan = plan_schedule(len(job.benchmarks), job.max_parallel, job.traffic.duration_s, job.job_duration_s)
    steps = []
    for spec in job.benchmarks:
        if spec.index >= plan.fits:  # FAILED from the start, as the finished job lists it
            steps.append(_unscheduled_step(job, spec, seed, plan.notice or ""))
            continue
        status = finished.get(str(spec.index))
        if status is None and job_status not in ("PENDING", "IN_PROGRESS", "STOPPING"):
            status = job_status
        elif status is None:
            status, running = ("IN_PROGRESS", running - 1) if running > 0 else ("PENDING", running)
        steps.append({"StepType": "BENCHMARK", "JobName": job.job_name, "Status": status,
                      "InferenceBenchmark": _step_configuration(job, spec, seed)})
    return steps
