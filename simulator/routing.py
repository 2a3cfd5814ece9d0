"""Least-outstanding-requests routing in O(log K) per request.

SageMaker's ``LEAST_OUTSTANDING_REQUESTS`` sends a request to the instance with the fewest
requests in service or queued; irsim breaks ties toward the lowest index. Scanning all K
instances per request made routing the hot path's dominant cost at hundreds of instances
(0.04 M requests/s at 256 instances against 0.43 M/s for random routing), so the choice
comes from a binary heap instead.

Each instance has a key ``count << shift | index``, where ``shift`` leaves room for every
index: keys order exactly as ``(count, index)`` pairs do, which is the scan's order (fewest
first, then the lowest index), so every choice is the scan's. Plain ints compare several
times faster than pairs inside ``heapq``. A count change pushes the new key and leaves the
old one behind, stale; a stale key (one that is not its instance's current key) is dropped
when it reaches the top. Every instance has its current key in the heap, so the first
current key on top is the minimum. When stale keys make the heap more than a few times K
long it is rebuilt from the current keys, which keeps its size O(K) and the amortised cost
per request O(log K).

One exception to "every instance has its current key in the heap" makes the common case
free: the instance of the latest completion is *pending*, its lowered key not pushed yet.
Under closed-loop load the request issued at a completion almost always goes straight back
to the instance that just finished (it is the only one with the fewest). So :meth:`take`
first compares the pending key with the heap's top: if it is smaller it is smaller than
every key, the pending instance is the answer, and its count returns to the value whose key
is still in the heap; no heap operation at all. Otherwise, or at the next completion, the
pending key is pushed like any other.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush, heapreplace


class LeastOutstanding:
    """The outstanding-request count of each of ``instances`` instances, and which instance
    a new request goes to.

    The engine calls :meth:`take` for every request that arrives (it becomes outstanding
    where it goes) and :meth:`release` for every request that completes.
    """

    __slots__ = ("_heap", "_keys", "_limit", "_mask", "_pending", "_shift", "_unit")

    def __init__(self, instances: int) -> None:
        if instances < 1:
            raise ValueError(f"instances must be >= 1, got {instances!r}")
        self._shift = instances.bit_length()
        self._unit = 1 << self._shift  # one outstanding request, in key units
        self._mask = self._unit - 1  # the index bits of a key
        self._keys = list(range(instances))  # count 0 everywhere: the key is the index
        self._heap = self._keys[:]  # sorted, hence already a heap
        self._limit = 4 * instances + 64
        self._pending = -1  # the instance whose current key is not in the heap yet, if any

    def count(self, inst: int) -> int:
        """Requests outstanding at instance ``inst``."""
        return self._keys[inst] >> self._shift

    def take(self) -> int:
        """The instance with the fewest outstanding requests (the lowest index among equals),
        counting one more request outstanding there."""
        heap, keys = self._heap, self._keys
        pending = self._pending
        if pending >= 0:
            self._pending = -1
            key = keys[pending]
            if key < heap[0]:
                # Below every key in the heap: the minimum. One more request brings its count
                # back to the value it had before the completion, whose key is still in the heap.
                keys[pending] = key + self._unit
                return pending
            heappush(heap, key)
        mask = self._mask
        key = heap[0]
        inst = key & mask
        while keys[inst] != key:
            heappop(heap)  # stale: that instance's count has changed since
            key = heap[0]
            inst = key & mask
        key += self._unit
        keys[inst] = key
        heapreplace(heap, key)
        return inst

    def release(self, inst: int) -> None:
        """A request outstanding at instance ``inst`` has completed."""
        keys = self._keys
        pending = self._pending
        if pending >= 0:
            heap = self._heap
            heappush(heap, keys[pending])
            if len(heap) > self._limit:
                self._rebuild()
        keys[inst] -= self._unit
        self._pending = inst

    def _rebuild(self) -> None:
        """Drop every stale key: the heap becomes the current keys (the pending one included)."""
        heap = self._keys[:]
        heapify(heap)
        self._heap = heap
        self._pending = -1
