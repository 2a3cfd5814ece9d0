"""Calibration on real measurements: a scikit-learn model behind gunicorn (one worker, one
core) under a Locust STAIRS ramp of 1-4 users, exported per minute in the CloudWatch
get-metric-statistics shape (tests/data/real_server, made by
experiments/real_server/generate.py). The fit of the ramp predicts steady runs at 6 and 10
users, loads the ramp never reached: throughput within 5 %, p95 within 10 %. Only the
committed files are read; no load test runs here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calibration.fit import calibrate_cloudwatch
from calibration.sources import read_cloudwatch
from simulator import simulate

DATA = Path(__file__).resolve().parent / "data" / "real_server"
TYPE = "ml.c5.large"


def minutes(run: str):
    return read_cloudwatch(sorted((DATA / run).glob("*.json")))[0]


@pytest.fixture(scope="module")
def calibration():
    return calibrate_cloudwatch(minutes("ramp"), TYPE, 1, None)


def test_the_real_ramp_is_read_as_four_whole_minutes():
    frame = minutes("ramp")
    assert len(frame) == 4 and (frame["Invocations_Sum"] > 1000).all()
    assert {"ModelLatency_Average", "ModelLatency_p95", "OverheadLatency_Average"} <= set(frame)
    manifest = json.loads((DATA / "manifest.json").read_text())
    assert manifest["runs"]["ramp"]["users_per_minute"] == [1, 2, 3, 4]


@pytest.mark.slow(reason="a fit of recorded real-server minutes (0.4 s measured)")
def test_the_real_server_has_one_worker(calibration):
    assert calibration.workers_determined and calibration.entry.workers == 1


@pytest.mark.slow(reason="a fit of recorded real-server minutes (1.3 s measured)")
@pytest.mark.parametrize("users", [6, 10])
def test_the_ramp_predicts_steady_runs_beyond_it(calibration, users):
    observed = minutes(f"steady-{users}users")
    observed_throughput = float(observed["Invocations_Sum"].iloc[0]) / 60.0
    observed_p95_ms = float(observed["ModelLatency_p95"].iloc[0]) / 1000.0
    fitted = {"model": "real", "overhead_ms": calibration.overhead.to_dict(),
              "instances": {TYPE: calibration.entry.to_dict()}}
    predicted = simulate(fitted, TYPE, users=users, duration_s=300, seed=users)
    assert predicted.throughput_per_s == pytest.approx(observed_throughput, rel=0.05)
    assert predicted.percentile_ms(95) == pytest.approx(observed_p95_ms, rel=0.10)
