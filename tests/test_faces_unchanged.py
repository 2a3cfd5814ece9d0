"""Every public face gives the same results for the same seeds: ``simulate`` and
``simulate_serverless`` in their every shape, ``run_job``/``execute_job``, ``recommend``, the
autoscaling API and ``irsim.client()`` recomputed and compared with the outputs captured in
tests/data/faces/faces.json (ints, strings and shapes exactly, floats to a relative 1e-9).
A refactor that changes a number fails here; a change of results meant as one recaptures
the file (``python tests/data/faces/capture.py``) and says so."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "data" / "faces"
_spec = importlib.util.spec_from_file_location("faces_capture", HERE / "capture.py")
assert _spec is not None and _spec.loader is not None
capture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(capture)


@pytest.fixture(scope="module")
def captured() -> dict:
    return json.loads(capture.CAPTURE.read_text())


@pytest.mark.slow(reason="every public face recomputed (1.8 s measured)")
@pytest.mark.parametrize("face", sorted(capture.FACES))
def test_face_gives_the_captured_results(face, captured):
    assert capture.differences(captured[face], capture.FACES[face]()) == []


@pytest.mark.slow  # the job runs in its own worker process (seconds of start-up)
def test_the_client_gives_the_captured_results(captured, tmp_path):
    assert capture.differences(captured["client"], capture.client(tmp_path)) == []


def test_the_comparison_can_fail():
    assert capture.differences({"a": [1.0, 2]}, {"a": [1.0 + 1e-6, 2]}) == [".a[0]: 1.0 != 1.000001"]
    assert capture.differences({"a": 1}, {"a": 1.0}) != []
    assert capture.differences({"a": "P95"}, {"a": "P99"}) != []
    assert capture.differences({"a": [1]}, {"a": [1, 2]}) == [".a: length 1 != 2"]
    assert capture.differences({"a": float("nan")}, {"a": float("nan")}) == []
