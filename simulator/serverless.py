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
from collections.abc import Callable
from heapq import heappush
from typing import Any

import numpy as np

from simulator.endpoint import MAX_CONCURRENCY, MEMORY_SIZES_MB, ServerlessConfig, ServerlessEndpoint
from simulator.harness import NORMAL, Draws, EngineOutput, Loop, MinuteClock, MinuteHook, Population, drive, output
from simulator.harness import samplers as common_samplers
from simulator.profiles import ServerlessProfile, serverless_from_dict
from simulator.records import Records
from simulator.runspec import RunSpec

#: Where the serverless schema and size were defined before they moved beside the other
#: profile and endpoint types (simulator/profiles.py, simulator/endpoint.py).
__all__ = ["MAX_CONCURRENCY", "MEMORY_SIZES_MB", "ServerlessConfig", "ServerlessProfile", "run",
           "serverless_from_dict"]

#: An invocation in its environment: (service time, setup time, on a provisioned environment?).
Invocation = tuple[float, float, bool]
#: The random streams in the order they are spawned from the run's seed (fixed: it fixes the numbers).
STREAMS = ("service", "setup", "overhead", "think", "backoff", "arrival")


def draws_for(spec: RunSpec, endpoint: ServerlessEndpoint) -> Draws:
    """The run's draws: the service time at the configured memory, cold starts' setup times and
    throttled users' backoffs besides the common streams."""
    section = endpoint.section

    def backoff(rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(section.backoff_ms / 1000.0, n)

    streams = common_samplers(endpoint.service_time, spec.overhead, spec.think_time_s)
    streams.update(setup=section.model_setup_time.sample_s, backoff=backoff)
    return Draws.seeded(spec.seed, STREAMS, streams)


def run(spec: RunSpec, interrupt: Callable[[], bool] | None = None,
        on_minute: MinuteHook | None = None) -> EngineOutput:
    """Simulate ``spec``'s traffic against its serverless endpoint until it ends or a condition
    stops it.

    The endpoint's ``warm_environments`` start warm at t = 0; they are reclaimed after the
    idle timeout like any other. Every minute is summarized as it closes; a spec that does not
    keep its requests drops them (empty arrays)."""
    endpoint = spec.endpoint
    assert isinstance(endpoint, ServerlessEndpoint), "the engines table sends serverless endpoints here"
    config, traffic = endpoint.config, spec.traffic
    draws = draws_for(spec, endpoint)
    next_service, next_setup, next_backoff = draws.service, draws.setup, draws.backoff
    assert next_setup is not None and next_backoff is not None, "drawn for every serverless run"
    next_overhead, next_think = draws.overhead, draws.think
    loop = Loop()
    heap, sequence = loop.heap, loop.sequence
    records = Records(keep=spec.keep_requests, service_is_latency=True)
    completion_s, latency_s, setup_s = records.completion_s, records.latency_s, records.setup_s
    overhead_s, throttle_s = records.overhead_s, records.throttle_s
    closed_loop = traffic.closed
    population = Population()
    # idle on-demand environments: when each went idle, oldest first
    warm: deque[float] = deque([0.0] * min(endpoint.warm_environments, limit := config.max_concurrency))
    state = {"busy": 0, "provisioned_idle": config.provisioned_concurrency, "attempts": 0}
    timeout = endpoint.section.idle_timeout_s

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
    clock = MinuteClock(loop, traffic, spec.stopping, interrupt, records, on_minute)
    clock.run()
    return output(records, clock, issued=state["attempts"], in_service=state["busy"], queued=0)
