"""How many instances of one type serve a target rate within a latency percentile.

An analytic pre-screen (M/M/c with Erlang C; Allen-Cunneen for the profile's cv) gives the
first count to try; seeded simulation replications then decide the smallest count whose
percentile meets the SLO with 95 % confidence. With random routing each instance receives
an independent Poisson stream at rate / count, so one instance simulated at that rate
stands for the endpoint.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from simulator import Profile, simulate
from simulator.analytic import erlang_c
from simulator.distributions import Distribution, quantile_ms
from simulator.profiles import InstanceProfile

MIN_REQUESTS = 20_000      # per replication, so the percentile is well estimated
MIN_DURATION_S = 20.0
MAX_DURATION_S = 900.0
MAX_COUNT = 1000


@dataclass(frozen=True)
class Estimate:
    """A latency percentile from seeded replications, with its 95 % confidence interval."""

    percentile_ms: float
    low_ms: float
    high_ms: float
    replications: int
    utilization: float  # busy workers / workers, per instance
    throughput_per_s: float = math.nan  # what a closed population achieved (NaN for open traffic)
    required_per_s: float = 0.0          # ... and what it had to reach

    def meets(self, slo_ms: float) -> bool:
        """With confidence: the interval's upper end is within the SLO (and a closed population
        reached the target rate, within 1 %)."""
        reached = math.isnan(self.throughput_per_s) or self.throughput_per_s >= 0.99 * self.required_per_s
        return self.high_ms <= slo_ms and reached


@dataclass(frozen=True)
class CountDecision:
    """The smallest count of one type that meets the SLO, and what it took to decide."""

    instance_type: str
    count: int | None
    estimate: Estimate | None
    reason: str | None  # why the type is infeasible
    simulations: int
    naive_simulations: int  # what a linear search from the stability bound would have run
    analytic_count: int | None


def seed_for(*parts: object) -> int:
    """A stable seed from the parts (type, count, replication, base seed)."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:4], "big")


def service_quantile_ms(service: Distribution, q: float) -> float:
    """The q-quantile of the service time alone (the latency with no queueing)."""
    if service.family == "deterministic":
        return service.mean_ms
    if service.family == "empirical":
        return float(np.quantile(np.asarray(service.samples_ms), q))
    return quantile_ms(service.family, service.mean_ms, service.cv, q)


def approximate_quantile_ms(rate_per_s: float, workers: int, service: Distribution, q: float) -> float:
    """Pre-screen: the M/M/c response-time quantile with the waiting part scaled by
    Allen-Cunneen's (1 + cv^2) / 2 and the service part taken from the service law."""
    mean_s = service.mean_ms / 1000.0
    load = rate_per_s * mean_s
    if load >= workers:
        return math.inf
    waiting = erlang_c(workers, load)
    theta = workers / mean_s - rate_per_s
    scale = (1.0 + service.cv ** 2) / 2.0
    # P(W > w) = C exp(-theta w / scale); the q-quantile of W+S is bounded by splitting the tail.
    tail = 1.0 - q
    wait_q = 0.0 if waiting <= tail / 2 else scale * math.log(waiting / (tail / 2)) / theta
    return wait_q * 1000.0 + service_quantile_ms(service, 1.0 - tail / 2)


def analytic_count(rate_per_s: float, entry: InstanceProfile, q: float, slo_ms: float) -> int | None:
    """The smallest count the pre-screen expects to meet the SLO (None if none up to MAX_COUNT)."""
    stable = stability_count(rate_per_s, entry)
    for count in range(stable, MAX_COUNT + 1):
        if approximate_quantile_ms(rate_per_s / count, entry.workers, entry.service_time, q) <= slo_ms:
            return count
    return None


def stability_count(rate_per_s: float, entry: InstanceProfile) -> int:
    """The fewest instances that keep utilization below 1."""
    return max(1, math.floor(rate_per_s * entry.service_time.mean_ms / 1000.0 / entry.workers) + 1)


def estimate(samples_ms: list[float], utilizations: list[float]) -> Estimate:
    """The mean of the replications' percentiles with its 95 % Student-t interval."""
    values = np.asarray(samples_ms)
    mean = float(values.mean())
    if len(values) > 1:
        half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    else:
        half = 0.0
    return Estimate(percentile_ms=mean, low_ms=mean - half, high_ms=mean + half, replications=len(values),
                    utilization=float(np.mean(utilizations)))


def simulate_instance(entry: InstanceProfile, overhead: Distribution | None, rate_per_s: float,
                      percentile: float, replications: int, seed: int) -> Estimate:
    """One instance under Poisson arrivals at ``rate_per_s``: the percentile over replications."""
    profile = Profile("capacity", {entry.instance_type: entry}, overhead=overhead)
    duration = min(MAX_DURATION_S, max(MIN_DURATION_S, MIN_REQUESTS / rate_per_s))
    values, utilizations = [], []
    for replication in range(replications):
        result = simulate(profile, entry.instance_type, arrival_rate_per_s=rate_per_s, duration_s=duration,
                          seed=seed_for(entry.instance_type, rate_per_s, replication, seed))
        values.append(result.percentile_ms(percentile))
        utilizations.append(result.service_ms.sum() / 1000.0 / duration / entry.workers)
    return estimate(values, utilizations)


def smallest_count(entry: InstanceProfile, rate_per_s: float, percentile: float, slo_ms: float,
                   evaluate: Callable[[int], Estimate], max_count: int = MAX_COUNT) -> CountDecision:
    """The smallest count whose ``evaluate(count)`` meets the SLO with confidence.

    Starts at the analytic count, gallops down while it passes (or up until it does), then
    bisects: the percentile falls as instances are added, so the boundary is unique.
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
                             simulations=len(search.results), naive_simulations=max_count - stable + 1,
                             analytic_count=guess)
    ok = search.bisect(*bracket)
    return CountDecision(instance_type=entry.instance_type, count=ok, estimate=search.results[ok], reason=None,
                         simulations=len(search.results), naive_simulations=ok - stable + 1, analytic_count=guess)


class _CountProbe:
    """Evaluates counts once each (remembering the estimates) and brackets the smallest
    passing count: the percentile falls as instances are added."""

    def __init__(self, evaluate: Callable[[int], Estimate], slo_ms: float):
        self.evaluate = evaluate
        self.slo_ms = slo_ms
        self.results: dict[int, Estimate] = {}

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
