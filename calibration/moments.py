"""Simulated method of moments: how well one candidate (workers, service-time law) explains
every observed minute.

Each minute of a closed-loop test carries its user count in its own numbers: by Little's
law over the minute, N = X x (mean ModelLatency + mean overhead), exact up to the requests
in flight at the minute's edges. The candidate predicts the minute's statistics (mean,
p50, p90, p95, p99 of ModelLatency) at that N, interpolating between simulated integer
user counts, and the minute's chi-square is the residual's quadratic form in the
statistics' covariance (the minute's own sampling noise over its n requests plus the
simulation's). The minutes are independent, so the chi-squares add.

A candidate's mean is fitted by scaling (a run at mean m0 rescaled to m is exact but for
the overhead-to-service ratio, so the reference is re-centred when m moves), its cv by
quadratic interpolation between runs at three cvs (common random numbers keep the
statistics smooth in cv), and a constant latency outside the workers d >= 0 (network and
HTTP handling that ModelLatency holds but no worker is busy with: it shifts every
statistic and lengthens the loop like overhead) by shifting, re-centred like the mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import optimize

from calibration.closedloop import PERCENTILES, STATISTICS, Level, LevelStats, Service, simulate_levels
from simulator.analytic import mva
from simulator.distributions import quantile_ms

MIN_FIT_REQUESTS = 20     # a minute with fewer requests says too little to fit
CV_STEP = 1.25            # the cv grid: cv0 / 1.25, cv0, cv0 x 1.25
MEAN_TRUST = 0.04         # re-centre when the fitted mean leaves m0 by more than this
CV_BOUNDS = (0.05, 4.0)
DELAY_SHARE = 0.5         # the latency outside the workers is at most half the lowest minute's mean latency
DEFAULT_START_CV = 0.5
ROUNDS = 4
STAT_COLUMNS = ("ModelLatency_Average", "ModelLatency_p50", "ModelLatency_p90", "ModelLatency_p95",
                "ModelLatency_p99")


@dataclass(frozen=True)
class Minutes:
    """The observed minutes the fit uses (per instance)."""

    users: np.ndarray         # N per minute, from Little's law (continuous)
    requests: np.ndarray      # invocations per minute
    values: np.ndarray        # (minutes x 5) mean, p50, p90, p95, p99 of ModelLatency, ms (NaN: absent)
    overhead_ms: float        # the invocation-weighted mean OverheadLatency (0 when not reported)
    overhead_reported: bool
    stamps: tuple[str, ...]
    noise: np.ndarray | None = None  # each statistic's relative noise beyond sampling (estimated: calibration.workers)

    @property
    def throughput_per_s(self) -> np.ndarray:
        return self.requests / 60.0

    def needed_users(self) -> tuple[int, ...]:
        """The integer user counts the minutes lie between."""
        low = np.maximum(1, np.floor(self.users)).astype(int)
        high = np.maximum(1, np.ceil(self.users)).astype(int)
        return tuple(sorted(set(low.tolist()) | set(high.tolist())))


def observed_minutes(frame: pd.DataFrame, invocations: pd.Series) -> Minutes:
    """The minutes with enough invocations and a mean latency, with their user counts."""
    mean_us = frame["ModelLatency_Average"]
    keep = (invocations >= MIN_FIT_REQUESTS) & mean_us.notna() & (mean_us > 0)
    values = np.full((int(keep.sum()), len(STATISTICS)), np.nan)
    for k, column in enumerate(STAT_COLUMNS):
        if column in frame:
            values[:, k] = frame.loc[keep, column].to_numpy(dtype=float) / 1000.0
    requests = invocations[keep].to_numpy(dtype=float)
    reported = "OverheadLatency_Average" in frame and bool(frame.loc[keep, "OverheadLatency_Average"].notna().any())
    if reported:
        overhead = frame.loc[keep, "OverheadLatency_Average"].to_numpy(dtype=float) / 1000.0
        known = np.isfinite(overhead)
        mean_overhead = float(np.average(overhead[known], weights=requests[known]))
        overhead = np.where(known, overhead, mean_overhead)
    else:
        overhead, mean_overhead = np.zeros(len(requests)), 0.0
    users = requests / 60.0 * (values[:, 0] + overhead) / 1000.0
    return Minutes(users=users, requests=requests, values=values, overhead_ms=mean_overhead,
                   overhead_reported=reported, stamps=tuple(str(s) for s in frame.index[keep]))


# --- one candidate -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """A worker count and service family to fit, and where its search stands."""

    workers: int
    family: str
    mean_ms: float           # the reference mean the runs use (m0)
    cv: float                # the centre of the cv grid
    fixed: bool = False      # the service law is known (raw samples): nothing to fit
    delay_ms: float = 0.0    # the reference latency outside the workers the runs use (d0)
    free_delay: bool = False  # fit the latency outside the workers too (else it stays at delay_ms)


@dataclass(frozen=True)
class CandidateFit:
    """A candidate's best service law and its chi-square over the minutes."""

    workers: int
    service: Service
    chi2: float
    terms: int               # statistics compared
    converged: bool
    simulation_share: float = 0.0  # sum over the statistics of (simulation variance / total variance)^2
    delay_ms: float = 0.0          # latency outside the workers: ModelLatency = delay + wait + service
    residuals: np.ndarray | None = field(default=None, repr=False, compare=False)    # minutes x 5 (0: absent)
    covariances: np.ndarray | None = field(default=None, repr=False, compare=False)  # minutes x 5 x 5 (S)


