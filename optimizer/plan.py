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
    CountDecision,
    Estimate,
    Run,
    Sampling,
    replication_seed,
    sequential_estimate,
    service_quantile_ms,
    simulate_instance,
    smallest_count,
    stability_count,
    unstable_estimate,
)
from optimizer.events import CANDIDATES, INFEASIBLE, PRUNED, SIZED, SIZING, VERIFICATION, Observer, PlanEvent, ignore
from optimizer.ilp import Constraints, Option, closest_misses, solve
from optimizer.ranking import DEFAULT_IMPORTANCE, Alternative, pareto_front, rank
from optimizer.statistics import relaxation_time_s
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
    the search cost in simulation runs (replications). ``explanation`` says why nothing fits
    and, in any case, which verdicts the point estimate decided (the SLO still inside the
    interval when sampling stopped)."""

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


def sampling_for(target: Target) -> Sampling:
    """The sequential rule with the target's replications as its first stage."""
    return Sampling.starting_with(target.replications)


def _shares(profile: Profile, counts: Mapping[str, int]) -> dict[str, float]:
    """Each variant's share of the traffic: proportional to its capacity (count x workers / E[S])."""
    capacity = {t: n * profile.instance(t).workers / (profile.instance(t).service_time.mean_ms / 1000)
                for t, n in counts.items()}
    total = sum(capacity.values())
    return {t: c / total for t, c in capacity.items()}


@dataclass(frozen=True)
class _EndpointRun:
    """How long one replication of a whole endpoint runs, and its relaxation time."""

    duration_s: float
    relaxation_s: float


def _endpoint_timing(profile: Profile, counts: Mapping[str, int], target: Target, sampling: Sampling,
                     shares: Mapping[str, float]) -> _EndpointRun:
    """Simulated seconds per replication of the whole endpoint: its slowest instances'
    relaxation time sets the length (a closed population is sized at the target rate, its
    load held at most 0.95), counted in the requests the whole endpoint receives."""
    relaxation = 0.0
    for instance_type, count in counts.items():
        entry = profile.instance(instance_type)
        mean_s = entry.service_time.mean_ms / 1000.0
        per_instance = target.rate_per_s * shares[instance_type] / count
        if target.closed_users is not None:
            per_instance = min(per_instance, 0.95 * entry.workers / mean_s)
        relaxation = max(relaxation, relaxation_time_s(per_instance, entry.workers, mean_s))
    requests = sampling.pooled_requests(target.rate_per_s * relaxation, target.percentile)
    return _EndpointRun(duration_s=requests / target.rate_per_s, relaxation_s=relaxation)


def _endpoint_run(profile: Profile, counts: Mapping[str, int], target: Target, shares: Mapping[str, float],
                  timing: _EndpointRun, seed: int) -> Run:
    """One replication of every variant (its share of the traffic, its routing), the
    latencies merged in completion order."""
    latencies, completions = [], []
    busy_s, workers, served = 0.0, 0, 0.0
    duration = timing.duration_s
    for variant, (instance_type, count) in enumerate(sorted(counts.items())):
        run_seed = seed if variant == 0 else seed_for_variant(seed, variant)
        if target.closed_users is not None:
            users = max(1, round(target.closed_users * shares[instance_type]))
            result = simulate(profile, instance_type, instance_count=count, routing=target.routing,
                              traffic=ConstantUsers(users, duration), seed=run_seed)
        else:
            result = simulate(profile, instance_type, instance_count=count, routing=target.routing,
                              arrival_rate_per_s=target.rate_per_s * shares[instance_type], duration_s=duration,
                              seed=run_seed)
        latencies.append(result.latency_ms)
        completions.append(result.completion_s)
        busy_s += float(result.service_ms.sum()) / 1000.0
        workers += profile.instance(instance_type).workers * count
        served += result.throughput_per_s
    order = np.argsort(np.concatenate(completions), kind="stable")
    return Run(latency_ms=np.concatenate(latencies)[order], utilization=busy_s / duration / workers,
               relaxation_requests=timing.relaxation_s * served, throughput_per_s=served)


