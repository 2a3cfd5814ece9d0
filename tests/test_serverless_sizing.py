"""Serverless sizing with cold starts: the sizing law Erlang B(M, rate x E[hold]), a cold
start holding its slot for setup + service, against the simulator where the share of cold
starts is known exactly; the cold-start approximation's limits; the optimizer's two
throttling figures (steady state, first minute from zero).

Error bound: a simulated blocking probability is the pooled share throttled after a
warm-up, with a 99 % batch-means interval (20 batches in time, Student t with 19 degrees
of freedom on the batches' shares); the law must lie inside it."""

import dataclasses
import itertools
import math

import numpy as np
import pytest
from scipy import linalg, stats

from optimizer.serverless import (
    MAX_THROTTLED,
    cold_concurrency,
    first_minute_share,
    serverless_options,
    smallest_concurrency,
    steady_concurrency,
    steady_run,
)
from optimizer.throttling import share_estimate
from optimizer.verdict import MEETS, MISSES, TOO_CLOSE
from simulator import RunSpec, ServerlessConfig, ServerlessEndpoint, ServerlessProfile, load_profile
from simulator.analytic import (
    cold_start_fraction,
    erlang_b,
    loss_distribution,
    no_rise_probabilities,
    serverless_blocking,
)
from simulator.distributions import Distribution
from simulator.serverless import run
from simulator.traffic import PoissonArrivals

BATCHES = 20


@dataclasses.dataclass(frozen=True)
class Blocking:
    """A simulated blocking probability with its 99 % batch-means interval, and the share of
    admitted requests that started cold."""

    share: float
    low: float
    high: float
    cold: float
    arrivals: int


def simulated_blocking(rate, service_ms, setup_ms, idle_timeout_s, limit, duration_s, warmup_s, seed):
    """Open Poisson arrivals against ``limit`` environments, every one warm at t = 0."""
    section = ServerlessProfile(reference_memory_mb=2048, service_time=Distribution("exponential", service_ms, 1.0),
                                model_setup_time=Distribution("lognormal", setup_ms, 0.4),
                                idle_timeout_s=idle_timeout_s)
    endpoint = ServerlessEndpoint(section, ServerlessConfig(memory_mb=2048, max_concurrency=limit),
                                  warm_environments=limit)
    out = run(RunSpec(endpoint, PoissonArrivals.constant(rate, duration_s), seed=seed))
    starts = out.completion_s - out.latency_s - out.setup_s
    edges = np.linspace(warmup_s, duration_s, BATCHES + 1)
    admitted = np.histogram(starts, bins=edges)[0]
    throttled = np.histogram(out.throttle_s, bins=edges)[0]
    shares = throttled / (admitted + throttled)
    share = throttled.sum() / (admitted.sum() + throttled.sum())
    half = stats.t.ppf(0.995, BATCHES - 1) * shares.std(ddof=1) / math.sqrt(BATCHES)
    kept = starts >= warmup_s
    return Blocking(share=float(share), low=float(share - half), high=float(share + half),
                    cold=float(np.mean(out.setup_s[kept] > 0)), arrivals=int(admitted.sum() + throttled.sum()))


# (rate /s, mean service ms, mean setup ms, idle timeout s, MaxConcurrency, share of cold starts)
KNOWN = {
    "every start cold (no idle timeout)": (20.0, 50.0, 200.0, 0.0, 6, 1.0),
    "no cold start (warm, timeout never reached)": (20.0, 200.0, 2500.0, 1e9, 6, 0.0),
    "one environment: cold when idle longer than T": (2.0, 100.0, 1000.0, 0.5, 1, math.exp(-1.0)),
}


@pytest.mark.slow(reason="serverless runs and matrix exponentials over a grid (0.3 s measured)")
@pytest.mark.parametrize("case", list(KNOWN), ids=list(KNOWN))
def test_simulated_blocking_matches_erlang_b_with_the_setup_in_the_holding_time(case):
    rate, service_ms, setup_ms, timeout, limit, cold = KNOWN[case]
    law = erlang_b(limit, rate * (service_ms + cold * setup_ms) / 1000.0)
    measured = simulated_blocking(rate, service_ms, setup_ms, timeout, limit, duration_s=4000.0, warmup_s=100.0,
                                  seed=12)
    assert measured.low <= law <= measured.high, (law, measured)
    assert measured.high - measured.low <= 0.15 * law  # the interval is tight enough to tell
    # The share of cold starts is what the case says (binomial 99 % interval) ...
    admitted = measured.arrivals * (1 - measured.share)
    assert abs(measured.cold - cold) <= 2.58 * math.sqrt(cold * (1 - cold) / admitted) + 1e-12
    # ... and the sizing law, with its approximated share, gives the same blocking.
    assert serverless_blocking(rate, service_ms / 1000, setup_ms / 1000, timeout, limit) == pytest.approx(law, rel=1e-6)


