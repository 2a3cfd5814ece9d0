"""Request validation of CreateInferenceRecommendationsJob (irsim.jobspec.parse_request).

One table row per rule: starting from a deep copy of examples/seed-advanced-job.json, one
mutation the rule accepts and one it rejects, with the exception type (botocore's client-side
ParamValidationError or the service's ClientError ValidationException), the field path the
message must name and words of the allowed values. Then positive checks of what a valid
request expands into, and regressions for the bugs this file found.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from irsim.service.request import JobSpec, parse_request
from simulator import Phase, Phases, Stairs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())

Mutation = Callable[[dict], None]

TRAFFIC = "InputConfig.TrafficPattern"
PHASES = f"{TRAFFIC}.Phases"
STAIRS = f"{TRAFFIC}.Stairs"
LIMITS = "InputConfig.ResourceLimit"
CONFIGS = "InputConfig.EndpointConfigurations"
THRESHOLD = "StoppingConditions.ModelLatencyThresholds[0]"


# --- building requests --------------------------------------------------------------------

def _keys(path: str) -> list[str | int]:
    """'A.B[0].C' -> ['A', 'B', 0, 'C']."""
    return [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]


def _parent(request: dict, path: str) -> tuple[Any, str | int]:
    *head, last = _keys(path)
    node: Any = request
    for key in head:
        node = node[key]
    return node, last


def put(path: str, value: Any) -> Mutation:
    """Set the field at ``path`` (creating nothing but the last key)."""
    def mutate(request: dict) -> None:
        node, key = _parent(request, path)
        node[key] = copy.deepcopy(value)
    return mutate


def drop(path: str) -> Mutation:
    def mutate(request: dict) -> None:
        node, key = _parent(request, path)
        del node[key]
    return mutate


def append(path: str, value: Any) -> Mutation:
    def mutate(request: dict) -> None:
        node, key = _parent(request, path)
        node[key].append(copy.deepcopy(value))
    return mutate


def chain(*mutations: Mutation) -> Mutation:
    def mutate(request: dict) -> None:
        for m in mutations:
            m(request)
    return mutate


def unchanged(request: dict) -> None:
    """The seed as it is (it already holds the valid value)."""


def phase(initial: int, spawn: int, duration: int) -> dict:
    return {"InitialNumberOfUsers": initial, "SpawnRate": spawn, "DurationInSeconds": duration}


def stairs(duration: int = 600, steps: int = 10, users: int = 2, **extra: Any) -> Mutation:
    """STAIRS traffic instead of the seed's PHASES (``extra``: more TrafficPattern members)."""
    return put(TRAFFIC, {"TrafficType": "STAIRS", "Stairs": {
        "DurationInSeconds": duration, "NumberOfSteps": steps, "UsersPerStep": users}, **extra})


def default_job(*supported_instance_types: str) -> Mutation:
    """A Default job: no endpoint configurations or traffic, optionally ContainerConfig types."""
    mutations = [put("JobType", "Default"), drop(CONFIGS), drop(TRAFFIC)]
    if supported_instance_types:
        mutations.append(put("InputConfig.ContainerConfig", {"SupportedInstanceTypes": list(supported_instance_types)}))
    return chain(*mutations)


def build(mutation: Mutation = unchanged) -> dict:
    request = copy.deepcopy(SEED)
    mutation(request)
    return request


def assert_rejected(request: dict, error: type[Exception], path: str, words: tuple[str, ...]) -> None:
    with pytest.raises(error) as info:
        parse_request(request)
    if error is ClientError:
        assert info.value.response["Error"]["Code"] == "ValidationException"
        message = info.value.response["Error"]["Message"]
    else:
        message = str(info.value)
    assert path in message, message
    for word in words:
        assert word in message, message


# --- the rule table -----------------------------------------------------------------------

class Case(NamedTuple):
    id: str
    valid: Mutation
    invalid: Mutation
    error: type[Exception]
    path: str
    words: tuple[str, ...]


