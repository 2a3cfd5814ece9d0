"""The flat-invocations (plateau) rule over issue 23's grid, before and after: c 1-64 workers,
service means 2-200 ms, cv up to 2 (exponential, lognormal, gamma), think or overhead time
0-6 x E[S], PHASES SpawnRate 1-3 and STAIRS 1-3 users a one-minute step.

Each case is simulated once by the engine with FlatInvocations Continue, past the point
where its expected throughput is within 0.5 % of capacity; both rules are then replayed on
the same minutes (a rule is a pure function of the minutes it has seen). Per case:

- capacity = c / E[S]; the expected Invocations of each minute are exact for exponential
  service (the closed network of users, an infinite-server delay of mean think + overhead
  and a c-worker FCFS station: ``simulator.analytic.minute_throughputs``; for other service
  families the exponential value stands in);
- **saturation** = the first minute whose expected Invocations reach 98 % of capacity;
- **A**: the best minute up to the stop reaches 95 % of capacity;
- **B**: the rule stopped at most 3 minutes after saturation (a run it never stops fails B).

Rates are printed with their Wilson 95 % intervals. The "before" rule is the one main had
until issue 23 (commit 583ffaf's ``simulator.stopping.plateau``, copied here as ``old_stop``).
Usage: ``.venv/bin/python experiments/plateau_grid.py [--cases 600] [--budget 3e6] [--seed 23]
[--processes 2] [--cache experiments/out/plateau_histories.npz]``; ``--named`` runs issue 23's
named cases instead (64 workers at 200 ms with cv 1.5, 80 seeds; the demo profile).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from simulator import Phase, Phases, Stairs, StoppingConditions, simulate
from simulator.analytic import minute_throughputs
from simulator.stopping import MinuteSummary, stop_reason
from simulator.traffic import Traffic

NEW = StoppingConditions(stop_on_flat_invocations=True)
SATURATION = 0.98
LATE_MINUTES = 3
MAX_SHARE = 0.95


@dataclass(frozen=True)
class Case:
    """One load test of the grid."""

    workers: int
    mean_ms: float
    family: str
    cv: float
    delay: str          # "none", "think" or "overhead"
    delay_ratio: float  # think or overhead mean / E[S]
    kind: str           # "phases" or "stairs"
    per: int            # SpawnRate or users per one-minute step
    initial: int
    minutes: int
    seed: int

    @property
    def capacity_per_min(self) -> float:
        """c / E[S], per minute."""
        return self.workers * 60_000.0 / self.mean_ms

    @property
    def delay_s(self) -> float:
        """Mean time a user spends away from the instance between requests."""
        return self.delay_ratio * self.mean_ms / 1000.0

    def traffic(self) -> Traffic:
        """PHASES chained in phases of at most an hour, or STAIRS of one-minute steps."""
        if self.kind == "stairs":
            return Stairs(60.0 * self.minutes, self.minutes, self.per)
        phases, users, left = [], self.initial, 60.0 * self.minutes
        while left > 0:
            phase = Phase(users, self.per, min(3600.0, left))
            phases.append(phase)
            users, left = phase.final_users, left - phase.duration_s
        return Phases(tuple(phases))

    def expected(self) -> np.ndarray:
        """Expected Invocations of each minute (exact for exponential service)."""
        return minute_throughputs(self.traffic(), self.workers, self.mean_ms / 1000.0, self.delay_s,
                                  self.minutes) * 60.0


def saturation(expected: np.ndarray, capacity: float, share: float = SATURATION) -> int:
    """The first minute whose expected Invocations reach ``share`` of capacity."""
    return int(np.argmax(expected >= share * capacity))


def _span(workers: int, ratio: float, kind: str, per: int, initial: int) -> int:
    """Minutes the pattern runs: to within 0.5 % of capacity, and 8 minutes past saturation."""
    unit = Case(workers, 100.0, "exponential", 1.0, "think", ratio, kind, per, initial, 1, 0)
    minutes = 8
    while True:
        case = Case(**{**asdict(unit), "minutes": minutes})
        expected = case.expected()
        cap = case.capacity_per_min
        if expected[-1] >= 0.995 * cap and len(expected) - saturation(expected, cap) > 8:
            return minutes
        minutes = int(minutes * 1.5) + 1


def draw_case(rng: np.random.Generator, budget: float) -> Case:
    """A case of at most ``budget`` requests: the parameters are drawn first, then the mean
    service time is raised (and PHASES start higher) as far as the budget needs."""
    kind = str(rng.choice(["phases", "stairs"]))
    per = int(rng.integers(1, 4))
    workers = round(math.exp(rng.uniform(0.0, math.log(64.0))))
    family = str(rng.choice(["exponential", "lognormal", "gamma"]))
    cv = 1.0 if family == "exponential" else float(rng.uniform(0.2, 2.0))
    delay = str(rng.choice(["none", "think", "overhead"], p=[0.3, 0.35, 0.35]))
    ratio = 0.0 if delay == "none" else float(rng.uniform(0.05, 6.0))
    initial = per if kind == "stairs" else 1
    minutes = _span(workers, ratio, kind, per, initial)
    unit = Case(workers, 1.0, family, cv, delay, ratio, kind, per, initial, minutes, 0)
    requests_at_1ms = float(unit.expected().sum())
    mean_ms = math.exp(rng.uniform(math.log(2.0), math.log(200.0)))
    while kind == "phases" and requests_at_1ms / 200.0 > budget and initial < workers * (1 + ratio):
        initial = max(initial + 1, int(initial * 1.3))  # start nearer the knee (fewer minutes)
        minutes = _span(workers, ratio, kind, per, initial)
        unit = Case(workers, 1.0, family, cv, delay, ratio, kind, per, initial, minutes, 0)
        requests_at_1ms = float(unit.expected().sum())
    mean_ms = min(200.0, max(mean_ms, requests_at_1ms / budget))
    return Case(workers, mean_ms, family, cv, delay, ratio, kind, per, initial, minutes, int(rng.integers(0, 2**31)))


def profile_of(case: Case) -> dict:
    """A one-instance profile document for the case (its overhead as the profile's)."""
    service: dict = {"family": case.family, "mean_ms": case.mean_ms}
    if case.family != "exponential":
        service["cv"] = case.cv
    document: dict = {"model": "grid", "instances": {"ml.test.large": {"workers": case.workers,
                                                                        "service_time": service}}}
    if case.delay == "overhead":
        document["overhead_ms"] = {"family": "lognormal", "mean_ms": case.delay_ratio * case.mean_ms, "cv": 0.5}
    return document


def history(case: Case) -> np.ndarray:
    """The engine's minutes (Invocations, users at the start, users at the end), run out."""
    think = case.delay_s if case.delay == "think" else 0.0
    result = simulate(profile_of(case), "ml.test.large", traffic=case.traffic(), stopping=StoppingConditions(),
                      seed=case.seed, think_time_s=think, keep_requests=False, max_requests_per_s=1e8)
    return np.array([(m.invocations, m.users_start, m.users_end) for m in result.minutes], dtype=np.int64)


def summaries(rows: np.ndarray) -> list[MinuteSummary]:
    """The stopping rules' view of a stored history."""
    return [MinuteSummary(j, int(i), math.nan, int(a), int(b)) for j, (i, a, b) in enumerate(rows)]


def new_stop(history: Sequence[MinuteSummary]) -> bool:
    """The rule irsim has now: ``simulator.stopping.stop_reason`` with FlatInvocations Stop."""
    return stop_reason(history, NEW) is not None


def old_stop(history: Sequence[MinuteSummary]) -> bool:
    """The rule before issue 23 (w = 2, g = 0.5, z = 4.5, Poisson noise), as main had it."""
    window = 2
    if len(history) <= window:
        return False
    split = len(history) - window
    recent, reference = history[split:], history[:split]
    recent_users = float(sum(m.users_start for m in recent))
    added = recent_users - window * history[split - 1].users_start
    reference_users = sum(m.users_start + m.users_end for m in reference) / 2.0
    reference_invocations = sum(m.invocations for m in reference)
    if added <= 0 or reference_users <= 0 or reference_invocations <= 0:
        return False
    rate = reference_invocations / reference_users
    recent_invocations = sum(m.invocations for m in recent)
    variance = recent_invocations + rate * recent_users * recent_users / reference_users
    shortfall = rate * recent_users - recent_invocations
    return shortfall > max(0.5 * rate * added, 4.5 * math.sqrt(variance))


def first_stop(rule: Callable[[Sequence[MinuteSummary]], bool], minutes: list[MinuteSummary]) -> int | None:
    """The minute at which ``rule`` ends the test, or None if it never does."""
    for m in range(len(minutes)):
        if rule(minutes[:m + 1]):
            return m
    return None


@dataclass(frozen=True)
class Outcome:
    """One case under one rule."""

    best_share: float       # best minute up to the stop / capacity
    late: int | None        # stop minute - saturation minute (None: never stopped)

    @property
    def reached(self) -> bool:
        return self.best_share >= MAX_SHARE

    @property
    def in_time(self) -> bool:
        return self.late is not None and self.late <= LATE_MINUTES


def judge(case: Case, rows: np.ndarray, rule: Callable[[Sequence[MinuteSummary]], bool]) -> Outcome:
    """A and B for one case under one rule."""
    minutes = summaries(rows)
    stop = first_stop(rule, minutes)
    end = len(minutes) - 1 if stop is None else stop
    best = max(m.invocations for m in minutes[:end + 1])
    sat = saturation(case.expected(), case.capacity_per_min)
    return Outcome(best / case.capacity_per_min, None if stop is None else stop - sat)


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(flags: list[bool]) -> str:
    """k/n = p [Wilson 95 %]."""
    k, n = sum(flags), len(flags)
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / max(n, 1):.3f} [{lo:.3f}, {hi:.3f}]"


