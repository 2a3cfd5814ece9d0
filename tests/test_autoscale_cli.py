"""`irsim autoscale`: its JSON answer and table, the files --out writes (all or nothing) and
`irsim report` renders, one line and exit 2 for bad input, and a week of per-minute traffic."""

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from test_scaling_recommendation import stairs_request

import irsim
import irsim.present.autoscale as present
from irsim.durable.store import JobStore, NewJob
from irsim.durable.worker import end_states
from irsim.present.formats import dumps
from irsim.present.outputs import metrics_frame
from irsim.service.job import JobResult, execute_job

DAY = "diurnal:peak=20000,trough=2000,days=1,bursts=2,noise=0.1"
QUARTER = "diurnal:peak=20000,trough=2000,hours=6,peak_hour=3,bursts=2,noise=0.1"


@pytest.fixture(scope="module")
def finished() -> JobResult:
    return execute_job(stairs_request("autoscale-job"), seed=3, parallel=False, production=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, finished) -> Path:
    """The files of an `irsim run --out` folder autoscale reads (write_outputs' own writers;
    report.png is left out: drawing it is most of write_outputs' time)."""
    folder = tmp_path_factory.mktemp("run")
    (folder / "describe.json").write_text(dumps(finished.describe))
    (folder / "irsim.json").write_text(dumps(finished.extensions()))
    metrics_frame(finished).to_csv(folder / "metrics.csv", index=False)
    return folder


def store_finished(home: Path, result: JobResult, status: str = "IN_PROGRESS") -> None:
    """The job stored and ended as its worker ends it (or left FAILED)."""
    spec = result.spec.request
    store = JobStore(home)
    store.insert(NewJob(name=spec["JobName"], arn=result.describe["JobArn"], job_type=spec["JobType"],
                        request=dict(spec), profile=result.profile.to_dict() if result.profile else {},
                        seed=result.seed, region="us-east-1", created=datetime.now(UTC)), status=status)
    if status == "IN_PROGRESS":
        store.finish(spec["JobName"], *end_states(result))


@pytest.mark.slow(reason="the autoscale command end to end (0.8 s measured)")
def test_json_answer_has_the_issue_keys_and_adds_up(cli, run_dir, finished):
    code, out, err = cli("autoscale", run_dir, "--traffic", DAY, "--slo", "P95=12", "--json")
    assert code == 0, err
    answer = json.loads(out)
    policy_keys = {"MinCapacity", "MaxCapacity", "TargetValue", "ScaleInCooldown", "ScaleOutCooldown"}
    assert set(answer["policy"]) == policy_keys
    assert policy_keys | {"violating_minutes", "cost"} <= set(answer["aws_policy"])
    assert set(answer["static_peak"]) >= {"count", "cost", "violating_minutes"}
    assert answer["minutes"] == 1440
    cheapest_per_inference = min(finished.describe["InferenceRecommendations"],
                                 key=lambda r: r["Metrics"]["CostPerInference"])
    assert answer["recommendation_id"] == cheapest_per_inference["RecommendationId"]
    price = answer["price_per_hour"]
    for plan in (answer, answer["aws_policy"], answer["static_peak"]):  # costs add up to instance-minutes x price
        assert plan["cost"] == pytest.approx(plan["instance_minutes"] * price / 60)
    assert answer["static_peak"]["instance_minutes"] >= answer["static_peak"]["count"] * 1440
    assert answer["violating_minutes"] <= answer["budget_minutes"] == math.floor(0.001 * 1440)
    assert answer["cost"] <= answer["static_peak"]["cost"]
    assert 1 <= answer["policy"]["MinCapacity"] <= answer["policy"]["MaxCapacity"]


