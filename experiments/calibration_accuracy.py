"""How well does CloudWatch calibration recover a model's profile, and how well does the
fitted profile predict a load it never saw?

The question matters because calibrate_cloudwatch is the route from a real endpoint's
metrics to a profile, and the profile is then used to predict loads nobody measured. With
a real endpoint the truth is unknown, so this experiment closes the loop in simulation:

1. Take a *true* profile (service-time family, mean, cv, workers; a lognormal 2 ms
   overhead) on one ml.c5.xlarge (4 vCPU, 8 GiB).
2. Simulate a STAIRS ramp of 12 one-minute steps of u = ceil(2 knee / 12) users each
   (knee = c (m + 2) / m users, the closed-loop saturation point with the 2 ms overhead as
   think time), so from light load to at least twice the knee (more when the knee is
   small, as u >= 1), and export its per-minute series as `aws cloudwatch
   get-metric-statistics` output.
3. Read it back with read_cloudwatch and fit it with calibrate_cloudwatch, exactly as a user
   would with real CloudWatch files.
4. Predict an unseen load, N = 3 x the ramp's top user count for 300 s, with the true
   profile (one seed) and with the fitted profile (another seed), and compare throughput
   and p95 ModelLatency. The relative error is fitted / true - 1.

It reports:

* Accuracy over a grid: families (lognormal, gamma, weibull, exponential) x mean (5, 20 ms)
  x cv (0.5, 1.2; exponential only cv 1) x workers (2, 8), 12 one-minute steps: errors of
  the fitted mean and cv, whether the workers and the family were recovered, and the
  prediction errors, judged against +-5 % and +-10 %. A noise floor (the true profile at
  the fitted run's seed) shows how much of each error is just sampling.
* Degradation with less data: a few representative profiles, ramps of 12, 8, 6, 4, 3 minutes
  (same top load, so fewer and bigger steps) and several seeds: median and max errors per
  number of minutes, how often the workers were "determined" (the ramp saturated), and
  how many calibrations failed (InputError, recorded rather than raised).
* A plot: prediction errors of the grid (p95 vs throughput, coloured by family, with the
  +-5 % / +-10 % target boxes) and the error against minutes of data.

What to look for: calibration needs light-load minutes (below the knee) to see the bare
service time and saturated minutes to see the capacity. With both, the prediction at three
times the observed load should be as good as the seed-to-seed noise. With fewer, bigger
steps the first step can already be past the knee (no true light-load minute), and fewer
minutes are left to show the saturation plateau; the per-profile lines print the first
step's load in knees and the fitted workers so both causes are visible.

Usage: .venv/bin/python experiments/calibration_accuracy.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from itertools import product
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from calibration.fit import Calibration, calibrate_cloudwatch
from calibration.sources import export_get_metric_statistics, read_cloudwatch
from simulator import InstanceResources, SimulationResult, Stairs, simulate
from simulator.errors import InputError

INSTANCE_TYPE = "ml.c5.xlarge"
VCPU = 4
MEMORY_MB = 8192
MODEL_MEMORY_MB = 900
OVERHEAD_MS = 2.0
OVERHEAD_CV = 0.3
TOP_LOAD_OVER_KNEE = 2.0   # the ramp ends at twice the knee
UNSEEN_LOAD_OVER_TOP = 3   # the prediction runs at three times the ramp's top
PREDICTION_S = 300.0
GRID_MINUTES = 12
TARGETS = (0.05, 0.10)
START = datetime(2026, 1, 1, tzinfo=UTC)
FAMILY_COLOURS = {"lognormal": "tab:blue", "gamma": "tab:orange", "weibull": "tab:green",
                  "exponential": "tab:red"}
DEFAULT_OUT = Path(__file__).resolve().parent / "out"
PLOT_NAME = "calibration_accuracy.png"


# --- the cases ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrueProfile:
    """The service an endpoint really has (what calibration should recover)."""

    family: str
    mean_ms: float
    cv: float
    workers: int

    @property
    def knee_users(self) -> float:
        """Closed-loop saturation point: c (E[S] + overhead) / E[S]."""
        return self.workers * (self.mean_ms + OVERHEAD_MS) / self.mean_ms

    @property
    def label(self) -> str:
        return f"{self.family} m={self.mean_ms:g} cv={self.cv:g} c={self.workers}"

    def document(self) -> dict[str, Any]:
        service: dict[str, Any] = {"family": self.family, "mean_ms": self.mean_ms}
        if self.family != "exponential":
            service["cv"] = self.cv
        return {"model": "true",
                "overhead_ms": {"family": "lognormal", "mean_ms": OVERHEAD_MS, "cv": OVERHEAD_CV},
                "instances": {INSTANCE_TYPE: {"workers": self.workers, "service_time": service,
                                              "memory_mb": MODEL_MEMORY_MB}}}


@dataclass(frozen=True)
class Seeds:
    """One seed for the ramp, one for the true prediction, one for the fitted prediction."""

    ramp: int
    truth: int
    fitted: int

    @classmethod
    def replicate(cls, k: int) -> Seeds:
        return cls(3 * k + 1, 3 * k + 2, 3 * k + 3)


@dataclass(frozen=True)
class Plan:
    """What to run: the grid, the degradation study's profiles, minutes and replicates."""

    grid: tuple[TrueProfile, ...]
    representative: tuple[TrueProfile, ...]
    minutes: tuple[int, ...]
    replicates: int


