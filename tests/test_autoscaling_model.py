"""The per-minute latency law against theory and against the discrete-event engine, and the
policy search: a flat curve gives the optimizer's static count, a varying one a cheaper policy
within the violation budget."""

from __future__ import annotations

import math
import time
from functools import partial

import numpy as np
import pytest

from autoscaling import (
    ScalingPolicy,
    Scenario,
    TrafficCurve,
    evaluate_policy,
    flat,
    recommend_policy,
    replay,
    static_peak,
)
from autoscaling.latency import MinuteModel, ServiceGrid, response_quantile_ms
from autoscaling.synth import parse_curve
from autoscaling.verify import engine_percentiles, replay_continuous, segments
from optimizer import Target
from optimizer.capacity import approximate_quantile_ms, smallest_count
from optimizer.plan import count_evaluator
from optimizer.statistics import relaxation_requests
from simulator import DEMO_PROFILE_PATH, load_profile, simulate
from simulator.analytic import mmc_response_quantile
from simulator.distributions import Distribution
from simulator.profiles import InstanceProfile

PROFILE = load_profile(DEMO_PROFILE_PATH)
ENTRY = PROFILE.instance("ml.c5.large")  # 2 workers, lognormal 4 ms (cv 0.5): 30,000 a minute at saturation
PRICE = 0.119


@pytest.mark.parametrize("workers", [1, 2, 8])
@pytest.mark.parametrize("utilization", [0.1, 0.5, 0.8, 0.95])
def test_exponential_service_gives_the_exact_mmc_quantile(workers, utilization):
    """With exponential service Allen-Cunneen's factor is 1 and the law is M/M/c's exact one."""
    service = Distribution("exponential", 10.0, 1.0)
    rate = utilization * workers / 0.010
    exact = mmc_response_quantile(0.95, rate, workers, 0.010) * 1000.0
    assert response_quantile_ms(rate, workers, service, 0.95, ServiceGrid.of(service)) == pytest.approx(exact,
                                                                                                        rel=0.005)


def test_no_load_gives_the_service_quantile_and_saturation_infinity():
    model = MinuteModel(ENTRY, 95.0)
    lone = model.percentile_ms(np.array([1e-6]), np.array([1]))[0]
    assert lone == pytest.approx(ENTRY.service_time.mean_ms * 1.936, rel=0.01)  # lognormal cv 0.5: P95 = 1.936 x mean
    saturated = model.percentile_ms(np.array([30_000.0, 60_000.0, 0.0]), np.array([1, 1, 1]))
    assert math.isinf(saturated[0]) and math.isinf(saturated[1]) and math.isnan(saturated[2])
    assert model.failed(np.array([45_000.0]), np.array([1])).tolist() == [15_000.0]


@pytest.mark.slow
@pytest.mark.parametrize("utilization", [0.3, 0.6, 0.8, 0.9])
def test_law_within_five_percent_of_long_engine_runs(utilization):
    """Stationary: one instance at each load for 4,000 relaxation times (1.4 M requests at rho
    0.9, where a P95 needs them), the law within 5 % of the engine's P95 (measured within 2 %),
    where the pre-screen's tail split is 35-55 % high."""
    rate = utilization * ENTRY.workers / (ENTRY.service_time.mean_ms / 1000.0)
    requests = max(200_000, 4000 * relaxation_requests(rate, ENTRY.workers, ENTRY.service_time.mean_ms / 1000.0))
    run = simulate(PROFILE, "ml.c5.large", arrival_rate_per_s=rate, duration_s=requests / rate, seed=5)
    measured = run.percentile_ms(95)
    law = MinuteModel(ENTRY, 95.0).quantile_at(rate, 1)
    assert law == pytest.approx(measured, rel=0.05)
    assert approximate_quantile_ms(rate, ENTRY.workers, ENTRY.service_time, 0.95) > 1.1 * measured


def _two_hour_curve() -> TrafficCurve:
    minutes = np.arange(120)
    rate = 30_000 + 90_000 * (1 - np.cos(2 * np.pi * minutes / 120)) / 2
    return TrafficCurve(per_minute=rate, start=None, source="2-hour cosine 30,000 to 120,000 a minute")


