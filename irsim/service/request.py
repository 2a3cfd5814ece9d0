"""CreateInferenceRecommendationsJob requests: validated as boto3 and the service would, then
turned into the list of benchmarks to simulate.

First botocore's ParamValidator (what the client rejects before sending:
ParamValidationError), then the service-side rules (ClientError ValidationException with
the field path and the allowed values): the model's enums, patterns and maxima, and the
documented ranges of Inference Recommender.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from botocore.model import ListShape, StringShape, StructureShape

from irsim.service.awsmodel import input_shape, validation_error
from irsim.service.awsrules import advanced_container_warnings, container_warnings, offline_warnings, percentile_warning
from irsim.service.constraints import fail, validate_request
from irsim.service.trafficrules import check_minimum, check_range, require, validated_traffic
from irsim.service.translate import serverless_from_config
from simulator import (
    InputError,
    LatencyThreshold,
    Percentile,
    Phases,
    Profile,
    ServerlessConfig,
    Stairs,
    StoppingConditions,
)
from simulator.profiles import MEMORY_SIZES_MB

OPERATION = "CreateInferenceRecommendationsJob"
DEFAULT_JOB_DURATION_S = 7200
#: A Default job (an instance recommendation) completes within 45 minutes ("Recommendation jobs").
DEFAULT_JOB_S = 2700
#: Simulated time to create each benchmark's endpoint before its traffic starts (irsim's own).
PROVISIONING_S = 300.0
#: The MaxConcurrency of a Default job's serverless benchmarks (irsim's choice).
DEFAULT_SERVERLESS_CONCURRENCY = 20
MAX_JOB_DURATION_S = 18000
#: MaxNumberOfTests and MaxParallelOfTests: the API reference documents a minimum of 1 only;
#: above 10 (irsim's own bound, from the 10 EndpointConfigurations a job may list) is a warning.
TESTS_RANGE = (1, 10)
#: MaxInvocations: at least 1 (the API reference); above 30,000 (irsim's own bound) is a warning.
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


def _at_most(path: str, value: int, documented_minimum: int, high: int, warnings: list[str]) -> None:
    """At least the documented minimum (refused below); above ``high``, irsim's own bound, a warning."""
    check_minimum(path, value, documented_minimum)
    if value > high:
        warnings.append(f"{path} is {value:,}: above {high:,}, irsim's own bound (the API reference documents "
                        f"only a minimum of {documented_minimum}); accepted")


def _stopping(conditions: Mapping[str, Any], warnings: list[str]) -> tuple[StoppingConditions, str]:
    """StoppingConditions as documented: MaxInvocations at least 1, one threshold P95 or P99 in
    whole milliseconds (no range is documented: a value below 1 ms is accepted, and warned, as
    one no minute can meet)."""
    where = "StoppingConditions"
    max_invocations = conditions.get("MaxInvocations")
    if max_invocations is not None:
        _at_most(f"{where}.MaxInvocations", max_invocations, *MAX_INVOCATIONS_RANGE, warnings)
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
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(f"{where}.ModelLatencyThresholds[0].ValueInMilliseconds", value, "Member must be an integer")
        if value < 1:
            warnings.append(f"{where}.ModelLatencyThresholds[0].ValueInMilliseconds is {value}: no minute can meet "
                            "a threshold below 1 ms, so every benchmark fails; accepted (AWS documents no range)")
        latency = LatencyThreshold(percentile=PERCENTILES[percentile], value_ms=float(max(value, 1e-9)))
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
        require(item, ("EndpointName",), f"InputConfig.Endpoints[{i}]")
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


def model_named(request: Mapping[str, Any]) -> str:
    """The model a request names: its ModelName, or the package group of its ModelPackageVersionArn
    (``arn:...:model-package/GROUP/VERSION``)."""
    config = request["InputConfig"]
    if "ModelName" in config:
        return str(config["ModelName"])
    resource = str(config["ModelPackageVersionArn"]).split(":", 5)[-1]
    return resource.removeprefix("model-package/").split("/")[0]


def serverless_sizes(profile: Profile) -> tuple[int, ...]:
    """The memory sizes a Default job benchmarks serverless at (irsim's choice: AWS does not
    publish its own): every size from the profile's ``memory_needed_mb`` up to the one where
    compute stops speeding up (``reference_memory_mb`` x ``max_speedup``); none without a
    serverless section."""
    section = profile.serverless
    if section is None:
        return ()
    top = section.reference_memory_mb * section.max_speedup
    sizes = [size for size in MEMORY_SIZES_MB if size >= section.memory_needed_mb and size <= max(top, 1024)]
    return tuple(sizes or MEMORY_SIZES_MB[-1:])


def _default_benchmarks(config: Mapping[str, Any], instance_types: Iterable[str], sizes: Sequence[int],
                        warnings: list[str]) -> list[BenchmarkSpec]:
    """A Default job's benchmarks: the real-time types (ContainerConfig.SupportedInstanceTypes,
    else the profile's) and the serverless sizes, both unless SupportedEndpointType narrows them
    (the API reference: null returns "a combined list of both real-time and serverless benchmarks")."""
    where = "InputConfig.ContainerConfig"
    container = config.get("ContainerConfig", {})
    endpoint_type = container.get("SupportedEndpointType")  # the model's enum: RealTime, Serverless
    given = container.get("SupportedInstanceTypes")
    for i, instance_type in enumerate(given or ()):
        _check_instance_type(f"{where}.SupportedInstanceTypes[{i}]", instance_type)
    if endpoint_type == "Serverless" and given:
        warnings.append(f"{where}.SupportedInstanceTypes is ignored: SupportedEndpointType Serverless asks for "
                        "serverless benchmarks only")
    types = [] if endpoint_type == "Serverless" else list(given or sorted(instance_types))
    if endpoint_type == "Serverless" and not sizes:
        _fail(f"{where}.SupportedEndpointType", endpoint_type,
              "Serverless benchmarks need a profile with a serverless section (see docs/profiles.md)")
    if endpoint_type is None and not sizes:
        warnings.append("the profile has no serverless section: this Default job has real-time benchmarks only")
    serverless = [] if endpoint_type == "RealTime" else [
        {"ServerlessConfig": {"MemorySizeInMB": size, "MaxConcurrency": DEFAULT_SERVERLESS_CONCURRENCY}}
        for size in sizes]
    if not types and not serverless:
        _fail(f"{where}.SupportedInstanceTypes", None, "Member is required when the profile covers no instance type")
    return _endpoint_configurations([{"InstanceType": t} for t in types] + serverless)


