"""Checks for the numbers and choices every reader takes: one wording for every field.

Each check returns the value it accepted (a float for numbers) or raises InputError naming
the field and the allowed range. ``bool`` is never a number here, though Python lets it be
an ``int``. Numbers must be finite unless a bound says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from simulator.errors import InputError


def is_number(value: Any) -> bool:
    """An int or float that is not a bool (finite or not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bound(value: float) -> str:
    """A bound as written: an integer in full (2**63 - 1 is not 9.22337e+18)."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def _range_text(minimum: float | None, maximum: float | None, strict_minimum: bool,
                strict_maximum: bool = False) -> str:
    low = "" if minimum is None else f"{'>' if strict_minimum else '>='} {_bound(minimum)}"
    high = "" if maximum is None else f"{'<' if strict_maximum else '<='} {_bound(maximum)}"
    return " and ".join(part for part in (low, high) if part)


def number(value: Any, field: str, *, minimum: float | None = None, maximum: float | None = None,
           strict_minimum: bool = False, strict_maximum: bool = False, what: str = "a number") -> float:
    """A finite number within [minimum, maximum] (``strict_minimum``: above minimum;
    ``strict_maximum``: below maximum)."""
    bounds = _range_text(minimum, maximum, strict_minimum, strict_maximum)
    allowed = f"{what}{' ' + bounds if bounds else ''}"
    if not is_number(value) or not math.isfinite(value):
        raise InputError(field, f"must be {allowed}, got {value!r}")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        raise InputError(field, f"must be {allowed}, got {value!r}")
    if maximum is not None and (value >= maximum if strict_maximum else value > maximum):
        raise InputError(field, f"must be {allowed}, got {value!r}")
    return float(value)


def positive(value: Any, field: str, *, maximum: float | None = None, what: str = "a number") -> float:
    """A finite number > 0 (and <= maximum)."""
    return number(value, field, minimum=0, maximum=maximum, strict_minimum=True, what=what)


def integer(value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None,
            what: str = "an integer", bounds: str | None = None) -> int:
    """An int (not a bool) within [minimum, maximum]; ``bounds`` words the range when a bound
    is another field's value (``from 0 to max_concurrency (5)``)."""
    bounds = bounds or _range_text(minimum, maximum, False)
    allowed = f"{what}{' ' + bounds if bounds else ''}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, f"must be {allowed}, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InputError(field, f"must be {allowed}, got {value!r}")
    return value


def choice(value: Any, field: str, allowed: Collection[Any]) -> Any:
    """One of ``allowed``."""
    if value not in allowed:
        raise InputError(field, f"must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return value


def seed(value: Any, field: str = "seed") -> int:
    """A random seed: an integer from 0 to 2**63 - 1 (what numpy's SeedSequence and SQLite keep)."""
    return integer(value, field, minimum=0, maximum=2**63 - 1)
