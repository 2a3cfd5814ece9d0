"""The event loop: users and arrivals against an endpoint, on SimPy's Environment.

SimPy's event queue is the scheduler, but the hot path avoids processes and Resources:
each request costs one scheduled event (its completion; plus one for the caller's delay
when overhead or think time is on). Completion events are pooled and re-armed, random
draws come in numpy blocks, and per-request measurements go into plain lists that become
numpy arrays at the end.
"""

from __future__ import annotations

import gc
import heapq
from array import array
import math
from collections import deque
from dataclasses import dataclass
from itertools import chain
from typing import Callable, Iterator

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT, Event

from simulator.distributions import Distribution
from simulator.endpoint import Endpoint
from simulator.stopping import JOB_STOPPED, TRAFFIC_ENDED, MinuteSummary, StoppingConditions, stop_reason
from simulator.traffic import PoissonArrivals, Traffic

BLOCK = 1 << 15
MINUTE_S = 60.0


@dataclass(frozen=True)
class EngineOutput:
    """Everything one run measured, per completed request in completion order."""

    completion_s: np.ndarray
    latency_s: np.ndarray
    service_s: np.ndarray
    overhead_s: np.ndarray  # empty when the profile has no overhead
    instance: np.ndarray
    end_s: float
    stop_reason: str
    issued: int
    in_service: int
    queued: int
    minutes: tuple[MinuteSummary, ...]


def _blocks(draw: Callable[[int], np.ndarray]) -> Iterator[float]:
    """An endless iterator over floats drawn ``BLOCK`` at a time (C-speed ``next``)."""

    def generate():
        while True:
            yield draw(BLOCK).tolist()

    return chain.from_iterable(generate())


