"""GetScalingConfigurationRecommendation, answered from a completed job's stored result.

AWS documents what goes in and out (a completed job; a recommendation or a benchmarked
endpoint; TargetCpuUtilizationPerCore, default 50 %; a ScalingPolicyObjective of expected
invocations per minute) but not the arithmetic. irsim's rule, stated in docs/semantics.md:

- TargetValue (SageMakerVariantInvocationsPerInstance): the invocations per instance per
  minute at which CPU per core reaches the target, on the straight line through the origin
  fitted (least squares) to the benchmark's full minutes of CPUUtilization / vCPU against
  InvocationsPerInstance (CPU is work, work is proportional to invocations; minutes at the CPU
  cap are left out); never above the recommendation's per-instance max (the busiest minute
  the benchmark showed within its latency threshold) nor above the rate one instance sustains
  within the latency threshold by the profile's queueing law (``MinuteModel.sustainable_rate``:
  the job's ModelLatencyThresholds, else the recommendation's own ModelLatency, at the job's
  percentile; always below the instance's capacity, where the best minute of a saturated test
  is a noisy maximum that may exceed it); floored to whole invocations, at least 1.
  Without per-minute data the line goes through the recommendation's own CpuUtilization at its
  per-instance max; without any CPU figure TargetValue = per-instance max x target / 100 (the
  SageMaker load-testing guide's MAX x SAFETY_FACTOR, with the target as the safety factor).
- MinCapacity = ceil(MinInvocationsPerMinute / TargetValue), at least 1; MaxCapacity =
  ceil(MaxInvocationsPerMinute / TargetValue), at least MinCapacity. Without an objective the
  minimum rate is 0 and the maximum the recommendation's MaxInvocations.
- ScaleInCooldown = ScaleOutCooldown = 300 s, Application Auto Scaling's default for SageMaker
  endpoint variants.
- Metric: InvocationsPerInstance = TargetValue; ModelLatency = the job's percentile (µs) in the
  busiest benchmark minute at or below TargetValue (the recommendation's ModelLatency without
  per-minute data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autoscaling.latency import MinuteModel, parse_percentile
from calibration.transfer import complete_profile
from irsim.service.awsmodel import validation_error
from irsim.service.responses import ScheduledBenchmark
from simulator.profiles import Profile

OPERATION = "GetScalingConfigurationRecommendation"
DEFAULT_TARGET_CPU_PER_CORE = 50  # the service model: "The default value is 50%."
DEFAULT_COOLDOWN_S = 300  # Application Auto Scaling's default for SageMaker endpoint variants
PREDEFINED_METRIC = "SageMakerVariantInvocationsPerInstance"
#: The key of a stored job's extensions that keeps each benchmark's minutes (by benchmark index).
PER_MINUTE = "per_minute"
#: The per-minute columns kept for the scaling recommendation.
KEPT_COLUMNS = ("minute", "seconds", "InvocationsPerInstance", "CPUUtilization",
                "ModelLatency_p50", "ModelLatency_p90", "ModelLatency_p95", "ModelLatency_p99")
FULL_MINUTE_S = 60.0


@dataclass(frozen=True)
class Benchmarked:
    """What one recommendation (or benchmarked existing endpoint) is scaled from."""

    recommendation_id: str | None  # None for an existing endpoint (EndpointPerformances)
    endpoint_name: str
    instance_type: str
    per_instance_max: int  # invocations per instance in the best minute within the threshold
    max_invocations: int  # the recommendation's MaxInvocations (count x per-instance max)
    model_latency_us: int
    cpu_utilization: float | None  # at the per-instance max, 0-100 x vCPU
    price_per_hour: float | None
    minutes: pd.DataFrame | None  # the benchmark's per-minute series (KEPT_COLUMNS), when stored
    environment: Mapping[str, str] | None = None  # the recommendation's environment variables


@dataclass(frozen=True)
class ScalingRecommendation:
    """The answer: a target-tracking policy on invocations per instance, and what it came from."""

    benchmarked: Benchmarked
    target_cpu_per_core: int
    target_value: float
    model_latency_us: int
    min_capacity: int
    max_capacity: int
    rule: str  # which of the rules gave TargetValue: "per-minute fit", "best minute", "safety factor"
    capped: bool  # TargetValue was held at the ceiling
    ceiling: float | None = None  # the most TargetValue may be: min(per-instance max, sustainable rate)
    scale_in_cooldown_s: int = DEFAULT_COOLDOWN_S
    scale_out_cooldown_s: int = DEFAULT_COOLDOWN_S

    def configuration(self) -> dict[str, Any]:
        """DynamicScalingConfiguration in the service's shape."""
        return {"MinCapacity": self.min_capacity, "MaxCapacity": self.max_capacity,
                "ScaleInCooldown": self.scale_in_cooldown_s, "ScaleOutCooldown": self.scale_out_cooldown_s,
                "ScalingPolicies": [{"TargetTracking": {
                    "MetricSpecification": {"Predefined": {"PredefinedMetricType": PREDEFINED_METRIC}},
                    "TargetValue": self.target_value}}]}


