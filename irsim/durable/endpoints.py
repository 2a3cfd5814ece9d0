"""Offline endpoint configurations and endpoints: what ``Model.deploy`` creates, and what a job's
InputConfig.Endpoints names. An endpoint is InService as soon as it is created (nothing is
provisioned) and gone as soon as it is deleted; it records its production variants as deployed
(instance type and count, or serverless size; model; the model's environment)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irsim.durable.resources import ModelOperations, account_of, echoed, method_names, shaped
from irsim.durable.resourcestore import ENDPOINT, ENDPOINT_CONFIG, Resource, ResourceExists, ResourceStore
from irsim.durable.store import now_utc
from irsim.service.awsmodel import validation_error, with_metadata
from irsim.service.constraints import validate_request
from irsim.service.request import DeployedEndpoint, DeployedVariant

#: The operations the resource mixins answer, by boto3 method name.
RESOURCE_METHODS = method_names(
    "CreateModel", "DescribeModel", "DeleteModel", "CreateModelPackageGroup", "DescribeModelPackageGroup",
    "CreateModelPackage", "DescribeModelPackage", "UpdateModelPackage", "CreateEndpointConfig",
    "DescribeEndpointConfig", "DeleteEndpointConfig", "CreateEndpoint", "DescribeEndpoint", "DeleteEndpoint",
    "UpdateEndpoint")
#: The member of an endpoint's stored document that keeps its variants as deployed (not in the AWS shape).
DEPLOYED = "Deployed"


class EndpointOperations(ModelOperations):
    """CreateEndpointConfig, DescribeEndpointConfig, DeleteEndpointConfig, CreateEndpoint,
    DescribeEndpoint and DeleteEndpoint, offline (with the model operations they rely on)."""

    def create_endpoint_config(self, **kwargs: Any) -> dict[str, Any]:
        """Each production variant names an existing model and exactly one of an instance type
        and count or a ServerlessConfig."""
        operation_name = "CreateEndpointConfig"
        validate_request(operation_name, kwargs)
        name = kwargs["EndpointConfigName"]
        account = None
        for i, variant in enumerate(kwargs["ProductionVariants"]):
            if "ModelName" not in variant:
                raise validation_error(f"ProductionVariants[{i}].ModelName is required.", operation_name)
            model = self.model(variant["ModelName"], operation_name)
            account = account or model.arn.split(":")[4]
            has_instances = "InstanceType" in variant and "InitialInstanceCount" in variant
            if has_instances == ("ServerlessConfig" in variant):
                raise validation_error(f"ProductionVariants[{i}] ({variant['VariantName']}) must have either "
                                       "InstanceType and InitialInstanceCount or ServerlessConfig.", operation_name)
        arn = self.arn(ENDPOINT_CONFIG, name, account or account_of(kwargs.get("ExecutionRoleArn")))
        created = now_utc()
        document = {**echoed(kwargs, "DescribeEndpointConfig"), "EndpointConfigArn": arn, "CreationTime": created}
        try:
            self.resources.insert(Resource(ENDPOINT_CONFIG, name, arn, document, created))
        except ResourceExists:
            raise validation_error(f'Cannot create already existing endpoint configuration "{arn}".',
                                   operation_name) from None
        return self.record_create_tags(kwargs, with_metadata({"EndpointConfigArn": arn}))

    def describe_endpoint_config(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DescribeEndpointConfig", kwargs)
        config = self._endpoint_config(kwargs["EndpointConfigName"], "DescribeEndpointConfig")
        return shaped(config.document, "DescribeEndpointConfig")

    def delete_endpoint_config(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DeleteEndpointConfig", kwargs)
        config = self._endpoint_config(kwargs["EndpointConfigName"], "DeleteEndpointConfig")
        self.resources.delete(ENDPOINT_CONFIG, config.name)
        return with_metadata({})

    def create_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        """The endpoint of an existing configuration, InService at once, its variants recorded
        as deployed (the configuration and models may change or go later; the endpoint stays)."""
        operation_name = "CreateEndpoint"
        validate_request(operation_name, kwargs)
        name = kwargs["EndpointName"]
        config = self._endpoint_config(kwargs["EndpointConfigName"], operation_name)
        arn = self.arn(ENDPOINT, name, config.arn.split(":")[4])
        created = now_utc()
        variants = [self._deployed_variant(variant, operation_name)
                    for variant in config.document["ProductionVariants"]]
        document = {"EndpointName": name, "EndpointArn": arn, "EndpointConfigName": config.name,
                    "ProductionVariants": [_variant_summary(v, created) for v in variants],
                    "EndpointStatus": "InService", "CreationTime": created, "LastModifiedTime": created,
                    DEPLOYED: variants}
        try:
            self.resources.insert(Resource(ENDPOINT, name, arn, document, created))
        except ResourceExists:
            raise validation_error(f'Cannot create already existing endpoint "{arn}".', operation_name) from None
        return self.record_create_tags(kwargs, with_metadata({"EndpointArn": arn}))

    def update_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        """The endpoint moves to another existing configuration at once (InService: nothing is
        provisioned), its variants recorded as deployed anew; its ARN and tags stay (the SDK's
        ``Predictor.update_endpoint``: tags listed, configuration copied, endpoint updated)."""
        operation_name = "UpdateEndpoint"
        validate_request(operation_name, kwargs)
        endpoint = self._endpoint(kwargs["EndpointName"], operation_name)
        config = self._endpoint_config(kwargs["EndpointConfigName"], operation_name)
        updated = now_utc()
        variants = [self._deployed_variant(variant, operation_name)
                    for variant in config.document["ProductionVariants"]]
        document = {**endpoint.document, "EndpointConfigName": config.name, "LastModifiedTime": updated,
                    "ProductionVariants": [_variant_summary(v, updated) for v in variants], DEPLOYED: variants}
        self.resources.replace(Resource(ENDPOINT, endpoint.name, endpoint.arn, document, endpoint.created))
        return with_metadata({"EndpointArn": endpoint.arn})

    def describe_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DescribeEndpoint", kwargs)
        return shaped(self._endpoint(kwargs["EndpointName"], "DescribeEndpoint").document, "DescribeEndpoint")

    def delete_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DeleteEndpoint", kwargs)
        endpoint = self._endpoint(kwargs["EndpointName"], "DeleteEndpoint")
        self.resources.delete(ENDPOINT, endpoint.name)
        return with_metadata({})

    def deployed_endpoints(self) -> dict[str, DeployedEndpoint]:
        """The existing endpoints a job may name, by name."""
        return deployed_endpoints(self.resources)

    # --- internals --------------------------------------------------------------------------

    def _endpoint_config(self, name: str, operation_name: str) -> Resource:
        config = self.resources.get(ENDPOINT_CONFIG, name)
        if config is None:
            raise validation_error(f'Could not find endpoint configuration "{name}".', operation_name)
        return config

    def _endpoint(self, name: str, operation_name: str) -> Resource:
        endpoint = self.resources.get(ENDPOINT, name)
        if endpoint is None:
            raise validation_error(f'Could not find endpoint "{name}".', operation_name)
        return endpoint

    def _deployed_variant(self, variant: Mapping[str, Any], operation_name: str) -> dict[str, Any]:
        """A production variant as deployed: its type and count or serverless size, its model,
        the model's image and environment."""
        model = self.model(variant["ModelName"], operation_name).document
        containers = [model["PrimaryContainer"]] if "PrimaryContainer" in model else model.get("Containers", [])
        environment: dict[str, str] = {}
        for container in containers:
            environment.update(container.get("Environment", {}))
        images = [self._image(container, operation_name) for container in containers]
        deployed = {"VariantName": variant["VariantName"], "ModelName": variant["ModelName"],
                    "Environment": environment, "Images": [image for image in images if image],
                    "InitialVariantWeight": variant.get("InitialVariantWeight", 1.0)}
        if "ServerlessConfig" in variant:
            deployed["ServerlessConfig"] = variant["ServerlessConfig"]
        else:
            deployed["InstanceType"] = variant["InstanceType"]
            deployed["InitialInstanceCount"] = variant["InitialInstanceCount"]
        return deployed

    def _image(self, container: Mapping[str, Any], operation_name: str) -> str | None:
        if "Image" in container:
            return container["Image"]
        if "ModelPackageName" in container:
            package = self.model_package(container["ModelPackageName"], operation_name).document
            package_containers = package.get("InferenceSpecification", {}).get("Containers", [])
            return package_containers[0].get("Image") if package_containers else None
        return None


def _variant_summary(variant: Mapping[str, Any], created: Any) -> dict[str, Any]:
    """DescribeEndpoint's ProductionVariantSummary of a variant as deployed."""
    summary: dict[str, Any] = {
        "VariantName": variant["VariantName"],
        "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image, "ResolutionTime": created}
                           for image in variant["Images"]],
        "CurrentWeight": variant["InitialVariantWeight"], "DesiredWeight": variant["InitialVariantWeight"]}
    if "ServerlessConfig" in variant:
        summary["CurrentServerlessConfig"] = summary["DesiredServerlessConfig"] = variant["ServerlessConfig"]
    else:
        summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = variant["InitialInstanceCount"]
    return summary


def deployed_endpoints(resources: ResourceStore) -> dict[str, DeployedEndpoint]:
    """Every stored endpoint as a job sees it: its variants' types and counts (a serverless
    variant has no type)."""
    return {endpoint.name: DeployedEndpoint(name=endpoint.name, variants=tuple(
        DeployedVariant(name=v["VariantName"], instance_type=v.get("InstanceType"),
                        instance_count=v.get("InitialInstanceCount", 0))
        for v in endpoint.document[DEPLOYED])) for endpoint in resources.all(ENDPOINT)}