@pytest.mark.slow
@pytest.mark.stats  # three engine replays of 9 M requests (about 50 s of CPU and 600 MB)
def test_per_minute_model_agrees_with_the_engine_on_a_two_hour_curve():
    """The policy's capacity timeline replayed on the engine three times (independent seeds,
    ~9 M requests each, one continuous run each), minutes where rho <= 0.9: the model is within
    5 % of the runs' mean at 95 % of the minutes and within 2 % on average; at every minute it
    is within 5 % or within the spread of the engine runs themselves in its band of load (one
    minute's P95 at rho 0.6-0.9 is noisy: runs differ by up to 5-15 % there, see
    docs/autoscale.md)."""
    curve = _two_hour_curve()
    capacity = replay(curve.per_minute, ScalingPolicy(1, 12, 21_000), 300).in_service
    model = MinuteModel(ENTRY, 95.0)
    predicted = model.percentile_ms(curve.per_minute, capacity)
    utilization = model.offered_utilization(curve.per_minute, capacity)
    # ~9 M requests a replay, kept to judge each minute by its arrivals: past irsim's memory limit
    # for a job (1.5 M held at once), raised here on purpose (GBs in this test's process: a stats test).
    kept = partial(replay_continuous, max_held_requests=20_000_000)
    runs = np.array([engine_percentiles(curve, ENTRY, capacity, percentile=95.0, seed=seed, replay=kept)
                     for seed in (12, 13, 14)])
    measured = runs.mean(axis=0)
    relative = np.abs(predicted / measured - 1.0)
    between_runs = (runs.max(axis=0) - runs.min(axis=0)) / measured
    compared = utilization <= 0.9
    assert compared.sum() >= 100 and (utilization[compared] > 0.8).sum() >= 5
    assert np.mean(relative[compared] <= 0.05) >= 0.95 and relative[compared].mean() <= 0.02
    for low, high in ((0.0, 0.6), (0.6, 0.8), (0.8, 0.9)):
        band = (utilization > low) & (utilization <= high)
        assert relative[band].max() <= max(0.05, between_runs[band].max()), (low, high)


def test_engine_timeline_on_a_short_curve():
    """evaluate_policy(engine=True) replays each constant-capacity segment on the engine."""
    curve = TrafficCurve(per_minute=np.array([3000.0, 3000.0, 60_000.0, 60_000.0, 0.0]), start=None, source="x")
    scenario = Scenario.of(curve, ENTRY, price_per_hour=PRICE, slo_ms=20, startup_s=0)
    timeline = evaluate_policy(scenario, ScalingPolicy(1, 4, 20_000), engine=True)
    frame = timeline.frame
    assert timeline.measured_by == "engine" and "model_percentile_ms" in frame
    assert frame.capacity.tolist() == [1, 1, 1, 1, 1]  # the alarm needs three minutes above the target
    assert np.isinf(frame.percentile_ms[2]) and math.isnan(frame.percentile_ms[4])
    assert frame.percentile_ms[0] == pytest.approx(frame.model_percentile_ms[0], rel=0.15)
    assert timeline.violating_minutes == 2


def test_segments_of_constant_capacity():
    assert segments(np.array([1, 1, 2, 2, 2, 1])) == [(0, 2, 1), (2, 5, 2), (5, 6, 1)]
    assert segments(np.array([], dtype=int)) == []


def test_flat_curve_recommends_the_static_count():
    curve = flat(120_000, 120)
    found = recommend_policy(Scenario.of(curve, ENTRY, price_per_hour=PRICE, slo_ms=20))
    static = static_peak(curve, ENTRY, price_per_hour=PRICE, slo_ms=20)
    assert found.policy.min_capacity == found.policy.max_capacity == static.count
    assert found.timeline.violating_minutes == 0 and found.within_budget
    assert found.timeline.cost == pytest.approx(static.timeline.cost)
    # the count is the smallest meeting the SLO by the law: one fewer misses it
    model = MinuteModel(ENTRY, 95.0)
    assert model.quantile_at(2000.0, static.count) <= 20 < model.quantile_at(2000.0, static.count - 1)


