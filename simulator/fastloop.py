"""The compiled event loop of the engine's fast path: :mod:`simulator.engine`'s hot path,
written over plain arrays so numba can compile it.

The functions below are plain Python; :func:`compile_kernel` compiles them with numba
(imported by its caller, so importing the simulator never pays for it) and numba caches the
machine code on disk (``cache=True``: ``__pycache__`` beside this file, or
``NUMBA_CACHE_DIR``), so a process after the first only loads it.

The loop keeps the Python engine's event order exactly. Every entry the Python engine would
push on its heap has the same (time, sequence number) here: completions and the ends of
closed-loop delays sit in a binary heap keyed by (time, sequence); the traffic's entries
(open arrivals, one pending at a time; closed-loop user-count changes, all pushed first) are
read from a sorted array with the sequence numbers the Python loop gives them. :func:`advance`
runs every entry that comes before a limit key, the Python-side entry (a minute tick, the end
of the traffic, the stop) due next, and returns; the caller runs that entry in Python. It
also returns early, with a status, when a stream of random draws, the output buffers or the
queue pool need the caller (nothing is half done then: the check comes before an entry runs).

Arrays are numpy record arrays and plain arrays passed one by one.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

#: A heap entry: a completion (instance >= 0, with its request's arrival and service time) or
#: the end of a closed-loop user's overhead and think time (instance -1).
ENTRY = np.dtype([("time", "f8"), ("seq", "i8"), ("instance", "i8"), ("arrival", "f8"), ("service", "f8")], align=True)
#: An instance: workers busy, and its FIFO of waiting requests as a linked list of pool nodes.
STATION = np.dtype([("busy", "i8"), ("head", "i8"), ("tail", "i8"), ("length", "i8")], align=True)
#: A queue-pool node: the next node (of its queue, or of the free list) and an arrival time.
NODE = np.dtype([("next", "i8"), ("value", "f8")], align=True)
#: The traffic's entries: open arrival times (users unused) or user-count changes.
TRAFFIC = np.dtype([("time", "f8"), ("users", "i8")], align=True)

# Counters in the ``ints`` array carried between calls, and the run's switches.
SEQ = 0             # the next sequence number to give an entry (shared with the Python loop)
ISSUED = 1          # requests that reached the endpoint
HEAP_N = 2          # entries in the heap
HOLE = 3            # 1 while the root entry has been taken and not yet replaced
FREE_NODE = 4       # the first node of the queue pool's free list (-1: none)
FREE_N = 5          # free nodes
LIVE = 6            # closed-loop users alive (harness.Population.live)
RETIRE = 7          # of them, how many stop after their request (Population.retire)
CURSOR = 8          # the next traffic entry
ARRIVAL_SEQ = 9     # open traffic: the pending arrival's sequence number
OUT_N = 10          # completions written to ``out`` since the caller emptied it
OVERHEAD_N = 11     # overhead latencies written likewise
NEED_STREAM = 12    # with status NEED_DRAWS: which stream, and how many draws the entry needs
NEED_COUNT = 13
DRAWN = 14          # DRAWN + stream: where in ``streams`` the next unread draw of each stream is
STREAM_END = 18     # STREAM_END + stream: where its segment of ``streams`` ends
# Switches in ``ints``, fixed for a run.
WORKERS = 22
ROUTED = 23         # random routing over more than one instance (else every request goes to 0)
CLOSED = 24         # closed-loop users (else open arrivals)
HAS_OVERHEAD = 25
HAS_THINK = 26
INTS = 27

# Streams of random draws: segments of the 1-D ``streams`` (bounds in ``ints``).
SERVICE, ROUTE, OVERHEAD, THINK = 0, 1, 2, 3
STREAMS = 4
# Rows of ``out``.
COMPLETION, LATENCY, SERVICE_TIME, INSTANCE, OVERHEAD_TIME = 0, 1, 2, 3, 4
OUT_ROWS = 5

# What advance() returns.
DONE = 0        # every entry before the limit has run
NEED_DRAWS = 1  # stream NEED_STREAM must hold at least NEED_COUNT unread draws
OUT_FULL = 2    # ``out`` must be emptied (OUT_N, OVERHEAD_N back to 0)
QUEUE_FULL = 3  # the queue pool needs at least NEED_COUNT free nodes

NOTHING, FROM_HEAP, FROM_TRAFFIC = 0, 1, 2
URGENT, NORMAL = 0, 1  # as in simulator.harness: the limit's priority
DELAY = -1  # the instance of a delay's entry


def _earlier(t: float, s: int, u: float, v: int) -> bool:
    """Whether key (t, s) comes before key (u, v)."""
    return t < u or (t == u and s < v)


def _runs_before(t: float, s: int, limit_t: float, limit_p: int, limit_s: int) -> bool:
    """Whether a NORMAL entry (t, s) comes before the Python entry (limit_t, limit_p, limit_s)."""
    return t < limit_t or (t == limit_t and limit_p == NORMAL and s < limit_s)


def _sift_down(heap: np.ndarray, n: int, t: float, seq: int) -> int:
    """Where an entry keyed (t, seq) placed at the root of ``heap[:n]`` settles, the entries on
    its way moved up."""
    i, child = 0, 1
    while child < n:
        right = child + 1
        if right < n and _earlier(heap[right].time, heap[right].seq, heap[child].time, heap[child].seq):
            child = right
        if _earlier(t, seq, heap[child].time, heap[child].seq):
            break
        heap[i] = heap[child]
        i, child = child, 2 * child + 1
    return i


def _push(ints: np.ndarray, heap: np.ndarray, t: float, inst: int, arrival: float, service: float) -> None:
    """Push an entry at ``t`` with the next sequence number; into the root's hole if there is one
    (a pop and a push in one sift). Keys are unique, so the order of pops is heapq's."""
    seq = ints[SEQ]
    ints[SEQ] = seq + 1
    if ints[HOLE]:
        ints[HOLE] = 0
        i = _sift_down(heap, ints[HEAP_N], t, seq)
    else:
        i = ints[HEAP_N]
        ints[HEAP_N] = i + 1
        while i > 0:
            parent = (i - 1) >> 1
            if _earlier(heap[parent].time, heap[parent].seq, t, seq):
                break
            heap[i] = heap[parent]
            i = parent
    entry = heap[i]
    entry.time, entry.seq, entry.instance, entry.arrival, entry.service = t, seq, inst, arrival, service


