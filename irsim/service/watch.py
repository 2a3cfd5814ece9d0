"""What a job tells whoever watches it while it runs: the benchmarks planned, every simulated
minute of each (sent from the benchmark's own process once a minute, never per request), each
benchmark's end, the replication under way and the stage after the benchmarks.

``Watch`` does nothing; a display (irsim/present/progress.py) overrides what it draws. Minutes
from benchmark processes travel through one multiprocessing queue, inherited by the pool's
processes when they start, to a thread of the parent that hands them to the watch."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import partial
from typing import Any

from irsim.service.benchmark import BenchmarkOutcome
from irsim.service.request import BenchmarkSpec, JobSpec
from simulator.harness import MinuteHook
from simulator.stopping import MinuteSummary

log = logging.getLogger(__name__)

class Watch:
    """A job's listener: every method is a no-op; override the ones a display needs."""

    def planned(self, job: JobSpec, benchmarks: Sequence[BenchmarkSpec]) -> None:
        """The benchmarks about to be simulated (admission has left out those that cannot run)."""

    def minute(self, index: int, summary: MinuteSummary) -> None:
        """Benchmark ``index`` closed a simulated minute."""

    def finished(self, outcome: BenchmarkOutcome, done: int, total: int) -> None:
        """A benchmark ended (``done`` of ``total``, in the order they end)."""

    def replication(self, number: int, total: int) -> None:
        """Replication ``number`` (1-based) of ``total`` starts."""

    def stage(self, text: str) -> None:
        """Work after the benchmarks, in words (e.g. the production check)."""

    def checked(self, instance_type: str | None, done: int, total: int) -> None:
        """The production check has checked ``done`` of ``total`` recommendations, the last
        ``instance_type`` (None before the first: the check starts)."""


# --- in a benchmark process -------------------------------------------------------------------

_queue: Any = None  # the queue this benchmark process sends its minutes to (None: nobody watches)


def attach_queue(queue: Any) -> None:
    """Pool initializer's half: remember the parent's queue (inherited as the process starts)."""
    global _queue
    _queue = queue


def minute_sender(index: int) -> MinuteHook | None:
    """In a benchmark process: the hook that sends benchmark ``index``'s minutes to the parent."""
    return None if _queue is None else partial(_send, _queue, index)


def _send(queue: Any, index: int, summary: MinuteSummary) -> None:
    queue.put((index, summary))


# --- in the parent ----------------------------------------------------------------------------

class Relay:
    """A thread that hands the minutes arriving on ``queue`` to ``watch`` until closed."""

    def __init__(self, queue: Any, watch: Watch) -> None:
        self.queue, self.watch = queue, watch
        self.thread = threading.Thread(target=self._run, name="irsim-progress", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            try:
                self.watch.minute(*item)
            except Exception:  # a display's failure must not end the job
                log.debug("progress display failed on a minute", exc_info=True)

    def close(self) -> None:
        """Wait for every minute sent before the pool closed, then end the thread."""
        self.queue.put(None)
        self.thread.join()
        self.queue.close()
