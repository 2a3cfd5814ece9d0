"""The CloudWatch Logs a job writes, answered offline: the SageMaker SDK's ``right_size`` with
its default ``log_level="Verbose"`` reads ``/aws/sagemaker/InferenceRecommendationsJobs``,
stream ``JOB/execution``, with GetLogEvents while it waits for the job.

A job's stream is built from the store, append-only: the job's creation, each benchmark as it
finishes, then the job's end and one line per finished benchmark with its numbers. Tokens are
positions in that list (``f/N`` forward, ``b/N`` backward); at the end of the stream the forward
token comes back unchanged, as CloudWatch Logs does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from irsim.durable.store import ACTIVE_STATUSES, JobRecord, JobStore, now_utc
from irsim.service.labels import endpoint_label

LOG_GROUP = "/aws/sagemaker/InferenceRecommendationsJobs"
STREAM_SUFFIX = "/execution"


class LogsError(Exception):
    """An error CloudWatch Logs answers with: its code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code, self.message = code, message


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _step_line(step: Mapping[str, Any]) -> str:
    benchmark = step["InferenceBenchmark"]
    label = endpoint_label(benchmark.get("EndpointConfiguration", {}), benchmark.get("ModelConfiguration"))
    metrics = benchmark.get("EndpointMetrics")
    if metrics:
        return (f"Benchmark {label}: {step['Status']}, MaxInvocations {metrics['MaxInvocations']}/min, "
                f"ModelLatency {metrics['ModelLatency'] / 1000:.2f} ms")
    reason = benchmark.get("FailureReason")
    return f"Benchmark {label}: {step['Status']}" + (f" ({reason})" if reason else "")


def job_events(record: JobRecord) -> list[tuple[datetime, str]]:
    """The job's log lines with their times, oldest first, never later than now."""
    now = now_utc()
    events = [(record.created, f"Inference recommendations job {record.name} ({record.job_type}) created.")]
    progress_time = min(record.last_modified, now)
    for index, status in (record.progress or {}).items():
        events.append((progress_time, f"Benchmark {int(index) + 1}: {status}."))
    if record.status not in ACTIVE_STATUSES:
        ended = min(record.completed or record.last_modified, now)
        reason = f": {record.failure_reason}" if record.failure_reason else "."
        events.append((ended, f"Inference recommendations job {record.name} {record.status}{reason}"))
        events += [(ended, _step_line(step)) for step in (record.steps or {}).get("Steps", [])]
    return events


def get_log_events(store: JobStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """GetLogEvents over a job's stream (startTime/endTime filter, limit, startFromHead and the
    tokens as CloudWatch Logs reads them)."""
    if params["logGroupName"] != LOG_GROUP:
        raise LogsError("ResourceNotFoundException", "The specified log group does not exist.")
    stream = params["logStreamName"]
    record = store.get(stream.removesuffix(STREAM_SUFFIX)) if stream.endswith(STREAM_SUFFIX) else None
    if record is None:
        raise LogsError("ResourceNotFoundException", "The specified log stream does not exist.")
    events = [{"timestamp": _millis(when), "message": message, "ingestionTime": _millis(when)}
              for when, message in job_events(record)
              if params.get("startTime", 0) <= _millis(when) and ("endTime" not in params
                                                                   or _millis(when) < params["endTime"])]
    limit = params.get("limit", 10000)
    token = params.get("nextToken", "")
    if token and (token[:2] not in ("f/", "b/") or not token[2:].isdigit()):
        raise LogsError("InvalidParameterException", "The specified nextToken is invalid.")
    if token.startswith("f/"):
        start = int(token[2:])
        page = events[start:start + limit]
        end = start + len(page)
    elif token.startswith("b/"):
        end = int(token[2:])
        start = max(0, end - limit)
        page = events[start:end]
    elif params.get("startFromHead", False):
        start, page = 0, events[:limit]
        end = len(page)
    else:  # the newest events, as CloudWatch Logs answers without a token
        start = max(0, len(events) - limit)
        page, end = events[start:], len(events)
    return {"events": page, "nextForwardToken": f"f/{end}", "nextBackwardToken": f"b/{start}"}