def _close_hole(ints: np.ndarray, heap: np.ndarray) -> None:
    """After an entry taken from the root pushed nothing: the last entry fills the root."""
    if not ints[HOLE]:
        return
    ints[HOLE] = 0
    n = ints[HEAP_N] - 1
    ints[HEAP_N] = n
    if n > 0:
        last = heap[n]
        t, seq, inst, arrival, service = last.time, last.seq, last.instance, last.arrival, last.service
        entry = heap[_sift_down(heap, n, t, seq)]
        entry.time, entry.seq, entry.instance, entry.arrival, entry.service = t, seq, inst, arrival, service


def _draw(ints: np.ndarray, streams: np.ndarray, stream: int) -> float:
    i = ints[DRAWN + stream]
    ints[DRAWN + stream] = i + 1
    return streams[i]


def _enqueue(ints: np.ndarray, stations: np.ndarray, pool: np.ndarray, inst: int, arrival: float) -> None:
    node = ints[FREE_NODE]
    ints[FREE_NODE] = pool[node].next
    ints[FREE_N] -= 1
    pool[node].value = arrival
    pool[node].next = -1
    station = stations[inst]
    if station.length == 0:
        station.head = node
    else:
        pool[station.tail].next = node
    station.tail = node
    station.length += 1


def _dequeue(ints: np.ndarray, stations: np.ndarray, pool: np.ndarray, inst: int) -> float:
    station = stations[inst]
    node = station.head
    station.head = pool[node].next
    station.length -= 1
    pool[node].next = ints[FREE_NODE]
    ints[FREE_NODE] = node
    ints[FREE_N] += 1
    return pool[node].value


def _arrive(ints: np.ndarray, heap: np.ndarray, stations: np.ndarray, pool: np.ndarray,
            streams: np.ndarray, now: float) -> None:
    """A request reaches the endpoint: count it, route it, start it or queue it."""
    ints[ISSUED] += 1
    inst = 0
    if ints[ROUTED]:
        inst = int(_draw(ints, streams, ROUTE))
    if stations[inst].busy < ints[WORKERS]:
        stations[inst].busy += 1
        s = _draw(ints, streams, SERVICE)
        _push(ints, heap, now + s, inst, now, s)
    else:
        _enqueue(ints, stations, pool, inst, now)


