"""Discrete-event simulation of SageMaker Inference Recommender load tests (its own event loop, SimPy's event order)."""

from simulator.distributions import Distribution, parse_distribution
from simulator.endpoint import ROUTING_POLICIES, Endpoint
from simulator.errors import InputError
from simulator.metrics import InstanceResources
from simulator.profiles import DEMO_PROFILE_PATH, InstanceProfile, Profile, load_profile
from simulator.simulation import SimulationResult, simulate, simulate_serverless
from simulator.stopping import LatencyThreshold, StoppingConditions
from simulator.traffic import ConstantUsers, Phase, Phases, PoissonArrivals, Stairs

__all__ = [
    "DEMO_PROFILE_PATH", "ROUTING_POLICIES", "ConstantUsers", "Distribution", "Endpoint", "InputError",
    "InstanceProfile", "InstanceResources", "LatencyThreshold", "Phase", "Phases", "PoissonArrivals", "Profile",
    "SimulationResult", "Stairs", "StoppingConditions", "load_profile", "parse_distribution", "simulate",
    "simulate_serverless",
]
