"""Minutes judged with the backlog they inherit and with their sampling noise.

**Backlog (a fluid approximation).** Within a minute each station (an instance under random
routing; the pooled instances under least-outstanding routing) serves at most its capacity
mu per minute. A minute whose arrivals a exceed it leaves a backlog q' = max(0, q + a - mu)
for the next minute: the pointwise-stationary law (the percentile of the minute's own rate,
``MinuteModel``) plus a deterministic fluid queue for what the law cannot hold (Green and
Kolesar's pointwise stationary approximation is exact in the limit of slowly varying rates
but fails where the rate reaches capacity; Newell's fluid queue carries the excess; see
docs/autoscale-backlog.md). The backlog is carried across capacity changes as the exact
replay does: a new instance starts empty, the instances in service keep theirs (random
routing does not rebalance), on scale-in the newest leave and take their backlog with them
(they drain it; its requests were counted in the minutes they arrived). A request arriving t
into a backlogged minute waits the fluid backlog then ahead of it, q(t) / mu, on top of the
law's latency at the minute's rate, and the minute's percentile is that mixture's, over
its instances and a grid of instants. A minute at or beyond saturation violates.

**Sampling noise.** A minute violates when the share of its N requests above the SLO exceeds
1 - q (q = 0.95 for P95). The law gives the expected share p; the share measured over one
minute has variance p (1 - p) D / N, where D = 1 + 2 KAPPA lambda tau w^2 (at most N) inflates
the binomial variance by the requests that arrive within one relaxation time tau = E[S]
(1 + cv^2) / 2 / (sqrt(c) - sqrt(a))^2 of a station (Morse's relaxation time of M/M/c, slowed
by Allen-Cunneen's factor; a = its offered load in workers; lambda its arrival rate): latencies
that close in time share one queue. Only the share w = 1 - P(S > SLO) / p of the exceedance
that waiting causes is correlated (a long service time is independent of its neighbours'),
hence w^2. KAPPA is calibrated against the exact replay (tests/test_autoscaling_backlog.py).
A minute violates with probability P(B > 1 - q) for B a Beta variable of that mean and variance
(the measured share is skewed to the right when the minute holds few relaxation times, which a
normal law misses: calibrated by the same test); the expected count is the sum
of those probabilities and its error the square root of the sum of p (1 - p) (minutes apart
by more than a relaxation time are independent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from autoscaling.latency import TABLE_UTILIZATIONS, MinuteModel, exceedance_table, response_survival

#: The relaxation-time factor of the noise term, calibrated against the exact replay.
KAPPA = 0.5
#: The errors the search's bound adds to the expected count: a day exceeds it 2.3 % of the time if the model
#: is exact, which leaves room for the model's own error under the tests' 90 %.
BOUND_Z = 2.0
#: Instants per minute the fluid wait is sampled at in a backlogged minute.
INSTANTS = 24
MINUTE_MS = 60_000.0


@dataclass(frozen=True)
class Judgement:
    """Per minute: the percentile (ms, backlog included; NaN without invocations, infinite at
    saturation), the share of requests above the SLO, the probability the minute violates and
    the fluid backlog at its end (requests, all stations)."""

    percentile_ms: np.ndarray = field(repr=False)
    exceedance: np.ndarray = field(repr=False)
    probability: np.ndarray = field(repr=False)
    backlog: np.ndarray = field(repr=False)
    percentile: float = 95.0

    @property
    def violating(self) -> np.ndarray:
        """Per minute: whether the predicted share above the SLO exceeds the percentile's tail
        (the percentile above the SLO) or the minute saturates."""
        return np.isinf(self.percentile_ms) | (self.exceedance > self.tail)

    @property
    def tail(self) -> float:
        return 1.0 - self.percentile / 100.0

    @property
    def expected(self) -> float:
        """The expected number of violating minutes."""
        return float(self.probability.sum())

    @property
    def error(self) -> float:
        """The standard deviation of the number of violating minutes."""
        return float(math.sqrt(float((self.probability * (1.0 - self.probability)).sum())))

    @property
    def bound(self) -> float:
        """The count the search holds within the budget: expected + BOUND_Z errors."""
        return self.expected + BOUND_Z * self.error


@dataclass(frozen=True)
class _Stations:
    """One minute's stations: how many, workers each, capacity and arrivals each (per minute)."""

    count: int
    workers: int
    capacity: float
    arrivals: float


def _stations(model: MinuteModel, invocations: float, instances: int) -> _Stations:
    stations, workers = model.stations(instances)
    per_worker = model.capacity_per_minute / model.entry.workers
    return _Stations(count=stations, workers=workers, capacity=per_worker * workers,
                     arrivals=invocations / stations)


def fluid_backlogs(model: MinuteModel, invocations: np.ndarray, capacity: np.ndarray) -> dict[int, np.ndarray]:
    """Per minute that starts with a backlog: the fluid backlog (requests) of each station at
    its start (newest instance last); minutes absent start empty."""
    overloaded = np.flatnonzero(model.offered_utilization(invocations, capacity) >= 1.0)
    out: dict[int, np.ndarray] = {}
    minute, end = 0, invocations.size
    for first in overloaded.tolist():
        if first < minute:
            continue
        queue = np.zeros(0)
        minute = first
        while minute < end:
            here = _stations(model, float(invocations[minute]), int(capacity[minute]))
            queue = np.concatenate((queue[:here.count], np.zeros(max(0, here.count - queue.size))))
            if queue.any():
                out[minute] = queue
            queue = np.maximum(0.0, queue + here.arrivals - here.capacity)
            minute += 1
            if not queue.any():
                break
    return out