def run(endpoint: Endpoint, traffic: Traffic, *, seed: int | np.random.SeedSequence = 0,
        overhead: Distribution | None = None, think_time_s: float = 0.0,
        stopping: StoppingConditions | None = None,
        interrupt: Callable[[], bool] | None = None) -> EngineOutput:
    """Simulate ``traffic`` against ``endpoint`` until the traffic ends or a condition stops it.

    ``interrupt`` is asked at every simulated minute whether the run must stop (a stopped
    job); the run then ends with reason JobStopped.

    Closed-loop users invoke, wait for the response, pay the overhead latency and an
    exponential think time of mean ``think_time_s``, and invoke again. A user the traffic
    removes finishes its in-flight request first.
    """
    stopping = stopping or StoppingConditions()
    seed_seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    service_rng, overhead_rng, routing_rng, think_rng, arrival_rng = (
        np.random.Generator(np.random.PCG64(s)) for s in seed_seq.spawn(5))

    env = simpy.Environment()
    heap, eid, push = env._queue, env._eid, heapq.heappush
    instances, workers = endpoint.instance_count, endpoint.workers
    service_dist = endpoint.service_time
    next_service = _blocks(lambda n: service_dist.sample_s(service_rng, n)).__next__
    spread = instances > 1
    route = (_blocks(lambda n: routing_rng.integers(0, instances, n)).__next__
             if spread and endpoint.routing == "random" else None)
    least_outstanding = spread and endpoint.routing == "least_outstanding_requests"
    next_overhead = _blocks(lambda n: overhead.sample_s(overhead_rng, n)).__next__ if overhead else None
    next_think = (_blocks(lambda n: think_rng.exponential(think_time_s, n)).__next__
                  if think_time_s > 0 else None)
    delayed = next_overhead is not None or next_think is not None

    busy = [0] * instances
    waiting = [deque() for _ in range(instances)]
    instance_ids = range(instances)
    # array('d') keeps raw doubles: no float object survives a record.
    completion_s, latency_s, service_s, overhead_s = (array("d") for _ in range(4))
    instance_log = array("i")
    record_completion, record_latency = completion_s.append, latency_s.append
    record_service, record_instance = service_s.append, instance_log.append
    record_overhead = overhead_s.append
    free_completions: list[Event] = []
    free_delays: list[Event] = []
    issued = retire = live = 0  # requests sent; users to stop; users alive

    def arrive(now: float) -> None:
        """A request reaches the endpoint: route it, start it or queue it."""
        if route is not None:
            inst = route()
        elif least_outstanding:
            inst = min(instance_ids, key=lambda i: busy[i] + len(waiting[i]))
        else:
            inst = 0
        if busy[inst] < workers:
            busy[inst] += 1
            ev = free_completions.pop() if free_completions else _new_event(env)
            s = next_service()
            ev.instance = inst
            ev.arrival = now
            ev.service = s
            ev.callbacks = complete_callbacks
            push(heap, (now + s, NORMAL, next(eid), ev))
        else:
            waiting[inst].append(now)

    def complete(ev: Event) -> None:
        """A request finishes: record it, start the next queued one, let its user go on."""
        nonlocal issued, retire, live
        now = env._now
        inst = ev.instance
        record_completion(now)
        record_latency(now - ev.arrival)
        record_service(ev.service)
        record_instance(inst)
        queue = waiting[inst]
        if queue:
            s = next_service()
            ev.arrival = queue.popleft()
            ev.service = s
            ev.callbacks = complete_callbacks
            push(heap, (now + s, NORMAL, next(eid), ev))
        else:
            busy[inst] -= 1
            free_completions.append(ev)
        if closed_loop:
            if retire:
                retire -= 1
                live -= 1
            elif delayed:
                delay = 0.0
                if next_overhead is not None:
                    delay = next_overhead()
                    record_overhead(delay)
                if next_think is not None:
                    delay += next_think()
                d = free_delays.pop() if free_delays else _new_event(env)
                d.callbacks = delay_callbacks
                push(heap, (now + delay, NORMAL, next(eid), d))
            else:
                issued += 1
                arrive(now)
        elif next_overhead is not None:
            record_overhead(next_overhead())

    def delay_over(ev: Event) -> None:
        nonlocal issued, retire, live
        free_delays.append(ev)
        if retire:
            retire -= 1
            live -= 1
            return
        issued += 1
        arrive(env._now)

    complete_callbacks = [complete]
    delay_callbacks = [delay_over]
    closed_loop = not isinstance(traffic, PoissonArrivals)
    end = env.event()
    outcome = {"reason": TRAFFIC_ENDED}

    def at(time_s: float, callback: Callable[[Event], None], priority: int = URGENT) -> None:
        ev = _new_event(env)
        ev.callbacks = [callback]
        env.schedule(ev, priority, time_s - env.now)

    # Traffic: user-count changes, or the arrival stream.
    if closed_loop:
        def set_users(target: int) -> Callable[[Event], None]:
            def change(_: Event) -> None:
                nonlocal issued, retire, live
                current = live - retire
                if target < current:
                    retire += current - target
                    return
                revived = min(retire, target - current)
                retire -= revived
                now = env._now
                for _ in range(target - current - revived):
                    live += 1
                    issued += 1
                    arrive(now)
            return change

        for time_s, users in traffic.user_changes():
            at(time_s, set_users(users), NORMAL)
    else:
        arrival_times = traffic.arrival_times(arrival_rng).tolist()
        arrival_iter = iter(arrival_times)

        def next_arrival(ev: Event) -> None:
            nonlocal issued
            issued += 1
            arrive(env._now)
            t = next(arrival_iter, None)
            if t is not None:
                ev.callbacks = arrival_callbacks
                push(heap, (t, NORMAL, next(eid), ev))

        arrival_callbacks = [next_arrival]
        if arrival_times:
            at(arrival_times[0], next_arrival, NORMAL)

    # Minute ticks: stopping conditions see each complete minute.
    minutes: list[MinuteSummary] = []
    cursor = {"index": 0}
    percentile = stopping.latency.percentile if stopping.latency else None
    users_at = getattr(traffic, "users_at", None)

    def tick(ev: Event) -> None:
        now = env._now
        start = now - MINUTE_S
        first, last = cursor["index"], len(completion_s)
        cursor["index"] = last
        value = math.nan
        if percentile is not None and last > first:
            value = float(np.percentile(np.frombuffer(latency_s[first:last]), percentile)) * 1000.0
        users_start = users_at(start) if users_at else 0
        users_end = users_at(now - 1e-9) if users_at else 0
        minutes.append(MinuteSummary(len(minutes), last - first, value, users_start, users_end))
        reason = stop_reason(minutes, stopping)
        if reason is None and interrupt is not None and interrupt():
            reason = JOB_STOPPED
        if reason is not None:
            outcome["reason"] = reason
            if not end.triggered:
                end.succeed()
        elif now + MINUTE_S <= traffic.duration_s + 1e-9:
            ev.callbacks = [tick]
            env.schedule(ev, URGENT, MINUTE_S)

    if traffic.duration_s >= MINUTE_S:
        at(MINUTE_S, tick)

    def finish(_: Event) -> None:
        if not end.triggered:
            end.succeed()

    at(traffic.duration_s, finish, NORMAL)
    # The run allocates millions of short-lived tuples and grows long lists of floats;
    # the cyclic collector would rescan those lists again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        env.run(until=end)
    finally:
        if collecting:
            gc.enable()

    in_service = sum(busy)
    queued = sum(len(q) for q in waiting)
    return EngineOutput(
        completion_s=np.frombuffer(completion_s, dtype=float),
        latency_s=np.frombuffer(latency_s, dtype=float),
        service_s=np.frombuffer(service_s, dtype=float),
        overhead_s=np.frombuffer(overhead_s, dtype=float),
        instance=np.frombuffer(instance_log, dtype=np.int32),
        end_s=float(env.now),
        stop_reason=outcome["reason"],
        issued=issued,
        in_service=in_service,
        queued=queued,
        minutes=tuple(minutes),
    )


def _new_event(env: simpy.Environment) -> Event:
    ev = Event(env)
    ev._ok = True
    ev._value = None
    return ev
