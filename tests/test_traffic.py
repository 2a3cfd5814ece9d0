"""Traffic shapes pin docs/semantics.md's rules: SpawnRate per minute, phase resets, STAIRS steps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irsim.service.translate import aws_member, serverless_from_config, traffic_from_pattern
from simulator import InputError, Phase, Phases, PoissonArrivals, Stairs
from simulator.traffic import ConstantUsers


def test_sdk_integration_example_two_users_plus_two_per_minute_ends_at_twelve():
    traffic = Phases((Phase(2, 2, 300), Phase(14, 0, 120)))
    assert traffic.phases[0].final_users == 12
    assert traffic.users_at(0) == 2
    assert traffic.users_at(29.9) == 2
    assert traffic.users_at(30) == 3          # one user every 60 / SpawnRate = 30 s
    assert traffic.users_at(299.9) == 11
    assert traffic.users_at(300) == 14        # the next phase sets its own count
    assert traffic.users_at(419.9) == 14      # SpawnRate 0 keeps it constant
    assert traffic.users_at(420) == 0         # the pattern has ended
    assert traffic.duration_s == 420


def test_phase_start_can_stop_users():
    traffic = Phases((Phase(3, 3, 120), Phase(1, 0, 120)))
    assert traffic.users_at(119) == 3 + 5
    assert traffic.users_at(120) == 1


def test_stairs_steps_are_duration_over_number_of_steps_and_start_with_users_per_step():
    traffic = Stairs(duration_s=600, number_of_steps=5, users_per_step=2)
    assert traffic.step_s == 120
    assert [traffic.users_at(t) for t in (0, 119.9, 120, 480, 599.9)] == [2, 2, 4, 10, 10]
    assert traffic.users_at(600) == 0
    assert traffic.user_changes() == [(0.0, 2), (120.0, 4), (240.0, 6), (360.0, 8), (480.0, 10)]


phase_strategy = st.builds(Phase, st.integers(0, 5), st.integers(0, 3), st.integers(1, 600))


@pytest.mark.slow(reason="a hypothesis property over many traffic patterns (2.1 s measured)")
@settings(max_examples=60, deadline=None)
@given(st.lists(phase_strategy, min_size=1, max_size=4), st.floats(0, 1))
def test_user_changes_agree_with_users_at(phases, fraction):
    traffic = Phases(tuple(phases))
    t = fraction * traffic.duration_s * 0.999999
    changes = traffic.user_changes()
    expected = [users for time, users in changes if time <= t][-1]
    assert traffic.users_at(t) == expected


def test_poisson_counts_follow_each_piece_rate():
    traffic = PoissonArrivals(((0.0, 50.0), (100.0, 0.0), (200.0, 10.0)), duration_s=300.0)
    rng = np.random.default_rng(7)
    counts = np.array([np.histogram(traffic.arrival_times(rng), bins=[0, 100, 200, 300])[0] for _ in range(200)])
    means = counts.mean(axis=0)
    expected = np.array([5000.0, 0.0, 1000.0])
    # Poisson: variance = mean, so the SE of the mean over 200 runs is sqrt(mean / 200).
    assert np.all(np.abs(means - expected) <= 4 * np.sqrt(np.maximum(expected, 1) / 200))
    assert counts[:, 1].max() == 0


def test_arrival_times_sorted_within_horizon():
    times = PoissonArrivals.constant(20.0, 50.0).arrival_times(np.random.default_rng(1))
    assert np.all(np.diff(times) >= 0) and times.min() >= 0 and times.max() < 50


def test_aws_traffic_pattern_translates_to_simulator_traffic():
    phases = traffic_from_pattern({"TrafficType": "PHASES", "Phases": [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120},
        {"InitialNumberOfUsers": 3, "SpawnRate": 1, "DurationInSeconds": 120}]})
    assert phases.duration_s == 240 and phases.users_at(60) == 2 and phases.users_at(120) == 3
    stairs = traffic_from_pattern({"TrafficType": "STAIRS",
                                   "Stairs": {"DurationInSeconds": 300, "NumberOfSteps": 3, "UsersPerStep": 1}})
    assert stairs.users_at(250) == 3


def test_simulator_fields_map_back_to_aws_members():
    with pytest.raises(InputError) as info:
        serverless_from_config({"MemorySizeInMB": 2048, "MaxConcurrency": 5, "ProvisionedConcurrency": 6})
    assert info.value.field == "ProvisionedConcurrency" and "MaxConcurrency (5)" in info.value.message
    assert aws_member("phases[2].spawn_rate_per_min") == "SpawnRate"
    assert [aws_member(f) for f in ("max_invocations", "percentile", "value_ms")] == [
        "MaxInvocations", "Percentile", "ValueInMilliseconds"]


@pytest.mark.parametrize("build, field", [
    (lambda: Phases(()), "phases"),
    (lambda: Phases((Phase(-1, 0, 60),)), "phases[0].initial_users"),
    (lambda: Phases((Phase(1, -2, 60),)), "phases[0].spawn_rate_per_min"),
    (lambda: Phases((Phase(1, 0, 0),)), "phases[0].duration_s"),
    (lambda: Stairs(60, 0, 1), "stairs.number_of_steps"),
    (lambda: ConstantUsers(0, 60), "users"),
    (lambda: PoissonArrivals(((5.0, 1.0),), 60), "rates"),
    (lambda: PoissonArrivals(((0.0, 1.0), (70.0, 2.0)), 60), "rates[1].start_s"),
    (lambda: PoissonArrivals.constant(0, 60), "arrival_rate_per_s"),
])
def test_bad_traffic_names_the_field(build, field):
    with pytest.raises(InputError) as info:
        build()
    assert info.value.field == field
