"""The benchmarks of a job run in worker processes (or in this one): each outcome in task
order, heard as it arrives; a benchmark process ends when the process that runs the job does."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from typing import Any

from irsim.service.benchmark import BenchmarkOutcome, BenchmarkTask, run_benchmark
from irsim.service.labels import spec_label
from irsim.service.watch import Relay, Watch, attach_queue, minute_sender
from simulator.bounds import resident_mb

Progress = Callable[[BenchmarkOutcome, int, int], None]
#: The whole job's memory: this process and its benchmark processes together, pages the forked
#: processes share counted once (PSS). irsim's own limit: the pool runs fewer benchmarks at once
#: when that many would not fit (decided before any starts; the results are the same).
JOB_MEMORY_MB = 600.0
#: What a benchmark process adds beyond its run, measured (experiments/largest_job_rss.py):
#: the pages it stops sharing with this process, and the compiled loop loaded in it.
PROCESS_MB = 40.0
START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
#: prctl's option that sends a signal to a process when its parent ends (linux/prctl.h).
PR_SET_PDEATHSIG = 1
log = logging.getLogger(__name__)


def run_all(tasks: list[BenchmarkTask], max_parallel: int, progress: Progress | None,
            watch: Watch | None) -> list[BenchmarkOutcome]:
    """Every task's outcome, in task order: in this process, or in up to ``max_parallel``
    worker processes (``progress`` and ``watch`` hear each outcome as it arrives, ``watch``
    every simulated minute too)."""
    processes = min(max_parallel, len(tasks), os.cpu_count() or 1, memory_slots(tasks))
    arrived = partial(_arrived, total=len(tasks), progress=progress, watch=watch)
    if processes <= 1:
        outcomes = []
        for i, task in enumerate(tasks):
            outcomes.append(run_benchmark(task, on_minute=partial(watch.minute, task.spec.index) if watch else None))
            arrived(outcomes[i], i + 1)
        return outcomes
    results: dict[int, BenchmarkOutcome] = {}
    context = multiprocessing.get_context(START_METHOD)
    relay = Relay(context.Queue(), watch) if watch else None  # nobody watching: no queue, nothing sent
    with ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_start_benchmark_process,
                             initargs=(relay.queue if relay else None,)) as pool:
        futures = {pool.submit(_run_watched, task): i for i, task in enumerate(tasks)}
        if relay:
            relay.start()  # after the pool's processes were forked: no thread of ours is copied into them
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                arrived(results[futures[future]], done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if relay:
                relay.close()
    return [results[i] for i in range(len(tasks))]


def memory_slots(tasks: list[BenchmarkTask]) -> int:
    """How many benchmark processes fit JOB_MEMORY_MB beside this one: each costs PROCESS_MB and
    what the largest run may hold (``RunSpec.memory_mb``, from its bounds); at least one."""
    runs = [task.run.memory_mb for task in tasks if task.run is not None]
    resident = resident_mb()
    # A forked process shares this one's pages; a spawned one imports everything again.
    start = PROCESS_MB if START_METHOD == "fork" else resident
    return max(1, int((JOB_MEMORY_MB - resident) // (start + max(runs, default=0.0))))


def _arrived(outcome: BenchmarkOutcome, done: int, *, total: int, progress: Progress | None,
             watch: Watch | None) -> None:
    """One benchmark ended: logged, then told to whoever listens."""
    log.info("benchmark %d (%s) %s after %.0f simulated s: %s%s", outcome.spec.index, spec_label(outcome.spec),
             outcome.status, outcome.duration_s, outcome.stop_reason,
             f" ({outcome.failure_reason})" if outcome.failure_reason else "")
    if watch:
        watch.finished(outcome, done, total)
    if progress:
        progress(outcome, done, total)


def _run_watched(task: BenchmarkTask) -> BenchmarkOutcome:
    """In a benchmark process: the benchmark, its minutes sent to the parent when it watches."""
    return run_benchmark(task, on_minute=minute_sender(task.spec.index))


def _start_benchmark_process(queue: Any) -> None:
    """Benchmark processes end when the process that runs the job does (Linux), so a killed
    job worker leaves none behind waiting on the pool's queue; and they send their minutes
    to ``queue`` (None: nobody watches)."""
    attach_queue(queue)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