def groups(case: Case) -> list[str]:
    """The rows of the table a case counts in."""
    pattern = f"PHASES SpawnRate {case.per}" if case.kind == "phases" else f"STAIRS {case.per} a step"
    delay = "Z = 0" if case.delay == "none" else ("Z <= 2 E[S]" if case.delay_ratio <= 2 else "Z in (2, 6] E[S]")
    noise = "cv > 1" if case.cv > 1 else "cv <= 1"
    return ["all", pattern, delay, noise, f"c {'<= 8' if case.workers <= 8 else '> 8'}"]


def report(cases: list[Case], rows: list[np.ndarray]) -> None:
    """Both rules' A and B rates, by group, and the lateness and shortfall tails."""
    rules = {"before": old_stop, "after": new_stop}
    outcomes = {name: [judge(c, r, rule) for c, r in zip(cases, rows, strict=True)] for name, rule in rules.items()}
    names = ["all", *sorted({g for c in cases for g in groups(c)} - {"all"})]
    print(f"{'group':<24} {'rule':<7} {'A: best >= 0.95 c/E[S]':<36} {'B: stop <= sat + 3 min':<36}")
    for name in names:
        for rule in rules:
            chosen = [o for c, o in zip(cases, outcomes[rule], strict=True) if name in groups(c)]
            reached, in_time = rate([o.reached for o in chosen]), rate([o.in_time for o in chosen])
            print(f"{name:<24} {rule:<7} {reached:<36} {in_time:<36}")
    for rule in rules:
        lates = [o.late for o in outcomes[rule]]
        never = sum(x is None for x in lates)
        counts = np.bincount([min(max(x, -5), 10) + 5 for x in lates if x is not None], minlength=16)
        spread = ", ".join(f"{k - 5}: {n}" for k, n in enumerate(counts) if n)
        shares = np.array([o.best_share for o in outcomes[rule]])
        print(f"{rule}: minutes from saturation to stop (clipped to -5..10) {spread}; never stopped {never}; "
              f"best/capacity min {shares.min():.3f}, 1st pct {np.percentile(shares, 1):.3f}")
    for rule in rules:
        bad = [(c, o) for c, o in zip(cases, outcomes[rule], strict=True) if not (o.reached and o.in_time)]
        print(f"{rule}: {len(bad)} failing cases (first 12):")
        for c, o in bad[:12]:
            print(f"  c={c.workers} {c.mean_ms:.1f} ms {c.family} cv {c.cv:.2f} {c.delay} {c.delay_ratio:.2f} "
                  f"{c.kind} {c.per} from {c.initial}: best {o.best_share:.3f}, late {o.late}")


