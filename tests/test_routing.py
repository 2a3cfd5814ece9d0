"""Least-outstanding-requests routing: the O(log K) structure makes exactly the choices of the
scan it replaced (fewest outstanding, then the lowest index), alone and inside the engine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import InstanceEndpoint, InstanceProfile, RunSpec, engine
from simulator.distributions import parse_distribution
from simulator.routing import LeastOutstanding
from simulator.traffic import ConstantUsers

SERVICE = parse_distribution({"family": "lognormal", "mean_ms": 20.0, "cv": 0.5}, "service_time")


def endpoint(instances: int, workers: int, routing: str) -> InstanceEndpoint:
    return InstanceEndpoint(InstanceProfile("ml.test", workers, SERVICE), instance_count=instances, routing=routing)


def scan(counts: list[int]) -> int:
    """The rule as the engine used to apply it: a scan, first minimum wins."""
    return min(range(len(counts)), key=counts.__getitem__)


# An operation: True = a request arrives; an integer = the request at that position of the
# outstanding list (modulo its length) completes.
operations = st.lists(st.booleans() | st.integers(0, 10**6), max_size=600)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(instances=st.integers(1, 40), ops=operations)
def test_every_choice_is_the_scans(instances, ops):
    """Long enough runs of completions make stale keys pile up past the rebuild limit
    (4K + 64 keys), so rebuilds are exercised too."""
    router = LeastOutstanding(instances)
    counts = [0] * instances
    outstanding: list[int] = []  # the instance of every request in flight
    for op in ops:
        if op is True or not outstanding:
            expected = scan(counts)
            assert router.take() == expected
            counts[expected] += 1
            outstanding.append(expected)
        else:
            inst = outstanding.pop(op % len(outstanding))
            router.release(inst)
            counts[inst] -= 1
        assert [router.count(i) for i in range(instances)] == counts


def test_completions_on_one_instance_then_arrivals_refill_it_first():
    router = LeastOutstanding(4)
    assert [router.take() for _ in range(8)] == [0, 1, 2, 3, 0, 1, 2, 3]
    router.release(2)
    router.release(2)
    router.release(3)
    assert [router.take() for _ in range(4)] == [2, 2, 3, 0]


def test_the_instance_that_just_completed_wins_only_when_it_is_the_scans_choice():
    router = LeastOutstanding(3)
    assert [router.take() for _ in range(5)] == [0, 1, 2, 0, 1]  # counts 2, 2, 1
    router.release(1)  # counts 2, 1, 1: instance 1 ties instance 2 and wins on its index
    assert router.take() == 1
    router.release(2)  # counts 2, 2, 0: instance 2 is the only one with the fewest
    assert router.take() == 2
    router.release(0)
    router.release(1)  # counts 1, 1, 1: instance 1 ties instance 0 and loses on its index
    assert [router.take(), router.take(), router.take()] == [0, 1, 2]


def test_a_router_needs_an_instance():
    with pytest.raises(ValueError, match="instances"):
        LeastOutstanding(0)


@pytest.mark.parametrize(("instances", "workers", "users", "seed"),
                         [(5, 2, 13, 0), (8, 1, 8, 1), (3, 4, 30, 2), (16, 2, 21, 3)])
def test_engine_routes_every_request_to_the_least_outstanding_instance(instances, workers, users, seed):
    """Replay the engine's routing from its output alone and check every decision.

    With closed-loop users, zero think time and no overhead, the request a user issues when
    its previous one completes arrives at exactly that completion's time. So the run's
    per-request records (completion time, latency, instance) give the sequence of
    outstanding counts: at each completion, the completing instance loses one request and the
    instance the new request went to gains one. That instance must be the scan's choice, and
    the counts must never differ by more than one.
    """
    out = engine.run(RunSpec(endpoint(instances, workers, "least_outstanding_requests"), ConstantUsers(users, 30.0),
                             seed=seed))
    completion, instance = out.completion_s, out.instance.tolist()
    arrival = completion - out.latency_s
    initial = arrival == 0.0
    assert initial.sum() == users  # every first request completed within the run
    counts = np.bincount(out.instance[initial], minlength=instances).tolist()
    assert counts == [users // instances + (i < users % instances) for i in range(instances)]

    # Which instance the request issued at each completion went to (-1: still in flight at the end).
    issued_at = np.full(completion.size, -1)
    later = np.flatnonzero(~initial)
    nearest = np.clip(np.searchsorted(completion, arrival[later]), 1, completion.size - 1)
    nearest -= np.abs(completion[nearest - 1] - arrival[later]) < np.abs(completion[nearest] - arrival[later])
    assert np.all(np.abs(completion[nearest] - arrival[later]) < 1e-9)
    assert np.unique(nearest).size == nearest.size
    issued_at[nearest] = out.instance[later]

    checked = 0
    for done, went in zip(instance, issued_at.tolist(), strict=True):
        counts[done] -= 1
        if went < 0:
            break  # from here on a request in flight at the end hides where it went
        assert went == scan(counts)
        counts[went] += 1
        assert max(counts) - min(counts) <= 1
        checked += 1
    assert checked > 0.99 * completion.size


def test_no_request_waits_while_any_instance_has_an_idle_worker():
    """With as many users as workers in all, least-outstanding routing never queues a request
    (random routing does, which is what makes the check bite)."""
    waits = {}
    for routing in ("least_outstanding_requests", "random"):
        out = engine.run(RunSpec(endpoint(6, 3, routing), ConstantUsers(18, 120.0), seed=4))
        waits[routing] = float(np.max(out.latency_s - out.service_s))
    assert waits["least_outstanding_requests"] < 1e-9
    assert waits["random"] > 1e-3
