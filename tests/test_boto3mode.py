"""boto3 mode: the shortlist request, `irsim submit`, `irsim aws ...` and `irsim import`.

Every AWS call goes through botocore's Stubber on a real boto3 client: nothing leaves the
machine, and botocore checks each request and response against the SageMaker model.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import boto3
import boto3.session
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError
from botocore.stub import Stubber

import irsim
from irsim.boto3mode import (
    ShortlistError,
    WaitTimeout,
    parse_timestamps,
    shortlist_request,
    transport,
    wait_for_real_job,
)
from irsim.cli.app import main
from irsim.cli.boto3 import DRY_RUN_NOTE
from irsim.durable.store import JobStore, NewJob
from irsim.present.formats import dumps
from irsim.service.job import execute_job

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED_JOB = EXAMPLES / "seed-advanced-job.json"
STAIRS_JOB = EXAMPLES / "stairs-job.json"
NAME = "xgboost-advanced-load-test"
ARN = f"arn:aws:sagemaker:us-east-1:111122223333:inference-recommendations-job/{NAME}"


@pytest.fixture(scope="module")
def seed_request() -> dict:
    return json.loads(SEED_JOB.read_text())


@pytest.fixture(scope="module")
def seed_result(seed_request):
    return execute_job(seed_request, "demo", seed=0)


@pytest.fixture(scope="module")
def stairs_result():
    return execute_job(json.loads(STAIRS_JOB.read_text()), "demo", seed=0)


@pytest.fixture
def stubbed():
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def use_client(monkeypatch):
    """Make `make_client` hand out ``client``; records the regions it was asked for."""
    regions: list = []

    def install(client):
        def make_client(region):
            regions.append(region)
            return client
        monkeypatch.setattr(transport, "make_client", make_client)
        return regions
    return install


@pytest.fixture
def no_boto3(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a boto3 client was created")
    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3.session, "Session", refuse)
    monkeypatch.setattr(transport, "make_client", refuse)


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def json_documents(text: str) -> list:
    decoder, documents, position = json.JSONDecoder(), [], 0
    text = text.strip()
    while position < len(text):
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
        position += len(text[position:]) - len(text[position:].lstrip())
    return documents


def costs(recommendation: dict) -> tuple[float, float]:
    return recommendation["Metrics"]["CostPerHour"], recommendation["Metrics"]["CostPerInference"]


# --- the shortlist request ---------------------------------------------------------------------

@pytest.mark.slow(reason="a whole job before the request is built (0.5 s measured)")
def test_shortlist_keeps_the_two_cheapest_and_botocore_accepts_it(seed_request, seed_result, stubbed):
    shortlist = shortlist_request(seed_request, seed_result, 2)

    ranked = sorted(seed_result.describe["InferenceRecommendations"], key=costs)
    cheapest = [r["EndpointConfiguration"]["InstanceType"] for r in ranked[:2]]
    assert cheapest == ["ml.c5.xlarge", "ml.m5.xlarge"]
    assert shortlist["InputConfig"]["EndpointConfigurations"] == [{"InstanceType": t} for t in cheapest]
    assert shortlist["InputConfig"]["ResourceLimit"] == {"MaxNumberOfTests": 2, "MaxParallelOfTests": 2}
    assert shortlist["JobName"] == NAME and shortlist["JobType"] == "Advanced"
    for key in ("RoleArn", "JobDescription", "StoppingConditions"):
        assert shortlist[key] == seed_request[key]
    for key in ("ModelPackageVersionArn", "TrafficPattern", "JobDurationInSeconds"):
        assert shortlist["InputConfig"][key] == seed_request["InputConfig"][key]

    client, stubber = stubbed
    stubber.add_response("create_inference_recommendations_job", {"JobArn": ARN}, expected_params=shortlist)
    assert client.create_inference_recommendations_job(**shortlist)["JobArn"] == ARN


@pytest.mark.slow(reason="a whole job before the request is built (1.1 s measured)")
def test_shortlist_accepts_the_describe_dict_and_a_new_name(seed_request, seed_result):
    shortlist = shortlist_request(seed_request, seed_result.describe, 1, job_name="xgb-real")
    assert shortlist["JobName"] == "xgb-real"
    assert shortlist["InputConfig"]["EndpointConfigurations"] == [{"InstanceType": "ml.c5.xlarge"}]
    assert shortlist["InputConfig"]["ResourceLimit"] == {"MaxNumberOfTests": 1, "MaxParallelOfTests": 1}
    assert seed_request["InputConfig"]["ResourceLimit"] == {"MaxNumberOfTests": 10, "MaxParallelOfTests": 3}


@pytest.mark.slow
def test_shortlist_pins_environment_parameters_and_breaks_cost_ties(stairs_result):
    request = json.loads(STAIRS_JOB.read_text())
    recommendations = stairs_result.describe["InferenceRecommendations"]
    assert len({r["Metrics"]["CostPerHour"] for r in recommendations}) == 1  # a tie, broken by CostPerInference
    shortlist = shortlist_request(request, stairs_result, 3)

    expected = []
    for recommendation in sorted(recommendations, key=costs)[:3]:
        entry = {"InstanceType": recommendation["EndpointConfiguration"]["InstanceType"]}
        parameters = recommendation["ModelConfiguration"].get("EnvironmentParameters", [])
        if parameters:
            entry["EnvironmentParameterRanges"] = {"CategoricalParameterRanges": [
                {"Name": p["Key"], "Value": [p["Value"]]} for p in parameters]}
        expected.append(entry)
    assert shortlist["InputConfig"]["EndpointConfigurations"] == expected
    assert any("EnvironmentParameterRanges" in entry for entry in expected)
    assert shortlist["InputConfig"]["ResourceLimit"] == {"MaxNumberOfTests": 3, "MaxParallelOfTests": 2}
    assert shortlist["InputConfig"]["ModelName"] == "xgboost-demo"


def test_shortlist_drops_duplicate_configurations(seed_request, seed_result):
    describe = copy.deepcopy(seed_result.describe)
    cheapest = min(describe["InferenceRecommendations"], key=costs)
    twin = copy.deepcopy(cheapest)
    twin["RecommendationId"] += "-twin"
    twin["EndpointConfiguration"]["InitialInstanceCount"] = 2
    twin["Metrics"]["CostPerHour"] += 0.001
    describe["InferenceRecommendations"].append(twin)
    shortlist = shortlist_request(seed_request, describe, 10)
    types = [entry["InstanceType"] for entry in shortlist["InputConfig"]["EndpointConfigurations"]]
    assert types == ["ml.c5.xlarge", "ml.m5.xlarge", "ml.r5.xlarge"]
    assert shortlist["InputConfig"]["ResourceLimit"] == {"MaxNumberOfTests": 3, "MaxParallelOfTests": 3}


def test_a_default_job_becomes_an_advanced_job_with_the_simulated_conditions(seed_request, seed_result):
    from irsim.service.request import DEFAULT_TRAFFIC_PATTERN
    request = {"JobName": "xgb-default", "JobType": "Default", "RoleArn": seed_request["RoleArn"],
               "InputConfig": {"ModelPackageVersionArn": seed_request["InputConfig"]["ModelPackageVersionArn"]}}
    shortlist = shortlist_request(request, seed_result, 2)
    assert shortlist["JobType"] == "Advanced"
    assert shortlist["InputConfig"]["TrafficPattern"] == DEFAULT_TRAFFIC_PATTERN
    assert shortlist["StoppingConditions"] == {"FlatInvocations": "Stop"}
    assert shortlist["InputConfig"]["ResourceLimit"] == {"MaxNumberOfTests": 2, "MaxParallelOfTests": 1}


def test_nothing_met_the_threshold(seed_request, seed_result):
    describe = {key: value for key, value in seed_result.describe.items() if key != "InferenceRecommendations"}
    describe.update(Status="FAILED", FailureReason="No benchmark succeeded.")
    with pytest.raises(ShortlistError, match="none met the latency threshold: No benchmark succeeded"):
        shortlist_request(seed_request, describe, 2)


# --- irsim submit -------------------------------------------------------------------------------

@pytest.mark.slow(reason="a whole job before the request is built (0.3 s measured)")
def test_dry_run_prints_the_request_and_creates_no_client(seed_request, seed_result, no_boto3, tmp_path, capsys):
    code, out, err = run_cli(capsys, "submit", SEED_JOB, "--top", "2", "--home", tmp_path)
    assert code == 0
    assert json.loads(out) == shortlist_request(seed_request, seed_result, 2)
    assert DRY_RUN_NOTE in err and "ml.c5.xlarge" in err


@pytest.mark.slow
def test_yes_creates_the_job_through_boto3(seed_request, seed_result, stubbed, use_client, tmp_path, capsys):
    client, stubber = stubbed
    expected = shortlist_request(seed_request, seed_result, 2, job_name="xgb-real")
    stubber.add_response("create_inference_recommendations_job", {"JobArn": ARN}, expected_params=expected)
    regions = use_client(client)
    code, out, err = run_cli(capsys, "submit", SEED_JOB, "--top", "2", "--job-name", "xgb-real", "--yes",
                             "--home", tmp_path)
    assert code == 0, err
    assert json_documents(out) == [expected, {"JobArn": ARN}]
    assert regions == [None] and DRY_RUN_NOTE not in err


@pytest.mark.slow
def test_a_service_error_exits_254_worded_as_aws(stubbed, use_client, tmp_path, capsys):
    client, stubber = stubbed
    stubber.add_client_error("create_inference_recommendations_job", service_error_code="ResourceLimitExceeded",
                             service_message="Too many jobs.", http_status_code=400)
    use_client(client)
    code, out, err = run_cli(capsys, "submit", SEED_JOB, "--top", "1", "--yes", "--region", "us-east-1",
                             "--home", tmp_path)
    assert code == 254
    assert ("An error occurred (ResourceLimitExceeded) when calling the CreateInferenceRecommendationsJob "
            "operation: Too many jobs.") in err
    assert "Traceback" not in err and json.loads(out)["JobName"] == NAME


def test_no_region_exits_2_before_simulating(monkeypatch, tmp_path, capsys):
    def make_client(region):
        raise NoRegionError()
    monkeypatch.setattr(transport, "make_client", make_client)
    code, out, err = run_cli(capsys, "submit", SEED_JOB, "--top", "1", "--yes", "--home", tmp_path)
    assert code == 2 and out == ""
    assert "You must specify a region" in err and "--region" in err and "simulating" not in err


def test_no_recommendation_exits_2(seed_request, no_boto3, tmp_path, capsys):
    request = copy.deepcopy(seed_request)
    request["StoppingConditions"]["ModelLatencyThresholds"][0]["ValueInMilliseconds"] = 1
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(request))
    code, out, err = run_cli(capsys, "submit", path, "--top", "2", "--home", tmp_path / "home")
    assert code == 2 and out == ""
    assert "has no recommended configuration" in err and "Traceback" not in err


@pytest.mark.slow
def test_bad_input_exits_2(no_boto3, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"JobName": ')
    for argv in (["submit", bad, "--top", "1"], ["submit", "--top", "1"],
                 ["submit", SEED_JOB, "--top", "1", "--job-name", "not a name"],
                 ["submit", SEED_JOB, "--top", "1", "--from-job", NAME],
                 ["submit", "--top", "1", "--from-job", "nobody"]):
        code, out, err = run_cli(capsys, *argv, "--home", tmp_path / "home")
        assert code == 2 and out == "" and "irsim submit: error:" in err and "Traceback" not in err, argv
    with pytest.raises(SystemExit) as exit_info:
        main(["submit", str(SEED_JOB), "--top", "0"])
    assert exit_info.value.code == 2


def store_finished_job(home: Path, result) -> None:
    store = JobStore(home)
    describe = result.describe
    store.insert(
        NewJob(
            name=describe["JobName"],
            arn=describe["JobArn"],
            job_type=describe["JobType"],
            request=dict(result.spec.request),
            profile={},
            seed=0,
            region="us-east-1",
            created=describe["CreationTime"],
        )
    )
    store.update(describe["JobName"], status=describe["Status"], describe=describe, steps=result.steps,
                 completed=describe["CompletionTime"])


def test_from_job_reuses_a_finished_job_of_the_store(seed_request, seed_result, no_boto3, tmp_path, capsys):
    store_finished_job(tmp_path, seed_result)
    code, out, err = run_cli(capsys, "submit", "--from-job", NAME, "--top", "1", "--home", tmp_path)
    assert code == 0, err
    assert json.loads(out) == shortlist_request(seed_request, seed_result, 1)
    assert "simulating" not in err and DRY_RUN_NOTE in err


def test_from_job_refuses_a_job_still_running(seed_request, no_boto3, tmp_path, capsys):
    JobStore(tmp_path).insert(
        NewJob(
            name=NAME,
            arn=ARN,
            job_type="Advanced",
            request=seed_request,
            profile={},
            seed=0,
            region="us-east-1",
            created=datetime.now(UTC),
        )
    )
    code, _, err = run_cli(capsys, "submit", "--from-job", NAME, "--top", "1", "--home", tmp_path)
    assert code == 2 and "has no recommendations yet" in err


# --- irsim aws describe | wait | stop -----------------------------------------------------------

def real_describe(result, **changes) -> dict:
    return {**copy.deepcopy(result.describe), **changes}


def test_aws_describe_prints_the_table_and_json(seed_result, stubbed, use_client, capsys):
    client, stubber = stubbed
    for _ in range(2):
        stubber.add_response("describe_inference_recommendations_job", real_describe(seed_result),
                             expected_params={"JobName": NAME})
    regions = use_client(client)
    code, out, err = run_cli(capsys, "real-aws", "describe", NAME, "--region", "eu-west-1")
    assert code == 0, err
    assert f"Job {NAME} (Advanced): COMPLETED" in out and "ml.r5.xlarge" in out
    code, out, _ = run_cli(capsys, "real-aws", "describe", NAME, "--json")
    document = json.loads(out)
    assert code == 0 and "ResponseMetadata" not in document
    assert document["CreationTime"] == seed_result.describe["CreationTime"].isoformat()
    assert regions == ["eu-west-1", None]


def test_aws_describe_without_credentials_exits_2(use_client, capsys):
    class NoCredentials:
        def describe_inference_recommendations_job(self, **kwargs):
            raise NoCredentialsError()
    use_client(NoCredentials())
    code, _, err = run_cli(capsys, "real-aws", "describe", NAME)
    assert code == 2 and "Unable to locate credentials" in err and "Traceback" not in err


def test_no_connection_exits_255(use_client, capsys):
    class Offline:
        def stop_inference_recommendations_job(self, **kwargs):
            raise EndpointConnectionError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com/")
    use_client(Offline())
    code, _, err = run_cli(capsys, "real-aws", "stop", NAME)
    assert code == 255 and "irsim real-aws stop: error: Could not connect" in err


def test_aws_describe_of_an_unknown_job_exits_254(stubbed, use_client, capsys):
    client, stubber = stubbed
    stubber.add_client_error("describe_inference_recommendations_job", service_error_code="ResourceNotFound",
                             service_message="Job nobody does not exist.", expected_params={"JobName": "nobody"})
    use_client(client)
    code, _, err = run_cli(capsys, "real-aws", "describe", "nobody")
    assert code == 254 and "(ResourceNotFound)" in err


def test_aws_wait_polls_until_the_job_ends_without_sleeping(seed_result, stubbed, use_client, monkeypatch, capsys):
    client, stubber = stubbed
    running = {key: value for key, value in real_describe(seed_result, Status="IN_PROGRESS").items()
               if key not in ("InferenceRecommendations", "CompletionTime")}
    stubber.add_response("describe_inference_recommendations_job", running, expected_params={"JobName": NAME})
    stubber.add_response("describe_inference_recommendations_job", real_describe(seed_result),
                         expected_params={"JobName": NAME})
    use_client(client)
    slept: list[float] = []
    monkeypatch.setattr(transport, "time", SimpleNamespace(sleep=slept.append, monotonic=lambda: 0.0))
    code, out, err = run_cli(capsys, "real-aws", "wait", NAME, "--poll", "30")
    assert code == 0 and out.strip() == f"{NAME}: COMPLETED"
    assert slept == [30.0] and "IN_PROGRESS" in err


def test_aws_wait_exits_1_unless_completed(seed_result, stubbed, use_client, capsys):
    client, stubber = stubbed
    failed = {key: value for key, value in real_describe(seed_result, Status="FAILED", FailureReason="boom").items()
              if key != "InferenceRecommendations"}
    stubber.add_response("describe_inference_recommendations_job", failed, expected_params={"JobName": NAME})
    use_client(client)
    code, out, _ = run_cli(capsys, "real-aws", "wait", NAME)
    assert code == 1 and out.strip() == f"{NAME}: FAILED (boom)"


def test_aws_wait_exits_3_on_timeout_as_irsim_wait_does(seed_result, stubbed, use_client, monkeypatch, capsys):
    """The wait commands' one table of exit codes: 3 when --timeout runs out (the job goes on)."""
    client, stubber = stubbed
    running = {key: value for key, value in real_describe(seed_result, Status="IN_PROGRESS").items()
               if key not in ("InferenceRecommendations", "CompletionTime")}
    for _ in range(2):
        stubber.add_response("describe_inference_recommendations_job", running, expected_params={"JobName": NAME})
    use_client(client)
    now = [0.0]
    monkeypatch.setattr(transport, "time", SimpleNamespace(sleep=lambda s: now.__setitem__(0, now[0] + s),
                                                           monotonic=lambda: now[0]))
    code, _, err = run_cli(capsys, "real-aws", "wait", NAME, "--poll", "30", "--timeout", "20")
    assert code == 3 and "still IN_PROGRESS after 20 s" in err


