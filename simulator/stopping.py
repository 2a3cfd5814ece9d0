"""Stopping conditions of a load test, judged once per simulated minute.

A test ends when its latency percentile over the last minute exceeds the threshold, when
Invocations per minute reach MaxInvocations, when invocations flatten while users still
grow (FlatInvocations=Stop), or when the traffic pattern ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from simulator.errors import InputError

LATENCY_THRESHOLD = "LatencyThresholdExceeded"
MAX_INVOCATIONS = "MaxInvocationsReached"
FLAT_INVOCATIONS = "InvocationsFlattened"
TRAFFIC_ENDED = "TrafficPatternEnded"
JOB_STOPPED = "JobStopped"


@dataclass(frozen=True)
class LatencyThreshold:
    """``percentile`` (95 or 99) of ModelLatency over one minute must stay <= ``value_ms``."""

    percentile: float
    value_ms: float

    def __post_init__(self) -> None:
        if not 0 < self.percentile <= 100:
            raise InputError("Percentile", f"must be in (0, 100], got {self.percentile!r}")
        if not self.value_ms > 0:
            raise InputError("ValueInMilliseconds", f"must be > 0, got {self.value_ms!r}")


@dataclass(frozen=True)
class StoppingConditions:
    """What ends a test besides the end of its traffic.

    The flat-invocations plateau rule: at minute m, users grew over the last
    ``flat_window_min`` minutes but Invocations(m) <= (1 + ``flat_tolerance``) times the
    largest count of those minutes.
    """

    max_invocations: int | None = None
    latency: LatencyThreshold | None = None
    stop_on_flat_invocations: bool = False
    flat_window_min: int = 2
    flat_tolerance: float = 0.05

    def __post_init__(self) -> None:
        if self.max_invocations is not None and self.max_invocations < 1:
            raise InputError("MaxInvocations", f"must be >= 1, got {self.max_invocations!r}")
        if not 1 <= self.flat_window_min <= 60:
            raise InputError("flat_window_min", f"must be 1 to 60 minutes, got {self.flat_window_min!r}")
        if not 0 <= self.flat_tolerance <= 1:
            raise InputError("flat_tolerance", f"must be from 0 to 1, got {self.flat_tolerance!r}")


@dataclass(frozen=True)
class MinuteSummary:
    """What the stopping rules see of one complete simulated minute."""

    minute: int
    invocations: int
    latency_percentile_ms: float  # NaN when no threshold is set or nothing completed
    users_start: int
    users_end: int


def stop_reason(history: Sequence[MinuteSummary], conditions: StoppingConditions) -> str | None:
    """The reason to stop after the last minute of ``history``, or None to go on."""
    if not history:
        return None
    last = history[-1]
    if conditions.latency is not None and last.latency_percentile_ms > conditions.latency.value_ms:
        return LATENCY_THRESHOLD
    if conditions.max_invocations is not None and last.invocations >= conditions.max_invocations:
        return MAX_INVOCATIONS
    window = conditions.flat_window_min
    if conditions.stop_on_flat_invocations and len(history) > window:
        earlier = history[-1 - window:-1]
        users_grew = last.users_end > earlier[0].users_start
        previous_best = max(m.invocations for m in earlier)
        if users_grew and last.invocations <= (1.0 + conditions.flat_tolerance) * previous_best:
            return FLAT_INVOCATIONS
    return None


def within_threshold(summary: MinuteSummary, conditions: StoppingConditions) -> bool:
    """Whether a minute's latency percentile met the threshold (always true without one)."""
    if conditions.latency is None:
        return True
    value = summary.latency_percentile_ms
    return not math.isnan(value) and value <= conditions.latency.value_ms


def best_minute(history: Sequence[MinuteSummary], conditions: StoppingConditions) -> MinuteSummary | None:
    """The minute with the most Invocations among those within the latency threshold.

    Its count is the test's per-instance max; ties go to the earliest minute.
    """
    best = None
    for summary in history:
        if within_threshold(summary, conditions) and (best is None or summary.invocations > best.invocations):
            best = summary
    return best
