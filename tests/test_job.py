"""The Advanced and Default jobs end to end: formulas, AWS shapes (checked by botocore's
Stubber), determinism, failures, the JobDurationInSeconds budget, and `irsim run`."""

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

import irsim.service.production as first_checks
import irsim.service.replication as repeated_checks
import pricing
from irsim import execute_job, run_job
from irsim.cli.app import main
from irsim.service.job import PROVISIONING_S, replicate
from irsim.service.responses import instance_count, recommendation_metrics
from optimizer.verdict import DEFAULT_PRECISION

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CREATED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
#: A completion time for answers compared across runs (by default a job completes at the wall clock).
COMPLETED = CREATED + timedelta(hours=1)


def seed_request() -> dict:
    return json.loads((EXAMPLES / "seed-advanced-job.json").read_text())


@pytest.fixture(scope="module")
def seed_result():
    return execute_job(seed_request(), "demo", seed=0, created=CREATED)


def sagemaker_client():
    return boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def assert_valid_aws_shapes(result):
    """Stubber validates each response against botocore's output shape when it is added."""
    client = sagemaker_client()
    name = result.describe["JobName"]
    with Stubber(client) as stub:
        stub.add_response("describe_inference_recommendations_job", result.describe, {"JobName": name})
        stub.add_response("list_inference_recommendations_job_steps", result.steps, {"JobName": name})
        assert client.describe_inference_recommendations_job(JobName=name) == result.describe
        assert client.list_inference_recommendations_job_steps(JobName=name) == result.steps


# --- formulas against the published examples ------------------------------------------

def test_instance_count_fits_every_published_real_result():
    assert instance_count(1000, 371) == 3
    assert [instance_count(300, m) for m in (261, 129, 60)] == [2, 3, 5]
    assert instance_count(1000, 5000) == 1 and instance_count(None, 10) == 1


def test_cost_per_inference_of_the_developer_guide_example():
    metrics = recommendation_metrics(371, 3, 0.23, 19000, None, None)
    assert metrics["MaxInvocations"] == 1113
    assert metrics["CostPerHour"] == pytest.approx(0.69, abs=1e-12)
    assert metrics["CostPerInference"] == pytest.approx(1.0332e-05, abs=5e-10)  # 0.69 / (1113 x 60)


@pytest.mark.slow(reason="the seed job run whole (1.5 s measured)")
def test_seed_job_recommendations_satisfy_the_formulas_exactly(seed_result):
    describe = seed_result.describe
    assert describe["Status"] == "COMPLETED"
    target = seed_request()["StoppingConditions"]["MaxInvocations"]
    steps = {s["InferenceBenchmark"]["EndpointConfiguration"]["InstanceType"]: s for s in seed_result.steps["Steps"]}
    types = [r["EndpointConfiguration"]["InstanceType"] for r in describe["InferenceRecommendations"]]
    assert types == ["ml.c5.xlarge", "ml.m5.xlarge", "ml.r5.xlarge"]
    for recommendation in describe["InferenceRecommendations"]:
        config, metrics = recommendation["EndpointConfiguration"], recommendation["Metrics"]
        per_instance = steps[config["InstanceType"]]["InferenceBenchmark"]["EndpointMetrics"]["MaxInvocations"]
        count = config["InitialInstanceCount"]
        assert count == max(1, math.ceil(target / per_instance))
        assert metrics["MaxInvocations"] == count * per_instance
        price = pricing.hourly_price(config["InstanceType"]).per_hour
        assert metrics["CostPerHour"] == count * price
        assert metrics["CostPerInference"] == metrics["CostPerHour"] / (metrics["MaxInvocations"] * 60)
        assert isinstance(metrics["ModelLatency"], int)


@pytest.mark.slow
def test_per_instance_max_is_the_best_minute_within_the_threshold():
    request = json.loads((EXAMPLES / "stairs-job.json").read_text())
    result = execute_job(request, "demo", seed=3, created=CREATED)
    threshold_us = request["StoppingConditions"]["ModelLatencyThresholds"][0]["ValueInMilliseconds"] * 1000
    for item in result.scheduled:
        frame = item.outcome.per_minute
        full = frame[frame["seconds"] == 60]
        within = full[full["ModelLatency_p99"] <= threshold_us]
        assert item.outcome.per_instance_max == within["Invocations"].max()
        best = full.loc[within["Invocations"].idxmax()]
        assert item.outcome.model_latency_us == round(best["ModelLatency_p99"])
    assert_valid_aws_shapes(result)


