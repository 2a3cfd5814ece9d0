"""Decisions near the boundary (issue 22): the three-valued verdicts measured against exact
M/M/c quantiles on seeded repeats, on cases chosen apart from those of optimizer_accuracy.py.

With exponential service and random routing each of K instances is an M/M/c queue at
rate / K, so every percentile is exact (simulator/analytic.py). Three studies:

1. **count search** (``optimizer.capacity.smallest_count`` over ``optimizer.plan.count_evaluator``):
   the hard count (K* - 1 for "below", K* for "at") runs at rho and its exact percentile is
   5 % from the SLO. Rates: the exact minimal count, a failing count (< K*), over-buying.
   Target: exact >= 90 %, failing <= 2 %.
2. **verdict within 1 %**: one count whose exact percentile is 1 % above or below the SLO,
   judged by the sequential rule. Rates: too close to call, right, wrong.
   Target: too close or right >= 95 %.
3. **production-check coverage**: ``optimizer.production.production_check`` at counts with
   utilization 0.7 to 0.95; how often its interval holds the exact percentile.
   Target: >= 93 % at nominal 95 %.

Each rate is printed with its Wilson 95 % interval, and the mean wall time per decision.
Also measured: the variance reduction of the control variates (exact M/M/c mean response and
waiting probability) and of common random numbers on the difference between K and K - 1.
Usage: ``.venv/bin/python experiments/decisions_near_boundary.py [--repeats 40] [--processes 2]
[--study search,verdict,coverage,variance] [--first-seed 0]``.
"""

from __future__ import annotations

import argparse
import functools
import math
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats

import simulator
from optimizer import Target
from optimizer.capacity import TOO_CLOSE, Sampling, control_observations, mmc_controls, replication_seed, smallest_count
from optimizer.plan import count_evaluator
from optimizer.production import CheckedEndpoint, production_check
from optimizer.statistics import quantile_interval, relaxation_requests, warmup_cut
from simulator import InstanceEndpoint, PoissonArrivals, Profile, RunSpec, load_profile
from simulator.analytic import mmc_response_quantile

TYPE = "ml.c5.large"
SERVICE_MS = 10.0


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_text(successes: int, n: int) -> str:
    low, high = wilson(successes, n)
    return f"{successes / max(1, n):6.1%} [{low:5.1%}, {high:5.1%}]"


def exact_ms(percentile: float, rate_per_s: float, workers: int) -> float:
    return mmc_response_quantile(percentile / 100.0, rate_per_s, workers, SERVICE_MS / 1000.0) * 1000.0


def profile_for(workers: int) -> Profile:
    return load_profile({"model": "oracle", "instances": {TYPE: {
        "workers": workers, "service_time": {"family": "exponential", "mean_ms": SERVICE_MS}}}})


@dataclass(frozen=True)
class Case:
    """A boundary: the hard count runs at ``rho`` with its exact percentile ``margin`` from the SLO."""

    workers: int
    percentile: float
    rho: float
    side: str        # "below": K* - 1 is hard (exact percentile above the SLO); "at": K* is hard
    exact_count: int
    rate_per_s: float
    slo_ms: float

    @property
    def label(self) -> str:
        hard = "K*-1" if self.side == "below" else "K*"
        return f"c={self.workers} P{self.percentile:g} {hard} at rho {self.rho:.2f} (K*={self.exact_count})"


def boundary(workers: int, percentile: float, rho: float, side: str, count: int, margin: float) -> Case:
    hard = count - 1 if side == "below" else count
    rate = rho * workers / (SERVICE_MS / 1000.0) * hard
    quantile = exact_ms(percentile, rate / hard, workers)
    slo = quantile / (1.0 + margin) if side == "below" else quantile * (1.0 + margin)
    exact = next(k for k in range(1, 1000) if rate / k < workers / (SERVICE_MS / 1000.0)
                 and exact_ms(percentile, rate / k, workers) <= slo)
    assert exact == count, f"meant K* = {count}, the oracle says {exact}"
    return Case(workers, percentile, rho, side, exact, rate, slo)


#: (workers, percentile, rho of the hard count, which count is hard, K*): not optimizer_accuracy.py's grid.
SEARCH_GRID = [(1, 95, 0.9, "below", 4), (1, 99, 0.8, "at", 5), (2, 95, 0.95, "at", 9), (3, 95, 0.85, "below", 3),
               (3, 99, 0.93, "at", 7), (8, 95, 0.95, "at", 6), (8, 99, 0.9, "below", 3), (2, 95, 0.92, "below", 5)]
#: (workers, percentile, rho): the counts judged 1 % from the SLO, both sides.
VERDICT_GRID = [(1, 95, 0.9), (2, 99, 0.85), (4, 95, 0.95), (8, 95, 0.8)]
#: (workers, percentile, rho): the production check's counts.
COVERAGE_GRID = [(2, 95, 0.7), (2, 95, 0.9), (4, 99, 0.85), (1, 95, 0.95)]


