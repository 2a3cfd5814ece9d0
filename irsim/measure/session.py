"""One `irsim measure`: the request parsed and validated as the service does (the same
parse_request and translation the simulator's jobs use), the payloads read, the endpoint's
/ping checked, the server's processes found and the generator pinned apart from them, all
before any load is sent; then the test, and its answers and files."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from irsim.errors import UserError
from irsim.measure.files import cloudwatch_documents, write_measurement
from irsim.measure.live import MINUTE_S, Clock
from irsim.measure.loadgen import MinuteListener, TestPlan, TestRun, check_ping, run_test
from irsim.measure.machine import Machine, ServerProcesses, listening_pid, pin_generator, this_machine
from irsim.measure.payloads import Payloads, read_payloads, request_payload, sample_payloads
from irsim.measure.results import Stand, describe_answer, minutes_frame, outcome_of, steps_answer
from irsim.service.benchmark import BenchmarkOutcome
from irsim.service.request import PERCENTILES, BenchmarkSpec, JobSpec, parse_request
from pricing import PricingError, default_catalogue

MIN_MINUTE_S = 1.0


@dataclass(frozen=True)
class MeasureOptions:
    """What the command line (or a caller) asks of one measurement."""

    endpoint_url: str
    payload: str | None = None
    content_type: str | None = None
    pid: int | None = None
    seed: int = 0
    minute_s: float = MINUTE_S
    as_instance_type: str | None = None
    region: str = "us-east-1"
    generator_cpus: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Prepared:
    """Everything checked and ready before the load starts."""

    job: JobSpec
    plan: TestPlan
    spec: BenchmarkSpec
    server: ServerProcesses | None
    stand: Stand
    machine: Machine
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    region: str = "us-east-1"
    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Measured:
    """A finished measurement: the outcome, the per-minute table and the documents to write."""

    prepared: Prepared
    run: TestRun
    outcome: BenchmarkOutcome
    frame: pd.DataFrame
    answers: Mapping[str, Any]
    cloudwatch: Mapping[str, Mapping[str, Any]]

    def write(self, out_dir: Path) -> list[Path]:
        return write_measurement(out_dir, self.answers, self.frame, self.cloudwatch)


def _stand(options: MeasureOptions, machine: Machine) -> tuple[Stand, list[str]]:
    """The machine as reported: the SageMaker type it stands for, with its price when known."""
    if options.as_instance_type is None:
        return Stand(machine_label=machine.label), []
    catalogue = default_catalogue()
    if options.as_instance_type not in catalogue.specs:
        known = ", ".join(sorted(catalogue.specs)[:4])
        raise UserError(f"--as-instance-type: {options.as_instance_type!r} is not an instance type irsim knows "
                        f"(e.g. {known})")
    try:
        price = catalogue.price(options.as_instance_type, options.region)
    except PricingError as exc:
        return Stand(machine.label, options.as_instance_type), [f"no AWS price: {exc.message}"]
    return Stand(machine.label, options.as_instance_type, price), []


def _server(options: MeasureOptions) -> tuple[ServerProcesses | None, str]:
    if options.pid is not None:
        return ServerProcesses(options.pid), f"CPU and memory of PID {options.pid} and its children"
    found = listening_pid(options.endpoint_url)
    if found is None:
        return None, "no --pid and no single local process listening on the URL's port: no CPU or memory metrics"
    return ServerProcesses(found), f"CPU and memory of PID {found} (listening on the URL's port) and its children"


def prepare(request: Mapping[str, Any], options: MeasureOptions) -> Prepared:
    """Validate everything and reach the endpoint; nothing is sent to /invocations yet."""
    if not (math.isfinite(options.minute_s) and MIN_MINUTE_S <= options.minute_s <= MINUTE_S):
        raise UserError(f"--minute-seconds: must be from {MIN_MINUTE_S:g} to {MINUTE_S:g}, got {options.minute_s!r}")
    machine = this_machine()
    stand, warnings = _stand(options, machine)
    job = parse_request(request, default_instance_types=[options.as_instance_type or "ml.c5.large"])
    warnings = list(job.warnings) + warnings
    if options.minute_s != MINUTE_S:
        warnings.append(f"minutes of {options.minute_s:g} s: irsim's testing aid, never AWS's (a minute is 60 s and a "
                        "phase at least 120 s there); every duration of the pattern shrinks in proportion")
    source = options.payload or request_payload(request)
    payloads: Payloads = (read_payloads(source, options.content_type, request) if source
                          else sample_payloads(options.seed, options.content_type))
    server, resources_note = _server(options)
    check_ping(options.endpoint_url)
    cores, pinning = pin_generator(server, options.generator_cpus)
    latency = job.stopping.latency
    plan = TestPlan(endpoint_url=options.endpoint_url, payloads=payloads, traffic=job.traffic, stopping=job.stopping,
                    percentile=latency.percentile if latency else PERCENTILES[job.percentile],
                    clock=Clock(options.minute_s))
    notes = (f"payloads: {payloads.source}, {len(payloads.bodies)} file(s), {payloads.content_type}", resources_note,
             pinning)
    record = {"endpoint_url": options.endpoint_url, "pid": server.pid if server else None,
              "machine": machine.to_dict(), "stands_for": options.as_instance_type, "minute_s": options.minute_s,
              "payloads": {"source": payloads.source, "sha256": payloads.sha256, "files": len(payloads.bodies),
                           "content_type": payloads.content_type, "mean_kb": round(payloads.mean_kb, 3)},
              "generator": {"library": f"aiohttp {metadata.version('aiohttp')}", "cores": list(cores),
                            "pinning": pinning, "server_cores": sorted(server.affinity()) if server else None},
              "seed": options.seed, "load_average_at_start": list(os.getloadavg())}
    return Prepared(job=job, plan=plan, spec=BenchmarkSpec(index=0, instance_type=stand.label), server=server,
                    stand=stand, machine=machine, notes=notes, warnings=tuple(warnings), region=options.region,
                    record=record)


def measure(prepared: Prepared, on_minute: MinuteListener | None = None) -> Measured:
    """Run the test and build what a real job would report."""
    run = run_test(prepared.plan, prepared.server, on_minute)
    return measured(prepared, run)


def measured(prepared: Prepared, run: TestRun) -> Measured:
    """The outcome, answers and files of a finished run."""
    job, clock = prepared.job, prepared.plan.clock
    frame = minutes_frame(run, job, clock)
    outcome = outcome_of(run, job, prepared.spec, clock, frame)
    record = {**prepared.record, "started": run.started.isoformat(), "status": outcome.status,
              "stop_reason": outcome.stop_reason,
              "failure_reason": outcome.failure_reason,
              "best_minute": None if outcome.best_minute is None else outcome.best_minute + 1,
              "requests": run.requests, "wall_s": round(run.wall_s, 3),
              "generator_limited_minutes": [m.stats.minute + 1 for m in run.minutes if m.generator.limited],
              "load_average_at_end": list(os.getloadavg()),
              "warnings": list(prepared.warnings) + list(outcome.warnings)}
    answers = {"describe.json": describe_answer(job, outcome, run, prepared.stand, prepared.region),
               "steps.json": steps_answer(job, outcome, run, prepared.stand), "measure.json": record}
    return Measured(prepared=prepared, run=run, outcome=outcome, frame=frame, answers=answers,
                    cloudwatch=cloudwatch_documents(frame, run.started, clock.minute_s))
