"""The endpoint under test: K instances of one type, each with W model-server workers and a
FIFO queue, behind a routing policy."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.distributions import Distribution
from simulator.errors import InputError

ROUTING_POLICIES = ("random", "least_outstanding_requests")
MAX_INSTANCES = 1000


@dataclass(frozen=True)
class Endpoint:
    """A real-time endpoint variant.

    ``random`` sends each request to a uniformly chosen instance (SageMaker's default);
    ``least_outstanding_requests`` sends it to the instance with the fewest requests in
    service or queued (ties to the lowest index). ModelLatency = wait for a worker +
    service time.
    """

    instance_type: str
    instance_count: int
    workers: int
    service_time: Distribution
    routing: str = "random"
    cpu_per_worker: float = 1.0

    def __post_init__(self) -> None:
        count = self.instance_count
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INSTANCES:
            raise InputError("instance_count", f"must be an integer from 1 to {MAX_INSTANCES}, got {count!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise InputError("workers", f"must be an integer >= 1, got {self.workers!r}")
        if self.routing not in ROUTING_POLICIES:
            raise InputError("routing", f"must be one of {', '.join(ROUTING_POLICIES)}; got {self.routing!r}")

    @property
    def capacity_per_s(self) -> float:
        """Saturation throughput: every worker of every instance busy."""
        return self.instance_count * self.workers / (self.service_time.mean_ms / 1000.0)
