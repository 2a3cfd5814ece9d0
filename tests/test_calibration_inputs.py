"""Calibration reads only what it understands: every malformed or unreadable input to
`irsim calibrate` ends in one line on stderr and exit 2, nothing is written and an existing
profile given with -o is left exactly as it was. And what it does understand (sub-minute
data, declared milliseconds) reads as the minutes it stands for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from calibration.sources import read_cloudwatch
from irsim.cli.app import main
from simulator import load_profile

TYPE = "ml.c5.xlarge"
START = datetime(2026, 1, 1, tzinfo=UTC)


def stamps(count: int = 4, period_s: float = 60.0) -> list[str]:
    return [(START + timedelta(seconds=period_s * k)).isoformat() for k in range(count)]


def latency_doc(count: int = 4, period_s: float = 60.0, unit: str | None = "Microseconds", scale: float = 1.0,
                **changes: Any) -> dict[str, Any]:
    """A well-formed get-metric-statistics ModelLatency document (changes override a datapoint's keys)."""
    points = []
    for k, stamp in enumerate(stamps(count, period_s)):
        point: dict[str, Any] = {"Timestamp": stamp, "Average": (9000.0 + 500 * k) * scale,
                                 "ExtendedStatistics": {"p50": 8000.0 * scale, "p99": 30000.0 * scale}}
        if unit is not None:
            point["Unit"] = unit
        points.append({**point, **changes})
    return {"Label": "ModelLatency", "Datapoints": points}


def invocations_doc(count: int = 4, period_s: float = 60.0, per_point: float = 6000.0) -> dict[str, Any]:
    return {"Label": "Invocations", "Datapoints": [{"Timestamp": s, "Sum": per_point, "Unit": "None"}
                                                   for s in stamps(count, period_s)]}


def metric_data(query: dict[str, Any], result: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"MetricDataQueries": [query],
            "MetricDataResults": [result or {"Id": "lat", "Timestamps": stamps(2), "Values": [9000.0, 9100.0]}]}


LAT_QUERY = {"Id": "lat", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency"},
                                         "Period": 60, "Stat": "Average", "Unit": "Microseconds"}}
SAMPLES = "latency_ms\n" + "\n".join(["5.0"] * 30)

