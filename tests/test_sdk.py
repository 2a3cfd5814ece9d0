"""irsim.client() as the sagemaker_client of the SageMaker Python SDK (v2), and
irsim.sagemaker_session(): right_size runs a simulated job and gets its recommendations, deploy
creates an offline endpoint from them. Nothing reaches AWS: the SDK only talks to the offline
client, and its boto session has dummy credentials (irsim.sagemaker_session's answers the log
reads offline and sends nothing)."""

import os

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sagemaker = pytest.importorskip("sagemaker", reason="the `sdk` extra (SageMaker Python SDK v2) is not installed")

from sagemaker.inference_recommender.inference_recommender_mixin import ModelLatencyThreshold, Phase  # noqa: E402
from sagemaker.model import Model, ModelPackage  # noqa: E402
from sagemaker.parameter import CategoricalParameter  # noqa: E402
from sagemaker.predictor import Predictor  # noqa: E402
from sagemaker.session import Session  # noqa: E402

import irsim  # noqa: E402
from irsim.durable.profiles import ProfileRegistry  # noqa: E402

pytestmark = pytest.mark.slow
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"


@pytest.fixture(autouse=True)
def short_sdk_poll(monkeypatch):
    """The SDK's Quiet wait sleeps 120 s before its first describe, whatever the job; the
    tests shorten its sleeps (irsim's own behaviour is unchanged)."""
    import time
    real_sleep = time.sleep
    monkeypatch.setattr(sagemaker.session.time, "sleep", lambda seconds: real_sleep(min(seconds, 0.2)))


def register_demo(home, *models):
    """The models these tests create are simulated on the demo profile, registered for each
    (`irsim profile add demo --model NAME`): a job is simulated on the profile of its model."""
    for model in models:
        ProfileRegistry(home).add("demo", model=model)


def sdk_session(home):
    register_demo(home, "xgboost", "xgboost-model")
    client = irsim.client(home=home, create_wait_s=60)
    boto_session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing",
                                 aws_secret_access_key="testing")
    return client, Session(boto_session=boto_session, sagemaker_client=client)


def advanced_arguments(job_name):
    return {"job_name": job_name, "sample_payload_url": "s3://bucket/payload.tar.gz",
            "supported_content_types": ["text/csv"], "framework": "XGBOOST",
            "hyperparameter_ranges": [{"instance_types": CategoricalParameter(["ml.c5.xlarge", "ml.m5.xlarge"]),
                                       "OMP_NUM_THREADS": CategoricalParameter(["1", "2"])}],
            "phases": [Phase(120, 1, 1)], "max_invocations": 1000,
            "model_latency_thresholds": [ModelLatencyThreshold("P95", 100)], "max_tests": 4,
            "max_parallel_tests": 2, "log_level": "Quiet"}


def test_model_package_right_size_runs_an_advanced_job(tmp_path):
    client, session = sdk_session(tmp_path)
    client.create_model_package_group(ModelPackageGroupName="xgboost")
    arn = client.create_model_package(ModelPackageGroupName="xgboost", InferenceSpecification={
        "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"}],
        "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]
    package = ModelPackage(role=ROLE, sagemaker_session=session, model_package_arn=arn)
    package.right_size(**advanced_arguments("sdk-package-job"))
    recommendations = package.inference_recommendations
    assert len(recommendations) == 4
    assert {r["EndpointConfiguration"]["InstanceType"] for r in recommendations} == {"ml.c5.xlarge", "ml.m5.xlarge"}
    assert {p["Value"] for r in recommendations for p in r["ModelConfiguration"]["EnvironmentParameters"]} == {"1", "2"}
    stored = client.describe_inference_recommendations_job(JobName="sdk-package-job")
    assert stored["Status"] == "COMPLETED" and stored["InferenceRecommendations"] == recommendations


def test_model_right_size_creates_the_model_then_runs_a_default_job(tmp_path):
    client, session = sdk_session(tmp_path)
    model = Model(image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", role=ROLE,
                  model_data="s3://bucket/model.tar.gz", name="xgboost-model", sagemaker_session=session)
    model.right_size(job_name="sdk-default-job", sample_payload_url="s3://bucket/payload.tar.gz",
                     supported_content_types=["text/csv"], supported_instance_types=["ml.c5.large", "ml.m5.large"],
                     framework="XGBOOST", log_level="Quiet")
    assert client.describe_model(ModelName="xgboost-model")["PrimaryContainer"]["ModelDataUrl"] == \
        "s3://bucket/model.tar.gz"
    described = client.describe_inference_recommendations_job(JobName="sdk-default-job")
    assert described["JobType"] == "Default" and described["InputConfig"]["ModelName"] == "xgboost-model"
    real_time = [r for r in model.inference_recommendations if "InstanceType" in r["EndpointConfiguration"]]
    assert [r["EndpointConfiguration"]["InitialInstanceCount"] for r in real_time] == [1, 1]
    # No SupportedEndpointType: the serverless benchmarks come too, as the API reference says.
    assert any("ServerlessConfig" in r["EndpointConfiguration"] for r in model.inference_recommendations)


# --- the whole journey with irsim.sagemaker_session and the SDK's default arguments ---------------