@pytest.mark.slow(reason="serverless runs and matrix exponentials over a grid (0.3 s measured)")
def test_service_time_alone_understates_blocking_when_every_start_is_cold():
    rate, service_ms, setup_ms, timeout, limit, _ = KNOWN["every start cold (no idle timeout)"]
    measured = simulated_blocking(rate, service_ms, setup_ms, timeout, limit, duration_s=4000.0, warmup_s=100.0,
                                  seed=12)
    assert erlang_b(limit, rate * service_ms / 1000) < measured.low


@pytest.mark.slow(reason="serverless runs and matrix exponentials over a grid (0.6 s measured)")
@pytest.mark.parametrize("case", ["every start cold (no idle timeout)", "no cold start (warm, timeout never reached)"])
def test_the_sizing_is_the_smallest_concurrency_meeting_the_target_by_the_law(case):
    rate, service_ms, setup_ms, timeout, _, cold = KNOWN[case]
    service_s, setup_s = service_ms / 1000, setup_ms / 1000
    target = 0.01
    chosen = smallest_concurrency(rate, service_s, setup_s, timeout, max_throttled=target)
    load = rate * (service_s + cold * setup_s)
    assert chosen == next(m for m in range(1, 201) if erlang_b(m, load) <= target)
    # The simulator agrees on both sides of the choice: M - 1 throttles more than the target, M
    # no more than the law says.
    below = simulated_blocking(rate, service_ms, setup_ms, timeout, chosen - 1, 4000.0, 100.0, seed=5)
    at = simulated_blocking(rate, service_ms, setup_ms, timeout, chosen, 4000.0, 100.0, seed=5)
    assert below.low > target
    assert at.low <= erlang_b(chosen, load) <= at.high


def test_the_sizing_law_reduces_to_erlang_b_on_the_service_time_without_setup():
    assert smallest_concurrency(100.0, 0.02) == next(m for m in range(1, 201) if erlang_b(m, 2.0) <= MAX_THROTTLED)
    assert smallest_concurrency(100.0, 0.02, 2.5, math.inf) == smallest_concurrency(100.0, 0.02)
    assert cold_concurrency(2.0, 0.1, 1.0) == smallest_concurrency(2.0, 0.1, 1.0, 0.0)


@pytest.mark.slow(reason="serverless runs and matrix exponentials over a grid (0.8 s measured)")
def test_no_rise_probabilities_match_the_matrix_exponential():
    for rate, hold, horizon, levels in ((2.0, 0.1, 1.0, 6), (16.7, 0.01, 2.0, 6), (100.0, 0.2, 0.3, 30)):
        expected = []
        for n in range(levels):  # states 0..n, leaving n upwards absorbs
            generator = np.diag(-(rate + np.arange(n + 1) / hold)) + np.diag(np.full(n, rate), 1) \
                + np.diag(np.arange(1, n + 1) / hold, -1)
            expected.append((linalg.expm(generator * horizon) @ np.ones(n + 1))[n])
        assert no_rise_probabilities(levels, rate, hold, horizon) == pytest.approx(expected, abs=1e-9)


def test_cold_start_fraction_at_its_exact_ends():
    assert cold_start_fraction(5.0, 0.05, 2.5, 0.0, 4) == 1.0
    assert cold_start_fraction(5.0, 0.05, 2.5, math.inf, 4) == 0.0
    for rate, timeout in ((0.5, 1.0), (3.0, 0.4), (10.0, 0.05)):  # one environment: exp(-rate T)
        assert cold_start_fraction(rate, 0.05, 2.5, timeout, 1) == pytest.approx(math.exp(-rate * timeout), rel=1e-9)
    shares = [cold_start_fraction(16.7, 0.006, 2.5, t, 6) for t in (0.01, 0.1, 1.0, 10.0, 100.0)]
    assert all(a > b for a, b in itertools.pairwise(shares)) and shares[-1] < 1e-3
    assert loss_distribution(3, 2.0) == pytest.approx(np.array([1, 2, 2, 4 / 3]) / (19 / 3))


