"""Fuzzing every reader with hypothesis (issue 15, item 7): job requests, profiles, sweeps,
CloudWatch exports, price lists, Describe files and command-line flags, each mutated from a
valid input (a subtree replaced, dropped or added; bytes flipped) or made up. Every input
either works or ends with exit 2 (252 in the AWS-shaped commands) and one line on stderr:
never a traceback (an exception escaping ``main`` fails the test), never a partial output.

The fast run keeps a few examples per reader; its ``slow`` twin (the ``many`` parameter) runs 150."""

from __future__ import annotations

import copy
import json
import math
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.sources import export_get_metric_statistics
from simulator import InstanceResources, Stairs, simulate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PRICE_LIST = Path(__file__).resolve().parent / "data" / "pricing" / "sagemaker_offer_excerpt.json"


class Reached(Exception):
    """The reader accepted its input and handed it on (the rest is stubbed out)."""


def reached(*args: Any, **kwargs: Any) -> None:
    raise Reached


def run_until_reached(cli, capsys, *argv: Any) -> tuple[int, str] | None:
    """(exit code, stderr), or None when the command got past its reader to the stubbed step
    (whatever it printed so far is dropped, so the next example starts clean)."""
    try:
        code, _, err = cli(*argv)
    except Reached:
        capsys.readouterr()
        return None
    return code, err


# --- made-up and mutated documents ----------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=12) | st.sampled_from(["", "ml.c5.large", "P95", "PHASES", "2026-01-01T00:00:00Z",
                                                     "demo", "exponential", "-1", "1e309"]))
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=12)


def _mutate(draw: Any, node: Any) -> Any:
    """``node`` with one change somewhere inside: a value replaced, a key dropped or added."""
    if not isinstance(node, (dict, list)) or not node or draw(st.integers(0, 4)) == 0:
        return draw(json_values)
    keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
    key = draw(st.sampled_from(keys))
    action = draw(st.sampled_from(["descend", "descend", "descend", "drop", "add"]))
    if action == "drop":
        del node[key]
    elif action == "add" and isinstance(node, dict):
        node[draw(st.text(max_size=10))] = draw(json_values)
    elif action == "add":
        node.append(draw(json_values))
    else:
        node[key] = _mutate(draw, node[key])
    return node


