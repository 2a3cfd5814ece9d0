"""How many instances of one type serve a target rate within a latency percentile.

An analytic pre-screen (M/M/c with Erlang C; Allen-Cunneen for the profile's cv) gives the
first count to try; seeded simulation then decides each count by the sequential rule of
``optimizer.verdict``: replications as long as the queue's relaxation time and the
percentile ask, their warm-up cut, a batch-means interval on the percentile
(``optimizer.statistics``), more replications in at most four looks until that interval
excludes the SLO, reaches the precision or spends the budget. A count meets, misses, or is
too close to call; only a count that meets is passed (the answer stays conservative), and
the decision records the verdict on the next count down.

Common random numbers: every count is simulated with the same seed per replication, and the
counts from two below the M/M/c answer up run the same number of requests, so K and K - 1
there see the very same arrivals (scaled in time) and service times, request by request.
With exponential service (the instance is then exactly M/M/c) the exact mean response time
and waiting probability are control variates. With random routing each instance receives an
independent Poisson stream at rate / count, so one instance at that rate stands for the endpoint.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

import simulator
from optimizer.statistics import MIN_REQUESTS, relaxation_requests
from optimizer.verdict import (
    BY_BUDGET,
    BY_INTERVAL,
    BY_PRECISION,
    MEETS,
    MISSES,
    TOO_CLOSE,
    Estimate,
    Run,
    Sampling,
    sequential_estimate,
)
from simulator import InstanceEndpoint, PoissonArrivals, RunSpec
from simulator.analytic import allen_cunneen_quantile_ms, erlang_c, mmc_mean_response_s, mmc_response_quantile
from simulator.distributions import Distribution, quantile_ms
from simulator.profiles import InstanceProfile

__all__ = ["BY_BUDGET", "BY_INTERVAL", "BY_PRECISION", "MEETS", "MIN_REQUESTS", "MISSES", "TOO_CLOSE",
           "CountDecision", "Estimate", "Run", "Sampling", "estimate", "seed_for", "sequential_estimate",
           "simulate_instance", "smallest_count"]

MAX_COUNT = 1000


@dataclass(frozen=True)
class CountDecision:
    """The smallest count of one type that meets the SLO, and what it took to decide."""

    instance_type: str
    count: int | None
    estimate: Estimate | None
    reason: str | None  # why the type is infeasible
    simulations: int        # simulation runs (replications over every count evaluated)
    naive_simulations: int  # what a linear search from the stability bound would have run
    analytic_count: int | None
    next_down: Estimate | None = None  # the verdict's evidence on count - 1 (None: unstable or never simulated)

    def next_down_verdict(self, slo_ms: float) -> str | None:
        """The verdict on the count one below the answer (``misses`` when it is unstable)."""
        if self.count is None or self.count <= 1:
            return None
        return MISSES if self.next_down is None else self.next_down.verdict(slo_ms)


def seed_for(*parts: object) -> int:
    """A stable seed from the parts (e.g. a purpose, the base seed, the replication)."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:4], "big")


def replication_seed(seed: int, replication: int) -> int:
    """The seed of one replication: the same for every count and type (common random numbers)."""
    return seed_for("crn", seed, replication)


def service_quantile_ms(service: Distribution, q: float) -> float:
    """The q-quantile of the service time alone (the latency with no queueing)."""
    if service.family == "deterministic":
        return service.mean_ms
    if service.family == "empirical":
        return float(np.quantile(np.asarray(service.samples_ms), q))
    return quantile_ms(service.family, service.mean_ms, service.cv, q)


def approximate_quantile_ms(rate_per_s: float, workers: int, service: Distribution, q: float) -> float:
    """Pre-screen: the Allen-Cunneen-scaled M/M/c quantile, the service part from the service law."""
    return allen_cunneen_quantile_ms(rate_per_s, workers, service.mean_ms, service.cv, q,
                                     lambda level: service_quantile_ms(service, level))


