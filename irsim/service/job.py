"""Runs an Inference Recommender job offline: the request parsed (or a JobSpec parsed
before), admitted, its benchmarks simulated in worker processes (service/pool.py), placed on
the simulated timeline (service/scheduling.py) and answered in the AWS response shapes with
irsim's own document beside them (service/result.py); ``replicate`` runs it with several
seeds (service/replication.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np

from calibration.transfer import complete_profile
from irsim.service.admission import PROVISIONING_S, NotScheduled, check_prices, plan_schedule
from irsim.service.benchmark import (
    STOPPED,
    BenchmarkTask,
    JobRun,
    benchmark_run,
    endpoint_under_test,
    instance_resources,
)
from irsim.service.labels import spec_label
from irsim.service.pool import Progress, run_all
from irsim.service.production import check_recommendations, checkable
from irsim.service.replication import check_replications, replicate_runs
from irsim.service.request import (
    BenchmarkSpec,
    DeployedEndpoint,
    JobSpec,
    model_named,
    parse_request,
    serverless_sizes,
)
from irsim.service.responses import ScheduledBenchmark, describe_response, steps_response
from irsim.service.result import JobResult, Replications, irsim_version
from irsim.service.scheduling import Placed, origin, schedule
from irsim.service.watch import Watch
from optimizer.production import ProductionCheck
from optimizer.verdict import DEFAULT_PRECISION
from pricing import Catalogue, Price, PricingError, ServerlessRate, default_catalogue, serverless_rate
from simulator import Profile, load_profile
from simulator.checks import seed as checked_seed
from simulator.profiles import InstanceProfile
from simulator.serverless import ServerlessProfile
from simulator.simulation import MAX_REQUESTS_PER_S

__all__ = ["PROVISIONING_S", "JobOptions", "JobResult", "Progress", "execute_job", "irsim_version", "replicate",
           "run_job", "schedule"]
ProfileSource = Profile | Mapping[str, Any] | str | Path | None
log = logging.getLogger(__name__)


class JobOptions(TypedDict, total=False):
    """How ``execute_job`` runs a job, beyond the request, profile, seed and region (all optional)."""

    progress: Progress | None  # hears each benchmark's outcome as it arrives
    created: datetime | None  # CreationTime (default: now)
    completed: datetime | None  # when the job completes (default: once simulated; never before created)
    parallel: bool  # benchmarks in up to MaxParallelOfTests processes (default True)
    catalogue: Catalogue | None  # specs and prices (default: the bundled catalogue)
    interrupt: Callable[[], bool] | None  # asked every simulated minute whether the job was stopped
    production: bool  # run the production check of every recommendation (default True)
    endpoints: Mapping[str, DeployedEndpoint] | None  # the existing endpoints InputConfig.Endpoints may name
    max_requests_per_s: float  # the work budget per simulated second
    watch: Watch | None  # hears the plan, each simulated minute and each end (service/watch.py)
    precision: float  # the production check's relative precision (a verdict left too close to call)


def execute_job(request: Mapping[str, Any] | JobSpec, profile: ProfileSource = None, seed: int = 0,
                region: str = "us-east-1", **options: Unpack[JobOptions]) -> JobResult:
    """Validate ``request`` (unless it is a JobSpec ``parse_request`` made on the same profile),
    simulate its benchmarks and build the AWS answers.

    ``catalogue`` supplies specs and prices (default: the bundled one; see
    ``pricing.refresh_catalogue`` for prices read from an AWS Price List). ``interrupt``
    (picklable when benchmarks run in processes) is asked every simulated minute whether
    the job was stopped: then the job is STOPPED and keeps the benchmarks that finished.
    ``production`` runs the production check of every recommendation (skipped for a stopped job).

    Before anything is simulated (service/admission.py): the benchmarks JobDurationInSeconds
    cannot schedule are left out (``not_scheduled``, with the arithmetic), a region without
    prices for the job's types is a PricingError, and a benchmark that would cost more than
    ``max_requests_per_s`` requests per simulated second a WorkBudgetError.

    Time: CreationTime is ``created`` (default: now); the job completes at ``completed``
    (default: the wall clock once the benchmarks are simulated; never before ``created``), and
    the simulated timeline is placed so that it has ended then: the benchmarks keep their
    simulated order and durations, and no timestamp lies after the wall clock.
    """
    checked_seed(seed, "seed")
    catalogue = options.get("catalogue") or default_catalogue()
    budget = options.get("max_requests_per_s", MAX_REQUESTS_PER_S)
    watch = options.get("watch")
    loaded = load_profile(profile if profile is not None else "demo")
    job = parsed(request, loaded, options.get("endpoints"))
    loaded = complete_profile(loaded, [b.instance_type for b in job.benchmarks if b.serverless is None],
                              catalogue.vcpu_of)
    plan = plan_schedule(len(job.benchmarks), job.max_parallel, job.traffic.duration_s, job.job_duration_s)
    check_prices(job.benchmarks[:plan.fits], catalogue, region)
    # Building each admitted benchmark's RunSpec is the work-budget check, before anything runs.
    tasks = _tasks(job, loaded, catalogue, seed, options.get("interrupt"), budget)[:plan.fits]
    _log_plan(job, tasks, plan.notice, seed)
    if watch:
        watch.planned(job, [task.spec for task in tasks])
    outcomes = run_all(tasks, job.max_parallel if options.get("parallel", True) else 1, options.get("progress"),
                       watch)
    stopped = [o for o in outcomes if o.status == STOPPED]
    placed, dropped = schedule([o for o in outcomes if o.status != STOPPED], job.max_parallel,
                               job.traffic.duration_s, job.job_duration_s)
    # None is dropped: admission gave each benchmark its whole traffic pattern (kept as a guard).
    left_out = plan.left_out(job.benchmarks) + [NotScheduled(spec=o.spec, reason="would not finish within "
                                                             "JobDurationInSeconds") for o in dropped]
    scheduled = [_priced(item, catalogue, region) for item in placed]
    created = options.get("created") or datetime.now(UTC).replace(microsecond=0)
    completed = max(created, options.get("completed") or datetime.now(UTC))
    start = origin(placed, completed)
    production = options.get("production", True) and not stopped
    if watch and production:
        watch.stage("production check: every recommendation simulated as deployed")
    checks = (_production_checks(job, scheduled, loaded, seed, watch or Watch(),
                                 options.get("precision", DEFAULT_PRECISION)) if production else {})
    return JobResult(spec=job, describe=describe_response(job, scheduled, created, completed, region, seed,
                                                          bool(stopped), origin=start),
                     steps=steps_response(job, scheduled, created, seed, stopped, origin=start,
                                          not_scheduled=left_out),
                     scheduled=tuple(scheduled), not_scheduled=tuple(left_out), model=loaded.model, seed=seed,
                     stopped=tuple(stopped), production=checks, profile=loaded)


def _production_checks(job: JobSpec, scheduled: list[ScheduledBenchmark], profile: Profile, seed: int,
                       watch: Watch, precision: float = DEFAULT_PRECISION) -> dict[int, ProductionCheck]:
    """check_recommendations one recommendation at a time, each told to ``watch`` as it ends
    (every check is seeded from the job's seed alone: the same checks as all at once)."""
    found = checkable(job, scheduled)
    by_index = {item.outcome.spec.index: item for item in scheduled}
    watch.checked(None, 0, len(found))
    checks: dict[int, ProductionCheck] = {}
    for done, recommendation in enumerate(found, start=1):
        checks.update(check_recommendations(job, [by_index[recommendation.index]], profile, seed,
                                            precision=precision))
        watch.checked(recommendation.instance_type, done, len(found))
    return checks


def run_job(request: Mapping[str, Any], profile: ProfileSource = None, seed: int = 0,
            region: str = "us-east-1") -> dict[str, Any]:
    """Run a job synchronously; returns the DescribeInferenceRecommendationsJob response."""
    return execute_job(request, profile, seed, region).describe


def replicate(request: Mapping[str, Any] | JobSpec, profile: ProfileSource, seed: int, region: str,
              replications: int, **options: Unpack[JobOptions]) -> tuple[JobResult, Replications]:
    """Run the job ``replications`` times with independent seeds (the first is ``seed`` itself,
    so its answer is the one a single run gives) and summarise, per benchmark, the mean and
    95 % confidence interval of what a user acts on: the production percentile at the count the
    first run recommends, and the smallest count that meets the threshold in production. The
    test procedure's own figures (per-instance max, latency, the count's margin) are kept too,
    marked as such: the per-instance max is a discrete, often bimodal statistic of one test.
    The summary stays outside the AWS shapes (irsim.json's ``replications``); at most
    MAX_REPLICATIONS (100), refused before anything runs."""
    check_replications(replications)
    loaded = load_profile(profile if profile is not None else "demo")
    job = parsed(request, loaded, options.get("endpoints"))
    once = partial(_one_replication, job, loaded, region, options)
    return replicate_runs(once, seed, replications, options.get("watch") or Watch(),
                          options.get("precision", DEFAULT_PRECISION))


def parsed(request: Mapping[str, Any] | JobSpec, profile: Profile,
           endpoints: Mapping[str, DeployedEndpoint] | None = None) -> JobSpec:
    """The request validated against ``profile`` (what a Default job tests), with a warning when
    the profile describes another model than the one the job names (a what-if on another
    model's profile: the numbers are that model's); a JobSpec parsed before is taken as it is."""
    if isinstance(request, JobSpec):
        return request
    job = parse_request(request, default_instance_types=profile.instances, endpoints=endpoints,
                        default_serverless_sizes=serverless_sizes(profile))
    named = model_named(job.request)
    if named != profile.model:
        note = (f"the profile describes model {profile.model!r}, not {named!r}, the model the job names: these are "
                f"{profile.model!r}'s numbers (calibrate a profile for {named!r}: docs/profiles.md)")
        job = replace(job, warnings=(note, *job.warnings))
    return job


def _one_replication(job: JobSpec, profile: Profile, region: str, options: JobOptions, seed: int,
                     production: bool) -> JobResult:
    once: JobOptions = {**options, "production": production}
    return execute_job(job, profile, seed, region, **once)


def _log_plan(job: JobSpec, tasks: list[BenchmarkTask], notice: str | None, seed: int) -> None:
    """INFO: what admission decided and the seeds; DEBUG: each benchmark's own seed."""
    log.info("job %s (%s): %d of %d benchmark(s) scheduled, up to %d in parallel, seed %d", job.job_name,
             job.job_type, len(tasks), len(job.benchmarks), job.max_parallel, seed)
    if notice:
        log.info("admission: %s", notice)
    for task in tasks:
        log.debug("benchmark %d (%s): seed %d from SeedSequence(%d)", task.spec.index, spec_label(task.spec),
                  task.run.seed if task.run else 0, seed)


def _benchmark_seeds(seed: int, count: int) -> list[int]:
    """One independent seed per benchmark: results do not depend on run order or parallelism."""
    return [int(child.generate_state(1, dtype=np.uint64)[0]) for child in np.random.SeedSequence(seed).spawn(count)]


def _tasks(job: JobSpec, profile: Profile, catalogue: Catalogue, seed: int,
           interrupt: Callable[[], bool] | None, max_requests_per_s: float) -> list[BenchmarkTask]:
    """One task per benchmark, each its RunSpec with its own seed on its profile entry."""
    seeds = _benchmark_seeds(seed, len(job.benchmarks))
    job_run = JobRun(traffic=job.traffic, stopping=job.stopping, overhead=profile.overhead,
                     max_requests_per_s=max_requests_per_s)
    return [BenchmarkTask(spec=benchmark, percentile=job.percentile, interrupt=interrupt,
                          run=benchmark_run(endpoint_under_test(benchmark, _entry(profile, benchmark),
                                                                instance_resources(catalogue, benchmark.instance_type)),
                                            job_run, benchmark_seed))
            for benchmark, benchmark_seed in zip(job.benchmarks, seeds, strict=True)]


def _entry(profile: Profile, benchmark: BenchmarkSpec) -> InstanceProfile | ServerlessProfile | None:
    """The profile entry a benchmark simulates: the serverless section, or its instance type's."""
    return profile.serverless if benchmark.serverless else profile.instances[benchmark.instance_type]


def _priced(item: Placed, catalogue: Catalogue, region: str) -> ScheduledBenchmark:
    """A placed benchmark with its price (or why it has none: then it cannot be recommended)."""
    config = item.outcome.spec.serverless
    price: Price | ServerlessRate | None
    try:
        price = (serverless_rate(config.memory_mb, region) if config
                 else catalogue.price(item.outcome.spec.instance_type, region))
        error = None
    except PricingError as exc:
        price, error = None, str(exc)
    return ScheduledBenchmark(outcome=item.outcome, invocation_start_s=item.start_s, invocation_end_s=item.end_s,
                              price=price, price_error=error)


