"""The engine check of an autoscaling timeline judges each minute three-valued (issue 22):
meets, misses, or too close to call, never a plain yes or no on one noisy minute, checked on
an M/M/2 minute stream whose exact P95 is known."""

from __future__ import annotations

import numpy as np

from autoscaling.verify import minute_verdicts
from optimizer.verdict import MEETS, MISSES, TOO_CLOSE
from simulator import load_profile, simulate
from simulator.analytic import mmc_response_quantile

MM2 = {"model": "mm2", "instances": {"ml.c5.large": {"workers": 2, "service_time": {
    "family": "exponential", "mean_ms": 20.0}}}}


def minutes_at(rate_per_s: float, seed: int, minutes: int = 20):
    result = simulate(load_profile(MM2), "ml.c5.large", arrival_rate_per_s=rate_per_s, duration_s=60.0 * minutes,
                      seed=seed)
    return result.completion_s - result.latency_ms / 1000.0, result.latency_ms


def test_minutes_far_from_the_slo_are_decided_and_at_it_too_close():
    arrival, latency = minutes_at(70.0, seed=3)  # rho 0.7: exact P95 about 101 ms
    exact = mmc_response_quantile(0.95, 70.0, 2, 0.020) * 1000.0
    far_above = minute_verdicts(arrival, latency, 20, 95, exact * 2.0)[2:]
    far_below = minute_verdicts(arrival, latency, 20, 95, exact / 2.0)[2:]
    at = minute_verdicts(arrival, latency, 20, 95, exact)[2:]
    assert far_above.count(MEETS) >= 17 and MISSES not in far_above
    assert far_below.count(MISSES) >= 17 and MEETS not in far_below
    assert at.count(TOO_CLOSE) >= 12  # one minute cannot tell a percentile at the SLO


def test_an_empty_minute_has_no_verdict():
    arrival = np.array([1.0, 2.0, 130.0])
    assert minute_verdicts(arrival, np.array([5.0, 5.0, 5.0]), 3, 95, 10.0)[1] is None