def analytic_count(rate_per_s: float, entry: InstanceProfile, q: float, slo_ms: float) -> int | None:
    """The smallest count the pre-screen expects to meet the SLO (None if none up to MAX_COUNT)."""
    stable = stability_count(rate_per_s, entry)
    for count in range(stable, MAX_COUNT + 1):
        if approximate_quantile_ms(rate_per_s / count, entry.workers, entry.service_time, q) <= slo_ms:
            return count
    return None


def mmc_count(rate_per_s: float, entry: InstanceProfile, q: float, slo_ms: float) -> int:
    """The smallest count whose instances would meet the SLO were the service exponential with
    the same mean (exact M/M/c; MAX_COUNT if none): where the boundary lies, roughly."""
    mean_s = entry.service_time.mean_ms / 1000.0
    for count in range(stability_count(rate_per_s, entry), MAX_COUNT + 1):
        if mmc_response_quantile(q, rate_per_s / count, entry.workers, mean_s) * 1000.0 <= slo_ms:
            return count
    return MAX_COUNT


def stability_count(rate_per_s: float, entry: InstanceProfile) -> int:
    """The fewest instances that keep utilization below 1."""
    return max(1, math.floor(rate_per_s * entry.service_time.mean_ms / 1000.0 / entry.workers) + 1)


def estimate(samples_ms: list[float], utilizations: list[float]) -> Estimate:
    """The mean of independent replications' percentiles with its 95 % Student-t interval."""
    values = np.asarray(samples_ms)
    mean = float(values.mean())
    if len(values) > 1:
        half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    else:
        half = 0.0
    return Estimate(percentile_ms=mean, low_ms=mean - half, high_ms=mean + half, replications=len(values),
                    utilization=float(np.mean(utilizations)))


def unstable_estimate(utilization: float) -> Estimate:
    """A load at or beyond capacity: the queue grows without bound, no SLO is met."""
    return Estimate(percentile_ms=math.inf, low_ms=math.inf, high_ms=math.inf, replications=0,
                    utilization=utilization)


def mmc_controls(entry: InstanceProfile, rate_per_s: float) -> tuple[float, ...]:
    """The exact means of the control variates (mean response in ms, waiting probability)
    when one instance at this rate is exactly M/M/c: exponential service; else none."""
    service = entry.service_time
    if service.family != "exponential":
        return ()
    mean_s = service.mean_ms / 1000.0
    return (mmc_mean_response_s(rate_per_s, entry.workers, mean_s) * 1000.0,
            erlang_c(entry.workers, rate_per_s * mean_s))


def control_observations(latency_ms: np.ndarray, service_ms: np.ndarray) -> np.ndarray:
    """Per request: its latency and whether it waited (latency beyond its service time)."""
    return np.column_stack([latency_ms, (latency_ms - service_ms > 1e-9).astype(float)])


def simulate_instance(entry: InstanceProfile, overhead: Distribution | None, rate_per_s: float,
                      percentile: float, slo_ms: float, sampling: Sampling, seed: int,
                      requests: int | None = None) -> Estimate:
    """One instance under Poisson arrivals at ``rate_per_s``, decided sequentially. Every
    rate runs replication r from the same seed, and rates whose runs have the same number of
    ``requests`` (default: the rate's own run length) see the very same arrivals scaled in
    time and the same service times in the same order (common random numbers)."""
    mean_s = entry.service_time.mean_ms / 1000.0
    utilization = rate_per_s * mean_s / entry.workers
    if utilization >= 1.0:
        return unstable_estimate(utilization)
    length = requests or sampling.requests(rate_per_s, entry.workers, mean_s, percentile)
    duration = length / rate_per_s
    relaxation = relaxation_requests(rate_per_s, entry.workers, mean_s)
    endpoint, traffic = InstanceEndpoint(entry), PoissonArrivals.constant(rate_per_s, duration)
    means = mmc_controls(entry, rate_per_s)

    def replicate(replication: int) -> Run:
        result = simulator.run(RunSpec(endpoint=endpoint, traffic=traffic, overhead=overhead,
                                       seed=replication_seed(seed, replication)))
        return Run(latency_ms=result.latency_ms, relaxation_requests=relaxation,
                   utilization=float(result.service_ms.sum()) / 1000.0 / duration / entry.workers,
                   controls=control_observations(result.latency_ms, result.service_ms) if means else None,
                   control_means=means)

    return sequential_estimate(replicate, percentile, slo_ms, sampling)


