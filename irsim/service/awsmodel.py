"""botocore's SageMaker service model and AWS-shaped errors: the real parts irsim validates with."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import botocore.session
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator

SERVICE = "sagemaker"


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    """botocore's bundled SageMaker model (loaded once)."""
    return botocore.session.get_session().get_service_model(SERVICE)


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def client_error(code: str, message: str, operation_name: str, status: int = 400) -> ClientError:
    """A ClientError exactly as botocore raises it for an AWS error response."""
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation_name)


def validation_error(message: str, operation_name: str) -> ClientError:
    return client_error("ValidationException", message, operation_name)


def validate_params(operation_name: str, params: Mapping[str, Any]) -> None:
    """What the boto3 client checks before sending: raises ParamValidationError."""
    report = ParamValidator().validate(params, operation(operation_name).input_shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())
