"""The files `irsim measure --out` writes, staged and moved in whole (a failure leaves nothing
half-written): describe.json, steps.json, metrics.csv, cloudwatch/<Metric>.json in the shape
`aws cloudwatch get-metric-statistics` saves (whole minutes only, latencies in microseconds,
each with the Period of its minutes), and measure.json, irsim's own record of how the
numbers were made (machine, endpoint, payloads, generator, load average)."""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from irsim.present.formats import dumps
from irsim.service.minutes import numbered_minutes

#: metric -> (unit, {statistic: metrics.csv column}); percentiles go to ExtendedStatistics.
CLOUDWATCH_METRICS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "Invocations": ("None", {"Sum": "Invocations"}),
    "InvocationsPerInstance": ("None", {"Sum": "InvocationsPerInstance"}),
    "Invocation4XXErrors": ("None", {"Sum": "Invocation4XXErrors"}),
    "Invocation5XXErrors": ("None", {"Sum": "Invocation5XXErrors"}),
    "ModelLatency": ("Microseconds", {"Average": "ModelLatency_Average", "Minimum": "ModelLatency_Minimum",
                                      "Maximum": "ModelLatency_Maximum", "SampleCount": "Invocations",
                                      **{f"p{p}": f"ModelLatency_p{p}" for p in (50, 90, 95, 99)}}),
    "OverheadLatency": ("Microseconds", {"Average": "OverheadLatency_Average"}),
    "CPUUtilization": ("Percent", {"Average": "CPUUtilization"}),
    "MemoryUtilization": ("Percent", {"Average": "MemoryUtilization"}),
}


def cloudwatch_documents(frame: pd.DataFrame, started: datetime, minute_s: float) -> dict[str, dict[str, Any]]:
    """One get-metric-statistics document per metric over the whole minutes, stamped at each
    minute's start (from the test's start, to the second), with Period = the minute's seconds."""
    whole = frame[frame["seconds"] >= minute_s - 1e-6]
    origin = started.replace(microsecond=0)
    period: float | int = int(minute_s) if float(minute_s).is_integer() else minute_s
    documents = {}
    for metric, (unit, statistics) in CLOUDWATCH_METRICS.items():
        points = []
        for _, row in whole.iterrows():
            point: dict[str, Any] = {"Timestamp": (origin + timedelta(seconds=float(row["start_s"]))).isoformat()}
            extended: dict[str, float] = {}
            for statistic, column in statistics.items():
                value = float(row[column])
                if not math.isfinite(value) or (unit == "Microseconds" and statistic != "SampleCount" and value <= 0):
                    continue
                value = round(value, 1) if unit != "None" or statistic == "SampleCount" else value
                (extended if statistic.startswith("p") else point)[statistic] = value
            if extended:
                point["ExtendedStatistics"] = extended
            if len(point) > 1:
                point["Unit"] = unit
                points.append(point)
        if points:
            documents[metric] = {"Label": metric, "Period": period, "Datapoints": points}
    return documents


def check_output(out_dir: Path) -> None:
    """Refuse, before any load is sent, an --out that is a file or cannot be made."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OSError(f"{out_dir} is a file, not a folder")
    probe = out_dir if out_dir.exists() else out_dir.parent
    probe.mkdir(parents=True, exist_ok=True)
    tempfile.TemporaryFile(dir=probe).close()


def write_measurement(out_dir: Path, answers: Mapping[str, Any], frame: pd.DataFrame,
                      cloudwatch: Mapping[str, Mapping[str, Any]]) -> list[Path]:
    """Every file, staged in a hidden sibling folder and then moved into ``out_dir``.

    ``answers`` maps file names (describe.json, steps.json, measure.json) to documents."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for name, document in answers.items():
            (staging / name).write_text(dumps(document) + "\n")
        numbered_minutes(frame).to_csv(staging / "metrics.csv", index=False)
        (staging / "cloudwatch").mkdir()
        for metric, document in cloudwatch.items():
            (staging / "cloudwatch" / f"{metric}.json").write_text(dumps(document) + "\n")
        out_dir.mkdir(exist_ok=True)
        written = []
        for path in sorted(staging.iterdir()):
            target = out_dir / path.name
            if target.is_dir() and path.is_dir():
                shutil.rmtree(target)
            path.replace(target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
