"""The closed-loop user population over random PHASES and STAIRS patterns, seen from the
requests the engine issued (hypothesis, derandomized and bounded).

With zero think time and no overhead a live user always has exactly one request issued and
not yet completed, so the requests in flight at an instant are the engine's population
then. A request's arrival is its completion minus its ModelLatency, so the population can be
counted from the per-request arrays at every minute boundary and compared with the
pattern's ``users_at`` (docs/semantics.md, Traffic: PHASES and STAIRS user counts). A user the
traffic removes finishes its request first: within one service time of a decrease the count
may still include those users, never more.
"""

import numpy as np
import pytest
from conftest import make_profile
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulator import Phase, Phases, Stairs, simulate

SERVICE_S = 1.0   # deterministic: a user's requests follow each other exactly one second apart
AFTER = 1e-6      # "just after t": every event at t (up to float rounding) has happened
bounded = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])


def phases_patterns():
    """1–4 phases of 120–600 s; 1–3 users to start, 1–20 at each later phase; 0–3 users a minute."""
    first = st.builds(Phase, st.integers(1, 3), st.integers(0, 3), st.integers(120, 600))
    later = st.builds(Phase, st.integers(1, 20), st.integers(0, 3), st.integers(120, 600))
    return st.tuples(first, st.lists(later, max_size=3)).map(lambda p: Phases((p[0], *p[1])))


def stairs_patterns():
    """120–1200 s in 1–10 steps of 1–3 users."""
    return st.builds(Stairs, st.integers(120, 1200), st.integers(1, 10), st.integers(1, 3))


def peak_users(traffic) -> int:
    return max(users for _, users in traffic.user_changes())


def in_flight(result, t: float) -> int:
    """Requests issued at or before ``t`` and not completed by then, among the completed ones
    (asked only for instants at least a service time before the end, when every request in
    flight then has completed)."""
    arrivals = np.sort(result.completion_s - result.latency_ms / 1000.0)
    return int(np.searchsorted(arrivals, t, "right") - np.searchsorted(result.completion_s, t, "right"))


def population_bounds(traffic, t: float) -> tuple[int, int]:
    """The pattern's users at ``t``, and the most it had over the last service time (users
    removed in that window may still be finishing their request)."""
    window = [users for time, users in traffic.user_changes() if t - SERVICE_S < time <= t]
    return traffic.users_at(t), max([traffic.users_at(t), traffic.users_at(t - SERVICE_S), *window])


def check_population(traffic, seed: int) -> None:
    peak = peak_users(traffic)
    # Enough workers that nobody queues: every latency is exactly the service time.
    result = simulate(make_profile("deterministic", SERVICE_S * 1000, workers=peak), "ml.test.large",
                      traffic=traffic, seed=seed)
    end = result.duration_s
    assert end == traffic.duration_s
    np.testing.assert_allclose(result.latency_ms, SERVICE_S * 1000)

    # The per-minute Users column and the minute summaries follow the pattern.
    starts = result.per_minute["start_s"].to_numpy()
    assert result.per_minute["Users"].tolist() == [traffic.users_at(s) for s in starts]
    assert [m.users_start for m in result.minutes] == [traffic.users_at(60.0 * m.minute) for m in result.minutes]

    # The engine's population at every minute boundary a service time before the end.
    boundaries = np.arange(0.0, end - SERVICE_S - 2 * AFTER, 60.0)
    assert boundaries.size >= 2
    for t in boundaries:
        users, most = population_bounds(traffic, t)
        assert users <= in_flight(result, t + AFTER) <= most, (t, users, most)
        if most == users:  # no user removed within the last service time: the count is exact
            assert in_flight(result, t + AFTER) == users, t

    # Requests are conserved, and at the end every live user has one request in service.
    assert result.issued == result.completed + result.in_service + result.queued
    assert result.queued == 0 and result.in_service <= peak
    assert result.in_service == traffic.users_at(end - AFTER)


@pytest.mark.slow(reason="a hypothesis property over many patterns (0.3 s measured)")
@bounded
@given(traffic=phases_patterns(), seed=st.integers(0, 2 ** 32 - 1))
# docs/semantics.md's example (2 users and 2 a minute for 300 s, then 14), and a drop to 3
@example(traffic=Phases((Phase(2, 2, 300), Phase(14, 0, 120), Phase(3, 3, 180))), seed=0)
def test_phases_population_follows_users_at(traffic, seed):
    check_population(traffic, seed)


@bounded
@given(traffic=stairs_patterns(), seed=st.integers(0, 2 ** 32 - 1))
@example(traffic=Stairs(130, 6, 2), seed=1)  # steps of 21.67 s: boundaries that fall between steps
def test_stairs_population_follows_users_at(traffic, seed):
    check_population(traffic, seed)


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(traffic=st.one_of(phases_patterns(), stairs_patterns()), workers=st.integers(1, 4),
       seed=st.integers(0, 2 ** 32 - 1))
def test_requests_are_conserved_when_users_queue(traffic, workers, seed):
    """issued = completed + in service + queued, with queues (fewer workers than users);
    ``issued`` is counted where requests reach the endpoint, independently of the other three.
    The requests still in flight at the end are the live users (at least the pattern's last
    count, at most its peak: removed users may still wait for their last request), and no
    request queues while a worker is idle."""
    result = simulate(make_profile("exponential", 500.0, workers=workers), "ml.test.large", traffic=traffic,
                      seed=seed)
    assert result.issued == result.completed + result.in_service + result.queued
    assert result.in_service == min(workers, result.in_service + result.queued)
    final = traffic.users_at(result.duration_s - AFTER)
    assert final <= result.in_service + result.queued <= peak_users(traffic)
    assert result.per_minute["Invocations"].sum() == result.completed
