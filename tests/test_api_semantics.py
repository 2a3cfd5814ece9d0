"""The offline client behaves as boto3 and the service do: modeled exception classes with full
ResponseMetadata, list-call inputs validated as the service validates them, names checked
against the model's patterns, steps shaped as the model says before a job ends, timestamps never
in the future, and the CloudWatch Logs the SDK reads answered offline."""

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber

import irsim
from irsim.durable.processes import process_start_time
from irsim.durable.sdk import OfflineBotoSession
from irsim.durable.store import JobStore, NewJob
from irsim.errors import UserError
from irsim.service.awsmodel import client_error

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str, job_name: str) -> dict:
    request = json.loads((EXAMPLES / name).read_text())
    request["JobName"] = job_name
    return request


def stored(home, request: dict, status: str = "PENDING", **fields) -> None:
    """A job as the client stores it, without starting a worker."""
    job = NewJob(name=request["JobName"], arn=f"arn:aws:sagemaker:us-east-1:111122223333:"
                 f"inference-recommendations-job/{request['JobName']}", job_type=request["JobType"], request=request,
                 profile=irsim.client(home=home).profile.to_dict(), seed=5, region="us-east-1",
                 created=datetime.now(UTC))
    JobStore(home).insert(job, status=status, **fields)


def validates(method: str, response: dict, params: dict) -> None:
    real = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(real) as stub:
        stub.add_response(method, {k: v for k, v in response.items() if k != "ResponseMetadata"}, params)
        getattr(real, method)(**params)


def code_of(call, **params) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    return info.value.response["Error"]["Code"]


# --- exceptions ---------------------------------------------------------------------------

@pytest.mark.slow(reason="boto3 clients and sessions built (0.3 s measured)")
def test_client_exceptions_are_the_modeled_classes_boto3_builds(home):
    client = irsim.client(home=home)
    real = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    modeled = {"ResourceNotFound", "ResourceInUse", "ResourceLimitExceeded", "ConflictException",
               "ResourceAlreadyExists"}
    names = {name for name in dir(client.exceptions) if not name.startswith("_")}
    assert names == {name for name in dir(real.exceptions) if not name.startswith("_")} >= modeled
    try:
        client.describe_inference_recommendations_job(JobName="missing")
    except client.exceptions.ResourceNotFound as error:
        assert isinstance(error, ClientError)
        response = error.response
        assert response["Error"] == {"Code": "ResourceNotFound",
                                     "Message": "Inference recommendations job missing does not exist."}
        assert response["Message"] == response["Error"]["Message"]  # a modeled member, as botocore parses it
        metadata = response["ResponseMetadata"]
        assert metadata["HTTPStatusCode"] == 400 and metadata["RetryAttempts"] == 0
        assert metadata["HTTPHeaders"]["x-amzn-requestid"] == metadata["RequestId"]
        assert {"content-type", "content-length", "date"} <= set(metadata["HTTPHeaders"])
    else:
        pytest.fail("no ResourceNotFound")
    in_use = client_error("ResourceInUse", "taken", "CreateInferenceRecommendationsJob")
    assert type(in_use) is client.exceptions.ResourceInUse
    assert type(client_error("ValidationException", "no", "X")) is ClientError  # not modeled: ClientError itself
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.stop_inference_recommendations_job(JobName="missing")


# --- list calls and names ------------------------------------------------------------------

def test_list_inputs_are_validated_as_the_service_does(home):
    client = irsim.client(home=home)
    listing = client.list_inference_recommendations_jobs
    assert code_of(listing, SortBy="Foo") == "ValidationException"
    assert code_of(listing, StatusEquals="DONE") == "ValidationException"
    assert code_of(listing, SortOrder="Up") == "ValidationException"
    assert code_of(listing, MaxResults=500) == "ValidationException"
    assert listing(MaxResults=100)["InferenceRecommendationsJobs"] == []
    with pytest.raises(ParamValidationError):
        listing(MaxResults=0)  # the model's minimum: botocore refuses it before sending
    assert code_of(listing, NameContains="bad_name") == "ValidationException"
    steps = client.list_inference_recommendations_job_steps
    assert code_of(steps, JobName="bad_name") == "ValidationException"
    assert code_of(steps, JobName="missing", Status="DONE") == "ValidationException"


def test_both_timestamp_forms_boto3_accepts_filter_the_list(home):
    stored(home, example("seed-advanced-job.json", "old-job"), status="COMPLETED")
    client = irsim.client(home=home)
    later = datetime.now(UTC) + timedelta(seconds=1)
    for before in (later, later.timestamp(), int(later.timestamp()) + 1, later.isoformat()):
        listed = client.list_inference_recommendations_jobs(LastModifiedTimeBefore=before)
        assert [j["JobName"] for j in listed["InferenceRecommendationsJobs"]] == ["old-job"]
        validates("list_inference_recommendations_jobs", listed, {"LastModifiedTimeBefore": before})
    assert client.list_inference_recommendations_jobs(CreationTimeAfter=later.timestamp())[
        "InferenceRecommendationsJobs"] == []


def test_names_failing_the_models_pattern_are_validation_exceptions(home):
    client = irsim.client(home=home)
    for call in (client.describe_inference_recommendations_job, client.stop_inference_recommendations_job):
        assert code_of(call, JobName="no_underscores") == "ValidationException"
        assert code_of(call, JobName="well-formed-but-missing") == "ResourceNotFound"
    request = example("seed-advanced-job.json", "bad_name")
    assert code_of(client.create_inference_recommendations_job, **request) == "ValidationException"


