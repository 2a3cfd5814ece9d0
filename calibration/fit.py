"""Fitting a service profile entry to measurements.

- Service time: from raw samples by maximum likelihood (lognormal, gamma, Weibull,
  exponential; the lowest AIC wins), or from CloudWatch percentiles by quantile matching
  over the light-load minutes (latency flat as load grows: queueing negligible).
- Workers: c = round(X_sat x E[S]) when throughput saturated (latency kept growing while
  invocations stayed flat); otherwise the c whose M/G/c (Allen-Cunneen) mean latency best
  follows the observed growth, reported as not determined.
- Overhead latency, CPU per busy worker (CPUUtilization = 100 x busy workers x k) and memory.
- From Inference Recommender results alone: only the capacity c / E[S] is determined.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from calibration.sources import BenchmarkObservation
from simulator.analytic import allen_cunneen_mean_response_s
from simulator.distributions import Distribution, quantile_ms
from simulator.errors import InputError
from simulator.profiles import InstanceProfile

FAMILIES = ("lognormal", "gamma", "weibull", "exponential")
QUANTILES = (50, 90, 95, 99)
LIGHT_LOAD_TOLERANCE = 0.05   # a light minute's median latency is within 5 % of the lightest ones'
SATURATED_LATENCY_RATIO = 1.5  # queueing clearly present
PLATEAU_TOLERANCE = 0.05       # saturated minutes' throughput within 5 % of the best
DEFAULT_CV = 0.5
DEFAULT_OVERHEAD_CV = 0.5


@dataclass(frozen=True)
class DistributionFit:
    """A fitted service-time distribution and how well each family fitted."""

    family: str
    mean_ms: float
    cv: float
    method: str  # "maximum likelihood" | "quantile matching" | "assumed"
    goodness: Mapping[str, float]  # family -> AIC (samples) or RMS log-quantile error

    def distribution(self) -> Distribution:
        if self.family == "exponential":
            return Distribution("exponential", self.mean_ms, 1.0)
        return Distribution(self.family, self.mean_ms, self.cv)


@dataclass(frozen=True)
class Calibration:
    """A fitted profile entry, the overhead, and what the data did and did not determine."""

    entry: InstanceProfile
    overhead: Distribution | None
    service: DistributionFit
    workers_determined: bool
    report: tuple[str, ...]
    provenance: Mapping[str, Any] = field(default_factory=dict)


# Service-time distributions

def fit_quantiles(mean_ms: float, quantiles: Mapping[int, float]) -> DistributionFit:
    """Quantile matching: for each family, the cv that best matches the observed
    percentiles (log scale, mean held at the observed average)."""
    observed = {p: q for p, q in quantiles.items() if q > 0 and math.isfinite(q)}
    if not observed or not mean_ms > 0:
        raise InputError("ModelLatency", "needs an Average and at least one of p50/p90/p95/p99 to fit a distribution")

    def error(cv: float, family: str) -> float:
        return math.sqrt(np.mean([(math.log(quantile_ms(family, mean_ms, cv, p / 100)) - math.log(q)) ** 2
                                  for p, q in observed.items()]))

    best: dict[str, tuple[float, float]] = {"exponential": (1.0, error(1.0, "exponential"))}
    for family in ("lognormal", "gamma", "weibull"):
        result = optimize.minimize_scalar(error, bounds=(0.02, 4.0), args=(family,), method="bounded",
                                          options={"xatol": 1e-4})
        best[family] = (float(result.x), float(result.fun))
    chosen = min(best, key=lambda f: best[f][1])
    return DistributionFit(family=chosen, mean_ms=mean_ms, cv=best[chosen][0], method="quantile matching",
                           goodness={f: round(e, 5) for f, (_, e) in best.items()})


def fit_samples(samples_ms: np.ndarray) -> DistributionFit:
    """Maximum likelihood for each family (location 0); the lowest AIC wins."""
    x = np.asarray(samples_ms, dtype=float)
    candidates = {"lognormal": stats.lognorm, "gamma": stats.gamma, "weibull": stats.weibull_min,
                  "exponential": stats.expon}
    aic: dict[str, float] = {}
    fitted: dict[str, Any] = {}
    for family, dist in candidates.items():
        params = dist.fit(x, floc=0)
        log_likelihood = float(np.sum(dist.logpdf(x, *params)))
        free = len(params) - 1  # the location is fixed
        aic[family] = 2 * free - 2 * log_likelihood
        fitted[family] = dist(*params)
    family = min(aic, key=lambda f: aic[f])
    model = fitted[family]
    mean, sd = float(model.mean()), float(model.std())
    return DistributionFit(family=family, mean_ms=mean, cv=sd / mean if family != "exponential" else 1.0,
                           method="maximum likelihood", goodness={f: round(v, 2) for f, v in aic.items()})


# CloudWatch minutes

def per_instance_invocations(cloudwatch: pd.DataFrame, instance_count: int) -> pd.Series:
    """Invocations per instance per minute (InvocationsPerInstance, else Invocations / K) of the
    per-minute frame ``read_cloudwatch`` gives."""
    if "InvocationsPerInstance_Sum" in cloudwatch:
        return cloudwatch["InvocationsPerInstance_Sum"]
    if "Invocations_Sum" in cloudwatch:
        return cloudwatch["Invocations_Sum"] / instance_count
    raise InputError("cloudwatch", "needs Invocations (Sum) or InvocationsPerInstance (Sum)")


MIN_MINUTE_INVOCATIONS = 50  # fewer requests make a minute's percentiles too noisy to anchor on


def light_load_minutes(cloudwatch: pd.DataFrame, invocations: pd.Series) -> pd.Series:
    """Minutes whose median latency stays within 5 % of the lowest median latency of any minute
    with at least 50 invocations: queueing only adds latency, so these are the minutes where
    it is negligible (latency flat as load grows)."""
    if "ModelLatency_p50" in cloudwatch:
        median = cloudwatch["ModelLatency_p50"]
    else:
        median = cloudwatch["ModelLatency_Average"]
    valid = median.notna() & (invocations > 0)
    if not valid.any():
        raise InputError("cloudwatch", "has no minute with both invocations and ModelLatency")
    enough = valid & (invocations >= MIN_MINUTE_INVOCATIONS)
    lowest = median[enough if enough.any() else valid].min()
    return valid & (median <= lowest * (1 + LIGHT_LOAD_TOLERANCE))


@dataclass(frozen=True)
class WorkersEstimate:
    """Workers per instance, and whether saturation determined them or a latency fit guessed."""

    workers: int
    determined: bool
    saturation_per_s: float | None
    saturated_requests: float  # invocations in the saturated minutes (0 when not saturated)
    note: str


def estimate_workers(frame: pd.DataFrame, invocations: pd.Series, service: DistributionFit,
                     baseline_latency_us: float) -> WorkersEstimate:
    """Workers from saturation if the data saturated, else the best M/G/c fit of latency growth.

    Saturated: among the minutes with clear queueing (latency >= 1.5 x light load), the more
    queued half did not serve more than the less queued half (within 5 %).
    """
    throughput = invocations / 60.0
    latency = frame["ModelLatency_Average"]
    mean_s = service.mean_ms / 1000.0
    loaded = latency >= SATURATED_LATENCY_RATIO * baseline_latency_us
    best = throughput.max()
    if loaded.sum() >= 2:
        by_latency = throughput[loaded][latency[loaded].sort_values().index]
        half = max(1, len(by_latency) // 2)
        less, more = by_latency.iloc[:half], by_latency.iloc[half:]
        if more.mean() <= less.mean() * (1 + PLATEAU_TOLERANCE):
            saturation = float(more.mean())
            workers = max(1, round(saturation * mean_s))
            return WorkersEstimate(workers=workers, determined=True, saturation_per_s=saturation,
                                   saturated_requests=float(more.sum() * 60.0),
                                   note=f"saturated at {saturation * 60:,.0f} invocations/min: c = X_sat x E[S] = "
                                        f"{saturation * mean_s:.2f}")
    lower = max(1, math.ceil(best * mean_s * (1 - PLATEAU_TOLERANCE)))  # a noisy minute may exceed c / E[S]
    candidates = range(lower, 4 * lower + 4)

    def error(c: int) -> float:
        predicted = [allen_cunneen_mean_response_s(x, c, mean_s, service.cv) for x in throughput]
        residual = [(math.log(p * 1e6) - math.log(o)) for p, o in zip(predicted, latency, strict=True)
                    if math.isfinite(p)]
        return float(np.mean(np.square(residual))) if residual else math.inf

    workers = min(candidates, key=error)
    return WorkersEstimate(workers=workers, determined=False, saturation_per_s=None, saturated_requests=0.0,
                           note=f"never saturated (at most {best * 60:,.0f} invocations/min): c >= {lower}; "
                                f"c = {workers} fits the latency growth best (M/G/c), not determined")


def _weighted(values: pd.Series, weights: pd.Series) -> float:
    mask = values.notna() & weights.notna()
    return float(np.average(values[mask], weights=weights[mask])) if mask.any() else math.nan


def _light_load_service(cloudwatch: pd.DataFrame, light: pd.Series, weights: pd.Series, baseline_us: float,
                        samples_ms: np.ndarray | None) -> DistributionFit:
    """The service time: by maximum likelihood over raw samples when there are any, else by
    matching the light-load minutes' percentiles."""
    if samples_ms is not None:
        return fit_samples(samples_ms)
    observed = {p: _weighted(cloudwatch.loc[light, f"ModelLatency_p{p}"], weights) / 1000.0
                for p in QUANTILES if f"ModelLatency_p{p}" in cloudwatch}
    return fit_quantiles(baseline_us / 1000.0, observed)


