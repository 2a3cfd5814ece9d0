"""Serverless against real-time cost per hour as the target rate grows, and where the cheaper
choice changes. Both sides come from the optimizer on the demo profile (real-time: every
priced catalogue type; serverless: every memory size, MaxConcurrency by Erlang B with the
cold starts' setup inside the holding time), each answer verified by simulation at
P95 <= 100 ms. For the cheapest serverless answer the table shows its throttled share by the
sizing law, simulated at steady state and simulated over the first minute from zero.

A second table checks the sizing law against the simulator where cold starts matter (the
demo model with a 2 s idle timeout, setup 2.5 s): Erlang B on the service time alone, the
law with the setup inside the holding time, and the simulated steady state, at the
MaxConcurrency the law picks and one below it, then the optimizer's answer after its
steady-state check.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from irsim import recommend
from optimizer.serverless import serverless_options, smallest_concurrency, steady_run
from simulator import Profile, load_profile
from simulator.analytic import cold_start_fraction, erlang_b, serverless_blocking

RATES_PER_MINUTE = (60, 200, 600, 1500, 3000, 6000, 12000, 30000, 60000)
LAW_RATES_PER_MINUTE = (60, 300, 1000, 3000, 12000)
LAW_IDLE_TIMEOUT_S = 2.0
REQUEST = {"JobName": "crossover", "JobType": "Advanced", "RoleArn": "arn:aws:iam::111122223333:role/R",
           "InputConfig": {"ModelName": "xgboost-demo", "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}]},
           "StoppingConditions": {"MaxInvocations": 1000,
                                  "ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 100}]}}


def cheapest(document: dict, serverless: bool) -> tuple[float, str, str]:
    """(cost per hour, label, recommendation id) of the cheapest answer of one kind."""
    best = (math.inf, "-", "")
    for item in document["InferenceRecommendations"]:
        config = item["EndpointConfiguration"]
        if ("ServerlessConfig" in config) != serverless:
            continue
        label = (f"{config['ServerlessConfig']['MemorySizeInMB']} MB x{config['ServerlessConfig']['MaxConcurrency']}"
                 if serverless else f"{config['InitialInstanceCount']} x {config['InstanceType']}")
        best = min(best, (item["Metrics"]["CostPerHour"], label, item["RecommendationId"]))
    return best


def law_against_simulation() -> None:
    """The sizing law against the steady-state simulation with a short idle timeout."""
    demo = load_profile("demo").serverless
    assert demo is not None, "the demo profile has a serverless section"
    section = dataclasses.replace(demo, idle_timeout_s=LAW_IDLE_TIMEOUT_S)
    profile = Profile("serverless", {}, serverless=section)
    memory = 2048
    service_s, setup_s = section.service_at(memory).mean_ms / 1000, section.model_setup_time.mean_ms / 1000
    print(f"\nSizing law against the simulator: demo model, {memory} MB, setup {setup_s:g} s, "
          f"idle timeout {LAW_IDLE_TIMEOUT_S:g} s (steady state, 3 replications)")
    print(f"{'rate/min':>9} {'M':>3} {'EB(S) alone':>12} {'law':>9} {'simulated':>10} {'cold law':>9} {'cold sim':>9}")
    for rate_per_minute in LAW_RATES_PER_MINUTE:
        rate = rate_per_minute / 60
        law_m = smallest_concurrency(rate, service_s, setup_s, LAW_IDLE_TIMEOUT_S)
        assert law_m is not None
        for m in (law_m - 1, law_m):
            if m < 1:
                continue
            run = steady_run(profile, memory, m, rate, 0.95, 3, seed=0)
            law = serverless_blocking(rate, service_s, setup_s, LAW_IDLE_TIMEOUT_S, m)
            cold = cold_start_fraction(rate, service_s, setup_s, LAW_IDLE_TIMEOUT_S, m)
            print(f"{rate_per_minute:>9,} {m:>3} {erlang_b(m, rate * service_s):>12.5f} {law:>9.5f} "
                  f"{run.throttled_share:>10.5f} {cold:>9.4f} {run.cold_start_fraction:>9.4f}")
        (option,) = serverless_options(section, rate, 0.95, 100.0, lambda memory, billed: 0.0, memory_sizes=(memory,))
        print(f"{'':>9} optimizer: MaxConcurrency {option.max_concurrency} (law {option.law_concurrency}), "
              f"steady {option.throttled_share_steady:.5f}, first minute {option.throttled_share_first_minute:.4f}, "
              f"first minute within 0.1 % from {option.first_minute_concurrency or '>200'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = []
    print(f"{'rate/min':>9} {'real-time $/h':>14} {'endpoint':<22} {'serverless $/h':>15} {'config':<14} "
          f"{'cheaper':<10} {'M law':>5} {'thr law':>8} {'steady':>8} {'1st min':>8} {'M 1st':>6}")
    for rate in RATES_PER_MINUTE:
        document = recommend(REQUEST, "demo", target_per_minute=rate, candidates="all", serverless=True)
        real, real_label, _ = cheapest(document, serverless=False)
        server, server_label, server_id = cheapest(document, serverless=True)
        rows.append((rate, real, server))
        winner = "serverless" if server < real else "real-time"
        detail = next(d for d in document["Details"] if d["RecommendationId"] == server_id)
        cold_m = detail["MaxConcurrencyFirstMinute"]
        print(f"{rate:>9,} {real:>14.4f} {real_label:<22} {server:>15.4f} {server_label:<14} {winner:<10} "
              f"{detail['MaxConcurrencyByLaw']:>5} {detail['ThrottledSharePredicted']:>8.5f} "
              f"{detail['ThrottledShareSteady']:>8.5f} {detail['ThrottledShareFirstMinute']:>8.4f} "
              f"{cold_m if cold_m is not None else '>200':>6}")
    crossover = next(((a, b) for a, b in itertools.pairwise(rows) if (a[2] < a[1]) != (b[2] < b[1])), None)
    if crossover:
        (r1, _, s1), (r2, real2, s2) = crossover
        # Serverless cost is linear in the rate; the real-time one is a step: interpolate on the serverless line.
        at = r1 + (real2 - s1) / ((s2 - s1) / (r2 - r1)) if s2 != s1 else r2
        print(f"Crossover: serverless is cheaper below about {min(max(at, r1), r2):,.0f} invocations/min "
              f"(between {r1:,} and {r2:,})")
    fig, ax = plt.subplots(figsize=(8, 5))
    rates = [r for r, _, _ in rows]
    ax.step(rates, [real for _, real, _ in rows], where="post", marker="o", label="real-time (cheapest verified)")
    ax.plot(rates, [s for _, _, s in rows], marker="s", label="serverless (cheapest verified)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("target rate (invocations per minute)")
    ax.set_ylabel("cost per hour (USD)")
    ax.set_title("Demo model: serverless against real-time at P95 <= 100 ms")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = args.out / "serverless_crossover.png"
    fig.savefig(path, dpi=90)
    print(f"Plot: {path}")
    law_against_simulation()
    print(f"Elapsed: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
