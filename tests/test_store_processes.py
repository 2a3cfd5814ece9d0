"""The store under several processes at once, under kill -9 at random points, and with rows
corrupted behind irsim's back: every job written is there once and whole, SQLite's own check
passes, the doctor finds nothing it should not, and a corrupted row is one FAILED job while
every other job lists and describes as it did."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_store_hardening import store_job

import irsim
from irsim.durable.doctor import examine
from irsim.durable.store import JobStore, now_utc

#: A writer process: inserts jobs NAME-0.. and takes each through IN_PROGRESS to an end state,
#: flushing a line per finished job so the parent knows how far it got.
WRITER = """
import sys
from irsim.durable.store import JobStore, NewJob, now_utc
home, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = JobStore(home)
request = {"JobName": "x", "JobType": "Default", "RoleArn": "arn:aws:iam::111122223333:role/R",
           "InputConfig": {"ModelName": "m"}}
for i in range(count):
    name = f"{prefix}-{i}"
    store.insert(NewJob(name=name, arn=f"arn:aws:sagemaker:us-east-1:111122223333:inference-recommendations-job/{name}",
                        job_type="Default", request={**request, "JobName": name}, profile={"model": "m", "n": i},
                        seed=i, region="us-east-1", created=now_utc()))
    store.update(name, status="IN_PROGRESS", progress={"0": "COMPLETED"}, only_if_status=("PENDING",))
    store.finish(name, {"status": "COMPLETED", "completed": now_utc(), "describe": {
                 **request, "JobName": name, "JobArn": f"arn:{name}", "Status": "COMPLETED",
                 "CreationTime": now_utc(), "LastModifiedTime": now_utc(), "Padding": "x" * 5000}},
                 stopped={"completed": now_utc()})
    print(name, flush=True)
"""


def writer(home: Path, prefix: str, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(home), prefix, str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_sound(home: Path) -> None:
    """SQLite's check passes and every row reads back whole."""
    checkup = examine(JobStore(home))
    assert checkup.integrity == "ok" and checkup.bad == ()


@pytest.mark.slow(reason="several writer processes, kill -9 and corruption on a real store (5.4 s measured)")
def test_several_processes_writing_at_once_lose_nothing(tmp_path):
    processes = [writer(tmp_path, f"p{i}", 25) for i in range(4)]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    assert_sound(tmp_path)
    client = irsim.client(home=tmp_path)
    listed = client.get_paginator("list_inference_recommendations_jobs").paginate(
        PaginationConfig={"PageSize": 7}).build_full_result()["InferenceRecommendationsJobs"]
    names = [job["JobName"] for job in listed]
    assert sorted(names) == sorted(f"p{i}-{j}" for i in range(4) for j in range(25))  # each once
    assert {job["Status"] for job in listed} == {"COMPLETED"}
    created = [job["CreationTime"] for job in listed]
    assert created == sorted(created, reverse=True)


@pytest.mark.slow(reason="several writer processes, kill -9 and corruption on a real store (4.8 s measured)")
def test_kill_9_at_random_points_leaves_whole_rows(tmp_path):
    rng = np.random.default_rng(27)
    finished: set[str] = set()
    for round_ in range(5):
        process = writer(tmp_path, f"r{round_}", 10_000)
        time.sleep(float(rng.uniform(0.4, 1.5)))  # past the interpreter's start: killed while writing
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate(timeout=60)
        finished |= set(out.split())
        assert_sound(tmp_path)
    store = JobStore(tmp_path)
    records = {r.name: r for r in store.all()}
    assert finished <= set(records)  # every job the writer finished is there, ended
    for name, record in records.items():
        assert record.damage is None
        if name in finished:
            assert record.status == "COMPLETED" and record.describe["Padding"] == "x" * 5000
        else:  # the one it was writing: whole at the last state it reached
            assert record.status in ("PENDING", "IN_PROGRESS", "COMPLETED")
            assert (record.status == "COMPLETED") == (record.describe is not None)


def small_job(name: str) -> dict:
    request = json.loads((Path(__file__).resolve().parent.parent / "examples" / "seed-advanced-job.json").read_text())
    request["JobName"] = name
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.large"}]
    request["InputConfig"]["TrafficPattern"]["Phases"] = [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 3600}]
    request["StoppingConditions"] = {"ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 100}],
                                     "FlatInvocations": "Continue"}  # an hour of traffic: still running when killed
    return request


