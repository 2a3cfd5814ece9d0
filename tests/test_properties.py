"""Invariants of the engine under random configurations (hypothesis). Service times and run
lengths are only as long as the invariants need; the comparisons of several long runs (more
workers, routing policies) are marked slow."""

import math

import numpy as np
import pytest
from conftest import make_profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import Phase, Phases, PoissonArrivals, Stairs, simulate

families = st.sampled_from([("exponential", None), ("lognormal", 0.5), ("gamma", 1.5), ("deterministic", None),
                            ("weibull", 0.8)])
fast = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def closed_traffic():
    phases = st.lists(st.builds(Phase, st.integers(0, 6), st.integers(0, 3), st.integers(30, 200)),
                      min_size=1, max_size=3).map(lambda p: Phases(tuple(p)))
    stairs = st.builds(Stairs, st.integers(60, 300), st.integers(1, 5), st.integers(1, 3))
    return st.one_of(phases, stairs)


@fast
@given(family=families, workers=st.integers(1, 4), instances=st.integers(1, 3), traffic=closed_traffic(),
       think=st.sampled_from([0.0, 0.1]), routing=st.sampled_from(["random", "least_outstanding_requests"]),
       overhead=st.booleans(), seed=st.integers(0, 2 ** 32))
def test_every_request_completes_or_is_in_flight(family, workers, instances, traffic, think, routing, overhead, seed):
    profile = make_profile(family[0], 50.0, family[1], workers=workers,
                           overhead={"family": "exponential", "mean_ms": 10.0} if overhead else None)
    result = simulate(profile, "ml.test.large", instance_count=instances, traffic=traffic, think_time_s=think,
                      routing=routing, seed=seed)
    assert result.issued == result.completed + result.in_service + result.queued
    assert result.in_service <= instances * workers
    # Routing loses nothing: every completion belongs to a real instance, and the counts add up.
    counts = np.bincount(result.instance, minlength=instances)
    assert counts.size == instances and counts.sum() == result.completed
    assert result.per_minute["Invocations"].sum() == result.completed
    assert np.all(np.diff(result.completion_s) >= 0)
    assert np.all(result.latency_ms >= result.service_ms - 1e-9)


@fast
@given(rate=st.floats(1.0, 400.0), workers=st.integers(1, 4), instances=st.integers(1, 3), seed=st.integers(0, 999))
def test_open_arrivals_are_conserved(rate, workers, instances, seed):
    result = simulate(make_profile("lognormal", 10.0, 0.8, workers=workers), "ml.test.large",
                      instance_count=instances, arrival_rate_per_s=rate, duration_s=30, seed=seed)
    assert result.issued == result.completed + result.in_service + result.queued


@fast
@given(users=st.integers(1, 30), workers=st.integers(1, 6), instances=st.integers(1, 3),
       service_ms=st.floats(5.0, 50.0), seed=st.integers(0, 999))
def test_deterministic_service_never_beats_the_pathwise_bounds(users, workers, instances, service_ms, seed):
    duration = 30.0
    result = simulate(make_profile("deterministic", service_ms, workers=workers), "ml.test.large",
                      instance_count=instances, users=users, duration_s=duration, seed=seed)
    per_server = math.floor(duration / (service_ms / 1000) + 1e-9)
    # Each worker, and each user, can finish at most one request per service time.
    assert result.completed <= min(users, workers * instances) * per_server


@fast
@given(family=families, users=st.integers(1, 25), workers=st.integers(1, 6), think=st.sampled_from([0.0, 0.02]),
       seed=st.integers(0, 999))
def test_throughput_respects_the_asymptotic_bound(family, users, workers, think, seed):
    service_s, duration = 0.01, 60.0
    result = simulate(make_profile(family[0], service_s * 1000, family[1], workers=workers), "ml.test.large",
                      users=users, duration_s=duration, think_time_s=think, seed=seed)
    bound = min(users / (service_s + think), workers / service_s)
    # Completions are a renewal-type count: allow 5 standard deviations of a Poisson count.
    assert result.completed <= bound * duration + 5 * math.sqrt(bound * duration) + users