def grid_profiles(families: Sequence[str], means: Sequence[float], cvs: Sequence[float],
                  workers: Sequence[int]) -> tuple[TrueProfile, ...]:
    """The cross product; exponential has cv 1 only."""
    cases = []
    for family, mean, cv, c in product(families, means, cvs, workers):
        if family == "exponential":
            if cv != cvs[0]:
                continue
            cv = 1.0
        cases.append(TrueProfile(family, float(mean), float(cv), c))
    return tuple(cases)


def make_plan(quick: bool) -> Plan:
    if quick:
        return Plan(grid_profiles(("lognormal", "exponential"), (20,), (0.5,), (2,)),
                    (TrueProfile("gamma", 20.0, 1.2, 2),), (12, 4), 1)
    return Plan(grid_profiles(("lognormal", "gamma", "weibull", "exponential"), (5, 20), (0.5, 1.2), (2, 8)),
                (TrueProfile("lognormal", 20.0, 0.5, 2), TrueProfile("gamma", 5.0, 1.2, 8),
                 TrueProfile("weibull", 20.0, 1.2, 8), TrueProfile("exponential", 5.0, 1.0, 2)),
                (12, 8, 6, 4, 3), 3)


# --- one round trip ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """One calibration round trip and its prediction at the unseen load."""

    truth: TrueProfile
    minutes: int
    seeds: Seeds
    users_per_step: int
    unseen_users: int
    failure: str | None = None
    fit_family: str | None = None
    fit_mean_ms: float = math.nan
    fit_cv: float = math.nan
    fit_workers: int | None = None
    determined: bool = False
    throughput_error: float = math.nan
    p95_error: float = math.nan
    true_throughput_per_s: float = math.nan
    true_p95_ms: float = math.nan

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def mean_error(self) -> float:
        return self.fit_mean_ms / self.truth.mean_ms - 1.0

    @property
    def cv_error(self) -> float:
        return self.fit_cv / self.truth.cv - 1.0

    @property
    def workers_exact(self) -> bool:
        return self.fit_workers == self.truth.workers

    @property
    def family_match(self) -> bool:
        return self.fit_family == self.truth.family

    @property
    def worst_error(self) -> float:
        return max(abs(self.throughput_error), abs(self.p95_error))


@dataclass(frozen=True)
class Prediction:
    throughput_per_s: float
    p95_ms: float


def top_users(truth: TrueProfile) -> int:
    """The ramp's top user count, fixed by the 12-minute ramp (u = ceil(2 knee / 12) per step)."""
    return max(1, math.ceil(TOP_LOAD_OVER_KNEE * truth.knee_users / GRID_MINUTES)) * GRID_MINUTES


