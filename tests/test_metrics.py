"""The per-minute CloudWatch-shaped series."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from conftest import make_profile

from pricing.serverless import billed_ms
from simulator import InputError, InstanceResources, load_profile, simulate, simulate_serverless
from simulator.metrics import PER_MINUTE_COLUMNS
from simulator.stopping import LatencyThreshold, StoppingConditions
from simulator.traffic import Stairs


def test_per_minute_columns_units_and_exact_percentiles():
    result = simulate("demo", "ml.c5.xlarge", users=8, duration_s=180, seed=4,
                      resources=InstanceResources(vcpu=4, memory_mb=8192))
    frame = result.per_minute
    assert tuple(frame.columns) == PER_MINUTE_COLUMNS
    assert frame["Invocations"].sum() == result.completed
    minute = result.completion_s < 60
    latencies_us = result.latency_ms[minute] * 1000
    row = frame.iloc[0]
    assert row["ModelLatency_p95"] == pytest.approx(np.percentile(latencies_us, 95))
    assert row["ModelLatency_Maximum"] == pytest.approx(latencies_us.max())
    assert row["ModelLatency_Average"] == pytest.approx(latencies_us.mean())
    assert row["MemoryUtilization"] == pytest.approx(100 * 900 / 8192)
    assert 0 < row["CPUUtilization"] <= 400
    # Overhead latency is drawn separately and reported in microseconds.
    overhead = load_profile("demo").overhead.mean_ms * 1000
    assert row["OverheadLatency_Average"] == pytest.approx(overhead, rel=0.05)


def test_cpu_is_capped_at_100_per_vcpu_and_memory_is_nan_without_resources():
    profile = make_profile("exponential", 20.0, workers=8)
    capped = simulate(profile, "ml.test.large", users=40, duration_s=60, resources=InstanceResources(2, 4096))
    assert capped.per_minute["CPUUtilization"].max() == 200
    unknown = simulate(profile, "ml.test.large", users=4, duration_s=60)
    assert np.isnan(unknown.per_minute["MemoryUtilization"]).all()


def test_invocations_per_instance_divides_by_the_instance_count():
    result = simulate(make_profile("exponential", 10.0, workers=2), "ml.test.large", instance_count=3,
                      arrival_rate_per_s=100.0, duration_s=120, seed=2)
    frame = result.per_minute
    np.testing.assert_allclose(frame["InvocationsPerInstance"], frame["Invocations"] / 3)


def _frames_equal(kept, summarized):
    assert summarized.completed == kept.completed
    assert summarized.minutes == kept.minutes
    pd.testing.assert_frame_equal(summarized.per_minute, kept.per_minute)


@pytest.mark.slow(reason="long runs summarized two ways (1.0 s measured)")
def test_minutes_summarized_without_the_requests_are_the_same_minutes():
    """keep_requests=False drops each minute's requests once summarized: the series, the
    stopping decisions and the counts are exactly those of the run that keeps them."""
    profile = make_profile("lognormal", 12.0, cv=0.8, workers=2,
                           overhead={"family": "exponential", "mean_ms": 3.0})
    traffic = Stairs(duration_s=300.0, number_of_steps=5, users_per_step=2)
    for kwargs in ({"traffic": traffic}, {"arrival_rate_per_s": 120.0, "duration_s": 150.0}):
        kept = simulate(profile, "ml.test.large", instance_count=2, seed=9, **kwargs)
        summarized = simulate(profile, "ml.test.large", instance_count=2, seed=9, keep_requests=False, **kwargs)
        _frames_equal(kept, summarized)
        assert summarized.latency_ms.size == 0 and kept.latency_ms.size == kept.completed
        assert summarized.mean_latency_ms == pytest.approx(kept.latency_ms.mean(), rel=1e-12)
        with pytest.raises(InputError, match="keep_requests"):
            summarized.percentile_ms(95)


@pytest.mark.slow(reason="long runs summarized two ways (1.0 s measured)")
def test_serverless_minutes_summarized_without_the_requests_are_the_same_minutes():
    profile = load_profile("demo")
    kwargs = {"users": 12, "duration_s": 200.0, "seed": 3}
    kept = simulate_serverless(profile, 2048, 5, **kwargs)
    summarized = simulate_serverless(profile, 2048, 5, keep_requests=False, **kwargs)
    _frames_equal(kept, summarized)
    assert summarized.throttled == kept.throttled > 0 and summarized.cold_starts == kept.cold_starts > 0
    billed = sum(billed_ms(v) for v in kept.service_ms)  # the pricing rule, request by request
    assert sum(m.billed_ms for m in summarized.minute_stats) == billed


@pytest.mark.slow
def test_memory_does_not_grow_with_the_run_when_requests_are_not_kept():
    """Peak traced memory of a 30-minute run is within 1.5x of a 3-minute run's when the
    requests are not kept; the run that keeps them grows with its length. (About 80
    requests a second: tracemalloc slows every allocation.)"""
    profile = make_profile("exponential", 50.0, workers=4)

    def peak(duration_s, keep):
        tracemalloc.start()
        try:
            simulate(profile, "ml.test.large", users=4, duration_s=duration_s, seed=1, keep_requests=keep)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    short, long = peak(180.0, False), peak(1800.0, False)
    assert long < 1.5 * short
    assert peak(1800.0, True) > long + 100_000 * 24  # ~144,000 requests of 3 doubles each, kept


@pytest.mark.parametrize("percentile", [95.0, 80.0])  # one the minute's statistics hold, one they do not
def test_the_stopping_percentile_is_the_minutes_exact_percentile(percentile):
    """What the latency threshold is judged on: the exact percentile of each minute's completions."""
    stopping = StoppingConditions(latency=LatencyThreshold(percentile, 1e6))
    result = simulate(make_profile("lognormal", 10.0, cv=1.0, workers=2), "ml.test.large", users=6,
                      duration_s=240.0, seed=2, stopping=stopping)
    assert len(result.minutes) == 4
    for summary in result.minutes:
        in_minute = (result.completion_s >= 60 * summary.minute) & (result.completion_s < 60 * (summary.minute + 1))
        assert summary.latency_percentile_ms == pytest.approx(np.percentile(result.latency_ms[in_minute], percentile),
                                                              rel=1e-12)
