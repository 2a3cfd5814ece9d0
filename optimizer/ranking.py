"""Ordering alternatives as SageMaker Studio does: an importance level each for cost, latency
and throughput, and the Pareto front of cost against latency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from simulator.errors import InputError

LEVELS = {"lowest": 1, "low": 2, "moderate": 3, "high": 4, "highest": 5}
CRITERIA = ("cost", "latency", "throughput")
DEFAULT_IMPORTANCE = {"cost": "highest", "latency": "moderate", "throughput": "moderate"}


@dataclass(frozen=True)
class Alternative:
    """A verified endpoint: its cost, the percentile it reached and its headroom."""

    key: str
    cost_per_hour: float
    latency_ms: float
    capacity_per_s: float  # the rate it serves within the SLO (>= the target)


def parse_importance(importance: str | None) -> dict[str, str]:
    """``cost=highest,latency=moderate`` -> levels for the three criteria (defaults fill in).
    A bad criterion or level raises InputError naming the field ``importance``."""
    levels = dict(DEFAULT_IMPORTANCE)
    for item in filter(None, (importance or "").split(",")):
        name, _, level = item.partition("=")
        name, level = name.strip().lower(), level.strip().lower()
        if name not in CRITERIA:
            raise InputError("importance", f"criterion {name!r} is not one of {', '.join(CRITERIA)}")
        if level not in LEVELS:
            raise InputError("importance", f"level {level!r} for {name} is not one of "
                                           "Lowest, Low, Moderate, High, Highest")
        levels[name] = level
    return levels


def rank(alternatives: Sequence[Alternative], importance: Mapping[str, str] = DEFAULT_IMPORTANCE) -> list[Alternative]:
    """Best first: a weighted sum of each criterion normalised to [0, 1] over the alternatives
    (cheaper, faster and more headroom score higher); ties by cost."""
    if not alternatives:
        return []
    scores = scored(alternatives, importance)
    order = sorted(range(len(alternatives)), key=lambda i: (-scores[i], alternatives[i].cost_per_hour,
                                                            alternatives[i].key))
    return [alternatives[i] for i in order]


def scored(alternatives: Sequence[Alternative], importance: Mapping[str, str] = DEFAULT_IMPORTANCE) -> list[float]:
    """Each alternative's score, in order: sum over cost, latency and throughput of the level's
    weight (1 lowest to 5 highest) times the criterion scaled to [0, 1] over the alternatives."""

    def normalised(values: list[float], higher_is_better: bool) -> list[float]:
        low, high = min(values), max(values)
        if high == low:
            return [1.0] * len(values)
        return [(v - low) / (high - low) if higher_is_better else (high - v) / (high - low) for v in values]

    scores = [0.0] * len(alternatives)
    for criterion, values, better in (
            ("cost", [a.cost_per_hour for a in alternatives], False),
            ("latency", [a.latency_ms for a in alternatives], False),
            ("throughput", [a.capacity_per_s for a in alternatives], True)):
        weight = LEVELS[importance[criterion]]
        for i, value in enumerate(normalised(values, better)):
            scores[i] += weight * value
    return scores


def pareto_front(alternatives: Sequence[Alternative]) -> list[Alternative]:
    """Alternatives no other beats on both cost and latency, cheapest first."""
    front = [a for a in alternatives
             if not any(b.cost_per_hour <= a.cost_per_hour and b.latency_ms <= a.latency_ms
                        and (b.cost_per_hour < a.cost_per_hour or b.latency_ms < a.latency_ms)
                        for b in alternatives)]
    return sorted(front, key=lambda a: (a.cost_per_hour, a.latency_ms))