def _cvs(candidate: Candidate) -> tuple[float, ...]:
    if candidate.fixed or candidate.family in ("exponential", "deterministic"):
        return (candidate.cv,)
    return (candidate.cv / CV_STEP, candidate.cv, candidate.cv * CV_STEP)


def levels_for(candidate: Candidate, users: Sequence[int]) -> list[Level]:
    """Every (cv, users) run the candidate needs, in the order _predictor reads them."""
    return [Level(n, candidate.workers, Service(candidate.family, candidate.mean_ms, cv), candidate.delay_ms)
            for cv in _cvs(candidate) for n in users]


def _lagrange(x: float, nodes: Sequence[float]) -> np.ndarray:
    """Quadratic (or lower) interpolation weights at x."""
    weights = np.ones(len(nodes))
    for i, xi in enumerate(nodes):
        for j, xj in enumerate(nodes):
            if i != j:
                weights[i] *= (x - xj) / (xi - xj)
    return weights


class Predictor:
    """A candidate's statistics for the observed minutes at any (mean, cv) near its reference:
    values, covariance per request and the simulation's own covariance. The interpolation
    over user counts is done once, for the minutes' N; only the cv and the scale vary."""

    def __init__(self, candidate: Candidate, users: Sequence[int], stats: Sequence[LevelStats], minutes: Minutes):
        cvs = _cvs(candidate)
        self.log_cvs = [math.log(cv) for cv in cvs]
        shape = (len(cvs), len(users))
        m0 = candidate.mean_ms
        values = np.array([s.values / m0 for s in stats]).reshape(*shape, -1)
        covariance = np.array([s.covariance / m0 ** 2 for s in stats]).reshape(*shape, 5, 5)
        inverse_n = 1.0 / np.array([s.requests for s in stats]).reshape(shape)   # 0 where exact
        grid = np.asarray(users, dtype=float)
        position = np.clip(np.interp(minutes.users, grid, np.arange(len(grid))), 0, len(grid) - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, len(grid) - 1)
        w = position - low
        self.values = (1 - w)[:, None] * values[:, low] + w[:, None] * values[:, high]          # cvs x minutes x 5
        self.covariance = ((1 - w)[:, None, None] * covariance[:, low]
                           + w[:, None, None] * covariance[:, high])                          # cvs x minutes x 5 x 5
        self.simulation = (((1 - w) ** 2 * inverse_n[:, low])[..., None, None] * covariance[:, low]
                           + (w ** 2 * inverse_n[:, high])[..., None, None] * covariance[:, high])

    def at(self, mean_ms: float, cv: float, delay_ms: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, covariance per request, simulation covariance) for each minute: values
        quadratic in log cv through the runs, covariances linear between the nearest two;
        the latency outside the workers shifts every statistic."""
        if len(self.log_cvs) == 1:
            value_w = cov_w = np.ones(1)
        else:
            x = math.log(cv)
            value_w = _lagrange(x, self.log_cvs)
            x = min(max(x, self.log_cvs[0]), self.log_cvs[-1])
            k = 0 if x <= self.log_cvs[1] else 1
            t = (x - self.log_cvs[k]) / (self.log_cvs[k + 1] - self.log_cvs[k])
            cov_w = np.zeros(3)
            cov_w[k], cov_w[k + 1] = 1.0 - t, t
        scale = mean_ms ** 2
        return (np.tensordot(value_w, self.values, axes=1) * mean_ms + delay_ms,
                np.tensordot(cov_w, self.covariance, axes=1) * scale,
                np.tensordot(cov_w, self.simulation, axes=1) * scale)


def residuals(minutes: Minutes, predicted: np.ndarray, covariance: np.ndarray,
              simulation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per minute, the residual r of the statistics it reports (0 where absent) and their
    covariance S = covariance / n + simulation covariance (the identity where absent)."""
    present = np.isfinite(minutes.values)
    residual = np.where(present, minutes.values - predicted, 0.0)
    total = covariance / minutes.requests[:, None, None] + simulation
    if minutes.noise is not None:  # the data's own noise, beside the requests' sampling noise
        extra = (minutes.noise[None, :] * np.nan_to_num(minutes.values, nan=0.0)) ** 2
        total = total + extra[:, :, None] * np.eye(extra.shape[1])[None, :, :]
    mask = present[:, :, None] & present[:, None, :]
    eye = np.broadcast_to(np.eye(residual.shape[1]), total.shape)
    total = np.where(mask, total, eye)
    return residual, total + eye * 1e-12 * np.maximum(np.abs(predicted[:, :, None]), 1e-6) ** 2


