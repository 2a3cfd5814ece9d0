"""Issue 22 item 2: would a sequential test on the difference between K and K - 1 save
simulated requests? Measured on the near-boundary cases of decisions_near_boundary.py whose
hard count runs at rho 0.85 to 0.97 (exact M/M/c: exponential service, random routing), the
hard count's exact percentile 5 % from the SLO.

For each case and seed the boundary pair (K* - 1, K*) is decided three ways on the very same
replications (replication r of both counts from the same seed and of the same length, as
``optimizer.plan.count_evaluator`` runs them: common random numbers):

1. **current**: each count by its own sequential rule (``optimizer.verdict.sequential_estimate``,
   with the exact M/M/c control variates), as the search decides them. The pair is right when
   K* meets and K* - 1 does not.
2. **difference**: a sequential test on the paired per-batch difference of the two counts'
   fractions at or below the SLO, D_b = F_b(K*) - F_b(K* - 1) (both runs cut at the later of
   their warm-up cuts, 8 aligned batches a replication), regressed on both counts' control
   variates, at the same looks and per-look level (4 looks, 98.75 %, 3 replications first,
   32 at most): replications until its interval excludes 0. It tells the two counts apart;
   it does not say on which side of the SLO either lies.
Pairs whose K* - 1 is unstable are left out (the rule judges them without simulating).

3. **what pairing could buy at best**: the correlation rho_F between the two counts' batch
   fractions at the SLO (plain, and of the residuals once each is regressed on its own
   controls). Any estimator of one count's fraction that borrows from its paired partner
   (a regression on the partner's batch fractions, the partner run longer) has at least
   1 - rho_F^2 of its variance, so it saves at most rho_F^2 of that count's requests.

Usage: ``.venv/bin/python experiments/paired_difference.py [--repeats 10]`` (one process).
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from decisions_near_boundary import SEARCH_GRID, TYPE, Case, boundary, profile_for, rate_text
from scipy import stats

import simulator
from optimizer import Target
from optimizer.capacity import MEETS, Run, control_observations, mmc_controls, replication_seed
from optimizer.evaluate import sampling_for, shared_requests
from optimizer.statistics import relaxation_requests, warmup_cut
from optimizer.verdict import Sampling, next_look, sequential_estimate
from simulator import InstanceEndpoint, PoissonArrivals, RunSpec

SERVICE_S = 0.010
BATCHES = 8


@dataclass(frozen=True)
class Replica:
    """One replication of one count: latencies and service times (ms) in completion order."""

    latency_ms: np.ndarray
    service_ms: np.ndarray
    utilization: float


def runner(case: Case, count: int, requests: int, seed: int) -> Callable[[int], Replica]:
    """Replication r of ``count`` instances' one instance, memoized (both procedures read the same runs)."""
    entry = profile_for(case.workers).instance(TYPE)
    rate = case.rate_per_s / count
    duration = requests / rate
    spec_of = functools.partial(RunSpec, endpoint=InstanceEndpoint(entry),
                                traffic=PoissonArrivals.constant(rate, duration))

    @functools.cache
    def replica(replication: int) -> Replica:
        result = simulator.run(spec_of(seed=replication_seed(seed, replication)))
        busy = float(result.service_ms.sum()) / 1000.0 / duration / entry.workers
        return Replica(result.latency_ms, result.service_ms, busy)

    return replica


def as_run(replica: Replica, case: Case, count: int) -> Run:
    """The replica as the sequential rule reads it (count_evaluator's Run, controls included)."""
    rate = case.rate_per_s / count
    entry = profile_for(case.workers).instance(TYPE)
    return Run(latency_ms=replica.latency_ms, utilization=replica.utilization,
               relaxation_requests=relaxation_requests(rate, case.workers, SERVICE_S),
               controls=control_observations(replica.latency_ms, replica.service_ms),
               control_means=mmc_controls(entry, rate))