def _pooled_with_saturation(service: DistributionFit, workers: int, saturation_per_s: float,
                            light_requests: float, saturated_requests: float) -> tuple[DistributionFit, str]:
    """Saturated minutes measure c / E[S] over many more requests: pool both estimates of the
    mean, each weighted by its request count (its variance ~ cv^2 / n)."""
    saturation_mean_ms = workers / saturation_per_s * 1000.0
    pooled = (light_requests * service.mean_ms + saturated_requests * saturation_mean_ms) / (
        light_requests + saturated_requests)
    line = (f"mean pooled with saturation: light load {service.mean_ms:.3f} ms, c / X_sat "
            f"{saturation_mean_ms:.3f} ms ({saturated_requests:,.0f} requests) -> {pooled:.3f} ms")
    return replace(service, mean_ms=pooled), line


def _overhead(cloudwatch: pd.DataFrame, invocations: pd.Series) -> tuple[Distribution | None, list[str]]:
    """OverheadLatency's invocation-weighted mean, with an assumed cv (CloudWatch has no spread)."""
    if "OverheadLatency_Average" not in cloudwatch or not cloudwatch["OverheadLatency_Average"].notna().any():
        return None, []
    mean_overhead_ms = _weighted(cloudwatch["OverheadLatency_Average"], invocations) / 1000.0
    return Distribution("lognormal", mean_overhead_ms, DEFAULT_OVERHEAD_CV), [
        f"overhead: mean {mean_overhead_ms:.3f} ms (cv not in CloudWatch averages: {DEFAULT_OVERHEAD_CV} assumed)"]