def smallest_count(entry: InstanceProfile, rate_per_s: float, percentile: float, slo_ms: float,
                   evaluate: Callable[[int], Estimate], max_count: int = MAX_COUNT) -> CountDecision:
    """The smallest count whose ``evaluate(count)`` meets the SLO (``Estimate.meets``).

    Starts at the analytic count, gallops down while it passes (or up until it does), then
    bisects: the percentile falls as instances are added, so the boundary is unique. A count
    too close to call does not pass (the answer is the smallest count that surely meets), and
    the count below the answer has always been evaluated (or is unstable): ``next_down``.
    """
    q = percentile / 100.0
    alone = service_quantile_ms(entry.service_time, q)
    stable = stability_count(rate_per_s, entry)
    if alone > slo_ms:
        reason = f"its service time alone has P{percentile:g} {alone:.1f} ms > the {slo_ms:g} ms SLO"
        return CountDecision(instance_type=entry.instance_type, count=None, estimate=None, reason=reason,
                             simulations=0, naive_simulations=0, analytic_count=None)
    guess = analytic_count(rate_per_s, entry, q, slo_ms)
    start = min(max(guess or stable, stable), max_count)
    search = _CountProbe(evaluate, slo_ms)
    # Galloping then bisection: O(log n) simulations even when the proposal is far off.
    bracket = search.gallop_down(start, stable - 1) if search.passes(start) else search.gallop_up(start, max_count)
    if bracket is None:
        return CountDecision(instance_type=entry.instance_type, count=None, estimate=search.results[max_count],
                             reason=f"more than {max_count} instances would be needed",
                             simulations=search.replications, naive_simulations=search.naive(max_count - stable + 1),
                             analytic_count=guess)
    ok = search.bisect(*bracket)
    return CountDecision(instance_type=entry.instance_type, count=ok, estimate=search.results[ok], reason=None,
                         simulations=search.replications, naive_simulations=search.naive(ok - stable + 1),
                         analytic_count=guess, next_down=search.results.get(ok - 1))


class _CountProbe:
    """Evaluates counts once each (remembering the estimates) and brackets the smallest
    passing count: the percentile falls as instances are added."""

    def __init__(self, evaluate: Callable[[int], Estimate], slo_ms: float):
        self.evaluate = evaluate
        self.slo_ms = slo_ms
        self.results: dict[int, Estimate] = {}

    @property
    def replications(self) -> int:
        """Simulation runs so far (an estimate without replications, e.g. an unstable count, ran none)."""
        return sum(e.replications for e in self.results.values())

    def naive(self, counts: int) -> int:
        """What evaluating ``counts`` counts would cost at this search's replications per count."""
        per_count = self.replications / max(1, len(self.results))
        return round(counts * max(1.0, per_count))

    def passes(self, count: int) -> bool:
        if count not in self.results:
            self.results[count] = self.evaluate(count)
        return self.results[count].meets(self.slo_ms)

    def gallop_down(self, ok: int, fail: int) -> tuple[int, int]:
        """From a passing ``ok``, step down by doubling strides while counts pass (never to
        ``fail`` or below, which is known to fail): the (fail, ok) bracket."""
        step = 1
        while ok - step > fail and self.passes(ok - step):
            ok -= step
            step *= 2
        return max(fail, ok - step), ok

    def gallop_up(self, fail: int, max_count: int) -> tuple[int, int] | None:
        """From a failing ``fail``, step up by doubling strides until a count passes: the
        (fail, ok) bracket, or None when even ``max_count`` fails."""
        step = 1
        while True:
            probe = min(fail + step, max_count)
            if self.passes(probe):
                return fail, probe
            if probe == max_count:
                return None
            fail, step = probe, step * 2

    def bisect(self, fail: int, ok: int) -> int:
        """The smallest passing count in (fail, ok]: fail fails (or is below the stable count), ok passes."""
        while ok - fail > 1:
            middle = (fail + ok) // 2
            if self.passes(middle):
                ok = middle
            else:
                fail = middle
        return ok
