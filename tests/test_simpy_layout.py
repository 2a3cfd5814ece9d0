"""The engines' event loop keeps SimPy's event order, and nothing in ``simulator/`` reaches
into SimPy any more.

The engines used to push ``(time, priority, eid, event)`` tuples onto SimPy's private
``Environment._queue``. They now run :class:`simulator.harness.Loop`, which orders its
entries the way SimPy orders events: by time, URGENT before NORMAL at one instant, then in
scheduling order. That order is what makes a seed reproduce the same run, so it is pinned
here against an oracle (a sort), against SimPy itself through its public API, and through
the engine's own ``Loop.stop`` semantics (a stop behaves like a SimPy event triggered at
that instant).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import harness
from simulator.harness import NORMAL, URGENT, Loop

SIMULATOR = Path(harness.__file__).parent

# (time, priority, delay of a follow-up entry scheduled from the action or None)
entries = st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0]), st.sampled_from([URGENT, NORMAL]),
                             st.none() | st.sampled_from([0.0, 0.5, 1.0])), min_size=1, max_size=30)


def test_priorities_are_simpys():
    assert (URGENT, NORMAL) == (simpy.events.URGENT, simpy.events.NORMAL) == (0, 1)


@pytest.mark.slow(reason="hypothesis properties against SimPy's own event order (0.9 s measured)")
@settings(max_examples=200, deadline=None)
@given(entries)
def test_entries_run_by_time_then_priority_then_scheduling_order(schedule):
    loop = Loop()
    ran: list[tuple[float, Any]] = []
    expected: list[tuple[float, int, int, Any]] = []  # (time, priority, sequence, label): the oracle's sort key
    sequence = iter(range(10**6))

    def action(now: float, label: Any) -> None:
        ran.append((now, label))
        follow = followups.get(label)
        if follow is not None:
            loop.at(now + follow, action, (label, "follow-up"))
            expected.append((now + follow, NORMAL, next(sequence), (label, "follow-up")))

    followups = {}
    for i, (time_s, priority, follow) in enumerate(schedule):
        loop.at(time_s, action, i, priority)
        expected.append((time_s, priority, next(sequence), i))
        followups[i] = follow
    loop.at(10.0, lambda now, _: loop.stop(now))
    loop.run()
    # Follow-ups are scheduled while the loop runs, each after the entries already queued, and
    # at or after its parent's time, so the oracle's order over all entries is the run's order.
    assert ran == [(t, label) for t, _, _, label in sorted(expected)]
    assert loop.now == 10.0


@pytest.mark.slow(reason="hypothesis properties against SimPy's own event order (0.8 s measured)")
@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.none() | st.sampled_from([0.0, 0.25])),
                min_size=1, max_size=25))
def test_normal_entries_run_in_simpys_order(schedule):
    """Timeouts (NORMAL events) in SimPy, including ones created by callbacks at the same
    instant, against the same entries on the loop."""
    simpy_order: list[tuple[float, Any]] = []
    env = simpy.Environment()

    def simpy_callback(label: Any, follow: float | None):
        def callback(_: simpy.Event) -> None:
            simpy_order.append((env.now, label))
            if follow is not None:
                env.timeout(follow).callbacks.append(simpy_callback((label, "follow-up"), None))
        return callback

    for i, (delay, follow) in enumerate(schedule):
        env.timeout(delay).callbacks.append(simpy_callback(i, follow))
    env.run()

    loop = Loop()
    loop_order: list[tuple[float, Any]] = []

    def action(now: float, payload: tuple[Any, float | None]) -> None:
        label, follow = payload
        loop_order.append((now, label))
        if follow is not None:
            loop.at(now + follow, action, ((label, "follow-up"), None))

    for i, (delay, follow) in enumerate(schedule):
        loop.at(delay, action, (i, follow))
    loop.at(100.0, lambda now, _: loop.stop(now))
    loop.run()
    assert loop_order == simpy_order


def test_a_stop_lets_the_normal_entries_already_due_at_that_instant_run_first():
    """As a SimPy event triggered at ``now``: NORMAL entries scheduled earlier for the same
    instant still run, later instants do not, and a second stop changes nothing."""
    loop = Loop()
    ran: list[str] = []
    loop.at(5.0, lambda now, _: (loop.stop(now), loop.stop(now + 1.0)), priority=URGENT)
    loop.at(5.0, lambda now, _: ran.append("same instant, scheduled before the stop"))
    loop.at(5.0, lambda now, _: loop.at(now, lambda now, _: ran.append("scheduled after the stop")))
    loop.at(5.5, lambda now, _: ran.append("later"))
    loop.run()
    assert ran == ["same instant, scheduled before the stop"]
    assert loop.now == 5.0


@pytest.mark.slow(reason="hypothesis properties against SimPy's own event order (0.3 s measured)")
def test_simulator_does_not_reach_into_simpy():
    """No engine depends on SimPy's private event heap (``_queue``, ``_eid``, ``_now``), the
    layout any SimPy release may change; SimPy is a benchmark baseline only."""
    for path in sorted(SIMULATOR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all(alias.name.split(".")[0] != "simpy" for alias in node.names), path.name
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "simpy", path.name
            elif isinstance(node, ast.Attribute):
                assert node.attr not in {"_queue", "_eid", "_now"}, f"{path.name}:{node.lineno}"
