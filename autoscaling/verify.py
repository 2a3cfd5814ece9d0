"""The discrete-event check of the per-minute model: the engine run over a capacity timeline.

**Continuous (the default).** The whole curve is ONE engine run: Poisson arrivals at each
minute's rate (``simulator.PoissonArrivals``, a piecewise-constant rate: non-homogeneous
Poisson across minutes) over the instances in service, with the timeline's changes applied to
the running simulation as a capacity schedule (``simulator.capacity``): a new instance starts
empty at the start of its first minute in service, on scale-in the newest instances take no
new request and drain what they hold, and every request in flight is kept across every change,
so a backlog spoils the minutes after it as it would on the endpoint (and as
``autoscaling.exact`` replays it). After the curve, ``DRAIN_MINUTES`` minutes without arrivals
let the requests of its last minutes complete.

**Segment-wise (``continuous=False``, the check before the schedule existed).** The timeline is
cut into segments of constant capacity, each simulated as its own run that starts empty and
ends when its arrivals end (requests still in flight then are not counted): it cannot see a
backlog carried across a change of capacity. Kept to measure what the continuous check changes.

A minute's percentile is over the requests that *arrived* in it. Every run has its own seed,
spawned from ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

import simulator
from autoscaling.curves import TrafficCurve
from autoscaling.exact import per_minute_percentile
from optimizer.verdict import MEETS, MISSES, TOO_CLOSE
from simulator import InstanceEndpoint, InstanceProfile, PoissonArrivals, RunSpec
from simulator.bounds import MAX_HELD_REQUESTS
from simulator.errors import InputError

MINUTE_S = 60.0
#: Minutes without arrivals after the curve, in which the requests still queued at its end complete.
DRAIN_MINUTES = 10


@dataclass(frozen=True)
class Served:
    """Every request one engine replay completed: its arrival (s from the curve's start) and its
    latency (ms); ``unfinished`` requests were still in service or queued when the run ended."""

    arrival_s: np.ndarray = field(repr=False)
    latency_ms: np.ndarray = field(repr=False)
    unfinished: int = 0


@dataclass(frozen=True)
class EngineCheck:
    """Per minute: the engine's percentile (ms, NaN for a minute without requests) and its
    three-valued verdict against the SLO (``minute_verdicts``); and the requests left unfinished."""

    percentile_ms: np.ndarray = field(repr=False)
    verdicts: tuple[str | None, ...] = field(repr=False)
    unfinished: int = 0


def segments(capacity: np.ndarray) -> list[tuple[int, int, int]]:
    """(first minute, end minute, count) of each run of equal capacity, minutes 0-based."""
    capacity = np.asarray(capacity)
    if capacity.size == 0:
        return []
    edges = np.flatnonzero(np.diff(capacity)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [capacity.size]))
    return [(int(a), int(b), int(capacity[a])) for a, b in zip(starts, ends, strict=True)]


def _seed(sequence: np.random.SeedSequence) -> int:
    """An int seed (0 to 2**63 - 1) for ``simulate`` from one spawned SeedSequence."""
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _arrivals(rates_per_min: np.ndarray, drain_minutes: int = 0) -> PoissonArrivals:
    """Poisson arrivals at each minute's rate, then ``drain_minutes`` minutes without any."""
    rates = tuple((MINUTE_S * i, float(r) / MINUTE_S) for i, r in enumerate(rates_per_min))
    if drain_minutes:
        rates += ((MINUTE_S * len(rates_per_min), 0.0),)
    return PoissonArrivals(rates=rates, duration_s=MINUTE_S * (len(rates_per_min) + drain_minutes))


def schedule_of(curve: TrafficCurve, capacity: np.ndarray) -> tuple[int, tuple[tuple[float, int], ...]]:
    """(instances at the start, steps at the minutes where the count changes) of ``capacity``;
    a minute without invocations may have none in service (it keeps the count before it)."""
    counts = np.asarray(capacity, dtype=int)
    if counts.shape != curve.per_minute.shape:
        raise InputError("capacity", f"must give one count per minute ({curve.minutes}), got {counts.size}")
    if np.any((counts < 1) & (curve.per_minute > 0)):
        raise InputError("capacity", "every minute with invocations needs at least one instance in service")
    held = max(1, int(counts[0])) if counts.size else 1
    first, steps = held, []
    for minute in range(1, counts.size):
        wanted = int(counts[minute])
        if wanted >= 1 and wanted != held:
            steps.append((MINUTE_S * minute, wanted))
            held = wanted
    return first, tuple(steps)


def replay_continuous(curve: TrafficCurve, entry: InstanceProfile, capacity: np.ndarray, *,
                      routing: str = "random", seed: int = 0, max_held_requests: int = MAX_HELD_REQUESTS) -> Served:
    """The whole curve as one engine run with ``capacity`` as its schedule (module docstring).
    It keeps every request to judge each minute by its arrivals, so a curve past
    ``max_held_requests`` held at once is refused before it runs (irsim's memory limit)."""
    first, steps = schedule_of(curve, capacity)
    spec = RunSpec(endpoint=InstanceEndpoint(entry, instance_count=first, routing=routing),
                   traffic=_arrivals(curve.per_minute, DRAIN_MINUTES), seed=seed, capacity_schedule=steps,
                   max_held_requests=max_held_requests)
    result = simulator.run(spec)
    return Served(arrival_s=result.completion_s - result.latency_ms / 1000.0, latency_ms=result.latency_ms,
                  unfinished=result.in_service + result.queued)


#: How an engine check replays a curve: ``replay_continuous`` or ``replay_segments`` (or one of
#: them with its memory limit raised, through functools.partial).
Replay = Callable[..., Served]


def replay_segments(curve: TrafficCurve, entry: InstanceProfile, capacity: np.ndarray, *,
                    routing: str = "random", seed: int = 0) -> Served:
    """Each constant-capacity segment as its own run, started empty, its requests in flight at
    its end dropped (module docstring); every segment seeded from ``seed``'s own child."""
    pieces = segments(capacity)
    children = np.random.SeedSequence(seed).spawn(len(pieces))
    arrivals, latencies, dropped = [], [], 0
    for (first, end, count), child in zip(pieces, children, strict=True):
        if not np.any(curve.per_minute[first:end] > 0):
            continue
        endpoint = InstanceEndpoint(entry, instance_count=count, routing=routing)
        result = simulator.run(RunSpec(endpoint=endpoint, traffic=_arrivals(curve.per_minute[first:end]),
                                       seed=_seed(child)))
        arrivals.append(result.completion_s - result.latency_ms / 1000.0 + MINUTE_S * first)
        latencies.append(result.latency_ms)
        dropped += result.in_service + result.queued
    return Served(arrival_s=np.concatenate(arrivals) if arrivals else np.zeros(0),
                  latency_ms=np.concatenate(latencies) if latencies else np.zeros(0), unfinished=dropped)


def engine_percentiles(curve: TrafficCurve, entry: InstanceProfile, capacity: np.ndarray, *, percentile: float,
                       routing: str = "random", seed: int = 0, replications: int = 1,
                       replay: Replay = replay_continuous) -> np.ndarray:
    """Per minute: the engine's ``percentile`` of ModelLatency (ms) over the requests that
    arrived in that minute on ``capacity[minute]`` instances (NaN for a minute without any),
    pooled over ``replications`` independent replays (each from its own spawned seed),
    continuous or segment-wise (``replay``: module docstring)."""
    served = [replay(curve, entry, capacity, routing=routing, seed=_seed(child))
              for child in np.random.SeedSequence(seed).spawn(replications)]
    arrival = np.concatenate([s.arrival_s for s in served])
    latency = np.concatenate([s.latency_ms for s in served])
    return _minute_percentiles(arrival, latency, curve.minutes, percentile)


def engine_check(curve: TrafficCurve, entry: InstanceProfile, capacity: np.ndarray, *, percentile: float,
                 slo_ms: float, routing: str = "random", seed: int = 0,
                 replay: Replay = replay_continuous) -> EngineCheck:
    """One engine replay of ``capacity`` under ``curve`` (continuous unless ``replay`` says
    otherwise): each minute's percentile and its three-valued verdict against ``slo_ms``
    (``minute_verdicts``)."""
    served = replay(curve, entry, capacity, routing=routing, seed=seed)
    return EngineCheck(percentile_ms=_minute_percentiles(served.arrival_s, served.latency_ms, curve.minutes,
                                                         percentile),
                       verdicts=tuple(minute_verdicts(served.arrival_s, served.latency_ms, curve.minutes,
                                                      percentile, slo_ms)),
                       unfinished=served.unfinished)


def _minute_percentiles(arrival_s: np.ndarray, latency_ms: np.ndarray, minutes: int, percentile: float) -> np.ndarray:
    """Each minute's ``percentile`` of the latencies of the requests that arrived in it."""
    minute = np.floor(arrival_s / MINUTE_S).astype(np.int64)
    inside = (minute >= 0) & (minute < minutes)
    value, _, _ = per_minute_percentile(minute[inside], latency_ms[inside], minutes, percentile, None)
    return value


#: Each minute's requests are cut into this many batches by arrival time for its verdict's interval.
MINUTE_BATCHES = 6


def minute_verdicts(arrival_s: np.ndarray, latency_ms: np.ndarray, minutes: int, percentile: float, slo_ms: float,
                    confidence: float = 0.95) -> list[str | None]:
    """Per minute: does its ``percentile`` of the requests that arrived in it meet ``slo_ms``?
    Three-valued (``optimizer.verdict``): the fraction at or below the SLO over MINUTE_BATCHES
    ten-second batches, with a Student-t interval on the batch fractions (the batches carry the
    queue's correlation within the minute), meets when its lower end reaches the percentile,
    misses when its upper end falls short, else too close to call; None for an empty minute."""
    p = percentile / 100.0
    t = float(stats.t.ppf(0.5 + confidence / 2.0, MINUTE_BATCHES - 1))
    batch = np.floor(np.asarray(arrival_s) / (MINUTE_S / MINUTE_BATCHES)).astype(np.int64)
    inside = (batch >= 0) & (batch < minutes * MINUTE_BATCHES)
    batch = batch[inside]
    size = minutes * MINUTE_BATCHES
    total = np.bincount(batch, minlength=size).reshape(minutes, MINUTE_BATCHES).astype(float)
    below = np.bincount(batch, weights=(np.asarray(latency_ms)[inside] <= slo_ms).astype(float),
                        minlength=size).reshape(minutes, MINUTE_BATCHES)
    out: list[str | None] = []
    for m in range(minutes):
        filled = total[m] > 0
        if not filled.any():
            out.append(None)
            continue
        fractions = below[m][filled] / total[m][filled]
        mean = float(below[m].sum() / total[m].sum())
        half = t * float(fractions.std(ddof=1)) / math.sqrt(len(fractions)) if len(fractions) > 1 else math.inf
        out.append(MEETS if mean - half >= p else MISSES if mean + half < p else TOO_CLOSE)
    return out
