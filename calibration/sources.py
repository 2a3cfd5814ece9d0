"""Readers for measurements of a real endpoint, and the exporter that writes simulated runs in
the same shapes (CloudWatch as the AWS CLI saves it, Inference Recommender responses, raw
latency samples).

Every reader names the file and the problem when the input is not what it should be.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.checks import is_number
from simulator.errors import InputError

#: CloudWatch metric -> the unit it must carry and the column prefix it becomes.
METRIC_UNITS = {
    "Invocations": ("None", "Count"), "InvocationsPerInstance": ("None", "Count"),
    "ModelLatency": ("Microseconds",), "OverheadLatency": ("Microseconds",),
    "CPUUtilization": ("Percent",), "MemoryUtilization": ("Percent",),
    "Invocation4XXErrors": ("None", "Count"), "Invocation5XXErrors": ("None", "Count"),
}
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
PERIOD_S = 60


@dataclass(frozen=True)
class SourceFile:
    """Where a measurement came from: path and SHA-256 of its bytes."""

    path: str
    sha256: str


@dataclass(frozen=True)
class BenchmarkObservation:
    """One benchmark of a real Inference Recommender job, as its results report it."""

    instance_type: str
    environment: tuple[tuple[str, str], ...]
    per_instance_max_invocations: float  # per minute, at the latency threshold
    model_latency_ms: float
    percentile: str  # the percentile ModelLatency was reported at
    threshold_ms: float | None
    cpu_utilization: float | None
    memory_utilization: float | None
    source: str


def _load_json(source: str | Path | Mapping[str, Any], kind: str) -> tuple[Any, SourceFile]:
    if isinstance(source, Mapping):
        text = json.dumps(source, default=str)
        return source, SourceFile("<document>", hashlib.sha256(text.encode()).hexdigest())
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the {kind} file: {exc.strerror or exc}") from None
    if not data.strip():
        raise InputError(str(path), f"is empty; expected {kind}")
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"is not JSON ({exc}); expected {kind}") from None
    return document, SourceFile(str(path), hashlib.sha256(data).hexdigest())


def file_hash(path: str | Path) -> SourceFile:
    return SourceFile(str(path), hashlib.sha256(Path(path).read_bytes()).hexdigest())


# Inference Recommender results

def _percentile_of(describe: Mapping[str, Any]) -> tuple[str, float | None]:
    thresholds = describe.get("StoppingConditions", {}).get("ModelLatencyThresholds") or []
    if thresholds:
        return thresholds[0].get("Percentile", "P95"), float(thresholds[0]["ValueInMilliseconds"])
    return "P95", None


def _environment(model_configuration: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((p["Key"], p["Value"]) for p in model_configuration.get("EnvironmentParameters", []))


def read_describe(source: str | Path | Mapping[str, Any]) -> tuple[list[BenchmarkObservation], SourceFile]:
    """Per recommendation of a DescribeInferenceRecommendationsJob response (boto3's or the
    AWS CLI's): the per-instance max at the threshold (MaxInvocations / count) and its latency."""
    document, origin = _load_json(source, "a DescribeInferenceRecommendationsJob response")
    if not isinstance(document, Mapping) or "JobName" not in document or "InputConfig" not in document:
        raise InputError(origin.path, "is not a DescribeInferenceRecommendationsJob response "
                                      "(no JobName/InputConfig)")
    recommendations = document.get("InferenceRecommendations") or []
    if not recommendations:
        raise InputError(origin.path, f"has no InferenceRecommendations (job status {document.get('Status')})")
    percentile, threshold = _percentile_of(document)
    observations = []
    for i, recommendation in enumerate(recommendations):
        metrics = recommendation.get("Metrics", {})
        endpoint = recommendation.get("EndpointConfiguration", {})
        if "InstanceType" not in endpoint:
            continue  # serverless recommendations carry no instance type
        try:
            count = int(endpoint.get("InitialInstanceCount", 1))
            max_invocations = float(metrics["MaxInvocations"])
            latency_us = float(metrics["ModelLatency"])
        except (KeyError, TypeError, ValueError):
            raise InputError(origin.path, f"InferenceRecommendations[{i}] lacks numeric MaxInvocations, "
                                          "ModelLatency or InitialInstanceCount") from None
        observations.append(BenchmarkObservation(
            instance_type=endpoint["InstanceType"],
            environment=_environment(recommendation.get("ModelConfiguration", {})),
            per_instance_max_invocations=max_invocations / max(count, 1), model_latency_ms=latency_us / 1000.0,
            percentile=percentile, threshold_ms=threshold, cpu_utilization=metrics.get("CpuUtilization"),
            memory_utilization=metrics.get("MemoryUtilization"), source=origin.path))
    return observations, origin


def read_steps(source: str | Path | Mapping[str, Any], percentile: str = "P95",
               threshold_ms: float | None = None) -> tuple[list[BenchmarkObservation], SourceFile]:
    """Per COMPLETED BENCHMARK step of a ListInferenceRecommendationsJobSteps response: the
    single instance's max invocations (EndpointMetrics) and the latency there."""
    document, origin = _load_json(source, "a ListInferenceRecommendationsJobSteps response")
    if not isinstance(document, Mapping) or not isinstance(document.get("Steps"), list):
        raise InputError(origin.path, "is not a ListInferenceRecommendationsJobSteps response (no Steps list)")
    observations = []
    for step in document["Steps"]:
        benchmark = step.get("InferenceBenchmark", {})
        metrics = benchmark.get("EndpointMetrics") or {}
        endpoint = benchmark.get("EndpointConfiguration", {})
        if step.get("Status") != "COMPLETED" or not metrics or "InstanceType" not in endpoint:
            continue
        other = benchmark.get("Metrics", {})
        observations.append(BenchmarkObservation(
            instance_type=endpoint["InstanceType"],
            environment=_environment(benchmark.get("ModelConfiguration", {})),
            per_instance_max_invocations=float(metrics["MaxInvocations"]),
            model_latency_ms=float(metrics["ModelLatency"]) / 1000.0, percentile=percentile,
            threshold_ms=threshold_ms, cpu_utilization=other.get("CpuUtilization"),
            memory_utilization=other.get("MemoryUtilization"), source=origin.path))
    if not observations:
        raise InputError(origin.path, "has no COMPLETED BENCHMARK step with EndpointMetrics")
    return observations, origin


# CloudWatch

def _timestamp(value: Any, where: str) -> pd.Timestamp:
    try:
        if isinstance(value, (int, float)):
            return pd.Timestamp(value, unit="s", tz="UTC")
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(where, f"has a timestamp that cannot be read: {value!r}") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _column(metric: str, statistic: str) -> str:
    return f"{metric}_{statistic}"


def _check_metric(metric: str, unit: str | None, where: str) -> None:
    if metric not in METRIC_UNITS:
        raise InputError(where, f"metric {metric!r} cannot be used (known: {', '.join(METRIC_UNITS)})")
    if unit is not None and unit not in METRIC_UNITS[metric]:
        raise InputError(where, f"metric {metric} has unit {unit!r}; expected {' or '.join(METRIC_UNITS[metric])}")


def _value(value: Any, where: str) -> float:
    """A datapoint's value: a finite number (JSON's NaN and Infinity are not)."""
    if not is_number(value) or not math.isfinite(value):
        raise InputError(where, f"has a value that is not a finite number: {value!r}")
    return float(value)


def _metric_statistics(document: Mapping[str, Any], origin: SourceFile) -> dict[tuple[pd.Timestamp, str], float]:
    """get-metric-statistics: {"Label": metric, "Datapoints": [{Timestamp, Sum|Average|..., Unit,
    ExtendedStatistics: {p99: ...}}]} (datapoints in any order)."""
    metric = document["Label"]
    datapoints = document["Datapoints"]
    if not datapoints:
        raise InputError(origin.path, f"has no datapoints for {metric}")
    values: dict[tuple[pd.Timestamp, str], float] = {}
    for i, point in enumerate(datapoints):
        where = f"{origin.path}: Datapoints[{i}]"
        _check_metric(metric, point.get("Unit"), origin.path)
        stamp = _timestamp(point.get("Timestamp"), where)
        found = False
        for statistic in STATISTICS:
            if statistic in point:
                values[(stamp, _column(metric, statistic))] = _value(point[statistic], where)
                found = True
        for statistic, value in (point.get("ExtendedStatistics") or {}).items():
            values[(stamp, _column(metric, statistic))] = _value(value, where)
            found = True
        if not found:
            raise InputError(where, "has no statistic (Sum, Average, Minimum, Maximum, SampleCount or p-values)")
    return values


def _metric_data(document: Mapping[str, Any], origin: SourceFile) -> dict[tuple[pd.Timestamp, str], float]:
    """get-metric-data saved with its MetricDataQueries: each result Id maps to a metric and stat."""
    queries = {q.get("Id"): q for q in document.get("MetricDataQueries", [])}
    if not queries:
        raise InputError(origin.path, "is get-metric-data output without its MetricDataQueries; save them "
                                      'together ({"MetricDataQueries": [...], "MetricDataResults": [...]})')
    values: dict[tuple[pd.Timestamp, str], float] = {}
    for result in document["MetricDataResults"]:
        query = queries.get(result.get("Id"))
        if query is None or "MetricStat" not in query:
            raise InputError(origin.path, f"result {result.get('Id')!r} has no MetricStat query to say what it is")
        stat = query["MetricStat"]
        metric = stat["Metric"]["MetricName"]
        _check_metric(metric, stat.get("Unit"), origin.path)
        statistic = stat["Stat"]
        stamps, numbers = result.get("Timestamps", []), result.get("Values", [])
        if len(stamps) != len(numbers):
            raise InputError(origin.path,
                             f"result {result['Id']} has {len(stamps)} timestamps for {len(numbers)} values")
        for stamp, value in zip(stamps, numbers, strict=True):
            values[(_timestamp(stamp, origin.path), _column(metric, statistic))] = _value(value, origin.path)
    if not values:
        raise InputError(origin.path, "has no datapoints")
    return values


def read_cloudwatch(cloudwatch: Iterable[str | Path | Mapping[str, Any]]) -> tuple[pd.DataFrame, list[SourceFile]]:
    """One row per timestamp, one column per metric and statistic (e.g. ``ModelLatency_p99``),
    from any number of get-metric-statistics / get-metric-data files (or parsed documents),
    combined by timestamp."""
    values: dict[tuple[pd.Timestamp, str], float] = {}
    origins = []
    for source in cloudwatch:
        documents, origin = _load_json(source, "CloudWatch get-metric-statistics or get-metric-data output")
        origins.append(origin)
        for document in documents if isinstance(documents, list) else [documents]:
            if isinstance(document, Mapping) and "Label" in document and "Datapoints" in document:
                values.update(_metric_statistics(document, origin))
            elif isinstance(document, Mapping) and "MetricDataResults" in document:
                values.update(_metric_data(document, origin))
            else:
                raise InputError(origin.path, "is not CloudWatch output (expected Label + Datapoints from "
                                              "get-metric-statistics, or MetricDataResults from get-metric-data)")
    if not values:
        raise InputError("cloudwatch", "no datapoints in the given files")
    series = pd.Series(values)
    frame = series.unstack()
    frame.index.name = "Timestamp"
    return frame.sort_index(), origins


def export_get_metric_statistics(per_minute: pd.DataFrame, start: datetime, instance_count: int = 1
                                 ) -> list[dict[str, Any]]:
    """A simulated run's per-minute series as `aws cloudwatch get-metric-statistics` output,
    one document per metric (Period 60). Latencies in microseconds, as CloudWatch has them."""
    full = per_minute[per_minute["seconds"] >= PERIOD_S]
    stamps = [(start + timedelta(seconds=float(s))).isoformat() for s in full["start_s"]]
    specs = {
        "Invocations": ("None", {"Sum": full["Invocations"]}),
        "InvocationsPerInstance": ("None", {"Sum": full["InvocationsPerInstance"]}),
        "ModelLatency": ("Microseconds", {"Average": full["ModelLatency_Average"],
                                          "Minimum": full["ModelLatency_Minimum"],
                                          "Maximum": full["ModelLatency_Maximum"],
                                          **{f"p{p}": full[f"ModelLatency_p{p}"] for p in (50, 90, 95, 99)}}),
        "OverheadLatency": ("Microseconds", {"Average": full["OverheadLatency_Average"]}),
        "CPUUtilization": ("Percent", {"Average": full["CPUUtilization"]}),
        "MemoryUtilization": ("Percent", {"Average": full["MemoryUtilization"]}),
    }
    documents = []
    for metric, (unit, statistics) in specs.items():
        points = []
        for i, stamp in enumerate(stamps):
            point: dict[str, Any] = {"Timestamp": stamp, "Unit": unit}
            extended = {}
            for name, column in statistics.items():
                value = float(column.iloc[i])
                if not math.isfinite(value):
                    continue
                if name.startswith("p"):
                    extended[name] = value
                else:
                    point[name] = value
            if extended:
                point["ExtendedStatistics"] = extended
            if len(point) > 2:
                points.append(point)
        if points:
            documents.append({"Label": metric, "Datapoints": points[::-1]})  # CloudWatch's order is not ours
    return documents


# Raw samples

def read_samples(source: str | Path) -> tuple[np.ndarray, SourceFile]:
    """Per-request latencies in milliseconds: CSV (a column named latency_ms, or a single
    column) or NDJSON (objects with latency_ms)."""
    path = Path(source)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read the samples file: {exc}") from None
    origin = file_hash(path)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError(str(path), "is empty; expected latency samples in milliseconds")
    values: list[float] = []
    if lines[0].lstrip().startswith("{"):
        for n, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
                values.append(float(record["latency_ms"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                raise InputError(f"{path}:{n}", "is not an NDJSON object with a numeric latency_ms") from None
    else:
        rows = list(csv.reader(io.StringIO("\n".join(lines))))
        header = [cell.strip() for cell in rows[0]]
        column = header.index("latency_ms") if "latency_ms" in header else (0 if len(header) == 1 else None)
        if column is None:
            raise InputError(str(path), f"has columns {header}; expected one named latency_ms (milliseconds)")
        body = rows[1:] if not _is_number(header[column]) else rows
        for n, row in enumerate(body, start=2 if body is not rows else 1):
            try:
                values.append(float(row[column]))
            except (IndexError, ValueError):
                raise InputError(f"{path}:{n}", f"is not a number: {row}") from None
    samples = np.asarray(values)
    if not np.all(np.isfinite(samples)) or np.any(samples <= 0):
        raise InputError(str(path), "has latencies that are not finite positive milliseconds")
    if samples.size < 20:
        raise InputError(str(path), f"has only {samples.size} samples; at least 20 are needed to fit a distribution")
    return samples, origin


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
