"""How well does CloudWatch calibration recover a model's profile, and how well does the
fitted profile predict what decisions rest on?

The question matters because calibrate_cloudwatch is the route from a real endpoint's
metrics to a profile, and the profile is then used to size endpoints for loads nobody
measured. With a real endpoint the truth is unknown, so this experiment closes the loop in
simulation:

1. Take a *true* profile (service-time family, mean, cv, workers; a lognormal 2 ms
   overhead) on one ml.c5.xlarge (4 vCPU, 8 GiB).
2. Simulate a STAIRS ramp of 12 one-minute steps of u = ceil(2 knee / 12) users each
   (knee = c (m + 2) / m users, the closed-loop saturation point with the 2 ms overhead as
   think time), so from light load to at least twice the knee (more when the knee is
   small, as u >= 1), and export its per-minute series as `aws cloudwatch
   get-metric-statistics` output.
3. Read it back with read_cloudwatch and fit it with calibrate_cloudwatch, exactly as a user
   would with real CloudWatch files (workers, family, mean and cv fitted jointly to every
   minute; a confidence set for the workers).
4. Predict, with the true profile and with the fitted one (the entry as written: the most
   conservative member of the set when c is not determined), and compare (relative error
   = fitted / true - 1):
   - where decisions are made: open Poisson traffic at moderate load, rho = 0.5, 0.7, 0.9
     of the true capacity c / m (P95 and P99 ModelLatency), and the open-traffic capacity at
     a tight percentile: the largest rate whose P95 (P99) stays within 1.5 x the true
     service time's own P95 (P99);
   - and, as before, a closed loop at 3 x the ramp's top user count for 120 s (throughput
     and p95), where only c / E[S] matters.

It reports:

* Accuracy over a grid: families (lognormal, gamma, weibull, exponential) x mean (5, 20 ms)
  x cv (0.5, 1.2; exponential only cv 1) x workers (2, 8), 12 one-minute steps. Target:
  open-traffic capacity at P95 and P99 within 5 %. A noise floor (the true profile at
  another seed) shows how much of each error is just sampling.
* Less data: a few representative profiles, ramps of 12, 8, 6, 4, 3 minutes (same top
  load, so fewer and bigger steps) and several seeds: how often the workers were
  determined, whether the true c was in the confidence set, and the errors. Target: with
  3-4 minutes, never a wrong c reported as determined.
* A plot: capacity errors of the grid (P99 against P95, coloured by family, with the
  +-5 % / +-10 % boxes) and the capacity error against minutes of data.

The open-traffic numbers come from a vectorised FIFO c-worker recursion over a grid of
rates with common random numbers (the engine's open-traffic model; the script checks it
against simulator.simulate once); the closed-loop ones from simulator.simulate.

Usage: .venv/bin/python experiments/calibration_accuracy.py [--quick] [--jobs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from itertools import product
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from calibration.fit import Calibration, calibrate_cloudwatch
from calibration.report import candidates_text
from calibration.sources import export_get_metric_statistics, read_cloudwatch
from simulator import Distribution, InstanceResources, SimulationResult, Stairs, simulate
from simulator.distributions import quantile_ms
from simulator.errors import InputError

INSTANCE_TYPE = "ml.c5.xlarge"
VCPU = 4
MEMORY_MB = 8192
MODEL_MEMORY_MB = 900
OVERHEAD_MS = 2.0
OVERHEAD_CV = 0.3
TOP_LOAD_OVER_KNEE = 2.0   # the ramp ends at twice the knee
UNSEEN_LOAD_OVER_TOP = 3   # the closed-loop prediction runs at three times the ramp's top
PREDICTION_S = 120.0
GRID_MINUTES = 12
THIN_MINUTES = (3, 4)      # where no wrong c may be reported as determined
TARGETS = (0.05, 0.10)
CAPACITY_TARGET = 0.05
MODERATE = (0.5, 0.7, 0.9)  # open-traffic loads, as shares of the true capacity c / m
SLO_FACTOR = 1.5            # the tight SLO: 1.5 x the true service time's own percentile
PERCENTILES = (95, 99)
OPEN_REQUESTS = 60_000
OPEN_WARMUP = 2_000
OPEN_GRID = 60
START = datetime(2026, 1, 1, tzinfo=UTC)
FAMILY_COLOURS = {"lognormal": "tab:blue", "gamma": "tab:orange", "weibull": "tab:green",
                  "exponential": "tab:red"}
DEFAULT_OUT = Path(__file__).resolve().parent / "out"
PLOT_NAME = "calibration_accuracy.png"
NAN2 = (math.nan, math.nan)


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

    @property
    def service(self) -> Distribution:
        return Distribution(self.family, self.mean_ms, 1.0 if self.family == "exponential" else self.cv)

    @property
    def capacity_per_s(self) -> float:
        return self.workers / (self.mean_ms / 1000.0)

    def slos_ms(self) -> dict[int, float]:
        """The tight SLO per percentile: SLO_FACTOR x the service time's own percentile."""
        service = self.service
        return {p: SLO_FACTOR * quantile_ms(service.family, service.mean_ms, service.cv, p / 100.0)
                for p in PERCENTILES}

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
                    (TrueProfile("lognormal", 20.0, 0.5, 2),), (12, 4, 3), 1)
    return Plan(grid_profiles(("lognormal", "gamma", "weibull", "exponential"), (5, 20), (0.5, 1.2), (2, 8)),
                (TrueProfile("lognormal", 20.0, 0.5, 2), TrueProfile("gamma", 5.0, 1.2, 8),
                 TrueProfile("weibull", 20.0, 1.2, 8), TrueProfile("exponential", 5.0, 1.0, 2)),
                (12, 8, 6, 4, 3), 3)


