"""Each wall-clock minute of a measured load test, closed and judged as the simulator judges
its simulated minutes: the same summary (:func:`simulator.metrics.summarize`), the same
:class:`~simulator.stopping.MinuteSummary` (users read at the minute's start and its last
instant, as the harness reads them) and the same :func:`~simulator.stopping.stop_reason`. Only
two things are the measurement's own: a minute whose requests the model mostly refused fails
the test (AWS's ModelError), and a minute the load generator limited is flagged."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from simulator.harness import LAST_INSTANT_S
from simulator.metrics import MinuteStats, summarize
from simulator.stopping import MinuteSummary, StoppingConditions, stop_reason
from simulator.traffic import Phases, Stairs

MODEL_ERROR = "ModelError"
#: irsim's own rule (AWS documents none): a minute in which more than this share of the
#: requests got a 4xx or 5xx answer, or none, fails the test.
ERROR_SHARE = 0.5
#: The generator limits a minute when it used more than this share of its one event-loop core...
GENERATOR_CPU_LIMIT = 0.8
#: ...or when a ready callback waited, on average, more than this share of the mean latency.
LOOP_LAG_SHARE = 0.05
MINUTE_S = 60.0


@dataclass(frozen=True)
class Clock:
    """Wall-clock time of a test: a minute lasts ``minute_s`` seconds (60 unless a test asks
    for less), and so does every duration of the traffic pattern, in proportion."""

    minute_s: float = MINUTE_S

    @property
    def scale(self) -> float:
        """Wall seconds per traffic-pattern second."""
        return self.minute_s / MINUTE_S

    def pattern_s(self, wall_s: float) -> float:
        """A wall-clock offset as a traffic-pattern offset."""
        return wall_s / self.scale

    def stopping(self, conditions: StoppingConditions) -> StoppingConditions:
        """The conditions judged on minutes of ``minute_s``: MaxInvocations (per 60 s) scaled to
        the minute's length, everything else as it is."""
        if conditions.max_invocations is None or self.minute_s == MINUTE_S:
            return conditions
        return replace(conditions, max_invocations=max(1, math.ceil(conditions.max_invocations * self.scale)))


@dataclass(frozen=True)
class RequestBatch:
    """The requests that ended in one minute: those the model answered (any status), and
    those that got no answer at all."""

    latency_s: np.ndarray
    overhead_s: np.ndarray
    status: np.ndarray      # HTTP status per answered request
    failed: int             # no answer: connection refused or reset, timeout
    first_error: str | None  # the first refusal's status and message


@dataclass(frozen=True)
class GeneratorLoad:
    """How hard the load generator worked in a minute."""

    cpu_fraction: float     # of one core (its event loop runs on one)
    client_cpu_us: float    # generator CPU per request: the client-side overhead
    loop_lag_ms: float      # mean wait of a ready callback on the event loop
    limited: bool


@dataclass(frozen=True)
class MeasuredMinute:
    """One closed minute: the simulator's statistics of it, what the stopping rules see of it
    (None for a partial last minute, which they never judge), errors, resources, generator."""

    stats: MinuteStats
    summary: MinuteSummary | None
    errors_4xx: int
    errors_5xx: int
    failed: int
    first_error: str | None
    cpu_percent: float
    memory_percent: float
    generator: GeneratorLoad

    @property
    def attempts(self) -> int:
        return self.stats.invocations + self.failed

    @property
    def refused(self) -> int:
        return self.errors_4xx + self.errors_5xx + self.failed


def generator_load(cpu_s: float, wall_s: float, requests: int, lags_s: Sequence[float],
                   mean_latency_s: float) -> GeneratorLoad:
    """The generator's CPU share, its CPU per request and its event-loop lag, and whether they
    limited the minute's numbers."""
    cpu = cpu_s / wall_s if wall_s > 0 else 0.0
    lag_ms = 1000.0 * float(np.mean(lags_s)) if len(lags_s) else 0.0
    lag_limited = math.isfinite(mean_latency_s) and lag_ms > LOOP_LAG_SHARE * 1000.0 * mean_latency_s
    return GeneratorLoad(cpu_fraction=cpu, client_cpu_us=1e6 * cpu_s / requests if requests else math.nan,
                         loop_lag_ms=lag_ms, limited=cpu > GENERATOR_CPU_LIMIT or lag_limited)


def close_minute(index: int, start_s: float, seconds: float, batch: RequestBatch, traffic: Phases | Stairs,
                 clock: Clock, percentile: float | None) -> tuple[MinuteStats, MinuteSummary | None]:
    """The minute's exact statistics (the simulator's summarize: latency also stands in for the
    unknown service time) and, for a whole minute, what the stopping rules see of it."""
    stats = summarize(index, start_s, seconds, batch.latency_s, batch.latency_s, batch.overhead_s)
    if seconds < clock.minute_s - 1e-6:
        return stats, None
    value = math.nan
    if percentile is not None:
        found = stats.percentile_s(percentile)
        value = 1000.0 * found if found is not None and not math.isnan(found) else math.nan
    start = clock.pattern_s(start_s)
    end = clock.pattern_s(start_s + seconds)
    summary = MinuteSummary(minute=index, invocations=stats.invocations, latency_percentile_ms=value,
                            users_start=traffic.users_at(start), users_end=traffic.users_at(end - LAST_INSTANT_S))
    return stats, summary


def model_error(minute: MeasuredMinute) -> str | None:
    """AWS's ModelError ("Model (owned by the customer in the container) returned 4xx or 5xx
    error code") when refusals dominate the minute; None otherwise."""
    if minute.attempts == 0 or minute.refused <= ERROR_SHARE * minute.attempts:
        return None
    what = (f"{minute.errors_4xx} 4xx, {minute.errors_5xx} 5xx and {minute.failed} unanswered of "
            f"{minute.attempts} requests in minute {minute.stats.minute + 1}")
    return (f"{MODEL_ERROR}: the model container returned 4xx or 5xx error codes ({what}; irsim fails a test "
            f"when more than {ERROR_SHARE:.0%} of a minute's requests fail, a rule of its own)"
            + (f"; first: {minute.first_error}" if minute.first_error else ""))


@dataclass(frozen=True)
class Verdict:
    """Why a test ends: the stop reason (the simulator's, or MODEL_ERROR) and, for a failure,
    its words."""

    reason: str
    failure: str | None = None


def judge(history: Sequence[MeasuredMinute], conditions: StoppingConditions) -> Verdict | None:
    """Why the test ends after its last minute, or None to go on: a ModelError first, then the
    simulator's stopping rules on the same summaries the simulator builds."""
    if history and (failure := model_error(history[-1])) is not None:
        return Verdict(MODEL_ERROR, failure)
    reason = stop_reason([m.summary for m in history if m.summary is not None], conditions)
    return Verdict(reason) if reason is not None else None
