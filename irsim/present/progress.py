"""Live progress on stderr, drawn with rich while the work runs: a job's benchmarks minute by
minute (users, invocations per minute, the latency percentile against the threshold), the
replication under way, recommend's candidates and verifications, a sweep's scenarios with an
ETA. Nothing is drawn when stderr is not a terminal or when the caller asks for quiet.

A finished benchmark's bar is always full: how far its traffic pattern got is said in words
(a benchmark that stopped at minute 6 of 24 because its threshold broke is COMPLETED, not 25 %
done)."""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from irsim.service.benchmark import COMPLETED, BenchmarkOutcome
from irsim.service.labels import spec_label
from irsim.service.request import BenchmarkSpec, JobSpec
from irsim.service.watch import Watch
from optimizer.events import CANDIDATES, INFEASIBLE, PRUNED, SERVERLESS, SIZED, SIZING, VERIFICATION, PlanEvent
from simulator.stopping import MinuteSummary

REFRESH_S = 0.1  # at most ten redraws a second, however fast the minutes arrive
LABEL_WIDTH = 34


def progress_console(quiet: bool = False, stream: TextIO | None = None, force: bool = False) -> Console | None:
    """The console progress is drawn on (stderr by default), or None: ``quiet``, or not a terminal."""
    console = Console(file=stream or sys.stderr, force_terminal=True if force else None, highlight=False)
    return None if quiet or not console.is_terminal else console


class _Live:
    """A rich Progress redrawn by its callers (no refresh thread: the job forks benchmark
    processes, and a thread holding the console's lock must not be copied into them)."""

    def __init__(self, console: Console, *columns: Any) -> None:
        self.console = console
        self.bars = Progress(*columns, console=console, auto_refresh=False, transient=False)
        self.lock = threading.RLock()
        self._drawn = 0.0
        self._started = False

    def start(self) -> None:
        if not self._started:
            self.bars.start()
            self._started = True

    def redraw(self, now: bool = False) -> None:
        """Redraw, at most every REFRESH_S unless ``now``."""
        clock = time.monotonic()
        if now or clock - self._drawn >= REFRESH_S:
            self._drawn = clock
            self.bars.refresh()

    def say(self, text: str) -> None:
        """A line above the bars, kept when they go."""
        with self.lock:
            self.bars.console.print(text)

    def stop(self) -> None:
        with self.lock:
            if self._started:
                self.bars.refresh()
                self.bars.stop()
                self._started = False


