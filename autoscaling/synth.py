"""Synthetic traffic curves for what-ifs, and the text that names a curve (a file or a spec).

``synthesize`` builds invocations per minute from a ``Diurnal`` shape, ``Bursts`` and noise, in this order:

1. diurnal: ``trough + (peak - trough) (1 + cos(2 pi (h - peak_hour) / 24)) / 2`` at hour
   of day h (the curve starts at 00:00 of a Monday);
2. weekly: Saturdays and Sundays multiplied by ``weekend_factor``;
3. growth: day d (from 0) multiplied by ``(1 + growth_per_day) ** d``;
4. bursts: ``Bursts.count`` windows of ``Bursts.minutes`` minutes, starting at uniformly drawn
   minutes, multiplied by ``Bursts.height``;
5. noise: each minute multiplied by a lognormal factor of mean 1 and coefficient of
   variation ``noise``.

Every draw comes from ``numpy.random.default_rng(seed)``: the same parameters give the same
curve.

``parse_curve(text)`` reads a file path (``load_curve``) or a spec ``KIND:key=value,...``:

- ``diurnal:peak=30000,trough=3000,days=7,seed=0`` (keys: the fields of ``Diurnal`` and ``Bursts`` as
  ``peak``, ``trough``, ``days`` or ``hours`` or ``minutes``, ``peak_hour``, ``weekend``,
  ``bursts``, ``burst_height``, ``burst_minutes``, ``growth``, ``noise``, ``seed``);
- ``flat:rate=12000,hours=2`` (one rate; ``days``/``hours``/``minutes``, ``noise``, ``seed``);
- ``step:from=6000,to=18000,at=60,hours=2`` (``from`` until minute ``at``, then ``to``).

Rates are invocations per minute; a duration defaults to one day. Errors name the key
(``traffic.peak``) and its allowed range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autoscaling.curves import GAP_FILLS, MAX_MINUTES, MAX_PER_MINUTE, TrafficCurve, load_curve
from simulator import checks
from simulator.errors import InputError

MINUTES_PER_DAY = 24 * 60
MAX_BURSTS = 1000
MAX_NOISE = 2.0


@dataclass(frozen=True)
class _Key:
    """One spec key: how to check its value (field, text) and its default."""

    read: Callable[[str, str], Any]
    default: Any


def _rate(field: str, text: str) -> float:
    return checks.number(_float(field, text), field, minimum=0, maximum=MAX_PER_MINUTE, what="invocations per minute")


def _float(field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(field, f"must be a number, got {text!r}") from None


def _int(field: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(field, f"must be an integer, got {text!r}") from None


def _bounded(low: float, high: float, what: str) -> Callable[[str, str], float]:
    return lambda field, text: checks.number(_float(field, text), field, minimum=low, maximum=high, what=what)


def _count(low: int, high: int, what: str) -> Callable[[str, str], int]:
    return lambda field, text: checks.integer(_int(field, text), field, minimum=low, maximum=high, what=what)


_DURATION = {"days": _Key(_bounded(1 / MINUTES_PER_DAY, MAX_MINUTES / MINUTES_PER_DAY, "a number of days"), None),
             "hours": _Key(_bounded(1 / 60, MAX_MINUTES / 60, "a number of hours"), None),
             "minutes": _Key(_count(1, MAX_MINUTES, "a number of minutes"), None)}
_NOISE = {"noise": _Key(_bounded(0.0, MAX_NOISE, "a coefficient of variation"), 0.0),
          "seed": _Key(lambda field, text: checks.seed(_int(field, text), field), 0)}
SPEC_KEYS: dict[str, dict[str, _Key]] = {
    "diurnal": {"peak": _Key(_rate, None), "trough": _Key(_rate, None), **_DURATION,
                "peak_hour": _Key(_bounded(0.0, 24.0, "an hour of the day"), 14.0),
                "weekend": _Key(_bounded(0.0, 10.0, "a factor"), 1.0),
                "bursts": _Key(_count(0, MAX_BURSTS, "a number of bursts"), 0),
                "burst_height": _Key(_bounded(1.0, 100.0, "a factor"), 2.0),
                "burst_minutes": _Key(_count(1, MINUTES_PER_DAY, "a number of minutes"), 5),
                "growth": _Key(_bounded(-0.5, 1.0, "a daily growth rate"), 0.0), **_NOISE},
    "flat": {"rate": _Key(_rate, None), **_DURATION, **_NOISE},
    "step": {"from": _Key(_rate, None), "to": _Key(_rate, None),
             "at": _Key(_count(0, MAX_MINUTES, "a minute"), None), **_DURATION, **_NOISE},
}


@dataclass(frozen=True)
class Diurnal:
    """The curve's shape before bursts and noise: daily cosine, weekends, growth (steps 1-3)."""

    peak_per_min: float
    trough_per_min: float
    peak_hour: float = 14.0
    weekend_factor: float = 1.0
    growth_per_day: float = 0.0


