"""Queueing theory the simulator is checked against (and the optimizer pre-screens with).

All times in seconds, rates per second. ``workers`` is c, ``service_s`` the mean service
time S, ``think_s`` the think time Z of a closed-loop user.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from simulator.traffic import Traffic


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


# --- Serverless: a loss system whose requests may start cold -------------------------------


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of an M/G/c/c loss system (insensitive to the holding-time law)."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def loss_distribution(servers: int, offered_load: float) -> np.ndarray:
    """P(n busy), n = 0..c, of the M/G/c/c loss system: a Poisson(a) law truncated at c."""
    n = np.arange(servers + 1)
    log_weights = n * math.log(offered_load) - np.array([math.lgamma(k + 1) for k in n])
    weights = np.exp(log_weights - log_weights.max())
    return weights / weights.sum()


def no_rise_probabilities(levels: int, rate_per_s: float, mean_hold_s: float, horizon_s: float,
                          nodes: int = 24) -> np.ndarray:
    """P(an M/M/inf occupancy that starts at n stays <= n for ``horizon_s``), n = 0..levels-1.

    The first passage from n to n + 1 has the Laplace transform 1 - psi_n(s), where
    psi_0 = s / (s + lambda) and psi_n = (s + n mu psi_(n-1)) / (s + lambda + n mu psi_(n-1))
    (go up at once, or down first and come back); its survival psi_n(s) / s is inverted by
    the fixed Talbot method (Abate and Valko 2004), about 12 digits with 24 nodes."""
    k = np.arange(1, nodes)
    theta = k * np.pi / nodes
    r = 2.0 * nodes / (5.0 * horizon_s)
    cot = 1.0 / np.tan(theta)
    s = np.concatenate(([complex(r)], r * theta * (cot + 1j)))
    weight = np.exp(horizon_s * s) * (1 + 1j * np.concatenate(([0.0], theta + (theta * cot - 1.0) * cot)))
    weight[0] = 0.5 * math.exp(r * horizon_s)
    mu = 1.0 / mean_hold_s
    out = np.empty(levels)
    psi = s / (s + rate_per_s)
    for n in range(levels):
        if n:
            psi = (s + n * mu * psi) / (s + rate_per_s + n * mu * psi)
        out[n] = r / nodes * float(np.sum((weight * psi / s).real))
    return np.clip(out, 0.0, 1.0)


def cold_start_fraction(rate_per_s: float, service_s: float, setup_s: float, idle_timeout_s: float,
                        max_concurrency: int) -> float:
    """The share of admitted requests that start cold on a serverless endpoint at steady state
    (Poisson arrivals, most recently used warm environment first, idle environments reclaimed
    ``idle_timeout_s`` after their last request). An approximation:

    - an arrival that finds n requests holding environments is cold exactly when no environment
      went idle in the last T = ``idle_timeout_s`` and is still idle: when the occupancy has
      not exceeded n over the last T (reusing the most recent environment first, the
      environments used within T are as many as the occupancy's maximum over T);
    - the occupancy is read as the M/M/c/c chain with the mean holding time
      H = S + p U (a cold start holds its slot for setup U plus service S); it is time
      reversible, so "not exceeded over the last T" has the probability that the chain
      started at n does not reach n + 1 within T (``no_rise_probabilities``);
    - p = sum_(n < c) P(n) q_n(p) / (1 - P(c)) is solved as a fixed point in p.

    Exact at the ends: T = 0 gives 1 (every start cold), c = 1 gives exp(-lambda T) (the next
    arrival after a completion comes within T or not), T -> inf gives 0. In between, measured
    against the simulator (experiments/serverless_crossover.py, tests/test_serverless_sizing.py)
    it is mostly within 15-35 %, and up to 3x high when S << U with a few arrivals per idle
    timeout (the exponential holding with the mean smooths a bimodal one)."""
    if idle_timeout_s <= 0:
        return 1.0
    if not math.isfinite(idle_timeout_s):
        return 0.0

    def implied(p: float) -> float:
        hold = service_s + p * setup_s
        occupancy = loss_distribution(max_concurrency, rate_per_s * hold)
        stays = no_rise_probabilities(max_concurrency, rate_per_s, hold, idle_timeout_s)
        return float(np.dot(occupancy[:-1], stays) / (1.0 - occupancy[-1]))

    if implied(0.0) <= 1e-12:
        return 0.0
    return float(optimize.brentq(lambda p: implied(p) - p, 0.0, 1.0, xtol=1e-12))


def serverless_blocking(rate_per_s: float, service_s: float, setup_s: float, idle_timeout_s: float,
                        max_concurrency: int) -> float:
    """Throttled share by the sizing law: Erlang B(c, lambda (S + p U)), the setup inside the
    holding time of the fraction p of requests that start cold (``cold_start_fraction``).

    Exact when p is: T = 0 (every start cold), T -> inf at steady state (none), c = 1. In
    between it treats cold starts as independent, and they are not: a cold start happens when
    the warm pool is exhausted, and the pool stays short for the whole setup, so cold starts
    come in bursts. Measured with a 2.5 s setup and a 2 s idle timeout (service 6 ms), it reads
    20x low at 60 arrivals a minute, 6x high at 300, 4x low at 1,000 and within 1.5x from 3,000
    up (experiments/serverless_crossover.py); the optimizer's steady-state simulation corrects
    MaxConcurrency where it is low."""
    p = cold_start_fraction(rate_per_s, service_s, setup_s, idle_timeout_s, max_concurrency)
    return erlang_b(max_concurrency, rate_per_s * (service_s + p * setup_s))


def allen_cunneen_quantile_ms(rate_per_s: float, workers: int, mean_ms: float, cv: float, q: float,
                              service_quantile_ms: Callable[[float], float]) -> float:
    """Open-traffic response-time q-quantile, approximately: M/M/c's Erlang C wait scaled by
    Allen-Cunneen's (1 + cv^2) / 2, with the tail split evenly between the wait and the service
    time (whose quantile at a level comes from ``service_quantile_ms``); infinite when unstable.
    The optimizer's pre-screen and calibration's choice among worker counts both use it."""
    mean_s = mean_ms / 1000.0
    load = rate_per_s * mean_s
    if load >= workers:
        return math.inf
    waiting = erlang_c(workers, load)
    theta = workers / mean_s - rate_per_s
    # P(W > w) = C exp(-theta w / scale); the q-quantile of W+S is bounded by splitting the tail.
    tail = 1.0 - q
    wait_s = 0.0 if waiting <= tail / 2 else (1.0 + cv ** 2) / 2.0 * math.log(waiting / (tail / 2)) / theta
    return wait_s * 1000.0 + service_quantile_ms(1.0 - tail / 2)


def closed_throughputs_per_s(max_users: int, workers: int, service_s: float, delay_s: float) -> np.ndarray:
    """Exact throughput X(N) for N = 0..max_users closed-loop users, each away for a mean
    ``delay_s`` (think plus overhead: an infinite-server station, any distribution) between
    requests to a c-worker FCFS station with exponential service: the finite-source chain,
    births (N - j) / Z and deaths min(j, c) / S; min(N, c) / S when nobody waits."""
    out = np.zeros(max_users + 1)
    if delay_s <= 0:
        return np.minimum(np.arange(max_users + 1), workers) / service_s
    for n in range(1, max_users + 1):
        j = np.arange(1, n + 1)
        steps = np.log(n - j + 1.0) - np.log(np.minimum(j, workers)) + math.log(service_s / delay_s)
        log_weights = np.concatenate(([0.0], np.cumsum(steps)))
        weights = np.exp(log_weights - log_weights.max())
        out[n] = float(weights @ np.minimum(np.arange(n + 1), workers)) / weights.sum() / service_s
    return out


def minute_throughputs(traffic: Traffic, workers: int, service_s: float, delay_s: float, minutes: int) -> np.ndarray:
    """Expected completions per second of each of the first ``minutes`` minutes of a
    closed-loop ``traffic`` (its ``user_changes``), each user count held at its steady state
    (:func:`closed_throughputs_per_s`) for the seconds it lasts within the minute."""
    changes = [(t, n) for t, n in traffic.user_changes() if t < 60.0 * minutes] + [(60.0 * minutes, 0)]
    top = max(count for _, count in changes)
    rates = closed_throughputs_per_s(top, workers, service_s, delay_s)
    out = np.zeros(minutes)
    for (start, count), (end, _) in itertools.pairwise(changes):
        for minute in range(int(start // 60.0), min(minutes, math.ceil(end / 60.0))):
            overlap = min(end, 60.0 * (minute + 1)) - max(start, 60.0 * minute)
            if overlap > 0:
                out[minute] += rates[count] * overlap / 60.0
    return out
