"""A run is one value: RunSpec is checked once when built (the work budget included), runs on
the engine its endpoint's kind names, and gives what ``simulate`` gives for the same run; a
Percentile knows its names; every traffic shape answers the Traffic protocol."""

from __future__ import annotations

import numpy as np
import pytest

import simulator
from simulator import (
    ConstantUsers,
    InputError,
    InstanceEndpoint,
    Percentile,
    Phase,
    Phases,
    PoissonArrivals,
    RunSpec,
    ServerlessConfig,
    ServerlessEndpoint,
    Stairs,
    WorkBudgetError,
    load_profile,
    simulate,
    simulate_serverless,
)
from simulator.endpoint import MAX_INSTANCES
from simulator.simulation import ENGINES

DEMO = load_profile("demo")


def test_a_runspec_runs_as_simulate_does():
    entry = DEMO.instance("ml.c5.large")
    spec = RunSpec(InstanceEndpoint(entry, instance_count=2), ConstantUsers(6, 90.0), overhead=DEMO.overhead, seed=3)
    direct, face = simulator.run(spec), simulate("demo", "ml.c5.large", instance_count=2, users=6, duration_s=90,
                                                 seed=3)
    assert direct.completed == face.completed > 0
    assert np.array_equal(direct.latency_ms, face.latency_ms) and np.array_equal(direct.instance, face.instance)
    assert direct.serverless is None and direct.throttled == 0


def test_a_serverless_runspec_runs_as_simulate_serverless_does():
    assert DEMO.serverless is not None
    endpoint = ServerlessEndpoint(DEMO.serverless, ServerlessConfig(2048, 3))
    spec = RunSpec(endpoint, PoissonArrivals.constant(400.0, 65.0), overhead=DEMO.overhead, seed=4)
    direct = simulator.run(spec)
    face = simulate_serverless("demo", 2048, 3, arrival_rate_per_s=400.0, duration_s=65.0, seed=4)
    assert direct.serverless == face.serverless and direct.throttled > 0
    assert np.array_equal(direct.latency_ms, face.latency_ms) and direct.queued == 0


def test_the_engines_table_has_one_engine_per_endpoint_kind():
    assert set(ENGINES) == {InstanceEndpoint.kind, ServerlessEndpoint.kind} == {"instances", "serverless"}


def test_the_work_budget_is_checked_when_the_spec_is_built():
    entry = DEMO.instance("ml.c5.large")
    with pytest.raises(WorkBudgetError) as info:
        RunSpec(InstanceEndpoint(entry), ConstantUsers(50, 60.0), max_requests_per_s=10.0)
    assert info.value.field == "instances.ml.c5.large.service_time" and "max_requests_per_s" in info.value.message
    with pytest.raises(WorkBudgetError):  # open arrivals cost their rate, whatever the endpoint completes
        RunSpec(InstanceEndpoint(entry), PoissonArrivals.constant(20.0, 60.0), max_requests_per_s=10.0)
    RunSpec(InstanceEndpoint(entry), PoissonArrivals.constant(5.0, 60.0), max_requests_per_s=10.0)


@pytest.mark.parametrize("build, field", [
    (lambda e: InstanceEndpoint(e, instance_count=0), "instance_count"),
    (lambda e: InstanceEndpoint(e, instance_count=MAX_INSTANCES + 1), "instance_count"),
    (lambda e: InstanceEndpoint(e, routing="round_robin"), "routing"),
    (lambda e: RunSpec(InstanceEndpoint(e), ConstantUsers(1, 60.0), seed=-1), "seed"),
    (lambda e: RunSpec(InstanceEndpoint(e), ConstantUsers(1, 60.0), think_time_s=-0.1), "think_time_s"),
])
def test_a_bad_spec_names_its_field(build, field):
    with pytest.raises(InputError) as info:
        build(DEMO.instance("ml.c5.large"))
    assert info.value.field == field


def test_instance_count_has_one_rule_whichever_face():
    for make in (lambda: simulate("demo", "ml.c5.large", instance_count=MAX_INSTANCES + 1, users=1, duration_s=60),
                 lambda: InstanceEndpoint(DEMO.instance("ml.c5.large"), instance_count=MAX_INSTANCES + 1)):
        with pytest.raises(InputError, match=f"<= {MAX_INSTANCES}"):
            make()


def test_a_percentile_knows_its_names():
    p95 = Percentile.parse("P95")
    assert p95 == 95.0 and p95.label == "P95" and p95.column == "ModelLatency_p95" and p95.tabulated
    assert Percentile(99.9).label == "P99.9" and not Percentile(99.9).tabulated
    assert Percentile.parse("p99") == Percentile(99) and f"{Percentile(95):g}" == "95"
    for bad in ("P0", "P101", "fast", True):
        with pytest.raises(InputError):
            Percentile.parse(bad)


def test_every_traffic_shape_answers_the_protocol():
    rng = np.random.default_rng(0)
    closed = (Phases((Phase(1, 2, 120),)), Stairs(120, 2, 3), ConstantUsers(4, 60.0))
    for traffic in closed:
        assert traffic.closed and traffic.user_changes() and traffic.arrival_times(rng).size == 0
        assert traffic.max_request_rate_per_s(0.5, 1000.0) == 2 * max(u for _, u in traffic.user_changes())
        assert traffic.max_request_rate_per_s(0.001, 10.0) == 10.0  # no more than the endpoint completes
    open_arrivals = PoissonArrivals(((0.0, 5.0), (30.0, 50.0)), 60.0)
    assert not open_arrivals.closed and open_arrivals.user_changes() == [] and open_arrivals.users_at(10) == 0
    assert open_arrivals.arrival_times(rng).size > 0 and open_arrivals.max_request_rate_per_s(1.0, 1.0) == 50.0
