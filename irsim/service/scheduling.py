"""The job's simulated timeline: benchmarks in index order on MaxParallelOfTests slots, each
after its endpoint's provisioning, within JobDurationInSeconds; placed so that it has ended
when the job completes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from irsim.service.admission import PROVISIONING_S
from irsim.service.benchmark import BenchmarkOutcome


@dataclass(frozen=True)
class Placed:
    """A benchmark on the timeline: its invocations' start and end, in seconds from the origin."""

    outcome: BenchmarkOutcome
    start_s: float
    end_s: float


def schedule(outcomes: Sequence[BenchmarkOutcome], max_parallel: int, traffic_duration_s: float,
             job_duration_s: float) -> tuple[list[Placed], list[BenchmarkOutcome]]:
    """Place benchmarks in index order on ``max_parallel`` slots. A benchmark starts only if
    provisioning plus its whole traffic pattern would end within the job's duration; the
    others are returned second."""
    slots = [0.0] * max_parallel
    placed, dropped = [], []
    for outcome in outcomes:
        slot = min(range(max_parallel), key=slots.__getitem__)
        start = slots[slot]
        if start + PROVISIONING_S + traffic_duration_s > job_duration_s:
            dropped.append(outcome)
            continue
        invocation_start = start + PROVISIONING_S
        invocation_end = invocation_start + outcome.duration_s
        slots[slot] = invocation_end
        placed.append(Placed(outcome=outcome, start_s=invocation_start, end_s=invocation_end))
    return placed, dropped


def origin(placed: Sequence[Placed], completed: datetime) -> datetime:
    """Where the timeline starts so that its last benchmark ends at ``completed``."""
    return completed - timedelta(seconds=max((item.end_s for item in placed), default=0.0))
