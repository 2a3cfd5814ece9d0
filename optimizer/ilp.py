"""The integer program: which instance types, how many of each, at minimum CostPerHour.

Each option is a type with a verified per-instance rate r (the target rate over its smallest
passing count, so r x count >= target at that count) and an hourly price. Variables: integer
counts n_t and binary choices y_t. Minimise sum price_t n_t subject to sum r_t n_t >= target,
n_t <= bound_t y_t, at most one type unless mixed variants are allowed, the per-type quota,
the availability floor and the budget. Solved by CBC through PuLP.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulp


@dataclass(frozen=True)
class Option:
    """A type the ILP may use: its verified per-instance rate and hourly price."""

    instance_type: str
    rate_per_s: float
    price_per_hour: float


@dataclass(frozen=True)
class Constraints:
    """The user's limits on the endpoint."""

    allow_mixed: bool = False
    max_instances: int | None = None    # per type (a quota)
    min_instances: int = 1              # in total (an availability floor)
    budget_per_hour: float | None = None
    cuts: tuple[dict[str, int], ...] = field(default=())  # allocations that failed verification


@dataclass(frozen=True)
class Solution:
    """The integer program's allocation: instances per type, its hourly cost and the rate it serves."""

    counts: dict[str, int]
    cost_per_hour: float
    capacity_per_s: float


def solve(options: Sequence[Option], target_per_s: float, constraints: Constraints = Constraints()) -> Solution | None:
    """The cheapest allocation, or None when the constraints admit none."""
    if not options:
        return None
    problem = pulp.LpProblem("irsim_endpoint", pulp.LpMinimize)
    names = [f"t{i}" for i in range(len(options))]
    bounds = []
    for option in options:
        needed = math.ceil(target_per_s / option.rate_per_s) if option.rate_per_s > 0 else 0
        bound = max(needed, constraints.min_instances) + 1
        bounds.append(min(bound, constraints.max_instances) if constraints.max_instances else bound)
    count = {n: _variable(problem, f"n_{n}", 0, b, "Integer") for n, b in zip(names, bounds, strict=True)}
    chosen = {n: _variable(problem, f"y_{n}", 0, 1, "Binary") for n in names}
    problem += pulp.lpSum(o.price_per_hour * count[n] for n, o in zip(names, options, strict=True))
    problem += pulp.lpSum(o.rate_per_s * count[n] for n, o in zip(names, options, strict=True)) >= target_per_s
    for n, b in zip(names, bounds, strict=True):
        problem += count[n] <= b * chosen[n]
        problem += count[n] >= chosen[n]
    if not constraints.allow_mixed:
        problem += pulp.lpSum(chosen.values()) <= 1
    problem += pulp.lpSum(count.values()) >= constraints.min_instances
    # The budget is no row of the program: it would repeat the objective, and CBC's
    # preprocessing then returned worse allocations as "Optimal" (2 x $2 + ... where 3 x $0.5
    # fits; tests/test_optimizer's brute force found it). The cheapest allocation meets the
    # budget, or none does.
    index = {o.instance_type: n for n, o in zip(names, options, strict=True)}
    for k, cut in enumerate(constraints.cuts):
        # A failed allocation, and every one it dominates (no more of any of its types, no
        # other type), is cut: some type of it gets more instances, or another type is used.
        more = {}
        for instance_type, failed in cut.items():
            if instance_type in index:
                more[instance_type] = _variable(problem, f"z_{k}_{index[instance_type]}", 0, 1, "Binary")
                problem += count[index[instance_type]] >= (failed + 1) * more[instance_type]
        others = [chosen[n] for t, n in index.items() if t not in cut]
        problem += pulp.lpSum(more.values()) + pulp.lpSum(others) >= 1
    with warnings.catch_warnings():
        # PuLP 3.3 announces that its bundled CBC (PULP_CBC_CMD) goes away in 4.0; it is the
        # solver docs/architecture.md names, and pyproject pins what works.
        warnings.simplefilter("ignore", DeprecationWarning)
        status = problem.solve(pulp.PULP_CBC_CMD(msg=False))
    if pulp.LpStatus[status] != "Optimal":
        return None
    counts = {o.instance_type: round(count[n].value()) for n, o in zip(names, options, strict=True)
              if count[n].value() and round(count[n].value()) > 0}
    cost = sum(o.price_per_hour * counts.get(o.instance_type, 0) for o in options)
    if constraints.budget_per_hour is not None and cost > constraints.budget_per_hour + 1e-9:
        return None
    return Solution(counts=counts, cost_per_hour=cost,
                    capacity_per_s=sum(o.rate_per_s * counts.get(o.instance_type, 0) for o in options))


def _variable(problem: pulp.LpProblem, name: str, low: float, high: float, category: str) -> pulp.LpVariable:
    """A variable attached to ``problem`` (PuLP >= 3.3; older PuLP builds it standalone)."""
    if hasattr(problem, "add_variable"):
        return problem.add_variable(name, low, high, cat=category)
    return pulp.LpVariable(name, low, high, cat=category)


def closest_misses(options: Sequence[Option], target_per_s: float, constraints: Constraints) -> list[str]:
    """Why nothing fits: each type's cheapest single-type allocation and the limit it breaks,
    closest (cheapest) first."""
    misses = []
    for option in options:
        count = max(math.ceil(target_per_s / option.rate_per_s), constraints.min_instances)
        cost = count * option.price_per_hour
        broken = []
        if constraints.max_instances is not None and count > constraints.max_instances:
            broken.append(f"needs {count} instances, quota {constraints.max_instances}")
        if constraints.budget_per_hour is not None and cost > constraints.budget_per_hour + 1e-9:
            broken.append(f"costs ${cost:.3f}/h, budget ${constraints.budget_per_hour:.3f}/h")
        misses.append((cost, f"{option.instance_type}: {count} x ${option.price_per_hour:.3f}/h = ${cost:.3f}/h"
                             + (f" ({'; '.join(broken)})" if broken else "")))
    return [text for _, text in sorted(misses)]