@pytest.mark.slow
def test_a_worker_killed_at_random_points_fails_its_job_and_nothing_else(home):
    rng = np.random.default_rng(9)
    client = irsim.client(home=home)
    killed = 0
    for i, delay in enumerate(rng.uniform(0.0, 1.0, size=3)):
        name = f"killed-{i}"
        client.create_inference_recommendations_job(**small_job(name))
        time.sleep(float(delay))
        pid = None
        while pid is None:  # the worker records its pid as it starts
            pid = JobStore(home).get(name).worker_pid
            time.sleep(0.02)
        finished_before = JobStore(home).get(name).status == "COMPLETED"  # a fast machine can finish first
        os.kill(pid, signal.SIGKILL)
        client._workers[name].wait(timeout=30)
        response = client.describe_inference_recommendations_job(JobName=name)
        if finished_before:
            assert response["Status"] == "COMPLETED"
            continue
        killed += 1
        assert response["Status"] == "FAILED" and str(pid) in response["FailureReason"]
        assert_sound(home)
    listed = client.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"]
    assert killed >= 1, "no worker was killed mid-run: the test proved nothing"
    assert sum(job["Status"] == "FAILED" for job in listed) == killed and len(listed) == 3


# --- rows corrupted behind irsim's back ---------------------------------------------------------------

COLUMNS = ("arn", "job_type", "status", "request", "profile", "seed", "region", "created", "last_modified",
           "completed", "failure_reason", "describe", "steps", "extensions", "progress", "worker_pid",
           "worker_started", "stop_requested", "spec")
values = (st.none() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=True) | st.binary(max_size=16)
          | st.text(max_size=40)
          | st.sampled_from(['{"a": 1', "[]", "null", '{"$datetime": "not-a-date"}', '{"$datetime": 5}',
                             "2024-13-01T00:00:00", "NaN", '{"InputConfig": 3}', "BANANA", "STOPPING",
                             '{"Steps": [1]}', '{"": []}', '{"Steps": 3}', '"text"', "9" * 400,
                             "[" * 5000]))


def three_finished_jobs(home: Path) -> None:
    for name in ("first", "target", "last"):
        store_job(home, name, status="COMPLETED", completed=now_utc())


@pytest.mark.slow(reason="several writer processes, kill -9 and corruption on a real store (10.8 s measured)")
@settings(max_examples=40, deadline=None, database=None)
@given(column=st.sampled_from(COLUMNS), value=values)
def test_a_corrupted_row_is_one_failed_job_and_the_rest_read_as_before(tmp_path_factory, column, value):
    home = tmp_path_factory.mktemp("store")
    three_finished_jobs(home)
    client = irsim.client(home=home)
    before = {name: client.describe_inference_recommendations_job(JobName=name) for name in ("first", "last")}
    with sqlite3.connect(home / "jobs.sqlite3") as connection:
        try:
            connection.execute(f"UPDATE jobs SET {column} = ? WHERE name = 'target'", (value,))
        except sqlite3.IntegrityError:  # a NOT NULL column: SQLite refuses the NULL itself
            return
    client = irsim.client(home=home)
    listed = {j["JobName"]: j for j in client.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"]}
    assert set(listed) == {"first", "target", "last"}
    for name in ("first", "last"):
        after = client.describe_inference_recommendations_job(JobName=name)
        assert {k: v for k, v in after.items() if k != "ResponseMetadata"} == \
            {k: v for k, v in before[name].items() if k != "ResponseMetadata"}
    target = client.describe_inference_recommendations_job(JobName="target")
    client.list_inference_recommendations_job_steps(JobName="target")
    bad = examine(JobStore(home)).bad
    assert [b.key for b in bad] in ([], ["target"])
    if bad:
        assert target["Status"] == "FAILED" and "jobs/target" in target["FailureReason"]
        # A listing reads a page's summary columns; of the others it checks they look like objects.
        # What only decoding finds there (a forged tag, a bad timestamp, an object of the wrong shape)
        # shows in Describe and in the doctor's check.
        found_by_decoding = ("tag", "timestamp", "'s output (", "not a parsed request")
        deep = column in ("profile", "steps", "extensions", "progress", "spec") and any(
            words in bad[0].problem for words in found_by_decoding)
        assert listed["target"]["Status"] == ("COMPLETED" if deep else "FAILED")
