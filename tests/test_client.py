"""The offline boto3-compatible client and its durable jobs, across real processes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber

import irsim
from irsim.cli.app import main
from irsim.durable.store import JobStore

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def seed_request(name: str = "seed-job") -> dict:
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["JobName"] = name
    return request


def long_request(name: str) -> dict:
    """Ten benchmarks of a fraction of a second each (STAIRS over 20 minutes, nothing stops them
    early), one at a time: JobDurationInSeconds schedules all ten (10 x (300 s + 1200 s))."""
    request = seed_request(name)
    request["InputConfig"]["TrafficPattern"] = {
        "TrafficType": "STAIRS", "Stairs": {"DurationInSeconds": 1200, "NumberOfSteps": 10, "UsersPerStep": 3}}
    request["InputConfig"]["JobDurationInSeconds"] = 15000
    request["InputConfig"]["ResourceLimit"] = {"MaxNumberOfTests": 10, "MaxParallelOfTests": 1}
    request["InputConfig"]["EndpointConfigurations"] = [
        {"InstanceType": "ml.c5.2xlarge",
         "EnvironmentParameterRanges": {"CategoricalParameterRanges": [
             {"Name": "A", "Value": ["1", "2"]}, {"Name": "B", "Value": ["1", "2", "3"]},
             {"Name": "C", "Value": ["1", "2"]}]}}]
    request["StoppingConditions"] = {"ModelLatencyThresholds": [{"Percentile": "P99", "ValueInMilliseconds": 5000}],
                                     "FlatInvocations": "Continue"}
    return request


def wait_until(predicate, timeout_s: float = 60.0, poll_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError("condition not reached in time")


def validates(method: str, response: dict, params: dict) -> None:
    """botocore's Stubber checks the response against the real output shape."""
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(method, response, params)
        getattr(client, method)(**params)


@pytest.mark.slow
def test_job_created_in_one_process_completes_and_is_read_from_another(home):
    job = home / "job.json"
    job.write_text(json.dumps(seed_request()))
    created = subprocess.run([sys.executable, "-m", "irsim.cli", "create", str(job), "--home", str(home)],
                             capture_output=True, text=True, check=True)
    arn = json.loads(created.stdout)["JobArn"]
    assert arn.endswith(":inference-recommendations-job/seed-job")
    client = irsim.client(home=home)
    final = wait_until(lambda: (r := client.describe_inference_recommendations_job(JobName="seed-job"))["Status"]
                       not in ("PENDING", "IN_PROGRESS") and r)
    assert final["Status"] == "COMPLETED" and len(final["InferenceRecommendations"]) == 3
    validates("describe_inference_recommendations_job", final, {"JobName": "seed-job"})
    steps = client.list_inference_recommendations_job_steps(JobName="seed-job")
    validates("list_inference_recommendations_job_steps", steps, {"JobName": "seed-job"})
    assert [s["Status"] for s in steps["Steps"]] == ["COMPLETED"] * 3
    # The same request run synchronously with the stored seed and times gives the same recommendations.
    record = JobStore(home).get("seed-job")
    offline = irsim.execute_job(seed_request(), "demo", seed=record.seed, created=record.created,
                                completed=final["CompletionTime"])
    assert offline.describe["InferenceRecommendations"] == final["InferenceRecommendations"]


@pytest.mark.slow
def test_create_returns_at_once_and_duplicate_names_are_refused(home):
    client = irsim.client(home=home)
    response = client.create_inference_recommendations_job(**seed_request("dup"))
    validates("create_inference_recommendations_job", response, seed_request("dup"))
    assert client.describe_inference_recommendations_job(JobName="dup")["Status"] in ("PENDING", "IN_PROGRESS",
                                                                                       "COMPLETED")
    with pytest.raises(ClientError) as info:
        client.create_inference_recommendations_job(**seed_request("dup"))
    assert info.value.response["Error"]["Code"] == "ResourceInUse"
    client.wait_for_job("dup", timeout_s=60)


