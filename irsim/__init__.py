"""irsim: SageMaker Inference Recommender, simulated offline. The product face: CLI and job API."""

__version__ = "0.1.0"

from irsim.job import JobResult, execute_job, run_job  # noqa: E402

__all__ = ["JobResult", "execute_job", "run_job", "__version__"]
