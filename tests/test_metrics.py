"""The per-minute CloudWatch-shaped series."""

import numpy as np
import pytest
from conftest import make_profile

from simulator import InstanceResources, load_profile, simulate
from simulator.metrics import PER_MINUTE_COLUMNS


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
