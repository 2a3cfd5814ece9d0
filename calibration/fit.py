"""Fitting a service profile entry to measurements.

- CloudWatch minutes: the worker count, the service-time family, mean and cv are fitted
  together to every minute's mean and percentiles (simulated moments, ``moments``), the fit
  profiled over c with a confidence set for c (``workers``). c is determined only when the
  set holds one value; otherwise the entry holds the member most conservative for capacity.
- Raw samples fix the service time by maximum likelihood (lognormal, gamma, Weibull,
  exponential; the lowest AIC wins); with CloudWatch minutes as well only c is fitted.
- Overhead latency, CPU per busy worker (CPUUtilization = 100 x busy workers x k) and memory.
- From Inference Recommender results alone: only the capacity c / E[S] is determined.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from calibration.closedloop import Service
from calibration.moments import MIN_FIT_REQUESTS, observed_minutes
from calibration.report import workers_provenance, workers_report
from calibration.sources import BenchmarkObservation
from calibration.workers import WorkersProfile, profile_workers
from simulator.distributions import Distribution, quantile_ms
from simulator.errors import InputError
from simulator.profiles import InstanceProfile

FAMILIES = ("lognormal", "gamma", "weibull", "exponential")
QUANTILES = (50, 90, 95, 99)
LIGHT_LOAD_TOLERANCE = 0.05   # a light minute's median latency is within 5 % of the lightest ones'
DEFAULT_CV = 0.5
DEFAULT_OVERHEAD_CV = 0.5
DELAY_REPORTED = 0.01         # a latency outside the workers below 1 % of the service time is noise


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
    workers: WorkersProfile | None = None  # the fit profiled over c (CloudWatch minutes only)


def check_finite(calibration: Calibration, field_name: str = "cloudwatch") -> None:
    """Every number the entry and overhead carry is finite and positive (a profile that
    would not load is never produced)."""
    numbers = {"mean_ms": calibration.entry.service_time.mean_ms, "cv": calibration.entry.service_time.cv,
               "cpu_per_worker": calibration.entry.cpu_per_worker}
    if calibration.overhead is not None:
        numbers["overhead mean_ms"] = calibration.overhead.mean_ms
    if calibration.entry.memory_mb is not None:
        numbers["memory_mb"] = calibration.entry.memory_mb + 1.0
    bad = {name: value for name, value in numbers.items() if not (math.isfinite(value) and value > 0)}
    if bad:
        listed = ", ".join(f"{name} {value!r}" for name, value in bad.items())
        raise InputError(field_name, f"the fit gave numbers that are not finite and positive ({listed}): "
                                       "the data cannot be fitted")


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
    """Maximum likelihood for each family (location 0); the lowest AIC wins. A family whose
    fit fails or is degenerate is left out; samples that show no spread fit none."""
    x = np.asarray(samples_ms, dtype=float)
    if x.size < 2 or float(np.std(x)) <= 1e-9 * float(np.mean(x)):
        raise InputError("samples", f"all {x.size} samples are {x[0]:g} ms: a distribution needs their spread")
    candidates = {"lognormal": stats.lognorm, "gamma": stats.gamma, "weibull": stats.weibull_min,
                  "exponential": stats.expon}
    aic: dict[str, float] = {}
    fitted: dict[str, Any] = {}
    for family, dist in candidates.items():
        try:
            params = dist.fit(x, floc=0)
            log_likelihood = float(np.sum(dist.logpdf(x, *params)))
        except (ValueError, RuntimeError, FloatingPointError):
            continue
        model = dist(*params)
        if not (math.isfinite(log_likelihood) and math.isfinite(float(model.mean())) and float(model.std()) > 0):
            continue
        aic[family] = 2 * (len(params) - 1) - 2 * log_likelihood  # the location is fixed
        fitted[family] = model
    if not aic:
        raise InputError("samples", "no service-time family fits these samples")
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


def _weighted(values: pd.Series, weights: pd.Series) -> float:
    mask = values.notna() & weights.notna()
    return float(np.average(values[mask], weights=weights[mask])) if mask.any() else math.nan


def _overhead(cloudwatch: pd.DataFrame, invocations: pd.Series) -> tuple[Distribution | None, list[str]]:
    """OverheadLatency's invocation-weighted mean, with an assumed cv (CloudWatch has no spread)."""
    if "OverheadLatency_Average" not in cloudwatch or not cloudwatch["OverheadLatency_Average"].notna().any():
        return None, []
    mean_overhead_ms = _weighted(cloudwatch["OverheadLatency_Average"], invocations) / 1000.0
    return Distribution("lognormal", mean_overhead_ms, DEFAULT_OVERHEAD_CV), [
        f"overhead: mean {mean_overhead_ms:.3f} ms (cv not in CloudWatch averages: {DEFAULT_OVERHEAD_CV} assumed)"]


def _with_delay(overhead: Distribution | None, delay_ms: float,
                mean_service_ms: float) -> tuple[Distribution | None, list[str]]:
    """Latency outside the workers (network, HTTP handling inside ModelLatency) moves into the
    overhead: the profile's loop then cycles as the measured one did; simulated ModelLatency
    is lower by it (the profile has no place for it)."""
    if delay_ms <= DELAY_REPORTED * mean_service_ms:
        return overhead, []
    base = overhead.mean_ms if overhead is not None else 0.0
    moved = Distribution("lognormal", base + delay_ms, overhead.cv if overhead is not None else DEFAULT_OVERHEAD_CV)
    return moved, [f"latency outside the workers: {delay_ms:.3f} ms of ModelLatency no worker is busy with (network, "
                   f"HTTP handling); moved into the overhead ({base:.3f} -> {base + delay_ms:.3f} ms) so the loop "
                   "cycles as measured; simulated ModelLatency is lower by it"]


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


