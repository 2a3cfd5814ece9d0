"""Progress lines on stderr while a job runs."""

from __future__ import annotations

import sys
from typing import TextIO

from irsim.service.benchmark import BenchmarkOutcome
from irsim.service.job import Progress
from irsim.service.labels import benchmark_label

BAR_WIDTH = 24


def progress_printer(traffic_duration_s: float, stream: TextIO | None = None) -> Progress:
    """A callback that draws one bar per finished benchmark: how much of the traffic ran."""

    def show(outcome: BenchmarkOutcome, done: int, total: int) -> None:
        fraction = min(1.0, outcome.duration_s / traffic_duration_s) if traffic_duration_s else 1.0
        filled = round(fraction * BAR_WIDTH)
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        print(f"[{done}/{total}] {benchmark_label(outcome):<34} |{bar}| {outcome.duration_s / 60:>4.0f} min  "
              f"{outcome.status:<9} {outcome.stop_reason}", file=stream or sys.stderr, flush=True)

    return show