@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(family=families, users=st.integers(2, 24), workers=st.integers(1, 4), seed=st.integers(0, 999))
def test_more_workers_or_instances_never_lower_throughput(family, users, workers, seed):
    profile = lambda w: make_profile(family[0], 10.0, family[1], workers=w)
    duration = 60.0
    base = simulate(profile(workers), "ml.test.large", users=users, duration_s=duration, seed=seed)
    more_workers = simulate(profile(workers + 1), "ml.test.large", users=users, duration_s=duration, seed=seed)
    more_instances = simulate(profile(workers), "ml.test.large", instance_count=2, users=users,
                              duration_s=duration, seed=seed, routing="least_outstanding_requests")
    noise = 5 * math.sqrt(base.completed) + users
    assert more_workers.completed >= base.completed - noise
    assert more_instances.completed >= base.completed - noise


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2 ** 32), routing=st.sampled_from(["random", "least_outstanding_requests"]),
       open_traffic=st.booleans())
def test_same_seed_gives_identical_arrays(seed, routing, open_traffic):
    profile = make_profile("gamma", 20.0, 1.2, workers=2, overhead={"family": "lognormal", "mean_ms": 1.0, "cv": 0.5})
    load = {"arrival_rate_per_s": 300.0} if open_traffic else {"traffic": Phases((Phase(2, 3, 90), Phase(4, 0, 60)))}
    runs = [simulate(profile, "ml.test.large", instance_count=2, duration_s=150, seed=seed, routing=routing, **load)
            for _ in range(2)]
    for name in ("latency_ms", "service_ms", "completion_s", "instance"):
        np.testing.assert_array_equal(getattr(runs[0], name), getattr(runs[1], name))
    assert runs[0].per_minute.equals(runs[1].per_minute)


def test_different_seeds_differ():
    profile = make_profile("exponential", 5.0, workers=2)
    a, b = (simulate(profile, "ml.test.large", users=4, duration_s=30, seed=s) for s in (1, 2))
    assert not np.array_equal(a.latency_ms[:100], b.latency_ms[:100])


@pytest.mark.slow
def test_least_outstanding_requests_beats_random_routing_on_latency():
    profile = make_profile("exponential", 20.0, workers=1)
    runs = {routing: simulate(profile, "ml.test.large", instance_count=4, arrival_rate_per_s=160.0,
                              duration_s=600, seed=8, routing=routing)
            for routing in ("random", "least_outstanding_requests")}
    # Random routing makes four independent M/M/1 queues at rho = 0.8 (mean 100 ms);
    # joining the shortest queue is far better. A 2x gap is far outside the noise.
    assert runs["least_outstanding_requests"].latency_ms.mean() * 2 < runs["random"].latency_ms.mean()


def test_users_removed_by_a_phase_stop_after_their_request():
    profile = make_profile("deterministic", 100.0, workers=10)
    result = simulate(profile, "ml.test.large", traffic=Phases((Phase(6, 0, 60), Phase(1, 0, 60))), seed=0)
    per_minute = result.per_minute.set_index("minute")["Invocations"]
    # 6 users x 10 requests a second (the 600th may fall a rounding error past the minute)
    assert 6 * 599 <= per_minute[0] <= 6 * 600
    assert abs(per_minute[1] - 600) <= 12  # one user left (the others finish their request)


def test_open_traffic_rate_changes_are_followed():
    profile = make_profile("deterministic", 1.0, workers=50)
    traffic = PoissonArrivals(((0.0, 100.0), (60.0, 300.0)), duration_s=120.0)
    result = simulate(profile, "ml.test.large", traffic=traffic, seed=3)
    first, second = result.per_minute["Invocations"].tolist()
    assert abs(first - 6000) <= 5 * math.sqrt(6000) and abs(second - 18000) <= 5 * math.sqrt(18000)