@pytest.mark.slow(reason="the autoscale command end to end (0.4 s measured)")
def test_the_aws_policy_is_the_api_calls_answer_for_the_curve(cli, home, finished):
    store_finished(home, finished)
    code, out, err = cli("autoscale", "autoscale-job", "--home", home, "--traffic", DAY, "--json")
    assert code == 0, err
    answer = json.loads(out)
    call = irsim.client(home=home).get_scaling_configuration_recommendation(
        InferenceRecommendationsJobName="autoscale-job", RecommendationId=answer["recommendation_id"],
        ScalingPolicyObjective={"MinInvocationsPerMinute": math.floor(answer["traffic"]["minimum_per_minute"]),
                                "MaxInvocationsPerMinute": math.ceil(answer["traffic"]["peak_per_minute"])})
    config = call["DynamicScalingConfiguration"]
    aws = answer["aws_policy"]
    assert (aws["MinCapacity"], aws["MaxCapacity"], aws["ScaleInCooldown"], aws["ScaleOutCooldown"]) == \
        (config["MinCapacity"], config["MaxCapacity"], config["ScaleInCooldown"], config["ScaleOutCooldown"])
    assert aws["TargetValue"] == config["ScalingPolicies"][0]["TargetTracking"]["TargetValue"]


def test_the_table_is_the_default(cli, run_dir):
    code, out, err = cli("autoscale", run_dir, "--traffic", "flat:rate=6000,days=0.25")
    assert code == 0, err
    assert "recommended policy" in out and "GetScalingConfigurationRecommendation" in out
    assert "static at the peak" in out and not out.lstrip().startswith("{")


