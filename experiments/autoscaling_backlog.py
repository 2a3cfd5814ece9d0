"""The issue-23 day with a burst, before and after the backlog model: the policy irsim's search
picks at budgets 0.1 %, 1 % and 5 % of minutes, its violating minutes by the model and by the
exact replay (autoscaling/exact.py: M/M/1 instances, queues carried across minutes and
capacity changes) over three seeds, side by side.

"Before" is the search of the commit this work started from (94b53aa, the law without backlog,
targets up to r* at the peak count), run from that commit's tree in a subprocess; "after" is
this tree's. Both policies are replayed exactly here, on the same seeds.

    .venv/bin/python experiments/autoscaling_backlog.py [--scaled] [--seeds 3] [--engine]

``--scaled`` runs the same day ten times slower (100 ms, 400 to 3,600 a minute, P95 <= 1.5 s):
ten times fewer requests a minute, so each minute's percentile is noisier.

``--engine`` adds the discrete-event engine's check of every policy, both ways in the same run
(``autoscaling/verify.py``, one seed each): segment-wise (before: each constant-capacity
segment its own run, started empty, its requests in flight dropped at its end) and continuous
(after: the whole day as one run with the policy's capacity schedule, requests in flight kept).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from functools import partial
from io import BytesIO
from pathlib import Path

import numpy as np

from autoscaling import Bursts, Diurnal, ScalingPolicy, Scenario, recommend_policy, replay, synthesize
from autoscaling.exact import exact_replay
from autoscaling.verify import engine_percentiles, replay_continuous, replay_segments
from simulator.distributions import Distribution
from simulator.profiles import InstanceProfile

#: A day's continuous replay keeps tens of millions of requests: more than irsim's 1.5 M limit
#: (memory for a job), raised here on purpose for this measurement (a few GB of memory).
continuous_replay = partial(replay_continuous, max_held_requests=100_000_000)

BASE = "94b53aa"
ROOT = Path(__file__).resolve().parent.parent
BUDGETS = (0.001, 0.01, 0.05)
STARTUP_S, PRICE = 300.0, 0.119
BEFORE = """
import json, sys
from autoscaling import recommend_policy, synthesize
from simulator.distributions import Distribution
from simulator.profiles import InstanceProfile

a = json.loads(sys.argv[1])
law = Distribution("exponential", a["mean"], 1.0)
entry = InstanceProfile(instance_type="ml.c5.large", workers=1, service_time=law)
curve = synthesize(peak_per_min=a["peak"], trough_per_min=a["trough"], bursts=1, burst_height=1.7, burst_minutes=12,
                   seed=a["curve_seed"])
out = []
for budget in a["budgets"]:
    r = recommend_policy(curve, entry, price_per_hour=a["price"], slo_ms=a["slo"], violation_budget=budget,
                         startup_s=a["startup"])
    p = r.policy
    out.append({"policy": [p.min_capacity, p.max_capacity, p.target_value, p.scale_in_cooldown_s,
                           p.scale_out_cooldown_s], "violating": r.timeline.violating_minutes,
                "saving": r.saving})
print(json.dumps(out))
"""


def before(case: dict) -> list[dict]:
    """The base commit's search on the same case, run from its own tree."""
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASE, "autoscaling", "simulator", "optimizer",
                                  "pricing", "calibration"], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        done = subprocess.run([sys.executable, "-c", BEFORE, json.dumps(case)], cwd=folder, check=True,
                              capture_output=True, text=True, env={"PYTHONPATH": folder})
    return json.loads(done.stdout)


def exact_counts(curve, entry, policy: ScalingPolicy, slo_ms: float, seeds: int) -> list[int]:
    capacity = replay(curve.per_minute, policy, STARTUP_S).in_service
    runs = (exact_replay(curve.per_minute, capacity, entry, rng=np.random.default_rng(seed)) for seed in range(seeds))
    return [int(run.violating(slo_ms).sum()) for run in runs]


def engine_counts(curve, entry, policy: ScalingPolicy, slo_ms: float, enabled: bool) -> str:
    """"segment-wise | continuous" violating minutes by the engine (seed 0 both), with the wall
    time of each; two empty cells when not asked for."""
    if not enabled:
        return " | "
    capacity = replay(curve.per_minute, policy, STARTUP_S).in_service
    cells = []
    for continuous in (False, True):
        began = time.perf_counter()
        measured = engine_percentiles(curve, entry, capacity, percentile=95.0, seed=0,
                                      replay=continuous_replay if continuous else replay_segments)
        cells.append(f"{int((np.nan_to_num(measured) > slo_ms).sum())} ({time.perf_counter() - began:.0f} s)")
    return " | ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scaled", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--curve-seed", type=int, default=0)
    parser.add_argument("--engine", action="store_true", help="also the engine check, segment-wise and continuous")
    args = parser.parse_args()
    scale = 10.0 if args.scaled else 1.0
    case = {"mean": 10.0 * scale, "peak": 36000 / scale, "trough": 4000 / scale, "slo": 150.0 * scale,
            "curve_seed": args.curve_seed, "budgets": list(BUDGETS), "price": PRICE, "startup": STARTUP_S}
    entry = InstanceProfile(instance_type="ml.c5.large", workers=1,
                            service_time=Distribution("exponential", case["mean"], 1.0))
    curve = synthesize(Diurnal(case["peak"], case["trough"]), bursts=Bursts(1, 1.7, 12), seed=args.curve_seed)
    print(f"day: {curve.source}\n  c = 1, exponential {case['mean']:g} ms, P95 <= {case['slo']:g} ms, start-up "
          f"{STARTUP_S:g} s; exact replay seeds 0..{args.seeds - 1}\n")
    old = before(case)
    print("| budget (minutes) | | policy | model: violating minutes | engine, segment-wise | engine, continuous | "
          "exact replay | saving vs static |", "|---|---|---|---|---|---|---|---|", sep="\n")
    for budget, previous in zip(BUDGETS, old, strict=True):
        allowed = int(budget * curve.minutes + 1e-9)
        policy = ScalingPolicy(*previous["policy"])
        counts = exact_counts(curve, entry, policy, case["slo"], args.seeds)
        engine = engine_counts(curve, entry, policy, case["slo"], args.engine)
        print(f"| {budget:.1%} ({allowed}) | before | {policy.describe()} | {previous['violating']} | {engine} | "
              f"{', '.join(map(str, counts))} | {previous['saving']:.1%} |", flush=True)
        began = time.perf_counter()
        scenario = Scenario.of(curve, entry, price_per_hour=PRICE, slo_ms=case["slo"], startup_s=STARTUP_S)
        found = recommend_policy(scenario, violation_budget=budget)
        took = time.perf_counter() - began
        counts = exact_counts(curve, entry, found.policy, case["slo"], args.seeds)
        engine = engine_counts(curve, entry, found.policy, case["slo"], args.engine)
        timeline = found.timeline
        print(f"| | after | {found.policy.describe()} | {timeline.violating_minutes} predicted; "
              f"{timeline.expected_violating:.1f} ± {timeline.violating_error:.1f} expected (search {took:.1f} s) | "
              f"{engine} | {', '.join(map(str, counts))} | {found.saving:.1%} |", flush=True)


if __name__ == "__main__":
    main()
