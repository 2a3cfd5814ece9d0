"""The event loop of real-time endpoints: users and arrivals against K instances.

Each request costs one heap entry (its completion; plus one for the caller's delay when
overhead or think time is on) on the harness's :class:`~simulator.harness.Loop`: no
processes, no Resources, no event objects. A completion's entry carries the request as a
``(instance, arrival time, service time)`` tuple, random draws come in numpy blocks, and
per-request measurements go into raw double arrays that become numpy arrays at the end.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np

from simulator.distributions import Distribution
from simulator.endpoint import Endpoint
from simulator.harness import NORMAL, Loop, MinuteClock, Population, blocks, drive
from simulator.routing import LeastOutstanding
from simulator.stopping import MinuteSummary, StoppingConditions
from simulator.traffic import PoissonArrivals, Traffic

#: A request in service: (instance, arrival time, service time), all it needs at completion.
Request = tuple[int, float, float]


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

    loop = Loop()
    heap, sequence, push = loop.heap, loop.sequence, heappush
    instances, workers = endpoint.instance_count, endpoint.workers
    service_dist = endpoint.service_time
    next_service: Callable[[], float] = blocks(lambda n: service_dist.sample_s(service_rng, n)).__next__
    spread = instances > 1
    route: Callable[[], int] | None = (blocks(lambda n: routing_rng.integers(0, instances, n)).__next__
                                       if spread and endpoint.routing == "random" else None)
    # Outstanding at an instance = in service + queued there: +1 at take(), -1 at release().
    least = LeastOutstanding(instances) if spread and endpoint.routing == "least_outstanding_requests" else None
    take = least.take if least is not None else None
    release = least.release if least is not None else None
    next_overhead = blocks(lambda n: overhead.sample_s(overhead_rng, n)).__next__ if overhead else None
    next_think = (blocks(lambda n: think_rng.exponential(think_time_s, n)).__next__
                  if think_time_s > 0 else None)
    delayed = next_overhead is not None or next_think is not None
    closed_loop = not isinstance(traffic, PoissonArrivals)

    busy = [0] * instances
    waiting: list[deque[float]] = [deque() for _ in range(instances)]
    # array('d') keeps raw doubles: no float object survives a record.
    completion_s, latency_s, service_s, overhead_s = (array("d") for _ in range(4))
    instance_log = array("i")
    record_completion, record_latency = completion_s.append, latency_s.append
    record_service, record_instance = service_s.append, instance_log.append
    record_overhead = overhead_s.append
    population = Population()
    issued = 0

    def arrive(now: float) -> None:
        """A request reaches the endpoint: route it, start it or queue it."""
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

    def send(now: float) -> None:
        nonlocal issued
        issued += 1
        arrive(now)

    def complete(now: float, request: Request) -> None:
        """A request finishes: record it, start the next queued one, let its user go on."""
        nonlocal issued
        inst, arrival, service = request
        record_completion(now)
        record_latency(now - arrival)
        record_service(service)
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
                issued += 1
                arrive(now)
        elif next_overhead is not None:
            record_overhead(next_overhead())

    def delay_over(now: float, _: Any) -> None:
        if not population.leaves():
            send(now)

    drive(loop, traffic, population, send, arrival_rng)
    clock = MinuteClock(loop, traffic, stopping, interrupt, latency_s)
    clock.run()

    return EngineOutput(
        completion_s=np.frombuffer(completion_s, dtype=float),
        latency_s=np.frombuffer(latency_s, dtype=float),
        service_s=np.frombuffer(service_s, dtype=float),
        overhead_s=np.frombuffer(overhead_s, dtype=float),
        instance=np.frombuffer(instance_log, dtype=np.int32),
        end_s=float(loop.now),
        stop_reason=clock.reason,
        issued=issued,
        in_service=sum(busy),
        queued=sum(len(q) for q in waiting),
        minutes=tuple(clock.minutes),
    )
