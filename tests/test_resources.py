"""Offline models, model packages, endpoint configurations and endpoints: the shapes (checked
by botocore's Stubber against the real output shapes), the errors the service gives, the store
that keeps them across clients, and jobs on existing endpoints."""

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

import irsim
from irsim.durable.endpoints import DEPLOYED
from irsim.durable.resourcestore import ENDPOINT, ResourceStore
from irsim.durable.store import JobStore

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"


def validates(method: str, response: dict, params: dict) -> None:
    """botocore's Stubber checks the response against the real output shape (and the request)."""
    real = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(real) as stub:
        stub.add_response(method, {k: v for k, v in response.items() if k != "ResponseMetadata"}, params)
        getattr(real, method)(**params)


def call(client, method: str, **params) -> dict:
    """Call the offline client and check its answer with the Stubber."""
    response = getattr(client, method)(**params)
    validates(method, response, params)
    metadata = response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 200 and metadata["RetryAttempts"] == 0
    assert metadata["HTTPHeaders"]["x-amzn-requestid"] == metadata["RequestId"]
    return response


def error_of(call_, **params) -> ClientError:
    with pytest.raises(ClientError) as info:
        call_(**params)
    return info.value


def make_model(client, name: str = "xgb-model", environment: dict | None = None) -> str:
    container = {"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz", "Environment": environment or {}}
    return call(client, "create_model", ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)["ModelArn"]


def make_endpoint(client, name: str, model: str, instance_type: str = "ml.c5.large", count: int = 2) -> str:
    call(client, "create_endpoint_config", EndpointConfigName=f"{name}-config", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": model, "InstanceType": instance_type,
         "InitialInstanceCount": count}])
    return call(client, "create_endpoint", EndpointName=name, EndpointConfigName=f"{name}-config")["EndpointArn"]


def test_models_and_endpoints_have_the_aws_shapes_and_outlive_the_client(home):
    client = irsim.client(home=home)
    arn = make_model(client, environment={"OMP_NUM_THREADS": "2"})
    assert arn == "arn:aws:sagemaker:us-east-1:111122223333:model/xgb-model"
    described = call(client, "describe_model", ModelName="xgb-model")
    assert described["PrimaryContainer"]["Environment"] == {"OMP_NUM_THREADS": "2"}
    endpoint_arn = make_endpoint(client, "my-endpoint", "xgb-model", count=3)
    assert endpoint_arn == "arn:aws:sagemaker:us-east-1:111122223333:endpoint/my-endpoint"
    again = irsim.client(home=home)  # a new client, a new process's view: the store keeps them
    config = call(again, "describe_endpoint_config", EndpointConfigName="my-endpoint-config")
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.c5.large"
    endpoint = call(again, "describe_endpoint", EndpointName="my-endpoint")
    assert endpoint["EndpointStatus"] == "InService"
    variant = endpoint["ProductionVariants"][0]
    assert (variant["CurrentInstanceCount"], variant["DeployedImages"][0]["SpecifiedImage"]) == (3, IMAGE)
    deployed = ResourceStore(JobStore(home)).get(ENDPOINT, "my-endpoint").document[DEPLOYED]
    assert deployed == [{"VariantName": "AllTraffic", "ModelName": "xgb-model", "Environment": {"OMP_NUM_THREADS": "2"},
                         "Images": [IMAGE], "InitialVariantWeight": 1.0, "InstanceType": "ml.c5.large",
                         "InitialInstanceCount": 3}]
    assert again.deployed_endpoints()["my-endpoint"].variants[0].instance_count == 3
    call(again, "delete_endpoint", EndpointName="my-endpoint")
    error = error_of(client.describe_endpoint, EndpointName="my-endpoint")
    assert error.response["Error"] == {"Code": "ValidationException",
                                       "Message": 'Could not find endpoint "my-endpoint".'}
    call(again, "delete_endpoint_config", EndpointConfigName="my-endpoint-config")
    call(again, "delete_model", ModelName="xgb-model")
    assert "Could not find model" in str(error_of(client.describe_model, ModelName="xgb-model"))


