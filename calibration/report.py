"""What a CloudWatch fit says about the worker count, in the report's words and in the
entry's provenance: the fit profiled over c, the confidence set, the member the entry
holds and why, and which ramp minute would tell the members apart."""

from __future__ import annotations

from typing import Any

from calibration.moments import Minutes
from calibration.workers import CONFIDENCE, MAX_WORKERS, WorkersProfile


def candidates_text(profile: WorkersProfile) -> str:
    """The confidence set as the reader should see it: {2}, {1, 2}, {4, 5, 6 or more}."""
    members = [str(c) for c in profile.candidates]
    if profile.open_above:
        members[-1] += " or more"
    return "{" + ", ".join(members) + "}"


def _chosen_line(profile: WorkersProfile) -> str:
    chosen = profile.chosen.workers
    if profile.determined:
        return f"workers: {chosen} (determined: the only c in the confidence set)"
    capacities = ", ".join(f"c = {c}: {rate:,.1f}/s" for c, rate in sorted(profile.capacities.items()))
    return (f"workers: {chosen} of {candidates_text(profile)} (NOT determined): the entry holds the member with "
            f"the lowest open-traffic capacity at P99 <= {profile.capacity_slo_ms:.1f} ms ({capacities}), the most "
            "conservative for capacity; plan with it or measure more")


def _separation_line(profile: WorkersProfile) -> str | None:
    separation = profile.separation
    if separation is None:
        return None
    a, b = separation.pair
    if separation.chi2 < profile.threshold:
        return (f"no user count up to {separation.users} separates c = {a} from c = {b} within one minute "
                f"(chi2 {separation.chi2:.1f} at best): several minutes at {separation.users} users would")
    return (f"to tell them apart: one more ramp minute at {separation.users} user{'s' * (separation.users != 1)} "
            f"(about {separation.invocations_per_minute:,.0f} invocations/min) separates c = {a} from c = {b} "
            f"by chi2 {separation.chi2:,.0f}, where they differ most")


def workers_report(profile: WorkersProfile, minutes: Minutes, total_minutes: int) -> list[str]:
    """The report lines about c."""
    users = minutes.users
    lines = [f"minutes fitted: {len(users)} of {total_minutes} (users per instance N = X x (mean latency + "
             f"overhead): {users.min():.1f} to {users.max():.1f})",
             "fit profiled over c (chi2, best family): " + ", ".join(
                 f"c = {f.workers} {f.chi2:,.1f} {f.service.family}" for f in profile.fits)
             + f" ({profile.best.terms} statistics, {profile.degrees_of_freedom} degrees of freedom, "
               f"dispersion {profile.dispersion:.2f})",
             f"confidence set for c ({CONFIDENCE:.0%}, chi2 - min <= {profile.threshold:.1f}): "
             f"{candidates_text(profile)}",
             _chosen_line(profile)]
    if profile.delay_test is not None:
        without, freed, kept = profile.delay_test
        lines.append(f"latency outside the workers (network, HTTP inside ModelLatency): best chi2 {without:,.1f} "
                     f"without, {freed:,.1f} with it -> " + ("fitted for every c" if kept else "not needed (0)"))
    separation = _separation_line(profile)
    if separation:
        lines.append(separation)
    if profile.open_above:
        lines.append(f"no minute queued more than another: any c >= {profile.candidates[-1]} fits as well; "
                     "ramp past the knee to bound c")
    if profile.capped:
        lines.append(f"candidates stopped at c = {MAX_WORKERS}")
    chosen = profile.chosen.workers
    if users.min() > chosen + 0.5:
        lines.append(f"WARNING: the lightest minute already ran at {users.min():.1f} users, past c = {chosen} "
                     "workers: every minute queued, so the service time rests on queueing alone; add minutes at "
                     "lower load")
    return lines


def workers_provenance(profile: WorkersProfile) -> dict[str, Any]:
    """What the entry's provenance records about c."""
    out: dict[str, Any] = {
        "workers_determined": profile.determined,
        "workers_candidates": list(profile.candidates),
        "workers_chi2": {str(f.workers): round(f.chi2, 2) for f in profile.fits},
        "workers_rule": (f"confidence set: chi2(c) - min chi2 <= {profile.threshold:.2f} "
                         f"(dispersion {profile.dispersion:.2f} x the chi2_1 {CONFIDENCE:.0%} quantile)"),
    }
    if profile.open_above:
        out["workers_candidates_open_above"] = True
    if not profile.determined:
        out["workers_note"] = (f"c is not determined: workers = {profile.chosen.workers}, the member of "
                               f"{candidates_text(profile)} with the lowest open-traffic capacity at P99 <= "
                               f"{profile.capacity_slo_ms:.1f} ms (the most conservative for capacity)")
    return out
