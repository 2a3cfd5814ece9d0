"""The worker count from all the minutes: the fit profiled over integer c, a confidence set
for c, the member a profile should hold when the set has several, and the load at which
more data would tell them apart.

1. Candidates: c = 1 up to the largest c under which the minutes where nobody could wait
   (N <= c) show one latency level (queueing only adds latency); when no minute ever
   waited, the last candidate stands for every larger c too (the set is open above).
2. Each c is fitted with each service family (lognormal first for every c; gamma, Weibull
   and exponential for the c within a wide band of the best) by simulated moments
   (``calibration.moments``); chi2(c) is the best over families.
3. Confidence set: the noise in the data is estimated, not assumed: for each statistic
   (mean, p50, p90, p95, p99) its relative noise from minute to minute (a robust median of
   second differences: CloudWatch data may be noisier than the requests' own sampling, from
   an exporter or a shared host) is added to that statistic's variance in every candidate's
   fit and chi2, and to the flatness test that bounds the candidates. Then the c
   with chi2(c) - min chi2 <= phi x chi2_1(0.99) + the simulations' allowance, where
   phi = max(1, min chi2 / degrees of freedom) widens the set as much as the best fit
   still misses (a likelihood-ratio set made robust to a model that is only close) and the
   allowance covers the simulated predictions' own noise (the 99% point of the difference
   of two candidates' simulation parts); the set is the interval of such c.
4. c is determined only when the set holds one value. Otherwise the entry holds the member
   with the lowest open-traffic capacity at a tight P99 (the most conservative for
   capacity), and the report says at which user count a ramp minute would separate them.
5. A fit whose family changes and whose cv moves by more than half between the chosen c and
   a neighbouring member is unstable (the service law is not identified apart from c), and
   says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
from scipy import optimize, stats

from calibration.closedloop import Level, Service, simulate_levels
from calibration.moments import (
    Candidate,
    CandidateFit,
    Minutes,
    fit_all,
    starting_cv,
    starting_mean,
)
from simulator.analytic import allen_cunneen_quantile_ms
from simulator.distributions import quantile_ms

FIT_FAMILIES = ("lognormal", "gamma", "weibull", "exponential")
CONFIDENCE = 0.99
FLAT_TOLERANCE = 0.15      # latency levels within 15 % (plus noise) count as one level
MAX_WORKERS = 48           # candidates beyond this are not fitted (the report says so)
HOPELESS = 100.0           # a candidate this many (x phi) chi2_1(0.99) above the best is not refined further
SIMULATED_REQUESTS = 3000  # per simulated user count and candidate
OVERHEAD_CV = 0.5          # CloudWatch reports the overhead's mean only
SEED = 20_260_101
MAX_SEPARATION_USERS = 64
NOISE_MINUTES = 5          # minutes needed to estimate a statistic's noise (three second differences)
CV_SWING = 1.5             # a cv this many times another's between adjacent c, with another family: unstable


@dataclass(frozen=True)
class Separation:
    """Where one more ramp minute would tell the members apart most."""

    users: int
    invocations_per_minute: float
    chi2: float            # the smallest pairwise chi2 one such minute would add
    pair: tuple[int, int]  # the members that minute separates least


@dataclass(frozen=True)
class WorkersProfile:
    """The fit profiled over c and what it determines."""

    fits: tuple[CandidateFit, ...]      # the best family per c, by c
    by_family: dict[int, dict[str, float]]  # c -> family -> chi2 (the families fitted for that c)
    candidates: tuple[int, ...]         # the confidence set
    open_above: bool                    # its largest member stands for every larger c too
    best: CandidateFit
    chosen: CandidateFit                # what the entry holds
    degrees_of_freedom: int
    dispersion: float                   # phi
    threshold: float                    # phi x chi2_1(CONFIDENCE)
    capacity_slo_ms: float
    capacities: dict[int, float]        # member -> open-traffic rate (per s) at P99 <= capacity_slo_ms
    capped: bool                        # candidates stopped at MAX_WORKERS
    delay_test: tuple[float, float, bool] | None  # best chi2 without and with a latency outside the workers; kept?
    separation: Separation | None
    statistic_noise: tuple[float, ...] = ()  # relative noise per statistic (mean, p50, p90, p95, p99), estimated
    unstable: str | None = None                   # why the service law swings between adjacent c

    @property
    def determined(self) -> bool:
        return len(self.candidates) == 1 and not self.open_above

    def fit_of(self, workers: int) -> CandidateFit:
        return next(f for f in self.fits if f.workers == workers)


def _flat(means: np.ndarray, requests: np.ndarray, relative_noise: float = 0.0) -> bool:
    """Do these minutes show one latency level (within 15 % plus four standard errors,
    taking a latency cv as large as 1.5 and the data's own ``relative_noise`` on each mean)?"""
    if len(means) < 2:
        return True
    low, high = int(np.argmin(means)), int(np.argmax(means))
    spread = ((1.5 * means[low]) ** 2 / requests[low] + (1.5 * means[high]) ** 2 / requests[high]
              + (relative_noise * means[low]) ** 2 + (relative_noise * means[high]) ** 2)
    return bool(means[high] - means[low] <= FLAT_TOLERANCE * means[low] + 4.0 * math.sqrt(spread))


def candidate_workers(minutes: Minutes) -> tuple[list[int], bool, bool]:
    """(candidates, open above, capped): c from 1 while the minutes with N <= c stay flat
    (allowing for the noise the minutes carry on their mean, ``Minutes.noise``)."""
    noise = float(minutes.noise[0]) if minutes.noise is not None else 0.0
    top = max(1, math.ceil(float(minutes.users.max()) - 1e-6))
    workers = 1
    while workers < min(top, MAX_WORKERS):
        light = minutes.users <= workers + 1 + 1e-6
        if not _flat(minutes.values[light, 0], minutes.requests[light], noise):
            break
        workers += 1
    open_above = workers >= top and _flat(minutes.values[:, 0], minutes.requests, noise)
    return list(range(1, workers + 1)), open_above, workers >= MAX_WORKERS and not open_above


def _candidates(minutes: Minutes, workers: Sequence[int], families: Sequence[str],
                free_delay: bool) -> list[Candidate]:
    out: list[Candidate] = []
    for c in workers:
        mean = starting_mean(minutes, c)
        out.extend(Candidate(workers=c, family=f, mean_ms=mean, cv=starting_cv(minutes, c, f, mean),
                             free_delay=free_delay) for f in families)
    return out


def _best_per_worker(fits: Sequence[CandidateFit]) -> dict[int, CandidateFit]:
    best: dict[int, CandidateFit] = {}
    for fit in fits:
        if fit.workers not in best or fit.chi2 < best[fit.workers].chi2:
            best[fit.workers] = fit
    return best


def _dispersion(best: CandidateFit, parameters: int) -> tuple[int, float]:
    df = max(1, best.terms - parameters)
    return df, max(1.0, best.chi2 / df)


def statistic_noise(minutes: Minutes) -> np.ndarray:
    """Per statistic k (mean, p50, p90, p95, p99): its relative noise from minute to minute,
    estimated from the data: the median absolute second difference of log values between
    consecutive minutes (a ramp's smooth rise cancels; a noise of sd s gives sd s sqrt 6) as
    a standard deviation (/ 0.6745 / sqrt 6). Fewer than NOISE_MINUTES minutes estimate
    nothing (zero: the sampling noise alone, as the fit always carries)."""
    out = np.zeros(minutes.values.shape[1])
    for k in range(minutes.values.shape[1]):
        column = minutes.values[:, k]
        column = column[np.isfinite(column) & (column > 0)]
        if len(column) >= NOISE_MINUTES:
            out[k] = float(np.median(np.abs(np.diff(np.log(column), n=2)))) / 0.6745 / math.sqrt(6.0)
    return out


def instability(per_worker: dict[int, CandidateFit], chosen: CandidateFit) -> str | None:
    """Why the chosen member's service law is unstable: c - 1 or c + 1 fits another family
    with a cv CV_SWING times higher or lower."""
    for neighbour in (chosen.workers - 1, chosen.workers + 1):
        other = per_worker.get(neighbour)
        if other is None:
            continue
        a, b = chosen.service, other.service
        swing = max(a.cv, b.cv) / max(1e-9, min(a.cv, b.cv))
        if a.family != b.family and swing >= CV_SWING:
            return (f"the service law swings between adjacent worker counts: c = {chosen.workers} fits {a.family} "
                    f"cv {a.cv:.2f}, c = {neighbour} fits {b.family} cv {b.cv:.2f}; more ramp minutes past the knee "
                    "would pin it")
    return None


def allowance(fit: CandidateFit, best: CandidateFit) -> float:
    """How far a candidate's chi-square may lie above the best's by the two simulations' own
    noise alone: the 99% point of the difference of their simulation parts (each with
    variance 2 x its simulation share), independent at worst."""
    return float(stats.norm.ppf(CONFIDENCE)) * math.sqrt(2.0 * (fit.simulation_share + best.simulation_share))


def confidence_set(per_worker: dict[int, CandidateFit], best: CandidateFit, threshold: float) -> tuple[int, ...]:
    """Every c from the smallest to the largest whose chi-square is within the threshold (plus
    the simulations' allowance) of the best: the set is an interval (a c between two
    plausible ones is kept, the conservative reading of a noisy profile)."""
    inside = [c for c, fit in per_worker.items() if fit.chi2 - best.chi2 <= threshold + allowance(fit, best)]
    return tuple(c for c in sorted(per_worker) if min(inside) <= c <= max(inside))


def _fit_workers(minutes: Minutes, workers: Sequence[int], fixed: Service | None,
                 free_delay: bool = False) -> list[CandidateFit]:
    """Every candidate's fit. Lognormal first for every c; the other families then for the
    c whose lognormal fit is within HOPELESS x sqrt(phi) x chi2_1(0.99) of the best (a family
    changes a fit by far less than that, and each family run costs as much as the first;
    sqrt(phi): a lognormal that misses heavy tails inflates every c's chi2 alike)."""
    quantile = float(stats.chi2.ppf(CONFIDENCE, 1))
    if fixed is not None:
        candidates = [Candidate(workers=c, family=fixed.family, mean_ms=fixed.mean_ms, cv=fixed.cv, fixed=True)
                      for c in workers]
        return fit_all(candidates, minutes, OVERHEAD_CV, SIMULATED_REQUESTS, SEED, hopeless=HOPELESS * quantile)
    fits = fit_all(_candidates(minutes, workers, FIT_FAMILIES[:1], free_delay), minutes, OVERHEAD_CV,
                   SIMULATED_REQUESTS, SEED, hopeless=HOPELESS * quantile)
    best = min(fits, key=lambda f: f.chi2)
    margin = HOPELESS * quantile * math.sqrt(_dispersion(best, 2)[1])
    band = [f.workers for f in fits if f.chi2 <= best.chi2 + margin]
    return fits + fit_all(_candidates(minutes, band, FIT_FAMILIES[1:], free_delay), minutes, OVERHEAD_CV,
                          SIMULATED_REQUESTS, SEED, hopeless=margin)


def needs_delay(minutes: Minutes, fits: Sequence[CandidateFit]) -> tuple[bool, float]:
    """Does a latency outside the workers improve the best fit beyond chance (a likelihood-
    ratio test of the nested model, widened by the dispersion)? And the best chi2 with it."""
    best = min(fits, key=lambda f: f.chi2)
    trial = Candidate(workers=best.workers, family=best.service.family, mean_ms=best.service.mean_ms,
                      cv=best.service.cv, free_delay=True)
    freed = fit_all([trial], minutes, OVERHEAD_CV, SIMULATED_REQUESTS, SEED)[0]
    phi = _dispersion(best, 2)[1]
    return best.chi2 - freed.chi2 > phi * float(stats.chi2.ppf(CONFIDENCE, 1)) + allowance(freed, best), freed.chi2


def profile_workers(minutes: Minutes, fixed: Service | None = None) -> WorkersProfile:
    """Fit every candidate c (with ``fixed``, the service law raw samples gave, only c is
    free) and derive the confidence set, the chosen member and the separating load."""
    noise = statistic_noise(minutes)
    minutes = replace(minutes, noise=noise)  # every candidate is fitted with the data's own noise
    workers, open_above, capped = candidate_workers(minutes)
    fits = _fit_workers(minutes, workers, fixed)
    parameters = 0 if fixed is not None else 2
    delay_test = None
    if fixed is None:
        needed, freed_chi2 = needs_delay(minutes, fits)
        delay_test = (min(f.chi2 for f in fits), freed_chi2, needed)
        if needed:
            fits = _fit_workers(minutes, workers, fixed, free_delay=True)
            parameters = 3
    per_worker = _best_per_worker(fits)
    best = min(per_worker.values(), key=lambda f: f.chi2)
    df, phi = _dispersion(best, parameters)
    threshold = phi * float(stats.chi2.ppf(CONFIDENCE, 1))
    members = confidence_set(per_worker, best, threshold)
    open_above = open_above and members[-1] == workers[-1]
    chosen, slo, capacities = _most_conservative([per_worker[c] for c in members], minutes.overhead_ms)
    separation = None if len(members) == 1 and not open_above else separating_load(
        [per_worker[c] for c in members], minutes)
    by_family: dict[int, dict[str, float]] = {}
    for fit in fits:
        by_family.setdefault(fit.workers, {})[fit.service.family] = fit.chi2
    return WorkersProfile(fits=tuple(per_worker[c] for c in sorted(per_worker)), by_family=by_family,
                          candidates=members,
                          open_above=open_above, best=best, chosen=chosen, degrees_of_freedom=df, dispersion=phi,
                          threshold=threshold, capacity_slo_ms=slo, capacities=capacities, capped=capped,
                          delay_test=delay_test, separation=separation,
                          statistic_noise=tuple(float(x) for x in noise),
                          unstable=instability(per_worker, chosen))


# --- the member to plan with ------------------------------------------------------------------

def approximate_p99_ms(rate_per_s: float, workers: int, service: Service) -> float:
    """Open-traffic P99 latency by the Allen-Cunneen-scaled M/M/c law (simulator.analytic)."""
    return allen_cunneen_quantile_ms(rate_per_s, workers, service.mean_ms, service.cv, 0.99,
                                     lambda level: quantile_ms(service.family, service.mean_ms, service.cv, level))


def open_capacity_per_s(fit: CandidateFit, slo_ms: float) -> float:
    """The open-traffic rate at which the approximate P99 reaches ``slo_ms`` (0 if never)."""
    top = fit.workers / (fit.service.mean_ms / 1000.0)
    if approximate_p99_ms(top * 1e-6, fit.workers, fit.service) > slo_ms:
        return 0.0
    return float(optimize.brentq(lambda r: approximate_p99_ms(r, fit.workers, fit.service) - slo_ms,
                                 top * 1e-6, top * (1 - 1e-9), xtol=top * 1e-6))


def _most_conservative(members: Sequence[CandidateFit], overhead_ms: float
                       ) -> tuple[CandidateFit, float, dict[int, float]]:
    """The member with the lowest open-traffic capacity at P99 <= twice the largest service
    P99 among the members (a tight SLO every member can meet); the SLO; every capacity."""
    slo = 2.0 * max(quantile_ms(m.service.family, m.service.mean_ms, m.service.cv, 0.99) for m in members)
    capacities = {m.workers: open_capacity_per_s(m, slo) for m in members}
    chosen = min(members, key=lambda m: (capacities[m.workers], -m.workers))
    return chosen, slo, capacities


# --- where more data would tell ---------------------------------------------------------------------

def separating_load(members: Sequence[CandidateFit], minutes: Minutes) -> Separation | None:
    """The user count at which one more minute separates the members best: the largest, over
    N, of the smallest pairwise chi2 between the members' predictions for that minute."""
    shortlist = sorted(members, key=lambda f: f.chi2)[:6]
    if len(shortlist) < 2:
        return None
    top = min(MAX_SEPARATION_USERS, max(2 * math.ceil(float(minutes.users.max())),
                                        max(m.workers for m in shortlist) + 2))
    users = list(range(1, top + 1))
    levels = [Level(n, m.workers, m.service, m.delay_ms) for m in shortlist for n in users]
    results = simulate_levels(levels, minutes.overhead_ms, OVERHEAD_CV, SIMULATED_REQUESTS, SEED + 1)
    table = {(m.workers, n): results[i * len(users) + k] for i, m in enumerate(shortlist) for k, n in enumerate(users)}
    best: Separation | None = None
    for n in users:
        worst_pair, smallest, rate = (0, 0), math.inf, 0.0
        for a, b in combinations(shortlist, 2):
            sa, sb = table[(a.workers, n)], table[(b.workers, n)]
            requests = 60.0 * (sa.throughput_per_s + sb.throughput_per_s) / 2.0
            delta = (sa.values + a.delay_ms) - (sb.values + b.delay_ms)
            noise = (sa.covariance + sb.covariance) / 2.0 / requests
            noise += (sa.covariance / sa.requests + sb.covariance / sb.requests)
            chi2 = float(delta @ np.linalg.solve(noise + np.eye(len(delta)) * 1e-12, delta))
            if chi2 < smallest:
                worst_pair, smallest, rate = (a.workers, b.workers), chi2, requests
        if best is None or smallest > best.chi2:
            best = Separation(users=n, invocations_per_minute=rate, chi2=smallest, pair=worst_pair)
    return best
