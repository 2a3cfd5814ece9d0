"""Calibration: readers, fits, the simulate → CloudWatch → calibrate round trip, the CLI."""

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calibration.fit import calibrate_cloudwatch, calibrate_results, fit_quantiles, fit_samples, quantile_ms
from calibration.sources import export_get_metric_statistics, read_cloudwatch, read_describe, read_samples, read_steps
from calibration.transfer import derive_instance
from irsim import execute_job
from irsim.cli.app import main
from irsim.present.formats import dumps
from simulator import InputError, InstanceResources, Stairs, load_profile, parse_distribution, simulate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
START = datetime(2026, 1, 1, tzinfo=UTC)
TYPE = "ml.c5.xlarge"


def true_profile(family="lognormal", mean_ms=8.0, cv=0.5, workers=4, overhead_ms=2.0):
    service = {"family": family, "mean_ms": mean_ms, **({"cv": cv} if family != "exponential" else {})}
    return {"model": "truth", "overhead_ms": {"family": "lognormal", "mean_ms": overhead_ms, "cv": 0.3},
            "instances": {TYPE: {"workers": workers, "service_time": service, "memory_mb": 900}}}


def ramp_for(profile, minutes=12):
    entry = profile["instances"][TYPE]
    mean = entry["service_time"]["mean_ms"]
    knee = entry["workers"] * (mean + profile["overhead_ms"]["mean_ms"]) / mean
    return Stairs(60 * minutes, minutes, max(1, math.ceil(2 * knee / minutes)))


def cloudwatch_of(profile, traffic, seed=1):
    result = simulate(profile, TYPE, traffic=traffic, seed=seed, resources=InstanceResources(4, 8192))
    return export_get_metric_statistics(result.per_minute, START)


# --- readers ----------------------------------------------------------------------------------

def test_get_metric_statistics_files_combine_by_timestamp(tmp_path):
    documents = cloudwatch_of(true_profile(), ramp_for(true_profile(), 4))
    paths = []
    for document in documents:
        path = tmp_path / f"{document['Label']}.json"
        path.write_text(json.dumps(document))
        paths.append(path)
    frame, origins = read_cloudwatch(paths)
    assert len(frame) == 4 and frame.index.is_monotonic_increasing  # exported newest first
    assert {"Invocations_Sum", "ModelLatency_p99", "ModelLatency_Average", "CPUUtilization_Average"} <= set(frame)
    assert len(origins) == len(paths) and all(len(o.sha256) == 64 for o in origins)


def test_get_metric_data_with_its_queries():
    stamps = ["2026-01-01T00:01:00Z", "2026-01-01T00:00:00Z"]
    document = {
        "MetricDataQueries": [
            {"Id": "inv", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"},
                                         "Period": 60, "Stat": "Sum"}},
            {"Id": "lat", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency"},
                                         "Period": 60, "Stat": "p99", "Unit": "Microseconds"}}],
        "MetricDataResults": [{"Id": "inv", "Timestamps": stamps, "Values": [120.0, 60.0]},
                              {"Id": "lat", "Timestamps": stamps, "Values": [9000.0, 8000.0]}]}
    frame, _ = read_cloudwatch([document])
    assert list(frame["Invocations_Sum"]) == [60.0, 120.0]
    assert list(frame["ModelLatency_p99"]) == [8000.0, 9000.0]


@pytest.mark.parametrize("content, words", [
    ("", "is empty"),
    ('{"Label": "ModelLatency", "Datapoints": []}', "no datapoints"),
    ('{"Label": "ModelLatency", "Datapoints": [{"Timestamp": "2026-01-01T00:00:00Z", "Average": NaN, '
     '"Unit": "Microseconds"}]}', "not a finite number"),
    ('{"Label": "ModelLatency", "Datapoints": [{"Timestamp": "2026-01-01T00:00:00Z", "Average": 5, '
     '"Unit": "Bytes"}]}', "expected Microseconds or Milliseconds or Seconds"),
    ('{"Label": "DiskUtilization", "Datapoints": [{"Timestamp": "2026-01-01T00:00:00Z", "Average": 5, '
     '"Unit": "Percent"}]}', "cannot be used"),
    ('{"JobName": "x", "InputConfig": {}}', "is not CloudWatch output"),
    ('{"MetricDataResults": []}', "without its MetricDataQueries"),
    ("not json", "is not valid JSON"),
])
def test_malformed_cloudwatch_names_the_file_and_the_problem(tmp_path, content, words):
    path = tmp_path / "metrics.json"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_cloudwatch([path])
    assert info.value.field.startswith(str(path)) and words in str(info.value)