@pytest.mark.slow
def test_the_cold_start_approximation_against_the_simulator():
    """Where the approximation is fair (setup not much longer than the idle timeout, enough
    arrivals per timeout), the simulated cold share is within 25 % of it; the blocking law
    with it is within a factor of 2 of the simulated blocking."""
    for rate, service_ms, setup_ms, timeout, limit in ((2.0, 100.0, 500.0, 1.0, 3), (50.0, 20.0, 500.0, 1.0, 5),
                                                        (0.5, 20.0, 500.0, 1.0, 2), (50.0, 12.0, 2500.0, 2.0, 6)):
        measured = simulated_blocking(rate, service_ms, setup_ms, timeout, limit, duration_s=20_000.0,
                                      warmup_s=100.0, seed=3)
        share = cold_start_fraction(rate, service_ms / 1000, setup_ms / 1000, timeout, limit)
        law = serverless_blocking(rate, service_ms / 1000, setup_ms / 1000, timeout, limit)
        assert measured.cold == pytest.approx(share, rel=0.25), (rate, measured, share)
        assert law / 2 <= measured.share <= 2 * law, (rate, measured, law)


@pytest.mark.slow
def test_serverless_options_report_the_steady_and_the_first_minute_throttling():
    """The demo model with a 2 s idle timeout at 1,000 a minute: the chosen MaxConcurrency is the
    smallest whose simulated steady state surely meets the target (the one below does not);
    from zero the first minute throttles far more, and the option says how many environments
    would surely keep even that within the target (the one below would not)."""
    section = dataclasses.replace(load_profile("demo").serverless, idle_timeout_s=2.0)
    rate = 1000 / 60
    (option,) = serverless_options(section, rate, 0.95, 100.0, lambda memory, billed: 1e-6, memory_sizes=(2048,))
    assert option.feasible and option.steady is not None and option.steady.verdict(MAX_THROTTLED) == MEETS
    below = steady_run(section, 2048, option.max_concurrency - 1, rate, 0.95, 3, seed=0)
    assert below.share.verdict(MAX_THROTTLED) != MEETS
    assert option.steady.low <= option.throttled_share_steady <= option.steady.high <= MAX_THROTTLED
    assert option.throttled_share_first_minute > 10 * MAX_THROTTLED
    assert 0 < option.cold_start_fraction_steady < 0.1 and 0 < option.cold_start_fraction_predicted < 0.1
    enough = option.first_minute_concurrency
    assert option.max_concurrency < enough <= cold_concurrency(rate, 0.006, 2.5)
    assert first_minute_share(section, 2048, enough, rate, seed=0).verdict(MAX_THROTTLED) == MEETS
    assert first_minute_share(section, 2048, enough - 1, rate, seed=0).verdict(MAX_THROTTLED) != MEETS


@pytest.mark.slow
def test_where_the_law_is_optimistic_simulation_sizes_the_concurrency():
    """60 a minute with a 2 s idle timeout: bursts of cold starts make the law read low; the
    chosen MaxConcurrency is the smallest whose simulated steady state surely meets the
    target, above the law's, and the first minute is judged on at least 6,000 arrivals."""
    section = dataclasses.replace(load_profile("demo").serverless, idle_timeout_s=2.0)
    rate = 1.0
    law = smallest_concurrency(rate, 0.006, 2.5, 2.0)
    concurrency, steady = steady_concurrency(section, 2048, rate, 0.95, law, 3, seed=0)
    assert concurrency > law and steady.share.verdict(MAX_THROTTLED) == MEETS
    below = steady_run(section, 2048, concurrency - 1, rate, 0.95, 3, seed=0)
    assert below.share.verdict(MAX_THROTTLED) != MEETS
    first = first_minute_share(section, 2048, concurrency, rate, seed=0)
    assert first.issued >= 6_000 and first.replications >= 100


def test_a_share_interval_widens_with_the_dispersion_between_replications():
    even = share_estimate([(10, 10_000)] * 4)
    bursty = share_estimate([(0, 10_000), (0, 10_000), (40, 10_000), (0, 10_000)])
    assert even.share == bursty.share == 0.001 and even.dispersion == 1.0 and bursty.dispersion > 10
    assert bursty.high - bursty.low > 3 * (even.high - even.low)
    assert even.verdict(0.002) == MEETS and even.verdict(0.0005) == MISSES and bursty.verdict(0.002) == TOO_CLOSE


def test_the_wilson_interval_covers_a_binomial_share_at_its_nominal_rate():
    rng = np.random.default_rng(5)
    held = [share_estimate([(int(rng.binomial(5_000, 0.001)), 5_000) for _ in range(4)]) for _ in range(400)]
    coverage = np.mean([e.low <= 0.001 <= e.high for e in held])
    assert 0.92 <= coverage <= 0.995
