"""Runs an Inference Recommender job offline: benchmarks in worker processes, placed on a
simulated timeline, answered in the AWS response shapes."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from calibration.transfer import complete_profile
from irsim.service.admission import PROVISIONING_S, NotScheduled, admit
from irsim.service.benchmark import STOPPED, BenchmarkOutcome, BenchmarkTask, instance_resources, run_benchmark
from irsim.service.labels import spec_label
from irsim.service.minutes import minute_number
from irsim.service.production import cheapest_passing, check_recommendations, checkable
from irsim.service.request import BenchmarkSpec, DeployedEndpoint, JobSpec, parse_request
from irsim.service.responses import ScheduledBenchmark, describe_response, steps_response
from irsim.service.watch import Relay, Watch, attach_queue, minute_sender
from optimizer.production import ProductionCheck, production_check
from pricing import Catalogue, Price, PricingError, ServerlessRate, default_catalogue, serverless_rate
from simulator import Profile, load_profile
from simulator.checks import seed as checked_seed
from simulator.profiles import InstanceProfile
from simulator.serverless import ServerlessProfile
from simulator.simulation import MAX_REQUESTS_PER_S

Progress = Callable[[BenchmarkOutcome, int, int], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    """A finished job: the two AWS answers plus what irsim knows beyond them."""

    spec: JobSpec
    describe: dict[str, Any]
    steps: dict[str, Any]
    scheduled: tuple[ScheduledBenchmark, ...]
    not_scheduled: tuple[NotScheduled, ...]  # never simulated: the job's duration leaves them out
    model: str
    seed: int
    stopped: tuple[BenchmarkOutcome, ...] = ()
    production: Mapping[int, ProductionCheck] = field(default_factory=dict)  # by benchmark index
    profile: Profile | None = None  # the profile the benchmarks ran on (unmeasured types derived)

    def extensions(self) -> dict[str, Any]:
        """irsim-only facts kept outside the AWS shapes: calibration, price provenance, stop reasons."""
        return {
            "model": self.model, "seed": self.seed, "provisioning_s": PROVISIONING_S,
            "irsim_version": irsim_version(),
            "profile_provenance": dict(self.profile.provenance) if self.profile is not None else {},
            "benchmarks": [{
                "index": item.outcome.spec.index,
                "InstanceType": item.outcome.spec.instance_type,
                **({"EndpointName": item.outcome.spec.endpoint.name,
                    "InstanceCount": item.outcome.spec.instance_count} if item.outcome.spec.endpoint else {}),
                "EnvironmentParameters": dict(item.outcome.spec.environment),
                "Status": "COMPLETED" if item.succeeded else "FAILED",
                "failure_reason": item.outcome.failure_reason or item.price_error,
                "calibrated": item.outcome.calibrated,
                "price_per_hour": getattr(item.price, "per_hour", None),
                "price_confidence": item.price.confidence if item.price else None,
                "price_source": item.price.source if item.price else None,
                "stop_reason": item.outcome.stop_reason,
                "simulated_s": item.outcome.duration_s,
                "per_instance_max_invocations": item.outcome.per_instance_max,
                "best_minute": minute_number(item.outcome.best_minute),  # counted from 1, as users do
                "warnings": list(item.outcome.warnings),
                **({"production_check": self.production[item.outcome.spec.index].to_document()}
                   if item.outcome.spec.index in self.production else {}),
            } for item in self.scheduled],
            "headline": self.headline(),
            "not_scheduled": [{"index": o.spec.index, "InstanceType": o.spec.instance_type, "reason": o.reason}
                              for o in self.not_scheduled],
            "stopped": [{"index": o.spec.index, "InstanceType": o.spec.instance_type} for o in self.stopped],
            "warnings": list(self.spec.warnings),
        }


    def headline(self) -> dict[str, Any] | None:
        """The cheapest recommendation that meets the threshold in production, at the count
        that does (None when no recommendation was checked or none can pass)."""
        found = cheapest_passing(checkable(self.spec, self.scheduled), self.production)
        if found is None:
            return None
        recommendation, check, count = found
        return {"index": recommendation.index, "InstanceType": recommendation.instance_type, "count": count,
                "aws_count": recommendation.count, "cost_per_hour": count * recommendation.price_per_hour,
                "percentile": f"P{check.percentile:g}", "threshold_ms": check.threshold_ms,
                "rate_per_minute": check.rate_per_minute}


def irsim_version() -> str:
    """The installed irsim's version, kept with every result (the report says what made it)."""
    try:
        return metadata.version("irsim")
    except metadata.PackageNotFoundError:
        return "unknown"