class JobProgress(Watch):
    """One bar per benchmark of a job, filled minute by minute while it runs."""

    def __init__(self, console: Console) -> None:
        self.live = _Live(console, TextColumn("{task.description}"), BarColumn(bar_width=24),
                          TextColumn("{task.fields[minutes]:>11}"), TextColumn("{task.fields[detail]}"))
        self.tasks: dict[int, TaskID] = {}
        self.ended: set[int] = set()
        self.planned_minutes = 1
        self.threshold: tuple[str, float] | None = None
        self.round = ""
        self.outcomes: list[BenchmarkOutcome] = []
        self.width = LABEL_WIDTH
        self.check: TaskID | None = None
        self.started = 0.0

    def __enter__(self) -> JobProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def planned(self, job: JobSpec, benchmarks: Sequence[BenchmarkSpec]) -> None:
        latency = job.stopping.latency
        with self.live.lock:
            for task in self.tasks.values():  # the previous replication's bars
                self.live.bars.remove_task(task)
            self.tasks, self.ended, self.outcomes = {}, set(), []
            self.planned_minutes = max(1, int(job.traffic.duration_s // 60))
            self.threshold = (job.percentile, latency.value_ms) if latency else None
            labels = {spec.index: f"{self.round}{spec_label(spec)}" for spec in benchmarks}
            self.width = max([LABEL_WIDTH, *(len(label) for label in labels.values())])  # never cut
            for spec in benchmarks:
                label = escape(labels[spec.index])
                self.tasks[spec.index] = self.live.bars.add_task(
                    f"{label:<{self.width}}", total=self.planned_minutes,
                    minutes=f"0/{self.planned_minutes} min", detail="[dim]waiting[/]")
            self.live.start()
            self.live.redraw(now=True)

    def minute(self, index: int, summary: MinuteSummary) -> None:
        with self.live.lock:
            if index not in self.tasks or index in self.ended:
                return  # a minute that arrived after its benchmark's end
            done = min(summary.minute + 1, self.planned_minutes)
            self.live.bars.update(self.tasks[index], completed=done, minutes=f"{done}/{self.planned_minutes} min",
                                  detail=minute_text(summary, self.threshold))
            self.live.redraw()

    def finished(self, outcome: BenchmarkOutcome, done: int, total: int) -> None:
        with self.live.lock:
            index = outcome.spec.index
            self.ended.add(index)
            self.outcomes.append(outcome)
            if index in self.tasks:  # full: the benchmark is over, however far its pattern ran
                self.live.bars.update(self.tasks[index], completed=self.planned_minutes,
                                      minutes=f"[{done}/{total}]", detail=ended_text(outcome, self.planned_minutes))
            self.live.redraw(now=True)

    def replication(self, number: int, total: int) -> None:
        if self.outcomes:
            counts = {status: sum(o.status == status for o in self.outcomes) for status in ("COMPLETED", "FAILED")}
            self.live.say(f"replication {number - 1}/{total}: {counts['COMPLETED']} COMPLETED, "
                          f"{counts['FAILED']} FAILED")
        self.round = f"{number}/{total} "
        self.live.say(f"[bold]replication {number}/{total}[/]")

    def stage(self, text: str) -> None:
        self.live.say(f"[dim]… {escape(text)}[/]")

    def checked(self, instance_type: str | None, done: int, total: int) -> None:
        """The production check's own bar: recommendations checked, the last one named, the time
        left at the pace so far."""
        with self.live.lock:
            if instance_type is None:
                self.check = self.live.bars.add_task(f"{'production check':<{self.width}}", total=max(1, total),
                                                     minutes=f"0/{total}", detail="[dim]simulating as deployed[/]")
                self.started = time.monotonic()
                self.live.start()
            elif self.check is not None:
                elapsed = time.monotonic() - self.started
                left = elapsed / done * (total - done) if done else math.nan
                self.live.bars.update(self.check, completed=done, minutes=f"{done}/{total}",
                                      detail=f"{escape(instance_type)} checked"
                                             + (f", about {left:,.0f} s left" if done < total else ""))
            self.live.redraw(now=True)


def minute_text(summary: MinuteSummary, threshold: tuple[str, float] | None) -> str:
    """A running benchmark's last minute: users, invocations and the percentile against the threshold."""
    text = f"{summary.users_end:>3} users {summary.invocations:>7,}/min"
    if threshold is not None:
        name, limit = threshold
        value = summary.latency_percentile_ms
        shown = "-" if math.isnan(value) else f"{value:,.1f}"
        colour = "red" if not math.isnan(value) and value > limit else "green"
        text += f"  {name} [{colour}]{shown}[/] / {limit:g} ms"
    return text


def ended_text(outcome: BenchmarkOutcome, planned_minutes: int) -> str:
    """A finished benchmark in words: its status, and where and why its traffic stopped."""
    minutes = math.ceil(outcome.duration_s / 60 - 1e-9)
    where = (f"ran all {planned_minutes} min" if minutes >= planned_minutes
             else f"stopped at minute {minutes} of {planned_minutes}")
    if outcome.status == COMPLETED:
        return f"[green]COMPLETED[/] {where}: {escape(outcome.stop_reason)}"
    reason = outcome.failure_reason or outcome.stop_reason
    return f"[red]{escape(outcome.status)}[/] {escape(reason[:90])}"


class RecommendProgress:
    """recommend's search: each candidate type sized, each verification of the solution."""

    def __init__(self, console: Console) -> None:
        self.live = _Live(console, TextColumn("{task.description:<28}"), BarColumn(bar_width=24),
                          MofNCompleteColumn(), TextColumn("{task.fields[detail]}"))
        self.search: TaskID | None = None
        self.pruned: list[str] = []

    def __enter__(self) -> RecommendProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pruned:  # one line for every type the pre-screen left out, not one each
            shown = ", ".join(self.pruned[:3]) + (f" and {len(self.pruned) - 3} more" if len(self.pruned) > 3 else "")
            self.live.say(f"  {len(self.pruned)} type(s) not simulated (their lower-bound cost exceeds the answer): "
                          f"{escape(shown)}")
        self.live.stop()

    def __call__(self, event: PlanEvent) -> None:
        """A step of the optimizer's search (optimizer.plan's and recommend's ``observe``)."""
        with self.live.lock:
            if event.kind == CANDIDATES:
                self.search = self.live.bars.add_task("candidates sized", total=max(1, event.total), detail="")
                self.live.start()
            elif event.kind == SIZING and self.search is not None:
                self.live.bars.update(self.search, detail=f"sizing {escape(event.instance_type or '')}")
            elif event.kind == PRUNED and self.search is not None:
                self.live.bars.advance(self.search)
                self.pruned.append(event.instance_type or event.text)
                self.live.bars.update(self.search, detail=f"{len(self.pruned)} not simulated")
            elif event.kind in (SIZED, INFEASIBLE) and self.search is not None:
                self.live.bars.advance(self.search)
                self.live.bars.update(self.search, detail="")
                self.live.say(f"  {escape(event.text)}")
            elif event.kind == VERIFICATION:
                self.live.say(f"  verification {event.number}: {escape(event.text)}")
            elif event.kind == SERVERLESS:
                self.live.start()
                self.live.say(f"  serverless {escape(event.text)}")
            self.live.redraw(now=True)


class SweepProgress:
    """A sweep's scenarios answered, with the time left at the pace so far."""

    def __init__(self, console: Console, total: int) -> None:
        self.live = _Live(console, TextColumn("scenarios"), BarColumn(bar_width=30), MofNCompleteColumn(),
                          TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[detail]}"))
        self.task = self.live.bars.add_task("scenarios", total=max(1, total), detail="")
        self.live.start()
        self.live.redraw(now=True)

    def __enter__(self) -> SweepProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def __call__(self, count: int, total: int, scenario: Mapping[str, Any], status: str) -> None:
        with self.live.lock:
            settings = ", ".join(f"{k}={v}" for k, v in scenario.items() if k not in ("id", "seed"))
            self.live.bars.update(self.task, completed=count, total=max(1, total),
                                  detail=escape(f"{status}: {settings}"[:80]))
            self.live.redraw(now=True)