@pytest.mark.slow
def test_static_count_is_the_optimizers_simulated_count():
    """The count the optimizer's own search gives by simulation (``count_evaluator``) at the
    flat curve's rate equals the static count the per-minute law gives."""
    rate_per_s = 120_000 / 60.0
    target = Target(rate_per_s=rate_per_s, percentile=95, slo_ms=20)
    simulated = smallest_count(ENTRY, rate_per_s, 95, 20, count_evaluator(PROFILE, "ml.c5.large", target, seed=0))
    assert simulated.count == static_peak(flat(120_000, 120), ENTRY, price_per_hour=PRICE, slo_ms=20).count


@pytest.mark.slow(reason="a search over a day (0.4 s measured)")
def test_search_on_a_day_saves_against_static_within_the_budget():
    curve = parse_curve("diurnal:peak=300000,trough=30000,days=1,seed=0,noise=0.05")
    found = recommend_policy(Scenario.of(curve, ENTRY, price_per_hour=PRICE, slo_ms=20), violation_budget=0.01)
    assert found.within_budget and found.timeline.violating_minutes <= found.budget_minutes == 14
    assert found.timeline.cost < 0.8 * found.static.timeline.cost and found.saving > 0.2
    assert found.static.timeline.violating_minutes == 0
    assert found.policy.max_capacity >= found.policy.min_capacity and found.tried >= 20
    again = evaluate_policy(Scenario.of(curve, ENTRY, price_per_hour=PRICE, slo_ms=20), found.policy)
    assert again.cost == pytest.approx(found.timeline.cost)
    assert again.violating_minutes == found.timeline.violating_minutes


@pytest.mark.slow
def test_search_verifies_its_answer_on_the_engine():
    curve = parse_curve("step:from=2000,to=20000,at=5,minutes=20")
    found = recommend_policy(Scenario.of(curve, ENTRY, price_per_hour=PRICE, slo_ms=20), violation_budget=0.2,
                             verify=True)
    assert found.verified is not None and found.verified.measured_by == "engine"
    assert found.verified.cost == pytest.approx(found.timeline.cost)
    assert abs(found.verified.violating_minutes - found.timeline.violating_minutes) <= 2
    assert found.timeline.violating_minutes <= found.budget_minutes == 4


def test_an_impossible_slo_is_one_error():
    with pytest.raises(Exception) as caught:
        static_peak(flat(1000, 10), ENTRY, price_per_hour=PRICE, slo_ms=2)
    assert getattr(caught.value, "field", None) == "slo_ms" and "service time alone" in str(caught.value)


@pytest.mark.slow
def test_week_search_fits_in_a_minute():
    curve = parse_curve("diurnal:peak=300000,trough=30000,days=7,seed=0,noise=0.05,bursts=10,weekend=0.6")
    began = time.perf_counter()
    found = recommend_policy(Scenario.of(curve, ENTRY, price_per_hour=PRICE, slo_ms=20))
    assert time.perf_counter() - began < 60
    assert found.within_budget and found.timeline.violating_minutes <= 10 and found.saving > 0.3
    began = time.perf_counter()
    evaluate_policy(Scenario.of(curve, ENTRY, price_per_hour=PRICE, slo_ms=20), found.policy)
    assert time.perf_counter() - began < 1.0  # a week per policy, frame and all (about 20 ms measured)


def test_least_outstanding_routing_needs_no_more_instances_than_random():
    curve = flat(200_000, 30)
    random = static_peak(curve, ENTRY, price_per_hour=PRICE, slo_ms=12)
    pooled = static_peak(curve, ENTRY, price_per_hour=PRICE, slo_ms=12, routing="least_outstanding_requests")
    assert pooled.count <= random.count


def test_a_profile_entry_from_its_parts():
    """Any InstanceProfile works, not just the demo's (the law reads workers and the service law)."""
    entry = InstanceProfile("ml.test", workers=4, service_time=Distribution("gamma", 50.0, 0.8))
    static = static_peak(flat(3000, 10), entry, price_per_hour=1.0, slo_ms=400)
    assert static.count >= math.ceil(3000 / (4 / 0.05 * 60))
    assert static.timeline.cost == pytest.approx(static.count * 10 / 60)