def _capped(benchmarks: list[BenchmarkSpec], limit: int | None, warnings: list[str]) -> list[BenchmarkSpec]:
    """The first ``limit`` benchmarks (MaxNumberOfTests); the rest are named in a warning."""
    if limit is None or len(benchmarks) <= limit:
        return benchmarks
    left = ", ".join(spec_text(b) for b in benchmarks[limit:])
    warnings.append(f"InputConfig.ResourceLimit.MaxNumberOfTests is {limit}: {len(benchmarks) - limit} of "
                    f"{len(benchmarks)} benchmarks are not tested ({left})")
    return benchmarks[:limit]


def spec_text(spec: BenchmarkSpec) -> str:
    """A benchmark in one line: its instance type (or serverless size) and environment."""
    environment = ",".join(f"{k}={v}" for k, v in spec.environment)
    return spec.instance_type + (f" [{environment}]" if environment else "")


def parse_request(request: Mapping[str, Any], default_instance_types: Iterable[str] = (),
                  endpoints: Mapping[str, DeployedEndpoint] | None = None,
                  default_serverless_sizes: Sequence[int] = ()) -> JobSpec:
    """Validate a request and expand it into benchmarks (capped at MaxNumberOfTests), then one
    benchmark per existing endpoint of InputConfig.Endpoints.

    ``default_instance_types`` and ``default_serverless_sizes`` are what a Default job tests
    when ContainerConfig does not narrow it (the profile's types; ``serverless_sizes``);
    ``endpoints`` are the existing endpoints by name (none by default: naming one is then a
    ValidationException). A Default job completes within 45 minutes (2,700 s) unless
    JobDurationInSeconds says otherwise, its benchmarks as many at a time as that takes.
    """
    validate_request(OPERATION, request)
    job_type = request["JobType"]
    config = request["InputConfig"]
    if ("ModelPackageVersionArn" in config) == ("ModelName" in config):
        _fail("InputConfig.ModelPackageVersionArn", "both" if "ModelName" in config else "neither",
              "Member must have exactly one of ModelPackageVersionArn and ModelName")
    default = job_type != "Advanced"
    job_duration = config.get("JobDurationInSeconds", DEFAULT_JOB_DURATION_S if not default else DEFAULT_JOB_S)
    check_range("InputConfig.JobDurationInSeconds", job_duration, 1, MAX_JOB_DURATION_S)
    warnings = offline_warnings(request) + container_warnings(config.get("ContainerConfig", {}))
    stopping, percentile = _stopping(request.get("StoppingConditions", {}), warnings)
    limits = config.get("ResourceLimit", {})
    for key in ("MaxNumberOfTests", "MaxParallelOfTests"):
        if key in limits:
            _at_most(f"InputConfig.ResourceLimit.{key}", limits[key], *TESTS_RANGE, warnings)
    if not default:
        configurations = config.get("EndpointConfigurations")
        if not configurations and not config.get("Endpoints"):
            _fail("InputConfig.EndpointConfigurations", None,
                  "Member is required for JobType Advanced unless InputConfig.Endpoints names an endpoint")
        warnings += percentile_warning(job_type, percentile)
        warnings += advanced_container_warnings(config, configurations or ())
        benchmarks = _endpoint_configurations(configurations or ())
        pattern = config.get("TrafficPattern", DEFAULT_TRAFFIC_PATTERN)
        traffic, traffic_warnings = validated_traffic(pattern, job_duration)
        benchmarks = _capped(benchmarks, limits.get("MaxNumberOfTests", TESTS_RANGE[1]), warnings)
    else:
        benchmarks = _default_benchmarks(config, default_instance_types, default_serverless_sizes, warnings)
        traffic, traffic_warnings = validated_traffic(DEFAULT_TRAFFIC_PATTERN, job_duration)
        # A Default job has no latency threshold and no target: it reports P95 at the plateau.
        stopping, percentile = StoppingConditions(stop_on_flat_invocations=True), "P95"
        benchmarks = _capped(benchmarks, limits.get("MaxNumberOfTests"), warnings)
    rounds = max(1, int(job_duration // (PROVISIONING_S + traffic.duration_s)))
    parallel = limits.get("MaxParallelOfTests", 1 if not default else max(1, -(-len(benchmarks) // rounds)))
    benchmarks += _existing_endpoints(config, endpoints or {}, len(benchmarks))
    account = request["RoleArn"].split(":")[4]
    return JobSpec(request=request, job_name=request["JobName"], job_type=job_type, role_arn=request["RoleArn"],
                   account=account, traffic=traffic, stopping=stopping, percentile=percentile,
                   benchmarks=tuple(benchmarks), max_parallel=parallel, job_duration_s=job_duration,
                   warnings=tuple(warnings + traffic_warnings))
