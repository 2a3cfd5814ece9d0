"""Offline models, model package groups and model packages: the SageMaker calls the SDK makes
around right-sizing (CreateModel before a job, DescribeModel / DescribeModelPackage /
UpdateModelPackage before a deploy), kept in the store's ``resources`` table.

Which models a job may name: one created with ``create_model`` (or a package created with
``create_model_package``) in this store, or the model the client's service profile describes.
The profile is the model irsim simulates, so a ModelName equal to its ``model`` name, or a
ModelPackageVersionArn in a package group of that name, is implied: registered in the store the
first time a job or a call names it (with placeholder image and artifact locations). That keeps
the bundled examples (model ``xgboost-demo``, the demo profile's) working; anything else is
refused as the service refuses it, with a ValidationException.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from botocore import xform_name
from botocore.model import StructureShape

from irsim.durable.profiles import ProfileRegistry
from irsim.durable.resourcestore import (
    IMPLIED,
    MODEL,
    MODEL_PACKAGE,
    MODEL_PACKAGE_GROUP,
    Resource,
    ResourceExists,
    ResourceStore,
)
from irsim.durable.store import JobStore, now_utc
from irsim.durable.tags import TagOperations
from irsim.service.awsmodel import operation, validation_error, with_metadata
from irsim.service.constraints import validate_request
from irsim.service.request import JobSpec, model_named
from simulator import Profile

#: The account of a resource whose request names no role (offline there is no caller identity).
DEFAULT_ACCOUNT = "000000000000"
#: A package ARN: region, account, then ``name`` or ``group/version``.
PACKAGE_ARN = re.compile(r"arn:aws[a-z\-]*:sagemaker:([a-z0-9\-]*):([0-9]{12}):model-package/([^/]+)(?:/([0-9]+))?")
NOT_ECHOED = ("Tags", "ClientToken")
IMPLIED_NOTE = ("Implied by irsim: the service profile '{model}' is the model this {what} stands for (first named "
                "by a job or a call); its image and artifact locations are placeholders.")


def account_of(role_arn: str | None) -> str:
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 4 and parts[4] else DEFAULT_ACCOUNT


def shaped(document: Mapping[str, Any], operation_name: str) -> dict[str, Any]:
    """A stored document as the operation returns it: only its output shape's members, with
    the full ResponseMetadata."""
    shape = operation(operation_name).output_shape
    assert isinstance(shape, StructureShape), f"{operation_name} returns a structure"
    return with_metadata({key: value for key, value in document.items() if key in shape.members})


def echoed(request: Mapping[str, Any], operation_name: str) -> dict[str, Any]:
    """The request members the Describe operation gives back as they were sent."""
    shape = operation(operation_name).output_shape
    assert isinstance(shape, StructureShape), f"{operation_name} returns a structure"
    return {key: value for key, value in request.items() if key in shape.members and key not in NOT_ECHOED}


def method_names(*operations: str) -> dict[str, str]:
    """boto3's method name of each operation, as botocore derives it."""
    return {xform_name(name): name for name in operations}