def paired_batches(case: Case, count: int, a: Replica, b: Replica) -> np.ndarray:
    """Per aligned batch of one replication pair (count, count - 1): the fraction at or below the
    SLO and the two controls' deviations from their exact means, for each count (B x 6)."""
    rows = []
    for replica, k in ((a, count), (b, count - 1)):
        rate = case.rate_per_s / k
        rows.append((replica, warmup_cut(replica.latency_ms, relaxation_requests(rate, case.workers, SERVICE_S)),
                     mmc_controls(profile_for(case.workers).instance(TYPE), rate)))
    cut = max(cut for _, cut, _ in rows)
    n = min(r.latency_ms.size for r, _, _ in rows) - cut
    columns = []
    for replica, _, means in rows:
        latency = replica.latency_ms[cut:cut + n]
        controls = control_observations(latency, replica.service_ms[cut:cut + n]) - np.asarray(means)
        pieces = np.array_split(np.arange(n), BATCHES)
        columns.append(np.array([[np.mean(latency[i] <= case.slo_ms), *controls[i].mean(axis=0)] for i in pieces]))
    return np.hstack(columns)


def difference_interval(batches: np.ndarray, level: float) -> tuple[float, float]:
    """The interval on D = F(K*) - F(K* - 1) at the SLO: the batch differences regressed on
    both counts' control deviations (the intercept is D where the controls sit at their means)."""
    d = batches[:, 0] - batches[:, 3]
    design = np.column_stack([np.ones(len(d)), batches[:, [1, 2, 4, 5]]])
    coefficients, *_ = np.linalg.lstsq(design, d, rcond=None)
    df = len(d) - design.shape[1]
    residual = d - design @ coefficients
    variance = float(residual @ residual) / df * float(np.linalg.inv(design.T @ design)[0, 0])
    half = float(stats.t.ppf(0.5 + level / 2.0, df)) * math.sqrt(variance)
    return float(coefficients[0]) - half, float(coefficients[0]) + half


def difference_test(case: Case, pair: tuple[Callable[[int], Replica], Callable[[int], Replica]],
                    sampling: Sampling) -> tuple[int, int]:
    """The sequential test on the difference: (replications of each count, the sign it found:
    +1 K* better, -1 worse, 0 undecided at the budget)."""
    upper, lower = pair
    rows: list[np.ndarray] = []
    target, sign = sampling.min_replications, 0
    for look in range(1, sampling.looks + 1):
        while len(rows) < target:
            rows.append(paired_batches(case, case.exact_count, upper(len(rows)), lower(len(rows))))
        low, high = difference_interval(np.vstack(rows), sampling.look_confidence)
        if low > 0 or high < 0:
            sign = 1 if low > 0 else -1
            break
        if len(rows) >= sampling.budget:
            break
        centre, half = (low + high) / 2.0, (high - low) / 2.0
        target = next_look(len(rows), half, abs(centre), 0.0, sampling.budget, last=look == sampling.looks - 1)
    return len(rows), sign


@dataclass(frozen=True)
class PairOutcome:
    """One seed's boundary pair under both procedures, and its paired batches for the correlations."""

    current_upper: int      # replications the current rule spent on K*
    current_lower: int      # ... and on K* - 1
    right: bool             # K* meets and K* - 1 does not
    lower_passed: bool      # K* - 1 meets: the search would buy a failing count
    difference_reps: int    # replications of each count the difference test spent
    difference_sign: int
    batches: np.ndarray     # every replication pair both procedures ran, batched (rows x 6)


