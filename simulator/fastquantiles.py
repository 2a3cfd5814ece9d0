"""numpy's linear percentiles of a minute's latencies, the same numbers at a fraction of the
cost, for the fast path's minute summaries (:mod:`simulator.fastrecords`).

``np.percentile(x, PERCENTILES)`` partitions a copy of ``x`` around every index it needs and
interpolates between neighbours. On the fast path's reference run that was about a third of
the run's time (about 0.3 ms a minute of 12,000 latencies, Python overhead included), more than
the compiled event loop itself. Here a compiled selection (:func:`order_statistics`, by
numba, as :mod:`simulator.fastloop`) finds the same order statistics, whose values do not
depend on how they are found, and :func:`linear_percentiles` interpolates them with numpy's own
operations in numpy's order (``_quantile``, ``_get_indexes``, ``_get_gamma`` and ``_lerp`` of
numpy's linear method), so every bit agrees. :func:`agrees` checks that against
``np.percentile`` once per process, over sizes, ties and spreads; where it does not (another
numpy, another definition), the fast path keeps ``np.percentile``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.fastloop import compile_functions
from simulator.metrics import PERCENTILES

#: numpy's quantiles of PERCENTILES, as np.percentile computes them (q / 100 in float64).
QUANTILES = np.true_divide(PERCENTILES, 100)
#: Rounds of partitioning a selection may take before it heap-sorts what is left (no
#: quadratic case, whatever the data).
MAX_ROUNDS = 64
#: Values sampled, evenly spaced, to choose each round's two pivots; the pivots lie WIDTH
#: sample ranks either side of the one the wanted rank falls on.
SAMPLE = 63
WIDTH = 7
#: A range this short is sorted outright.
SMALL = 64

#: Selects order statistics: (values, scratch, aux, sample, ranks, out) -> False when a value is NaN.
Select = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], bool]


def _sift(values: np.ndarray, lo: int, root: int, end: int) -> None:
    """Move values[lo + root] down the max-heap values[lo:lo + end]."""
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and values[lo + child] < values[lo + child + 1]:
            child += 1
        if not values[lo + root] < values[lo + child]:
            return
        values[lo + root], values[lo + child] = values[lo + child], values[lo + root]
        root = child


def _heapsort(values: np.ndarray, lo: int, hi: int) -> None:
    """Sort values[lo:hi + 1] in place."""
    n = hi - lo + 1
    for root in range(n // 2 - 1, -1, -1):
        _sift(values, lo, root, n)
    for end in range(n - 1, 0, -1):
        values[lo], values[lo + end] = values[lo + end], values[lo]
        _sift(values, lo, 0, end)


def _insertion_sort(values: np.ndarray, lo: int, hi: int) -> None:
    """Sort the short values[lo:hi + 1] in place."""
    for i in range(lo + 1, hi + 1):
        v = values[i]
        j = i - 1
        while j >= lo and values[j] > v:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = v


def _counts(values: np.ndarray, lo: int, hi: int, low: float, high: float) -> tuple[int, int]:
    """How many of values[lo:hi + 1] lie below ``low`` and above ``high`` (no branch: vectorized)."""
    below = above = 0
    for i in range(lo, hi + 1):
        v = values[i]
        below += v < low
        above += v > high
    return below, above


def _place(values: np.ndarray, lo: int, hi: int, low: float, high: float, below: int, aux: np.ndarray) -> None:
    """Rearrange values[lo:hi + 1] into those below ``low``, those within [low, high], those above
    ``high`` (``below`` of the first), without a branch per value: each value is written to the
    next slot of all three groups in ``aux`` and only its own group's cursor moves (a spare
    slot after each group takes the writes a full group no longer keeps)."""
    m = hi - lo + 1
    first, middle, last = 0, below + 1, m + 1
    for i in range(lo, hi + 1):
        v = values[i]
        aux[first] = v
        aux[middle] = v
        aux[last] = v
        lower, upper = v < low, v > high
        first += lower
        last -= upper
        middle += 1 - lower - upper
    inside = middle - below - 1
    for i in range(below):
        values[lo + i] = aux[i]
    for i in range(inside):
        values[lo + below + i] = aux[below + 1 + i]
    for i in range(m - below - inside):
        values[lo + below + inside + i] = aux[last + 1 + i]


def _select(values: np.ndarray, lo: int, hi: int, k: int, aux: np.ndarray, sample: np.ndarray) -> None:
    """Rearrange values[lo:hi + 1] so that values[k] is in its sorted place, nothing above it
    before it and nothing below it after it. Each round brackets rank k between two pivots
    read off a sorted sample and splits the range three ways around them (Floyd and Rivest's
    idea, without a branch per value: on latencies a branchy partition mispredicts about every
    other comparison); a short range is sorted."""
    for _ in range(MAX_ROUNDS):
        m = hi - lo + 1
        if m <= SMALL:
            _insertion_sort(values, lo, hi)
            return
        for s in range(SAMPLE):
            sample[s] = values[lo + (2 * s + 1) * m // (2 * SAMPLE)]
        _insertion_sort(sample, 0, SAMPLE - 1)
        t = k - lo
        j = (2 * t + 1) * SAMPLE // (2 * m)
        low, high = sample[max(0, j - WIDTH)], sample[min(SAMPLE - 1, j + WIDTH)]
        below, above = _counts(values, lo, hi, low, high)
        if below + above == 0:  # every value lies within the bracket (ties): split at ``low`` alone
            high = low
            below, above = _counts(values, lo, hi, low, high)
        _place(values, lo, hi, low, high, below, aux)
        if t < below:
            hi = lo + below - 1
        elif t >= m - above:
            lo = lo + m - above
        elif low == high:  # rank k is among values all equal to ``low``: in place
            return
        else:
            lo, hi = lo + below, lo + m - above - 1
    _heapsort(values, lo, hi)


def order_statistics(values: np.ndarray, scratch: np.ndarray, aux: np.ndarray, sample: np.ndarray,
                     ranks: np.ndarray, out: np.ndarray) -> bool:
    """out[i] = the ranks[i]-th smallest of ``values`` (ranks ascending, 0-based), selected in a
    copy in ``scratch`` (``aux`` two longer, ``sample`` SAMPLE long, for :func:`_select`); False
    (nothing selected) when a value is NaN."""
    n = values.size
    for i in range(n):
        v = values[i]
        if v != v:
            return False
        scratch[i] = v
    lo, previous = 0, -2
    for i in range(ranks.size):
        r = ranks[i]
        if r == previous + 1:  # the smallest of what lies above the last rank
            best = r
            for j in range(r + 1, n):
                if scratch[j] < scratch[best]:
                    best = j
            scratch[r], scratch[best] = scratch[best], scratch[r]
        elif r != previous:
            _select(scratch, lo, n - 1, r, aux, sample)
        out[i] = scratch[r]
        lo, previous = r + 1, r
    return True


#: The functions compiled, helpers before their callers.
SELECT_FUNCTIONS = ("_sift", "_heapsort", "_insertion_sort", "_counts", "_place", "_select", "order_statistics")


def compile_select(numba: Any) -> Select:
    """:func:`order_statistics` compiled by ``numba`` (as :func:`simulator.fastloop.compile_kernel`
    compiles the event loop: copies of the plain functions, cached on disk, no runtime)."""
    compiled: Select = compile_functions(numba, globals(), SELECT_FUNCTIONS)
    return compiled


@dataclass(frozen=True)
class Plan:
    """What numpy's linear percentiles of ``n`` values read: the ranks to select (ascending),
    and per percentile where its two neighbours are among them and its interpolation weight."""

    ranks: np.ndarray
    previous: tuple[int, ...]
    following: tuple[int, ...]
    gamma: tuple[float, ...]


@functools.lru_cache(maxsize=256)
def plan(n: int) -> Plan:
    """numpy's ``_quantile`` (linear method) for ``n`` values, up to the interpolation: virtual
    indexes (n - 1) q, their floors and the next index (both -1, the largest value, at or beyond
    the last index) and gamma = virtual - floor, in numpy's dtypes. Minutes of one run hold about
    as many requests each, so a few sizes recur."""
    virtual = (n - 1) * QUANTILES
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1
    previous[above] = -1
    following[above] = -1
    previous_index, following_index = previous.astype(np.intp), following.astype(np.intp)
    gamma = np.asanyarray(virtual - previous_index, dtype=virtual.dtype)
    ranks = np.unique(np.concatenate([previous_index, following_index]) % n)
    where = {int(rank): i for i, rank in enumerate(ranks)}
    return Plan(ranks=ranks.astype(np.int64), previous=tuple(where[int(i) % n] for i in previous_index),
                following=tuple(where[int(i) % n] for i in following_index), gamma=tuple(float(g) for g in gamma))


def buffers(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The work arrays :func:`linear_percentiles` needs for up to ``n`` values."""
    return np.empty(n), np.empty(n + 2), np.empty(SAMPLE)


