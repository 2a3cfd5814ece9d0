"""CreateInferenceRecommendationsJob requests: validated as boto3 and the service would, then
turned into the list of benchmarks to simulate.

First botocore's ParamValidator (what the client rejects before sending:
ParamValidationError), then the service-side rules (ClientError ValidationException with
the field path and the allowed values): the model's enums, patterns and maxima, and the
documented ranges of Inference Recommender.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from botocore.model import ListShape, StringShape, StructureShape

from irsim.service.awsmodel import input_shape, validation_error
from irsim.service.constraints import fail, validate_request
from irsim.service.translate import serverless_from_config, traffic_from_pattern, traffic_type
from simulator import (
    InputError,
    LatencyThreshold,
    Percentile,
    Phases,
    ServerlessConfig,
    Stairs,
    StoppingConditions,
    checks,
)

OPERATION = "CreateInferenceRecommendationsJob"
DEFAULT_JOB_DURATION_S = 7200
MAX_JOB_DURATION_S = 18000
PHASE_DURATION_RANGE = (120, 3600)
#: InitialNumberOfUsers as the API reference and the developer guide document it for a phase:
#: enforced for the first phase; a later phase outside it is accepted with a warning (AWS's own
#: SDK integration test starts a second phase at 14 users against the real service).
PHASE_USERS_RANGE = (1, 3)
SPAWN_RATE_RANGE = (0, 3)
TESTS_RANGE = (1, 10)
MAX_INVOCATIONS_RANGE = (1, 30000)
#: ModelLatencyThresholds' Percentile enum, by label.
PERCENTILES = {p.label: p for p in (Percentile(95), Percentile(99))}
#: The traffic of a Default job (and of an Advanced job that gives none): one phase
#: starting with 1 user and adding 3 a minute for 15 minutes, ended early by a plateau.
DEFAULT_TRAFFIC_PATTERN = {"TrafficType": "PHASES",
                           "Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": 3, "DurationInSeconds": 900}]}


@dataclass(frozen=True)
class BenchmarkSpec:
    """One load test: one instance of one type with one set of environment parameters, or an
    existing endpoint as deployed (``endpoint``: its variant's type and instance count)."""

    index: int
    instance_type: str  # for a serverless benchmark, its label ("serverless 2048 MB x5")
    environment: tuple[tuple[str, str], ...] = ()
    inference_specification_name: str | None = None
    serverless: ServerlessConfig | None = None
    endpoint: DeployedEndpoint | None = None

    @property
    def instance_count(self) -> int:
        return self.endpoint.variants[0].instance_count if self.endpoint else 1


@dataclass(frozen=True)
class DeployedVariant:
    """A production variant of an existing endpoint as deployed."""

    name: str
    instance_type: str | None  # None for a serverless variant
    instance_count: int


@dataclass(frozen=True)
class DeployedEndpoint:
    """An existing endpoint a job may name in InputConfig.Endpoints."""

    name: str
    variants: tuple[DeployedVariant, ...]


@dataclass(frozen=True)
class JobSpec:
    """A validated request, ready to run."""

    request: Mapping[str, Any]
    job_name: str
    job_type: str
    role_arn: str
    account: str
    traffic: Phases | Stairs
    stopping: StoppingConditions
    percentile: str  # "P95" or "P99": the percentile ModelLatency is reported at
    benchmarks: tuple[BenchmarkSpec, ...]
    max_parallel: int
    job_duration_s: int
    warnings: tuple[str, ...] = ()  # accepted, but outside what AWS documents


def _fail(path: str, value: Any, constraint: str) -> NoReturn:
    fail(OPERATION, path, value, constraint)


def _check_range(path: str, value: Any, low: int, high: int) -> None:
    """An integer from ``low`` to ``high``, refused in the service's words."""
    try:
        checks.integer(value, path, minimum=low, maximum=high)
    except InputError:
        _fail(path, value, f"Member must have value between {low} and {high} (inclusive)")


def _require(members: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in members:
            _fail(f"{where}.{key}", None, "Member is required")


def _check_phases(pattern: Mapping[str, Any], where: str) -> list[str]:
    """PHASES: the documented ranges. InitialNumberOfUsers 1-3 is enforced for the first phase;
    a later phase outside it is accepted with a warning (returned). No rule ties a phase's
    start to the count the previous phase ended with."""
    phases = pattern.get("Phases")
    if not phases:
        _fail(f"{where}.Phases", None, "Member is required when TrafficType is PHASES")
    if "Stairs" in pattern:
        _fail(f"{where}.Stairs", "Stairs", "Member must be absent when TrafficType is PHASES")
    warnings = []
    low, high = PHASE_USERS_RANGE
    for i, phase in enumerate(phases):
        _require(phase, ("InitialNumberOfUsers", "SpawnRate", "DurationInSeconds"), f"{where}.Phases[{i}]")
        users = phase["InitialNumberOfUsers"]
        if i == 0:
            _check_range(f"{where}.Phases[0].InitialNumberOfUsers", users, low, high)
        elif not low <= users <= high:
            warnings.append(f"{where}.Phases[{i}].InitialNumberOfUsers is {users}: AWS documents {low}-{high} "
                            "for a phase, but its own SDK integration test starts a later phase at 14 against "
                            "the real service, so irsim accepts it")
        _check_range(f"{where}.Phases[{i}].SpawnRate", phase["SpawnRate"], *SPAWN_RATE_RANGE)
        _check_range(f"{where}.Phases[{i}].DurationInSeconds", phase["DurationInSeconds"], *PHASE_DURATION_RANGE)
    return warnings


def _check_stairs(pattern: Mapping[str, Any], where: str) -> list[str]:
    """STAIRS: its members present and its duration in the documented range (the model
    bounds NumberOfSteps and UsersPerStep)."""
    stairs = pattern.get("Stairs")
    if not stairs:
        _fail(f"{where}.Stairs", None, "Member is required when TrafficType is STAIRS")
    if "Phases" in pattern:
        _fail(f"{where}.Phases", "Phases", "Member must be absent when TrafficType is STAIRS")
    _require(stairs, ("DurationInSeconds", "NumberOfSteps", "UsersPerStep"), f"{where}.Stairs")
    _check_range(f"{where}.Stairs.DurationInSeconds", stairs["DurationInSeconds"], *PHASE_DURATION_RANGE)
    return []


#: The rules of each TrafficType; each returns the warnings of what it accepted outside the documented ranges.
TRAFFIC_CHECKS: Mapping[str, Callable[[Mapping[str, Any], str], list[str]]] = {"PHASES": _check_phases,
                                                                             "STAIRS": _check_stairs}


def _traffic(pattern: Mapping[str, Any], job_duration_s: int) -> tuple[Phases | Stairs, list[str]]:
    """The one place a TrafficPattern is validated (after the model's types and bounds);
    what passes, translate.traffic_from_pattern turns into the simulator's traffic. Returns the
    traffic and the warnings of what was accepted outside the documented ranges."""
    where = "InputConfig.TrafficPattern"
    warnings = TRAFFIC_CHECKS[traffic_type(pattern)](pattern, where)  # the model's enum: PHASES, STAIRS
    traffic = traffic_from_pattern(pattern)
    if traffic.duration_s > job_duration_s:
        _fail(f"{where}", f"{traffic.duration_s:g} s of traffic",
              f"The traffic pattern must fit in InputConfig.JobDurationInSeconds ({job_duration_s} s)")
    return traffic, warnings


def _stopping(conditions: Mapping[str, Any]) -> tuple[StoppingConditions, str]:
    where = "StoppingConditions"
    max_invocations = conditions.get("MaxInvocations")
    if max_invocations is not None:
        _check_range(f"{where}.MaxInvocations", max_invocations, *MAX_INVOCATIONS_RANGE)
    latency = None
    percentile = "P95"
    thresholds = conditions.get("ModelLatencyThresholds")
    if thresholds:
        threshold = thresholds[0]
        percentile = threshold.get("Percentile")
        if percentile not in PERCENTILES:
            _fail(f"{where}.ModelLatencyThresholds[0].Percentile", percentile,
                  "Member must satisfy enum value set: [P95, P99]")
        value = threshold.get("ValueInMilliseconds")
        if value is None:
            _fail(f"{where}.ModelLatencyThresholds[0].ValueInMilliseconds", None, "Member is required")
        _check_range(f"{where}.ModelLatencyThresholds[0].ValueInMilliseconds", value, 1, 3_600_000)
        latency = LatencyThreshold(percentile=PERCENTILES[percentile], value_ms=float(value))
    flat = conditions.get("FlatInvocations", "Stop")  # the service model: "The default value is Stop"
    return StoppingConditions(max_invocations=max_invocations, latency=latency,
                              stop_on_flat_invocations=flat == "Stop"), percentile


def _environments(configuration: Mapping[str, Any]) -> list[tuple[tuple[str, str], ...]]:
    """Every combination of the configuration's categorical environment parameter values."""
    ranges = configuration.get("EnvironmentParameterRanges", {}).get("CategoricalParameterRanges", [])
    if not ranges:
        return [()]
    names = [r["Name"] for r in ranges]
    return [tuple(zip(names, values, strict=True)) for values in itertools.product(*(r["Value"] for r in ranges))]


def _check_instance_type(path: str, instance_type: str) -> None:
    allowed = _instance_type_enum()
    if instance_type not in allowed:
        _fail(path, instance_type, f"Member must satisfy enum value set: [{len(allowed)} values, e.g. "
                                   f"{', '.join(allowed[:6])}]")
    if instance_type.startswith("ml.t2."):
        _fail(path, instance_type, "Burstable ml.t2 instance types are not supported by Inference Recommender")


def _instance_type_enum() -> list[str]:
    """The InstanceType enum of EndpointConfigurations in botocore's model."""
    config = input_shape(OPERATION).members["InputConfig"]
    assert isinstance(config, StructureShape)
    configurations = config.members["EndpointConfigurations"]
    assert isinstance(configurations, ListShape) and isinstance(configurations.member, StructureShape)
    instance_type = configurations.member.members["InstanceType"]
    assert isinstance(instance_type, StringShape)
    return instance_type.enum


def _serverless(config: Mapping[str, Any], path: str) -> ServerlessConfig:
    """MemorySizeInMB 1024-6144 in steps of 1024, MaxConcurrency 1-200, ProvisionedConcurrency
    at most MaxConcurrency."""
    try:
        return serverless_from_config(config)
    except InputError as exc:
        _fail(f"{path}.{exc.field}", config.get(exc.field), f"Member {exc.message}")


def _endpoint_configurations(configurations: Sequence[Mapping[str, Any]]) -> list[BenchmarkSpec]:
    benchmarks: list[BenchmarkSpec] = []
    for i, configuration in enumerate(configurations):
        path = f"InputConfig.EndpointConfigurations[{i}]"
        names = [r["Name"] for r in configuration.get("EnvironmentParameterRanges", {})
                 .get("CategoricalParameterRanges", [])]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            _fail(f"{path}.EnvironmentParameterRanges.CategoricalParameterRanges", duplicates[0],
                  "Member must name each environment parameter once")
        has_instance, has_serverless = "InstanceType" in configuration, "ServerlessConfig" in configuration
        if has_instance == has_serverless:
            _fail(path, "both" if has_instance else "neither",
                  "Member must have exactly one of InstanceType and ServerlessConfig")
        serverless = None
        if has_serverless:
            serverless = _serverless(configuration["ServerlessConfig"], f"{path}.ServerlessConfig")
            instance_type = serverless.label
        else:
            instance_type = configuration["InstanceType"]
            _check_instance_type(f"{path}.InstanceType", instance_type)
        for environment in _environments(configuration):
            benchmarks.append(BenchmarkSpec(
                index=len(benchmarks), instance_type=instance_type, environment=environment,
                inference_specification_name=configuration.get("InferenceSpecificationName"), serverless=serverless))
    return benchmarks


def _existing_endpoints(config: Mapping[str, Any], endpoints: Mapping[str, DeployedEndpoint],
                        first_index: int) -> list[BenchmarkSpec]:
    """InputConfig.Endpoints: each names an existing real-time endpoint with one variant (the
    developer guide's exclusions), benchmarked as deployed."""
    benchmarks = []
    for i, item in enumerate(config.get("Endpoints", [])):
        _require(item, ("EndpointName",), f"InputConfig.Endpoints[{i}]")
        deployed = endpoints.get(item["EndpointName"])
        if deployed is None:
            raise validation_error(f'Could not find endpoint "{item["EndpointName"]}".', OPERATION)
        if len(deployed.variants) != 1:
            _fail(f"InputConfig.Endpoints[{i}].EndpointName", deployed.name,
                  f"The endpoint must have exactly one production variant (it has {len(deployed.variants)})")
        instance_type = deployed.variants[0].instance_type
        if instance_type is None:
            _fail(f"InputConfig.Endpoints[{i}].EndpointName", deployed.name,
                  "Only real-time endpoints can be benchmarked (this one is serverless)")
        _check_instance_type(f"InputConfig.Endpoints[{i}].EndpointName", instance_type)
        benchmarks.append(BenchmarkSpec(index=first_index + i, instance_type=instance_type, endpoint=deployed))
    return benchmarks


def parse_request(request: Mapping[str, Any], default_instance_types: Iterable[str] = (),
                  endpoints: Mapping[str, DeployedEndpoint] | None = None) -> JobSpec:
    """Validate a request and expand it into benchmarks (capped at MaxNumberOfTests), then one
    benchmark per existing endpoint of InputConfig.Endpoints.

    ``default_instance_types`` are the types a Default job tests when the request's
    ContainerConfig.SupportedInstanceTypes does not name any (the profile's types);
    ``endpoints`` are the existing endpoints by name (none by default: naming one is then a
    ValidationException).
    """
    validate_request(OPERATION, request)
    job_type = request["JobType"]
    config = request["InputConfig"]
    if ("ModelPackageVersionArn" in config) == ("ModelName" in config):
        _fail("InputConfig.ModelPackageVersionArn", "both" if "ModelName" in config else "neither",
              "Member must have exactly one of ModelPackageVersionArn and ModelName")
    job_duration = config.get("JobDurationInSeconds", DEFAULT_JOB_DURATION_S)
    _check_range("InputConfig.JobDurationInSeconds", job_duration, 1, MAX_JOB_DURATION_S)
    stopping, percentile = _stopping(request.get("StoppingConditions", {}))
    limits = config.get("ResourceLimit", {})
    for key in ("MaxNumberOfTests", "MaxParallelOfTests"):
        if key in limits:
            _check_range(f"InputConfig.ResourceLimit.{key}", limits[key], *TESTS_RANGE)
    if job_type == "Advanced":
        configurations = config.get("EndpointConfigurations")
        if not configurations and not config.get("Endpoints"):
            _fail("InputConfig.EndpointConfigurations", None,
                  "Member is required for JobType Advanced unless InputConfig.Endpoints names an endpoint")
        benchmarks = _endpoint_configurations(configurations or ())
        traffic, warnings = _traffic(config.get("TrafficPattern", DEFAULT_TRAFFIC_PATTERN), job_duration)
    else:
        where = "InputConfig.ContainerConfig.SupportedInstanceTypes"
        given = config.get("ContainerConfig", {}).get("SupportedInstanceTypes")
        for i, instance_type in enumerate(given or ()):
            _check_instance_type(f"{where}[{i}]", instance_type)
        supported = given or sorted(default_instance_types)
        if not supported:
            _fail(where, None, "Member is required when the profile covers no instance type")
        benchmarks = _endpoint_configurations([{"InstanceType": t} for t in supported])
        traffic, warnings = _traffic(DEFAULT_TRAFFIC_PATTERN, job_duration)
        # A Default job has no latency threshold and no target: it reports P95 at the plateau.
        stopping, percentile = StoppingConditions(stop_on_flat_invocations=True), "P95"
    benchmarks = benchmarks[:limits.get("MaxNumberOfTests", TESTS_RANGE[1])]
    benchmarks += _existing_endpoints(config, endpoints or {}, len(benchmarks))
    account = request["RoleArn"].split(":")[4]
    return JobSpec(request=request, job_name=request["JobName"], job_type=job_type, role_arn=request["RoleArn"],
                   account=account, traffic=traffic, stopping=stopping, percentile=percentile,
                   benchmarks=tuple(benchmarks), max_parallel=limits.get("MaxParallelOfTests", 1),
                   job_duration_s=job_duration, warnings=tuple(warnings))
