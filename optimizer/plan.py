"""The cheapest endpoint that serves a target rate within a latency percentile, proven by
simulating it: per-type smallest counts (capacity), the integer program (ilp), a
verification loop that cuts any allocation whose own simulation misses the SLO, and the
ranked alternatives (ranking)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

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
    """An instance type the optimizer may choose, at its hourly price."""

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
    """The optimizer's answer: the verified cheapest endpoint (None when nothing fits), the
    ranked alternatives and their Pareto front, what happened to every candidate, and what
    the search cost in simulations."""

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
    measured = estimate(values, utilizations)
    if target.closed_users is not None:  # N users must also reach the target rate
        return replace(measured, throughput_per_s=float(np.mean(throughputs)), required_per_s=target.rate_per_s)
    return measured


def count_evaluator(profile: Profile, instance_type: str, target: Target, seed: int) -> Callable[[int], Estimate]:
    """``count -> Estimate`` for one type at the target: the simulations a count search runs."""
    entry = profile.instance(instance_type)
    if target.routing == "random" and target.closed_users is None:
        # Random routing splits a Poisson stream into independent Poisson streams: one
        # instance at rate / count stands for the whole endpoint.
        return lambda count: simulate_instance(entry, profile.overhead, target.rate_per_s / count,
                                               target.percentile, target.replications, seed)
    return lambda count: simulate_endpoint(profile, {instance_type: count}, target, seed)


NO_CONSTRAINTS = Constraints()


@dataclass(frozen=True)
class Sized:
    """A type the search sized: its smallest passing count (before the floor) and what that
    count's simulation showed."""

    instance_type: str
    count: int
    estimate: Estimate


@dataclass(frozen=True)
class CountSearch:
    """Every candidate's fate before the integer program: sized, infeasible or pruned."""

    decisions: tuple[CountDecision, ...]
    sized: tuple[Sized, ...]
    infeasible: tuple[tuple[str, str], ...]
    pruned: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Verification:
    """The verification loop's outcome: the first allocation whose own simulation met the
    SLO (if any), the allocations cut on the way, and how many endpoints it simulated."""

    chosen: Verified | None
    cuts: tuple[Mapping[str, int], ...]
    verifications: int


def _fewest(profile: Profile, instance_type: str, target: Target, floor: int) -> int:
    """The fewest instances of a type the search could end at: its stability bound or the floor."""
    return max(floor, stability_count(target.rate_per_s, profile.instance(instance_type)))


def search_counts(profile: Profile, candidates: Sequence[Candidate], target: Target, constraints: Constraints,
                  seed: int) -> CountSearch:
    """Each candidate's smallest passing count, cheapest lower bound first. A type whose service
    time alone breaks the SLO is infeasible without simulating; one whose fewest instances
    already cost more than the best found is pruned (single-type endpoints only)."""
    floor = max(1, constraints.min_instances)

    def lower_bound(candidate: Candidate) -> float:
        return candidate.price_per_hour * _fewest(profile, candidate.instance_type, target, floor)

    decisions: list[CountDecision] = []
    infeasible: list[tuple[str, str]] = []
    pruned: list[tuple[str, str]] = []
    best_cost = math.inf
    for candidate in sorted(candidates, key=lambda c: (lower_bound(c), c.instance_type)):
        entry = profile.instance(candidate.instance_type)
        alone = service_quantile_ms(entry.service_time, target.percentile / 100)
        if alone > target.slo_ms:  # analytic: no simulation needed, and never merely "pruned"
            infeasible.append((candidate.instance_type, f"its service time alone has P{target.percentile:g} "
                                                        f"{alone:.1f} ms > the {target.slo_ms:g} ms SLO"))
            continue
        if not constraints.allow_mixed and lower_bound(candidate) > best_cost:
            fewest = _fewest(profile, candidate.instance_type, target, floor)
            pruned.append((candidate.instance_type, f"not simulated: even {fewest} instance(s), the fewest that keep "
                                                    f"it stable, cost more than the ${best_cost:.3f}/h found"))
            continue
        decision = smallest_count(entry, target.rate_per_s, target.percentile, target.slo_ms,
                                  count_evaluator(profile, candidate.instance_type, target, seed))
        decisions.append(decision)
        if decision.count is None:
            infeasible.append((candidate.instance_type, decision.reason or "infeasible"))
            continue
        count = max(decision.count, floor)
        if constraints.max_instances is None or count <= constraints.max_instances:
            best_cost = min(best_cost, count * candidate.price_per_hour)
    sized = tuple(Sized(d.instance_type, d.count, d.estimate) for d in decisions
                  if d.count is not None and d.estimate is not None)
    return CountSearch(decisions=tuple(decisions), sized=sized, infeasible=tuple(infeasible), pruned=tuple(pruned))


