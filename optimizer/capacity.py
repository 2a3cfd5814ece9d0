"""How many instances of one type serve a target rate within a latency percentile.

An analytic pre-screen (M/M/c with Erlang C; Allen-Cunneen for the profile's cv) gives the
first count to try; seeded simulation then decides each count by a sequential rule
(:func:`sequential_estimate`): replications as long as the queue's relaxation time and the
percentile ask, their warm-up cut (two relaxation times, more when MSER-5 finds a longer low
opening), a batch-means interval on the percentile (``optimizer.statistics``), and more
replications until that interval excludes the SLO or is within +-1 %. A count still
undecided then is judged by its point estimate with a 5 % margin (it passes only that far
under the SLO), and says so. Every count and type is simulated with the same seed per
replication (common random numbers), so comparisons between them are paired. With random
routing each instance receives an independent Poisson stream at rate / count, so one instance
simulated at that rate stands for the endpoint.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

import simulator
from optimizer.statistics import (
    MAX_REQUESTS,
    MIN_REQUESTS,
    RELAXATIONS,
    ladder_requests,
    quantile_interval,
    relaxation_requests,
    run_requests,
    warmup_cut,
)
from simulator import InstanceEndpoint, PoissonArrivals, RunSpec
from simulator.analytic import allen_cunneen_quantile_ms
from simulator.distributions import Distribution, quantile_ms
from simulator.errors import InputError
from simulator.profiles import InstanceProfile

__all__ = ["MIN_REQUESTS", "CountDecision", "Estimate", "Run", "Sampling", "estimate", "seed_for",
           "sequential_estimate", "simulate_instance", "smallest_count"]

MAX_COUNT = 1000
MAX_REPLICATIONS = 10

#: How an Estimate's verdict on its SLO was reached.
BY_INTERVAL = "interval"    # the 95 % interval lay wholly on one side of the SLO
BY_PRECISION = "precision"  # the interval reached the relative precision with the SLO inside it
BY_BUDGET = "budget"        # the replication budget ran out with the SLO inside the interval


@dataclass(frozen=True)
class Estimate:
    """A latency percentile from seeded replications, with its 95 % confidence interval,
    and how a verdict on the SLO it was sampled for was reached (``decided_by``)."""

    percentile_ms: float
    low_ms: float
    high_ms: float
    replications: int
    utilization: float  # busy workers / workers, per instance
    throughput_per_s: float = math.nan  # what a closed population achieved (NaN for open traffic)
    required_per_s: float = 0.0          # ... and what it had to reach
    decided_by: str = BY_INTERVAL
    margin: float = 0.0                  # relative margin a point-estimate verdict must clear
    batches: int = 0                     # batch quantiles behind the interval (0: replications)
    requests: int = 0                    # simulated requests kept after the warm-up cuts

    @property
    def by_point_estimate(self) -> bool:
        """Whether the SLO lay inside the interval, so the point estimate decided."""
        return self.decided_by != BY_INTERVAL

    def meets(self, slo_ms: float) -> bool:
        """Whether the percentile meets ``slo_ms`` (and a closed population reached the
        target rate, within 1 %): the interval's upper end is within the SLO; or, when the
        sequential rule ended with the SLO inside the interval, the point estimate is
        within it by the margin."""
        reached = math.isnan(self.throughput_per_s) or self.throughput_per_s >= 0.99 * self.required_per_s
        if not reached or math.isinf(self.percentile_ms):
            return False
        if self.high_ms <= slo_ms:
            return True
        if self.low_ms > slo_ms or not self.by_point_estimate:
            return False
        return self.percentile_ms * (1.0 + self.margin) <= slo_ms

    def verdict(self, slo_ms: float) -> str:
        """The verdict in words, for explanations."""
        passes = "meets" if self.meets(slo_ms) else "misses"
        if self.decided_by == BY_INTERVAL or not self.low_ms <= slo_ms < self.high_ms:
            return f"{passes} the {slo_ms:g} ms SLO with 95 % confidence"
        why = ("the interval reached its precision" if self.decided_by == BY_PRECISION
               else f"the budget of {self.replications} replications was spent")
        return (f"{passes} the {slo_ms:g} ms SLO by its point estimate {self.percentile_ms:.2f} ms with a "
                f"{self.margin:.0%} margin: {why} with the SLO still inside the 95 % interval "
                f"[{self.low_ms:.2f}, {self.high_ms:.2f}] ms")


@dataclass(frozen=True)
class Sampling:
    """The sequential rule's settings: replications first run and at most, batches per
    replication, the relative precision that ends sampling, the margin a point-estimate
    verdict must clear, and each replication's length (floor, relaxation times, cap)."""

    min_replications: int = 3
    max_replications: int = MAX_REPLICATIONS
    batches_per_replication: int = 8
    precision: float = 0.01
    margin: float = 0.05
    confidence: float = 0.95
    floor_requests: int = MIN_REQUESTS
    relaxations: float = RELAXATIONS
    max_requests: int = MAX_REQUESTS

    def __post_init__(self) -> None:
        if not 1 <= self.min_replications <= self.max_replications:
            raise InputError("replications", f"need 1 <= first stage ({self.min_replications}) <= budget "
                                             f"({self.max_replications})")

    @classmethod
    def starting_with(cls, replications: int) -> Sampling:
        """The default rule with ``replications`` in the first stage."""
        return cls(min_replications=replications, max_replications=max(replications, MAX_REPLICATIONS))

    def requests(self, rate_per_s: float, workers: int, mean_service_s: float, percentile: float) -> int:
        """Requests in one replication of one instance at this rate, for this percentile."""
        return run_requests(rate_per_s, workers, mean_service_s, percentile, floor=self.floor_requests,
                            relaxations=self.relaxations, cap=self.max_requests)

    def pooled_requests(self, requests_per_relaxation: float, percentile: float) -> int:
        """Requests in one replication of a whole endpoint that receives this many requests per
        relaxation time of its slowest instances (at most twice one instance's cap)."""
        return ladder_requests(requests_per_relaxation, percentile, floor=self.floor_requests,
                               relaxations=self.relaxations, cap=2 * self.max_requests)


