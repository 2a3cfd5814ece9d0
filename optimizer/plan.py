"""The cheapest endpoint that serves a target rate within a latency percentile, proven by
simulating it: per-type smallest counts (capacity), the integer program (ilp), a
verification loop that cuts any allocation whose own simulation misses the SLO, and the
ranked alternatives (ranking)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

import numpy as np

from optimizer.capacity import (
    MAX_DURATION_S,
    MIN_DURATION_S,
    MIN_REQUESTS,
    CountDecision,
    Estimate,
    estimate,
    seed_for,
    service_quantile_ms,
    simulate_instance,
    smallest_count,
    stability_count,
)
from optimizer.ilp import Constraints, Option, closest_misses, solve
from optimizer.ranking import DEFAULT_IMPORTANCE, Alternative, pareto_front, rank
from simulator import ConstantUsers, Profile, simulate
from simulator.errors import InputError

MAX_VERIFICATIONS = 20


@dataclass(frozen=True)
class Candidate:
    instance_type: str
    price_per_hour: float


@dataclass(frozen=True)
class Target:
    """What the endpoint must do: a rate (open traffic) or N users (closed), within an SLO."""

    rate_per_s: float
    percentile: float  # 95 or 99
    slo_ms: float
    routing: str = "random"
    closed_users: int | None = None
    replications: int = 3


@dataclass(frozen=True)
class Verified:
    """An allocation and what simulating the whole endpoint at the target showed."""

    counts: Mapping[str, int]
    cost_per_hour: float
    estimate: Estimate
    capacity_per_s: float


@dataclass(frozen=True)
class Plan:
    chosen: Verified | None
    alternatives: tuple[Verified, ...]
    pareto: tuple[Verified, ...]
    decisions: tuple[CountDecision, ...]
    infeasible: tuple[tuple[str, str], ...]
    pruned: tuple[tuple[str, str], ...]
    explanation: tuple[str, ...]
    simulations: int
    naive_simulations: int
    verifications: int
    failed_verifications: tuple[Mapping[str, int], ...] = field(default=())


def _duration(rate_per_s: float) -> float:
    return min(MAX_DURATION_S, max(MIN_DURATION_S, MIN_REQUESTS / rate_per_s))


def simulate_endpoint(profile: Profile, counts: Mapping[str, int], target: Target, seed: int) -> Estimate:
    """The whole endpoint at the target: each production variant gets its share of the
    Poisson stream (weights proportional to capacity), its instances routed by the policy;
    the percentile is taken over every request of every variant, per replication."""
    values, utilizations, throughputs = [], [], []
    capacity = {t: counts[t] * profile.instance(t).workers / (profile.instance(t).service_time.mean_ms / 1000)
                for t in counts}
    total_capacity = sum(capacity.values())
    for replication in range(target.replications):
        latencies, served = [], 0.0
        for instance_type, count in counts.items():
            share = capacity[instance_type] / total_capacity
            run_seed = seed_for("verify", instance_type, count, replication, seed)
            if target.closed_users is not None:
                users = max(1, round(target.closed_users * share))
                duration = _duration(target.rate_per_s)
                result = simulate(profile, instance_type, instance_count=count, routing=target.routing,
                                  traffic=ConstantUsers(users, duration), seed=run_seed)
            else:
                rate = target.rate_per_s * share
                duration = _duration(rate)
                result = simulate(profile, instance_type, instance_count=count, routing=target.routing,
                                  arrival_rate_per_s=rate, duration_s=duration, seed=run_seed)
            latencies.append(result.latency_ms)
            served += result.throughput_per_s
            entry = profile.instance(instance_type)
            utilizations.append(result.service_ms.sum() / 1000 / duration / (entry.workers * count))
        values.append(float(np.percentile(np.concatenate(latencies), target.percentile)))
        throughputs.append(served)
    result = estimate(values, utilizations)
    if target.closed_users is not None:  # N users must also reach the target rate
        return replace(result, throughput_per_s=float(np.mean(throughputs)), required_per_s=target.rate_per_s)
    return result


def _evaluator(profile: Profile, instance_type: str, target: Target, seed: int) -> Callable[[int], Estimate]:
    entry = profile.instance(instance_type)
    if target.routing == "random" and target.closed_users is None:
        # Random routing splits a Poisson stream into independent Poisson streams: one
        # instance at rate / count stands for the whole endpoint.
        return lambda count: simulate_instance(entry, profile.overhead, target.rate_per_s / count,
                                               target.percentile, target.replications, seed)
    return lambda count: simulate_endpoint(profile, {instance_type: count}, target, seed)


def plan(profile: Profile, candidates: Sequence[Candidate], target: Target, constraints: Constraints = Constraints(),
         seed: int = 0, importance: Mapping[str, str] = DEFAULT_IMPORTANCE) -> Plan:
    """Decide counts per type, solve, verify, rank."""
    if not candidates:
        raise InputError("candidates", "no instance type to choose from")
    prices = {c.instance_type: c.price_per_hour for c in candidates}
    floor = max(1, constraints.min_instances)

    def lower_bound(candidate: Candidate) -> float:
        entry = profile.instance(candidate.instance_type)
        return candidate.price_per_hour * max(floor, stability_count(target.rate_per_s, entry))

    decisions: list[CountDecision] = []
    infeasible: list[tuple[str, str]] = []
    pruned: list[tuple[str, str]] = []
    best_cost = math.inf
    for candidate in sorted(candidates, key=lambda c: (lower_bound(c), c.instance_type)):
        alone = service_quantile_ms(profile.instance(candidate.instance_type).service_time, target.percentile / 100)
        if alone > target.slo_ms:  # analytic: no simulation needed, and never merely "pruned"
            infeasible.append((candidate.instance_type, f"its service time alone has P{target.percentile:g} "
                                                        f"{alone:.1f} ms > the {target.slo_ms:g} ms SLO"))
            continue
        if not constraints.allow_mixed and lower_bound(candidate) > best_cost:
            fewest = max(floor, stability_count(target.rate_per_s, profile.instance(candidate.instance_type)))
            pruned.append((candidate.instance_type, f"not simulated: even {fewest} instance(s), the fewest that keep "
                                                    f"it stable, cost more than the ${best_cost:.3f}/h found"))
            continue
        entry = profile.instance(candidate.instance_type)
        decision = smallest_count(entry, target.rate_per_s, target.percentile, target.slo_ms,
                                  _evaluator(profile, candidate.instance_type, target, seed))
        decisions.append(decision)
        if decision.count is None:
            infeasible.append((candidate.instance_type, decision.reason or "infeasible"))
            continue
        count = max(decision.count, floor)
        within_quota = constraints.max_instances is None or count <= constraints.max_instances
        if within_quota:
            best_cost = min(best_cost, count * candidate.price_per_hour)
    feasible = [d for d in decisions if d.count is not None]
    options = [Option(d.instance_type, target.rate_per_s / d.count, prices[d.instance_type]) for d in feasible]
    simulations = sum(d.simulations for d in decisions) * target.replications
    # Without the pre-screen: every type searched linearly up from its stability bound.
    naive = (sum(max(d.naive_simulations, 1) for d in decisions) + len(pruned)) * target.replications

    chosen, cuts, verifications = None, [], 0
    while verifications < MAX_VERIFICATIONS:
        solution = solve(options, target.rate_per_s, Constraints(
            constraints.allow_mixed, constraints.max_instances, constraints.min_instances,
            constraints.budget_per_hour, tuple(cuts)))
        if solution is None:
            break
        verifications += 1
        result = simulate_endpoint(profile, solution.counts, target, seed)
        if result.meets(target.slo_ms):
            chosen = Verified(solution.counts, solution.cost_per_hour, result, solution.capacity_per_s)
            break
        cuts.append(dict(solution.counts))
    explanation: tuple[str, ...] = ()
    if chosen is None:
        explanation = ("No allocation meets the target within the limits; closest misses:",
                       *closest_misses(options, target.rate_per_s, constraints)) if options else (
            "No instance type can meet the SLO at any count.",)

    decided = {d.instance_type: d for d in feasible}
    alternatives = []
    for option in options:
        count = max(decided[option.instance_type].count, floor)
        counts = {option.instance_type: count}
        if chosen is not None and dict(chosen.counts) == counts:
            alternatives.append(chosen)
            continue
        alternatives.append(Verified(counts, count * option.price_per_hour, decided[option.instance_type].estimate,
                                     option.rate_per_s * count))
    if chosen is not None and chosen not in alternatives:
        alternatives.append(chosen)
    by_key = {_key(v.counts): v for v in alternatives}
    ranked = rank([Alternative(_key(v.counts), v.cost_per_hour, v.estimate.percentile_ms, v.capacity_per_s)
                   for v in alternatives], importance)
    front = pareto_front([Alternative(_key(v.counts), v.cost_per_hour, v.estimate.percentile_ms, v.capacity_per_s)
                          for v in alternatives])
    ordered = [by_key[a.key] for a in ranked]
    if chosen is not None:  # the proven cheapest answer leads; the rest follow the ranking
        ordered = [chosen] + [v for v in ordered if v is not chosen]
    return Plan(chosen, tuple(ordered), tuple(by_key[a.key] for a in front), tuple(decisions), tuple(infeasible),
                tuple(pruned), explanation, simulations + verifications * target.replications, naive, verifications, tuple(cuts))


def _key(counts: Mapping[str, int]) -> str:
    return " + ".join(f"{n} x {t}" for t, n in sorted(counts.items()))