def ramp_users_per_step(truth: TrueProfile, minutes: int) -> int:
    """Users per step so that ``minutes`` steps reach (at least) the same top load."""
    return math.ceil(top_users(truth) / minutes)


def predict(document: dict[str, Any], users: int, seed: int) -> Prediction:
    result = simulate(document, INSTANCE_TYPE, users=users, duration_s=PREDICTION_S, seed=seed,
                      resources=InstanceResources(VCPU, MEMORY_MB))
    return Prediction(result.throughput_per_s, result.percentile_ms(95))


def simulate_ramp(truth: TrueProfile, minutes: int, users_per_step: int, seed: int) -> SimulationResult:
    return simulate(truth.document(), INSTANCE_TYPE, traffic=Stairs(60.0 * minutes, minutes, users_per_step),
                    seed=seed, resources=InstanceResources(VCPU, MEMORY_MB))


def fitted_document(ramp: SimulationResult) -> tuple[dict[str, Any], Calibration]:
    """Export the ramp as CloudWatch files, read them back and calibrate: (profile, calibration)."""
    frame, _ = read_cloudwatch(export_get_metric_statistics(ramp.per_minute, START))
    calibration = calibrate_cloudwatch(frame, INSTANCE_TYPE, 1, MEMORY_MB, vcpu=VCPU)
    overhead = calibration.overhead.to_dict() if calibration.overhead else None
    document: dict[str, Any] = {"model": "fitted", "instances": {INSTANCE_TYPE: calibration.entry.to_dict()}}
    if overhead:
        document["overhead_ms"] = overhead
    return document, calibration


def round_trip(truth: TrueProfile, minutes: int, seeds: Seeds, unseen_users: int,
               true_prediction: Prediction) -> Outcome:
    """Ramp with the true profile, calibrate, predict at ``unseen_users`` with the fit."""
    users_per_step = ramp_users_per_step(truth, minutes)
    base = Outcome(truth, minutes, seeds, users_per_step, unseen_users,
                   true_throughput_per_s=true_prediction.throughput_per_s, true_p95_ms=true_prediction.p95_ms)
    ramp = simulate_ramp(truth, minutes, users_per_step, seeds.ramp)
    try:
        document, calibration = fitted_document(ramp)
        fitted = predict(document, unseen_users, seeds.fitted)
    except InputError as exc:
        return replace(base, failure=str(exc))
    service = calibration.service
    return replace(base, fit_family=service.family, fit_mean_ms=service.mean_ms, fit_cv=service.cv,
                   fit_workers=calibration.entry.workers, determined=calibration.workers_determined,
                   throughput_error=fitted.throughput_per_s / true_prediction.throughput_per_s - 1.0,
                   p95_error=fitted.p95_ms / true_prediction.p95_ms - 1.0)


def unseen_users(truth: TrueProfile) -> int:
    """The prediction load: three times the 12-minute ramp's top user count."""
    return UNSEEN_LOAD_OVER_TOP * top_users(truth)


# --- the two studies -----------------------------------------------------------------------------

@dataclass(frozen=True)
class GridRow:
    outcome: Outcome
    noise_throughput: float  # true profile, fitted run's seed vs truth seed
    noise_p95: float


def run_grid(profiles: Iterable[TrueProfile]) -> list[GridRow]:
    rows = []
    seeds = Seeds.replicate(0)
    for truth in profiles:
        users = unseen_users(truth)
        true_prediction = predict(truth.document(), users, seeds.truth)
        same_seed = predict(truth.document(), users, seeds.fitted)
        outcome = round_trip(truth, GRID_MINUTES, seeds, users, true_prediction)
        rows.append(GridRow(outcome, same_seed.throughput_per_s / true_prediction.throughput_per_s - 1.0,
                            same_seed.p95_ms / true_prediction.p95_ms - 1.0))
    return rows