def test_wait_for_real_job_times_out():
    class Running:
        calls = 0

        def describe_inference_recommendations_job(self, JobName):
            self.calls += 1
            return {"Status": "IN_PROGRESS"}
    now = [0.0]
    client = Running()
    with pytest.raises(WaitTimeout, match="still IN_PROGRESS after 100 s"):
        wait_for_real_job(client, NAME, poll_s=30, timeout_s=100, sleep=lambda s: now.__setitem__(0, now[0] + s),
                          clock=lambda: now[0])
    assert client.calls == 5  # at 0, 30, 60, 90 and 100 s


def test_aws_stop(stubbed, use_client, capsys):
    client, stubber = stubbed
    stubber.add_response("stop_inference_recommendations_job", {}, expected_params={"JobName": NAME})
    use_client(client)
    code, out, _ = run_cli(capsys, "real-aws", "stop", NAME)
    assert code == 0 and out.strip() == f"stop requested: {NAME}"


# --- irsim import -------------------------------------------------------------------------------

def assert_listed(capsys, home: Path, name: str) -> None:
    code, out, _ = run_cli(capsys, "list", "--home", home)
    assert code == 0 and name in out and "COMPLETED" in out


def test_import_a_saved_describe_file(seed_result, no_boto3, tmp_path, capsys):
    path = tmp_path / "describe.json"
    path.write_text(dumps({**seed_result.describe, "ResponseMetadata": {"HTTPStatusCode": 200}}))
    home = tmp_path / "home"
    code, out, err = run_cli(capsys, "import", path, "--home", home)
    assert code == 0, err
    assert f"imported {NAME} (Advanced, COMPLETED, 3 recommendations, 0 steps)" in out

    offline = irsim.client(home=home)
    response = offline.describe_inference_recommendations_job(JobName=NAME)
    response.pop("ResponseMetadata")
    assert response == seed_result.describe  # timestamps came back as the same datetimes
    assert isinstance(response["InferenceRecommendations"][0]["InvocationStartTime"], datetime)
    assert offline.list_inference_recommendations_job_steps(JobName=NAME)["Steps"] == []
    record = JobStore(home).get(NAME)
    assert record.extensions["source"] == str(path) and record.extensions["imported"] is True
    assert record.profile == {} and record.seed == 0 and record.region == "us-east-1"
    assert record.created == seed_result.describe["CreationTime"]
    assert set(record.request) == {"JobName", "JobType", "RoleArn", "JobDescription", "InputConfig",
                                   "StoppingConditions"}
    assert_listed(capsys, home, NAME)
    code, out, _ = run_cli(capsys, "describe", NAME, "--home", home)
    assert code == 0 and "ml.c5.xlarge" in out and "not simulated" in out

    code, out, err = run_cli(capsys, "import", path, "--home", home)
    assert code == 2 and "already in the store" in err