def _cpu_per_worker(cloudwatch: pd.DataFrame, invocations: pd.Series, mean_service_ms: float, workers: int,
                    vcpu: int | None) -> tuple[float, list[str]]:
    """vCPUs per busy worker k, by least squares of CPUUtilization = 100 x busy x k over the
    minutes below saturation and below the 100 x vCPU ceiling (1.0 when nothing tells)."""
    if "CPUUtilization_Average" not in cloudwatch:
        return 1.0, []
    busy = invocations / 60.0 * mean_service_ms / 1000.0
    cpu = cloudwatch["CPUUtilization_Average"]
    ceiling = 100.0 * vcpu if vcpu else math.inf
    mask = cpu.notna() & (busy > 0) & (busy < 0.95 * workers) & (cpu < 0.98 * ceiling)
    if not mask.any():
        return 1.0, []
    cpu_per_worker = float(np.sum(cpu[mask] * busy[mask]) / (100.0 * np.sum(busy[mask] ** 2)))
    return cpu_per_worker, [f"CPU: {cpu_per_worker:.3f} vCPU per busy worker (CPUUtilization = 100 x busy x k)"]


def _memory_mb(cloudwatch: pd.DataFrame, instance_memory_mb: float | None) -> tuple[float | None, list[str]]:
    """The model's memory: mean MemoryUtilization of the instance's memory."""
    if "MemoryUtilization_Average" not in cloudwatch or not instance_memory_mb:
        return None, []
    percent = float(cloudwatch["MemoryUtilization_Average"].mean())
    if not math.isfinite(percent):
        return None, []
    memory_mb = round(percent / 100.0 * instance_memory_mb, 1)
    return memory_mb, [f"memory: {percent:.1f}% of {instance_memory_mb:,.0f} MiB = {memory_mb:,.0f} MiB"]


