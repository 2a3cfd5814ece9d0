"""Turns per-request records into the per-minute, CloudWatch-shaped series.

Percentiles are exact over every request completed in the minute (numpy's default,
linear interpolation). Latencies are reported in microseconds as CloudWatch does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

MINUTE_S = 60.0
PERCENTILES = (50, 90, 95, 99)

#: Stable column order of the per-minute DataFrame (and of metrics.csv).
PER_MINUTE_COLUMNS = (
    "minute", "start_s", "seconds", "Users", "Invocations", "InvocationsPerInstance",
    "ModelLatency_Average", "ModelLatency_Minimum", "ModelLatency_Maximum",
    "ModelLatency_p50", "ModelLatency_p90", "ModelLatency_p95", "ModelLatency_p99",
    "OverheadLatency_Average", "Invocation4XXErrors", "Invocation5XXErrors",
    "CPUUtilization", "MemoryUtilization",
)


@dataclass(frozen=True)
class InstanceResources:
    """What the metrics need to know of the hardware: vCPUs and memory (MiB)."""

    vcpu: int
    memory_mb: float


@dataclass(frozen=True)
class UtilizationModel:
    """CPUUtilization = 100 x busy workers x ``cpu_per_worker`` (capped at 100 x vCPU);
    MemoryUtilization = 100 x model memory / instance memory."""

    cpu_per_worker: float = 1.0
    model_memory_mb: float | None = None
    resources: InstanceResources | None = None


def minute_bounds(completion_s: np.ndarray, end_s: float) -> list[tuple[int, float, float, int, int]]:
    """(minute, start_s, seconds, first_index, last_index) for each minute up to ``end_s``."""
    count = max(1, math.ceil(end_s / MINUTE_S - 1e-9))
    starts = np.arange(count) * MINUTE_S
    edges = np.searchsorted(completion_s, np.append(starts, end_s), side="left")
    return [(m, float(starts[m]), float(min(end_s, starts[m] + MINUTE_S) - starts[m]),
             int(edges[m]), int(edges[m + 1])) for m in range(count)]


def per_minute(completion_s: np.ndarray, latency_s: np.ndarray, service_s: np.ndarray,
               overhead_s: np.ndarray, end_s: float, instance_count: int,
               users_at: Callable[[float], int] | None = None,
               utilization: UtilizationModel = UtilizationModel()) -> pd.DataFrame:
    """One row per simulated minute (the last may be partial: see ``seconds``)."""
    rows = []
    cpu_cap = 100.0 * utilization.resources.vcpu if utilization.resources else math.inf
    memory = math.nan
    if utilization.resources and utilization.model_memory_mb is not None:
        memory = min(100.0, 100.0 * utilization.model_memory_mb / utilization.resources.memory_mb)
    overhead_aligned = overhead_s.size == completion_s.size
    for minute, start, seconds, first, last in minute_bounds(completion_s, end_s):
        latencies_us = latency_s[first:last] * 1e6
        n = last - first
        if n:
            stats = [latencies_us.mean(), latencies_us.min(), latencies_us.max(),
                     *np.percentile(latencies_us, PERCENTILES)]
        else:
            stats = [math.nan] * (3 + len(PERCENTILES))
        overhead = overhead_s[first:last].mean() * 1e6 if overhead_aligned and n else math.nan
        busy_workers = service_s[first:last].sum() / seconds / instance_count if seconds > 0 else 0.0
        cpu = min(cpu_cap, 100.0 * busy_workers * utilization.cpu_per_worker)
        users = users_at(start) if users_at else 0
        rows.append((minute, start, seconds, users, n, n / instance_count, *stats, overhead, 0, 0, cpu, memory))
    return pd.DataFrame(rows, columns=list(PER_MINUTE_COLUMNS))
