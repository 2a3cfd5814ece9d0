"""The SageMaker Python SDK (v2) offline: ``irsim.sagemaker_session()`` is a ``sagemaker.Session``
whose SageMaker client is irsim's offline one and whose boto session answers the other clients
the SDK reaches on the right-size and deploy paths without AWS and without credentials.

Every other client of that boto session is a real botocore client (its parameters validated by
botocore, its errors its own modeled classes) that never sends a request: CloudWatch Logs'
GetLogEvents is answered from the job store (the Verbose right-size path reads the job's log
stream); any other call fails at once with a ClientError saying it is not simulated."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.model import OperationModel

from irsim.durable.client import OfflineSageMakerClient, client
from irsim.durable.logs import LogsError, get_log_events
from irsim.errors import UserError
from irsim.service.awsmodel import isolated_session, response_metadata
from simulator import Profile

#: How long ``create_inference_recommendations_job`` waits for the job under the SDK, which
#: polls slowly (the job itself takes seconds).
SDK_CREATE_WAIT_S = 600.0
#: Where the before-parameter-build handler leaves a call's parameters for the before-call one.
PARAMS_KEY = "irsim_params"
NOT_SIMULATED = "OfflineOperationNotSupported"


def sagemaker_session(profile: Profile | str | Path | dict[str, Any] | None = None, region: str = "us-east-1",
                      seed: int | None = 0, home: str | Path | None = None) -> Any:
    """A ``sagemaker.Session`` wired to ``irsim.client(home, profile, seed, region)``: jobs the
    SDK creates are simulated (``create`` waits for them, so its first look finds them done),
    models and endpoints are recorded offline, and ``right_size()`` with its default
    ``log_level="Verbose"`` reads the job's log stream offline. Needs the ``sdk`` extra."""
    try:
        import sagemaker  # the optional SageMaker Python SDK: imported only where it is needed
    except ImportError:
        raise UserError("irsim.sagemaker_session needs the SageMaker Python SDK v2: "
                        "pip install 'irsim[sdk]' (or 'sagemaker>=2.200,<3')") from None
    offline = client(home=home, profile=profile, seed=seed, region=region, create_wait_s=SDK_CREATE_WAIT_S)
    return sagemaker.Session(boto_session=OfflineBotoSession(offline), sagemaker_client=offline)


class OfflineBotoSession(boto3.Session):
    """A boto3 Session with placeholder credentials and no shared configuration files, whose
    ``client("sagemaker")`` is the offline client and whose other clients never send."""

    def __init__(self, sagemaker_client: OfflineSageMakerClient) -> None:
        super().__init__(aws_access_key_id="irsim-offline", aws_secret_access_key="irsim-offline",
                         region_name=sagemaker_client.region, botocore_session=isolated_session())
        self.sagemaker_client = sagemaker_client
        self.events.register("before-parameter-build", _keep_params)
        self.events.register("before-call", cast("Callable[..., None]", self._answer))

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if service_name == "sagemaker":
            return self.sagemaker_client
        session: Any = super()  # boto3's overloads (when stubs are installed) name every service
        return session.client(service_name, *args, **kwargs)

    def _answer(self, model: OperationModel, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        """The answer to every call of this session's botocore clients (none is sent)."""
        service, name = model.service_model.service_name, model.name
        params = context.get(PARAMS_KEY, {})
        try:
            if (service, name) == ("logs", "GetLogEvents"):
                return _response(200, get_log_events(self.sagemaker_client.store, params))
            raise LogsError(NOT_SIMULATED, f"irsim answers {service}.{name} offline only where the SageMaker SDK "
                                           "needs it; this call is not simulated and nothing was sent to AWS")
        except LogsError as error:
            return _response(400, {"Error": {"Code": error.code, "Message": error.message},
                                   "message": error.message})


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[PARAMS_KEY] = dict(params)


def _response(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    body = {key: value for key, value in parsed.items() if key != "Error"}
    response = AWSResponse(cast(str, None), status, HTTPHeaders(), None)  # no URL: nothing was sent
    return response, {**parsed, "ResponseMetadata": response_metadata(body, status)}