def linear_percentiles(select: Select, values: np.ndarray,
                       work: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[float] | None:
    """``np.percentile(values, PERCENTILES)`` to the bit (``values`` non-empty; ``work`` from
    :func:`buffers`, for as many values at least), or None when a value is NaN: the order statistics by ``select``, then
    numpy's ``_lerp`` in Python floats (IEEE doubles, each operation rounded as numpy's is):
    a + (b - a) g, or b - (b - a)(1 - g) where g >= 0.5."""
    values = np.ascontiguousarray(values)
    steps = plan(values.size)
    selected = np.empty(steps.ranks.size)
    if not select(values, *work, steps.ranks, selected):
        return None
    found = selected.tolist()
    result = []
    for previous, following, gamma in zip(steps.previous, steps.following, steps.gamma, strict=True):
        a, b = found[previous], found[following]
        difference = b - a
        result.append(b - difference * (1 - gamma) if gamma >= 0.5 else a + difference * gamma)
    return result


def agrees(select: Select) -> bool:
    """Whether :func:`linear_percentiles` gives np.percentile's bits on samples of every size
    from 1 to 40 and a few large ones, with ties, equal values and spreads of any scale."""
    rng = np.random.Generator(np.random.PCG64(20221))
    sizes = [*range(1, 33), 99, 100, 101, 1000, 1001, 12016]
    for n in sizes:
        for values in (rng.lognormal(-3.0, 1.0, n), np.round(rng.exponential(5.0, n)), np.full(n, 0.1),
                       rng.normal(0.0, 1e-9, n), np.sort(rng.random(n))[::-1].copy()):
            mine = linear_percentiles(select, values, buffers(n))
            if mine is None or np.array(mine).tobytes() != np.percentile(values, PERCENTILES).tobytes():
                return False
    return True
