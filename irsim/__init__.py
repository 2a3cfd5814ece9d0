"""irsim: SageMaker Inference Recommender, simulated offline. The product face: job API,
boto3-compatible client, CLI.

Its names are imported when first used (PEP 562), so that the command line, which imports this
package first, answers `irsim --help` without loading the simulator."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Each public name, and the module it comes from.
EXPORTS = {"OfflineSageMakerClient": "irsim.durable.client", "client": "irsim.durable.client",
           "sagemaker_session": "irsim.durable.sdk", "recommend": "irsim.planning.recommend",
           "JobResult": "irsim.service.job", "execute_job": "irsim.service.job", "run_job": "irsim.service.job",
           "mock_sagemaker": "irsim.wire.mock"}

if TYPE_CHECKING:
    from irsim.durable.client import OfflineSageMakerClient, client
    from irsim.durable.sdk import sagemaker_session
    from irsim.planning.recommend import recommend
    from irsim.service.job import JobResult, execute_job, run_job
    from irsim.wire.mock import mock_sagemaker


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    if name not in EXPORTS:
        raise AttributeError(f"module 'irsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(EXPORTS[name]), name)
    globals()[name] = value
    return value


__all__ = ["JobResult", "OfflineSageMakerClient", "__version__", "client", "execute_job", "mock_sagemaker", "recommend",
           "run_job", "sagemaker_session"]
