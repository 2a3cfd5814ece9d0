"""The engine's compiled fast path: the same run as :func:`simulator.engine.run`, event for
event, with the hot loop compiled by numba (:mod:`simulator.fastloop`).

Covered: real-time endpoints of any instance count with FIFO multi-worker instances and
random routing (or one instance); closed-loop users (constant, PHASES or STAIRS: counts that
change included), with or without overhead latency and think time; open Poisson traffic;
every service-time family; every stopping condition, interrupt and minute hook. Not covered,
so :func:`simulator.engine.run` keeps its Python loop: least-outstanding-requests routing over
more than one instance (:func:`simulator.runspec.fast_path_gap`), a capacity schedule
(``simulator.capacity``), and serverless endpoints (their own engine); and any run when numba
is not installed or fails to compile the loop.

Same answers, not close ones: the streams of random draws are spawned from the seed in the
Python engine's order (:func:`simulator.harness.spawn`) and drawn by its samplers in the same
numpy blocks; every heap entry has the Python loop's (time, priority, sequence number); the
Python-side entries (the minute clock's ticks, the end of the traffic, the stop) stay in a
real :class:`~simulator.harness.Loop` run by :class:`~simulator.harness.MinuteClock` itself,
and the compiled loop runs exactly the entries that come before the next of them. Records go into a
:class:`~simulator.records.Records` (numpy columns: :mod:`simulator.fastrecords`), so every
minute is summarized by the same code.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from heapq import heappop
from itertools import count

import numpy as np

from simulator import fastloop as fl
from simulator import fastquantiles
from simulator.bounds import PROCESS_MEMORY_MB, resident_mb
from simulator.distributions import Distribution
from simulator.endpoint import InstanceEndpoint
from simulator.errors import InputError
from simulator.fastrecords import FastRecords
from simulator.harness import BLOCK, EngineOutput, Loop, MinuteClock, MinuteHook, Sampler, _Stopped, output, spawn
from simulator.profiles import InstanceProfile
from simulator.runspec import RunSpec, fast_path_gap
from simulator.traffic import PoissonArrivals, Traffic

OUT_CHUNK = 1 << 12  # completions written by the compiled loop between two flushes into Records
#: Requests a run may cost from which ``fast=None`` takes the fast path: when the compiled loop is
#: loaded in this process already, and when it still has to be (importing numba and loading the
#: cached machine code costs about as much as the Python engine spends on this many requests).
AUTO_MIN_REQUESTS_LOADED = 20_000
AUTO_MIN_REQUESTS_COLD = 1_000_000
#: What the compiled loop adds to a process's RSS, measured: loading it from numba's disk cache
#: about 105 MB (importing numba and llvmlite, then LLVM's shared library, pages a process's RSS
#: counts whether or not another process shares them); compiling it into a cold cache 180 MB
#: (162 -> 342 MB peak on this project's machine). The larger is counted: whether the cache is
#: warm is only known once it is loaded.
KERNEL_MB = 180.0
#: A fast-path run holds more than ``RunSpec.memory_mb`` (its draws come in blocks, its columns
#: grow by doubling): measured 1.4x on the limits job (157 MB against 114 estimated); 1.5 counted.
FAST_RUN_FACTOR = 1.5
#: The engine's streams the compiled loop reads, in fastloop's order (SERVICE, ROUTE, OVERHEAD, THINK).
KERNEL_STREAMS = ("service", "route", "overhead", "think")


@dataclass(frozen=True)
class Streams:
    """The engine's random streams: the names in the order they are spawned from the seed, and
    what each draws (None: not drawn from). The engine hands over its own, so both hold the same numbers."""

    order: tuple[str, ...]
    samplers: Mapping[str, Sampler | None]


@dataclass(frozen=True)
class Kernel:
    """The compiled loop, the compiled selection of the minutes' percentiles (None where it does
    not give numpy's bits: numpy's own then), and what loading both cost (seconds; from numba's
    disk cache or compiled)."""

    advance: Callable[..., int]
    select: fastquantiles.Select | None
    load_s: float
    from_cache: bool


@functools.cache
def kernel() -> Kernel | None:
    """The compiled loop, loaded once per process (compiled on the first use on a machine,
    from numba's disk cache after that); None when numba is not installed or fails to compile it."""
    try:
        import numba  # slow to import (about 0.3 s): only when a run takes the fast path
    except ImportError:
        return None
    start = time.perf_counter()
    try:
        advance, select = fl.compile_kernel(numba), fastquantiles.compile_select(numba)
        _warm(advance)
        exact = fastquantiles.agrees(select)
    except Exception as error:  # a numba this code does not suit: the Python engine gives the same answers
        warnings.warn(f"irsim's compiled fast path is off: numba {numba.__version__} failed to compile it ({error})",
                      RuntimeWarning, stacklevel=2)
        return None
    hits = sum(advance.stats.cache_hits.values())
    return Kernel(advance, select if exact else None, time.perf_counter() - start, from_cache=hits > 0)


def available() -> bool:
    """Whether numba is installed and compiles the loop, so the fast path can run at all."""
    return kernel() is not None


def covers(spec: RunSpec) -> str | None:
    """None when the fast path can run this spec; else why not (a capacity schedule, or an
    endpoint it does not cover: checked once per run)."""
    if spec.capacity_schedule:
        return "a capacity schedule runs on the Python engine"
    return fast_path_gap(spec.endpoint)


def chosen(spec: RunSpec) -> bool:
    """Whether a run takes the fast path: never with ``fast=False``; always with ``fast=True``
    (InputError naming ``fast`` when numba is missing: RunSpec already refused the endpoints it
    does not cover); with ``None`` when it covers the run, numba works, the run is long
    enough for compiled speed to pay for loading it, and the process stays within
    PROCESS_MEMORY_MB with the compiled loop loaded (``fits``: the Python engine gives the same
    run, slower, where it would not)."""
    if spec.fast is False:
        return False
    gap = covers(spec)
    if spec.fast:
        if gap is None and not available():
            gap = "numba is not installed or failed to compile it"
        if gap is not None:
            raise InputError("fast", f"the compiled fast path cannot run this: {gap}")
        return True
    if gap is not None:
        return False
    loaded = kernel.cache_info().currsize > 0
    least = AUTO_MIN_REQUESTS_LOADED if loaded else AUTO_MIN_REQUESTS_COLD
    return expected_requests(spec) >= least and fits(spec, loaded) and available()


def fits(spec: RunSpec, loaded: bool) -> bool:
    """Whether this process, with the compiled loop loaded (KERNEL_MB more unless it is) and the
    run's own memory on the fast path (FAST_RUN_FACTOR x ``RunSpec.memory_mb``), stays within
    PROCESS_MEMORY_MB."""
    return resident_mb() + (0.0 if loaded else KERNEL_MB) + FAST_RUN_FACTOR * spec.memory_mb <= PROCESS_MEMORY_MB


def expected_requests(spec: RunSpec) -> float:
    """About how many requests the run costs, at most: the traffic's highest request rate (the
    work budget's measure) over its whole duration."""
    overhead_s = spec.overhead.mean_ms / 1000.0 if spec.overhead is not None else 0.0
    work = spec.endpoint.work(overhead_s, spec.think_time_s)
    return spec.traffic.max_request_rate_per_s(work.cycle_s, work.capacity_per_s) * spec.traffic.duration_s


def _no_draws(n: int) -> np.ndarray:
    return np.empty(0)


class _Draws:
    """The engine's streams of random draws as numpy blocks: spawned from the seed in the
    engine's order and drawn ``BLOCK`` at a time by its samplers, so they hold the same numbers.
    The compiled loop reads them from one 1-D array, each stream from its own segment."""

    def __init__(self, seed: int, streams: Streams) -> None:
        generators = spawn(seed, streams.order)
        self.arrival_rng = generators["arrival"]
        samplers = [streams.samplers.get(name) for name in KERNEL_STREAMS]
        self.used = tuple(sampler is not None for sampler in samplers)
        self.draw: tuple[Callable[[int], np.ndarray], ...] = tuple(
            partial(sampler, generators[name]) if sampler is not None else _no_draws
            for name, sampler in zip(KERNEL_STREAMS, samplers, strict=True))
        self.values = np.empty(0)

    def refill(self, ints: np.ndarray, stream: int, need: int) -> None:
        """Keep every stream's unread draws and append blocks to ``stream`` until it holds ``need``."""
        segments = [[self.values[ints[fl.DRAWN + k]:ints[fl.STREAM_END + k]]] for k in range(fl.STREAMS)]
        pieces = segments[stream]
        while sum(p.size for p in pieces) < need:
            pieces.append(self.draw[stream](BLOCK))
        # One copy of every unread draw and new block (routes as floats: exact below 2**53).
        self.values = np.concatenate([piece for segment in segments for piece in segment], dtype=float)
        ends = np.cumsum([sum(piece.size for piece in segment) for segment in segments])
        for k in range(fl.STREAMS):
            ints[fl.DRAWN + k], ints[fl.STREAM_END + k] = (ends[k - 1] if k else 0), ends[k]


class _State:
    """The compiled loop's arrays, carried between its calls, and the records they flush into."""

    def __init__(self, endpoint: InstanceEndpoint, traffic: Traffic, draws: _Draws) -> None:
        closed, instances = traffic.closed, endpoint.instance_count
        self.ints = np.zeros(fl.INTS, dtype=np.int64)
        self.ints[[fl.WORKERS, fl.ROUTED, fl.CLOSED, fl.HAS_OVERHEAD, fl.HAS_THINK]] = (
            endpoint.workers, draws.used[fl.ROUTE], closed, draws.used[fl.OVERHEAD], draws.used[fl.THINK])
        self.traffic = _traffic_entries(traffic, draws.arrival_rng)
        # The Python loop's first entries are the traffic's (drive(): every user-count change, or the
        # first arrival), numbered from 0; the minute clock's come next.
        self.ints[fl.SEQ] = self.traffic.size if closed else min(1, self.traffic.size)
        users = int(self.traffic["users"].max(initial=0)) if closed else 0
        self.heap = np.zeros(instances * endpoint.workers + users + 1, dtype=fl.ENTRY)
        self.stations = np.zeros(instances, dtype=fl.STATION)
        self.pool = np.zeros(0, dtype=fl.NODE)
        self.ints[fl.FREE_NODE] = -1
        self.grow_queues(users + 2)
        self.out = np.empty((fl.OUT_ROWS, OUT_CHUNK))
        self.draws = draws

    def grow_queues(self, more: int) -> None:
        """At least ``more`` nodes added to the queue pool's free list (the pool at least doubles)."""
        old = self.pool.size
        size = old + max(more, old)
        pool = np.zeros(size, dtype=fl.NODE)
        pool[:old] = self.pool
        pool["next"][old:] = np.arange(old + 1, size + 1)
        pool["next"][-1] = self.ints[fl.FREE_NODE]
        self.ints[fl.FREE_NODE] = old
        self.ints[fl.FREE_N] += size - old
        self.pool = pool

    def advance(self, advance: Callable[..., int], limit: tuple[float, int, int], records: FastRecords,
                spread: bool) -> None:
        """Run the compiled entries before ``limit``, providing draws, room and records as it asks."""
        ints = self.ints
        while True:
            status = advance(ints, self.heap, self.stations, self.pool, self.draws.values, self.traffic, self.out,
                             limit)
            self.flush(records, spread)
            if status == fl.NEED_DRAWS:
                self.draws.refill(ints, int(ints[fl.NEED_STREAM]), int(ints[fl.NEED_COUNT]))
            elif status == fl.QUEUE_FULL:
                self.grow_queues(int(ints[fl.NEED_COUNT]))
            elif status == fl.DONE:
                return

    def flush(self, records: FastRecords, spread: bool) -> None:
        """Append the records written since the last flush to ``records`` (as the engine appends them)."""
        n, m = int(self.ints[fl.OUT_N]), int(self.ints[fl.OVERHEAD_N])
        out = self.out
        if n:
            if records.keep:  # no minute reads them: a run that keeps no request does not hold them either
                records.completion_s.extend(out[fl.COMPLETION, :n])
                if spread:
                    records.instance.extend(out[fl.INSTANCE, :n])
            records.latency_s.extend(out[fl.LATENCY, :n])
            records.service_s.extend(out[fl.SERVICE_TIME, :n])
        if m:
            records.overhead_s.extend(out[fl.OVERHEAD_TIME, :m])
        self.ints[fl.OUT_N] = self.ints[fl.OVERHEAD_N] = 0


def _traffic_entries(traffic: Traffic, arrival_rng: np.random.Generator) -> np.ndarray:
    """The traffic's entries for the compiled loop: every user-count change, or every open
    arrival (drawn as harness.drive draws them)."""
    if traffic.closed:
        return np.array(traffic.user_changes(), dtype=fl.TRAFFIC)
    arrivals = traffic.arrival_times(arrival_rng)
    entries = np.zeros(arrivals.size, dtype=fl.TRAFFIC)
    entries["time"] = arrivals
    return entries


def run(spec: RunSpec, streams: Streams, interrupt: Callable[[], bool] | None = None,
        on_minute: MinuteHook | None = None) -> EngineOutput:
    """:func:`simulator.engine.run` on the compiled loop, with the engine's ``streams``."""
    compiled, endpoint = kernel(), spec.endpoint
    if compiled is None or not isinstance(endpoint, InstanceEndpoint) or covers(spec) is not None:
        raise InputError("fast", "the compiled fast path cannot run this")
    state = _State(endpoint, spec.traffic, _Draws(spec.seed, streams))
    loop = Loop()
    records = FastRecords(keep=spec.keep_requests, expected=int(min(expected_requests(spec), 2.0**62)) + 2 * OUT_CHUNK,
                          select=compiled.select)
    loop.sequence = count(int(state.ints[fl.SEQ]))
    clock = MinuteClock(loop, spec.traffic, spec.stopping, interrupt, records, on_minute)
    state.ints[fl.SEQ] = next(loop.sequence)
    _merged_loop(loop, state, compiled, records, spread=endpoint.instance_count > 1)
    records.close_last_minute(loop.now)
    stations = state.stations
    return output(records, clock, issued=int(state.ints[fl.ISSUED]), in_service=int(stations["busy"].sum()),
                  queued=int(stations["length"].sum()))


def _merged_loop(loop: Loop, state: _State, compiled: Kernel, records: FastRecords, *, spread: bool) -> None:
    """Loop.run, with the compiled entries merged in before each Python one (a minute tick,
    the end of the traffic, the stop), until the stop."""
    heap = loop.heap
    while True:
        now, priority, sequence, action, payload = heap[0]
        state.advance(compiled.advance, (now, priority, sequence), records, spread)
        heappop(heap)
        loop.sequence = count(int(state.ints[fl.SEQ]))
        try:
            action(now, payload)
        except _Stopped:
            loop.now = now
            return
        state.ints[fl.SEQ] = next(loop.sequence)


def _warm(advance: Callable[..., int]) -> None:
    """Call the compiled loop once on a tiny run's arrays, so it is compiled (or loaded from the
    cache) for the argument types of every real run before one is timed."""
    service = Distribution("deterministic", 1.0, 0.0)
    endpoint = InstanceEndpoint(InstanceProfile("warm-up", 1, service), instance_count=2)
    streams = Streams(("service", "route", "arrival"),
                      {"service": service.sample_s, "route": lambda rng, n: rng.integers(0, 2, n)})
    state = _State(endpoint, PoissonArrivals.constant(1.0, 1.0), _Draws(0, streams))
    state.advance(advance, (0.0, fl.URGENT, 0), FastRecords(), spread=False)
