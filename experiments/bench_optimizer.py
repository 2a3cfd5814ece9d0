"""Times the optimizer on every priced catalogue type (target 30,000 invocations/min, P95
100 ms, demo profile; unprofiled types derived by the transfer rules) and counts how many
simulations the analytic pre-screen saved against a linear search over every type.

Target: an answer in under 30 s on 2 cores. Also runs a tighter SLO (P95 10 ms), where
fewer types can be pruned, and the same search with pruning disabled (allow_mixed, which
must consider every type) as the in-run baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from calibration.transfer import complete_profile
from optimizer import Candidate, Constraints, Target, plan
from pricing import default_catalogue
from simulator import load_profile

TARGET_S = 30.0
NO_CONSTRAINTS = Constraints()


def candidates_and_profile(region: str = "us-east-1"):
    catalogue = default_catalogue()
    types = sorted(t for (t, r) in catalogue.prices if r == region and not t.startswith("ml.t2."))
    profile = complete_profile(load_profile("demo"), types,
                               lambda t: catalogue.specs[t].vcpu if t in catalogue.specs else None)
    return [Candidate(t, catalogue.prices[(t, region)].per_hour) for t in types], profile


def run(label: str, profile, candidates, target: Target, constraints: Constraints = NO_CONSTRAINTS) -> float:
    start = time.perf_counter()
    result = plan(profile, candidates, target, constraints, seed=0)
    elapsed = time.perf_counter() - start
    chosen = " + ".join(f"{n} x {t}" for t, n in sorted(result.chosen.counts.items())) if result.chosen else "none"
    cost = f"${result.chosen.cost_per_hour:.3f}/h" if result.chosen else "-"
    p = f"P{target.percentile:g} {result.chosen.estimate.percentile_ms:.2f} ms" if result.chosen else ""
    print(f"{label:<34} {elapsed:7.2f} s  answer {chosen} {cost} {p}")
    print(f"{'':<34} simulations run {result.simulations:>5} (without the pre-screen {result.naive_simulations:>5}; "
          f"saved {result.naive_simulations - result.simulations:>5}); types simulated {len(result.decisions)}, "
          f"not simulated {len(result.pruned)}, infeasible {len(result.infeasible)}, "
          f"verifications {result.verifications}")
    return elapsed


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    candidates, profile = candidates_and_profile()
    print(f"{len(candidates)} priced catalogue types (us-east-1), demo profile + derived entries; "
          f"os.cpu_count() = {os.cpu_count()}; at least 3 replications per decision, more until its interval decides")
    main_time = run("30,000/min, P95 <= 100 ms", profile, candidates, Target(500.0, 95, 100.0))
    run("30,000/min, P95 <= 10 ms", profile, candidates, Target(500.0, 95, 10.0))
    baseline = run("30,000/min, P95 <= 100 ms, mixed", profile, candidates, Target(500.0, 95, 100.0),
                   Constraints(allow_mixed=True))
    print(f"pruning speed-up on the main case: {baseline / main_time:.1f}x (mixed variants simulate every type)")
    verdict = "PASS" if main_time < TARGET_S else "FAIL"
    print(f"Target: answer in under {TARGET_S:g} s: {main_time:.2f} s -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