# --- AWS shapes -------------------------------------------------------------------------

def test_seed_request_is_a_valid_boto3_request():
    client = sagemaker_client()
    request = seed_request()
    arn = "arn:aws:sagemaker:us-east-1:111122223333:inference-recommendations-job/xgboost-advanced-load-test"
    with Stubber(client) as stub:
        stub.add_response("create_inference_recommendations_job", {"JobArn": arn}, request)
        assert client.create_inference_recommendations_job(**request)["JobArn"] == arn


def test_describe_and_steps_pass_botocore_output_validation(seed_result):
    assert_valid_aws_shapes(seed_result)
    describe = seed_result.describe
    assert describe["JobArn"] == ("arn:aws:sagemaker:us-east-1:111122223333:"
                                  "inference-recommendations-job/xgboost-advanced-load-test")
    assert describe["InputConfig"] == seed_request()["InputConfig"]
    assert describe["StoppingConditions"] == seed_request()["StoppingConditions"]
    assert describe["CreationTime"] == CREATED
    # Three tests in parallel (MaxParallelOfTests 3): all start together, after provisioning.
    assert len({r["InvocationStartTime"] for r in describe["InferenceRecommendations"]}) == 1
    assert all(r["InvocationEndTime"] <= describe["CompletionTime"] for r in describe["InferenceRecommendations"])
    assert [s["StepType"] for s in seed_result.steps["Steps"]] == ["BENCHMARK"] * 3


@pytest.mark.slow(reason="the seed job run whole (1.1 s measured)")
def test_no_timestamp_lies_after_the_wall_clock_and_the_timeline_ends_at_completion(seed_result):
    """The simulated timeline keeps each benchmark's order and duration, placed so that it has
    ended when the job completes (the wall clock by default), so no timestamp is in the future."""
    before = datetime.now(UTC)
    describe, steps = seed_result.describe, seed_result.steps["Steps"]
    stamps = [describe["CreationTime"], describe["CompletionTime"], describe["LastModifiedTime"],
              *(b[key] for b in [s["InferenceBenchmark"] for s in steps]
                for key in ("InvocationStartTime", "InvocationEndTime"))]
    assert max(stamps) <= before
    assert max(s["InferenceBenchmark"]["InvocationEndTime"] for s in steps) == describe["CompletionTime"]
    for item, step in zip(seed_result.scheduled, steps, strict=True):
        benchmark = step["InferenceBenchmark"]
        assert (benchmark["InvocationEndTime"] - benchmark["InvocationStartTime"]).total_seconds() == \
            pytest.approx(item.invocation_end_s - item.invocation_start_s, abs=1e-3)
    fixed = execute_job(seed_request(), "demo", seed=0, created=CREATED, completed=COMPLETED).describe
    assert fixed["CompletionTime"] == fixed["LastModifiedTime"] == COMPLETED
    assert max(r["InvocationEndTime"] for r in fixed["InferenceRecommendations"]) == COMPLETED


@pytest.mark.slow
def test_region_changes_the_arn_and_the_price():
    result = execute_job(seed_request(), "demo", region="eu-west-1", created=CREATED)
    assert ":eu-west-1:" in result.describe["JobArn"]
    m5 = [r for r in result.describe.get("InferenceRecommendations", [])
          if r["EndpointConfiguration"]["InstanceType"] == "ml.m5.xlarge"]
    assert m5 and m5[0]["Metrics"]["CostPerHour"] == m5[0]["EndpointConfiguration"]["InitialInstanceCount"] * 0.257


# --- determinism --------------------------------------------------------------------------

@pytest.mark.slow
def test_same_seed_same_answer_serial_or_parallel():
    request = json.loads((EXAMPLES / "stairs-job.json").read_text())
    parallel = execute_job(request, "demo", seed=7, created=CREATED, completed=COMPLETED, parallel=True)
    serial = execute_job(request, "demo", seed=7, created=CREATED, completed=COMPLETED, parallel=False)
    assert parallel.describe == serial.describe and parallel.steps == serial.steps
    other = execute_job(request, "demo", seed=8, created=CREATED, completed=COMPLETED, parallel=False)
    assert other.describe != serial.describe


