"""The production check of a job's recommendations: each recommended endpoint (the AWS-method
count of its instance type, serving as its environment variant's own profile entry) simulated
under open Poisson traffic at the job's target, beside the AWS figures, which stay exactly as
the service computes them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from irsim.service.request import JobSpec
from irsim.service.responses import ScheduledBenchmark, instance_count
from optimizer.production import CheckedEndpoint, ProductionCheck, production_check
from optimizer.verdict import DEFAULT_PRECISION
from simulator import Percentile, Profile

#: The routing a real-time endpoint uses unless its variant asks for least outstanding requests.
DEFAULT_ROUTING = "random"


@dataclass(frozen=True)
class Recommendation:
    """A recommendation the production check can judge: a succeeded instance benchmark."""

    index: int
    instance_type: str
    count: int
    price_per_hour: float
    environment: tuple[tuple[str, str], ...] = ()  # the benchmark's environment variant

    @property
    def label(self) -> str:
        """The instance type and its environment variant: ``ml.c5.xlarge [OMP_NUM_THREADS=2]``."""
        parameters = ",".join(f"{k}={v}" for k, v in self.environment)
        return self.instance_type + (f" [{parameters}]" if parameters else "")

    def endpoint(self, profile: Profile) -> CheckedEndpoint:
        """The endpoint as benchmarked: the variant's own entry (workers, service time, memory)."""
        entry = profile.instance(self.instance_type).for_environment(dict(self.environment))
        return CheckedEndpoint(entry=entry, count=self.count, overhead=profile.overhead, label=self.label)


def checkable(job: JobSpec, scheduled: Sequence[ScheduledBenchmark]) -> list[Recommendation]:
    """The succeeded instance benchmarks with the AWS-method count (serverless endpoints have
    no count: their concurrency limit is checked by the serverless sizing instead)."""
    found = []
    for item in scheduled:
        outcome = item.outcome
        if (not item.succeeded or outcome.spec.serverless is not None or outcome.spec.endpoint is not None
                or outcome.per_instance_max is None):  # an existing endpoint is measured, not recommended
            continue
        price = getattr(item.price, "per_hour", None)
        assert price is not None, "a succeeded instance benchmark has an hourly price"
        found.append(Recommendation(index=outcome.spec.index, instance_type=outcome.spec.instance_type,
                                    count=instance_count(job.stopping.max_invocations, outcome.per_instance_max),
                                    price_per_hour=price, environment=outcome.spec.environment))
    return found


def target_per_minute(job: JobSpec, recommendation: Recommendation, per_instance_max: int) -> float:
    """The rate the endpoint must serve: the job's MaxInvocations, or without one the rate the
    AWS shape claims (count x per-instance max)."""
    return float(job.stopping.max_invocations or recommendation.count * per_instance_max)


def check_recommendations(job: JobSpec, scheduled: Sequence[ScheduledBenchmark], profile: Profile, seed: int,
                          replications: int = 3, precision: float = DEFAULT_PRECISION) -> dict[int, ProductionCheck]:
    """The production check of every checkable recommendation, by benchmark index, each seeded
    from the job's seed (the same job and seed give the same checks); each verdict meets,
    misses or is too close to call at ``precision``."""
    threshold = job.stopping.latency
    per_instance = {item.outcome.spec.index: item.outcome.per_instance_max for item in scheduled}
    checks = {}
    for recommendation in checkable(job, scheduled):
        per_instance_max = per_instance[recommendation.index]
        assert per_instance_max is not None
        checks[recommendation.index] = production_check(
            recommendation.endpoint(profile), target_per_minute(job, recommendation, per_instance_max),
            Percentile.parse(job.percentile), threshold.value_ms if threshold else None,
            routing=DEFAULT_ROUTING, replications=replications, seed=seed, precision=precision)
    return checks


def cheapest_passing(recommendations: Sequence[Recommendation], checks: Mapping[int, ProductionCheck]
                     ) -> tuple[Recommendation, ProductionCheck, int] | None:
    """The cheapest recommendation that surely meets the threshold in production, at the
    smallest count that does (which may be below the AWS-method count as well as above it)."""
    best = None
    for recommendation in recommendations:
        check = checks.get(recommendation.index)
        if check is None or check.smallest_passing_count is None:
            continue
        count = check.smallest_passing_count
        cost = count * recommendation.price_per_hour
        if best is None or cost < best[0]:
            best = (cost, recommendation, check, count)
    return None if best is None else best[1:]
