"""CloudWatch files in, one row per minute out, reading only what is understood.

Two shapes: `aws cloudwatch get-metric-statistics` output (Label + Datapoints, each with a
Timestamp, statistics, ExtendedStatistics and its Unit) and `get-metric-data` output saved
together with its MetricDataQueries (each result Id names a metric, a statistic, a Period
and, optionally, a Unit). Every series is checked before it is used:

- its period, from the declared Period (a get-metric-data query's, or a top-level Period a
  get-metric-statistics file may carry) and from its timestamps (the smallest step between
  them; every step a multiple of it). 60 s is used as it is; sub-minute high-resolution data
  is summed, averaged or extremed into whole minutes (percentiles as the average of the
  sub-minute ones, weighted by their sample counts: an approximation the notes say); any
  other period is refused, naming the file and the period;
- its unit: latencies must say theirs (Microseconds, Milliseconds or Seconds, converted to
  microseconds), one unit per metric across all files; counts and percentages may omit it;
- its values: finite numbers, latencies > 0 and at most an hour, counts and percentages
  not negative.

Every refusal is an InputError naming the file (and the datapoint or field).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.documents import SourceFile, load_json
from simulator.checks import is_number
from simulator.errors import InputError

LATENCY_METRICS = ("ModelLatency", "OverheadLatency")
COUNT_METRICS = ("Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors")
PERCENT_METRICS = ("CPUUtilization", "MemoryUtilization")
METRICS = LATENCY_METRICS + COUNT_METRICS + PERCENT_METRICS
LATENCY_UNITS = {"Microseconds": 1.0, "Milliseconds": 1000.0, "Seconds": 1e6}
COUNT_UNITS = ("None", "Count")
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
MINUTE_S = 60
MAX_LATENCY_US = 3.6e9   # an hour: no request latency is longer
MAX_COUNT = 1e12


@dataclass(frozen=True)
class Series:
    """One metric's statistic from one file: values by timestamp, unit and period."""

    metric: str
    statistic: str
    values: dict[pd.Timestamp, float]
    unit: str | None
    declared_period_s: float | None
    where: str

    @property
    def column(self) -> str:
        return f"{self.metric}_{self.statistic}"


def timestamp(value: Any, where: str) -> pd.Timestamp:
    """A CloudWatch timestamp (ISO-8601 text or epoch seconds) as a UTC Timestamp; else an InputError at ``where``."""
    try:
        if is_number(value):
            stamp = pd.Timestamp(value, unit="s", tz="UTC")
        elif isinstance(value, str):
            stamp = pd.Timestamp(value)
        else:
            raise TypeError(value)
    except (ValueError, TypeError, OverflowError):
        raise InputError(where, f"has a Timestamp that cannot be read: {value!r}") from None
    if stamp is pd.NaT:
        raise InputError(where, f"has a Timestamp that cannot be read: {value!r}")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _metric(name: Any, where: str) -> str:
    if not isinstance(name, str) or name not in METRICS:
        raise InputError(where, f"metric {name!r} cannot be used (known: {', '.join(METRICS)})")
    return name


def _statistic(name: Any, where: str) -> str:
    if isinstance(name, str) and (name in STATISTICS or (name.startswith("p") and _is_percentile(name[1:]))):
        return name
    raise InputError(where, f"statistic {name!r} cannot be used (Sum, Average, Minimum, Maximum, SampleCount "
                            "or a percentile such as p99)")


def _is_percentile(text: str) -> bool:
    try:
        return 0 < float(text) < 100
    except ValueError:
        return False


def _value(value: Any, metric: str, statistic: str, where: str) -> float:
    """A finite number in the range the metric allows."""
    if not is_number(value) or not math.isfinite(value):
        raise InputError(where, f"{statistic} is not a finite number: {value!r}")
    if metric in LATENCY_METRICS and statistic != "SampleCount":
        if not 0 < value <= MAX_LATENCY_US:
            raise InputError(where, f"{statistic} {value!r} is not a latency (must be > 0 and at most an hour)")
    elif not 0 <= value <= MAX_COUNT:
        raise InputError(where, f"{statistic} {value!r} must be >= 0" + (" and plausible" if value > 0 else ""))
    return float(value)


