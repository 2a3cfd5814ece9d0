"""The cheapest target-tracking policy whose SLO-violating minutes stay within a budget.

The search, on the per-minute model (each policy replayed over the whole curve):

1. the peak count N: the smallest fixed count meeting the SLO at the busiest minute
   (``static_plan``), raised until that minute violates with probability at most PEAK_RISK
   (``headroom_count``); MaxCapacity starts at N;
2. for each MinCapacity in a spread over 1..N (1, 2, the trough's count and its
   neighbours, N/4, N/2, 3N/4, N) with the default cooldowns, the highest TargetValue whose
   violations fit the budget, by bisection between a twentieth of r* and r* (r*: the
   invocations per minute at which one instance's percentile reaches the SLO by the law,
   ``MinuteModel.sustainable_rate``, always below its capacity: no target asks more of an
   instance than it can serve within the SLO);
3. around the two cheapest: every pair of cooldowns in SCALE_IN_COOLDOWNS_S x
   SCALE_OUT_COOLDOWNS_S, MaxCapacity N + N/4, and MinCapacity +-1, each with its own
   bisection on the target.

A policy's violating minutes are the larger of the minutes the model predicts above the SLO
(backlog carried, ``autoscaling.backlog``) and the bound (expected + 2 errors) of the count a measurement would
give (``Judgement.bound``: minutes near the SLO count with the probability their sampling
noise gives). The cheapest policy within the budget wins; ties go to fewer violating minutes, then to the
narrower range (a flat curve gives MinCapacity = MaxCapacity). Violations are not always
monotone in the target (a lower target can scale out at a different minute), so bisection
finds a passing target near the boundary, not necessarily the highest: the result is a good
policy, not a proven optimum, and ``tried`` says how many policies the search replayed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from autoscaling.backlog import judge
from autoscaling.policy import ScalingPolicy
from autoscaling.timeline import Scenario, StaticPlan, Timeline, static_plan
from simulator import checks
from simulator.endpoint import MAX_INSTANCES

SCALE_IN_COOLDOWNS_S = (300, 600, 900)
SCALE_OUT_COOLDOWNS_S = (60, 300, 600)
BISECTION_STEPS = 11
TARGET_FLOOR = 1 / 20  # the lowest target tried, as a share of r*
PEAK_RISK = 0.01  # the busiest minute's violation probability MaxCapacity starts from


@dataclass(frozen=True)
class Recommendation:
    """The policy found, its Timeline, the static-peak comparison and what the search cost."""

    policy: ScalingPolicy
    timeline: Timeline
    static: StaticPlan
    tried: int
    budget_minutes: int
    search_s: float
    within_budget: bool  # False: no policy met the budget; the answer is the static peak count
    verified: Timeline | None = None  # the policy's Timeline measured by the engine (``verify``)

    @property
    def saving(self) -> float:
        """The share of the static-peak cost the policy saves."""
        return 1.0 - self.timeline.cost / self.static.timeline.cost if self.static.timeline.cost else 0.0


class _Search:
    """Policies replayed once each; the best within the budget so far."""

    def __init__(self, scenario: Scenario, budget: int):
        self.scenario = scenario
        self.budget = budget
        self.scores: dict[ScalingPolicy, tuple[float, float]] = {}
        self.best: ScalingPolicy | None = None

    def key(self, policy: ScalingPolicy) -> tuple[float, float, int, float]:
        cost, violating = self.scores[policy]
        return (round(cost, 9), violating, policy.max_capacity - policy.min_capacity, -policy.target_value)

    def passes(self, policy: ScalingPolicy) -> bool:
        if policy not in self.scores:
            self.scores[policy] = self.scenario.score(policy)
            if self.scores[policy][1] <= self.budget and (self.best is None or self.key(policy) < self.key(self.best)):
                self.best = policy
        return self.scores[policy][1] <= self.budget

    def target(self, base: ScalingPolicy, ceiling: float) -> ScalingPolicy | None:
        """The policy ``base`` with the highest passing target bisection finds in
        [TARGET_FLOOR x ceiling, ceiling] (None when even the floor fails)."""
        top = replace(base, target_value=_rounded(ceiling))
        if self.passes(top):
            return top
        low = TARGET_FLOOR * ceiling
        if not self.passes(replace(base, target_value=_rounded(low))):
            return None
        high = ceiling
        for _ in range(BISECTION_STEPS):
            middle = math.sqrt(low * high)
            if self.passes(replace(base, target_value=_rounded(middle))):
                low = middle
            else:
                high = middle
        return replace(base, target_value=_rounded(low))


def _rounded(target: float) -> float:
    """A target to three significant digits, rounded down (what a person would type)."""
    digits = 10 ** (math.floor(math.log10(target)) - 2)
    return max(digits, math.floor(target / digits) * digits)


def headroom_count(scenario: Scenario, peak: int) -> int:
    """The fewest instances, from ``peak`` up, on which the busiest minute violates with
    probability at most PEAK_RISK (``peak`` meets the SLO there by the law, which leaves that
    minute's measured percentile a coin toss): where MaxCapacity starts."""
    rate = np.array([scenario.curve.peak_per_minute])
    for count in range(peak, MAX_INSTANCES + 1):
        if judge(scenario.model, rate, np.array([count]), scenario.slo_ms, percentiles=False).probability[0] \
                <= PEAK_RISK:
            return count
    return MAX_INSTANCES


def _minimums(scenario: Scenario, peak: int, ceiling: float) -> list[int]:
    """The MinCapacity values the first stage tries."""
    trough = max(1, math.ceil(float(scenario.curve.per_minute.min()) / ceiling))
    spread = {1, 2, trough - 1, trough, trough + 1, peak // 4, peak // 2, 3 * peak // 4, peak}
    return sorted(m for m in spread if 1 <= m <= peak)


def recommend_policy(scenario: Scenario, *, violation_budget: float = 0.001, verify: bool = False,
                     seed: int = 0) -> Recommendation:
    """The cheapest policy found for ``scenario`` (``Scenario.of(curve, entry, ...)``) whose
    violating minutes are at most ``violation_budget`` of the curve's minutes (module
    docstring), with its Timeline and the static-peak comparison; ``verify`` also replays the
    answer on the discrete-event engine (seeded by ``seed``: as many requests as the curve
    holds, so minutes for a busy week)."""
    began = time.perf_counter()
    checks.number(violation_budget, "violation_budget", minimum=0, maximum=1, what="a share of minutes")
    curve = scenario.curve
    static = static_plan(scenario)
    peak = headroom_count(scenario, static.count)
    budget = math.floor(violation_budget * curve.minutes + 1e-9)
    search = _Search(scenario, budget)
    ceiling = scenario.model.sustainable_rate(scenario.slo_ms)
    found = [p for m in _minimums(scenario, peak, ceiling)
             if (p := search.target(ScalingPolicy(min_capacity=m, max_capacity=peak, target_value=1.0), ceiling))]
    found.sort(key=search.key)
    for policy in found[:2]:
        for scale_in in SCALE_IN_COOLDOWNS_S:
            for scale_out in SCALE_OUT_COOLDOWNS_S:
                search.target(replace(policy, scale_in_cooldown_s=scale_in, scale_out_cooldown_s=scale_out), ceiling)
    best = search.best
    if best is not None:
        wider = min(MAX_INSTANCES, peak + max(1, peak // 4))
        search.target(replace(best, max_capacity=wider), ceiling)
        for step in (-1, 1):
            if 1 <= best.min_capacity + step <= best.max_capacity:
                search.target(replace(best, min_capacity=best.min_capacity + step), ceiling)
        best = search.best
    within = best is not None
    chosen = best if best is not None else ScalingPolicy.static(peak)
    searched = time.perf_counter() - began
    verified = scenario.timeline(chosen, engine=True, seed=checks.seed(seed)) if verify else None
    return Recommendation(policy=chosen, timeline=scenario.timeline(chosen), static=static, tried=len(search.scores),
                          budget_minutes=budget, search_s=searched, within_budget=within, verified=verified)
