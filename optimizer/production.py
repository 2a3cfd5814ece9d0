"""The production check: a recommended endpoint simulated as it would be deployed.

Inference Recommender's count is ``ceil(MaxInvocations / per-instance max)``, where the
per-instance max is the best minute of ONE instance under a few closed-loop users. In
production the same rate reaches K instances as Poisson-split open arrivals, which queue
more than a closed loop does (a closed loop cannot send while it waits), so the AWS-method
count can miss the latency threshold it was measured under. This module simulates the
endpoint (K instances of the type, open Poisson traffic at the target rate, the endpoint's
routing) with the optimizer's machinery and finds the smallest count that meets the
threshold there. Every verdict is three-valued (``optimizer.verdict``): the checked count
meets, misses, or is too close to call at the budget used, and the smallest passing count is
the smallest that surely meets, with the verdict on the count below it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optimizer.capacity import Estimate, smallest_count
from optimizer.evaluate import workers_note
from optimizer.plan import Target, count_evaluator
from optimizer.verdict import DEFAULT_PRECISION, Settle
from simulator import InstanceProfile, Profile
from simulator.distributions import Distribution


@dataclass(frozen=True)
class CheckedEndpoint:
    """What the production check deploys: ``count`` instances serving as ``entry`` says (the
    entry resolved for the benchmark's environment variant: its workers, service time and
    memory), with the profile's overhead; ``label`` names it (``ml.c5.xlarge [OMP_NUM_THREADS=2]``)."""

    entry: InstanceProfile
    count: int
    overhead: Distribution | None = None
    label: str = ""

    @property
    def instance_type(self) -> str:
        return self.entry.instance_type

    @property
    def name(self) -> str:
        return self.label or self.entry.instance_type

    def profile(self) -> Profile:
        """A one-entry profile of this endpoint (what the optimizer's evaluators read)."""
        return Profile(model=self.name, instances={self.instance_type: self.entry}, overhead=self.overhead)


@dataclass(frozen=True)
class ProductionCheck:
    """What the recommended endpoint does under open traffic at the target rate."""

    endpoint: CheckedEndpoint       # the variant's entry at the AWS-method count that was checked
    rate_per_minute: float          # the target the endpoint must serve
    percentile: float               # 95 or 99
    threshold_ms: float | None      # the job's latency threshold (None: it has none)
    routing: str
    utilization: float              # offered load / (count x workers / mean service time)
    estimate: Estimate | None       # None when the endpoint is unstable (utilization >= 1)
    smallest_passing_count: int | None
    reason: str | None = None       # why no count passes, when none does
    next_down: Estimate | None = None  # the count below the smallest passing one (None: unstable)
    workers_note: str | None = None    # the entry planned on the worst member of a calibrated set of worker counts

    @property
    def instance_type(self) -> str:
        return self.endpoint.instance_type

    @property
    def label(self) -> str:
        """The endpoint checked: its instance type and environment variant."""
        return self.endpoint.name

    @property
    def count(self) -> int:
        return self.endpoint.count

    @property
    def stable(self) -> bool:
        return self.utilization < 1.0

    @property
    def percentile_ms(self) -> float:
        """The production percentile at the checked count (infinite when the queue grows
        without bound)."""
        return self.estimate.percentile_ms if self.estimate is not None else math.inf

    @property
    def verdict(self) -> str | None:
        """``meets``, ``misses`` or ``too close to call`` at the checked count (None without a threshold)."""
        if self.threshold_ms is None:
            return None
        return "misses" if self.estimate is None else self.estimate.verdict(self.threshold_ms)

    @property
    def meets_threshold(self) -> bool | None:
        """The conservative reading of the verdict: True only when it is ``meets`` (None without a threshold)."""
        return None if self.verdict is None else self.verdict == "meets"

    @property
    def next_down_verdict(self) -> str | None:
        """The verdict on the count one below the smallest passing count (None when there is none)."""
        if self.threshold_ms is None or self.smallest_passing_count is None or self.smallest_passing_count <= 1:
            return None
        return "misses" if self.next_down is None else self.next_down.verdict(self.threshold_ms)

    def settle(self) -> Settle | None:
        """What budget would settle the checked count's verdict, when it is too close to call."""
        if self.threshold_ms is None or self.estimate is None:
            return None
        return self.estimate.settle(self.threshold_ms)

    def next_down_settle(self) -> Settle | None:
        """What budget would settle the count below the smallest passing one, when it is too close."""
        if self.threshold_ms is None or self.next_down is None:
            return None
        return self.next_down.settle(self.threshold_ms)

    def to_document(self) -> dict[str, Any]:
        """The JSON form kept in ``irsim.json`` (an unstable endpoint's percentile is null)."""
        estimate = self.estimate
        return {
            "endpoint": self.label,
            "count": self.count,
            "rate_per_minute": self.rate_per_minute,
            "percentile": f"P{self.percentile:g}",
            "threshold_ms": self.threshold_ms,
            "routing": self.routing,
            "utilization": self.utilization,
            "stable": self.stable,
            "percentile_ms": estimate.percentile_ms if estimate is not None else None,
            "interval_ms": [estimate.low_ms, estimate.high_ms] if estimate is not None else None,
            "replications": estimate.replications if estimate is not None else 0,
            "meets_threshold": self.meets_threshold,
            "verdict": self.verdict,
            "decided_by": estimate.decided_by if estimate is not None and self.threshold_ms is not None else None,
            "settle": settle_document(self.settle()),
            "smallest_passing_count": self.smallest_passing_count,
            "next_count_down": self._next_down_document(),
            "reason": self.reason,
            "workers_note": self.workers_note,
        }

    def _next_down_document(self) -> dict[str, Any] | None:
        verdict = self.next_down_verdict
        if verdict is None or self.smallest_passing_count is None:
            return None
        below = self.next_down
        return {"count": self.smallest_passing_count - 1, "verdict": verdict,
                "percentile_ms": below.percentile_ms if below is not None else None,
                "interval_ms": [below.low_ms, below.high_ms] if below is not None else None,
                "settle": settle_document(self.next_down_settle())}


