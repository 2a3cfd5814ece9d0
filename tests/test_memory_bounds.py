"""Work and memory bounded by construction (issue 27, item 2): users in flight, user-count
changes, requests simulated and held at once, and replications are decided from the request
before anything runs, and anything past irsim's own limits is refused in one line naming the
limit. Each hole the issue measured is refused here without simulating (a simulation that
starts fails the test at once), and one slow test runs the job at the limits in a child process
and checks its peak RSS."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import simulator
import simulator.simulation
from irsim.cli.app import main
from irsim.service.admission import admit_job
from irsim.service.job import execute_job, replicate
from irsim.service.replication import MAX_REPLICATIONS
from irsim.service.request import parse_request
from simulator import (
    ConstantUsers,
    InputError,
    InstanceEndpoint,
    InstanceProfile,
    Phase,
    Phases,
    PoissonArrivals,
    RunSpec,
    Stairs,
    load_profile,
)
from simulator.bounds import (
    BYTES_PER_HELD_REQUEST,
    BYTES_PER_USER,
    MAX_HELD_REQUESTS,
    MAX_RUN_REQUESTS,
    MAX_USER_CHANGES,
    MAX_USERS_IN_FLIGHT,
    RUN_BASE_MB,
    ResourceLimitError,
    footprint,
)
from simulator.distributions import Distribution

ROOT = Path(__file__).resolve().parents[1]
DEMO = load_profile("demo")
JOB = json.loads((ROOT / "examples" / "stairs-job.json").read_text())


@pytest.fixture
def nothing_simulated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A simulation that starts fails the test at once (a refusal must come before it)."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a simulation started: the limit was not decided before the run")
    monkeypatch.setattr(simulator.simulation, "run", refuse)
    monkeypatch.setattr(simulator, "run", refuse)


def _endpoint(workers: int = 4, mean_ms: float = 4.0) -> InstanceEndpoint:
    return InstanceEndpoint(InstanceProfile("ml.c5.xlarge", workers, Distribution("lognormal", mean_ms, 0.5)))


def _job(pattern: dict) -> dict:
    request = json.loads(json.dumps(JOB))
    request["InputConfig"]["TrafficPattern"] = pattern
    return request


# --- users in flight, every phase and step --------------------------------------------------

def test_a_later_phase_of_a_trillion_users_is_refused_before_one_is_spawned():
    traffic = Phases((Phase(1, 3, 120), Phase(10**12, 0, 120)))
    with pytest.raises(ResourceLimitError) as info:
        RunSpec(_endpoint(), traffic)
    assert info.value.field == "phases[1].initial_users"
    assert f"at most {MAX_USERS_IN_FLIGHT:,} per run" in str(info.value) and "irsim's own limit" in str(info.value)


def test_a_phase_that_spawns_past_the_limit_is_named_by_its_spawn_rate():
    traffic = Phases((Phase(1, 2_000_000, 3600),))  # 1 + 2e6 a minute for an hour: 120 million users
    with pytest.raises(ResourceLimitError) as info:
        RunSpec(_endpoint(), traffic)
    assert info.value.field == "phases[0].spawn_rate_per_min"


def test_stairs_of_a_billion_steps_are_refused_by_the_service_before_a_step_is_listed():
    pattern = {"TrafficType": "STAIRS", "Stairs": {"DurationInSeconds": 600, "NumberOfSteps": 10**9,
                                                   "UsersPerStep": 3}}
    with pytest.raises(ClientError) as info:
        parse_request(_job(pattern))
    message = str(info.value)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "'InputConfig.TrafficPattern.Stairs.NumberOfSteps'" in message and "3,000,000,000 users" in message
    assert "at most 33,333 steps of 3" in message and "not an AWS rule" in message


def test_stairs_right_at_the_limit_are_accepted():
    steps = MAX_USERS_IN_FLIGHT // 3
    job = parse_request(_job({"TrafficType": "STAIRS", "Stairs": {"DurationInSeconds": 600, "NumberOfSteps": steps,
                                                                  "UsersPerStep": 3}}))
    assert job.traffic.peak_users() == 3 * steps <= MAX_USERS_IN_FLIGHT


def test_a_billion_user_count_changes_are_refused_even_when_few_users_are_in_flight():
    phases = Phases(tuple(Phase(1, 0, 1.0) for _ in range(MAX_USER_CHANGES + 1)))
    with pytest.raises(ResourceLimitError) as info:
        RunSpec(_endpoint(), phases)
    assert info.value.field == "phases" and f"{MAX_USER_CHANGES + 1:,} times" in str(info.value)


@pytest.mark.parametrize("traffic", [
    Phases((Phase(2, 2, 300), Phase(12, 3, 120), Phase(0, 0, 60), Phase(5, 1.5, 61))),
    Phases((Phase(1, 7, 59.999), Phase(3, 60, 100.5))),
    Stairs(600, 10, 2),
    ConstantUsers(17, 60),
])
def test_the_peak_and_the_changes_are_counted_from_the_numbers_as_the_engine_lists_them(traffic):
    changes = traffic.user_changes()
    assert traffic.peak_users() == max(users for _, users in changes)
    assert traffic.change_count() == len(changes)


def test_simulate_users_are_capped_at_the_limit_on_the_command_line(capsys):
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        main(["simulate", "--instance-type", "ml.c5.xlarge", "--users", str(MAX_USERS_IN_FLIGHT + 1)])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and f"from 1 to {MAX_USERS_IN_FLIGHT}" in err and len(err.strip().splitlines()) == 1


# --- requests simulated and held at once ------------------------------------------------------

def test_the_footprint_is_the_closed_loop_bound_or_the_capacity_whichever_is_lower():
    # 200 users of 4 ms against 4 workers of 4 ms: capacity 1,000/s binds (users alone: 50,000/s).
    endpoint = _endpoint()
    work = endpoint.work(0.0, 0.0)
    traffic = ConstantUsers(200, 600)
    rate = traffic.max_request_rate_per_s(work.cycle_s, work.capacity_per_s)
    assert rate == pytest.approx(1000.0)
    kept, minute = footprint(traffic, rate, keep_requests=True), footprint(traffic, rate, keep_requests=False)
    assert kept.requests == kept.held == pytest.approx(600_000)
    assert minute.held == pytest.approx(60_000)
    # 2 users with 1 s of think time: 2 / 1.004 s, well under the capacity.
    assert ConstantUsers(2, 60).max_request_rate_per_s(1.004, 1000.0) == pytest.approx(2 / 1.004)


def test_open_arrivals_hold_every_arrival_drawn_before_the_run():
    traffic = PoissonArrivals.constant(100.0, 600.0)
    bound = footprint(traffic, 100.0, keep_requests=False)
    mean = 60_000
    assert bound.held == pytest.approx(100.0 * 60 + mean + 6 * math.sqrt(mean) + 10)


def test_a_profile_just_under_the_work_budget_is_refused_before_the_job_runs(nothing_simulated):
    # 909,000 requests a simulated second: under the 1,000,000 work budget, 54.5 million in a minute.
    profile = {"model": "xgboost-demo", "instances": {"ml.c5.xlarge": {
        "workers": 909, "service_time": {"family": "deterministic", "mean_ms": 1.0}}}}
    request = _job({"TrafficType": "PHASES", "Phases": [{"InitialNumberOfUsers": 3, "SpawnRate": 3,
                                                          "DurationInSeconds": 3600}]})
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.xlarge"}]
    request["InputConfig"]["JobDurationInSeconds"] = 18000
    with pytest.raises(ResourceLimitError) as info:
        execute_job(request, profile, parallel=False)
    assert f"at most {MAX_HELD_REQUESTS:,}" in str(info.value) and "a simulated minute's requests" in str(info.value)
    with pytest.raises(ResourceLimitError):
        admit_job(parse_request(request, profile["instances"]), load_profile(profile), "us-east-1")


def test_requests_per_run_are_bounded_even_when_a_minute_fits():
    # 10,000 a second holds 600,000 a minute, but 17,700 s of it is 177 million requests.
    endpoint = _endpoint(workers=40, mean_ms=4.0)
    traffic = Phases((Phase(3, 3, 3600),) + (Phase(183, 0, 3525),) * 4)
    with pytest.raises(ResourceLimitError) as info:
        RunSpec(endpoint, traffic, keep_requests=False)
    assert f"at most {MAX_RUN_REQUESTS:,} per run" in str(info.value)
    assert info.value.field == "instances.ml.c5.xlarge.service_time"


def test_simulate_for_a_day_is_refused_naming_duration_and_the_longest_accepted(nothing_simulated, capsys):
    code = main(["simulate", "--instance-type", "ml.c5.xlarge", "--users", "200", "--duration", "86400"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--duration:" in err and "whole-run percentiles" in err
    assert f"at most {MAX_HELD_REQUESTS:,}; a duration of at most {MAX_HELD_REQUESTS // 1000:,} s" in err


def test_a_run_that_keeps_its_requests_is_bounded_by_the_whole_run():
    with pytest.raises(ResourceLimitError) as info:
        RunSpec(_endpoint(), ConstantUsers(200, 40_000.0), keep_requests=True)
    assert info.value.field == "duration_s"
    RunSpec(_endpoint(), ConstantUsers(200, 40_000.0), keep_requests=False)  # a minute at a time fits


def test_the_client_refuses_the_job_as_a_validation_exception(tmp_path, nothing_simulated):
    import irsim
    profile = tmp_path / "fast.json"
    profile.write_text(json.dumps({"model": "xgboost-demo", "instances": {"ml.c5.xlarge": {
        "workers": 909, "service_time": {"family": "deterministic", "mean_ms": 1.0}}}}))
    client = irsim.client(home=tmp_path / "home", profile=str(profile))
    # 300 users of 1 ms: 300,000 requests a second, 18 million in a simulated minute.
    request = _job({"TrafficType": "STAIRS", "Stairs": {"DurationInSeconds": 600, "NumberOfSteps": 100,
                                                        "UsersPerStep": 3}})
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.xlarge"}]
    with pytest.raises(ClientError) as info:
        client.create_inference_recommendations_job(**request)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "irsim's own limit" in str(info.value)


# --- replications -----------------------------------------------------------------------------

def test_a_thousand_replications_are_refused_by_the_command_line(tmp_path, capsys):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(JOB))
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        main(["run", str(job), "--replications", "1000"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and f"from 1 to {MAX_REPLICATIONS}" in err and len(err.strip().splitlines()) == 1


def test_a_thousand_replications_are_refused_by_the_library_before_a_run(nothing_simulated):
    with pytest.raises(InputError) as info:
        replicate(JOB, "demo", 0, "us-east-1", 1000)
    assert info.value.field == "replications" and f"from 1 to {MAX_REPLICATIONS}" in str(info.value)


# --- the job at the limits, measured --------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.stats  # a measurement (about 70 s of CPU); its figures are in RESULTS.md
def test_one_benchmark_at_every_limit_peaks_under_300_mb_in_its_process():
    """The largest accepted benchmark (experiments/largest_job_rss.py's ``limits`` job, one
    benchmark): ~100,000 users in flight, ~1.5 million requests held in a minute, ~50 million
    simulated; the process's own peak RSS stays under 300 MB. The peak is /proc's VmHWM, not
    getrusage's ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child of a large
    pytest worker reported the worker's 930 MB and 2,345 MB as its own."""
    script = ("import json, sys; from pathlib import Path; sys.path.insert(0, 'experiments');"
              "from largest_job_rss import LIMITS_PROFILE, limits_request, proc_field;"
              "from irsim.service.job import execute_job;"
              "r = execute_job(limits_request(1), LIMITS_PROFILE, parallel=False);"
              "print(json.dumps([r.describe['Status'], proc_field(Path('/proc/self/status'), 'VmHWM')]))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    status, peak_kib = json.loads(done.stdout.strip().splitlines()[-1])
    assert status == "COMPLETED"
    assert peak_kib / 1024 <= 300, f"peak RSS {peak_kib / 1024:.0f} MB"


# --- the whole job: how many benchmark processes fit ------------------------------------------------

def _task(spec: RunSpec):
    from irsim.service.benchmark import BenchmarkTask
    from irsim.service.request import BenchmarkSpec
    return BenchmarkTask(spec=BenchmarkSpec(index=0, instance_type="ml.c5.xlarge"), run=spec, percentile="P95")


def test_the_pool_runs_as_many_benchmarks_at_once_as_the_job_memory_holds(monkeypatch):
    from irsim.service import pool
    monkeypatch.setattr(pool, "resident_mb", lambda: 200.0)
    monkeypatch.setattr(pool, "START_METHOD", "fork")
    big = RunSpec(_endpoint(workers=32, mean_ms=1.281), Stairs(2000, 33_333, 3), keep_requests=False)
    small = RunSpec(_endpoint(), Stairs(600, 10, 2), keep_requests=False)
    # A run at the limits: a minute at 32 / 0.961 ms = 33,299 requests a second held, 99,999
    # users and 33,333 changes, each at its bytes, plus the run's start.
    held, items = 32 / 0.001281 * 60, 99_999 + 33_333
    assert big.memory_mb == pytest.approx(RUN_BASE_MB + (held * BYTES_PER_HELD_REQUEST + items * BYTES_PER_USER)
                                          / 2**20)
    each = pool.PROCESS_MB + big.memory_mb
    assert pool.memory_slots([_task(big)] * 10) == max(1, int((pool.JOB_MEMORY_MB - 200) // each))
    assert pool.memory_slots([_task(small), _task(big)]) == pool.memory_slots([_task(big)])  # the largest run counts
    assert pool.memory_slots([_task(small)] * 10) >= 5
