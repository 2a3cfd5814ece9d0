"""One-line labels for what the AWS shapes and irsim's records describe: an endpoint
configuration, a benchmark, a recommendation's details."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irsim.service.benchmark import BenchmarkOutcome
from irsim.service.request import BenchmarkSpec


def endpoint_label(endpoint: Mapping[str, Any], model: Mapping[str, Any] | None = None) -> str:
    """An AWS EndpointConfiguration (and ModelConfiguration) in one line: the instance type or
    the serverless size, then the environment parameters."""
    serverless = endpoint.get("ServerlessConfig")
    target = endpoint.get("InstanceType") or (
        f"serverless {serverless['MemorySizeInMB']} MB x{serverless['MaxConcurrency']}" if serverless else "?")
    environment = ",".join(f"{p['Key']}={p['Value']}" for p in (model or {}).get("EnvironmentParameters", []))
    return target + (f" [{environment}]" if environment else "")


def benchmark_label(outcome: BenchmarkOutcome) -> str:
    return spec_label(outcome.spec)


def spec_label(spec: BenchmarkSpec) -> str:
    """A benchmark before it ran: its instance type (or serverless size) and environment."""
    environment = ",".join(f"{k}={v}" for k, v in spec.environment)
    return spec.instance_type + (f" [{environment}]" if environment else "")


def detail_label(detail: Mapping[str, Any]) -> str:
    """The endpoint of a recommendation's Details entry: ``2 x ml.c5.large + 1 x ...`` or the
    serverless size."""
    if detail.get("ServerlessConfig"):
        return endpoint_label({"ServerlessConfig": detail["ServerlessConfig"]})
    return " + ".join(f"{n} x {t}" for t, n in sorted(detail["Counts"].items()))


