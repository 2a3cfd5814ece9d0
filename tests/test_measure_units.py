"""irsim measure's parts that need no server: the live minute judged by the simulator's own
stopping functions, the short-minute clock, the generator's self-check, payloads as AWS takes
them, the sample model, and a measured folder read for calibration."""

from __future__ import annotations

import io
import json
import math
import tarfile

import numpy as np
import pytest

import irsim.measure.live as live
import simulator.stopping as stopping
from irsim.errors import UserError
from irsim.measure.live import (
    GENERATOR_CPU_LIMIT,
    MODEL_ERROR,
    Clock,
    GeneratorLoad,
    MeasuredMinute,
    RequestBatch,
    close_minute,
    generator_load,
    judge,
)
from irsim.measure.payloads import read_payloads, request_payload, sample_payloads
from irsim.measure.sample_model import FEATURES, SampleModel, SampleModelConfig, parse_rows, sample_bodies
from simulator.stopping import StoppingConditions
from simulator.traffic import Phase, Phases, Stairs

QUIET = GeneratorLoad(cpu_fraction=0.1, client_cpu_us=100.0, loop_lag_ms=0.01, limited=False)


def batch(latencies_ms: list[float], statuses: list[int] | None = None, failed: int = 0) -> RequestBatch:
    values = np.array(latencies_ms) / 1000.0
    return RequestBatch(latency_s=values, overhead_s=np.full(len(values), 1e-4),
                        status=np.array(statuses or [200] * len(values)), failed=failed, first_error=None)


def minute(index: int, invocations: int, users: int, traffic: Stairs, clock: Clock, **errors: int) -> MeasuredMinute:
    stats, summary = close_minute(index, index * clock.minute_s, clock.minute_s, batch([10.0] * invocations),
                                  traffic, clock, 95.0)
    return MeasuredMinute(stats=stats, summary=summary, errors_4xx=errors.get("e4", 0),
                          errors_5xx=errors.get("e5", 0), failed=errors.get("failed", 0), first_error=None,
                          cpu_percent=math.nan, memory_percent=math.nan, generator=QUIET)


def test_the_stopping_rules_are_the_simulators_functions_not_copies():
    assert live.stop_reason is stopping.stop_reason
    assert live.MinuteSummary is stopping.MinuteSummary


def test_a_measured_history_stops_where_the_simulator_would():
    """Flat invocations on a saturated server: the verdict is stop_reason's on the same summaries."""
    clock = Clock(2.0)
    traffic = Stairs(duration_s=600, number_of_steps=10, users_per_step=1)
    history = [minute(k, n, k + 1, traffic, clock) for k, n in enumerate([100, 100, 100, 100])]
    conditions = StoppingConditions(stop_on_flat_invocations=True)
    summaries = [m.summary for m in history]
    assert [s.users_start for s in summaries] == [1, 2, 3, 4]
    for end in range(1, 5):
        verdict = judge(history[:end], conditions)
        expected = stopping.stop_reason(summaries[:end], conditions)
        assert (verdict.reason if verdict else None) == expected
    assert judge(history, conditions).reason == stopping.FLAT_INVOCATIONS


def test_short_minutes_scale_max_invocations_and_the_pattern():
    clock = Clock(6.0)
    assert clock.scale == pytest.approx(0.1) and clock.pattern_s(6.0) == pytest.approx(60.0)
    assert clock.stopping(StoppingConditions(max_invocations=3000)).max_invocations == 300
    assert Clock().stopping(StoppingConditions(max_invocations=3000)).max_invocations == 3000
    phases = Phases((Phase(initial_users=1, spawn_rate_per_min=3, duration_s=120),))
    _, summary = close_minute(1, 6.0, 6.0, batch([5.0, 6.0]), phases, clock, None)
    assert (summary.users_start, summary.users_end) == (4, 6)  # read at the pattern's 60 s and just before 120 s
    _, partial = close_minute(2, 12.0, 3.0, batch([5.0]), phases, clock, None)
    assert partial is None  # a partial minute is never judged