@pytest.mark.slow
def test_stop_mid_run_keeps_the_finished_steps(home):
    client = irsim.client(home=home)
    client.create_inference_recommendations_job(**long_request("long"))
    # Wait for the first benchmark to finish, then stop the job.
    wait_until(lambda: "COMPLETED" in [s["Status"] for s in
                                       client.list_inference_recommendations_job_steps(JobName="long")["Steps"]])
    client.stop_inference_recommendations_job(JobName="long")
    assert client.describe_inference_recommendations_job(JobName="long")["Status"] in ("STOPPING", "STOPPED")
    final = client.wait_for_job("long", timeout_s=60)
    assert final["Status"] == "STOPPED"
    validates("describe_inference_recommendations_job", final, {"JobName": "long"})
    statuses = [s["Status"] for s in client.list_inference_recommendations_job_steps(JobName="long")["Steps"]]
    assert len(statuses) == 10 and statuses.count("COMPLETED") >= 1 and "STOPPED" in statuses
    assert len(final["InferenceRecommendations"]) == statuses.count("COMPLETED")
    with pytest.raises(ClientError) as info:  # a finished job cannot be stopped
        client.stop_inference_recommendations_job(JobName="long")
    assert info.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.slow
def test_a_killed_worker_leaves_the_job_failed_and_the_store_readable(home):
    client = irsim.client(home=home)
    client.create_inference_recommendations_job(**long_request("killed"))
    record = wait_until(lambda: (r := JobStore(home).get("killed")).status == "IN_PROGRESS" and r.worker_started
                        and r)
    os.kill(record.worker_pid, signal.SIGKILL)
    final = wait_until(lambda: (r := client.describe_inference_recommendations_job(JobName="killed"))["Status"]
                       != "IN_PROGRESS" and r)
    assert final["Status"] == "FAILED" and f"pid {record.worker_pid}" in final["FailureReason"]
    validates("describe_inference_recommendations_job", final, {"JobName": "killed"})
    listed = client.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"]
    assert [(j["JobName"], j["Status"]) for j in listed] == [("killed", "FAILED")]


@pytest.mark.slow
def test_list_filters_sorting_and_pagination(home):
    client = irsim.client(home=home)
    for name in ("alpha-1", "beta-2", "alpha-3"):
        client.create_inference_recommendations_job(**seed_request(name))
        client.wait_for_job(name, timeout_s=60)
    response = client.list_inference_recommendations_jobs(SortBy="Name", SortOrder="Ascending", MaxResults=2)
    validates("list_inference_recommendations_jobs", response, {"SortBy": "Name", "SortOrder": "Ascending",
                                                                 "MaxResults": 2})
    assert [j["JobName"] for j in response["InferenceRecommendationsJobs"]] == ["alpha-1", "alpha-3"]
    rest = client.list_inference_recommendations_jobs(SortBy="Name", SortOrder="Ascending", MaxResults=2,
                                                      NextToken=response["NextToken"])
    assert [j["JobName"] for j in rest["InferenceRecommendationsJobs"]] == ["beta-2"] and "NextToken" not in rest
    newest_first = client.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"]
    assert [j["JobName"] for j in newest_first] == ["alpha-3", "beta-2", "alpha-1"]
    assert [j["JobName"] for j in client.list_inference_recommendations_jobs(NameContains="alpha")
            ["InferenceRecommendationsJobs"]] == ["alpha-3", "alpha-1"]
    assert client.list_inference_recommendations_jobs(StatusEquals="FAILED")["InferenceRecommendationsJobs"] == []
    pages = list(client.get_paginator("list_inference_recommendations_jobs").paginate(
        PaginationConfig={"PageSize": 1}))
    assert [len(p["InferenceRecommendationsJobs"]) for p in pages] == [1, 1, 1]
    steps = client.get_paginator("list_inference_recommendations_job_steps").paginate(
        JobName="beta-2", PaginationConfig={"PageSize": 2}).build_full_result()
    assert len(steps["Steps"]) == 3
    with pytest.raises(ClientError) as info:
        client.list_inference_recommendations_jobs(NextToken="not-a-token")
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_unknown_jobs_and_bad_parameters_raise_as_boto3_does(home):
    client = irsim.client(home=home)
    for call in (client.describe_inference_recommendations_job, client.stop_inference_recommendations_job,
                 client.list_inference_recommendations_job_steps):
        with pytest.raises(ClientError) as info:
            call(JobName="missing")
        assert info.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ParamValidationError):
        client.describe_inference_recommendations_job()
    with pytest.raises(ParamValidationError):
        client.list_inference_recommendations_jobs(MaxResults="ten")
    bad = seed_request("bad")
    bad["InputConfig"]["TrafficPattern"]["Phases"][0]["SpawnRate"] = 7
    with pytest.raises(ClientError) as info:
        client.create_inference_recommendations_job(**bad)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert JobStore(home).all() == []  # nothing stored for a refused request


