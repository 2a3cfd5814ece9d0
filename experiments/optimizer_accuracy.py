"""How often the optimizer's count search picks the exact smallest count, before and after
issue 12's statistics, measured against exact M/M/c quantiles.

With exponential service and random routing each of K instances is an M/M/c queue at
rate / K, whose response-time quantile is exact (Erlang C; simulator/analytic.py), so the
exact smallest count K* = min K with quantile(rate / K) <= SLO is known. Each case puts the
hard count (the one whose utilization is rho) on one side of the SLO, 20 % from it:

- ``below``: K* - 1 runs at rho and its exact percentile is 1.2 x the SLO (passing it is a
  wrong pass: an endpoint that misses its SLO);
- ``at``: K* runs at rho and its exact percentile is the SLO / 1.2 (failing it over-buys).

Both rules run ``optimizer.capacity.smallest_count`` (the same pre-screen and search) in
this process, on the same cases and seeds:

- before: the old rule, reimplemented here: 3 replications of max(20 s, 20,000 requests),
  the mean of their percentiles with a 95 % t-interval, a count passes when the interval's
  upper end is within the SLO;
- after: ``optimizer.plan.count_evaluator`` (relaxation-time run length, warm-up cut,
  batch-means interval, sequential replications, common random numbers).

Prints, per case and overall, the exact-count rate, the wrong-pass rate (count < K*), the
over-buy rate (count > K*), the largest miss and the mean simulation runs and simulated
requests per decision; then how often the first stage's interval (3 replications) holds the
exact percentile, by batch means of the indicator (used) and by sectioning (batch quantiles).
Usage: ``.venv/bin/python experiments/optimizer_accuracy.py [--repeats 40] [--processes 2]
[--quick] [--margin 0.2] [--coverage 100]``.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from optimizer import Target
from optimizer.capacity import Estimate, Sampling, estimate, replication_seed, seed_for, smallest_count
from optimizer.plan import count_evaluator
from optimizer.statistics import quantile_interval, relaxation_requests, sectioned_quantile, warmup_cut
from simulator import Profile, load_profile, simulate
from simulator.analytic import mmc_response_quantile

INSTANCE_TYPE = "ml.c5.large"
MARGIN = 0.2  # the hard count's exact percentile is 1.2 x the SLO (below) or the SLO / 1.2 (at)


@dataclass(frozen=True)
class Case:
    """One boundary: the target, the SLO, the exact smallest count and the hard count's load."""

    workers: int
    service_ms: float
    percentile: float
    rate_per_s: float
    slo_ms: float
    exact_count: int
    side: str   # "below": K* - 1 runs at rho; "at": K* runs at rho
    rho: float

    @property
    def label(self) -> str:
        hard = "K*-1" if self.side == "below" else "K*"
        return f"c={self.workers} P{self.percentile:g} {hard} at rho {self.rho:.2f} (K*={self.exact_count})"


def exact_quantile_ms(percentile: float, rate_per_s: float, workers: int, service_ms: float) -> float:
    """The exact M/M/c response-time percentile in ms (infinite when unstable)."""
    return mmc_response_quantile(percentile / 100.0, rate_per_s, workers, service_ms / 1000.0) * 1000.0


def exact_count(percentile: float, rate_per_s: float, workers: int, service_ms: float, slo_ms: float) -> int:
    """The smallest count whose instances (M/M/c at rate / count) meet the SLO."""
    count = math.floor(rate_per_s * service_ms / 1000.0 / workers) + 1
    while exact_quantile_ms(percentile, rate_per_s / count, workers, service_ms) > slo_ms:
        count += 1
    return count


def boundary_case(workers: int, percentile: float, rho: float, side: str, count: int,
                  service_ms: float = 10.0, margin: float = MARGIN) -> Case:
    """The case whose hard count (``count`` - 1 for "below", ``count`` for "at") runs at ``rho``
    and whose exact percentile is ``margin`` from the SLO."""
    hard = count - 1 if side == "below" else count
    rate = rho * workers / (service_ms / 1000.0) * hard
    quantile = exact_quantile_ms(percentile, rate / hard, workers, service_ms)
    slo = quantile / (1.0 + margin) if side == "below" else quantile * (1.0 + margin)
    exact = exact_count(percentile, rate, workers, service_ms, slo)
    assert exact == count, f"the case meant K* = {count}, the oracle says {exact}"
    return Case(workers=workers, service_ms=service_ms, percentile=percentile, rate_per_s=rate, slo_ms=slo,
                exact_count=exact, side=side, rho=rho)


