"""The event loop of real-time endpoints: users and arrivals against K instances.

Each request costs one heap entry (its completion; plus one for the caller's delay when
overhead or think time is on) on the harness's :class:`~simulator.harness.Loop`: no
processes, no Resources, no event objects. A completion's entry carries the request as a
``(instance, arrival time, service time)`` tuple, random draws come in numpy blocks, and
per-request measurements go into raw arrays (:class:`~simulator.records.Records`) that are
summarized at every minute's end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappush
from itertools import count
from typing import Any

from simulator import capacity, fastpath
from simulator.endpoint import InstanceEndpoint
from simulator.fastpath import Streams
from simulator.harness import (
    NORMAL,
    Draws,
    EngineOutput,
    Loop,
    MinuteClock,
    MinuteHook,
    Population,
    Sampler,
    drive,
    output,
)
from simulator.harness import samplers as common_samplers
from simulator.records import Records
from simulator.routing import LeastOutstanding
from simulator.runspec import RunSpec

#: A request in service: (instance, arrival time, service time), all it needs at completion.
Request = tuple[int, float, float]
#: The random streams in the order they are spawned from the run's seed (fixed: it fixes the numbers).
STREAMS = ("service", "overhead", "route", "think", "arrival")


def samplers_for(spec: RunSpec, endpoint: InstanceEndpoint) -> dict[str, Sampler | None]:
    """What each stream draws: routing draws only when random routing spreads requests over
    instances (the Python loop's and the fast path's, so both hold the same numbers)."""
    instances = endpoint.instance_count

    def route(rng: Any, n: int) -> Any:
        return rng.integers(0, instances, n)

    def uniform(rng: Any, n: int) -> Any:
        return rng.random(n)

    streams = common_samplers(endpoint.service_time, spec.overhead, spec.think_time_s)
    streams["route"] = route if instances > 1 and endpoint.routing == "random" else None
    if spec.capacity_schedule:  # the instances in service change: a U(0, 1) picks among them
        streams["route"] = uniform if endpoint.routing == "random" else None
    return streams


def draws_for(spec: RunSpec, endpoint: InstanceEndpoint) -> Draws:
    """The run's draws, spawned from its seed in STREAMS' order."""
    return Draws.seeded(spec.seed, STREAMS, samplers_for(spec, endpoint))


def run(spec: RunSpec, interrupt: Callable[[], bool] | None = None,
        on_minute: MinuteHook | None = None) -> EngineOutput:
    """Simulate ``spec``'s traffic against its real-time endpoint until the traffic ends or a
    condition stops it.

    ``interrupt`` is asked at every simulated minute whether the run must stop (a stopped
    job); the run then ends with reason JobStopped. Every minute is summarized exactly as it
    closes (``minute_stats``); a spec that does not keep its requests drops them then, so
    memory stays flat however long the run (the per-request arrays come back empty).

    Closed-loop users invoke, wait for the response, pay the overhead latency and an
    exponential think time, and invoke again. A user the traffic removes finishes its
    in-flight request first.

    Where :func:`simulator.fastpath.chosen` says the compiled fast path applies and pays
    (``spec.fast``), it runs the same run there, event for event. A run with a capacity
    schedule (``simulator.capacity``) stays here: its steps change the instances the router
    sends to while every request in flight keeps its instance.
    """
    endpoint = spec.endpoint
    assert isinstance(endpoint, InstanceEndpoint), "the engines table sends real-time endpoints here"
    if fastpath.chosen(spec):
        return fastpath.run(spec, Streams(STREAMS, samplers_for(spec, endpoint)), interrupt, on_minute)
    draws = draws_for(spec, endpoint)
    loop, records, population = Loop(), Records(keep=spec.keep_requests), Population()
    busy = [0] * capacity.width(endpoint.instance_count, spec.capacity_schedule)
    waiting: list[deque[float]] = [deque() for _ in busy]
    scheduled = capacity.scheduled_router(loop, spec.capacity_schedule, endpoint, draws.route, busy, waiting) \
        if spec.capacity_schedule else None
    arrivals = count(1)  # counts every request that reaches the endpoint, independently of the records
    arrive = _requests(loop, endpoint, draws, records, population, busy, waiting, arrivals.__next__,
                       closed_loop=spec.traffic.closed, scheduled=scheduled)
    drive(loop, spec.traffic, population, arrive, draws.arrival_rng)
    clock = MinuteClock(loop, spec.traffic, spec.stopping, interrupt, records, on_minute)
    clock.run()
    return output(records, clock, issued=next(arrivals) - 1, in_service=sum(busy),
                  queued=sum(len(q) for q in waiting))


def _requests(loop: Loop, endpoint: InstanceEndpoint, draws: Draws, records: Records, population: Population,
              busy: list[int], waiting: list[deque[float]], count_arrival: Callable[[], int], *,
              closed_loop: bool, scheduled: Callable[[], int] | None = None) -> Callable[[float], None]:
    """The hot path: ``arrive(now)`` for a request reaching the endpoint, and what happens at
    its completion. ``busy`` and ``waiting`` (per instance: requests in service, arrival
    times of queued requests) change in place. ``scheduled`` routes every request when a
    capacity schedule changes the instances in service (``simulator.capacity``)."""
    heap, sequence, push = loop.heap, loop.sequence, heappush
    workers = endpoint.workers
    next_service, route, next_overhead, next_think = draws.service, draws.route, draws.overhead, draws.think
    if scheduled is not None:
        route = scheduled
    delayed = next_overhead is not None or next_think is not None
    # Outstanding at an instance = in service + queued there: +1 at take(), -1 at release().
    least = (LeastOutstanding(endpoint.instance_count) if scheduled is None and endpoint.instance_count > 1
             and endpoint.routing == "least_outstanding_requests" else None)
    take = least.take if least is not None else None
    release = least.release if least is not None else None
    record_completion, record_latency = records.completion_s.append, records.latency_s.append
    record_service, record_instance = records.service_s.append, records.instance.append
    if not records.keep:  # no minute reads them: a run that keeps no request does not hold them either
        discard: deque[Any] = deque(maxlen=0)  # C-speed appends that hold nothing
        record_completion = record_instance = discard.append
    record_overhead = records.overhead_s.append
    spread = len(busy) > 1  # else every instance recorded would be 0: output() fills them in

    def arrive(now: float) -> None:
        """A request reaches the endpoint: count it, route it, start it or queue it."""
        count_arrival()
        if route is not None:
            inst = route()
        elif take is not None:
            inst = take()
        else:
            inst = 0
        if busy[inst] < workers:
            busy[inst] += 1
            s = next_service()
            push(heap, (now + s, NORMAL, next(sequence), complete, (inst, now, s)))
        else:
            waiting[inst].append(now)

    def complete(now: float, request: Request) -> None:
        """A request finishes: record it, start the next queued one, let its user go on."""
        inst, arrival, service = request
        record_completion(now)
        record_latency(now - arrival)
        record_service(service)
        if spread:
            record_instance(inst)
        if release is not None:
            release(inst)
        queue = waiting[inst]
        if queue:
            s = next_service()
            push(heap, (now + s, NORMAL, next(sequence), complete, (inst, queue.popleft(), s)))
        else:
            busy[inst] -= 1
        if closed_loop:
            if population.retire:
                population.leaves()
            elif delayed:
                delay = 0.0
                if next_overhead is not None:
                    delay = next_overhead()
                    record_overhead(delay)
                if next_think is not None:
                    delay += next_think()
                push(heap, (now + delay, NORMAL, next(sequence), delay_over, None))
            else:
                arrive(now)
        elif next_overhead is not None:
            record_overhead(next_overhead())

    def delay_over(now: float, _: Any) -> None:
        if not population.leaves():
            arrive(now)

    return arrive