def _mixture_survival(model: MinuteModel, here: _Stations, queue: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
    """P(latency > t) of a backlogged minute's requests: over its stations and instants, the
    fluid wait then plus the law's latency at the minute's rate."""
    instants = (np.arange(INSTANTS) + 0.5) / INSTANTS
    drained = (here.capacity - here.arrivals) * instants
    wait_ms = (np.maximum(0.0, queue[:, None] - drained[None, :]) / here.capacity * MINUTE_MS).ravel()
    waits, weight = np.unique(wait_ms, return_counts=True)  # instances with one backlog share their waits
    rate_per_s = here.arrivals / 60.0
    survival = response_survival((t_ms[:, None] - waits[None, :]).ravel(), rate_per_s, here.workers,
                                 model.entry.service_time, model.grid)
    return survival.reshape(t_ms.size, waits.size) @ (weight / weight.sum())


def _backlogged_percentile(model: MinuteModel, here: _Stations, queue: np.ndarray) -> float:
    """The percentile (ms) of a minute that starts with ``queue``."""
    tail = 1.0 - model.percentile / 100.0
    upper = float(queue.max()) / here.capacity * MINUTE_MS + model.quantile_at(here.arrivals / 60.0 * here.count,
                                                                               here.count) + 1.0
    value = optimize.brentq(lambda t: float(_mixture_survival(model, here, queue, np.array([t]))[0]) - tail,
                            0.0, upper, xtol=1e-3)
    return float(value)


def noise_factor(model: MinuteModel, invocations: np.ndarray, capacity: np.ndarray, share: np.ndarray,
                 slo_ms: float) -> np.ndarray:
    """D per minute: the variance of the share above the SLO over the binomial's (module docstring)."""
    stations, workers = np.ones_like(capacity), np.full_like(capacity, model.entry.workers)
    if model.routing == "least_outstanding_requests":
        workers = capacity * model.entry.workers
    else:
        stations = capacity
    mean_s = model.entry.service_time.mean_ms / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_per_s = invocations / np.maximum(stations, 1) / 60.0
        load = rate_per_s * mean_s
        gap = np.maximum(np.sqrt(workers) - np.sqrt(np.minimum(load, workers)), 1e-6)
        tau_s = mean_s * (1.0 + model.entry.service_time.cv ** 2) / 2.0 / gap ** 2
        waiting = np.clip(1.0 - model.grid.survival(slo_ms) / share, 0.0, 1.0)
    factor = 1.0 + 2.0 * KAPPA * rate_per_s * tau_s * np.nan_to_num(waiting) ** 2
    return np.minimum(factor, np.maximum(invocations, 1.0))


def exceeds(share: np.ndarray, factor: np.ndarray, invocations: np.ndarray, tail: float) -> np.ndarray:
    """P(the share measured over a minute > ``tail``): the share as a Beta variable of mean
    ``share`` and variance share (1 - share) factor / invocations (module docstring)."""
    effective = np.maximum(np.maximum(invocations, 1.0) / factor, 1.0 + 1e-9)
    alpha = np.maximum(share * (effective - 1.0), 1e-12)
    beta = np.maximum((1.0 - share) * (effective - 1.0), 1e-12)
    below = special.betainc(alpha, beta, tail)
    return np.where(share >= 1.0, 1.0, np.where(share <= 0.0, 0.0, 1.0 - below))


def judge(model: MinuteModel, invocations: np.ndarray, capacity: np.ndarray, slo_ms: float, *,
          percentiles: bool = True) -> Judgement:
    """Every minute of ``invocations`` on ``capacity`` instances in service (module docstring);
    without ``percentiles`` a backlogged minute's percentile is left at the law's (the share
    above the SLO, which decides, is computed either way: what the search needs)."""
    invocations = np.asarray(invocations, dtype=float)
    capacity = np.asarray(capacity, dtype=int)
    percentile = model.percentile_ms(invocations, capacity)
    utilization = model.offered_utilization(invocations, capacity)
    share = np.ones(invocations.size)
    for count in np.unique(capacity):
        rows = (capacity == count) & (utilization < 1.0)
        _, workers = model.stations(int(count))
        share[rows] = np.interp(utilization[rows], TABLE_UTILIZATIONS,
                                exceedance_table(model.entry.service_time, workers, float(slo_ms)))
    backlog = np.zeros(invocations.size)
    for minute, queue in fluid_backlogs(model, invocations, capacity).items():
        here = _stations(model, float(invocations[minute]), int(capacity[minute]))
        backlog[minute - 1] = queue.sum() if minute else 0.0
        if here.arrivals < here.capacity:
            share[minute] = float(_mixture_survival(model, here, queue, np.array([float(slo_ms)]))[0])
            if percentiles:
                percentile[minute] = _backlogged_percentile(model, here, queue)
    share[invocations <= 0] = 0.0
    tail = 1.0 - model.percentile / 100.0
    probability = np.where(np.isinf(percentile), 1.0,
                           exceeds(share, noise_factor(model, invocations, capacity, share, slo_ms), invocations, tail))
    probability[invocations <= 0] = 0.0
    return Judgement(percentile_ms=percentile, exceedance=share, probability=probability, backlog=backlog,
                     percentile=model.percentile)
