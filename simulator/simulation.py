"""The simulator's public entry points: ``run`` a RunSpec on the engine its endpoint's kind
names, and the convenience faces ``simulate`` and ``simulate_serverless``, which build the
RunSpec from a profile and a few arguments."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator import checks, engine, serverless
from simulator.bounds import MAX_USERS_IN_FLIGHT
from simulator.endpoint import InstanceEndpoint, ServerlessConfig, ServerlessEndpoint
from simulator.errors import InputError
from simulator.harness import EngineOutput, MinuteHook
from simulator.metrics import InstanceResources, UtilizationModel, per_minute
from simulator.profiles import InstanceProfile, Profile, load_profile
from simulator.result import ServerlessCounts, SimulationResult
from simulator.runspec import MAX_REQUESTS_PER_S, RunSpec, WorkBudgetError
from simulator.stopping import MinuteSummary, StoppingConditions
from simulator.traffic import ConstantUsers, PoissonArrivals, Traffic

__all__ = [
    "ENGINES",
    "MAX_DURATION_S",
    "MAX_REQUESTS_PER_S",
    "MAX_USERS",
    "Engine",
    "SimulationResult",
    "WorkBudgetError",
    "run",
    "simulate",
    "simulate_serverless",
]

MAX_DURATION_S = 30 * 24 * 3600  # 30 days
MAX_USERS = MAX_USERS_IN_FLIGHT  # simulator/bounds.py: irsim's limit on users in flight in one run


@dataclass(frozen=True)
class Engine:
    """An engine and how its output becomes a SimulationResult."""

    run: Callable[[RunSpec, Callable[[], bool] | None, MinuteHook | None], EngineOutput]
    result: Callable[[RunSpec, EngineOutput], SimulationResult]


def run(spec: RunSpec, *, interrupt: Callable[[], bool] | None = None,
        on_minute: MinuteHook | None = None) -> SimulationResult:
    """Simulate ``spec`` on its engine. ``interrupt`` is asked every simulated minute whether
    the run must stop (it then ends with reason JobStopped); ``on_minute`` hears each
    simulated minute's summary as it closes."""
    chosen = ENGINES[spec.kind]
    return chosen.result(spec, chosen.run(spec, interrupt, on_minute))


def _instance_result(spec: RunSpec, out: EngineOutput) -> SimulationResult:
    """A real-time endpoint's result: CPU and memory utilization from its entry and resources."""
    endpoint = spec.endpoint
    assert isinstance(endpoint, InstanceEndpoint), "the engines table pairs each result with its engine"
    entry = endpoint.entry
    frame = per_minute(out.minute_stats, instance_count=endpoint.instance_count, users_at=spec.traffic.users_at,
                       utilization=UtilizationModel(cpu_per_worker=entry.cpu_per_worker,
                                                    model_memory_mb=entry.memory_mb, resources=endpoint.resources))
    return SimulationResult(
        instance_type=entry.instance_type, instance_count=endpoint.instance_count, workers=entry.workers,
        routing=endpoint.routing, seed=spec.seed, duration_s=out.end_s, stop_reason=out.stop_reason,
        completed=out.completed, issued=out.issued, in_service=out.in_service, queued=out.queued,
        latency_ms=out.latency_s * 1000.0, service_ms=out.service_s * 1000.0, completion_s=out.completion_s,
        instance=out.instance, per_minute=frame, minutes=out.minutes, calibrated=entry.calibrated,
        warnings=_extrapolation_warnings(entry, out.minutes, endpoint.instance_count),
        minute_stats=out.minute_stats, requests_kept=spec.keep_requests)


def _serverless_result(spec: RunSpec, out: EngineOutput) -> SimulationResult:
    """A serverless endpoint's result: per-minute columns add ModelSetupTime_Average (µs, over
    cold starts) and ColdStarts; Invocation4XXErrors counts throttles; no CPU."""
    endpoint = spec.endpoint
    assert isinstance(endpoint, ServerlessEndpoint), "the engines table pairs each result with its engine"
    config, stats = endpoint.config, out.minute_stats
    frame = per_minute(stats, instance_count=1, users_at=spec.traffic.users_at)
    frame["CPUUtilization"] = np.nan  # serverless endpoints report no CPU
    frame["Invocation4XXErrors"] = [m.throttled for m in stats]
    frame["ColdStarts"] = [m.cold_starts for m in stats]
    frame["ModelSetupTime_Average"] = [m.setup_s / m.cold_starts * 1e6 if m.cold_starts else math.nan for m in stats]
    return SimulationResult(
        instance_type=config.label, instance_count=1, workers=config.max_concurrency, routing="serverless",
        seed=spec.seed, duration_s=out.end_s, stop_reason=out.stop_reason, completed=out.completed,
        issued=out.issued, in_service=out.in_service, queued=out.queued, latency_ms=out.latency_s * 1000.0,
        service_ms=out.service_s * 1000.0, completion_s=out.completion_s, instance=out.instance, per_minute=frame,
        minutes=out.minutes, minute_stats=stats, requests_kept=spec.keep_requests,
        serverless=ServerlessCounts(throttled=sum(m.throttled for m in stats),
                                    cold_starts=sum(m.cold_starts for m in stats)))


#: The engine of each endpoint kind (``RunSpec.kind``).
ENGINES: Mapping[str, Engine] = {
    InstanceEndpoint.kind: Engine(run=engine.run, result=_instance_result),
    ServerlessEndpoint.kind: Engine(run=serverless.run, result=_serverless_result),
}