@pytest.mark.slow
def test_describe_and_steps_readers_from_aws_cli_style_files(tmp_path):
    result = execute_job(json.loads((EXAMPLES / "stairs-job.json").read_text()), "demo", seed=0)
    describe, steps = tmp_path / "describe.json", tmp_path / "steps.json"
    describe.write_text(dumps(result.describe))  # timestamps as strings, as the AWS CLI prints them
    steps.write_text(dumps(result.steps))
    observations, _ = read_describe(describe)
    by_type = {(o.instance_type, o.environment): o for o in observations}
    c5 = by_type[("ml.c5.large", ())]
    recommendation = next(r for r in result.describe["InferenceRecommendations"]
                          if r["EndpointConfiguration"]["InstanceType"] == "ml.c5.large")
    count = recommendation["EndpointConfiguration"]["InitialInstanceCount"]
    assert c5.per_instance_max_invocations == recommendation["Metrics"]["MaxInvocations"] / count
    assert c5.percentile == "P99" and c5.threshold_ms == 20
    assert by_type[("ml.c5.xlarge", (("OMP_NUM_THREADS", "2"),))].model_latency_ms > 0
    from_steps, _ = read_steps(steps)
    assert {o.per_instance_max_invocations for o in from_steps} == \
        {s["InferenceBenchmark"]["EndpointMetrics"]["MaxInvocations"] for s in result.steps["Steps"]}
    with pytest.raises(InputError, match="is not a DescribeInferenceRecommendationsJob"):
        read_describe(steps)


def test_samples_readers(tmp_path):
    values = np.random.default_rng(0).lognormal(1, 0.4, 50)
    csv_file, single, ndjson = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.ndjson"
    csv_file.write_text("request_id,latency_ms\n" + "\n".join(f"r{i},{v}" for i, v in enumerate(values)))
    single.write_text("\n".join(str(v) for v in values))
    ndjson.write_text("\n".join(json.dumps({"latency_ms": v}) for v in values))
    for path in (csv_file, single, ndjson):
        np.testing.assert_allclose(read_samples(path)[0], values)
    bad = tmp_path / "bad.csv"
    bad.write_text("latency_ms\n" + "\n".join(["5"] * 30 + ["-1"]))
    with pytest.raises(InputError, match=r"bad\.csv:32: latency_ms -1\.0 is not a latency"):
        read_samples(bad)
    few = tmp_path / "few.csv"
    few.write_text("latency_ms\n1\n2\n")
    with pytest.raises(InputError, match="at least 20"):
        read_samples(few)


# --- fits --------------------------------------------------------------------------------------

@pytest.mark.parametrize("family, cv", [("lognormal", 0.5), ("gamma", 1.6), ("weibull", 0.6)])
def test_maximum_likelihood_finds_family_mean_and_cv(family, cv):
    samples = parse_distribution({"family": family, "mean_ms": 10, "cv": cv}, "s").sample_s(
        np.random.default_rng(1), 20_000) * 1000
    fit = fit_samples(samples)
    assert fit.family == family
    assert fit.mean_ms == pytest.approx(10, rel=0.03) and fit.cv == pytest.approx(cv, rel=0.05)


@pytest.mark.parametrize("family, cv", [("lognormal", 0.7), ("gamma", 0.4), ("weibull", 1.3)])
def test_quantile_matching_is_exact_on_exact_quantiles(family, cv):
    quantiles = {p: quantile_ms(family, 12.0, cv, p / 100) for p in (50, 90, 95, 99)}
    fit = fit_quantiles(12.0, quantiles)
    assert fit.family == family and fit.cv == pytest.approx(cv, abs=2e-3)


# --- the round trip ----------------------------------------------------------------------------

@pytest.mark.slow
@settings(max_examples=int(__import__("os").environ.get("ROUND_TRIP_EXAMPLES", 6)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["lognormal", "gamma", "weibull", "exponential"]), mean_ms=st.floats(4.0, 30.0),
       cv=st.floats(0.3, 1.5), workers=st.integers(1, 6), seed=st.integers(0, 1000))
def test_round_trip_recovers_the_parameters_and_predicts_unseen_load(family, mean_ms, cv, workers, seed):
    """Tolerances: mean 5 %, cv 20 %, workers exact; at three times the highest load the data
    held, throughput within 5 % and p95 within 10 % of the true profile's."""
    truth = true_profile(family, mean_ms, cv, workers)
    ramp = ramp_for(truth)
    frame, _ = read_cloudwatch(cloudwatch_of(truth, ramp, seed))
    calibration = calibrate_cloudwatch(frame, TYPE, 1, 8192, vcpu=4)
    fitted = calibration.entry
    expected_cv = 1.0 if family == "exponential" else cv
    assert fitted.service_time.mean_ms == pytest.approx(mean_ms, rel=0.05)
    assert fitted.service_time.cv == pytest.approx(expected_cv, rel=0.20)
    assert fitted.workers == workers and calibration.workers_determined
    unseen_users = 3 * ramp.users_per_step * ramp.number_of_steps
    fitted_profile = {"model": "fitted", "overhead_ms": calibration.overhead.to_dict(),
                      "instances": {TYPE: fitted.to_dict()}}
    actual = simulate(truth, TYPE, users=unseen_users, duration_s=300, seed=seed + 1)
    predicted = simulate(fitted_profile, TYPE, users=unseen_users, duration_s=300, seed=seed + 2)
    assert predicted.throughput_per_s == pytest.approx(actual.throughput_per_s, rel=0.05)
    assert predicted.percentile_ms(95) == pytest.approx(actual.percentile_ms(95), rel=0.10)


