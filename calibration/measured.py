"""Minutes measured by `irsim measure` in, a profile entry out, through the same joint
identification as CloudWatch data (:func:`calibration.fit.calibrate_cloudwatch`: worker count
with its confidence set, service-time family, overhead, CPU per worker, memory).

The measurement folder holds irsim's own record (measure.json: the machine, the minute's
length) and the per-minute table (metrics.csv). Minutes are used as a CloudWatch export's
would be, except those the measurement itself flags: a partial minute, a minute the load
generator limited, a minute with more than 1 % of its requests refused or unanswered. When
the test ran on shortened minutes (irsim's testing aid), counts are scaled to 60 s; the fit
then takes each minute's statistics as if they came from that many requests, so its
confidence set is narrower than the data warrant."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.documents import SourceFile, file_hash, load_json, mapping, positive_number
from calibration.fit import Calibration, calibrate_cloudwatch
from simulator.errors import InputError

MINUTE_S = 60.0
MAX_REFUSED_SHARE = 0.01
LATENCY_COLUMNS = ("Average", "Minimum", "Maximum", "p50", "p90", "p95", "p99")
REQUIRED = ("minute", "seconds", "Invocations", "ModelLatency_Average")


@dataclass(frozen=True)
class MeasuredRun:
    """A measurement folder read: its minutes in read_cloudwatch's columns (counts per 60 s),
    the machine it ran on and what was left out."""

    frame: pd.DataFrame
    minute_s: float
    cpu_model: str
    cores: int
    memory_mb: float
    stands_for: str | None
    left_out: tuple[str, ...]
    sources: tuple[SourceFile, ...]

    @property
    def machine_label(self) -> str:
        return f"{self.cpu_model}, {self.cores} cores"


def _table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(str(path), f"cannot read the per-minute table: {exc}") from None
    missing = [c for c in REQUIRED if c not in table]
    if missing:
        raise InputError(str(path), f"is not irsim measure's metrics.csv (no {', '.join(missing)})")
    return table


def _kept(table: pd.DataFrame, minute_s: float) -> tuple[pd.DataFrame, list[str]]:
    """The minutes calibration may use, and why each other one is left out."""
    left_out, keep = [], []
    for _, row in table.iterrows():
        number = int(row["minute"])
        refused = sum(float(row.get(c, 0) or 0) for c in ("Invocation4XXErrors", "Invocation5XXErrors", "Unanswered"))
        attempts = float(row["Invocations"]) + float(row.get("Unanswered", 0) or 0)
        if float(row["seconds"]) < minute_s - 1e-6:
            left_out.append(f"minute {number}: partial ({float(row['seconds']):g} of {minute_s:g} s)")
        elif str(row.get("GeneratorLimited", False)).lower() == "true":
            left_out.append(f"minute {number}: the load generator limited it")
        elif attempts and refused > MAX_REFUSED_SHARE * attempts:
            left_out.append(f"minute {number}: {refused:.0f} of {attempts:.0f} requests refused or unanswered")
        else:
            keep.append(True)
            continue
        keep.append(False)
    return table[pd.Series(keep, index=table.index, dtype=bool)], left_out


def _frame(table: pd.DataFrame, started: pd.Timestamp, minute_s: float) -> pd.DataFrame:
    """read_cloudwatch's columns: counts per 60 s, latencies in microseconds."""
    per_60_s = MINUTE_S / minute_s
    columns: dict[str, Any] = {"Invocations_Sum": table["Invocations"].astype(float) * per_60_s}
    for statistic in LATENCY_COLUMNS:
        if f"ModelLatency_{statistic}" in table:
            columns[f"ModelLatency_{statistic}"] = table[f"ModelLatency_{statistic}"].astype(float)
    for source, target in (("OverheadLatency_Average", "OverheadLatency_Average"),
                           ("CPUUtilization", "CPUUtilization_Average"),
                           ("MemoryUtilization", "MemoryUtilization_Average")):
        if source in table and table[source].notna().any():
            columns[target] = table[source].astype(float)
    frame = pd.DataFrame(columns)
    frame.index = pd.DatetimeIndex([started + pd.Timedelta(seconds=float(s)) for s in table["start_s"]],
                                   name="Timestamp")
    return frame


def read_measured(folder: str | Path) -> MeasuredRun:
    """The measurement in ``folder`` (measure.json and metrics.csv), ready for calibration."""
    root = Path(folder)
    record, origin = load_json(root / "measure.json", "irsim measure record (measure.json)")
    record = mapping(record, origin.path, "irsim measure's record")
    machine = mapping(record.get("machine"), f"{origin.path}: machine", "cpu_model, cores and memory_mb")
    minute_s = positive_number(record.get("minute_s"), origin.path, "minute_s")
    table = _table(root / "metrics.csv")
    kept, left_out = _kept(table, minute_s)
    if kept.empty:
        raise InputError(str(root), "has no whole minute calibration can use (" + "; ".join(left_out[:3]) + ")")
    started = pd.Timestamp(record.get("started") or "1970-01-01T00:00:00+00:00")
    frame = _frame(kept, started, minute_s)
    frame.attrs["notes"] = [f"left out {line}" for line in left_out]
    return MeasuredRun(frame=frame, minute_s=minute_s, cpu_model=str(machine.get("cpu_model", "unknown CPU")),
                       cores=int(positive_number(machine.get("cores"), origin.path, "machine.cores")),
                       memory_mb=positive_number(machine.get("memory_mb"), origin.path, "machine.memory_mb"),
                       stands_for=record.get("stands_for"), left_out=tuple(left_out),
                       sources=(origin, file_hash(root / "metrics.csv")))


def calibrate_measured(run: MeasuredRun, instance_type: str | None = None) -> Calibration:
    """A profile entry for ``instance_type`` (the SageMaker type the measuring machine stands
    for; default the one the measurement recorded) from the measured minutes."""
    named = instance_type or run.stands_for
    if not named:
        raise InputError("as_instance_type", "say which SageMaker instance type this machine stands for "
                                             "(e.g. ml.c5.large): the profile's entry is named by it")
    calibration = calibrate_cloudwatch(run.frame, named, 1, run.memory_mb, None, run.cores)
    measured_on = f"measured locally on {run.machine_label}"
    report = [f"{measured_on}; the entry stands for {named} (types derived from it stay marked derived)",
              *calibration.report]
    if not math.isclose(run.minute_s, MINUTE_S):
        report.append(f"minutes of {run.minute_s:g} s scaled to 60 s: the confidence set is narrower than the "
                      "data warrant (irsim's testing aid)")
    provenance: Mapping[str, Any] = {**calibration.provenance, "method": "irsim measure, simulated moments",
                                     "source": measured_on, "stands_for": named, "minute_s": run.minute_s,
                                     "left_out": list(run.left_out)}
    return replace(calibration, report=tuple(report), provenance=provenance)
