"""Shared builders for the test-suite: small profiles and batch-means statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest


def make_profile(family: str = "exponential", mean_ms: float = 20.0, cv: float | None = None,
                 workers: int = 4, overhead: dict | None = None, instance_type: str = "ml.test.large") -> dict:
    """A one-instance profile document."""
    service: dict = {"family": family, "mean_ms": mean_ms}
    if cv is not None:
        service["cv"] = cv
    document = {"model": "test", "instances": {instance_type: {"workers": workers, "service_time": service}}}
    if overhead is not None:
        document["overhead_ms"] = overhead
    return document


def batch_mean_and_se(values: np.ndarray, batches: int = 30) -> tuple[float, float]:
    """Mean and its standard error by the method of batch means (for correlated output)."""
    chunks = np.array_split(np.asarray(values, dtype=float), batches)
    means = np.array([c.mean() for c in chunks])
    return float(means.mean()), float(means.std(ddof=1) / math.sqrt(batches))


@pytest.fixture
def profile_factory():
    return make_profile