# --- open traffic ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenLoop:
    """What a profile does under open Poisson traffic: the capacity (per s) at each tight
    percentile, and (P95, P99) in ms at each moderate load."""

    capacity: dict[int, float]
    moderate: dict[float, tuple[float, float]]


def open_percentiles(service: Distribution, workers: int, rates: np.ndarray, seed: int) -> np.ndarray:
    """(rates x 2) P95 and P99 of ModelLatency (ms) for Poisson arrivals at each rate into
    ``workers`` FIFO workers, all rates in lockstep with the same unit inter-arrival times
    and service draws (common random numbers: the curve is smooth in the rate)."""
    rng = np.random.default_rng(seed)
    n = OPEN_REQUESTS + OPEN_WARMUP
    arrivals = np.cumsum(rng.exponential(1.0, n))[:, None] / rates[None, :] * 1000.0
    service_ms = service.sample_s(rng, n) * 1000.0
    free = np.zeros((len(rates), workers))
    rows = np.arange(len(rates))
    latency = np.empty((n, len(rates)))
    for t in range(n):
        k = free.argmin(axis=1)
        done = np.maximum(arrivals[t], free[rows, k]) + service_ms[t]
        free[rows, k] = done
        latency[t] = done - arrivals[t]
    return np.percentile(latency[OPEN_WARMUP:], list(PERCENTILES), axis=0).T


def crossing(rates: np.ndarray, values: np.ndarray, limit: float) -> float:
    """The rate where the (rising) percentile curve reaches ``limit``, linearly interpolated."""
    above = np.nonzero(values > limit)[0]
    if above.size == 0:
        return float(rates[-1])
    i = int(above[0])
    if i == 0:
        return 0.0
    return float(rates[i - 1] + (limit - values[i - 1]) / (values[i] - values[i - 1]) * (rates[i] - rates[i - 1]))


def open_loop(service: Distribution, workers: int, truth: TrueProfile, seed: int) -> OpenLoop:
    """Capacity at the truth's tight SLOs (a grid up to this profile's own c / m) and the
    percentiles at the truth's moderate loads."""
    grid = workers / (service.mean_ms / 1000.0) * np.linspace(0.02, 0.995, OPEN_GRID)
    moderate = np.array([rho * truth.capacity_per_s for rho in MODERATE])
    values = open_percentiles(service, workers, np.concatenate([grid, moderate]), seed)
    slos = truth.slos_ms()
    capacity = {p: crossing(grid, values[:OPEN_GRID, i], slos[p]) for i, p in enumerate(PERCENTILES)}
    at = {rho: (float(values[OPEN_GRID + j, 0]), float(values[OPEN_GRID + j, 1])) for j, rho in enumerate(MODERATE)}
    return OpenLoop(capacity, at)