def settle_document(settle: Settle | None) -> dict[str, Any] | None:
    """What would settle a too-close verdict, as JSON (None when the verdict is settled)."""
    if settle is None:
        return None
    return {"precision": settle.precision, "requests": settle.requests, "practical": settle.practical}


def offered_utilization(entry: InstanceProfile, count: int, rate_per_s: float) -> float:
    """Offered load per worker: rate x mean service time / (count x workers)."""
    return rate_per_s * entry.service_time.mean_ms / 1000.0 / (count * entry.workers)


def production_check(endpoint: CheckedEndpoint, rate_per_minute: float, percentile: float, threshold_ms: float | None,
                     *, routing: str = "random", replications: int = 3, seed: int = 0,
                     precision: float = DEFAULT_PRECISION) -> ProductionCheck:
    """Simulate ``endpoint`` (its count of its entry) under Poisson traffic at ``rate_per_minute``
    and find the smallest count whose ``percentile`` meets ``threshold_ms`` (the same search the
    optimizer uses). Without a threshold only the percentile and utilization are reported."""
    rate_per_s = rate_per_minute / 60.0
    utilization = offered_utilization(endpoint.entry, endpoint.count, rate_per_s)
    # With no threshold the check still reports the percentile; an SLO of infinity passes every stable count.
    slo_ms = threshold_ms if threshold_ms is not None else math.inf
    target = Target(rate_per_s=rate_per_s, percentile=percentile, slo_ms=slo_ms, routing=routing,
                    replications=replications, precision=precision)
    evaluate = count_evaluator(endpoint.profile(), endpoint.instance_type, target, seed)
    estimate = evaluate(endpoint.count) if utilization < 1.0 else None
    smallest, reason, below = None, None, None
    if threshold_ms is not None:
        decision = smallest_count(endpoint.entry, rate_per_s, percentile, threshold_ms, evaluate)
        smallest, reason, below = decision.count, decision.reason, decision.next_down
    return ProductionCheck(endpoint=endpoint, rate_per_minute=rate_per_minute, percentile=percentile,
                           threshold_ms=threshold_ms, routing=routing, utilization=utilization, estimate=estimate,
                           smallest_passing_count=smallest, reason=reason, next_down=below,
                           workers_note=workers_note(endpoint.entry))
