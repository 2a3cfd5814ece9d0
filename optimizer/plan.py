"""The cheapest endpoint that serves a target rate within a latency percentile, proven by
simulating it: per-type smallest counts (capacity), the integer program (ilp), a
verification loop that cuts any allocation whose own simulation misses the SLO, and the
ranked alternatives (ranking)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from optimizer.capacity import CountDecision, Estimate, service_quantile_ms, smallest_count, stability_count
from optimizer.evaluate import (
    Target,
    count_evaluator,
    sampling_for,
    seed_for_variant,
    simulate_endpoint,
    workers_note,
)
from optimizer.events import CANDIDATES, INFEASIBLE, PRUNED, SIZED, SIZING, VERIFICATION, Observer, PlanEvent, ignore
from optimizer.ilp import Constraints, Option, closest_misses, solve
from optimizer.ranking import DEFAULT_IMPORTANCE, Alternative, pareto_front, rank
from optimizer.verdict import TOO_CLOSE
from simulator import Profile
from simulator.errors import InputError

MAX_VERIFICATIONS = 20

__all__ = ["Candidate", "CountSearch", "Plan", "Target", "Verified", "count_evaluator", "plan", "sampling_for",
           "search_counts", "seed_for_variant", "simulate_endpoint", "verdict_notes", "verify"]


@dataclass(frozen=True)
class Candidate:
    """An instance type the optimizer may choose, at its hourly price."""

    instance_type: str
    price_per_hour: float


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
    the search cost in simulation runs (replications). ``explanation`` says why nothing fits
    and, in any case, which counts below an answer were too close to call and what budget
    would settle them."""

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
    replications: int = 0  # simulation runs the verifications took


def _fewest(profile: Profile, instance_type: str, target: Target, floor: int) -> int:
    """The fewest instances of a type the search could end at: its stability bound or the floor."""
    return max(floor, stability_count(target.rate_per_s, profile.instance(instance_type)))


def search_counts(profile: Profile, candidates: Sequence[Candidate], target: Target, constraints: Constraints,
                  seed: int, observe: Observer = ignore) -> CountSearch:
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
    observe(PlanEvent(CANDIDATES, total=len(candidates)))
    for candidate in sorted(candidates, key=lambda c: (lower_bound(c), c.instance_type)):
        name = candidate.instance_type
        entry = profile.instance(name)
        alone = service_quantile_ms(entry.service_time, target.percentile / 100)
        if alone > target.slo_ms:  # analytic: no simulation needed, and never merely "pruned"
            infeasible.append((name, f"its service time alone has P{target.percentile:g} "
                                     f"{alone:.1f} ms > the {target.slo_ms:g} ms SLO"))
            observe(PlanEvent(INFEASIBLE, f"{name}: {infeasible[-1][1]}", name))
            continue
        if not constraints.allow_mixed and lower_bound(candidate) > best_cost:
            fewest = _fewest(profile, name, target, floor)
            pruned.append((name, f"not simulated: even {fewest} instance(s), the fewest that keep "
                                 f"it stable, cost more than the ${best_cost:.3f}/h found"))
            observe(PlanEvent(PRUNED, f"{name}: {pruned[-1][1]}", name))
            continue
        observe(PlanEvent(SIZING, instance_type=name))
        decision = smallest_count(entry, target.rate_per_s, target.percentile, target.slo_ms,
                                  count_evaluator(profile, name, target, seed))
        decisions.append(decision)
        if decision.count is None:
            infeasible.append((name, decision.reason or "infeasible"))
            observe(PlanEvent(INFEASIBLE, f"{name}: {infeasible[-1][1]}", name))
            continue
        observe(PlanEvent(SIZED, f"{name}: {decision.count} instance(s), P{target.percentile:g} "
                                 f"{decision.estimate.percentile_ms if decision.estimate else math.nan:.1f} ms", name))
        count = max(decision.count, floor)
        if constraints.max_instances is None or count <= constraints.max_instances:
            best_cost = min(best_cost, count * candidate.price_per_hour)
    sized = tuple(Sized(d.instance_type, d.count, d.estimate) for d in decisions
                  if d.count is not None and d.estimate is not None)
    return CountSearch(decisions=tuple(decisions), sized=sized, infeasible=tuple(infeasible), pruned=tuple(pruned))


