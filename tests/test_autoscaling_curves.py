"""Traffic curves: the CSV and both CloudWatch shapes read minute by minute, longer periods
spread evenly, sub-minute ones summed, gaps refused or filled with a note; synthetic curves and
their spec grammar; every bad input one InputError naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoscaling import Bursts, Diurnal, TrafficCurve, load_curve, parse_curve, synthesize
from autoscaling.curves import MAX_MINUTES
from simulator.errors import InputError

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def _iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def _csv(tmp_path, rows: list[tuple[str, str]], header: str = "timestamp,invocations"):
    path = tmp_path / "traffic.csv"
    path.write_text("\n".join([header] + [f"{a},{b}" for a, b in rows]) + "\n")
    return path


def _statistics(tmp_path, points: list[tuple[float, float]], period: int | None = None, name: str = "cw.json"):
    """A get-metric-statistics export: (minute offset, Sum) datapoints, shuffled."""
    document = {"Label": "Invocations",
                "Datapoints": [{"Timestamp": _iso(m), "Sum": v, "Unit": "None"} for m, v in reversed(points)]}
    if period is not None:
        document["Period"] = period
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def _metric_data(tmp_path, points: list[tuple[float, float]], period: int, stat: str = "Sum"):
    """A get-metric-data export saved with its query."""
    document = {
        "MetricDataQueries": [{"Id": "inv", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker",
                                                                      "MetricName": "Invocations"},
                                                           "Period": period, "Stat": stat}}],
        "MetricDataResults": [{"Id": "inv", "Label": "Invocations", "StatusCode": "Complete",
                               "Timestamps": [_iso(m) for m, _ in points], "Values": [v for _, v in points]}]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(document))
    return path


def test_csv_minutes_iso_and_epoch(tmp_path):
    curve = load_curve(_csv(tmp_path, [(_iso(m), str(100 * m)) for m in range(5)]))
    assert curve.per_minute.tolist() == [0, 100, 200, 300, 400]
    assert curve.start == T0 and curve.minutes == 5 and curve.notes == ()
    epoch = T0.timestamp()
    by_epoch = load_curve(_csv(tmp_path, [(str(int(epoch + 60 * m)), "7") for m in range(3)]))
    assert by_epoch.per_minute.tolist() == [7, 7, 7] and by_epoch.start == T0


def test_csv_five_minute_periods_spread_evenly(tmp_path):
    curve = load_curve(_csv(tmp_path, [(_iso(0), "500"), (_iso(5), "1000")]))
    assert curve.per_minute.tolist() == [100] * 5 + [200] * 5
    assert curve.total_invocations == 1500
    assert any("spread evenly over their 5 minutes" in note for note in curve.notes)


def test_get_metric_statistics_minutes(tmp_path):
    curve = load_curve(_statistics(tmp_path, [(m, 1000.0 + m) for m in range(10)]))
    assert curve.per_minute.tolist() == [1000.0 + m for m in range(10)]
    assert curve.source.startswith("CloudWatch Invocations Sum")


def test_get_metric_statistics_300_s_resampled(tmp_path):
    curve = load_curve(_statistics(tmp_path, [(0, 3000.0), (5, 6000.0), (10, 1500.0)], period=300))
    assert curve.per_minute.tolist() == [600.0] * 5 + [1200.0] * 5 + [300.0] * 5
    assert curve.total_invocations == 10500.0


def test_get_metric_data_300_s_resampled(tmp_path):
    curve = load_curve(_metric_data(tmp_path, [(0, 600.0), (5, 1200.0)], period=300))
    assert curve.per_minute.tolist() == [120.0] * 5 + [240.0] * 5


def test_sub_minute_periods_summed(tmp_path):
    points = [(s / 60, 10.0) for s in range(0, 120, 10)]  # two minutes of 10 s datapoints
    curve = load_curve(_statistics(tmp_path, points, period=10))
    assert curve.per_minute.tolist() == [60.0, 60.0]
    assert any("summed into 2 whole minutes" in note for note in curve.notes)


def test_gaps_refused_or_filled_with_a_warning(tmp_path):
    path = _statistics(tmp_path, [(0, 100.0), (1, 200.0), (3, 400.0)])
    with pytest.raises(InputError) as caught:
        load_curve(path)
    assert caught.value.field == "traffic" and "misses 1 of 4" in caught.value.message
    zero = load_curve(path, gaps="zero")
    assert zero.per_minute.tolist() == [100, 200, 0, 400] and "warning" in zero.notes[0]
    linear = load_curve(path, gaps="linear")
    assert linear.per_minute.tolist() == [100, 200, 300, 400]


BAD_CSV = [
    ("time,count\n1,2\n", "must start with the header 'timestamp,invocations'"),
    ("timestamp,invocations\n", "has a header but no rows"),
    ("", "an empty file"),
    (f"timestamp,invocations\n{_iso(0)},-5\n", "line 2: invocations must be a count"),
    (f"timestamp,invocations\n{_iso(0)},lots\n", "line 2: invocations must be a count"),
    (f"timestamp,invocations\n{_iso(0)},nan\n", "line 2: invocations must be a count"),
    (f"timestamp,invocations\n{_iso(0)},1,2\n", "line 2 has 3 fields"),
    ("timestamp,invocations\nyesterday,1\n", "line 2: has a Timestamp that cannot be read"),
    (f"timestamp,invocations\n{_iso(0)},1\n{_iso(0)},2\n", "line 3 repeats the timestamp"),
    (f"timestamp,invocations\n{_iso(0)},1\n{_iso(1.5)},2\n", "90 s period: a period must be a whole number"),
    (f"timestamp,invocations\n{_iso(0)},1\n{_iso(0.75)},2\n", "does not divide a minute"),
]


BAD_JSON = [
    ('{"Label": "Invocations", "Datapoints": [', "is not valid JSON"),
    ('{"Label": "ModelLatency", "Datapoints": [{"Timestamp": "2026-11-02T00:00:00Z", "Average": 5, '
     '"Unit": "Microseconds"}]}', "no Invocations datapoints with the Sum statistic"),
    ('{"Label": "Invocations", "Datapoints": [{"Timestamp": "2026-11-02T00:00:00Z", "Average": 5}]}',
     "no Invocations datapoints with the Sum statistic"),
    ('{"Label": "Invocations", "Datapoints": [{"Timestamp": "2026-11-02T00:00:00Z", "Sum": -1}]}', "must be >= 0"),
    ('{"Datapoints": []}', "is not CloudWatch output"),
    ('[{"Label": "Invocations", "Datapoints": [{"Timestamp": "2026-11-02T00:00:00Z", "Sum": 1}, '
     '{"Timestamp": "2026-11-02T00:01:00Z", "Sum": 1}]}, {"Label": "Invocations", "Datapoints": '
     '[{"Timestamp": "2026-11-02T00:00:00Z", "Sum": 1}, {"Timestamp": "2026-11-02T00:01:00Z", "Sum": 1}]}]',
     "holds 2 Invocations Sum series"),
]


@pytest.mark.parametrize(("name", "text", "message"), [("bad.csv", *case) for case in BAD_CSV] +
                         [("bad.json", *case) for case in BAD_JSON])
def test_a_bad_curve_file_is_one_clear_error_naming_it(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_curve(path)
    assert caught.value.field == "traffic"
    assert message in caught.value.message and "\n" not in str(caught.value)
    assert str(path) in caught.value.message


def test_missing_file_and_unknown_gap_rule(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_curve(tmp_path / "nothing.csv")
    with pytest.raises(InputError) as caught:
        load_curve(_csv(tmp_path, [(_iso(0), "1")]), gaps="guess")
    assert caught.value.field == "gaps"


def test_curve_values_checked():
    with pytest.raises(InputError, match="minute 2 has"):
        TrafficCurve(per_minute=np.array([1.0, -1.0]), start=None, source="x")
    with pytest.raises(InputError, match=f"1 to {MAX_MINUTES} minutes"):
        TrafficCurve(per_minute=np.array([]), start=None, source="x")
    curve = TrafficCurve(per_minute=np.array([1.0, 2.0]), start=None, source="x")
    with pytest.raises(ValueError):
        curve.per_minute[0] = 5.0  # read-only: a curve is a value


def test_synthesize_shape_and_seed():
    curve = synthesize(Diurnal(30000, 3000, peak_hour=14, weekend_factor=0.5), minutes=7 * 1440)
    day = curve.per_minute[:1440]
    assert day.argmax() == 14 * 60 and day[14 * 60] == pytest.approx(30000)
    assert day.min() == pytest.approx(3000) and day.argmin() == 2 * 60
    saturday = curve.per_minute[5 * 1440:6 * 1440]
    assert saturday.max() == pytest.approx(15000)
    grown = synthesize(Diurnal(100, 100, growth_per_day=0.1), minutes=3 * 1440)
    assert grown.per_minute[[0, 1440, 2880]] == pytest.approx([100, 110, 121])
    noisy = [synthesize(Diurnal(1000, 500), bursts=Bursts(count=3), noise=0.1, seed=s).per_minute
             for s in (7, 7, 8)]
    assert np.array_equal(noisy[0], noisy[1]) and not np.array_equal(noisy[0], noisy[2])
    assert abs(noisy[0].mean() / synthesize(Diurnal(1000, 500)).per_minute.mean() - 1) < 0.05


def test_bursts_multiply_their_minutes():
    base = synthesize(Diurnal(1000, 1000), minutes=600)
    burst = synthesize(Diurnal(1000, 1000), bursts=Bursts(1, 3, 10), minutes=600, seed=1)
    ratio = burst.per_minute / base.per_minute
    assert set(np.round(ratio, 9)) == {1.0, 3.0} and 1 <= (ratio == 3).sum() <= 10


def test_parse_curve_specs():
    curve = parse_curve("diurnal:peak=30000,trough=3000,days=7,seed=0")
    assert curve.minutes == 7 * 1440 and curve.peak_per_minute == pytest.approx(30000)
    assert parse_curve("flat:rate=1200,hours=2").per_minute.tolist() == [1200.0] * 120
    step = parse_curve("step:from=100,to=400,at=3,minutes=5")
    assert step.per_minute.tolist() == [100, 100, 100, 400, 400]
    assert parse_curve("diurnal:peak=10,trough=1").minutes == 1440  # a day by default


@pytest.mark.parametrize(("spec", "field", "message"), [
    ("diurnal:peak=30000,trough=3000,dayz=7", "traffic.dayz", "unknown key 'dayz' (allowed: peak, trough"),
    ("diurnal:peak=-1,trough=0", "traffic.peak", "must be invocations per minute >= 0"),
    ("diurnal:peak=abc,trough=0", "traffic.peak", "must be a number"),
    ("diurnal:peak=10,trough=20", "traffic.trough", "must be at most peak"),
    ("diurnal:trough=20", "traffic.peak", "is required"),
    ("diurnal:peak=10,trough=1,days=40", "traffic.days", "<= 31"),
    ("diurnal:peak=10,trough=1,days=1,hours=2", "traffic.hours", "give one of days, hours or minutes"),
    ("diurnal:peak=10,trough=1,noise=5", "traffic.noise", "<= 2"),
    ("diurnal:peak=10,trough=1,seed=-1", "traffic.seed", ">= 0"),
    ("diurnal:peak=10,peak=11,trough=1", "traffic.peak", "given twice"),
    ("step:from=1,to=2,at=99,minutes=10", "traffic.at", "at most the curve's 10 minutes"),
    ("weekly:peak=10", "traffic", "unknown curve kind 'weekly'"),
    ("flat:rate", "traffic", "is not key=value"),
])
def test_spec_errors_name_the_key(spec, field, message):
    with pytest.raises(InputError) as caught:
        parse_curve(spec)
    assert caught.value.field == field and message in caught.value.message


def test_parse_curve_reads_files(tmp_path):
    path = _csv(tmp_path, [(_iso(m), "5") for m in range(3)])
    assert parse_curve(str(path)).per_minute.tolist() == [5, 5, 5]
    with pytest.raises(InputError, match="cannot read"):
        parse_curve(str(tmp_path / "missing.csv"))


@pytest.mark.slow(reason="a hypothesis property over generated files (1.2 s measured)")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=300),
    st.lists(st.tuples(st.one_of(st.integers(-10**12, 10**12).map(str), st.text(max_size=12)),
                       st.one_of(st.floats(allow_nan=True).map(repr), st.text(max_size=8))), max_size=8)
    .map(lambda rows: ("timestamp,invocations\n" + "\n".join(f"{a},{b}" for a, b in rows)).encode()),
    st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=8),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                     st.sampled_from(["Label", "Datapoints", "Timestamp", "Sum", "Period", "Unit",
                                      "MetricDataResults", "MetricDataQueries", "Values", "Timestamps", "Id"]),
                     inner, max_size=4), max_leaves=12).map(lambda d: json.dumps(d).encode()),
))
def test_any_file_is_a_curve_or_one_input_error(tmp_path, data):
    path = tmp_path / "fuzz.txt"
    path.write_bytes(data)
    try:
        curve = load_curve(path, gaps="zero")
    except InputError as exc:
        assert exc.field == "traffic" and "\n" not in exc.message
    else:
        assert curve.minutes >= 1 and np.all(curve.per_minute >= 0)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["diurnal:", "flat:", "step:", ""]),
       st.lists(st.tuples(st.sampled_from(["peak", "trough", "rate", "from", "to", "at", "days", "hours", "minutes",
                                           "noise", "seed", "bursts", "weekend", "growth", "x"]),
                          st.one_of(st.integers(-5, 10**6).map(str), st.floats().map(repr), st.text(max_size=4))),
                max_size=6))
def test_any_spec_is_a_curve_or_one_input_error(kind, pairs):
    text = kind + ",".join(f"{k}={v}" for k, v in pairs)
    try:
        curve = parse_curve(text)
    except InputError as exc:
        assert exc.field.startswith("traffic") and "\n" not in exc.message
    else:
        assert 1 <= curve.minutes <= MAX_MINUTES and np.all(np.isfinite(curve.per_minute))


def test_timestamps_out_of_range_and_spans_too_long(tmp_path):
    with pytest.raises(InputError, match="outside 1970 to 2200"):
        load_curve(_csv(tmp_path, [("-62135596801", "0")]))
    with pytest.raises(InputError, match="at most 44,640"):
        load_curve(_csv(tmp_path, [(_iso(0), "1"), (_iso(60 * 24 * 40), "1")]), gaps="zero")