#: (workers, percentile, rho of the hard count, which count is hard, K*)
GRID = [(1, 95, 0.5, "below", 3), (1, 99, 0.7, "at", 4), (1, 95, 0.85, "below", 3), (1, 95, 0.95, "below", 3),
        (2, 99, 0.5, "at", 3), (2, 95, 0.7, "below", 4), (2, 99, 0.9, "below", 3), (2, 95, 0.95, "at", 21),
        (4, 95, 0.6, "at", 3), (4, 99, 0.85, "below", 3), (4, 95, 0.9, "at", 12), (4, 99, 0.95, "below", 4)]
QUICK = (3, 6, 10)


def cases(margin: float = MARGIN, quick: bool = False) -> list[Case]:
    """The grid's cases (three with ``quick``) at ``margin``."""
    return [boundary_case(w, p, rho, side, k, margin=margin) for i, (w, p, rho, side, k) in enumerate(GRID)
            if not quick or i in QUICK]


def profile_for(case: Case) -> Profile:
    return load_profile({"model": "oracle", "instances": {INSTANCE_TYPE: {
        "workers": case.workers, "service_time": {"family": "exponential", "mean_ms": case.service_ms}}}})


def old_evaluator(profile: Profile, case: Case, seed: int, requests: list[int]) -> Callable[[int], Estimate]:
    """The rule before issue 12: 3 replications of max(20 s, 20,000 requests) (at most 900 s),
    seeded per (type, rate, replication), a t-interval over their percentiles."""
    def evaluate(count: int) -> Estimate:
        rate = case.rate_per_s / count
        duration = min(900.0, max(20.0, 20_000 / rate))
        values, utilizations = [], []
        for replication in range(3):
            result = simulate(profile, INSTANCE_TYPE, arrival_rate_per_s=rate, duration_s=duration,
                              seed=seed_for(INSTANCE_TYPE, rate, replication, seed))
            values.append(result.percentile_ms(case.percentile))
            utilizations.append(float(result.service_ms.sum()) / 1000.0 / duration / case.workers)
            requests.append(result.completed)
        return estimate(values, utilizations)
    return evaluate


def decide(case: Case, rule: str, seed: int) -> tuple[int, int, int]:
    """One search: (the count chosen, simulation runs, simulated requests)."""
    profile = profile_for(case)
    entry = profile.instance(INSTANCE_TYPE)
    requests: list[int] = []
    if rule == "before":
        evaluate = old_evaluator(profile, case, seed, requests)
    else:
        target = Target(rate_per_s=case.rate_per_s, percentile=case.percentile, slo_ms=case.slo_ms)
        inner = count_evaluator(profile, INSTANCE_TYPE, target, seed)

        def evaluate(count: int) -> Estimate:
            result = inner(count)
            requests.append(result.requests)
            return result
    decision = smallest_count(entry, case.rate_per_s, case.percentile, case.slo_ms, evaluate)
    assert decision.count is not None
    return decision.count, decision.simulations, sum(requests)


def _job(arguments: tuple[int, str, int]) -> tuple[int, str, int, tuple[int, int, int]]:
    index, rule, seed = arguments
    return index, rule, seed, decide(CASES_BY_INDEX[index], rule, seed)


CASES_BY_INDEX: dict[int, Case] = {}  # set by main() before the worker processes fork


@dataclass(frozen=True)
class Rates:
    """What one rule did on one case (or all cases) over the repeats."""

    exact: float
    wrong_pass: float
    over_buy: float
    worst_miss: int
    runs: float
    requests: float


def rates(results: list[tuple[int, int, int]], exact: list[int]) -> Rates:
    counts = np.array([r[0] for r in results])
    truth = np.array(exact)
    return Rates(exact=float(np.mean(counts == truth)), wrong_pass=float(np.mean(counts < truth)),
                 over_buy=float(np.mean(counts > truth)), worst_miss=int(np.max(np.abs(counts - truth))),
                 runs=float(np.mean([r[1] for r in results])), requests=float(np.mean([r[2] for r in results])))


def line(label: str, rule: str, r: Rates) -> str:
    return (f"{label:<38} {rule:<6} exact {r.exact:6.1%}  wrong pass {r.wrong_pass:5.1%}  over-buy {r.over_buy:5.1%}  "
            f"worst miss {r.worst_miss:>2}  runs {r.runs:5.1f}  requests {r.requests / 1e3:7.0f} k")


COVERAGE = [(1, 95, 0.95), (2, 99, 0.9), (4, 95, 0.6)]  # (workers, percentile, rho)


