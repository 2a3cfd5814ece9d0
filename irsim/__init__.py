"""irsim: SageMaker Inference Recommender, simulated offline. The product face: job API,
boto3-compatible client, CLI."""

__version__ = "0.1.0"

from irsim.durable.client import OfflineSageMakerClient, client  # noqa: E402
from irsim.planning.recommend import recommend  # noqa: E402
from irsim.service.job import JobResult, execute_job, run_job  # noqa: E402

__all__ = ["JobResult", "OfflineSageMakerClient", "client", "execute_job", "recommend", "run_job", "__version__"]
