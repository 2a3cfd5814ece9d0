"""Per-request records of a run, closed into exact per-minute statistics as each minute ends.

The engines append raw doubles (``array``: no Python number survives a record). At every
minute boundary the minute clock closes the minute: :func:`simulator.metrics.summarize` turns
its records into a :class:`~simulator.metrics.MinuteStats`; a run that does not keep its
requests then drops them, so its memory does not grow with its length (issue 15: the largest
legal job is about 8.7 million requests per benchmark).
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from simulator.metrics import MinuteStats, summarize

MINUTE_EPSILON_S = 1e-9  # a last minute shorter than this is no minute


class Records:
    """The arrays the engines append to, and the minutes closed so far.

    ``completion_s``, ``latency_s``, ``service_s``, ``setup_s`` and ``instance`` hold one value
    per completion (``setup_s`` only in serverless runs, whose service time is their latency and
    so fill no ``service_s``; ``instance`` only on endpoints of more than one instance);
    ``overhead_s`` one per overhead latency drawn; ``throttle_s`` the instant of every throttled
    attempt.
    """

    __slots__ = ("_completed", "_cursor", "_overhead_cursor", "_throttle_cursor", "completion_s", "instance",
                 "keep", "latency_s", "minutes", "overhead_s", "service_is_latency", "service_s", "setup_s",
                 "throttle_s")

    def __init__(self, keep: bool = True, service_is_latency: bool = False) -> None:
        self.keep = keep
        self.service_is_latency = service_is_latency  # serverless: no queue, so no second array
        self.completion_s, self.latency_s, self.service_s = array("d"), array("d"), array("d")
        self.overhead_s, self.setup_s, self.throttle_s = array("d"), array("d"), array("d")
        self.instance = array("i")
        self.minutes: list[MinuteStats] = []
        self._cursor = self._overhead_cursor = self._throttle_cursor = 0
        self._completed = 0  # completions in minutes already closed and dropped

    def open_percentile(self, p: float) -> float:
        """The ``p``-th latency percentile (seconds) of the minute in progress; NaN when empty."""
        latencies = _copy(self.latency_s, self._cursor)
        return float(np.percentile(latencies, p)) if latencies.size else math.nan

    def close_minute(self, start_s: float, seconds: float) -> MinuteStats:
        """Summarize the records since the last close as one minute, then drop them unless kept."""
        stats = self._summarize_open(start_s, seconds)
        self.minutes.append(stats)
        if self.keep:
            self._cursor, self._overhead_cursor = len(self.latency_s), len(self.overhead_s)
            self._throttle_cursor = len(self.throttle_s)
        else:
            self._completed += len(self.latency_s)
            for records in (self.completion_s, self.latency_s, self.service_s, self.overhead_s, self.setup_s,
                            self.throttle_s, self.instance):
                del records[:]  # the same array objects: the engines' bound appends stay valid
        return stats

    def _summarize_open(self, start_s: float, seconds: float) -> MinuteStats:
        first = self._cursor
        latency = _copy(self.latency_s, first)
        return summarize(len(self.minutes), start_s, seconds, latency,
                         latency if self.service_is_latency else _copy(self.service_s, first),
                         _copy(self.overhead_s, self._overhead_cursor),
                         setup_s=_copy(self.setup_s, first) if len(self.setup_s) else None,
                         throttled=len(self.throttle_s) - self._throttle_cursor)

    def close_last_minute(self, end_s: float) -> None:
        """Close the partial minute the run ended in (none when it ended on a boundary)."""
        start = self.minutes[-1].start_s + self.minutes[-1].seconds if self.minutes else 0.0
        if not self.minutes or end_s - start > MINUTE_EPSILON_S:
            self.close_minute(start, end_s - start)

    @property
    def completed(self) -> int:
        """Every completion recorded, kept or not."""
        return self._completed + len(self.latency_s)

    def kept(self, name: str) -> np.ndarray:
        """One record array as numpy, once the run is over (no copy: the array can no longer
        grow): the whole run when kept, else what remains."""
        records = getattr(self, name)
        return np.frombuffer(records, dtype=np.int32 if name == "instance" else float)


def _copy(records: array, first: int) -> np.ndarray:
    """The records from ``first`` on, copied: never a view, since an array with a live view
    cannot grow, and a view can outlive its function (a sampling profiler such as Dask's
    holds the frames it samples, and their locals with them)."""
    return np.frombuffer(records[first:], dtype=float)
