"""The exact replay: the oracle the per-minute model is tested against.

Each minute's invocations are a Poisson count at the curve's rate, placed uniformly within the
minute (a Poisson process of piecewise-constant rate). Each request goes to one of the
instances in service at its arrival, uniformly (random routing: every instance sees its own
Poisson stream). Every instance is a c-worker FCFS station (c = the profile's workers, service
times drawn from the profile's law: M/M/c for an exponential law, M/G/c otherwise) whose queue
is carried across minutes and across capacity changes:

- an instance that enters service (after its start-up, as ``policy.replay`` says) starts empty
  at the start of its first minute in service;
- on scale-in the newest instances leave first: they take no new requests and drain, finishing
  every request already queued on them (the latency of those requests is kept);
- nothing times out: a request waits as long as its queue makes it.

Departures follow the Lindley recursion for c = 1, D_n = max(A_n, D_{n-1}) + S_n, vectorized as
D_n = sum_{j<=n} S_j + max_{k<=n} (A_k - sum_{j<k} S_j); for c > 1 the Kiefer-Wolfowitz
recursion (each request takes the worker that frees first) over a heap. A minute's percentile
is over the requests that *arrived* in it (``by="arrival"``, the latency a minute's traffic
experiences, as the per-minute model predicts it and as ``autoscaling.verify`` measures it) or
that *completed* in it (``by="completion"``, closer to when CloudWatch publishes ModelLatency);
the two differ only by the minutes a backlog shifts requests, and either spoils the same
stretch. Every draw comes from the Generator given.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from simulator import checks
from simulator.errors import InputError
from simulator.profiles import InstanceProfile

MINUTE_S = 60.0
BY = ("arrival", "completion")


@dataclass(frozen=True)
class ExactReplay:
    """Per minute: the requests counted in it and their ``percentile`` of latency (ms, NaN for a
    minute with none), and the share above ``slo_ms`` (when given)."""

    percentile: float
    percentile_ms: np.ndarray = field(repr=False)
    requests: np.ndarray = field(repr=False)
    above_slo: np.ndarray = field(repr=False)

    def violating(self, slo_ms: float) -> np.ndarray:
        """Per minute: whether its percentile is above ``slo_ms`` (a minute without requests never is)."""
        return np.nan_to_num(self.percentile_ms, nan=0.0) > slo_ms


def instance_slots(capacity: np.ndarray) -> np.ndarray:
    """(minutes, most instances) table: the id of the k-th instance in service in each minute
    (-1 beyond the count); a new instance gets a new id, scale-in removes the newest first."""
    capacity = np.asarray(capacity, dtype=int)
    width = int(capacity.max(initial=0))
    slots = np.full((capacity.size, max(width, 1)), -1, dtype=np.int64)
    active: list[int] = []
    next_id = 0
    for minute, count in enumerate(capacity.tolist()):
        while len(active) > count:
            active.pop()
        while len(active) < count:
            active.append(next_id)
            next_id += 1
        slots[minute, :count] = active
    return slots


def departures_single(arrivals_s: np.ndarray, service_s: np.ndarray) -> np.ndarray:
    """Departure times of one FCFS single-worker station (the Lindley recursion, vectorized)."""
    total = np.cumsum(service_s)
    return total + np.maximum.accumulate(arrivals_s - (total - service_s))


def departures_multi(arrivals_s: np.ndarray, service_s: np.ndarray, workers: int) -> np.ndarray:
    """Departure times of one FCFS station of ``workers`` workers (Kiefer-Wolfowitz: each
    request, in arrival order, takes the worker that frees first)."""
    free = [0.0] * workers
    out = np.empty(arrivals_s.size)
    for n, (arrival, service) in enumerate(zip(arrivals_s.tolist(), service_s.tolist(), strict=True)):
        done = max(arrival, free[0]) + service
        heapq.heapreplace(free, done)
        out[n] = done
    return out


def poisson_arrivals(rates: np.ndarray, minutes: np.ndarray, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(minute, arrival s) of a Poisson stream at ``rates[i]`` per minute over ``minutes[i]``,
    in time order: a Poisson count per minute, its instants the sorted uniforms of the minute
    drawn as normalized exponential spacings (no sort)."""
    counts = rng.poisson(rates)
    minute = np.repeat(minutes, counts)
    if minute.size == 0:
        return minute, np.zeros(0)
    spacing = rng.exponential(1.0, minute.size + counts.size)  # n + 1 spacings per minute
    slot = np.repeat(np.arange(counts.size), counts + 1)
    total = np.bincount(slot, weights=spacing, minlength=counts.size)
    running = np.cumsum(spacing)
    before = np.concatenate(([0.0], running[np.cumsum(counts + 1)[:-1] - 1]))  # the sum ending each earlier minute
    last = np.cumsum(counts + 1) - 1  # the (n + 1)-th spacing closes each minute: not an arrival
    keep = np.ones(spacing.size, dtype=bool)
    keep[last] = False
    fraction = (running - np.repeat(before, counts + 1)) / np.repeat(total, counts + 1)
    return minute, (minute + fraction[keep]) * MINUTE_S