def check_open_loop() -> str:
    """The vectorised recursion against simulator.simulate at one point (a sanity line)."""
    truth = TrueProfile("gamma", 10.0, 1.2, 2)
    rate = 0.8 * truth.capacity_per_s
    mine = open_percentiles(truth.service, truth.workers, np.array([rate]), 7)[0]
    result = simulate(truth.document(), INSTANCE_TYPE, arrival_rate_per_s=rate,
                      duration_s=(OPEN_REQUESTS + OPEN_WARMUP) / rate, seed=7)
    engine = [result.percentile_ms(p) for p in PERCENTILES]
    return (f"open-traffic recursion vs simulator.simulate ({truth.label}, rho 0.8): P95 {mine[0]:.1f} vs "
            f"{engine[0]:.1f} ms, P99 {mine[1]:.1f} vs {engine[1]:.1f} ms")


# --- one round trip ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """One calibration round trip and its predictions."""

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
    workers_set: str = ""
    in_set: bool = False
    throughput_error: float = math.nan
    p95_error: float = math.nan
    true_throughput_per_s: float = math.nan
    true_p95_ms: float = math.nan
    capacity_errors: tuple[float, float] = NAN2                  # P95, P99
    moderate_errors: tuple[tuple[float, float], ...] = ()        # per MODERATE: P95, P99
    true_capacity: tuple[float, float] = NAN2

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
    def wrong_determined(self) -> bool:
        return self.determined and not self.workers_exact

    @property
    def family_match(self) -> bool:
        return self.fit_family == self.truth.family

    @property
    def worst_error(self) -> float:
        return max(abs(self.throughput_error), abs(self.p95_error))

    @property
    def worst_capacity_error(self) -> float:
        return max(abs(e) for e in self.capacity_errors)


@dataclass(frozen=True)
class Prediction:
    throughput_per_s: float
    p95_ms: float


@dataclass(frozen=True)
class Truth:
    """What the true profile does, computed once per profile and seed."""

    closed: Prediction
    open: OpenLoop


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


def true_behaviour(truth: TrueProfile, seed: int) -> Truth:
    return Truth(predict(truth.document(), unseen_users(truth), seed),
                 open_loop(truth.service, truth.workers, truth, seed))


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


def relative(fitted: float, true: float) -> float:
    return fitted / true - 1.0 if true > 0 else math.nan


def round_trip(truth: TrueProfile, minutes: int, seeds: Seeds, behaviour: Truth) -> Outcome:
    """Ramp with the true profile, calibrate, predict with the fit what the truth did."""
    users_per_step = ramp_users_per_step(truth, minutes)
    closed = behaviour.closed
    base = Outcome(truth, minutes, seeds, users_per_step, unseen_users(truth),
                   true_throughput_per_s=closed.throughput_per_s, true_p95_ms=closed.p95_ms,
                   true_capacity=tuple(behaviour.open.capacity[p] for p in PERCENTILES))  # type: ignore[arg-type]
    ramp = simulate_ramp(truth, minutes, users_per_step, seeds.ramp)
    try:
        document, calibration = fitted_document(ramp)
        fitted = predict(document, unseen_users(truth), seeds.fitted)
    except InputError as exc:
        return replace(base, failure=str(exc))
    entry = calibration.entry
    fitted_open = open_loop(entry.service_time, entry.workers, truth, seeds.truth)  # the truth's draws (CRN)
    profile = calibration.workers
    assert profile is not None
    in_set = truth.workers in profile.candidates or (profile.open_above and truth.workers >= profile.candidates[-1])
    moderate = tuple((relative(fitted_open.moderate[r][0], behaviour.open.moderate[r][0]),
                      relative(fitted_open.moderate[r][1], behaviour.open.moderate[r][1])) for r in MODERATE)
    return replace(base, fit_family=entry.service_time.family, fit_mean_ms=entry.service_time.mean_ms,
                   fit_cv=entry.service_time.cv, fit_workers=entry.workers, determined=calibration.workers_determined,
                   workers_set=candidates_text(profile), in_set=in_set,
                   throughput_error=relative(fitted.throughput_per_s, closed.throughput_per_s),
                   p95_error=relative(fitted.p95_ms, closed.p95_ms),
                   capacity_errors=tuple(relative(fitted_open.capacity[p], behaviour.open.capacity[p])
                                         for p in PERCENTILES),  # type: ignore[arg-type]
                   moderate_errors=moderate)


def unseen_users(truth: TrueProfile) -> int:
    """The closed-loop prediction load: three times the 12-minute ramp's top user count."""
    return UNSEEN_LOAD_OVER_TOP * top_users(truth)


# --- the two studies -----------------------------------------------------------------------------

