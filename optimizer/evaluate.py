"""How the optimizer evaluates one allocation at its target: the target itself, one instance
standing for a randomly routed endpoint under open traffic (``count_evaluator``), or the
whole endpoint simulated (``simulate_endpoint``), each decided by the sequential rule."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from optimizer.capacity import (
    Estimate,
    Run,
    Sampling,
    mmc_count,
    replication_seed,
    sequential_estimate,
    simulate_instance,
    stability_count,
    unstable_estimate,
)
from optimizer.statistics import relaxation_time_s
from optimizer.verdict import DEFAULT_PRECISION
from simulator import ConstantUsers, InstanceProfile, Profile, simulate


@dataclass(frozen=True)
class Target:
    """What the endpoint must do: a rate (open traffic) or N users (closed), within an SLO."""

    rate_per_s: float
    percentile: float  # 95 or 99
    slo_ms: float
    routing: str = "random"
    closed_users: int | None = None
    replications: int = 3
    precision: float = DEFAULT_PRECISION  # the relative half-width at which a verdict is left too close to call


def sampling_for(target: Target) -> Sampling:
    """The sequential rule with the target's replications as its first look, at its precision."""
    return Sampling.starting_with(target.replications, target.precision)


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


def shared_requests(profile: Profile, instance_type: str, target: Target, sampling: Sampling) -> int:
    """Requests per replication shared by every count from two below the exact M/M/c answer
    (for the same mean service time) up, the counts the search decides near its boundary:
    that count's own run length, so K and K - 1 there see the same arrivals and service times
    (common random numbers)."""
    entry = profile.instance(instance_type)
    stable = stability_count(target.rate_per_s, entry)
    hardest = max(stable, mmc_count(target.rate_per_s, entry, target.percentile / 100.0, target.slo_ms) - 2)
    return sampling.requests(target.rate_per_s / hardest, entry.workers, entry.service_time.mean_ms / 1000.0,
                             target.percentile)


def count_evaluator(profile: Profile, instance_type: str, target: Target, seed: int) -> Callable[[int], Estimate]:
    """``count -> Estimate`` for ``instance_type`` at the target, decided sequentially against
    the target's SLO, each count evaluated once (remembered). With random routing and open
    traffic one instance at rate / count stands for the endpoint (a Poisson stream split at
    random is Poisson), and counts run at least ``shared_requests`` per replication; otherwise
    the whole endpoint is simulated. Every count uses the same seeds per replication, so their
    estimates are paired."""
    entry = profile.instance(instance_type)
    sampling = sampling_for(target)
    remembered: dict[int, Estimate] = {}
    single = target.routing == "random" and target.closed_users is None
    shared = shared_requests(profile, instance_type, target, sampling) if single else 0

    def evaluate(count: int) -> Estimate:
        if count not in remembered:
            if single:
                rate = target.rate_per_s / count
                own = sampling.requests(rate, entry.workers, entry.service_time.mean_ms / 1000.0, target.percentile)
                remembered[count] = simulate_instance(entry, profile.overhead, rate, target.percentile,
                                                      target.slo_ms, sampling, seed, requests=max(own, shared))
            else:
                remembered[count] = simulate_endpoint(profile, {instance_type: count}, target, seed)
        return remembered[count]

    return evaluate




def workers_note(entry: InstanceProfile) -> str | None:
    """When calibration left the worker count open (a confidence set of several c), the entry
    holds the member most conservative for capacity and every plan on it says so."""
    provenance = entry.provenance
    if provenance.get("workers_determined", True):
        return None
    members = provenance.get("workers_candidates") or [entry.workers]
    listed = f"{min(members)} to {max(members)}" if len(members) > 1 else str(members[0])
    above = " or more" if provenance.get("workers_candidates_open_above") else ""
    return (f"{entry.instance_type}: planned on {entry.workers} workers, the most conservative member of the "
            f"calibrated set {listed}{above} (the data did not determine the worker count)")
