"""Issue 16, the small things a user meets first: --version, bare `irsim`, `wait`'s exit codes,
`report`'s default path, one seed rule for `run` and `create`, errors that name the flag, -v
logging and the worker's log; and live progress (drawn while benchmarks run, full bars for
finished ones, replications, quiet off a terminal)."""

from __future__ import annotations

import io
import json
import logging
import re
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest

from irsim.cli.logs import configure_logging
from irsim.durable.client import client as offline_client
from irsim.planning.sweep import answered, scenarios_summary
from irsim.present.progress import JobProgress, ended_text, minute_text, progress_console
from irsim.present.webcharts import PLOTLY_FILE
from irsim.service.job import execute_job, replicate
from irsim.service.request import parse_request
from irsim.service.watch import Watch
from simulator.stopping import MinuteSummary

ROOT = Path(__file__).resolve().parent.parent
SEED_JOB = ROOT / "examples" / "seed-advanced-job.json"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def small_job(name: str = "small", threshold_ms: int = 100, seconds: int = 240) -> dict:
    """Two instance types, two phases, benchmarks in parallel (so minutes come from processes)."""
    request = json.loads(SEED_JOB.read_text())
    request["JobName"] = name
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.xlarge"},
                                                         {"InstanceType": "ml.m5.xlarge"}]
    request["InputConfig"]["TrafficPattern"]["Phases"] = [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": seconds}]
    request["StoppingConditions"] = {"ModelLatencyThresholds": [{"Percentile": "P95",
                                                                 "ValueInMilliseconds": threshold_ms}],
                                     "FlatInvocations": "Continue"}
    return request


# --- --version, bare irsim ------------------------------------------------------------------

def test_version_comes_from_the_installed_metadata(cli):
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"irsim {version('irsim')}"


def test_bare_irsim_prints_help_and_exits_0(cli):
    code, out, err = cli()
    assert code == 0 and out.startswith("usage: irsim") and "COMMAND" in out and err == ""


# --- errors name the flag ---------------------------------------------------------------------

@pytest.mark.parametrize("argv, flag", [
    (["simulate", "--instance-type", "ml.nope.large", "--users", "2"], "--instance-type"),
    (["simulate", "--instance-type", "ml.c5.large", "--users", "2", "--duration", "1e9"], "--duration"),
    (["simulate", "--instance-type", "ml.c5.large", "--users", "2", "--think-time", "-1"], "--think-time"),
    (["recommend", str(SEED_JOB), "--slo", "P90=3"], "--slo"),
    (["recommend", str(SEED_JOB), "--importance", "speed=high"], "--importance"),
    (["run", str(SEED_JOB), "--region", "eu-west-9"], "--region"),
])
def test_errors_name_the_flag_not_the_library_field(argv, flag, cli):
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and "Traceback" not in err
    message = err.strip().splitlines()[-1]
    assert f"error: {flag}: " in message, message
    assert not re.search(r"\b(instance_type|duration_s|think_time_s)\b", message), message


# --- -v logging -------------------------------------------------------------------------------

@pytest.mark.slow
def test_verbose_logs_what_the_job_decided(tmp_path, cli):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(small_job(seconds=120)))
    code, _, quiet_err = cli("run", job, "--seed", "3")
    assert code == 0 and "INFO" not in quiet_err
    code, _, err = cli("run", job, "--seed", "3", "-v")
    assert code == 0
    assert "INFO irsim.service.job: job small (Advanced): 2 of 2 benchmark(s) scheduled" in err and "seed 3" in err
    assert re.search(r"benchmark 0 \(ml\.c5\.xlarge\) COMPLETED after \d+ simulated s", err)
    assert "DEBUG" not in err
    code, _, err = cli("run", job, "--seed", "3", "-vv")
    assert "DEBUG irsim.service.job: benchmark 1 (ml.m5.xlarge): seed " in err


def test_every_command_takes_verbose(cli):
    for command in ("simulate", "run", "create", "describe", "steps", "stop", "list", "wait", "recommend",
                    "sweep", "report", "calibrate"):
        code, out, _ = cli(command, "--help")
        assert code == 0 and "-v, --verbose" in out, command


def test_configure_logging_replaces_its_own_handler():
    stream = io.StringIO()
    configure_logging(1, stream)
    configure_logging(1, stream)
    logging.getLogger("irsim.test").info("once")
    assert stream.getvalue().count("once") == 1
    configure_logging(0, io.StringIO())