def search_job(arguments: tuple[Case, int]) -> tuple[int, float]:
    case, seed = arguments
    profile = profile_for(case.workers)
    target = Target(rate_per_s=case.rate_per_s, percentile=case.percentile, slo_ms=case.slo_ms)
    start = time.perf_counter()
    decision = smallest_count(profile.instance(TYPE), case.rate_per_s, case.percentile, case.slo_ms,
                              count_evaluator(profile, TYPE, target, seed))
    assert decision.count is not None
    return decision.count, time.perf_counter() - start


def verdict_job(arguments: tuple[int, float, float, float, int]) -> tuple[str, float]:
    """One count (rate = rho c mu) judged against an SLO ``offset`` from its exact percentile."""
    workers, percentile, rho, offset, seed = arguments
    profile = profile_for(workers)
    rate = rho * workers / (SERVICE_MS / 1000.0)
    slo = exact_ms(percentile, rate, workers) * (1.0 + offset)
    target = Target(rate_per_s=rate, percentile=percentile, slo_ms=slo)
    start = time.perf_counter()
    estimate = count_evaluator(profile, TYPE, target, seed)(1)
    return estimate.verdict(slo), time.perf_counter() - start


def coverage_job(arguments: tuple[int, float, float, int]) -> tuple[int, float]:
    """One production check of 4 instances at utilization rho with the threshold 3 % above the
    exact percentile (so the sequential rule takes several looks): 1 when the check's interval
    holds the exact percentile."""
    workers, percentile, rho, seed = arguments
    profile = profile_for(workers)
    count = 4
    rate = rho * workers / (SERVICE_MS / 1000.0) * count
    truth = exact_ms(percentile, rate / count, workers)
    start = time.perf_counter()
    check = production_check(CheckedEndpoint(entry=profile.instance(TYPE), count=count), rate * 60.0, percentile,
                             truth * 1.03, seed=seed)
    assert check.estimate is not None
    return int(check.estimate.low_ms <= truth <= check.estimate.high_ms), time.perf_counter() - start


def pool_map(function, jobs, processes):  # type: ignore[no-untyped-def]
    with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(function, jobs, chunksize=1))


def search_study(repeats: int, processes: int, margin: float = 0.05, first_seed: int = 0) -> None:
    cases = [boundary(w, p, rho, side, k, margin) for w, p, rho, side, k in SEARCH_GRID]
    print(f"1. Count search: {len(cases)} cases x {repeats} seeds ({first_seed} to {first_seed + repeats - 1}); the "
          f"hard count's exact percentile {margin:.0%} from the SLO (target: exact >= 90 %, failing <= 2 %)")
    seeds = range(first_seed, first_seed + repeats)
    done = pool_map(search_job, [(c, s) for c in cases for s in seeds], processes)
    exact = failing = over = 0
    times = []
    for i, case in enumerate(cases):
        results = done[i * repeats:(i + 1) * repeats]
        counts = np.array([r[0] for r in results])
        times += [r[1] for r in results]
        e, f, o = (int(np.sum(counts == case.exact_count)), int(np.sum(counts < case.exact_count)),
                   int(np.sum(counts > case.exact_count)))
        exact, failing, over = exact + e, failing + f, over + o
        print(f"  {case.label:<38} exact {rate_text(e, repeats)}  failing {rate_text(f, repeats)}  "
              f"over-buy {rate_text(o, repeats)}  {np.mean([r[1] for r in results]):5.2f} s/search")
    n = len(cases) * repeats
    print(f"  {'all':<38} exact {rate_text(exact, n)}  failing {rate_text(failing, n)}  over-buy {rate_text(over, n)}"
          f"  {np.mean(times):5.2f} s/search")


def verdict_study(repeats: int, processes: int, offset: float = 0.01) -> None:
    print(f"\n2. One count's verdict with its exact percentile {offset:.0%} from the SLO: {len(VERDICT_GRID)} loads x "
          f"2 sides x {repeats} seeds (target: too close or right >= 95 %)")
    jobs = [(w, p, rho, sign * offset, s) for w, p, rho in VERDICT_GRID for sign in (1, -1) for s in range(repeats)]
    done = pool_map(verdict_job, jobs, processes)
    ok_all = close_all = 0
    for i, (w, p, rho) in enumerate(VERDICT_GRID):
        for j, sign in enumerate((1, -1)):
            results = done[(2 * i + j) * repeats:(2 * i + j + 1) * repeats]
            right = "meets" if sign > 0 else "misses"
            close = sum(r[0] == TOO_CLOSE for r in results)
            ok = close + sum(r[0] == right for r in results)
            ok_all, close_all = ok_all + ok, close_all + close
            side = "SLO 1% above" if sign > 0 else "SLO 1% below"
            print(f"  c={w} P{p:g} rho {rho:.2f}, {side}: too close {rate_text(close, repeats)}  too close or right "
                  f"{rate_text(ok, repeats)}  {np.mean([r[1] for r in results]):5.2f} s/verdict")
    n = len(jobs)
    print(f"  all: too close {rate_text(close_all, n)}  too close or right {rate_text(ok_all, n)}  "
          f"{np.mean([r[1] for r in done]):5.2f} s/verdict")


