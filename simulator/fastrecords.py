"""Records for the fast path: :class:`~simulator.records.Records` itself, its per-request
columns held in numpy arrays instead of ``array('d')``, and its minutes' percentiles found by
a compiled selection (:mod:`simulator.fastquantiles`).

The compiled loop hands its records over in chunks of thousands; a numpy column takes a chunk
in one slice assignment, where ``array.frombytes`` grew page by page: on the project's
machine, appending the reference run's 1.2 million requests cost about a third of the fast
path's time. A run that keeps its requests reserves its columns at once. Every minute is still
summarized by :func:`simulator.metrics.summarize`'s formulas on the same values, its latency
percentiles numpy's own to the bit, so the minutes are the Python engine's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from simulator.fastquantiles import Select, buffers, linear_percentiles
from simulator.metrics import PERCENTILES, MinuteStats, summarize
from simulator.records import Records

FIRST_CAPACITY = 1 << 10
#: The most values a column reserves before the run (virtual memory: pages are only touched as
#: records arrive); a run that records more grows the column by doubling.
MAX_RESERVED = 1 << 25


class Column:
    """A growable column of one dtype with the part of ``array``'s interface ``Records`` uses:
    ``len``, a slice from a cursor (a copy), ``del column[:]``, and ``extend`` for a chunk."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: type[np.generic], capacity: int = FIRST_CAPACITY) -> None:
        self.data: np.ndarray = np.empty(max(FIRST_CAPACITY, min(capacity, MAX_RESERVED)), dtype=dtype)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, part: slice) -> np.ndarray:
        return self.data[:self.size][part].copy()

    def __delitem__(self, part: slice) -> None:
        if part != slice(None):
            raise ValueError("a fast-path column is only ever emptied whole")
        self.size = 0

    def extend(self, chunk: np.ndarray) -> None:
        """Append ``chunk`` (converted to the column's dtype)."""
        end = self.size + chunk.size
        if end > self.data.size:
            grown = np.empty(max(end, 2 * self.data.size), dtype=self.data.dtype)
            grown[:self.size] = self.data[:self.size]
            self.data = grown
        self.data[self.size:end] = chunk
        self.size = end

    def values(self) -> np.ndarray:
        """Everything appended since the column was last emptied (a view: the run is over)."""
        return self.data[:self.size]


class FastRecords(Records):
    """``Records`` whose completion, latency, service, overhead and instance columns are
    :class:`Column` s; the other columns (serverless only) stay empty arrays.

    ``expected`` is about how many completions the run will keep: a run that keeps its
    requests reserves that much for each column at once (virtual memory, touched only as
    records arrive; growing by doubling from a thousand cost the reference run about 13 ns a
    request: every doubling copies the column into fresh pages). ``select`` is the compiled
    selection of :mod:`simulator.fastquantiles` (None: numpy's percentiles)."""

    __slots__ = ("_select", "_work")

    def __init__(self, keep: bool = True, expected: int = 0, select: Select | None = None) -> None:
        super().__init__(keep=keep)
        reserve = expected if keep else FIRST_CAPACITY
        # Records annotates its columns as arrays; a Column stands in for one (the interface above).
        self.completion_s = Column(np.float64, reserve)  # type: ignore[assignment]
        self.latency_s = Column(np.float64, reserve)  # type: ignore[assignment]
        self.service_s = Column(np.float64, reserve)  # type: ignore[assignment]
        self.overhead_s = Column(np.float64, reserve)  # type: ignore[assignment]
        self.instance = Column(np.int32, reserve)  # type: ignore[assignment]
        self._select = select
        self._work = buffers(0)

    def kept(self, name: str) -> np.ndarray:
        """One record column as numpy, once the run is over."""
        column = getattr(self, name)
        return column.values() if isinstance(column, Column) else super().kept(name)

    def _summarize_open(self, start_s: float, seconds: float) -> MinuteStats:
        """``Records._summarize_open`` on views of the columns (nothing copied), the latency
        figures by :meth:`_latency_figures`; every other figure by ``summarize`` itself."""
        latency = _since(self.latency_s, self._cursor)
        stats = summarize(len(self.minutes), start_s, seconds, latency[:0], _since(self.service_s, self._cursor),
                          _since(self.overhead_s, self._overhead_cursor),
                          throttled=len(self.throttle_s) - self._throttle_cursor)
        if not latency.size:
            return stats
        return dataclasses.replace(stats, invocations=int(latency.size), latency_s=self._latency_figures(latency))

    def _latency_figures(self, latency: np.ndarray) -> tuple[float, ...]:
        """``summarize``'s latency figures of a non-empty minute: mean, minimum, maximum, then
        the PERCENTILES (the compiled selection's, numpy's bits; numpy's own without it)."""
        percentiles = None
        if self._select is not None:
            if self._work[0].size < latency.size:
                self._work = buffers(max(latency.size, 2 * self._work[0].size))
            percentiles = linear_percentiles(self._select, latency, self._work)
        if percentiles is None:
            percentiles = np.percentile(latency, PERCENTILES)
        return (float(latency.mean()), float(latency.min()), float(latency.max()), *(float(v) for v in percentiles))


def _since(column: Any, first: int) -> np.ndarray:
    """A :class:`Column`'s values from ``first`` on, as a view (the run only appends to it)."""
    values: np.ndarray = column.data[first:column.size]
    return values
