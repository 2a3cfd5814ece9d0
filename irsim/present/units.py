"""The units in metrics.csv's headers: CloudWatch's names with their unit added (latencies in
microseconds, utilizations in per cent), and the way back for the readers of a folder, which
take both the new headers and those of folders written before them."""

from __future__ import annotations

import pandas as pd

#: A header's unit suffix, by the start of its CloudWatch name.
SUFFIXES = (("ModelLatency_", "_us"), ("OverheadLatency_", "_us"), ("CPUUtilization", "_pct"),
            ("MemoryUtilization", "_pct"))


def _with_unit(column: str) -> str:
    return next((column + suffix for start, suffix in SUFFIXES if column.startswith(start)
                 and not column.endswith(suffix)), column)


def with_units(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each latency and utilization column named with its unit
    (ModelLatency_p95 -> ModelLatency_p95_us, CPUUtilization -> CPUUtilization_pct)."""
    return frame.rename(columns={column: _with_unit(column) for column in frame.columns})


def without_units(frame: pd.DataFrame) -> pd.DataFrame:
    """A metrics.csv as read, under the CloudWatch names the code uses (old headers kept)."""
    names = {}
    for column in frame.columns:
        for start, suffix in SUFFIXES:
            if column.startswith(start) and column.endswith(suffix):
                names[column] = column.removesuffix(suffix)
    return frame.rename(columns=names)
