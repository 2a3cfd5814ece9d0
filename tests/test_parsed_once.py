"""A durable job's request is parsed once, by ``create``: the store keeps the JobSpec, the
worker runs it and ListInferenceRecommendationsJobSteps reads it, neither parsing the request
again; a store an earlier irsim made (no spec column) gains the column and its jobs are
parsed from their request as before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import irsim
from irsim.durable import client as client_module
from irsim.durable import specs, worker
from irsim.durable.client import OfflineSageMakerClient
from irsim.durable.specs import stored_spec
from irsim.durable.store import SCHEMA, JobStore, NewJob, now_utc
from irsim.service import job as job_module
from irsim.service.request import JobSpec, parse_request
from simulator import load_profile

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NO_ENDPOINTS = dict  # the endpoints a request may name: none deployed


def small_request(name: str) -> dict:
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["JobName"] = name
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.xlarge"}]
    request["InputConfig"]["TrafficPattern"] = {
        "TrafficType": "STAIRS", "Stairs": {"DurationInSeconds": 120, "NumberOfSteps": 2, "UsersPerStep": 1}}
    return request


@pytest.fixture
def parses(monkeypatch) -> dict[str, int]:
    """How often each module parses a request (the real parse_request, counted)."""
    counts = {"client": 0, "specs": 0, "job": 0}
    for name, module in (("client", client_module), ("specs", specs), ("job", job_module)):
        def counted(*args, _name=name, **kwargs):
            counts[_name] += 1
            return parse_request(*args, **kwargs)
        monkeypatch.setattr(module, "parse_request", counted)
    return counts


def test_create_parses_once_and_the_worker_runs_what_it_parsed(home, monkeypatch, parses):
    started: list[str] = []
    monkeypatch.setattr(OfflineSageMakerClient, "_start_worker", lambda self, name: started.append(name))
    client = irsim.client(home=home)
    client.create_inference_recommendations_job(**small_request("once"))
    record = JobStore(home).get("once")
    assert started == ["once"] and record is not None and record.spec is not None
    expected = parse_request(small_request("once"), default_instance_types=load_profile("demo").instances)
    assert stored_spec(record, NO_ENDPOINTS) == expected
    pending = client.list_inference_recommendations_job_steps(JobName="once")["Steps"]
    assert [step["Status"] for step in pending] == ["PENDING"]
    assert worker.run(str(home), "once") == 0  # the worker, in this process
    assert parses == {"client": 1, "specs": 0, "job": 0}
    final = client.describe_inference_recommendations_job(JobName="once")
    same = irsim.execute_job(small_request("once"), "demo", seed=record.seed, created=record.created,
                             completed=final["CompletionTime"])
    assert final["Status"] == "COMPLETED" and final["InferenceRecommendations"] == same.describe[
        "InferenceRecommendations"]


def test_a_store_an_earlier_irsim_made_gains_the_column_and_parses_its_jobs(home, parses):
    old_schema = SCHEMA.replace(",\n    spec TEXT\n", "\n")
    assert "spec TEXT" not in old_schema
    with sqlite3.connect(home / "jobs.sqlite3") as connection:
        connection.executescript(old_schema)
    request = small_request("old")
    profile = load_profile("demo")
    JobStore(home)  # opened for writing: the column is added
    with sqlite3.connect(home / "jobs.sqlite3") as connection:
        assert "spec" in {row[1] for row in connection.execute("PRAGMA table_info(jobs)")}
    store = JobStore(home)
    store.insert(
        NewJob(
            name="old",
            arn="arn:aws:sagemaker:us-east-1:111122223333:inference-recommendations-job/old",
            job_type="Advanced",
            request=request,
            profile=profile.to_dict(),
            seed=0,
            region="us-east-1",
            created=now_utc(),
        )
    )
    record = store.get("old")
    assert record is not None and record.spec is None
    spec = stored_spec(record, NO_ENDPOINTS)
    assert isinstance(spec, JobSpec) and spec.job_name == "old" and parses["specs"] == 1