def _record(ints: np.ndarray, out: np.ndarray, now: float, inst: int, arrival: float, service: float) -> None:
    n = ints[OUT_N]
    ints[OUT_N] = n + 1
    out[COMPLETION, n] = now
    out[LATENCY, n] = now - arrival
    out[SERVICE_TIME, n] = service
    out[INSTANCE, n] = inst


def _record_overhead(ints: np.ndarray, out: np.ndarray, value: float) -> float:
    n = ints[OVERHEAD_N]
    ints[OVERHEAD_N] = n + 1
    out[OVERHEAD_TIME, n] = value
    return value


def _complete(ints: np.ndarray, heap: np.ndarray, stations: np.ndarray, pool: np.ndarray,
              streams: np.ndarray, out: np.ndarray, now: float) -> None:
    """The root completion (taken): record it, start the next queued request, let its user go on."""
    root = heap[0]
    inst, arrival, service = root.instance, root.arrival, root.service
    _record(ints, out, now, inst, arrival, service)
    if stations[inst].length > 0:
        s = _draw(ints, streams, SERVICE)
        _push(ints, heap, now + s, inst, _dequeue(ints, stations, pool, inst), s)
    else:
        stations[inst].busy -= 1
    if ints[CLOSED]:
        if ints[RETIRE] > 0:
            ints[RETIRE] -= 1
            ints[LIVE] -= 1
        elif ints[HAS_OVERHEAD] or ints[HAS_THINK]:
            delay = 0.0
            if ints[HAS_OVERHEAD]:
                delay = _record_overhead(ints, out, _draw(ints, streams, OVERHEAD))
            if ints[HAS_THINK]:
                delay += _draw(ints, streams, THINK)
            _push(ints, heap, now + delay, DELAY, 0.0, 0.0)
        else:
            _arrive(ints, heap, stations, pool, streams, now)
    elif ints[HAS_OVERHEAD]:
        _record_overhead(ints, out, _draw(ints, streams, OVERHEAD))


def _delay_over(ints: np.ndarray, heap: np.ndarray, stations: np.ndarray, pool: np.ndarray,
                streams: np.ndarray, now: float) -> None:
    """A user's overhead and think time are over: it invokes again unless the traffic removed it."""
    if ints[RETIRE] > 0:
        ints[RETIRE] -= 1
        ints[LIVE] -= 1
    else:
        _arrive(ints, heap, stations, pool, streams, now)


def _resize(ints: np.ndarray, heap: np.ndarray, stations: np.ndarray, pool: np.ndarray,
            streams: np.ndarray, now: float, target: int) -> None:
    """harness.Population.resize: new users invoke at once, removed ones stop after their request."""
    current = ints[LIVE] - ints[RETIRE]
    if target < current:
        ints[RETIRE] += current - target
        return
    ints[RETIRE] -= min(ints[RETIRE], target - current)
    for _ in range(target - ints[LIVE]):
        ints[LIVE] += 1
        _arrive(ints, heap, stations, pool, streams, now)


def _next_entry(ints: np.ndarray, heap: np.ndarray, traffic: np.ndarray) -> tuple[int, float, int]:
    """Where the earliest entry is, its time and its sequence number (closed-loop change i was
    pushed i-th, before anything else; an open arrival when the previous one ran)."""
    where, t, s = NOTHING, np.inf, 0
    if ints[HEAP_N] > 0:
        where, t, s = FROM_HEAP, heap[0].time, heap[0].seq
    i = ints[CURSOR]
    if i < traffic.size:
        seq = i if ints[CLOSED] else ints[ARRIVAL_SEQ]
        if where == NOTHING or _earlier(traffic[i].time, seq, t, s):
            where, t, s = FROM_TRAFFIC, traffic[i].time, seq
    return where, t, s


def _short(ints: np.ndarray, stream: int, need: int) -> bool:
    """Whether ``stream`` holds fewer than ``need`` unread draws (then the caller is told so)."""
    if ints[DRAWN + stream] + need <= ints[STREAM_END + stream]:
        return False
    ints[NEED_STREAM] = stream
    ints[NEED_COUNT] = need
    return True