@pytest.mark.slow
def test_results_alone_fix_only_the_capacity():
    result = execute_job(json.loads((EXAMPLES / "stairs-job.json").read_text()), "demo", seed=0)
    observations, _ = read_describe(result.describe)
    calibration = calibrate_results(observations, "ml.c5.large", assumed_workers=2)
    best = max(o.per_instance_max_invocations for o in observations if o.instance_type == "ml.c5.large")
    entry = calibration.entry
    assert entry.workers / (entry.service_time.mean_ms / 1000) * 60 == pytest.approx(best)
    assert not calibration.workers_determined and any("NOT determined" in line for line in calibration.report)


def test_a_run_beyond_the_calibrated_range_warns():
    profile = true_profile()
    profile["instances"][TYPE]["provenance"] = {"observed_invocations_per_minute": [0, 5000]}
    assert simulate(profile, TYPE, users=1, duration_s=120).warnings == ()
    busy = simulate(profile, TYPE, users=20, duration_s=120)
    assert busy.warnings and "beyond the 5,000" in busy.warnings[0]


def test_transfer_scales_workers_by_vcpu_and_service_by_generation():
    vcpus = {"ml.c5.xlarge": 4, "ml.c5.large": 2, "ml.c5.4xlarge": 16, "ml.c6i.xlarge": 4, "ml.m5.large": 2,
             "ml.m5.xlarge": 4, "ml.c5.2xlarge": 8, "ml.c5d.xlarge": 4, "ml.m5.2xlarge": 8, "ml.r5.xlarge": 4,
             "ml.g4dn.xlarge": 4, "ml.inf1.xlarge": 4}
    demo = load_profile("demo")
    bigger = derive_instance(demo, "ml.c5.4xlarge", vcpus.get)
    reference = demo.instance("ml.c5.2xlarge")
    assert bigger.workers == reference.workers * 2 and bigger.calibrated is False
    assert bigger.service_time == reference.service_time
    newer = derive_instance(demo, "ml.c6i.xlarge", vcpus.get)
    assert newer.service_time.mean_ms == pytest.approx(demo.instance("ml.c5.xlarge").service_time.mean_ms * 0.9)
    with pytest.raises(InputError, match="neither in profile"):
        derive_instance(demo, "ml.x9.large", vcpus.get)


# --- the CLI ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_calibrate_writes_a_profile_and_merges_into_an_existing_one(tmp_path, capsys):
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(cloudwatch_of(true_profile(), ramp_for(true_profile()))))
    output = tmp_path / "profile.json"
    output.write_text(json.dumps(load_profile("demo").to_dict()))
    assert main(["calibrate", "--instance-type", TYPE, "--cloudwatch", str(metrics), "-o", str(output),
                 "--plot", str(tmp_path / "fit.png")]) == 0
    report = capsys.readouterr().out
    assert "workers        4 (determined; confidence set {4})" in report and "lognormal" in report
    merged = load_profile(output)
    assert "ml.c5.large" in merged.instances  # the rest of the demo profile is kept
    entry = merged.instance(TYPE)
    assert entry.workers == 4 and entry.service_time.mean_ms == pytest.approx(8.0, rel=0.05)
    assert entry.provenance["sources"][0]["sha256"] and entry.provenance["observed_invocations_per_minute"]
    assert (tmp_path / "fit.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("flag, content, words", [
    ("--cloudwatch", "", "is empty"),
    ("--cloudwatch", '{"Label": "ModelLatency", "Datapoints": []}', "no datapoints"),
    ("--describe", '{"Label": "ModelLatency", "Datapoints": []}', "is not a DescribeInferenceRecommendationsJob"),
    ("--samples", "latency_ms\nabc\n", "is not a number"),
])
def test_calibrate_bad_input_exits_2_and_leaves_the_profile_untouched(tmp_path, capsys, flag, content, words):
    source = tmp_path / "input.json"
    source.write_text(content)
    output = tmp_path / "profile.json"
    output.write_text('{"untouched": true}')
    assert main(["calibrate", "--instance-type", TYPE, flag, str(source), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert str(source) in err and words in err and "Traceback" not in err
    assert output.read_text() == '{"untouched": true}'


def test_calibrate_needs_a_source(tmp_path, capsys):
    assert main(["calibrate", "--instance-type", TYPE, "-o", str(tmp_path / "p.json")]) == 2
    assert "give at least one of --cloudwatch" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


@pytest.mark.slow
def test_no_light_load_minute_is_flagged():
    truth = true_profile("exponential", 5.0, None, 2)
    frame, _ = read_cloudwatch(cloudwatch_of(truth, Stairs(180, 3, 4)))  # 4 users from the first minute
    calibration = calibrate_cloudwatch(frame, TYPE, 1, 8192, vcpu=4)
    assert any(line.startswith("WARNING: the lightest minute already ran at") for line in calibration.report)
    gentle, _ = read_cloudwatch(cloudwatch_of(truth, ramp_for(truth)))
    assert not any("WARNING" in line for line in calibrate_cloudwatch(gentle, TYPE, 1, 8192, vcpu=4).report)
