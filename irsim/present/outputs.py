"""The files a job's output folder holds: describe.json, steps.json, irsim.json, metrics.csv and
report.png, staged and moved in whole."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from irsim.present.files import made_folders, reported_as_write_errors
from irsim.present.formats import dumps
from irsim.present.plots import BenchmarkSeries, JobChart, plot_job_report
from irsim.present.units import with_units
from irsim.service.labels import benchmark_label
from irsim.service.minutes import minute_number, numbered_minutes
from irsim.service.result import JobResult, Replications


def metrics_frame(result: JobResult) -> pd.DataFrame:
    """Per benchmark, per minute: the CloudWatch-shaped series of every scheduled benchmark."""
    frames = []
    for item in result.scheduled:
        outcome = item.outcome
        frame = numbered_minutes(outcome.per_minute)
        frame.insert(0, "EnvironmentParameters", ";".join(f"{k}={v}" for k, v in outcome.spec.environment))
        frame.insert(0, "InstanceType", outcome.spec.instance_type)
        frame.insert(0, "benchmark", outcome.spec.index)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def job_chart(result: JobResult) -> JobChart:
    """What report.png draws: every scheduled benchmark on the job's whole traffic pattern."""
    stopping = result.spec.stopping
    return JobChart(
        title=f"{result.describe['JobName']}: simulated benchmarks", percentile=result.spec.percentile,
        threshold_ms=stopping.latency.value_ms if stopping.latency else None,
        max_invocations=stopping.max_invocations,
        planned_minutes=max(1, math.ceil(result.spec.traffic.duration_s / 60)),
        benchmarks=tuple(BenchmarkSeries(label=benchmark_label(i.outcome), frame=numbered_minutes(i.outcome.per_minute),
                                         status="COMPLETED" if i.succeeded else "FAILED",
                                         best_minute=minute_number(i.outcome.best_minute),
                                         stop_reason=i.outcome.stop_reason) for i in result.scheduled))


def write_outputs(result: JobResult, out_dir: Path, replicated: Replications | None = None) -> list[Path]:
    """describe.json, steps.json, irsim.json (the JobDocument, with ``replicated`` when the job
    was replicated), metrics.csv and report.png.

    Written in a staging folder first, then moved into ``out_dir``: a failure leaves nothing (a
    WriteError when the system refused a write).
    """
    out_dir = Path(out_dir)
    with reported_as_write_errors(out_dir), made_folders(out_dir.parent):
        return _staged_outputs(result, out_dir, replicated)


def _staged_outputs(result: JobResult, out_dir: Path, replicated: Replications | None) -> list[Path]:
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (staging / "describe.json").write_text(dumps(result.describe) + "\n")
        (staging / "steps.json").write_text(dumps(result.steps) + "\n")
        (staging / "irsim.json").write_text(dumps(result.document(replicated).to_json()) + "\n")
        with_units(metrics_frame(result)).to_csv(staging / "metrics.csv", index=False)
        plot_job_report(job_chart(result), staging / "report.png")
        out_dir.mkdir(exist_ok=True)
        written = []
        for path in sorted(staging.iterdir()):
            target = out_dir / path.name
            path.replace(target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