def _shortage(ints: np.ndarray, out: np.ndarray, need: int) -> int:
    """DONE when an entry using up to ``need`` draws of each stream and queue nodes, and one
    completion and overhead record, can run; else what the caller must do first."""
    if (_short(ints, SERVICE, need) or (ints[ROUTED] and _short(ints, ROUTE, need))
            or (ints[HAS_OVERHEAD] and _short(ints, OVERHEAD, need))
            or (ints[HAS_THINK] and _short(ints, THINK, need))):
        return NEED_DRAWS
    if ints[FREE_N] < need:
        ints[NEED_COUNT] = need
        return QUEUE_FULL
    if ints[OUT_N] >= out.shape[1] or ints[OVERHEAD_N] >= out.shape[1]:
        return OUT_FULL
    return DONE


def advance(ints: np.ndarray, heap: np.ndarray, stations: np.ndarray, pool: np.ndarray,
            streams: np.ndarray, traffic: np.ndarray, out: np.ndarray, limit: tuple[float, int, int]) -> int:
    """Run every entry that comes before the Python entry ``limit`` (time, priority, sequence);
    DONE, or the status of what the caller must provide before the next entry can run."""
    limit_t, limit_p, limit_s = limit
    while True:
        where, t, s = _next_entry(ints, heap, traffic)
        if where == NOTHING or not _runs_before(t, s, limit_t, limit_p, limit_s):
            return DONE
        need = 2  # a completion starts the next queued request and its user's next one
        if where == FROM_TRAFFIC and ints[CLOSED]:
            need = max(2, traffic[ints[CURSOR]].users - ints[LIVE])
        status = _shortage(ints, out, need)
        if status != DONE:
            return status
        if where == FROM_HEAP:
            ints[HOLE] = 1
            if heap[0].instance == DELAY:
                _delay_over(ints, heap, stations, pool, streams, t)
            else:
                _complete(ints, heap, stations, pool, streams, out, t)
            _close_hole(ints, heap)
        elif ints[CLOSED]:
            ints[CURSOR] += 1
            _resize(ints, heap, stations, pool, streams, t, traffic[ints[CURSOR] - 1].users)
        else:
            ints[CURSOR] += 1
            _arrive(ints, heap, stations, pool, streams, t)
            if ints[CURSOR] < traffic.size:  # the Python loop pushes the next arrival now
                ints[ARRIVAL_SEQ] = ints[SEQ]
                ints[SEQ] += 1


#: The functions compiled, helpers before their callers.
KERNEL_FUNCTIONS = ("_earlier", "_runs_before", "_sift_down", "_push", "_close_hole", "_draw", "_enqueue",
                    "_dequeue", "_arrive", "_record", "_record_overhead", "_complete", "_delay_over", "_resize",
                    "_next_entry", "_short", "_shortage", "advance")


def compile_kernel(numba: Any) -> Any:
    """:func:`advance` compiled by ``numba`` (the module, imported by the caller).

    Each function is compiled from a copy whose globals name the compiled helpers, so the
    functions above stay plain Python and importing this module needs no numba. The helpers
    are inlined into :func:`advance` (``inline="always"``), and nothing is compiled with
    numba's reference-counting runtime (``_nrt=False``): the loop allocates nothing, and the
    runtime's atomic increments on every array handed to a helper cost more than the
    events themselves (about 3x the time per request, measured). Compilation happens at the
    first call, from the disk cache when it holds this source's machine code."""
    return compile_functions(numba, globals(), KERNEL_FUNCTIONS)


def compile_functions(numba: Any, module_globals: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The last of ``names`` (plain functions of the module whose ``module_globals`` are given,
    helpers before their callers) compiled by ``numba`` as :func:`compile_kernel` says: each from
    a copy whose globals name the compiled helpers, the helpers inlined, cached on disk, no
    reference-counting runtime."""
    namespace = dict(module_globals)
    for name in names:
        plain = module_globals[name]
        copy = types.FunctionType(plain.__code__, namespace, name, plain.__defaults__)
        copy.__qualname__, copy.__module__ = plain.__qualname__, plain.__module__
        inline = "never" if name == names[-1] else "always"
        namespace[name] = numba.njit(cache=True, nogil=True, inline=inline, _nrt=False)(copy)
    return namespace[names[-1]]
