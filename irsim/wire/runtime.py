"""SageMaker Runtime's InvokeEndpoint on an offline endpoint (rest-json:
``POST /endpoints/NAME/invocations``), a stand-in for the pipelines that call an endpoint: it runs
no model. It answers with the body the user configured (by default a small JSON naming the
endpoint and the variant) and, when asked, only after the latency that request would see at the
endpoint's deployed instance type and count.

That latency is simulated on the service profile in real time: the endpoint has
``count x workers`` model-server slots (one pool: the router is not modelled), a request takes a
free slot for one draw of the service time (the profile's entry for the type, derived by the
scaling rules when not measured, under the model's environment), then pays one draw of the
profile's overhead. A lone request sees no queue; requests sent at once queue for the slots as
they would on the endpoint. A serverless variant serves MaxConcurrency at a time with the
serverless service time at its memory size (warm: no cold start). Every draw comes from one
numpy Generator seeded with ``seed``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration.transfer import complete_profile
from irsim.durable.client import OfflineSageMakerClient
from irsim.durable.endpoints import DEPLOYED
from irsim.durable.resources import account_of
from irsim.durable.resourcestore import ENDPOINT
from irsim.wire.dispatch import WireAnswer, request_id
from pricing import default_catalogue
from simulator import Profile
from simulator.distributions import Distribution

LATENCY_MODES = ("none", "simulated")
VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
TARGET_VARIANT_HEADER = "X-Amzn-SageMaker-Target-Variant"
#: SageMaker Runtime's limit on an InvokeEndpoint payload (the API reference: 6 MB).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class RuntimeOptions:
    """What the stand-in answers: ``body`` (None: a small JSON naming endpoint and variant) of
    ``content_type``, after the simulated latency when ``latency`` is "simulated"."""

    body: bytes | None = None
    content_type: str = "application/json"
    latency: str = "none"
    seed: int = 0


@dataclass(frozen=True)
class Service:
    """How one variant serves a request: ``slots`` at once, each for a draw of ``service``."""

    slots: int
    service: Distribution | None


def runtime_error(code: str, message: str, status: int = 400) -> WireAnswer:
    """SageMaker Runtime's (rest-json) error: the code in x-amzn-ErrorType, the message in the body."""
    return WireAnswer(status, json.dumps({"Message": message}).encode(),
                      {"Content-Type": "application/json", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id()})


class RuntimeStandIn:
    """InvokeEndpoint against the endpoints of one offline client's store."""

    def __init__(self, client: OfflineSageMakerClient, options: RuntimeOptions | None = None) -> None:
        self.client, self.options = client, options or RuntimeOptions()
        self._rng = np.random.default_rng(self.options.seed)
        self._lock = threading.Lock()
        self._served: dict[tuple[str, str, str], tuple[threading.Semaphore, Service]] = {}

    def invoke(self, endpoint_name: str, body: bytes, headers: Mapping[str, str]) -> WireAnswer:
        """One InvokeEndpoint request: the endpoint's name (from the path), body and headers."""
        endpoint = self.client.resources.get(ENDPOINT, endpoint_name)
        if endpoint is None:
            account = account_of(None)
            return runtime_error("ValidationError", f"Endpoint {endpoint_name} of account {account} not found.")
        if len(body) > MAX_PAYLOAD_BYTES:
            return runtime_error("ValidationError", f"Request payload of {len(body)} bytes exceeds the "
                                                    f"{MAX_PAYLOAD_BYTES}-byte InvokeEndpoint limit.")
        variants = endpoint.document[DEPLOYED]
        wanted = _header(headers, TARGET_VARIANT_HEADER)
        if wanted is not None:
            chosen = [v for v in variants if v["VariantName"] == wanted]
            if not chosen:
                return runtime_error("ValidationError", f"Variant {wanted} not found for endpoint {endpoint_name}.")
            variant = chosen[0]
        else:
            variant = self._weighted(variants)
        if self.options.latency == "simulated":
            self._wait(endpoint.arn, variant)
        return self._answer(endpoint_name, variant["VariantName"], headers)

    def _answer(self, endpoint_name: str, variant_name: str, headers: Mapping[str, str]) -> WireAnswer:
        body = self.options.body
        content_type = self.options.content_type
        if body is None:
            body = json.dumps({"EndpointName": endpoint_name, "VariantName": variant_name,
                               "irsim": "offline stand-in: no model ran"}).encode()
            content_type = "application/json"
        return WireAnswer(200, body, {"Content-Type": content_type, VARIANT_HEADER: variant_name,
                                      "x-amzn-RequestId": request_id()})

    def _weighted(self, variants: list[dict[str, Any]]) -> dict[str, Any]:
        """A variant drawn by InitialVariantWeight, as the endpoint splits traffic."""
        weights = np.array([float(v.get("InitialVariantWeight", 1.0)) for v in variants])
        if len(variants) == 1 or weights.sum() <= 0:
            return variants[0]
        with self._lock:
            index = int(self._rng.choice(len(variants), p=weights / weights.sum()))
        return variants[index]

    def _wait(self, endpoint_arn: str, variant: Mapping[str, Any]) -> None:
        """Hold one of the variant's slots for a service time, then pay the overhead."""
        key = (endpoint_arn, variant["VariantName"], str(variant.get("InstanceType")))
        with self._lock:
            if key not in self._served:
                service = service_of(self.client.profile, variant)
                self._served[key] = (threading.Semaphore(service.slots), service)
            slots, service = self._served[key]
        with slots:
            time.sleep(self._draw(service.service))
        time.sleep(self._draw(self.client.profile.overhead))

    def _draw(self, distribution: Distribution | None) -> float:
        if distribution is None:
            return 0.0
        with self._lock:
            return float(distribution.sample_s(self._rng, 1)[0])


def service_of(profile: Profile, variant: Mapping[str, Any]) -> Service:
    """The slots and service time of a variant as deployed (see the module's docstring)."""
    if "ServerlessConfig" in variant:
        config = variant["ServerlessConfig"]
        if profile.serverless is None:
            return Service(slots=int(config.get("MaxConcurrency", 1)), service=None)
        return Service(slots=int(config.get("MaxConcurrency", 1)),
                       service=profile.serverless.service_at(int(config["MemorySizeInMB"])))
    instance_type = variant["InstanceType"]
    completed = complete_profile(profile, [instance_type], default_catalogue().vcpu_of)
    entry = completed.instance(instance_type).for_environment(variant.get("Environment", {}))
    return Service(slots=entry.workers * int(variant["InitialInstanceCount"]), service=entry.service_time)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)
