"""What every engine needs around its hot path: the users the traffic asks for, the arrival
stream, and the minute clock that judges the stopping conditions and ends the run."""

from __future__ import annotations

import gc
import heapq
import math
from array import array
from itertools import chain
from typing import Callable, Iterator

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT, Event

from simulator.stopping import JOB_STOPPED, TRAFFIC_ENDED, MinuteSummary, StoppingConditions, stop_reason
from simulator.traffic import PoissonArrivals, Traffic

MINUTE_S = 60.0
BLOCK = 1 << 15  # random draws per numpy call


def blocks(draw: Callable[[int], np.ndarray]) -> Iterator[float]:
    """An endless iterator over values drawn ``BLOCK`` at a time: the engines' hot paths call
    its C-speed ``__next__`` instead of numpy once per request."""

    def generate():
        while True:
            yield draw(BLOCK).tolist()

    return chain.from_iterable(generate())


class Population:
    """Closed-loop users alive, and how many must stop when they next finish a request."""

    __slots__ = ("live", "retire")

    def __init__(self) -> None:
        self.live = 0
        self.retire = 0

    def resize(self, target: int, spawn: Callable[[], None]) -> None:
        """Set the user count: new users start at once; removed ones stop after their request."""
        current = self.live - self.retire
        if target < current:
            self.retire += current - target
            return
        revived = min(self.retire, target - current)
        self.retire -= revived
        for _ in range(target - current - revived):
            self.live += 1
            spawn()

    def leaves(self) -> bool:
        """A user finished a request: True if it is one the traffic removed."""
        if self.retire:
            self.retire -= 1
            self.live -= 1
            return True
        return False


def new_event(env: simpy.Environment) -> Event:
    """A bare, already-successful event the engines re-arm by setting ``callbacks``."""
    ev = Event(env)
    ev._ok = True
    ev._value = None
    return ev


def at(env: simpy.Environment, time_s: float, callback: Callable[[Event], None], priority: int = URGENT) -> Event:
    ev = new_event(env)
    ev.callbacks = [callback]
    env.schedule(ev, priority, time_s - env.now)
    return ev


def drive(env: simpy.Environment, traffic: Traffic, population: Population, send: Callable[[float], None],
          arrival_rng: np.random.Generator) -> None:
    """Schedule the traffic: user-count changes (closed) or every Poisson arrival (open).
    ``send(now)`` issues one request."""
    if not isinstance(traffic, PoissonArrivals):
        for time_s, users in traffic.user_changes():
            at(env, time_s, lambda _, users=users: population.resize(users, lambda: send(env._now)), NORMAL)
        return
    arrival_iter = iter(traffic.arrival_times(arrival_rng).tolist())
    heap, eid, push = env._queue, env._eid, heapq.heappush

    def next_arrival(ev: Event) -> None:
        send(env._now)
        t = next(arrival_iter, None)
        if t is not None:
            ev.callbacks = callbacks
            push(heap, (t, NORMAL, next(eid), ev))

    callbacks = [next_arrival]
    first = next(arrival_iter, None)
    if first is not None:
        at(env, first, next_arrival, NORMAL)


class MinuteClock:
    """Ticks every simulated minute: summarises it for the stopping conditions (the latency
    percentile over the minute's completions in ``latency_s``) and ends the run when one
    holds, when ``interrupt()`` says so, or when the traffic ends."""

    def __init__(self, env: simpy.Environment, traffic: Traffic, stopping: StoppingConditions,
                 interrupt: Callable[[], bool] | None, latency_s: array):
        self.env, self.traffic, self.stopping, self.interrupt = env, traffic, stopping, interrupt
        self.latency_s = latency_s
        self.minutes: list[MinuteSummary] = []
        self.reason = TRAFFIC_ENDED
        self._cursor = 0
        self._end = env.event()
        self._users_at = getattr(traffic, "users_at", None)
        if traffic.duration_s >= MINUTE_S:
            at(env, MINUTE_S, self._tick)
        at(env, traffic.duration_s, lambda _: self._finish(), NORMAL)

    def _finish(self) -> None:
        if not self._end.triggered:
            self._end.succeed()

    def _tick(self, ev: Event) -> None:
        now = self.env._now
        first, last = self._cursor, len(self.latency_s)
        self._cursor = last
        value = math.nan
        latency = self.stopping.latency
        if latency is not None and last > first:
            value = float(np.percentile(np.frombuffer(self.latency_s[first:last]), latency.percentile)) * 1000.0
        users_at = self._users_at
        start = now - MINUTE_S
        self.minutes.append(MinuteSummary(len(self.minutes), last - first, value,
                                          users_at(start) if users_at else 0, users_at(now - 1e-9) if users_at else 0))
        reason = stop_reason(self.minutes, self.stopping)
        if reason is None and self.interrupt is not None and self.interrupt():
            reason = JOB_STOPPED
        if reason is not None:
            self.reason = reason
            self._finish()
        elif now + MINUTE_S <= self.traffic.duration_s + 1e-9:
            ev.callbacks = [self._tick]
            self.env.schedule(ev, URGENT, MINUTE_S)

    def run(self) -> None:
        """Run the environment to the end. The run allocates millions of short-lived tuples and
        grows long arrays; the cyclic collector would rescan them again and again for nothing."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self._end)
        finally:
            if collecting:
                gc.enable()
