"""Traffic shapes: how many closed-loop users are active at each moment (PHASES, STAIRS,
constant), or at what rate open Poisson arrivals come. Every shape answers the small
:class:`Traffic` protocol, so the engines and the minute clock never ask which one they have.

Semantics (docs/semantics.md): SpawnRate is users per minute; a phase starts by setting the
user count to its InitialNumberOfUsers and then adds one user every 60/SpawnRate seconds;
a STAIRS step lasts DurationInSeconds / NumberOfSteps and adds UsersPerStep users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from simulator import checks
from simulator.errors import InputError

_EPS = 1e-9
SECONDS = "a number of seconds"
USERS_PER_MINUTE = "a number of users per minute"
REQUESTS_PER_SECOND = "a number of requests per second"


class Traffic(Protocol):
    """What a run needs of its traffic: closed-loop users (``closed``: a user sends its next
    request when the last one completes) or open arrivals, for ``duration_s``; the user count
    at every change (none for open arrivals) or every arrival instant (none for closed users)."""

    closed: ClassVar[bool]

    @property
    def duration_s(self) -> float: ...

    def user_changes(self) -> list[tuple[float, int]]:
        """(time, user count) at every instant the count changes (empty for open arrivals)."""
        ...

    def users_at(self, t: float) -> int:
        """Active users at simulated time ``t`` (0 for open arrivals and outside the pattern)."""
        ...

    def arrival_times(self, rng: np.random.Generator) -> np.ndarray:
        """Every arrival instant (empty for closed users, who send as they complete)."""
        ...

    def max_request_rate_per_s(self, cycle_s: float, capacity_per_s: float) -> float:
        """At most how many requests one simulated second costs, when a user's cycle (service,
        overhead and think time) takes ``cycle_s`` and the endpoint completes at most
        ``capacity_per_s``: the work budget's measure."""
        ...

    def peak_users(self) -> int:
        """The most users active at once over the whole pattern (0 for open arrivals), counted
        from the shape's numbers alone: nothing is built per user or per change."""
        ...

    def change_count(self) -> int:
        """How many user-count changes ``user_changes`` would list (0 for open arrivals)."""
        ...

    def arrivals_bound(self) -> float:
        """At most how many arrivals ``arrival_times`` draws (0 for closed users): what an open
        pattern holds in memory before the run starts."""
        ...


class ClosedLoop:
    """What every closed-loop shape shares: users send, no arrival comes from outside."""

    closed: ClassVar[bool] = True

    def user_changes(self) -> list[tuple[float, int]]:
        raise NotImplementedError

    def arrival_times(self, rng: np.random.Generator) -> np.ndarray:
        """None: closed-loop users send as their requests complete."""
        return np.empty(0)

    def max_request_rate_per_s(self, cycle_s: float, capacity_per_s: float) -> float:
        """Each user one request per cycle at most, and no more than the endpoint completes."""
        users = self.peak_users()
        return min(users / cycle_s if cycle_s > 0 else math.inf, capacity_per_s)

    def peak_users(self) -> int:
        raise NotImplementedError

    def change_count(self) -> int:
        raise NotImplementedError

    def arrivals_bound(self) -> float:
        """None: closed-loop users draw no arrivals."""
        return 0.0


@dataclass(frozen=True)
class Phase:
    """One PHASES entry: start at ``initial_users``, add ``spawn_rate_per_min`` users a minute."""

    initial_users: int
    spawn_rate_per_min: float
    duration_s: float

    def users_after(self, offset_s: float) -> int:
        """Users ``offset_s`` seconds into the phase (0 <= offset <= duration)."""
        return self.initial_users + math.floor(offset_s * self.spawn_rate_per_min / 60.0 + _EPS)

    @property
    def final_users(self) -> int:
        """The count the phase ends with (its last addition falls on its last instant)."""
        return self.users_after(self.duration_s)

    @property
    def additions(self) -> int:
        """Users the phase adds before its last instant (``Phases.user_changes`` lists each)."""
        if self.spawn_rate_per_min <= 0:
            return 0
        interval = 60.0 / self.spawn_rate_per_min
        steps = max(0, math.ceil((self.duration_s - _EPS) / interval) - 1)
        if steps and steps * interval >= self.duration_s - _EPS:  # the loop's own test, at a rounding edge
            steps -= 1
        elif (steps + 1) * interval < self.duration_s - _EPS:
            steps += 1
        return steps


@dataclass(frozen=True)
class Phases(ClosedLoop):
    """PHASES traffic: phases run back to back."""

    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        if not self.phases:
            raise InputError("phases", "needs at least one phase")
        for i, phase in enumerate(self.phases):
            checks.integer(phase.initial_users, f"phases[{i}].initial_users", minimum=0)
            checks.number(phase.spawn_rate_per_min, f"phases[{i}].spawn_rate_per_min", minimum=0,
                          what=USERS_PER_MINUTE)
            checks.positive(phase.duration_s, f"phases[{i}].duration_s", what=SECONDS)

    @property
    def duration_s(self) -> float:
        return float(sum(p.duration_s for p in self.phases))

    def user_changes(self) -> list[tuple[float, int]]:
        """(time, user count) at every instant the count changes, starting at t=0."""
        changes: list[tuple[float, int]] = []
        start = 0.0
        for phase in self.phases:
            changes.append((start, phase.initial_users))
            if phase.spawn_rate_per_min > 0:
                interval = 60.0 / phase.spawn_rate_per_min
                step = 1
                while step * interval < phase.duration_s - _EPS:
                    changes.append((start + step * interval, phase.initial_users + step))
                    step += 1
            start += phase.duration_s
        return changes

    def peak_users(self) -> int:
        """The largest count ``user_changes`` lists: each phase's start plus its additions."""
        return max(phase.initial_users + phase.additions for phase in self.phases)

    def change_count(self) -> int:
        return sum(1 + phase.additions for phase in self.phases)

    def users_at(self, t: float) -> int:
        """Active users at simulated time ``t`` (0 outside the pattern)."""
        start = 0.0
        for phase in self.phases:
            if start <= t < start + phase.duration_s:
                return phase.users_after(t - start)
            start += phase.duration_s
        return 0


