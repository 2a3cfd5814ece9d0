"""irsim.json is a typed document: the committed JSON Schema is the one the dataclasses of
irsim/service/result.py generate, every irsim.json a bundled example writes (a run, a
replicated run) and every document the job store keeps fits it, and the dataclasses read
what they wrote back to the same text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from irsim.cli.app import main
from irsim.durable.worker import end_states
from irsim.present.formats import dumps
from irsim.service.documents import DocumentError
from irsim.service.job import execute_job, replicate
from irsim.service.result import ImportedJob, JobDocument, stored_document
from irsim.service.schema import SCHEMA_PATH, job_document_schema, schema_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CREATED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def small_job(name: str = "small", seconds: int = 120, job_duration_s: int | None = None) -> dict:
    """Two instance types on one short phase, a threshold and a target (so production checks run)."""
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["JobName"] = name
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.xlarge"},
                                                         {"InstanceType": "ml.m5.xlarge"}]
    request["InputConfig"]["TrafficPattern"]["Phases"] = [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": seconds}]
    if job_duration_s is not None:
        request["InputConfig"]["JobDurationInSeconds"] = job_duration_s
        request["InputConfig"]["ResourceLimit"] = {"MaxNumberOfTests": 2, "MaxParallelOfTests": 1}
    return request


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_fits(document: dict, validator: jsonschema.protocols.Validator) -> None:
    """The document fits the schema and the dataclasses read it back to the same text."""
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    assert dumps(JobDocument.from_json(document).to_json()) == dumps(document)


def test_the_committed_schema_is_the_generated_one():
    assert SCHEMA_PATH.read_text() == schema_text(), "run `python -m irsim.service.schema` and commit the file"
    assert job_document_schema()["$defs"]["JobDocument"]["required"][:2] == ["model", "seed"]


@pytest.mark.slow(reason="a replicated job and a stored job run whole (1.6 s measured)")
def test_a_replicated_job_and_a_stored_job_fit_the_schema(validator):
    first, replications = replicate(small_job(), "demo", 1, "us-east-1", 2, created=CREATED, parallel=False)
    document = first.document(replications).to_json()
    assert document["replications"]["replications"] == 2 and document["headline"] is not None
    assert all("production_check" in b for b in document["benchmarks"])
    assert_fits(document, validator)
    assert list(document) == ["model", "seed", "provisioning_s", "irsim_version", "profile_provenance", "benchmarks",
                              "headline", "not_scheduled", "stopped", "warnings", "replications"]
    stored, _ = end_states(first)  # what the worker writes to the store: with the minutes
    assert stored["extensions"]["per_minute"] and stored_document(stored["extensions"]) is not None
    assert_fits(stored["extensions"], validator)


def test_left_out_and_stopped_benchmarks_fit_the_schema(validator):
    left_out = execute_job(small_job(job_duration_s=700), "demo", 0, created=CREATED, parallel=False)
    assert [b["reason"] is not None for b in left_out.extensions()["not_scheduled"]] == [True]
    assert_fits(left_out.extensions(), validator)
    finished: list[int] = []
    stopped = execute_job(small_job(), "demo", 0, created=CREATED, parallel=False, production=False,
                          progress=lambda outcome, done, total: finished.append(done),
                          interrupt=lambda: bool(finished))
    document = stopped.extensions()
    assert document["stopped"] == [{"index": 1, "InstanceType": "ml.m5.xlarge"}] and document["headline"] is None
    assert_fits(document, validator)


def test_the_schema_and_the_reader_refuse_a_broken_document(validator):
    document = execute_job(small_job(seconds=120), "demo", 0, created=CREATED, parallel=False,
                           production=False).extensions()
    wrong_type = {**document, "seed": "zero"}
    missing = {key: value for key, value in document.items() if key != "benchmarks"}
    unknown = {**document, "benchmarks": [{**document["benchmarks"][0], "colour": "red"}]}
    for broken, where in ((wrong_type, "JobDocument.seed"), (missing, "missing key benchmarks"),
                          (unknown, "JobDocument.benchmarks[0]: unknown key(s) colour")):
        assert not validator.is_valid(broken)
        with pytest.raises(DocumentError, match=re.escape(where)):
            JobDocument.from_json(broken)
    assert stored_document(wrong_type) is None  # a stored document this irsim cannot read: shown without it


def test_an_imported_job_keeps_its_own_document():
    document = {"source": "aws", "imported": True, "model": "n/a (imported from aws, not simulated)", "seed": "n/a",
                "benchmarks": []}
    imported = stored_document(document)
    assert isinstance(imported, ImportedJob) and imported.to_json() == document


#: Every bundled job example, run as `irsim run --out` does, once replicated too.
EXAMPLE_RUNS = [("seed-advanced-job.json", []), ("seed-advanced-job.json", ["--replications", "2"]),
                ("stairs-job.json", []), ("serverless-job.json", []), ("measure-stairs-job.json", []),
                ("measure-whatif-job.json", [])]


@pytest.mark.slow
@pytest.mark.parametrize("example, options", EXAMPLE_RUNS,
                         ids=lambda value: value if isinstance(value, str) else " ".join(value) or "run")
def test_every_example_writes_an_irsim_json_that_fits_the_schema(example, options, validator, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(EXAMPLES / example), "--quiet", "--out", str(out), *options]) == 0
    document = json.loads((out / "irsim.json").read_text())
    assert ("replications" in document) == bool(options)
    assert_fits(document, validator)
    assert (out / "irsim.json").read_text() == dumps(JobDocument.from_json(document).to_json()) + "\n"


def test_every_example_job_is_in_the_schema_test():
    """sweep.json is a sweep (results.csv, no irsim.json); every other example is a job run above."""
    jobs = {p.name for p in EXAMPLES.glob("*.json") if "JobName" in json.loads(p.read_text())}
    assert jobs == {example for example, _ in EXAMPLE_RUNS} and len(jobs) >= 3