# --- the CLI ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_short_commands(home, capsys):
    job = home / "job.json"
    job.write_text(json.dumps(seed_request("short")))
    assert main(["create", str(job), "--home", str(home)]) == 0
    assert "JobArn" in capsys.readouterr().out
    assert main(["wait", "short", "--home", str(home), "--timeout", "60"]) == 0
    assert main(["describe", "short", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "COMPLETED" in out and "ml.c5.xlarge" in out and "confirmed" in out
    assert main(["steps", "short", "--home", str(home), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["Steps"]) == 3
    assert main(["list", "--home", str(home), "--json", "--status", "COMPLETED"]) == 0
    assert [j["JobName"] for j in json.loads(capsys.readouterr().out)["InferenceRecommendationsJobs"]] == ["short"]
    assert main(["describe", "nope", "--home", str(home)]) == 2
    assert "ResourceNotFound" in capsys.readouterr().err


@pytest.mark.slow
def test_aws_cli_shaped_commands_and_exit_codes(home, capsys):
    request = seed_request("aws-job")
    config, conditions = home / "input.json", home / "stop.json"
    config.write_text(json.dumps(request["InputConfig"]))
    conditions.write_text(json.dumps(request["StoppingConditions"]))
    assert main(["create-inference-recommendations-job", "--home", str(home), "--job-name", "aws-job",
                 "--job-type", "ADVANCED", "--role-arn", request["RoleArn"], "--input-config", f"file://{config}",
                 "--stopping-conditions", f"file://{conditions}"]) == 0
    assert json.loads(capsys.readouterr().out)["JobArn"].endswith("/aws-job")
    irsim.client(home=home).wait_for_job("aws-job", timeout_s=60)
    assert main(["describe-inference-recommendations-job", "--home", str(home), "--job-name", "aws-job"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["Status"] == "COMPLETED" and described["JobType"] == "Advanced"
    cli_input = home / "cli-input.json"
    cli_input.write_text(json.dumps({"JobName": "aws-job"}))
    assert main(["list-inference-recommendations-job-steps", "--home", str(home),
                 "--cli-input-json", f"file://{cli_input}", "--status", "COMPLETED"]) == 0
    assert len(json.loads(capsys.readouterr().out)["Steps"]) == 3
    assert main(["list-inference-recommendations-jobs", "--home", str(home), "--max-items", "1"]) == 0
    assert len(json.loads(capsys.readouterr().out)["InferenceRecommendationsJobs"]) == 1
    # Service errors: 254 with the AWS CLI's wording; parameter errors: 252.
    assert main(["describe-inference-recommendations-job", "--home", str(home), "--job-name", "nope"]) == 254
    assert "An error occurred (ResourceNotFound) when calling the DescribeInferenceRecommendationsJob operation" \
        in capsys.readouterr().err
    assert main(["describe-inference-recommendations-job", "--home", str(home)]) == 252
    assert 'Missing required parameter in input: "JobName"' in capsys.readouterr().err
    assert main(["create-inference-recommendations-job", "--home", str(home), "--job-name", "x",
                 "--input-config", "{not json"]) == 252
    assert "Error parsing parameter '--input-config'" in capsys.readouterr().err
    assert main(["stop-inference-recommendations-job", "--home", str(home), "--job-name", "aws-job"]) == 254


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_benchmark_processes_die_with_a_killed_worker(home):
    request = long_request("parallel")
    request["InputConfig"]["ResourceLimit"]["MaxParallelOfTests"] = 2
    client = irsim.client(home=home)
    client.create_inference_recommendations_job(**request)
    record = wait_until(lambda: (r := JobStore(home).get("parallel")).worker_started and r)
    children = wait_until(lambda: children_of(record.worker_pid))
    os.kill(record.worker_pid, signal.SIGKILL)
    wait_until(lambda: not any(Path(f"/proc/{c}").exists() and "Z" not in
                               (Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1].split()[0:1] or ["Z"])
                               for c in children), timeout_s=20)
    assert client.describe_inference_recommendations_job(JobName="parallel")["Status"] == "FAILED"