def exact_replay(invocations: np.ndarray, capacity: np.ndarray, entry: InstanceProfile, *,
                 rng: np.random.Generator, percentile: float = 95.0, slo_ms: float | None = None,
                 by: str = "arrival") -> ExactReplay:
    """Replay ``invocations`` per minute on ``capacity[minute]`` instances in service of
    ``entry`` exactly (module docstring). Each instance's stream is drawn on its own (random
    routing thins a Poisson stream into independent ones at rate / count)."""
    rates = np.asarray(invocations, dtype=float)
    capacity = np.asarray(capacity, dtype=int)
    if rates.shape != capacity.shape:
        raise InputError("capacity", f"must give one count per minute ({rates.size}), got {capacity.size}")
    if np.any((capacity < 1) & (rates > 0)):
        raise InputError("capacity", "every minute with invocations needs at least one instance in service")
    checks.choice(by, "by", BY)
    checks.number(percentile, "percentile", minimum=0, maximum=100)
    slots = instance_slots(capacity)
    counted_parts, latency_parts = [], []
    for instance in range(int(slots.max(initial=-1)) + 1):
        active = np.flatnonzero((slots == instance).any(axis=1))
        minute, arrival = poisson_arrivals(rates[active] / capacity[active], active, rng)
        service = entry.service_time.sample_s(rng, arrival.size)
        departure = departures_single(arrival, service) if entry.workers == 1 else \
            departures_multi(arrival, service, entry.workers)
        counted_parts.append(minute if by == "arrival" else np.floor(departure / MINUTE_S).astype(np.int64))
        latency_parts.append((departure - arrival) * 1000.0)
    counted = np.concatenate(counted_parts) if counted_parts else np.zeros(0, dtype=np.int64)
    latency_ms = np.concatenate(latency_parts) if latency_parts else np.zeros(0)
    keep = counted < rates.size
    value, share, per_minute = per_minute_percentile(counted[keep], latency_ms[keep], rates.size, percentile, slo_ms)
    return ExactReplay(percentile=percentile, percentile_ms=value, requests=per_minute, above_slo=share)


def per_minute_percentile(minute: np.ndarray, latency_ms: np.ndarray, minutes: int, percentile: float,
                          slo_ms: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per minute: numpy's (linear) ``percentile`` of the latencies counted in it, the share above
    ``slo_ms`` (NaN without one) and how many there were."""
    order = np.argsort(minute.astype(np.uint16 if minutes <= 65_536 else np.int64), kind="stable")  # radix
    grouped = latency_ms[order]
    count = np.bincount(minute, minlength=minutes)
    ends = np.cumsum(count)
    out = np.full(minutes, math.nan)
    for m in np.flatnonzero(count).tolist():
        out[m] = np.percentile(grouped[ends[m] - count[m]:ends[m]], percentile)
    share = np.full(minutes, math.nan)
    if slo_ms is not None:
        above = np.bincount(minute, weights=(latency_ms > slo_ms).astype(float), minlength=minutes)
        share[count > 0] = above[count > 0] / count[count > 0]
    return out, share, count
