"""Import: a finished real job (a saved Describe document, or fetched by name) stored
locally so the offline client answers for it."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.validate import ParamValidator

from irsim.durable.store import JobExists, JobRecord, JobStore, NewJob
from irsim.errors import UserError
from irsim.service.awsmodel import operation
from simulator import checks

TERMINAL_STATUSES = ("COMPLETED", "FAILED", "STOPPED")
#: Request members rebuilt from a Describe response when a real job is imported.
IMPORTED_REQUEST_KEYS = ("JobName", "JobType", "RoleArn", "JobDescription", "InputConfig", "StoppingConditions")
REQUIRED_DESCRIBE_KEYS = ("JobName", "JobType", "JobArn", "RoleArn", "Status", "CreationTime", "LastModifiedTime",
                          "InputConfig")
TIMESTAMP_KEYS = frozenset({"CreationTime", "LastModifiedTime", "CompletionTime", "InvocationStartTime",
                            "InvocationEndTime"})
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}")


def without_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    """A response without ResponseMetadata and NextToken."""
    return {key: value for key, value in response.items() if key not in ("ResponseMetadata", "NextToken")}


def _timestamp(key: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif checks.is_number(value):
        try:
            moment = datetime.fromtimestamp(value, UTC)  # cli_timestamp_format = none
        except (OverflowError, ValueError, OSError):
            raise UserError(f"{key}: {value!r} is not a time in epoch seconds") from None
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise UserError(f"{key}: {value!r} is not an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_timestamps(document: Any) -> Any:
    """AWS CLI output with its timestamps (CreationTime, ..., InvocationEndTime) as datetimes."""
    if isinstance(document, dict):
        return {key: _timestamp(key, value) if key in TIMESTAMP_KEYS and value is not None
                else parse_timestamps(value) for key, value in document.items()}
    if isinstance(document, list):
        return [parse_timestamps(item) for item in document]
    return document


def describe_document(document: Any, where: str) -> dict[str, Any]:
    """A saved `aws sagemaker describe-inference-recommendations-job` output, checked against
    the response shape of botocore's model and with its timestamps as datetimes; ``where``
    names the input in errors."""
    if not isinstance(document, dict):
        raise UserError(f"{where} must hold a DescribeInferenceRecommendationsJob response (a JSON object)")
    missing = [key for key in REQUIRED_DESCRIBE_KEYS if key not in document]
    if missing:
        raise UserError(f"{where} is not a DescribeInferenceRecommendationsJob response: "
                        f"missing {', '.join(missing)}")
    describe = without_metadata(parse_timestamps(document))
    _check_shape(describe, "DescribeInferenceRecommendationsJob", where)
    _check_finite(describe, where)
    if not JOB_NAME.fullmatch(describe["JobName"]):
        raise UserError(f"{where}: JobName {describe['JobName']!r} is not an Inference Recommender job name")
    return describe


def steps_document(document: Any, name: str, where: str) -> dict[str, Any]:
    """A saved `aws sagemaker list-inference-recommendations-job-steps` output for job ``name``."""
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        raise UserError(f"{where} must hold a ListInferenceRecommendationsJobSteps response "
                        "(an object with a Steps list)")
    steps = {"Steps": parse_timestamps(document["Steps"])}
    _check_shape(steps, "ListInferenceRecommendationsJobSteps", where)
    others = sorted({str(step.get("JobName")) for step in steps["Steps"]} - {name})
    if others:
        raise UserError(f"{where} holds steps of job {others[0]}, not {name}")
    return steps


def _check_shape(document: Mapping[str, Any], operation_name: str, where: str) -> None:
    """``document`` of the types the operation's response shape gives (botocore's validator)."""
    shape = operation(operation_name).output_shape
    assert shape is not None, f"{operation_name} answers with a shape"
    report = ParamValidator().validate(document, shape)
    if report.has_errors():
        errors = "; ".join(line.strip() for line in report.generate_report().splitlines() if line.strip())
        raise UserError(f"{where} is not a {operation_name} response: {errors}")


def _check_finite(document: Any, where: str, path: str = "") -> None:
    """Every number of ``document`` finite: a NaN or an infinity (which Python's JSON reader
    accepts, and botocore's validator lets through as a float) is no measurement."""
    if isinstance(document, Mapping):
        for key, value in document.items():
            _check_finite(value, where, f"{path}.{key}" if path else str(key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            _check_finite(value, where, f"{path}[{index}]")
    elif isinstance(document, float) and not math.isfinite(document):
        raise UserError(f"{where}: {path} is {document}, not a finite number")


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[3]:
        raise UserError(f"JobArn {arn!r} is not an ARN with a region")
    return parts[3]


def check_importable(store: JobStore, name: str, status: str | None = None) -> None:
    if store.get(name) is not None:
        raise UserError(f"a job named {name} is already in the store {store.home}; nothing imported")
    if status is not None and status not in TERMINAL_STATUSES:
        raise UserError(f"job {name} is {status}: only a finished job (COMPLETED, FAILED or STOPPED) can be "
                       f"imported; wait for it with `irsim real-aws wait {name}`")


def import_job(store: JobStore, describe: Mapping[str, Any], steps: Mapping[str, Any], source: str) -> JobRecord:
    """Store a finished real job so the offline client answers for it. It is not simulated:
    its profile is empty, its seed 0, and its extensions say where it came from."""
    name = describe["JobName"]
    check_importable(store, name, describe["Status"])
    request = {key: describe[key] for key in IMPORTED_REQUEST_KEYS if key in describe}
    # model, seed and benchmarks keep `irsim describe` (present.tables.describe_table) able to show it.
    extensions = {"source": source, "imported": True, "model": f"n/a (imported from {source}, not simulated)",
                  "seed": "n/a", "benchmarks": []}
    try:
        # One transaction, already in its final state: never seen half-imported.
        job = NewJob(name=name, arn=describe["JobArn"], job_type=describe["JobType"], request=request, profile={},
                     seed=0, region=_region_of(describe["JobArn"]), created=describe["CreationTime"])
        store.insert(job, status=describe["Status"], describe=dict(describe), steps=dict(steps),
                     completed=describe.get("CompletionTime"), failure_reason=describe.get("FailureReason"),
                     extensions=extensions, last_modified=describe["LastModifiedTime"])
    except JobExists:
        raise UserError(f"a job named {name} is already in the store {store.home}; nothing imported") from None
    record = store.get(name)
    assert record is not None  # inserted just above
    return record
