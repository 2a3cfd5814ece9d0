"""irsim's own resource limits on one run, decided from the run's description before anything is
simulated: the users in flight, the user-count changes the traffic schedules, the requests the
run simulates and the requests it holds in memory at once. They protect the machine, not a
rule of AWS's: each refusal says it is irsim's limit, names the field and gives the range.

What the engines keep (docs/hardening.md, experiments/largest_job_rss.py measures it): one
heap entry per user in flight and per scheduled user-count change; per request, a few doubles
from its completion until its minute closes (a run that keeps its requests: until the run
ends); open arrivals are all drawn before the run starts. So memory is O(users + changes +
held requests), and each term is bounded here.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from simulator.errors import InputError
from simulator.traffic import ConstantUsers, Phases, Stairs, Traffic

#: Users in flight at once in one run (the peak over every phase and step).
MAX_USERS_IN_FLIGHT = 100_000
#: User-count changes one run schedules (a STAIRS step, a phase's start, each user a phase adds).
MAX_USER_CHANGES = 100_000
#: Requests one run holds in memory at once: a minute's (exact per-minute statistics) or, when
#: the run keeps its requests, the whole run's; open arrivals are all drawn before it starts.
MAX_HELD_REQUESTS = 1_500_000
#: Requests one run simulates, at most (the work of a run: about 40 s on the Python engine, 4 s on
#: the fast path; six times issue 15's largest legal job).
MAX_RUN_REQUESTS = 50_000_000
MINUTE_S = 60.0
LIMIT = "irsim's own limit, to bound its memory; not an AWS rule"
#: What a run adds to its process's memory, measured (experiments/largest_job_rss.py, RESULTS.md):
#: per request held (its doubles and the minute's copies while it is summarized: 42 to 49 bytes
#: measured on either engine), per user in flight or scheduled change (heap entries, queue
#: nodes), and a start.
BYTES_PER_HELD_REQUEST = 50
BYTES_PER_USER = 256
RUN_BASE_MB = 10.0
#: The peak RSS one process of irsim may reach (irsim's own target, issue 27): the engine takes
#: its compiled fast path only where the process stays within it (simulator/fastpath.py).
PROCESS_MEMORY_MB = 300.0


class ResourceLimitError(InputError):
    """A run over one of irsim's own resource limits (``field``: what to change)."""


@dataclass(frozen=True)
class Footprint:
    """What a run costs at most, from its description alone: ``requests`` simulated in all and
    ``held`` in memory at once, at ``rate_per_s`` (the work budget's measure)."""

    rate_per_s: float
    requests: float
    held: float


def footprint(traffic: Traffic, rate_per_s: float, keep_requests: bool) -> Footprint:
    """The run's bounds: ``rate_per_s`` over the traffic's duration (and every open arrival
    drawn up front); held, one minute's requests, or all of them when the run keeps them."""
    arrivals = traffic.arrivals_bound()
    requests = max(rate_per_s * traffic.duration_s, arrivals)
    held = requests if keep_requests else rate_per_s * min(MINUTE_S, traffic.duration_s) + arrivals
    return Footprint(rate_per_s=rate_per_s, requests=requests, held=held)


def run_memory_mb(traffic: Traffic, bounds: Footprint) -> float:
    """About how much memory a run adds to its process at most (MB), from its bounds: what the
    job's pool sizes its processes by, before any starts."""
    items = traffic.peak_users() + traffic.change_count()
    return RUN_BASE_MB + (bounds.held * BYTES_PER_HELD_REQUEST + items * BYTES_PER_USER) / 2**20


def peak_field(traffic: Traffic) -> str:
    """The field of ``traffic`` that sets its peak user count (the first part that reaches it)."""
    if isinstance(traffic, Phases):
        peak = traffic.peak_users()
        for i, phase in enumerate(traffic.phases):
            if phase.initial_users + phase.additions == peak:
                grew = phase.additions > phase.initial_users
                return f"phases[{i}].{'spawn_rate_per_min' if grew else 'initial_users'}"
    if isinstance(traffic, Stairs):
        return "stairs.number_of_steps"
    if isinstance(traffic, ConstantUsers):
        return "users"
    return "traffic"


def check_traffic(traffic: Traffic) -> None:
    """The users in flight and the user-count changes within irsim's limits, counted from the
    shape's numbers (a pattern of a billion steps is refused before one is listed)."""
    peak = traffic.peak_users()
    if peak > MAX_USERS_IN_FLIGHT:
        steps = (f" (steps x users per step: at most {MAX_USERS_IN_FLIGHT // traffic.users_per_step:,} steps "
                 f"of {traffic.users_per_step})" if isinstance(traffic, Stairs) else "")
        raise ResourceLimitError(peak_field(traffic), f"the traffic reaches {peak:,} users in flight; at most "
                                                      f"{MAX_USERS_IN_FLIGHT:,} per run{steps} ({LIMIT})")
    changes = traffic.change_count()
    if changes > MAX_USER_CHANGES:
        where = "stairs.number_of_steps" if isinstance(traffic, Stairs) else "phases"
        raise ResourceLimitError(where, f"the traffic changes its user count {changes:,} times; at most "
                                        f"{MAX_USER_CHANGES:,} per run ({LIMIT})")


def check_footprint(traffic: Traffic, rate_per_s: float, keep_requests: bool, where: str,
                    max_held: int = MAX_HELD_REQUESTS) -> Footprint:
    """The run's requests, in all and held at once, within irsim's limits; ``where`` is the
    field named for a run that holds only a minute at a time (a job's benchmark: its profile
    entry), ``duration_s`` for one that keeps every request. ``max_held`` is MAX_HELD_REQUESTS
    unless a caller that knows its memory raised it (``RunSpec.max_held_requests``)."""
    check_traffic(traffic)
    bounds = footprint(traffic, rate_per_s, keep_requests)
    field = "duration_s" if keep_requests else where
    if bounds.held > max_held:
        if keep_requests:
            what = "it keeps every request for its whole-run percentiles"
            advice = f"; {_longest_s(max_held, rate_per_s)} at this load"
        else:
            what = "a simulated minute's requests, for its exact per-minute statistics"
            advice = ""
        if traffic.arrivals_bound():
            what += ", with every open arrival drawn before it starts"
        raise ResourceLimitError(field, f"the run would hold about {bounds.held:,.3g} requests in memory at once "
                                        f"({what}); at most {max_held:,}{advice} ({LIMIT})")
    if bounds.requests > MAX_RUN_REQUESTS:
        longest = _longest_s(MAX_RUN_REQUESTS, rate_per_s)
        raise ResourceLimitError(field, f"the run would simulate about {bounds.requests:,.3g} requests "
                                        f"({rate_per_s:,.4g} a simulated second for {traffic.duration_s:g} s); at most "
                                        f"{MAX_RUN_REQUESTS:,} per run, {longest} at this load ({LIMIT})")
    return bounds


def _longest_s(requests: int, rate_per_s: float) -> str:
    """The longest run that stays within ``requests`` at ``rate_per_s``, in words."""
    return f"a duration of at most {math.floor(requests / rate_per_s):,} s" if rate_per_s > 0 else "any duration"


def resident_mb() -> float:
    """This process's resident memory now (MB): /proc on Linux, else its peak so far (0 where
    neither is known, as on Windows: then nothing is decided from it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    try:
        import resource
    except ImportError:
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024.0)
