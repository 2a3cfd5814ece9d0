"""Serverless candidates for the optimizer: per memory size, the smallest MaxConcurrency that
keeps throttling rare at the target rate, and its cost, proven by simulation.

Open Poisson traffic against MaxConcurrency environments is a loss system. A request that
starts cold holds its slot for the model's setup time plus its service, so the sizing law is
Erlang B(M, rate x (E[S] + p E[setup])), with p the share of cold starts at steady state
(``simulator.analytic.cold_start_fraction``: the idle timeout against the arrivals each
environment sees). It is exact when p is known (no idle timeout: every start cold; a long
one at steady state: none) and an approximation in between (short idle timeouts and bursts
of cold starts break it, by up to 100x), so the chosen MaxConcurrency is the smallest whose
simulated steady state (replications from a warm start) surely meets the target: searched
from the law's answer, down or up, each share with its interval (``optimizer.throttling``).
A second simulation starts from zero (every environment cold) and reports the first
minute's throttled share, judged on enough arrivals for a 0.1 % share: the transient the
steady state hides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

import simulator
from optimizer.capacity import MIN_REQUESTS, Estimate, estimate, seed_for
from optimizer.throttling import ShareEstimate, sequential_share
from optimizer.verdict import MEETS
from simulator import PoissonArrivals, RunSpec, ServerlessConfig, ServerlessEndpoint, ServerlessProfile
from simulator.analytic import cold_start_fraction, erlang_b, serverless_blocking
from simulator.endpoint import MAX_CONCURRENCY, MEMORY_SIZES_MB

__all__ = ["MAX_THROTTLED", "ServerlessOption", "cold_concurrency", "erlang_b", "first_minute_concurrency",
           "serverless_options", "smallest_concurrency"]

MAX_THROTTLED = 0.001  # at most 0.1 % of requests throttled at the target rate
MAX_RAISES = 10        # environments the steady-state simulation may add beyond the law (or remove below it)
MAX_STEADY_REPLICATIONS = 16         # steady-state replications per concurrency, at most
FIRST_MINUTE_S = 60.0
FIRST_MINUTE_REQUESTS = 6_000        # arrivals the first-minute replications start with ...
FIRST_MINUTE_BUDGET = 30_000         # ... and pool at most (30 expected throttles at a 0.1 % share)
MAX_FIRST_MINUTE_REPLICATIONS = 1000


def smallest_concurrency(rate_per_s: float, mean_service_s: float, setup_s: float = 0.0,
                         idle_timeout_s: float = math.inf, max_throttled: float = MAX_THROTTLED) -> int | None:
    """The fewest environments whose throttled share by the sizing law,
    Erlang B(M, rate (S + p U)) with p = ``cold_start_fraction``, is at most ``max_throttled``.

    The search starts where Erlang B on the service time alone is met (p >= 0, so no fewer
    will do); with no setup time or an infinite idle timeout it is that Erlang B answer."""
    lower = next((m for m in range(1, MAX_CONCURRENCY + 1)
                  if erlang_b(m, rate_per_s * mean_service_s) <= max_throttled), None)
    if lower is None or setup_s <= 0:
        return lower
    return next((m for m in range(lower, MAX_CONCURRENCY + 1)
                 if serverless_blocking(rate_per_s, mean_service_s, setup_s, idle_timeout_s, m) <= max_throttled),
                None)


def cold_concurrency(rate_per_s: float, mean_service_s: float, setup_s: float,
                     max_throttled: float = MAX_THROTTLED) -> int | None:
    """The fewest environments that keep throttling within ``max_throttled`` even if every
    start were cold: Erlang B(M, rate (S + U)). Starting from zero every environment is
    cold, so this bounds the concurrency the first minute from zero asks for."""
    load = rate_per_s * (mean_service_s + setup_s)
    return next((m for m in range(1, MAX_CONCURRENCY + 1) if erlang_b(m, load) <= max_throttled), None)


@dataclass(frozen=True)
class SteadyRun:
    """What steady-state replications at one MaxConcurrency measured (after the warm-up)."""

    percentiles_ms: list[float]
    share: ShareEstimate
    cold_start_fraction: float
    billed_ms: float

    @property
    def throttled_share(self) -> float:
        return self.share.share

    @property
    def meets(self) -> bool:
        """The throttled share surely meets MAX_THROTTLED (its interval lies within it)."""
        return self.share.verdict(MAX_THROTTLED) == MEETS


@dataclass(frozen=True)
class ServerlessOption:
    """One memory size at the target: its concurrency, cost, checked latency and throttling,
    or why it cannot serve the target (then ``reason`` and what was known before failing).

    ``law_concurrency`` is the sizing law's MaxConcurrency; ``max_concurrency`` the one the
    steady-state simulation accepted (larger when the law was optimistic).
    ``throttled_share_predicted`` is the law's share at ``max_concurrency``;
    ``throttled_share_steady`` the simulated one at steady state (warm start, warm-up cut);
    ``throttled_share_first_minute`` the simulated first minute from zero (all environments
    cold). ``first_minute_concurrency`` is the smallest MaxConcurrency whose simulated first
    minute from zero also meets the target (None if not even the platform's limit does)."""

    memory_mb: int
    max_concurrency: int | None
    cost_per_hour: float | None
    estimate: Estimate | None
    reason: str | None  # why it cannot serve the target
    law_concurrency: int | None = None
    first_minute_concurrency: int | None = None
    cold_start_fraction_predicted: float | None = None
    cold_start_fraction_steady: float | None = None
    throttled_share_predicted: float | None = None
    throttled_share_steady: float | None = None
    throttled_share_first_minute: float | None = None
    steady: ShareEstimate | None = None        # the steady share's interval and verdict at max_concurrency
    first_minute: ShareEstimate | None = None  # the first minute's, at max_concurrency

    @property
    def feasible(self) -> bool:
        return self.reason is None

    @property
    def throttled_share(self) -> float | None:
        """The steady-state throttled share (the name before the first-minute figure)."""
        return self.throttled_share_steady

    @classmethod
    def unfit(cls, memory_mb: int, reason: str) -> ServerlessOption:
        """A memory size ruled out before any simulation."""
        return cls(memory_mb=memory_mb, max_concurrency=None, cost_per_hour=None, estimate=None, reason=reason)


def open_run(section: ServerlessProfile, memory_mb: int, concurrency: int, rate_per_s: float, duration_s: float,
             warm_environments: int, seed: int) -> simulator.SimulationResult:
    """One run of the section at ``memory_mb`` and ``concurrency`` under Poisson arrivals."""
    endpoint = ServerlessEndpoint(section, ServerlessConfig(memory_mb=memory_mb, max_concurrency=concurrency),
                                  warm_environments=warm_environments)
    return simulator.run(RunSpec(endpoint=endpoint, traffic=PoissonArrivals.constant(rate_per_s, duration_s),
                                 seed=seed))


def steady_run(section: ServerlessProfile, memory_mb: int, concurrency: int, rate_per_s: float, percentile: float,
               replications: int, seed: int) -> SteadyRun:
    """Replications from a warm start (every environment warm, as on a long-running endpoint),
    from ``replications`` up to MAX_STEADY_REPLICATIONS until the throttled share's interval
    excludes MAX_THROTTLED (``optimizer.throttling``).

    Each replication measures at least MIN_REQUESTS requests. Idle environments are
    reclaimed after the idle timeout, so when twice the timeout fits in that span, the first
    2 x idle timeout (whole minutes) run before it and are not counted. A longer timeout is
    counted whole: the warm start then stands for the steady state's pool, which with many
    arrivals per timeout holds nearly every environment."""
    measured = max(FIRST_MINUTE_S, MIN_REQUESTS / rate_per_s)
    reach = 2.0 * section.idle_timeout_s
    warmup = FIRST_MINUTE_S * math.ceil(reach / FIRST_MINUTE_S) if reach <= measured else 0.0
    values, billed, colds, served = [], [], [], []

    def replicate(replication: int) -> tuple[int, int]:
        result = open_run(section, memory_mb, concurrency, rate_per_s, warmup + measured, concurrency,
                          seed_for("serverless", memory_mb, replication, seed))
        values.append(result.percentile_ms(percentile))
        billed.append(float(np.mean(np.ceil(result.service_ms - 1e-9))))
        kept = result.per_minute[result.per_minute["start_s"] >= warmup - 1e-9]
        throttled, done = int(kept["Invocation4XXErrors"].sum()), int(kept["Invocations"].sum())
        colds.append(int(kept["ColdStarts"].sum()))
        served.append(done)
        return throttled, done + throttled

    share = sequential_share(replicate, MAX_THROTTLED, replications, max(replications, MAX_STEADY_REPLICATIONS))
    return SteadyRun(percentiles_ms=values, share=share, cold_start_fraction=sum(colds) / max(1, sum(served)),
                     billed_ms=float(np.mean(billed)))


def first_minute_share(section: ServerlessProfile, memory_mb: int, concurrency: int, rate_per_s: float,
                       seed: int) -> ShareEstimate:
    """The throttled share of the first minute from zero (no environment warm): one-minute
    replications from FIRST_MINUTE_REQUESTS arrivals (at least 2) up to FIRST_MINUTE_BUDGET,
    until its interval excludes MAX_THROTTLED: enough arrivals to judge a 0.1 % share."""
    per_run = FIRST_MINUTE_S * rate_per_s
    first = min(MAX_FIRST_MINUTE_REPLICATIONS, max(2, math.ceil(FIRST_MINUTE_REQUESTS / per_run)))
    most = min(MAX_FIRST_MINUTE_REPLICATIONS, max(first, math.ceil(FIRST_MINUTE_BUDGET / per_run)))

    def replicate(replication: int) -> tuple[int, int]:
        result = open_run(section, memory_mb, concurrency, rate_per_s, FIRST_MINUTE_S, 0,
                          seed_for("serverless-first-minute", memory_mb, replication, seed))
        return result.throttled, result.issued

    return sequential_share(replicate, MAX_THROTTLED, first, most)


def first_minute_concurrency(section: ServerlessProfile, memory_mb: int, rate_per_s: float, lowest: int,
                             seed: int) -> int | None:
    """The smallest MaxConcurrency from ``lowest`` up whose simulated first minute from zero
    surely throttles at most MAX_THROTTLED (too close to call does not pass): a bisection
    (the same seeds at every concurrency) below the all-cold law's answer
    (``cold_concurrency``), which bounds it."""
    service_s = section.service_at(memory_mb).mean_ms / 1000.0
    bound = cold_concurrency(rate_per_s, service_s, section.model_setup_time.mean_ms / 1000.0)
    high = max(lowest, min(bound or MAX_CONCURRENCY, MAX_CONCURRENCY))

    def meets(concurrency: int) -> bool:
        return first_minute_share(section, memory_mb, concurrency, rate_per_s, seed).verdict(MAX_THROTTLED) == MEETS

    while not meets(high):
        if high >= MAX_CONCURRENCY:
            return None
        lowest, high = high + 1, min(MAX_CONCURRENCY, 2 * high)
    while lowest < high:
        middle = (lowest + high) // 2
        if meets(middle):
            high = middle
        else:
            lowest = middle + 1
    return high


def steady_concurrency(section: ServerlessProfile, memory_mb: int, rate_per_s: float, percentile: float,
                       law: int, replications: int, seed: int) -> tuple[int, SteadyRun]:
    """The smallest MaxConcurrency whose simulated steady state surely throttles at most
    MAX_THROTTLED, searched from the law's answer (down while the one below meets, up until
    one meets), at most MAX_RAISES away; the same seeds at every concurrency."""
    def run(concurrency: int) -> SteadyRun:
        return steady_run(section, memory_mb, concurrency, rate_per_s, percentile, replications, seed)

    concurrency, steady = law, run(law)
    if steady.meets:
        while concurrency > max(1, law - MAX_RAISES):
            below = run(concurrency - 1)
            if not below.meets:
                break
            concurrency, steady = concurrency - 1, below
        return concurrency, steady
    while not steady.meets and concurrency < min(MAX_CONCURRENCY, law + MAX_RAISES):
        concurrency += 1
        steady = run(concurrency)
    return concurrency, steady


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
        options.append(_option(section, memory, rate_per_s, percentile, slo_ms, cost_per_inference,
                               replications, seed))
    return options


def _option(section: ServerlessProfile, memory: int, rate_per_s: float, percentile: float, slo_ms: float,
            cost_per_inference: Callable[[int, float], float], replications: int, seed: int) -> ServerlessOption:
    """One memory size: the smallest MaxConcurrency whose steady state surely meets the
    throttling target in simulation (searched from the law's answer); then the first minute
    from zero, and the concurrency that would keep it within the target too."""
    service_s = section.service_at(memory).mean_ms / 1000.0
    setup_s = section.model_setup_time.mean_ms / 1000.0
    timeout = section.idle_timeout_s
    law = smallest_concurrency(rate_per_s, service_s, setup_s, timeout)
    if law is None:
        return ServerlessOption.unfit(memory, f"more than {MAX_CONCURRENCY} concurrent environments would be needed")
    concurrency, steady = steady_concurrency(section, memory, rate_per_s, percentile, law, replications, seed)
    checked = estimate(steady.percentiles_ms, [0.0] * len(steady.percentiles_ms))
    reason = None
    if not checked.meets(slo_ms):
        reason = f"P{percentile:g} {checked.percentile_ms:.1f} ms (up to {checked.high_ms:.1f}) > {slo_ms:g} ms"
    elif not steady.meets:
        reason = (f"{steady.throttled_share:.2%} of requests throttled at steady state (interval "
                  f"{steady.share.low:.2%} to {steady.share.high:.2%}): not surely within {MAX_THROTTLED:.1%}")
    first_minute = first_minute_share(section, memory, concurrency, rate_per_s, seed)
    return ServerlessOption(
        memory_mb=memory, max_concurrency=concurrency, law_concurrency=law,
        cost_per_hour=cost_per_inference(memory, steady.billed_ms) * rate_per_s * 3600, estimate=checked,
        reason=reason,
        cold_start_fraction_predicted=cold_start_fraction(rate_per_s, service_s, setup_s, timeout, concurrency),
        cold_start_fraction_steady=steady.cold_start_fraction,
        throttled_share_predicted=serverless_blocking(rate_per_s, service_s, setup_s, timeout, concurrency),
        throttled_share_steady=steady.throttled_share, throttled_share_first_minute=first_minute.share,
        steady=steady.share, first_minute=first_minute,
        first_minute_concurrency=concurrency if first_minute.verdict(MAX_THROTTLED) == MEETS else
        first_minute_concurrency(section, memory, rate_per_s, concurrency + 1, seed))