def decide_pair(case: Case, seed: int) -> PairOutcome:
    """Both procedures on one seed's boundary pair, on the same memoized replications."""
    profile = profile_for(case.workers)
    target = Target(rate_per_s=case.rate_per_s, percentile=case.percentile, slo_ms=case.slo_ms)
    sampling = sampling_for(target)
    length = shared_requests(profile, TYPE, target, sampling)
    upper, lower = (runner(case, k, length, seed) for k in (case.exact_count, case.exact_count - 1))
    estimates = [sequential_estimate(lambda r, run=run, k=k: as_run(run(r), case, k), case.percentile, case.slo_ms,
                                     sampling) for run, k in ((upper, case.exact_count), (lower, case.exact_count - 1))]
    reps, sign = difference_test(case, (upper, lower), sampling)
    common = min(upper.cache_info().currsize, lower.cache_info().currsize)  # type: ignore[attr-defined]
    batches = np.vstack([paired_batches(case, case.exact_count, upper(r), lower(r)) for r in range(common)])
    verdicts = [e.verdict(case.slo_ms) for e in estimates]
    return PairOutcome(current_upper=estimates[0].replications, current_lower=estimates[1].replications,
                       right=verdicts[0] == MEETS and verdicts[1] != MEETS, lower_passed=verdicts[1] == MEETS,
                       difference_reps=reps, difference_sign=sign, batches=batches)


def correlations(batches: np.ndarray) -> tuple[float, float]:
    """rho_F between the two counts' batch fractions at the SLO: plain, and of the residuals
    once each is regressed on its own two controls."""
    plain = float(np.corrcoef(batches[:, 0], batches[:, 3])[0, 1])
    residuals = []
    for f, controls in ((0, [1, 2]), (3, [4, 5])):
        design = np.column_stack([np.ones(len(batches)), batches[:, controls]])
        coefficients, *_ = np.linalg.lstsq(design, batches[:, f], rcond=None)
        residuals.append(batches[:, f] - design @ coefficients)
    return plain, float(np.corrcoef(*residuals)[0, 1])


def report(case: Case, outcomes: list[PairOutcome], length: int) -> tuple[float, float]:
    """One case's line; returns (current, difference) replications per pair decision."""
    current = float(np.mean([o.current_upper + o.current_lower for o in outcomes]))
    easy = float(np.mean([min(o.current_upper, o.current_lower) for o in outcomes]))
    open_after_first = sum(max(o.current_upper, o.current_lower) > 3 for o in outcomes)
    difference = float(np.mean([2 * o.difference_reps for o in outcomes]))
    told = sum(o.difference_sign == 1 for o in outcomes)
    plain, residual = correlations(np.vstack([o.batches for o in outcomes]))
    n = len(outcomes)
    print(f"  {case.label:<36} {length:>7,}/rep  current {current:5.1f} reps (easy count {easy:4.1f}; hard count "
          f"open after the first look {open_after_first}/{n}), pair right "
          f"{rate_text(sum(o.right for o in outcomes), n)}, K*-1 passed {sum(o.lower_passed for o in outcomes)}  |  "
          f"difference {difference:5.1f} reps, K* told better {told}/{n}  |  rho_F {plain:+.2f}, after controls "
          f"{residual:+.2f} (saves at most {residual ** 2:.0%})")
    return current, difference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    cases = [boundary(w, p, rho, side, k, 0.05) for w, p, rho, side, k in SEARCH_GRID if 0.85 <= rho <= 0.97]
    # A pair whose K* - 1 is unstable is decided without simulating it: nothing to pair.
    cases = [c for c in cases if c.rate_per_s / (c.exact_count - 1) * SERVICE_S < c.workers]
    start = time.perf_counter()
    print(f"Boundary pairs (K* - 1, K*), {len(cases)} cases x {args.repeats} seeds, the hard count's exact percentile "
          "5 % from the SLO; replications of each count are of the same length (requests/rep)")
    totals = []
    for case in cases:
        profile = profile_for(case.workers)
        target = Target(rate_per_s=case.rate_per_s, percentile=case.percentile, slo_ms=case.slo_ms)
        length = shared_requests(profile, TYPE, target, sampling_for(target))
        outcomes = [decide_pair(case, seed) for seed in range(args.repeats)]
        current, difference = report(case, outcomes, length)
        totals.append((current * length, difference * length))
    current_requests, difference_requests = (sum(t[i] for t in totals) for i in range(2))
    print(f"  all: simulated requests per pair decision, current {current_requests / len(totals):,.0f}, the difference "
          f"test alone {difference_requests / len(totals):,.0f} ({difference_requests / current_requests:.2f}x)")
    print(f"\nwall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
