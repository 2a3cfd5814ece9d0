"""The worker count from all the minutes: the closed-loop statistics the fit compares against
(checked on exact MVA and the zero-think-time latency law), the confidence set for c, and
thin ramps that must never report a wrong c as determined."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calibration.closedloop import Level, Service, no_queue_stats, service_values, simulate_levels
from calibration.fit import calibrate_cloudwatch
from calibration.moments import CandidateFit, Minutes
from calibration.sources import export_get_metric_statistics, read_cloudwatch
from calibration.workers import candidate_workers, instability, statistic_noise
from irsim.cli.app import main
from simulator import InstanceResources, Stairs, simulate
from simulator.analytic import closed_zero_think_latency_quantile, mva

TYPE = "ml.c5.xlarge"
START = datetime(2026, 1, 1, tzinfo=UTC)


def profile(family: str, mean_ms: float, cv: float, workers: int) -> dict:
    service = {"family": family, "mean_ms": mean_ms, **({"cv": cv} if family != "exponential" else {})}
    return {"model": "truth", "overhead_ms": {"family": "lognormal", "mean_ms": 2.0, "cv": 0.3},
            "instances": {TYPE: {"workers": workers, "service_time": service, "memory_mb": 900}}}


def ramp_frame(truth: dict, minutes: int, users_per_step: int, seed: int):
    result = simulate(truth, TYPE, traffic=Stairs(60.0 * minutes, minutes, users_per_step), seed=seed,
                      resources=InstanceResources(4, 8192))
    return read_cloudwatch(export_get_metric_statistics(result.per_minute, START))[0]


# --- the closed loop the fit simulates ----------------------------------------------------------

@pytest.mark.parametrize("users, workers", [(3, 1), (6, 2), (12, 4)])
def test_lockstep_mean_latency_and_throughput_match_exact_mva(users, workers):
    """Exponential service, any overhead law (a delay station keeps the product form): MVA is exact."""
    stats = simulate_levels([Level(users, workers, Service("exponential", 10.0, 1.0))], overhead_ms=3.0,
                            overhead_cv=0.5, requests=20_000, seed=5)[0]
    exact = mva(users, workers, 0.010, 0.003)
    error = math.sqrt(stats.covariance[0, 0] / stats.requests)
    assert abs(stats.values[0] - exact.response_s * 1000) < 4 * error
    assert stats.throughput_per_s == pytest.approx(exact.throughput_per_s, rel=0.03)


def test_lockstep_percentiles_match_the_zero_think_time_latency_law():
    stats = simulate_levels([Level(7, 2, Service("exponential", 10.0, 1.0))], overhead_ms=0.0, overhead_cv=0.5,
                            requests=20_000, seed=9)[0]
    for k, p in enumerate((50, 90, 95, 99), start=1):
        exact = closed_zero_think_latency_quantile(p / 100, 7, 2, 0.010) * 1000
        assert abs(stats.values[k] - exact) < 4 * math.sqrt(stats.covariance[k, k] / stats.requests) + 0.01 * exact


def test_nobody_waits_when_users_do_not_exceed_workers():
    level = Level(2, 4, Service("gamma", 8.0, 0.7))
    exact = no_queue_stats(level, overhead_ms=2.0)
    assert np.allclose(exact.values, service_values(level.service)) and exact.requests == math.inf
    assert exact.throughput_per_s == pytest.approx(2 / 0.010)
    assert exact.covariance[0, 0] == pytest.approx((0.7 * 8.0) ** 2, rel=0.02)  # Var(mean) per request = sigma^2


def test_candidates_stop_where_the_latency_level_leaves_the_light_minutes():
    flat_then_rising = Minutes(users=np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), requests=np.full(6, 5000.0),
                               values=np.array([[10.0] * 5, [10.1] * 5, [10.0] * 5, [12.5] * 5, [16.0] * 5,
                                                [20.0] * 5]),
                               overhead_ms=1.0, overhead_reported=True, stamps=("",) * 6)
    workers, open_above, capped = candidate_workers(flat_then_rising)
    assert workers == [1, 2, 3, 4] and not open_above and not capped
    never_queued = Minutes(users=np.array([1.0, 2.0]), requests=np.full(2, 5000.0),
                           values=np.array([[10.0] * 5, [10.05] * 5]), overhead_ms=1.0, overhead_reported=True,
                           stamps=("", ""))
    assert candidate_workers(never_queued)[:2] == ([1, 2], True)


# --- the confidence set ---------------------------------------------------------------------------

@pytest.mark.slow(reason="calibration fits over several c (0.6 s measured)")
def test_a_thin_ramp_past_the_knee_leaves_c_open_and_says_which_minute_would_tell():
    """The issue's case: 3 one-minute steps of 4 users, the first already past the knee (c = 2)."""
    frame = ramp_frame(profile("lognormal", 20.0, 0.5, 2), 3, 4, seed=1)
    calibration = calibrate_cloudwatch(frame, TYPE, 1, 8192, vcpu=4)
    workers = calibration.workers
    assert workers is not None and not calibration.workers_determined
    assert 2 in workers.candidates and calibration.entry.workers in workers.candidates
    chosen = workers.capacities[calibration.entry.workers]
    assert chosen == min(workers.capacities.values())  # the most conservative member
    assert calibration.provenance["workers_candidates"] == list(workers.candidates)
    assert calibration.provenance["workers_note"].startswith("c is not determined")
    assert workers.separation is not None and workers.separation.users < 4  # below the first step: the knee
    assert any(line.startswith("to tell them apart: one more ramp minute at") for line in calibration.report)


