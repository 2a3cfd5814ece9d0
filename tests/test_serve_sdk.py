"""The SageMaker Python SDK (v2, the ``sdk`` extra) against irsim's wire, knowing nothing of
irsim: a plain ``sagemaker.Session`` whose boto clients find the server through
AWS_ENDPOINT_URL_SAGEMAKER and AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME (and, second, through
``irsim.mock_sagemaker()`` with no server at all): right_size runs a job, deploy creates the
recommended endpoint, a Predictor invokes it."""

import os

import boto3
import pytest
from serveclients import served

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sagemaker = pytest.importorskip("sagemaker", reason="the `sdk` extra (SageMaker Python SDK v2) is not installed")

from sagemaker.inference_recommender.inference_recommender_mixin import ModelLatencyThreshold, Phase  # noqa: E402
from sagemaker.model import Model  # noqa: E402
from sagemaker.parameter import CategoricalParameter  # noqa: E402
from sagemaker.predictor import Predictor  # noqa: E402

import irsim  # noqa: E402
from irsim.durable.profiles import ProfileRegistry  # noqa: E402

pytestmark = pytest.mark.slow
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"


@pytest.fixture(autouse=True)
def short_sdk_poll(monkeypatch):
    """The SDK's Quiet wait sleeps 120 s between looks; the test shortens its sleeps."""
    import time
    real_sleep = time.sleep
    monkeypatch.setattr(sagemaker.session.time, "sleep", lambda seconds: real_sleep(min(seconds, 0.2)))


def right_size_deploy_and_predict(job_name: str) -> tuple[dict, dict, bytes]:
    """The user's journey, as they would write it against AWS."""
    session = sagemaker.Session(boto_session=boto3.Session(region_name="us-east-1", aws_access_key_id="x",
                                                           aws_secret_access_key="x"))
    model = Model(image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", role=ROLE,
                  model_data="s3://bucket/model.tar.gz", name=f"{job_name}-model", sagemaker_session=session)
    model.right_size(job_name=job_name, sample_payload_url="s3://bucket/payload.tar.gz",
                     supported_content_types=["text/csv"], framework="XGBOOST", log_level="Quiet",
                     hyperparameter_ranges=[{"instance_types": CategoricalParameter(["ml.c5.xlarge", "ml.m5.xlarge"]),
                                             "OMP_NUM_THREADS": CategoricalParameter(["1"])}],
                     phases=[Phase(120, 1, 1)], max_invocations=20000,
                     model_latency_thresholds=[ModelLatencyThreshold("P95", 100)], max_tests=2,
                     max_parallel_tests=2)
    chosen = max(model.inference_recommendations,
                 key=lambda r: r["EndpointConfiguration"]["InitialInstanceCount"])
    model.deploy(inference_recommendation_id=chosen["RecommendationId"])
    endpoint = session.sagemaker_client.describe_endpoint(EndpointName=model.endpoint_name)
    config = session.sagemaker_client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    answer = Predictor(model.endpoint_name, sagemaker_session=session).predict(b"1,2,3")
    return chosen["EndpointConfiguration"], config["ProductionVariants"][0], answer


def check(recommended: dict, variant: dict, answer: bytes, endpoint_hint: str) -> None:
    assert recommended["InitialInstanceCount"] >= 1
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == \
        (recommended["InstanceType"], recommended["InitialInstanceCount"])
    assert b"offline stand-in" in answer and endpoint_hint.encode() in answer


def test_right_size_then_deploy_then_predict_against_the_server(tmp_path, monkeypatch):
    ProfileRegistry(tmp_path / "home").add("demo", model="sdk-wire-model")  # the journey's model's profile
    with served(tmp_path / "home") as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", server.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
        recommended, variant, answer = right_size_deploy_and_predict("sdk-wire")
    check(recommended, variant, answer, "VariantName")
    stored = irsim.client(home=tmp_path / "home").describe_inference_recommendations_job(JobName="sdk-wire")
    assert stored["Status"] == "COMPLETED"


def test_right_size_then_deploy_then_predict_inside_the_mock(tmp_path):
    ProfileRegistry(tmp_path).add("demo", model="sdk-mock-model")
    with irsim.mock_sagemaker(home=tmp_path):
        recommended, variant, answer = right_size_deploy_and_predict("sdk-mock")
    check(recommended, variant, answer, "VariantName")
