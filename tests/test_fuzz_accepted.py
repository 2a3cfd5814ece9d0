"""Fuzzing that reaches accepted input (issue 27, item 7): valid job requests and profiles with
ONE field changed to a plausible value (a number stepped or scaled, a string swapped for
another value seen at the same member, a list item dropped or repeated), so that most cases
pass validation and the paths behind it (admission, translation, the engine, the answer) are
what gets fuzzed. Every case either works (exit 0) or is one line and exit 2, never a
traceback; and the share of cases that work is measured, so a strategy that only produces
refusals fails the test."""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_readers import assert_works_or_one_line, small_profile, small_request

#: Values a string member may plausibly take instead of its own, by member name.
STRING_VALUES = {
    "TrafficType": ["PHASES", "STAIRS"], "Percentile": ["P95", "P99", "P50"], "FlatInvocations": ["Stop", "Continue"],
    "InstanceType": ["ml.c5.large", "ml.c5.xlarge", "ml.m5.large", "ml.g4dn.xlarge", "ml.t2.medium"],
    "JobType": ["Default", "Advanced"], "family": ["lognormal", "gamma", "exponential", "weibull", "deterministic"],
    "JobName": ["fuzzed", "fuzzed-2", "a" * 64],
}


def leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every scalar and every list inside ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        yield path, node
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    else:
        yield path, node


def plausible(draw: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A value a user could plausibly have written at ``path`` instead of ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return draw(st.sampled_from([value + 1, max(value - 1, 0), value * 2, value // 2, value * 10, 1, 0]))
    if isinstance(value, float):
        return value * draw(st.sampled_from([0.5, 0.9, 1.1, 2.0, 10.0]))
    if isinstance(value, str):
        return draw(st.sampled_from(STRING_VALUES.get(str(path[-1]), [value, value.upper(), value + "x"])))
    if isinstance(value, list) and value:
        index = draw(st.integers(0, len(value) - 1))
        return value[:index] + value[index + 1:] if draw(st.booleans()) else [*value, copy.deepcopy(value[index])]
    return value


@st.composite
def one_field_changed(draw: Any, base: dict) -> dict:
    """``base`` with one member changed to a plausible value."""
    document = copy.deepcopy(base)
    path, value = draw(st.sampled_from(list(leaves(document))))
    if not path:
        return document
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = plausible(draw, path, value)
    return document


def fresh(tmp_path: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=tmp_path))


#: (examples, smallest share that must be accepted): a few in ``make test-fast``, many in ``make test``.
RUNS = [pytest.param(3, 0.0, id="few"), pytest.param(60, 0.5, id="many", marks=pytest.mark.slow)]


@pytest.mark.slow(reason="generated requests, each a whole job (1.1 s measured)")
@pytest.mark.parametrize("examples, accepted_share", RUNS)
def test_requests_one_field_off_run_or_are_refused_in_one_line(cli, tmp_path, examples, accepted_share):
    outcomes: list[bool] = []

    @given(one_field_changed(small_request()))
    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    def case(request: dict) -> None:
        here = fresh(tmp_path)
        (here / "job.json").write_text(json.dumps(request))
        code, _, err = cli("run", here / "job.json", "--quiet", "--out", here / "out", "--max-requests-per-s", 50_000)
        assert_works_or_one_line(code, err, nothing_at=here / "out")  # 1: the job ran and FAILED, as AWS's can
        outcomes.append(code in (0, 1))

    case()
    assert outcomes  # hypothesis stops early once it has tried every distinct case
    assert sum(outcomes) / len(outcomes) >= accepted_share, f"{sum(outcomes)} of {len(outcomes)} accepted"


@pytest.mark.parametrize("examples, accepted_share", RUNS)
def test_profiles_one_field_off_simulate_or_are_refused_in_one_line(cli, tmp_path, examples, accepted_share):
    outcomes: list[bool] = []

    @given(one_field_changed(small_profile()))
    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    def case(profile: dict) -> None:
        here = fresh(tmp_path)
        (here / "profile.json").write_text(json.dumps(profile))
        code, out, err = cli("simulate", "--service-profile", here / "profile.json", "--instance-type", "ml.c5.large",
                             "--users", 4, "--duration", 120, "--json")
        assert_works_or_one_line(code, err, worked=(0,))
        if code == 0:
            assert json.loads(out)["completed"] > 0
        outcomes.append(code == 0)

    case()
    assert outcomes  # hypothesis stops early once it has tried every distinct case
    assert sum(outcomes) / len(outcomes) >= accepted_share, f"{sum(outcomes)} of {len(outcomes)} accepted"
