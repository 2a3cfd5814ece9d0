"""The discrete-event check of the per-minute model: the engine run over a capacity timeline.

The engine serves a fixed instance count per run, so the timeline is cut into segments of
constant capacity in service, each simulated as its own run: Poisson arrivals at each
minute's rate (``simulator.PoissonArrivals``, a piecewise-constant rate: non-homogeneous
Poisson across minutes) over that many instances with the chosen routing. Each segment starts
empty and ends when its arrivals end (requests still in flight then are not counted): the
queue does not carry across a change of capacity, a bias of about one relaxation time per
change (milliseconds to seconds for real-time models). A minute's percentile is over the
requests that arrived in it. Every segment has its own seed, spawned from ``seed``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

import simulator
from autoscaling.curves import TrafficCurve
from optimizer.verdict import MEETS, MISSES, TOO_CLOSE
from simulator import InstanceEndpoint, InstanceProfile, PoissonArrivals, RunSpec


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


def engine_percentiles(curve: TrafficCurve, entry: InstanceProfile, capacity: np.ndarray, *, percentile: float,
                       routing: str = "random", seed: int = 0, replications: int = 1) -> np.ndarray:
    """Per minute: the engine's ``percentile`` of ModelLatency (ms) over the requests that
    arrived in that minute on ``capacity[minute]`` instances (NaN for a minute without any),
    pooled over ``replications`` independent runs (each from its own spawned seed)."""
    out = np.full(curve.minutes, math.nan)
    pieces = segments(capacity)
    children = np.random.SeedSequence(seed).spawn(len(pieces) * replications)
    for index, (first, end, count) in enumerate(pieces):
        rates = curve.per_minute[first:end] / 60.0
        if not np.any(rates > 0):
            continue
        traffic = PoissonArrivals(rates=tuple((60.0 * i, float(r)) for i, r in enumerate(rates)),
                                  duration_s=60.0 * (end - first))
        latencies, minutes = [], []
        endpoint = InstanceEndpoint(entry, instance_count=count, routing=routing)
        for child in children[index * replications:(index + 1) * replications]:
            result = simulator.run(RunSpec(endpoint=endpoint, traffic=traffic, seed=_seed(child)))
            latencies.append(result.latency_ms)
            minutes.append(np.floor((result.completion_s - result.latency_ms / 1000.0) / 60.0).astype(int))
        _per_minute(out, first, end, np.concatenate(minutes), np.concatenate(latencies), percentile)
    return out


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
    out: list[str | None] = []
    for minute in range(minutes):
        inside = (arrival_s >= 60.0 * minute) & (arrival_s < 60.0 * (minute + 1))
        if not inside.any():
            out.append(None)
            continue
        batch = np.minimum(((arrival_s[inside] - 60.0 * minute) / (60.0 / MINUTE_BATCHES)).astype(int),
                           MINUTE_BATCHES - 1)
        below = latency_ms[inside] <= slo_ms
        fractions = np.array([below[batch == b].mean() for b in range(MINUTE_BATCHES) if np.any(batch == b)])
        mean = float(below.mean())
        half = t * float(fractions.std(ddof=1)) / math.sqrt(len(fractions)) if len(fractions) > 1 else math.inf
        out.append(MEETS if mean - half >= p else MISSES if mean + half < p else TOO_CLOSE)
    return out


def _per_minute(out: np.ndarray, first: int, end: int, minute: np.ndarray, latency_ms: np.ndarray,
                percentile: float) -> None:
    """Write each minute's percentile of the latencies that arrived in it into ``out[first:end]``."""
    order = np.argsort(minute, kind="stable")
    minutes, starts = np.unique(minute[order], return_index=True)
    for value, group in zip(minutes, np.split(latency_ms[order], starts[1:]), strict=True):
        if 0 <= value < end - first and group.size:
            out[first + value] = float(np.percentile(group, percentile))
