"""A capacity schedule applied to a running simulation (simulator/capacity.py), shown against
theory: every instance serves its own requests as the FCFS recursion says (Lindley for one
worker, Kiefer-Wolfowitz for several) on the same arrivals and service times, across steps
up and down; the router sends only to the instances in service (new ones from their step, the
newest leaving first); a step down drains, so every arrival completes; and instances added
by a step are M/M/c stations in the stationary regime (Erlang C)."""

from __future__ import annotations

import numpy as np
import pytest

import simulator
from autoscaling.exact import departures_multi, departures_single
from simulator import InputError, InstanceEndpoint, PoissonArrivals, RunSpec, fastpath
from simulator.analytic import erlang_c, mmc_mean_response_s, mmc_response_quantile
from simulator.distributions import Distribution
from simulator.endpoint import ServerlessConfig, ServerlessEndpoint
from simulator.profiles import InstanceProfile, load_profile

M1 = InstanceProfile(instance_type="ml.c5.large", workers=1, service_time=Distribution("exponential", 10.0, 1.0))
M2 = InstanceProfile(instance_type="ml.c5.large", workers=2, service_time=Distribution("exponential", 20.0, 1.0))
#: 3 instances, then 1 at 30 s (ids 1 and 2 drain), 3 at 50 s (new ids 3 and 4), 2 at 80 s (id 4 drains).
STEPS = ((30.0, 1), (50.0, 3), (80.0, 2))
#: Each instance's time in service by the rule (new instances get new ids; the newest leave first).
WINDOWS = {0: (0.0, 130.0), 1: (0.0, 30.0), 2: (0.0, 30.0), 3: (50.0, 130.0), 4: (50.0, 80.0)}


def scheduled(entry: InstanceProfile, routing: str, seed: int = 7) -> simulator.SimulationResult:
    """Each instance serves 100 requests/s. 330/s on 3 instances for 30 s overloads them, so the
    two that leave at 30 s hold queues of about 300; then 90/s, 180/s from 60 s, none after
    100 s (30 s to finish everything)."""
    traffic = PoissonArrivals(rates=((0.0, 330.0), (30.0, 90.0), (60.0, 180.0), (100.0, 0.0)), duration_s=130.0)
    return simulator.run(RunSpec(endpoint=InstanceEndpoint(entry, instance_count=3, routing=routing),
                                 traffic=traffic, seed=seed, capacity_schedule=STEPS))


@pytest.mark.parametrize("routing", ["random", "least_outstanding_requests"])
@pytest.mark.parametrize("entry", [M1, M2], ids=["c=1", "c=2"])
def test_each_instance_is_the_fcfs_recursion_on_its_requests_and_every_arrival_completes(entry, routing):
    result = scheduled(entry, routing)
    arrival = result.completion_s - result.latency_ms / 1000.0
    assert result.issued == result.completed == result.latency_ms.size > 15_000  # none lost: all drained
    assert result.in_service == result.queued == 0
    assert set(np.unique(result.instance).tolist()) == set(WINDOWS)
    for inst, (start, end) in WINDOWS.items():
        mine = result.instance == inst
        order = np.argsort(arrival[mine], kind="stable")
        a, s = arrival[mine][order], result.service_ms[mine][order] / 1000.0
        assert start <= a.min() and a.max() < end, inst  # routed to only while in service
        expected = departures_single(a, s) if entry.workers == 1 else departures_multi(a, s, entry.workers)
        np.testing.assert_allclose(result.completion_s[mine][order], expected, rtol=0, atol=1e-8)
    for inst in (1, 2):  # they held queues at 30 s and served them after leaving the router
        assert ((result.instance == inst) & (result.completion_s > 30.0)).sum() > 50, inst


def test_instances_added_by_a_step_are_mmc_stations_erlang_c():
    """From 1 instance to 3 at 5 s and to 2 at 10 s (the newest drains): after a warm-up each
    of the two instances in service is an M/M/2 at 80 requests/s (rho 0.8)."""
    rate, duration = 160.0, 1500.0
    traffic = PoissonArrivals.constant(rate, duration)
    result = simulator.run(RunSpec(endpoint=InstanceEndpoint(M2, instance_count=1), traffic=traffic, seed=11,
                                   capacity_schedule=((5.0, 3), (10.0, 2))))
    arrival = result.completion_s - result.latency_ms / 1000.0
    steady = (arrival > 60.0) & (arrival < duration - 10.0)
    assert set(np.unique(result.instance[steady]).tolist()) == {0, 1}
    per_instance, mean_s = rate / 2, 0.020
    waited = np.mean(result.latency_ms[steady] - result.service_ms[steady] > 1e-6)
    assert waited == pytest.approx(erlang_c(2, per_instance * mean_s), abs=0.02)
    assert np.mean(result.latency_ms[steady]) / 1000.0 == pytest.approx(
        mmc_mean_response_s(per_instance, 2, mean_s), rel=0.05)
    assert np.percentile(result.latency_ms[steady], 95) / 1000.0 == pytest.approx(
        mmc_response_quantile(0.95, per_instance, 2, mean_s), rel=0.05)


def test_a_schedule_takes_the_python_engine_and_is_checked():
    endpoint = InstanceEndpoint(M1, instance_count=2)
    long = PoissonArrivals.constant(1000.0, 1200.0)  # 1.2 M requests: long enough that the fast path would pay
    minutes = {"keep_requests": False}  # within the memory limit on requests held at once
    assert fastpath.covers(RunSpec(endpoint=endpoint, traffic=long, capacity_schedule=((60.0, 3),), **minutes)) \
        is not None
    assert not fastpath.chosen(RunSpec(endpoint=endpoint, traffic=long, capacity_schedule=((60.0, 3),), **minutes))
    spec = RunSpec(endpoint=endpoint, traffic=long, capacity_schedule=[(60, 3), (120.5, 1)], **minutes)
    assert spec.capacity_schedule == ((60.0, 3), (120.5, 1))
    bad = [([(60.0, 3), (30.0, 2)], "capacity_schedule[1].time_s"), ([(0.0, 3)], "capacity_schedule[0].time_s"),
           ([(1200.0, 3)], "capacity_schedule[0].time_s"), ([(60.0, 0)], "capacity_schedule[0].instance_count"),
           ([(60.0,)], "capacity_schedule[0]"), (5, "capacity_schedule")]
    for schedule, field in bad:
        with pytest.raises(InputError) as caught:
            RunSpec(endpoint=endpoint, traffic=long, capacity_schedule=schedule)
        assert caught.value.field == field, schedule
    with pytest.raises(InputError) as caught:
        RunSpec(endpoint=endpoint, traffic=long, capacity_schedule=((60.0, 3),), fast=True)
    assert caught.value.field == "fast"
    section = load_profile("demo").serverless
    assert section is not None
    serverless = ServerlessEndpoint(section, ServerlessConfig(memory_mb=2048, max_concurrency=5))
    with pytest.raises(InputError) as caught:
        RunSpec(endpoint=serverless, traffic=long, capacity_schedule=((60.0, 3),))
    assert caught.value.field == "capacity_schedule"