def _benchmark_seeds(seed: int, count: int) -> list[int]:
    """One independent seed per benchmark: results do not depend on run order or parallelism."""
    return [int(child.generate_state(1, dtype=np.uint64)[0]) for child in np.random.SeedSequence(seed).spawn(count)]


def _run_all(tasks: list[BenchmarkTask], max_parallel: int, progress: Progress | None,
             watch: Watch | None) -> list[BenchmarkOutcome]:
    """Every task's outcome, in task order: in this process, or in up to ``max_parallel``
    worker processes (``progress`` and ``watch`` hear each outcome as it arrives, ``watch``
    every simulated minute too)."""
    processes = min(max_parallel, len(tasks), os.cpu_count() or 1)

    def arrived(outcome: BenchmarkOutcome, done: int) -> None:
        log.info("benchmark %d (%s) %s after %.0f simulated s: %s%s", outcome.spec.index, spec_label(outcome.spec),
                 outcome.status, outcome.duration_s, outcome.stop_reason,
                 f" ({outcome.failure_reason})" if outcome.failure_reason else "")
        if watch:
            watch.finished(outcome, done, len(tasks))
        if progress:
            progress(outcome, done, len(tasks))

    if processes <= 1:
        outcomes = []
        for i, task in enumerate(tasks):
            outcomes.append(run_benchmark(task, on_minute=partial(watch.minute, task.spec.index) if watch else None))
            arrived(outcomes[i], i + 1)
        return outcomes
    results: dict[int, BenchmarkOutcome] = {}
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    relay = Relay(context.Queue(), watch) if watch else None  # nobody watching: no queue, nothing sent
    with ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_start_benchmark_process,
                             initargs=(relay.queue if relay else None,)) as pool:
        futures = {pool.submit(_run_watched, task): i for i, task in enumerate(tasks)}
        if relay:
            relay.start()  # after the pool's processes were forked: no thread of ours is copied into them
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                arrived(results[futures[future]], done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if relay:
                relay.close()
    return [results[i] for i in range(len(tasks))]


def _run_watched(task: BenchmarkTask) -> BenchmarkOutcome:
    """In a benchmark process: the benchmark, its minutes sent to the parent when it watches."""
    return run_benchmark(task, on_minute=minute_sender(task.spec.index))


def _start_benchmark_process(queue: Any) -> None:
    """Benchmark processes end when the process that runs the job does (Linux), so a killed
    job worker leaves none behind waiting on the pool's queue; and they send their minutes
    to ``queue`` (None: nobody watches)."""
    attach_queue(queue)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def schedule(outcomes: list[BenchmarkOutcome], max_parallel: int, traffic_duration_s: float,
             job_duration_s: float) -> tuple[list[tuple[BenchmarkOutcome, float, float]], list[BenchmarkOutcome]]:
    """Place benchmarks in index order on ``max_parallel`` slots. A benchmark starts only if
    provisioning plus its whole traffic pattern would end within the job's duration."""
    slots = [0.0] * max_parallel
    placed, dropped = [], []
    for outcome in outcomes:
        slot = min(range(max_parallel), key=slots.__getitem__)
        start = slots[slot]
        if start + PROVISIONING_S + traffic_duration_s > job_duration_s:
            dropped.append(outcome)
            continue
        invocation_start = start + PROVISIONING_S
        invocation_end = invocation_start + outcome.duration_s
        slots[slot] = invocation_end
        placed.append((outcome, invocation_start, invocation_end))
    return placed, dropped


def execute_job(request: Mapping[str, Any], profile: Profile | Mapping[str, Any] | str | Path | None = None,
                seed: int = 0, region: str = "us-east-1", *, progress: Progress | None = None,
                created: datetime | None = None, parallel: bool = True,
                catalogue: Catalogue | None = None, interrupt: Callable[[], bool] | None = None,
                production: bool = True, completed: datetime | None = None,
                endpoints: Mapping[str, DeployedEndpoint] | None = None,
                max_requests_per_s: float = MAX_REQUESTS_PER_S, watch: Watch | None = None) -> JobResult:
    """Validate ``request``, simulate its benchmarks and build the AWS answers.

    ``catalogue`` supplies specs and prices (default: the bundled one; see
    ``pricing.refresh_catalogue`` for prices read from an AWS Price List). ``interrupt``
    (picklable when benchmarks run in processes) is asked every simulated minute whether
    the job was stopped: then the job is STOPPED and keeps the benchmarks that finished.
    ``production`` runs the production check of every recommendation (skipped for a stopped job).
    ``endpoints`` are the existing endpoints InputConfig.Endpoints may name, by name.
    ``watch`` hears the benchmarks planned, each simulated minute and each end (service/watch.py).

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
    catalogue = catalogue or default_catalogue()
    loaded = load_profile(profile if profile is not None else "demo")
    job = parse_request(request, default_instance_types=loaded.instances, endpoints=endpoints)
    loaded = complete_profile(loaded, [b.instance_type for b in job.benchmarks if b.serverless is None],
                              catalogue.vcpu_of)
    plan = admit(job, loaded, catalogue, region, max_requests_per_s)
    tasks = _tasks(job, loaded, catalogue, seed, interrupt, max_requests_per_s)[:plan.fits]
    _log_plan(job, tasks, plan.notice, seed)
    if watch:
        watch.planned(job, [task.spec for task in tasks])
    outcomes = _run_all(tasks, job.max_parallel if parallel else 1, progress, watch)
    stopped = [o for o in outcomes if o.status == STOPPED]
    finished = [o for o in outcomes if o.status != STOPPED]
    placed, dropped = schedule(finished, job.max_parallel, job.traffic.duration_s, job.job_duration_s)
    # None is dropped: admission gave each benchmark its whole traffic pattern (kept as a guard).
    left_out = plan.left_out(job.benchmarks) + [NotScheduled(spec=o.spec, reason="would not finish within "
                                                             "JobDurationInSeconds") for o in dropped]
    scheduled = [_priced(outcome, start, end, catalogue, region) for outcome, start, end in placed]
    created = created or datetime.now(UTC).replace(microsecond=0)
    completed = max(created, completed or datetime.now(UTC))
    origin = completed - timedelta(seconds=max((end for _, _, end in placed), default=0.0))
    if watch and production and not stopped:
        watch.stage("production check: every recommendation simulated as deployed")
    checks = check_recommendations(job, scheduled, loaded, seed) if production and not stopped else {}
    return JobResult(spec=job, describe=describe_response(job, scheduled, created, completed, region, seed,
                                                          bool(stopped), origin=origin),
                     steps=steps_response(job, scheduled, created, seed, stopped, origin=origin),
                     scheduled=tuple(scheduled),
                     not_scheduled=tuple(left_out), model=loaded.model, seed=seed, stopped=tuple(stopped),
                     production=checks, profile=loaded)


def _log_plan(job: JobSpec, tasks: list[BenchmarkTask], notice: str | None, seed: int) -> None:
    """INFO: what admission decided and the seeds; DEBUG: each benchmark's own seed."""
    log.info("job %s (%s): %d of %d benchmark(s) scheduled, up to %d in parallel, seed %d", job.job_name,
             job.job_type, len(tasks), len(job.benchmarks), job.max_parallel, seed)
    if notice:
        log.info("admission: %s", notice)
    for task in tasks:
        log.debug("benchmark %d (%s): seed %d from SeedSequence(%d)", task.spec.index, spec_label(task.spec),
                  task.seed, seed)


def _tasks(job: JobSpec, profile: Profile, catalogue: Catalogue, seed: int,
           interrupt: Callable[[], bool] | None, max_requests_per_s: float) -> list[BenchmarkTask]:
    """One task per benchmark, each with its own seed and its profile entry."""
    seeds = _benchmark_seeds(seed, len(job.benchmarks))
    return [BenchmarkTask(spec=benchmark, entry=_entry(profile, benchmark), overhead=profile.overhead,
                          traffic=job.traffic, stopping=job.stopping, percentile=job.percentile,
                          resources=instance_resources(catalogue, benchmark.instance_type), seed=benchmark_seed,
                          interrupt=interrupt, max_requests_per_s=max_requests_per_s)
            for benchmark, benchmark_seed in zip(job.benchmarks, seeds, strict=True)]


def _entry(profile: Profile, benchmark: BenchmarkSpec) -> InstanceProfile | ServerlessProfile | None:
    """The profile entry a benchmark simulates: the serverless section, or its instance type's."""
    return profile.serverless if benchmark.serverless else profile.instances[benchmark.instance_type]


def _priced(outcome: BenchmarkOutcome, start: float, end: float, catalogue: Catalogue,
            region: str) -> ScheduledBenchmark:
    """A placed benchmark with its price (or why it has none: then it cannot be recommended)."""
    config = outcome.spec.serverless
    price: Price | ServerlessRate | None
    try:
        price = (serverless_rate(config.memory_mb, region) if config
                 else catalogue.price(outcome.spec.instance_type, region))
        error = None
    except PricingError as exc:
        price, error = None, str(exc)
    return ScheduledBenchmark(outcome=outcome, invocation_start_s=start, invocation_end_s=end, price=price,
                              price_error=error)


def run_job(request: Mapping[str, Any], profile: Profile | Mapping[str, Any] | str | Path | None = None,
            seed: int = 0, region: str = "us-east-1") -> dict[str, Any]:
    """Run a job synchronously; returns the DescribeInferenceRecommendationsJob response."""
    return execute_job(request, profile, seed, region).describe


def replicate(request: Mapping[str, Any], profile: Profile | Mapping[str, Any] | str | Path | None, seed: int,
              region: str, replications: int, **options: Any) -> tuple[JobResult, dict[str, Any]]:
    """Run the job ``replications`` times with independent seeds (the first is ``seed`` itself,
    so its answer is the one a single run gives) and summarise, per benchmark, the mean and
    95 % confidence interval of what a user acts on: the production percentile at the count the
    first run recommends, and the smallest count that meets the threshold in production. The
    test procedure's own figures (per-instance max, latency, the count's margin) are kept too,
    marked as such: the per-instance max is a discrete, often bimodal statistic of one test.
    The summary stays outside the AWS shapes."""
    seeds = [seed] + [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(replications - 1)]
    watch: Watch = options.get("watch") or Watch()
    results = []
    for number, replication_seed in enumerate(seeds, start=1):
        log.info("replication %d/%d: seed %d", number, replications, replication_seed)
        watch.replication(number, replications)
        results.append(execute_job(request, profile, replication_seed, region, production=number == 1, **options))
    first = results[0]
    watch.stage(f"production check of {replications} replications")
    summary = [_replicated_benchmark(first, results, seeds, index) for index in range(len(first.spec.benchmarks))]
    return first, {"replications": replications, "seeds": seeds, "benchmarks": summary}


def _replicated_benchmark(first: JobResult, results: list[JobResult], seeds: list[int], index: int) -> dict[str, Any]:
    """One benchmark's summary over the replications (see ``replicate``)."""
    benchmark = first.spec.benchmarks[index]
    target = first.spec.stopping.max_invocations
    measurements = [item.outcome.measurement for result in results for item in result.scheduled
                    if item.outcome.spec.index == index and item.outcome.measurement is not None]
    entry: dict[str, Any] = {"index": index, "InstanceType": benchmark.instance_type,
                             "EnvironmentParameters": dict(benchmark.environment), "succeeded": len(measurements)}
    values: dict[str, list[float]] = {
        "per_instance_max_invocations": [m.per_instance_max for m in measurements],
        "model_latency_ms": [m.model_latency_us / 1000.0 for m in measurements]}
    if target and measurements:
        chosen = max(1, math.ceil(target / measurements[0].per_instance_max))
        values["count_margin"] = [chosen * m.per_instance_max / target - 1 for m in measurements]
        entry["count"] = chosen
    check = first.production.get(index)
    if check is not None and first.profile is not None:
        checks = [check] + [production_check(first.profile, check.instance_type, check.count, check.rate_per_minute,
                                             check.percentile, check.threshold_ms, routing=check.routing, seed=s)
                            for s in seeds[1:]]
        entry["production_count"] = check.count
        entry["production_percentile"] = f"P{check.percentile:g}"
        values["production_percentile_ms"] = [c.percentile_ms for c in checks if c.estimate is not None]
        values["smallest_passing_count"] = [float(c.smallest_passing_count) for c in checks
                                            if c.smallest_passing_count is not None]
    for name, series in values.items():
        if series:
            entry[name] = _mean_and_interval(series)
    return entry


def _mean_and_interval(series: list[float]) -> dict[str, Any]:
    """The mean and its 95 % Student-t confidence interval (a point for one value)."""
    array = np.asarray(series, dtype=float)
    half = (float(stats.t.ppf(0.975, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array)))
            if len(array) > 1 else 0.0)
    return {"mean": float(array.mean()), "ci95": [float(array.mean() - half), float(array.mean() + half)]}