def run_degradation(plan: Plan) -> list[Outcome]:
    outcomes = []
    for truth in plan.representative:
        users = unseen_users(truth)
        for k in range(plan.replicates):
            seeds = Seeds.replicate(k)
            true_prediction = predict(truth.document(), users, seeds.truth)
            outcomes.extend(round_trip(truth, minutes, seeds, users, true_prediction) for minutes in plan.minutes)
    return outcomes


# --- printing -----------------------------------------------------------------------------------

def pct(value: float, width: int = 7) -> str:
    return f"{'-':>{width}}" if not math.isfinite(value) else f"{value * 100:+{width}.1f}%"


def share(value: float, width: int) -> str:
    return f"{'-':>{width}}" if not math.isfinite(value) else f"{value:>{width}.1%}"


def print_grid(rows: Sequence[GridRow]) -> None:
    header = (f"{'true profile':<30} {'users':>5} {'fit family':<11} {'mean err':>9} {'cv err':>8} "
              f"{'c fit':>5} {'det':>3} {'thr err':>8} {'p95 err':>8} {'true X/s':>8} {'true p95':>9}")
    print(header)
    print("-" * len(header))
    for row in rows:
        o = row.outcome
        if not o.ok:
            print(f"{o.truth.label:<30} {o.unseen_users:>5} FAILED: {o.failure}")
            continue
        family = o.fit_family + ("" if o.family_match else "*")
        workers = f"{o.fit_workers}{'' if o.workers_exact else '!'}"
        print(f"{o.truth.label:<30} {o.unseen_users:>5} {family:<11} {pct(o.mean_error, 8)} {pct(o.cv_error)} "
              f"{workers:>5} {'yes' if o.determined else 'no':>3} {pct(o.throughput_error)} "
              f"{pct(o.p95_error)} {o.true_throughput_per_s:>8,.0f} {o.true_p95_ms:>7.1f}ms")
    print("  * fitted family differs from the true one;  ! fitted workers differ;  "
          "det = workers determined (the ramp saturated)")


def within(outcomes: Sequence[Outcome], limit: float) -> float:
    ok = [o for o in outcomes if o.ok]
    return sum(o.worst_error <= limit for o in ok) / len(ok) if ok else math.nan


def print_grid_summary(rows: Sequence[GridRow]) -> None:
    outcomes = [r.outcome for r in rows]
    ok = [o for o in outcomes if o.ok]
    failed = len(outcomes) - len(ok)
    if not ok:
        print(f"Summary: all {failed} calibrations failed")
        return
    shares = ", ".join(f"within {t:.0%}: {within(ok, t):.0%} ({sum(o.worst_error <= t for o in ok)}/{len(ok)})"
                       for t in TARGETS)
    print(f"Summary ({len(ok)} cases, {failed} failed; a case is within a target when both |throughput| and "
          f"|p95| errors are): max |throughput error| {max(abs(o.throughput_error) for o in ok):.1%}, "
          f"max |p95 error| {max(abs(o.p95_error) for o in ok):.1%}; {shares}")
    print(f"  recovered exactly: workers {sum(o.workers_exact for o in ok)}/{len(ok)}, "
          f"family {sum(o.family_match for o in ok)}/{len(ok)}, determined {sum(o.determined for o in ok)}/{len(ok)}; "
          f"max |mean error| {max(abs(o.mean_error) for o in ok):.1%}, "
          f"max |cv error| {max(abs(o.cv_error) for o in ok):.1%}")
    print(f"  noise floor (true profile, fitted run's seed vs truth seed): max |throughput| "
          f"{max(abs(r.noise_throughput) for r in rows):.1%}, max |p95| {max(abs(r.noise_p95) for r in rows):.1%}")


@dataclass(frozen=True)
class MinutesSummary:
    """Errors over all profiles and seeds with this many minutes of data."""

    minutes: int
    runs: int
    failures: int
    determined: int
    determined_wrong: int  # "determined", yet not the true worker count
    workers_exact: int
    median_throughput: float
    max_throughput: float
    median_p95: float
    max_p95: float


