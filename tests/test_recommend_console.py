"""Issue 16's small things in `recommend`: no "No allocation meets the target" under an answer
without saying whose, the order of the alternatives explained by a score that can be recomputed,
rows outside the limits marked, EnvironmentParameterRanges never dropped silently; and its
progress events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from irsim.planning.recommend import recommend
from irsim.present.plantable import plan_table
from optimizer.events import CANDIDATES, SERVERLESS, SIZED, VERIFICATION, PlanEvent
from optimizer.ranking import LEVELS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def recomputed_scores(document: dict) -> list[float]:
    """Studio's weighting recomputed with numpy from the rows' cost, percentile and capacity."""
    details = document["Details"]
    percentile = document["Target"]["Percentile"]
    cost = np.array([next(i["Metrics"]["CostPerHour"] for i in document["InferenceRecommendations"]
                          if i["RecommendationId"] == d["RecommendationId"]) for d in details])
    latency = np.array([d[percentile]["Milliseconds"] for d in details])
    capacity = np.array([d["CapacityPerMinute"] for d in details])

    def scaled(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
        if np.ptp(values) == 0:
            return np.ones_like(values)
        spread = np.ptp(values)
        return (values - values.min()) / spread if higher_is_better else (values.max() - values) / spread
    return list(LEVELS["highest"] * scaled(cost, False) + LEVELS["moderate"] * scaled(latency, False)
                + LEVELS["moderate"] * scaled(capacity, True))


@pytest.mark.slow
def test_serverless_answer_and_instance_explanation_are_told_apart():
    events: list[PlanEvent] = []
    document = recommend(load("serverless-job.json"), "demo", max_instances=1, target_per_minute=30000,
                         observe=events.append)
    first = document["Details"][0]
    assert first["Verified"] and first.get("ServerlessConfig")
    assert document["Explanation"][0].startswith("Real-time instances: No allocation meets the target")
    over = [d for d in document["Details"] if d.get("WithinLimits") is False]
    assert over and all(sum(d["Counts"].values()) > 1 for d in over)  # 2 x ml.c5.large over a quota of 1
    table = plan_table(document)
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("#"))
    assert not any("No allocation" in line for line in lines[:header])
    assert any("(outside the limits: for comparison)" in line for line in lines)
    assert "Order: the verified cheapest first, then by Studio's importance levels" in table
    # the order after the answer is the score's, and the score is Studio's weighting recomputed
    scores = [d["RankScore"] for d in document["Details"]]
    assert scores == pytest.approx(recomputed_scores(document), abs=1e-3)
    assert scores[1:] == sorted(scores[1:], reverse=True)
    kinds = [e.kind for e in events]
    assert kinds[0] == CANDIDATES and SIZED in kinds and SERVERLESS in kinds


@pytest.mark.slow
def test_no_answer_is_said_before_the_rows():
    document = recommend(load("seed-advanced-job.json"), "demo", target_per_minute=30000, budget_per_hour=0.1)
    assert not any(d["Verified"] for d in document["Details"])
    lines = plan_table(document).splitlines()
    said = next(i for i, line in enumerate(lines) if "No " in line and "meets" in line)
    rows = [i for i, line in enumerate(lines) if line.lstrip().startswith("#")]
    assert not rows or said < rows[0]


@pytest.mark.slow
def test_environment_parameter_ranges_are_warned_not_dropped():
    events: list[PlanEvent] = []
    document = recommend(load("stairs-job.json"), "demo", observe=events.append)
    assert any("ml.c5.xlarge: EnvironmentParameterRanges (OMP_NUM_THREADS=1; OMP_NUM_THREADS=2) are not weighed"
               in w for w in document["Warnings"])
    assert "WARNING ml.c5.xlarge: EnvironmentParameterRanges" in plan_table(document)
    assert VERIFICATION in [e.kind for e in events]


@pytest.mark.slow
def test_a_tie_in_cost_goes_to_the_calibrated_type_with_confirmed_prices_and_is_said():
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    document = recommend(request, "demo", candidates="all")
    chosen = document["Details"][0]
    assert chosen["Verified"] and chosen["Calibrated"]
    tie = [line for line in document["Explanation"] if line.startswith("Tie at $")]
    assert len(tie) == 1 and "ml.c6i.large" in tie[0] and "is chosen for its calibrated profile entry" in tie[0]
    tied = [d for d in document["Details"][1:] if "ml.c6i.large" in str(d["Counts"])]
    assert tied and not tied[0]["Calibrated"] and not tied[0]["Verified"]


@pytest.mark.slow
def test_the_console_fits_100_columns_and_wide_keeps_one_line_per_row():
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    document = recommend(request, "demo", serverless=True)
    narrow = plan_table(document)
    assert max(len(line) for line in narrow.splitlines()) <= 100
    assert "e-0" not in narrow and "$/M inf: dollars per million inferences" in narrow
    assert "    <- verified cheapest" in narrow and "    throttled: " in narrow
    wide = plan_table(document, wide=True)
    assert max(len(line) for line in wide.splitlines()) > 100 and "  <- verified cheapest" in wide
    costs = [f"{item['Metrics']['CostPerInference'] * 1e6:.3f}" for item in document["InferenceRecommendations"]]
    assert all(cost in narrow for cost in costs)  # per million, as the page says it
