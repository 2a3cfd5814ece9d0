"""Stopping conditions of a load test, judged once per simulated minute.

A test ends when its latency percentile over the last minute exceeds the threshold, when
Invocations per minute reach MaxInvocations, when the users added over the last minutes no
longer add throughput (FlatInvocations=Stop), or when the traffic pattern ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from simulator import checks
from simulator.metrics import Percentile
from simulator.plateau import Evidence, PlateauRule, Series, evidence

LATENCY_THRESHOLD = "LatencyThresholdExceeded"
MAX_INVOCATIONS = "MaxInvocationsReached"
FLAT_INVOCATIONS = "InvocationsFlattened"
TRAFFIC_ENDED = "TrafficPatternEnded"
JOB_STOPPED = "JobStopped"


@dataclass(frozen=True)
class LatencyThreshold:
    """``percentile`` (e.g. 95 or 99; a number is made a Percentile) of ModelLatency over one
    minute must stay <= ``value_ms``."""

    percentile: Percentile
    value_ms: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "percentile", Percentile(self.percentile))
        checks.positive(self.value_ms, "value_ms", what="milliseconds")


@dataclass(frozen=True)
class StoppingConditions:
    """What ends a test besides the end of its traffic.

    The flat-invocations rule (:mod:`simulator.plateau`, see :func:`plateau`) stops when the
    Invocations of the last ``flat_window_min`` minutes fall short of growth in proportion to
    users by more than ``flat_noise_sigmas`` standard deviations of counting noise (its
    variance estimated from the minutes), and the users added lately bring so little that
    at most about ``flat_gap`` of the level is left to gain.
    """

    max_invocations: int | None = None
    latency: LatencyThreshold | None = None
    stop_on_flat_invocations: bool = False
    flat_window_min: int = 1
    flat_noise_sigmas: float = 5.0
    flat_gap: float = 0.04

    def __post_init__(self) -> None:
        if self.max_invocations is not None:
            checks.integer(self.max_invocations, "max_invocations", minimum=1)
        checks.integer(self.flat_window_min, "flat_window_min", minimum=1, maximum=60, what="a number of minutes")
        checks.number(self.flat_gap, "flat_gap", minimum=0, maximum=1, strict_maximum=True, what="a share")
        checks.number(self.flat_noise_sigmas, "flat_noise_sigmas", minimum=0, maximum=100,
                      what="a number of standard deviations")


@dataclass(frozen=True)
class MinuteSummary:
    """What the stopping rules see of one complete simulated minute."""

    minute: int
    invocations: int
    latency_percentile_ms: float  # NaN when no threshold is set or nothing completed
    users_start: int
    users_end: int

    @property
    def users(self) -> float:
        """Users averaged over the minute, (start + end) / 2: exact while users are added
        at an even pace (PHASES) and the count itself while it stays constant."""
        return (self.users_start + self.users_end) / 2.0


def plateau(history: Sequence[MinuteSummary], conditions: StoppingConditions) -> Evidence | None:
    """The flat-invocations evidence after the last minute of ``history`` under
    ``conditions``' constants (None: nothing to judge yet)."""
    series = Series([m.invocations for m in history], [m.users_start for m in history],
                    [m.users_end for m in history])
    rule = PlateauRule(window=conditions.flat_window_min, sigmas=conditions.flat_noise_sigmas,
                       gap=conditions.flat_gap)
    return evidence(series, rule)


def stop_reason(history: Sequence[MinuteSummary], conditions: StoppingConditions) -> str | None:
    """The reason to stop after the last minute of ``history``, or None to go on."""
    if not history:
        return None
    last = history[-1]
    if conditions.latency is not None and last.latency_percentile_ms > conditions.latency.value_ms:
        return LATENCY_THRESHOLD
    if conditions.max_invocations is not None and last.invocations >= conditions.max_invocations:
        return MAX_INVOCATIONS
    if conditions.stop_on_flat_invocations:
        evidence = plateau(history, conditions)
        if evidence is not None and evidence.flat:
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