def summarise_minutes(outcomes: Sequence[Outcome], minutes: Sequence[int]) -> list[MinutesSummary]:
    summaries = []
    for m in minutes:
        runs = [o for o in outcomes if o.minutes == m]
        ok = [o for o in runs if o.ok]
        thr = [abs(o.throughput_error) for o in ok] or [math.nan]
        p95 = [abs(o.p95_error) for o in ok] or [math.nan]
        summaries.append(MinutesSummary(m, len(runs), len(runs) - len(ok), sum(o.determined for o in ok),
                                        sum(o.determined and not o.workers_exact for o in ok),
                                        sum(o.workers_exact for o in ok), statistics.median(thr), max(thr),
                                        statistics.median(p95), max(p95)))
    return summaries


def print_degradation(outcomes: Sequence[Outcome], summaries: Sequence[MinutesSummary]) -> None:
    header = (f"{'minutes':>7} {'runs':>4} {'failed':>6} {'determined':>10} {'det+wrong':>9} {'c right':>7} "
              f"{'|thr| median':>12} {'|thr| max':>9} {'|p95| median':>12} {'|p95| max':>9}")
    print(header)
    print("-" * len(header))
    for s in summaries:
        print(f"{s.minutes:>7} {s.runs:>4} {s.failures:>6} {s.determined:>5}/{s.runs - s.failures:<4} "
              f"{s.determined_wrong:>9} "
              f"{s.workers_exact:>3}/{s.runs - s.failures:<3} {share(s.median_throughput, 12)} "
              f"{share(s.max_throughput, 9)} {share(s.median_p95, 12)} {share(s.max_p95, 9)}")
    print("  determined = calibration says the ramp saturated and c = X_sat x E[S] is determined; "
          "det+wrong = determined, yet not the true c")
    print()
    print("Per profile and minutes: the first step's load, and the worst seed's fitted workers (! = wrong), "
          "mean error and prediction errors:")
    for truth in dict.fromkeys(o.truth for o in outcomes):
        cells = []
        for m in dict.fromkeys(o.minutes for o in outcomes):
            runs = [o for o in outcomes if o.truth == truth and o.minutes == m]
            ok = [o for o in runs if o.ok]
            if not ok:
                cells.append(f"{m}min: all failed")
                continue
            worst = max(ok, key=lambda o: o.worst_error)
            fail = f" ({len(runs) - len(ok)} failed)" if len(ok) < len(runs) else ""
            first = ramp_users_per_step(truth, m) / truth.knee_users
            cells.append(f"{m:>2} min: 1st step {ramp_users_per_step(truth, m):>2} users = {first:.2f} x knee; worst: "
                         f"c={worst.fit_workers}{'' if worst.workers_exact else '!'} "
                         f"mean {pct(worst.mean_error, 0)}, X {pct(worst.throughput_error, 0)}, "
                         f"p95 {pct(worst.p95_error, 0)}{fail}")
        print(f"  {truth.label}: knee {truth.knee_users:.1f} users, top {top_users(truth)}, "
              f"unseen {unseen_users(truth)}")
        for cell in cells:
            print("    " + cell)
    for o in outcomes:
        if not o.ok:
            print(f"  FAILED {o.truth.label}, {o.minutes} min, ramp seed {o.seeds.ramp}: {o.failure}")


# --- files -------------------------------------------------------------------------------------

def outcome_record(o: Outcome) -> dict[str, Any]:
    return {**asdict(o.truth), "minutes": o.minutes, **{f"seed_{k}": v for k, v in asdict(o.seeds).items()},
            "users_per_step": o.users_per_step, "unseen_users": o.unseen_users, "failure": o.failure or "",
            "fit_family": o.fit_family or "", "fit_mean_ms": o.fit_mean_ms, "fit_cv": o.fit_cv,
            "fit_workers": o.fit_workers, "determined": o.determined, "mean_error": o.mean_error,
            "cv_error": o.cv_error, "throughput_error": o.throughput_error, "p95_error": o.p95_error,
            "true_throughput_per_s": o.true_throughput_per_s, "true_p95_ms": o.true_p95_ms}