@dataclass(frozen=True)
class Bursts:
    """``count`` windows of ``minutes`` minutes at uniformly drawn starts, times ``height`` (step 4)."""

    count: int = 0
    height: float = 2.0
    minutes: int = 5


def synthesize(shape: Diurnal, *, minutes: int = MINUTES_PER_DAY, bursts: Bursts = Bursts(), noise: float = 0.0,
               seed: int = 0) -> TrafficCurve:
    """``shape`` over ``minutes`` minutes with ``bursts`` and ``noise`` (module docstring)."""
    peak = checks.number(shape.peak_per_min, "peak", minimum=0, maximum=MAX_PER_MINUTE)
    trough = checks.number(shape.trough_per_min, "trough", minimum=0, maximum=peak, what="a rate <= peak")
    checks.integer(minutes, "minutes", minimum=1, maximum=MAX_MINUTES)
    checks.number(noise, "noise", minimum=0, maximum=MAX_NOISE)
    rng = np.random.default_rng(checks.seed(seed))
    t = np.arange(minutes)
    hour = (t % MINUTES_PER_DAY) / 60.0
    day = t // MINUTES_PER_DAY
    rate = trough + (peak - trough) * (1.0 + np.cos(2.0 * np.pi * (hour - shape.peak_hour) / 24.0)) / 2.0
    rate = rate * np.where(day % 7 >= 5, shape.weekend_factor, 1.0) * (1.0 + shape.growth_per_day) ** day
    for start in rng.integers(0, minutes, checks.integer(bursts.count, "bursts", minimum=0, maximum=MAX_BURSTS)):
        rate[start:start + bursts.minutes] *= bursts.height
    rate = _noisy(rate, noise, rng)
    source = (f"diurnal:peak={peak:g},trough={trough:g},minutes={minutes},peak_hour={shape.peak_hour:g},"
              f"weekend={shape.weekend_factor:g},bursts={bursts.count},burst_height={bursts.height:g},"
              f"burst_minutes={bursts.minutes},growth={shape.growth_per_day:g},noise={noise:g},seed={seed}")
    return TrafficCurve(per_minute=np.minimum(rate, MAX_PER_MINUTE), start=None, source=source)