# --- failures and the budget ---------------------------------------------------------------

def slow_profile():
    return {"model": "mixed", "instances": {
        "ml.c5.xlarge": {"workers": 4, "service_time": {"family": "lognormal", "mean_ms": 5, "cv": 0.5}},
        "ml.m5.xlarge": {"workers": 4, "service_time": {"family": "lognormal", "mean_ms": 400, "cv": 0.5}},
        "ml.r5.xlarge": {"workers": 4, "service_time": {"family": "lognormal", "mean_ms": 5, "cv": 0.5}}}}


@pytest.mark.slow
def test_a_configuration_over_the_threshold_at_the_lowest_load_fails_its_step_only():
    result = execute_job(seed_request(), slow_profile(), created=CREATED)
    describe = result.describe
    assert describe["Status"] == "COMPLETED"
    assert {r["EndpointConfiguration"]["InstanceType"] for r in describe["InferenceRecommendations"]} == \
        {"ml.c5.xlarge", "ml.r5.xlarge"}
    failed = [s for s in result.steps["Steps"] if s["Status"] == "FAILED"]
    assert len(failed) == 1
    reason = failed[0]["InferenceBenchmark"]["FailureReason"]
    assert failed[0]["InferenceBenchmark"]["EndpointConfiguration"]["InstanceType"] == "ml.m5.xlarge"
    assert "P95" in reason and "100 ms threshold" in reason and "lowest load" in reason
    assert_valid_aws_shapes(result)


def test_the_job_fails_only_when_no_benchmark_succeeds():
    request = seed_request()
    request["StoppingConditions"]["ModelLatencyThresholds"][0]["ValueInMilliseconds"] = 1
    result = execute_job(request, "demo", created=CREATED)
    assert result.describe["Status"] == "FAILED"
    assert "InferenceRecommendations" not in result.describe
    assert result.describe["FailureReason"].startswith("No benchmark succeeded")
    assert all(s["Status"] == "FAILED" for s in result.steps["Steps"])
    assert_valid_aws_shapes(result)


@pytest.mark.slow
def test_benchmarks_that_would_not_finish_within_the_job_duration_are_not_scheduled():
    request = seed_request()
    request["InputConfig"]["ResourceLimit"]["MaxParallelOfTests"] = 1
    request["StoppingConditions"]["MaxInvocations"] = 30000  # run the whole 240 s pattern
    request["InputConfig"]["JobDurationInSeconds"] = int(2 * (PROVISIONING_S + 240))
    result = execute_job(request, "demo", created=CREATED)
    assert [o.spec.instance_type for o in result.not_scheduled] == ["ml.r5.xlarge"]
    recommendations = result.describe["InferenceRecommendations"]
    assert [r["EndpointConfiguration"]["InstanceType"] for r in recommendations] == ["ml.c5.xlarge", "ml.m5.xlarge"]
    # Serial tests: the second starts when the first ends, after its own provisioning.
    first, second = recommendations
    assert second["InvocationStartTime"] == first["InvocationEndTime"] + timedelta(seconds=PROVISIONING_S)
    assert result.describe["CompletionTime"] == second["InvocationEndTime"]


@pytest.mark.slow
def test_a_type_without_a_price_fails_its_step_and_is_never_priced_zero():
    request = seed_request()
    request["InputConfig"]["EndpointConfigurations"].append({"InstanceType": "ml.c6g.xlarge"})
    result = execute_job(request, "demo", created=CREATED)
    step = next(s for s in result.steps["Steps"]
                if s["InferenceBenchmark"]["EndpointConfiguration"]["InstanceType"] == "ml.c6g.xlarge")
    assert step["Status"] == "FAILED"
    assert "no hourly price for ml.c6g.xlarge" in step["InferenceBenchmark"]["FailureReason"]
    assert all(r["Metrics"]["CostPerHour"] > 0 for r in result.describe["InferenceRecommendations"])


