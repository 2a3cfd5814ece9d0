"""The offline client as AWS documents the service (issue 21): a job is simulated on the profile
of the model it names (item 2), package ARNs and inference specifications are checked (item 3),
every refusal is a botocore ClientError (item 4), tags are kept and readable (item 5), pagination
tokens are opaque and bound to their request (item 7), and concurrent creates of the profile's
implied package all succeed."""

from __future__ import annotations

import base64
import copy
import json
import random
import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import irsim
from irsim.durable.profiles import ProfileRegistry
from irsim.service.awsmodel import input_shape
from irsim.service.job import parsed
from simulator import load_profile

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
ROLE = SEED["RoleArn"]
PACKAGE = SEED["InputConfig"]["ModelPackageVersionArn"]


def quiet_client(home: Path, **options):
    """A client whose creates store the job but start no worker process (nothing here waits for
    a job to run: what is checked is what create accepts, refuses and stores)."""
    client = irsim.client(home=home, **options)
    client._start_worker = lambda name: None
    return client


def job(name: str, **input_changes) -> dict:
    body = copy.deepcopy(SEED)
    body["JobName"] = name
    body["InputConfig"].update(input_changes)
    return body


def error(call, **params) -> ClientError:
    with pytest.raises(ClientError) as info:
        call(**params)
    return info.value


# --- item 2: profiles belong to models --------------------------------------------------------

def test_a_model_without_a_profile_is_refused_saying_how_to_get_one(tmp_path):
    client = quiet_client(tmp_path)
    client.create_model(ModelName="torch-gpu", ExecutionRoleArn=ROLE,
                        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/pytorch:2"})
    body = job("on-torch", ModelName="torch-gpu")
    del body["InputConfig"]["ModelPackageVersionArn"]
    refusal = error(client.create_inference_recommendations_job, **body)
    message = refusal.response["Error"]["Message"]
    assert refusal.response["Error"]["Code"] == "ValidationException"
    assert "No service profile describes model torch-gpu" in message
    assert "irsim calibrate" in message and "irsim profile add PROFILE.json` for model torch-gpu" in message
    # Registered, the model's own profile is the one the job is simulated on.
    torch = {"model": "torch-gpu", "instances": {"ml.g4dn.xlarge": {
        "workers": 1, "service_time": {"family": "lognormal", "mean_ms": 40.0, "cv": 0.3}}}}
    ProfileRegistry(tmp_path).add(torch)
    body["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.g4dn.xlarge"}]
    client.create_inference_recommendations_job(**body)
    stored = client.store.get("on-torch")
    assert stored is not None and stored.profile["model"] == "torch-gpu"
    assert stored.profile["instances"]["ml.g4dn.xlarge"]["service_time"]["mean_ms"] == 40.0


def test_irsim_run_with_another_models_profile_says_so():
    other = {"model": "mm2", "instances": {"ml.c5.xlarge": {"workers": 2, "service_time": {
        "family": "exponential", "mean_ms": 20.0}}}}
    spec = parsed(job("run"), load_profile(other))
    assert spec.warnings[0].startswith("the profile describes model 'mm2', not 'xgboost-demo'")
    assert parsed(job("run"), load_profile("demo")).warnings == ()


# --- item 3: package ARNs and inference specifications ---------------------------------------

def test_package_arns_are_versioned_and_in_the_clients_region(tmp_path):
    client = quiet_client(tmp_path)
    unversioned = error(client.create_inference_recommendations_job,
                        **job("a", ModelPackageVersionArn=PACKAGE.removesuffix("/1")))
    assert "not the ARN of a versioned model package" in unversioned.response["Error"]["Message"]
    elsewhere = error(client.create_inference_recommendations_job,
                      **job("b", ModelPackageVersionArn=PACKAGE.replace("us-east-1", "eu-west-1")))
    assert elsewhere.response["Error"]["Message"] == "ARN should be scoped to correct region: us-east-1"


