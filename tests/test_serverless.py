"""Serverless endpoints: cold starts and throttling against theory, memory scaling, the cost
formulas to the cent, and jobs whose answers carry ServerlessConfig and ModelSetupTime."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_job import CREATED, assert_valid_aws_shapes

import pricing
from irsim import execute_job, recommend
from irsim.service.responses import serverless_metrics
from optimizer.serverless import erlang_b, smallest_concurrency
from simulator import (
    ConstantUsers,
    InputError,
    Phase,
    Phases,
    PoissonArrivals,
    RunSpec,
    ServerlessConfig,
    ServerlessEndpoint,
    ServerlessProfile,
    simulate_serverless,
)
from simulator.distributions import Distribution, parse_distribution
from simulator.profiles import serverless_from_dict
from simulator.serverless import run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def profile(service_ms=20.0, setup_ms=500.0, idle_timeout_s=100.0, backoff_ms=100.0, setup_family="deterministic"):
    setup = {"family": setup_family, "mean_ms": setup_ms, **({"cv": 0.4} if setup_family != "deterministic" else {})}
    return {"model": "serverless-test",
            "instances": {"ml.c5.large": {"workers": 1, "service_time": {"family": "exponential", "mean_ms": 5}}},
            "serverless": {"reference_memory_mb": 2048,
                           "service_time": {"family": "exponential", "mean_ms": service_ms},
                           "model_setup_time": setup, "idle_timeout_s": idle_timeout_s, "backoff_ms": backoff_ms,
                           "payload_kb": 10}}


@pytest.mark.slow(reason="serverless runs long enough for their laws (0.6 s measured)")
def test_cold_starts_match_the_idle_timeout_law():
    # One environment, Poisson arrivals: after each request the environment idles for an
    # Exp(rate) time (memoryless), so the next request is cold with probability exp(-rate T).
    rate, timeout = 0.01, 100.0
    result = simulate_serverless(profile(idle_timeout_s=timeout), 2048, 1, arrival_rate_per_s=rate,
                                 duration_s=300_000, seed=4)
    served = result.completed
    p = math.exp(-rate * timeout)
    expected = 1 + (served - 1) * p
    sd = math.sqrt((served - 1) * p * (1 - p))
    assert abs(result.cold_starts - expected) <= 4.5 * sd, (result.cold_starts, expected, sd)
    assert result.per_minute["ColdStarts"].sum() == result.cold_starts


@pytest.mark.slow(reason="serverless runs long enough for their laws (0.6 s measured)")
def test_throttled_users_obey_conservation_and_the_response_time_law():
    users, limit, duration = 12, 4, 600.0
    result = simulate_serverless(profile(service_ms=20.0, setup_ms=1.0), 2048, limit, users=users,
                                 duration_s=duration, seed=2)
    assert result.issued == result.completed + result.throttled + result.in_service
    assert result.per_minute["Invocation4XXErrors"].sum() == result.throttled
    assert result.throttled > 0
    # Each user cycles: (throttle, back off)* then serve. N / X = the mean cycle time.
    served = result.completed
    cycle = result.service_ms.mean() / 1000 + 1e-3 * result.cold_starts / served + \
        result.throttled / served * 0.100
    assert users / (served / duration) == pytest.approx(cycle, rel=0.03)
    # Never more than MaxConcurrency at once: the served rate is at most limit / E[S].
    assert served / duration <= limit / 0.020 * 1.02


def busy_at(out, t):
    """Requests holding an environment at ``t`` among the completed ones: each held its
    environment from its start (completion - service - setup) to its completion."""
    starts = np.sort(out.completion_s - out.latency_s - out.setup_s)
    return np.searchsorted(starts, t, "right") - np.searchsorted(out.completion_s, t, "right")


serverless_traffic = st.one_of(
    st.builds(ConstantUsers, st.integers(1, 20), st.integers(60, 180)),
    st.builds(PoissonArrivals.constant, st.floats(0.5, 60.0), st.integers(60, 180)),
    st.lists(st.builds(Phase, st.integers(1, 20), st.integers(0, 3), st.integers(60, 120)), min_size=1,
             max_size=3).map(lambda phases: Phases(tuple(phases))))


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(traffic=serverless_traffic, limit=st.integers(1, 8), provisioned=st.integers(0, 8), warm=st.integers(0, 8),
       idle_timeout_s=st.sampled_from([1.0, 600.0]), think_s=st.sampled_from([0.0, 0.05]), overhead=st.booleans(),
       seed=st.integers(0, 2 ** 32 - 1))
def test_attempts_are_conserved_and_never_more_than_max_concurrency_run(traffic, limit, provisioned, warm,
                                                                          idle_timeout_s, think_s, overhead, seed):
    """attempts = completed + throttled + in service, at the end of any run. An attempt either
    takes an environment (in service from then on, its cold-start setup included, until it
    completes) or is throttled at once, counted once in ``throttle_s``; a throttled user's
    retry after its backoff is a new attempt, and a user backing off or thinking holds none
    (an open arrival throttled is lost). At every instant at most MaxConcurrency requests
    hold an environment, and an attempt is throttled only when exactly MaxConcurrency do."""
    section = serverless_from_dict(profile(service_ms=200.0, setup_ms=300.0, idle_timeout_s=idle_timeout_s,
                                           backoff_ms=200.0, setup_family="lognormal")["serverless"])
    config = ServerlessConfig(2048, limit, min(provisioned, limit))
    extra = parse_distribution({"family": "exponential", "mean_ms": 5.0}, "overhead") if overhead else None
    out = run(RunSpec(ServerlessEndpoint(section, config, warm_environments=warm), traffic, overhead=extra,
                      think_time_s=think_s, seed=seed))
    assert out.issued == out.completion_s.size + out.throttle_s.size + out.in_service
    assert 0 <= out.in_service <= limit
    # Completed requests alone, at each of their starts (just after it: one that ended at that
    # instant has freed its environment), never exceed the limit.
    starts = out.completion_s - out.latency_s - out.setup_s
    assert np.all(busy_at(out, starts + 1e-9) <= limit)
    # At a throttle the limit was reached: the completed requests holding an environment then,
    # plus at most the ones still in service at the end, make exactly MaxConcurrency.
    at_throttles = busy_at(out, out.throttle_s + 1e-9)
    assert np.all(at_throttles <= limit) and np.all(at_throttles + out.in_service >= limit)


def test_compute_scales_with_memory_up_to_the_speedup_cap():
    section = ServerlessProfile(2048, Distribution("lognormal", 20.0, 0.5), Distribution("deterministic", 1.0, 0.0),
                                max_speedup=2.0)
    assert section.service_at(1024).mean_ms == pytest.approx(40.0)
    assert section.service_at(4096).mean_ms == pytest.approx(10.0)
    assert section.service_at(6144).mean_ms == pytest.approx(10.0)  # beyond the cap memory does not help
    with pytest.raises(InputError, match="1024 to 6144 in steps of 1024"):
        simulate_serverless(profile(), 1500, 4, users=1, duration_s=60)
    needy = profile()
    needy["serverless"]["memory_needed_mb"] = 3072
    with pytest.raises(InputError, match="less than the 3072 MB the model needs"):
        simulate_serverless(needy, 2048, 4, users=1, duration_s=60)


def test_serverless_cost_to_the_cent():
    # 7 ms billed at 2048 MB ($0.00004 per second) and 10 KB at $0.016 per GB, 12,000 a minute.
    rate = pricing.serverless_rate(2048)
    outcome = type("Outcome", (), {"mean_billed_ms": 7.0, "payload_kb": 10.0, "per_instance_max": 12000,
                                   "model_latency_us": 9000, "model_setup_time_us": 2500000})()
    metrics = serverless_metrics(outcome, rate)
    assert metrics["CostPerInference"] == pytest.approx(7e-3 * 4e-5 + 10 / 1024 ** 2 * 0.016, rel=1e-12)
    assert round(metrics["CostPerHour"], 2) == 0.31  # 4.3259e-07 x 12,000 x 60 = $0.3115
    assert pricing.billed_ms(6.2) == 7 and pricing.billed_ms(7.0) == 7
    assert rate.provisioned_usd_per_second is None  # no known price: never invented


@pytest.mark.slow
def test_a_job_with_serverless_configurations_answers_in_the_aws_shape():
    request = json.loads((EXAMPLES / "serverless-job.json").read_text())
    result = execute_job(request, "demo", seed=1, created=CREATED)
    assert_valid_aws_shapes(result)
    serverless = [r for r in result.describe["InferenceRecommendations"]
                  if "ServerlessConfig" in r["EndpointConfiguration"]]
    assert len(serverless) == 2
    for recommendation in serverless:
        metrics = recommendation["Metrics"]
        assert isinstance(metrics["ModelSetupTime"], int) and metrics["ModelSetupTime"] > 0
        assert metrics["CostPerHour"] == pytest.approx(metrics["CostPerInference"] * metrics["MaxInvocations"] * 60)
        assert "InstanceType" not in recommendation["EndpointConfiguration"]
    warnings = [w for b in result.extensions()["benchmarks"] for w in b["warnings"]]
    assert any("ProvisionedConcurrency 2: no known price" in w for w in warnings)
    frame = result.scheduled[0].outcome.per_minute
    assert {"ColdStarts", "ModelSetupTime_Average", "Invocation4XXErrors"} <= set(frame.columns)


def test_erlang_b_sizes_concurrency():
    assert erlang_b(1, 1.0) == pytest.approx(0.5) and erlang_b(2, 1.0) == pytest.approx(0.2)  # textbook values
    assert smallest_concurrency(100.0, 0.02) == next(m for m in range(1, 201) if erlang_b(m, 2.0) <= 0.001)


@pytest.mark.slow
def test_the_optimizer_weighs_serverless():
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    document = recommend(request, "demo", serverless=True)
    first = document["InferenceRecommendations"][0]
    assert "ServerlessConfig" in first["EndpointConfiguration"] and document["Details"][0]["Verified"]
    costs = [i["Metrics"]["CostPerHour"] for i in document["InferenceRecommendations"]]
    assert costs[0] == min(costs)  # at 1,000 a minute serverless is the cheapest
    assert document["Details"][0]["ThrottledShare"] <= 0.002


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("payload_kb", 1e308, "<= 4096"), ("idle_timeout_s", float("inf"), "<= 86400"), ("max_speedup", 7, "<= 6"),
    ("backoff_ms", -1, "> 0"), ("backoff_ms", 4e6, "<= 3600000"), ("payload_kb", True, "a number")])
def test_the_serverless_sections_scalars_are_bounded(key, value, allowed):
    """No scalar can make a run meaningless (an infinite payload cost, a timeout of ages)."""
    section = {"reference_memory_mb": 2048, "service_time": {"family": "exponential", "mean_ms": 5},
               "model_setup_time": {"family": "exponential", "mean_ms": 500}, key: value}
    with pytest.raises(InputError, match=rf"^serverless\.{key}: .*{re.escape(allowed)}"):
        serverless_from_dict(section)
