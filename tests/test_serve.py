"""irsim serve's wire, in this process: boto3 pointed at it (``endpoint_url`` and
``AWS_ENDPOINT_URL_SAGEMAKER``) gets the offline client's answers through botocore's real
serializer, HTTP and parser; bad requests get AWS's error shape and the server keeps serving;
InvokeEndpoint answers an offline endpoint. The jobs here are one benchmark of one short phase."""

import http.client
import json
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from serveclients import served, tiny_request, wait_for

from irsim.wire.addresses import is_loopback
from irsim.wire.runtime import RuntimeOptions, service_of
from simulator import load_profile

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"


def sagemaker(url: str, service: str = "sagemaker"):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")


@pytest.fixture
def server(tmp_path):
    with served(tmp_path / "home") as running:
        yield running


def post(url: str, body: bytes, headers: dict) -> tuple[int, dict, dict]:
    """A raw POST (no SDK): status, headers (lower-cased), JSON body."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("POST", parts.path or "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read())
    finally:
        connection.close()


JSON = {"Content-Type": "application/x-amz-json-1.1"}


def target(operation: str) -> dict:
    return {**JSON, "X-Amz-Target": f"SageMaker.{operation}"}


# --- boto3 through the wire --------------------------------------------------------------------

def test_boto3_with_endpoint_url_gets_modeled_errors_and_the_request_id(server):
    client = sagemaker(server.url)
    assert client.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"] == []
    with pytest.raises(client.exceptions.ResourceNotFound) as raised:
        client.describe_inference_recommendations_job(JobName="absent")
    response = raised.value.response
    assert response["Error"] == {"Code": "ResourceNotFound",
                                 "Message": "Inference recommendations job absent does not exist."}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["RequestId"] == response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


@pytest.mark.slow(reason="a real server on loopback running a job (2.3 s measured)")
def test_a_job_created_through_the_wire_runs_and_reads_back_with_datetimes(server):
    client = sagemaker(server.url)
    arn = client.create_inference_recommendations_job(**tiny_request("wire-job"))["JobArn"]
    assert arn.endswith(":inference-recommendations-job/wire-job")
    done = wait_for(lambda: (d := client.describe_inference_recommendations_job(JobName="wire-job"))["Status"]
                    not in ("PENDING", "IN_PROGRESS") and d)
    assert done["Status"] == "COMPLETED"
    assert done["CompletionTime"] >= done["CreationTime"]  # timestamps parsed back into datetimes
    [recommendation] = done["InferenceRecommendations"]
    assert recommendation["EndpointConfiguration"]["InstanceType"] == "ml.c5.xlarge"
    listed = client.list_inference_recommendations_jobs(CreationTimeAfter=done["CreationTime"].replace(year=2000))
    assert [job["JobName"] for job in listed["InferenceRecommendationsJobs"]] == ["wire-job"]
    steps = client.list_inference_recommendations_job_steps(JobName="wire-job")["Steps"]
    assert [step["Status"] for step in steps] == ["COMPLETED"]
    scaling = client.get_scaling_configuration_recommendation(
        InferenceRecommendationsJobName="wire-job", RecommendationId=recommendation["RecommendationId"])
    assert scaling["InferenceRecommendationsJobName"] == "wire-job"
    with pytest.raises(ClientError) as raised:  # a finished job cannot be stopped: the client's ValidationException
        client.stop_inference_recommendations_job(JobName="wire-job")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_the_service_specific_endpoint_variable_points_boto3_at_the_server(server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", server.url)
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    assert client.meta.endpoint_url == server.url
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.describe_inference_recommendations_job(JobName="absent")


def test_models_endpoints_and_tags_through_the_wire_then_invoke_the_endpoint(tmp_path):
    with served(tmp_path / "home", RuntimeOptions(body=b"0.42", content_type="text/csv")) as server:
        client = sagemaker(server.url)
        tags = [{"Key": "team", "Value": "ml"}]
        model_arn = client.create_model(ModelName="m", ExecutionRoleArn=ROLE, Tags=tags, PrimaryContainer={
            "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"})["ModelArn"]
        assert client.list_tags(ResourceArn=model_arn)["Tags"] == tags  # a Create call's Tags are kept
        client.add_tags(ResourceArn=model_arn, Tags=[{"Key": "stage", "Value": "test"}])
        client.delete_tags(ResourceArn=model_arn, TagKeys=["team"])
        assert client.list_tags(ResourceArn=model_arn)["Tags"] == [{"Key": "stage", "Value": "test"}]
        client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
            {"VariantName": "blue", "ModelName": "m", "InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 2}])
        client.create_endpoint(EndpointName="e", EndpointConfigName="c")
        assert client.describe_endpoint(EndpointName="e")["EndpointStatus"] == "InService"
        runtime = sagemaker(server.url, "sagemaker-runtime")
        answer = runtime.invoke_endpoint(EndpointName="e", Body=b"1,2,3", ContentType="text/csv")
        assert (answer["Body"].read(), answer["ContentType"], answer["InvokedProductionVariant"]) == \
            (b"0.42", "text/csv", "blue")
        with pytest.raises(runtime.exceptions.ValidationError) as raised:
            runtime.invoke_endpoint(EndpointName="gone", Body=b"1")
        assert raised.value.response["Error"]["Message"] == "Endpoint gone of account 000000000000 not found."
        with pytest.raises(runtime.exceptions.ValidationError):
            runtime.invoke_endpoint(EndpointName="e", Body=b"1", TargetVariant="green")


def test_the_default_invocation_answer_names_the_endpoint_and_variant(server):
    client = sagemaker(server.url)
    client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "v", "ModelName": "xgboost-demo", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
    client.create_endpoint(EndpointName="demo", EndpointConfigName="c")
    body = json.loads(sagemaker(server.url, "sagemaker-runtime").invoke_endpoint(EndpointName="demo", Body=b"1")
                      ["Body"].read())
    assert (body["EndpointName"], body["VariantName"]) == ("demo", "v")


def test_a_variant_serves_count_times_workers_requests_at_once():
    """The simulated latency's slots: the profile's workers per instance times the deployed count."""
    profile = load_profile("demo")
    workers = profile.instances["ml.c5.xlarge"].workers
    service = service_of(profile, {"VariantName": "v", "InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 3})
    assert service.slots == 3 * workers
    assert service.service == profile.instances["ml.c5.xlarge"].service_time
    serverless = service_of(profile, {"VariantName": "v", "ServerlessConfig": {"MemorySizeInMB": 2048,
                                                                              "MaxConcurrency": 5}})
    assert serverless.slots == 5


# --- bad requests: AWS's error shape, and the server keeps serving ------------------------------

BAD_REQUESTS = {
    "malformed JSON": (b'{"JobName": ', target("DescribeInferenceRecommendationsJob"), 400, "SerializationException"),
    "a JSON array": (b"[]", target("ListInferenceRecommendationsJobs"), 400, "SerializationException"),
    "wrong content type": (b"{}", {**target("ListInferenceRecommendationsJobs"), "Content-Type": "text/plain"},
                           400, "UnknownOperationException"),
    "unknown target": (b"{}", target("CreateTrainingJob"), 400, "UnknownOperationException"),
    "no target": (b"{}", JSON, 400, "UnknownOperationException"),
    "missing required member": (b"{}", target("DescribeInferenceRecommendationsJob"), 400, "ValidationException"),
    "wrong member type": (b'{"MaxResults": "ten"}', target("ListInferenceRecommendationsJobs"), 400,
                          "SerializationException"),
    "a member out of range": (b'{"MaxResults": 1000}', target("ListInferenceRecommendationsJobs"), 400,
                              "ValidationException"),
    "a huge body": (b"x" * 70_000, target("ListInferenceRecommendationsJobs"), 413, "RequestEntityTooLargeException"),
}


@pytest.mark.slow(reason="a real server on loopback running a job (0.9 s measured)")
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_bad_request_gets_the_aws_error_shape_and_the_server_keeps_serving(tmp_path, case):
    body, headers, status, code = BAD_REQUESTS[case]
    with served(tmp_path / "home", max_body_bytes=65_536) as server:
        answer_status, answer_headers, answer = post(server.url, body, headers)
        assert (answer_status, answer["__type"]) == (status, code)
        assert answer["message"] and answer_headers["x-amzn-requestid"]
        assert answer_headers["content-type"] == "application/x-amz-json-1.1"
        assert sagemaker(server.url).list_inference_recommendations_jobs()["InferenceRecommendationsJobs"] == []


@pytest.mark.slow(reason="a real server on loopback running a job (0.3 s measured)")
def test_the_wire_errors_parse_as_botocore_parses_aws(server):
    """A request the SDK would refuse to send, sent anyway, comes back as botocore's ClientError."""
    client = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x", config=Config(parameter_validation=False))
    client.meta.events.register("before-parameter-build.sagemaker.*",
                                lambda params, **_: params.pop("JobName", None))
    with pytest.raises(ClientError) as raised:
        client.describe_inference_recommendations_job(JobName="dropped")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "JobName" in raised.value.response["Error"]["Message"]


def test_only_loopback_hosts_are_quiet():
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "10.0.0.1", "example.com"))
