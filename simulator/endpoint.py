"""The endpoint under test, resolved from its profile: K instances of one type, each with W
model-server workers and a FIFO queue behind a routing policy; or a serverless endpoint, its
size (memory, MaxConcurrency, provisioned environments) and its profile section. Each knows
which engine runs it (``kind``) and what one simulated second of it can cost (the work budget)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator import checks
from simulator.distributions import Distribution
from simulator.errors import InputError
from simulator.metrics import InstanceResources
from simulator.profiles import MEMORY_SIZES_MB, InstanceProfile, ServerlessProfile, check_duration_scale

ROUTING_POLICIES = ("random", "least_outstanding_requests")
MAX_INSTANCES = 1000
MAX_CONCURRENCY = 200


@dataclass(frozen=True)
class Work:
    """What bounds a run's cost in requests per simulated second: a user's ``cycle_s`` (its
    request, overhead and think time), the endpoint's ``capacity_per_s``, and the profile field
    (``where``) and wording (``what``) of the message that refuses it."""

    cycle_s: float
    capacity_per_s: float
    where: str
    what: str


@dataclass(frozen=True)
class InstanceEndpoint:
    """A real-time endpoint variant: ``instance_count`` instances as ``entry`` serves (its
    environment already applied).

    ``random`` sends each request to a uniformly chosen instance (SageMaker's default);
    ``least_outstanding_requests`` sends it to the instance with the fewest requests in
    service or queued (ties to the lowest index). ModelLatency = wait for a worker +
    service time. ``resources`` (vCPUs and memory) scale CPUUtilization and MemoryUtilization.
    """

    entry: InstanceProfile
    instance_count: int = 1
    routing: str = "random"
    resources: InstanceResources | None = None
    kind: ClassVar[str] = "instances"

    def __post_init__(self) -> None:
        checks.integer(self.instance_count, "instance_count", minimum=1, maximum=MAX_INSTANCES)
        checks.integer(self.entry.workers, "workers", minimum=1)
        checks.choice(self.routing, "routing", ROUTING_POLICIES)

    @property
    def instance_type(self) -> str:
        return self.entry.instance_type

    @property
    def workers(self) -> int:
        """Model-server workers per instance."""
        return self.entry.workers

    @property
    def service_time(self) -> Distribution:
        return self.entry.service_time

    @property
    def calibrated(self) -> bool:
        """Whether the entry was measured on this type (not derived by scaling rules)."""
        return self.entry.calibrated

    @property
    def capacity_per_s(self) -> float:
        """Saturation throughput: every worker of every instance busy."""
        return self.instance_count * self.workers / (self.service_time.mean_ms / 1000.0)

    def work(self, overhead_s: float, think_s: float) -> Work:
        """The work budget's terms; the entry's durations within the profile limits."""
        where = f"instances.{self.instance_type}.service_time"
        check_duration_scale(self.service_time, where)
        servers = self.workers * self.instance_count
        return Work(cycle_s=self.service_time.mean_ms / 1000.0 + overhead_s + think_s,
                    capacity_per_s=self.capacity_per_s, where=where,
                    what=f"a mean of {self.service_time.mean_ms:g} ms on {servers} worker(s)")


@dataclass(frozen=True)
class ServerlessConfig:
    """A serverless endpoint's size: memory, the concurrency limit and the provisioned (always warm)
    environments, within the platform's limits."""

    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int = 0

    def __post_init__(self) -> None:
        if self.memory_mb not in MEMORY_SIZES_MB:
            raise InputError("memory_mb", f"must be one of {', '.join(map(str, MEMORY_SIZES_MB))}"
                                          f" (1024 to 6144 in steps of 1024), got {self.memory_mb!r}")
        checks.integer(self.max_concurrency, "max_concurrency", minimum=1, maximum=MAX_CONCURRENCY)
        checks.integer(self.provisioned_concurrency, "provisioned_concurrency", minimum=0,
                       maximum=self.max_concurrency, bounds=f"from 0 to max_concurrency ({self.max_concurrency})")

    @property
    def label(self) -> str:
        return f"serverless {self.memory_mb} MB x{self.max_concurrency}" + (
            f" (provisioned {self.provisioned_concurrency})" if self.provisioned_concurrency else "")


@dataclass(frozen=True)
class ServerlessEndpoint:
    """A serverless endpoint of size ``config`` serving as the profile's ``section`` says;
    ``warm_environments`` start warm at t = 0 (steady state, as a long-running endpoint would
    be)."""

    section: ServerlessProfile
    config: ServerlessConfig
    warm_environments: int = 0
    kind: ClassVar[str] = "serverless"

    def __post_init__(self) -> None:
        checks.integer(self.warm_environments, "warm_environments", minimum=0)
        if self.config.memory_mb < self.section.memory_needed_mb:
            raise InputError("memory_mb", f"{self.config.memory_mb} MB is less than the "
                                          f"{self.section.memory_needed_mb} MB the model needs")

    #: A serverless section is measured on serverless inference itself, never derived.
    calibrated: ClassVar[bool] = True

    @property
    def service_time(self) -> Distribution:
        """The service time at the configured memory (and the compute that comes with it)."""
        return self.section.service_at(self.config.memory_mb)

    def work(self, overhead_s: float, think_s: float) -> Work:
        """The work budget's terms (a throttled user retries after its backoff: a request too);
        the section's durations within the profile limits."""
        check_duration_scale(self.section.service_time, "serverless.service_time")
        check_duration_scale(self.section.model_setup_time, "serverless.model_setup_time")
        service = self.service_time
        cycle = min(service.mean_ms / 1000.0 + overhead_s, self.section.backoff_ms / 1000.0) + think_s
        return Work(cycle_s=cycle, capacity_per_s=float("inf"), where="serverless.service_time",
                    what=f"a mean of {service.mean_ms:g} ms (backoff {self.section.backoff_ms:g} ms)")
