"""The production check: a recommended endpoint simulated as it would be deployed.

Inference Recommender's count is ``ceil(MaxInvocations / per-instance max)``, where the
per-instance max is the best minute of ONE instance under a few closed-loop users. In
production the same rate reaches K instances as Poisson-split open arrivals, which queue
more than a closed loop does (a closed loop cannot send while it waits), so the AWS-method
count can miss the latency threshold it was measured under. This module simulates the
endpoint (K instances of the type, open Poisson traffic at the target rate, the endpoint's
routing) with the optimizer's machinery and finds the smallest count that meets the
threshold there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optimizer.capacity import Estimate, smallest_count
from optimizer.plan import Target, count_evaluator
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
    def meets_threshold(self) -> bool | None:
        """Whether the checked count meets the threshold in production (None without one)."""
        if self.threshold_ms is None:
            return None
        return self.estimate is not None and self.estimate.meets(self.threshold_ms)

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
            "smallest_passing_count": self.smallest_passing_count,
            "reason": self.reason,
        }


def offered_utilization(entry: InstanceProfile, count: int, rate_per_s: float) -> float:
    """Offered load per worker: rate x mean service time / (count x workers)."""
    return rate_per_s * entry.service_time.mean_ms / 1000.0 / (count * entry.workers)


def production_check(endpoint: CheckedEndpoint, rate_per_minute: float, percentile: float, threshold_ms: float | None,
                     *, routing: str = "random", replications: int = 3, seed: int = 0) -> ProductionCheck:
    """Simulate ``endpoint`` (its count of its entry) under Poisson traffic at ``rate_per_minute``
    and find the smallest count whose ``percentile`` meets ``threshold_ms`` (the same search the
    optimizer uses). Without a threshold only the percentile and utilization are reported."""
    rate_per_s = rate_per_minute / 60.0
    utilization = offered_utilization(endpoint.entry, endpoint.count, rate_per_s)
    # With no threshold the check still reports the percentile; an SLO of infinity passes every stable count.
    slo_ms = threshold_ms if threshold_ms is not None else math.inf
    target = Target(rate_per_s=rate_per_s, percentile=percentile, slo_ms=slo_ms, routing=routing,
                    replications=replications)
    evaluate = count_evaluator(endpoint.profile(), endpoint.instance_type, target, seed)
    estimate = evaluate(endpoint.count) if utilization < 1.0 else None
    smallest, reason = None, None
    if threshold_ms is not None:
        decision = smallest_count(endpoint.entry, rate_per_s, percentile, threshold_ms, evaluate)
        smallest, reason = decision.count, decision.reason
    return ProductionCheck(endpoint=endpoint, rate_per_minute=rate_per_minute, percentile=percentile,
                           threshold_ms=threshold_ms, routing=routing, utilization=utilization, estimate=estimate,
                           smallest_passing_count=smallest, reason=reason)
