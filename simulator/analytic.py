"""Queueing theory the simulator is checked against (and the optimizer pre-screens with).

All times in seconds, rates per second. ``workers`` is c, ``service_s`` the mean service
time S, ``think_s`` the think time Z of a closed-loop user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class ClosedSolution:
    """Exact steady state of N closed-loop users at one c-worker FCFS exponential station."""

    throughput_per_s: float
    response_s: float
    queue_probabilities: np.ndarray  # P(j requests at the station), j = 0..N


def throughput_bound(users: int, service_s: float, think_s: float, workers: int) -> float:
    """Asymptotic bound for any service distribution: X <= min(N / (S + Z), c / S)."""
    return min(users / (service_s + think_s), workers / service_s)


def response_time_law(users: int, throughput_per_s: float, think_s: float) -> float:
    """Interactive response-time law: R = N / X - Z (holds for every distribution)."""
    return users / throughput_per_s - think_s


def mva(users: int, workers: int, service_s: float, think_s: float = 0.0) -> ClosedSolution:
    """Exact load-dependent mean value analysis, mu(j) = min(j, c) / S."""
    probabilities = np.array([1.0])
    throughput = response = 0.0
    for n in range(1, users + 1):
        j = np.arange(1, n + 1)
        inverse_rate = service_s / np.minimum(j, workers)  # 1 / mu(j)
        response = float(np.sum(j * inverse_rate * probabilities[:n]))
        throughput = n / (think_s + response)
        busy = throughput * inverse_rate * probabilities[:n]
        probabilities = np.concatenate(([max(0.0, 1.0 - busy.sum())], busy))
    return ClosedSolution(throughput, response, probabilities)


def finite_source(users: int, workers: int, service_s: float, think_s: float) -> ClosedSolution:
    """The M/M/c//N birth-death chain: births (N - j) / Z, deaths min(j, c) / S."""
    if think_s <= 0:
        probabilities = np.zeros(users + 1)
        probabilities[users] = 1.0
    else:
        log_weights = np.zeros(users + 1)
        for j in range(1, users + 1):
            birth, death = (users - j + 1) / think_s, min(j, workers) / service_s
            log_weights[j] = log_weights[j - 1] + math.log(birth) - math.log(death)
        probabilities = np.exp(log_weights - log_weights.max())
        probabilities /= probabilities.sum()
    in_service = np.minimum(np.arange(users + 1), workers)
    throughput = float(np.sum(probabilities * in_service / service_s))
    return ClosedSolution(throughput, response_time_law(users, throughput, think_s), probabilities)


def closed_zero_think_latency_cdf(t: float, users: int, workers: int, service_s: float) -> float:
    """P(latency <= t) with zero think time and exponential service, N >= c:
    an Erlang(N - c, c / S) wait for the N - c requests ahead, then an Exp(1 / S) service."""
    mu = 1.0 / service_s
    exp_cdf = -math.expm1(-mu * t)
    waits = users - workers
    if waits <= 0 or t <= 0:
        return exp_cdf if t > 0 else 0.0
    theta = workers * mu
    wait_cdf = stats.gamma.cdf(t, waits, scale=1.0 / theta)
    if workers == 1:
        log_term = -mu * t + waits * math.log(mu * t) - math.lgamma(waits + 1)
    else:
        log_term = (-mu * t + waits * math.log(theta / (theta - mu))
                    + stats.gamma.logcdf(t, waits, scale=1.0 / (theta - mu)))
    return float(wait_cdf - math.exp(log_term))


def closed_zero_think_latency_quantile(q: float, users: int, workers: int, service_s: float) -> float:
    """The q-quantile (0 < q < 1) of the latency law above."""
    waits = max(0, users - workers)
    mean = waits * service_s / workers + service_s
    upper = mean + 60.0 * service_s * (1 + math.sqrt(waits) / workers)
    return optimize.brentq(lambda t: closed_zero_think_latency_cdf(t, users, workers, service_s) - q,
                           0.0, upper, xtol=1e-12)


def erlang_c(workers: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lambda S < c."""
    if offered_load >= workers:
        return 1.0
    erlang_b = 1.0
    for k in range(1, workers + 1):
        erlang_b = offered_load * erlang_b / (k + offered_load * erlang_b)
    return workers * erlang_b / (workers - offered_load * (1.0 - erlang_b))


def mmc_mean_response_s(rate_per_s: float, workers: int, service_s: float) -> float:
    """Mean response time (wait + service) of M/M/c; infinite when unstable."""
    load = rate_per_s * service_s
    if load >= workers:
        return math.inf
    return erlang_c(workers, load) / (workers / service_s - rate_per_s) + service_s


def mmc_response_survival(t: float, rate_per_s: float, workers: int, service_s: float) -> float:
    """Exact P(response > t) of M/M/c FCFS: Exp(mu) service plus, with probability C,
    an Exp(c mu - lambda) wait."""
    mu = 1.0 / service_s
    theta = workers * mu - rate_per_s
    if theta <= 0:
        return 1.0
    waiting = erlang_c(workers, rate_per_s * service_s)
    if abs(theta - mu) < 1e-12 * mu:
        both = math.exp(-mu * t) * (1.0 + mu * t)
    else:
        both = (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
    return (1.0 - waiting) * math.exp(-mu * t) + waiting * both


def mmc_response_quantile(q: float, rate_per_s: float, workers: int, service_s: float) -> float:
    """The q-quantile of the M/M/c response time; infinite when unstable."""
    if rate_per_s * service_s >= workers:
        return math.inf
    upper = service_s
    while mmc_response_survival(upper, rate_per_s, workers, service_s) > 1.0 - q:
        upper *= 2.0
    return optimize.brentq(lambda t: mmc_response_survival(t, rate_per_s, workers, service_s) - (1.0 - q),
                           0.0, upper, xtol=1e-12)


def allen_cunneen_mean_response_s(rate_per_s: float, workers: int, service_s: float,
                                  service_cv: float, arrival_cv: float = 1.0) -> float:
    """Allen-Cunneen's G/G/c approximation: Erlang C wait scaled by (ca^2 + cs^2) / 2."""
    load = rate_per_s * service_s
    if load >= workers:
        return math.inf
    wait = erlang_c(workers, load) / (workers / service_s - rate_per_s)
    return wait * (arrival_cv ** 2 + service_cv ** 2) / 2.0 + service_s