@dataclass(frozen=True)
class GridRow:
    outcome: Outcome
    noise_throughput: float  # true profile, fitted run's seed vs truth seed
    noise_p95: float
    noise_capacity: tuple[float, float]
    noise_moderate_p99: tuple[float, ...]  # per MODERATE


def grid_row(truth: TrueProfile) -> GridRow:
    """One grid profile: the round trip with 12 minutes and the noise floor (another seed)."""
    seeds = Seeds.replicate(0)
    behaviour = true_behaviour(truth, seeds.truth)
    other = true_behaviour(truth, seeds.fitted)
    outcome = round_trip(truth, GRID_MINUTES, seeds, behaviour)
    noise_capacity = tuple(relative(other.open.capacity[p], behaviour.open.capacity[p]) for p in PERCENTILES)
    noise_moderate = tuple(relative(other.open.moderate[r][1], behaviour.open.moderate[r][1]) for r in MODERATE)
    return GridRow(outcome, relative(other.closed.throughput_per_s, behaviour.closed.throughput_per_s),
                   relative(other.closed.p95_ms, behaviour.closed.p95_ms),
                   noise_capacity, noise_moderate)  # type: ignore[arg-type]


def degradation_runs(task: tuple[TrueProfile, int, tuple[int, ...]]) -> list[Outcome]:
    """One profile and seed over every length of ramp."""
    truth, k, minutes = task
    seeds = Seeds.replicate(k)
    behaviour = true_behaviour(truth, seeds.truth)
    return [round_trip(truth, m, seeds, behaviour) for m in minutes]


def _map(function: Callable[[Any], Any], tasks: Sequence[Any], jobs: int) -> list[Any]:
    """``function`` over ``tasks`` in order, in ``jobs`` processes (each task is seeded: the
    same numbers whatever the number of processes)."""
    if jobs <= 1:
        return [function(task) for task in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(function, tasks))


def run_grid(profiles: Sequence[TrueProfile], jobs: int) -> list[GridRow]:
    return _map(grid_row, profiles, jobs)


def run_degradation(plan: Plan, jobs: int) -> list[Outcome]:
    tasks = [(truth, k, plan.minutes) for truth in plan.representative for k in range(plan.replicates)]
    return [outcome for runs in _map(degradation_runs, tasks, jobs) for outcome in runs]


# --- printing -----------------------------------------------------------------------------------

def pct(value: float, width: int = 7) -> str:
    return f"{'-':>{width}}" if not math.isfinite(value) else f"{value * 100:+{width}.1f}%"


def share(value: float, width: int) -> str:
    return f"{'-':>{width}}" if not math.isfinite(value) else f"{value:>{width}.1%}"


def print_grid(rows: Sequence[GridRow]) -> None:
    moderate = " ".join(f"{'p99@' + format(r, 'g'):>7}" for r in MODERATE)
    header = (f"{'true profile':<30} {'fit family':<11} {'mean err':>8} {'cv err':>7} {'c set':>9} {'det':>3} "
              f"{'cap P95':>7} {'cap P99':>7} {moderate} {'3x thr':>7} {'3x p95':>7}")
    print(header)
    print("-" * len(header))
    for row in rows:
        o = row.outcome
        if not o.ok:
            print(f"{o.truth.label:<30} FAILED: {o.failure}")
            continue
        family = (o.fit_family or "") + ("" if o.family_match else "*")
        chosen = f"{o.fit_workers}{'' if o.workers_exact else '!'}"
        cells = " ".join(pct(e[1]) for e in o.moderate_errors)
        print(f"{o.truth.label:<30} {family:<11} {pct(o.mean_error)} {pct(o.cv_error, 6)} "
              f"{o.workers_set + ' ' + chosen:>9} {'yes' if o.determined else 'no':>3} "
              f"{pct(o.capacity_errors[0])} {pct(o.capacity_errors[1])} {cells} {pct(o.throughput_error)} "
              f"{pct(o.p95_error)}")
    print("  c set = the confidence set and the c the entry holds (! = not the true c); * fitted family differs; "
          "det = workers determined;\n  cap P95/P99 = open-traffic capacity within 1.5 x the true service percentile; "
          "p99@rho = open-traffic P99 at rho x the true c / m; 3x = closed loop at 3 x the ramp's top users")


def within(outcomes: Sequence[Outcome], limit: float) -> float:
    ok = [o for o in outcomes if o.ok]
    return sum(o.worst_error <= limit for o in ok) / len(ok) if ok else math.nan