@dataclass(frozen=True)
class Stairs(ClosedLoop):
    """STAIRS traffic: ``number_of_steps`` equal steps, each adding ``users_per_step``."""

    duration_s: float
    number_of_steps: int
    users_per_step: int

    def __post_init__(self) -> None:
        checks.positive(self.duration_s, "stairs.duration_s", what=SECONDS)
        checks.integer(self.number_of_steps, "stairs.number_of_steps", minimum=1)
        checks.integer(self.users_per_step, "stairs.users_per_step", minimum=1)

    @property
    def step_s(self) -> float:
        return self.duration_s / self.number_of_steps

    def user_changes(self) -> list[tuple[float, int]]:
        return [(k * self.step_s, (k + 1) * self.users_per_step) for k in range(self.number_of_steps)]

    def peak_users(self) -> int:
        return self.number_of_steps * self.users_per_step

    def change_count(self) -> int:
        return self.number_of_steps

    def users_at(self, t: float) -> int:
        if not 0 <= t < self.duration_s:
            return 0
        return (min(int(t / self.step_s + _EPS), self.number_of_steps - 1) + 1) * self.users_per_step


@dataclass(frozen=True)
class ConstantUsers(ClosedLoop):
    """A fixed number of closed-loop users for the whole run."""

    users: int
    duration_s: float

    def __post_init__(self) -> None:
        checks.integer(self.users, "users", minimum=1)
        checks.positive(self.duration_s, "duration_s", what=SECONDS)

    def user_changes(self) -> list[tuple[float, int]]:
        return [(0.0, self.users)]

    def peak_users(self) -> int:
        return self.users

    def change_count(self) -> int:
        return 1

    def users_at(self, t: float) -> int:
        return self.users if 0 <= t < self.duration_s else 0


@dataclass(frozen=True)
class PoissonArrivals:
    """Open traffic: Poisson arrivals with a piecewise-constant rate.

    ``rates`` holds (start_s, rate_per_s) pairs, the first at 0; each rate holds until the
    next start or the end of the pattern.
    """

    rates: tuple[tuple[float, float], ...]
    duration_s: float
    closed: ClassVar[bool] = False

    def __post_init__(self) -> None:
        checks.positive(self.duration_s, "duration_s", what=SECONDS)
        if not self.rates or self.rates[0][0] != 0:
            raise InputError("rates", "must start with a (0, rate) pair")
        previous = -1.0
        for i, (start, rate) in enumerate(self.rates):
            if i > 0 and not (checks.is_number(start) and previous < start < self.duration_s):
                raise InputError(f"rates[{i}].start_s",
                                 f"must increase and stay below duration {self.duration_s:g}, got {start!r}")
            checks.number(rate, f"rates[{i}].rate_per_s", minimum=0, what=REQUESTS_PER_SECOND)
            previous = start

    @classmethod
    def constant(cls, rate_per_s: float, duration_s: float) -> PoissonArrivals:
        """One rate for the whole pattern (the ``arrival_rate_per_s`` of ``simulate``)."""
        rate = checks.positive(rate_per_s, "arrival_rate_per_s", what=REQUESTS_PER_SECOND)
        return cls(((0.0, rate),), duration_s)

    def segments(self) -> list[tuple[float, float, float]]:
        """(start_s, end_s, rate_per_s) for each constant-rate piece."""
        ends = [start for start, _ in self.rates[1:]] + [self.duration_s]
        return [(start, end, rate) for (start, rate), end in zip(self.rates, ends, strict=True)]

    def arrival_times(self, rng: np.random.Generator) -> np.ndarray:
        """All arrival instants: a Poisson count per segment, placed uniformly (exact)."""
        pieces = []
        for start, end, rate in self.segments():
            count = rng.poisson(rate * (end - start))
            pieces.append(np.sort(rng.uniform(start, end, count)))
        return np.concatenate(pieces) if pieces else np.empty(0)

    def user_changes(self) -> list[tuple[float, int]]:
        """None: open arrivals have no users."""
        return []

    def users_at(self, t: float) -> int:
        return 0

    def max_request_rate_per_s(self, cycle_s: float, capacity_per_s: float) -> float:
        """The highest rate: open arrivals come whatever the endpoint completes."""
        return max(rate for _, rate in self.rates)

    def peak_users(self) -> int:
        """None: open arrivals have no users."""
        return 0

    def change_count(self) -> int:
        return 0

    def arrivals_bound(self) -> float:
        """The expected count and six of its Poisson standard deviations (a count beyond is
        rarer than one in a hundred million)."""
        mean = sum(rate * (end - start) for start, end, rate in self.segments())
        return mean + 6.0 * math.sqrt(mean) + 10.0
