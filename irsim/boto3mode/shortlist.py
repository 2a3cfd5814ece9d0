"""The shortlist: from a simulated job's recommendations to the real
CreateInferenceRecommendationsJob request that re-tests the cheapest of them."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from irsim.errors import UserError
from irsim.service.awsmodel import validate_params
from irsim.service.request import DEFAULT_TRAFFIC_PATTERN, parse_request

OPERATION = "CreateInferenceRecommendationsJob"
#: InputConfig members the shortlist rebuilds (EndpointConfigurations, ResourceLimit) or
#: leaves out (Endpoints: existing endpoints, which the simulation did not rank).
REBUILT_INPUT_KEYS = ("EndpointConfigurations", "ResourceLimit", "Endpoints")


class ShortlistError(UserError):
    """Nothing to submit: no simulated configuration met the latency threshold."""

def _cost(recommendation: Mapping[str, Any]) -> tuple[float, float]:
    metrics = recommendation.get("Metrics", {})
    return metrics.get("CostPerHour", math.inf), metrics.get("CostPerInference", math.inf)


def endpoint_configuration(recommendation: Mapping[str, Any]) -> dict[str, Any]:
    """The EndpointConfigurations entry that re-tests exactly one recommendation: its
    instance type, with each environment parameter pinned to its single value."""
    configuration: dict[str, Any] = {"InstanceType": recommendation["EndpointConfiguration"]["InstanceType"]}
    model = recommendation.get("ModelConfiguration", {})
    if model.get("InferenceSpecificationName"):
        configuration["InferenceSpecificationName"] = model["InferenceSpecificationName"]
    parameters = model.get("EnvironmentParameters", [])
    if parameters:
        configuration["EnvironmentParameterRanges"] = {"CategoricalParameterRanges": [
            {"Name": p["Key"], "Value": [p["Value"]]} for p in parameters]}
    return configuration


def _identity(configuration: Mapping[str, Any]) -> tuple:
    ranges = configuration.get("EnvironmentParameterRanges", {}).get("CategoricalParameterRanges", [])
    return (configuration["InstanceType"], configuration.get("InferenceSpecificationName"),
            tuple(sorted((r["Name"], tuple(r["Value"])) for r in ranges)))


def ranked_configurations(describe: Mapping[str, Any], top: int | None = None
                          ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The ``top`` (default: all) cheapest distinct configurations among the recommendations
    (which all met the threshold), by CostPerHour then CostPerInference, each with the
    recommendation it came from."""
    recommendations = [r for r in describe.get("InferenceRecommendations", [])
                       if "InstanceType" in r.get("EndpointConfiguration", {})]
    kept: list[tuple[dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple] = set()
    for recommendation in sorted(recommendations, key=_cost):
        if top is not None and len(kept) == top:
            break
        configuration = endpoint_configuration(recommendation)
        if _identity(configuration) not in seen:
            seen.add(_identity(configuration))
            kept.append((configuration, recommendation))
    return kept


def _nothing_to_submit(describe: Mapping[str, Any]) -> str:
    reason = f": {describe['FailureReason']}" if describe.get("FailureReason") else ""
    return (f"job {describe.get('JobName', '?')} ({describe.get('Status', '?')}) has no recommended configuration: "
            f"none met the latency threshold{reason}. Nothing to submit.")


def _input_config(request: Mapping[str, Any], configurations: list[dict[str, Any]]) -> dict[str, Any]:
    original = request["InputConfig"]
    config = {key: value for key, value in original.items() if key not in REBUILT_INPUT_KEYS}
    if "TrafficPattern" not in config:
        config["TrafficPattern"] = DEFAULT_TRAFFIC_PATTERN  # the traffic irsim simulated, made explicit
    count = len(configurations)
    parallel = original.get("ResourceLimit", {}).get("MaxParallelOfTests") or 1
    config["ResourceLimit"] = {"MaxNumberOfTests": count, "MaxParallelOfTests": min(parallel, count)}
    config["EndpointConfigurations"] = configurations
    return config


def shortlist_request(request: Mapping[str, Any], describe: Mapping[str, Any] | Any, top: int,
                      job_name: str | None = None) -> dict[str, Any]:
    """The real CreateInferenceRecommendationsJob request for the ``top`` cheapest
    configurations the simulated job recommended.

    ``describe`` is the simulated job's Describe response (or its ``JobResult``). The
    request keeps the job's name (unless ``job_name``), role, description, model and
    traffic; it is an Advanced job whose EndpointConfigurations are the kept
    configurations, one test each. Raises ShortlistError when nothing met the threshold,
    and botocore's ParamValidationError / ClientError if the result would be refused.
    """
    describe = getattr(describe, "describe", describe)
    if top < 1:
        raise ShortlistError(f"top must be at least 1, got {top}")
    configurations = [configuration for configuration, _ in ranked_configurations(describe, top)]
    if not configurations:
        raise ShortlistError(_nothing_to_submit(describe))
    shortlist: dict[str, Any] = {"JobName": job_name or request["JobName"], "JobType": "Advanced",
                                 "RoleArn": request["RoleArn"]}
    if "JobDescription" in request:
        shortlist["JobDescription"] = request["JobDescription"]
    shortlist["InputConfig"] = _input_config(request, configurations)
    if request.get("JobType") == "Default":
        shortlist["StoppingConditions"] = {"FlatInvocations": "Stop"}  # what a Default job was simulated with
    elif "StoppingConditions" in request:
        shortlist["StoppingConditions"] = request["StoppingConditions"]
    for key in ("OutputConfig", "Tags"):
        if key in request:
            shortlist[key] = request[key]
    shortlist = copy.deepcopy(shortlist)
    validate_params(OPERATION, shortlist)  # what boto3 checks before sending
    parse_request(shortlist)               # the service's rules, as irsim knows them
    return shortlist



def _label(configuration: Mapping[str, Any], recommendation: Mapping[str, Any]) -> str:
    environment = ",".join(f"{r['Name']}={r['Value'][0]}" for r in configuration
                           .get("EnvironmentParameterRanges", {}).get("CategoricalParameterRanges", []))
    return (configuration["InstanceType"] + (f" [{environment}]" if environment else "")
            + f" (${_cost(recommendation)[0]:.3f}/hour)")


def kept_summary(describe: Mapping[str, Any], top: int) -> str:
    """One line: which configurations the shortlist kept, out of how many."""
    available = len(ranked_configurations(describe))
    if available > top:
        kept = f"the {top} cheapest of {available}"
    else:
        kept = f"all {available}" + (f" (fewer than top {top} met the threshold)" if available < top else "")
    labels = ", ".join(_label(*pair) for pair in ranked_configurations(describe, top))
    return f"shortlist: {kept} recommended configurations: {labels}"
