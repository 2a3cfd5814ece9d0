"""Stopping conditions: each rule on synthetic minutes, then end to end in the engine."""

import math

import pytest
from conftest import make_profile

from simulator import LatencyThreshold, Phase, Phases, Stairs, StoppingConditions, simulate
from simulator import stopping as st
from simulator.stopping import MinuteSummary, best_minute, stop_reason


def minutes(*rows):
    return [MinuteSummary(i, inv, p, u0, u1) for i, (inv, p, u0, u1) in enumerate(rows)]


def test_latency_threshold_stops_only_when_exceeded():
    conditions = StoppingConditions(latency=LatencyThreshold(95, 100.0))
    assert stop_reason(minutes((100, 100.0, 1, 1)), conditions) is None
    assert stop_reason(minutes((100, 100.1, 1, 1)), conditions) == st.LATENCY_THRESHOLD
    assert stop_reason(minutes((0, math.nan, 1, 1)), conditions) is None


def test_max_invocations_stops_when_reached():
    conditions = StoppingConditions(max_invocations=1000)
    assert stop_reason(minutes((999, 5, 1, 1)), conditions) is None
    assert stop_reason(minutes((1000, 5, 1, 1)), conditions) == st.MAX_INVOCATIONS


RAMP = ((1000, 1, 1, 1), (2000, 1, 2, 2), (3000, 1, 3, 3))  # 1 user a minute, 1000 Invocations per user


@pytest.mark.parametrize("rows, expected", [
    ((*RAMP, *((3000, 1, u, u) for u in range(4, 8))), st.FLAT_INVOCATIONS),  # 4 minutes of added users add nothing
    ((*RAMP, (3000, 1, 4, 4), (3000, 1, 5, 5)), None),                 # 2: the slope of the last 4 minutes still rises
    ((*RAMP, (4000, 1, 4, 4), (5000, 1, 5, 5)), None),                 # in proportion
    ((*RAMP, (3700, 1, 4, 4), (4300, 1, 5, 5)), None),                 # added users still bring over half
    (((3000, 1, 3, 3),) * 5, None),                                    # users did not grow
    (RAMP[:2], None),                                                  # no minute before the window yet
])
def test_flat_invocations_plateau_rule(rows, expected):
    conditions = StoppingConditions(stop_on_flat_invocations=True)
    assert stop_reason(minutes(*rows), conditions) == expected
    assert stop_reason(minutes(*rows), StoppingConditions()) is None  # FlatInvocations=Continue


def test_flat_gap_and_noise_are_tunable():
    slowing = minutes(*RAMP, (3700, 1, 4, 4), (4000, 1, 5, 5), (4100, 1, 6, 6), (4150, 1, 7, 7))
    assert stop_reason(slowing, StoppingConditions(stop_on_flat_invocations=True)) is None
    assert stop_reason(slowing, StoppingConditions(stop_on_flat_invocations=True, flat_gap=0.5)) == \
        st.FLAT_INVOCATIONS
    flat = minutes(*RAMP, *((3000, 1, u, u) for u in range(4, 8)))
    assert stop_reason(flat, StoppingConditions(stop_on_flat_invocations=True)) == st.FLAT_INVOCATIONS
    assert stop_reason(flat, StoppingConditions(stop_on_flat_invocations=True, flat_noise_sigmas=30.0)) is None


def test_best_minute_is_the_largest_count_within_the_threshold():
    conditions = StoppingConditions(latency=LatencyThreshold(95, 50.0))
    history = minutes((100, 10, 1, 1), (300, 40, 2, 2), (400, 60, 3, 3), (300, 45, 3, 3))
    assert best_minute(history, conditions).minute == 1
    assert best_minute(history, StoppingConditions()).minute == 2
    assert best_minute(minutes((100, 70, 1, 1)), conditions) is None


@pytest.mark.parametrize("bad, field", [
    (lambda: StoppingConditions(max_invocations=0), "max_invocations"),
    (lambda: StoppingConditions(flat_window_min=0), "flat_window_min"),
    (lambda: StoppingConditions(flat_gap=1), "flat_gap"),
    (lambda: StoppingConditions(flat_noise_sigmas=-1), "flat_noise_sigmas"),
    (lambda: LatencyThreshold(95, 0), "value_ms"),
    (lambda: LatencyThreshold(0, 10), "percentile"),
    (lambda: LatencyThreshold(100.5, 10), "percentile"),
])
def test_bad_conditions_name_the_field(bad, field):
    from simulator import InputError
    with pytest.raises(InputError) as info:
        bad()
    assert info.value.field == field


# --- end to end -----------------------------------------------------------------------

PROFILE = make_profile("exponential", 20.0, workers=2)  # saturates at 100 requests/s = 6000 / min


def test_engine_stops_at_the_first_minute_over_the_latency_threshold():
    # STAIRS adds 2 users every 2 minutes; the p95 grows with the queue and crosses 150 ms.
    conditions = StoppingConditions(latency=LatencyThreshold(95, 150.0))
    result = simulate(PROFILE, "ml.test.large", traffic=Stairs(1200, 10, 2), stopping=conditions, seed=1)
    assert result.stop_reason == st.LATENCY_THRESHOLD
    last = result.minutes[-1]
    assert last.latency_percentile_ms > 150.0
    assert all(m.latency_percentile_ms <= 150.0 for m in result.minutes[:-1])
    assert result.duration_s == 60.0 * len(result.minutes) < 1200


def test_engine_stops_when_invocations_reach_max_invocations():
    conditions = StoppingConditions(max_invocations=3000)
    result = simulate(PROFILE, "ml.test.large", traffic=Stairs(1200, 10, 1), stopping=conditions, seed=1)
    assert result.stop_reason == st.MAX_INVOCATIONS
    assert result.minutes[-1].invocations >= 3000
    assert all(m.invocations < 3000 for m in result.minutes[:-1])


def test_engine_stops_when_invocations_flatten():
    # 2 workers saturate with a handful of users; users keep growing by 1 a minute.
    conditions = StoppingConditions(stop_on_flat_invocations=True)
    traffic = Phases((Phase(1, 1, 1800),))
    result = simulate(PROFILE, "ml.test.large", traffic=traffic, stopping=conditions, seed=1)
    assert result.stop_reason == st.FLAT_INVOCATIONS
    assert 3 <= len(result.minutes) <= 10
    assert result.minutes[-1].invocations == pytest.approx(6000, rel=0.05)


def test_traffic_end_is_the_default_reason():
    result = simulate(PROFILE, "ml.test.large", users=3, duration_s=130, seed=0)
    assert result.stop_reason == st.TRAFFIC_ENDED and result.duration_s == 130
    assert list(result.per_minute["seconds"]) == [60.0, 60.0, 10.0]
