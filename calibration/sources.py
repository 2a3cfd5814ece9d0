"""Readers for measurements of a real endpoint, and the exporter that writes simulated runs in
the same shapes (CloudWatch as the AWS CLI saves it, Inference Recommender responses, raw
latency samples).

Every reader names the file and the problem when the input is not what it should be.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calibration.cloudwatch import read_cloudwatch
from calibration.documents import SourceFile, file_hash, listing, load_json, mapping, positive_number, text
from simulator.checks import is_number
from simulator.errors import InputError
from simulator.jsonfiles import parse_json, read_input

__all__ = ["BenchmarkObservation", "SourceFile", "export_get_metric_statistics", "file_hash", "read_cloudwatch",
           "read_describe", "read_samples", "read_steps", "utc"]

PERIOD_S = 60
MAX_SAMPLE_MS = 3.6e6  # an hour: no request latency is longer


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


# Inference Recommender results

def _percentile_of(describe: Mapping[str, Any], where: str) -> tuple[str, float | None]:
    conditions = mapping(describe.get("StoppingConditions") or {}, f"{where}: StoppingConditions",
                         "stopping conditions")
    thresholds = listing(conditions.get("ModelLatencyThresholds") or [], f"{where}: ModelLatencyThresholds",
                         "of thresholds")
    if not thresholds:
        return "P95", None
    first = mapping(thresholds[0], f"{where}: ModelLatencyThresholds[0]", "Percentile and ValueInMilliseconds")
    percentile = first.get("Percentile", "P95")
    if percentile not in ("P95", "P99"):
        raise InputError(f"{where}: ModelLatencyThresholds[0]", f"Percentile must be P95 or P99, got {percentile!r}")
    return percentile, positive_number(first.get("ValueInMilliseconds"), f"{where}: ModelLatencyThresholds[0]",
                                       "ValueInMilliseconds")


def _environment(model_configuration: Any, where: str) -> tuple[tuple[str, str], ...]:
    configuration = mapping(model_configuration or {}, where, "ModelConfiguration")
    parameters = listing(configuration.get("EnvironmentParameters") or [], where, "EnvironmentParameters")
    pairs = []
    for i, parameter in enumerate(parameters):
        entry = mapping(parameter, f"{where}.EnvironmentParameters[{i}]", "Key and Value")
        pairs.append((text(entry.get("Key"), where, "Key"), text(entry.get("Value"), where, "Value")))
    return tuple(pairs)


def _optional_number(value: Any, where: str, what: str) -> float | None:
    if value is None:
        return None
    if not is_number(value) or not math.isfinite(value) or value < 0:
        raise InputError(where, f"{what} must be a finite number >= 0, got {value!r:.60}")
    return float(value)


def _observation(metrics: Any, endpoint: Any, model: Any, count: Any, where: str, percentile: str,
                 threshold: float | None, source: str) -> BenchmarkObservation:
    """One benchmark: the per-instance max at the threshold and the latency there."""
    numbers = mapping(metrics, where, "Metrics")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InputError(where, f"InitialInstanceCount must be an integer >= 1, got {count!r:.60}")
    return BenchmarkObservation(
        instance_type=text(endpoint.get("InstanceType"), where, "InstanceType"), environment=_environment(model, where),
        per_instance_max_invocations=positive_number(numbers.get("MaxInvocations"), where, "MaxInvocations") / count,
        model_latency_ms=positive_number(numbers.get("ModelLatency"), where, "ModelLatency") / 1000.0,
        percentile=percentile, threshold_ms=threshold,
        cpu_utilization=_optional_number(numbers.get("CpuUtilization"), where, "CpuUtilization"),
        memory_utilization=_optional_number(numbers.get("MemoryUtilization"), where, "MemoryUtilization"),
        source=source)


def read_describe(source: str | Path | Mapping[str, Any]) -> tuple[list[BenchmarkObservation], SourceFile]:
    """Per recommendation of a DescribeInferenceRecommendationsJob response (boto3's or the
    AWS CLI's): the per-instance max at the threshold (MaxInvocations / count) and its latency."""
    document, origin = load_json(source, "a DescribeInferenceRecommendationsJob response")
    if not isinstance(document, Mapping) or "JobName" not in document or "InputConfig" not in document:
        raise InputError(origin.path, "is not a DescribeInferenceRecommendationsJob response "
                                      "(no JobName/InputConfig)")
    recommendations = listing(document.get("InferenceRecommendations") or [], origin.path, "InferenceRecommendations")
    if not recommendations:
        raise InputError(origin.path, f"has no InferenceRecommendations (job status {document.get('Status')})")
    percentile, threshold = _percentile_of(document, origin.path)
    observations = []
    for i, recommendation in enumerate(recommendations):
        where = f"{origin.path}: InferenceRecommendations[{i}]"
        recommendation = mapping(recommendation, where, "a recommendation")
        endpoint = mapping(recommendation.get("EndpointConfiguration") or {}, where, "EndpointConfiguration")
        if "InstanceType" not in endpoint:
            continue  # serverless recommendations carry no instance type
        observations.append(_observation(recommendation.get("Metrics"), endpoint,
                                         recommendation.get("ModelConfiguration"),
                                         endpoint.get("InitialInstanceCount", 1), where, percentile, threshold,
                                         origin.path))
    return observations, origin


def read_steps(source: str | Path | Mapping[str, Any], percentile: str = "P95",
               threshold_ms: float | None = None) -> tuple[list[BenchmarkObservation], SourceFile]:
    """Per COMPLETED BENCHMARK step of a ListInferenceRecommendationsJobSteps response: the
    single instance's max invocations (EndpointMetrics) and the latency there."""
    document, origin = load_json(source, "a ListInferenceRecommendationsJobSteps response")
    if not isinstance(document, Mapping) or not isinstance(document.get("Steps"), list):
        raise InputError(origin.path, "is not a ListInferenceRecommendationsJobSteps response (no Steps list)")
    observations = []
    for i, step in enumerate(document["Steps"]):
        where = f"{origin.path}: Steps[{i}]"
        step = mapping(step, where, "a step")
        benchmark = mapping(step.get("InferenceBenchmark") or {}, where, "InferenceBenchmark")
        metrics = benchmark.get("EndpointMetrics")
        endpoint = mapping(benchmark.get("EndpointConfiguration") or {}, where, "EndpointConfiguration")
        if step.get("Status") != "COMPLETED" or not metrics or "InstanceType" not in endpoint:
            continue
        other = mapping(benchmark.get("Metrics") or {}, where, "Metrics")
        endpoint_metrics = {**mapping(metrics, where, "EndpointMetrics"),
                            "CpuUtilization": other.get("CpuUtilization"),
                            "MemoryUtilization": other.get("MemoryUtilization")}
        observations.append(_observation(endpoint_metrics, endpoint, benchmark.get("ModelConfiguration"), 1, where,
                                         percentile, threshold_ms, origin.path))
    if not observations:
        raise InputError(origin.path, "has no COMPLETED BENCHMARK step with EndpointMetrics")
    return observations, origin


# CloudWatch (the readers are in calibration.cloudwatch)

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

def _sample(value: Any, where: str) -> float:
    """One latency in milliseconds: a finite number > 0 and at most an hour."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputError(where, f"latency_ms is not a number: {value!r:.60}") from None
    if not is_number(value) or not math.isfinite(value) or not 0 < value <= MAX_SAMPLE_MS:
        raise InputError(where, f"latency_ms {value!r:.60} is not a latency in milliseconds (a finite number > 0 "
                                f"and at most {MAX_SAMPLE_MS:,.0f})")
    return float(value)


def _ndjson_samples(lines: list[tuple[int, str]], path: Path) -> list[float]:
    values = []
    for n, line in lines:
        record = parse_json(line, f"{path}:{n}", "this NDJSON line")
        if not isinstance(record, Mapping) or "latency_ms" not in record:
            raise InputError(f"{path}:{n}", "is not an NDJSON object with a numeric latency_ms")
        values.append(_sample(record["latency_ms"], f"{path}:{n}"))
    return values


def _csv_samples(lines: list[tuple[int, str]], path: Path) -> list[float]:
    rows = [(n, next(csv.reader(io.StringIO(line)))) for n, line in lines]
    header = [cell.strip() for cell in rows[0][1]]
    column = header.index("latency_ms") if "latency_ms" in header else (0 if len(header) == 1 else None)
    if column is None:
        raise InputError(str(path), f"has columns {header}; expected one named latency_ms (milliseconds)")
    body = rows if _is_number(header[column]) else rows[1:]
    values = []
    for n, row in body:
        if column >= len(row):
            raise InputError(f"{path}:{n}", f"has no latency_ms cell: {row}")
        values.append(_sample(row[column].strip(), f"{path}:{n}"))
    return values


def read_samples(source: str | Path) -> tuple[np.ndarray, SourceFile]:
    """Per-request latencies in milliseconds: CSV (a column named latency_ms, or a single
    column) or NDJSON (objects with latency_ms); each a finite number > 0, at most an hour."""
    path = Path(source)
    data = read_input(path, str(path))  # regular files only, size-capped
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"cannot read the samples file: {exc}") from None
    origin = file_hash(path)
    lines = [(n, line) for n, line in enumerate(content.splitlines(), start=1) if line.strip()]
    if not lines:
        raise InputError(str(path), "is empty; expected latency samples in milliseconds")
    ndjson = lines[0][1].lstrip().startswith("{")
    samples = np.asarray(_ndjson_samples(lines, path) if ndjson else _csv_samples(lines, path))
    if samples.size < 20:
        raise InputError(str(path), f"has only {samples.size} samples; at least 20 are needed to fit a distribution")
    return samples, origin


def _is_number(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
