"""The flat-invocations rule (issue 12): it never fires while Invocations grow in proportion
to users, at any SpawnRate, and it fires within three minutes of saturation.

First the rule on hand-built minutes, then whole load tests: c workers saturate at
c / E[S] requests per second once more than c closed-loop users (no think time) are active,
so the best minute must reach 95% of it and the test must stop by FlatInvocations at most
three minutes after the first minute whose users exceed c.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import make_profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import InputError, LatencyThreshold, Phase, Phases, Stairs, StoppingConditions, simulate
from simulator import stopping as sp
from simulator.stopping import MinuteSummary, best_minute, plateau, stop_reason
from simulator.traffic import Traffic

FLAT = StoppingConditions(stop_on_flat_invocations=True)

# --- the rule on hand-built minutes -----------------------------------------------------

#: How a minute's users reach the rule. The harness reads the count at the minute's start and
#: just before its end; an addition that falls on the boundary itself may be read as already
#: made ("next start"), so both readings must work.
READINGS = ("last instant", "next start")


def ramp(per_user: float, spawn: int, minutes: int, workers: float = math.inf, initial: int = 1,
         reading: str = "last instant", rng: np.random.Generator | None = None) -> list[MinuteSummary]:
    """A PHASES ramp of ``spawn`` users a minute from ``initial``; each minute serves
    ``per_user`` Invocations per active user up to ``workers`` users (Poisson draws with ``rng``)."""
    rows = []
    for j in range(minutes):
        start = initial + spawn * j
        mean_users = start + (spawn - 1) / 2.0  # additions at even spacing, the last one at the boundary
        expected = per_user * min(mean_users, workers)
        count = int(rng.poisson(expected)) if rng is not None else round(expected)
        end = start + spawn if reading == "next start" else start + spawn - 1
        rows.append(MinuteSummary(j, count, math.nan, start, end))
    return rows


def first_stop(history: list[MinuteSummary], conditions: StoppingConditions = FLAT) -> int | None:
    """The minute at which the rule would end the test, or None."""
    for m in range(len(history)):
        if stop_reason(history[:m + 1], conditions) is not None:
            return m
    return None


def saturation_minute(spawn: int, workers: int, initial: int = 1) -> int:
    """The first minute whose mean users exceed ``workers``."""
    return next(j for j in range(10_000) if initial + spawn * j + (spawn - 1) / 2.0 > workers)


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("spawn", [1, 2, 3])
@pytest.mark.parametrize("per_user", [300.0, 3_000.0, 30_000.0])
@pytest.mark.parametrize("initial", [1, 10])
def test_proportional_growth_never_fires(reading, spawn, per_user, initial):
    history = ramp(per_user, spawn, 200, initial=initial, reading=reading)
    assert first_stop(history) is None
    evidence = plateau(history, FLAT)
    assert evidence is not None and evidence.gain >= 0.99 and not evidence.sublinear


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("spawn", [1, 2, 3])
@pytest.mark.parametrize("per_user", [300.0, 30_000.0])
@pytest.mark.parametrize("workers", [1, 2, 8, 32, 64])
def test_a_plateau_fires_within_three_minutes(reading, spawn, per_user, workers):
    history = ramp(per_user, spawn, workers + 20, workers=workers, reading=reading)
    stop = first_stop(history)
    assert stop is not None
    # Within 3 minutes, but for one case: at 2 workers the knee's corner is the only second
    # difference the dispersion sees, and with the prior (2, issue 23) it costs one minute.
    assert 0 <= stop - saturation_minute(spawn, workers) <= (4 if workers == 2 and spawn == 1 else 3)
    evidence = plateau(history[:stop + 1], FLAT)
    assert evidence is not None and evidence.gain < evidence.cut


@pytest.mark.slow(reason="hundreds of noisy ramps (0.5-0.7 s each spawn rate)")
@pytest.mark.parametrize("spawn", [1, 2, 3])
def test_poisson_noise_on_a_linear_ramp_does_not_fire(spawn):
    # 300 Invocations per user-minute is a 200 ms model: the noisiest relative to what one user adds.
    rng = np.random.default_rng(20240612 + spawn)
    for reading in READINGS:
        for _ in range(100):
            assert first_stop(ramp(300.0, spawn, 90, initial=int(rng.integers(1, 20)), reading=reading,
                                   rng=rng)) is None


@pytest.mark.parametrize("spawn", [1, 2, 3])
def test_poisson_noise_on_a_plateau_still_fires_within_four_minutes(spawn):
    # The marginal gain is fitted over the last 4 minutes (issue 23): a sharp knee whose
    # counts are noisy (300 a user-minute) is confirmed flat 2 to 4 minutes after it.
    rng = np.random.default_rng(7 + spawn)
    late = []
    for workers in (1, 4, 16, 64):
        for _ in range(25):
            stop = first_stop(ramp(300.0, spawn, workers + 20, workers=workers, rng=rng))
            assert stop is not None
            late.append(stop - saturation_minute(spawn, workers))
    assert min(late) >= 0 and max(late) <= 4 and np.mean(np.array(late) <= 3) >= 0.9


def test_one_slow_minute_is_not_a_plateau():
    # A minute 4 standard deviations short, as a long pause would make it, is diluted by its neighbour.
    history = ramp(300.0, 1, 40)
    dip = history[30]
    history[30] = MinuteSummary(dip.minute, dip.invocations - round(4 * math.sqrt(dip.invocations)), math.nan,
                                dip.users_start, dip.users_end)
    assert first_stop(history) is None


def test_no_users_added_means_no_plateau():
    saturated = [MinuteSummary(j, 6000, math.nan, 40, 40) for j in range(30)]
    assert first_stop(saturated) is None
    assert first_stop([MinuteSummary(j, 6000, math.nan, 0, 0) for j in range(30)]) is None  # open arrivals
    assert plateau(saturated[:1], FLAT) is None  # no minute before the window yet


def test_window_gap_and_noise_are_options():
    history = ramp(3_000.0, 1, 40, workers=20)
    default = first_stop(history)
    assert default is not None
    assert first_stop(history, StoppingConditions(stop_on_flat_invocations=True, flat_window_min=4)) >= default
    assert first_stop(history, StoppingConditions(stop_on_flat_invocations=True, flat_gap=0.0)) is None
    noisy = ramp(300.0, 1, 60, workers=32, rng=np.random.default_rng(3))
    assert first_stop(noisy, StoppingConditions(stop_on_flat_invocations=True, flat_noise_sigmas=12.0)) > \
        first_stop(noisy)
    with pytest.raises(InputError) as info:
        StoppingConditions(flat_gap=1.0)
    assert info.value.field == "flat_gap"


# --- whole load tests -------------------------------------------------------------------

MINUTES_AFTER = 6  # the pattern runs on this long past saturation, so a late stop would show


@dataclass(frozen=True)
class LoadTest:
    """One closed-loop load test drawn by hypothesis, with its pattern built to saturate."""

    workers: int
    mean_ms: float
    family: str
    cv: float | None
    kind: str   # "phases" or "stairs"
    per: int    # SpawnRate (users per minute) or UsersPerStep (one step a minute)
    initial: int
    threshold: LatencyThreshold | None
    seed: int

    def traffic(self) -> Traffic:
        minutes = saturation_minute(self.per, self.workers, self.initial) + 1 + MINUTES_AFTER
        if self.kind == "stairs":
            return Stairs(60.0 * minutes, minutes, self.per)
        phases, users, left = [], self.initial, 60.0 * minutes
        while left > 0:  # a phase lasts at most 3600 s: chain phases that carry the ramp on
            phase = Phase(users, self.per, min(3600.0, left))
            phases.append(phase)
            users, left = phase.final_users, left - phase.duration_s
        return Phases(tuple(phases))

    @property
    def capacity_per_min(self) -> float:
        return self.workers * 60_000.0 / self.mean_ms

    def saturation(self) -> int:
        """The first minute whose users, averaged over the minute, exceed the workers."""
        traffic = self.traffic()
        return next(j for j in range(int(traffic.duration_s // 60))
                    if np.mean([traffic.users_at(60.0 * j + (i + 0.5) / 4.0) for i in range(240)]) > self.workers)


def cost(workers: int, mean_ms: float, per: int, initial: int) -> float:
    """Requests a test serves, about: the ramp to ``workers`` users, then the minutes after."""
    ramp_users = sum(range(initial, workers + 1, per))
    return 60_000.0 / mean_ms * (ramp_users + workers * (MINUTES_AFTER + 1))


@st.composite
def load_tests(draw, budget: float) -> LoadTest:
    """A load test of at most ``budget`` requests: PHASES start as low as the budget allows
    (from 1 user for the slow, noisy models), STAIRS always start at one step."""
    kind = draw(st.sampled_from(["phases", "stairs"]))
    per = draw(st.integers(1, 3))
    largest = max(w for w in range(1, 65) if cost(w, 200.0, per, per if kind == "stairs" else w) <= budget)
    workers = draw(st.integers(1, largest) | st.integers(largest // 2, largest))
    fastest = max(2.0, min(200.0, cost(workers, 1.0, per, per if kind == "stairs" else workers) / budget))
    mean_ms = math.exp(draw(st.floats(math.log(fastest), math.log(200.0))))
    initial = per
    if kind == "phases":
        initial = next(u for u in range(1, workers + 1) if cost(workers, mean_ms, per, u) <= budget * 1.001)
    family = draw(st.sampled_from(["exponential", "lognormal"]))
    cv = draw(st.floats(0.2, 1.0)) if family == "lognormal" else None
    threshold = draw(st.sampled_from([None, LatencyThreshold(99, 100.0 * mean_ms)]))
    return LoadTest(workers, mean_ms, family, cv, kind, per, initial, threshold, draw(st.integers(0, 2 ** 16)))


def check(test: LoadTest) -> None:
    """The best minute reaches 95% of c / E[S] and the test stops by FlatInvocations at most
    three minutes after the first minute whose users exceed c."""
    conditions = StoppingConditions(latency=test.threshold, stop_on_flat_invocations=True)
    profile = make_profile(test.family, test.mean_ms, cv=test.cv, workers=test.workers)
    # Only the minutes are read: keeping every request would pass irsim's memory limit on long tests.
    result = simulate(profile, "ml.test.large", traffic=test.traffic(), stopping=conditions, seed=test.seed,
                      keep_requests=False)
    best = best_minute(result.minutes, conditions)
    assert best is not None
    assert best.invocations >= 0.95 * test.capacity_per_min, (best.invocations / test.capacity_per_min, result.minutes)
    assert result.stop_reason == sp.FLAT_INVOCATIONS
    late = len(result.minutes) - 1 - test.saturation()
    assert late <= 3, (late, result.minutes)


@pytest.mark.slow
# The rule's error rates are small but not zero (see docs/flat-invocations.md): a fixed
# example set keeps the suite reproducible; the seeded experiments there cover the tails.
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(test=load_tests(budget=300_000))
def test_load_tests_reach_saturation_and_stop_within_three_minutes(test):
    check(test)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["phases", "stairs"])
def test_the_noisiest_case_64_workers_at_200_ms_one_user_a_minute(kind):
    # What one added user brings (300 a minute) is closest to the noise of a minute (~sqrt(19200)).
    check(LoadTest(64, 200.0, "exponential", None, kind, 1, 1, None, 12))


@pytest.mark.slow
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(test=load_tests(budget=4_000_000))
def test_load_tests_reach_saturation_and_stop_within_three_minutes_up_to_64_workers(test):
    check(test)


@pytest.mark.slow
@pytest.mark.parametrize("spawn", [1, 2, 3])
def test_32_workers_at_20_ms_reach_their_capacity(spawn):
    # Issue 12's example: the withdrawn rule stopped at ~22 users and 59% of capacity at SpawnRate 1.
    check(LoadTest(32, 20.0, "exponential", None, "phases", spawn, 1, None, 1))
