"""The durable store under stress (issue 15, items 1 and 2): a stop that lands between the last
benchmark and the final write ends STOPPED; a dead-worker FAILED is never overwritten; the
steps of a job whose worker died say why; and every failure to open, read or write the store
is one line naming the path and the cause (exit 2, or 254 in the AWS-shaped commands), with
read-only stores readable and corrupt ones left as they are."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import irsim
from irsim.durable import worker
from irsim.durable.store import JobStore, NewJob, StoreError, now_utc
from irsim.exitcodes import AWS_SERVICE_ERROR, EXIT_USAGE
from simulator import load_profile

NAME = "small-job"


def small_request(name: str = NAME) -> dict:
    """One benchmark of one 120 s phase: a second or so in this process."""
    return {"JobName": name, "JobType": "Advanced", "RoleArn": "arn:aws:iam::111122223333:role/R",
            "InputConfig": {
                "ModelPackageVersionArn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/m/1",
                "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                    {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]},
                "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}]},
            "StoppingConditions": {"MaxInvocations": 1000,
                                   "ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 100}]}}


def store_job(home: Path, name: str = NAME, **fields: object) -> JobStore:
    """A job put in the store as `create` puts it (PENDING unless ``fields`` say otherwise)."""
    store = JobStore(home)
    store.insert(
        NewJob(
            name=name,
            arn=f"arn:aws:sagemaker:us-east-1:111122223333:inference-recommendations-job/{name}",
            job_type="Advanced",
            request=small_request(name),
            profile=load_profile("demo").to_dict(),
            seed=1,
            region="us-east-1",
            created=now_utc(),
        ),
        **fields,
    )
    return store


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def run_worker_with(monkeypatch: pytest.MonkeyPatch, home: Path, between) -> int:
    """Run the job's worker in this process; ``between()`` runs after its last benchmark and
    before its final write."""
    real = worker.execute_job

    def execute_then_interleave(*args, **kwargs):
        result = real(*args, **{**kwargs, "parallel": False})
        between()
        return result

    monkeypatch.setattr(worker, "execute_job", execute_then_interleave)
    return worker.run(str(home), NAME)


# --- item 1: end states ------------------------------------------------------------------------

@pytest.mark.slow(reason="jobs run by worker processes (0.4 s measured)")
def test_a_stop_after_the_last_benchmark_ends_the_job_stopped(tmp_path, monkeypatch):
    store_job(tmp_path)
    offline = irsim.client(home=tmp_path)
    seen = []

    def stop() -> None:
        offline.stop_inference_recommendations_job(JobName=NAME)  # accepted: HTTP 200
        seen.append(offline.describe_inference_recommendations_job(JobName=NAME)["Status"])

    assert run_worker_with(monkeypatch, tmp_path, stop) == 0
    response = offline.describe_inference_recommendations_job(JobName=NAME)
    assert seen == ["STOPPING"]
    assert response["Status"] == "STOPPED" and "FailureReason" not in response
    assert response["InferenceRecommendations"]  # what finished is kept, as a stopped job keeps it
    assert JobStore(tmp_path).get(NAME).status == "STOPPED"


def test_a_dead_worker_failure_is_never_overwritten(tmp_path, monkeypatch):
    store = store_job(tmp_path)
    offline = irsim.client(home=tmp_path)

    def the_worker_is_found_dead() -> None:
        store.update(NAME, worker_pid=dead_pid(), worker_started=None)
        assert offline.describe_inference_recommendations_job(JobName=NAME)["Status"] == "FAILED"

    run_worker_with(monkeypatch, tmp_path, the_worker_is_found_dead)
    response = offline.describe_inference_recommendations_job(JobName=NAME)
    assert response["Status"] == "FAILED" and "ended before the job finished" in response["FailureReason"]
    assert "InferenceRecommendations" not in response


def test_a_worker_finding_its_job_already_failed_runs_nothing(tmp_path, monkeypatch):
    store_job(tmp_path, status="FAILED", failure_reason="The job's worker process never started.")
    monkeypatch.setattr(worker, "execute_job", lambda *a, **k: pytest.fail("a FAILED job was run"))
    assert worker.run(str(tmp_path), NAME) == 0
    assert JobStore(tmp_path).get(NAME).status == "FAILED"


def test_an_internal_error_after_a_stop_ends_stopped(tmp_path, monkeypatch):
    store_job(tmp_path)
    offline = irsim.client(home=tmp_path)

    def stop_then_break(*args, **kwargs):
        offline.stop_inference_recommendations_job(JobName=NAME)
        raise RuntimeError("broken")

    monkeypatch.setattr(worker, "execute_job", stop_then_break)
    assert worker.run(str(tmp_path), NAME) == 1
    assert offline.describe_inference_recommendations_job(JobName=NAME)["Status"] == "STOPPED"


def test_the_steps_of_a_job_whose_worker_died_give_the_reason(tmp_path):
    store_job(tmp_path, status="IN_PROGRESS", worker_pid=dead_pid())
    steps = irsim.client(home=tmp_path).list_inference_recommendations_job_steps(JobName=NAME)["Steps"]
    assert steps and all(step["Status"] == "FAILED" for step in steps)
    assert all("ended before the job finished" in step["InferenceBenchmark"]["FailureReason"] for step in steps)


# --- item 2: the store's failures ----------------------------------------------------------------

def one_line_naming(err: str, *words: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return len(lines) == 1 and all(word in lines[0] for word in words) and "Traceback" not in err


def corrupt_store(home: Path, how: str) -> Path:
    """A store that is not a database at all, or whose pages are damaged."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "jobs.sqlite3"
    if how == "not a database":
        path.write_bytes(b"these are not the bytes of a SQLite database\n" * 20)
        return path
    store = JobStore(home)
    for i in range(20):
        store.insert(
            NewJob(
                name=f"job-{i}",
                arn="arn",
                job_type="Advanced",
                request={"padding": "x" * 3000},
                profile={},
                seed=0,
                region="us-east-1",
                created=now_utc(),
            )
        )
    data = bytearray(path.read_bytes())
    data[2 * 4096:4 * 4096] = b"\xa5" * (2 * 4096)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.slow(reason="jobs run by worker processes (0.4 s measured)")
