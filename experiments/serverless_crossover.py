"""Serverless against real-time cost per hour as the target rate grows, and where the cheaper
choice changes. Both sides come from the optimizer on the demo profile (real-time: every
priced catalogue type; serverless: every memory size, MaxConcurrency by Erlang B), each
answer verified by simulation at P95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from irsim import recommend  # noqa: E402

RATES_PER_MINUTE = (60, 200, 600, 1500, 3000, 6000, 12000, 30000, 60000)
REQUEST = {"JobName": "crossover", "JobType": "Advanced", "RoleArn": "arn:aws:iam::111122223333:role/R",
           "InputConfig": {"ModelName": "xgboost-demo", "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}]},
           "StoppingConditions": {"MaxInvocations": 1000,
                                  "ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 100}]}}


def cheapest(document: dict, serverless: bool) -> tuple[float, str]:
    best = (math.inf, "-")
    for item in document["InferenceRecommendations"]:
        config = item["EndpointConfiguration"]
        if ("ServerlessConfig" in config) != serverless:
            continue
        label = (f"{config['ServerlessConfig']['MemorySizeInMB']} MB x{config['ServerlessConfig']['MaxConcurrency']}"
                 if serverless else f"{config['InitialInstanceCount']} x {config['InstanceType']}")
        best = min(best, (item["Metrics"]["CostPerHour"], label))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = []
    print(f"{'rate/min':>9} {'real-time $/h':>14} {'endpoint':<22} {'serverless $/h':>15} {'config':<14} cheaper")
    for rate in RATES_PER_MINUTE:
        document = recommend(REQUEST, "demo", target_per_minute=rate, candidates="all", serverless=True)
        real, real_label = cheapest(document, serverless=False)
        server, server_label = cheapest(document, serverless=True)
        rows.append((rate, real, server))
        winner = "serverless" if server < real else "real-time"
        print(f"{rate:>9,} {real:>14.4f} {real_label:<22} {server:>15.4f} {server_label:<14} {winner}")
    crossover = next(((a, b) for a, b in zip(rows, rows[1:]) if (a[2] < a[1]) != (b[2] < b[1])), None)
    if crossover:
        (r1, real1, s1), (r2, real2, s2) = crossover
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
    print(f"Plot: {path}\nElapsed: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