def test_inference_specification_names_are_checked_against_the_package(tmp_path):
    client = quiet_client(tmp_path)
    client.create_model_package_group(ModelPackageGroupName="xgboost-demo")
    container = {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"}
    arn = client.create_model_package(
        ModelPackageGroupName="xgboost-demo",
        InferenceSpecification={"Containers": [container], "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]},
        AdditionalInferenceSpecifications=[{"Name": "cpu-spec", "Containers": [container]}])["ModelPackageArn"]
    configurations = [{"InstanceType": "ml.c5.xlarge", "InferenceSpecificationName": "gpu-spec"}]
    refusal = error(client.create_inference_recommendations_job,
                    **job("c", ModelPackageVersionArn=arn, EndpointConfigurations=configurations))
    assert "Inference specification gpu-spec does not exist" in refusal.response["Error"]["Message"]
    configurations[0]["InferenceSpecificationName"] = "cpu-spec"
    client.create_inference_recommendations_job(**job("d", ModelPackageVersionArn=arn,
                                                      EndpointConfigurations=configurations))


# --- item 4: every error is a ClientError --------------------------------------------------------

def instance_types() -> list[str]:
    configurations = input_shape("CreateInferenceRecommendationsJob").members["InputConfig"] \
        .members["EndpointConfigurations"]
    return list(configurations.member.members["InstanceType"].enum)


REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-east-1", "me-south-1", "sa-east-1", "cn-north-1",
           "ap-southeast-3", "us-gov-west-1", "af-south-1"]


@pytest.mark.slow(reason="every instance type of botocore's enum (0.8 s measured)")
def test_every_instance_type_and_a_sample_of_regions_works_or_raises_client_error(tmp_path):
    """Every instance type of botocore's enum, each in a region drawn by a seeded generator (and
    every sampled region with one type): create either stores the job or raises a ClientError
    with an AWS code; nothing else escapes (no InputError, no PricingError)."""
    draw = random.Random(21)
    cases = [(t, draw.choice(REGIONS)) for t in instance_types()] + [("ml.c5.xlarge", r) for r in REGIONS]
    clients = {region: quiet_client(tmp_path, region=region) for region in REGIONS}
    outcomes = {"stored": 0, "refused": 0}
    for i, (instance_type, region) in enumerate(cases):
        body = job(f"j{i}", ModelPackageVersionArn=PACKAGE.replace("us-east-1", region),
                   EndpointConfigurations=[{"InstanceType": instance_type}])
        try:
            clients[region].create_inference_recommendations_job(**body)
            outcomes["stored"] += 1
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ValidationException", (instance_type, region)
            outcomes["refused"] += 1
    assert outcomes["stored"] > 0 and outcomes["refused"] > 0


# --- item 5: tags ----------------------------------------------------------------------------

def test_tags_are_stored_and_readable_on_jobs_models_and_endpoints(tmp_path):
    client = quiet_client(tmp_path)
    tags = [{"Key": "team", "Value": "ml"}]
    model_arn = client.create_model(ModelName="xgboost-demo", ExecutionRoleArn=ROLE, Tags=tags,
                                    PrimaryContainer={"Image": "x"})["ModelArn"]
    client.create_endpoint_config(EndpointConfigName="c", Tags=tags, ProductionVariants=[
        {"VariantName": "v", "ModelName": "xgboost-demo", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
    endpoint_arn = client.create_endpoint(EndpointName="e", EndpointConfigName="c", Tags=tags)["EndpointArn"]
    job_arn = client.create_inference_recommendations_job(**{**job("tagged"), "Tags": tags})["JobArn"]
    for arn in (model_arn, endpoint_arn, job_arn):
        assert client.list_tags(ResourceArn=arn)["Tags"] == tags
    client.add_tags(ResourceArn=endpoint_arn, Tags=[{"Key": "stage", "Value": "dev"}])
    client.delete_tags(ResourceArn=endpoint_arn, TagKeys=["team"])
    assert client.list_tags(ResourceArn=endpoint_arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    assert irsim.client(home=tmp_path).list_tags(ResourceArn=job_arn)["Tags"] == tags  # another client sees them


# --- item 7: pagination tokens ---------------------------------------------------------------------

def test_pagination_tokens_are_bound_to_their_request_and_cannot_be_forged(tmp_path):
    client = quiet_client(tmp_path)
    for i in range(4):
        client.create_inference_recommendations_job(**job(f"page-{i}"))
    first = client.list_inference_recommendations_jobs(MaxResults=2, SortBy="Name")
    assert [j["JobName"] for j in first["InferenceRecommendationsJobs"]] == ["page-3", "page-2"]
    second = client.list_inference_recommendations_jobs(MaxResults=2, SortBy="Name", NextToken=first["NextToken"])
    assert [j["JobName"] for j in second["InferenceRecommendationsJobs"]] == ["page-1", "page-0"]
    forged = base64.urlsafe_b64encode(b"offset:-2").decode()
    for token, filters in ((forged, {"SortBy": "Name"}), (first["NextToken"], {"SortBy": "Name",
                                                                                 "NameContains": "zzz"})):
        refusal = error(client.list_inference_recommendations_jobs, MaxResults=2, NextToken=token, **filters)
        assert refusal.response["Error"]["Code"] == "ValidationException"
        assert "Invalid pagination token" in refusal.response["Error"]["Message"]


# --- the implied package, created by many at once ------------------------------------------------

@pytest.mark.parametrize("attempt", range(3))  # a race: each attempt a fresh store
def test_concurrent_creates_on_the_implied_package_all_succeed(tmp_path, attempt):
    """Eight clients create jobs naming the profile's implied package at once: the group and
    the package are registered in one transaction, so none sees one without the other (before,
    the check and the two inserts were separate steps: "ModelPackage ... does not exist")."""
    barrier, failures = threading.Barrier(8), []

    def create(i: int) -> None:
        client = quiet_client(tmp_path)
        barrier.wait()
        try:
            client.create_inference_recommendations_job(**job(f"race-{i}"))
        except ClientError as exc:
            failures.append(exc.response["Error"]["Message"])

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(irsim.client(home=tmp_path).list_inference_recommendations_jobs()["InferenceRecommendationsJobs"]) == 8