def replayed(profile: dict | str, instance: str, traffic: Traffic, seed: int, capacity: float) -> dict[str, float]:
    """One run with FlatInvocations Continue; both rules' best minute up to their stop / capacity."""
    result = simulate(profile, instance, traffic=traffic, stopping=StoppingConditions(), seed=seed,
                      keep_requests=False)
    minutes = summaries(np.array([(m.invocations, m.users_start, m.users_end) for m in result.minutes]))
    out = {}
    for name, rule in (("before", old_stop), ("after", new_stop)):
        stop = first_stop(rule, minutes)
        end = len(minutes) - 1 if stop is None else stop
        out[name] = max(m.invocations for m in minutes[:end + 1]) / capacity
        out[f"{name} stop"] = float("nan") if stop is None else float(stop)
    return out


def named() -> None:
    """Issue 23's named cases: 64 workers at 200 ms cv 1.5 (80 seeds) and the demo profile."""
    profile = {"model": "t", "instances": {"ml.test.large": {"workers": 64, "service_time": {
        "family": "lognormal", "mean_ms": 200.0, "cv": 1.5}}}}
    runs = [replayed(profile, "ml.test.large", Phases((Phase(1, 1, 4500.0),)), seed, 19_200.0) for seed in range(80)]
    for rule in ("before", "after"):
        best = np.array([r[rule] for r in runs])
        late = Counter(int(r[f"{rule} stop"]) - 62 for r in runs if not math.isnan(r[f"{rule} stop"]))
        print(f"64 workers, 200 ms, cv 1.5, SpawnRate 1, {rule}: {int((best < MAX_SHARE).sum())}/80 below 0.95, "
              f"lowest {best.min():.3f}; minutes after the 98 % minute (63 users): {dict(sorted(late.items()))}")
    for instance, workers in (("ml.c5.large", 2), ("ml.c5.xlarge", 4), ("ml.c5.2xlarge", 8)):
        for spawn in (1, 3):
            minutes = int(workers * 26 / 4 * 1.6 / spawn) + 10
            runs = [replayed("demo", instance, Phases((Phase(1, spawn, 60.0 * minutes),)), seed,
                             workers * 15_000.0) for seed in range(3)]
            print(f"demo {instance} SpawnRate {spawn}: before {[round(r['before'], 3) for r in runs]}, "
                  f"after {[round(r['after'], 3) for r in runs]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--budget", type=float, default=3e6, help="requests a case may cost, about")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="store (or reuse) the engine's histories here")
    parser.add_argument("--named", action="store_true", help="issue 23's named cases instead of the grid")
    args = parser.parse_args(argv)
    if args.named:
        named()
        return 0
    rng = np.random.default_rng(args.seed)
    cases = [draw_case(rng, args.budget) for _ in range(args.cases)]
    started = time.perf_counter()
    if args.cache is not None and args.cache.exists():
        stored = np.load(args.cache, allow_pickle=False)
        rows = [stored[f"h{i}"] for i in range(args.cases)]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.processes, mp_context=context) as pool:
            rows = list(pool.map(history, cases, chunksize=4))
        if args.cache is not None:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(args.cache, **{f"h{i}": r for i, r in enumerate(rows)})
    print(f"# {args.cases} cases, budget {args.budget:,.0f} requests, seed {args.seed}; "
          f"{sum(int(r[:, 0].sum()) for r in rows):,} requests simulated in {time.perf_counter() - started:,.0f} s; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    report(cases, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
