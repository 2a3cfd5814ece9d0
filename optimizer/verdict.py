"""A threshold decision by simulation, three-valued: a latency percentile ``meets`` its SLO,
``misses`` it, or is ``too close to call`` at the budget used, always with its interval.

The sequential rule (:func:`sequential_estimate`) samples replications in at most
``Sampling.looks`` looks and stops at the first look whose interval excludes the SLO
(meets or misses), whose half-width is within the relative ``precision`` (too close), or
when the replication budget is spent (too close). Each look's interval is at the level
1 - (1 - confidence) / looks (Bonferroni over the looks), so the chance that any look
excludes the SLO on the wrong side stays within 1 - confidence however the looks fall: a
``meets`` is wrong at most (1 - confidence) / 2 of the time. A ``too close`` verdict says
what budget would settle it (:meth:`Estimate.settle`): the relative precision and about how
many simulated requests. Nothing is ever decided by a point estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from optimizer.statistics import (
    MAX_REQUESTS,
    MIN_REQUESTS,
    RELAXATIONS,
    ladder_requests,
    quantile_interval,
    run_requests,
    warmup_cut,
)
from simulator.errors import InputError

MEETS = "meets"
MISSES = "misses"
TOO_CLOSE = "too close to call"
VERDICTS = (MEETS, MISSES, TOO_CLOSE)

#: How an Estimate's verdict on its SLO was reached.
BY_INTERVAL = "interval"    # the interval lay wholly on one side of the SLO
BY_PRECISION = "precision"  # the interval reached the relative precision with the SLO inside it
BY_BUDGET = "budget"        # the replication budget (or the looks) ran out with the SLO inside the interval

DEFAULT_PRECISION = 0.01
MAX_REPLICATIONS = 32       # the budget at the default precision; it grows as (0.01 / precision)^2
LARGEST_BUDGET = 1000       # replications per decision, whatever the precision asks
LOOKS = 4
GROWTH = 1.25               # the next look aims this far beyond the replications the gap asks for
MIN_GROWTH = 2              # ... and has at least twice the replications of the last
MAX_GROWTH = 4              # ... and at most four times
SETTLE_SAFETY = 1.5         # ... and the advice on a too-close verdict this far
FINEST_PRECISION = 1e-3     # a percentile within 0.1 % of its SLO is too close for any practical budget


@dataclass(frozen=True)
class Settle:
    """What would settle a too-close verdict: the relative ``precision`` to sample at and
    about how many simulated ``requests`` the decision would take (kept after warm-up)."""

    precision: float
    requests: int
    practical: bool  # False when the percentile lies within 0.1 % of the SLO


@dataclass(frozen=True)
class Estimate:
    """A latency percentile from seeded replications, with its interval (nominal
    ``confidence`` over every look of the sequential rule), and how the verdict on the SLO
    it was sampled for was reached (``decided_by``)."""

    percentile_ms: float
    low_ms: float
    high_ms: float
    replications: int
    utilization: float  # busy workers / workers, per instance
    throughput_per_s: float = math.nan  # what a closed population achieved (NaN for open traffic)
    required_per_s: float = 0.0          # ... and what it had to reach
    decided_by: str = BY_INTERVAL
    batches: int = 0                     # batch quantiles behind the interval (0: replications)
    requests: int = 0                    # simulated requests kept after the warm-up cuts
    confidence: float = 0.95             # the interval's nominal level over all looks
    budget: int = 0                      # the replications the rule could have spent
    controls: int = 0                    # control variates used (exact M/M/c values)

    @property
    def reached(self) -> bool:
        """Whether a closed population reached the target rate (within 1 %); open traffic always does."""
        return math.isnan(self.throughput_per_s) or self.throughput_per_s >= 0.99 * self.required_per_s

    def verdict(self, slo_ms: float) -> str:
        """``meets`` when the interval lies wholly within ``slo_ms`` (and a closed population
        reached its rate), ``misses`` when it lies wholly above (or the queue is unstable, or
        the rate was not reached), else ``too close to call``."""
        if not self.reached or math.isinf(self.percentile_ms) or self.low_ms > slo_ms:
            return MISSES
        return MEETS if self.high_ms <= slo_ms else TOO_CLOSE

    def meets(self, slo_ms: float) -> bool:
        """The conservative reading: only a ``meets`` verdict meets."""
        return self.verdict(slo_ms) == MEETS

    def settle(self, slo_ms: float) -> Settle | None:
        """What would settle a too-close verdict (None for any other): the interval's
        half-width must fall below the distance to the SLO, and it shrinks like 1 / sqrt(requests)."""
        if self.verdict(slo_ms) != TOO_CLOSE:
            return None
        gap = abs(self.percentile_ms - slo_ms)
        relative = gap / self.percentile_ms if self.percentile_ms > 0 else 0.0
        half = (self.high_ms - self.low_ms) / 2.0
        if relative < FINEST_PRECISION or not math.isfinite(half):
            return Settle(precision=FINEST_PRECISION, requests=0, practical=False)
        requests = math.ceil(max(1, self.requests) * SETTLE_SAFETY * (half / gap) ** 2)
        return Settle(precision=_round_down(relative * 0.8), requests=requests, practical=True)

    def explain(self, slo_ms: float, percentile: float = 95.0) -> str:
        """The verdict in words, with the interval (and, when too close, what would settle it)."""
        verdict = self.verdict(slo_ms)
        where = (f"P{percentile:g} {self.percentile_ms:.2f} ms, {self.confidence:.0%} interval "
                 f"[{self.low_ms:.2f}, {self.high_ms:.2f}] ms")
        if math.isinf(self.percentile_ms):
            return f"misses the {slo_ms:g} ms SLO: the queue grows without bound (utilization {self.utilization:.0%})"
        if not self.reached:
            return (f"misses: the closed population reached {self.throughput_per_s:.1f}/s of the "
                    f"{self.required_per_s:.1f}/s required")
        if verdict != TOO_CLOSE:
            side = "below" if verdict == MEETS else "above"
            return f"{verdict} the {slo_ms:g} ms SLO ({where}, wholly {side})"
        spent = "the interval reached its precision" if self.decided_by == BY_PRECISION else "the budget was spent"
        text = (f"too close to call at the budget used ({self.replications} replications, "
                f"{self.requests:,} simulated requests; {spent}): {where} holds the {slo_ms:g} ms SLO")
        return text + "; " + settle_words(self.settle(slo_ms))


class Settling(Protocol):
    """What settles a too-close verdict, as a Settle or as the record irsim.json stores."""

    @property
    def practical(self) -> bool: ...
    @property
    def precision(self) -> float: ...
    @property
    def requests(self) -> int: ...


def settle_words(settle: Settling | None, unknown: str = "") -> str:
    """What would settle a too-close verdict, in words (``unknown`` when nothing says)."""
    if settle is None:
        return unknown
    if not settle.practical:
        return "it lies within 0.1 % of the threshold: no practical budget settles it"
    return f"a precision of {settle.precision:g} would settle it (about {settle.requests:,} simulated requests)"


def _round_down(value: float) -> float:
    """``value`` rounded down to two significant digits (a precision to type)."""
    if value <= 0:
        return 0.0
    scale = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.floor(value / scale) * scale, 12)


@dataclass(frozen=True)
class Sampling:
    """The sequential rule's settings: replications in the first look and at most (None:
    from the precision), batches per replication, the relative precision at which sampling
    stops as too close, the nominal confidence over at most ``looks`` looks, and each
    replication's length (floor, relaxation times, cap)."""

    min_replications: int = 3
    max_replications: int | None = None
    batches_per_replication: int = 8
    precision: float = DEFAULT_PRECISION
    confidence: float = 0.95
    looks: int = LOOKS
    floor_requests: int = MIN_REQUESTS
    relaxations: float = RELAXATIONS
    max_requests: int = MAX_REQUESTS

    def __post_init__(self) -> None:
        if not 0 < self.precision < 1:
            raise InputError("precision", f"must be a share between 0 and 1 (0.01 is +-1 %), got {self.precision!r}")
        if not 1 <= self.min_replications <= self.budget:
            raise InputError("replications", f"need 1 <= first stage ({self.min_replications}) <= budget "
                                             f"({self.budget})")

    @property
    def budget(self) -> int:
        """Replications at most: ``max_replications``, or MAX_REPLICATIONS scaled by
        (1 % / precision)^2 (a finer precision needs as many more requests)."""
        if self.max_replications is not None:
            return self.max_replications
        wanted = math.ceil(MAX_REPLICATIONS * (DEFAULT_PRECISION / self.precision) ** 2)
        return max(self.min_replications, min(LARGEST_BUDGET, wanted))

    @property
    def look_confidence(self) -> float:
        """Each look's level: Bonferroni over the looks."""
        return 1.0 - (1.0 - self.confidence) / self.looks

    @classmethod
    def starting_with(cls, replications: int, precision: float = DEFAULT_PRECISION) -> Sampling:
        """The default rule with ``replications`` in the first look, at ``precision``."""
        return cls(min_replications=replications, precision=precision)

    def requests(self, rate_per_s: float, workers: int, mean_service_s: float, percentile: float) -> int:
        """Requests in one replication of one instance at this rate, for this percentile."""
        return run_requests(rate_per_s, workers, mean_service_s, percentile, floor=self.floor_requests,
                            relaxations=self.relaxations, cap=self.max_requests)

    def pooled_requests(self, requests_per_relaxation: float, percentile: float) -> int:
        """Requests in one replication of a whole endpoint that receives this many requests per
        relaxation time of its slowest instances (at most twice one instance's cap)."""
        return ladder_requests(requests_per_relaxation, percentile, floor=self.floor_requests,
                               relaxations=self.relaxations, cap=2 * self.max_requests)