# --- live progress ----------------------------------------------------------------------------

def drawn(buffer: io.StringIO) -> str:
    return ANSI.sub("", buffer.getvalue())


@pytest.mark.slow
def test_minutes_reach_the_watch_from_benchmark_processes_while_they_run():
    """Each simulated minute of each benchmark arrives (sent from its process), in order, before
    that benchmark's end; the job's answer is the same watched or not."""
    heard: list[tuple[str, int, int]] = []

    class Recorder(Watch):
        def minute(self, index: int, summary: MinuteSummary) -> None:
            heard.append(("minute", index, summary.minute))

        def finished(self, outcome, done, total):  # type: ignore[no-untyped-def]
            heard.append(("end", outcome.spec.index, done))

    request = small_job(seconds=240)
    watched = execute_job(request, "demo", seed=5, watch=Recorder(), production=False)
    plain = execute_job(request, "demo", seed=5, production=False)
    assert [r["Metrics"] for r in watched.describe["InferenceRecommendations"]] == \
        [r["Metrics"] for r in plain.describe["InferenceRecommendations"]]
    for index in (0, 1):
        minutes = [m for kind, i, m in heard if kind == "minute" and i == index]
        assert minutes == [0, 1, 2, 3]  # 240 s: four closed minutes, each once
        end = heard.index(next(h for h in heard if h[0] == "end" and h[1] == index))
        assert all(heard.index(("minute", index, m)) < end for m in minutes)


def test_a_completed_benchmark_shows_a_full_bar_and_says_where_it_stopped():
    buffer = io.StringIO()
    console = progress_console(stream=buffer, force=True)
    assert console is not None
    console.width = 160
    request = small_job(threshold_ms=100, seconds=240)
    request["StoppingConditions"]["MaxInvocations"] = 500  # reached in the first minute
    with JobProgress(console) as display:
        execute_job(request, "demo", seed=0, watch=display, production=False)
        bars = {i: display.live.bars.tasks[n] for n, i in enumerate(display.tasks)}
    assert all(task.completed == task.total == 4 for task in bars.values())  # full, not 1/4
    text = drawn(buffer)
    assert "COMPLETED stopped at minute 1 of 4: MaxInvocationsReached" in text


def test_a_running_benchmark_shows_its_percentile_against_the_threshold():
    """What a bar says after each simulated minute (whether a redraw falls inside a short run
    is up to the clock, so the words are checked here, not in a job's drawing)."""
    console = progress_console(stream=io.StringIO(), force=True)
    assert console is not None
    with JobProgress(console) as display:
        job = parse_request(small_job())
        display.planned(job, job.benchmarks)
        display.minute(0, MinuteSummary(minute=0, invocations=1234, latency_percentile_ms=120.5, users_start=1,
                                        users_end=3))
        row = display.live.bars.tasks[0].fields
    assert row["minutes"] == "1/4 min"
    assert row["detail"] == "  3 users   1,234/min  P95 [red]120.5[/] / 100 ms"
    fast = minute_text(MinuteSummary(minute=1, invocations=99, latency_percentile_ms=80.0, users_start=3,
                                     users_end=3), ("P95", 100.0))
    assert fast.endswith("P95 [green]80.0[/] / 100 ms")


def test_ended_text_words_failures_and_full_runs():
    outcome = execute_job(small_job(threshold_ms=1, seconds=120), "demo", seed=0,
                          production=False).scheduled[0].outcome
    assert outcome.status == "FAILED"
    assert ended_text(outcome, 2).startswith("[red]FAILED[/] ModelLatency P95")


@pytest.mark.slow
def test_replications_are_numbered():
    buffer = io.StringIO()
    console = progress_console(stream=buffer, force=True)
    assert console is not None
    console.width = 160
    with JobProgress(console) as display:
        replicate(small_job(seconds=120), "demo", 0, "us-east-1", 3, watch=display)
    text = drawn(buffer)
    assert [int(k) for k in re.findall(r"replication (\d)/3\n", text)] == [1, 2, 3]
    assert "replication 1/3: 2 COMPLETED, 0 FAILED" in text


