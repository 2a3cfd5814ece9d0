"""A store no document can poison: user data that looks like the store's own datetime tag comes
back as it was sent, and a row that cannot be read (corrupt JSON, a bad timestamp, a forged tag
an earlier irsim stored) reads as one FAILED job naming the row, while every other job lists
and describes as before; `irsim doctor` finds such rows and quarantines them."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_store_hardening import NAME, one_line_naming, store_job

import irsim
from irsim.durable import worker
from irsim.durable.codec import decode, encode
from irsim.durable.store import JobStore, StoreError, now_utc
from simulator import load_profile

FORGED = {"$datetime": "not-a-date"}
SEED_JOB = Path(__file__).resolve().parent.parent / "examples" / "seed-advanced-job.json"


def runnable_request(name: str = NAME) -> dict:
    """The seed example cut to one instance type and two minutes: a job `create` accepts."""
    request = json.loads(SEED_JOB.read_text())
    request["JobName"] = name
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.large"}]
    request["InputConfig"]["TrafficPattern"]["Phases"] = [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]
    return request


def test_the_codec_gives_back_what_it_was_given():
    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    documents = [FORGED, {"$datetime": "2024-05-01T12:00:00"}, {"$$datetime": when}, {"$$$datetime": 1},
                 {"$datetime": FORGED, "other": [FORGED]}, {"$foo": "bar", "a": when}, [when, {"$datetime": None}]]
    for document in documents:
        assert decode(encode(document)) == document


@pytest.mark.slow(reason="a job created and run by a worker process (4.7 s measured)")
def test_a_forged_tag_in_a_profile_given_to_create_round_trips(tmp_path, cli, home):
    profile = load_profile("demo").to_dict()
    profile["provenance"] = {"note": FORGED}
    (tmp_path / "profile.json").write_text(json.dumps(profile))
    (tmp_path / "job.json").write_text(json.dumps(runnable_request()))
    code, _, err = cli("create", tmp_path / "job.json", "--profile", tmp_path / "profile.json", "--home", home)
    assert code == 0, err
    code, out, err = cli("wait", NAME, "--home", home, "--timeout", 120)
    assert (code, out.strip()) == (0, f"{NAME}: COMPLETED"), err
    assert JobStore(home).get(NAME).profile["provenance"] == {"note": FORGED}
    for command in (("list",), ("describe", NAME), ("steps", NAME)):
        code, out, err = cli(*command, "--home", home)
        assert code == 0 and err == "", (command, err)


def test_a_forged_tag_in_a_models_environment_round_trips(tmp_path):
    client = irsim.client(home=tmp_path)
    client.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::111122223333:role/R",
                        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/i:1",
                                          "Environment": {"$datetime": "not-a-date"}})
    again = irsim.client(home=tmp_path)  # read back from the store, not from memory
    assert again.describe_model(ModelName="m")["PrimaryContainer"]["Environment"] == {"$datetime": "not-a-date"}
    assert again.describe_model(ModelName="m")["ModelName"] == "m"


def rewrite(home: Path, sql: str, *values: object) -> None:
    """Change the store behind irsim's back, as another program or a bad disk would."""
    with sqlite3.connect(home / "jobs.sqlite3") as connection:
        connection.execute(sql, values)


def three_jobs(home: Path) -> JobStore:
    """good, bad-json and bad-time: finished jobs of one store; bad-json's steps (a column a
    listing leaves on disk) and bad-time's creation time cannot be read."""
    store = None
    for name in ("good", "bad-json", "bad-time"):
        store = store_job(home, name, status="COMPLETED", completed=now_utc())
    rewrite(home, "UPDATE jobs SET steps = '{\"Steps\": [{\"Sta' WHERE name = 'bad-json'")
    rewrite(home, "UPDATE jobs SET created = 'yesterday at noon' WHERE name = 'bad-time'")
    assert store is not None
    return store


