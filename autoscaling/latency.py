"""The per-minute latency law: a percentile of ModelLatency at one instance count and rate.

Each instance is an M/G/c station (c = the profile's workers). The wait is Erlang C's
(``simulator.analytic.erlang_c``): zero with probability 1 - C, else exponential with the
rate c mu - lambda slowed by Allen-Cunneen's factor (1 + cv^2) / 2. The latency is that wait
plus an independent service time, and its q-quantile solves
P(W + S > t) = P(S > t) + C E[exp(-gamma (t - S)); S <= t] = 1 - q over the service law's
quantiles. ``simulator.analytic.allen_cunneen_quantile_ms`` (the optimizer's pre-screen)
bounds the same quantile from above by splitting the tail evenly between wait and service:
16 to 55 % high against long engine runs on the demo profile, where this law is within 2 %
(experiments/autoscaling_week.py prints both), hence the convolution here.

Random routing gives each of n instances an independent Poisson stream at lambda / n, so one
table over per-instance utilization serves every count. Least-outstanding routing is read as
one pooled M/G/(n c) station (a request waits only when every worker is busy): a lower bound
that the engine approaches as queues balance; one table per count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import optimize

from optimizer.capacity import service_quantile_ms
from simulator import checks
from simulator.analytic import erlang_c
from simulator.distributions import Distribution
from simulator.endpoint import ROUTING_POLICIES
from simulator.errors import InputError
from simulator.profiles import InstanceProfile

#: Equal-probability points of the service law (their mid-quantiles) behind the convolution.
SERVICE_POINTS = 2000
#: Utilizations of the lookup table: dense near 1, where the percentile climbs fastest.
TABLE_UTILIZATIONS = np.unique(np.concatenate((np.linspace(0.0, 0.9, 181), 1.0 - np.geomspace(0.1, 1e-4, 120))))
PERCENTILES = (50.0, 90.0, 95.0, 99.0)


def parse_percentile(value: str | float, field: str = "percentile") -> float:
    """``"P95"``, ``"p99"``, ``95`` or ``95.0``: one of PERCENTILES."""
    text = str(value).strip().upper().removeprefix("P")
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if number not in PERCENTILES:
        raise InputError(field, f"must be one of {', '.join(f'P{p:g}' for p in PERCENTILES)}, got {value!r}")
    return number


@dataclass(frozen=True)
class ServiceGrid:
    """The service law as SERVICE_POINTS equal-probability values (ms), sorted."""

    levels: np.ndarray = field(repr=False)
    values_ms: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, service: Distribution) -> ServiceGrid:
        """The grid of ``service`` (built once per law and kept: a law is a frozen value)."""
        return _grid(service)

    def survival(self, t_ms: float) -> float:
        """P(S > t), interpolated between the grid's quantiles."""
        return 1.0 - float(np.interp(t_ms, self.values_ms, self.levels, left=0.0, right=1.0))


@lru_cache(maxsize=64)
def _grid(service: Distribution) -> ServiceGrid:
    levels = (np.arange(SERVICE_POINTS) + 0.5) / SERVICE_POINTS
    values = np.maximum.accumulate(np.array([service_quantile_ms(service, p) for p in levels]))
    levels.setflags(write=False)
    values.setflags(write=False)
    return ServiceGrid(levels=levels, values_ms=values)


@lru_cache(maxsize=256)
def percentile_table(service: Distribution, workers: int, percentile: float) -> np.ndarray:
    """The percentile (ms) at each of TABLE_UTILIZATIONS of one M/G/c station (``workers``
    servers), read-only and kept: evaluations of the same law share it."""
    mean_s = service.mean_ms / 1000.0
    grid = _grid(service)
    table = np.array([response_quantile_ms(u * workers / mean_s, workers, service, percentile / 100.0, grid)
                      if u < 1.0 else math.inf for u in TABLE_UTILIZATIONS])
    table.setflags(write=False)
    return table


def response_survival(t_ms: np.ndarray, rate_per_s: float, workers: int, service: Distribution,
                      grid: ServiceGrid) -> np.ndarray:
    """P(W + S > t) at each of ``t_ms`` for one M/G/c station (module docstring); 1 for t < 0
    and everywhere when the station is unstable."""
    t = np.atleast_1d(np.asarray(t_ms, dtype=float))
    mean_s = service.mean_ms / 1000.0
    load = rate_per_s * mean_s
    if load >= workers:
        return np.ones_like(t)
    waiting = erlang_c(workers, load) if load > 0 else 0.0
    gamma_per_ms = (workers / mean_s - rate_per_s) / ((1.0 + service.cv ** 2) / 2.0) / 1000.0
    values = grid.values_ms
    service_tail = 1.0 - np.interp(t, values, grid.levels, left=0.0, right=1.0)
    gap = t[:, None] - values[None, :]
    convolved = np.where(gap >= 0, np.exp(-gamma_per_ms * np.maximum(gap, 0.0)), 0.0).mean(axis=1)
    return np.where(t < 0, 1.0, np.minimum(1.0, service_tail + waiting * convolved))


