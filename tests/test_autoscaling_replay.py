"""The engine check replays the whole curve continuously (issue 23): one engine run with the
policy's capacity schedule, backlogs carried across minutes and capacity changes, shown
against the exact replay (autoscaling/exact.py: the Lindley recursion per M/M/1 instance) on a
day whose burst saturates the instances in service; the segment-wise check it replaces starts
every segment empty and misses the backlog."""

from __future__ import annotations

import numpy as np
import pytest

from autoscaling import Diurnal, ScalingPolicy, TrafficCurve, replay, synthesize
from autoscaling.exact import exact_replay
from autoscaling.verify import engine_check, engine_percentiles, replay_segments, schedule_of
from optimizer.verdict import MISSES
from simulator import InputError
from simulator.distributions import Distribution
from simulator.profiles import InstanceProfile

#: M/M/1 instances of 100 ms (600 a minute each), P95 <= 1.5 s: the issue's day ten times slower.
ENTRY = InstanceProfile(instance_type="ml.c5.large", workers=1, service_time=Distribution("exponential", 100.0, 1.0))
SLO_MS = 1500.0


def burst_case():
    """150 minutes at 1,200 a minute with a 12-minute burst to 2,400 from minute 60, under
    (1, 8, 420): 3 instances at rho 0.67 (P95 0.9 s) saturate in the burst until 3 more come
    (three minutes of alarm, 300 s of start-up); the old ones then drain their backlog while
    the new ones start empty, and scale-in later takes the newest 3 out."""
    rate = np.full(150, 1200.0)
    rate[60:72] = 2400.0
    curve = TrafficCurve(per_minute=rate, start=None, source="burst")
    capacity = replay(curve.per_minute, ScalingPolicy(1, 8, 420.0), 300.0).in_service
    return curve, capacity


def test_the_schedule_is_the_capacity_timeline():
    curve = synthesize(Diurnal(100, 100), minutes=5)
    assert schedule_of(curve, np.array([2, 2, 3, 1, 1])) == (2, ((120.0, 3), (180.0, 1)))
    with pytest.raises(InputError):
        schedule_of(curve, np.array([2, 0, 3, 1, 1]))


@pytest.mark.slow(reason="a day replayed by the engine and exactly (0.8 s)")
def test_the_continuous_engine_replay_sees_the_backlog_the_exact_replay_sees():
    """Minute by minute against three exact replays: where the exact P95 is above the SLO the
    engine's is too (and the segment-wise check's, started empty, often is not); the counts of
    violating minutes agree within the exact replays' own spread plus a few minutes, and the
    continuous engine counts more than the segment-wise check."""
    curve, capacity = burst_case()
    assert capacity.min() == 3 and capacity.max() == 6 and np.diff(capacity).nonzero()[0].size == 2
    exact = [exact_replay(curve.per_minute, capacity, ENTRY, rng=np.random.default_rng(seed)) for seed in (1, 2, 3)]
    continuous = engine_percentiles(curve, ENTRY, capacity, percentile=95.0, seed=3)
    segments = engine_percentiles(curve, ENTRY, capacity, percentile=95.0, seed=3, replay=replay_segments)
    counts = [int(e.violating(SLO_MS).sum()) for e in exact]
    engine_count = int((np.nan_to_num(continuous) > SLO_MS).sum())
    segment_count = int((np.nan_to_num(segments) > SLO_MS).sum())
    assert min(counts) >= 10  # the case has a backlog worth the name
    assert abs(engine_count - np.mean(counts)) <= max(counts) - min(counts) + 3, (engine_count, counts)
    assert segment_count < min(counts) <= engine_count + 3, (segment_count, engine_count, counts)
    exact_ms = np.array([e.percentile_ms for e in exact])
    backlogged = exact_ms.min(axis=0) > 4 * SLO_MS
    assert backlogged.sum() >= 10
    assert np.all(continuous[backlogged] > 2 * SLO_MS)
    ratio = np.log(continuous[backlogged]) - np.log(exact_ms[:, backlogged]).mean(axis=0)
    assert np.abs(ratio).mean() < 0.15  # a backlog's P95 is its fluid drain: the same within noise


def test_the_engine_check_judges_each_minute_three_valued():
    """A saturated minute misses; the verdicts cover every minute with requests."""
    curve = synthesize(Diurnal(900, 900), minutes=4)
    check = engine_check(curve, ENTRY, np.array([1, 1, 1, 1]), percentile=95.0, slo_ms=SLO_MS, seed=1)
    assert len(check.verdicts) == 4 and None not in check.verdicts
    assert check.verdicts[-1] == MISSES and check.percentile_ms[-1] > SLO_MS
