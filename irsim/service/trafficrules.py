"""A TrafficPattern's documented rules, refused as the service refuses them: the ranges of the
API reference and the developer guide, and the troubleshooting page's rule between phases.
What passes, translate.traffic_from_pattern turns into the simulator's traffic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from irsim.service.awsrules import check_phase_continuity
from irsim.service.constraints import fail
from irsim.service.translate import aws_member, traffic_from_pattern, traffic_type
from simulator import InputError, Phases, Stairs, checks
from simulator.bounds import ResourceLimitError, check_traffic

OPERATION = "CreateInferenceRecommendationsJob"
PHASE_DURATION_RANGE = (120, 3600)
#: InitialNumberOfUsers as the API reference and the developer guide document it for a phase:
#: enforced for the first phase; a later phase is held to the troubleshooting page's continuity
#: rule instead (AWS's own SDK integration test starts a second phase at 14 users, after 12).
PHASE_USERS_RANGE = (1, 3)
SPAWN_RATE_RANGE = (0, 3)


def _fail(path: str, value: Any, constraint: str) -> NoReturn:
    fail(OPERATION, path, value, constraint)


def check_range(path: str, value: Any, low: int, high: int) -> None:
    """An integer from ``low`` to ``high``, refused in the service's words."""
    try:
        checks.integer(value, path, minimum=low, maximum=high)
    except InputError:
        _fail(path, value, f"Member must have value between {low} and {high} (inclusive)")


def check_minimum(path: str, value: Any, low: int) -> None:
    """An integer of at least ``low`` (the API reference documents no maximum)."""
    try:
        checks.integer(value, path, minimum=low)
    except InputError:
        _fail(path, value, f"Member must have value greater than or equal to {low}")


def require(members: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in members:
            _fail(f"{where}.{key}", None, "Member is required")


def _check_phases(pattern: Mapping[str, Any], where: str) -> list[str]:
    """PHASES: the documented ranges (InitialNumberOfUsers 1-3 for the first phase), then the
    troubleshooting page's rule between consecutive phases: a phase starts within 3 users of
    the count the previous one ended with."""
    phases = pattern.get("Phases")
    if not phases:
        _fail(f"{where}.Phases", None, "Member is required when TrafficType is PHASES")
    if "Stairs" in pattern:
        _fail(f"{where}.Stairs", "Stairs", "Member must be absent when TrafficType is PHASES")
    for i, phase in enumerate(phases):
        require(phase, ("InitialNumberOfUsers", "SpawnRate", "DurationInSeconds"), f"{where}.Phases[{i}]")
        if i == 0:
            check_range(f"{where}.Phases[0].InitialNumberOfUsers", phase["InitialNumberOfUsers"], *PHASE_USERS_RANGE)
        else:
            check_minimum(f"{where}.Phases[{i}].InitialNumberOfUsers", phase["InitialNumberOfUsers"], 0)
        check_range(f"{where}.Phases[{i}].SpawnRate", phase["SpawnRate"], *SPAWN_RATE_RANGE)
        check_range(f"{where}.Phases[{i}].DurationInSeconds", phase["DurationInSeconds"], *PHASE_DURATION_RANGE)
    check_phase_continuity(phases, where)
    return []


def _check_stairs(pattern: Mapping[str, Any], where: str) -> list[str]:
    """STAIRS: its members present and its duration in the documented range (the model
    bounds NumberOfSteps and UsersPerStep)."""
    stairs = pattern.get("Stairs")
    if not stairs:
        _fail(f"{where}.Stairs", None, "Member is required when TrafficType is STAIRS")
    if "Phases" in pattern:
        _fail(f"{where}.Phases", "Phases", "Member must be absent when TrafficType is STAIRS")
    require(stairs, ("DurationInSeconds", "NumberOfSteps", "UsersPerStep"), f"{where}.Stairs")
    check_range(f"{where}.Stairs.DurationInSeconds", stairs["DurationInSeconds"], *PHASE_DURATION_RANGE)
    return []


#: The rules of each TrafficType; each returns the warnings of what it accepted outside the documented ranges.
TRAFFIC_CHECKS: Mapping[str, Callable[[Mapping[str, Any], str], list[str]]] = {"PHASES": _check_phases,
                                                                             "STAIRS": _check_stairs}


def validated_traffic(pattern: Mapping[str, Any], job_duration_s: int) -> tuple[Phases | Stairs, list[str]]:
    """The one place a TrafficPattern is validated (after the model's types and bounds);
    what passes, translate.traffic_from_pattern turns into the simulator's traffic. Returns the
    traffic and the warnings of what was accepted outside the documented ranges."""
    where = "InputConfig.TrafficPattern"
    warnings = TRAFFIC_CHECKS[traffic_type(pattern)](pattern, where)  # the model's enum: PHASES, STAIRS
    traffic = traffic_from_pattern(pattern)
    check_traffic_limits(traffic, where)
    if traffic.duration_s > job_duration_s:
        _fail(f"{where}", f"{traffic.duration_s:g} s of traffic",
              f"The traffic pattern must fit in InputConfig.JobDurationInSeconds ({job_duration_s} s)")
    return traffic, warnings


def check_traffic_limits(traffic: Phases | Stairs, where: str) -> None:
    """irsim's own limits on a pattern (users in flight at the peak of every phase and step,
    user-count changes: simulator/bounds.py), refused as a ValidationException naming the AWS
    member and saying the limit is irsim's; counted from the numbers, before anything is built."""
    try:
        check_traffic(traffic)
    except ResourceLimitError as exc:
        head, _, last = exc.field.rpartition(".")
        member = head.replace("phases[", "Phases[").replace("stairs", "Stairs")
        path = f"{where}.{member}.{aws_member(last)}" if head else f"{where}.{'Phases' if last == 'phases' else last}"
        value = _value_at(traffic, exc.field)
        _fail(path, value, exc.message)


def _value_at(traffic: Phases | Stairs, field: str) -> Any:
    """The request's value of a simulator field of ``traffic`` (what the error echoes)."""
    if isinstance(traffic, Stairs):
        return traffic.number_of_steps
    head, _, last = field.rpartition(".")
    if not head:
        return f"{len(traffic.phases)} phases"
    phase = traffic.phases[int(head.removeprefix("phases[").removesuffix("]"))]
    return getattr(phase, last)
