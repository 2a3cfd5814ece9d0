"""`irsim calibrate`: measurements in, a profile entry out (merged into -o when it exists)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.fit import Calibration, calibrate_cloudwatch, calibrate_results, calibrate_samples
from calibration.measured import calibrate_measured, read_measured
from calibration.report import candidates_text
from calibration.sources import read_cloudwatch, read_describe, read_samples, read_steps
from irsim.cli.destinations import check_destinations
from irsim.cli.printing import Printer
from irsim.inputs import load_json_file
from irsim.present.files import write_atomically
from irsim.present.plots import plot_calibration
from pricing import default_catalogue
from simulator import InputError, Profile, load_profile
from simulator.profiles import profile_from_dict


def _calibrate(args: argparse.Namespace) -> tuple[Calibration, list[dict], pd.DataFrame | None, np.ndarray | None]:
    spec = default_catalogue().specs.get(args.instance_type)
    sources: list[dict] = []
    observations = []
    for path in args.describe:
        found, origin = read_describe(path)
        observations += found
        sources.append({"path": origin.path, "sha256": origin.sha256, "kind": "describe"})
    for path in args.steps:
        found, origin = read_steps(path)
        observations += found
        sources.append({"path": origin.path, "sha256": origin.sha256, "kind": "steps"})
    samples = None
    for path in args.samples:
        values, origin = read_samples(path)
        samples = values if samples is None else np.concatenate([samples, values])
        sources.append({"path": origin.path, "sha256": origin.sha256, "kind": "samples"})
    frame = None
    if args.cloudwatch:
        frame, origins = read_cloudwatch(args.cloudwatch)
        sources += [{"path": o.path, "sha256": o.sha256, "kind": "cloudwatch"} for o in origins]
    assumed_workers = args.workers or (spec.vcpu if spec else 1)
    if frame is not None:
        calibration = calibrate_cloudwatch(frame, args.instance_type, args.instance_count,
                                           spec.memory_mb if spec else None, samples, spec.vcpu if spec else None)
    elif samples is not None:
        calibration = calibrate_samples(samples, args.instance_type, assumed_workers)
    elif observations:
        calibration = calibrate_results(observations, args.instance_type, assumed_workers)
    else:
        raise InputError("calibrate", "give at least one of --cloudwatch, --samples, --describe, --steps")
    report = list(calibration.report)
    for observation in observations:
        if observation.instance_type == args.instance_type and frame is not None:
            report.append(f"Inference Recommender reported {observation.per_instance_max_invocations:,.0f} "
                          f"invocations/min per instance at {observation.percentile} "
                          f"{observation.model_latency_ms:.2f} ms ({observation.source})")
    calibration = replace(calibration, report=tuple(report),
                          provenance={**calibration.provenance, "sources": sources,
                                      "created": datetime.now(UTC).isoformat(timespec="seconds")})
    return calibration, sources, frame, samples


def _merged(calibration: Calibration, output: Path, model: str | None) -> Profile:
    """The profile to write: -o's profile with this entry added or replaced, or a new one."""

    entry = replace(calibration.entry, provenance=dict(calibration.provenance))
    if output.exists():
        base = load_profile(output)
        instances = {**base.instances, entry.instance_type: entry}
        overhead = calibration.overhead or base.overhead
        provenance = dict(base.provenance)
        return Profile(model=model or base.model, instances=instances, overhead=overhead, provenance=provenance)
    provenance = {"source": "irsim calibrate", "created": calibration.provenance["created"]}
    return Profile(model=model or "calibrated-model", instances={entry.instance_type: entry},
                   overhead=calibration.overhead, provenance=provenance)


def _workers_text(calibration: Calibration) -> str:
    """c, whether the data determined it, and the confidence set when there is one."""
    workers = calibration.entry.workers
    profile = calibration.workers
    if profile is None:
        return f"{workers} ({'determined' if calibration.workers_determined else 'NOT determined'})"
    if profile.determined:
        return f"{workers} (determined; confidence set {candidates_text(profile)})"
    return (f"{workers} (NOT determined; confidence set {candidates_text(profile)}; the entry holds the member "
            "most conservative for capacity)")


def _check_json_inputs(args: argparse.Namespace) -> None:
    """Every JSON input through the shared loader first: a file that is not UTF-8, not JSON or
    nested too deep is one line naming the flag and the file, before any fitting."""
    for flag, paths in (("--cloudwatch", args.cloudwatch), ("--describe", args.describe), ("--steps", args.steps)):
        for path in paths:
            load_json_file(path, flag)