def quadratic_form(residual: np.ndarray, total: np.ndarray) -> float:
    """Sum over minutes of r' S^-1 r."""
    solved = np.linalg.solve(total, residual[:, :, None])[:, :, 0]
    return float(np.sum(residual * solved))


def chi_square(minutes: Minutes, predicted: np.ndarray, covariance: np.ndarray,
               simulation: np.ndarray) -> tuple[float, int]:
    """Sum over minutes of r' S^-1 r, S = covariance / n + simulation covariance, over the
    statistics each minute reports; and how many statistics entered."""
    residual, total = residuals(minutes, predicted, covariance, simulation)
    return quadratic_form(residual, total), int(np.isfinite(minutes.values).sum())


def simulation_share(minutes: Minutes, covariance: np.ndarray, simulation: np.ndarray) -> float:
    """How much of the chi-square is the simulation's own noise: the sum over the compared
    statistics of its variance's share, squared (a chi-square's variance is twice its terms)."""
    present = np.isfinite(minutes.values)
    own = np.einsum("mkk->mk", simulation)
    total = np.einsum("mkk->mk", covariance) / minutes.requests[:, None] + own
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(present & (total > 0), own / total, 0.0)
    return float(np.sum(share ** 2))


def _search(candidate: Candidate, predictor: Predictor, minutes: Minutes) -> tuple[float, float, float]:
    """The (mean, cv, delay) with the smallest chi-square near the candidate's reference."""
    m0, cv0, d0 = candidate.mean_ms, candidate.cv, candidate.delay_ms
    if candidate.fixed:
        return m0, cv0, d0

    def objective(point: np.ndarray) -> float:
        return chi_square(minutes, *predictor.at(math.exp(point[0]), math.exp(point[1]), point[2]))[0]

    cvs = _cvs(candidate)
    cv_low, cv_high = (math.log(cv0), math.log(cv0)) if len(cvs) == 1 else \
        (math.log(cvs[0]) - 0.1, math.log(cvs[-1]) + 0.1)
    delay_cap = max(0.0, DELAY_SHARE * float(np.nanmin(minutes.values[:, 0])))
    delays = (max(0.0, d0 - 2.5 * MEAN_TRUST * m0), min(delay_cap, d0 + 2.5 * MEAN_TRUST * m0)) \
        if candidate.free_delay else (d0, d0)
    bounds = [(math.log(m0) - 2.5 * MEAN_TRUST, math.log(m0) + 2.5 * MEAN_TRUST), (cv_low, cv_high), delays]
    start = np.array([math.log(m0), math.log(cv0), min(max(d0, bounds[2][0]), bounds[2][1])])
    steps = np.array([0.02, 0.1 if len(cvs) > 1 else 0.0, 0.02 * m0 if bounds[2][1] > bounds[2][0] else 0.0])
    simplex = np.vstack([start] + [start + np.eye(3)[k] * (steps[k] or 1e-9) for k in range(3)])
    result = optimize.minimize(objective, start, method="Nelder-Mead", bounds=bounds,
                               options={"xatol": 1e-4, "fatol": 1e-3, "maxfev": 600, "initial_simplex": simplex})
    return math.exp(result.x[0]), math.exp(result.x[1]), float(result.x[2])