def test_a_minute_mostly_refused_is_a_model_error():
    clock, traffic = Clock(1.0), Stairs(duration_s=120, number_of_steps=2, users_per_step=1)
    refused = minute(0, 10, 1, traffic, clock, e5=8)
    assert judge([refused], StoppingConditions()).reason == MODEL_ERROR
    assert "ModelError" in judge([refused], StoppingConditions()).failure
    assert judge([minute(0, 10, 1, traffic, clock, e4=4)], StoppingConditions()) is None
    assert judge([minute(0, 0, 1, traffic, clock, failed=5)], StoppingConditions()).reason == MODEL_ERROR


def test_the_generator_flags_a_minute_it_limited():
    assert not generator_load(6.0, 60.0, 1000, [1e-5] * 10, 0.010).limited
    busy = generator_load(GENERATOR_CPU_LIMIT * 60.0 + 1, 60.0, 1000, [1e-5], 0.010)
    assert busy.limited and busy.client_cpu_us == pytest.approx(1e6 * (GENERATOR_CPU_LIMIT * 60 + 1) / 1000)
    assert generator_load(1.0, 60.0, 1000, [0.001] * 10, 0.010).limited  # lag 10 % of the latency


@pytest.mark.slow(reason="the sample model's payloads built (1.2 s measured)")
def test_payloads_come_from_the_request_the_file_or_the_sample(tmp_path):
    request = {"InputConfig": {"ContainerConfig": {"PayloadConfig": {
        "SamplePayloadUrl": str(tmp_path / "one.csv"), "SupportedContentTypes": ["text/csv"]}}}}
    (tmp_path / "one.csv").write_bytes(b"1,2,3")
    assert request_payload(request) == str(tmp_path / "one.csv")
    assert request_payload({"InputConfig": {"ContainerConfig": {"PayloadConfig": {
        "SamplePayloadUrl": "s3://bucket/payload.tar.gz"}}}}) is None
    payloads = read_payloads(str(tmp_path / "one.csv"), None, request)
    assert payloads.bodies == (b"1,2,3",) and payloads.content_type == "text/csv"
    with pytest.raises(UserError, match="--content-type"):
        read_payloads(str(tmp_path / "one.csv"), None, {})
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(UserError, match=r"--payload: .* is empty"):
        read_payloads(str(tmp_path / "empty.csv"), "text/csv", {})
    archive = tmp_path / "none.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("folder")
        info.type = tarfile.DIRTYPE
        tar.addfile(info, io.BytesIO())
    with pytest.raises(UserError, match="holds no file"):
        read_payloads(str(archive), "text/csv", {})
    assert sample_payloads(3).bodies == sample_payloads(3).bodies != sample_payloads(4).bodies


def test_the_sample_model_reads_csv_and_json_and_refuses_the_rest():
    model = SampleModel(SampleModelConfig(hidden=8, layers=2, io_ms=0))
    rows = parse_rows(sample_bodies(0, 1)[0], "text/csv")
    assert rows.shape[1] == FEATURES and model.predict(rows).shape == (rows.shape[0],)
    as_json = json.dumps({"instances": rows.tolist()}).encode()
    assert np.allclose(model.predict(parse_rows(as_json, "application/json")), model.predict(rows))
    for body in (b"", b"1,2,3", b"nan" + b",1" * (FEATURES - 1)):
        with pytest.raises(ValueError):
            parse_rows(body, "text/csv")
    with pytest.raises(ValueError, match="hidden"):
        SampleModelConfig(hidden=0)
    assert SampleModelConfig.from_environment(SampleModelConfig(hidden=5, layers=3, io_ms=1.5).environment()) == \
        SampleModelConfig(hidden=5, layers=3, io_ms=1.5)
