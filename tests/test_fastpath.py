"""The compiled fast path gives the Python engine's answers exactly: the same per-request
arrays, the same minutes, stop reason and counts, for the same seed, over hypothesis-drawn
cases of everything it covers (service families with ties, instances, random routing, closed
users whose count changes, overhead and think time, open Poisson traffic, every stopping
condition, interrupts, minute hooks, kept or dropped requests). Cases it does not cover fall
back to the Python engine, and so does every run when numba is missing."""

from __future__ import annotations

import sys
from collections.abc import Callable
from copy import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import engine, fastpath
from simulator.distributions import Distribution
from simulator.endpoint import Endpoint
from simulator.errors import InputError
from simulator.stopping import LatencyThreshold, MinuteSummary, StoppingConditions
from simulator.traffic import ConstantUsers, Phase, Phases, PoissonArrivals, Stairs

pytest.importorskip("numba", reason="numba is not installed: the fast path is off and the engine runs in Python")

ARRAYS = ("completion_s", "latency_s", "service_s", "overhead_s", "instance")
SCALARS = ("end_s", "stop_reason", "issued", "in_service", "queued", "completed")
cases = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

services = st.sampled_from([
    Distribution("exponential", 40.0, 1.0), Distribution("lognormal", 30.0, 0.6),
    Distribution("gamma", 50.0, 1.5), Distribution("weibull", 25.0, 0.8),
    Distribution("deterministic", 20.0, 0.0),  # ties: completions at the same instant, in sequence order
    Distribution("deterministic", 500.0, 0.0),  # completions exactly on minute boundaries: after the tick
    Distribution("empirical", 30.0, 0.5, (10.0, 20.0, 20.0, 60.0)),
])
overheads = st.sampled_from([None, Distribution("exponential", 5.0, 1.0), Distribution("deterministic", 3.0, 0.0)])
closed_traffic = st.one_of(
    st.builds(ConstantUsers, st.integers(1, 40), st.sampled_from([30.0, 60.0, 150.0])),
    # Counts that rise and fall, changes on minute boundaries, phases that start with no user.
    st.lists(st.builds(Phase, st.integers(0, 12), st.sampled_from([0, 1, 4, 30]), st.sampled_from([20, 60, 90])),
             min_size=1, max_size=3).map(lambda p: Phases(tuple(p))),
    st.builds(Stairs, st.sampled_from([60.0, 120.0, 180.0]), st.integers(1, 4), st.integers(1, 8)),
)
open_traffic = st.builds(
    lambda rates, duration: PoissonArrivals(tuple((i * duration / len(rates), r) for i, r in enumerate(rates)),
                                            duration),
    st.lists(st.sampled_from([0.0, 20.0, 90.0, 400.0]), min_size=1, max_size=3),
    st.sampled_from([30.0, 60.0, 140.0]))
stoppings = st.sampled_from([
    None, StoppingConditions(max_invocations=1500), StoppingConditions(latency=LatencyThreshold(95, 120.0)),
    StoppingConditions(latency=LatencyThreshold(97.5, 90.0)),  # a percentile read before the minute closes
    StoppingConditions(stop_on_flat_invocations=True, flat_window_min=1),
])


def interrupt_after(minutes: int | None) -> Callable[[], bool] | None:
    """A fresh interrupt that stops the run at its ``minutes``-th question (None: never asked)."""
    if minutes is None:
        return None
    asked = iter(range(minutes, -1, -1))
    return lambda: next(asked) == 0