def _coverage_job(arguments: tuple[int, float, float, int]) -> tuple[int, float, float, int, tuple[int, ...]]:
    """One first stage (3 replications, warm-up cut) at one load: where the exact percentile
    lies against the batch-means interval (0 inside, 1 above, -1 below) and against
    sectioning's, both at 8 batches a replication."""
    workers, percentile, rho, seed = arguments
    profile = profile_for(Case(workers=workers, service_ms=10.0, percentile=percentile, rate_per_s=0.0, slo_ms=0.0,
                               exact_count=1, side="at", rho=rho))
    rate = rho * workers / 0.01
    sampling = Sampling()
    duration = sampling.requests(rate, workers, 0.01, percentile) / rate
    kept = []
    for replication in range(3):
        result = simulate(profile, INSTANCE_TYPE, arrival_rate_per_s=rate, duration_s=duration,
                          seed=replication_seed(seed, replication))
        kept.append(result.latency_ms[warmup_cut(result.latency_ms, relaxation_requests(rate, workers, 0.01)):])
    truth = exact_quantile_ms(percentile, rate, workers, 10.0)
    sides = []
    for interval in (quantile_interval(kept, percentile, 8), sectioned_quantile(kept, percentile, 8)):
        sides.append(1 if truth > interval.high else -1 if truth < interval.low else 0)
    return workers, percentile, rho, seed, tuple(sides)


def coverage(repeats: int, processes: int) -> None:
    """Print how often each interval holds the exact percentile (nominal 95 %, 2.5 % a side)."""
    jobs = [(w, p, rho, seed) for w, p, rho in COVERAGE for seed in range(repeats)]
    with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("fork")) as pool:
        done = list(pool.map(_coverage_job, jobs, chunksize=4))
    print(f"\nInterval coverage of the first stage (3 replications, warm-up cut, 8 batches each), {repeats} repeats:")
    for w, p, rho in COVERAGE:
        sides = np.array([r[4] for r in done if r[:3] == (w, p, rho)])
        cells = []
        for column, name in enumerate(("batch means of 1{x <= q}", "sectioning (batch quantiles)")):
            inside, above = np.mean(sides[:, column] == 0), np.mean(sides[:, column] == 1)
            cells.append(f"{name} {inside:6.1%} (truth above {above:5.1%})")
        print(f"  c={w} P{p:g} rho {rho:.2f}: " + "; ".join(cells))


def study(margin: float, quick: bool, repeats: int, processes: int) -> None:
    """Both rules on every case, ``repeats`` seeds each: the rates per case and overall."""
    CASES_BY_INDEX.update(enumerate(cases(margin, quick)))
    chosen = sorted(CASES_BY_INDEX)
    print(f"{len(chosen)} cases x {repeats} seeded repeats x 2 rules; exponential service 10 ms, random routing; "
          f"the hard count's exact percentile {margin:.0%} from the SLO")
    for i in chosen:
        c = CASES_BY_INDEX[i]
        below = exact_quantile_ms(c.percentile, c.rate_per_s / max(1, c.exact_count - 1), c.workers, c.service_ms)
        at = exact_quantile_ms(c.percentile, c.rate_per_s / c.exact_count, c.workers, c.service_ms)
        print(f"  {c.label:<38} rate {c.rate_per_s:7.1f}/s  SLO {c.slo_ms:8.2f} ms  exact P{c.percentile:g} at "
              f"K*-1 {below:8.2f} ms, at K* {at:8.2f} ms")
    jobs = [(i, rule, seed) for i in chosen for rule in ("before", "after") for seed in range(repeats)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("fork")) as pool:
        done = list(pool.map(_job, jobs, chunksize=4))
    elapsed = time.perf_counter() - start
    outcome: dict[tuple[int, str], list[tuple[int, int, int]]] = {}
    for index, rule, _seed, result in done:
        outcome.setdefault((index, rule), []).append(result)
    for rule in ("before", "after"):
        print()
        everything, truth = [], []
        for i in chosen:
            results = outcome[(i, rule)]
            print(line(CASES_BY_INDEX[i].label, rule, rates(results, [CASES_BY_INDEX[i].exact_count] * len(results))))
            everything += results
            truth += [CASES_BY_INDEX[i].exact_count] * len(results)
        print(line("all cases", rule, rates(everything, truth)))
    print(f"\n{len(jobs)} searches in {elapsed:.0f} s on {processes} processes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="seeded searches per case and rule (0: skip)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="three cases only")
    parser.add_argument("--margin", type=float, default=MARGIN, help="the hard count's distance from the SLO")
    parser.add_argument("--coverage", type=int, default=100, metavar="N",
                        help="also measure the intervals' coverage over N repeats (0: skip)")
    args = parser.parse_args()
    if args.repeats:
        study(args.margin, args.quick, args.repeats, args.processes)
    if args.coverage:
        coverage(args.coverage, args.processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