@pytest.mark.slow
def test_a_full_ramp_determines_c(tmp_path, capsys):
    frame_documents = export_get_metric_statistics(
        simulate(profile("gamma", 10.0, 1.0, 2), TYPE, traffic=Stairs(480, 8, 1), seed=3,
                 resources=InstanceResources(4, 8192)).per_minute, START)
    path = tmp_path / "cw.json"
    path.write_text(json.dumps(frame_documents))
    output = tmp_path / "p.json"
    assert main(["calibrate", "--instance-type", TYPE, "--cloudwatch", str(path), "-o", str(output)]) == 0
    out = capsys.readouterr().out
    assert "workers        2 (determined; confidence set {2})" in out
    entry = json.loads(output.read_text())["instances"][TYPE]
    assert entry["workers"] == 2 and entry["provenance"]["workers_determined"] is True
    assert entry["provenance"]["workers_candidates"] == [2]


@pytest.mark.slow(reason="calibration fits over several c (0.4 s measured)")
def test_the_command_prints_the_set_and_the_separating_minute(tmp_path, capsys):
    documents = export_get_metric_statistics(
        simulate(profile("lognormal", 20.0, 0.5, 2), TYPE, traffic=Stairs(180, 3, 4), seed=1,
                 resources=InstanceResources(4, 8192)).per_minute, START)
    path = tmp_path / "cw.json"
    path.write_text(json.dumps(documents))
    assert main(["calibrate", "--instance-type", TYPE, "--cloudwatch", str(path), "-o", str(tmp_path / "p.json")]) == 0
    out = capsys.readouterr().out
    assert "(NOT determined; confidence set {" in out and "confidence set for c (99%" in out
    assert "to tell them apart: one more ramp minute at" in out


@pytest.mark.slow
@settings(max_examples=int(__import__("os").environ.get("THIN_RAMP_EXAMPLES", 8)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["lognormal", "gamma", "weibull", "exponential"]), mean_ms=st.floats(4.0, 30.0),
       cv=st.floats(0.3, 1.5), workers=st.integers(1, 6), minutes=st.integers(3, 4),
       first_over_knee=st.floats(0.2, 2.0), seed=st.integers(0, 10_000))
