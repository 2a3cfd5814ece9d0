"""The production check: a recommendation simulated as deployed (K instances, open Poisson
traffic at the target), judged against exact M/M/c theory, and shown beside the AWS figures,
which stay as the service computes them."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from irsim.present.html import build_report
from irsim.present.outputs import write_outputs
from irsim.present.tables import recommendation_table
from irsim.service.job import execute_job
from optimizer.production import CheckedEndpoint, production_check
from optimizer.verdict import MEETS, MISSES, TOO_CLOSE
from simulator import load_profile
from simulator.analytic import mmc_response_quantile

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: Two exponential workers of mean 20 ms: an M/M/2 station per instance under random routing.
MM2 = {"model": "mm2", "instances": {"ml.test.large": {"workers": 2, "service_time": {
    "family": "exponential", "mean_ms": 20.0}}}}
RATE_PER_MINUTE = 36_000.0  # 600 requests/s: 6 instances are exactly saturated


def endpoint(count: int) -> CheckedEndpoint:
    return CheckedEndpoint(entry=load_profile(MM2).instance("ml.test.large"), count=count)


def exact_p95_ms(count: int) -> float:
    return mmc_response_quantile(0.95, RATE_PER_MINUTE / 60.0 / count, 2, 0.020) * 1000.0


@pytest.mark.slow(reason="production checks to their precision (1.8 s measured)")
def test_the_production_percentile_matches_exact_mmc_theory():
    check = production_check(endpoint(9), RATE_PER_MINUTE, 95.0, 115.0, seed=4)
    truth = exact_p95_ms(9)  # 101.8 ms at utilization 2/3
    assert check.utilization == pytest.approx(600 / 9 / 100)
    assert check.percentile_ms == pytest.approx(truth, rel=0.05)
    assert check.meets_threshold is True


@pytest.mark.slow(reason="production checks to their precision (1.9 s measured)")
@pytest.mark.parametrize("slo_ms, exact_count", [(115.0, 9), (170.0, 8)])
def test_the_smallest_passing_count_is_the_exact_minimal_count(slo_ms, exact_count):
    # The SLOs sit between the exact P95s of neighbouring counts (129.5 ms at 8, 101.8 ms at 9,
    # 216.9 ms at 7), so the exact minimal count is unambiguous.
    assert exact_p95_ms(exact_count) <= slo_ms < exact_p95_ms(exact_count - 1)
    check = production_check(endpoint(7), RATE_PER_MINUTE, 95.0, slo_ms, seed=1)
    assert check.smallest_passing_count == exact_count
    assert check.meets_threshold is (exact_count <= 7)


@pytest.mark.slow(reason="production checks to their precision (1.9 s measured)")
def test_an_unstable_endpoint_is_reported_without_simulating_it():
    check = production_check(endpoint(5), RATE_PER_MINUTE, 95.0, 115.0, seed=0)
    assert check.utilization == pytest.approx(1.2) and not check.stable
    assert math.isinf(check.percentile_ms) and check.meets_threshold is False
    document = check.to_document()
    assert document["percentile_ms"] is None and document["smallest_passing_count"] == 9
    json.dumps(document)  # no infinities in the JSON


def test_without_a_threshold_the_check_reports_but_does_not_judge():
    check = production_check(endpoint(9), RATE_PER_MINUTE, 95.0, None, seed=0)
    assert check.meets_threshold is None and check.smallest_passing_count is None
    assert check.percentile_ms == pytest.approx(exact_p95_ms(9), rel=0.05)


@pytest.fixture(scope="module")
def near_saturation_job():
    """ml.c5.large (2 workers, 4 ms) ramped to saturation with a 25 ms P95 threshold and a
    target of 27,000/min: the best closed-loop minute reaches the target, so the AWS method
    asks for one instance, which runs at 90 % utilization under open traffic. FlatInvocations
    Continue: the ramp goes on until the threshold breaks (the plateau rule may stop it a
    minute or two before the best minute reaches the target)."""
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.large"},
                                                         {"InstanceType": "ml.c5.xlarge"}]
    request["InputConfig"]["TrafficPattern"] = {"TrafficType": "STAIRS", "Stairs": {
        "DurationInSeconds": 1200, "NumberOfSteps": 20, "UsersPerStep": 1}}
    request["StoppingConditions"] = {"MaxInvocations": 27_000, "FlatInvocations": "Continue",
                                     "ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 25}]}
    return execute_job(request, "demo", seed=0)


@pytest.mark.slow
def test_the_aws_count_that_fails_in_production_is_flagged(near_saturation_job):
    result = near_saturation_job
    large = next(r for r in result.describe["InferenceRecommendations"]
                 if r["EndpointConfiguration"]["InstanceType"] == "ml.c5.large")
    # The AWS shape keeps the service's arithmetic: ceil(27,000 / per-instance max) = 1.
    per_instance_max = large["Metrics"]["MaxInvocations"]
    assert large["EndpointConfiguration"]["InitialInstanceCount"] == 1 and per_instance_max >= 27_000
    extensions = result.extensions()
    check = next(b for b in extensions["benchmarks"] if b["InstanceType"] == "ml.c5.large")["production_check"]
    assert check["count"] == 1 and check["meets_threshold"] is False
    assert check["percentile_ms"] > 25.0 and check["utilization"] == pytest.approx(27_000 / 30_000)
    assert check["smallest_passing_count"] == 2
    table = recommendation_table(result)
    assert "MISSES" in table and check["verdict"] == "misses" and check["decided_by"] == "interval"
    assert "ml.c5.large: 1 instance(s) at 27,000 invocations/min of open (Poisson) traffic reach P95" in table
    assert "2 would surely meet it" in table


@pytest.mark.slow
def test_the_headline_names_the_cheapest_endpoint_that_passes(near_saturation_job):
    headline = near_saturation_job.extensions()["headline"]
    # 2 x ml.c5.large and 1 x ml.c5.xlarge cost the same; either passes, at $0.204/hour.
    assert headline["cost_per_hour"] == pytest.approx(0.204)
    assert (headline["InstanceType"], headline["count"]) in {("ml.c5.large", 2), ("ml.c5.xlarge", 1)}
    assert recommendation_table(near_saturation_job).splitlines()[1].startswith(
        "Cheapest that meets P95 <= 25 ms in production at 27,000 invocations/min:")


# --- three-valued verdicts ------------------------------------------------------------------------

@pytest.mark.slow(reason="production checks to their precision (0.9 s measured)")
def test_a_threshold_at_the_exact_percentile_is_too_close_to_call_never_a_yes_or_no():
    """9 instances with the threshold 0.05 % above their exact P95: the check says too close
    (never meets or misses) with what would settle it, the smallest count that surely meets
    is 10, and the count below it, 9, is the too-close one."""
    threshold = exact_p95_ms(9) * 1.0005
    check = production_check(endpoint(9), RATE_PER_MINUTE, 95.0, threshold, seed=2,
                             precision=0.05)
    assert check.verdict == TOO_CLOSE and check.meets_threshold is False
    assert check.estimate is not None and check.estimate.low_ms <= exact_p95_ms(9) <= check.estimate.high_ms
    settle = check.settle()
    assert settle is not None and (settle.requests > check.estimate.requests or not settle.practical)
    assert check.smallest_passing_count == 10 and check.next_down_verdict == TOO_CLOSE
    document = check.to_document()
    assert document["verdict"] == TOO_CLOSE and document["next_count_down"]["count"] == 9
    assert document["next_count_down"]["verdict"] == TOO_CLOSE


@pytest.mark.slow(reason="production checks to their precision (0.4 s measured)")
def test_verdicts_on_both_sides_are_decided_by_the_interval():
    meets = production_check(endpoint(9), RATE_PER_MINUTE, 95.0, exact_p95_ms(9) * 1.1, seed=3)
    misses = production_check(endpoint(9), RATE_PER_MINUTE, 95.0, exact_p95_ms(9) / 1.1, seed=3)
    assert (meets.verdict, misses.verdict) == (MEETS, MISSES)
    assert meets.to_document()["decided_by"] == "interval" and meets.settle() is None


@pytest.mark.slow
def test_a_jobs_console_and_report_say_too_close_to_call(tmp_path):
    """A job on an M/M/2 profile whose checks are recomputed with the threshold 0.05 % above the
    AWS count's exact P95: the console's column and note, irsim.json and the report all say
    too close to call, and which count surely meets."""
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.large"}]
    request["InputConfig"]["TrafficPattern"]["Phases"] = [
        {"InitialNumberOfUsers": 1, "SpawnRate": 2, "DurationInSeconds": 240}]
    request["StoppingConditions"] = {"MaxInvocations": 20_000,
                                     "ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 200}]}
    result = execute_job(request, {"model": "mm2", "instances": {"ml.c5.large": MM2["instances"]["ml.test.large"]}},
                         seed=0)
    [(index, aws)] = result.production.items()
    threshold = mmc_response_quantile(0.95, aws.rate_per_minute / 60.0 / aws.count, 2, 0.020) * 1000.0 * 1.0005
    close = production_check(CheckedEndpoint(entry=result.profile.instance(aws.instance_type), count=aws.count,
                                             overhead=result.profile.overhead),
                             aws.rate_per_minute, 95.0, threshold, seed=0, precision=0.05)
    assert close.verdict == TOO_CLOSE
    judged = dataclasses.replace(result, production={index: close})
    table = recommendation_table(judged)
    assert "TOO CLOSE" in table and "are too close to call at the budget used" in table
    assert f"{aws.count + 1} would surely meet it" in table
    assert "settle it" in table
    record = judged.extensions()["benchmarks"][0]["production_check"]
    assert record["verdict"] == TOO_CLOSE and record["meets_threshold"] is False
    write_outputs(judged, tmp_path)
    report = build_report(tmp_path)
    assert "TOO CLOSE" in report and "too close to call at the budget used" in report