def coverage_study(repeats: int, processes: int) -> None:
    print(f"\n3. Production-check interval coverage (4 instances, threshold 3 % above the exact percentile): "
          f"{len(COVERAGE_GRID)} loads x "
          f"{repeats} seeds (target: >= 93 % at nominal 95 %)")
    jobs = [(w, p, rho, s) for w, p, rho in COVERAGE_GRID for s in range(repeats)]
    done = pool_map(coverage_job, jobs, processes)
    for i, (w, p, rho) in enumerate(COVERAGE_GRID):
        results = done[i * repeats:(i + 1) * repeats]
        print(f"  c={w} P{p:g} rho {rho:.2f}: coverage {rate_text(sum(r[0] for r in results), repeats)}  "
              f"{np.mean([r[1] for r in results]):5.2f} s/check")
    print(f"  all: coverage {rate_text(sum(r[0] for r in done), len(done))}")


def variance_job(arguments: tuple[int, float, float, int]) -> tuple[float, float, float, float]:
    """One replication pair at K (rate rho c mu) and K - 1 (the same rate / K x K / (K - 1)),
    the same seed and length: the fraction at or below the exact percentile of K, plain and
    with the control variates, at both counts; the difference's partner from another seed."""
    workers, percentile, rho, seed = arguments
    entry = profile_for(workers).instance(TYPE)
    rate = rho * workers / (SERVICE_MS / 1000.0)
    truth = exact_ms(percentile, rate, workers)
    requests = 80_000
    out = []
    for scale, run_seed in ((1.0, seed), (1.05, seed), (1.05, seed + 10_000)):
        r = rate * scale
        result = simulator.run(RunSpec(endpoint=InstanceEndpoint(entry),
                                       traffic=PoissonArrivals.constant(r, requests / r),
                                       seed=replication_seed(run_seed, 0)))
        cut = warmup_cut(result.latency_ms, relaxation_requests(r, workers, SERVICE_MS / 1000.0))
        latency = result.latency_ms[cut:]
        controls = control_observations(latency, result.service_ms[cut:])
        plain = quantile_interval([latency], percentile, 24)
        with_controls = quantile_interval([latency], percentile, 24, controls=[controls],
                                          control_means=mmc_controls(entry, r))
        out.append((float(np.mean(latency <= truth)), plain.std_error, with_controls.std_error))
    return out[0][0], out[1][0], out[2][0], out[0][1] ** 2 / out[0][2] ** 2


def variance_study(repeats: int, processes: int) -> None:
    print(f"\n4. Variance reduction ({repeats} seeds, one 80,000-request replication, 24 batches)")
    for workers, percentile, rho in [(1, 95, 0.9), (4, 95, 0.9), (2, 99, 0.8)]:
        done = np.array(pool_map(variance_job, [(workers, percentile, rho, s) for s in range(repeats)], processes))
        paired = np.var(done[:, 0] - done[:, 1], ddof=1)
        independent = np.var(done[:, 0] - done[:, 2], ddof=1)
        ratio = np.mean(done[:, 3])
        print(f"  c={workers} P{percentile} rho {rho:.2f}: control variates (exact M/M/c mean response, waiting "
              f"probability) cut the interval's variance {ratio:4.1f}x; common random numbers cut the variance of "
              f"the difference K vs K - 1 (5 % more load) {independent / paired:5.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--study", default="search,verdict,coverage,variance")
    parser.add_argument("--first-seed", type=int, default=0, help="the count search's first seed (fresh repeats)")
    args = parser.parse_args()
    chosen = args.study.split(",")
    start = time.perf_counter()
    print(f"Sampling: first look {Sampling().min_replications} replications, budget {Sampling().budget} at precision "
          f"{Sampling().precision:.0%}, {Sampling().looks} looks at {Sampling().look_confidence:.2%} each; "
          f"{args.processes} processes; Student t {stats.t.ppf(0.99375, 100):.2f} at 100 df")
    searches = functools.partial(search_study, first_seed=args.first_seed)
    for name, study in (("search", searches), ("verdict", verdict_study), ("coverage", coverage_study),
                        ("variance", variance_study)):
        if name in chosen:
            study(args.repeats, args.processes)
    print(f"\nwall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