def write_csv(path: Path, outcomes: Sequence[Outcome]) -> None:
    records = [outcome_record(o) for o in outcomes]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def plot_grid(axes: plt.Axes, rows: Sequence[GridRow]) -> None:
    """Throughput error vs p95 error of every grid case, with the target boxes."""
    for limit, style in zip(sorted(TARGETS, reverse=True), ("--", "-")):
        axes.add_patch(Rectangle((-limit * 100, -limit * 100), 2 * limit * 100, 2 * limit * 100, fill=False,
                                 linestyle=style, edgecolor="grey", linewidth=1.2))
        axes.annotate(f"±{limit:.0%} target", (-limit * 100, limit * 100), textcoords="offset points",
                      xytext=(3, -12), color="grey", fontsize=9)
    for family, colour in FAMILY_COLOURS.items():
        for c, marker in ((2, "o"), (8, "s")):
            points = [r.outcome for r in rows if r.outcome.ok and r.outcome.truth.family == family
                      and r.outcome.truth.workers == c]
            if points:
                axes.scatter([o.throughput_error * 100 for o in points], [o.p95_error * 100 for o in points],
                             c=colour, marker=marker, s=45, alpha=0.8, edgecolors="black", linewidths=0.4,
                             label=f"{family}, c={c}")
    axes.axhline(0, color="black", linewidth=0.5)
    axes.axvline(0, color="black", linewidth=0.5)
    ok = [r.outcome for r in rows if r.outcome.ok]
    span = max([12.0] + [abs(o.throughput_error) * 110 for o in ok] + [abs(o.p95_error) * 110 for o in ok])
    axes.set_xlim(-span, span)
    axes.set_ylim(-span, span)
    axes.set_aspect("equal")
    axes.set_xlabel("throughput prediction error (%)")
    axes.set_ylabel("p95 latency prediction error (%)")
    axes.set_title(f"Grid: {len(ok)} true profiles, {GRID_MINUTES} min of data,\n"
                   f"predicted at {UNSEEN_LOAD_OVER_TOP}x the ramp's top load (unseen)", fontsize=11)
    if ok:
        axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4, framealpha=0.9,
                    columnspacing=0.8, handletextpad=0.3)
    axes.grid(alpha=0.3)


def plot_minutes(axes: plt.Axes, outcomes: Sequence[Outcome], summaries: Sequence[MinutesSummary]) -> None:
    """Median and max |error| against minutes of data (log scale), every run as a faint dot."""
    floor = 0.03  # %: smaller errors are drawn on the bottom edge of the log axis
    minutes = [s.minutes for s in summaries]
    for attribute, colour, offset in (("p95_error", "tab:purple", -0.08), ("throughput_error", "tab:cyan", 0.08)):
        runs = [o for o in outcomes if o.ok]
        axes.scatter([o.minutes + offset for o in runs], [max(abs(getattr(o, attribute)) * 100, floor) for o in runs],
                     color=colour, s=12, alpha=0.35, linewidths=0)
    series = (("median |p95 error|", [s.median_p95 for s in summaries], "tab:purple", "-", "o"),
              ("max |p95 error|", [s.max_p95 for s in summaries], "tab:purple", "--", "^"),
              ("median |throughput error|", [s.median_throughput for s in summaries], "tab:cyan", "-", "o"),
              ("max |throughput error|", [s.max_throughput for s in summaries], "tab:cyan", "--", "^"))
    for label, values, colour, style, marker in series:
        axes.plot(minutes, [max(v * 100, floor) for v in values], color=colour, linestyle=style, marker=marker,
                  label=label, linewidth=1.8)
    for limit in TARGETS:
        axes.axhline(limit * 100, color="grey", linestyle=":", linewidth=1.2)
        axes.annotate(f"{limit:.0%}", (max(minutes), limit * 100), textcoords="offset points", xytext=(-4, 2),
                      color="grey", fontsize=9, ha="right")
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}%"))
    axes.set_xticks(minutes)
    axes.set_xlim(max(minutes) + 0.7, min(minutes) - 0.7)  # less data to the right
    axes.set_xlabel("minutes of CloudWatch data in the ramp (same top load: fewer, bigger steps)")
    axes.set_ylabel("|prediction error| at the unseen load (log scale)")
    runs = summaries[0].runs if summaries else 0
    axes.set_title(f"Less data: {runs} runs per point (profiles x seeds);\n"
                   "dots = single runs, lines = median and max", fontsize=11)
    axes.legend(fontsize=9, loc="upper left")
    axes.set_ylim(floor * 0.9, None)
    axes.grid(alpha=0.3)
    wrong = [m for m in minutes if any(o.minutes == m and (not o.ok or not o.workers_exact) for o in outcomes)]
    if wrong:
        axes.axvspan(max(wrong) + 0.4, min(minutes) - 0.7, color="tab:red", alpha=0.07)
        axes.annotate("workers wrong\n(or failed)\nin some runs", ((max(wrong) + min(minutes) - 0.3) / 2, floor * 1.5),
                      color="tab:red", fontsize=9, ha="center")


