"""The detached process that runs one stored job: ``python -m irsim.durable.worker HOME NAME``.

It outlives the process that created the job, records its own pid and start time so a
dead worker can be told from a live one, and writes the job's end state in one
transaction.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import replace
from typing import Any

from irsim.durable.endpoints import deployed_endpoints
from irsim.durable.processes import process_start_time
from irsim.durable.resourcestore import ResourceStore
from irsim.durable.specs import stored_spec
from irsim.durable.store import ACTIVE_STATUSES, JobStore, now_utc
from irsim.service.benchmark import BenchmarkOutcome
from irsim.service.job import JobResult, execute_job
from irsim.service.labels import spec_label
from irsim.service.scaling import per_minute_document

STOP_POLL_S = 0.2
log = logging.getLogger(__name__)


class StopFlag:
    """Picklable ``interrupt`` for a stored job: true once a stop was requested, or once the
    worker that owns the job is gone (a benchmark process must not outlive it)."""

    def __init__(self, home: str, name: str, worker_pid: int) -> None:
        self._set(home, name, worker_pid)

    def _set(self, home: str, name: str, worker_pid: int) -> None:
        self.home, self.name, self.worker_pid = home, name, worker_pid
        self._next_check = 0.0
        self._stopped = False

    def __getstate__(self) -> dict[str, Any]:
        """Only what names the job: a copy in a benchmark process checks afresh."""
        return {"home": self.home, "name": self.name, "worker_pid": self.worker_pid}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._set(state["home"], state["name"], state["worker_pid"])

    def __call__(self) -> bool:
        if self._stopped:
            return True
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + STOP_POLL_S
        orphaned = os.getpid() != self.worker_pid and os.getppid() != self.worker_pid
        self._stopped = orphaned or JobStore(self.home).stop_requested(self.name)
        return self._stopped


def run(home: str, name: str) -> int:
    """Run the stored job ``name`` to its end state."""

    store = JobStore(home)
    record = store.get(name)
    if record is None:
        log.error("job %s is not in the store %s", name, home)
        return 2
    pid = os.getpid()
    if record.damage:  # nothing to run: the job ends FAILED, saying which row cannot be read
        log.error("job %s FAILED: %s", name, record.damage)
        store.update(name, status="FAILED", failure_reason=record.damage, completed=now_utc(),
                     only_if_status=ACTIVE_STATUSES)
        return 1
    if not store.update(name, status="IN_PROGRESS", worker_pid=pid, worker_started=process_start_time(pid),
                        only_if_status=("PENDING",)) \
            and not store.update(name, worker_pid=pid, worker_started=process_start_time(pid),
                                 only_if_status=("STOPPING",)):
        log.info("job %s ended before its worker started: nothing to run", name)
        return 0  # the job ended before its worker started (the dead-worker check failed it)
    log.info("worker %d runs job %s (seed %d, region %s, profile %s)", pid, name, record.seed, record.region,
             record.profile.get("model", "?"))
    finished: dict[str, str] = {}

    def progress(outcome: BenchmarkOutcome, done: int, total: int) -> None:
        log.info("benchmark %d of %d (%s): %s%s", done, total, spec_label(outcome.spec), outcome.status,
                 f": {outcome.failure_reason}" if outcome.failure_reason else f" ({outcome.stop_reason})")
        finished[str(outcome.spec.index)] = outcome.status
        store.update(name, progress=finished, only_if_status=ACTIVE_STATUSES)

    try:
        job = stored_spec(record, lambda: deployed_endpoints(ResourceStore(store)))  # as create parsed it
        result = execute_job(job, record.profile, seed=record.seed, region=record.region, created=record.created,
                             interrupt=StopFlag(home, name, pid), progress=progress)
    except Exception as exc:  # the job fails; the store keeps a readable reason
        log.exception("job %s FAILED: internal error", name)
        store.finish(name, {"status": "FAILED", "completed": now_utc(),
                            "failure_reason": f"Internal error: {type(exc).__name__}: {exc}"[:1024]},
                     stopped={"completed": now_utc()})
        return 1
    ended, as_stopped = end_states(result)
    store.finish(name, ended, as_stopped)
    final = store.get(name)
    status = final.status if final else ended["status"]
    log.info("job %s ended %s%s", name, status,
             f": {final.failure_reason}" if final and final.failure_reason else "")
    return 0


def end_states(result: JobResult) -> tuple[dict[str, Any], dict[str, Any]]:
    """The columns of the job's end state, as it ran and, for a stop that arrived after its last
    benchmark, as STOPPED (its recommendations kept, as a stopped job keeps what finished)."""
    describe = result.describe
    # the minutes kept for GetScalingConfigurationRecommendation
    extensions = replace(result.document(), per_minute=per_minute_document(result.scheduled)).to_json()
    columns = {"describe": describe, "steps": result.steps, "extensions": extensions,
               "completed": describe["CompletionTime"], "last_modified": describe["LastModifiedTime"]}
    stopped = {key: value for key, value in describe.items() if key != "FailureReason"}
    return ({**columns, "status": describe["Status"], "failure_reason": describe.get("FailureReason")},
            {**columns, "describe": {**stopped, "Status": "STOPPED"}, "failure_reason": None})


def _log_to_stderr() -> None:
    """The worker's stderr is its log file (IRSIM_HOME/NAME.worker.log): what it did, and why."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for package in ("irsim", "simulator", "optimizer", "pricing", "calibration"):
        logging.getLogger(package).addHandler(handler)
        logging.getLogger(package).setLevel(logging.INFO)


if __name__ == "__main__":
    _log_to_stderr()
    sys.exit(run(sys.argv[1], sys.argv[2]))
