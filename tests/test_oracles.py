"""The engine against queueing theory (the analytic oracles of docs/statistics.md).

Each tolerance comes from the run's own sampling error: batch means over the run give a
standard error, and a simulated value must lie within 4.5 of them of the exact value
(false-alarm rate ~1e-5 per check), plus nothing else.

Every oracle keeps one cheap case in the fast run (`make test-fast`); the heavier cases of
the same law are marked slow.
"""

import numpy as np
import pytest
from conftest import batch_mean_and_se, make_profile

from simulator import analytic, simulate

Z_LIMIT = 4.5


def assert_close(mean: float, se: float, exact: float) -> None:
    assert abs(mean - exact) <= Z_LIMIT * se, f"simulated {mean:.6g} ± {se:.2g} vs exact {exact:.6g}"


def steady(result, warmup_s: float = 20.0):
    keep = result.completion_s >= warmup_s
    return result.latency_ms[keep] / 1000.0, result.completion_s[keep]


def throughput_mean_and_se(completion_s: np.ndarray, start: float, end: float, batches: int = 30):
    counts, edges = np.histogram(completion_s, bins=np.linspace(start, end, batches + 1))
    rates = counts / np.diff(edges)
    return float(rates.mean()), float(rates.std(ddof=1) / np.sqrt(batches))


SLOW = pytest.mark.slow


@pytest.mark.parametrize("users, workers, think_s", [pytest.param(10, 4, 0.05, marks=SLOW), (3, 2, 0.1),
                                                     pytest.param(30, 4, 0.02, marks=SLOW)])
def test_mva_with_think_time(users, workers, think_s):
    service_s = 0.02
    exact = analytic.mva(users, workers, service_s, think_s)
    assert exact.throughput_per_s == pytest.approx(
        analytic.finite_source(users, workers, service_s, think_s).throughput_per_s, rel=1e-9)
    result = simulate(make_profile("exponential", service_s * 1000, workers=workers), "ml.test.large",
                      users=users, duration_s=1500, think_time_s=think_s, seed=11)
    latency, completion = steady(result)
    assert_close(*throughput_mean_and_se(completion, 20.0, 1500.0), exact.throughput_per_s)
    assert_close(*batch_mean_and_se(latency), exact.response_s)


@pytest.mark.parametrize("users, workers", [pytest.param(20, 4, marks=SLOW), (6, 1), pytest.param(8, 8, marks=SLOW)])
def test_zero_think_latency_law_at_p50_p95_p99(users, workers):
    service_s = 0.02
    result = simulate(make_profile("exponential", service_s * 1000, workers=workers), "ml.test.large",
                      users=users, duration_s=1200, seed=5)
    latency, _ = steady(result)
    for q in (0.50, 0.95, 0.99):
        exact_quantile = analytic.closed_zero_think_latency_quantile(q, users, workers, service_s)
        # Equivalent check with a clean standard error: the fraction below the exact quantile is q.
        assert_close(*batch_mean_and_se((latency <= exact_quantile).astype(float)), q)


@pytest.mark.parametrize("rate, workers", [pytest.param(150.0, 4, marks=SLOW), (40.0, 1),
                                           pytest.param(350.0, 8, marks=SLOW)])
def test_open_poisson_matches_erlang_c(rate, workers):
    service_s = 0.02
    result = simulate(make_profile("exponential", service_s * 1000, workers=workers), "ml.test.large",
                      arrival_rate_per_s=rate, duration_s=1500, seed=3)
    latency, _ = steady(result)
    assert_close(*batch_mean_and_se(latency), analytic.mmc_mean_response_s(rate, workers, service_s))
    for q in (0.5, 0.95, 0.99):
        exact_quantile = analytic.mmc_response_quantile(q, rate, workers, service_s)
        assert_close(*batch_mean_and_se((latency <= exact_quantile).astype(float)), q)


def test_random_routing_splits_poisson_traffic_into_independent_mmc_queues():
    service_s, workers, instances, rate = 0.02, 2, 3, 240.0
    result = simulate(make_profile("exponential", service_s * 1000, workers=workers), "ml.test.large",
                      instance_count=instances, arrival_rate_per_s=rate, duration_s=600, seed=9)
    latency, _ = steady(result)
    assert_close(*batch_mean_and_se(latency), analytic.mmc_mean_response_s(rate / instances, workers, service_s))


@pytest.mark.parametrize("family, cv", [pytest.param("lognormal", 0.5, marks=SLOW), ("gamma", 2.0),
                                        pytest.param("deterministic", None, marks=SLOW),
                                        pytest.param("weibull", 0.7, marks=SLOW)])
def test_response_time_law_for_non_exponential_service(family, cv):
    users, workers, think_s, service_s, duration = 12, 3, 0.03, 0.02, 1200.0
    result = simulate(make_profile(family, service_s * 1000, cv, workers=workers), "ml.test.large",
                      users=users, duration_s=duration, think_time_s=think_s, seed=2)
    latency, completion = steady(result)
    x, x_se = throughput_mean_and_se(completion, 20.0, duration)
    r, r_se = batch_mean_and_se(latency)
    # R = N / X - Z: propagate the throughput's error through N / X (delta method).
    law = analytic.response_time_law(users, x, think_s)
    assert abs(r - law) <= Z_LIMIT * np.hypot(r_se, users * x_se / x ** 2)
    assert x <= analytic.throughput_bound(users, service_s, think_s, workers) + Z_LIMIT * x_se


def test_allen_cunneen_is_exact_for_exponential():
    assert analytic.allen_cunneen_mean_response_s(150, 4, 0.02, 1.0) == pytest.approx(
        analytic.mmc_mean_response_s(150, 4, 0.02))


@pytest.mark.slow
def test_allen_cunneen_is_close_for_low_cv():
    result = simulate(make_profile("lognormal", 20.0, 0.5, workers=4), "ml.test.large",
                      arrival_rate_per_s=150.0, duration_s=1200, seed=4)
    approx = analytic.allen_cunneen_mean_response_s(150, 4, 0.02, 0.5)
    mean, _ = batch_mean_and_se(steady(result)[0])
    assert mean == pytest.approx(approx, rel=0.05)  # an approximation: its known error is a few per cent


def test_utilization_law_drives_cpu_utilization():
    # U = X * S busy workers; CPUUtilization = 100 x busy workers x cpu_per_worker.
    result = simulate(make_profile("exponential", 20.0, workers=4), "ml.test.large",
                      users=20, duration_s=600, seed=1)
    cpu = result.per_minute["CPUUtilization"].to_numpy()
    assert np.all(np.abs(cpu - 100 * 4) <= 100 * 4 * 0.01)  # saturated: all 4 workers busy
