"""AWS's documented rules of a request, and what irsim accepts but says so (issue 21, items 3,
5 and 6): each refusal is the service's ValidationException, each acceptance outside what AWS
documents is a warning in the job's irsim document (and on the console)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from irsim.service.admission import plan_schedule
from irsim.service.request import parse_request, serverless_sizes
from simulator import load_profile

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
DEMO = load_profile("demo")


def request(**changes) -> dict:
    body = copy.deepcopy(SEED)
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return body


def default_job(container: dict | None = None) -> dict:
    body = request(JobType="Default")
    for key in ("EndpointConfigurations", "TrafficPattern", "ResourceLimit", "JobDurationInSeconds"):
        body["InputConfig"].pop(key)
    body.pop("StoppingConditions")
    if container is not None:
        body["InputConfig"]["ContainerConfig"] = container
    return body


def parse_default(body: dict):
    return parse_request(body, default_instance_types=DEMO.instances, default_serverless_sizes=serverless_sizes(DEMO))


def refused(body: dict) -> str:
    with pytest.raises(ClientError) as info:
        parse_request(body)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    return info.value.response["Error"]["Message"]


@pytest.mark.parametrize("member, valid, other", [("Domain", "MACHINE_LEARNING", "TABULAR"),
                                                   ("Framework", "XGBOOST", "xgboost"),
                                                   ("NearestModelName", "xgboost", "my-own-net")])
def test_container_values_outside_the_valid_values_warn_and_other_is_accepted(member, valid, other):
    for quiet in (valid, "OTHER"):
        assert parse_request(request(InputConfig__ContainerConfig={member: quiet})).warnings == ()
    warnings = parse_request(request(InputConfig__ContainerConfig={member: other})).warnings
    assert len(warnings) == 1 and f"ContainerConfig.{member} is {other!r}" in warnings[0]
    assert "API_RecommendationJobContainerConfig.html" in warnings[0]


def test_supported_endpoint_type_is_checked_against_its_enum():
    message = refused(default_job({"SupportedEndpointType": "Batch"}))
    assert "InputConfig.ContainerConfig.SupportedEndpointType" in message and "RealTime, Serverless" in message


def test_no_invented_range_for_value_in_milliseconds():
    spec = parse_request(request(StoppingConditions__ModelLatencyThresholds=[
        {"Percentile": "P95", "ValueInMilliseconds": 3_600_001}]))
    assert spec.stopping.latency.value_ms == 3_600_001 and spec.warnings == ()
    zero = parse_request(request(StoppingConditions__ModelLatencyThresholds=[
        {"Percentile": "P95", "ValueInMilliseconds": 0}]))
    assert any("below 1 ms" in w for w in zero.warnings)


@pytest.mark.parametrize("path, value", [("InputConfig__ResourceLimit", {"MaxNumberOfTests": 11}),
                                         ("InputConfig__ResourceLimit", {"MaxParallelOfTests": 12}),
                                         ("StoppingConditions__MaxInvocations", 30_001)])
def test_irsims_own_upper_bounds_warn_instead_of_refusing(path, value):
    body = request(**{path: value})
    if path.endswith("MaxInvocations"):
        body["StoppingConditions"]["ModelLatencyThresholds"] = SEED["StoppingConditions"]["ModelLatencyThresholds"]
    warnings = parse_request(body).warnings
    assert len(warnings) == 1 and "irsim's own bound" in warnings[0] and "minimum of 1" in warnings[0]


def test_p99_in_a_custom_load_test_is_accepted_with_the_api_references_words():
    spec = parse_request(request(StoppingConditions__ModelLatencyThresholds=[
        {"Percentile": "P99", "ValueInMilliseconds": 100}]))
    assert spec.percentile == "P99"
    assert len(spec.warnings) == 1 and "For custom load tests, specify the value as P95" in spec.warnings[0]
    assert "API_ModelLatencyThreshold.html" in spec.warnings[0]


def test_members_without_an_offline_effect_are_accepted_with_a_warning():
    body = request(InputConfig__VpcConfig={"SecurityGroupIds": ["sg-12345678"], "Subnets": ["subnet-1234"]},
                   InputConfig__VolumeKmsKeyId="alias/mine", OutputConfig={"KmsKeyId": "alias/out"})
    warnings = parse_request(body).warnings
    assert [w.split(" ")[0] for w in warnings] == ["InputConfig.VpcConfig", "InputConfig.VolumeKmsKeyId",
                                                   "OutputConfig"]
    assert all("no effect offline" in w for w in warnings)


def test_an_advanced_job_says_when_container_config_disagrees_with_its_configurations():
    warnings = parse_request(request(InputConfig__ContainerConfig={
        "SupportedInstanceTypes": ["ml.c5.xlarge"], "SupportedEndpointType": "Serverless"})).warnings
    assert any("does not list ml.m5.xlarge, ml.r5.xlarge" in w for w in warnings)
    assert any("SupportedEndpointType is Serverless" in w for w in warnings)


def test_a_default_job_benchmarks_real_time_and_serverless_within_45_minutes():
    """The Recommendation jobs page: a Default job completes within 45 minutes; the API reference:
    without SupportedEndpointType the results combine real-time and serverless benchmarks."""
    spec = parse_default(default_job())
    real_time = [b for b in spec.benchmarks if b.serverless is None]
    serverless = [b for b in spec.benchmarks if b.serverless is not None]
    assert sorted(b.instance_type for b in real_time) == sorted(DEMO.instances)
    assert [b.serverless.memory_mb for b in serverless] == [1024, 2048, 3072, 4096]
    assert spec.job_duration_s == 2700
    plan = plan_schedule(len(spec.benchmarks), spec.max_parallel, spec.traffic.duration_s, spec.job_duration_s)
    assert plan.fits == len(spec.benchmarks)  # none left out


@pytest.mark.parametrize("endpoint_type, real_time, serverless", [("RealTime", 10, 0), ("Serverless", 0, 4)])
def test_supported_endpoint_type_narrows_a_default_job(endpoint_type, real_time, serverless):
    spec = parse_default(default_job({"SupportedEndpointType": endpoint_type}))
    assert sum(b.serverless is None for b in spec.benchmarks) == real_time
    assert sum(b.serverless is not None for b in spec.benchmarks) == serverless


def test_supported_instance_types_choose_a_default_jobs_real_time_benchmarks():
    spec = parse_default(default_job({"SupportedInstanceTypes": ["ml.c5.large", "ml.m5.large"],
                                      "SupportedEndpointType": "RealTime"}))
    assert [b.instance_type for b in spec.benchmarks] == ["ml.c5.large", "ml.m5.large"]


def test_max_number_of_tests_says_which_benchmarks_it_leaves_out():
    body = request(InputConfig__ResourceLimit={"MaxNumberOfTests": 2, "MaxParallelOfTests": 1})
    spec = parse_request(body)
    assert len(spec.benchmarks) == 2
    assert len(spec.warnings) == 1 and "1 of 3 benchmarks are not tested (ml.r5.xlarge)" in spec.warnings[0]