def per_minute_document(scheduled: Iterable[ScheduledBenchmark]) -> dict[str, dict[str, list[float | None]]]:
    """Each benchmark's minutes as JSON columns (NaN as null), by benchmark index: what a stored
    job keeps so that its scaling recommendation can be computed later."""
    document = {}
    for item in scheduled:
        frame = item.outcome.per_minute
        if frame.empty:
            continue
        document[str(item.outcome.spec.index)] = {
            column: [None if pd.isna(v) else float(v) for v in frame[column]]
            for column in KEPT_COLUMNS if column in frame}
    return document


def per_minute_frames(document: Mapping[str, Mapping[str, Sequence[float | None]]] | None) -> dict[int, pd.DataFrame]:
    """The inverse of per_minute_document."""
    return {int(index): pd.DataFrame({k: np.array([np.nan if v is None else v for v in values], dtype=float)
                                      for k, values in columns.items()})
            for index, columns in (document or {}).items()}


def latency_percentile(request: Mapping[str, Any]) -> str:
    """The percentile a job reports ModelLatency at: its threshold's (Advanced), else P95."""
    thresholds = request.get("StoppingConditions", {}).get("ModelLatencyThresholds") or []
    return thresholds[0]["Percentile"] if thresholds and request.get("JobType") == "Advanced" else "P95"


def find_benchmarked(describe: Mapping[str, Any], extensions: Mapping[str, Any] | None,
                     minutes: Mapping[int, pd.DataFrame], recommendation_id: str | None,
                     endpoint_name: str | None) -> Benchmarked:
    """The recommendation a request names (by RecommendationId, or by EndpointName: a
    recommendation's endpoint or an existing endpoint the job benchmarked), with its
    benchmark's minutes; a ValidationException when the job has none such."""
    benchmarks = list((extensions or {}).get("benchmarks", []))
    succeeded = [b for b in benchmarks if b.get("Status") == "COMPLETED" and "EndpointName" not in b]
    recommendations = describe.get("InferenceRecommendations", [])
    extras: list[Mapping[str, Any] | None] = (
        succeeded if len(succeeded) == len(recommendations) else [None] * len(recommendations))
    for recommendation, extra in zip(recommendations, extras, strict=True):
        endpoint = recommendation["EndpointConfiguration"]
        if recommendation["RecommendationId"] != recommendation_id and endpoint["EndpointName"] != endpoint_name:
            continue
        if "InstanceType" not in endpoint:
            raise validation_error(f"Recommendation {recommendation['RecommendationId']} is a serverless endpoint: "
                                   "autoscaling policies apply to instance-based endpoints.", OPERATION)
        metrics = recommendation["Metrics"]
        count = endpoint.get("InitialInstanceCount", 1)
        return Benchmarked(recommendation_id=recommendation["RecommendationId"], endpoint_name=endpoint["EndpointName"],
                           instance_type=endpoint["InstanceType"],
                           per_instance_max=max(1, round(metrics["MaxInvocations"] / count)),
                           max_invocations=metrics["MaxInvocations"], model_latency_us=metrics["ModelLatency"],
                           cpu_utilization=metrics.get("CpuUtilization"),
                           price_per_hour=metrics["CostPerHour"] / count,
                           minutes=minutes.get(extra["index"]) if extra else None,
                           environment={p["Key"]: p["Value"] for p in recommendation.get("ModelConfiguration", {})
                                        .get("EnvironmentParameters", [])})
    for performance in describe.get("EndpointPerformances", []):
        name = performance["EndpointInfo"]["EndpointName"]
        extra = next((b for b in benchmarks if b.get("EndpointName") == name), None)
        if name != endpoint_name or extra is None:
            continue
        metrics = performance["Metrics"]
        count = extra.get("InstanceCount", 1)
        return Benchmarked(recommendation_id=None, endpoint_name=name, instance_type=extra["InstanceType"],
                           per_instance_max=max(1, round(metrics["MaxInvocations"] / count)),
                           max_invocations=metrics["MaxInvocations"], model_latency_us=metrics["ModelLatency"],
                           cpu_utilization=None, price_per_hour=extra.get("price_per_hour"),
                           minutes=minutes.get(extra["index"]))
    job = describe["JobName"]
    if recommendation_id is not None:
        raise validation_error(f"RecommendationId {recommendation_id} is not a recommendation of inference "
                               f"recommendations job {job}.", OPERATION)
    raise validation_error(f"EndpointName {endpoint_name} is not an endpoint benchmarked by inference "
                           f"recommendations job {job}.", OPERATION)


