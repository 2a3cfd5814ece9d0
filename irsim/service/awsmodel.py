"""botocore's SageMaker service model and AWS-shaped errors: the real parts irsim validates with."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import OperationModel, ServiceModel, StructureShape
from botocore.validate import ParamValidator

SERVICE = "sagemaker"


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    """botocore's bundled SageMaker model (loaded once)."""
    return botocore.session.get_session().get_service_model(SERVICE)


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def input_shape(operation_name: str) -> StructureShape:
    """The request shape of an operation (every operation irsim answers takes one)."""
    shape = operation(operation_name).input_shape
    assert shape is not None, f"{operation_name} takes no input"
    return shape


def client_error(code: str, message: str, operation_name: str, status: int = 400) -> ClientError:
    """A ClientError as botocore raises it for an AWS error response: the Error code and
    message, and response metadata with a fresh RequestId (no host, headers or retries offline)."""
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"RequestId": str(uuid.uuid4()), "HostId": "", "HTTPStatusCode": status,
                                             "HTTPHeaders": {}, "RetryAttempts": 0}}, operation_name)


def validation_error(message: str, operation_name: str) -> ClientError:
    return client_error("ValidationException", message, operation_name)


def validate_params(operation_name: str, params: Mapping[str, Any]) -> None:
    """What the boto3 client checks before sending: raises ParamValidationError."""
    report = ParamValidator().validate(params, input_shape(operation_name))
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())
