"""Stopping conditions of a load test, judged once per simulated minute.

A test ends when its latency percentile over the last minute exceeds the threshold, when
Invocations per minute reach MaxInvocations, when the users added over the last minutes no
longer add throughput (FlatInvocations=Stop), or when the traffic pattern ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from simulator import checks
from simulator.metrics import Percentile

LATENCY_THRESHOLD = "LatencyThresholdExceeded"
MAX_INVOCATIONS = "MaxInvocationsReached"
FLAT_INVOCATIONS = "InvocationsFlattened"
TRAFFIC_ENDED = "TrafficPatternEnded"
JOB_STOPPED = "JobStopped"


@dataclass(frozen=True)
class LatencyThreshold:
    """``percentile`` (e.g. 95 or 99; a number is made a Percentile) of ModelLatency over one
    minute must stay <= ``value_ms``."""

    percentile: Percentile
    value_ms: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "percentile", Percentile(self.percentile))
        checks.positive(self.value_ms, "value_ms", what="milliseconds")


@dataclass(frozen=True)
class StoppingConditions:
    """What ends a test besides the end of its traffic.

    The flat-invocations rule (see :func:`plateau`) judges the users added over the last
    ``flat_window_min`` minutes: invocations count as flat when those users add less than
    ``flat_min_gain`` of the throughput users added while the instance was lightly loaded,
    by a margin larger than ``flat_noise_sigmas`` standard deviations of counting noise.
    """

    max_invocations: int | None = None
    latency: LatencyThreshold | None = None
    stop_on_flat_invocations: bool = False
    flat_window_min: int = 2
    flat_min_gain: float = 0.5
    flat_noise_sigmas: float = 4.5

    def __post_init__(self) -> None:
        if self.max_invocations is not None:
            checks.integer(self.max_invocations, "max_invocations", minimum=1)
        checks.integer(self.flat_window_min, "flat_window_min", minimum=1, maximum=60, what="a number of minutes")
        checks.number(self.flat_min_gain, "flat_min_gain", minimum=0, maximum=1, strict_maximum=True,
                      what="a share")
        checks.number(self.flat_noise_sigmas, "flat_noise_sigmas", minimum=0, maximum=100,
                      what="a number of standard deviations")


@dataclass(frozen=True)
class MinuteSummary:
    """What the stopping rules see of one complete simulated minute."""

    minute: int
    invocations: int
    latency_percentile_ms: float  # NaN when no threshold is set or nothing completed
    users_start: int
    users_end: int

    @property
    def users(self) -> float:
        """Users averaged over the minute, (start + end) / 2: exact while users are added
        at an even pace (PHASES) and the count itself while it stays constant."""
        return (self.users_start + self.users_end) / 2.0


@dataclass(frozen=True)
class Plateau:
    """The flat-invocations evidence after minute m, for a window of the last w minutes.

    With I(j) the Invocations of minute j, U(j) its users averaged over the minute and u(j)
    its users at the minute's start:

    - ``reference_rate`` r0 = sum I / sum U over minutes 0..m-w (before the window): the
      Invocations a user brings while the instance is lightly loaded;
    - ``users_added`` = sum over the window of u(j) - u(m-w): the user-minutes the window
      holds beyond the users it started with;
    - ``shortfall`` = sum over the window of r0 u(j) - I(j): the throughput missing from
      growth in proportion to users;
    - ``allowance`` = (1 - min_gain) r0 ``users_added``: how much of what the added users
      brought while lightly loaded may be missing before their gain counts as flat;
    - ``noise`` = ``sigmas`` standard deviations of the shortfall under Poisson counting,
      with variance sum I(j) over the window + r0 (sum u(j))^2 / (sum U over the reference).

    The window counts users from each minute's start, the reference averages them over each
    minute: a user who joined during a minute served only part of it, and counted in full
    would read as throughput missing; this way both readings err towards going on.
    """

    reference_rate: float
    users_added: float
    shortfall: float
    allowance: float
    noise: float

    @property
    def marginal_gain(self) -> float:
        """Throughput the users added over the window bring, per user, as a fraction of the
        reference rate, the window's start taken at the reference rate: 1 (or above, as the
        readings of users err low) while growth is proportional, 0 or below once the instance
        is saturated."""
        return 1.0 - self.shortfall / (self.reference_rate * self.users_added)

    @property
    def flat(self) -> bool:
        """Users were added and the shortfall exceeds both the allowance and the noise."""
        return self.users_added > 0 and self.shortfall > max(self.allowance, self.noise)


def plateau(history: Sequence[MinuteSummary], window: int = 2, min_gain: float = 0.5,
            sigmas: float = 4.5) -> Plateau | None:
    """The flat-invocations evidence after the last minute of ``history``; None (nothing to
    judge) until the history holds a minute before the window, when no users were added
    over the window, or while the reference saw no users or no Invocations (open arrivals
    report no users, so the rule never fires for them).

    Why this shape: a minute's Invocations carry Poisson noise of about sqrt(I), often more
    than what one added user brings, so the growth of one noisy minute over another cannot
    tell a plateau from linear growth at SpawnRate 1 on a large instance. Here the level at
    the window's start is r0 u(m-w), the per-user rate pooled over every earlier minute, and
    the window's minutes are pooled too: proportional growth keeps the shortfall at or below
    zero at any SpawnRate, every user added after saturation adds a full user's worth of it,
    and a single slow minute is diluted by its neighbour.
    """
    if len(history) <= window:
        return None
    split = len(history) - window
    recent = history[split:]
    recent_users = float(sum(m.users_start for m in recent))
    added = recent_users - window * history[split - 1].users_start
    if added <= 0:  # checked first: it costs the window, the reference costs the whole history
        return None
    reference = history[:split]
    reference_users = sum(m.users_start + m.users_end for m in reference) / 2.0
    reference_invocations = sum(m.invocations for m in reference)
    if reference_users <= 0 or reference_invocations <= 0:
        return None
    rate = reference_invocations / reference_users
    recent_invocations = sum(m.invocations for m in recent)
    # Var(r0 sum u(j)) = (sum u(j))^2 Var(sum I) / (sum U)^2 over the reference = ... r0 / sum U.
    variance = recent_invocations + rate * recent_users * recent_users / reference_users
    return Plateau(reference_rate=rate, users_added=added, shortfall=rate * recent_users - recent_invocations,
                   allowance=(1.0 - min_gain) * rate * added, noise=sigmas * math.sqrt(variance))


def stop_reason(history: Sequence[MinuteSummary], conditions: StoppingConditions) -> str | None:
    """The reason to stop after the last minute of ``history``, or None to go on."""
    if not history:
        return None
    last = history[-1]
    if conditions.latency is not None and last.latency_percentile_ms > conditions.latency.value_ms:
        return LATENCY_THRESHOLD
    if conditions.max_invocations is not None and last.invocations >= conditions.max_invocations:
        return MAX_INVOCATIONS
    if conditions.stop_on_flat_invocations:
        evidence = plateau(history, conditions.flat_window_min, conditions.flat_min_gain,
                           conditions.flat_noise_sigmas)
        if evidence is not None and evidence.flat:
            return FLAT_INVOCATIONS
    return None


def within_threshold(summary: MinuteSummary, conditions: StoppingConditions) -> bool:
    """Whether a minute's latency percentile met the threshold (always true without one)."""
    if conditions.latency is None:
        return True
    value = summary.latency_percentile_ms
    return not math.isnan(value) and value <= conditions.latency.value_ms


def best_minute(history: Sequence[MinuteSummary], conditions: StoppingConditions) -> MinuteSummary | None:
    """The minute with the most Invocations among those within the latency threshold.

    Its count is the test's per-instance max; ties go to the earliest minute.
    """
    best = None
    for summary in history:
        if within_threshold(summary, conditions) and (best is None or summary.invocations > best.invocations):
            best = summary
    return best