CLIENT, SERVICE = ParamValidationError, ClientError
MISSING = ("Missing required parameter",)
RANGE = "failed to satisfy constraint: Member must have value between"
ENUM = "Member must satisfy enum value set"
PATTERN = "Member must satisfy regular expression pattern"
ONE_ROLE = "arn:aws-cn:iam::444455556666:role/service-role/Other"
STAIRS_ONLY = {"TrafficType": "STAIRS", "Stairs": {"DurationInSeconds": 600, "NumberOfSteps": 10, "UsersPerStep": 2}}

CASES = [
    # client side: botocore's ParamValidator (required members, types, model minima)
    Case("JobName-required", put("JobName", "a"), drop("JobName"), CLIENT, '"JobName"', MISSING),
    Case("RoleArn-required", put("RoleArn", ONE_ROLE), drop("RoleArn"), CLIENT, '"RoleArn"', MISSING),
    Case("InputConfig-required",
         put("InputConfig", {"ModelName": "xgboost-demo", "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}]}),
         drop("InputConfig"), CLIENT, '"InputConfig"', MISSING),
    Case("JobType-required", put("JobType", "Advanced"), drop("JobType"), CLIENT, '"JobType"', MISSING),
    Case("MaxInvocations-type", put("StoppingConditions.MaxInvocations", 500),
         put("StoppingConditions.MaxInvocations", "1000"), CLIENT, "StoppingConditions.MaxInvocations",
         ("Invalid type", "valid types: <class 'int'>")),
    Case("InitialNumberOfUsers-model-min", put(f"{PHASES}[0].InitialNumberOfUsers", 1),
         put(f"{PHASES}[0].InitialNumberOfUsers", 0), CLIENT, f"{PHASES}[0].InitialNumberOfUsers",
         ("valid min value: 1",)),
    Case("SpawnRate-model-min", put(f"{PHASES}[1].SpawnRate", 0), put(f"{PHASES}[1].SpawnRate", -1), CLIENT,
         f"{PHASES}[1].SpawnRate", ("valid min value: 0",)),
    Case("JobName-model-min", put("JobName", "a"), put("JobName", ""), CLIENT, "JobName", ("valid min length: 1",)),
    Case("MaxParallelOfTests-model-min", put(f"{LIMITS}.MaxParallelOfTests", 1), put(f"{LIMITS}.MaxParallelOfTests", 0),
         CLIENT, f"{LIMITS}.MaxParallelOfTests", ("valid min value: 1",)),
    Case("ModelLatencyThresholds-model-min", unchanged, put("StoppingConditions.ModelLatencyThresholds", []),
         CLIENT, "StoppingConditions.ModelLatencyThresholds", ("valid min length: 1",)),

    # service side: the model's enums, patterns and maxima
    Case("JobType-enum", default_job("ml.c5.large"), put("JobType", "Basic"), SERVICE, "at 'JobType'",
         (ENUM, "[Default, Advanced]")),
    Case("JobName-pattern", put("JobName", "my-job--2"), put("JobName", "my_job"), SERVICE, "at 'JobName'",
         (PATTERN,)),
    Case("JobName-max-length", put("JobName", "a" * 64), put("JobName", "a" * 65), SERVICE, "at 'JobName'",
         ("length less than or equal to 64",)),
    Case("RoleArn-pattern", put("RoleArn", ONE_ROLE), put("RoleArn", "arn:aws:iam::1234:role/SageMakerRole"),
         SERVICE, "at 'RoleArn'", (PATTERN, r"\d{12}")),
    Case("ModelPackageVersionArn-pattern",
         put("InputConfig.ModelPackageVersionArn", "arn:aws:sagemaker:eu-west-1:444455556666:model-package/other/2"),
         put("InputConfig.ModelPackageVersionArn", "arn:aws:sagemaker:us-east-1:111122223333:model/xgboost"),
         SERVICE, "at 'InputConfig.ModelPackageVersionArn'", (PATTERN, "model-package/")),
    Case("ModelName-pattern", chain(drop("InputConfig.ModelPackageVersionArn"), put("InputConfig.ModelName", "xgb-1")),
         chain(drop("InputConfig.ModelPackageVersionArn"), put("InputConfig.ModelName", "xgb_1")),
         SERVICE, "at 'InputConfig.ModelName'", (PATTERN,)),
    Case("TrafficType-enum", put(TRAFFIC, STAIRS_ONLY), put(f"{TRAFFIC}.TrafficType", "RAMP"), SERVICE,
         f"at '{TRAFFIC}.TrafficType'", (ENUM, "[PHASES, STAIRS]")),
    Case("EndpointConfigurations-at-most-10", put(CONFIGS, [{"InstanceType": "ml.c5.xlarge"}] * 10),
         put(CONFIGS, [{"InstanceType": "ml.c5.xlarge"}] * 11), SERVICE, f"at '{CONFIGS}'",
         ("list of 11", "length less than or equal to 10")),
    Case("InstanceType-enum", put(f"{CONFIGS}[0].InstanceType", "ml.c5.large"),
         put(f"{CONFIGS}[0].InstanceType", "ml.c5.huge"), SERVICE, f"at '{CONFIGS}[0].InstanceType'",
         (ENUM, "values, e.g. ml.t2.medium")),
    Case("UsersPerStep-model-max", stairs(users=3), stairs(users=4), SERVICE, f"at '{STAIRS}.UsersPerStep'",
         ("value less than or equal to 3",)),  # botocore leaves maxima to the service (_walk)
    Case("one-latency-threshold", unchanged,
         append("StoppingConditions.ModelLatencyThresholds", {"Percentile": "P99", "ValueInMilliseconds": 50}),
         SERVICE, "at 'StoppingConditions.ModelLatencyThresholds'", ("list of 2", "length less than or equal to 1")),
    Case("FlatInvocations-enum", put("StoppingConditions.FlatInvocations", "Continue"),
         put("StoppingConditions.FlatInvocations", "Sometimes"), SERVICE, "at 'StoppingConditions.FlatInvocations'",
         (ENUM, "[Continue, Stop]")),
    Case("JobDescription-max-length", put("JobDescription", "x" * 128), put("JobDescription", "x" * 129), SERVICE,
         "at 'JobDescription'", ("length less than or equal to 128",)),

    # service side: exactly-one-of and presence rules
    Case("model-both", chain(drop("InputConfig.ModelPackageVersionArn"), put("InputConfig.ModelName", "xgboost-demo")),
         put("InputConfig.ModelName", "xgboost-demo"), SERVICE, "Value 'both' at 'InputConfig.ModelPackageVersionArn'",
         ("exactly one of ModelPackageVersionArn and ModelName",)),
    Case("model-neither", unchanged, drop("InputConfig.ModelPackageVersionArn"), SERVICE,
         "Value 'neither' at 'InputConfig.ModelPackageVersionArn'",
         ("exactly one of ModelPackageVersionArn and ModelName",)),
    Case("PHASES-needs-Phases", drop(f"{TRAFFIC}.TrafficType"), drop(PHASES), SERVICE, f"at '{PHASES}'",
         ("required when TrafficType is PHASES",)),
    Case("STAIRS-needs-Stairs", put(TRAFFIC, STAIRS_ONLY), chain(put(f"{TRAFFIC}.TrafficType", "STAIRS"), drop(PHASES)),
         SERVICE, f"at '{STAIRS}'", ("required when TrafficType is STAIRS",)),
    Case("PHASES-without-Stairs", unchanged, put(STAIRS, STAIRS_ONLY["Stairs"]), SERVICE, f"at '{STAIRS}'",
         ("must be absent when TrafficType is PHASES",)),
    Case("STAIRS-without-Phases", stairs(), stairs(Phases=[phase(1, 1, 120)]), SERVICE, f"at '{PHASES}'",
         ("must be absent when TrafficType is STAIRS",)),
    Case("phase-members-required", put(f"{PHASES}[1].SpawnRate", 0), drop(f"{PHASES}[1].SpawnRate"), SERVICE,
         f"at '{PHASES}[1].SpawnRate'", ("Member is required",)),
    Case("stairs-members-required", stairs(steps=1), chain(stairs(), drop(f"{STAIRS}.NumberOfSteps")), SERVICE,
         f"at '{STAIRS}.NumberOfSteps'", ("Member is required",)),
    Case("Advanced-needs-EndpointConfigurations", put(CONFIGS, [{"InstanceType": "ml.g4dn.xlarge"}]), drop(CONFIGS),
         SERVICE, f"at '{CONFIGS}'", ("required for JobType Advanced",)),
    Case("Default-needs-instance-types", default_job("ml.c5.large"), default_job(), SERVICE,
         "at 'InputConfig.ContainerConfig.SupportedInstanceTypes'",
         ("required when the profile covers no instance type",)),
    Case("InstanceType-and-ServerlessConfig-both", unchanged,
         put(f"{CONFIGS}[0].ServerlessConfig", {"MemorySizeInMB": 2048, "MaxConcurrency": 5}), SERVICE,
         f"Value 'both' at '{CONFIGS}[0]'", ("exactly one of InstanceType and ServerlessConfig",)),
    Case("InstanceType-and-ServerlessConfig-neither", put(f"{CONFIGS}[0]", {"InstanceType": "ml.g4dn.xlarge"}),
         put(f"{CONFIGS}[0]", {}), SERVICE, f"Value 'neither' at '{CONFIGS}[0]'",
         ("exactly one of InstanceType and ServerlessConfig",)),
    Case("ServerlessConfig-MemorySizeInMB-steps",
         put(f"{CONFIGS}[0]", {"ServerlessConfig": {"MemorySizeInMB": 6144, "MaxConcurrency": 5}}),
         put(f"{CONFIGS}[0]", {"ServerlessConfig": {"MemorySizeInMB": 1500, "MaxConcurrency": 5}}), SERVICE,
         f"Value '1500' at '{CONFIGS}[0].ServerlessConfig.MemorySizeInMB'", ("1024 to 6144 in steps of 1024",)),
    Case("ServerlessConfig-MaxConcurrency-range",
         put(f"{CONFIGS}[0]", {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 200}}),
         put(f"{CONFIGS}[0]", {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 201}}), SERVICE,
         f"at '{CONFIGS}[0].ServerlessConfig.MaxConcurrency'", ("less than or equal to 200",)),
    Case("ServerlessConfig-ProvisionedConcurrency-at-most-MaxConcurrency",
         put(f"{CONFIGS}[0]", {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5,
                                                    "ProvisionedConcurrency": 5}}),
         put(f"{CONFIGS}[0]", {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5,
                                                    "ProvisionedConcurrency": 6}}), SERVICE,
         f"Value '6' at '{CONFIGS}[0].ServerlessConfig.ProvisionedConcurrency'", ("MaxConcurrency (5)",)),
    Case("burstable-t2-refused", put(f"{CONFIGS}[0].InstanceType", "ml.m5.large"),
         put(f"{CONFIGS}[0].InstanceType", "ml.t2.medium"), SERVICE,
         f"Value 'ml.t2.medium' at '{CONFIGS}[0].InstanceType'",
         ("Burstable ml.t2 instance types are not supported",)),
    Case("Percentile-enum", put(f"{THRESHOLD}.Percentile", "P99"), put(f"{THRESHOLD}.Percentile", "P90"), SERVICE,
         f"at '{THRESHOLD}.Percentile'", (ENUM, "[P95, P99]")),
    Case("ValueInMilliseconds-required", put(f"{THRESHOLD}.ValueInMilliseconds", 1),
         drop(f"{THRESHOLD}.ValueInMilliseconds"), SERVICE, f"at '{THRESHOLD}.ValueInMilliseconds'",
         ("Member is required",)),

    # service side: Inference Recommender's documented ranges
    Case("first-phase-users-1-3",
         chain(put(f"{PHASES}[0].InitialNumberOfUsers", 3), put(f"{PHASES}[1].InitialNumberOfUsers", 3)),
         put(f"{PHASES}[0].InitialNumberOfUsers", 4), SERVICE, f"at '{PHASES}[0].InitialNumberOfUsers'",
         (RANGE, "between 1 and 3")),
    Case("SpawnRate-0-3", put(f"{PHASES}[1].SpawnRate", 3), put(f"{PHASES}[1].SpawnRate", 4), SERVICE,
         f"at '{PHASES}[1].SpawnRate'", (RANGE, "between 0 and 3")),
    Case("phase-duration-min-120", put(f"{PHASES}[1].DurationInSeconds", 120),
         put(f"{PHASES}[1].DurationInSeconds", 119),
         SERVICE, f"at '{PHASES}[1].DurationInSeconds'", (RANGE, "between 120 and 3600")),
    Case("phase-duration-max-3600",
         chain(put("InputConfig.JobDurationInSeconds", 3720), put(f"{PHASES}[1].DurationInSeconds", 3600)),
         chain(put("InputConfig.JobDurationInSeconds", 3721), put(f"{PHASES}[1].DurationInSeconds", 3601)),
         SERVICE, f"at '{PHASES}[1].DurationInSeconds'", (RANGE, "between 120 and 3600")),
    Case("traffic-fits-job-duration", put("InputConfig.JobDurationInSeconds", 240),
         put("InputConfig.JobDurationInSeconds", 239), SERVICE, f"Value '240 s of traffic' at '{TRAFFIC}'",
         ("must fit in InputConfig.JobDurationInSeconds (239 s)",)),
    Case("default-traffic-fits-job-duration", chain(drop(TRAFFIC), put("InputConfig.JobDurationInSeconds", 900)),
         chain(drop(TRAFFIC), put("InputConfig.JobDurationInSeconds", 899)), SERVICE,
         f"Value '900 s of traffic' at '{TRAFFIC}'", ("must fit in InputConfig.JobDurationInSeconds (899 s)",)),
    Case("JobDurationInSeconds-max-18000", put("InputConfig.JobDurationInSeconds", 18000),
         put("InputConfig.JobDurationInSeconds", 18001), SERVICE, "at 'InputConfig.JobDurationInSeconds'",
         (RANGE, "between 1 and 18000")),
    Case("MaxInvocations-min-1", put("StoppingConditions.MaxInvocations", 1),  # the model's Integer has no min
         put("StoppingConditions.MaxInvocations", 0), SERVICE, "at 'StoppingConditions.MaxInvocations'",
         ("greater than or equal to 1",)),
    Case("stairs-UsersPerStep-min", stairs(users=1), stairs(users=0), CLIENT, f"{STAIRS}.UsersPerStep",
         ("valid min value: 1",)),
    Case("stairs-duration-min-120", stairs(duration=120), stairs(duration=119), SERVICE,
         f"at '{STAIRS}.DurationInSeconds'", (RANGE, "between 120 and 3600")),
    Case("stairs-duration-max-3600", stairs(duration=3600), stairs(duration=3601), SERVICE,
         f"at '{STAIRS}.DurationInSeconds'", (RANGE, "between 120 and 3600")),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_rule_accepts_valid_and_rejects_invalid(case: Case) -> None:
    assert isinstance(parse_request(build(case.valid)), JobSpec)
    assert_rejected(build(case.invalid), case.error, case.path, case.words)


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