def test_thin_ramps_never_report_a_wrong_c_as_determined(family, mean_ms, cv, workers, minutes, first_over_knee,
                                                          seed):
    """3-4 one-minute steps whose first step may already be past the knee: c is either the
    true one, or not claimed (the set holds several values and the entry is one of them)."""
    knee = workers * (mean_ms + 2.0) / mean_ms
    users_per_step = max(1, round(first_over_knee * knee))
    frame = ramp_frame(profile(family, mean_ms, cv, workers), minutes, users_per_step, seed)
    calibration = calibrate_cloudwatch(frame, TYPE, 1, 8192, vcpu=4)
    assert calibration.workers is not None
    assert calibration.entry.workers in calibration.workers.candidates
    if calibration.workers_determined:
        assert calibration.entry.workers == workers, calibration.report


# --- noise in the data (issue 22) ---------------------------------------------------------------

def noisy_ramp(family: str, mean_ms: float, cv: float, workers: int, noise: float, seed: int):
    """A 12-minute STAIRS ramp to twice the knee, each latency statistic of each minute
    multiplied by exp(N(0, noise)) (an exporter's or a shared host's noise, not the requests')."""
    knee = workers * (mean_ms + 2.0) / mean_ms
    frame = ramp_frame(profile(family, mean_ms, cv, workers), 12, max(1, round(2 * knee / 12)), seed)
    rng = np.random.default_rng(seed)
    for column in [c for c in frame.columns if c.startswith("ModelLatency_")]:
        frame[column] = frame[column] * np.exp(rng.normal(0.0, noise, len(frame)))
    return frame


#: (family, mean ms, cv, workers, noise): up to 10 % noise and c up to 32.
NOISY = [("lognormal", 30.0, 0.6, 32, 0.10), ("weibull", 10.0, 1.2, 2, 0.08), ("gamma", 20.0, 0.8, 16, 0.05),
         ("exponential", 8.0, 1.0, 8, 0.10), ("gamma", 12.0, 1.2, 4, 0.10)]


@pytest.mark.slow
@pytest.mark.stats  # calibration over noisy ramps at c up to 32 (10-15 s each)
@pytest.mark.parametrize("case", NOISY, ids=[f"{c[0]}-c{c[3]}-noise{c[4]}" for c in NOISY])
@pytest.mark.parametrize("seed", [1, 2])
def test_noisy_ramps_never_report_a_wrong_c_as_determined(case, seed):
    """The noise is estimated from the minutes (each statistic's own) and the confidence set
    allows for it: c is the true one, or not claimed; the report states the noise."""
    family, mean_ms, cv, workers, noise = case
    calibration = calibrate_cloudwatch(noisy_ramp(family, mean_ms, cv, workers, noise, seed), TYPE, 1, 8192, vcpu=4)
    assert calibration.workers is not None and calibration.entry.workers in calibration.workers.candidates
    if calibration.workers_determined:
        assert calibration.entry.workers == workers, calibration.report
    assert max(calibration.workers.statistic_noise) > noise / 3
    assert any(line.startswith("noise in the data, estimated per statistic") for line in calibration.report)


def test_the_noise_of_each_statistic_is_estimated_from_the_minutes():
    rng = np.random.default_rng(4)
    flat = np.column_stack([np.full(200, 10.0 * k) for k in range(1, 6)]) * np.exp(rng.normal(0, 0.05, (200, 5)))
    flat[:, 4] = 50.0 * np.exp(rng.normal(0, 0.2, 200))
    minutes = Minutes(users=np.full(200, 2.0), requests=np.full(200, 5000.0), values=flat, overhead_ms=0.0,
                      overhead_reported=False, stamps=tuple(str(i) for i in range(200)))
    noise = statistic_noise(minutes)
    assert noise[:4] == pytest.approx([0.05] * 4, rel=0.2) and noise[4] == pytest.approx(0.2, rel=0.2)


def test_a_service_law_that_swings_between_adjacent_c_is_unstable():
    def fit(workers, family, cv):
        return CandidateFit(workers=workers, service=Service(family, 10.0, cv), chi2=1.0, terms=10, converged=True)
    swinging = {1: fit(1, "weibull", 1.71), 2: fit(2, "lognormal", 0.6), 3: fit(3, "lognormal", 0.62)}
    assert "swings between adjacent worker counts" in instability(swinging, swinging[1])
    assert instability(swinging, swinging[3]) is None  # same family, similar cv