def _unit(value: Any, metric: str, where: str) -> str | None:
    """The unit a series declares, checked against the metric (None: not given)."""
    if value is None:
        return None
    allowed = tuple(LATENCY_UNITS) if metric in LATENCY_METRICS else \
        COUNT_UNITS if metric in COUNT_METRICS else ("Percent",)
    if value not in allowed:
        raise InputError(where, f"metric {metric} has unit {value!r}; expected {' or '.join(allowed)}")
    return str(value)


def _period(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise InputError(where, f"has a Period that is not a positive number of seconds: {value!r}")
    return float(value)


# --- get-metric-statistics ------------------------------------------------------------------------

def _datapoint_series(document: Mapping[str, Any], origin: SourceFile) -> list[Series]:
    """get-metric-statistics: {"Label": metric, "Datapoints": [{Timestamp, Sum|Average|...,
    Unit, ExtendedStatistics: {p99: ...}}]} (datapoints in any order)."""
    metric = _metric(document["Label"], origin.path)
    points = document["Datapoints"]
    if not isinstance(points, list):
        raise InputError(origin.path, f"Datapoints of {metric} must be a list, got {type(points).__name__}")
    if not points:
        raise InputError(origin.path, f"has no datapoints for {metric}")
    period = _period(document.get("Period"), origin.path)
    values: dict[str, dict[pd.Timestamp, float]] = {}
    units: set[str | None] = set()
    for i, point in enumerate(points):
        where = f"{origin.path}: Datapoints[{i}]"
        if not isinstance(point, Mapping):
            raise InputError(where, f"is not an object with a Timestamp and statistics: {point!r}")
        units.add(_unit(point.get("Unit"), metric, where))
        stamp = timestamp(point.get("Timestamp"), where)
        extended = point.get("ExtendedStatistics") or {}
        if not isinstance(extended, Mapping):
            raise InputError(where, f"ExtendedStatistics must be an object, got {extended!r}")
        found = {**{s: point[s] for s in STATISTICS if s in point}, **extended}
        if not found:
            raise InputError(where, "has no statistic (Sum, Average, Minimum, Maximum, SampleCount or p-values)")
        for statistic, value in found.items():
            name = _statistic(statistic, where)
            values.setdefault(name, {})[stamp] = _value(value, metric, name, where)
    if len(units) > 1:
        shown = ", ".join(sorted(repr(u) if u else "none" for u in units))
        raise InputError(origin.path, f"{metric} datapoints mix units ({shown}): one unit per series")
    unit = units.pop()
    if unit is None and metric in LATENCY_METRICS:
        raise InputError(origin.path, f"{metric} datapoints carry no Unit: microseconds cannot be told from "
                                      "milliseconds (keep the Unit the AWS CLI prints)")
    return [Series(metric, statistic, found, unit, period, origin.path) for statistic, found in values.items()]


# --- get-metric-data ------------------------------------------------------------------------------

def _query(queries: Mapping[Any, Any], result: Mapping[str, Any], where: str) -> tuple[str, str, str | None, float]:
    """(metric, statistic, unit, period) of the query a result answers."""
    query = queries.get(result.get("Id"))
    if not isinstance(query, Mapping) or not isinstance(query.get("MetricStat"), Mapping):
        raise InputError(where, f"result {result.get('Id')!r} has no MetricStat query to say what it is")
    stat = query["MetricStat"]
    metric_spec = stat.get("Metric")
    if not isinstance(metric_spec, Mapping) or "MetricName" not in metric_spec:
        raise InputError(where, f"query {result.get('Id')!r} has no Metric with a MetricName")
    metric = _metric(metric_spec["MetricName"], where)
    period = _period(stat.get("Period"), where)
    if period is None:
        raise InputError(where, f"query {result.get('Id')!r} has no Period")
    return metric, _statistic(stat.get("Stat"), where), _unit(stat.get("Unit"), metric, where), period


def _result_series(document: Mapping[str, Any], origin: SourceFile) -> list[Series]:
    """get-metric-data saved with its MetricDataQueries: each result Id maps to a metric and stat."""
    queries_list = document.get("MetricDataQueries")
    if not isinstance(queries_list, list) or not queries_list:
        raise InputError(origin.path, "is get-metric-data output without its MetricDataQueries; save them "
                                      'together ({"MetricDataQueries": [...], "MetricDataResults": [...]})')
    queries = {q.get("Id"): q for q in queries_list if isinstance(q, Mapping)}
    results = document["MetricDataResults"]
    if not isinstance(results, list):
        raise InputError(origin.path, "MetricDataResults must be a list")
    out = []
    for i, result in enumerate(results):
        where = f"{origin.path}: MetricDataResults[{i}]"
        if not isinstance(result, Mapping):
            raise InputError(where, f"is not an object: {result!r}")
        metric, statistic, unit, period = _query(queries, result, where)
        if result.get("StatusCode", "Complete") != "Complete":
            raise InputError(where, f"has StatusCode {result.get('StatusCode')!r}: fetch every page (NextToken)")
        stamps, numbers = result.get("Timestamps"), result.get("Values")
        if not isinstance(stamps, list) or not isinstance(numbers, list) or len(stamps) != len(numbers):
            raise InputError(where, "needs Timestamps and Values lists of the same length")
        values = {timestamp(s, where): _value(v, metric, statistic, where) for s, v in zip(stamps, numbers,
                                                                                          strict=True)}
        if values:
            out.append(Series(metric, statistic, values, unit, period, where))
    return out


def series_of(documents: Any, origin: SourceFile) -> list[Series]:
    """Every metric series in a get-metric-statistics or get-metric-data document (or a list of them)."""
    out: list[Series] = []
    for document in documents if isinstance(documents, list) else [documents]:
        if isinstance(document, Mapping) and "Label" in document and "Datapoints" in document:
            out += _datapoint_series(document, origin)
        elif isinstance(document, Mapping) and "MetricDataResults" in document:
            out += _result_series(document, origin)
        else:
            raise InputError(origin.path, "is not CloudWatch output (expected Label + Datapoints from "
                                          "get-metric-statistics, or MetricDataResults from get-metric-data)")
    return out


# --- periods, units, minutes -----------------------------------------------------------------------

def period_of(series: Series, others: float | None = None) -> float:
    """The series' period: the declared one, checked against the timestamps, or the
    smallest step between timestamps; every step must be a multiple of it. A single
    datapoint without a Period takes ``others``, the one period every other series shows."""
    stamps = sorted(series.values)
    steps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    if not steps and series.declared_period_s is None:
        if others is None:
            raise InputError(series.where, f"{series.column} has a single datapoint and no Period: its period "
                                           "cannot be told")
        return others
    period = series.declared_period_s or min(steps)
    if any(abs(step / period - round(step / period)) > 1e-6 for step in steps):
        raise InputError(series.where, f"{series.column}: timestamps {min(steps):g} s apart do not fit a {period:g} s "
                                       "period")
    if series.declared_period_s and steps and min(steps) < period - 1e-6:
        raise InputError(series.where, f"{series.column}: timestamps {min(steps):g} s apart, closer than its Period "
                                       f"{period:g} s")
    return period


def _weights(series: Series, sample_counts: Mapping[tuple[str, pd.Timestamp], float],
             invocations: Mapping[pd.Timestamp, float]) -> dict[pd.Timestamp, float]:
    """How much each sub-minute datapoint weighs in its minute's average: its SampleCount,
    else the Invocations of that sub-minute, else 1."""
    return {stamp: sample_counts.get((series.metric, stamp), invocations.get(stamp, 1.0)) for stamp in series.values}


def to_minutes(series: Series, period: float, weights: Mapping[pd.Timestamp, float]) -> dict[pd.Timestamp, float]:
    """A sub-minute series as whole minutes (only the minutes all 60 / period datapoints
    cover): Sum and SampleCount add up, Minimum and Maximum take the extremes, Average and
    percentiles the weighted average."""
    per_minute = round(MINUTE_S / period)
    minutes: dict[pd.Timestamp, list[pd.Timestamp]] = {}
    for stamp in series.values:
        minutes.setdefault(stamp.floor("min"), []).append(stamp)
    out = {}
    for minute, stamps in minutes.items():
        if len(stamps) != per_minute:
            continue
        values = [series.values[s] for s in stamps]
        if series.statistic in ("Sum", "SampleCount"):
            out[minute] = float(sum(values))
        elif series.statistic == "Minimum":
            out[minute] = min(values)
        elif series.statistic == "Maximum":
            out[minute] = max(values)
        else:
            total = sum(weights[s] for s in stamps)
            out[minute] = sum(series.values[s] * weights[s] for s in stamps) / total if total > 0 else \
                sum(values) / len(values)
    return out


def _check_units(series: list[Series]) -> dict[str, float]:
    """One unit per latency metric over all its series (missing only where CloudWatch's
    own unit applies: a get-metric-data query without Unit); the factor to microseconds."""
    factors = {}
    for metric in LATENCY_METRICS:
        units = {s.unit for s in series if s.metric == metric}
        if len(units) > 1:
            places = "; ".join(f"{s.column} in {s.unit or 'no unit'} ({s.where})" for s in series if s.metric == metric)
            raise InputError(series[0].where if len(series) == 1 else "cloudwatch",
                             f"{metric} comes in mixed or missing units: {places}")
        factors[metric] = LATENCY_UNITS[units.pop() or "Microseconds"] if units else 1.0
    return factors


def _minute_columns(series: list[Series]) -> tuple[dict[tuple[pd.Timestamp, str], float], list[str]]:
    """Every series on whole minutes, latencies in microseconds; and notes on what was
    aggregated. Other periods than 60 s and its divisors are refused."""
    factors = _check_units(series)
    told = {id(s): period_of(s) for s in series if len(s.values) > 1 or s.declared_period_s}
    common = set(told.values())
    others = common.pop() if len(common) == 1 else None
    periods = {id(s): told.get(id(s)) or period_of(s, others) for s in series}
    for s in series:
        period = periods[id(s)]
        if period > MINUTE_S or MINUTE_S % period > 1e-9:
            raise InputError(s.where, f"{s.column} has a {period:g} s period; calibration reads 60 s datapoints "
                                      "(or high-resolution ones that divide a minute): fetch them with a 60 s period")
    sample_counts = {(s.metric, stamp): v for s in series if s.statistic == "SampleCount"
                     for stamp, v in s.values.items()}
    invocations = next((s.values for s in series if s.column == "Invocations_Sum"), {})
    values: dict[tuple[pd.Timestamp, str], float] = {}
    notes = []
    for s in series:
        period = periods[id(s)]
        minutes = s.values if period == MINUTE_S else to_minutes(s, period, _weights(s, sample_counts, invocations))
        if period < MINUTE_S:
            approximate = " (approximate: the weighted average of sub-minute values)" if s.statistic.startswith("p") \
                else ""
            notes.append(f"{s.column}: {period:g} s datapoints aggregated to {len(minutes)} whole minutes{approximate}")
        factor = factors.get(s.metric, 1.0) if s.statistic != "SampleCount" else 1.0
        for stamp, value in minutes.items():
            key = (stamp, s.column)
            if key in values and not math.isclose(values[key], value * factor, rel_tol=1e-9):
                raise InputError(s.where, f"{s.column} at {stamp} differs from another file's value")
            values[key] = value * factor
    return values, notes


def read_cloudwatch(cloudwatch: Iterable[str | Path | Mapping[str, Any]]) -> tuple[pd.DataFrame, list[SourceFile]]:
    """One row per minute, one column per metric and statistic (e.g. ``ModelLatency_p99``,
    latencies in microseconds), from any number of get-metric-statistics / get-metric-data
    files (or parsed documents), combined by timestamp. ``frame.attrs["notes"]`` says what
    was aggregated."""
    series: list[Series] = []
    origins = []
    for source in cloudwatch:
        documents, origin = load_json(source, "CloudWatch get-metric-statistics or get-metric-data output")
        origins.append(origin)
        series += series_of(documents, origin)
    if not series:
        raise InputError("cloudwatch", "no datapoints in the given files")
    values, notes = _minute_columns(series)
    if not values:
        raise InputError("cloudwatch", "no whole minute in the given files")
    frame = pd.Series(values).unstack()
    frame.index.name = "Timestamp"
    frame = frame.sort_index()
    frame.attrs["notes"] = notes
    return frame, origins
