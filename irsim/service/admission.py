"""What is decided about a job before anything is simulated: which of its benchmarks the
job's duration can schedule, that its region has prices for them, and that each stays within
the simulator's work budget. Nothing is simulated to be thrown away.

Scheduling rule (irsim's own: the service documents only that JobDurationInSeconds is the
job's maximum duration, at most 18,000 s): each benchmark takes one of MaxParallelOfTests
slots for PROVISIONING_S of endpoint creation plus its whole traffic pattern, in index
order; a benchmark whose slot would run past JobDurationInSeconds is not scheduled. The
job is accepted, only the benchmarks that will be scheduled are simulated, and the rest
are reported NOT SCHEDULED with the arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from calibration.transfer import complete_profile
from irsim.service.benchmark import endpoint_under_test
from irsim.service.request import MAX_JOB_DURATION_S, PROVISIONING_S, TESTS_RANGE, BenchmarkSpec, JobSpec
from pricing import Catalogue, PricingError, default_catalogue, serverless_rate
from simulator import MAX_REQUESTS_PER_S, Profile
from simulator.runspec import check_work

__all__ = ["PROVISIONING_S", "NotScheduled", "SchedulePlan", "admit", "admit_job", "check_prices", "plan_schedule"]


@dataclass(frozen=True)
class NotScheduled:
    """A benchmark the job's duration leaves out, and why (with the arithmetic)."""

    spec: BenchmarkSpec
    reason: str


@dataclass(frozen=True)
class SchedulePlan:
    """How many of a job's ``total`` benchmarks fit; ``notice`` says why the rest do not, and
    what would fit them all."""

    total: int
    fits: int
    notice: str | None = None

    def left_out(self, benchmarks: Sequence[BenchmarkSpec]) -> list[NotScheduled]:
        return [NotScheduled(spec=spec, reason=self.notice or "") for spec in benchmarks[self.fits:]]


def plan_schedule(total: int, max_parallel: int, traffic_duration_s: float, job_duration_s: float) -> SchedulePlan:
    """How many of ``total`` benchmarks run, each taking a slot for provisioning plus the whole
    traffic pattern, ``max_parallel`` at a time, within ``job_duration_s``."""
    slot_s = PROVISIONING_S + traffic_duration_s
    per_slot = int(job_duration_s // slot_s)
    fits = min(total, max_parallel * per_slot)
    if fits == total:
        return SchedulePlan(total=total, fits=fits)
    rounds = math.ceil(total / max_parallel)
    options = []
    if rounds * slot_s <= MAX_JOB_DURATION_S:
        options.append(f"JobDurationInSeconds {math.ceil(rounds * slot_s)}")
    if per_slot and math.ceil(total / per_slot) <= TESTS_RANGE[1]:
        options.append(f"MaxParallelOfTests {math.ceil(total / per_slot)}")
    if slot_s > MAX_JOB_DURATION_S:
        remedy = (f"no job fits one (JobDurationInSeconds is at most {MAX_JOB_DURATION_S}): shorten the traffic "
                  f"pattern to at most {MAX_JOB_DURATION_S - PROVISIONING_S:g} s")
    elif options:
        remedy = f"{' or '.join(options)} would fit all {total}"
    else:  # one round of all of them at once always fits, when one benchmark does
        remedy = f"JobDurationInSeconds {math.ceil(slot_s)} with MaxParallelOfTests {total} would fit all {total}"
    notice = (f"JobDurationInSeconds {job_duration_s:g} fits {fits} of {total} benchmarks: each takes "
              f"{PROVISIONING_S:g} s of provisioning + {traffic_duration_s:g} s of traffic = {slot_s:g} s, "
              f"{max_parallel} at a time, so {per_slot} round(s) fit; {remedy}")
    return SchedulePlan(total=total, fits=fits, notice=notice)


def admit(job: JobSpec, profile: Profile, catalogue: Catalogue, region: str,
          max_requests_per_s: float = MAX_REQUESTS_PER_S) -> SchedulePlan:
    """The job's schedule, once its scheduled benchmarks are known to be priced in ``region``
    (PricingError otherwise) and within the work budget (WorkBudgetError). ``profile`` covers
    every instance type of the job (unmeasured ones derived)."""
    plan = plan_schedule(len(job.benchmarks), job.max_parallel, job.traffic.duration_s, job.job_duration_s)
    admitted = job.benchmarks[:plan.fits]
    check_prices(admitted, catalogue, region)
    for spec in admitted:
        _check_work(job, spec, profile, max_requests_per_s)
    return plan


def admit_job(job: JobSpec, profile: Profile, region: str, catalogue: Catalogue | None = None) -> SchedulePlan:
    """``admit`` for a job about to be stored (the offline client's create): the profile's
    unmeasured instance types derived as the job will derive them."""
    catalogue = catalogue or default_catalogue()
    completed = complete_profile(profile, [b.instance_type for b in job.benchmarks if b.serverless is None],
                                 catalogue.vcpu_of)
    return admit(job, completed, catalogue, region)


def check_prices(benchmarks: Sequence[BenchmarkSpec], catalogue: Catalogue, region: str) -> None:
    """PricingError (field ``region``) when no benchmark has a price in ``region``: naming the
    regions that price the job's instance types (a type without a price elsewhere fails its
    own step, as before)."""
    if not benchmarks or any(_priced(spec, catalogue, region) for spec in benchmarks):
        return
    serverless = next((spec.serverless for spec in benchmarks if spec.serverless is not None), None)
    if serverless is not None and all(spec.serverless is not None for spec in benchmarks):
        serverless_rate(serverless.memory_mb, region)  # raises, naming the regions with serverless rates
    types = sorted({spec.instance_type for spec in benchmarks if spec.serverless is None})
    by_region: dict[str, set[str]] = {}
    for instance_type, priced_region in catalogue.prices:
        by_region.setdefault(priced_region, set()).add(instance_type)
    every = sorted(r for r, priced in by_region.items() if set(types) <= priced)
    some = sorted(r for r, priced in by_region.items() if set(types) & priced)
    known = (f"regions with prices for all of them: {', '.join(every)}" if every else
             f"regions with prices for some of them: {', '.join(some)}" if some else "no region has prices for them")
    raise PricingError("region", f"no prices in {region} for {', '.join(types)}; {known}")


def _priced(spec: BenchmarkSpec, catalogue: Catalogue, region: str) -> bool:
    if spec.serverless is not None:
        try:
            serverless_rate(spec.serverless.memory_mb, region)
        except PricingError:
            return False
        return True
    return (spec.instance_type, region) in catalogue.prices


def _check_work(job: JobSpec, spec: BenchmarkSpec, profile: Profile, budget_per_s: float) -> None:
    """The benchmark's simulation within the work budget (WorkBudgetError naming the entry): the
    check its RunSpec makes when built, made before any benchmark runs."""
    entry = profile.serverless if spec.serverless is not None else profile.instances[spec.instance_type]
    endpoint = endpoint_under_test(spec, entry)
    if endpoint is not None:  # without a serverless section the benchmark fails, unsimulated
        check_work(endpoint, job.traffic, profile.overhead, 0.0, budget_per_s)
