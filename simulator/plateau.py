"""The plateau (flat-invocations) rule's arithmetic, on plain per-minute series.

A closed-loop load test adds users; each minute reports its Invocations I_j, its users at
the start u_j and at its last instant. While the instance is lightly loaded throughput grows
in proportion to users, r0 per user; near capacity it bends towards c / E[S] over a knee
whose width in users grows like the square root of the users at the knee (the spread of
the number of users away from the instance, thinking or paying overhead, is about
sqrt(N*) at N* = c (E[S] + Z) / E[S] users). The rule stops when

1. **sublinear**: the Invocations of the last w minutes fall short of r0 times their users
   by more than z standard deviations of counting noise, the noise's variance estimated from
   the minutes themselves (over-dispersed counts: a saturated c-worker instance completes
   c renewal streams, var/mean ~ cv^2 of the service time), and
2. **flat**: the users added over the last k minutes bring, per user, less than
   eps * sqrt(N^) of r0 (the marginal gain), N^ the recent level in light-load users.
   Remaining growth ~ knee width x marginal rate ~ sqrt(N^) * gain * r0, so this bounds
   what is left to gain at about eps of the level: a sharp knee (no think time) stops as
   soon as it is sublinear, a gradual one (think time, few workers) only once it is nearly flat.

The reference rate r0 is the light-load per-user rate of the minutes before the window;
the gain and the level are the recent minutes'. docs/flat-invocations.md derives the rule
and states what it measured; the cut-offs are irsim's (AWS documents only the intent).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: The dispersion (var/mean of a minute's count) assumed before minutes are seen: twice
#: Poisson, between exponential service (1) and a cv of 2 (4); a short history of over-
#: dispersed counts read as Poisson stopped 7 in 1,000 linear ramps, with 2 it stops 1.
PRIOR_DISPERSION = 2.0
#: How many second differences the prior weighs as.
PRIOR_WEIGHT = 4.0


@dataclass(frozen=True)
class PlateauRule:
    """The rule's constants: ``window`` minutes pooled in the sublinearity test at ``sigmas``
    standard deviations; ``gain_window`` minutes the marginal gain is fitted over; ``gap``
    the share of the level that may be left to gain when the test stops."""

    window: int = 1
    sigmas: float = 5.0
    gain_window: int = 4
    gap: float = 0.04


@dataclass(frozen=True)
class Series:
    """Per-minute Invocations and users (at each minute's start and at its last instant)."""

    invocations: Sequence[int]
    users_start: Sequence[int]
    users_end: Sequence[int]

    def __len__(self) -> int:
        return len(self.invocations)


def light_load_rate(series: Series, end: int) -> float | None:
    """r0 = sum I / sum U over minutes 0..end-1 (U the users averaged over each minute):
    Invocations per user while the instance was lightly loaded; None without users or calls."""
    users = sum(series.users_start[j] + series.users_end[j] for j in range(end)) / 2.0
    calls = sum(series.invocations[j] for j in range(end))
    return calls / users if users > 0 and calls > 0 else None


def dispersion(invocations: Sequence[int], prior: float = PRIOR_DISPERSION, weight: float = PRIOR_WEIGHT) -> float:
    """var/mean of a minute's count, from second differences of the counts, shrunk to ``prior``.

    A second difference I_j - 2 I_{j-1} + I_{j-2} removes any trend linear in j (a ramp of
    users at a steady pace) and has variance 6 var(I) for independent minutes; dividing by
    6 sum I_{j-1} estimates var/mean. The prior weighs as ``weight`` differences, so a short
    history leans on it and a long one speaks for itself. Curvature (a knee) only
    inflates the estimate, which errs towards going on."""
    n = len(invocations) - 2
    if n <= 0:
        return prior
    squares = sum((invocations[j] - 2 * invocations[j - 1] + invocations[j - 2]) ** 2 for j in range(2, n + 2))
    level = sum(max(invocations[j - 1], 1) for j in range(2, n + 2))
    return (weight * prior + n * squares / (6.0 * level)) / (weight + n)


def gain_cut(level_users: float, gap: float) -> float:
    """The marginal gain below which what is left to gain is at most ``gap`` of the level:
    remaining ~ sqrt(N^) x gain x r0 and the level is N^ x r0, so gain < gap x sqrt(N^)."""
    return gap * math.sqrt(max(level_users, 1.0))


@dataclass(frozen=True)
class Evidence:
    """The flat-invocations evidence after the last minute of a series.

    ``shortfall`` = sum over the window of r0 u_j - I_j; ``noise`` = sigmas x its standard
    deviation; ``gain`` = the marginal gain of the last minutes (their slope of Invocations
    on users, as a share of r0); ``cut`` = the gain below which it counts as flat."""

    reference_rate: float
    dispersion: float
    shortfall: float
    noise: float
    gain: float
    cut: float

    @property
    def sublinear(self) -> bool:
        """Invocations fell short of proportional growth by more than the noise."""
        return self.shortfall > self.noise

    @property
    def flat(self) -> bool:
        """Sublinear, and the added users bring less than the cut."""
        return self.sublinear and self.gain < self.cut


def marginal_gain(series: Series, minutes: int, rate: float) -> float | None:
    """The least-squares slope of Invocations on users over the last ``minutes`` minutes (all
    of them while fewer), as a share of r0: 1 while growth is proportional, 0 on a plateau;
    None with fewer than two minutes or when users did not change over them."""
    first = max(0, len(series) - minutes)
    users = [float(u) for u in series.users_start[first:]]
    calls = [float(i) for i in series.invocations[first:]]
    if len(users) < 2:
        return None
    mean_users, mean_calls = sum(users) / len(users), sum(calls) / len(calls)
    spread = sum((u - mean_users) ** 2 for u in users)
    if spread <= 0:
        return None
    slope = sum((u - mean_users) * (i - mean_calls) for u, i in zip(users, calls, strict=True)) / spread
    return slope / rate


def evidence(series: Series, rule: PlateauRule) -> Evidence | None:
    """The evidence after the last minute of ``series``; None (nothing to judge) until a
    minute precedes the window, while users did not grow over the window or the gain's
    minutes, or while the reference saw no users or no Invocations (open arrivals)."""
    w, m = rule.window, len(series)
    if m <= w:
        return None
    split = m - w
    users = float(sum(series.users_start[split:]))
    if users - w * series.users_start[split - 1] <= 0:
        return None
    rate = light_load_rate(series, split)
    gain = marginal_gain(series, rule.gain_window, rate) if rate is not None else None
    if rate is None or gain is None:
        return None
    calls = float(sum(series.invocations[split:]))
    reference_users = sum(series.users_start[j] + series.users_end[j] for j in range(split)) / 2.0
    spread = dispersion(series.invocations[:split])
    # Var(sum I - r0 sum u) = D (sum I + r0 (sum u)^2 / sum U over the reference): both sides count.
    noise = rule.sigmas * math.sqrt(spread * (calls + rate * users * users / reference_users))
    return Evidence(reference_rate=rate, dispersion=spread, shortfall=rate * users - calls, noise=noise,
                    gain=gain, cut=gain_cut(calls / (w * rate), rule.gap))
