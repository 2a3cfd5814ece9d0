"""Turns one minute's completions into CloudWatch-shaped numbers, and minutes into the
per-minute series.

Each minute is summarized exactly when it closes (:func:`summarize`: every request completed
in the minute, numpy's linear percentiles), so a run need not keep its requests to report
them. Latencies are reported in microseconds as CloudWatch does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator import checks
from simulator.errors import InputError

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


class Percentile(float):
    """A latency percentile, a number in (0, 100] that knows its names: the label the API
    and the reports use (``P95``) and its per-minute column (``ModelLatency_p95``, one of
    PER_MINUTE_COLUMNS when it is one of PERCENTILES). It is the number itself wherever a
    number is read (``np.percentile``, comparisons, ``f"{p:g}"``)."""

    __slots__ = ()

    def __new__(cls, value: float, field: str = "percentile") -> Percentile:
        return super().__new__(cls, checks.number(value, field, minimum=0, maximum=100, strict_minimum=True))

    @classmethod
    def parse(cls, value: str | float, field: str = "percentile") -> Percentile:
        """``"P95"``, ``"p99"``, ``95`` or ``95.0`` as a Percentile."""
        if isinstance(value, str):
            try:
                number = float(value.strip().upper().removeprefix("P"))
            except ValueError:
                raise InputError(field, f"must be a percentile such as P95, got {value!r}") from None
            return cls(number, field)
        return cls(value, field)

    @property
    def label(self) -> str:
        """``P95``: how the API (ModelLatencyThresholds' Percentile) and the reports name it."""
        return f"P{self:g}"

    @property
    def column(self) -> str:
        """``ModelLatency_p95``: its per-minute column, the CloudWatch statistic's name."""
        return f"ModelLatency_p{self:g}"

    @property
    def tabulated(self) -> bool:
        """Whether every closed minute carries it (one of PERCENTILES) and the frame its column."""
        return self in PERCENTILES


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


@dataclass(frozen=True)
class MinuteStats:
    """One minute's completions summarized exactly: all the per-minute series and the job's
    figures need once the minute's per-request records are gone."""

    minute: int
    start_s: float
    seconds: float
    invocations: int
    #: ModelLatency in seconds: mean, minimum, maximum, then the ``PERCENTILES`` (NaN when none completed)
    latency_s: tuple[float, ...]
    overhead_mean_us: float  # over the overhead latencies drawn in the minute (NaN when none)
    busy_s: float            # the service times summed: worker-seconds of work completed
    billed_ms: int           # service times rounded up to whole ms, at least 1 each (serverless billing)
    throttled: int = 0       # serverless: attempts refused at MaxConcurrency
    cold_starts: int = 0     # serverless: completions that started an environment
    setup_s: float = 0.0     # serverless: their setup times summed

    def percentile_s(self, p: float) -> float | None:
        """The ``p``-th latency percentile in seconds when ``p`` is one of ``PERCENTILES`` (NaN
        when nothing completed); None for any other ``p``."""
        return self.latency_s[3 + PERCENTILES.index(p)] if p in PERCENTILES else None


def summarize(minute: int, start_s: float, seconds: float, latency_s: np.ndarray, service_s: np.ndarray,
              overhead_s: np.ndarray, setup_s: np.ndarray | None = None, throttled: int = 0) -> MinuteStats:
    """The exact statistics of one minute's completions (arrays in seconds)."""
    n = int(latency_s.size)
    if n:
        latency = (float(latency_s.mean()), float(latency_s.min()), float(latency_s.max()),
                   *(float(v) for v in np.percentile(latency_s, PERCENTILES)))
    else:
        latency = (math.nan,) * (3 + len(PERCENTILES))
    cold = setup_s[setup_s > 0] if setup_s is not None else np.empty(0)
    return MinuteStats(
        minute=minute, start_s=start_s, seconds=seconds, invocations=n, latency_s=latency,
        overhead_mean_us=float(overhead_s.mean()) * 1e6 if overhead_s.size else math.nan,
        busy_s=float(service_s.sum()),
        billed_ms=_billed_ms(service_s),
        throttled=throttled, cold_starts=int(cold.size), setup_s=float(cold.sum()))


def _billed_ms(service_s: np.ndarray) -> int:
    """Service times rounded up to whole ms, at least 1 each, summed: computed in one array, in
    place (a minute may hold millions of requests: no temporary per step)."""
    if not service_s.size:
        return 0
    billed = service_s * 1000.0
    billed -= 1e-9
    np.ceil(billed, out=billed)
    np.maximum(billed, 1.0, out=billed)
    return int(billed.sum())


def per_minute(stats: Sequence[MinuteStats], instance_count: int, users_at: Callable[[float], int] | None = None,
               utilization: UtilizationModel = UtilizationModel()) -> pd.DataFrame:
    """One row per simulated minute (the last may be partial: see ``seconds``)."""
    cpu_cap = 100.0 * utilization.resources.vcpu if utilization.resources else math.inf
    memory = math.nan
    if utilization.resources and utilization.model_memory_mb is not None:
        memory = min(100.0, 100.0 * utilization.model_memory_mb / utilization.resources.memory_mb)
    rows = []
    for s in stats:
        busy_workers = s.busy_s / s.seconds / instance_count if s.seconds > 0 else 0.0
        cpu = min(cpu_cap, 100.0 * busy_workers * utilization.cpu_per_worker)
        users = users_at(s.start_s) if users_at else 0
        rows.append((s.minute, s.start_s, s.seconds, users, s.invocations, s.invocations / instance_count,
                     *(v * 1e6 for v in s.latency_s), s.overhead_mean_us, 0, 0, cpu, memory))
    return pd.DataFrame(rows, columns=list(PER_MINUTE_COLUMNS))