def fit_candidate(candidate: Candidate, predictor: Predictor, minutes: Minutes) -> tuple[CandidateFit, Candidate]:
    """The best (mean, cv, delay) near the candidate's reference; and the re-centred candidate
    to run next when the best lies outside the region the runs describe (the same when
    inside)."""
    m0, d0 = candidate.mean_ms, candidate.delay_ms
    mean, cv, delay = _search(candidate, predictor, minutes)
    predicted, covariance, simulation = predictor.at(mean, cv, delay)
    residual, total = residuals(minutes, predicted, covariance, simulation)
    chi2, terms = quadratic_form(residual, total), int(np.isfinite(minutes.values).sum())
    cvs = _cvs(candidate)
    cv_inside = len(cvs) == 1 or cvs[0] * 1.06 <= cv <= cvs[-1] / 1.06
    inside = candidate.fixed or (abs(mean / m0 - 1) <= MEAN_TRUST and cv_inside and abs(delay - d0) <= MEAN_TRUST * m0)
    fit = CandidateFit(workers=candidate.workers, service=Service(candidate.family, mean, cv), chi2=chi2, terms=terms,
                       converged=inside, simulation_share=simulation_share(minutes, covariance, simulation),
                       delay_ms=delay, residuals=residual, covariances=total)
    clamped_cv = min(max(cv, CV_BOUNDS[0]), CV_BOUNDS[1])
    return fit, (candidate if inside else replace(candidate, mean_ms=mean, cv=clamped_cv, delay_ms=delay))


def fit_all(candidates: Sequence[Candidate], minutes: Minutes, overhead_cv: float, requests: int, seed: int,
            hopeless: float = math.inf) -> list[CandidateFit]:
    """Fit every candidate, re-centring and re-running those whose best left their region
    (up to ROUNDS runs; all pending candidates' runs go through one lockstep simulation). A
    candidate whose chi-square exceeds the best so far by more than ``hopeless`` is not
    re-run: where exactly it would end does not matter."""
    users = minutes.needed_users()
    pending = list(enumerate(candidates))
    fits: dict[int, CandidateFit] = {}
    for _ in range(ROUNDS):
        levels = [levels_for(candidate, users) for _, candidate in pending]
        stats = simulate_levels([level for group in levels for level in group], minutes.overhead_ms, overhead_cv,
                                requests, seed)
        position, moved = 0, []
        for (index, candidate), group in zip(pending, levels, strict=True):
            chunk = stats[position:position + len(group)]
            position += len(group)
            fits[index], following = fit_candidate(candidate, Predictor(candidate, users, chunk, minutes), minutes)
            if not fits[index].converged:
                moved.append((index, following))
        best = min(fit.chi2 for fit in fits.values())
        pending = [(i, c) for i, c in moved if fits[i].chi2 <= best + hopeless]
        if not pending:
            break
    return [fits[i] for i in range(len(candidates))]


