"""Check the seed document's XGBoost claim against the bundled demo profile.

The product's seed document says: "a typical XGBoost container on ml.c5.large reaches
about 30,000 invocations per minute (500 TPS) with 15-20 users". The bundled demo
profile (simulator/profiles/xgboost-demo.json, loaded as "demo") was hand-tuned to
reproduce that, so this script shows whether it does:

* it simulates closed-loop load tests of 300 s on one ml.c5.large for a range of user
  counts and prints invocations per minute, TPS and the p95 / p99 ModelLatency;
* it prints a verdict: the claim holds when the simulated invocations per minute at both
  15 and 20 users lie within 10% of 30,000;
* it draws the simulated points next to exact mean value analysis (MVA) of the same
  closed network. MVA is exact only for exponential service times; the profile's are
  lognormal, so the curve is an approximation. The profile's overhead latency (the time
  between a response and the user's next request) plays the role of think time.

It is a report, not a test: the exit code is 0 whatever the verdict.

Usage: .venv/bin/python experiments/seed_xgboost_claim.py [--out DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from simulator import load_profile, simulate
from simulator.analytic import mva

PROFILE = "demo"
INSTANCE_TYPE = "ml.c5.large"
USERS = (1, 2, 4, 6, 8, 10, 12, 14, 15, 16, 18, 20, 25, 30)
DURATION_S = 300.0
CLAIM_PER_MIN = 30_000.0
CLAIM_USERS = (15, 20)
TOLERANCE = 0.10
SATURATION_FRACTION = 0.95
DEFAULT_OUT = Path(__file__).resolve().parent / "out"
PLOT_NAME = "seed_xgboost_claim.png"


@dataclass(frozen=True)
class Point:
    """One simulated load test."""

    users: int
    per_minute: float
    p95_ms: float
    p99_ms: float

    @property
    def tps(self) -> float:
        return self.per_minute / 60.0


@dataclass(frozen=True)
class Model:
    """The profile's numbers for the closed-network model, in seconds."""

    workers: int
    service_s: float
    think_s: float

    @property
    def capacity_per_min(self) -> float:
        """Saturation throughput: every worker busy, c / S."""
        return self.workers / self.service_s * 60.0

    def mva_per_min(self, users: int) -> float:
        return mva(users, self.workers, self.service_s, self.think_s).throughput_per_s * 60.0


def load_model() -> Model:
    profile = load_profile(PROFILE)
    entry = profile.instance(INSTANCE_TYPE)
    think_s = profile.overhead.mean_ms / 1000.0 if profile.overhead is not None else 0.0
    return Model(entry.workers, entry.service_time.mean_ms / 1000.0, think_s)


def run_point(users: int) -> Point:
    result = simulate(PROFILE, INSTANCE_TYPE, users=users, duration_s=DURATION_S, seed=users)
    return Point(users, result.throughput_per_s * 60.0, result.percentile_ms(95), result.percentile_ms(99))


def print_table(points: Sequence[Point], model: Model) -> None:
    print(f"{'users':>5}  {'invocations/min':>15}  {'TPS':>7}  {'p95 ms':>7}  {'p99 ms':>7}  {'MVA inv/min':>11}")
    for p in points:
        print(f"{p.users:>5}  {p.per_minute:>15,.0f}  {p.tps:>7.1f}  {p.p95_ms:>7.2f}  {p.p99_ms:>7.2f}"
              f"  {model.mva_per_min(p.users):>11,.0f}")


def within_tolerance(value: float) -> bool:
    return abs(value - CLAIM_PER_MIN) <= TOLERANCE * CLAIM_PER_MIN


def first_reaching(points: Sequence[Point], level: float) -> int | None:
    """The smallest simulated user count whose throughput reaches ``level`` per minute."""
    return next((p.users for p in points if p.per_minute >= level), None)