# --- steps before a job ends ---------------------------------------------------------------

def mixed_request(name: str) -> dict:
    request = example("serverless-job.json", name)
    request["InputConfig"]["ResourceLimit"] = {"MaxNumberOfTests": 3, "MaxParallelOfTests": 1}
    return request


def test_steps_of_a_pending_job_are_pending_and_shaped_as_the_model_says(home):
    stored(home, mixed_request("waiting"))
    client = irsim.client(home=home)
    steps = client.list_inference_recommendations_job_steps(JobName="waiting")
    validates("list_inference_recommendations_job_steps", steps, {"JobName": "waiting"})
    assert [s["Status"] for s in steps["Steps"]] == ["PENDING"] * 3
    configurations = [s["InferenceBenchmark"]["EndpointConfiguration"] for s in steps["Steps"]]
    assert configurations[0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 10}
    assert "InstanceType" not in configurations[0] and "InitialInstanceCount" not in configurations[0]
    assert configurations[1]["ServerlessConfig"]["ProvisionedConcurrency"] == 2
    assert configurations[2]["InstanceType"] == "ml.c5.large"
    assert all(c["EndpointName"].startswith("sm-epc-") and c["VariantName"].startswith("sm-epv-")
               for c in configurations)  # the names the finished steps will carry


def test_steps_of_a_running_job_finished_running_and_pending(home):
    pid = os.getpid()
    stored(home, mixed_request("running"), status="IN_PROGRESS", worker_pid=pid,
           worker_started=process_start_time(pid), progress={"0": "COMPLETED"})
    steps = irsim.client(home=home).list_inference_recommendations_job_steps(JobName="running")["Steps"]
    assert [s["Status"] for s in steps] == ["COMPLETED", "IN_PROGRESS", "PENDING"]
    validates("list_inference_recommendations_job_steps", {"Steps": steps}, {"JobName": "running"})


# --- timestamps ----------------------------------------------------------------------------

@pytest.mark.slow
def test_no_timestamp_lies_in_the_future_and_finished_jobs_are_modified_before_now(home):
    client = irsim.client(home=home)
    for name in ("first-job", "second-job"):
        client.create_inference_recommendations_job(**example("seed-advanced-job.json", name))
        client.wait_for_job(name, timeout_s=120)
    now = datetime.now(UTC)
    listed = client.list_inference_recommendations_jobs(LastModifiedTimeBefore=now)["InferenceRecommendationsJobs"]
    assert sorted(j["JobName"] for j in listed) == ["first-job", "second-job"]
    for name in ("first-job", "second-job"):
        describe = client.describe_inference_recommendations_job(JobName=name)
        steps = client.list_inference_recommendations_job_steps(JobName=name)["Steps"]
        stamps = [describe[key] for key in ("CreationTime", "LastModifiedTime", "CompletionTime")]
        stamps += [s["InferenceBenchmark"][key] for s in steps for key in ("InvocationStartTime", "InvocationEndTime")]
        assert max(stamps) <= now
        assert max(s["InferenceBenchmark"]["InvocationEndTime"] for s in steps) == describe["CompletionTime"]


# --- the other clients of the SDK's boto session --------------------------------------------

@pytest.mark.slow(reason="boto3 clients and sessions built (0.3 s measured)")
def test_the_offline_boto_session_answers_log_reads_and_sends_nothing(home):
    request = example("seed-advanced-job.json", "logged")
    stored(home, request, status="FAILED", failure_reason="for the test", completed=datetime.now(UTC))
    session = OfflineBotoSession(irsim.client(home=home))
    assert session.client("sagemaker") is session.sagemaker_client
    logs = session.client("logs")
    params = {"logGroupName": "/aws/sagemaker/InferenceRecommendationsJobs", "logStreamName": "logged/execution"}
    first = logs.get_log_events(**params)
    messages = [event["message"] for event in first["events"]]
    assert messages == ["Inference recommendations job logged (Advanced) created.",
                        "Inference recommendations job logged FAILED: for the test"]
    assert all(event["timestamp"] <= time.time() * 1000 for event in first["events"])
    rest = logs.get_log_events(nextToken=first["nextForwardToken"], **params)
    assert rest["events"] == [] and rest["nextForwardToken"] == first["nextForwardToken"]
    real = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(real) as stub:
        stub.add_response("get_log_events", {k: v for k, v in first.items() if k != "ResponseMetadata"}, params)
        real.get_log_events(**params)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=params["logGroupName"], logStreamName="missing/execution")
    with pytest.raises(ParamValidationError):
        logs.get_log_events(logGroupName=params["logGroupName"])
    with pytest.raises(ClientError) as info:
        session.client("s3").list_buckets()
    assert info.value.response["Error"]["Code"] == "OfflineOperationNotSupported"


def test_sagemaker_session_without_the_sdk_says_how_to_install_it(home, monkeypatch):
    monkeypatch.setitem(sys.modules, "sagemaker", None)  # `import sagemaker` now raises ImportError
    with pytest.raises(UserError, match=r"irsim\[sdk\]"):
        irsim.sagemaker_session(home=home)