# --- what a valid request becomes --------------------------------------------------------

def test_seed_example_parses_to_three_benchmarks_of_240_s_phases() -> None:
    spec = parse_request(build())
    assert [b.instance_type for b in spec.benchmarks] == ["ml.c5.xlarge", "ml.m5.xlarge", "ml.r5.xlarge"]
    assert [b.index for b in spec.benchmarks] == [0, 1, 2]
    assert all(b.environment == () for b in spec.benchmarks)
    assert spec.traffic == Phases((Phase(1, 1, 120), Phase(1, 1, 120)))
    assert spec.traffic.duration_s == 240
    assert spec.stopping.max_invocations == 1000
    assert spec.percentile == "P95"
    assert (spec.stopping.latency.percentile, spec.stopping.latency.value_ms) == (95.0, 100.0)
    assert spec.stopping.stop_on_flat_invocations is True
    assert spec.max_parallel == 3
    assert spec.job_duration_s == 7200
    assert (spec.job_name, spec.job_type) == ("xgboost-advanced-load-test", "Advanced")


def test_a_later_phase_starts_within_3_users_of_the_previous_phase_end() -> None:
    """The troubleshooting page: between consecutive phases abs(x_2.A - x_1.B) <= 3, B the users a
    phase ends with. AWS's own SDK integration test (2 users + 2/min for 300 s, ending at 12, then
    14) satisfies it and is accepted without a warning; a restart at 1 after 12 is refused with
    the service's message (issue 21 item 3)."""
    spec = parse_request(build(chain(put("InputConfig.JobDurationInSeconds", 3600),
                                     put(PHASES, [phase(2, 2, 300), phase(14, 0, 120)]))))
    assert spec.traffic.phases[1].initial_users == 14 and spec.warnings == ()
    assert parse_request(build()).warnings == ()
    refused = build(put(PHASES, [phase(3, 3, 180), phase(1, 1, 120)]))  # ends at 12, restarts at 1
    with pytest.raises(ClientError) as info:
        parse_request(refused)
    message = info.value.response["Error"]["Message"]
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert message.startswith("Users at the end of prev phase is 12 while initial users of current phase is 1")
    assert f"{PHASES}[1].InitialNumberOfUsers" in message
    assert_rejected(build(put(PHASES, [phase(14, 0, 120)])), SERVICE, f"at '{PHASES}[0].InitialNumberOfUsers'",
                    (RANGE, "between 1 and 3"))