def seed_for_variant(seed: int, variant: int) -> int:
    """The seed of a mixed endpoint's second, third ... variant (the first keeps the replication's)."""
    return replication_seed(seed, variant) ^ 0x5EED


def simulate_endpoint(profile: Profile, counts: Mapping[str, int], target: Target, seed: int) -> Estimate:
    """The whole endpoint at the target, decided sequentially: each production variant gets
    its share of the Poisson stream (weights proportional to capacity), its instances routed
    by the policy; the percentile is taken over every request of every variant in completion
    order, the warm-up cut, batches for the interval. Replication r uses the same seed
    whatever the allocation (common random numbers)."""
    sampling = sampling_for(target)
    shares = _shares(profile, counts)
    if target.closed_users is None:
        load = max(target.rate_per_s * shares[t] / n * profile.instance(t).service_time.mean_ms / 1000.0
                   / profile.instance(t).workers for t, n in counts.items())
        if load >= 1.0:
            return unstable_estimate(load)
    timing = _endpoint_timing(profile, counts, target, sampling, shares)
    measured = sequential_estimate(
        lambda replication: _endpoint_run(profile, counts, target, shares, timing,
                                          replication_seed(seed, replication)),
        target.percentile, target.slo_ms, sampling)
    if target.closed_users is not None:  # N users must also reach the target rate
        return replace(measured, required_per_s=target.rate_per_s)
    return replace(measured, throughput_per_s=math.nan)


def count_evaluator(profile: Profile, instance_type: str, target: Target, seed: int) -> Callable[[int], Estimate]:
    """``count -> Estimate`` for ``instance_type`` at the target, decided sequentially against
    the target's SLO, each count evaluated once (remembered). With random routing and open
    traffic one instance at rate / count stands for the endpoint (a Poisson stream split at
    random is Poisson); otherwise the whole endpoint is simulated. Every count uses the same
    seeds per replication, so their estimates are paired."""
    entry = profile.instance(instance_type)
    sampling = sampling_for(target)
    remembered: dict[int, Estimate] = {}

    def evaluate(count: int) -> Estimate:
        if count not in remembered:
            if target.routing == "random" and target.closed_users is None:
                remembered[count] = simulate_instance(entry, profile.overhead, target.rate_per_s / count,
                                                      target.percentile, target.slo_ms, sampling, seed)
            else:
                remembered[count] = simulate_endpoint(profile, {instance_type: count}, target, seed)
        return remembered[count]

    return evaluate


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
                                        f"{result.percentile_ms:.1f} ms, "
                                        f"{'meets' if result.meets(target.slo_ms) else 'misses'} the SLO",
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


def point_estimate_notes(chosen: Verified | None, decisions: Sequence[CountDecision],
                         target: Target) -> tuple[str, ...]:
    """One line per verdict the point estimate decided (the SLO still inside the interval when
    sampling stopped): the answer's verification and each type's smallest count."""
    notes = []
    if chosen is not None and chosen.estimate.by_point_estimate:
        notes.append(f"The answer {_key(chosen.counts)} {chosen.estimate.verdict(target.slo_ms)}.")
    for decision in decisions:
        if decision.count is not None and decision.estimate is not None and decision.estimate.by_point_estimate:
            notes.append(f"{decision.count} x {decision.instance_type} "
                         f"{decision.estimate.verdict(target.slo_ms)}.")
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
                             + point_estimate_notes(chosen, search.decisions, target)),
                simulations=simulations + outcome.replications,
                naive_simulations=naive, verifications=outcome.verifications, failed_verifications=outcome.cuts)


def _key(counts: Mapping[str, int]) -> str:
    return " + ".join(f"{n} x {t}" for t, n in sorted(counts.items()))