#: (case, flag, files: name -> JSON document or raw text, words the one line must hold)
BAD_INPUTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("datapoint is a number", "--cloudwatch", {"lat.json": {"Label": "ModelLatency", "Datapoints": [5]}},
     "Datapoints[0]: is not an object"),
    ("Datapoints is a string", "--cloudwatch", {"lat.json": {"Label": "ModelLatency", "Datapoints": "none"}},
     "Datapoints of ModelLatency must be a list"),
    ("Label is not a metric name", "--cloudwatch", {"lat.json": {"Label": 5, "Datapoints": [{}]}},
     "metric 5 cannot be used"),
    ("document list holds a number", "--cloudwatch", {"lat.json": [latency_doc(), 7]}, "is not CloudWatch output"),
    ("value is a string", "--cloudwatch", {"lat.json": latency_doc(Average="9000")}, "Average is not a finite number"),
    ("value is NaN", "--cloudwatch", {"lat.json": '{"Label": "ModelLatency", "Datapoints": [{"Timestamp": '
                                                  '"2026-01-01T00:00:00Z", "Average": NaN, "Unit": "Microseconds"}]}'},
     "Average is not a finite number"),
    ("value is Infinity", "--cloudwatch", {"lat.json": '{"Label": "ModelLatency", "Datapoints": [{"Timestamp": '
                                                       '"2026-01-01T00:00:00Z", "Average": Infinity, "Unit": '
                                                       '"Microseconds"}]}'}, "Average is not a finite number"),
    ("latency 1e308", "--cloudwatch", {"lat.json": latency_doc(Average=1e308)}, "Average 1e+308 is not a latency"),
    ("latency zero", "--cloudwatch", {"lat.json": latency_doc(Average=0)}, "Average 0 is not a latency"),
    ("negative count", "--cloudwatch", {"inv.json": {"Label": "Invocations", "Datapoints": [
        {"Timestamp": s, "Sum": -3, "Unit": "None"} for s in stamps(2)]}}, "Sum -3 must be >= 0"),
    ("timestamp unreadable", "--cloudwatch", {"lat.json": latency_doc(Timestamp="yesterday")},
     "has a Timestamp that cannot be read"),
    ("timestamp missing", "--cloudwatch", {"lat.json": latency_doc(Timestamp=None)},
     "has a Timestamp that cannot be read"),
    ("ExtendedStatistics not an object", "--cloudwatch", {"lat.json": latency_doc(ExtendedStatistics=[1])},
     "ExtendedStatistics must be an object"),
    ("unknown statistic", "--cloudwatch", {"lat.json": latency_doc(ExtendedStatistics={"median": 5.0})},
     "statistic 'median' cannot be used"),
    ("300 s periods", "--cloudwatch", {"lat.json": latency_doc(period_s=300),
                                       "inv.json": invocations_doc(period_s=300)}, "has a 300 s period"),
    ("declared Period 300", "--cloudwatch", {"lat.json": {**latency_doc(count=1), "Period": 300}},
     "has a 300 s period"),
    ("steps that fit no period", "--cloudwatch", {"lat.json": {"Label": "ModelLatency", "Datapoints": [
        {"Timestamp": (START + timedelta(seconds=t)).isoformat(), "Average": 9000.0, "Unit": "Microseconds"}
        for t in (0, 60, 150)]}}, "do not fit a 60 s period"),
    ("single datapoint, no Period", "--cloudwatch", {"lat.json": latency_doc(count=1)},
     "has a single datapoint and no Period"),
    ("latency without Unit", "--cloudwatch", {"lat.json": latency_doc(unit=None)},
     "datapoints carry no Unit"),
    ("units mixed within a series", "--cloudwatch", {"lat.json": {"Label": "ModelLatency", "Datapoints": [
        {"Timestamp": s, "Average": 9.0, "Unit": u} for s, u in zip(stamps(2), ("Milliseconds", "Microseconds"),
                                                                   strict=True)]}},
     "datapoints mix units"),
    ("Average in ms next to percentiles in µs", "--cloudwatch", {
        "avg.json": {"Label": "ModelLatency", "Datapoints": [{"Timestamp": s, "Average": 9.0, "Unit": "Milliseconds"}
                                                             for s in stamps(2)]},
        "pct.json": {"Label": "ModelLatency", "Datapoints": [{"Timestamp": s, "ExtendedStatistics": {"p99": 30000.0},
                                                              "Unit": "Microseconds"} for s in stamps(2)]}},
     "ModelLatency comes in mixed or missing units"),
    ("a unit that is not time", "--cloudwatch", {"lat.json": latency_doc(unit="Bytes")}, "has unit 'Bytes'"),
    ("files that disagree", "--cloudwatch", {"a.json": latency_doc(), "b.json": latency_doc(scale=1.1)},
     "differs from another file's value"),
    ("metric-data query without Metric", "--cloudwatch", {"md.json": metric_data(
        {"Id": "lat", "MetricStat": {"Period": 60, "Stat": "Average"}})}, "has no Metric with a MetricName"),
    ("metric-data without queries", "--cloudwatch", {"md.json": {"MetricDataResults": []}},
     "without its MetricDataQueries"),
    ("metric-data results not a list", "--cloudwatch", {"md.json": {**metric_data(LAT_QUERY),
                                                                    "MetricDataResults": "x"}},
     "MetricDataResults must be a list"),
    ("metric-data result is a string", "--cloudwatch", {"md.json": {**metric_data(LAT_QUERY),
                                                                    "MetricDataResults": ["lat"]}},
     "MetricDataResults[0]: is not an object"),
    ("metric-data lengths differ", "--cloudwatch", {"md.json": metric_data(
        LAT_QUERY, {"Id": "lat", "Timestamps": stamps(2), "Values": [9000.0]})}, "of the same length"),
    ("metric-data partial", "--cloudwatch", {"md.json": metric_data(
        LAT_QUERY, {"Id": "lat", "Timestamps": stamps(2), "Values": [9000.0, 9100.0], "StatusCode": "PartialData"})},
     "StatusCode 'PartialData'"),
    ("metric-data Period 300", "--cloudwatch", {"md.json": metric_data(
        {"Id": "lat", "MetricStat": {**LAT_QUERY["MetricStat"], "Period": 300}},
        {"Id": "lat", "Timestamps": stamps(2, 300), "Values": [9000.0, 9100.0]})}, "has a 300 s period"),
    ("metric-data without Period", "--cloudwatch", {"md.json": metric_data(
        {"Id": "lat", "MetricStat": {k: v for k, v in LAT_QUERY["MetricStat"].items() if k != "Period"}})},
     "has no Period"),
    ("samples with 1e308", "--samples", {"s.csv": SAMPLES + "\n1e308\n"}, "latency_ms 1e+308 is not a latency"),
    ("samples with inf", "--samples", {"s.csv": SAMPLES + "\ninf\n"}, "latency_ms inf is not a latency"),
    ("samples with nan", "--samples", {"s.csv": SAMPLES + "\nnan\n"}, "latency_ms nan is not a latency"),
    ("samples with a word", "--samples", {"s.csv": SAMPLES + "\nfast\n"}, "latency_ms is not a number"),
    ("NDJSON line is a number", "--samples", {"s.ndjson": '{"latency_ms": 5}\n7\n'}, "is not an NDJSON object"),
    ("NDJSON latency is true", "--samples", {"s.ndjson": '{"latency_ms": 5}\n{"latency_ms": true}\n'},
     "latency_ms True is not a latency"),
    ("too few samples", "--samples", {"s.csv": "latency_ms\n1\n2\n"}, "at least 20"),
    ("recommendations as a string", "--describe", {"d.json": {"JobName": "j", "InputConfig": {},
                                                              "InferenceRecommendations": "many"}},
     "must be a list (InferenceRecommendations)"),
    ("recommendation MaxInvocations not a number", "--describe", {"d.json": {
        "JobName": "j", "InputConfig": {}, "InferenceRecommendations": [
            {"EndpointConfiguration": {"InstanceType": TYPE}, "Metrics": {"MaxInvocations": "lots",
                                                                          "ModelLatency": 9000}}]}},
     "MaxInvocations must be a finite number > 0"),
    ("instance count 0", "--describe", {"d.json": {
        "JobName": "j", "InputConfig": {}, "InferenceRecommendations": [
            {"EndpointConfiguration": {"InstanceType": TYPE, "InitialInstanceCount": 0},
             "Metrics": {"MaxInvocations": 100, "ModelLatency": 9000}}]}}, "InitialInstanceCount must be an integer"),
    ("a step that is a number", "--steps", {"s.json": {"Steps": [3]}}, "Steps[0]: must be an object"),
    ("step EndpointMetrics not numbers", "--steps", {"s.json": {"Steps": [{
        "Status": "COMPLETED", "InferenceBenchmark": {
            "EndpointConfiguration": {"InstanceType": TYPE},
            "EndpointMetrics": {"MaxInvocations": None, "ModelLatency": 5}}}]}},
     "MaxInvocations must be a finite number > 0"),
]


