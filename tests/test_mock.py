"""irsim.mock_sagemaker(): boto3 clients created inside user code are answered offline at the
HTTP layer (botocore serializes, sends nothing, parses the wire dispatcher's answer); nothing
else reaches the network; the pytest plugin's ``sagemaker_offline`` fixture; moto's mock_aws
answers S3 beside it. Jobs here are one benchmark of one short phase."""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from serveclients import tiny_request

import irsim
from irsim.wire.mock import NotSentOffline


def user_code_creates_a_job(name: str) -> str:
    """Code that knows nothing of irsim: it builds its own client from boto3's default session."""
    client = boto3.client("sagemaker", region_name="us-east-1")
    return client.create_inference_recommendations_job(**tiny_request(name))["JobArn"]


@pytest.mark.slow(reason="whole jobs through the in-process mock, with moto and the SDK imported (4.6 s measured)")
def test_a_client_built_inside_user_code_is_answered_offline(tmp_path):
    with irsim.mock_sagemaker(home=tmp_path) as mocked:
        arn = user_code_creates_a_job("mocked-job")
        described = boto3.client("sagemaker").describe_inference_recommendations_job(JobName="mocked-job")
        assert described["JobArn"] == arn and described["Status"] in ("PENDING", "IN_PROGRESS", "COMPLETED")
        assert described["ResponseMetadata"]["HTTPStatusCode"] == 200
        done = mocked.client.wait_for_job("mocked-job", timeout_s=300)
        assert done["Status"] == "COMPLETED"
    # The same store, read without the mock: the job was really stored, not faked in memory.
    assert irsim.client(home=tmp_path).describe_inference_recommendations_job(JobName="mocked-job")["JobArn"] == arn


@pytest.mark.slow(reason="whole jobs through the in-process mock, with moto and the SDK imported (0.5 s measured)")
def test_errors_are_botocores_modeled_exceptions_parsed_from_the_wire(tmp_path):
    with irsim.mock_sagemaker(home=tmp_path):
        client = boto3.client("sagemaker")
        with pytest.raises(client.exceptions.ResourceNotFound) as raised:
            client.describe_inference_recommendations_job(JobName="absent")
        metadata = raised.value.response["ResponseMetadata"]
        assert metadata["HTTPStatusCode"] == 400 and metadata["HTTPHeaders"]["x-amzn-requestid"]
        with pytest.raises(ClientError) as unknown:
            client.list_training_jobs()
        assert unknown.value.response["Error"]["Code"] == "UnknownOperationException"


@pytest.mark.slow(reason="whole jobs through the in-process mock, with moto and the SDK imported (2.4 s measured)")
def test_the_decorator_form_and_the_runtime(tmp_path):
    @irsim.mock_sagemaker(home=tmp_path)
    def deploy_and_invoke() -> dict:
        client = boto3.client("sagemaker")
        client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
            {"VariantName": "v", "ModelName": "xgboost-demo", "InstanceType": "ml.c5.large",
             "InitialInstanceCount": 1}])
        client.create_endpoint(EndpointName="e", EndpointConfigName="c")
        return boto3.client("sagemaker-runtime").invoke_endpoint(EndpointName="e", Body=b"1,2")

    answer = deploy_and_invoke()
    assert answer["InvokedProductionVariant"] == "v" and b'"EndpointName": "e"' in answer["Body"].read()


@pytest.mark.slow(reason="whole jobs through the in-process mock, with moto and the SDK imported (0.5 s measured)")
def test_nothing_else_reaches_the_network(tmp_path):
    with irsim.mock_sagemaker(home=tmp_path), pytest.raises(NotSentOffline, match="was not sent"):
        boto3.client("s3").list_buckets()


def test_a_client_made_before_the_mock_can_be_attached(tmp_path):
    before = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with irsim.mock_sagemaker(home=tmp_path) as mocked:
        mocked.attach(before)
        assert before.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"] == []


@pytest.mark.slow(reason="whole jobs through the in-process mock, with moto and the SDK imported (2.1 s measured)")
def test_after_the_mock_a_client_no_longer_answers_offline(tmp_path):
    """Inside, a client of a closed loopback port is answered; after, it tries that port."""
    closed_port = "http://127.0.0.1:9"  # discard: nothing listens on this machine
    with irsim.mock_sagemaker(home=tmp_path):
        client = boto3.client("sagemaker", endpoint_url=closed_port, config=Config(retries={"total_max_attempts": 1}))
        assert client.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"] == []
    with pytest.raises(EndpointConnectionError):
        client.list_inference_recommendations_jobs()


@pytest.mark.slow(reason="whole jobs through the in-process mock, with moto and the SDK imported (0.5 s measured)")
def test_the_pytest_plugin_fixture(sagemaker_offline):
    client = boto3.client("sagemaker")
    client.create_model(ModelName="plugged", ExecutionRoleArn="arn:aws:iam::111122223333:role/R",
                        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"})
    assert sagemaker_offline.client.describe_model(ModelName="plugged")["ModelName"] == "plugged"


@pytest.mark.slow(reason="whole jobs through the in-process mock, with moto and the SDK imported (3.9 s measured)")
def test_it_composes_with_moto(tmp_path):
    moto = pytest.importorskip("moto", reason="moto (the dev extra) is not installed")
    for outer_first in (True, False):
        home = tmp_path / str(outer_first)
        mocks = (moto.mock_aws(), irsim.mock_sagemaker(home=home))
        with mocks[0 if outer_first else 1], mocks[1 if outer_first else 0]:
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="payloads")
            s3.put_object(Bucket="payloads", Key="payload.tar.gz", Body=b"x")
            request = tiny_request("with-moto")
            request["InputConfig"]["ContainerConfig"] = {"PayloadConfig": {
                "SamplePayloadUrl": "s3://payloads/payload.tar.gz", "SupportedContentTypes": ["text/csv"]}}
            arn = boto3.client("sagemaker").create_inference_recommendations_job(**request)["JobArn"]
            assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["payloads"]  # moto's answer
        assert irsim.client(home=home).describe_inference_recommendations_job(JobName="with-moto")["JobArn"] == arn
