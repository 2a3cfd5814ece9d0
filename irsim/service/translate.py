"""The AWS face translates: a validated TrafficPattern or ServerlessConfig becomes the
simulator's own types, and the simulator's domain field names map back to AWS member names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from simulator import InputError, Phase, Phases, ServerlessConfig, Stairs

#: The simulator's field names and the AWS members they come from.
AWS_MEMBER_OF = {
    "initial_users": "InitialNumberOfUsers",
    "spawn_rate_per_min": "SpawnRate",
    "duration_s": "DurationInSeconds",
    "number_of_steps": "NumberOfSteps",
    "users_per_step": "UsersPerStep",
    "memory_mb": "MemorySizeInMB",
    "max_concurrency": "MaxConcurrency",
    "provisioned_concurrency": "ProvisionedConcurrency",
    "max_invocations": "MaxInvocations",
    "percentile": "Percentile",
    "value_ms": "ValueInMilliseconds",
}


def aws_member(field: str) -> str:
    """The AWS member name of a simulator field (its last dotted part)."""
    last = field.rsplit(".", 1)[-1]
    return AWS_MEMBER_OF.get(last, last)


def _stairs(pattern: Mapping[str, Any]) -> Stairs:
    stairs = pattern["Stairs"]
    return Stairs(duration_s=stairs["DurationInSeconds"], number_of_steps=stairs["NumberOfSteps"],
                  users_per_step=stairs["UsersPerStep"])


def _phases(pattern: Mapping[str, Any]) -> Phases:
    return Phases(phases=tuple(Phase(initial_users=p["InitialNumberOfUsers"], spawn_rate_per_min=p["SpawnRate"],
                              duration_s=p["DurationInSeconds"]) for p in pattern["Phases"]))


#: The simulator's traffic of each TrafficType (the model's enum: PHASES, the default, and STAIRS).
TRAFFIC_TYPES: Mapping[str, Callable[[Mapping[str, Any]], Phases | Stairs]] = {"PHASES": _phases, "STAIRS": _stairs}


def traffic_type(pattern: Mapping[str, Any]) -> str:
    """A TrafficPattern's TrafficType (PHASES when it gives none)."""
    return str(pattern.get("TrafficType", "PHASES"))


def traffic_from_pattern(pattern: Mapping[str, Any]) -> Phases | Stairs:
    """The simulator's traffic for an AWS ``TrafficPattern`` that passed validation
    (``request.parse_request`` is where its rules live): a translation, no checks of its own."""
    return TRAFFIC_TYPES[traffic_type(pattern)](pattern)


def serverless_from_config(config: Mapping[str, Any]) -> ServerlessConfig:
    """The simulator's ServerlessConfig for an AWS one; an out-of-range member raises InputError
    naming the AWS member."""
    try:
        return ServerlessConfig(memory_mb=config["MemorySizeInMB"], max_concurrency=config["MaxConcurrency"],
                                provisioned_concurrency=config.get("ProvisionedConcurrency", 0))
    except InputError as exc:
        raise InputError(aws_member(exc.field), exc.message.replace("max_concurrency", "MaxConcurrency")) from None