def verify(profile: Profile, options: Sequence[Option], target: Target, constraints: Constraints,
           seed: int) -> Verification:
    """Solve, simulate the whole endpoint the solution describes, and cut it if it misses the
    SLO; at most MAX_VERIFICATIONS rounds."""
    cuts: list[dict[str, int]] = []
    verifications = 0
    while verifications < MAX_VERIFICATIONS:
        solution = solve(options, target.rate_per_s, replace(constraints, cuts=tuple(cuts)))
        if solution is None:
            break
        verifications += 1
        result = simulate_endpoint(profile, solution.counts, target, seed)
        if result.meets(target.slo_ms):
            chosen = Verified(counts=solution.counts, cost_per_hour=solution.cost_per_hour, estimate=result,
                              capacity_per_s=solution.capacity_per_s)
            return Verification(chosen=chosen, cuts=tuple(cuts), verifications=verifications)
        cuts.append(dict(solution.counts))
    return Verification(chosen=None, cuts=tuple(cuts), verifications=verifications)


def _single_type_alternatives(sized: Sequence[Sized], options: Sequence[Option], chosen: Verified | None,
                              floor: int) -> list[Verified]:
    """Each sized type alone at its count (the verified answer where it is that allocation),
    plus the answer itself when it mixes types."""
    decided = {s.instance_type: s for s in sized}
    alternatives = []
    for option in options:
        count = max(decided[option.instance_type].count, floor)
        counts = {option.instance_type: count}
        if chosen is not None and dict(chosen.counts) == counts:
            alternatives.append(chosen)
            continue
        alternatives.append(Verified(counts=counts, cost_per_hour=count * option.price_per_hour,
                                     estimate=decided[option.instance_type].estimate,
                                     capacity_per_s=option.rate_per_s * count))
    if chosen is not None and chosen not in alternatives:
        alternatives.append(chosen)
    return alternatives


def _explanation(chosen: Verified | None, options: Sequence[Option], target: Target,
                 constraints: Constraints) -> tuple[str, ...]:
    """Why there is no answer (empty when there is one)."""
    if chosen is not None:
        return ()
    if not options:
        return ("No instance type can meet the SLO at any count.",)
    return ("No allocation meets the target within the limits; closest misses:",
            *closest_misses(options, target.rate_per_s, constraints))


def plan(profile: Profile, candidates: Sequence[Candidate], target: Target,
         constraints: Constraints = NO_CONSTRAINTS, seed: int = 0,
         importance: Mapping[str, str] = DEFAULT_IMPORTANCE) -> Plan:
    """Decide counts per type, solve, verify, rank."""
    if not candidates:
        raise InputError("candidates", "no instance type to choose from")
    prices = {c.instance_type: c.price_per_hour for c in candidates}
    floor = max(1, constraints.min_instances)
    search = search_counts(profile, candidates, target, constraints, seed)
    options = [Option(s.instance_type, target.rate_per_s / s.count, prices[s.instance_type]) for s in search.sized]
    simulations = sum(d.simulations for d in search.decisions) * target.replications
    # Without the pre-screen: every type searched linearly up from its stability bound.
    naive = (sum(max(d.naive_simulations, 1) for d in search.decisions) + len(search.pruned)) * target.replications
    outcome = verify(profile, options, target, constraints, seed)
    chosen = outcome.chosen
    alternatives = _single_type_alternatives(search.sized, options, chosen, floor)
    by_key = {_key(v.counts): v for v in alternatives}
    summaries = [Alternative(_key(v.counts), v.cost_per_hour, v.estimate.percentile_ms, v.capacity_per_s)
                 for v in alternatives]
    ordered = [by_key[a.key] for a in rank(summaries, importance)]
    if chosen is not None:  # the proven cheapest answer leads; the rest follow the ranking
        ordered = [chosen] + [v for v in ordered if v is not chosen]
    return Plan(chosen=chosen, alternatives=tuple(ordered),
                pareto=tuple(by_key[a.key] for a in pareto_front(summaries)),
                decisions=search.decisions, infeasible=search.infeasible, pruned=search.pruned,
                explanation=_explanation(chosen, options, target, constraints),
                simulations=simulations + outcome.verifications * target.replications,
                naive_simulations=naive, verifications=outcome.verifications, failed_verifications=outcome.cuts)


def _key(counts: Mapping[str, int]) -> str:
    return " + ".join(f"{n} x {t}" for t, n in sorted(counts.items()))
