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
from dataclasses import dataclass
from heapq import heappush
from itertools import count
from typing import Any

import numpy as np

from simulator import fastpath
from simulator.distributions import Distribution
from simulator.endpoint import Endpoint
from simulator.harness import NORMAL, Loop, MinuteClock, MinuteHook, Population, blocks, drive
from simulator.metrics import MinuteStats
from simulator.records import Records
from simulator.routing import LeastOutstanding
from simulator.stopping import MinuteSummary, StoppingConditions
from simulator.traffic import PoissonArrivals, Traffic

#: A request in service: (instance, arrival time, service time), all it needs at completion.
Request = tuple[int, float, float]


@dataclass(frozen=True)
class EngineOutput:
    """Everything one run measured: per minute, and per completed request in completion order
    (empty arrays when the run did not keep its requests)."""

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
    completed: int
    minute_stats: tuple[MinuteStats, ...]


@dataclass(frozen=True)
class _Draws:
    """The run's random draws, each the C-speed ``__next__`` of a stream drawn in numpy blocks;
    None where the run needs none (one instance, no overhead, no think time)."""

    service: Callable[[], float]
    route: Callable[[], int] | None
    overhead: Callable[[], float] | None
    think: Callable[[], float] | None
    arrival_rng: np.random.Generator

    @classmethod
    def seeded(cls, seed: int | np.random.SeedSequence, endpoint: Endpoint, overhead: Distribution | None,
               think_time_s: float) -> _Draws:
        """One independent generator per stream, spawned from ``seed`` in a fixed order."""
        seed_seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        service_rng, overhead_rng, routing_rng, think_rng, arrival_rng = (
            np.random.Generator(np.random.PCG64(s)) for s in seed_seq.spawn(5))
        instances, service = endpoint.instance_count, endpoint.service_time
        routed = instances > 1 and endpoint.routing == "random"
        return cls(
            blocks(lambda n: service.sample_s(service_rng, n)).__next__,
            blocks(lambda n: routing_rng.integers(0, instances, n)).__next__ if routed else None,
            blocks(lambda n: overhead.sample_s(overhead_rng, n)).__next__ if overhead else None,
            blocks(lambda n: think_rng.exponential(think_time_s, n)).__next__ if think_time_s > 0 else None,
            arrival_rng)


def run(endpoint: Endpoint, traffic: Traffic, *, seed: int | np.random.SeedSequence = 0,
        overhead: Distribution | None = None, think_time_s: float = 0.0,
        stopping: StoppingConditions | None = None,
        interrupt: Callable[[], bool] | None = None, keep_requests: bool = True,
        on_minute: MinuteHook | None = None, fast: bool | None = None) -> EngineOutput:
    """Simulate ``traffic`` against ``endpoint`` until the traffic ends or a condition stops it.

    ``interrupt`` is asked at every simulated minute whether the run must stop (a stopped
    job); the run then ends with reason JobStopped. Every minute is summarized exactly as it
    closes (``minute_stats``); ``keep_requests=False`` then drops its requests, so memory stays
    flat however long the run (the per-request arrays come back empty).

    Closed-loop users invoke, wait for the response, pay the overhead latency and an
    exponential think time of mean ``think_time_s``, and invoke again. A user the traffic
    removes finishes its in-flight request first.

    ``fast`` picks the compiled fast path (:mod:`simulator.fastpath`: the same run, event for
    event): None takes it where it applies and pays, True insists (InputError when it cannot),
    False never takes it.
    """
    if fastpath.chosen(fast, endpoint, traffic, overhead, think_time_s):  # the fast-path hook
        return EngineOutput(**fastpath.run(endpoint, traffic, seed=seed, overhead=overhead,
                                           think_time_s=think_time_s, stopping=stopping, interrupt=interrupt,
                                           keep_requests=keep_requests, on_minute=on_minute))
    draws = _Draws.seeded(seed, endpoint, overhead, think_time_s)
    loop, records, population = Loop(), Records(keep=keep_requests), Population()
    busy = [0] * endpoint.instance_count
    waiting: list[deque[float]] = [deque() for _ in busy]
    arrivals = count(1)  # counts every request that reaches the endpoint, independently of the records
    arrive = _requests(loop, endpoint, draws, records, population, busy, waiting, arrivals.__next__,
                       closed_loop=not isinstance(traffic, PoissonArrivals))
    drive(loop, traffic, population, arrive, draws.arrival_rng)
    clock = MinuteClock(loop, traffic, stopping or StoppingConditions(), interrupt, records, on_minute)
    clock.run()

    in_service, queued = sum(busy), sum(len(q) for q in waiting)
    return EngineOutput(
        completion_s=records.kept("completion_s"),
        latency_s=records.kept("latency_s"),
        service_s=records.kept("service_s"),
        overhead_s=records.kept("overhead_s"),
        instance=(records.kept("instance") if endpoint.instance_count > 1
                  else np.zeros(len(records.completion_s), dtype=np.int32)),
        completed=records.completed,
        minute_stats=tuple(records.minutes),
        end_s=float(loop.now),
        stop_reason=clock.reason,
        issued=next(arrivals) - 1,
        in_service=in_service,
        queued=queued,
        minutes=tuple(clock.minutes),
    )


def _requests(loop: Loop, endpoint: Endpoint, draws: _Draws, records: Records, population: Population,
              busy: list[int], waiting: list[deque[float]], count_arrival: Callable[[], int], *,
              closed_loop: bool) -> Callable[[float], None]:
    """The hot path: ``arrive(now)`` for a request reaching the endpoint, and what happens at
    its completion. ``busy`` and ``waiting`` (per instance: requests in service, arrival
    times of queued requests) change in place."""
    heap, sequence, push = loop.heap, loop.sequence, heappush
    workers = endpoint.workers
    next_service, route, next_overhead, next_think = draws.service, draws.route, draws.overhead, draws.think
    delayed = next_overhead is not None or next_think is not None
    # Outstanding at an instance = in service + queued there: +1 at take(), -1 at release().
    least = (LeastOutstanding(endpoint.instance_count)
             if endpoint.instance_count > 1 and endpoint.routing == "least_outstanding_requests" else None)
    take = least.take if least is not None else None
    release = least.release if least is not None else None
    record_completion, record_latency = records.completion_s.append, records.latency_s.append
    record_service, record_instance = records.service_s.append, records.instance.append
    record_overhead = records.overhead_s.append
    spread = endpoint.instance_count > 1  # else every instance recorded would be 0: run() fills them in

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