class ModelOperations(TagOperations):
    """CreateModel, DescribeModel, DeleteModel, CreateModelPackageGroup, DescribeModelPackageGroup,
    CreateModelPackage, DescribeModelPackage and UpdateModelPackage, offline (the Tags of each
    Create kept with the tag calls)."""

    store: JobStore
    region: str
    profile: Profile

    @cached_property
    def resources(self) -> ResourceStore:
        return ResourceStore(self.store)

    @cached_property
    def profiles(self) -> ProfileRegistry:
        return ProfileRegistry(self.store.home)

    def profile_of(self, model: str) -> Profile | None:
        """The profile that describes ``model``: the client's own, else the one registered for it."""
        return self.profile if model == self.profile.model else self.profiles.get(model)

    def arn(self, kind: str, name: str, account: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{account}:{kind}/{name.lower()}"

    # --- models ---------------------------------------------------------------------------

    def create_model(self, **kwargs: Any) -> dict[str, Any]:
        """Records the model; nothing is deployed. A container naming a ModelPackageName needs
        that package."""
        validate_request("CreateModel", kwargs)
        name = kwargs["ModelName"]
        arn = self.arn(MODEL, name, account_of(kwargs.get("ExecutionRoleArn")))
        for container in [kwargs.get("PrimaryContainer", {}), *kwargs.get("Containers", [])]:
            if "ModelPackageName" in container:
                self.model_package(container["ModelPackageName"], "CreateModel")
        document = {**echoed(kwargs, "DescribeModel"), "ModelArn": arn, "CreationTime": now_utc(),
                    "EnableNetworkIsolation": kwargs.get("EnableNetworkIsolation", False),
                    "DeploymentRecommendation": {"RecommendationStatus": "NOT_APPLICABLE",
                                                 "RealTimeInferenceRecommendations": []}}
        try:
            self.resources.insert(Resource(MODEL, name, arn, document, document["CreationTime"]))
        except ResourceExists:
            raise validation_error(f'Cannot create already existing model "{arn}".', "CreateModel") from None
        return self.record_create_tags(kwargs, with_metadata({"ModelArn": arn}))

    def describe_model(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DescribeModel", kwargs)
        return shaped(self.model(kwargs["ModelName"], "DescribeModel").document, "DescribeModel")

    def delete_model(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DeleteModel", kwargs)
        model = self.model(kwargs["ModelName"], "DeleteModel")
        self.resources.delete(MODEL, model.name)
        return with_metadata({})

    def model(self, name: str, operation_name: str, account: str = DEFAULT_ACCOUNT) -> Resource:
        """A stored model, or the profile's (implied on first use); else ValidationException."""
        stored = self.resources.get(MODEL, name)
        if stored is not None:
            return stored
        if self.profile_of(name) is None:
            raise validation_error(f'Could not find model "{self.arn(MODEL, name, account)}".', operation_name)
        arn = self.arn(MODEL, name, account)
        created = now_utc()
        document = {"ModelName": name, "ModelArn": arn, "CreationTime": created, "EnableNetworkIsolation": False,
                    IMPLIED: True,
                    "PrimaryContainer": _placeholder_container(name),
                    "DeploymentRecommendation": {"RecommendationStatus": "NOT_APPLICABLE",
                                                 "RealTimeInferenceRecommendations": []}}
        return self._insert_implied(Resource(MODEL, name, arn, document, created))

    def _insert_implied(self, resource: Resource) -> Resource:
        """Store an implied resource; another process may have stored it first."""
        with contextlib.suppress(ResourceExists):
            self.resources.insert(resource)
        stored = self.resources.get(resource.kind, resource.name)
        assert stored is not None, "a resource just stored is in the store"
        return stored

    # --- model package groups ----------------------------------------------------------

    def create_model_package_group(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("CreateModelPackageGroup", kwargs)
        name = kwargs["ModelPackageGroupName"]
        arn = self.arn(MODEL_PACKAGE_GROUP, name, DEFAULT_ACCOUNT)
        document = {**echoed(kwargs, "DescribeModelPackageGroup"), "ModelPackageGroupArn": arn,
                    "CreationTime": now_utc(), "CreatedBy": {}, "ModelPackageGroupStatus": "Completed"}
        try:
            self.resources.insert(Resource(MODEL_PACKAGE_GROUP, name, arn, document, document["CreationTime"]))
        except ResourceExists:
            raise validation_error(f"Model Package Group already exists: {arn}",
                                   "CreateModelPackageGroup") from None
        return self.record_create_tags(kwargs, with_metadata({"ModelPackageGroupArn": arn}))

    def describe_model_package_group(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DescribeModelPackageGroup", kwargs)
        group = self.package_group(kwargs["ModelPackageGroupName"], "DescribeModelPackageGroup")
        return shaped(group.document, "DescribeModelPackageGroup")

    def package_group(self, name: str, operation_name: str) -> Resource:
        """A stored group, or the profile's (implied); else ValidationException."""
        stored = self.resources.get(MODEL_PACKAGE_GROUP, name)
        if stored is not None:
            return stored
        if self.profile_of(name) is None:
            raise validation_error(f"ModelPackageGroup {name} does not exist.", operation_name)
        return self._insert_implied(self._implied_group(name))

    def _implied_group(self, name: str) -> Resource:
        arn = self.arn(MODEL_PACKAGE_GROUP, name, DEFAULT_ACCOUNT)
        created = now_utc()
        document = {"ModelPackageGroupName": name, "ModelPackageGroupArn": arn, "CreationTime": created, IMPLIED: True,
                    "CreatedBy": {}, "ModelPackageGroupStatus": "Completed",
                    "ModelPackageGroupDescription": IMPLIED_NOTE.format(model=name, what="group")[:1024]}
        return Resource(MODEL_PACKAGE_GROUP, name, arn, document, created)

    # --- model packages ------------------------------------------------------------------

    def create_model_package(self, **kwargs: Any) -> dict[str, Any]:
        """An unversioned package (ModelPackageName) or the next version of a group
        (ModelPackageGroupName, which must exist), ModelPackageStatus Completed at once."""
        validate_request("CreateModelPackage", kwargs)
        if ("ModelPackageName" in kwargs) == ("ModelPackageGroupName" in kwargs):
            raise validation_error("Exactly one of ModelPackageName and ModelPackageGroupName must be given.",
                                   "CreateModelPackage")
        created = now_utc()
        document = {**echoed(kwargs, "DescribeModelPackage"), "CreationTime": created, "LastModifiedTime": created,
                    "ModelPackageStatus": "Completed", "CertifyForMarketplace": kwargs.get("CertifyForMarketplace",
                                                                                           False),
                    "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []}}
        if "ModelPackageName" in kwargs:
            name = kwargs["ModelPackageName"]
            arn = self.arn(MODEL_PACKAGE, name, DEFAULT_ACCOUNT)
            try:
                self.resources.insert(Resource(MODEL_PACKAGE, name, arn, {**document, "ModelPackageArn": arn}, created))
            except ResourceExists:
                raise validation_error(f"ModelPackage already exists: {arn}", "CreateModelPackage") from None
            return self.record_create_tags(kwargs, with_metadata({"ModelPackageArn": arn}))
        group = self.package_group(kwargs["ModelPackageGroupName"], "CreateModelPackage").name
        document.setdefault("ModelApprovalStatus", "PendingManualApproval")

        def build(version: int) -> Resource:
            arn = f"{self.arn(MODEL_PACKAGE, group, DEFAULT_ACCOUNT)}/{version}"
            return Resource(MODEL_PACKAGE, f"{group}/{version}", arn,
                            {**document, "ModelPackageName": group, "ModelPackageVersion": version,
                             "ModelPackageArn": arn}, created)
        arn = self.resources.insert_version(group, build).arn
        return self.record_create_tags(kwargs, with_metadata({"ModelPackageArn": arn}))

    def describe_model_package(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DescribeModelPackage", kwargs)
        return shaped(self.model_package(kwargs["ModelPackageName"], "DescribeModelPackage").document,
                      "DescribeModelPackage")

    def update_model_package(self, **kwargs: Any) -> dict[str, Any]:
        """The approval status and description and the customer metadata of a package version
        (the SDK approves a versioned package before it deploys it)."""
        validate_request("UpdateModelPackage", kwargs)
        package = self.model_package(kwargs["ModelPackageArn"], "UpdateModelPackage")
        document = dict(package.document)
        for key in ("ModelApprovalStatus", "ApprovalDescription"):
            if key in kwargs:
                document[key] = kwargs[key]
        metadata = {**document.get("CustomerMetadataProperties", {}), **kwargs.get("CustomerMetadataProperties", {})}
        for key in kwargs.get("CustomerMetadataPropertiesToRemove", []):
            metadata.pop(key, None)
        if metadata:
            document["CustomerMetadataProperties"] = metadata
        document["LastModifiedTime"] = now_utc()
        self.resources.replace(Resource(package.kind, package.name, package.arn, document, package.created))
        return with_metadata({"ModelPackageArn": package.arn})

    def model_package(self, name_or_arn: str, operation_name: str) -> Resource:
        """A package by name (``name`` or ``group/version``) or ARN: stored, or a version in the
        profile's group when that group has no stored package (implied); else ValidationException."""
        match = PACKAGE_ARN.fullmatch(name_or_arn)
        stored = (self.resources.by_arn(MODEL_PACKAGE, name_or_arn.lower()) if match
                  else self.resources.get(MODEL_PACKAGE, name_or_arn))
        if stored is not None:
            return stored
        if match:
            group, version = match.group(3), match.group(4) or ""
        else:
            group, _, version = name_or_arn.partition("/")
        profile = self.profile_of(group) if version.isdigit() else None
        implied = None if profile is None else self.resources.insert_implied_package(
            self._implied_group(group), self._implied_package(profile, group, int(version), name_or_arn, match))
        if implied is None:
            raise validation_error(f"ModelPackage {name_or_arn} does not exist.", operation_name)
        return implied

    def _implied_package(self, profile: Profile, group: str, version: int, name_or_arn: str,
                         match: re.Match[str] | None) -> Resource:
        """The package a profiled group stands for, version ``version`` (not stored here)."""
        arn = (name_or_arn if match else f"{self.arn(MODEL_PACKAGE, group, DEFAULT_ACCOUNT)}/{version}").lower()
        created = now_utc()
        document: dict[str, Any] = {
            "ModelPackageName": group, "ModelPackageGroupName": group, "ModelPackageVersion": version,
            "ModelPackageArn": arn, "CreationTime": created, "LastModifiedTime": created, IMPLIED: True,
            "ModelPackageDescription": IMPLIED_NOTE.format(model=group, what="package")[:1024],
            "InferenceSpecification": {"Containers": [_placeholder_container(group)],
                                       "SupportedContentTypes": ["text/csv"],
                                       "SupportedResponseMIMETypes": ["text/csv"],
                                       "SupportedRealtimeInferenceInstanceTypes": sorted(profile.instances)},
            "ModelPackageStatus": "Completed", "ModelApprovalStatus": "Approved",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "CertifyForMarketplace": False}
        return Resource(MODEL_PACKAGE, f"{group}/{version}", arn, document, created)

    # --- jobs -----------------------------------------------------------------------------

    def job_profile(self, job: JobSpec) -> Profile:
        """The profile a job is simulated on, once its model is known to exist: the profile of
        the model it names (ModelName; or the group of ModelPackageVersionArn, which must be a
        versioned package ARN in this client's region, with the InferenceSpecificationNames the
        job gives). A model no profile describes is a ValidationException saying how to get one."""
        config = job.request["InputConfig"]
        operation_name = "CreateInferenceRecommendationsJob"
        candidates = [model_named(job.request)]
        if "ModelName" in config:
            model = self.model(config["ModelName"], operation_name, job.account)
            packages = [c["ModelPackageName"] for c in _containers(model.document) if "ModelPackageName" in c]
            candidates += [self.model_package(name, operation_name).name.split("/")[0] for name in packages]
            package = None
        else:
            package = self.model_package(self._versioned_arn(config["ModelPackageVersionArn"]), operation_name)
        _check_specification_names(job, package)
        for name in candidates:
            profile = self.profile_of(name)
            if profile is not None:
                return profile
        raise validation_error(f"No service profile describes model {candidates[0]}: irsim simulates a model on its "
                               f"own profile, so {self.profiles.how_to_get_one(candidates[0])}.", operation_name)

    def _versioned_arn(self, arn: str) -> str:
        """ModelPackageVersionArn: "The Amazon Resource Name (ARN) of a versioned model package",
        in the client's region (the service: "ARN should be scoped to correct region")."""
        match = PACKAGE_ARN.fullmatch(arn)
        if match is None or match.group(4) is None:
            raise validation_error(f"ModelPackageVersionArn {arn} is not the ARN of a versioned model package "
                                   "(arn:aws:sagemaker:REGION:ACCOUNT:model-package/GROUP/VERSION).",
                                   "CreateInferenceRecommendationsJob")
        if match.group(1) != self.region:
            raise validation_error(f"ARN should be scoped to correct region: {self.region}",
                                   "CreateInferenceRecommendationsJob")
        return arn


def _containers(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [document["PrimaryContainer"]] if "PrimaryContainer" in document else list(document.get("Containers", []))


def _check_specification_names(job: JobSpec, package: Resource | None) -> None:
    """Each EndpointConfiguration's InferenceSpecificationName ("The inference specification name
    in the model package version") names one of the package's AdditionalInferenceSpecifications."""
    names = {spec.inference_specification_name for spec in job.benchmarks} - {None}
    if not names:
        return
    if package is None:  # a ModelName: no package to check against (the request's warnings say so)
        return
    known = {spec.get("Name") for spec in package.document.get("AdditionalInferenceSpecifications", [])}
    for name in sorted(str(n) for n in names - known):
        raise validation_error(f"Inference specification {name} does not exist in model package {package.arn} "
                               f"(it has {', '.join(sorted(str(k) for k in known)) or 'none'}).",
                               "CreateInferenceRecommendationsJob")


def _placeholder_container(model: str) -> dict[str, Any]:
    return {"Image": f"irsim.offline/{model}:latest", "ModelDataUrl": f"s3://irsim-offline/{model}/model.tar.gz"}

