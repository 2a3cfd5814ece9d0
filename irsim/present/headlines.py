"""The sentence each report page opens with, for the pages whose answer is spread over many
rows: a sweep (the cheapest feasible scenario for each value of each axis that varies)."""

from __future__ import annotations

import pandas as pd

#: The sweep's axes as a reader names them, with how a value is written.
AXES = {"slo_ms": ("SLO", "{percentile} <= {value:g} ms"), "target_per_minute": ("target", "{value:,.0f}/min"),
        "service_scale": ("service time", "x{value:g}"), "routing": ("routing", "{value}"),
        "replications": ("replications", "{value}"), "candidates": ("candidates", "{value}"),
        "instance_types": ("types", "{value}")}


def sweep_counts(frame: pd.DataFrame) -> str:
    """How many scenarios there were and how each ended, in one sentence."""
    status = frame.groupby("scenario")["status"].first()
    parts = [f"{int((status == 'ok').sum())} answered with an endpoint"]
    parts += [f"{int((status == s).sum())} {s}" for s in ("infeasible", "error") if (status == s).any()]
    return f"{len(status)} scenarios: {', '.join(parts)}."


def cheapest_by_axis(chosen: pd.DataFrame) -> list[str]:
    """For each axis that varies among the answered scenarios, each value's cheapest endpoint:
    ``SLO P95 <= 10 ms: 1 x ml.c5.large at $0.102/hour (target 5,000/min, service time x1)``."""
    varied = [axis for axis in AXES if axis in chosen and chosen[axis].nunique(dropna=False) > 1]
    lines = []
    for axis in varied:
        for value, rows in chosen.groupby(axis, sort=True):
            best = rows.sort_values(["cost_per_hour", "target_per_minute"], ascending=[True, False]).iloc[0]
            where = ", ".join(_said(other, best[other], best["percentile"]) for other in varied if other != axis)
            lines.append(f"{_said(axis, value, best['percentile'])}: {best['endpoint']} at "
                         f"${best['cost_per_hour']:.3f}/hour" + (f" ({where})" if where else ""))
    return lines


def _said(axis: str, value: object, percentile: str) -> str:
    name, fmt = AXES[axis]
    return f"{name} {fmt.format(value=value, percentile=percentile)}"