def test_import_a_describe_file_with_its_steps(seed_result, no_boto3, tmp_path, capsys):
    describe, steps = tmp_path / "describe.json", tmp_path / "steps.json"
    describe.write_text(dumps(seed_result.describe))
    steps.write_text(dumps(seed_result.steps))
    code, out, err = run_cli(capsys, "import", describe, "--steps", steps, "--home", tmp_path)
    assert code == 0 and "3 steps" in out, err
    listed = irsim.client(home=tmp_path).list_inference_recommendations_job_steps(JobName=NAME)["Steps"]
    assert listed == seed_result.steps["Steps"]


@pytest.mark.parametrize("document, words", [
    ([1, 2], "must hold a DescribeInferenceRecommendationsJob response"),
    ({"JobName": NAME}, "missing JobType"),
])
def test_import_refuses_a_file_that_is_not_a_describe(document, words, no_boto3, tmp_path, capsys):
    path = tmp_path / "describe.json"
    path.write_text(json.dumps(document))
    code, _, err = run_cli(capsys, "import", path, "--home", tmp_path)
    assert code == 2 and words in err


def test_import_refuses_a_bad_timestamp(seed_result, no_boto3, tmp_path, capsys):
    path = tmp_path / "describe.json"
    path.write_text(dumps({**seed_result.describe, "CreationTime": "yesterday"}))
    code, _, err = run_cli(capsys, "import", path, "--home", tmp_path)
    assert code == 2 and "CreationTime: 'yesterday' is not an ISO 8601 timestamp" in err
    assert JobStore(tmp_path).get(NAME) is None


