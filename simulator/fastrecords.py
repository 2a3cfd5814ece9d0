"""Records for the fast path: :class:`~simulator.records.Records` itself, its per-request
columns held in numpy arrays instead of ``array('d')``.

The compiled loop hands its records over in chunks of thousands; a numpy column takes a chunk
in one slice assignment and grows by doubling into a fresh numpy allocation (transparent huge
pages where the system offers them), where ``array.frombytes`` grew page by page: on the
project's machine, appending the reference run's 1.2 million requests cost about a third of
the fast path's time. Every statistic is still computed by ``Records`` and
:func:`simulator.metrics.summarize` on the same values, so the minutes are the same.
"""

from __future__ import annotations

import numpy as np

from simulator.records import Records

FIRST_CAPACITY = 1 << 10


class Column:
    """A growable column of one dtype with the part of ``array``'s interface ``Records`` uses:
    ``len``, a slice from a cursor (a copy), ``del column[:]``, and ``extend`` for a chunk."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: type[np.generic], capacity: int = FIRST_CAPACITY) -> None:
        # Room for what the run may hold at once (its bounds): the pages are only committed as
        # they fill, and the column never doubles past what it needs.
        self.data: np.ndarray = np.empty(max(FIRST_CAPACITY, capacity), dtype=dtype)
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
    :class:`Column` s; the other columns (serverless only) stay empty arrays."""

    __slots__ = ()

    def __init__(self, keep: bool = True, capacity: int = FIRST_CAPACITY) -> None:
        super().__init__(keep=keep)
        # Records annotates its columns as arrays; a Column stands in for one (the interface above).
        # Completions and instances are kept only for a run that keeps its requests (no minute reads them).
        self.completion_s = Column(np.float64, capacity if keep else 0)  # type: ignore[assignment]
        self.latency_s = Column(np.float64, capacity)  # type: ignore[assignment]
        self.service_s = Column(np.float64, capacity)  # type: ignore[assignment]
        self.overhead_s = Column(np.float64)  # type: ignore[assignment]
        self.instance = Column(np.int32)  # type: ignore[assignment]

    def kept(self, name: str) -> np.ndarray:
        """One record column as numpy, once the run is over."""
        column = getattr(self, name)
        return column.values() if isinstance(column, Column) else super().kept(name)
