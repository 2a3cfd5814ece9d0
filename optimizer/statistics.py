"""Output analysis for the optimizer's steady-state simulations: how long to run, what to
throw away, and how sure to be of a latency percentile.

A queue started empty needs time to forget its start, and successive latencies are strongly
correlated near saturation, so a percentile from a short run is biased low and a t-interval
over a few replications' percentiles is too narrow. Three standard remedies, as pure
functions over numpy arrays:

- run length from the queue's relaxation time, about 1 / (c mu (1 - sqrt(rho))^2) for c
  workers of rate mu at per-worker utilization rho (heavy-traffic diffusion limit), longer
  for a higher percentile, as a number of requests on a sqrt(2) ladder so that neighbouring
  counts share their arrivals;
- warm-up deletion: two relaxation times, or more when MSER-5 (White 1997: the cut that
  minimises the standard error of the mean of what is kept, over batches of 5) finds a
  longer low opening;
- a quantile interval from batch means: the point estimate is the quantile of all kept
  data; its error comes from batch means of the indicator 1{x <= q} mapped back through the
  empirical quantile function (``quantile_interval``), or from the spread of per-batch
  quantiles (sectioning, ``sectioned_quantile``: kept for comparison, it undercovers when a
  batch holds few independent excursions into the tail, as near saturation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

# One replication's length at P95; for another percentile p each is scaled by 5 % / (1 - p)
# (x 5 at P99): the relative variance of the fraction beyond a quantile grows like 1 / (1 - p).
MIN_REQUESTS = 20_000       # the floor: 1,000 requests expected beyond the percentile
RELAXATIONS = 40            # relaxation times (two go to the warm-up cut)
MAX_REQUESTS = 20_000 * 8   # the cap (160,000 requests at P95: 40 relaxation times up to rho = 0.97)
REFERENCE_TAIL = 0.05
MSER_BATCH = 5
WARMUP_RELAXATIONS = 2.0    # relaxation times always deleted from a run started empty
MIN_CONTROL_DF = 4          # control variates only when the regression keeps this many degrees of freedom


def relaxation_time_s(rate_per_s: float, workers: int, mean_service_s: float) -> float:
    """The time a c-worker queue at this rate takes to forget its state:
    1 / (c mu (1 - sqrt(rho))^2); infinite when rho >= 1."""
    rho = rate_per_s * mean_service_s / workers
    if rho >= 1.0:
        return math.inf
    return mean_service_s / (workers * (1.0 - math.sqrt(rho)) ** 2)


def relaxation_requests(rate_per_s: float, workers: int, mean_service_s: float) -> float:
    """Requests arriving in one relaxation time: rho / (1 - sqrt(rho))^2, whatever c and mu."""
    return rate_per_s * relaxation_time_s(rate_per_s, workers, mean_service_s)


def run_requests(rate_per_s: float, workers: int, mean_service_s: float, percentile: float = 95.0,
                 floor: int = MIN_REQUESTS, relaxations: float = RELAXATIONS, cap: int = MAX_REQUESTS) -> int:
    """Requests per replication of one c-worker instance at this rate (``ladder_requests``)."""
    return ladder_requests(relaxation_requests(rate_per_s, workers, mean_service_s), percentile, floor=floor,
                           relaxations=relaxations, cap=cap)


def ladder_requests(requests_per_relaxation: float, percentile: float = 95.0, floor: int = MIN_REQUESTS,
                    relaxations: float = RELAXATIONS, cap: int = MAX_REQUESTS) -> int:
    """Requests per replication: ``relaxations`` relaxation times' worth, at least ``floor``,
    at most ``cap``, each scaled by 5 % / (1 - p) for the ``percentile`` p, rounded up to
    the ladder floor x sqrt(2)^k (so counts with similar loads run the same number and,
    scaled in time, the very same arrivals)."""
    scale = REFERENCE_TAIL / (1.0 - percentile / 100.0)
    floor, cap = round(floor * scale), round(cap * scale)
    wanted = scale * relaxations * requests_per_relaxation
    if not wanted < cap:
        return cap
    steps = max(0, math.ceil(2.0 * math.log2(max(wanted, floor) / floor) - 1e-9))
    return min(cap, round(floor * 2.0 ** (steps / 2.0)))


def mser_cut(values: np.ndarray, batch: int = MSER_BATCH, low_start_only: bool = True) -> int:
    """MSER-``batch``: how many leading observations to delete. Over the means z of
    consecutive batches, the cut d minimises sum_{j>d} (z_j - mean)^2 / (m - d)^2, searched
    over the first half of the run. With ``low_start_only`` only cuts whose deleted part lies
    below what is kept are considered: a queue started empty can only start low, and cutting
    an opening excursion above the mean (plain MSER-5 does, measured: the tail fraction at
    rho = 0.95 fell 14 %) would bias the percentile low."""
    m = len(values) // batch
    if m < 4:
        return 0
    z = np.asarray(values[:m * batch], dtype=float).reshape(m, batch).mean(axis=1)
    z = z - z.mean()  # centred: the suffix sums below lose no precision
    kept = np.arange(m, 0, -1, dtype=float)           # m - d for d = 0 .. m-1
    sums = np.cumsum(z[::-1])[::-1]                   # sum_{j>=d} z_j
    squares = np.cumsum((z * z)[::-1])[::-1]
    statistic = (squares - sums * sums / kept) / (kept * kept)
    if low_start_only:  # the kept part's mean at least the overall mean <=> the deleted part's at most
        statistic = np.where(sums >= 0.0, statistic, np.inf)
        statistic[0] = squares[0] / (m * m)
    return int(np.argmin(statistic[: m // 2 + 1])) * batch


def warmup_cut(values: np.ndarray, requests_per_relaxation: float, relaxations: float = WARMUP_RELAXATIONS) -> int:
    """Leading observations to delete from a run started empty: at least ``relaxations``
    relaxation times' worth (the start's deficit decays like exp(-t / tau)), more when MSER-5
    (low start only) finds a longer low opening; never more than half the run."""
    wanted = relaxations * requests_per_relaxation
    floor = math.ceil(wanted) if math.isfinite(wanted) else len(values)
    return min(len(values) // 2, max(floor, mser_cut(values)))


@dataclass(frozen=True)
class QuantileInterval:
    """A quantile with its confidence interval from sectioning."""

    point: float
    low: float
    high: float
    std_error: float
    batches: int
    kept: int  # observations the point estimate used

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


def split_batches(runs: Sequence[np.ndarray], batches_per_run: int) -> list[np.ndarray]:
    """Each run cut into ``batches_per_run`` contiguous, nearly equal batches (fewer when a
    run is too short for two observations per batch); a 2-d run is cut along its rows."""
    pieces = []
    for run in runs:
        parts = max(1, min(batches_per_run, len(run) // 2))
        pieces.extend(np.array_split(np.asarray(run, dtype=float), parts))
    return pieces


def quantile_interval(runs: Sequence[np.ndarray], percentile: float, batches_per_run: int = 10,
                      confidence: float = 0.95, controls: Sequence[np.ndarray] = (),
                      control_means: Sequence[float] = ()) -> QuantileInterval:
    """The ``percentile`` of all observations in ``runs`` (each in time order, warm-up
    removed) with an interval from batch means of the indicator 1{x <= q}: the fraction F of
    a batch at or below the point estimate q is a batch mean, so its standard error s_F comes
    from the spread of the B batch fractions with a Student t (B - 1 degrees of freedom), and
    the interval is the empirical quantiles at p -+ t s_F (the quantile function carries the
    tail's skew into the interval). Unlike the batch quantiles' spread (sectioning), this
    stays valid when a batch holds only a few independent excursions into the tail.

    ``controls`` (per run, an n x k array aligned with the run's observations) whose exact
    means are ``control_means`` are control variates: the batch fractions are regressed on
    the controls' batch means (Lavenberg and Welch 1981; Nelson 1990 for batch means), the
    fraction at q is the intercept where every control sits at its exact mean, its standard
    error the regression's (B - 1 - k degrees of freedom), and the point and interval move
    by the correction through the empirical quantile function."""
    everything = np.concatenate([np.asarray(r, dtype=float) for r in runs])
    p = percentile / 100.0
    point = float(np.quantile(everything, p))
    batches = split_batches(runs, batches_per_run)
    if len(batches) < 2:
        return QuantileInterval(point=point, low=-math.inf, high=math.inf, std_error=math.inf,
                                batches=len(batches), kept=everything.size)
    fractions = np.array([np.count_nonzero(b <= point) / b.size for b in batches])
    count = len(batches)
    design = np.ones((count, 1))
    if controls and count - 1 - len(control_means) >= MIN_CONTROL_DF:
        means = np.vstack([b.mean(axis=0) for b in split_batches(controls, batches_per_run)])
        design = np.hstack([design, means - np.asarray(control_means, dtype=float)])
    coefficients, *_ = np.linalg.lstsq(design, fractions, rcond=None)
    df = count - design.shape[1]
    residual = fractions - design @ coefficients
    variance = float(residual @ residual) / df * float(np.linalg.inv(design.T @ design)[0, 0])
    shift = 0.0
    if design.shape[1] > 1:  # the controls' correction to the fraction at q
        shift = float(coefficients[0]) - float(np.count_nonzero(everything <= point)) / everything.size
    level = min(max(p - shift, 0.0), 1.0)
    t = float(stats.t.ppf(0.5 + confidence / 2.0, df))
    reach = t * math.sqrt(variance)
    low = float(np.quantile(everything, level - reach)) if level - reach > 0 else -math.inf
    high = float(np.quantile(everything, level + reach)) if level + reach < 1 else math.inf
    return QuantileInterval(point=float(np.quantile(everything, level)), low=low, high=high,
                            std_error=(high - low) / (2.0 * t), batches=count, kept=everything.size)


def sectioned_quantile(runs: Sequence[np.ndarray], percentile: float, batches_per_run: int = 10,
                       confidence: float = 0.95) -> QuantileInterval:
    """The ``percentile`` of all observations in ``runs`` (each in time order, warm-up already
    removed) with a Student-t interval whose standard error is
    sqrt(sum_j (q_j - q)^2 / (B (B - 1))) over the B batch quantiles q_j (sectioning:
    centring on the overall q keeps the batch quantiles' small-sample bias in the error)."""
    batches = split_batches(runs, batches_per_run)
    everything = np.concatenate([np.asarray(r, dtype=float) for r in runs])
    point = float(np.percentile(everything, percentile))
    if len(batches) < 2:
        return QuantileInterval(point=point, low=-math.inf, high=math.inf, std_error=math.inf,
                                batches=len(batches), kept=everything.size)
    quantiles = np.array([np.percentile(b, percentile) for b in batches])
    count = len(batches)
    std_error = math.sqrt(float(np.sum((quantiles - point) ** 2)) / (count * (count - 1)))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, count - 1)) * std_error
    return QuantileInterval(point=point, low=point - half, high=point + half, std_error=std_error,
                            batches=count, kept=everything.size)
