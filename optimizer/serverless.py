"""Serverless candidates for the optimizer: per memory size, the smallest MaxConcurrency that
keeps throttling rare at the target rate, and its cost, proven by simulation.

Open Poisson traffic against MaxConcurrency environments is a loss system, and its blocking
probability is Erlang B(M, rate x E[S]) whatever the service distribution: that picks M.
Simulation replications then check the latency percentile (service time only: no queueing)
and the throttled share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.capacity import MIN_REQUESTS, Estimate, estimate, seed_for
from simulator import Profile, simulate_serverless
from simulator.serverless import MAX_CONCURRENCY, MEMORY_SIZES_MB, ServerlessProfile

MAX_THROTTLED = 0.001  # at most 0.1 % of requests throttled at the target rate


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of an M/G/c/c loss system (insensitive to the service law)."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def smallest_concurrency(rate_per_s: float, mean_service_s: float, max_throttled: float = MAX_THROTTLED) -> int | None:
    """The fewest environments that keep Erlang B blocking at or below ``max_throttled``."""
    load = rate_per_s * mean_service_s
    for servers in range(1, MAX_CONCURRENCY + 1):
        if erlang_b(servers, load) <= max_throttled:
            return servers
    return None


@dataclass(frozen=True)
class ServerlessOption:
    """One memory size at the target: its concurrency, cost and checked latency, or why it
    cannot serve the target (then only ``reason`` and what was known before failing are set)."""

    memory_mb: int
    max_concurrency: int | None
    cost_per_hour: float | None
    estimate: Estimate | None
    throttled_share: float | None
    reason: str | None  # why it cannot serve the target

    @property
    def feasible(self) -> bool:
        return self.reason is None

    @classmethod
    def unfit(cls, memory_mb: int, reason: str) -> ServerlessOption:
        """A memory size ruled out before any simulation."""
        return cls(memory_mb=memory_mb, max_concurrency=None, cost_per_hour=None, estimate=None,
                   throttled_share=None, reason=reason)


def serverless_options(section: ServerlessProfile, rate_per_s: float, percentile: float, slo_ms: float,
                       cost_per_inference: Callable[[int, float], float], replications: int = 3, seed: int = 0,
                       memory_sizes: Sequence[int] = MEMORY_SIZES_MB) -> list[ServerlessOption]:
    """Every memory size the model fits in, sized and checked at the target rate.

    ``cost_per_inference(memory_mb, mean_billed_ms)`` prices one request."""
    options = []
    for memory in memory_sizes:
        if memory < section.memory_needed_mb:
            options.append(ServerlessOption.unfit(memory, f"the model needs {section.memory_needed_mb} MB"))
            continue
        service = section.service_at(memory)
        concurrency = smallest_concurrency(rate_per_s, service.mean_ms / 1000.0)
        if concurrency is None:
            options.append(ServerlessOption.unfit(
                memory, f"more than {MAX_CONCURRENCY} concurrent environments would be needed"))
            continue
        duration = max(60.0, MIN_REQUESTS / rate_per_s)
        values, throttled, billed = [], [], []
        profile = Profile("serverless", {}, serverless=section)
        for replication in range(replications):
            # Steady state: the environments are already warm, as on a long-running endpoint.
            result = simulate_serverless(profile, memory, concurrency, arrival_rate_per_s=rate_per_s,
                                         duration_s=duration, seed=seed_for("serverless", memory, replication, seed),
                                         warm_environments=concurrency)
            values.append(result.percentile_ms(percentile))
            throttled.append(result.throttled / max(1, result.issued))
            billed.append(float(np.mean(np.ceil(result.service_ms - 1e-9))))
        checked = estimate(values, [0.0] * len(values))
        share = float(np.mean(throttled))
        reason = None
        if not checked.meets(slo_ms):
            reason = f"P{percentile:g} {checked.percentile_ms:.1f} ms (up to {checked.high_ms:.1f}) > {slo_ms:g} ms"
        elif share > 2 * MAX_THROTTLED:
            reason = f"{share:.2%} of requests throttled"
        cost = cost_per_inference(memory, float(np.mean(billed))) * rate_per_s * 3600
        options.append(ServerlessOption(memory_mb=memory, max_concurrency=concurrency, cost_per_hour=cost,
                                        estimate=checked, throttled_share=share, reason=reason))
    return options