def full_minutes(minutes: pd.DataFrame, vcpu: int | None = None) -> pd.DataFrame:
    """The minutes a fit may use: whole, with invocations and a CPU figure below the CPU cap."""
    keep = (minutes["seconds"] >= FULL_MINUTE_S - 1e-9) & (minutes["InvocationsPerInstance"] > 0) \
        & minutes["CPUUtilization"].notna()
    if vcpu:
        keep &= minutes["CPUUtilization"] < 100.0 * vcpu - 1e-6
    return minutes[keep]


def cpu_per_core_slope(minutes: pd.DataFrame, vcpu: int) -> float | None:
    """Percent CPU per core per invocation per minute: least squares through the origin."""
    used = full_minutes(minutes, vcpu)
    x = used["InvocationsPerInstance"].to_numpy(dtype=float)
    y = used["CPUUtilization"].to_numpy(dtype=float) / vcpu
    denominator = float(np.dot(x, x))
    return float(np.dot(x, y)) / denominator if denominator > 0 and np.dot(x, y) > 0 else None


def sustainable_rate(benchmarked: Benchmarked, describe: Mapping[str, Any], profile: Profile | None,
                     vcpu_of: Callable[[str], int | None]) -> float | None:
    """Invocations per minute one instance serves within the job's latency threshold (else the
    recommendation's ModelLatency) by the profile's queueing law; None without a profile."""
    if profile is None:
        return None
    entry = complete_profile(profile, [benchmarked.instance_type], vcpu_of).instances[benchmarked.instance_type]
    entry = entry.for_environment(benchmarked.environment or {})
    thresholds = describe.get("StoppingConditions", {}).get("ModelLatencyThresholds") or []
    if thresholds and describe.get("JobType") == "Advanced":
        percentile, threshold_ms = thresholds[0]["Percentile"], float(thresholds[0]["ValueInMilliseconds"])
    else:
        percentile, threshold_ms = latency_percentile(describe), benchmarked.model_latency_us / 1000.0
    return MinuteModel(entry, parse_percentile(percentile)).sustainable_rate(threshold_ms)


def target_value(benchmarked: Benchmarked, target_cpu_per_core: int, vcpu: int | None,
                 sustainable: float | None = None) -> tuple[float, str, bool]:
    """TargetValue by the module's rule, which rule gave it, and whether the ceiling (the
    per-instance max, and ``sustainable`` when known) held it."""
    slope, rule = None, "safety factor"
    if vcpu and benchmarked.minutes is not None:
        slope, rule = cpu_per_core_slope(benchmarked.minutes, vcpu), "per-minute fit"
    if slope is None and vcpu and benchmarked.cpu_utilization:
        slope, rule = benchmarked.cpu_utilization / vcpu / benchmarked.per_instance_max, "best minute"
    if slope is None:
        rate, rule = benchmarked.per_instance_max * target_cpu_per_core / 100.0, "safety factor"
    else:
        rate = target_cpu_per_core / slope
    ceiling = float(benchmarked.per_instance_max) if sustainable is None else \
        min(float(benchmarked.per_instance_max), sustainable)
    return float(max(1, math.floor(min(rate, ceiling)))), rule, rate > ceiling


def latency_at(benchmarked: Benchmarked, rate: float, percentile: str) -> int:
    """The percentile (µs) in the busiest full minute at or below ``rate`` invocations per instance."""
    column = f"ModelLatency_p{percentile[1:]}"
    if benchmarked.minutes is None or column not in benchmarked.minutes:
        return benchmarked.model_latency_us
    minutes = benchmarked.minutes
    whole = minutes[(minutes["seconds"] >= FULL_MINUTE_S - 1e-9) & minutes[column].notna()
                    & (minutes["InvocationsPerInstance"] <= rate)]
    if whole.empty:
        return benchmarked.model_latency_us
    busiest = int(np.argmax(whole["InvocationsPerInstance"].to_numpy()))
    return round(float(whole[column].to_numpy()[busiest]))