def test_unprofiled_types_are_derived_and_flagged_not_calibrated():
    request = seed_request()
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c6i.xlarge"}]
    result = execute_job(request, "demo", created=CREATED)
    (benchmark,) = result.extensions()["benchmarks"]
    assert benchmark["calibrated"] is False and benchmark["Status"] == "COMPLETED"


@pytest.mark.slow
def test_default_job_tests_every_profiled_type_with_count_one():
    request = {"JobName": "default-job", "JobType": "Default",
               "RoleArn": "arn:aws:iam::111122223333:role/Role",
               "InputConfig": {"ModelName": "xgboost-demo",
                               "ContainerConfig": {"SupportedInstanceTypes": ["ml.c5.large", "ml.m5.large"]}}}
    result = execute_job(request, "demo", created=CREATED)
    recommendations = result.describe["InferenceRecommendations"]
    real_time = [r for r in recommendations if "InstanceType" in r["EndpointConfiguration"]]
    assert [r["EndpointConfiguration"]["InstanceType"] for r in real_time] == ["ml.c5.large", "ml.m5.large"]
    assert all(r["EndpointConfiguration"]["InitialInstanceCount"] == 1 for r in real_time)
    # Without SupportedEndpointType, real-time and serverless benchmarks together (the API reference).
    assert {r["EndpointConfiguration"]["ServerlessConfig"]["MemorySizeInMB"]
            for r in recommendations if "ServerlessConfig" in r["EndpointConfiguration"]} == {1024, 2048, 3072, 4096}
    assert_valid_aws_shapes(result)


@pytest.mark.slow
def test_run_job_returns_the_describe_response():
    describe = run_job(seed_request(), "demo", seed=0)
    assert describe["Status"] == "COMPLETED" and isinstance(describe["CreationTime"], datetime)


# --- the CLI ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_irsim_run_writes_every_output(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(EXAMPLES / "seed-advanced-job.json"), "--out", str(out), "--seed", "1"]) == 0
    stdout, stderr = capsys.readouterr()
    assert "ml.c5.xlarge" in stdout and "$/hour" in stdout and "wrote" in stderr  # no bars off a terminal
    assert "━" not in stderr
    assert sorted(p.name for p in out.iterdir()) == ["describe.json", "irsim.json", "metrics.csv", "report.png",
                                                     "steps.json"]
    describe = json.loads((out / "describe.json").read_text())
    assert describe["Status"] == "COMPLETED" and len(describe["InferenceRecommendations"]) == 3
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "metrics.csv").read_text().startswith("benchmark,InstanceType,EnvironmentParameters,minute")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind


