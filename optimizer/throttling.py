"""A throttled share measured by simulation, three-valued against its target: the share of
requests a serverless endpoint throttles over seeded replications, with an interval whose
width comes from the data (Wilson's score interval on the pooled count, widened by the
dispersion between replications: throttles come in bursts, so replications disagree more
than binomial counting says), and the verdict ``meets`` / ``misses`` / ``too close to call``
against the target share."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scipy import stats

from optimizer.verdict import MEETS, MISSES, TOO_CLOSE

CONFIDENCE = 0.95


@dataclass(frozen=True)
class ShareEstimate:
    """Throttled requests over issued ones, pooled over ``replications``, with its interval."""

    throttled: int
    issued: int
    replications: int
    dispersion: float  # between-replication variance / binomial variance (at least 1)
    low: float
    high: float

    @property
    def share(self) -> float:
        return self.throttled / self.issued if self.issued else 0.0

    def verdict(self, target: float) -> str:
        """``meets`` when the interval lies within ``target``, ``misses`` when wholly above it."""
        if self.high <= target:
            return MEETS
        return MISSES if self.low > target else TOO_CLOSE


def wilson(successes: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval of a binomial proportion (``n`` may be an effective size)."""
    if n <= 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def share_estimate(counts: Sequence[tuple[int, int]], confidence: float = CONFIDENCE) -> ShareEstimate:
    """The pooled share of ``counts`` ((throttled, issued) per replication) with a Wilson
    interval on the effective size issued / dispersion, the dispersion being Pearson's
    chi-square between the replications over its degrees of freedom (at least 1)."""
    throttled = sum(x for x, _ in counts)
    issued = sum(n for _, n in counts)
    p = throttled / issued if issued else 0.0
    dispersion = 1.0
    used = [(x, n) for x, n in counts if n > 0]
    if len(used) > 1 and 0 < p < 1:
        chi2 = sum((x - n * p) ** 2 / (n * p * (1 - p)) for x, n in used)
        dispersion = max(1.0, chi2 / (len(used) - 1))
    low, high = wilson(throttled / dispersion, issued / dispersion, confidence)
    return ShareEstimate(throttled=throttled, issued=issued, replications=len(counts), dispersion=dispersion,
                         low=low, high=high)


def sequential_share(replicate: Callable[[int], tuple[int, int]], target: float, first: int,
                     most: int) -> ShareEstimate:
    """Replications ``replicate(0), ...`` (each (throttled, issued)) doubling from ``first``
    until the share's interval excludes ``target`` or ``most`` replications ran; each look's
    interval at 1 - 5 % / looks (Bonferroni over the doublings)."""
    looks = 1 + max(0, math.ceil(math.log2(max(1, most) / max(1, first))))
    confidence = 1.0 - (1.0 - CONFIDENCE) / looks
    counts: list[tuple[int, int]] = []
    wanted = first
    while True:
        while len(counts) < wanted:
            counts.append(replicate(len(counts)))
        estimate = share_estimate(counts, confidence)
        if estimate.verdict(target) != TOO_CLOSE or len(counts) >= most:
            return estimate
        wanted = min(most, 2 * len(counts))