def plot(rows: Sequence[GridRow], outcomes: Sequence[Outcome], summaries: Sequence[MinutesSummary],
         path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6.5), gridspec_kw={"width_ratios": [1, 1.15]})
    plot_grid(left, rows)
    plot_minutes(right, outcomes, summaries)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


# --- main ---------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="How well CloudWatch calibration recovers a true profile "
                                                 "and predicts a load the data never contained.")
    parser.add_argument("--quick", action="store_true", help="a small grid and one seed (a smoke run)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"directory for {PLOT_NAME} and the CSVs (default: experiments/out)")
    return parser.parse_args(argv)


def code_version() -> str:
    """The commit the calibration and simulator code come from (and whether they are edited)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "calibration", "simulator"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" with uncommitted changes to calibration/ or simulator/" if dirty else "")


def describe() -> None:
    print(f"Code: commit {code_version()}")
    print(f"True profiles on {INSTANCE_TYPE} ({VCPU} vCPU, {MEMORY_MB} MiB), overhead lognormal "
          f"{OVERHEAD_MS:g} ms cv {OVERHEAD_CV:g}.")
    print(f"Ramp: STAIRS to >= {TOP_LOAD_OVER_KNEE:g} x knee users (knee = c (m + {OVERHEAD_MS:g}) / m), "
          f"exported as CloudWatch get-metric-statistics, read back, calibrate_cloudwatch.")
    print(f"Prediction: {UNSEEN_LOAD_OVER_TOP} x the 12-minute ramp's top users, {PREDICTION_S:g} s; "
          f"error = fitted / true - 1 (true and fitted runs use different seeds).")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    plan = make_plan(args.quick)
    describe()

    print(f"== Accuracy over the grid ({len(plan.grid)} true profiles, {GRID_MINUTES} one-minute steps, "
          f"seeds: ramp {Seeds.replicate(0).ramp}, truth {Seeds.replicate(0).truth}, "
          f"fitted {Seeds.replicate(0).fitted}) ==")
    rows = run_grid(plan.grid)
    print_grid(rows)
    print_grid_summary(rows)
    grid_s = time.perf_counter() - started
    print()

    print(f"== Less data: {len(plan.representative)} profiles x {plan.replicates} seeds x minutes "
          f"{', '.join(map(str, plan.minutes))} (same top load, fewer and bigger steps) ==")
    outcomes = run_degradation(plan)
    summaries = summarise_minutes(outcomes, plan.minutes)
    print_degradation(outcomes, summaries)
    print()

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / PLOT_NAME
    plot(rows, outcomes, summaries, path)
    write_csv(args.out / "calibration_accuracy_grid.csv", [r.outcome for r in rows])
    write_csv(args.out / "calibration_accuracy_minutes.csv", outcomes)
    elapsed = time.perf_counter() - started
    print(f"Plot: {path}")
    print(f"CSV: {args.out / 'calibration_accuracy_grid.csv'}, {args.out / 'calibration_accuracy_minutes.csv'}")
    print(f"Elapsed: {elapsed:.1f} s (grid {grid_s:.1f} s, less data {elapsed - grid_s:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
