"""irsim: SageMaker Inference Recommender, simulated offline. The product face: job API,
boto3-compatible client, CLI."""

__version__ = "0.1.0"

from irsim.durable.client import OfflineSageMakerClient, client
from irsim.durable.sdk import sagemaker_session
from irsim.planning.recommend import recommend
from irsim.service.job import JobResult, execute_job, run_job
from irsim.wire.mock import mock_sagemaker

__all__ = ["JobResult", "OfflineSageMakerClient", "__version__", "client", "execute_job", "mock_sagemaker", "recommend",
           "run_job", "sagemaker_session"]