def _service_fit(profile: WorkersProfile, fixed: DistributionFit | None) -> DistributionFit:
    """The chosen member's service law as a DistributionFit (goodness: chi2 by family at its c)."""
    if fixed is not None:
        return fixed
    service = profile.chosen.service
    return DistributionFit(family=service.family, mean_ms=service.mean_ms,
                           cv=1.0 if service.family == "exponential" else service.cv,
                           method="simulated moments over all minutes",
                           goodness={f: round(v, 2) for f, v in profile.by_family[profile.chosen.workers].items()})


NOISE_NAMES = ("mean", "p50", "p90", "p95", "p99")


def noise_lines(profile: WorkersProfile) -> list[str]:
    """What the data's own noise did to the fit: each statistic's estimated dispersion (when any
    exceeds 1), and a warning when the service law swings between adjacent c."""
    lines = []
    if any(x > 0.0 for x in profile.statistic_noise):
        listed = ", ".join(f"{name} {x:.1%}" for name, x in zip(NOISE_NAMES, profile.statistic_noise, strict=False))
        lines.append(f"noise in the data, estimated per statistic from minute to minute (the confidence set for c "
                     f"allows for it): {listed}")
    if profile.unstable:
        lines.append(f"WARNING: the fit is unstable: {profile.unstable}")
    return lines


def calibrate_cloudwatch(cloudwatch: pd.DataFrame, instance_type: str, instance_count: int,
                         instance_memory_mb: float | None, samples_ms: np.ndarray | None = None,
                         vcpu: int | None = None) -> Calibration:
    """A profile entry from per-minute CloudWatch data (the frame ``read_cloudwatch`` gives) and
    raw samples, if any. ``vcpu`` lets the CPU fit skip minutes where CPUUtilization hit its
    100 x vCPU ceiling."""
    if "ModelLatency_Average" not in cloudwatch:
        raise InputError("cloudwatch", "needs ModelLatency with the Average statistic")
    invocations = per_instance_invocations(cloudwatch, instance_count)
    minutes = observed_minutes(cloudwatch, invocations)
    if len(minutes.users) == 0:
        raise InputError("cloudwatch", f"has no minute with at least {MIN_FIT_REQUESTS} invocations and a "
                                       "ModelLatency Average")
    fixed = fit_samples(samples_ms) if samples_ms is not None else None
    try:
        profile = profile_workers(minutes, None if fixed is None else Service(fixed.family, fixed.mean_ms, fixed.cv))
    except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError, FloatingPointError) as exc:
        raise InputError("cloudwatch", f"cannot be fitted ({type(exc).__name__}: {exc})") from exc
    service = _service_fit(profile, fixed)
    workers = profile.chosen.workers
    report = list(cloudwatch.attrs.get("notes", [])) + workers_report(profile, minutes, len(cloudwatch))
    report.append(f"service time by {service.method}: {service.family}, mean {service.mean_ms:.3f} ms, "
                  f"cv {service.cv:.3f}")
    report.append(("AIC" if fixed is not None else f"chi2 at c = {workers}") + " by family: "
                  + ", ".join(f"{f} {v:g}" for f, v in service.goodness.items()))
    report += noise_lines(profile)
    overhead, lines = _overhead(cloudwatch, invocations)
    report += lines or ["overhead: OverheadLatency not given; the time between a response and the next request "
                        "is taken as 0 (user counts N = X x mean latency)"]
    overhead, lines = _with_delay(overhead, profile.chosen.delay_ms, service.mean_ms)
    report += lines
    cpu_per_worker, lines = _cpu_per_worker(cloudwatch, invocations, service.mean_ms, workers, vcpu)
    report += lines
    memory_mb, lines = _memory_mb(cloudwatch, instance_memory_mb)
    report += lines
    entry = InstanceProfile(instance_type=instance_type, workers=workers, service_time=service.distribution(),
                            memory_mb=memory_mb, calibrated=True,
                            cpu_per_worker=round(min(max(cpu_per_worker, 0.01), 64.0), 4))
    provenance = {
        "method": "cloudwatch, simulated moments" + (" + samples" if samples_ms is not None else ""),
        "time_window": [str(cloudwatch.index.min()), str(cloudwatch.index.max())],
        "minutes": len(cloudwatch),
        "observed_invocations_per_minute": [float(invocations.min()), float(invocations.max())],
        **workers_provenance(profile),
        "statistic_noise": dict(zip(NOISE_NAMES, (round(x, 4) for x in profile.statistic_noise), strict=False)),
        **({"fit_unstable": profile.unstable} if profile.unstable else {}),
        "latency_outside_workers_ms": round(profile.chosen.delay_ms, 4),
    }
    calibration = Calibration(entry=entry, overhead=overhead, service=service, workers_determined=profile.determined,
                              report=tuple(report), provenance=provenance, workers=profile)
    check_finite(calibration)
    return calibration


def calibrate_samples(samples_ms: np.ndarray, instance_type: str, workers: int) -> Calibration:
    """Samples alone fix the service time; workers must come from elsewhere."""
    service = fit_samples(samples_ms)
    entry = InstanceProfile(instance_type=instance_type, workers=workers, service_time=service.distribution())
    report = (f"service time by maximum likelihood over {len(samples_ms):,} samples: {service.family}, mean "
              f"{service.mean_ms:.3f} ms, cv {service.cv:.3f}",
              "AIC by family: " + ", ".join(f"{f} {v:g}" for f, v in service.goodness.items()),
              f"workers: {workers} (assumed: samples alone do not determine them)")
    calibration = Calibration(entry=entry, overhead=None, service=service, workers_determined=False, report=report,
                              provenance={"method": "samples", "samples": len(samples_ms)})
    check_finite(calibration, "samples")
    return calibration


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