@lru_cache(maxsize=256)
def exceedance_table(service: Distribution, workers: int, slo_ms: float) -> np.ndarray:
    """P(latency > ``slo_ms``) at each of TABLE_UTILIZATIONS of one M/G/c station (1 at
    saturation): the share of a minute's requests the law puts above the SLO."""
    mean_s = service.mean_ms / 1000.0
    grid = _grid(service)
    table = np.array([float(response_survival(np.array([slo_ms]), u * workers / mean_s, workers, service, grid)[0])
                      if u < 1.0 else 1.0 for u in TABLE_UTILIZATIONS])
    table.setflags(write=False)
    return table


def response_quantile_ms(rate_per_s: float, workers: int, service: Distribution, q: float,
                         grid: ServiceGrid) -> float:
    """The q-quantile of wait + service at one M/G/c station (module docstring); infinite
    when the station is unstable."""
    mean_s = service.mean_ms / 1000.0
    load = rate_per_s * mean_s
    if load >= workers:
        return math.inf
    waiting = erlang_c(workers, load) if load > 0 else 0.0
    gamma_per_ms = (workers / mean_s - rate_per_s) / ((1.0 + service.cv ** 2) / 2.0) / 1000.0
    values = grid.values_ms

    def excess(t: float) -> float:
        return float(response_survival(np.array([t]), rate_per_s, workers, service, grid)[0]) - (1.0 - q)

    upper = float(values[-1]) + (math.log(max(waiting, 1e-300) / (1.0 - q)) / gamma_per_ms if waiting > 0 else 0.0)
    upper = max(upper, float(values[-1])) * 1.01 + 1e-9
    if excess(upper) > 0:  # the tail of the grid's last point: widen until the root is bracketed
        while excess(upper) > 0:
            upper *= 2.0
    return float(optimize.brentq(excess, 0.0, upper, xtol=1e-9, rtol=1e-7))


@dataclass(frozen=True)
class MinuteModel:
    """Percentile, utilization and failures per minute for one profile entry, percentile and
    routing; tables are built once (per count under least-outstanding routing) and read by
    interpolation, so a week of minutes costs a few vector operations."""

    entry: InstanceProfile
    percentile: float
    routing: str = "random"
    grid: ServiceGrid = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        checks.choice(self.routing, "routing", ROUTING_POLICIES)
        object.__setattr__(self, "grid", ServiceGrid.of(self.entry.service_time))

    @property
    def capacity_per_minute(self) -> float:
        """Invocations one instance completes in a minute with every worker busy."""
        return self.entry.workers / (self.entry.service_time.mean_ms / 1000.0) * 60.0

    def stations(self, count: int) -> tuple[int, int]:
        """(stations, workers per station) that ``count`` instances make under the routing."""
        return (1, self.entry.workers * count) if self.routing == "least_outstanding_requests" else \
            (count, self.entry.workers)

    def table(self, count: int) -> np.ndarray:
        """The percentile (ms) at each of TABLE_UTILIZATIONS for ``count`` instances."""
        _, workers = self.stations(count)
        return percentile_table(self.entry.service_time, workers, self.percentile)

    def percentile_ms(self, invocations: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """Per minute: the percentile at ``invocations`` per minute on ``capacity`` instances in
        service (NaN without invocations, infinite at or beyond saturation)."""
        invocations = np.asarray(invocations, dtype=float)
        capacity = np.asarray(capacity)
        utilization = self.offered_utilization(invocations, capacity)
        out = np.full(len(invocations), math.inf)
        for count in np.unique(capacity):
            rows = (capacity == count) & (utilization < TABLE_UTILIZATIONS[-1])
            out[rows] = np.interp(utilization[rows], TABLE_UTILIZATIONS, self.table(int(count)))
        out[invocations <= 0] = math.nan
        return out

    def offered_utilization(self, invocations: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """Offered load per worker: invocations / (capacity x per-instance capacity); may exceed 1."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(capacity > 0, invocations / (np.maximum(capacity, 1) * self.capacity_per_minute),
                            math.inf)

    def failed(self, invocations: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """The invocations of an overloaded minute beyond what the instances in service complete
        in it: the minute's addition to the backlog (``autoscaling.backlog`` carries it into the
        next minutes; past SageMaker's 60-second invocation timeout they would fail)."""
        return np.maximum(0.0, np.asarray(invocations, dtype=float) - np.asarray(capacity) * self.capacity_per_minute)

    def sustainable_rate(self, slo_ms: float) -> float:
        """The invocations per minute at which one instance's percentile reaches ``slo_ms`` by
        the law (0 when even an idle instance misses it): the most a scaling target may ask of
        an instance, always below its capacity."""
        top = self.capacity_per_minute * (1.0 - 1e-9)
        if self.quantile_at(0.0, 1) > slo_ms:
            return 0.0
        return float(optimize.brentq(lambda rate: self.quantile_at(rate / 60.0, 1) - slo_ms, 0.0, top, xtol=1e-6,
                                     rtol=1e-10))

    def quantile_at(self, rate_per_s: float, count: int) -> float:
        """The percentile (ms) at ``rate_per_s`` over ``count`` instances, computed directly."""
        stations, workers = self.stations(count)
        return response_quantile_ms(rate_per_s / stations, workers, self.entry.service_time, self.percentile / 100.0,
                                    self.grid)