def _max_abs(values: Iterable[float]) -> float:
    finite = [abs(v) for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


def print_grid_summary(rows: Sequence[GridRow]) -> bool:
    """The grid's summary and its target; True when the target is met."""
    outcomes = [r.outcome for r in rows]
    ok = [o for o in outcomes if o.ok]
    failed = len(outcomes) - len(ok)
    if not ok:
        print(f"Summary: all {failed} calibrations failed")
        return False
    capacity = [_max_abs(o.capacity_errors[i] for o in ok) for i in range(len(PERCENTILES))]
    print(f"Summary ({len(ok)} cases, {failed} failed): open-traffic capacity max |error| "
          + ", ".join(f"P{p} {e:.1%}" for p, e in zip(PERCENTILES, capacity, strict=True))
          + "; moderate load max |P95|, |P99| error: "
          + ", ".join(f"rho {r:g} {_max_abs(o.moderate_errors[j][0] for o in ok):.1%}, "
                      f"{_max_abs(o.moderate_errors[j][1] for o in ok):.1%}" for j, r in enumerate(MODERATE)))
    print(f"  closed loop at 3 x top: max |throughput error| {_max_abs(o.throughput_error for o in ok):.1%}, "
          f"max |p95 error| {_max_abs(o.p95_error for o in ok):.1%}")
    print(f"  recovered: workers {sum(o.workers_exact for o in ok)}/{len(ok)} (determined "
          f"{sum(o.determined for o in ok)}, wrong and determined {sum(o.wrong_determined for o in ok)}, true c in "
          f"the set {sum(o.in_set for o in ok)}), family {sum(o.family_match for o in ok)}/{len(ok)}; "
          f"max |mean error| {_max_abs(o.mean_error for o in ok):.1%}, "
          f"max |cv error| {_max_abs(o.cv_error for o in ok):.1%}")
    print("  noise floor (true profile at another seed): capacity "
          + ", ".join(f"P{p} {_max_abs(r.noise_capacity[i] for r in rows):.1%}" for i, p in enumerate(PERCENTILES))
          + "; P99 at rho " + ", ".join(f"{r:g} {_max_abs(row.noise_moderate_p99[j] for row in rows):.1%}"
                                        for j, r in enumerate(MODERATE))
          + f"; 3 x top throughput {_max_abs(r.noise_throughput for r in rows):.1%}, "
            f"p95 {_max_abs(r.noise_p95 for r in rows):.1%}")
    met = failed == 0 and all(e <= CAPACITY_TARGET for e in capacity)
    print(f"Target: open-traffic capacity at P95 and P99 within {CAPACITY_TARGET:.0%} on every grid profile with "
          f"{GRID_MINUTES} minutes -> {'PASS' if met else 'FAIL'}")
    return met


@dataclass(frozen=True)
class MinutesSummary:
    """Errors over all profiles and seeds with this many minutes of data."""

    minutes: int
    runs: int
    failures: int
    determined: int
    determined_wrong: int  # "determined", yet not the true worker count
    in_set: int
    workers_exact: int
    max_capacity: tuple[float, float]
    median_throughput: float
    max_throughput: float
    max_p95: float


def summarise_minutes(outcomes: Sequence[Outcome], minutes: Sequence[int]) -> list[MinutesSummary]:
    summaries = []
    for m in minutes:
        runs = [o for o in outcomes if o.minutes == m]
        ok = [o for o in runs if o.ok]
        thr = [abs(o.throughput_error) for o in ok] or [math.nan]
        summaries.append(MinutesSummary(
            minutes=m, runs=len(runs), failures=len(runs) - len(ok), determined=sum(o.determined for o in ok),
            determined_wrong=sum(o.wrong_determined for o in ok), in_set=sum(o.in_set for o in ok),
            workers_exact=sum(o.workers_exact for o in ok),
            max_capacity=(_max_abs(o.capacity_errors[0] for o in ok), _max_abs(o.capacity_errors[1] for o in ok)),
            median_throughput=statistics.median(thr), max_throughput=max(thr),
            max_p95=_max_abs(o.p95_error for o in ok)))
    return summaries


def print_degradation(outcomes: Sequence[Outcome], summaries: Sequence[MinutesSummary]) -> bool:
    """The table, the per-profile lines and the thin-ramp target; True when it is met."""
    header = (f"{'minutes':>7} {'runs':>4} {'failed':>6} {'determined':>10} {'det+wrong':>9} {'c in set':>8} "
              f"{'c right':>7} {'|cap P95| max':>13} {'|cap P99| max':>13} {'|3x thr| max':>12} {'|3x p95| max':>12}")
    print(header)
    print("-" * len(header))
    for s in summaries:
        done = s.runs - s.failures
        print(f"{s.minutes:>7} {s.runs:>4} {s.failures:>6} {s.determined:>5}/{done:<4} {s.determined_wrong:>9} "
              f"{s.in_set:>4}/{done:<3} {s.workers_exact:>3}/{done:<3} {share(s.max_capacity[0], 13)} "
              f"{share(s.max_capacity[1], 13)} {share(s.max_throughput, 12)} {share(s.max_p95, 12)}")
    print("  determined = the confidence set for c holds one value; det+wrong = determined, yet not the true c; "
          "c right = the entry's c is the true one\n  (when c is not determined the entry holds the set's member "
          "with the lowest open-traffic capacity: the errors are that member's)")
    print()
    print("Per profile and minutes: the first step's load, the confidence sets over the seeds, and the worst "
          "seed's entry and capacity errors:")
    for truth in dict.fromkeys(o.truth for o in outcomes):
        print(f"  {truth.label}: knee {truth.knee_users:.1f} users, top {top_users(truth)}")
        for m in dict.fromkeys(o.minutes for o in outcomes):
            runs = [o for o in outcomes if o.truth == truth and o.minutes == m]
            ok = [o for o in runs if o.ok]
            if not ok:
                print(f"    {m:>2} min: all failed")
                continue
            worst = max(ok, key=lambda o: o.worst_capacity_error)
            first = ramp_users_per_step(truth, m) / truth.knee_users
            print(f"    {m:>2} min: 1st step {ramp_users_per_step(truth, m):>2} users = {first:.2f} x knee; sets "
                  f"{' '.join(o.workers_set for o in ok)}; worst: c={worst.fit_workers}"
                  f"{'' if worst.workers_exact else '!'} mean {pct(worst.mean_error, 0)}, cap P95 "
                  f"{pct(worst.capacity_errors[0], 0)}, P99 {pct(worst.capacity_errors[1], 0)}"
                  + (f" ({len(runs) - len(ok)} failed)" if len(ok) < len(runs) else ""))
    for o in outcomes:
        if not o.ok:
            print(f"  FAILED {o.truth.label}, {o.minutes} min, ramp seed {o.seeds.ramp}: {o.failure}")
    thin = [s for s in summaries if s.minutes in THIN_MINUTES]
    wrong = sum(s.determined_wrong for s in thin)
    met = bool(thin) and wrong == 0
    print(f"Target: with {' or '.join(map(str, THIN_MINUTES))} minutes, never a wrong c reported as determined: "
          f"{wrong} of {sum(s.runs - s.failures for s in thin)} -> {'PASS' if met else 'FAIL'}")
    return met


# --- files -------------------------------------------------------------------------------------

def outcome_record(o: Outcome) -> dict[str, Any]:
    return {**asdict(o.truth), "minutes": o.minutes, **{f"seed_{k}": v for k, v in asdict(o.seeds).items()},
            "users_per_step": o.users_per_step, "unseen_users": o.unseen_users, "failure": o.failure or "",
            "fit_family": o.fit_family or "", "fit_mean_ms": o.fit_mean_ms, "fit_cv": o.fit_cv,
            "fit_workers": o.fit_workers, "determined": o.determined, "workers_set": o.workers_set,
            "true_c_in_set": o.in_set, "mean_error": o.mean_error, "cv_error": o.cv_error,
            **{f"capacity_p{p}_error": o.capacity_errors[i] for i, p in enumerate(PERCENTILES)},
            **{f"true_capacity_p{p}_per_s": o.true_capacity[i] for i, p in enumerate(PERCENTILES)},
            **{f"rho{r:g}_p{p}_error": (o.moderate_errors[j][i] if o.moderate_errors else math.nan)
               for j, r in enumerate(MODERATE) for i, p in enumerate(PERCENTILES)},
            "throughput_error": o.throughput_error, "p95_error": o.p95_error,
            "true_throughput_per_s": o.true_throughput_per_s, "true_p95_ms": o.true_p95_ms}


def write_csv(path: Path, outcomes: Sequence[Outcome]) -> None:
    records = [outcome_record(o) for o in outcomes]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def plot_grid(axes: plt.Axes, rows: Sequence[GridRow]) -> None:
    """Capacity error at P95 against P99 for every grid case, with the target boxes."""
    for limit, style in zip(sorted(TARGETS, reverse=True), ("--", "-"), strict=True):
        axes.add_patch(Rectangle((-limit * 100, -limit * 100), 2 * limit * 100, 2 * limit * 100, fill=False,
                                 linestyle=style, edgecolor="grey", linewidth=1.2))
        axes.annotate(f"±{limit:.0%}", (-limit * 100, limit * 100), textcoords="offset points",
                      xytext=(3, -12), color="grey", fontsize=9)
    for family, colour in FAMILY_COLOURS.items():
        for c, marker in ((2, "o"), (8, "s")):
            points = [r.outcome for r in rows if r.outcome.ok and r.outcome.truth.family == family
                      and r.outcome.truth.workers == c]
            if points:
                axes.scatter([o.capacity_errors[0] * 100 for o in points], [o.capacity_errors[1] * 100 for o in points],
                             c=colour, marker=marker, s=45, alpha=0.8, edgecolors="black", linewidths=0.4,
                             label=f"{family}, c={c}")
    axes.axhline(0, color="black", linewidth=0.5)
    axes.axvline(0, color="black", linewidth=0.5)
    ok = [r.outcome for r in rows if r.outcome.ok]
    span = max([12.0] + [abs(e) * 110 for o in ok for e in o.capacity_errors if math.isfinite(e)])
    axes.set_xlim(-span, span)
    axes.set_ylim(-span, span)
    axes.set_aspect("equal")
    axes.set_xlabel("open-traffic capacity error at P95 (%)")
    axes.set_ylabel("open-traffic capacity error at P99 (%)")
    axes.set_title(f"Grid: {len(ok)} true profiles, {GRID_MINUTES} min of data;\ncapacity within "
                   f"{SLO_FACTOR:g} x the true service percentile", fontsize=11)
    if ok:
        axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4, framealpha=0.9,
                    columnspacing=0.8, handletextpad=0.3)
    axes.grid(alpha=0.3)