@st.composite
def file_bytes(draw: Any, base: Any) -> bytes:
    """The bytes of a file a reader is given: ``base`` mutated, bytes flipped, or anything."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "flipped", "made up", "bytes"]))
    if kind == "made up":
        return json.dumps(draw(json_values)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        document = _mutate(draw, document)
    data = bytearray(json.dumps(document).encode())
    if kind == "flipped" and data:
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def folder(tmp_path: Path) -> Path:
    """A fresh folder for one example (hypothesis reuses the test's tmp_path)."""
    return Path(tempfile.mkdtemp(dir=tmp_path))


def assert_works_or_one_line(code: int, err: str, *, worked: tuple[int, ...] = (0, 1), refused: int = 2,
                             nothing_at: Path | None = None) -> None:
    assert "Traceback" not in err
    if code in worked:
        return
    assert code == refused, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err  # argparse's own refusals too: no usage block
    if nothing_at is not None:
        assert not nothing_at.exists(), f"{nothing_at} was written by a refused command"


# --- the readers ------------------------------------------------------------------------------------

def small_request() -> dict:
    """One benchmark of one 120 s phase, stopped early: a second or so when it runs."""
    return {"JobName": "fuzzed", "JobType": "Advanced", "RoleArn": "arn:aws:iam::111122223333:role/R",
            "InputConfig": {
                "ModelPackageVersionArn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/m/1",
                "JobDurationInSeconds": 1200,
                "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                    {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]},
                "ResourceLimit": {"MaxNumberOfTests": 2, "MaxParallelOfTests": 1},
                "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}]},
            "StoppingConditions": {"MaxInvocations": 1000, "FlatInvocations": "Stop",
                                   "ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 100}]}}


def small_profile() -> dict:
    return {"model": "m", "overhead_ms": {"family": "lognormal", "mean_ms": 2.0, "cv": 0.3},
            "instances": {"ml.c5.large": {"workers": 2, "memory_mb": 900,
                                          "service_time": {"family": "lognormal", "mean_ms": 8.0, "cv": 0.5}}}}


@cache
def cloudwatch_documents() -> tuple[dict, ...]:
    profile = {"model": "m", "instances": {"ml.c5.large": {"workers": 2, "service_time": {
        "family": "lognormal", "mean_ms": 8.0, "cv": 0.5}}}}
    result = simulate(profile, "ml.c5.large", traffic=Stairs(360, 6, 2), seed=1, resources=InstanceResources(2, 4096))
    return tuple(export_get_metric_statistics(result.per_minute, datetime(2026, 1, 1, tzinfo=UTC)))


def check_job_request(cli, tmp_path: Path, data: bytes) -> None:
    here = folder(tmp_path)
    (here / "job.json").write_bytes(data)
    code, _, err = cli("run", here / "job.json", "--quiet", "--out", here / "out", "--max-requests-per-s", 50_000)
    assert_works_or_one_line(code, err, nothing_at=None if code in (0, 1) else here / "out")


def check_profile(cli, tmp_path: Path, data: bytes) -> None:
    here = folder(tmp_path)
    (here / "profile.json").write_bytes(data)
    code, _, err = cli("simulate", "--service-profile", here / "profile.json", "--instance-type", "ml.c5.large",
                       "--users", "3", "--duration", "60", "--max-requests-per-s", "20000",
                       "--per-minute", here / "pm.csv")
    assert_works_or_one_line(code, err, worked=(0,), nothing_at=None if code == 0 else here / "pm.csv")


def check_sweep(cli, capsys, tmp_path: Path, data: bytes, monkeypatch) -> None:
    here = folder(tmp_path)
    (here / "sweep.json").write_bytes(data)
    (here / "base.json").write_text(json.dumps(small_request()))
    monkeypatch.setattr("irsim.cli.sweep.run_sweep", reached)
    outcome = run_until_reached(cli, capsys, "sweep", here / "sweep.json", "--out", here / "out")
    if outcome is not None:
        assert_works_or_one_line(*outcome, worked=(), nothing_at=here / "out")


def check_cloudwatch(cli, tmp_path: Path, data: bytes) -> None:
    here = folder(tmp_path)
    paths = []
    for i, document in enumerate(cloudwatch_documents()[1:]):
        paths.append(here / f"cw{i}.json")
        paths[-1].write_text(json.dumps(document))
    (here / "fuzzed.json").write_bytes(data)
    code, _, err = cli("calibrate", "--instance-type", "ml.c5.large", "--cloudwatch", here / "fuzzed.json", *paths,
                       "-o", here / "out" / "profile.json")
    assert_works_or_one_line(code, err, worked=(0,), nothing_at=None if code == 0 else here / "out")


def check_price_list(cli, capsys, tmp_path: Path, data: bytes, monkeypatch) -> None:
    here = folder(tmp_path)
    (here / "prices.json").write_bytes(data)
    (here / "job.json").write_text(json.dumps(small_request()))
    monkeypatch.setattr("irsim.cli.run.execute_job", reached)
    outcome = run_until_reached(cli, capsys, "run", here / "job.json", "--quiet", "--price-list", here / "prices.json")
    if outcome is not None:
        assert_works_or_one_line(*outcome, worked=())


def check_describe_file(cli, tmp_path: Path, data: bytes) -> None:
    here = folder(tmp_path)
    (here / "describe.json").write_bytes(data)
    code, _, err = cli("import", here / "describe.json", "--home", here / "home")
    assert_works_or_one_line(code, err, worked=(0,))


@cache
def describe_base() -> dict:
    return {"JobName": "real-job", "JobType": "Advanced", "Status": "COMPLETED",
            "JobArn": "arn:aws:sagemaker:us-east-1:111122223333:inference-recommendations-job/real-job",
            "RoleArn": "arn:aws:iam::111122223333:role/R", "CreationTime": "2026-01-01T00:00:00+00:00",
            "LastModifiedTime": "2026-01-01T01:00:00+00:00", "CompletionTime": 1767229200,
            "InputConfig": small_request()["InputConfig"],
            "InferenceRecommendations": [{
                "Metrics": {"CostPerHour": 0.1, "CostPerInference": 1e-6, "MaxInvocations": 900, "ModelLatency": 9000},
                "EndpointConfiguration": {"EndpointName": "e", "VariantName": "v", "InstanceType": "ml.c5.large",
                                          "InitialInstanceCount": 2},
                "ModelConfiguration": {}, "RecommendationId": "real-job/1"}]}


def sweep_base() -> dict:
    return {"base": "base.json", "profile": "demo", "seed": 3,
            "axes": {"target_per_minute": [1000, 2000], "slo": ["P95=50"], "routing": ["random"],
                     "service_scale": [1.0, 1.5], "replications": [2], "candidates": ["job"],
                     "instance_types": [["ml.c5.large"]]}}


def price_base() -> Any:
    return json.loads(PRICE_LIST.read_text())


# --- every reader: a few examples in the fast run, many in the slow one -----------------------------

#: Examples per reader: few in ``make test-fast``, many in the slow twin ``make test`` adds.
EXAMPLES_PER_READER = [pytest.param(4, id="few"), pytest.param(150, id="many", marks=pytest.mark.slow)]


def fuzz(examples: int, strategy: st.SearchStrategy, check: Any) -> None:
    """``check(value)`` on ``examples`` values drawn from ``strategy`` (the test's fixtures are
    shared by all of them: each check works in a fresh folder of its own)."""
    settings(max_examples=examples, deadline=None, database=None)(given(strategy)(check))()


@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_job_requests(cli, tmp_path, examples):
    fuzz(examples, file_bytes(small_request()), lambda data: check_job_request(cli, tmp_path, data))


@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_profiles(cli, tmp_path, examples):
    fuzz(examples, file_bytes(small_profile()), lambda data: check_profile(cli, tmp_path, data))


@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_sweeps(cli, capsys, tmp_path, monkeypatch, examples):
    fuzz(examples, file_bytes(sweep_base()), lambda data: check_sweep(cli, capsys, tmp_path, data, monkeypatch))


@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_cloudwatch_exports(cli, tmp_path, examples):
    fuzz(examples, file_bytes(cloudwatch_documents()[0]), lambda data: check_cloudwatch(cli, tmp_path, data))


@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_price_lists(cli, capsys, tmp_path, monkeypatch, examples):
    fuzz(examples, file_bytes(price_base()),
         lambda data: check_price_list(cli, capsys, tmp_path, data, monkeypatch))


@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_describe_files(cli, tmp_path, examples):
    fuzz(examples, file_bytes(describe_base()), lambda data: check_describe_file(cli, tmp_path, data))


# --- command-line flags ------------------------------------------------------------------------------

flag_values = st.sampled_from(["0", "1", "-1", "2", "60", "0.5", "1e309", "nan", "inf", "-inf", "", "x", "3.5",
                               str(2**63), str(2**70), "9" * 40, "random", "least_outstanding_requests", "ml.c5.large",
                               "ml.x9.large", "demo", "--users", "P95=10"]) | st.text(max_size=6)
SIMULATE_FLAGS = ["--instance-type", "--instances", "--users", "--rate", "--duration", "--think-time", "--routing",
                  "--seed", "--max-requests-per-s", "--service-profile"]


@st.composite
def simulate_argv(draw: Any) -> list[str]:
    argv = ["simulate", "--instance-type", "ml.c5.large", "--duration", "30"]
    for _ in range(draw(st.integers(1, 4))):
        argv += [draw(st.sampled_from(SIMULATE_FLAGS)), draw(flag_values)]
    if draw(st.booleans()):
        argv.append("--json")
    return argv


def check_flags(cli, argv: list[str]) -> None:
    code, _, err = cli(*argv)
    assert_works_or_one_line(code, err, worked=(0,))


@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_simulate_flags(cli, examples):
    fuzz(examples, simulate_argv(), lambda argv: check_flags(cli, argv))


RUN_FLAGS = st.lists(st.tuples(st.sampled_from(["--seed", "--region", "--replications", "--max-requests-per-s",
                                                "--service-profile"]), flag_values), min_size=1, max_size=3)


@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_run_flags(cli, capsys, tmp_path, monkeypatch, examples):
    monkeypatch.setattr("irsim.cli.run.execute_job", reached)
    monkeypatch.setattr("irsim.cli.run.replicate", reached)

    def check(flags: list[tuple[str, str]]) -> None:
        here = folder(tmp_path)
        (here / "job.json").write_text(json.dumps(small_request()))
        argv: list[Any] = ["run", here / "job.json", "--quiet"] + [part for pair in flags for part in pair]
        outcome = run_until_reached(cli, capsys, *argv)
        if outcome is not None:
            assert_works_or_one_line(*outcome, worked=())

    fuzz(examples, RUN_FLAGS, check)


def test_the_bases_are_valid(cli, tmp_path, monkeypatch):
    """Each fuzzed reader starts from an input it accepts (so mutations probe near the valid)."""
    check_profile(cli, tmp_path, json.dumps(small_profile()).encode())
    assert math.isfinite(len(cloudwatch_documents()))
    code, _, err = cli("import", write_json(tmp_path / "d.json", describe_base()), "--home", tmp_path / "home")
    assert code == 0, err


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path