# --- where a candidate's search starts -----------------------------------------------------------

def starting_mean(minutes: Minutes, workers: int) -> float:
    """The mean service time a candidate starts from: the mean latency of the minutes where
    nobody waits under it (users <= workers), else the mean that best follows the minutes'
    mean latency in exact MVA (exponential service, the overhead as think time)."""
    light = minutes.users <= workers + 1e-6
    if light.any():
        return float(np.average(minutes.values[light, 0], weights=minutes.requests[light]))
    observed = minutes.values[:, 0]
    populations = np.maximum(1, np.round(minutes.users)).astype(int)
    think_s = minutes.overhead_ms / 1000.0

    def error(log_mean: float) -> float:
        mean_s = math.exp(log_mean) / 1000.0
        predicted = np.array([mva(int(n), workers, mean_s, think_s).response_s * 1000.0 for n in populations])
        return float(np.sum(minutes.requests * (np.log(predicted) - np.log(observed)) ** 2))

    high = math.log(max(float(observed.min()), 1e-6))
    result = optimize.minimize_scalar(error, bounds=(high - math.log(4 * max(populations.max(), 2)), high),
                                      method="bounded", options={"xatol": 1e-3})
    return math.exp(float(result.x))


def _matched_cv(family: str, mean_ms: float, quantiles: dict[int, float]) -> float:
    """The cv whose ``family`` percentiles (at this mean) best match ``quantiles`` (log scale)."""
    return _matched_cv_cached(family, tuple(sorted((p, q / mean_ms) for p, q in quantiles.items())))


@lru_cache(maxsize=1024)
def _matched_cv_cached(family: str, relative: tuple[tuple[int, float], ...]) -> float:
    """_matched_cv at mean 1 (percentiles relative to the mean: the cv does not depend on scale)."""
    mean_ms, quantiles = 1.0, dict(relative)

    def error(log_cv: float) -> float:
        cv = math.exp(log_cv)
        return sum((math.log(quantile_ms(family, mean_ms, cv, p / 100.0)) - math.log(q)) ** 2
                   for p, q in quantiles.items())

    result = optimize.minimize_scalar(error, bounds=(math.log(CV_BOUNDS[0]), math.log(CV_BOUNDS[1])),
                                      method="bounded", options={"xatol": 1e-3})
    return math.exp(float(result.x))


def _percentiles(minutes: Minutes, rows: np.ndarray) -> dict[int, float]:
    """The request-weighted mean of each reported percentile over ``rows``."""
    out = {}
    for k, p in enumerate(PERCENTILES, start=1):
        column = minutes.values[rows, k]
        known = np.isfinite(column) & (column > 0)
        if known.any():
            out[p] = float(np.average(column[known], weights=minutes.requests[rows][known]))
    return out


def starting_cv(minutes: Minutes, workers: int, family: str, mean_ms: float) -> float:
    """The cv a candidate starts from: quantile matching over the minutes where nobody waits;
    else the latency spread of the lightest minute with the wait's share taken out (the wait
    for N - c departures of c busy workers adds about (N - c) / c^2 service variances)."""
    if family == "exponential":
        return 1.0
    light = minutes.users <= workers + 1e-6
    if light.any():
        quantiles = _percentiles(minutes, light)
        return _matched_cv(family, mean_ms, quantiles) if quantiles else DEFAULT_START_CV
    lightest = np.zeros(len(minutes.users), dtype=bool)
    lightest[int(np.argmin(minutes.users))] = True
    quantiles = _percentiles(minutes, lightest)
    if not quantiles:
        return DEFAULT_START_CV
    latency_mean = float(minutes.values[lightest, 0][0])
    latency_cv = _matched_cv("lognormal", latency_mean, quantiles)
    n = float(minutes.users[lightest][0])
    spread = latency_cv * latency_mean / (mean_ms * math.sqrt(1.0 + max(n - workers, 0.0) / workers ** 2))
    return min(max(spread, 0.1), 3.0)