@pytest.mark.parametrize("how, cause", [("not a database", "file is not a database"),
                                        ("damaged", "database disk image is malformed")])
def test_a_corrupt_store_is_reported_and_left_as_it_is(tmp_path, cli, how, cause):
    path = corrupt_store(tmp_path / "home", how)
    before = path.read_bytes()
    code, out, err = cli("list", "--home", tmp_path / "home")
    assert code == EXIT_USAGE and out == "" and one_line_naming(err, str(path), cause)
    code, _, err = cli("create", small_request_file(tmp_path), "--home", tmp_path / "home")
    assert code == EXIT_USAGE and one_line_naming(err, str(path), cause)
    code, _, err = cli("list-inference-recommendations-jobs", "--home", tmp_path / "home")
    assert code == AWS_SERVICE_ERROR and one_line_naming(err, str(path), cause)
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["jobs.sqlite3"]


def small_request_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.json"
    path.write_text(json.dumps(small_request()))
    return path


def test_irsim_home_a_file_under_a_file_or_with_a_folder_for_its_store(tmp_path, cli, monkeypatch):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    monkeypatch.setenv("IRSIM_HOME", str(a_file))
    code, out, err = cli("list")
    assert code == EXIT_USAGE and out == "" and one_line_naming(err, str(a_file), "is a file, not a folder")
    assert "(set IRSIM_HOME or --home to a folder)" in err  # the command line words the advice as its flag
    monkeypatch.setenv("IRSIM_HOME", str(a_file / "under"))
    code, _, err = cli("describe", "some-job")
    assert code == EXIT_USAGE and one_line_naming(err, str(a_file / "under"), "Not a directory")
    (tmp_path / "home" / "jobs.sqlite3").mkdir(parents=True)
    code, _, err = cli("describe-inference-recommendations-job", "--job-name", "x", "--home", tmp_path / "home")
    assert code == AWS_SERVICE_ERROR and one_line_naming(err, "jobs.sqlite3", "is a folder")
    with pytest.raises(StoreError, match=r"is a file, not a folder \(set IRSIM_HOME or the home argument") as info:
        irsim.client(home=a_file)
    assert info.value.argument == "home"