def traffic_of(users: int | None, arrival_rate_per_s: float | None, traffic: Traffic | None,
               duration_s: float) -> Traffic:
    """Exactly one of users, rate or traffic, checked, as a Traffic."""
    given = [name for name, value in (("users", users), ("arrival_rate_per_s", arrival_rate_per_s),
                                      ("traffic", traffic)) if value is not None]
    if len(given) != 1:
        raise InputError("users/arrival_rate_per_s/traffic",
                         f"give exactly one of users, arrival_rate_per_s or traffic (got {', '.join(given) or 'none'})")
    if traffic is not None:
        return traffic
    duration = checks.positive(duration_s, "duration_s", maximum=MAX_DURATION_S)
    if users is not None:
        checks.integer(users, "users", minimum=1, maximum=MAX_USERS)
        return ConstantUsers(users, duration)
    assert arrival_rate_per_s is not None  # exactly one of the three was given
    return PoissonArrivals.constant(arrival_rate_per_s, duration)


def simulate_serverless(profile: Profile | Mapping[str, Any] | str | Path, memory_mb: int, max_concurrency: int,
                        provisioned_concurrency: int = 0, users: int | None = None,
                        arrival_rate_per_s: float | None = None, duration_s: float = 600.0, seed: int = 0,
                        think_time_s: float = 0.0, traffic: Traffic | None = None,
                        stopping: StoppingConditions | None = None,
                        interrupt: Callable[[], bool] | None = None, warm_environments: int = 0,
                        max_requests_per_s: float = MAX_REQUESTS_PER_S, keep_requests: bool = True,
                        on_minute: MinuteHook | None = None) -> SimulationResult:
    """Simulate a serverless endpoint (the profile's ``serverless`` section) under closed-loop
    users, open Poisson arrivals or an explicit traffic pattern: the RunSpec these arguments
    describe, run. Per-minute columns add ModelSetupTime_Average (µs, over cold starts) and
    ColdStarts; Invocation4XXErrors counts throttles."""
    loaded = load_profile(profile)
    if loaded.serverless is None:
        raise InputError("serverless", f"profile {loaded.model!r} has no serverless section")
    config = ServerlessConfig(memory_mb=memory_mb, max_concurrency=max_concurrency,
                              provisioned_concurrency=provisioned_concurrency)
    spec = RunSpec(endpoint=ServerlessEndpoint(loaded.serverless, config, warm_environments=max(0, warm_environments)),
                   traffic=traffic_of(users, arrival_rate_per_s, traffic, duration_s), overhead=loaded.overhead,
                   think_time_s=think_time_s, stopping=stopping or StoppingConditions(), seed=seed,
                   max_requests_per_s=max_requests_per_s, keep_requests=keep_requests)
    return run(spec, interrupt=interrupt, on_minute=on_minute)


def simulate(profile: Profile | Mapping[str, Any] | str | Path, instance_type: str, instance_count: int = 1,
             users: int | None = None, arrival_rate_per_s: float | None = None, duration_s: float = 600.0,
             seed: int = 0, think_time_s: float = 0.0, routing: str = "random", traffic: Traffic | None = None,
             stopping: StoppingConditions | None = None,
             resources: InstanceResources | None = None,
             interrupt: Callable[[], bool] | None = None,
             max_requests_per_s: float = MAX_REQUESTS_PER_S, keep_requests: bool = True,
             on_minute: MinuteHook | None = None, fast: bool | None = None) -> SimulationResult:
    """Simulate ``instance_count`` instances of ``instance_type`` under closed-loop users,
    open Poisson arrivals, or an explicit ``traffic`` pattern (exactly one of the three): the
    RunSpec these arguments describe, run.
    A run that would cost more than ``max_requests_per_s`` requests per simulated second is
    refused before it starts (WorkBudgetError naming the profile entry). ``keep_requests=False``
    keeps only the exact per-minute statistics: memory stays flat however long the run, and the
    per-request arrays (and whole-run percentiles) are empty. ``on_minute`` hears each simulated
    minute's summary as it closes. ``fast`` is RunSpec's (the compiled fast path: None where it
    applies and pays)."""
    loaded = load_profile(profile)
    entry = loaded.instance(instance_type)
    traffic = traffic_of(users, arrival_rate_per_s, traffic, duration_s)
    spec = RunSpec(endpoint=InstanceEndpoint(entry, instance_count=instance_count, routing=routing,
                                             resources=resources),
                   traffic=traffic, overhead=loaded.overhead, think_time_s=think_time_s,
                   stopping=stopping or StoppingConditions(), seed=seed, max_requests_per_s=max_requests_per_s,
                   keep_requests=keep_requests, fast=fast)
    return run(spec, interrupt=interrupt, on_minute=on_minute)


#: A run whose busiest minute exceeds the calibrated load range by this factor warns.
EXTRAPOLATION_FACTOR = 1.5


def _extrapolation_warnings(entry: InstanceProfile, minutes: tuple[MinuteSummary, ...],
                            instance_count: int) -> tuple[str, ...]:
    observed = entry.observed_invocations_per_minute
    if observed is None or not minutes:
        return ()
    busiest = max(m.invocations for m in minutes) / instance_count
    if busiest > EXTRAPOLATION_FACTOR * observed[1]:
        return (f"{entry.instance_type}: this run reached {busiest:,.0f} invocations/min per instance, beyond the "
                f"{observed[1]:,.0f} the profile was calibrated on: an extrapolation",)
    return ()
