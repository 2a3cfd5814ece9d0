"""`irsim measure`: the request's load test run against a real model server here, its minutes
written as a real job's (and, with --calibrate, fitted into a profile entry); and
`irsim sample-server`, the bundled model server to try it on."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Callable
from pathlib import Path

from irsim.argtypes import number, seed
from irsim.cli.calibrate import calibrate_from_measure, report_calibration, write_profile
from irsim.cli.run import load_request
from irsim.measure.files import check_output
from irsim.measure.live import MINUTE_S, MeasuredMinute
from irsim.measure.sample_server import add_server_arguments, cpu_list, options_from, serve
from irsim.measure.session import Measured, MeasureOptions, measure, prepare
from irsim.present.formats import dumps
from irsim.present.progress import JobProgress, progress_console
from simulator import InputError


def _listener(watch: JobProgress | None) -> Callable[[MeasuredMinute], None]:
    """Each closed minute to the live display (a whole minute's bar, a limited minute's line)."""
    def hear(minute: MeasuredMinute) -> None:
        if watch is None:
            return
        if minute.summary is not None:
            watch.minute(0, minute.summary)
        load = minute.generator
        if load.limited:
            watch.stage(f"minute {minute.stats.minute + 1}: the load generator limited it (CPU "
                        f"{load.cpu_fraction:.0%} of a core, loop lag {load.loop_lag_ms:.3f} ms)")
    return hear


def _summary(result: Measured, written: list[Path]) -> str:
    outcome, run = result.outcome, result.run
    lines = [f"irsim measure: {result.prepared.job.job_name} on {result.prepared.stand.label}: {outcome.status} "
             f"({outcome.stop_reason}) after {len(run.minutes)} minute(s), {run.requests:,} requests"]
    if outcome.measurement is not None:
        measured = outcome.measurement
        lines.append(f"  best minute {measured.best_minute + 1}: {measured.per_instance_max:,} invocations/min, "
                     f"ModelLatency {result.prepared.job.percentile} {measured.model_latency_us / 1000:.2f} ms"
                     + (f", CPU {measured.cpu_utilization:.0f}%" if measured.cpu_utilization is not None else ""))
    elif outcome.failure_reason:
        lines.append(f"  {outcome.failure_reason}")
    overheads = [m.generator.client_cpu_us for m in run.minutes if math.isfinite(m.generator.client_cpu_us)]
    limited = ", ".join(str(m.stats.minute + 1) for m in run.minutes if m.generator.limited)
    if overheads:
        lines.append(f"  load generator: {max(m.generator.cpu_fraction for m in run.minutes):.0%} of a core at most, "
                     f"{sum(overheads) / len(overheads):.0f} µs CPU per request; "
                     + (f"LIMITED minutes {limited}" if limited else "never the bottleneck"))
    lines += [f"  warning: {w}" for w in result.answers["measure.json"]["warnings"]]
    lines.append(f"wrote {', '.join(str(p) for p in written)}")
    return "\n".join(lines)


def cmd_measure(args: argparse.Namespace) -> int:
    request = load_request(args.job)
    out = Path(args.out or Path("measure-output") / str(request.get("JobName", "measure")))
    try:
        check_output(out)
    except OSError as exc:
        raise InputError("out", f"cannot write {out}: {exc}") from None
    options = MeasureOptions(endpoint_url=args.endpoint_url, payload=args.payload, content_type=args.content_type,
                             pid=args.pid, seed=args.seed, minute_s=args.minute_seconds,
                             as_instance_type=args.as_instance_type, region=args.region,
                             generator_cpus=args.generator_cpus)
    prepared = prepare(request, options)
    for note in prepared.notes:
        print(f"irsim measure: {note}", file=sys.stderr)
    console = progress_console(args.quiet)
    watch = JobProgress(console) if console else None
    with watch or contextlib.nullcontext():
        if watch is not None:
            watch.planned(prepared.job, [prepared.spec])
        result = measure(prepared, _listener(watch))
        if watch is not None:
            watch.finished(result.outcome, 1, 1)
    if result.outcome.stop_reason == "ModelError":
        raise InputError("endpoint_url", result.outcome.failure_reason or "ModelError")
    written = result.write(out)
    if args.json:
        print(dumps(result.answers["describe.json"]))
    else:
        print(_summary(result, written))
    if args.calibrate:
        calibration = calibrate_from_measure(out, args.as_instance_type)
        report_calibration(calibration, f"{out}")
        write_profile(calibration, Path(args.calibrate), args.model)
    return 0 if result.outcome.status in ("COMPLETED", "STOPPED") else 1


def cmd_sample_server(args: argparse.Namespace) -> int:
    serve(options_from(args))
    return 0  # never reached: serve becomes gunicorn


def add_measure_commands(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("measure", help="run the request's load test against your own model server, here",
                              description="Run a CreateInferenceRecommendationsJob request's traffic pattern as "
                                          "closed-loop users against a real model server (GET /ping, POST "
                                          "/invocations), stop it by the request's stopping conditions minute by "
                                          "minute, and write what a real job would (docs/measure.md).")
    sub.add_argument("job", metavar="JOB.json", help="the request, as boto3 or the AWS CLI takes it")
    sub.add_argument("--endpoint-url", required=True, metavar="URL", help="the model server, e.g. http://127.0.0.1:8080")
    sub.add_argument("--payload", metavar="FILE", help="a payload file, or a tar.gz of them (each request sends the "
                                                       "next); default: the sample model's CSV payloads")
    sub.add_argument("--content-type", metavar="T", help="the payload's content type (default: the request's "
                                                         "SupportedContentTypes[0], else text/csv for the sample's)")
    sub.add_argument("--pid", type=int, default=None, help="the server's process: its and its children's CPU and "
                                                           "memory (default: the process listening on the port)")
    sub.add_argument("--out", metavar="DIR", help="where to write (default measure-output/JOBNAME)")
    sub.add_argument("--seed", type=seed, default=0, help="seed of the sample payloads (default 0)")
    sub.add_argument("--as-instance-type", metavar="T", help="the SageMaker instance type this machine stands for "
                                                             "(its price in describe.json; the profile entry's name)")
    sub.add_argument("--region", default="us-east-1", help="price region and JobArn region (default us-east-1)")
    sub.add_argument("--calibrate", metavar="PROFILE.json", help="fit the measured minutes into this profile "
                                                                 "(merged when it exists)")
    sub.add_argument("--model", default=None, help="model name of a new profile (with --calibrate)")
    sub.add_argument("--minute-seconds", type=number(1), default=MINUTE_S, metavar="S",
                     help="TESTING AID: a minute lasts S seconds (1-60) and every duration shrinks with it "
                          "(default 60, as AWS)")
    sub.add_argument("--generator-cpus", type=cpu_list, default=None, metavar="LIST",
                     help="cores for the load generator (default: those the server may not use)")
    sub.add_argument("--json", action="store_true", help="print the DescribeInferenceRecommendationsJob answer")
    sub.add_argument("--quiet", action="store_true", help="no live progress on stderr")
    sub.set_defaults(handler=cmd_measure)
    server = commands.add_parser("sample-server", help="serve the bundled sample model on port 8080 (gunicorn)",
                                 description="A small numpy model behind gunicorn answering GET /ping and POST "
                                             "/invocations, to try irsim measure on. Runs until stopped.")
    add_server_arguments(server)
    server.set_defaults(handler=cmd_sample_server)
