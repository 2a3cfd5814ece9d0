"""Discrete-event simulation of SageMaker Inference Recommender load tests (its own event loop, SimPy's event order).

A run is one value, :class:`RunSpec` (the endpoint resolved from its profile, the traffic, the
stopping conditions, the seed and the work budget), and :func:`run` simulates it;
:func:`simulate` and :func:`simulate_serverless` build one from a profile and a few arguments."""

from simulator.distributions import Distribution, parse_distribution
from simulator.endpoint import ROUTING_POLICIES, InstanceEndpoint, ServerlessConfig, ServerlessEndpoint
from simulator.errors import InputError
from simulator.metrics import InstanceResources, Percentile
from simulator.profiles import DEMO_PROFILE_PATH, InstanceProfile, Profile, ServerlessProfile, load_profile
from simulator.result import ServerlessCounts, SimulationResult
from simulator.runspec import MAX_REQUESTS_PER_S, RunSpec, WorkBudgetError
from simulator.simulation import run, simulate, simulate_serverless
from simulator.stopping import LatencyThreshold, StoppingConditions
from simulator.traffic import ConstantUsers, Phase, Phases, PoissonArrivals, Stairs, Traffic

__all__ = [
    "DEMO_PROFILE_PATH", "MAX_REQUESTS_PER_S", "ROUTING_POLICIES", "ConstantUsers", "Distribution", "InputError",
    "InstanceEndpoint", "InstanceProfile", "InstanceResources", "LatencyThreshold", "Percentile", "Phase", "Phases",
    "PoissonArrivals", "Profile", "RunSpec", "ServerlessConfig", "ServerlessCounts", "ServerlessEndpoint",
    "ServerlessProfile", "SimulationResult", "Stairs", "StoppingConditions", "Traffic", "WorkBudgetError",
    "load_profile", "parse_distribution", "run", "simulate", "simulate_serverless",
]