@pytest.mark.slow(reason="a job run twice to compare its output (0.9 s measured)")
def test_progress_is_quiet_off_a_terminal_and_with_quiet(tmp_path, cli):
    assert progress_console(stream=io.StringIO()) is None  # not a terminal
    assert progress_console(quiet=True, stream=io.StringIO(), force=True) is None
    job = tmp_path / "job.json"
    job.write_text(json.dumps(small_job(seconds=120)))
    code, _, err = cli("run", job)  # pytest's captured stderr is no terminal
    assert code == 0 and err == ""


# --- sweep: answered, infeasible by axis values -----------------------------------------------

def test_a_sweep_with_infeasible_scenarios_is_answered_and_names_them_by_axis_values():
    table = pd.DataFrame([
        {"scenario": "a1b2c3d4e5f6", "status": "ok", "error": "", "target_per_minute": 5000, "slo": "P95=100",
         "service_scale": 1.0, "chosen": True, "endpoint": "1 x ml.c5.large", "percentile": "P95",
         "slo_ms": 100.0, "cost_per_hour": 0.102, "percentile_ms": 9.0},
        {"scenario": "0123456789ab", "status": "infeasible", "error": "No instance type can meet the SLO.",
         "target_per_minute": 30000, "slo": "P95=10", "service_scale": 1.3, "chosen": None},
    ])
    assert answered(table)
    summary = scenarios_summary(table)
    assert "INFEASIBLE target_per_minute=30000, slo=P95=10, service_scale=1.3: No instance type" in summary
    assert "0123456789ab" not in summary
    assert not answered(pd.concat([table, pd.DataFrame([{"scenario": "x", "status": "error",
                                                         "error": "ValueError: boom"}])]))


# --- wait, report, one seed rule, the worker's log (subprocesses) -----------------------------

@pytest.mark.slow
def test_wait_exits_3_on_timeout_and_1_for_a_failed_job(home, tmp_path, cli):
    long_job = tmp_path / "long.json"
    long_job.write_text(json.dumps(small_job("long-one", seconds=3600)))
    assert cli("create", long_job, "--home", home)[0] == 0
    code, _, err = cli("wait", "long-one", "--home", home, "--timeout", "0.01")
    assert code == 3 and "long-one" in err  # the wait commands' one table: 3 is a timeout, 2 bad input
    cli("stop", "long-one", "--home", home)
    assert cli("wait", "long-one", "--home", home, "--timeout", "60")[0] == 1  # STOPPED
    failing = tmp_path / "failing.json"
    failing.write_text(json.dumps(small_job("fails", threshold_ms=1, seconds=120)))
    assert cli("create", failing, "--home", home)[0] == 0
    code, out, _ = cli("wait", "fails", "--home", home, "--timeout", "60")
    assert code == 1 and out.startswith("fails: FAILED")
    log = (Path(home) / "fails.worker.log").read_text()
    assert "FAILED" in log and "exceeded the 1 ms threshold" in log  # why, in the worker's own log


@pytest.mark.slow
def test_run_and_create_give_the_same_numbers_for_the_same_request_and_seed(home, tmp_path, cli):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(small_job("same-numbers", seconds=120)))
    for seed_args in ([], ["--seed", "11"]):
        code, out, _ = cli("run", job, "--json", *seed_args)
        assert code == 0
        ran = json.loads(out)
        name = f"same-numbers-{len(seed_args)}"
        request = {**small_job(name, seconds=120)}
        job_named = tmp_path / f"{name}.json"
        job_named.write_text(json.dumps(request))
        assert cli("create", job_named, "--home", home, *seed_args)[0] == 0
        assert cli("wait", name, "--home", home, "--timeout", "120")[0] == 0
        created = offline_client(home=home).describe_inference_recommendations_job(JobName=name)
        assert [r["Metrics"] for r in created["InferenceRecommendations"]] == \
            [r["Metrics"] for r in ran["InferenceRecommendations"]]


@pytest.mark.slow
def test_report_writes_next_to_its_input_by_default(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run-out"
    job = tmp_path / "job.json"
    job.write_text(json.dumps(small_job(seconds=120)))
    assert cli("run", job, "--out", out)[0] == 0
    code, printed, _ = cli("report", out)
    assert code == 0 and (out / "report.html").is_file()
    assert printed.strip() == f"wrote {out / 'report.html'}, {out / PLOTLY_FILE}"  # the charts' script beside it
    assert not (tmp_path / "report.html").exists()
    code, printed, _ = cli("report", out)  # once there, the script is not written again
    assert code == 0 and printed.strip() == f"wrote {out / 'report.html'}"