def verify(profile: Profile, options: Sequence[Option], target: Target, constraints: Constraints,
           seed: int, observe: Observer = ignore) -> Verification:
    """Solve, simulate the whole endpoint the solution describes, and cut it if it misses the
    SLO; at most MAX_VERIFICATIONS rounds."""
    cuts: list[dict[str, int]] = []
    verifications = replications = 0
    while verifications < MAX_VERIFICATIONS:
        solution = solve(options, target.rate_per_s, replace(constraints, cuts=tuple(cuts)))
        if solution is None:
            break
        verifications += 1
        result = simulate_endpoint(profile, solution.counts, target, seed)
        replications += result.replications
        observe(PlanEvent(VERIFICATION, f"{_key(solution.counts)}: P{target.percentile:g} "
                                        f"{result.percentile_ms:.1f} ms, {result.verdict(target.slo_ms)}",
                          number=verifications))
        if result.meets(target.slo_ms):
            chosen = Verified(counts=solution.counts, cost_per_hour=solution.cost_per_hour, estimate=result,
                              capacity_per_s=solution.capacity_per_s)
            return Verification(chosen=chosen, cuts=tuple(cuts), verifications=verifications,
                                replications=replications)
        cuts.append(dict(solution.counts))
    return Verification(chosen=None, cuts=tuple(cuts), verifications=verifications, replications=replications)


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


def verdict_notes(chosen: Verified | None, decisions: Sequence[CountDecision], target: Target) -> tuple[str, ...]:
    """One line for each type whose next count down is too close to call: the answer holds
    the count that surely meets (its verification too: only a ``meets`` is accepted), and
    the line says what budget would settle the count below. ``chosen`` leads when it is one."""
    notes = []
    slo, percentile = target.slo_ms, target.percentile
    leading = set(chosen.counts) if chosen is not None else set()
    for decision in sorted(decisions, key=lambda d: d.instance_type not in leading):
        below = decision.next_down
        if decision.count is None or below is None or below.verdict(slo) != TOO_CLOSE:
            continue
        notes.append(f"{decision.count} x {decision.instance_type} surely meets the SLO; {decision.count - 1} is "
                     f"{below.explain(slo, percentile)}.")
    return tuple(notes)


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
         importance: Mapping[str, str] = DEFAULT_IMPORTANCE, observe: Observer = ignore) -> Plan:
    """Decide counts per type, solve, verify, rank (``observe`` hears each step)."""
    if not candidates:
        raise InputError("candidates", "no instance type to choose from")
    prices = {c.instance_type: c.price_per_hour for c in candidates}
    floor = max(1, constraints.min_instances)
    search = search_counts(profile, candidates, target, constraints, seed, observe)
    options = [Option(s.instance_type, target.rate_per_s / s.count, prices[s.instance_type]) for s in search.sized]
    simulations = sum(d.simulations for d in search.decisions)
    # Without the pre-screen: every type searched linearly up from its stability bound.
    naive = sum(max(d.naive_simulations, 1) for d in search.decisions) + len(search.pruned) * target.replications
    outcome = verify(profile, options, target, constraints, seed, observe)
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
                explanation=(_explanation(chosen, options, target, constraints)
                             + verdict_notes(chosen, search.decisions, target)
                             + tuple(note for d in search.decisions
                                     if (note := workers_note(profile.instance(d.instance_type))))),
                simulations=simulations + outcome.replications,
                naive_simulations=naive, verifications=outcome.verifications, failed_verifications=outcome.cuts)


def _key(counts: Mapping[str, int]) -> str:
    return " + ".join(f"{n} x {t}" for t, n in sorted(counts.items()))