def plot_minutes(axes: plt.Axes, outcomes: Sequence[Outcome], summaries: Sequence[MinutesSummary]) -> None:
    """Max |capacity error| against minutes of data (log scale), every run as a faint dot,
    runs with a wrong c reported as determined in red."""
    floor = 0.03  # %: smaller errors are drawn on the bottom edge of the log axis
    minutes = [s.minutes for s in summaries]
    for index, (colour, offset) in enumerate((("tab:cyan", -0.08), ("tab:purple", 0.08))):
        runs = [o for o in outcomes if o.ok]
        axes.scatter([o.minutes + offset for o in runs],
                     [max(abs(o.capacity_errors[index]) * 100, floor) for o in runs],
                     color=[("tab:red" if o.wrong_determined else colour) for o in runs], s=14, alpha=0.45,
                     linewidths=0)
        axes.plot(minutes, [max(s.max_capacity[index] * 100, floor) for s in summaries], color=colour, marker="o",
                  label=f"max |capacity error| at P{PERCENTILES[index]}", linewidth=1.8)
    for limit in TARGETS:
        axes.axhline(limit * 100, color="grey", linestyle=":", linewidth=1.2)
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}%"))
    axes.set_xticks(minutes)
    axes.set_xlim(max(minutes) + 0.7, min(minutes) - 0.7)  # less data to the right
    axes.set_xlabel("minutes of CloudWatch data in the ramp (same top load: fewer, bigger steps)")
    axes.set_ylabel("|open-traffic capacity error| (log scale)")
    per_point = summaries[0].runs if summaries else 0
    wrong = sum(s.determined_wrong for s in summaries)
    axes.set_title(f"Less data: {per_point} runs per point (profiles x seeds); entries as written\n"
                   f"(the most conservative member when c is not determined); wrong c determined: {wrong}",
                   fontsize=11)
    axes.legend(fontsize=9, loc="upper left")
    axes.set_ylim(floor * 0.9, None)
    axes.grid(alpha=0.3)