@pytest.mark.slow(reason="the autoscale command end to end (0.5 s measured)")
def test_out_writes_the_chart_and_minutes_and_report_renders_them(cli, run_dir, tmp_path):
    out_dir = tmp_path / "autoscale"
    code, _, err = cli("autoscale", run_dir, "--traffic", QUARTER, "--slo", "P95=12", "--out", out_dir)
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["autoscale.csv", "autoscale.json", "autoscale.png"]
    assert (out_dir / "autoscale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    minutes = pd.read_csv(out_dir / "autoscale.csv")
    assert len(minutes) == 360
    assert {"minute", "invocations", "capacity", "percentile_ms", "violating", "aws_capacity",
            "static_capacity"} <= set(minutes.columns)
    document = json.loads((out_dir / "autoscale.json").read_text())
    assert int(minutes["violating"].sum()) == document["violating_minutes"]
    assert int(minutes["aws_violating"].sum()) == document["aws_policy"]["violating_minutes"]
    code, _, err = cli("report", out_dir)
    assert code == 0, err
    page = (out_dir / "report.html").read_text()
    assert "Autoscaling what-if" in page and page.count("data:image/png;base64,") == 1


def test_out_leaves_nothing_when_a_file_fails(run_dir, tmp_path, monkeypatch):
    def broken(*_):
        raise RuntimeError("disk full")
    monkeypatch.setattr(present, "plot_autoscale", broken)
    frame = pd.DataFrame({"minute": [1], "invocations": [1.0]})
    with pytest.raises(RuntimeError):
        present.write_autoscale_outputs(tmp_path / "out", {"job": "x"}, frame)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its staging copy


def test_bad_input_is_one_line_and_exit_2(cli, home, run_dir, tmp_path, finished):
    garbage = tmp_path / "curve.csv"
    garbage.write_text("timestamp,invocations\n2024-01-01T00:00:00Z,many\n")
    store_finished(home, execute_job(stairs_request("failed-job"), seed=3, parallel=False, production=False),
                   status="FAILED")
    cases = [
        ((run_dir, "--traffic", tmp_path / "missing.csv"), "--traffic"),
        ((run_dir, "--traffic", garbage), "--traffic"),
        ((run_dir, "--traffic", "diurnal:peak=100,nope=1"), "--traffic"),
        ((run_dir, "--traffic", DAY, "--slo", "P95=fast"), "--slo"),
        ((run_dir, "--traffic", DAY, "--slo", "P97=100"), "--slo"),
        ((run_dir, "--traffic", DAY, "--slo", "P95=0"), "--slo"),
        ((run_dir, "--traffic", DAY, "--violation-budget", "2"), "--violation-budget"),
        ((run_dir, "--traffic", DAY, "--startup-s", "-1"), "--startup-s"),
        ((run_dir, "--traffic", DAY, "--recommendation-id", "nope"), "--recommendation-id"),
        (("failed-job", "--home", home, "--traffic", DAY), "COMPLETED"),
        (("no-such-job", "--home", home, "--traffic", DAY), "JOB_DIR_OR_NAME"),
        ((tmp_path, "--traffic", DAY), "describe.json"),
    ]
    for argv, words in cases:
        code, out, err = cli("autoscale", *argv)
        assert (code, out) == (2, ""), (argv, code, err)
        assert len(err.strip().splitlines()) == 1 and words in err and "Traceback" not in err, (argv, err)


@pytest.mark.slow
def test_a_week_of_per_minute_traffic_is_answered_in_under_a_minute(cli, run_dir, tmp_path):
    began = time.perf_counter()
    code, out, err = cli("autoscale", run_dir, "--traffic", "diurnal:peak=30000,trough=3000,days=7,weekend=0.6,"
                         "bursts=20,noise=0.1", "--slo", "P95=12", "--json", "--out", tmp_path / "week")
    elapsed = time.perf_counter() - began
    assert code == 0, err
    answer = json.loads(out)
    assert answer["minutes"] == 7 * 24 * 60 == len(pd.read_csv(tmp_path / "week" / "autoscale.csv"))
    assert answer["violating_minutes"] <= answer["budget_minutes"]
    assert elapsed < 60, elapsed


@pytest.mark.slow(reason="the autoscale command with its engine check over the whole curve (1.5 s)")
def test_minutes_too_close_to_call_are_said_out_loud_and_the_engine_check_judges_each_minute(cli, run_dir, tmp_path):
    """With the SLO at the recommended policy's median minute, many minutes are too close to
    call: the console, autoscale.json, autoscale.csv and the report say so, never a plain yes
    or no; --engine-check replays the policy on the engine and judges each minute three-valued."""
    curve = "flat:rate=6000,minutes=30,noise=0.1"
    code, out, err = cli("autoscale", run_dir, "--traffic", curve, "--slo", "P95=1000", "--violation-budget", "1",
                         "--json", "--out", tmp_path / "loose")
    assert code == 0, err
    assert json.loads(out)["too_close_minutes"] == 0  # 1 s: every minute surely meets
    median = float(pd.read_csv(tmp_path / "loose" / "autoscale.csv")["percentile_ms"].median())
    out_dir = tmp_path / "close"
    code, out, err = cli("autoscale", run_dir, "--traffic", curve, "--slo", f"P95={median:.4f}", "--violation-budget",
                         "1", "--engine-check", "--out", out_dir)
    assert code == 0, err
    document = json.loads((out_dir / "autoscale.json").read_text())
    minutes = pd.read_csv(out_dir / "autoscale.csv")
    assert document["too_close_minutes"] >= 3
    assert (minutes["verdict"] == "too close to call").sum() == document["too_close_minutes"]
    assert set(minutes["verdict"]) <= {"meets", "misses", "too close to call"}
    assert "too close to call" in out and f"{document['too_close_minutes']:,} too close to call" in out
    check = document["engine_check"]
    assert check["meets_minutes"] + check["misses_minutes"] + check["too_close_minutes"] == 30
    assert check["too_close_minutes"] >= 1 and "Engine check" in out
    assert not ((minutes["engine_verdict"] == "meets") & minutes["engine_violating"]).any()
    assert int(minutes["engine_violating"].sum()) == check["violating_minutes"]
    code, _, err = cli("report", out_dir)
    assert code == 0, err
    assert "too close to call" in (out_dir / "report.html").read_text()


def test_an_engine_check_past_the_memory_limit_is_one_line_and_writes_nothing(cli, run_dir, tmp_path):
    """The engine check keeps every request of the curve (each minute judged by its arrivals):
    a curve past irsim's limit on requests held at once is refused naming --engine-check."""
    out_dir = tmp_path / "refused"
    code, out, err = cli("autoscale", run_dir, "--traffic", "flat:rate=60000,hours=2", "--slo", "P95=1000",
                         "--engine-check", "--out", out_dir)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--engine-check" in err and "1,500,000" in err and "irsim's own limit" in err, err
    assert not out_dir.exists() and out == ""