def _noisy(rate: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Each minute times a lognormal factor of mean 1 and cv ``noise`` (none at 0)."""
    if noise <= 0:
        return rate
    sigma = math.sqrt(math.log1p(noise * noise))
    return rate * rng.lognormal(-sigma * sigma / 2.0, sigma, rate.size)


def flat(rate_per_min: float, minutes: int, *, noise: float = 0.0, seed: int = 0) -> TrafficCurve:
    """One rate for ``minutes`` minutes (with optional noise)."""
    checks.integer(minutes, "minutes", minimum=1, maximum=MAX_MINUTES)
    rate = np.full(minutes, checks.number(rate_per_min, "rate", minimum=0, maximum=MAX_PER_MINUTE))
    return TrafficCurve(per_minute=_noisy(rate, noise, np.random.default_rng(checks.seed(seed))), start=None,
                        source=f"flat:rate={rate_per_min:g},minutes={minutes},noise={noise:g},seed={seed}")


def step(before_per_min: float, after_per_min: float, at_minute: int, minutes: int, *, noise: float = 0.0,
         seed: int = 0) -> TrafficCurve:
    """``before_per_min`` for the first ``at_minute`` minutes, then ``after_per_min``."""
    checks.integer(minutes, "minutes", minimum=1, maximum=MAX_MINUTES)
    checks.integer(at_minute, "at", minimum=0, maximum=minutes, what=f"a minute from 0 to the curve's {minutes}")
    rate = np.where(np.arange(minutes) < at_minute, before_per_min, after_per_min).astype(float)
    return TrafficCurve(per_minute=_noisy(rate, noise, np.random.default_rng(checks.seed(seed))), start=None,
                        source=f"step:from={before_per_min:g},to={after_per_min:g},at={at_minute},minutes={minutes}")


def parse_curve(text: str, *, gaps: str = "refuse", field: str = "traffic") -> TrafficCurve:
    """A curve from a spec ``KIND:key=value,...`` or, failing that, from the file ``text`` names."""
    kind, sep, rest = str(text).partition(":")
    if sep and kind in SPEC_KEYS:
        return _from_spec(kind, rest, field)
    if sep and kind.isalpha() and "=" in rest and not _is_file(text):
        raise InputError(field, f"unknown curve kind {kind!r} (allowed: {', '.join(SPEC_KEYS)}; or a file path)")
    checks.choice(gaps, "gaps", GAP_FILLS)
    return load_curve(text, gaps=gaps, field=field)


def _is_file(text: str) -> bool:
    """Whether ``text`` names an existing file (False for a path the system refuses)."""
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def _from_spec(kind: str, rest: str, field: str) -> TrafficCurve:
    """A spec's keys checked and handed to its builder."""
    keys = SPEC_KEYS[kind]
    given: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or name not in keys:
            raise InputError(f"{field}.{name}" if eq else field,
                             f"{kind}: {'unknown key ' + repr(name) if eq else repr(part) + ' is not key=value'} "
                             f"(allowed: {', '.join(keys)})")
        if name in given:
            raise InputError(f"{field}.{name}", f"{kind}: given twice")
        given[name] = value.strip()
    values = {name: key.read(f"{field}.{name}", given[name]) if name in given else key.default
              for name, key in keys.items()}
    missing = [name for name, key in keys.items() if key.default is None and name not in given
               and name not in _DURATION]
    if missing:
        raise InputError(f"{field}.{missing[0]}", f"{kind}: is required (keys: {', '.join(keys)})")
    minutes = _minutes(values, given, field)
    return _BUILDERS[kind](values, minutes, field)


def _minutes(values: Mapping[str, Any], given: Mapping[str, str], field: str) -> int:
    """The duration in minutes from the one of days/hours/minutes given (a day if none)."""
    named = [name for name in _DURATION if name in given]
    if len(named) > 1:
        raise InputError(f"{field}.{named[1]}", f"give one of days, hours or minutes (got {', '.join(named)})")
    if not named:
        return MINUTES_PER_DAY
    scale = {"days": MINUTES_PER_DAY, "hours": 60, "minutes": 1}[named[0]]
    return max(1, round(values[named[0]] * scale))


def _diurnal(v: Mapping[str, Any], minutes: int, field: str) -> TrafficCurve:
    if v["trough"] > v["peak"]:
        raise InputError(f"{field}.trough", f"must be at most peak ({v['peak']:g}), got {v['trough']:g}")
    shape = Diurnal(peak_per_min=v["peak"], trough_per_min=v["trough"], peak_hour=v["peak_hour"],
                    weekend_factor=v["weekend"], growth_per_day=v["growth"])
    bursts = Bursts(count=v["bursts"], height=v["burst_height"], minutes=v["burst_minutes"])
    return synthesize(shape, minutes=minutes, bursts=bursts, noise=v["noise"], seed=v["seed"])


def _step(v: Mapping[str, Any], minutes: int, field: str) -> TrafficCurve:
    if v["at"] > minutes:
        raise InputError(f"{field}.at", f"must be at most the curve's {minutes} minutes, got {v['at']}")
    return step(v["from"], v["to"], v["at"], minutes, noise=v["noise"], seed=v["seed"])


_BUILDERS: dict[str, Callable[[Mapping[str, Any], int, str], TrafficCurve]] = {
    "diurnal": _diurnal,
    "flat": lambda v, minutes, field: flat(v["rate"], minutes, noise=v["noise"], seed=v["seed"]),
    "step": _step,
}
