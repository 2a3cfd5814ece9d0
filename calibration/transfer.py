"""Profiles for instance types that were not measured, by documented scaling rules.

A derived entry starts from a measured reference entry:

- the reference is the profile's entry of the same family with the nearest vCPU count;
  failing that, the same class letter (c, m, r, g, ...) with the nearest vCPU count;
  failing that, any entry with the nearest vCPU count;
- workers scale with vCPUs: ``round(workers_ref * vcpu / vcpu_ref)``, at least 1;
- the service time keeps its family and cv; its mean scales by the ratio of per-family
  speed factors (``FAMILY_SERVICE_FACTOR``: relative service time per request, c5 = 1.0;
  a newer generation is faster); a family without a factor keeps 1.0;
- memory and cpu_per_worker are copied; the entry is marked ``calibrated = False``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from simulator.errors import InputError
from simulator.profiles import InstanceProfile, Profile

#: Relative per-request service time by family (c5 = 1). Generation factors follow the
#: commonly published per-core gains (c6i ~10 %, c7i ~15 % over the previous generation);
#: m and r families run at lower clocks than c.
FAMILY_SERVICE_FACTOR: Mapping[str, float] = {
    "c4": 1.15, "c5": 1.0, "c5d": 1.0, "c5n": 1.0, "c6i": 0.9, "c6in": 0.9, "c7i": 0.78,
    "m4": 1.3, "m5": 1.15, "m5d": 1.15, "m6i": 1.03, "m7i": 0.9,
    "r5": 1.2, "r5d": 1.2, "r6i": 1.08, "r7i": 0.94,
}


def family(instance_type: str) -> str:
    """``ml.c6i.xlarge`` -> ``c6i``."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) == 3 else instance_type


def _service_factor(name: str) -> float:
    return FAMILY_SERVICE_FACTOR.get(family(name), 1.0)


def _with_known_vcpus(names: Iterable[str], vcpu_of: Callable[[str], int | None]) -> list[tuple[str, int]]:
    """(name, vCPUs) for each name whose vCPU count is known (and not 0)."""
    known = []
    for name in names:
        vcpu = vcpu_of(name)
        if vcpu:
            known.append((name, vcpu))
    return known


def derive_instance(profile: Profile, instance_type: str, vcpu_of: Callable[[str], int | None]) -> InstanceProfile:
    """An uncalibrated entry for ``instance_type`` scaled from the profile's nearest entry."""
    target_vcpu = vcpu_of(instance_type)
    if target_vcpu is None:
        raise InputError("instance_type", f"{instance_type!r} is neither in profile {profile.model!r} nor in the "
                         "instance catalogue, so no entry can be derived for it")
    candidates = _with_known_vcpus(profile.instances, vcpu_of)
    if not candidates:
        raise InputError("profile", "no entry of the profile has known vCPUs to scale from")
    target_family = family(instance_type)

    def preference(item: tuple[str, int]) -> tuple[int, float, str]:
        name, vcpu = item
        tier = 0 if family(name) == target_family else 1 if family(name)[0] == target_family[0] else 2
        return tier, abs(vcpu - target_vcpu) / target_vcpu, name

    reference_name, reference_vcpu = min(candidates, key=preference)
    reference = profile.instances[reference_name]
    workers = max(1, round(reference.workers * target_vcpu / reference_vcpu))
    factor = _service_factor(instance_type) / _service_factor(reference_name)
    return replace(reference, instance_type=instance_type, workers=workers,
                   service_time=reference.service_time.scaled(factor), calibrated=False, variants=())


def complete_profile(profile: Profile, instance_types: list[str], vcpu_of: Callable[[str], int | None]) -> Profile:
    """The profile plus derived entries for every listed type it does not cover."""
    missing = [t for t in dict.fromkeys(instance_types) if t not in profile.instances]
    if not missing:
        return profile
    entries = dict(profile.instances)
    for instance_type in missing:
        entries[instance_type] = derive_instance(profile, instance_type, vcpu_of)
    return replace(profile, instances=entries)
