"""A job replicated with independent seeds, summarised per benchmark by the mean and 95 %
confidence interval of what a user acts on and of the test procedure's own figures."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from irsim.service.result import Interval, JobResult, ReplicatedBenchmark, Replications
from irsim.service.watch import Watch
from optimizer.production import production_check
from optimizer.verdict import DEFAULT_PRECISION
from simulator import InputError

#: Runs the job once with a seed; the bool says whether to run its production checks.
RunOnce = Callable[[int, bool], JobResult]
log = logging.getLogger(__name__)
#: Replications of one job, at most (irsim's own limit): the runs go one after another and every
#: result is kept until the summary, so time and memory grow with them; past a hundred the
#: 95 % intervals narrow by less than 1 % per ten more.
MAX_REPLICATIONS = 100


def check_replications(replications: object) -> int:
    """``replications`` from 1 to MAX_REPLICATIONS (InputError naming it otherwise)."""
    if (not isinstance(replications, int) or isinstance(replications, bool)
            or not 1 <= replications <= MAX_REPLICATIONS):
        raise InputError("replications", f"must be an integer from 1 to {MAX_REPLICATIONS} (irsim's own limit: the "
                                         f"runs go one after another and each result is kept), got {replications!r}")
    return replications


def replication_seeds(seed: int, replications: int) -> list[int]:
    """``seed`` itself first (its answer is the one a single run gives), then independent children."""
    return [seed] + [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(replications - 1)]


def replicate_runs(run: RunOnce, seed: int, replications: int, watch: Watch,
                   precision: float = DEFAULT_PRECISION) -> tuple[JobResult, Replications]:
    """The first run's result (with its production checks) and the summary of all runs; the
    checks repeated with every seed decide at ``precision``, the one the first run's checks used."""
    check_replications(replications)
    seeds = replication_seeds(seed, replications)
    results = []
    for number, replication_seed in enumerate(seeds, start=1):
        log.info("replication %d/%d: seed %d", number, replications, replication_seed)
        watch.replication(number, replications)
        results.append(run(replication_seed, number == 1))
    first = results[0]
    watch.stage(f"production check of {replications} replications")
    summary = tuple(replicated_benchmark(first, results, seeds, index, precision)
                    for index in range(len(first.spec.benchmarks)))
    return first, Replications(replications=replications, seeds=tuple(seeds), benchmarks=summary)


def replicated_benchmark(first: JobResult, results: Sequence[JobResult], seeds: Sequence[int],
                         index: int, precision: float = DEFAULT_PRECISION) -> ReplicatedBenchmark:
    """One benchmark's summary over the replications: the production check of the first run's
    count repeated with every seed (at ``precision``, as the first run's), and the test
    procedure's figures of every run."""
    benchmark = first.spec.benchmarks[index]
    target = first.spec.stopping.max_invocations
    measurements = [item.outcome.measurement for result in results for item in result.scheduled
                    if item.outcome.spec.index == index and item.outcome.measurement is not None]
    count = max(1, math.ceil(target / measurements[0].per_instance_max)) if target and measurements else None
    check = first.production.get(index) if first.profile is not None else None
    checks = []
    if check is not None and first.profile is not None:
        checks = [check] + [production_check(check.endpoint, check.rate_per_minute, check.percentile,
                                             check.threshold_ms, routing=check.routing, seed=s, precision=precision)
                           for s in seeds[1:]]
    return ReplicatedBenchmark(
        index=index, instance_type=benchmark.instance_type, environment=dict(benchmark.environment),
        succeeded=len(measurements), count=count,
        production_count=check.count if check else None,
        production_percentile=f"P{check.percentile:g}" if check else None,
        per_instance_max_invocations=mean_and_interval([m.per_instance_max for m in measurements]),
        model_latency_ms=mean_and_interval([m.model_latency_us / 1000.0 for m in measurements]),
        count_margin=mean_and_interval([count * m.per_instance_max / target - 1 for m in measurements])
        if count and target else None,
        production_percentile_ms=mean_and_interval([c.percentile_ms for c in checks if c.estimate is not None]),
        smallest_passing_count=mean_and_interval([float(c.smallest_passing_count) for c in checks
                                                  if c.smallest_passing_count is not None]))


def mean_and_interval(series: Sequence[float]) -> Interval | None:
    """The mean and its 95 % Student-t confidence interval (a point for one value; None for none)."""
    if not series:
        return None
    array = np.asarray(series, dtype=float)
    half = (float(stats.t.ppf(0.975, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array)))
            if len(array) > 1 else 0.0)
    return Interval(mean=float(array.mean()), ci95=(float(array.mean() - half), float(array.mean() + half)))