def test_flat_invocations_defaults_to_stop() -> None:
    """The service model: "The default value is Stop" (Advanced jobs too)."""
    spec = parse_request(build(drop("StoppingConditions.FlatInvocations")))
    assert spec.stopping.stop_on_flat_invocations is True
    assert parse_request(build(put("StoppingConditions.FlatInvocations", "Continue"))) \
        .stopping.stop_on_flat_invocations is False


def test_account_comes_from_role_arn() -> None:
    assert parse_request(build()).account == "111122223333"
    assert parse_request(build(put("RoleArn", ONE_ROLE))).account == "444455556666"


def test_environment_parameter_ranges_expand_to_the_product_of_values() -> None:
    ranges = {"CategoricalParameterRanges": [{"Name": "OMP_NUM_THREADS", "Value": ["1", "2"]},
                                             {"Name": "WORKERS", "Value": ["a", "b"]}]}
    spec = parse_request(build(put(CONFIGS, [{"InstanceType": "ml.c5.xlarge", "EnvironmentParameterRanges": ranges}])))
    assert [b.environment for b in spec.benchmarks] == [
        (("OMP_NUM_THREADS", "1"), ("WORKERS", "a")), (("OMP_NUM_THREADS", "1"), ("WORKERS", "b")),
        (("OMP_NUM_THREADS", "2"), ("WORKERS", "a")), (("OMP_NUM_THREADS", "2"), ("WORKERS", "b"))]
    assert {b.instance_type for b in spec.benchmarks} == {"ml.c5.xlarge"}
    assert [b.index for b in spec.benchmarks] == [0, 1, 2, 3]