def test_import_refuses_metrics_that_are_not_finite(seed_result, no_boto3, tmp_path, capsys):
    """Python's JSON reader takes NaN; a NaN cost would print as "$nan/hour" in `submit`."""
    describe = json.loads(dumps(seed_result.describe))
    describe["InferenceRecommendations"][0]["Metrics"]["CostPerHour"] = float("nan")
    path = tmp_path / "describe.json"
    path.write_text(json.dumps(describe))  # writes NaN, as a careless tool would
    code, _, err = run_cli(capsys, "import", path, "--home", tmp_path)
    assert code == 2 and "InferenceRecommendations[0].Metrics.CostPerHour is nan, not a finite number" in err
    assert JobStore(tmp_path).get(NAME) is None


def test_parse_timestamps_reads_the_aws_cli_formats():
    parsed = parse_timestamps({"CreationTime": "2026-01-02T03:04:05.678000+00:00",
                                         "LastModifiedTime": "2026-01-02T03:04:05Z", "CompletionTime": 0,
                                         "Steps": [{"InvocationEndTime": "2026-01-02T03:04:05"}], "Other": "x"})
    assert parsed["CreationTime"] == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert parsed["LastModifiedTime"] == parsed["Steps"][0]["InvocationEndTime"] \
        == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parsed["CompletionTime"] == datetime(1970, 1, 1, tzinfo=UTC) and parsed["Other"] == "x"


