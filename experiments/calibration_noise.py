"""Calibration's confidence set for the worker count on noisy CloudWatch ramps (issue 22):
12-minute STAIRS ramps to twice the knee, each latency statistic of each minute multiplied by
exp(N(0, noise)), calibrated; prints the set, whether c was reported as determined, and
whether that claim was right (a wrong c must never be reported as determined).
Usage: ``.venv/bin/python experiments/calibration_noise.py [--seeds 1,2]``."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

import numpy as np

from calibration.fit import calibrate_cloudwatch
from calibration.sources import export_get_metric_statistics, read_cloudwatch
from simulator import InstanceResources, Stairs, simulate

TYPE = "ml.c5.xlarge"
#: (family, mean ms, cv, workers, noise)
CASES = [("lognormal", 30.0, 0.6, 32, 0.10), ("weibull", 10.0, 1.2, 2, 0.08), ("gamma", 20.0, 0.8, 16, 0.05),
         ("exponential", 8.0, 1.0, 8, 0.10), ("gamma", 12.0, 1.2, 4, 0.10)]


def noisy_ramp(family: str, mean_ms: float, cv: float, workers: int, noise: float, seed: int):  # type: ignore[no-untyped-def]
    service = {"family": family, "mean_ms": mean_ms, **({"cv": cv} if family != "exponential" else {})}
    truth = {"model": "truth", "overhead_ms": {"family": "lognormal", "mean_ms": 2.0, "cv": 0.3},
             "instances": {TYPE: {"workers": workers, "service_time": service, "memory_mb": 900}}}
    knee = workers * (mean_ms + 2.0) / mean_ms
    result = simulate(truth, TYPE, traffic=Stairs(720.0, 12, max(1, round(2 * knee / 12))), seed=seed,
                      resources=InstanceResources(4, 8192))
    frame = read_cloudwatch(export_get_metric_statistics(result.per_minute, datetime(2026, 1, 1, tzinfo=UTC)))[0]
    rng = np.random.default_rng(seed)
    for column in [c for c in frame.columns if c.startswith("ModelLatency_")]:
        frame[column] = frame[column] * np.exp(rng.normal(0.0, noise, len(frame)))
    return frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2")
    args = parser.parse_args()
    wrong = 0
    for family, mean_ms, cv, workers, noise in CASES:
        for seed in (int(s) for s in args.seeds.split(",")):
            start = time.perf_counter()
            calibration = calibrate_cloudwatch(noisy_ramp(family, mean_ms, cv, workers, noise, seed), TYPE, 1, 8192,
                                               vcpu=4)
            members = calibration.workers.candidates if calibration.workers else ()
            claim = calibration.workers_determined
            wrong += claim and calibration.entry.workers != workers
            verdict = ("determined, right" if claim and calibration.entry.workers == workers else
                       "DETERMINED, WRONG" if claim else f"open, entry {calibration.entry.workers}")
            shown = f"{members[0]}..{members[-1]}" if len(members) > 2 else ",".join(map(str, members))
            print(f"{family:<12} c={workers:<3} noise {noise:4.0%} seed {seed}: set {{{shown}}} {verdict:<20} "
                  f"truth in set: {workers in members}  {time.perf_counter() - start:4.0f} s")
    print(f"wrong c reported as determined: {wrong}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