@dataclass(frozen=True)
class Run:
    """One replication as the statistics see it: latencies in completion order, and optional
    control variates (an n x k array aligned with them) whose exact means are known."""

    latency_ms: np.ndarray = field(repr=False)
    utilization: float
    relaxation_requests: float  # completions in one relaxation time (how much warm-up to cut)
    throughput_per_s: float = math.nan
    controls: np.ndarray | None = field(default=None, repr=False)
    control_means: tuple[float, ...] = ()


def next_look(replications: int, half_width: float, gap: float, precision_ms: float, budget: int,
              last: bool) -> int:
    """Where the next look goes: the replications the gap to the SLO (or the precision, if
    that comes first) asks for at 1 / sqrt(n), GROWTH beyond, between twice and four times as
    many as now (an early interval's own noise makes the gap's demand uncertain); the budget itself at
    the last look."""
    if last:
        return budget
    target = max(gap, precision_ms)
    wanted = GROWTH * replications * (half_width / target) ** 2 if target > 0 else math.inf
    aim = math.ceil(wanted) if math.isfinite(wanted) else MAX_GROWTH * replications
    return int(min(budget, MAX_GROWTH * replications, max(MIN_GROWTH * replications, aim)))


def sequential_estimate(replicate: Callable[[int], Run], percentile: float, slo_ms: float,
                        sampling: Sampling) -> Estimate:
    """Replications ``replicate(0), replicate(1), ...`` in at most ``sampling.looks`` looks,
    until the percentile's interval excludes ``slo_ms``, reaches the relative precision, or
    the budget is spent. Each run's warm-up is cut (two relaxation times, or more by MSER-5);
    the interval comes from batch means over every kept batch, with the runs' control
    variates when they have them (``quantile_interval``)."""
    kept: list[np.ndarray] = []
    controls: list[np.ndarray] = []
    utilizations: list[float] = []
    throughputs: list[float] = []
    means: tuple[float, ...] = ()
    budget, target, decided_by = sampling.budget, sampling.min_replications, BY_BUDGET
    for look in range(1, sampling.looks + 1):
        while len(kept) < target:
            run = replicate(len(kept))
            cut = warmup_cut(run.latency_ms, run.relaxation_requests)
            kept.append(run.latency_ms[cut:])
            if run.controls is not None:
                controls.append(run.controls[cut:])
                means = run.control_means
            utilizations.append(run.utilization)
            throughputs.append(run.throughput_per_s)
        interval = quantile_interval(kept, percentile, sampling.batches_per_replication, sampling.look_confidence,
                                     controls if len(controls) == len(kept) else (), means)
        if interval.high <= slo_ms or interval.low > slo_ms:
            decided_by = BY_INTERVAL
            break
        if interval.half_width <= sampling.precision * interval.point:
            decided_by = BY_PRECISION
            break
        if len(kept) >= budget:
            break
        target = next_look(len(kept), interval.half_width, abs(interval.point - slo_ms),
                           sampling.precision * interval.point, budget, last=look == sampling.looks - 1)
    return Estimate(percentile_ms=interval.point, low_ms=interval.low, high_ms=interval.high,
                    replications=len(kept), utilization=float(np.mean(utilizations)),
                    throughput_per_s=float(np.mean(throughputs)), decided_by=decided_by,
                    batches=interval.batches, requests=interval.kept, confidence=sampling.confidence,
                    budget=budget, controls=len(means) if len(controls) == len(kept) else 0)