def plot(rows: Sequence[GridRow], outcomes: Sequence[Outcome], summaries: Sequence[MinutesSummary],
         path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6.5), gridspec_kw={"width_ratios": [1, 1.15]})
    plot_grid(left, rows)
    plot_minutes(right, outcomes, summaries)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


# --- the real server ------------------------------------------------------------------------------

REAL_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "real_server"
REAL_TYPE = "ml.c5.large"


def real_server_check() -> None:
    """Calibrate on the real server's ramp (tests/data/real_server) and predict its steady
    runs at loads the ramp never reached (the numbers tests/test_calibration_real.py checks)."""
    ramp, _ = read_cloudwatch(sorted((REAL_DATA / "ramp").glob("*.json")))
    calibration = calibrate_cloudwatch(ramp, REAL_TYPE, 1, None)
    for line in calibration.report:
        print(f"  - {line}")
    fitted = {"model": "real", "instances": {REAL_TYPE: calibration.entry.to_dict()},
              **({"overhead_ms": calibration.overhead.to_dict()} if calibration.overhead else {})}
    for users in (6, 10):
        observed, _ = read_cloudwatch(sorted((REAL_DATA / f"steady-{users}users").glob("*.json")))
        throughput = float(observed["Invocations_Sum"].iloc[0]) / 60.0
        p95 = float(observed["ModelLatency_p95"].iloc[0]) / 1000.0
        predicted = simulate(fitted, REAL_TYPE, users=users, duration_s=300, seed=users)
        print(f"  steady {users:>2} users: throughput {throughput:.1f}/s observed, {predicted.throughput_per_s:.1f}/s "
              f"predicted ({pct(relative(predicted.throughput_per_s, throughput), 0)}); p95 {p95:.2f} ms observed, "
              f"{predicted.percentile_ms(95):.2f} ms predicted ({pct(relative(predicted.percentile_ms(95), p95), 0)})")
    print("  targets: throughput within 5 %, p95 within 10 %")


