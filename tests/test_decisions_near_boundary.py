"""Issue 22's targets for decisions near the boundary, against exact M/M/c quantiles on seeded
repeats (cases apart from experiments/RESULTS.md's): the count search with the hard count 5 %
from the SLO, one count's verdict 1 % from it, and the production check's interval coverage.
experiments/decisions_near_boundary.py measures the same on more cases and seeds.

The tests' own error rates (binomial, at the sample sizes below):
- count search, 60 searches: fails when fewer than 51 pick the exact count (85 %) or more than
  2 pick a failing one. At a true exact rate of 97 % it fails by chance with probability 0.2 %;
  at a failing rate of 0.5 %, 0.4 %. At the target itself (90 %) it passes 71 % of the time:
  a guard against regressions well below the target, not a proof of it.
- verdict 1 % from the SLO, 64 verdicts: fails when fewer than 58 are too close or right
  (90.6 %); at a true rate of 99 % that happens with probability 0.02 %.
- coverage, 72 checks: fails when fewer than 63 intervals hold the truth (87.5 %); at a true
  coverage of 97 %, probability 0.1 %.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from optimizer import Target
from optimizer.capacity import MEETS, MISSES, TOO_CLOSE, smallest_count
from optimizer.plan import count_evaluator
from optimizer.production import CheckedEndpoint, production_check
from simulator import load_profile
from simulator.analytic import mmc_response_quantile

TYPE = "ml.c5.large"
SERVICE_S = 0.010
pytestmark = pytest.mark.slow


def exact_ms(percentile: float, rate: float, workers: int) -> float:
    return mmc_response_quantile(percentile / 100, rate, workers, SERVICE_S) * 1000


def profile(workers: int):
    return load_profile({"model": "oracle", "instances": {TYPE: {
        "workers": workers, "service_time": {"family": "exponential", "mean_ms": SERVICE_S * 1000}}}})


def boundary(workers: int, rho: float, side: str, k_star: int, margin: float = 0.05) -> tuple[float, float]:
    """(rate, SLO): the hard count (K* - 1 "below", K* "at") runs at rho, its exact P95 ``margin`` from the SLO."""
    hard = k_star - 1 if side == "below" else k_star
    rate = rho * workers / SERVICE_S * hard
    quantile = exact_ms(95, rate / hard, workers)
    return rate, quantile / (1 + margin) if side == "below" else quantile * (1 + margin)


#: (workers, rho of the hard count, which count is hard, K*), P95, 20 seeds each.
SEARCHES = [(2, 0.9, "below", 4), (4, 0.95, "at", 5), (6, 0.85, "at", 7)]


def search(arguments):
    (workers, rho, side, k_star), seed = arguments
    rate, slo = boundary(workers, rho, side, k_star)
    oracle = profile(workers)
    evaluate = count_evaluator(oracle, TYPE, Target(rate_per_s=rate, percentile=95, slo_ms=slo), seed)
    return smallest_count(oracle.instance(TYPE), rate, 95, slo, evaluate).count


def test_the_cases_are_what_they_claim():
    for workers, rho, side, k_star in SEARCHES:
        rate, slo = boundary(workers, rho, side, k_star)
        assert exact_ms(95, rate / k_star, workers) <= slo < exact_ms(95, rate / (k_star - 1), workers)


@pytest.mark.stats
def test_the_count_search_picks_the_exact_count_with_the_hard_count_5_percent_from_the_slo():
    jobs = [(case, seed) for case in SEARCHES for seed in range(20)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        counts = np.array(list(pool.map(search, jobs)))
    truth = np.array([case[3] for case, _ in jobs])
    assert np.sum(counts == truth) >= 51, counts
    assert np.sum(counts < truth) <= 2, counts
    assert np.max(np.abs(counts - truth)) <= 1, counts


def verdict(arguments):
    (workers, rho), offset, seed = arguments
    rate = rho * workers / SERVICE_S
    slo = exact_ms(95, rate, workers) * (1 + offset)
    return count_evaluator(profile(workers), TYPE, Target(rate_per_s=rate, percentile=95, slo_ms=slo), seed)(1) \
        .verdict(slo)


@pytest.mark.stats
def test_a_count_1_percent_from_the_slo_is_too_close_to_call_or_right():
    jobs = [(load, offset, seed) for load in [(1, 0.85), (3, 0.9)] for offset in (0.01, -0.01) for seed in range(16)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(verdict, jobs))
    right = [MEETS if offset > 0 else MISSES for _, offset, _ in jobs]
    acceptable = sum(v in (TOO_CLOSE, r) for v, r in zip(verdicts, right, strict=True))
    assert acceptable >= 58, verdicts
    assert verdicts.count(TOO_CLOSE) >= 16  # the rule does admit it: at 1 % most loads stay undecided


def covers(arguments):
    (workers, rho), seed = arguments
    rate = rho * workers / SERVICE_S * 4
    truth = exact_ms(95, rate / 4, workers)
    checked = CheckedEndpoint(entry=profile(workers).instance(TYPE), count=4)
    check = production_check(checked, rate * 60, 95, truth * 1.03, seed=seed)
    return check.estimate.low_ms <= truth <= check.estimate.high_ms


@pytest.mark.stats  # 72 seeded production checks (about 55 s of CPU); the rate is in RESULTS.md
def test_the_production_check_interval_covers_the_exact_percentile():
    jobs = [(load, seed) for load in [(2, 0.75), (1, 0.9), (4, 0.93)] for seed in range(24)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        held = list(pool.map(covers, jobs))
    assert sum(held) >= 63, held