@dataclass(frozen=True)
class Run:
    """One replication as the statistics see it: latencies in completion order."""

    latency_ms: np.ndarray = field(repr=False)
    utilization: float
    relaxation_requests: float  # completions in one relaxation time (how much warm-up to cut)
    throughput_per_s: float = math.nan


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


def sequential_estimate(replicate: Callable[[int], Run], percentile: float, slo_ms: float,
                        sampling: Sampling) -> Estimate:
    """Replications ``replicate(0), replicate(1), ...`` until the percentile's interval
    excludes ``slo_ms`` or reaches the relative precision, or the budget is spent. Each
    run's warm-up is cut (two relaxation times, or more by MSER-5); the interval comes from
    batch means over every kept batch (``quantile_interval``)."""
    kept: list[np.ndarray] = []
    utilizations: list[float] = []
    throughputs: list[float] = []
    decided_by = BY_BUDGET
    for replication in range(sampling.max_replications):
        run = replicate(replication)
        kept.append(run.latency_ms[warmup_cut(run.latency_ms, run.relaxation_requests):])
        utilizations.append(run.utilization)
        throughputs.append(run.throughput_per_s)
        if replication + 1 < sampling.min_replications:
            continue
        interval = quantile_interval(kept, percentile, sampling.batches_per_replication, sampling.confidence)
        if interval.high <= slo_ms or interval.low > slo_ms:
            decided_by = BY_INTERVAL
            break
        if interval.half_width <= sampling.precision * interval.point:
            decided_by = BY_PRECISION
            break
    return Estimate(percentile_ms=interval.point, low_ms=interval.low, high_ms=interval.high,
                    replications=len(kept), utilization=float(np.mean(utilizations)),
                    throughput_per_s=float(np.mean(throughputs)), decided_by=decided_by,
                    margin=sampling.margin, batches=interval.batches, requests=interval.kept)


def simulate_instance(entry: InstanceProfile, overhead: Distribution | None, rate_per_s: float,
                      percentile: float, slo_ms: float, sampling: Sampling, seed: int) -> Estimate:
    """One instance under Poisson arrivals at ``rate_per_s``, decided sequentially. Every
    rate runs replication r from the same seed, and rates whose runs have the same number of
    requests see the very same arrivals scaled in time (common random numbers)."""
    mean_s = entry.service_time.mean_ms / 1000.0
    utilization = rate_per_s * mean_s / entry.workers
    if utilization >= 1.0:
        return unstable_estimate(utilization)
    duration = sampling.requests(rate_per_s, entry.workers, mean_s, percentile) / rate_per_s
    relaxation = relaxation_requests(rate_per_s, entry.workers, mean_s)
    endpoint, traffic = InstanceEndpoint(entry), PoissonArrivals.constant(rate_per_s, duration)

    def replicate(replication: int) -> Run:
        result = simulator.run(RunSpec(endpoint=endpoint, traffic=traffic, overhead=overhead,
                                       seed=replication_seed(seed, replication)))
        return Run(latency_ms=result.latency_ms, relaxation_requests=relaxation,
                   utilization=float(result.service_ms.sum()) / 1000.0 / duration / entry.workers)

    return sequential_estimate(replicate, percentile, slo_ms, sampling)


def smallest_count(entry: InstanceProfile, rate_per_s: float, percentile: float, slo_ms: float,
                   evaluate: Callable[[int], Estimate], max_count: int = MAX_COUNT) -> CountDecision:
    """The smallest count whose ``evaluate(count)`` meets the SLO (``Estimate.meets``).

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
                             simulations=search.replications, naive_simulations=search.naive(max_count - stable + 1),
                             analytic_count=guess)
    ok = search.bisect(*bracket)
    return CountDecision(instance_type=entry.instance_type, count=ok, estimate=search.results[ok], reason=None,
                         simulations=search.replications, naive_simulations=search.naive(ok - stable + 1),
                         analytic_count=guess)


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
