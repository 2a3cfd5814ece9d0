"""The optimizer: the cheapest instance type and count that serve a rate within a latency
percentile, decided by simulation and an integer program (PuLP/CBC)."""

from optimizer.ilp import Constraints, Option, solve
from optimizer.plan import Candidate, Plan, Target, Verified, plan
from optimizer.ranking import parse_importance

__all__ = ["Candidate", "Constraints", "Option", "Plan", "Target", "Verified", "parse_importance", "plan", "solve"]
