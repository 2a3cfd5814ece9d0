"""A capacity schedule: the instances in service change while a run goes on (autoscaling's
continuous replay of a policy, ``autoscaling.verify``).

A schedule is a tuple of (time s, instances in service) steps after t = 0; the endpoint's
``instance_count`` holds from 0 to the first step. At a step up the engine adds instances,
each with empty queues and every worker free, and the router sends to them from that instant.
At a step down the newest instances leave the router (scale-in removes the newest first, as
``autoscaling.exact`` does): they take no new request and finish every request already in
service or queued on them (draining), then stay idle. A drained instance is never taken back:
a later step up adds new ones. Requests keep their instance, their queue and their latency
across every step; nothing is dropped. Random routing draws among the instances in service at
the arrival; least-outstanding routing compares only those (ties to the oldest).

The Python engine (``simulator.engine``) applies it; the compiled fast path does not
(``simulator.fastpath`` falls back once per run), nor does the serverless engine.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import count
from typing import Any

from simulator import checks
from simulator.endpoint import MAX_INSTANCES, InstanceEndpoint, ServerlessEndpoint
from simulator.errors import InputError
from simulator.harness import URGENT, Loop

#: (time s, instances in service) from that instant on.
Step = tuple[float, int]
FIELD = "capacity_schedule"


def check_schedule(schedule: Any, endpoint: InstanceEndpoint | ServerlessEndpoint, duration_s: float,
                   fast: bool | None) -> tuple[Step, ...]:
    """``schedule`` checked and as a tuple of (float, int): steps strictly after 0 and before
    the traffic's end, in increasing time, each count from 1 to MAX_INSTANCES; only on a
    real-time endpoint and not with ``fast=True`` (the fast path does not apply it)."""
    try:
        steps = tuple(schedule)
    except TypeError:
        raise InputError(FIELD, f"must be a sequence of (time_s, instance_count) pairs, got {schedule!r}") from None
    if not steps:
        return ()
    if not isinstance(endpoint, InstanceEndpoint):
        raise InputError(FIELD, "only a real-time endpoint's instances follow a capacity schedule")
    if fast:
        raise InputError("fast", "the compiled fast path cannot run this: a capacity schedule runs on the "
                                 "Python engine")
    out: list[Step] = []
    previous = 0.0
    for i, step in enumerate(steps):
        if not isinstance(step, tuple | list) or len(step) != 2:
            raise InputError(f"{FIELD}[{i}]", f"must be a (time_s, instance_count) pair, got {step!r}")
        time_s, instances = step
        if not (checks.is_number(time_s) and previous < time_s < duration_s):
            raise InputError(f"{FIELD}[{i}].time_s", f"must increase after 0 and stay below the traffic's "
                                                     f"duration {duration_s:g} s, got {time_s!r}")
        checks.integer(instances, f"{FIELD}[{i}].instance_count", minimum=1, maximum=MAX_INSTANCES)
        out.append((float(time_s), int(instances)))
        previous = float(time_s)
    return tuple(out)


def width(initial: int, schedule: tuple[Step, ...]) -> int:
    """How many instances a run ever has: the first ones and every one a step up adds."""
    total = current = initial
    for _, instances in schedule:
        total += max(0, instances - current)
        current = instances
    return total


def widest(schedule: tuple[Step, ...], initial: int) -> int:
    """The most instances in service at once (what bounds a closed-loop run's work)."""
    return max([initial, *(instances for _, instances in schedule)])


def scheduled_router(loop: Loop, schedule: tuple[Step, ...], endpoint: InstanceEndpoint,
                     uniform: Callable[[], float] | None, busy: list[int],
                     waiting: list[deque[float]]) -> Callable[[], int]:
    """The instance each new request goes to, among those in service at its arrival; the
    schedule's steps go on ``loop`` (URGENT: a step applies before the arrivals of its
    instant). ``uniform`` draws the random routing's U(0, 1) (None for least outstanding);
    ``busy`` and ``waiting`` are the engine's per-instance state (outstanding = both)."""
    active = list(range(endpoint.instance_count))  # ids in service, oldest first
    fresh = count(endpoint.instance_count)

    def resize(now: float, instances: int) -> None:
        del active[instances:]  # the newest leave the router and drain what they hold
        while len(active) < instances:
            active.append(next(fresh))

    for time_s, instances in schedule:
        loop.at(time_s, resize, instances, priority=URGENT)
    if uniform is not None:
        def pick_random() -> int:
            return active[int(uniform() * len(active))]
        return pick_random

    def outstanding(inst: int) -> int:
        return busy[inst] + len(waiting[inst])

    def pick_least() -> int:
        return min(active, key=outstanding)  # the first (oldest) among equals
    return pick_least