def test_resource_errors_are_the_services(home):
    client = irsim.client(home=home)
    make_model(client)
    again = error_of(client.create_model, ModelName="xgb-model", ExecutionRoleArn=ROLE,
                     PrimaryContainer={"Image": IMAGE})
    assert 'Cannot create already existing model "arn:aws:sagemaker:us-east-1:111122223333:model/xgb-model"' \
        in again.response["Error"]["Message"]
    missing = error_of(client.create_endpoint_config, EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "v", "ModelName": "no-such-model", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
    assert 'Could not find model "' in missing.response["Error"]["Message"]
    no_config = error_of(client.create_endpoint, EndpointName="e", EndpointConfigName="no-such-config")
    assert no_config.response["Error"]["Message"] == 'Could not find endpoint configuration "no-such-config".'
    make_endpoint(client, "e", "xgb-model")
    taken = error_of(client.create_endpoint, EndpointName="e", EndpointConfigName="e-config")
    assert "Cannot create already existing endpoint" in taken.response["Error"]["Message"]
    both = error_of(client.create_endpoint_config, EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "v", "ModelName": "xgb-model", "ServerlessConfig": {"MemorySizeInMB": 2048,
                                                                             "MaxConcurrency": 5},
         "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
    assert "either InstanceType and InitialInstanceCount or ServerlessConfig" in str(both)
    bad_name = error_of(client.describe_model, ModelName="bad_name")
    assert bad_name.response["Error"]["Code"] == "ValidationException" and "regular expression" in str(bad_name)


def test_model_packages_versioned_and_unversioned(home):
    client = irsim.client(home=home)
    call(client, "create_model_package_group", ModelPackageGroupName="my-models")
    call(client, "describe_model_package_group", ModelPackageGroupName="my-models")
    spec = {"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
    first = call(client, "create_model_package", ModelPackageGroupName="my-models", InferenceSpecification=spec)
    second = call(client, "create_model_package", ModelPackageGroupName="my-models", InferenceSpecification=spec)
    assert first["ModelPackageArn"].endswith(":000000000000:model-package/my-models/1")
    assert second["ModelPackageArn"].endswith("/my-models/2")
    package = call(client, "describe_model_package", ModelPackageName=second["ModelPackageArn"])
    assert (package["ModelPackageVersion"], package["ModelApprovalStatus"]) == (2, "PendingManualApproval")
    call(client, "update_model_package", ModelPackageArn=second["ModelPackageArn"], ModelApprovalStatus="Approved")
    assert irsim.client(home=home).describe_model_package(
        ModelPackageName=second["ModelPackageArn"])["ModelApprovalStatus"] == "Approved"
    call(client, "create_model_package", ModelPackageName="single", InferenceSpecification=spec)
    assert call(client, "describe_model_package", ModelPackageName="single")["ModelPackageName"] == "single"
    error = error_of(client.describe_model_package, ModelPackageName=first["ModelPackageArn"].replace("/1", "/9"))
    assert error.response["Error"]["Code"] == "ValidationException" and "does not exist" in str(error)
    no_group = error_of(client.create_model_package, ModelPackageGroupName="no-group", InferenceSpecification=spec)
    assert "ModelPackageGroup no-group does not exist" in str(no_group)


def test_the_profiles_model_is_implied_and_other_unknown_models_are_refused(home):
    """The bundled examples name xgboost-demo, the demo profile's model: implied. Anything
    never created is refused when a job names it, and nothing is stored for the refused job."""
    client = irsim.client(home=home)
    package = call(client, "describe_model_package",
                   ModelPackageName="arn:aws:sagemaker:us-east-1:111122223333:model-package/xgboost-demo/1")
    assert package["ModelApprovalStatus"] == "Approved" and "Implied by irsim" in package["ModelPackageDescription"]
    assert call(client, "describe_model", ModelName="xgboost-demo")["PrimaryContainer"]["Image"]
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["InputConfig"]["ModelPackageVersionArn"] = \
        "arn:aws:sagemaker:us-east-1:111122223333:model-package/never-registered/1"
    error = error_of(client.create_inference_recommendations_job, **request)
    assert error.response["Error"] == {
        "Code": "ValidationException",
        "Message": "ModelPackage arn:aws:sagemaker:us-east-1:111122223333:model-package/never-registered/1 "
                   "does not exist."}
    del request["InputConfig"]["ModelPackageVersionArn"]
    request["InputConfig"]["ModelName"] = "never-created"
    error = error_of(client.create_inference_recommendations_job, **request)
    assert error.response["Error"]["Message"] == \
        'Could not find model "arn:aws:sagemaker:us-east-1:111122223333:model/never-created".'
    request["InputConfig"]["Endpoints"] = [{"EndpointName": "no-such-endpoint"}]
    request["InputConfig"]["ModelName"] = "xgboost-demo"
    error = error_of(client.create_inference_recommendations_job, **request)
    assert error.response["Error"]["Message"] == 'Could not find endpoint "no-such-endpoint".'
    assert JobStore(home).all() == []


@pytest.mark.slow
def test_a_job_on_an_existing_endpoint_benchmarks_it_as_deployed(home):
    client = irsim.client(home=home)
    make_model(client, "xgboost-demo")  # the profile's model, created explicitly this time
    make_endpoint(client, "prod-endpoint", "xgboost-demo", count=3)
    request = {"JobName": "existing-endpoint", "JobType": "Advanced", "RoleArn": ROLE,
               "InputConfig": {"ModelName": "xgboost-demo", "JobDurationInSeconds": 7200,
                               "TrafficPattern": {"TrafficType": "STAIRS", "Stairs": {
                                   "DurationInSeconds": 1200, "NumberOfSteps": 20, "UsersPerStep": 3}},
                               "ResourceLimit": {"MaxNumberOfTests": 1, "MaxParallelOfTests": 2},
                               "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}],
                               "Endpoints": [{"EndpointName": "prod-endpoint"}]},
               "StoppingConditions": {"ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 200}]}}
    client.create_inference_recommendations_job(**request)
    final = client.wait_for_job("existing-endpoint", timeout_s=120)
    validates("describe_inference_recommendations_job", final, {"JobName": "existing-endpoint"})
    assert final["Status"] == "COMPLETED"
    [performance] = final["EndpointPerformances"]
    assert performance["EndpointInfo"] == {"EndpointName": "prod-endpoint"}
    [recommendation] = final["InferenceRecommendations"]  # the endpoint is measured, not recommended
    single = recommendation["Metrics"]["MaxInvocations"] / recommendation["EndpointConfiguration"][
        "InitialInstanceCount"]
    assert performance["Metrics"]["MaxInvocations"] > 2 * single  # three instances, not one
    steps = call(client, "list_inference_recommendations_job_steps", JobName="existing-endpoint")["Steps"]
    endpoint_step = next(s for s in steps if s["InferenceBenchmark"]["EndpointConfiguration"]["EndpointName"]
                         == "prod-endpoint")["InferenceBenchmark"]
    assert endpoint_step["EndpointConfiguration"] == {"EndpointName": "prod-endpoint", "VariantName": "AllTraffic",
                                                      "InstanceType": "ml.c5.large", "InitialInstanceCount": 3}
    assert endpoint_step["EndpointMetrics"] == performance["Metrics"]
    extension = [b for b in client.describe_extensions("existing-endpoint")["benchmarks"] if "EndpointName" in b]
    assert extension[0]["InstanceCount"] == 3


def test_an_endpoint_with_two_variants_cannot_be_benchmarked(home):
    client = irsim.client(home=home)
    make_model(client)
    call(client, "create_endpoint_config", EndpointConfigName="two", ProductionVariants=[
        {"VariantName": name, "ModelName": "xgb-model", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}
        for name in ("a", "b")])
    call(client, "create_endpoint", EndpointName="two", EndpointConfigName="two")
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["InputConfig"]["Endpoints"] = [{"EndpointName": "two"}]
    error = error_of(client.create_inference_recommendations_job, **request)
    assert "exactly one production variant (it has 2)" in error.response["Error"]["Message"]
    assert JobStore(home).all() == []