def capacities(target: float, objective: Mapping[str, int] | None, max_invocations: int) -> tuple[int, int]:
    """(MinCapacity, MaxCapacity) for the objective's rates at ``target`` per instance."""
    objective = objective or {}
    low = objective.get("MinInvocationsPerMinute", 0)
    high = objective.get("MaxInvocationsPerMinute", max_invocations)
    minimum = max(1, math.ceil(low / target))
    return minimum, max(minimum, math.ceil(high / target))


def check_objective(objective: Mapping[str, int] | None) -> None:
    """irsim's own rule (AWS documents none): rates are not negative, the minimum not above the maximum."""
    objective = objective or {}
    for key in ("MinInvocationsPerMinute", "MaxInvocationsPerMinute"):
        if objective.get(key, 0) < 0:
            raise validation_error(f"1 validation error detected: Value '{objective[key]}' at "
                                   f"'ScalingPolicyObjective.{key}' failed to satisfy constraint: Member must have "
                                   "value greater than or equal to 0", OPERATION)
    low, high = objective.get("MinInvocationsPerMinute"), objective.get("MaxInvocationsPerMinute")
    if low is not None and high is not None and low > high:
        raise validation_error(f"ScalingPolicyObjective.MinInvocationsPerMinute ({low}) must not exceed "
                               f"ScalingPolicyObjective.MaxInvocationsPerMinute ({high}).", OPERATION)


def recommend_scaling(request: Mapping[str, Any], describe: Mapping[str, Any], extensions: Mapping[str, Any] | None,
                      minutes: Mapping[int, pd.DataFrame],
                      vcpu_of: Callable[[str], int | None], profile: Profile | None = None) -> ScalingRecommendation:
    """The scaling recommendation a validated request asks of a COMPLETED job's answers (with the
    profile the job ran on, TargetValue never above what one instance sustains by its law)."""
    if ("RecommendationId" in request) == ("EndpointName" in request):
        raise validation_error("Specify either RecommendationId or EndpointName"
                               + (", not both." if "RecommendationId" in request else "."), OPERATION)
    check_objective(request.get("ScalingPolicyObjective"))
    benchmarked = find_benchmarked(describe, extensions, minutes, request.get("RecommendationId"),
                                   request.get("EndpointName"))
    target_cpu = request.get("TargetCpuUtilizationPerCore", DEFAULT_TARGET_CPU_PER_CORE)
    sustainable = sustainable_rate(benchmarked, describe, profile, vcpu_of)
    value, rule, capped = target_value(benchmarked, target_cpu, vcpu_of(benchmarked.instance_type), sustainable)
    low, high = capacities(value, request.get("ScalingPolicyObjective"), benchmarked.max_invocations)
    percentile = latency_percentile(describe)
    return ScalingRecommendation(benchmarked=benchmarked, target_cpu_per_core=target_cpu, target_value=value,
                                 model_latency_us=latency_at(benchmarked, value, percentile),
                                 min_capacity=low, max_capacity=high, rule=rule, capped=capped,
                                 ceiling=benchmarked.per_instance_max if sustainable is None else
                                 min(float(benchmarked.per_instance_max), sustainable))


def scaling_response(request: Mapping[str, Any], answer: ScalingRecommendation) -> dict[str, Any]:
    """The GetScalingConfigurationRecommendation response (without ResponseMetadata)."""
    response: dict[str, Any] = {"InferenceRecommendationsJobName": request["InferenceRecommendationsJobName"]}
    if answer.benchmarked.recommendation_id is not None:
        response["RecommendationId"] = answer.benchmarked.recommendation_id
    response["EndpointName"] = answer.benchmarked.endpoint_name
    response["TargetCpuUtilizationPerCore"] = answer.target_cpu_per_core
    if "ScalingPolicyObjective" in request:
        response["ScalingPolicyObjective"] = dict(request["ScalingPolicyObjective"])
    response["Metric"] = {"InvocationsPerInstance": int(answer.target_value), "ModelLatency": answer.model_latency_us}
    response["DynamicScalingConfiguration"] = answer.configuration()
    return response
