"""One simulated run as one value: the endpoint under test (resolved from its profile), the
overhead latency, the traffic, the stopping conditions, the seed and the work budget. A
RunSpec is validated once, when it is built (the work budget included), and read by the
engine its endpoint's ``kind`` names; the service, the optimizer and autoscaling build one
directly, and ``simulate``/``simulate_serverless`` build one from their arguments."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from simulator import checks
from simulator.bounds import MAX_HELD_REQUESTS, Footprint, check_footprint, check_traffic, footprint, run_memory_mb
from simulator.capacity import Step, check_schedule, widest
from simulator.distributions import Distribution
from simulator.endpoint import InstanceEndpoint, ServerlessEndpoint
from simulator.errors import InputError
from simulator.profiles import check_duration_scale
from simulator.stopping import StoppingConditions
from simulator.traffic import Traffic

#: Requests one simulated second may cost unless the caller raises the budget: a profile entry
#: that would need more (a service time of nanoseconds) is refused before it runs for minutes
#: and fills the memory. Real endpoints stay far below (30,000 a minute is 500 a second).
MAX_REQUESTS_PER_S = 1_000_000.0


class WorkBudgetError(InputError):
    """A run would cost more requests per simulated second than its budget allows;
    ``parameter`` names the argument that raises the budget."""

    parameter = "max_requests_per_s"


def check_work(endpoint: InstanceEndpoint | ServerlessEndpoint, traffic: Traffic, overhead: Distribution | None,
               think_time_s: float, budget_per_s: float, keep_requests: bool = False,
               max_held: int = MAX_HELD_REQUESTS) -> None:
    """The one check of the work budget (a RunSpec's, and admission's before a job runs):
    WorkBudgetError naming the profile entry when ``traffic`` on ``endpoint`` would cost more
    than ``budget_per_s`` requests per simulated second; the durations within the profile
    limits; then irsim's resource limits (simulator/bounds.py: users in flight, requests
    simulated and held at once, a ResourceLimitError past any), all before anything runs."""
    check_traffic(traffic)
    overhead_s = 0.0
    if overhead is not None:
        check_duration_scale(overhead, "overhead_ms")
        overhead_s = overhead.mean_ms / 1000.0
    work = endpoint.work(overhead_s, think_time_s)
    rate = traffic.max_request_rate_per_s(work.cycle_s, work.capacity_per_s)
    if not rate <= budget_per_s:
        raise WorkBudgetError(work.where, f"{work.what} would cost about {rate:,.3g} requests per simulated second, "
                                          f"over the budget of {budget_per_s:,.0f} (max_requests_per_s)")
    check_footprint(traffic, rate, keep_requests, work.where, max_held)


def fast_path_gap(endpoint: InstanceEndpoint | ServerlessEndpoint) -> str | None:
    """Why the engine's compiled fast path (simulator/fastpath.py) cannot run ``endpoint``;
    None when it can (numba installed or not: that is known when the run starts)."""
    if not isinstance(endpoint, InstanceEndpoint):
        return "serverless endpoints run on their own engine"
    if endpoint.instance_count > 1 and endpoint.routing != "random":
        return f"routing {endpoint.routing!r} over {endpoint.instance_count} instances runs on the Python engine"
    return None


def check_fast(fast: object, endpoint: InstanceEndpoint | ServerlessEndpoint) -> None:
    """``fast`` is true, false or None (auto); true only where the fast path can run the endpoint."""
    if fast is not None and not isinstance(fast, bool):
        raise InputError("fast", f"must be true, false or null (auto: where it applies and pays), got {fast!r}")
    gap = fast_path_gap(endpoint) if fast else None
    if gap is not None:
        raise InputError("fast", f"the compiled fast path cannot run this: {gap}")


@dataclass(frozen=True)
class RunSpec:
    """Everything one run simulates, checked: ``endpoint`` under ``traffic``, each closed-loop
    user paying the ``overhead`` latency and an exponential think time of mean
    ``think_time_s`` between requests, until the traffic ends or ``stopping`` holds. ``seed``
    seeds every random stream; ``keep_requests=False`` keeps the exact per-minute statistics
    only (memory flat however long the run); ``max_requests_per_s`` is the work budget and
    ``max_held_requests`` the most requests held in memory at once (simulator/bounds.py: raise it
    only where the memory is known to be there).
    ``fast`` picks the real-time engine's compiled fast path (the same run, event for event):
    None takes it where it applies and pays, True insists, False never takes it.
    ``capacity_schedule`` changes the instances in service while the run goes on ((time s,
    count) steps after 0, ``simulator.capacity``: new instances start empty, the newest drain
    on a step down); a run with one takes the Python engine."""

    endpoint: InstanceEndpoint | ServerlessEndpoint
    traffic: Traffic
    overhead: Distribution | None = None
    think_time_s: float = 0.0
    stopping: StoppingConditions = field(default_factory=StoppingConditions)
    seed: int = 0
    max_requests_per_s: float = MAX_REQUESTS_PER_S
    max_held_requests: int = MAX_HELD_REQUESTS
    keep_requests: bool = True
    fast: bool | None = None
    capacity_schedule: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        checks.integer(self.seed, "seed", minimum=0)  # any size: jobs derive 64-bit seeds for their tests
        check_fast(self.fast, self.endpoint)
        object.__setattr__(self, "think_time_s", checks.number(self.think_time_s, "think_time_s", minimum=0))
        schedule = check_schedule(self.capacity_schedule, self.endpoint, self.traffic.duration_s, self.fast)
        object.__setattr__(self, "capacity_schedule", schedule)
        checks.integer(self.max_held_requests, "max_held_requests", minimum=1)
        check_work(self.widest_endpoint, self.traffic, self.overhead, self.think_time_s, self.max_requests_per_s,
                   self.keep_requests, self.max_held_requests)

    @property
    def widest_endpoint(self) -> InstanceEndpoint | ServerlessEndpoint:
        """The endpoint at the most instances its capacity schedule reaches: what bounds the work."""
        endpoint = self.endpoint
        if self.capacity_schedule and isinstance(endpoint, InstanceEndpoint):
            return replace(endpoint, instance_count=widest(self.capacity_schedule, endpoint.instance_count))
        return endpoint

    @property
    def bounds(self) -> Footprint:
        """The requests the run simulates and holds at once, at most (simulator/bounds.py)."""
        overhead_s = self.overhead.mean_ms / 1000.0 if self.overhead is not None else 0.0
        work = self.widest_endpoint.work(overhead_s, self.think_time_s)
        rate = self.traffic.max_request_rate_per_s(work.cycle_s, work.capacity_per_s)
        return footprint(self.traffic, rate, self.keep_requests)

    @property
    def memory_mb(self) -> float:
        """About how much memory the run adds to its process at most, known before it starts."""
        return run_memory_mb(self.traffic, self.bounds)

    @property
    def kind(self) -> str:
        """Which engine runs it: ``instances`` or ``serverless``."""
        return self.endpoint.kind
