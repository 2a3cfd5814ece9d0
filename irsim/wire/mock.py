"""``irsim.mock_sagemaker()``: inside it, every botocore client of SageMaker or SageMaker Runtime
created anywhere (the user's code, boto3's default session, the SageMaker SDK) is answered
offline at the HTTP layer, in the style of moto's ``mock_aws``: a handler of botocore's
``before-send`` event takes the request botocore serialized and returns the response the wire
dispatcher wrote, which botocore then parses as it parses AWS's. Nothing reaches the network.

How it reaches every client: while the mock is active, ``ClientCreator.create_client`` (the one
place every botocore session makes its clients) registers the handler first on each new SageMaker
or SageMaker Runtime client; ``attach(client)`` does it for a client made before. ``boto3``'s
default session is set aside (as moto does) and placeholder credentials are set, so no real
credentials are read. Any request that no handler answered is refused before it is sent
(``Endpoint._send``), unless it is addressed to loopback (a local emulator); S3 or IAM may come
from moto's ``mock_aws`` around or inside it, whose handler runs after irsim's.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import ContextDecorator, ExitStack
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient, ClientCreator
from botocore.endpoint import Endpoint
from botocore.exceptions import BotoCoreError

from irsim.durable.client import OfflineSageMakerClient
from irsim.durable.client import client as offline_client
from irsim.wire.addresses import INVOCATIONS, is_loopback
from irsim.wire.dispatch import SageMakerWire, WireAnswer
from irsim.wire.runtime import RuntimeOptions, RuntimeStandIn, runtime_error
from simulator import Profile

SAGEMAKER, RUNTIME = "sagemaker", "sagemaker-runtime"
#: Where an answered request is said to have gone: handlers after irsim's (moto's) leave it alone.
ANSWERED_URL = "http://irsim.offline/"
PLACEHOLDER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "irsim-offline", "AWS_SECRET_ACCESS_KEY": "irsim-offline"}
REMOVED_CREDENTIALS = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class NotSentOffline(BotoCoreError):
    """A request inside ``mock_sagemaker`` that nothing offline answered: it was not sent."""

    fmt = ("irsim.mock_sagemaker answers SageMaker and SageMaker Runtime offline; this request to {url} was not "
           "sent (nothing reaches the network inside the mock: use moto's mock_aws for other services)")


class _Body(io.BytesIO):
    """A response body as botocore reads one from urllib3 (``stream()`` and ``read()``)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


class mock_sagemaker(ContextDecorator):  # named as moto's mock_aws, used the same way
    """Answer SageMaker and SageMaker Runtime offline, as a context manager or a decorator.

    Jobs live under ``home`` (default: a new temporary folder, kept so that jobs still running
    can finish), are simulated on ``profile`` (the demo profile by default) with ``seed``, and
    are priced in ``region``; ``runtime`` says how InvokeEndpoint answers. ``client`` is the
    offline client that answers (e.g. to wait for a job)."""

    def __init__(self, profile: Profile | str | Path | dict[str, Any] | None = None, home: str | Path | None = None,
                 seed: int = 0, region: str = "us-east-1", runtime: RuntimeOptions | None = None) -> None:
        self.profile, self.home, self.seed, self.region = profile, home, seed, region
        self.runtime_options = runtime or RuntimeOptions(seed=seed)
        self._stack: ExitStack | None = None
        self._client: OfflineSageMakerClient | None = None
        self._wire: SageMakerWire | None = None
        self._runtime: RuntimeStandIn | None = None

    @property
    def client(self) -> OfflineSageMakerClient:
        if self._client is None:
            raise RuntimeError("mock_sagemaker is not active: use it in a with block or as a decorator")
        return self._client

    def __enter__(self) -> mock_sagemaker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Begin answering (a mock already started is left as it is)."""
        if self._stack is not None:
            return
        home = self.home if self.home is not None else tempfile.mkdtemp(prefix="irsim-mock-")
        self._client = offline_client(home=home, profile=self.profile, seed=self.seed, region=self.region)
        self._wire = SageMakerWire(self._client)
        self._runtime = RuntimeStandIn(self._client, self.runtime_options)
        stack = ExitStack()
        original_create = ClientCreator.create_client
        original_send = Endpoint._send

        def create_client(creator: ClientCreator, *args: Any, **kwargs: Any) -> BaseClient:
            made = original_create(creator, *args, **kwargs)
            self.attach(made)
            return made

        def send(endpoint: Endpoint, request: AWSPreparedRequest) -> Any:
            host = urlsplit(request.url).hostname or ""
            if not is_loopback(host):
                raise NotSentOffline(url=request.url)
            return original_send(endpoint, request)

        stack.enter_context(mock.patch.object(ClientCreator, "create_client", create_client))
        stack.enter_context(mock.patch.object(Endpoint, "_send", send))
        stack.enter_context(mock.patch("boto3.DEFAULT_SESSION", None))
        environment = {**os.environ, **PLACEHOLDER_CREDENTIALS}
        for name in REMOVED_CREDENTIALS:
            environment.pop(name, None)
        if not (os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")):
            environment["AWS_DEFAULT_REGION"] = self.region
        stack.enter_context(mock.patch.dict(os.environ, environment, clear=True))
        self._stack = stack

    def stop(self) -> None:
        """Stop answering; clients made inside send nothing more through irsim. Running jobs
        go on in their workers."""
        if self._stack is not None:
            self._stack.close()
        self._stack = None

    def attach(self, client: BaseClient) -> None:
        """Answer ``client`` (made before the mock started) offline too; other services' clients
        are left alone."""
        service = client.meta.service_model.service_name
        if service == SAGEMAKER:
            client.meta.events.register_first("before-send.sagemaker", self._answer_sagemaker,
                                              unique_id=f"irsim-mock-{id(self)}-sagemaker")
        elif service == RUNTIME:
            client.meta.events.register_first("before-send.sagemaker-runtime", self._answer_runtime,
                                              unique_id=f"irsim-mock-{id(self)}-runtime")

    def _answer_sagemaker(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if self._stack is None or self._wire is None:
            return None
        answer = self._wire.answer_request(_header(request, "X-Amz-Target"), _header(request, "Content-Type"),
                                           _body(request))
        return _response(request, answer)

    def _answer_runtime(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if self._stack is None or self._runtime is None:
            return None
        invocation = INVOCATIONS.match(urlsplit(request.url).path)
        if invocation is None:
            answer = runtime_error("UnknownOperationException", f"irsim answers InvokeEndpoint only, not {request.url}")
        else:
            headers = {key: _text(value) for key, value in request.headers.items()}
            answer = self._runtime.invoke(unquote(invocation.group(1)), _body(request), headers)
        return _response(request, answer)


def _response(request: AWSPreparedRequest, answer: WireAnswer) -> AWSResponse:
    """The answer as botocore receives a response; the request is marked answered."""
    url = request.url
    request.url = ANSWERED_URL
    headers = {**answer.headers, "Content-Length": str(len(answer.body))}
    return AWSResponse(url, answer.status, headers, _Body(answer.body))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _header(request: AWSPreparedRequest, name: str) -> str | None:
    value = request.headers.get(name)
    return None if value is None else _text(value)


def _body(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    data = body.read()
    if hasattr(body, "seek"):
        body.seek(0)
    return data if isinstance(data, bytes) else data.encode()
