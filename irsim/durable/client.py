"""A boto3-compatible SageMaker client for Inference Recommender, answered offline.

``irsim.client()`` has boto3's method names, parameters, errors and response shapes for
the Inference Recommender calls. Jobs are durable: ``create`` stores the job and starts a
detached worker process, so a job outlives the process that created it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import botocore.session
from botocore.paginate import Paginator
from botocore.utils import parse_to_aware_datetime

from irsim.durable.endpoints import RESOURCE_METHODS, EndpointOperations
from irsim.durable.listing import JobQuery, active_jobs, list_page
from irsim.durable.paging import offset_of, page, token_for
from irsim.durable.processes import process_alive
from irsim.durable.scaling import SCALING_METHODS, ScalingOperations
from irsim.durable.specs import spec_document, stored_spec
from irsim.durable.store import ACTIVE_STATUSES, JobExists, JobRecord, JobStore, NewJob, StoreError, now_utc
from irsim.durable.tags import TAG_METHODS
from irsim.service.admission import admit_job
from irsim.service.awsmodel import (
    client_error,
    client_errors,
    client_exceptions,
    operation,
    service_model,
    validation_error,
)
from irsim.service.awsmodel import with_metadata as _with_metadata
from irsim.service.constraints import validate_request
from irsim.service.request import parse_request, serverless_sizes
from irsim.service.responses import job_arn, running_steps
from simulator import Profile, checks, load_profile

#: A PENDING job whose worker never recorded itself after this long is failed.
WORKER_START_GRACE_S = 60.0
#: The seed of a job created without one: the default of ``irsim run`` and ``execute_job`` too.
DEFAULT_SEED = 0


def client(home: str | Path | None = None, profile: Profile | Mapping[str, Any] | str | Path | None = None,
           seed: int | None = None, region: str = "us-east-1", create_wait_s: float = 0.0) -> OfflineSageMakerClient:
    """An offline ``sagemaker`` client. Jobs live under ``home`` (IRSIM_HOME, else ~/.irsim),
    are simulated on ``profile`` (the demo profile by default) with ``seed`` (default 0, as
    ``irsim run`` and ``execute_job``: the same request and seed give the same numbers by either
    path) and priced in ``region``.

    ``create_wait_s`` > 0 makes ``create`` wait up to that long for the job to finish (it
    still runs in its own process): callers that poll slowly, such as the SageMaker SDK's
    ``right_size`` (every 120 s), then find it done at their first look."""
    if seed is not None:
        checks.seed(seed, "seed")
    loaded = load_profile(profile if profile is not None else "demo")
    return OfflineSageMakerClient(store=JobStore(home), profile=loaded, seed=seed, region=region,
                                  create_wait_s=create_wait_s)


class OfflineSageMakerClient(ScalingOperations, EndpointOperations):
    """The Inference Recommender subset of boto3's ``sagemaker`` client, simulated, with the
    models, packages and endpoints around it (irsim/durable/resources.py, endpoints.py) and
    boto3's ``exceptions`` (the modeled error classes every call raises)."""

    def __init__(self, store: JobStore, profile: Profile, seed: int | None, region: str,
                 create_wait_s: float = 0.0) -> None:
        self.store, self.profile, self.seed, self.region = store, profile, seed, region
        self.create_wait_s = create_wait_s
        self.meta = SimpleNamespace(region_name=region, service_model=service_model(),
                                    method_to_api_mapping=_METHODS)
        self._workers: dict[str, subprocess.Popen] = {}
        self.exceptions = client_exceptions()

    # --- jobs ---------------------------------------------------------------------------

    def create_inference_recommendations_job(self, **kwargs: Any) -> dict[str, Any]:
        """Validated, its model's profile found, admitted and stored; a detached worker runs it.
        Every refusal is a botocore ClientError (``client_errors``)."""
        with client_errors("CreateInferenceRecommendationsJob"):
            return self.record_create_tags(kwargs, self._create_job(kwargs))

    def _create_job(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        job = parse_request(kwargs, self.profile.instances, self.deployed_endpoints(), serverless_sizes(self.profile))
        profile = self.job_profile(job)  # the profile of the model the job names (refused without one)
        if profile is not self.profile:
            job = parse_request(kwargs, profile.instances, self.deployed_endpoints(), serverless_sizes(profile))
        admit_job(job, profile, self.region)  # a region without prices, a profile over the budget: refused now
        arn = job_arn(job, self.region)
        seed = self.seed if self.seed is not None else DEFAULT_SEED
        try:
            self.store.insert(NewJob(name=job.job_name, arn=arn, job_type=job.job_type, request=kwargs,
                                     profile=profile.to_dict(), seed=seed, region=self.region, created=now_utc()),
                              spec=spec_document(job))  # parsed here, once: the worker reads it back
        except JobExists:
            raise client_error("ResourceInUse", f"Inference recommendations job {job.job_name} already exists.",
                               "CreateInferenceRecommendationsJob") from None
        self._start_worker(job.job_name)
        if self.create_wait_s > 0:
            with contextlib.suppress(TimeoutError):
                self.wait_for_job(job.job_name, poll_s=0.05, timeout_s=self.create_wait_s)
        return _with_metadata({"JobArn": arn})

    def describe_inference_recommendations_job(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DescribeInferenceRecommendationsJob", kwargs)
        record = self._job(kwargs["JobName"], "DescribeInferenceRecommendationsJob")
        if record.describe is not None:
            response = dict(record.describe)
        else:
            response = {"JobName": record.name, "JobType": record.job_type, "JobArn": record.arn,
                        "RoleArn": record.request.get("RoleArn", ""), "Status": record.status,
                        "CreationTime": record.created, "LastModifiedTime": record.last_modified,
                        "InputConfig": record.request.get("InputConfig") or {}}
            for key in ("JobDescription", "StoppingConditions"):
                if key in record.request:
                    response[key] = record.request[key]
            if record.failure_reason:
                response["FailureReason"] = record.failure_reason
            if record.completed:
                response["CompletionTime"] = record.completed
        return _with_metadata(response)

    def stop_inference_recommendations_job(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("StopInferenceRecommendationsJob", kwargs)
        name = kwargs["JobName"]
        record = self._job(name, "StopInferenceRecommendationsJob")
        if record.damage:  # it reads as FAILED: as a FAILED job, it cannot be stopped
            raise validation_error(f"Inference recommendations job {name} is FAILED and cannot be stopped.",
                                   "StopInferenceRecommendationsJob")
        stopping = self.store.update(name, status="STOPPING", stop_requested=1,
                                     only_if_status=("PENDING", "IN_PROGRESS"))
        if not stopping and self._stored(name).status != "STOPPING":
            raise validation_error(f"Inference recommendations job {name} is {record.status} and cannot be "
                                       "stopped.", "StopInferenceRecommendationsJob")
        return _with_metadata({})

    def list_inference_recommendations_jobs(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("ListInferenceRecommendationsJobs", kwargs)
        for record in active_jobs(self.store):  # a job whose worker died lists as FAILED, and is filtered so
            self._reap(record)
        start = offset_of(kwargs.get("NextToken"), kwargs, self.paging_key, "ListInferenceRecommendationsJobs",
                          sys.maxsize)
        query = _job_query(kwargs, start)
        records, more = list_page(self.store, query)
        page = [r for r in map(self._reap, records) if query.status is None or r.status == query.status]
        response: dict[str, Any] = {"InferenceRecommendationsJobs": [_summary(r) for r in page]}
        if more:
            response["NextToken"] = token_for(query.offset + query.limit, kwargs, self.paging_key)
        return _with_metadata(response)

    def list_inference_recommendations_job_steps(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("ListInferenceRecommendationsJobSteps", kwargs)
        record = self._job(kwargs["JobName"], "ListInferenceRecommendationsJobSteps")
        if record.steps:
            steps = list(record.steps.get("Steps", []))
        else:
            steps = [] if record.damage else self._pending_steps(record)
        if "Status" in kwargs:
            steps = [s for s in steps if s["Status"] == kwargs["Status"]]
        if "StepType" in kwargs:
            steps = [s for s in steps if s["StepType"] == kwargs["StepType"]]
        page, token = self._page(steps, kwargs, "ListInferenceRecommendationsJobSteps")
        response: dict[str, Any] = {"Steps": page}
        if token:
            response["NextToken"] = token
        return _with_metadata(response)

    def describe_extensions(self, JobName: str) -> dict[str, Any] | None:  # boto3's parameter name
        """irsim's facts beyond the AWS shape (calibration, price provenance), once finished."""
        return self._job(JobName, "DescribeInferenceRecommendationsJob").extensions

    # --- boto3's client plumbing ------------------------------------------------------------

    def can_paginate(self, operation_name: str) -> bool:
        return operation_name in _PAGINATED

    def get_paginator(self, operation_name: str) -> Paginator:
        """botocore's own Paginator over this client's list calls."""
        if operation_name not in _PAGINATED:
            raise ValueError(f"Operation cannot be paginated: {operation_name}")
        api_name = _METHODS[operation_name]
        config = botocore.session.get_session().get_paginator_model("sagemaker").get_paginator(api_name)
        return Paginator(getattr(self, operation_name), config, operation(api_name))

    def wait_for_job(self, name: str, poll_s: float = 0.2, timeout_s: float | None = None) -> dict[str, Any]:
        """Describe ``name`` until it leaves PENDING/IN_PROGRESS/STOPPING (irsim extension)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            response = self.describe_inference_recommendations_job(JobName=name)
            if response["Status"] not in ACTIVE_STATUSES:
                return response
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {name} still {response['Status']} after {timeout_s} s")
            time.sleep(poll_s)

    # --- internals ------------------------------------------------------------------------------

    def _page(self, items: list, kwargs: Mapping[str, Any], operation_name: str) -> tuple[list, str | None]:
        """One page of ``items``; NextToken is opaque, signed and bound to the request's filters."""
        return page(items, kwargs, self.paging_key, operation_name, DEFAULT_PAGE)

    def _start_worker(self, name: str) -> None:
        try:
            with open(self.store.home / f"{name}.worker.log", "ab") as log:  # the child keeps its own descriptor
                process = subprocess.Popen([sys.executable, "-m", "irsim.durable.worker", str(self.store.home),
                                            name], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                           start_new_session=True, close_fds=True)
        except OSError as exc:  # the job is not left PENDING for a worker that never comes
            reason = f"The job's worker process could not start: {exc.strerror or exc}"
            self.store.update(name, status="FAILED", failure_reason=reason, completed=now_utc(),
                              only_if_status=("PENDING",))
            raise StoreError(f"job store {self.store.home}: {reason}") from None
        self._workers[name] = process
        self.store.update(name, worker_pid=process.pid, only_if_status=("PENDING",), last_modified=now_utc())

    def _stored(self, name: str) -> JobRecord:
        """A job known to be in the store (jobs are never deleted)."""
        record = self.store.get(name)
        assert record is not None, f"job {name} left the store"
        return record

    def _job(self, name: str, operation_name: str) -> JobRecord:
        record = self.store.get(name)
        if record is None:
            raise client_error("ResourceNotFound", f"Inference recommendations job {name} does not exist.",
                               operation_name)
        return self._reap(record)

    def _reap(self, record: JobRecord) -> JobRecord:
        """A job whose worker died is FAILED, with a reason, the next time anyone looks."""
        if record.status not in ACTIVE_STATUSES:
            return record
        process = self._workers.get(record.name)
        if process is not None:
            process.poll()  # collect our own zombie children
        if record.worker_pid is None:
            if now_utc() - record.created < timedelta(seconds=WORKER_START_GRACE_S):
                return record
            reason = "The job's worker process never started."
        elif process_alive(record.worker_pid, record.worker_started):
            return record
        else:
            reason = f"The job's worker process (pid {record.worker_pid}) ended before the job finished."
        if self.store.read_only:  # told, not recorded
            return dataclasses.replace(record, status="FAILED", failure_reason=reason, completed=now_utc())
        # Only a job still active fails; either way the store has its current state.
        self.store.update(record.name, status="FAILED", failure_reason=reason, completed=now_utc(),
                          only_if_status=ACTIVE_STATUSES)
        return self._stored(record.name)

    def _pending_steps(self, record: JobRecord) -> list[dict[str, Any]]:
        """Before a job ends: its steps as responses.running_steps shapes them."""
        job = stored_spec(record, self.deployed_endpoints)
        steps = running_steps(job, record.seed, record.status, record.progress or {})
        for step in steps:  # the unfinished steps of a job that failed (its worker died) say why
            if step["Status"] == "FAILED" and record.failure_reason:
                step["InferenceBenchmark"].setdefault("FailureReason", record.failure_reason)
        return steps


_METHODS = {
    "create_inference_recommendations_job": "CreateInferenceRecommendationsJob",
    "describe_inference_recommendations_job": "DescribeInferenceRecommendationsJob",
    "stop_inference_recommendations_job": "StopInferenceRecommendationsJob",
    "list_inference_recommendations_jobs": "ListInferenceRecommendationsJobs",
    "list_inference_recommendations_job_steps": "ListInferenceRecommendationsJobSteps",
    **RESOURCE_METHODS,
    **SCALING_METHODS,
    **TAG_METHODS,
}
_PAGINATED = ("list_inference_recommendations_jobs", "list_inference_recommendations_job_steps")
DEFAULT_PAGE = 100


#: ListInferenceRecommendationsJobs' filters, by the JobQuery field each sets.
_LIST_FILTERS = {"CreationTimeAfter": "created_after", "CreationTimeBefore": "created_before",
                 "LastModifiedTimeAfter": "modified_after", "LastModifiedTimeBefore": "modified_before",
                 "NameContains": "name_contains", "StatusEquals": "status", "ModelNameEquals": "model_name",
                 "ModelPackageVersionArnEquals": "model_package_version_arn"}


def _job_query(kwargs: Mapping[str, Any], offset: int) -> JobQuery:
    """The request's filters, order and page as one JobQuery."""
    filters = {field: parse_to_aware_datetime(kwargs[key]) if key.endswith(("After", "Before")) else kwargs[key]
               for key, field in _LIST_FILTERS.items() if key in kwargs}
    return JobQuery(**filters, sort_by=kwargs.get("SortBy", "CreationTime"),
                    descending=kwargs.get("SortOrder", "Descending") == "Descending", offset=offset,
                    limit=kwargs.get("MaxResults", DEFAULT_PAGE))


def _summary(record: JobRecord) -> dict[str, Any]:
    config = record.request.get("InputConfig") or {}  # a damaged row's request may be unreadable
    summary: dict[str, Any] = {
        "JobName": record.name, "JobDescription": record.request.get("JobDescription", ""),
        "JobType": record.job_type, "JobArn": record.arn, "Status": record.status,
        "CreationTime": record.created, "RoleArn": record.request.get("RoleArn", ""),
        "LastModifiedTime": record.describe["LastModifiedTime"] if record.describe else record.last_modified,
    }
    if record.describe and "CompletionTime" in record.describe:
        summary["CompletionTime"] = record.describe["CompletionTime"]
    elif record.completed:
        summary["CompletionTime"] = record.completed
    if record.failure_reason:
        summary["FailureReason"] = record.failure_reason
    for key in ("ModelName", "ModelPackageVersionArn"):
        if key in config:
            summary[key] = config[key]
    return summary
