"""argparse value types that name the allowed range in their error (exit 2, no traceback)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_SEED = 2**63 - 1


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An integer >= ``minimum`` (and <= ``maximum``)."""
    allowed = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value
    return parse


#: A random seed as every command takes it: what numpy's SeedSequence and the job store keep.
seed = integer(0, MAX_SEED)


def number(minimum: float | None = None, what: str = "a number",
           maximum: float | None = None) -> Callable[[str], float]:
    """A finite float, >= ``minimum`` and <= ``maximum`` when they are given."""
    if maximum is not None and minimum is not None:
        allowed = f"{what} from {minimum:g} to {maximum:g}"
    elif minimum is not None:
        allowed = f"{what} >= {minimum:g}"
    else:
        allowed = f"a finite {what.removeprefix('a ')}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if (not math.isfinite(value) or (minimum is not None and value < minimum)
                or (maximum is not None and value > maximum)):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value
    return parse


def precision(text: str) -> float:
    """A decision's relative precision (``--precision``): a share from 0.002 to 0.5."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.002 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"must be a share from 0.002 to 0.5 (0.01 is +-1 %), got {text!r}")
    return value
