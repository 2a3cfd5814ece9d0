"""Service-time families: parse a profile's distribution spec and draw from it in blocks.

Every family is parameterised by its mean (and cv where it has one) so profiles stay
comparable across families; draws come in numpy blocks because per-draw calls would
dominate the engine's hot loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from simulator import checks
from simulator.errors import InputError

FAMILIES = ("exponential", "deterministic", "lognormal", "gamma", "weibull", "empirical")
MAX_CV = 10.0


@dataclass(frozen=True)
class Distribution:
    """A positive random duration in milliseconds (service time, overhead, setup time)."""

    family: str
    mean_ms: float
    cv: float
    samples_ms: tuple[float, ...] = field(default=(), repr=False)

    def sample_s(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values, in seconds."""
        return _sample_ms(self, rng, size) / 1000.0

    def to_dict(self) -> dict[str, Any]:
        """The profile-JSON form of this distribution."""
        if self.family == "empirical":
            return {"family": "empirical", "samples_ms": list(self.samples_ms)}
        if self.family in ("exponential", "deterministic"):
            return {"family": self.family, "mean_ms": self.mean_ms}
        return {"family": self.family, "mean_ms": self.mean_ms, "cv": self.cv}

    def scaled(self, factor: float) -> Distribution:
        """The same shape with every value multiplied by ``factor`` (cv unchanged)."""
        return Distribution(self.family, self.mean_ms * factor, self.cv,
                            tuple(s * factor for s in self.samples_ms))


def lognormal_parameters(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the underlying normal for a lognormal with this mean and cv."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def weibull_shape(cv: float) -> float:
    """Weibull shape k whose coefficient of variation is ``cv``."""

    def cv_of(k: float) -> float:
        g1 = special.gamma(1.0 + 1.0 / k)
        return math.sqrt(special.gamma(1.0 + 2.0 / k) / (g1 * g1) - 1.0)

    return optimize.brentq(lambda k: cv_of(k) - cv, 0.05, 500.0, xtol=1e-12)


def _sample_ms(dist: Distribution, rng: np.random.Generator, size: int) -> np.ndarray:
    family, mean, cv = dist.family, dist.mean_ms, dist.cv
    if family == "exponential":
        return rng.exponential(mean, size)
    if family == "deterministic":
        return np.full(size, mean)
    if family == "lognormal":
        mu, sigma = lognormal_parameters(mean, cv)
        return rng.lognormal(mu, sigma, size)
    if family == "gamma":
        shape = 1.0 / (cv * cv)
        return rng.gamma(shape, mean / shape, size)
    if family == "weibull":
        k = weibull_shape(cv)
        return mean / special.gamma(1.0 + 1.0 / k) * rng.weibull(k, size)
    return rng.choice(np.asarray(dist.samples_ms), size)


def _allowed_keys(family: str) -> set[str]:
    """The keys a spec of ``family`` may carry: its parameters and the family itself."""
    if family == "empirical":
        return {"family", "samples_ms"}
    if family in ("exponential", "deterministic"):
        return {"family", "mean_ms"}
    return {"family", "mean_ms", "cv"}


def _empirical(samples: Any, where: str) -> Distribution:
    """An empirical distribution from a non-empty list of positive finite milliseconds."""
    field_name = f"{where}.samples_ms"
    if not isinstance(samples, (list, tuple)) or not samples or not all(checks.is_number(s) for s in samples):
        raise InputError(field_name, "must be a non-empty list of numbers > 0")
    values = np.asarray(samples, dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InputError(field_name, "must be a non-empty list of numbers > 0")
    mean = float(values.mean())
    return Distribution("empirical", mean, float(values.std() / mean), tuple(float(v) for v in values))


def parse_distribution(spec: Any, where: str) -> Distribution:
    """Validate a profile's distribution spec (``{"family": ..., ...}``) into a Distribution."""
    if not isinstance(spec, Mapping):
        raise InputError(where, f"must be an object with a 'family', got {spec!r}")
    family = checks.choice(spec.get("family"), f"{where}.family", FAMILIES)
    allowed = _allowed_keys(family)
    extra = sorted(set(spec) - allowed)
    if extra:
        raise InputError(f"{where}.{extra[0]}",
                         f"not allowed for family {family!r} (allowed keys: {', '.join(sorted(allowed))})")
    if family == "empirical":
        return _empirical(spec.get("samples_ms"), where)
    mean = checks.positive(spec.get("mean_ms"), f"{where}.mean_ms")
    if family == "exponential":
        return Distribution(family, mean, 1.0)
    if family == "deterministic":
        return Distribution(family, mean, 0.0)
    cv = checks.positive(spec.get("cv"), f"{where}.cv", maximum=MAX_CV)
    return Distribution(family, mean, cv)


def quantile_ms(family: str, mean_ms: float, cv: float, p: float) -> float:
    """The p-quantile (0 < p < 1) of ``family`` with this mean and cv."""
    if family == "exponential":
        return -mean_ms * math.log1p(-p)
    if family == "lognormal":
        mu, sigma = lognormal_parameters(mean_ms, cv)
        return math.exp(mu + sigma * stats.norm.ppf(p))
    if family == "gamma":
        shape = 1.0 / (cv * cv)
        return float(stats.gamma.ppf(p, shape, scale=mean_ms / shape))
    if family == "weibull":
        k = weibull_shape(cv)
        return mean_ms / special.gamma(1 + 1 / k) * (-math.log1p(-p)) ** (1 / k)
    raise ValueError(family)