@pytest.mark.parametrize("bad, column", [("bad-json", "steps"), ("bad-time", "created")])
def test_a_bad_row_reads_as_a_failed_job_naming_the_row(tmp_path, bad, column):
    three_jobs(tmp_path)
    client = irsim.client(home=tmp_path)
    jobs = {j["JobName"]: j for j in client.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"]}
    assert set(jobs) == {"good", "bad-json", "bad-time"}
    assert jobs["good"]["Status"] == "COMPLETED" and jobs[bad]["Status"] == "FAILED"
    described = client.describe_inference_recommendations_job(JobName=bad)
    assert described["Status"] == "FAILED"
    assert f"jobs/{bad}" in described["FailureReason"] and column in described["FailureReason"]
    assert client.describe_inference_recommendations_job(JobName="good")["Status"] == "COMPLETED"
    assert client.list_inference_recommendations_job_steps(JobName=bad)["Steps"] == []
    failed = client.list_inference_recommendations_jobs(StatusEquals="FAILED")["InferenceRecommendationsJobs"]
    assert {j["JobName"] for j in failed} <= {"bad-json", "bad-time"}


@pytest.mark.parametrize("column, document, listed", [
    ("request", '{"": []}', "FAILED"), ("request", '{"InputConfig": 3}', "FAILED"),
    ("describe", '{"": []}', "FAILED"), ("describe", '{"LastModifiedTime": 5}', "FAILED"),
    ("steps", '{"Steps": 3}', "COMPLETED"), ("spec", '{"Steps": [1]}', "COMPLETED")])
def test_an_object_of_the_wrong_shape_is_damage_not_a_key_error(tmp_path, column, document, listed):
    """A column that decodes to an object irsim cannot read by its keys (a Describe without
    LastModifiedTime, a request botocore refuses) fails its own job, naming the column, and every
    call on the store goes on (before: KeyError or ParamValidationError out of List and Steps).
    A listing leaves steps and spec on disk, so there the job lists as stored."""
    for name in ("first", "target"):
        store_job(tmp_path, name, status="COMPLETED", completed=now_utc())
    rewrite(tmp_path, f"UPDATE jobs SET {column} = ? WHERE name = 'target'", document)
    client = irsim.client(home=tmp_path)
    jobs = {j["JobName"]: j for j in client.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"]}
    assert jobs["first"]["Status"] == "COMPLETED" and jobs["target"]["Status"] == listed
    described = client.describe_inference_recommendations_job(JobName="target")
    assert described["Status"] == "FAILED" and "jobs/target" in described["FailureReason"]
    assert f"{column}: not " in described["FailureReason"]
    assert client.list_inference_recommendations_job_steps(JobName="target")["Steps"] == []


def test_the_command_line_lists_describes_and_refuses_to_stop_around_a_bad_row(tmp_path, cli):
    three_jobs(tmp_path)
    code, out, err = cli("list", "--home", tmp_path)
    assert code == 0 and err == "" and len(out.splitlines()) == 4
    code, out, err = cli("describe", "bad-json", "--home", tmp_path, "--json")
    assert code == 0 and json.loads(out)["Status"] == "FAILED"
    code, out, err = cli("describe", "good", "--home", tmp_path)
    assert code == 0 and "COMPLETED" in out
    code, out, err = cli("stop", "bad-time", "--home", tmp_path)
    assert code != 0 and one_line_naming(err, "bad-time", "FAILED")


@pytest.mark.slow(reason="a job created and run by a worker process (0.6 s measured)")
def test_a_forged_tag_an_earlier_irsim_stored_fails_its_job_not_the_store(tmp_path, cli, capsys):
    """What the old encoding wrote for a profile holding the tag: the worker reads it, fails the
    job with the row named, and the store goes on answering."""
    store = store_job(tmp_path)
    store_job(tmp_path, "neighbour", status="COMPLETED", completed=now_utc())
    profile = {**load_profile("demo").to_dict(), "provenance": FORGED}
    rewrite(tmp_path, "UPDATE jobs SET profile = ? WHERE name = ?", json.dumps(profile), NAME)
    assert worker.run(str(tmp_path), NAME) == 1
    capsys.readouterr()  # the in-process worker's log
    record = store.get(NAME)
    assert record.status == "FAILED" and f"jobs/{NAME}" in record.failure_reason
    assert "profile" in record.failure_reason and "not-a-date" in record.failure_reason
    code, out, err = cli("list", "--home", tmp_path)
    assert code == 0 and "neighbour" in out and err == ""


def test_the_doctor_reports_and_quarantines_bad_rows(tmp_path, cli):
    three_jobs(tmp_path)
    client = irsim.client(home=tmp_path)
    client.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::111122223333:role/R",
                        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/i:1"})
    rewrite(tmp_path, "UPDATE resources SET document = '[' WHERE name = 'm'")
    code, out, err = cli("doctor", "--home", tmp_path)
    assert code == 1, err
    assert "jobs/bad-json: steps:" in out and "jobs/bad-time: created:" in out and "resources/model/m" in out
    assert "jobs/good" not in out
    code, out, err = cli("doctor", "--home", tmp_path, "--quarantine")
    assert code == 0, err
    assert "quarantined 3 rows" in out
    code, out, err = cli("doctor", "--home", tmp_path)
    assert code == 0 and "no damaged rows" in out
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as connection:
        kept = connection.execute("SELECT table_name, key, problem FROM quarantine ORDER BY key").fetchall()
    assert [(t, k) for t, k, _ in kept] == [("jobs", "bad-json"), ("jobs", "bad-time"), ("resources", "model/m")]
    code, out, err = cli("list", "--home", tmp_path)
    assert code == 0 and "good" in out and "bad-json" not in out


@pytest.mark.parametrize("document", ['{"": []}', '{"PrimaryContainer": 3}', '{"ModelName": 5}'])
def test_a_resource_of_the_wrong_shape_is_one_line_and_the_doctor_finds_it(tmp_path, cli, document):
    """A stored model that decodes to an object its Describe shape refuses: asked for, one
    line naming the row (before: an empty Describe, or a TypeError out of CreateInferenceRecommendationsJob);
    the doctor lists it; the store's other rows read as before."""
    client = irsim.client(home=tmp_path)
    container = {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/i:1"}
    for name in ("m", "other"):
        client.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::111122223333:role/R",
                            PrimaryContainer=container)
    rewrite(tmp_path, "UPDATE resources SET document = ? WHERE name = 'm'", document)
    client = irsim.client(home=tmp_path)
    assert client.describe_model(ModelName="other")["PrimaryContainer"] == container
    code, out, err = cli("doctor", "--home", tmp_path)
    assert code == 1 and "resources/model/m: document: not DescribeModel's output" in out, (out, err)
    with pytest.raises(StoreError, match="resources/model/m cannot be read"):
        client.describe_model(ModelName="m")
    with pytest.raises(StoreError, match="resources/model/m cannot be read"):
        client.create_inference_recommendations_job(JobName="j", JobType="Default", InputConfig={"ModelName": "m"},
                                                    RoleArn="arn:aws:iam::111122223333:role/R")


def test_timestamps_are_stored_canonically_and_an_older_store_is_brought_in_line(tmp_path):
    store = store_job(tmp_path, "one")
    rewrite(tmp_path, "UPDATE jobs SET created = '2024-05-01T14:00:00+02:00' WHERE name = 'one'")
    rewrite(tmp_path, "PRAGMA user_version = 0")
    store = JobStore(tmp_path)  # opened for writing: the timestamp is rewritten in UTC, same instant
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as connection:
        created = connection.execute("SELECT created FROM jobs").fetchone()[0]
    assert created == "2024-05-01T12:00:00.000000+00:00"
    assert store.get("one").created == datetime(2024, 5, 1, 12, tzinfo=UTC)