def calibrate_cloudwatch(cloudwatch: pd.DataFrame, instance_type: str, instance_count: int,
                         instance_memory_mb: float | None, samples_ms: np.ndarray | None = None,
                         vcpu: int | None = None) -> Calibration:
    """A profile entry from per-minute CloudWatch data (the frame ``read_cloudwatch`` gives) and
    raw samples, if any. ``vcpu`` lets the CPU fit skip minutes where CPUUtilization hit its
    100 x vCPU ceiling."""
    if "ModelLatency_Average" not in cloudwatch:
        raise InputError("cloudwatch", "needs ModelLatency with the Average statistic")
    invocations = per_instance_invocations(cloudwatch, instance_count)
    light = light_load_minutes(cloudwatch, invocations)
    weights = invocations[light]
    baseline = _weighted(cloudwatch.loc[light, "ModelLatency_Average"], weights)
    service = _light_load_service(cloudwatch, light, weights, baseline, samples_ms)
    workers = estimate_workers(cloudwatch, invocations, service, baseline)
    light_requests = float(weights.sum())
    report = [f"light-load minutes: {int(light.sum())} of {len(cloudwatch)} ({light_requests:,.0f} requests, "
              f"latency flat within {LIGHT_LOAD_TOLERANCE:.0%}); service time by {service.method}: "
              f"{service.family}, mean {service.mean_ms:.3f} ms, cv {service.cv:.3f}",
              "goodness by family: " + ", ".join(f"{f} {v:g}" for f, v in service.goodness.items()),
              f"workers: {workers.workers} ({workers.note})"]
    saturation = workers.saturation_per_s  # set exactly when saturation determined the workers
    if saturation is not None:
        lightest_share = float(invocations[light].min() / 60.0 / saturation)
        if lightest_share >= 0.8:
            report.append(f"WARNING: the lightest minute already ran at {lightest_share:.0%} of saturation: queueing "
                          "may inflate the service time and workers; add minutes at lower load")
        if samples_ms is None:
            service, line = _pooled_with_saturation(service, workers.workers, saturation, light_requests,
                                                    workers.saturated_requests)
            report.append(line)
    overhead, lines = _overhead(cloudwatch, invocations)
    report += lines
    cpu_per_worker, lines = _cpu_per_worker(cloudwatch, invocations, service.mean_ms, workers.workers, vcpu)
    report += lines
    memory_mb, lines = _memory_mb(cloudwatch, instance_memory_mb)
    report += lines
    entry = InstanceProfile(instance_type=instance_type, workers=workers.workers, service_time=service.distribution(),
                            memory_mb=memory_mb, calibrated=True,
                            cpu_per_worker=round(min(max(cpu_per_worker, 0.01), 64.0), 4))
    stamps = cloudwatch.index
    provenance = {
        "method": "cloudwatch" + (" + samples" if samples_ms is not None else ""),
        "time_window": [str(stamps.min()), str(stamps.max())],
        "minutes": len(cloudwatch),
        "observed_invocations_per_minute": [float(invocations.min()), float(invocations.max())],
        "light_load_requests": light_requests,
        "workers_determined": workers.determined,
    }
    return Calibration(entry=entry, overhead=overhead, service=service, workers_determined=workers.determined,
                       report=tuple(report), provenance=provenance)