def validates(method, response, params):
    real = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(real) as stub:
        stub.add_response(method, {k: v for k, v in response.items() if k != "ResponseMetadata"}, params)
        getattr(real, method)(**params)


def deployed_variant(session, endpoint_name):
    """The endpoint's one variant as its configuration says (type and count), Stubber-checked."""
    client = session.sagemaker_client
    endpoint = client.describe_endpoint(EndpointName=endpoint_name)
    validates("describe_endpoint", endpoint, {"EndpointName": endpoint_name})
    assert endpoint["EndpointStatus"] == "InService"
    config = client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    validates("describe_endpoint_config", config, {"EndpointConfigName": endpoint["EndpointConfigName"]})
    [variant] = config["ProductionVariants"]
    assert endpoint["ProductionVariants"][0]["CurrentInstanceCount"] == variant["InitialInstanceCount"]
    return variant


def test_model_right_size_with_the_default_log_level_then_deploy_the_recommendation(tmp_path, capsys):
    register_demo(tmp_path, "xgb-journey")
    session = irsim.sagemaker_session(home=tmp_path)
    model = Model(image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", role=ROLE,
                  model_data="s3://bucket/model.tar.gz", name="xgb-journey", sagemaker_session=session)
    arguments = advanced_arguments("sdk-journey")
    del arguments["log_level"]  # the SDK's default, "Verbose": it reads the job's CloudWatch Logs
    arguments["max_invocations"] = 20000  # more than one instance serves it
    model.right_size(**arguments)
    out = capsys.readouterr().out
    assert "Retrieved logStream: sdk-journey/execution" in out and "Inference recommendations job sdk-journey" in out
    chosen = max(model.inference_recommendations, key=lambda r: r["EndpointConfiguration"]["InitialInstanceCount"])
    recommended = chosen["EndpointConfiguration"]
    assert recommended["InitialInstanceCount"] > 1
    model.deploy(inference_recommendation_id=chosen["RecommendationId"])
    variant = deployed_variant(session, model.endpoint_name)
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == \
        (recommended["InstanceType"], recommended["InitialInstanceCount"])
    # The SDK reuses the model right_size created (CreateModel answers "already existing", as the service does).
    assert variant["ModelName"] == "xgb-journey"


def test_model_package_right_size_then_deploy(tmp_path):
    """The demo profile's package group is implied, as the bundled examples use it."""
    session = irsim.sagemaker_session(home=tmp_path)
    arn = "arn:aws:sagemaker:us-east-1:111122223333:model-package/xgboost-demo/1"
    package = ModelPackage(role=ROLE, sagemaker_session=session, model_package_arn=arn)
    package.right_size(**advanced_arguments("sdk-package-deploy"))
    package.deploy()  # the SDK deploys the last real-time recommendation
    last = package.inference_recommendations[-1]["EndpointConfiguration"]
    variant = deployed_variant(session, package.endpoint_name)
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == \
        (last["InstanceType"], last["InitialInstanceCount"])
    by_id = ModelPackage(role=ROLE, sagemaker_session=session, model_package_arn=arn)
    first = package.inference_recommendations[0]
    by_id.deploy(inference_recommendation_id=first["RecommendationId"])
    variant = deployed_variant(session, by_id.endpoint_name)
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == \
        (first["EndpointConfiguration"]["InstanceType"], first["EndpointConfiguration"]["InitialInstanceCount"])


def test_boto3_idioms_the_sdk_relies_on(tmp_path):
    session = irsim.sagemaker_session(home=tmp_path)
    sm = session.sagemaker_client
    try:
        sm.describe_inference_recommendations_job(JobName="never-created")
    except sm.exceptions.ResourceNotFound as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        pytest.fail("no ResourceNotFound")
    model = Model(image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", role=ROLE,
                  model_data="s3://bucket/model.tar.gz", name="xgb-idioms", sagemaker_session=session)
    # The SDK catches ResourceNotFound for the unknown job, then asks DescribeModel, which (as the
    # service does) answers a missing model with a ValidationException.
    with pytest.raises(ClientError, match="Could not find model"):
        model.deploy(inference_recommendation_id="never-created/abcdefgh")


def test_the_sdks_update_endpoint_lists_the_tags_and_moves_the_endpoint(tmp_path):
    """Predictor.update_endpoint lists the endpoint's tags, copies its configuration and updates
    the endpoint: each call answered offline (issue 21 item 5)."""
    session = irsim.sagemaker_session(home=tmp_path)
    model = Model(image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", role=ROLE,
                  model_data="s3://bucket/model.tar.gz", name="xgb-update", sagemaker_session=session)
    model.deploy(initial_instance_count=1, instance_type="ml.c5.large", endpoint_name="updated",
                 tags=[{"Key": "team", "Value": "ml"}])
    predictor = Predictor(endpoint_name="updated", sagemaker_session=session)
    client = session.sagemaker_client
    arn = client.describe_endpoint(EndpointName="updated")["EndpointArn"]
    assert client.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    predictor.update_endpoint(initial_instance_count=3, instance_type="ml.c5.xlarge", model_name="xgb-update")
    variant = deployed_variant(session, "updated")
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.c5.xlarge", 3)
