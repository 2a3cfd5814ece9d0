"""The production check, measured: how far the AWS-method count is from what production
traffic needs, and whether the replicated intervals irsim reports cover the truth.

Part 1 (the demo's ml.c5.large, 2 workers, lognormal 4 ms, cv 0.5, 22 ms overhead between a
user's calls): for P95 thresholds of 8, 10, 15 and 25 ms, the per-instance max a job measures
(the best closed-loop minute of ONE instance on a STAIRS ramp, the flat-invocations rule on)
against the open-loop rate at which P95 holds (bisection on the Poisson rate, long runs), and
for a target of 30,000 invocations/min the AWS-method count against the production check's
smallest passing count.

Part 2 (an exact case: M/M/2, mean 20 ms, 600 requests/s over 9 and 7 instances): the
coverage of the 95 % interval `irsim run --replications 5` reports for the production
percentile, over independent repeats, against the exact M/M/c quantile.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from irsim import execute_job
from optimizer.production import CheckedEndpoint, production_check
from simulator import load_profile, simulate
from simulator.analytic import mmc_response_quantile

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS_MS = (8.0, 10.0, 15.0, 25.0)
TARGET_PER_MINUTE = 30_000  # the largest MaxInvocations the service model allows
MM2 = {"model": "mm2", "instances": {"ml.test.large": {"workers": 2, "service_time": {
    "family": "exponential", "mean_ms": 20.0}}}}


def ramp_request(threshold_ms: float) -> dict:
    """One ml.c5.large benchmark, a 40-minute STAIRS ramp of one user a minute."""
    request = json.loads((ROOT / "examples" / "seed-advanced-job.json").read_text())
    request = copy.deepcopy(request)
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.large"}]
    request["InputConfig"]["TrafficPattern"] = {"TrafficType": "STAIRS", "Stairs": {
        "DurationInSeconds": 2400, "NumberOfSteps": 40, "UsersPerStep": 1}}
    request["StoppingConditions"] = {"MaxInvocations": TARGET_PER_MINUTE, "FlatInvocations": "Stop",
                                     "ModelLatencyThresholds": [{"Percentile": "P95",
                                                                 "ValueInMilliseconds": int(threshold_ms)}]}
    return request


def open_loop_capacity_per_minute(threshold_ms: float, seed: int) -> float:
    """The largest Poisson rate (per minute) at which one instance's P95 stays within the
    threshold: bisection on the rate, each point a 900-simulated-second run."""
    low, high = 1.0, 500.0  # requests/s: 2 workers / 4 ms = 500/s saturates
    for step in range(16):
        middle = (low + high) / 2
        result = simulate("demo", "ml.c5.large", arrival_rate_per_s=middle, duration_s=900.0, seed=seed + step)
        if result.percentile_ms(95) <= threshold_ms:
            low = middle
        else:
            high = middle
    return low * 60.0


def part_one(seed: int) -> None:
    print("Part 1: ml.c5.large, P95 thresholds; target "
          f"{TARGET_PER_MINUTE:,} invocations/min for the counts")
    print(f"  {'P95 <=':>7} {'per-instance max':>17} {'open-loop capacity':>19} {'overstated':>10} "
          f"{'AWS count':>9} {'production P95 at it':>21} {'smallest passing':>16}")
    for threshold in THRESHOLDS_MS:
        result = execute_job(ramp_request(threshold), "demo", seed=seed)
        benchmark = result.extensions()["benchmarks"][0]
        measured = benchmark["per_instance_max_invocations"]
        check = benchmark["production_check"]
        capacity = open_loop_capacity_per_minute(threshold, seed)
        production = "unstable" if check["percentile_ms"] is None else f"{check['percentile_ms']:,.1f} ms"
        print(f"  {threshold:>5g} ms {measured:>17,} {capacity:>19,.0f} {measured / capacity - 1:>+10.0%} "
              f"{check['count']:>9} {production:>21} {check['smallest_passing_count']:>16}")


def part_two(repeats: int, replications: int) -> None:
    profile = load_profile(MM2)
    print(f"\nPart 2: coverage of the {replications}-replication 95% interval of the production P95 "
          f"(M/M/2, 20 ms, 600/s), {repeats} repeats")
    for count in (9, 7):
        truth = mmc_response_quantile(0.95, 600.0 / count, 2, 0.020) * 1000.0
        covered, widths, errors = 0, [], []
        for repeat in range(repeats):
            endpoint = CheckedEndpoint(entry=profile.instance("ml.test.large"), count=count, overhead=profile.overhead)
            values = [production_check(endpoint, 36_000.0, 95.0, None,
                                       seed=10_000 * repeat + r).percentile_ms for r in range(replications)]
            mean = float(np.mean(values))
            half = float(stats.t.ppf(0.975, replications - 1) * np.std(values, ddof=1) / math.sqrt(replications))
            covered += mean - half <= truth <= mean + half
            widths.append(2 * half / truth)
            errors.append(mean / truth - 1)
        print(f"  {count} instances (utilization {600 / count / 100:.0%}): exact P95 {truth:.2f} ms; "
              f"coverage {covered / repeats:.0%}; mean relative error {np.mean(errors):+.2%}; "
              f"mean interval width {np.mean(widths):.1%} of the truth")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--replications", type=int, default=5)
    args = parser.parse_args()
    part_one(args.seed)
    part_two(args.repeats, args.replications)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
