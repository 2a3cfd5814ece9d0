"""The simulator's public entry point: one endpoint, one traffic pattern, one seeded run."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator import checks, engine, serverless
from simulator.endpoint import Endpoint
from simulator.errors import InputError
from simulator.harness import MinuteHook
from simulator.metrics import InstanceResources, MinuteStats, UtilizationModel, per_minute
from simulator.profiles import InstanceProfile, Profile, check_duration_scale, load_profile
from simulator.stopping import MinuteSummary, StoppingConditions
from simulator.traffic import ConstantUsers, PoissonArrivals, Traffic

MAX_DURATION_S = 30 * 24 * 3600.0
MAX_USERS = 1_000_000
#: Requests one simulated second may cost unless the caller raises the budget: a profile entry
#: that would need more (a service time of nanoseconds) is refused before it runs for minutes
#: and fills the memory. Real endpoints stay far below (30,000 a minute is 500 a second).
MAX_REQUESTS_PER_S = 1_000_000.0


class WorkBudgetError(InputError):
    """A run would cost more requests per simulated second than its budget allows;
    ``parameter`` names the argument that raises the budget."""

    parameter = "max_requests_per_s"


def request_rate_bound(traffic: Traffic, cycle_s: float, capacity_per_s: float) -> float:
    """At most how many requests one simulated second of ``traffic`` costs: open arrivals at
    their highest rate; closed-loop users one request each per ``cycle_s`` (service, overhead
    and think time), and no more than ``capacity_per_s`` complete."""
    if isinstance(traffic, PoissonArrivals):
        return max(rate for _, rate in traffic.rates)
    users = max((count for _, count in traffic.user_changes()), default=0)
    return min(users / cycle_s if cycle_s > 0 else math.inf, capacity_per_s)


def check_work_budget(rate_per_s: float, budget_per_s: float, where: str, what: str) -> None:
    """WorkBudgetError naming the profile entry ``where`` when ``rate_per_s`` exceeds the budget."""
    if not rate_per_s <= budget_per_s:
        raise WorkBudgetError(where, f"{what} would cost about {rate_per_s:,.3g} requests per simulated second, "
                                     f"over the budget of {budget_per_s:,.0f} (max_requests_per_s)")


@dataclass(frozen=True)
class SimulationResult:
    """What one simulated run measured. Latencies are ModelLatency (wait + service). A run that
    did not keep its requests has empty per-request arrays; its minutes are still exact."""

    instance_type: str
    instance_count: int
    workers: int
    routing: str
    seed: int
    duration_s: float
    stop_reason: str
    completed: int
    issued: int
    in_service: int
    queued: int
    latency_ms: np.ndarray = field(repr=False)
    service_ms: np.ndarray = field(repr=False)
    completion_s: np.ndarray = field(repr=False)
    instance: np.ndarray = field(repr=False)
    per_minute: pd.DataFrame = field(repr=False)
    minutes: tuple[MinuteSummary, ...] = field(repr=False)
    calibrated: bool = True
    warnings: tuple[str, ...] = ()
    throttled: int = 0       # serverless: attempts refused at MaxConcurrency
    cold_starts: int = 0     # serverless: requests that started an environment
    minute_stats: tuple[MinuteStats, ...] = field(default=(), repr=False)
    requests_kept: bool = True  # False: the per-request arrays are empty, the minutes exact

    @property
    def throughput_per_s(self) -> float:
        """Completed requests per simulated second over the whole run."""
        return self.completed / self.duration_s if self.duration_s > 0 else 0.0

    def percentile_ms(self, p: float) -> float:
        """Exact ``p``-th percentile of ModelLatency in ms over the whole run (numpy's linear
        definition); needs the requests (``keep_requests``)."""
        if not 0 <= p <= 100:
            raise InputError("p", f"must be from 0 to 100, got {p!r}")
        if not self.requests_kept:
            raise InputError("keep_requests", "this run kept per-minute statistics only: whole-run percentiles "
                                              "need keep_requests=True")
        return float(np.percentile(self.latency_ms, p)) if self.completed else math.nan

    @property
    def mean_latency_ms(self) -> float:
        """Mean ModelLatency in ms over the whole run (from the minutes when the requests are gone)."""
        if self.requests_kept or not self.completed:
            return float(self.latency_ms.mean()) if self.latency_ms.size else math.nan
        total = sum(m.latency_s[0] * m.invocations for m in self.minute_stats if m.invocations)
        return total / sum(m.invocations for m in self.minute_stats) * 1000.0

    def summary(self) -> dict[str, Any]:
        """The headline numbers as plain JSON-ready values."""
        return {
            "instance_type": self.instance_type, "instance_count": self.instance_count,
            "workers": self.workers, "routing": self.routing, "seed": self.seed,
            "calibrated": self.calibrated,
            "duration_s": self.duration_s, "stop_reason": self.stop_reason,
            "completed": self.completed, "issued": self.issued, "warnings": list(self.warnings),
            "in_flight": self.in_service + self.queued,
            "throughput_per_s": self.throughput_per_s,
            "invocations_per_minute": self.throughput_per_s * 60.0,
            "latency_ms": {"mean": self.mean_latency_ms,
                           **({f"p{p}": self.percentile_ms(p) for p in (50, 90, 95, 99)} if self.requests_kept
                              else {})},
        }


def simulate_serverless(profile: Profile | Mapping[str, Any] | str | Path, memory_mb: int, max_concurrency: int,
                        provisioned_concurrency: int = 0, users: int | None = None,
                        arrival_rate_per_s: float | None = None, duration_s: float = 600.0, seed: int = 0,
                        think_time_s: float = 0.0, traffic: Traffic | None = None,
                        stopping: StoppingConditions | None = None,
                        interrupt: Callable[[], bool] | None = None, warm_environments: int = 0,
                        max_requests_per_s: float = MAX_REQUESTS_PER_S, keep_requests: bool = True,
                        on_minute: MinuteHook | None = None) -> SimulationResult:
    """Simulate a serverless endpoint (the profile's ``serverless`` section) under closed-loop
    users, open Poisson arrivals or an explicit traffic pattern. Per-minute columns add
    ModelSetupTime_Average (µs, over cold starts) and ColdStarts; Invocation4XXErrors counts
    throttles."""
    loaded = load_profile(profile)
    if loaded.serverless is None:
        raise InputError("serverless", f"profile {loaded.model!r} has no serverless section")
    config = serverless.ServerlessConfig(memory_mb=memory_mb, max_concurrency=max_concurrency,
                                         provisioned_concurrency=provisioned_concurrency)
    traffic, think = _traffic(users, arrival_rate_per_s, traffic, duration_s, seed, think_time_s)
    check_serverless_work(loaded, config, traffic, think, max_requests_per_s)
    out = serverless.run(config, loaded.serverless, traffic, seed=seed, overhead=loaded.overhead, think_time_s=think,
                         stopping=stopping, interrupt=interrupt, warm_environments=warm_environments,
                         keep_requests=keep_requests, on_minute=on_minute)
    frame = per_minute(out.minute_stats, instance_count=1,
                       users_at=None if isinstance(traffic, PoissonArrivals) else traffic.users_at)
    frame["CPUUtilization"] = np.nan  # serverless endpoints report no CPU
    frame["Invocation4XXErrors"] = [m.throttled for m in out.minute_stats]
    frame["ColdStarts"] = [m.cold_starts for m in out.minute_stats]
    frame["ModelSetupTime_Average"] = [m.setup_s / m.cold_starts * 1e6 if m.cold_starts else math.nan
                                       for m in out.minute_stats]
    return SimulationResult(
        instance_type=config.label, instance_count=1, workers=max_concurrency, routing="serverless", seed=seed,
        duration_s=out.end_s, stop_reason=out.stop_reason, completed=out.completed,
        issued=out.attempts, in_service=out.in_service, queued=0, latency_ms=out.latency_s * 1000.0,
        service_ms=out.latency_s * 1000.0, completion_s=out.completion_s,
        instance=np.zeros(out.completion_s.size, dtype=np.int32), per_minute=frame, minutes=out.minutes,
        throttled=sum(m.throttled for m in out.minute_stats), cold_starts=sum(m.cold_starts for m in out.minute_stats),
        minute_stats=out.minute_stats, requests_kept=keep_requests)


def _traffic(users: int | None, arrival_rate_per_s: float | None, traffic: Traffic | None, duration_s: float,
             seed: int, think_time_s: float) -> tuple[Traffic, float]:
    """Exactly one of users, rate or traffic, checked, as a Traffic; and the think time."""
    given = [name for name, value in (("users", users), ("arrival_rate_per_s", arrival_rate_per_s),
                                      ("traffic", traffic)) if value is not None]
    if len(given) != 1:
        raise InputError("users/arrival_rate_per_s/traffic",
                         f"give exactly one of users, arrival_rate_per_s or traffic (got {', '.join(given) or 'none'})")
    checks.integer(seed, "seed", minimum=0)  # any size: jobs derive 64-bit seeds for their tests
    think = checks.number(think_time_s, "think_time_s", minimum=0)
    if traffic is not None:
        return traffic, think
    duration = checks.positive(duration_s, "duration_s")
    if duration > MAX_DURATION_S:
        raise InputError("duration_s", f"must be at most {MAX_DURATION_S:g} s, got {duration_s!r}")
    if users is not None:
        checks.integer(users, "users", minimum=1, maximum=MAX_USERS)
        return ConstantUsers(users, duration), think
    assert arrival_rate_per_s is not None  # exactly one of the three was given
    return PoissonArrivals.constant(arrival_rate_per_s, duration), think


def simulate(profile: Profile | Mapping[str, Any] | str | Path, instance_type: str, instance_count: int = 1,
             users: int | None = None, arrival_rate_per_s: float | None = None, duration_s: float = 600.0,
             seed: int = 0, think_time_s: float = 0.0, routing: str = "random", traffic: Traffic | None = None,
             stopping: StoppingConditions | None = None,
             resources: InstanceResources | None = None,
             interrupt: Callable[[], bool] | None = None,
             max_requests_per_s: float = MAX_REQUESTS_PER_S, keep_requests: bool = True,
             on_minute: MinuteHook | None = None, fast: bool | None = None) -> SimulationResult:
    """Simulate ``instance_count`` instances of ``instance_type`` under closed-loop users,
    open Poisson arrivals, or an explicit ``traffic`` pattern (exactly one of the three).
    A run that would cost more than ``max_requests_per_s`` requests per simulated second is
    refused before it starts (WorkBudgetError naming the profile entry). ``keep_requests=False``
    keeps only the exact per-minute statistics: memory stays flat however long the run, and the
    per-request arrays (and whole-run percentiles) are empty. ``on_minute`` hears each simulated
    minute's summary as it closes. ``fast`` is :func:`simulator.engine.run`'s (the compiled fast
    path: None where it applies and pays)."""
    loaded = load_profile(profile)
    entry = loaded.instance(instance_type)
    traffic, think = _traffic(users, arrival_rate_per_s, traffic, duration_s, seed, think_time_s)
    checks.integer(instance_count, "instance_count", minimum=1)
    check_instance_work(loaded, entry, instance_count, traffic, think, max_requests_per_s)
    endpoint = Endpoint(instance_type=instance_type, instance_count=instance_count, workers=entry.workers,
                        service_time=entry.service_time, routing=routing, cpu_per_worker=entry.cpu_per_worker)
    out = engine.run(endpoint, traffic, seed=seed, overhead=loaded.overhead, think_time_s=think,
                     stopping=stopping, interrupt=interrupt, keep_requests=keep_requests, on_minute=on_minute,
                     fast=fast)
    frame = per_minute(out.minute_stats, instance_count=instance_count,
                       users_at=None if isinstance(traffic, PoissonArrivals) else traffic.users_at,
                       utilization=UtilizationModel(cpu_per_worker=entry.cpu_per_worker,
                                                    model_memory_mb=entry.memory_mb, resources=resources))
    warnings = _extrapolation_warnings(entry, out.minutes, instance_count)
    return SimulationResult(
        instance_type=instance_type, instance_count=instance_count, workers=entry.workers, routing=routing,
        seed=seed, duration_s=out.end_s, stop_reason=out.stop_reason, completed=out.completed,
        issued=out.issued, in_service=out.in_service, queued=out.queued,
        latency_ms=out.latency_s * 1000.0, service_ms=out.service_s * 1000.0, completion_s=out.completion_s,
        instance=out.instance, per_minute=frame, minutes=out.minutes, calibrated=entry.calibrated,
        warnings=warnings, minute_stats=out.minute_stats, requests_kept=keep_requests)


def check_instance_work(profile: Profile, entry: InstanceProfile, instance_count: int, traffic: Traffic,
                         think_s: float, budget_per_s: float) -> None:
    """The instance entry's durations within the profile limits, and the run within its budget."""
    where = f"instances.{entry.instance_type}.service_time"
    check_duration_scale(entry.service_time, where)
    overhead_s = 0.0
    if profile.overhead is not None:
        check_duration_scale(profile.overhead, "overhead_ms")
        overhead_s = profile.overhead.mean_ms / 1000.0
    service_s = entry.service_time.mean_ms / 1000.0
    servers = entry.workers * instance_count
    rate = request_rate_bound(traffic, service_s + overhead_s + think_s, servers / service_s)
    check_work_budget(rate, budget_per_s, where, f"a mean of {entry.service_time.mean_ms:g} ms on {servers} "
                                                 f"worker(s)")


def check_serverless_work(profile: Profile, config: serverless.ServerlessConfig, traffic: Traffic, think_s: float,
                           budget_per_s: float) -> None:
    """The serverless section's durations within the profile limits, and the run within its budget
    (a throttled user retries after its backoff: a request too)."""
    section = profile.serverless
    assert section is not None, "checked by the caller"
    check_duration_scale(section.service_time, "serverless.service_time")
    check_duration_scale(section.model_setup_time, "serverless.model_setup_time")
    service = section.service_at(config.memory_mb)
    overhead_s = profile.overhead.mean_ms / 1000.0 if profile.overhead is not None else 0.0
    cycle = min(service.mean_ms / 1000.0 + overhead_s, section.backoff_ms / 1000.0) + think_s
    rate = request_rate_bound(traffic, cycle, math.inf)
    check_work_budget(rate, budget_per_s, "serverless.service_time",
                      f"a mean of {service.mean_ms:g} ms (backoff {section.backoff_ms:g} ms)")


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
