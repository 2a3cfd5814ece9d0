"""Serverless endpoints: at most MaxConcurrency requests run at once, each in its own
execution environment; a request that finds no idle warm environment cold-starts one
(ModelSetupTime) and one that finds all MaxConcurrency busy is throttled (a 4XX).

Semantics (documented in docs/semantics.md):
- an environment stays warm for ``idle_timeout_s`` after its last request, then is
  reclaimed; ProvisionedConcurrency environments never are. A request takes the most
  recently used warm environment.
- a throttled closed-loop user backs off (exponential, mean ``backoff_ms``) and retries; a
  throttled open arrival is lost.
- ModelLatency is the service time; a cold start's setup time is reported as
  ModelSetupTime and, as CloudWatch does for serverless, counted in OverheadLatency.
- compute scales with memory: the service time at ``reference_memory_mb`` divides by
  min(memory / reference, max_speedup) above it and grows in proportion below it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np

from simulator import checks
from simulator.distributions import Distribution, parse_distribution
from simulator.errors import InputError
from simulator.harness import NORMAL, Loop, MinuteClock, MinuteHook, Population, blocks, drive
from simulator.metrics import MinuteStats
from simulator.records import Records
from simulator.stopping import MinuteSummary, StoppingConditions
from simulator.traffic import PoissonArrivals, Traffic

MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_CONCURRENCY = 200

#: An invocation in its environment: (service time, setup time, on a provisioned environment?).
Invocation = tuple[float, float, bool]


@dataclass(frozen=True)
class ServerlessProfile:
    """How the model serves on serverless inference (the profile's ``serverless`` section)."""

    reference_memory_mb: int
    service_time: Distribution
    model_setup_time: Distribution
    memory_needed_mb: int = 1024
    max_speedup: float = 2.0
    idle_timeout_s: float = 600.0
    payload_kb: float = 10.0
    backoff_ms: float = 100.0

    def service_at(self, memory_mb: int) -> Distribution:
        """The service time with ``memory_mb`` of memory (and the compute that comes with it)."""
        ratio = memory_mb / self.reference_memory_mb
        speedup = min(ratio, self.max_speedup) if ratio >= 1 else ratio
        return self.service_time.scaled(1.0 / speedup)

    def to_dict(self) -> dict[str, Any]:
        return {"reference_memory_mb": self.reference_memory_mb, "service_time": self.service_time.to_dict(),
                "model_setup_time": self.model_setup_time.to_dict(), "memory_needed_mb": self.memory_needed_mb,
                "max_speedup": self.max_speedup, "idle_timeout_s": self.idle_timeout_s,
                "payload_kb": self.payload_kb, "backoff_ms": self.backoff_ms}


#: Upper bounds of the section's scalars: irsim's own, so that no value makes a run meaningless
#: (AWS documents a 4 MB payload limit for serverless endpoints; memory spans 1024 to 6144 MB,
#: so compute cannot speed up more than 6x; durations at most an hour, as in the profile).
SCALAR_MAXIMA = {"max_speedup": 6, "idle_timeout_s": 86_400, "payload_kb": 4096, "backoff_ms": 3_600_000}


def _positive(spec: Mapping[str, Any], key: str, default: float | None, where: str) -> float:
    return checks.positive(spec.get(key, default), f"{where}.{key}", maximum=SCALAR_MAXIMA[key])


def serverless_from_dict(spec: Any, where: str = "serverless") -> ServerlessProfile:
    """Validate a profile's ``serverless`` section."""
    if not isinstance(spec, Mapping):
        raise InputError(where, "must be an object with reference_memory_mb, service_time, model_setup_time")
    known = {"reference_memory_mb", "service_time", "model_setup_time", "memory_needed_mb", "max_speedup",
             "idle_timeout_s", "payload_kb", "backoff_ms"}
    extra = sorted(set(spec) - known)
    if extra:
        raise InputError(f"{where}.{extra[0]}", f"unknown key (allowed: {', '.join(sorted(known))})")
    for key in ("service_time", "model_setup_time"):
        if key not in spec:
            raise InputError(f"{where}.{key}", "is required")
    reference = spec.get("reference_memory_mb")
    if reference not in MEMORY_SIZES_MB:
        raise InputError(f"{where}.reference_memory_mb", f"must be one of {MEMORY_SIZES_MB}, got {reference!r}")
    needed = spec.get("memory_needed_mb", 1024)
    if isinstance(needed, bool) or not isinstance(needed, int) or not 128 <= needed <= 6144:
        raise InputError(f"{where}.memory_needed_mb", f"must be an integer from 128 to 6144, got {needed!r}")
    speedup = _positive(spec, "max_speedup", 2.0, where)
    if speedup < 1:
        raise InputError(f"{where}.max_speedup", f"must be >= 1, got {speedup!r}")
    return ServerlessProfile(reference, parse_distribution(spec["service_time"], f"{where}.service_time"),
                             parse_distribution(spec["model_setup_time"], f"{where}.model_setup_time"), needed,
                             speedup, _positive(spec, "idle_timeout_s", 600.0, where),
                             _positive(spec, "payload_kb", 10.0, where), _positive(spec, "backoff_ms", 100.0, where))


@dataclass(frozen=True)
class ServerlessConfig:
    """A serverless endpoint's size: memory, the concurrency limit and the provisioned (always warm)
    environments, within the platform's limits."""

    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int = 0

    def __post_init__(self) -> None:
        if self.memory_mb not in MEMORY_SIZES_MB:
            raise InputError("memory_mb", f"must be one of {', '.join(map(str, MEMORY_SIZES_MB))}"
                                          f" (1024 to 6144 in steps of 1024), got {self.memory_mb!r}")
        if not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
            raise InputError("max_concurrency", f"must be 1 to {MAX_CONCURRENCY}, got {self.max_concurrency!r}")
        if not 0 <= self.provisioned_concurrency <= self.max_concurrency:
            raise InputError("provisioned_concurrency", f"must be 0 to max_concurrency ({self.max_concurrency}), "
                                                        f"got {self.provisioned_concurrency!r}")

    @property
    def label(self) -> str:
        return f"serverless {self.memory_mb} MB x{self.max_concurrency}" + (
            f" (provisioned {self.provisioned_concurrency})" if self.provisioned_concurrency else "")


@dataclass(frozen=True)
class ServerlessOutput:
    """What one serverless run measured: per minute, and per completed request in completion
    order (empty arrays when the run did not keep its requests)."""

    completion_s: np.ndarray
    latency_s: np.ndarray       # ModelLatency: the service time
    setup_s: np.ndarray         # 0 for a warm start
    overhead_s: np.ndarray      # overhead latency including the setup of cold starts
    throttle_s: np.ndarray      # the instant of every throttled attempt
    end_s: float
    stop_reason: str
    attempts: int
    in_service: int
    minutes: tuple[MinuteSummary, ...]
    completed: int
    minute_stats: tuple[MinuteStats, ...]


@dataclass(frozen=True)
class _Draws:
    """The run's random draws, each the C-speed ``__next__`` of a stream drawn in numpy blocks;
    None where the run needs none (no overhead, no think time)."""

    service: Callable[[], float]
    setup: Callable[[], float]
    backoff: Callable[[], float]
    overhead: Callable[[], float] | None
    think: Callable[[], float] | None
    arrival_rng: np.random.Generator

    @classmethod
    def seeded(cls, seed: int | np.random.SeedSequence, service: Distribution, profile: ServerlessProfile,
               overhead: Distribution | None, think_time_s: float) -> _Draws:
        """One independent generator per stream, spawned from ``seed`` in a fixed order."""
        seed_seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        service_rng, setup_rng, overhead_rng, think_rng, backoff_rng, arrival_rng = (
            np.random.Generator(np.random.PCG64(s)) for s in seed_seq.spawn(6))
        return cls(
            blocks(lambda n: service.sample_s(service_rng, n)).__next__,
            blocks(lambda n: profile.model_setup_time.sample_s(setup_rng, n)).__next__,
            blocks(lambda n: backoff_rng.exponential(profile.backoff_ms / 1000.0, n)).__next__,
            blocks(lambda n: overhead.sample_s(overhead_rng, n)).__next__ if overhead else None,
            blocks(lambda n: think_rng.exponential(think_time_s, n)).__next__ if think_time_s > 0 else None,
            arrival_rng)


def run(config: ServerlessConfig, profile: ServerlessProfile, traffic: Traffic, *,
        seed: int | np.random.SeedSequence = 0, overhead: Distribution | None = None, think_time_s: float = 0.0,
        stopping: StoppingConditions | None = None, interrupt: Callable[[], bool] | None = None,
        warm_environments: int = 0, keep_requests: bool = True, on_minute: MinuteHook | None = None
        ) -> ServerlessOutput:
    """Simulate ``traffic`` against a serverless endpoint until it ends or a condition stops it.

    ``warm_environments`` start warm at t = 0 (steady state, as a long-running endpoint
    would be); they are reclaimed after the idle timeout like any other. Every minute is
    summarized as it closes; ``keep_requests=False`` drops the requests (empty arrays)."""
    if config.memory_mb < profile.memory_needed_mb:
        raise InputError("memory_mb", f"{config.memory_mb} MB is less than the "
                                      f"{profile.memory_needed_mb} MB the model needs")
    draws = _Draws.seeded(seed, profile.service_at(config.memory_mb), profile, overhead, think_time_s)
    next_service, next_setup, next_backoff = draws.service, draws.setup, draws.backoff
    next_overhead, next_think = draws.overhead, draws.think
    loop = Loop()
    heap, sequence = loop.heap, loop.sequence
    records = Records(keep=keep_requests, service_is_latency=True)
    completion_s, latency_s, setup_s = records.completion_s, records.latency_s, records.setup_s
    overhead_s, throttle_s = records.overhead_s, records.throttle_s
    closed_loop = not isinstance(traffic, PoissonArrivals)
    population = Population()
    # idle on-demand environments: when each went idle, oldest first
    warm: deque[float] = deque([0.0] * max(0, min(warm_environments, limit := config.max_concurrency)))
    state = {"busy": 0, "provisioned_idle": config.provisioned_concurrency, "attempts": 0}
    timeout = profile.idle_timeout_s

    def attempt(now: float) -> None:
        state["attempts"] += 1
        if state["busy"] >= limit:
            throttle_s.append(now)
            if closed_loop:
                heappush(heap, (now + next_backoff(), NORMAL, next(sequence), retry, None))
            return
        state["busy"] += 1
        provisioned = state["provisioned_idle"] > 0
        setup = 0.0
        if provisioned:
            state["provisioned_idle"] -= 1
        else:
            while warm and warm[0] < now - timeout:
                warm.popleft()  # reclaimed after the idle timeout
            if warm:
                warm.pop()
            else:
                setup = next_setup()
        s = next_service()
        heappush(heap, (now + (setup + s), NORMAL, next(sequence), complete, (s, setup, provisioned)))

    def retry(now: float, _: Any) -> None:
        if not population.leaves():
            attempt(now)

    def complete(now: float, request: Invocation) -> None:
        service, setup, provisioned = request
        state["busy"] -= 1
        if provisioned:
            state["provisioned_idle"] += 1
        else:
            warm.append(now)
        delay = next_overhead() if next_overhead else 0.0
        completion_s.append(now)
        latency_s.append(service)
        setup_s.append(setup)
        overhead_s.append(delay + setup)
        if closed_loop and not population.leaves():
            if next_think is not None:
                delay += next_think()
            if delay > 0:
                heappush(heap, (now + delay, NORMAL, next(sequence), retry, None))
            else:
                attempt(now)

    drive(loop, traffic, population, attempt, draws.arrival_rng)
    clock = MinuteClock(loop, traffic, stopping or StoppingConditions(), interrupt, records, on_minute)
    clock.run()
    return _output(records, clock, attempts=state["attempts"], in_service=state["busy"])


def _output(records: Records, clock: MinuteClock, *, attempts: int, in_service: int) -> ServerlessOutput:
    """A finished run's output, read from its records and its clock."""
    return ServerlessOutput(
        completion_s=records.kept("completion_s"), latency_s=records.kept("latency_s"),
        setup_s=records.kept("setup_s"), overhead_s=records.kept("overhead_s"),
        throttle_s=records.kept("throttle_s"), end_s=float(clock.loop.now), stop_reason=clock.reason,
        attempts=attempts, in_service=in_service, minutes=tuple(clock.minutes),
        completed=records.completed, minute_stats=tuple(records.minutes))
