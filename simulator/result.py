"""What one simulated run measured: the result every engine's run comes back as."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simulator import checks
from simulator.errors import InputError
from simulator.metrics import MinuteStats
from simulator.stopping import MinuteSummary


@dataclass(frozen=True)
class ServerlessCounts:
    """What only a serverless run counts: attempts throttled at MaxConcurrency and requests
    that started an environment (cold starts)."""

    throttled: int
    cold_starts: int


@dataclass(frozen=True)
class SimulationResult:
    """What one simulated run measured. Latencies are ModelLatency (wait + service). A run that
    did not keep its requests has empty per-request arrays; its minutes are still exact.

    A serverless run names its size as ``instance_type`` (``serverless 2048 MB x10``), its
    MaxConcurrency as ``workers`` and ``serverless`` as ``routing``; it has no queue (``queued``
    0), one "instance", and its own counts in ``serverless``."""

    instance_type: str
    instance_count: int
    workers: int
    routing: str
    seed: int
    duration_s: float
    stop_reason: str
    completed: int
    issued: int
    in_service: int
    queued: int
    latency_ms: np.ndarray = field(repr=False)
    service_ms: np.ndarray = field(repr=False)
    completion_s: np.ndarray = field(repr=False)
    instance: np.ndarray = field(repr=False)
    per_minute: pd.DataFrame = field(repr=False)
    minutes: tuple[MinuteSummary, ...] = field(repr=False)
    calibrated: bool = True
    warnings: tuple[str, ...] = ()
    minute_stats: tuple[MinuteStats, ...] = field(default=(), repr=False)
    requests_kept: bool = True  # False: the per-request arrays are empty, the minutes exact
    serverless: ServerlessCounts | None = None  # a serverless run's own counts

    @property
    def throttled(self) -> int:
        """Attempts refused at MaxConcurrency (serverless; 0 for a real-time endpoint)."""
        return self.serverless.throttled if self.serverless is not None else 0

    @property
    def cold_starts(self) -> int:
        """Requests that started an environment (serverless; 0 for a real-time endpoint)."""
        return self.serverless.cold_starts if self.serverless is not None else 0

    @property
    def throughput_per_s(self) -> float:
        """Completed requests per simulated second over the whole run."""
        return self.completed / self.duration_s if self.duration_s > 0 else 0.0

    def percentile_ms(self, p: float) -> float:
        """Exact ``p``-th percentile of ModelLatency in ms over the whole run (numpy's linear
        definition); needs the requests (``keep_requests``)."""
        checks.number(p, "p", minimum=0, maximum=100)
        if not self.requests_kept:
            raise InputError("keep_requests", "this run kept per-minute statistics only: whole-run percentiles "
                                              "need keep_requests=True")
        return float(np.percentile(self.latency_ms, p)) if self.completed else math.nan

    @property
    def mean_latency_ms(self) -> float:
        """Mean ModelLatency in ms over the whole run (from the minutes when the requests are gone)."""
        if self.requests_kept or not self.completed:
            return float(self.latency_ms.mean()) if self.latency_ms.size else math.nan
        total = sum(m.latency_s[0] * m.invocations for m in self.minute_stats if m.invocations)
        return total / sum(m.invocations for m in self.minute_stats) * 1000.0

    def summary(self) -> dict[str, Any]:
        """The headline numbers as plain JSON-ready values."""
        return {
            "instance_type": self.instance_type, "instance_count": self.instance_count,
            "workers": self.workers, "routing": self.routing, "seed": self.seed,
            "calibrated": self.calibrated,
            "duration_s": self.duration_s, "stop_reason": self.stop_reason,
            "completed": self.completed, "issued": self.issued, "warnings": list(self.warnings),
            "in_flight": self.in_service + self.queued,
            "throughput_per_s": self.throughput_per_s,
            "invocations_per_minute": self.throughput_per_s * 60.0,
            "latency_ms": {"mean": self.mean_latency_ms,
                           **({f"p{p}": self.percentile_ms(p) for p in (50, 90, 95, 99)} if self.requests_kept
                              else {})},
        }
