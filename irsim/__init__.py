"""irsim: SageMaker Inference Recommender, simulated offline. The product face: job API,
boto3-compatible client, CLI."""

__version__ = "0.1.0"

from irsim.durable.client import OfflineSageMakerClient, client
from irsim.durable.sdk import sagemaker_session
from irsim.planning.recommend import recommend
from irsim.service.job import JobResult, execute_job, run_job

__all__ = ["JobResult", "OfflineSageMakerClient", "__version__", "client", "execute_job", "recommend", "run_job",
           "sagemaker_session"]
