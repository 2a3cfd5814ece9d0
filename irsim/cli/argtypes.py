"""argparse value types that name the allowed range in their error (exit 2, no traceback)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def integer(minimum: int) -> Callable[[str], int]:
    """An integer >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value
    return parse


def number(minimum: float | None = None, what: str = "a number") -> Callable[[str], float]:
    """A finite float, >= ``minimum`` when one is given."""
    allowed = f"{what} >= {minimum:g}" if minimum is not None else f"a finite {what.removeprefix('a ')}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (minimum is not None and value < minimum):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value
    return parse
