"""Steps only move forward and none vanishes (issue 21, items 6 and 7); the recommend chart's
latency axis spans the data; the autoscale table's cost change says which way it goes."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import pytest

from irsim.present.autoscale import cost_change
from irsim.present.webcharts import recommendation_figure
from irsim.service.job import execute_job
from irsim.service.request import parse_request
from irsim.service.responses import running_steps

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
#: Which status may follow which (the same status again included).
FORWARD = {"PENDING": {"PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "STOPPED"},
           "IN_PROGRESS": {"IN_PROGRESS", "COMPLETED", "FAILED", "STOPPED"},
           "COMPLETED": {"COMPLETED"}, "FAILED": {"FAILED"}, "STOPPED": {"STOPPED"}}


def by_endpoint(steps: list[dict]) -> dict[str, str]:
    return {s["InferenceBenchmark"]["EndpointConfiguration"]["EndpointName"]: s["Status"] for s in steps}


@pytest.mark.slow(reason="a job's steps followed while it runs (0.3 s measured)")
def test_steps_only_move_forward_and_none_vanishes():
    """Three benchmarks, one slot, a job duration that schedules two: the third is FAILED with
    the arithmetic from the first look to the last, never listed PENDING and then gone."""
    request = copy.deepcopy(SEED)
    request["InputConfig"]["JobDurationInSeconds"] = 1100  # (300 s + 240 s) per slot: two fit
    request["InputConfig"]["ResourceLimit"] = {"MaxNumberOfTests": 3, "MaxParallelOfTests": 1}
    job = parse_request(request)
    views = [by_endpoint(running_steps(job, 0, "PENDING", {})),
             by_endpoint(running_steps(job, 0, "IN_PROGRESS", {})),
             by_endpoint(running_steps(job, 0, "IN_PROGRESS", {"0": "COMPLETED"}))]
    result = execute_job(job, "demo", seed=0, parallel=False)
    views.append(by_endpoint(result.steps["Steps"]))
    assert all(set(view) == set(views[0]) for view in views) and len(views[0]) == 3  # none vanishes
    for earlier, later in itertools.pairwise(views):
        for endpoint, status in earlier.items():
            assert later[endpoint] in FORWARD[status], (endpoint, status, later[endpoint])
    last = [s for s in result.steps["Steps"] if s["Status"] == "FAILED"]
    assert len(last) == 1 and last[0]["InferenceBenchmark"]["FailureReason"].startswith(
        "Not scheduled: JobDurationInSeconds 1100 fits 2 of 3 benchmarks")


def test_the_recommend_charts_latency_axis_spans_the_data():
    """A 27 ms SLO on a log axis was read in log units: the axis ran to 10^27 ms."""
    document = {"Target": {"Percentile": "P95", "ValueInMilliseconds": 27, "InvocationsPerMinute": 1000},
                "InferenceRecommendations": [{"RecommendationId": r, "Metrics": {"CostPerHour": c}}
                                             for r, c in (("a", 0.4), ("b", 0.9))],
                "Details": [{"RecommendationId": "a", "Verified": True, "Counts": {"ml.c5.large": 2},
                             "P95": {"Milliseconds": 21.0, "ConfidenceInterval95": [20.0, 22.5]}},
                            {"RecommendationId": "b", "Verified": False, "Counts": {"ml.m5.large": 3},
                             "P95": {"Milliseconds": 12.0, "ConfidenceInterval95": [11.5, 12.5]}}]}
    low, high = recommendation_figure(document).layout.xaxis.range
    assert low <= 11.5 and high >= 27 and high < 40  # the intervals and the SLO, with a margin, nothing more


def test_the_autoscale_cost_change_says_which_way_it_goes():
    assert cost_change(-0.36) == "saves 36%"
    assert cost_change(0.12) == "costs 12% more"
    assert cost_change(0.001) == "same"
