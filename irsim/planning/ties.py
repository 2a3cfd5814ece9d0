"""Which alternatives may be the answer: those within the instance limits and the budget, and
among those tied in hourly cost, the one with a calibrated profile entry and confirmed prices
(then lower latency), the tie said in the answer's explanation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from irsim.service.labels import detail_label
from optimizer import Constraints


def confidence(row: dict[str, Any]) -> tuple[bool, bool, float]:
    """What breaks a tie in cost: a calibrated profile entry first, then confirmed prices, then latency."""
    detail = row["detail"]
    return (not detail["Calibrated"], detail["PriceConfidence"] != ["confirmed"], row["latency"])


def ties(rows: list[dict[str, Any]]) -> list[str]:
    """How a tie in cost was broken, when there was one."""
    return list(dict.fromkeys(row["explanation"] for row in rows if "explanation" in row))


def tie_broken(chosen: dict[str, Any] | None, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Among the endpoints that cost the same per hour as ``chosen`` and meet the target within
    the limits (each was simulated whole at its count), the one with a calibrated entry and
    confirmed prices; the tie is said in the explanation."""
    if chosen is None:
        return None
    tied = [r for r in rows if math.isclose(r["cost"], chosen["cost"], rel_tol=1e-9)
            and r["detail"].get("WithinLimits", True) and (r is chosen or not r["detail"].get("ServerlessConfig"))]
    if len(tied) < 2:
        return chosen
    best = min(tied, key=confidence)
    names = ", ".join(detail_label(r["detail"]) for r in tied)
    chosen["explanation"] = (f"Tie at ${chosen['cost']:.3f}/hour between {names}: {detail_label(best['detail'])} "
                             "is chosen for its calibrated profile entry and price confidence, then latency.")
    best["explanation"] = chosen["explanation"]
    return best


def within_limits(counts: Mapping[str, int], cost_per_hour: float, constraints: Constraints) -> bool:
    """Whether an alternative respects the instance limits and the budget (one that does not is
    shown for comparison, never as an answer)."""
    total = sum(counts.values())
    return (total >= constraints.min_instances
            and (constraints.max_instances is None or max(counts.values()) <= constraints.max_instances)
            and (constraints.budget_per_hour is None or cost_per_hour <= constraints.budget_per_hour))
