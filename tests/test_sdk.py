"""irsim.client() as the sagemaker_client of the SageMaker Python SDK (v2): right_size runs a
simulated job and gets its recommendations. Nothing reaches AWS: the SDK only talks to the
offline client, and its boto session has dummy credentials."""

import os

import boto3
import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sagemaker = pytest.importorskip("sagemaker", reason="the `sdk` extra (SageMaker Python SDK v2) is not installed")

from sagemaker.inference_recommender.inference_recommender_mixin import ModelLatencyThreshold, Phase  # noqa: E402
from sagemaker.model import Model, ModelPackage  # noqa: E402
from sagemaker.parameter import CategoricalParameter  # noqa: E402
from sagemaker.session import Session  # noqa: E402

import irsim  # noqa: E402

pytestmark = pytest.mark.slow
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"


@pytest.fixture(autouse=True)
def short_sdk_poll(monkeypatch):
    """The SDK's Quiet wait sleeps 120 s before its first describe, whatever the job; the
    tests shorten its sleeps (irsim's own behaviour is unchanged)."""
    import time
    real_sleep = time.sleep
    monkeypatch.setattr(sagemaker.session.time, "sleep", lambda seconds: real_sleep(min(seconds, 0.2)))


def sdk_session(home):
    client = irsim.client(home=home, create_wait_s=60)
    boto_session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing",
                                 aws_secret_access_key="testing")
    return client, Session(boto_session=boto_session, sagemaker_client=client)


def advanced_arguments(job_name):
    return dict(job_name=job_name, sample_payload_url="s3://bucket/payload.tar.gz",
                supported_content_types=["text/csv"], framework="XGBOOST",
                hyperparameter_ranges=[{"instance_types": CategoricalParameter(["ml.c5.xlarge", "ml.m5.xlarge"]),
                                        "OMP_NUM_THREADS": CategoricalParameter(["1", "2"])}],
                phases=[Phase(120, 1, 1)], max_invocations=1000,
                model_latency_thresholds=[ModelLatencyThreshold("P95", 100)], max_tests=4, max_parallel_tests=2,
                log_level="Quiet")


def test_model_package_right_size_runs_an_advanced_job(tmp_path):
    client, session = sdk_session(tmp_path)
    package = ModelPackage(role=ROLE, sagemaker_session=session,
                           model_package_arn="arn:aws:sagemaker:us-east-1:111122223333:model-package/xgboost/1")
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
    assert client.store.model("xgboost-model") is not None
    described = client.describe_inference_recommendations_job(JobName="sdk-default-job")
    assert described["JobType"] == "Default" and described["InputConfig"]["ModelName"] == "xgboost-model"
    assert [r["EndpointConfiguration"]["InitialInstanceCount"] for r in model.inference_recommendations] == [1, 1]