def print_verdict(points: Sequence[Point], model: Model) -> None:
    by_users = {p.users: p for p in points}
    claimed = [by_users[n] for n in CLAIM_USERS]
    holds = all(within_tolerance(p.per_minute) for p in claimed)
    level = SATURATION_FRACTION * model.capacity_per_min
    knee = first_reaching(points, level)
    low, high = CLAIM_PER_MIN * (1 - TOLERANCE), CLAIM_PER_MIN * (1 + TOLERANCE)
    deviations = ", ".join(f"{p.users} users: {p.per_minute:,.0f}/min ({p.per_minute / CLAIM_PER_MIN - 1:+.1%})"
                           for p in claimed)
    print()
    print(f"Model: c = {model.workers} workers, S = {model.service_s * 1000:g} ms, Z = {model.think_s * 1000:g} ms;"
          f" saturation c/S = {model.capacity_per_min:,.0f}/min;"
          f" MVA knee N* = c(S+Z)/S = {model.workers * (model.service_s + model.think_s) / model.service_s:g} users")
    print(f"Verdict: {deviations}; band {low:,.0f}-{high:,.0f}/min (30,000 +/- {TOLERANCE:.0%}):"
          f" {'both inside' if holds else 'not both inside'}.")
    knee_text = f"first reached at {knee} users" if knee is not None else f"not reached up to {points[-1].users} users"
    print(f"{SATURATION_FRACTION:.0%} of the saturation throughput ({level:,.0f}/min) is {knee_text}.")
    print("CLAIM HOLDS" if holds else "CLAIM DOES NOT HOLD")


def plot(points: Sequence[Point], model: Model, path: Path) -> None:
    users = [p.users for p in points]
    curve_users = list(range(1, max(users) + 1))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True, height_ratios=(3, 2))

    top.axvspan(min(CLAIM_USERS), max(CLAIM_USERS), color="tab:green", alpha=0.12, label="claimed 15-20 users")
    top.axhspan(CLAIM_PER_MIN * (1 - TOLERANCE), CLAIM_PER_MIN * (1 + TOLERANCE), color="grey", alpha=0.10,
                label="30,000 \u00b1 10%")
    top.axhline(CLAIM_PER_MIN, color="tab:red", linestyle="--", linewidth=1.2, label="claim: 30,000 / min")
    top.plot(curve_users, [model.mva_per_min(n) for n in curve_users], color="tab:orange", linewidth=1.8,
             label="MVA (exponential approximation)")
    top.plot(users, [p.per_minute for p in points], "o", color="tab:blue", markersize=6,
             label=f"simulated ({DURATION_S:g} s, lognormal service)")
    top.set_ylabel("invocations per minute")
    top.set_ylim(0, CLAIM_PER_MIN * 1.25)
    top.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    top.set_title(f"Demo profile on {INSTANCE_TYPE}: throughput and latency vs. closed-loop users")
    top.grid(alpha=0.3)
    top.legend(loc="lower right", fontsize=9)

    bottom.axvspan(min(CLAIM_USERS), max(CLAIM_USERS), color="tab:green", alpha=0.12)
    bottom.plot(users, [p.p95_ms for p in points], "o-", color="tab:purple", label="p95 ModelLatency")
    bottom.plot(users, [p.p99_ms for p in points], "s--", color="tab:grey", markersize=4, label="p99 ModelLatency")
    bottom.set_ylabel("ModelLatency (ms)")
    bottom.set_xlabel("concurrent users")
    bottom.set_ylim(bottom=0)
    bottom.set_xlim(0, max(users) + 1)
    bottom.grid(alpha=0.3)
    bottom.legend(loc="upper left", fontsize=9)

    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"directory for {PLOT_NAME} (default: experiments/out)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    model = load_model()
    points = [run_point(n) for n in USERS]
    print(f"Profile {PROFILE!r} on {INSTANCE_TYPE}, {DURATION_S:g} s per run, seed = users")
    print_table(points, model)
    print_verdict(points, model)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / PLOT_NAME
    plot(points, model, path)
    print(f"Plot: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
