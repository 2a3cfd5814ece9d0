"""Traffic curves: invocations per minute, read from a CSV or a CloudWatch export.

A curve holds one rate per minute; the simulators draw Poisson arrivals at that rate within
the minute (non-homogeneous Poisson across minutes). Readers accept:

- a CSV with the header ``timestamp,invocations``: one row per period, the timestamp
  ISO-8601 (a zone, else UTC) or epoch seconds, the invocations a count >= 0 over the period
  that starts there;
- a CloudWatch export of ``Invocations`` with the ``Sum`` statistic, from
  ``get-metric-statistics`` (Label + Datapoints) or ``get-metric-data`` saved with its
  MetricDataQueries, parsed by ``calibration.cloudwatch``'s readers.

Periods: 60 s is used as it is. A longer period must be a whole number of minutes, and a
period of P minutes spreads its sum evenly over its P minutes (CloudWatch keeps the sum, not
how it fell within the period: the curve says so in its notes, and the per-minute peak it
shows is the period's average). A sub-minute period must divide 60 s (1, 5, 10, 30 s, the
high-resolution periods) and is summed into whole minutes. A period missing between the
first and the last (a gap) is refused unless ``gaps`` says how to fill it: ``"zero"`` (no
invocations) or ``"linear"`` (between its neighbours); either is written into the notes.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from calibration.cloudwatch import Series, period_of, series_of, timestamp, to_minutes
from calibration.documents import SourceFile
from simulator import checks
from simulator.errors import InputError
from simulator.jsonfiles import parse_json, read_input

MINUTE_S = 60
#: The longest curve: 31 days of minutes (a month of CloudWatch's 1-minute data and more).
MAX_MINUTES = 31 * 24 * 60
#: The highest rate a minute may carry (invocations per minute).
MAX_PER_MINUTE = 1e9
GAP_FILLS = ("refuse", "zero", "linear")
#: Timestamps a curve may carry (CloudWatch began in 2009; nothing is measured in the far future).
EARLIEST, LATEST = pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC")
T = TypeVar("T")


@dataclass(frozen=True)
class TrafficCurve:
    """Invocations per minute (float >= 0, the rate of each minute), when the first minute
    starts (None: unknown or synthetic without a date), where the curve came from, and notes
    on what was resampled or filled on the way in."""

    per_minute: np.ndarray = field(compare=False, repr=False)
    start: datetime | None
    source: str
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        values = np.array(self.per_minute, dtype=float)
        if values.ndim != 1 or not 1 <= values.size <= MAX_MINUTES:
            raise InputError("traffic", f"must hold 1 to {MAX_MINUTES} minutes, got {values.size}")
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values > MAX_PER_MINUTE))
        if bad.size:
            raise InputError("traffic", f"minute {bad[0] + 1} has {values[bad[0]]!r} invocations: each minute needs "
                                        f"a finite number from 0 to {MAX_PER_MINUTE:g}")
        values.setflags(write=False)
        object.__setattr__(self, "per_minute", values)

    @property
    def minutes(self) -> int:
        return int(self.per_minute.size)

    @property
    def peak_per_minute(self) -> float:
        return float(self.per_minute.max())

    @property
    def total_invocations(self) -> float:
        return float(self.per_minute.sum())

    def __len__(self) -> int:
        return self.minutes


def load_curve(path: str | Path, *, gaps: str = "refuse", field: str = "traffic") -> TrafficCurve:
    """The curve in the CSV or CloudWatch JSON file ``path`` (see the module docstring); any
    problem is one InputError naming ``field``, the file and the row or datapoint."""
    checks.choice(gaps, "gaps", GAP_FILLS)
    name = str(path).removeprefix("file://")
    data = read_input(name, field)  # regular files only, size-capped
    if data.lstrip()[:1] in (b"{", b"["):
        stamps, values, period = _cloudwatch_points(data, field, name)
        kind = "CloudWatch Invocations Sum"
    else:
        stamps, values, period = _csv_points(data, field, name)
        kind = "CSV"
    per_minute, notes = to_per_minute(stamps, values, period, gaps=gaps, field=field, source=name)
    start = pd.Timestamp(min(stamps)).floor("min").to_pydatetime()
    return TrafficCurve(per_minute=per_minute, start=start, source=f"{kind} {name}", notes=tuple(notes))


def _cloudwatch_points(data: bytes, field: str, name: str) -> tuple[list[pd.Timestamp], list[float], float]:
    """The Invocations Sum datapoints of a CloudWatch export, and their period."""
    document = parse_json(data, field, name)
    origin = SourceFile(name, hashlib.sha256(data).hexdigest())
    series = [s for s in _named(field, series_of, document, origin)
              if s.metric == "Invocations" and s.statistic == "Sum"]
    if not series:
        raise InputError(field, f"{name} holds no Invocations datapoints with the Sum statistic (export "
                                "Invocations with the Sum statistic, or a MetricStat with Stat Sum)")
    if len(series) > 1:
        places = ", ".join(s.where for s in series)
        raise InputError(field, f"{name} holds {len(series)} Invocations Sum series ({places})"
                                ": export one endpoint variant per file")
    one = series[0]
    stamps = sorted(one.values)
    return stamps, [one.values[s] for s in stamps], _named(field, period_of, one)


def _csv_points(data: bytes, field: str, name: str) -> tuple[list[pd.Timestamp], list[float], float]:
    """The rows of a ``timestamp,invocations`` CSV, and their period (from the timestamps)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(field, f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") \
            from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise InputError(field, f"{name} is not a CSV file: {exc}") from None
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if header != ["timestamp", "invocations"]:
        raise InputError(field, f"{name} must start with the header 'timestamp,invocations', got "
                                f"{','.join(rows[0]) if rows else 'an empty file'!r}")
    if len(rows) < 2:
        raise InputError(field, f"{name} has a header but no rows")
    values: dict[pd.Timestamp, float] = {}
    for line, row in enumerate(rows[1:], start=2):
        where = f"{name}: line {line}"
        if len(row) != 2:
            raise InputError(field, f"{where} has {len(row)} fields; expected timestamp,invocations")
        stamp = _named(field, timestamp, _csv_stamp(row[0].strip()), where)
        if stamp in values:
            raise InputError(field, f"{where} repeats the timestamp {row[0].strip()}")
        values[stamp] = _count(row[1].strip(), field, where)
    stamps = sorted(values)
    series = Series("Invocations", "Sum", values, None, None, name)
    if len(stamps) == 1:
        return stamps, [values[stamps[0]]], float(MINUTE_S)
    return stamps, [values[s] for s in stamps], _named(field, period_of, series)


def _named(field: str, reader: Callable[..., T], *args: Any) -> T:
    """``reader(*args)``, its InputError (which names a file or datapoint) reworded to name ``field``."""
    try:
        return reader(*args)
    except InputError as exc:
        if exc.field == field:
            raise
        raise InputError(field, f"{exc.field}: {exc.message}") from None


def _csv_stamp(text: str) -> Any:
    """Epoch seconds as a number, anything else as the text to parse."""
    try:
        return float(text)
    except ValueError:
        return text


def _count(text: str, field: str, where: str) -> float:
    """A count of invocations: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= MAX_PER_MINUTE * MINUTE_S:
        raise InputError(field, f"{where}: invocations must be a count from 0 to {MAX_PER_MINUTE * MINUTE_S:g}, "
                                f"got {text!r}")
    return value


def to_per_minute(stamps: Sequence[pd.Timestamp], values: Sequence[float], period_s: float, *, gaps: str,
                  field: str = "traffic", source: str = "traffic") -> tuple[np.ndarray, list[str]]:
    """Datapoints at a regular period as one value per minute, and notes on the resampling:
    longer periods spread evenly over their minutes, sub-minute ones summed, gaps refused or
    filled as ``gaps`` says."""
    notes: list[str] = []
    if period_s >= MINUTE_S:
        minutes_per_period = round(period_s / MINUTE_S)
        if abs(period_s - minutes_per_period * MINUTE_S) > 1e-6:
            raise InputError(field, f"{source} has a {period_s:g} s period: a period must be a whole number of "
                                    "minutes (60, 300, 3600 s ...) or divide a minute (1, 5, 10, 30 s)")
        grid = _on_grid(stamps, values, period_s, gaps, field, source, notes)
        if minutes_per_period > 1:
            notes.append(f"{period_s:g} s datapoints spread evenly over their {minutes_per_period} minutes (a period's "
                         "sum is known, not how it fell within the period)")
        return np.repeat(grid / minutes_per_period, minutes_per_period), notes
    if (MINUTE_S / period_s) % 1 > 1e-9:
        raise InputError(field, f"{source} has a {period_s:g} s period, which does not divide a minute (use 1, 5, "
                                "10 or 30 s, or whole minutes)")
    series = Series("Invocations", "Sum", dict(zip(stamps, values, strict=True)), None, period_s, source)
    minutes = to_minutes(series, period_s, {})
    if not minutes:
        raise InputError(field, f"{source} covers no whole minute with its {period_s:g} s datapoints")
    dropped = len({s.floor("min") for s in stamps}) - len(minutes)
    if dropped:
        notes.append(f"{dropped} minute(s) only partly covered by {period_s:g} s datapoints treated as missing")
    notes.append(f"{period_s:g} s datapoints summed into {len(minutes)} whole minutes")
    ordered = sorted(minutes)
    return _on_grid(ordered, [minutes[m] for m in ordered], MINUTE_S, gaps, field, source, notes), notes


def _on_grid(stamps: Sequence[pd.Timestamp], values: Sequence[float], period_s: float, gaps: str, field: str,
             source: str, notes: list[str]) -> np.ndarray:
    """The values on every period from the first stamp to the last; missing periods refused
    or filled."""
    first = stamps[0]
    for stamp in (stamps[0], stamps[-1]):
        if not EARLIEST <= stamp <= LATEST:
            raise InputError(field, f"{source} has a timestamp {stamp.isoformat()} outside {EARLIEST.year} to "
                                    f"{LATEST.year}")
    slots = np.array([round((s - first).total_seconds() / period_s) for s in stamps])
    span_minutes = (int(slots[-1]) + 1) * period_s / MINUTE_S
    if span_minutes > MAX_MINUTES:
        raise InputError(field, f"{source} spans {span_minutes:,.0f} minutes from {first.isoformat()}: at most "
                                f"{MAX_MINUTES:,} (31 days) per curve")
    grid = np.full(int(slots[-1]) + 1, np.nan)
    grid[slots] = values
    missing = np.flatnonzero(np.isnan(grid))
    if missing.size == 0:
        return grid
    when = first + pd.Timedelta(seconds=float(missing[0] * period_s))
    if gaps == "refuse":
        raise InputError(field, f"{source} misses {missing.size} of {grid.size} {period_s:g} s datapoints, the first "
                                f"at {when.isoformat()}; fill them explicitly (gaps 'zero' or 'linear') or export "
                                "the whole range")
    if gaps == "zero":
        grid[missing] = 0.0
    else:
        known = np.flatnonzero(~np.isnan(grid))
        grid[missing] = np.interp(missing, known, grid[known])
    notes.append(f"warning: {missing.size} missing {period_s:g} s datapoint(s) (the first at {when.isoformat()}) "
                 f"filled with {'zeros' if gaps == 'zero' else 'straight lines between their neighbours'}")
    return grid
