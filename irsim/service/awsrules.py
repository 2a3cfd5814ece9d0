"""AWS's documented rules of a CreateInferenceRecommendationsJob request that botocore's model
does not carry, and the warnings for what irsim accepts but cannot honour offline. Each rule
names its page (docs/semantics.md lists them): what AWS documents as an error is refused with
the service's message; what AWS lists only as valid values, or does not document, is a warning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from irsim.service.awsmodel import validation_error
from simulator import Phase

OPERATION = "CreateInferenceRecommendationsJob"
#: "Valid Values" of RecommendationJobContainerConfig in the API reference (the model types them
#: as free strings); OTHER is what the troubleshooting page tells users to give when unknown.
CONTAINER_VALID_VALUES: Mapping[str, tuple[str, ...]] = {
    "Domain": ("COMPUTER_VISION", "NATURAL_LANGUAGE_PROCESSING", "MACHINE_LEARNING", "OTHER"),
    "Framework": ("TENSORFLOW", "PYTORCH", "XGBOOST", "SAGEMAKER-SCIKIT-LEARN", "OTHER"),
    "NearestModelName": ("efficientnetb7", "unet", "xgboost", "faster-rcnn-resnet101", "nasnetlarge", "vgg16",
                         "inception-v3", "mask-rcnn", "sagemaker-scikit-learn", "densenet201-gluon",
                         "resnet18v2-gluon", "xception", "densenet201", "yolov4", "resnet152", "bert-base-cased",
                         "xceptionV1-keras", "resnet50", "retinanet", "OTHER"),
}
CONTAINER_PAGE = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_RecommendationJobContainerConfig.html"
TROUBLESHOOTING_PAGE = "https://docs.aws.amazon.com/sagemaker/latest/dg/inference-recommender-troubleshooting.html"
THRESHOLD_PAGE = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelLatencyThreshold.html"
#: Between consecutive phases: abs(next.InitialNumberOfUsers - users the previous phase ended with) <= 3.
PHASE_STEP_USERS = 3
#: Members with no effect offline: accepted, and said so (a path and what it would do on AWS).
NO_OFFLINE_EFFECT: tuple[tuple[tuple[str, ...], str], ...] = (
    (("InputConfig", "VpcConfig"), "the benchmark endpoints' VPC access"),
    (("InputConfig", "VolumeKmsKeyId"), "the KMS key of the endpoints' storage volumes"),
    (("OutputConfig",), "where and how the compiled model's output is written"),
    (("InputConfig", "ContainerConfig", "PayloadConfig"), "the sample payloads (irsim's profile gives the "
                                                          "service times and payload size)"),
    (("InputConfig", "ContainerConfig", "DataInputConfig"), "the input shape SageMaker Neo compiles for"),
)


def check_phase_continuity(phases: Sequence[Mapping[str, Any]], where: str) -> None:
    """Each phase starts with A users and ends with B; between consecutive phases
    ``abs(x_2.A - x_1.B) <= 3`` (Troubleshoot Inference Recommender errors). Refused with the
    service's message, naming the phase."""
    for i in range(1, len(phases)):
        previous, current = phases[i - 1], phases[i]
        ended = Phase(initial_users=previous["InitialNumberOfUsers"], spawn_rate_per_min=previous["SpawnRate"],
                      duration_s=previous["DurationInSeconds"]).final_users
        start = current["InitialNumberOfUsers"]
        if abs(start - ended) > PHASE_STEP_USERS:
            raise validation_error(
                f"Users at the end of prev phase is {ended} while initial users of current phase is {start}. "
                f"{where}.Phases[{i}].InitialNumberOfUsers must be within {PHASE_STEP_USERS} of the users "
                f"{where}.Phases[{i - 1}] ends with (abs(x_2.A - x_1.B) <= {PHASE_STEP_USERS}; see "
                f"{TROUBLESHOOTING_PAGE})", OPERATION)


def container_warnings(container: Mapping[str, Any]) -> list[str]:
    """Domain, Framework and NearestModelName outside the API reference's Valid Values (OTHER
    included): accepted, since the model types them as free strings, with a warning."""
    warnings = []
    for member, valid in CONTAINER_VALID_VALUES.items():
        value = container.get(member)
        if value is not None and value not in valid:
            warnings.append(f"InputConfig.ContainerConfig.{member} is {value!r}: the API reference lists "
                            f"{' | '.join(valid[:-1])} (and the troubleshooting page OTHER when unknown); "
                            f"irsim accepts it ({CONTAINER_PAGE})")
    return warnings


def percentile_warning(job_type: str, percentile: str) -> list[str]:
    """P99 in a custom load test: the API reference says to give P95 there."""
    if job_type == "Advanced" and percentile == "P99":
        return ["StoppingConditions.ModelLatencyThresholds[0].Percentile is P99: the API reference says \"For "
                "custom load tests, specify the value as P95\"; irsim accepts P99 and judges the threshold at "
                f"P99 ({THRESHOLD_PAGE})"]
    return []


def offline_warnings(request: Mapping[str, Any]) -> list[str]:
    """The members given that have no effect offline, one warning each."""
    warnings = []
    for path, what in NO_OFFLINE_EFFECT:
        value: Any = request
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None:
            warnings.append(f"{'.'.join(path)} is accepted but has no effect offline ({what})")
    return warnings


def advanced_container_warnings(config: Mapping[str, Any], configurations: Sequence[Mapping[str, Any]]) -> list[str]:
    """ContainerConfig's SupportedInstanceTypes and SupportedEndpointType choose what an
    instance recommendation (Default job) tests; an Advanced job's EndpointConfigurations choose
    its own, so the two only warn when they disagree with them. InferenceSpecificationName names
    a specification of a model package version: with a ModelName it has nothing to name."""
    container = config.get("ContainerConfig", {})
    warnings = []
    if "ModelName" in config and any("InferenceSpecificationName" in c for c in configurations):
        warnings.append("InputConfig.EndpointConfigurations[].InferenceSpecificationName names an inference "
                        "specification of a model package version; the job names a ModelName, so it has no effect")
    supported = container.get("SupportedInstanceTypes")
    named = [c["InstanceType"] for c in configurations if "InstanceType" in c]
    outside = sorted(set(named) - set(supported or named))
    if outside:
        warnings.append(f"InputConfig.ContainerConfig.SupportedInstanceTypes does not list {', '.join(outside)}: "
                        "an Advanced job load-tests the EndpointConfigurations it names, so irsim tests them anyway")
    endpoint_type = container.get("SupportedEndpointType")
    other = [c for c in configurations if ("ServerlessConfig" in c) != (endpoint_type == "Serverless")]
    if endpoint_type and other:
        warnings.append(f"InputConfig.ContainerConfig.SupportedEndpointType is {endpoint_type}, but "
                        f"{len(other)} EndpointConfiguration(s) are of the other type: an Advanced job "
                        "load-tests the EndpointConfigurations it names, so irsim tests them anyway")
    return warnings
