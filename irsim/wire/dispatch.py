"""The one dispatcher of the wire: an awsJson1.1 request (``X-Amz-Target: SageMaker.<Operation>``
and a JSON body) in, the offline client's answer out as the service sends it (status, JSON body,
headers). botocore's own protocol code reads and writes the bodies: its JSON parser turns the
request's members into Python values on the operation's input shape (timestamps become datetimes),
its JSON serializer writes the answer on the output shape. ``irsim serve`` and
``irsim.mock_sagemaker()`` both call it, so a request is answered the same way either way.

Errors have the service's shape: ``{"__type": code, "message": text}``, the HTTP status AWS uses
(400 for the caller's errors, 500 for the service's own) and an ``x-amzn-RequestId`` header.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import OperationModel
from botocore.parsers import JSONParser
from botocore.serialize import JSONSerializer

from irsim.durable.client import OfflineSageMakerClient
from irsim.durable.store import StoreError
from irsim.errors import UserError
from irsim.service.awsmodel import operation, service_model
from pricing import PricingError
from simulator import InputError

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
#: The content types an awsJson request may carry (the SDKs send 1.1 for SageMaker).
JSON_CONTENT_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0")
TARGET_PREFIX = "SageMaker."
#: The calls that never create anything (the polling path): they run at once, in parallel. Every
#: other call takes the dispatcher's lock, one at a time (the client's own writes are
#: transactions, so this only keeps a burst of creates from contending for the store).
CONCURRENT = frozenset({"DescribeInferenceRecommendationsJob", "ListInferenceRecommendationsJobs",
                        "ListInferenceRecommendationsJobSteps", "GetScalingConfigurationRecommendation",
                        "DescribeEndpoint", "DescribeEndpointConfig", "ListTags"})
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WireAnswer:
    """What goes back on the wire: the HTTP status, the body and the headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def request_id() -> str:
    return str(uuid.uuid4())


def json_error(code: str, message: str, status: int = 400) -> WireAnswer:
    """An awsJson error as AWS sends it."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return WireAnswer(status, body, {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": request_id()})


def unknown_operation(what: str) -> WireAnswer:
    return json_error("UnknownOperationException", what)


class SageMakerWire:
    """Every operation the offline client answers (the tag calls included), on the wire."""

    def __init__(self, client: OfflineSageMakerClient) -> None:
        self.client = client
        self.methods: dict[str, Callable[..., dict[str, Any]]] = {
            name: getattr(client, method) for method, name in client.meta.method_to_api_mapping.items()}
        self._parser = JSONParser()
        self._serializer = JSONSerializer()
        self._one_at_a_time = threading.Lock()

    @property
    def operations(self) -> list[str]:
        return sorted(self.methods)

    def answer_request(self, target: str | None, content_type: str | None, body: bytes) -> WireAnswer:
        """A request as it arrives: its X-Amz-Target and Content-Type headers and its body."""
        media_type = (content_type or "").split(";")[0].strip().lower()
        if media_type not in JSON_CONTENT_TYPES:
            return unknown_operation(f"Content-Type {content_type or '(none)'!s} is not an AWS JSON protocol type "
                                     f"({JSON_CONTENT_TYPE} for SageMaker).")
        if not target or not target.startswith(TARGET_PREFIX):
            return unknown_operation(f"X-Amz-Target {target or '(none)'!s} names no SageMaker operation.")
        return self.answer(target.removeprefix(TARGET_PREFIX), body)

    def answer(self, operation_name: str, body: bytes) -> WireAnswer:
        """One operation's JSON body in, the service's answer out (never an exception)."""
        if operation_name not in self.methods:
            return unknown_operation(f"irsim does not answer SageMaker.{operation_name} offline; it answers "
                                     f"{', '.join(self.operations)}.")
        try:
            document = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            return json_error("SerializationException", f"The request body is not JSON: {exc}")
        if not isinstance(document, dict):
            return json_error("SerializationException", "The request body must be a JSON object.")
        model = operation(operation_name)
        try:
            params = self._params(model, document)
            with contextlib.nullcontext() if operation_name in CONCURRENT else self._one_at_a_time:
                response = self.methods[operation_name](**params)
            return self._success(model, response)
        except Exception as exc:  # every failure is an answer: the server keeps serving
            return _error_answer(exc, operation_name)

    def _params(self, model: OperationModel, document: dict[str, Any]) -> dict[str, Any]:
        """The request's members as Python values, read by botocore's JSON parser."""
        if model.input_shape is None:
            return {}
        raw = {"body": json.dumps(document).encode(), "headers": {}, "status_code": 200}
        parsed = self._parser.parse(raw, model.input_shape)
        parsed.pop("ResponseMetadata", None)
        return parsed

    def _success(self, model: OperationModel, response: Mapping[str, Any]) -> WireAnswer:
        """The response written by botocore's JSON serializer on the output shape."""
        members = {key: value for key, value in response.items() if key != "ResponseMetadata"}
        body = b"{}"
        if model.output_shape is not None:
            body = self._serializer.serialize_to_request(members, _output_as_input(model))["body"]
        rid = response.get("ResponseMetadata", {}).get("RequestId") or request_id()
        return WireAnswer(200, body, {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": rid})


def _output_as_input(model: OperationModel) -> OperationModel:
    """An operation model whose input is ``model``'s output shape: what botocore's request
    serializer needs to write a response body in the same protocol."""
    assert model.output_shape is not None
    spec = {"name": model.name, "http": model.http, "input": {"shape": model.output_shape.name}}
    return OperationModel(spec, service_model(), model.name)


def _error_answer(exc: Exception, operation_name: str) -> WireAnswer:
    """An exception of the offline client as the service's error."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return json_error(error.get("Code", "ValidationException"), error.get("Message", str(exc)), status)
    if isinstance(exc, ParamValidationError):
        report = exc.kwargs.get("report", str(exc))
        lines = [line.strip() for line in str(report).splitlines() if line.strip()]
        code = "SerializationException" if all(line.startswith("Invalid type") for line in lines) \
            else "ValidationException"
        return json_error(code, "; ".join(lines))
    if isinstance(exc, StoreError):
        log.error("%s: the job store failed: %s", operation_name, exc)
        return json_error("InternalFailure", str(exc), 500)
    if isinstance(exc, (UserError, InputError, PricingError)):
        return json_error("ValidationException", str(exc))
    log.exception("%s failed inside irsim", operation_name)
    return json_error("InternalFailure", f"irsim failed to answer {operation_name}: {type(exc).__name__}: {exc}",
                      500)