def test_import_from_the_service_with_all_step_pages(seed_result, stubbed, use_client, tmp_path, capsys):
    client, stubber = stubbed
    arn = ARN.replace("us-east-1", "eu-west-1")
    stubber.add_response("describe_inference_recommendations_job", real_describe(seed_result, JobArn=arn),
                         expected_params={"JobName": NAME})
    steps = seed_result.steps["Steps"]
    stubber.add_response("list_inference_recommendations_job_steps", {"Steps": steps[:2], "NextToken": "page-2"},
                         expected_params={"JobName": NAME})
    stubber.add_response("list_inference_recommendations_job_steps", {"Steps": steps[2:]},
                         expected_params={"JobName": NAME, "NextToken": "page-2"})
    regions = use_client(client)
    code, out, err = run_cli(capsys, "import", "--from-aws", NAME, "--region", "eu-west-1", "--home", tmp_path)
    assert code == 0, err
    assert "3 recommendations, 3 steps) from aws" in out and regions == ["eu-west-1"]

    offline = irsim.client(home=tmp_path)
    response = offline.describe_inference_recommendations_job(JobName=NAME)
    assert response["JobArn"] == arn and response["Status"] == "COMPLETED"
    assert offline.list_inference_recommendations_job_steps(JobName=NAME)["Steps"] == steps
    record = JobStore(tmp_path).get(NAME)
    assert record.region == "eu-west-1" and record.extensions["source"] == "aws"
    assert_listed(capsys, tmp_path, NAME)


def test_import_refuses_a_running_job(seed_result, stubbed, use_client, tmp_path, capsys):
    client, stubber = stubbed
    running = {key: value for key, value in real_describe(seed_result, Status="IN_PROGRESS").items()
               if key not in ("InferenceRecommendations", "CompletionTime")}
    stubber.add_response("describe_inference_recommendations_job", running, expected_params={"JobName": NAME})
    use_client(client)
    code, _, err = run_cli(capsys, "import", "--from-aws", NAME, "--home", tmp_path)
    assert code == 2 and "is IN_PROGRESS: only a finished job" in err
    assert JobStore(tmp_path).get(NAME) is None


def test_import_of_a_name_already_stored_calls_no_aws(seed_result, no_boto3, tmp_path, capsys):
    store_finished_job(tmp_path, seed_result)
    code, _, err = run_cli(capsys, "import", "--from-aws", NAME, "--home", tmp_path)
    assert code == 2 and "already in the store" in err