def assert_same_run(python: engine.EngineOutput, fast: engine.EngineOutput) -> None:
    for name in ARRAYS:
        a, b = getattr(python, name), getattr(fast, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    for name in SCALARS:
        assert getattr(python, name) == getattr(fast, name), name
    # repr: exact for floats (shortest round trip) and equal for NaN, which == is not
    assert repr(python.minute_stats) == repr(fast.minute_stats)
    assert repr(python.minutes) == repr(fast.minutes)


def both(endpoint: Endpoint, traffic, *, interrupt_minutes: int | None = None,
         **options) -> tuple[engine.EngineOutput, engine.EngineOutput, list[MinuteSummary], list[MinuteSummary]]:
    """The Python engine's run and the fast path's, each with its own interrupt, minute hook and
    copy of the seed (a SeedSequence counts the children it spawned: each run spawns its own)."""
    heard: tuple[list[MinuteSummary], list[MinuteSummary]] = ([], [])
    seed = options.pop("seed")
    outputs = [engine.run(endpoint, traffic, fast=fast, interrupt=interrupt_after(interrupt_minutes),
                          on_minute=heard[fast].append, seed=copy(seed), **options) for fast in (False, True)]
    return outputs[0], outputs[1], heard[0], heard[1]


@cases
@given(service=services, instances=st.integers(1, 4), workers=st.integers(1, 4),
       traffic=st.one_of(closed_traffic, open_traffic), overhead=overheads,
       think=st.sampled_from([0.0, 0.0, 0.05]), stopping=stoppings, keep=st.booleans(),
       interrupt=st.sampled_from([None, None, 1, 2]), seed=st.integers(0, 2 ** 64 - 1))
def test_the_fast_path_gives_the_python_engines_answers(service, instances, workers, traffic, overhead, think,
                                                         stopping, keep, interrupt, seed):
    endpoint = Endpoint("ml.test", instances, workers, service, "random")
    python, fast, heard_python, heard_fast = both(endpoint, traffic, seed=seed, overhead=overhead,
                                                  think_time_s=think, stopping=stopping, keep_requests=keep,
                                                  interrupt_minutes=interrupt)
    assert_same_run(python, fast)
    assert repr(heard_python) == repr(heard_fast)
    assert python.issued > 0 or python.completed == 0


def test_a_long_saturated_run_with_a_seed_sequence_is_the_same():
    """Many blocks of draws and output chunks, a queue far longer than the first pool."""
    endpoint = Endpoint("ml.test", 3, 2, Distribution("lognormal", 20.0, 0.5), "random")
    traffic = PoissonArrivals(((0.0, 400.0), (200.0, 100.0)), 420.0)  # overloaded, then draining
    seed = np.random.SeedSequence(12345).spawn(3)[2]
    python, fast, _, _ = both(endpoint, traffic, seed=seed, overhead=Distribution("exponential", 5.0, 1.0))
    assert python.completed > 100_000
    assert_same_run(python, fast)


def test_auto_takes_the_fast_path_only_where_it_applies():
    one = Endpoint("ml.test", 1, 4, Distribution("exponential", 20.0, 1.0))
    least = Endpoint("ml.test", 4, 2, Distribution("exponential", 20.0, 1.0), "least_outstanding_requests")
    huge = ConstantUsers(50, 86_400.0)  # about 17 million requests
    assert fastpath.covers(one, huge) is None
    assert fastpath.chosen(None, one, huge, None, 0.0)
    assert not fastpath.chosen(False, one, huge, None, 0.0)
    assert "least_outstanding_requests" in (fastpath.covers(least, huge) or "")
    assert not fastpath.chosen(None, least, huge, None, 0.0)
    with pytest.raises(InputError, match="fast"):
        engine.run(least, ConstantUsers(8, 30.0), fast=True)


def test_least_outstanding_routing_falls_back_to_the_python_engine(monkeypatch):
    endpoint = Endpoint("ml.test", 3, 2, Distribution("exponential", 20.0, 1.0), "least_outstanding_requests")
    traffic = ConstantUsers(2000, 60.0)  # enough requests for auto to want the fast path, were it covered
    expected = engine.run(endpoint, traffic, seed=5, fast=False)

    def refuse(*args, **kwargs):
        raise AssertionError("the fast path ran a case it does not cover")

    monkeypatch.setattr(fastpath, "run", refuse)
    assert_same_run(expected, engine.run(endpoint, traffic, seed=5))


def test_without_numba_the_engine_runs_in_python(monkeypatch):
    endpoint = Endpoint("ml.test", 1, 4, Distribution("exponential", 20.0, 1.0))
    traffic = ConstantUsers(200, 60.0)
    expected = engine.run(endpoint, traffic, seed=2, fast=False)
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now raises ImportError
    fastpath.kernel.cache_clear()
    try:
        assert not fastpath.available()
        assert not fastpath.chosen(None, endpoint, ConstantUsers(50, 86_400.0), None, 0.0)
        assert_same_run(expected, engine.run(endpoint, traffic, seed=2))
        with pytest.raises(InputError, match="numba is not installed"):
            engine.run(endpoint, traffic, seed=2, fast=True)
    finally:
        fastpath.kernel.cache_clear()  # the next test loads the compiled loop again


def test_the_compiled_loop_reports_how_it_was_loaded():
    loaded = fastpath.kernel()
    assert loaded is not None and loaded.load_s >= 0.0
    assert isinstance(loaded.from_cache, bool)