def test_max_number_of_tests_caps_the_benchmarks() -> None:
    ranges = {"CategoricalParameterRanges": [{"Name": "OMP_NUM_THREADS", "Value": ["1", "2", "4"]}]}
    spec = parse_request(build(chain(put(f"{CONFIGS}[0].EnvironmentParameterRanges", ranges),
                                     put(f"{LIMITS}.MaxNumberOfTests", 4))))
    assert [(b.instance_type, b.environment) for b in spec.benchmarks] == [
        ("ml.c5.xlarge", (("OMP_NUM_THREADS", "1"),)), ("ml.c5.xlarge", (("OMP_NUM_THREADS", "2"),)),
        ("ml.c5.xlarge", (("OMP_NUM_THREADS", "4"),)), ("ml.m5.xlarge", ())]


def test_stairs_example_parses() -> None:
    spec = parse_request(json.loads((EXAMPLES / "stairs-job.json").read_text()))
    assert spec.traffic == Stairs(600, 10, 2)
    assert [b.instance_type for b in spec.benchmarks] == \
        ["ml.c5.large", "ml.c5.xlarge", "ml.c5.xlarge", "ml.c6i.xlarge"]
    assert spec.percentile == "P99"
    assert spec.stopping.stop_on_flat_invocations is False


def test_advanced_job_without_traffic_pattern_gets_the_default_phase() -> None:
    spec = parse_request(build(drop(TRAFFIC)))
    assert spec.traffic == Phases((Phase(1, 3, 900),))


