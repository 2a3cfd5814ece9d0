"""Steady-state statistics of a closed loop: N users, one c-worker FIFO station, an overhead
delay between a response and the user's next request (the engine's model of one instance).

Calibration compares every observed minute with what a candidate (c, service time) predicts
at that minute's user count, many times over, so the loop is simulated for many systems at
once: all systems advance one request per step in numpy arrays (Kiefer-Wolfowitz: the next
arrival is the earliest user return, it starts at the later of its arrival and the earliest
free worker). Service and overhead draws come from seeded generators through inverse
distribution functions, so systems that differ only in mean or cv see the same uniforms
(common random numbers: a fit's objective is smooth in the parameters).

Besides each statistic (mean and p50/p90/p95/p99 of the latency, in ms) a system reports the
covariance of those statistics per request: the variance of a minute's statistic over n
requests is that covariance / n. Correlations come from the statistics' influence functions
(exact for independent requests), variances are inflated by the serial correlation that
batch means over the run show (queueing makes neighbouring latencies alike).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special

from simulator.distributions import lognormal_parameters, quantile_ms, weibull_shape

PERCENTILES = (50, 90, 95, 99)
STATISTICS = ("Average", "p50", "p90", "p95", "p99")  # the order of every statistics vector
BATCHES = 10
GROUPING_SYSTEMS = 400  # batches this large are split by user count
QUASI_SAMPLE = 5_000  # points of the quasi-sample that gives exact-service covariances


@dataclass(frozen=True)
class Service:
    """A service-time law by mean and cv (exponential: cv 1)."""

    family: str
    mean_ms: float
    cv: float


@dataclass(frozen=True)
class Level:
    """One closed loop to evaluate: ``users`` users against ``workers`` workers. ``delay_ms``
    is time each request spends outside the workers on top of the overhead (a constant:
    network and HTTP handling that ModelLatency may hold); the statistics exclude it."""

    users: int
    workers: int
    service: Service
    delay_ms: float = 0.0


@dataclass(frozen=True)
class LevelStats:
    """What a level predicts for one minute's statistics.

    ``values`` follow STATISTICS (ms); ``covariance`` is per request (ms^2), so a minute of
    n requests has covariance / n; ``requests`` is how many simulated requests stand behind
    ``values`` (infinite when they are exact)."""

    values: np.ndarray
    covariance: np.ndarray
    throughput_per_s: float
    requests: float


# --- unit-mean service draws by inverse distribution functions ---------------------------------

def unit_draws(family: str, cv: float, uniforms: np.ndarray) -> np.ndarray:
    """Unit-mean draws of ``family`` with this cv, one per uniform (monotone in each uniform)."""
    return _from_base(family, cv, _Base(uniforms))


class _Base:
    """The cv-free transforms of a stream's uniforms, computed once and shared by every
    family and cv drawn from it: normal scores, exponential scores and logits."""

    def __init__(self, uniforms: np.ndarray):
        self.uniforms = np.clip(uniforms, 1e-12, 1 - 1e-12)
        self._normal: np.ndarray | None = None
        self._exponential: np.ndarray | None = None
        self._logit: np.ndarray | None = None

    @property
    def normal(self) -> np.ndarray:
        if self._normal is None:
            self._normal = special.ndtri(self.uniforms)
        return self._normal

    @property
    def exponential(self) -> np.ndarray:
        if self._exponential is None:
            self._exponential = -np.log1p(-self.uniforms)
        return self._exponential

    @property
    def logit(self) -> np.ndarray:
        if self._logit is None:
            self._logit = np.log(self.uniforms) - np.log1p(-self.uniforms)
        return self._logit


def _from_base(family: str, cv: float, base: _Base) -> np.ndarray:
    if family == "exponential":
        return base.exponential
    if family == "deterministic":
        return np.ones_like(base.uniforms)
    if family == "lognormal":
        mu, sigma = lognormal_parameters(1.0, cv)
        return np.exp(mu + sigma * base.normal)
    if family == "weibull":
        k = _weibull_shape(round(cv, 6))
        return base.exponential ** (1.0 / k) / special.gamma(1.0 + 1.0 / k)
    if family == "gamma":
        grid_logit, grid_log_q = _gamma_table(round(cv, 6))
        return np.exp(np.interp(base.logit, grid_logit, grid_log_q))
    raise ValueError(family)


@lru_cache(maxsize=256)
def _weibull_shape(cv: float) -> float:
    return weibull_shape(cv)


@lru_cache(maxsize=256)
def _gamma_table(cv: float) -> tuple[np.ndarray, np.ndarray]:
    """The unit-mean gamma quantile function on a logit grid (log values): interpolating it
    is accurate to ~1e-5 and a thousand times faster than gammaincinv per draw."""
    shape = 1.0 / (cv * cv)
    grid_logit = np.linspace(-28.0, 28.0, 4097)
    grid_u = special.expit(grid_logit)
    return grid_logit, np.log(np.maximum(special.gammaincinv(shape, grid_u) / shape, 1e-300))


# --- exact statistics when nobody waits (users <= workers) -------------------------------------

def _quantiles(ordered: np.ndarray, q: float) -> np.ndarray:
    """numpy's linear quantile of each column of an already sorted (n x systems) array."""
    position = q * (ordered.shape[0] - 1)
    low = math.floor(position)
    high = min(low + 1, ordered.shape[0] - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


@dataclass(frozen=True)
class _Summary:
    """Statistics of each column of a sample (n x systems) and what their covariances need."""

    values: np.ndarray      # systems x 5: mean, p50, p90, p95, p99
    density: np.ndarray     # systems x 4: the density at each percentile
    below_mean: np.ndarray  # systems x 4: E[x 1{x <= q_p}]
    variance: np.ndarray    # systems


def _summary(sample: np.ndarray) -> _Summary:
    """One sort per column gives the quantiles, their densities (from the quantiles at
    p -+ h) and the partial means below them."""
    ordered = np.sort(sample, axis=0)
    n = ordered.shape[0]
    mean = ordered.mean(axis=0)
    cumulative = np.cumsum(ordered, axis=0)
    values, densities, partial = [mean], [], []
    for p in PERCENTILES:
        q = p / 100.0
        h = min(0.01, (1.0 - q) / 2.0)
        value = _quantiles(ordered, q)
        spread = _quantiles(ordered, q + h) - _quantiles(ordered, q - h)
        densities.append(2.0 * h / np.maximum(spread, 1e-12 * np.maximum(np.abs(value), 1e-300)))
        partial.append(cumulative[min(n - 1, int(q * (n - 1)))] / n)
        values.append(value)
    return _Summary(values=np.stack(values, axis=-1), density=np.stack(densities, axis=-1),
                    below_mean=np.stack(partial, axis=-1), variance=ordered.var(axis=0))


def _iid_covariance(summary: _Summary) -> np.ndarray:
    """The statistics' covariance per independent request (systems x 5 x 5), from their
    influence functions: Var(mean) = sigma^2; Cov(q_p, q_r) = (min(p, r) - p r) / (f_p f_r);
    Cov(mean, q_p) = (p mean - E[x 1{x <= q_p}]) / f_p."""
    probabilities = np.array(PERCENTILES) / 100.0
    systems = summary.values.shape[0]
    covariance = np.empty((systems, 5, 5))
    covariance[:, 0, 0] = summary.variance
    mean = summary.values[:, :1]
    cross = (probabilities * mean - summary.below_mean) / summary.density
    covariance[:, 0, 1:] = covariance[:, 1:, 0] = cross
    joint = np.minimum.outer(probabilities, probabilities) - np.outer(probabilities, probabilities)
    covariance[:, 1:, 1:] = joint / (summary.density[:, :, None] * summary.density[:, None, :])
    return covariance


@lru_cache(maxsize=512)
def _unit_service_covariance(family: str, cv: float) -> np.ndarray:
    """Per-request covariance of the statistics of unit-mean independent service times,
    from a quasi-sample (the inverse distribution function at evenly spaced points)."""
    uniforms = (np.arange(QUASI_SAMPLE) + 0.5) / QUASI_SAMPLE
    return _iid_covariance(_summary(unit_draws(family, cv, uniforms)[:, None]))[0]


def service_values(service: Service) -> np.ndarray:
    """The statistics of the service time itself (mean, p50, p90, p95, p99), exact."""
    return _unit_service_values(service.family, round(service.cv, 6)) * service.mean_ms


@lru_cache(maxsize=512)
def _unit_service_values(family: str, cv: float) -> np.ndarray:
    if family == "deterministic":
        return np.ones(len(STATISTICS))
    return np.array([1.0] + [quantile_ms(family, 1.0, cv, p / 100.0) for p in PERCENTILES])


def no_queue_stats(level: Level, overhead_ms: float) -> LevelStats:
    """users <= workers: nobody waits, latency = service time (independent), and each user
    cycles through service and overhead: X = N / (E[S] + overhead)."""
    service = level.service
    covariance = _unit_service_covariance(service.family, round(service.cv, 6)) * service.mean_ms ** 2
    return LevelStats(values=service_values(service), covariance=covariance,
                      throughput_per_s=level.users / ((service.mean_ms + overhead_ms) / 1000.0), requests=math.inf)


# --- the lockstep simulation ---------------------------------------------------------------------

def _streams(users: Sequence[int], steps: int, seed: int) -> dict[int, tuple[_Base, np.ndarray]]:
    """Per user count: service uniforms and overhead normals from its own seeded stream. Every
    candidate (workers, family, mean, cv) at that user count draws from the same stream, so
    their predictions differ by the candidates, not by the luck of the draw."""
    out = {}
    for n in dict.fromkeys(users):
        rng = np.random.default_rng(np.random.SeedSequence([seed, n]))
        out[n] = (_Base(rng.random(steps)), rng.standard_normal(steps))
    return out


def _draw_matrices(levels: Sequence[Level], steps: int, overhead_ms: float, overhead_cv: float,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps x systems) service and overhead times in ms, common random numbers per user count."""
    streams = _streams([lv.users for lv in levels], steps, seed)
    unit_cache: dict[tuple[int, str, float], np.ndarray] = {}
    service = np.empty((steps, len(levels)))
    overhead = np.zeros((steps, len(levels)))
    mu, sigma = lognormal_parameters(1.0, overhead_cv) if overhead_ms > 0 else (0.0, 0.0)
    for j, level in enumerate(levels):
        key = (level.users, level.service.family, round(level.service.cv, 6))
        if key not in unit_cache:
            unit_cache[key] = _from_base(level.service.family, level.service.cv, streams[level.users][0])
        service[:, j] = unit_cache[key] * level.service.mean_ms
        if overhead_ms > 0:
            overhead[:, j] = overhead_ms * np.exp(mu + sigma * streams[level.users][1])
        overhead[:, j] += level.delay_ms
    return service, overhead


def _lockstep(users: np.ndarray, workers: np.ndarray, service: np.ndarray,
              overhead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arrival and completion times (steps x systems) of every request in arrival order.

    Users start at time 0; a user returns overhead after its response; the arrival takes
    the earliest free worker (FIFO with c workers)."""
    steps, systems = service.shape
    width_users, width_workers = int(users.max()), int(workers.max())
    returns = np.full((systems, width_users), np.inf)
    free = np.full((systems, width_workers), np.inf)
    for j in range(systems):
        returns[j, :users[j]] = np.arange(users[j]) * 1e-9  # a fixed order among the first requests
        free[j, :workers[j]] = 0.0
    user_rows = np.arange(systems) * width_users
    worker_rows = np.arange(systems) * width_workers
    returns_flat, free_flat = returns.ravel(), free.ravel()
    arrival = np.empty((steps, systems))
    completion = np.empty((steps, systems))
    for t in range(steps):
        who = returns.argmin(axis=1)
        who += user_rows
        arrive = returns_flat[who]
        worker = free.argmin(axis=1)
        worker += worker_rows
        done = free_flat[worker]
        np.maximum(arrive, done, out=done)
        done += service[t]
        free_flat[worker] = done
        returns_flat[who] = done + overhead[t]
        arrival[t] = arrive
        completion[t] = done
    return arrival, completion


def _inflation(latency: np.ndarray, summary: _Summary, iid: np.ndarray) -> np.ndarray:
    """Per system: how much serial correlation inflates the statistics' variances, by batch
    means of their influences (the mean over the statistics, never below 1)."""
    measured, systems = latency.shape
    size = measured // BATCHES
    batches = latency[:size * BATCHES].reshape(BATCHES, size, systems)
    ratios = [(batches.mean(axis=1).var(axis=0, ddof=1) * size) / np.maximum(iid[:, 0, 0], 1e-300)]
    for k in range(len(PERCENTILES)):
        share = (batches <= summary.values[:, k + 1]).mean(axis=1)            # batches x systems
        variance = share.var(axis=0, ddof=1) * size / summary.density[:, k] ** 2
        ratios.append(variance / np.maximum(iid[:, k + 1, k + 1], 1e-300))
    return np.maximum(1.0, np.mean(ratios, axis=0))


def _statistics(arrival: np.ndarray, completion: np.ndarray, warmup: int) -> list[LevelStats]:
    """Per system: statistics after the warm-up, their per-request covariance and the
    throughput over the measured span."""
    latency = completion[warmup:] - arrival[warmup:]
    summary = _summary(latency)
    iid = _iid_covariance(summary)
    inflation = _inflation(latency, summary, iid)
    start, end = arrival[warmup], arrival[-1]
    done = np.count_nonzero((completion >= start) & (completion <= end), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        throughput = np.where(end > start, done / ((end - start) / 1000.0), np.nan)
    return [LevelStats(values=summary.values[j], covariance=iid[j] * inflation[j],
                       throughput_per_s=float(throughput[j]), requests=float(latency.shape[0]))
            for j in range(latency.shape[1])]


def simulate_levels(levels: Sequence[Level], overhead_ms: float, overhead_cv: float, requests: int,
                    seed: int) -> list[LevelStats]:
    """Statistics of every level after a warm-up, ``requests`` measured requests each; levels
    where nobody waits are exact, the others simulated together in lockstep (grouped by
    user count when there are many, so that few users do not pay for many)."""
    out: list[LevelStats | None] = [None] * len(levels)
    queued = []
    for i, level in enumerate(levels):
        if level.users <= level.workers:
            out[i] = no_queue_stats(level, overhead_ms + level.delay_ms)
        else:
            queued.append(i)
    for group in _groups(queued, levels):
        users = np.array([levels[i].users for i in group])
        workers = np.array([levels[i].workers for i in group])
        warmup = int(4 * users.max() + 200)
        service, overhead = _draw_matrices([levels[i] for i in group], warmup + requests, overhead_ms,
                                           overhead_cv, seed)
        arrival, completion = _lockstep(users, workers, service, overhead)
        for i, stats in zip(group, _statistics(arrival, completion, warmup), strict=True):
            out[i] = stats
    return [stats for stats in out if stats is not None]


def _groups(indices: list[int], levels: Sequence[Level]) -> list[list[int]]:
    """The systems to run together. Each lockstep step costs a fixed ~50 us plus work in
    systems x the largest user count, so small batches run as one and large ones are split
    by user count within a factor of four (bounded padding)."""
    if len(indices) < GROUPING_SYSTEMS:
        return [indices] if indices else []
    groups: dict[int, list[int]] = {}
    for i in indices:
        groups.setdefault(int(math.log2(levels[i].users)) // 2, []).append(i)
    return [groups[key] for key in sorted(groups)]
