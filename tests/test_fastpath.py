"""The compiled fast path gives the Python engine's answers exactly: the same per-request
arrays, the same minutes, stop reason and counts, for the same seed, over hypothesis-drawn
cases of everything it covers (service families with ties, instances, random routing, closed
users whose count changes, overhead and think time, open Poisson traffic, every stopping
condition, interrupts, minute hooks, kept or dropped requests). Cases it does not cover fall
back to the Python engine, and so does every run when numba is missing."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import RunSpec, engine, fastpath, fastquantiles, serverless, simulate
from simulator.bounds import PROCESS_MEMORY_MB
from simulator.distributions import Distribution
from simulator.endpoint import InstanceEndpoint, ServerlessConfig, ServerlessEndpoint
from simulator.errors import InputError
from simulator.harness import EngineOutput
from simulator.metrics import PERCENTILES
from simulator.profiles import DEMO_PROFILE_PATH, InstanceProfile, load_profile
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


def endpoint_of(instances: int, workers: int, service: Distribution, routing: str = "random") -> InstanceEndpoint:
    return InstanceEndpoint(InstanceProfile("ml.test", workers, service), instance_count=instances, routing=routing)


def assert_same_run(python: EngineOutput, fast: EngineOutput) -> None:
    for name in ARRAYS:
        a, b = getattr(python, name), getattr(fast, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    for name in SCALARS:
        assert getattr(python, name) == getattr(fast, name), name
    # repr: exact for floats (shortest round trip) and equal for NaN, which == is not
    assert repr(python.minute_stats) == repr(fast.minute_stats)
    assert repr(python.minutes) == repr(fast.minutes)


def both(spec: RunSpec, *, interrupt_minutes: int | None = None
         ) -> tuple[EngineOutput, EngineOutput, list[MinuteSummary], list[MinuteSummary]]:
    """The Python engine's run of ``spec`` and the fast path's, each with its own interrupt and minute hook."""
    heard: tuple[list[MinuteSummary], list[MinuteSummary]] = ([], [])
    outputs = [engine.run(dataclasses.replace(spec, fast=fast), interrupt_after(interrupt_minutes),
                          heard[fast].append) for fast in (False, True)]
    return outputs[0], outputs[1], heard[0], heard[1]


@pytest.mark.slow(reason="the same runs on both engines (1.4 s measured)")
@cases
@given(service=services, instances=st.integers(1, 4), workers=st.integers(1, 4),
       traffic=st.one_of(closed_traffic, open_traffic), overhead=overheads,
       think=st.sampled_from([0.0, 0.0, 0.05]), stopping=stoppings, keep=st.booleans(),
       interrupt=st.sampled_from([None, None, 1, 2]), seed=st.integers(0, 2 ** 64 - 1))
def test_the_fast_path_gives_the_python_engines_answers(service, instances, workers, traffic, overhead, think,
                                                         stopping, keep, interrupt, seed):
    spec = RunSpec(endpoint_of(instances, workers, service), traffic, overhead=overhead, think_time_s=think,
                   stopping=stopping or StoppingConditions(), seed=seed, keep_requests=keep)
    python, fast, heard_python, heard_fast = both(spec, interrupt_minutes=interrupt)
    assert_same_run(python, fast)
    assert repr(heard_python) == repr(heard_fast)
    assert python.issued > 0 or python.completed == 0


@pytest.mark.slow(reason="the same runs on both engines (2.3 s measured)")
def test_a_long_saturated_run_with_a_large_seed_is_the_same():
    """Many blocks of draws and output chunks, a queue far longer than the first pool."""
    traffic = PoissonArrivals(((0.0, 400.0), (200.0, 100.0)), 420.0)  # overloaded, then draining
    spec = RunSpec(endpoint_of(3, 2, Distribution("lognormal", 20.0, 0.5)), traffic,
                   overhead=Distribution("exponential", 5.0, 1.0), seed=2 ** 64 + 12345)
    python, fast, _, _ = both(spec)
    assert python.completed > 100_000
    assert_same_run(python, fast)


def test_simulate_passes_fast_through_and_gives_the_same_result():
    demo = load_profile(DEMO_PROFILE_PATH)
    instance_type = next(iter(demo.instances))
    runs = [simulate(demo, instance_type, instance_count=2, users=30, duration_s=130.0, seed=7, fast=fast)
            for fast in (False, True)]
    assert runs[0].completed == runs[1].completed > 0
    assert np.array_equal(runs[0].latency_ms, runs[1].latency_ms)
    assert runs[0].per_minute.equals(runs[1].per_minute)


def test_auto_takes_the_fast_path_only_where_it_applies(monkeypatch):
    monkeypatch.setattr(fastpath, "resident_mb", lambda: 0.0)  # memory is not the point here (see below)
    one = endpoint_of(1, 4, Distribution("exponential", 20.0, 1.0))
    least = endpoint_of(4, 2, Distribution("exponential", 20.0, 1.0), "least_outstanding_requests")
    huge = ConstantUsers(50, 86_400.0)  # about 17 million requests, a minute at a time
    assert fastpath.covers(RunSpec(one, huge, keep_requests=False)) is None
    assert fastpath.chosen(RunSpec(one, huge, keep_requests=False))
    assert not fastpath.chosen(RunSpec(one, huge, fast=False, keep_requests=False))
    assert not fastpath.chosen(RunSpec(one, ConstantUsers(2, 60.0)))  # too short to pay for loading numba
    assert "least_outstanding_requests" in (fastpath.covers(RunSpec(least, huge, keep_requests=False)) or "")
    assert not fastpath.chosen(RunSpec(least, huge, keep_requests=False))


def test_auto_takes_the_fast_path_only_where_the_process_stays_within_its_memory(monkeypatch):
    spec = RunSpec(endpoint_of(1, 4, Distribution("exponential", 20.0, 1.0)), ConstantUsers(50, 86_400.0),
                   keep_requests=False)
    loaded = fastpath.kernel.cache_info().currsize > 0
    room = PROCESS_MEMORY_MB - fastpath.FAST_RUN_FACTOR * spec.memory_mb - (0.0 if loaded else fastpath.KERNEL_MB)
    monkeypatch.setattr(fastpath, "resident_mb", lambda: room)
    assert fastpath.chosen(spec)
    monkeypatch.setattr(fastpath, "resident_mb", lambda: room + 1.0)
    assert not fastpath.chosen(spec)  # the Python engine runs it: the same run, within the memory
    assert fastpath.chosen(dataclasses.replace(spec, fast=True))  # insisting is the caller's choice


@pytest.mark.parametrize("fast", [1, 0, "yes", 1.0])
def test_fast_is_a_boolean_or_none(fast):
    with pytest.raises(InputError, match="fast"):
        RunSpec(endpoint_of(1, 1, Distribution("exponential", 20.0, 1.0)), ConstantUsers(1, 60.0), fast=fast)


def test_fast_true_is_refused_where_the_fast_path_cannot_run():
    least = endpoint_of(4, 2, Distribution("exponential", 20.0, 1.0), "least_outstanding_requests")
    with pytest.raises(InputError, match=r"fast.*least_outstanding_requests"):
        RunSpec(least, ConstantUsers(8, 30.0), fast=True)
    section = load_profile(DEMO_PROFILE_PATH).serverless
    assert section is not None
    endpoint = ServerlessEndpoint(section, ServerlessConfig(memory_mb=2048, max_concurrency=5))
    with pytest.raises(InputError, match=r"fast.*serverless"):
        RunSpec(endpoint, ConstantUsers(2, 30.0), fast=True)
    spec = RunSpec(endpoint, ConstantUsers(2, 30.0))  # auto: the serverless engine, as always
    assert not fastpath.chosen(spec) and serverless.run(spec).completed > 0


def test_least_outstanding_routing_falls_back_to_the_python_engine(monkeypatch):
    endpoint = endpoint_of(3, 2, Distribution("exponential", 20.0, 1.0), "least_outstanding_requests")
    spec = RunSpec(endpoint, ConstantUsers(2000, 60.0), seed=5)  # enough requests for auto, were it covered
    expected = engine.run(dataclasses.replace(spec, fast=False))

    def refuse(*args, **kwargs):
        raise AssertionError("the fast path ran a case it does not cover")

    monkeypatch.setattr(fastpath, "run", refuse)
    assert_same_run(expected, engine.run(spec))


def test_without_numba_the_engine_runs_in_python(monkeypatch):
    endpoint = endpoint_of(1, 4, Distribution("exponential", 20.0, 1.0))
    spec = RunSpec(endpoint, ConstantUsers(200, 60.0), seed=2)
    expected = engine.run(dataclasses.replace(spec, fast=False))
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now raises ImportError
    fastpath.kernel.cache_clear()
    try:
        assert not fastpath.available()
        assert not fastpath.chosen(RunSpec(endpoint, ConstantUsers(50, 86_400.0), keep_requests=False))
        assert_same_run(expected, engine.run(spec))
        with pytest.raises(InputError, match="numba is not installed"):
            engine.run(dataclasses.replace(spec, fast=True))
    finally:
        fastpath.kernel.cache_clear()  # the next test loads the compiled loop again


def test_a_numba_that_fails_to_compile_the_loop_turns_the_fast_path_off(monkeypatch):
    endpoint = endpoint_of(1, 4, Distribution("exponential", 20.0, 1.0))
    spec = RunSpec(endpoint, ConstantUsers(200, 60.0), seed=3)
    expected = engine.run(dataclasses.replace(spec, fast=False))

    def broken(numba):
        raise TypeError("this numba cannot type the loop")

    monkeypatch.setattr(fastpath.fl, "compile_kernel", broken)
    fastpath.kernel.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="fast path is off"):
            assert not fastpath.available()
        assert_same_run(expected, engine.run(spec))
    finally:
        fastpath.kernel.cache_clear()


def test_the_compiled_loop_reports_how_it_was_loaded():
    loaded = fastpath.kernel()
    assert loaded is not None and loaded.load_s >= 0.0
    assert isinstance(loaded.from_cache, bool)


@cases
@given(st.lists(st.floats(min_value=0.0, max_value=1e3, allow_nan=False), min_size=1, max_size=600),
       st.sampled_from([None, 0, 2]))
def test_the_compiled_percentiles_are_numpys_to_the_bit(values, decimals):
    """The minutes' percentiles (simulator.fastquantiles): numpy's linear percentiles, every bit,
    on any sample: sizes across the sorted-outright and bracketed ranges, ties (rounded values)."""
    selected = fastpath.kernel()
    assert selected is not None and selected.select is not None
    array = np.array(values) if decimals is None else np.round(np.array(values), decimals)
    mine = fastquantiles.linear_percentiles(selected.select, array, fastquantiles.buffers(array.size))
    assert mine is not None and np.array(mine).tobytes() == np.percentile(array, PERCENTILES).tobytes()


def test_the_compiled_percentiles_on_long_minutes_and_their_fallbacks():
    """Long samples (many partitioning rounds), all equal, few levels, sorted either way; a NaN
    leaves them to numpy (None), as does a selection that does not agree with numpy."""
    selected = fastpath.kernel()
    assert selected is not None and selected.select is not None
    rng = np.random.default_rng(22)
    samples = [rng.lognormal(-3.0, 0.8, 30_001), np.full(20_000, 0.25), rng.integers(0, 3, 25_000) * 0.01,
               np.sort(rng.exponential(1.0, 12_016)), np.sort(rng.gamma(2.0, 1.0, 12_017))[::-1]]
    for array in samples:
        mine = fastquantiles.linear_percentiles(selected.select, array, fastquantiles.buffers(array.size))
        assert mine is not None and np.array(mine).tobytes() == np.percentile(array, PERCENTILES).tobytes()
    with_nan = np.array([0.1, np.nan, 0.3])
    assert fastquantiles.linear_percentiles(selected.select, with_nan, fastquantiles.buffers(3)) is None

    def wrong(values, scratch, aux, sample, ranks, out):
        out[:] = 0.0
        return True

    assert not fastquantiles.agrees(wrong)
