"""Minutes as users count them. CloudWatch's console and Inference Recommender's users number a
benchmark's minutes from 1; the simulator indexes them from 0. Every file, chart and page irsim
writes converts here, and only here."""

from __future__ import annotations

import pandas as pd

#: The number of a benchmark's first minute in every output (metrics.csv, irsim.json, charts, report).
FIRST_MINUTE = 1


def minute_number(index: int | None) -> int | None:
    """The user-facing number of the simulator's minute ``index`` (0-based); None stays None."""
    return None if index is None else int(index) + FIRST_MINUTE


def numbered_minutes(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a simulator per-minute frame whose ``minute`` column counts from FIRST_MINUTE."""
    numbered = frame.copy()
    if "minute" in numbered:
        numbered["minute"] = numbered["minute"].astype(int) + FIRST_MINUTE
    return numbered