def report_calibration(calibration: Calibration, inputs: str) -> None:
    """What the fit found, printed: the service law, the workers, the data's range, the report."""
    entry = calibration.entry
    print(f"irsim calibrate: {entry.instance_type} from {inputs}")
    print(f"  service time   {calibration.service.family}, mean {entry.service_time.mean_ms:.3f} ms, "
          f"cv {entry.service_time.cv:.3f} ({calibration.service.method})")
    print(f"  workers        {_workers_text(calibration)}")
    observed = calibration.provenance.get("observed_invocations_per_minute")
    if observed:
        print(f"  data range     {observed[0]:,.0f} to {observed[1]:,.0f} invocations/min per instance")
    for line in calibration.report:
        print(f"  - {line}")


def write_profile(calibration: Calibration, output: Path, model: str | None,
                  plot: Callable[[Path], object] | None = None, plot_path: str | None = None) -> None:
    """The entry merged into ``output`` (a new profile when there is none), checked by reading
    it back, written whole; and the chart, when asked."""
    text = _checked_text(_merged(calibration, output, model))
    try:
        if plot is not None and plot_path:
            write_atomically(plot_path, plot)
        write_atomically(output, lambda tmp: tmp.write_text(text))
    except OSError as exc:
        raise InputError("output", f"cannot write {exc.filename or output}: {exc.strerror or exc}") from None
    print(f"wrote {output}" + (f" and {plot_path}" if plot is not None and plot_path else ""))


def calibrate_from_measure(folder: str | Path, instance_type: str | None) -> Calibration:
    """`--from-measure DIR`: irsim measure's minutes, fitted as CloudWatch minutes are."""
    run = read_measured(folder)
    calibration = calibrate_measured(run, instance_type)
    sources = [{"path": o.path, "sha256": o.sha256, "kind": "irsim measure"} for o in run.sources]
    return replace(calibration, provenance={**calibration.provenance, "sources": sources,
                                            "created": datetime.now(UTC).isoformat(timespec="seconds")})


def cmd_calibrate(args: argparse.Namespace) -> int:
    printer = Printer.from_args(args)
    _check_json_inputs(args)
    check_destinations(args, files=("output_profile", "plot"))
    output = Path(args.output_profile)
    if args.from_measure:
        calibration = calibrate_from_measure(args.from_measure, args.as_instance_type or args.instance_type)
        sources: list[dict] = list(calibration.provenance.get("sources", []))
        with contextlib.redirect_stdout(io.StringIO()):  # the printer says what was written
            write_profile(calibration, output, args.model)
        plot = None
    else:
        if not args.instance_type:
            raise InputError("instance_type", "is required: the instance type the data was measured on")
        calibration, sources, frame, samples = _calibrate(args)
        with contextlib.redirect_stdout(io.StringIO()):
            write_profile(calibration, output, args.model,
                          lambda tmp: plot_calibration(calibration, frame, args.instance_count, tmp, samples),
                          args.plot)
        plot = args.plot
    printer.emit(fit_document(calibration, sources, output, plot),
                 lambda: fit_summary(calibration, sources) + f"\nwrote {output}" + (f" and {plot}" if plot else ""),
                 "Calibration")
    return 0


def fit_document(calibration: Calibration, sources: list[dict], output: Path, plot: str | None) -> dict:
    """The fit as --output prints it: the entry's numbers, how sure they are, what was read and written."""
    entry = calibration.entry
    profile = calibration.workers
    return {"InstanceType": entry.instance_type, "ServiceTime": {
        "Family": calibration.service.family, "MeanMs": entry.service_time.mean_ms, "Cv": entry.service_time.cv,
        "Method": calibration.service.method},
        "Workers": entry.workers, "WorkersDetermined": bool(profile.determined if profile else
                                                             calibration.workers_determined),
        "ObservedInvocationsPerMinute": calibration.provenance.get("observed_invocations_per_minute"),
        "Notes": list(calibration.report), "Sources": sources, "Profile": str(output), "Plot": plot}


def fit_summary(calibration: Calibration, sources: list[dict]) -> str:
    """The console's lines: the service time, the workers, the data range and the notes."""
    entry = calibration.entry
    lines = [f"irsim calibrate: {entry.instance_type} from {len(sources)} file(s)",
             f"  service time   {calibration.service.family}, mean {entry.service_time.mean_ms:.3f} ms, "
             f"cv {entry.service_time.cv:.3f} ({calibration.service.method})",
             f"  workers        {_workers_text(calibration)}"]
    observed = calibration.provenance.get("observed_invocations_per_minute")
    if observed:
        lines.append(f"  data range     {observed[0]:,.0f} to {observed[1]:,.0f} invocations/min per instance")
    lines += [f"  - {line}" for line in calibration.report]
    return "\n".join(lines)


def _checked_text(profile: Profile) -> str:
    """The profile as it will be written, read back as a profile first: a document that
    would not load (a non-finite number, a bad field) is never written."""
    try:
        text = json.dumps(profile.to_dict(), indent=2, allow_nan=False) + "\n"
    except ValueError:
        raise InputError("calibrate", "the fitted profile holds a number that is not finite; nothing written") from None
    profile_from_dict(json.loads(text))
    return text