def _write(folder: Path, files: dict[str, Any]) -> list[str]:
    paths = []
    for name, content in files.items():
        path = folder / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        paths.append(str(path))
    return paths


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, files: dict[str, Any],
         output: Path) -> tuple[int, str, str]:
    inputs = tmp_path / "in"
    inputs.mkdir(exist_ok=True)
    paths = _write(inputs, files)
    code = main(["calibrate", "--instance-type", TYPE, flag, *paths, "-o", str(output)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("case, flag, files, words", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_the_profile_is_unchanged(tmp_path, capsys, case, flag, files, words):
    output = tmp_path / "profile.json"
    original = json.dumps(load_profile("demo").to_dict(), indent=2)
    output.write_text(original)
    code, out, err = _run(tmp_path, capsys, flag, files, output)
    assert code == 2, (case, out, err)
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err, err
    assert words in err, (case, err)
    assert any(name in err for name in files) or "cloudwatch" in err, err  # the file (or the series' field) is named
    assert output.read_text() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "profile.json"]  # no temporary file left


@pytest.mark.parametrize("case, flag, files, words", BAD_INPUTS[:3] + BAD_INPUTS[-6:-4],
                         ids=[case[0] for case in BAD_INPUTS[:3] + BAD_INPUTS[-6:-4]])
def test_bad_input_writes_no_new_profile(tmp_path, capsys, case, flag, files, words):
    output = tmp_path / "new.json"
    code, _, err = _run(tmp_path, capsys, flag, files, output)
    assert code == 2 and words in err and not output.exists()


def test_an_existing_profile_that_does_not_load_is_refused_and_kept(tmp_path, capsys):
    output = tmp_path / "profile.json"
    output.write_text('{"model": "x", "instances": {"ml.c5.xlarge": {"workers": 0}}}')
    code, _, err = _run(tmp_path, capsys, "--samples", {"s.csv": SAMPLES.replace("5.0", "5.5", 3)}, output)
    assert code == 2 and err.count("\n") == 1 and "workers" in err
    assert output.read_text() == '{"model": "x", "instances": {"ml.c5.xlarge": {"workers": 0}}}'


def test_an_output_that_is_a_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "profiles"
    folder.mkdir()
    code, _, err = _run(tmp_path, capsys, "--samples", {"s.csv": SAMPLES}, folder)
    assert code == 2 and "-o: " in err and "is a folder" in err and err.count("\n") == 1


# --- what is understood reads as minutes --------------------------------------------------------

def test_sub_minute_datapoints_aggregate_to_whole_minutes():
    ten_second = {"Label": "ModelLatency", "Datapoints": [
        {"Timestamp": s, "Average": 9000.0 + 600 * (k % 6), "Minimum": 1000.0 + k, "SampleCount": 100.0 + k % 6,
         "ExtendedStatistics": {"p99": 20000.0}, "Unit": "Microseconds"} for k, s in enumerate(stamps(18, 10))]}
    frame, _ = read_cloudwatch([ten_second, invocations_doc(18, 10, per_point=100.0)])
    assert len(frame) == 3 and list(frame.index) == [START + timedelta(minutes=m) for m in range(3)]
    assert list(frame["Invocations_Sum"]) == [600.0] * 3
    weights = [100 + k for k in range(6)]
    expected = sum((9000 + 600 * k) * w for k, w in enumerate(weights)) / sum(weights)
    assert frame["ModelLatency_Average"].iloc[0] == pytest.approx(expected)
    assert list(frame["ModelLatency_Minimum"]) == [1000.0, 1006.0, 1012.0]
    assert any("approximate" in note for note in frame.attrs["notes"])


def test_a_sub_minute_series_drops_an_incomplete_minute():
    frame, _ = read_cloudwatch([invocations_doc(15, 10, per_point=100.0)])
    assert list(frame["Invocations_Sum"]) == [600.0, 600.0]  # 15 ten-second points: two whole minutes


def test_declared_milliseconds_are_converted_and_metric_data_without_unit_is_microseconds():
    frame, _ = read_cloudwatch([latency_doc(unit="Milliseconds", scale=0.001)])
    assert list(frame["ModelLatency_Average"]) == pytest.approx([9000.0, 9500.0, 10000.0, 10500.0])
    query = {"Id": "lat", "MetricStat": {k: v for k, v in LAT_QUERY["MetricStat"].items() if k != "Unit"}}
    frame, _ = read_cloudwatch([metric_data(query)])
    assert list(frame["ModelLatency_Average"]) == [9000.0, 9100.0]