def test_irsim_run_json_syntax_error_exits_2_with_line_and_column(tmp_path, capsys):
    job = tmp_path / "job.json"
    job.write_text('{\n  "JobName": "x",\n  "JobType": }\n')
    assert main(["run", str(job), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "line 3 column 14" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_irsim_run_invalid_request_exits_2_and_writes_nothing(tmp_path, capsys):
    request = seed_request()
    request["InputConfig"]["TrafficPattern"]["Phases"][0]["SpawnRate"] = 9
    job = tmp_path / "job.json"
    job.write_text(json.dumps(request))
    assert main(["run", str(job), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "ValidationException" in err and "InputConfig.TrafficPattern.Phases[0].SpawnRate" in err
    assert "between 0 and 3" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.json"]


def test_irsim_run_param_validation_error_exits_2(tmp_path, capsys):
    request = seed_request()
    del request["RoleArn"]
    job = tmp_path / "job.json"
    job.write_text(json.dumps(request))
    assert main(["run", str(job)]) == 2
    assert "Missing required parameter" in capsys.readouterr().err


@pytest.mark.slow
def test_irsim_run_uses_refreshed_prices_from_a_price_list(tmp_path, capsys):
    offer = json.loads((Path(__file__).parent / "data" / "pricing" / "sagemaker_offer_excerpt.json").read_text())
    changed = 0
    for sku, product in offer["products"].items():
        attributes = product["attributes"]
        if attributes.get("instanceName") == "ml.c5.xlarge" and attributes.get("regionCode") == "us-east-1" \
                and attributes.get("component", "").lower() == "hosting":
            for term in offer["terms"]["OnDemand"][sku].values():
                for dimension in term["priceDimensions"].values():
                    dimension["pricePerUnit"]["USD"] = "0.3000000000"
                    changed += 1
    assert changed == 1
    price_list = tmp_path / "offer.json"
    price_list.write_text(json.dumps(offer))
    out = tmp_path / "out"
    assert main(["run", str(EXAMPLES / "seed-advanced-job.json"), "--quiet", "--price-list", str(price_list),
                 "--out", str(out)]) == 0
    describe = json.loads((out / "describe.json").read_text())
    c5 = [r for r in describe["InferenceRecommendations"]
          if r["EndpointConfiguration"]["InstanceType"] == "ml.c5.xlarge"]
    assert c5[0]["Metrics"]["CostPerHour"] == \
        pytest.approx(0.3 * c5[0]["EndpointConfiguration"]["InitialInstanceCount"])
    extension = json.loads((out / "irsim.json").read_text())["benchmarks"][0]
    assert extension["price_confidence"] == "confirmed" and "Price List" in extension["price_source"]


def test_a_stopped_job_keeps_the_benchmarks_that_finished():
    request = json.loads((EXAMPLES / "stairs-job.json").read_text())
    finished = []

    def stop_after_first(outcome, done, total):
        finished.append(outcome.spec.index)

    # Serial run; the interrupt fires once the first benchmark has finished.
    result = execute_job(request, "demo", created=CREATED, parallel=False, progress=stop_after_first,
                         interrupt=lambda: bool(finished))
    assert result.describe["Status"] == "STOPPED" and "FailureReason" not in result.describe
    assert [r["EndpointConfiguration"]["InstanceType"] for r in result.describe["InferenceRecommendations"]] == \
        ["ml.c5.large"]
    statuses = [s["Status"] for s in result.steps["Steps"]]
    assert statuses == ["COMPLETED", "STOPPED", "STOPPED", "STOPPED"]
    assert_valid_aws_shapes(result)


@pytest.mark.slow
def test_replications_give_means_and_intervals_and_keep_the_first_answer(tmp_path, capsys):
    request = json.loads((EXAMPLES / "stairs-job.json").read_text())
    first, summary = replicate(request, "demo", 3, "us-east-1", 4, created=CREATED, completed=COMPLETED)
    assert first.describe == execute_job(request, "demo", seed=3, created=CREATED, completed=COMPLETED).describe
    assert summary.replications == 4 and len(set(summary.seeds)) == 4 and summary.seeds[0] == 3
    for entry in summary.benchmarks:
        values = entry.per_instance_max_invocations
        assert values is not None and values.ci95[0] <= values.mean <= values.ci95[1]
        assert entry.succeeded == 4
    out = tmp_path / "out"
    assert main(["run", str(EXAMPLES / "stairs-job.json"), "--quiet", "--replications", "3", "--out", str(out)]) == 0
    assert "Over 3 seeded replications" in capsys.readouterr().out
    assert json.loads((out / "irsim.json").read_text())["replications"]["replications"] == 3


def test_replications_check_production_at_the_runs_precision(monkeypatch, tmp_path):
    """`irsim run --replications R --precision P`: the production check repeated with every
    seed decides at P, as the first run's check does (it used to fall back to the default)."""
    used: list[tuple[str, float]] = []

    def recording(where, real):
        def check(*args, **kwargs):
            used.append((where, kwargs.get("precision", DEFAULT_PRECISION)))
            return real(*args, **kwargs)
        return check

    monkeypatch.setattr(first_checks, "production_check", recording("first", first_checks.production_check))
    monkeypatch.setattr(repeated_checks, "production_check", recording("repeated", repeated_checks.production_check))
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.xlarge"}]
    request["InputConfig"]["TrafficPattern"]["Phases"] = [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]
    job = tmp_path / "job.json"
    job.write_text(json.dumps(request))
    assert main(["run", str(job), "--quiet", "--replications", "2", "--precision", "0.05", "--out",
                 str(tmp_path / "out")]) == 0
    assert [where for where, _ in used] == ["first", "repeated"]
    assert {precision for _, precision in used} == {0.05}