def calibrate_samples(samples_ms: np.ndarray, instance_type: str, workers: int) -> Calibration:
    """Samples alone fix the service time; workers must come from elsewhere."""
    service = fit_samples(samples_ms)
    entry = InstanceProfile(instance_type=instance_type, workers=workers, service_time=service.distribution())
    report = (f"service time by maximum likelihood over {len(samples_ms):,} samples: {service.family}, mean "
              f"{service.mean_ms:.3f} ms, cv {service.cv:.3f}",
              "AIC by family: " + ", ".join(f"{f} {v:g}" for f, v in service.goodness.items()),
              f"workers: {workers} (assumed: samples alone do not determine them)")
    return Calibration(entry=entry, overhead=None, service=service, workers_determined=False, report=report,
                       provenance={"method": "samples", "samples": len(samples_ms)})


def calibrate_results(observations: Sequence[BenchmarkObservation], instance_type: str,
                      assumed_workers: int) -> Calibration:
    """From Inference Recommender results alone: the per-instance max M at the threshold fixes
    the capacity c / E[S] = M / 60 (the test stopped at its limit); c, E[S] and cv are not
    determined separately: c is assumed (the vCPUs), cv 0.5 lognormal."""
    matching = [o for o in observations if o.instance_type == instance_type and not o.environment] or \
        [o for o in observations if o.instance_type == instance_type]
    if not matching:
        covered = ", ".join(sorted({o.instance_type for o in observations}))
        raise InputError("instance_type", f"{instance_type} is in none of the given results (they cover {covered})")
    best = max(matching, key=lambda o: o.per_instance_max_invocations)
    capacity_per_s = best.per_instance_max_invocations / 60.0
    mean_ms = assumed_workers / capacity_per_s * 1000.0
    service = DistributionFit(family="lognormal", mean_ms=mean_ms, cv=DEFAULT_CV, method="assumed", goodness={})
    report = [f"capacity c / E[S] = {best.per_instance_max_invocations:,.0f} / 60 = {capacity_per_s:.2f} per s "
              f"(determined by the per-instance max at the threshold, {best.source})",
              f"NOT determined: workers (assumed {assumed_workers}), hence mean {mean_ms:.3f} ms; cv "
              f"(assumed {DEFAULT_CV}, lognormal)"]
    p = float(best.percentile[1:]) / 100.0
    alone = quantile_ms("lognormal", mean_ms, DEFAULT_CV, p)
    if alone > best.model_latency_ms:
        report.append(f"WARNING: the assumed service time alone has {best.percentile} {alone:.2f} ms, above the "
                      f"reported {best.model_latency_ms:.2f} ms: fewer workers or a lower cv would fit better")
    entry = InstanceProfile(instance_type=instance_type, workers=assumed_workers, service_time=service.distribution(),
                            memory_mb=None, calibrated=True, cpu_per_worker=1.0)
    provenance = {"method": "inference recommender results", "workers_determined": False,
                  "observed_invocations_per_minute": [0.0, float(best.per_instance_max_invocations)]}
    return Calibration(entry=entry, overhead=None, service=service, workers_determined=False, report=tuple(report),
                       provenance=provenance)