# --- main ---------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="How well CloudWatch calibration recovers a true profile "
                                                 "and predicts where decisions are made.")
    parser.add_argument("--quick", action="store_true", help="a small grid and one seed (a smoke run)")
    parser.add_argument("--jobs", type=int, default=1, help="processes to run the round trips in (default 1)")
    parser.add_argument("--real", action="store_true", help="only the real-server check (tests/data/real_server)")
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
    print(f"Open traffic: Poisson at rho {', '.join(map(str, MODERATE))} x the true c / m, and the capacity "
          f"within {SLO_FACTOR:g} x the true service P95 / P99 ({OPEN_REQUESTS:,} requests per rate, the fit on "
          "the truth's draws).")
    print(f"Closed loop: {UNSEEN_LOAD_OVER_TOP} x the 12-minute ramp's top users, {PREDICTION_S:g} s.")
    print(check_open_loop())
    print()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.real:
        print("== Real server: calibrate on the ramp, predict the steady runs ==")
        real_server_check()
        return 0
    started = time.perf_counter()
    plan = make_plan(args.quick)
    describe()

    print(f"== Accuracy over the grid ({len(plan.grid)} true profiles, {GRID_MINUTES} one-minute steps, "
          f"seeds: ramp {Seeds.replicate(0).ramp}, truth {Seeds.replicate(0).truth}, "
          f"fitted {Seeds.replicate(0).fitted}) ==")
    rows = run_grid(plan.grid, args.jobs)
    print_grid(rows)
    grid_met = print_grid_summary(rows)
    grid_s = time.perf_counter() - started
    print()

    print(f"== Less data: {len(plan.representative)} profiles x {plan.replicates} seeds x minutes "
          f"{', '.join(map(str, plan.minutes))} (same top load, fewer and bigger steps) ==")
    outcomes = run_degradation(plan, args.jobs)
    summaries = summarise_minutes(outcomes, plan.minutes)
    thin_met = print_degradation(outcomes, summaries)
    print()

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / PLOT_NAME
    plot(rows, outcomes, summaries, path)
    write_csv(args.out / "calibration_accuracy_grid.csv", [r.outcome for r in rows])
    write_csv(args.out / "calibration_accuracy_minutes.csv", outcomes)
    elapsed = time.perf_counter() - started
    print("== Real server: calibrate on the ramp, predict the steady runs ==")
    real_server_check()
    print()
    print(f"Targets: grid capacity {'PASS' if grid_met else 'FAIL'}, thin ramps {'PASS' if thin_met else 'FAIL'}")
    print(f"Plot: {path}")
    print(f"CSV: {args.out / 'calibration_accuracy_grid.csv'}, {args.out / 'calibration_accuracy_minutes.csv'}")
    print(f"Elapsed: {elapsed:.1f} s (grid {grid_s:.1f} s, less data {elapsed - grid_s:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