def test_default_job_uses_the_profile_instance_types_sorted() -> None:
    spec = parse_request(build(default_job()), default_instance_types=("ml.m5.xlarge", "ml.c5.large"))
    assert [b.instance_type for b in spec.benchmarks] == ["ml.c5.large", "ml.m5.xlarge"]
    assert spec.stopping.latency is None
    assert spec.stopping.max_invocations is None
    assert spec.stopping.stop_on_flat_invocations is True
    assert spec.traffic == Phases((Phase(1, 3, 900),))


def test_default_job_prefers_container_config_supported_instance_types() -> None:
    spec = parse_request(build(default_job("ml.r5.large", "ml.c5.xlarge")), default_instance_types=("ml.m5.xlarge",))
    assert [b.instance_type for b in spec.benchmarks] == ["ml.r5.large", "ml.c5.xlarge"]
    assert spec.stopping.latency is None


# --- found by this file, fixed in jobspec.py -------------------------------------------

def test_default_job_burstable_error_names_the_field_in_the_request() -> None:
    assert_rejected(build(default_job("ml.t2.medium")), SERVICE,
                    "at 'InputConfig.ContainerConfig.SupportedInstanceTypes",
                    ("Burstable ml.t2 instance types are not supported",))


def test_default_job_rejects_an_unknown_instance_type() -> None:
    assert_rejected(build(default_job("ml.c5.huge")), SERVICE, "InputConfig.ContainerConfig.SupportedInstanceTypes",
                    (ENUM,))


def test_boolean_spawn_rate_is_a_validation_error() -> None:
    with pytest.raises((ParamValidationError, ClientError)):
        parse_request(build(put(f"{PHASES}[1].SpawnRate", True)))


def test_repeated_environment_parameter_names_are_rejected() -> None:
    ranges = {"CategoricalParameterRanges": [{"Name": "OMP_NUM_THREADS", "Value": ["1"]},
                                             {"Name": "OMP_NUM_THREADS", "Value": ["2"]}]}
    request = build(put("InputConfig.EndpointConfigurations[0].EnvironmentParameterRanges", ranges))
    assert_rejected(request, SERVICE, "InputConfig.EndpointConfigurations[0].EnvironmentParameterRanges",
                    ("each environment parameter once",))


def test_boolean_max_invocations_is_a_validation_error() -> None:
    assert_rejected(build(put("StoppingConditions.MaxInvocations", True)), SERVICE,
                    "StoppingConditions.MaxInvocations", ("must be an integer",))
