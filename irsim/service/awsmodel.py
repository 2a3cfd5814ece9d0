"""botocore's SageMaker service model and AWS-shaped errors: the real parts irsim validates with."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, cast

import botocore.session
from botocore.errorfactory import BaseClientExceptions, ClientExceptionsFactory
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import OperationModel, ServiceModel, StructureShape
from botocore.validate import ParamValidator

from irsim.errors import shortened
from pricing import PricingError
from simulator import InputError

SERVICE = "sagemaker"


def isolated_session() -> botocore.session.Session:
    """A botocore session the user's AWS configuration plays no part in: no profile (AWS_PROFILE
    is not read), no config or credentials file. Offline, only botocore's bundled data is read."""
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    for variable in ("config_file", "credentials_file"):
        session.set_config_variable(variable, os.devnull)
    return session


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    """botocore's bundled SageMaker model (loaded once)."""
    return isolated_session().get_service_model(SERVICE)


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def input_shape(operation_name: str) -> StructureShape:
    """The request shape of an operation (every operation irsim answers takes one)."""
    shape = operation(operation_name).input_shape
    assert shape is not None, f"{operation_name} takes no input"
    return shape


@lru_cache(maxsize=1)
def client_exceptions() -> BaseClientExceptions:
    """``client.exceptions`` as botocore builds it from the SageMaker model: ResourceNotFound,
    ResourceInUse, ResourceLimitExceeded, ConflictException, ResourceAlreadyExists (subclasses
    of ClientError), ``ClientError`` itself and ``from_code``."""
    return ClientExceptionsFactory().create_client_exceptions(service_model())


def _json_default(value: Any) -> Any:
    """The JSON protocol's timestamps: epoch seconds."""
    return value.timestamp() if isinstance(value, datetime) else str(value)


def response_metadata(body: Mapping[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    """ResponseMetadata as botocore parses it from a SageMaker (JSON protocol) response: a fresh
    RequestId, the status, the headers the service sends (request id, content type, the length
    of ``body`` as JSON, date) and no retries."""
    request_id = str(uuid.uuid4())
    length = len(json.dumps(body or {}, default=_json_default))
    headers = {"x-amzn-requestid": request_id, "content-type": "application/x-amz-json-1.1",
               "content-length": str(length), "date": format_datetime(datetime.now(UTC), usegmt=True)}
    return {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": headers, "RetryAttempts": 0}


def with_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    """A response as boto3 returns it: the members and the full ResponseMetadata."""
    return {**response, "ResponseMetadata": response_metadata(response)}


def client_error(code: str, message: str, operation_name: str, status: int = 400) -> ClientError:
    """The error botocore raises for an AWS error response: the modeled class of ``code`` from
    ``client.exceptions`` (ClientError itself for a code the model does not declare, such as
    ValidationException), with the Error, the full ResponseMetadata and, for a modeled error,
    its members (``Message``) at the top level as botocore's parser puts them."""
    message = shortened(message)  # a value echoed back stays a few hundred characters
    error = {"Code": code, "Message": message}
    body = {"__type": code, "message": message}
    response: Any = {"Error": error, "ResponseMetadata": response_metadata(body, status)}
    error_class = cast("type[ClientError]", client_exceptions().from_code(code))
    if error_class is not ClientError:
        shape = service_model().shape_for(code)
        if isinstance(shape, StructureShape) and "Message" in shape.members:
            response["Message"] = message
    return error_class(response, operation_name)


def validation_error(message: str, operation_name: str) -> ClientError:
    return client_error("ValidationException", message, operation_name)


def validate_params(operation_name: str, params: Mapping[str, Any]) -> None:
    """What the boto3 client checks before sending: raises ParamValidationError."""
    report = ParamValidator().validate(params, input_shape(operation_name))
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


@contextmanager
def client_errors(operation_name: str) -> Iterator[None]:
    """What the simulator or the pricing refuses (an instance type with no profile entry and no
    derivable one, a region without prices, a run over the work budget), raised as the
    service's ValidationException: a caller's ``except ClientError`` sees every refusal."""
    try:
        yield
    except (InputError, PricingError) as exc:
        raise validation_error(str(exc), operation_name) from None