def test_a_home_folder_that_cannot_hold_the_store(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("IRSIM_HOME", raising=False)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    monkeypatch.setenv("HOME", str(a_file))
    code, out, err = cli("list")
    assert code == EXIT_USAGE and out == "" and one_line_naming(err, str(a_file / ".irsim"), "cannot create")


def test_a_home_folder_that_is_not_writable(tmp_path, cli, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("IRSIM_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    with unwritable(home):
        code, out, err = cli("list")
    assert code == EXIT_USAGE and out == "" and one_line_naming(err, str(home / ".irsim"), "cannot create")


@contextlib.contextmanager
def unwritable(*paths: Path) -> Iterator[None]:
    """``paths`` (folders first) made unwritable for this process: by their mode, or for root
    (whom modes do not stop) immutable with chattr; skips the test where neither works."""
    if os.geteuid() != 0:
        modes = [(p, p.stat().st_mode) for p in paths]
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path, mode in modes:
                path.chmod(mode)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", *map(str, paths)],
                                                         capture_output=True).returncode:
        pytest.skip("running as root without chattr: cannot make a folder unwritable")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)


@pytest.mark.slow(reason="jobs run by worker processes (0.7 s measured)")
def test_read_only_commands_work_on_a_read_only_store(tmp_path, cli):
    home = tmp_path / "home"
    store = store_job(home, "running-job", status="IN_PROGRESS", worker_pid=dead_pid())
    store.insert(
        NewJob(
            name="done-job",
            arn="arn:aws:sagemaker:us-east-1:1:inference-recommendations-job/done-job",
            job_type="Advanced",
            request=small_request("done-job"),
            profile={},
            seed=0,
            region="us-east-1",
            created=now_utc() - timedelta(minutes=5),
        ),
        status="COMPLETED",
        completed=now_utc(),
        steps={"Steps": []},
    )
    with unwritable(home, home / "jobs.sqlite3"):
        code, out, err = cli("list", "--home", home)
        assert code == 0 and "done-job" in out and "FAILED" in out, err  # the dead worker told, not written
        code, out, _ = cli("describe", "done-job", "--home", home)
        assert code == 0 and "COMPLETED" in out
        assert cli("steps", "done-job", "--home", home)[0] == 0
        code, out, err = cli("steps", "running-job", "--home", home)  # reads the deployed endpoints too
        assert code == 0 and "FAILED" in out, err
        code, out, err = cli("list-inference-recommendations-job-steps", "--job-name", "running-job", "--home", home)
        assert code == 0 and '"Steps"' in out, err
        assert cli("wait", "done-job", "--home", home)[0] == 0
        code, out, _ = cli("describe-inference-recommendations-job", "--job-name", "running-job", "--home", home)
        assert code == 0 and '"FAILED"' in out
        code, out, err = cli("stop", "done-job", "--home", home)
        assert code == EXIT_USAGE and one_line_naming(err, str(home / "jobs.sqlite3"), "read-only")
        request = small_request("new-job")  # on the demo profile's package: valid, implied, then stored
        request["InputConfig"]["ModelPackageVersionArn"] = (
            "arn:aws:sagemaker:us-east-1:111122223333:model-package/xgboost-demo/1")
        (tmp_path / "new.json").write_text(json.dumps(request))
        code, _, err = cli("create", tmp_path / "new.json", "--home", home)
        assert code == EXIT_USAGE and one_line_naming(err, "read-only")
    assert JobStore(home).get("running-job").status == "IN_PROGRESS"  # nothing was written


def test_store_errors_are_user_errors_naming_the_path(tmp_path):
    (tmp_path / "jobs.sqlite3").write_bytes(b"x" * 4096)
    with pytest.raises(StoreError) as info:
        JobStore(tmp_path)
    assert str(tmp_path / "jobs.sqlite3") in str(info.value) and "not a database" in str(info.value)
