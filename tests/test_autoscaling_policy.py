"""Target tracking replayed per minute: a step up violates for the alarm's evaluation plus the
start-up and no more, scale-in waits for 15 low minutes and its cooldown, a cooldown shorter
than the start-up overshoots, costs add up to billed instance-minutes x price, and properties
(capacity within [min, max], more capacity never raises the percentile) hold for any curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaling import ALARMS, ScalingPolicy, Scenario, TrafficCurve, evaluate_policy, replay, step
from autoscaling.latency import MinuteModel
from autoscaling.policy import startup_minutes
from simulator import DEMO_PROFILE_PATH, load_profile
from simulator.errors import InputError

ENTRY = load_profile(DEMO_PROFILE_PATH).instance("ml.c5.large")  # 2 workers, 4 ms: 30,000 a minute at saturation
PRICE = 0.119


@pytest.mark.parametrize("startup_s", [0, 60, 120, 300, 600])
def test_step_up_violates_for_the_alarm_plus_the_start_up(startup_s):
    """10,000 -> 40,000 a minute at minute 61 on one instance (30,000 at saturation): the high
    alarm needs 3 breaching minutes (61-63), the new instances start for startup_s: 3 + startup
    minutes saturate, each adding the 10,000 over capacity to the first instance's backlog. The
    new instances start empty (random routing does not rebalance), so the first instance drains
    that backlog at 30,000 - 40,000 / 4 a minute while a quarter of the requests queue behind
    it: those minutes violate too, then the SLO holds again.
    (The scale-out cooldown covers the start-up: a shorter one overshoots, tested below.)"""
    curve = step(10_000, 40_000, 60, 180)
    policy = ScalingPolicy(min_capacity=1, max_capacity=10, target_value=12_000,
                           scale_out_cooldown_s=max(300, startup_s))
    timeline = evaluate_policy(Scenario.of(curve, ENTRY, price_per_hour=PRICE, slo_ms=20, startup_s=startup_s), policy)
    frame = timeline.frame
    saturated = ALARMS.high_datapoints + startup_s // 60
    backlog = 10_000.0 * saturated
    expected = saturated + math.ceil(backlog / (30_000 - 40_000 / 4))
    assert timeline.violating_minutes == expected
    assert frame.loc[frame.violating, "minute"].tolist() == list(range(61, 61 + expected))
    assert frame["backlog"].iloc[60 + saturated - 1] == pytest.approx(backlog)
    assert frame.loc[frame.violating, "failed"].tolist()[:saturated] == pytest.approx([10_000.0] * saturated)
    assert timeline.failed == pytest.approx(10_000.0 * saturated)
    assert frame.capacity.iloc[-1] == math.ceil(40_000 / 12_000) and timeline.scale_outs == 1
    # the instances were billed from the minute after the decision, while they started
    assert frame.pending.tolist()[63:63 + startup_s // 60] == [3] * (startup_s // 60)


def test_step_down_scales_in_after_fifteen_low_minutes_and_the_cooldown():
    curve = step(40_000, 10_000, 60, 180)
    policy = ScalingPolicy(min_capacity=1, max_capacity=10, target_value=12_000, scale_in_cooldown_s=600)
    capacity = replay(curve.per_minute, policy, 300).in_service
    assert capacity[:75].tolist() == [4] * 75  # minutes 61..75 are the 15 low datapoints
    assert capacity[75:].tolist() == [1] * 105  # ceil(10,000 / 12,000) = 1 from minute 76
    disabled = replay(curve.per_minute, ScalingPolicy(1, 10, 12_000, scale_in_disabled=True), 300)
    assert disabled.in_service.tolist() == [4] * 180 and disabled.scale_ins == 0


def test_a_dip_shorter_than_the_low_alarm_keeps_the_capacity():
    rates = np.array([40_000.0] * 60 + [10_000.0] * 14 + [40_000.0] * 60)
    assert set(replay(rates, ScalingPolicy(1, 10, 12_000), 300).in_service) == {4}


def test_scale_in_cooldown_spaces_further_scale_ins():
    """A decline within the low alarm's window keeps it in alarm after a scale-in: the next one
    waits only for the cooldown, so a longer cooldown scales in later and fewer times."""
    rates = np.concatenate([np.linspace(60_000, 6_000, 60), np.full(120, 6_000.0)])
    short = replay(rates, ScalingPolicy(1, 10, 12_000, scale_in_cooldown_s=300), 300)
    long = replay(rates, ScalingPolicy(1, 10, 12_000, scale_in_cooldown_s=1800), 300)
    assert short.scale_ins > long.scale_ins >= 1
    assert np.all(long.in_service >= short.in_service)


def test_minutes_without_invocations_publish_no_datapoint():
    """An idle endpoint never scales in: its alarms have no datapoints (INSUFFICIENT_DATA)."""
    rates = np.array([40_000.0] * 10 + [0.0] * 100)
    assert replay(rates, ScalingPolicy(1, 10, 12_000), 300).in_service.tolist() == [4] * 110


def test_scale_out_cooldown_shorter_than_start_up_overshoots():
    """During the cooldown the capacity being added counts; after it, the scale-out multiplies
    the desired count (instances still starting included) by the metric, which the starting
    instances have not lowered yet: a 60 s cooldown with a 600 s start-up overshoots."""
    curve = step(10_000, 40_000, 30, 120)
    settled = replay(curve.per_minute, ScalingPolicy(1, 20, 12_000, scale_out_cooldown_s=600), 600)
    overshoot = replay(curve.per_minute, ScalingPolicy(1, 20, 12_000, scale_out_cooldown_s=60), 600)
    assert settled.in_service[-1] == 4 and settled.scale_outs == 1
    assert overshoot.in_service.max() > 4 and overshoot.scale_outs > 1


def test_max_capacity_caps_scale_out():
    curve = step(10_000, 200_000, 10, 60)
    assert replay(curve.per_minute, ScalingPolicy(1, 5, 12_000), 0).in_service.max() == 5


def test_costs_add_up_to_instance_minutes_times_price():
    """The step timeline counted independently: 1 instance until the decision at minute 63,
    then 1 in service + 3 starting for 5 minutes, then 4; billed = in service + starting."""
    curve = step(10_000, 40_000, 60, 180)
    scenario = Scenario.of(curve, ENTRY, price_per_hour=PRICE, slo_ms=20, startup_s=300)
    timeline = evaluate_policy(scenario, ScalingPolicy(1, 10, 12_000))
    instance_minutes = 63 * 1 + 5 * (1 + 3) + (180 - 68) * 4
    assert timeline.instance_minutes == instance_minutes
    assert timeline.cost == pytest.approx(instance_minutes * PRICE / 60)
    frame = timeline.frame
    assert timeline.cost == pytest.approx((frame.capacity + frame.pending).sum() * PRICE / 60)


def test_startup_rounds_up_to_whole_minutes_and_is_checked():
    assert [startup_minutes(s) for s in (0, 1, 60, 61, 300)] == [0, 1, 1, 2, 5]
    with pytest.raises(InputError) as caught:
        startup_minutes(-1)
    assert caught.value.field == "startup_s"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"min_capacity": 0, "max_capacity": 2, "target_value": 10}, "min_capacity"),
    ({"min_capacity": 3, "max_capacity": 2, "target_value": 10}, "max_capacity"),
    ({"min_capacity": 1, "max_capacity": 2, "target_value": 0}, "target_value"),
    ({"min_capacity": 1, "max_capacity": 2, "target_value": 10, "scale_in_cooldown_s": -1}, "scale_in_cooldown_s"),
    ({"min_capacity": 1, "max_capacity": 2, "target_value": 10, "scale_out_cooldown_s": 1.5}, "scale_out_cooldown_s"),
    ({"min_capacity": 1, "max_capacity": 2, "target_value": 10, "scale_in_disabled": "no"}, "scale_in_disabled"),
])
def test_policy_fields_checked(kwargs, field):
    with pytest.raises(InputError) as caught:
        ScalingPolicy(**kwargs)
    assert caught.value.field == field


def test_evaluate_policy_arguments_checked():
    curve = step(1000, 2000, 5, 10)
    policy = ScalingPolicy(1, 2, 1000)
    for kwargs, field in [({"slo_ms": 0}, "slo_ms"), ({"slo_ms": 20, "percentile": "P97"}, "percentile"),
                          ({"slo_ms": 20, "routing": "round_robin"}, "routing"),
                          ({"slo_ms": 20, "startup_s": 7200}, "startup_s"),
                          ({"slo_ms": 20, "price_per_hour": -1}, "price_per_hour")]:
        arguments = {"price_per_hour": PRICE, **kwargs}
        with pytest.raises(InputError) as caught:
            evaluate_policy(Scenario.of(curve, ENTRY, **arguments), policy)
        assert caught.value.field == field


rates = st.lists(st.floats(min_value=0, max_value=200_000, allow_nan=False), min_size=1, max_size=300)
policies = st.builds(
    lambda low, extra, target, cool_in, cool_out, disabled: ScalingPolicy(low, low + extra, target, cool_in, cool_out,
                                                                          disabled),
    st.integers(1, 5), st.integers(0, 10), st.floats(500, 40_000), st.sampled_from([0, 60, 300, 900]),
    st.sampled_from([0, 60, 300, 900]), st.booleans())


@settings(max_examples=60, deadline=None)
@given(rates, policies, st.sampled_from([0, 60, 300, 600]))
def test_capacity_stays_within_min_and_max(values, policy, startup_s):
    timeline = replay(np.array(values), policy, startup_s)
    desired = timeline.in_service + timeline.pending
    assert np.all(timeline.in_service >= policy.min_capacity) and np.all(timeline.pending >= 0)
    assert np.all((desired >= policy.min_capacity) & (desired <= policy.max_capacity))
    if policy.scale_in_disabled:
        assert np.all(np.diff(desired) >= 0)


@pytest.mark.slow(reason="a property over many capacities and loads (1.1 s measured)")
@settings(max_examples=40, deadline=None)
@given(st.floats(0, 300_000), st.integers(1, 30), st.integers(1, 5), st.sampled_from([50.0, 95.0, 99.0]))
def test_more_capacity_never_raises_the_percentile(invocations, count, more, percentile):
    _more_capacity_never_raises_the_percentile(_model("random", percentile), invocations, count, more)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(st.floats(0, 300_000), st.integers(1, 12), st.integers(1, 3), st.sampled_from([50.0, 99.0]))
def test_more_capacity_never_raises_the_pooled_percentile(invocations, count, more, percentile):
    """Least-outstanding routing: one table per count (a pooled station), each built on demand."""
    _more_capacity_never_raises_the_percentile(_model("least_outstanding_requests", percentile), invocations,
                                               count, more)


def _more_capacity_never_raises_the_percentile(model: MinuteModel, invocations: float, count: int,
                                               more: int) -> None:
    fewer, larger = model.percentile_ms(np.array([invocations] * 2), np.array([count, count + more]))
    if invocations == 0:
        assert math.isnan(fewer) and math.isnan(larger)
    else:
        assert larger <= fewer * (1 + 1e-9)
    # and more traffic on the same instances never lowers it
    lighter, heavier = model.percentile_ms(np.array([invocations, invocations * 1.1 + 1]), np.array([count, count]))
    assert heavier >= lighter * (1 - 1e-9) or math.isnan(lighter)


_MODELS: dict[tuple[str, float], MinuteModel] = {}


def _model(routing: str, percentile: float) -> MinuteModel:
    """One model per routing and percentile for the whole module (tables are built once)."""
    if (routing, percentile) not in _MODELS:
        _MODELS[routing, percentile] = MinuteModel(ENTRY, percentile, routing)
    return _MODELS[routing, percentile]


def test_curve_of_one_minute_and_initial_capacity():
    one = TrafficCurve(per_minute=np.array([25_000.0]), start=None, source="x")
    assert replay(one.per_minute, ScalingPolicy(1, 10, 12_000), 300).in_service.tolist() == [3]
    assert replay(np.array([0.0, 0.0]), ScalingPolicy(2, 10, 12_000), 300).in_service.tolist() == [2, 2]
