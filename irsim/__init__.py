"""irsim: SageMaker Inference Recommender, simulated offline. The product face: CLI and job API."""

__version__ = "0.1.0"
