"""Service profiles: the JSON document of docs/profiles.md that describes how a model serves on
each instance type and on serverless inference. Loading validates every field and names the bad one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simulator import checks
from simulator.distributions import Distribution, parse_distribution
from simulator.errors import InputError
from simulator.jsonfiles import read_json

DEMO_PROFILE_PATH = Path(__file__).with_name("profiles") / "xgboost-demo.json"
MAX_WORKERS = 1024
MAX_CPU_PER_WORKER = 64.0
#: The longest duration a profile may give (an hour: SageMaker's real-time invocations time out
#: after a minute). Beyond it the simulated clock loses its precision and latencies become nan.
MAX_DURATION_MS = 3_600_000.0
#: The memory sizes of serverless endpoints (the developer guide: 1024 to 6144 MB in steps of 1024).
MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)


@dataclass(frozen=True)
class InstanceProfile:
    """How the model serves on one instance type.

    ``workers`` model-server workers each serve one request at a time; a busy worker
    keeps ``cpu_per_worker`` vCPUs busy (the CPUUtilization model).
    """

    instance_type: str
    workers: int
    service_time: Distribution
    memory_mb: float | None = None
    calibrated: bool = True
    cpu_per_worker: float = 1.0
    variants: tuple[EnvironmentVariant, ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def observed_invocations_per_minute(self) -> tuple[float, float] | None:
        """The per-instance load range the entry was calibrated on, if recorded."""
        observed = self.provenance.get("observed_invocations_per_minute")
        return (float(observed[0]), float(observed[1])) if observed else None

    def for_environment(self, environment: Mapping[str, str]) -> InstanceProfile:
        """The entry as it serves under these environment variables: the first variant whose
        ``when`` pairs all hold overrides workers, service time, memory or cpu_per_worker."""
        for variant in self.variants:
            if all(environment.get(key) == value for key, value in variant.when):
                return replace(self, variants=(), **dict(variant.overrides))
        return replace(self, variants=())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"workers": self.workers, "service_time": self.service_time.to_dict()}
        if self.memory_mb is not None:
            out["memory_mb"] = self.memory_mb
        out["calibrated"] = self.calibrated
        if self.cpu_per_worker != 1.0:
            out["cpu_per_worker"] = self.cpu_per_worker
        if self.variants:
            out["variants"] = [variant.to_dict() for variant in self.variants]
        if self.provenance:
            out["provenance"] = dict(self.provenance)
        return out


@dataclass(frozen=True)
class EnvironmentVariant:
    """How an instance entry changes under some environment variables (e.g. OMP_NUM_THREADS)."""

    when: tuple[tuple[str, str], ...]
    overrides: tuple[tuple[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"when": dict(self.when)}
        for key, value in self.overrides:
            out[key] = value.to_dict() if isinstance(value, Distribution) else value
        return out


@dataclass(frozen=True)
class ServerlessProfile:
    """How the model serves on serverless inference (the profile's ``serverless`` section)."""

    reference_memory_mb: int
    service_time: Distribution
    model_setup_time: Distribution
    memory_needed_mb: int = 1024
    max_speedup: float = 2.0
    idle_timeout_s: float = 600.0
    payload_kb: float = 10.0
    backoff_ms: float = 100.0

    def service_at(self, memory_mb: int) -> Distribution:
        """The service time with ``memory_mb`` of memory (and the compute that comes with it)."""
        ratio = memory_mb / self.reference_memory_mb
        speedup = min(ratio, self.max_speedup) if ratio >= 1 else ratio
        return self.service_time.scaled(1.0 / speedup)

    def to_dict(self) -> dict[str, Any]:
        return {"reference_memory_mb": self.reference_memory_mb, "service_time": self.service_time.to_dict(),
                "model_setup_time": self.model_setup_time.to_dict(), "memory_needed_mb": self.memory_needed_mb,
                "max_speedup": self.max_speedup, "idle_timeout_s": self.idle_timeout_s,
                "payload_kb": self.payload_kb, "backoff_ms": self.backoff_ms}


#: Upper bounds of the section's scalars: irsim's own, so that no value makes a run meaningless
#: (AWS documents a 4 MB payload limit for serverless endpoints; memory spans 1024 to 6144 MB,
#: so compute cannot speed up more than 6x; durations at most an hour, as in the profile).
SCALAR_MAXIMA = {"max_speedup": 6, "idle_timeout_s": 86_400, "payload_kb": 4096, "backoff_ms": 3_600_000}
SERVERLESS_KEYS = frozenset({"reference_memory_mb", "service_time", "model_setup_time", "memory_needed_mb",
                             "max_speedup", "idle_timeout_s", "payload_kb", "backoff_ms"})


def _positive(spec: Mapping[str, Any], key: str, default: float, where: str) -> float:
    return checks.positive(spec.get(key, default), f"{where}.{key}", maximum=SCALAR_MAXIMA[key])


def serverless_from_dict(spec: Any, where: str = "serverless") -> ServerlessProfile:
    """Validate a profile's ``serverless`` section."""
    if not isinstance(spec, Mapping):
        raise InputError(where, "must be an object with reference_memory_mb, service_time, model_setup_time")
    extra = sorted(set(spec) - SERVERLESS_KEYS)
    if extra:
        raise InputError(f"{where}.{extra[0]}", f"unknown key (allowed: {', '.join(sorted(SERVERLESS_KEYS))})")
    for key in ("service_time", "model_setup_time"):
        if key not in spec:
            raise InputError(f"{where}.{key}", "is required")
    reference = checks.choice(spec.get("reference_memory_mb"), f"{where}.reference_memory_mb", MEMORY_SIZES_MB)
    needed = checks.integer(spec.get("memory_needed_mb", 1024), f"{where}.memory_needed_mb", minimum=128,
                            maximum=MEMORY_SIZES_MB[-1])
    speedup = checks.number(spec.get("max_speedup", 2.0), f"{where}.max_speedup", minimum=1,
                            maximum=SCALAR_MAXIMA["max_speedup"])
    return ServerlessProfile(reference, parse_distribution(spec["service_time"], f"{where}.service_time"),
                             parse_distribution(spec["model_setup_time"], f"{where}.model_setup_time"), needed,
                             speedup, _positive(spec, "idle_timeout_s", 600.0, where),
                             _positive(spec, "payload_kb", 10.0, where), _positive(spec, "backoff_ms", 100.0, where))


@dataclass(frozen=True)
class Profile:
    """A model's service profile: per-instance entries plus the shared overhead latency."""

    model: str
    instances: Mapping[str, InstanceProfile]
    overhead: Distribution | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    serverless: ServerlessProfile | None = None

    def instance(self, instance_type: str) -> InstanceProfile:
        """The entry for ``instance_type``; an InputError lists the covered types if absent."""
        try:
            return self.instances[instance_type]
        except KeyError:
            raise InputError("instance_type", f"{instance_type!r} is not in profile {self.model!r}; "
                             f"covered: {', '.join(sorted(self.instances))}") from None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "provenance": dict(self.provenance)}
        if self.overhead is not None:
            out["overhead_ms"] = self.overhead.to_dict()
        out["instances"] = {name: entry.to_dict() for name, entry in self.instances.items()}
        if self.serverless is not None:
            out["serverless"] = self.serverless.to_dict()
        return out


INSTANCE_KEYS = frozenset({"workers", "service_time", "memory_mb", "calibrated", "cpu_per_worker", "variants",
                           "provenance"})


def _instance_from_dict(name: str, spec: Any) -> InstanceProfile:
    where = f"instances.{name}"
    if not isinstance(spec, Mapping):
        raise InputError(where, "must be an object with 'workers' and 'service_time'")
    extra = sorted(set(spec) - INSTANCE_KEYS)
    if extra:
        raise InputError(f"{where}.{extra[0]}", f"unknown key (allowed: {', '.join(sorted(INSTANCE_KEYS))})")
    workers = checks.integer(spec.get("workers"), f"{where}.workers", minimum=1, maximum=MAX_WORKERS)
    if "service_time" not in spec:
        raise InputError(f"{where}.service_time", "is required")
    service = bounded_distribution(spec["service_time"], f"{where}.service_time")
    memory = spec.get("memory_mb")
    memory_mb = None if memory is None else checks.number(memory, f"{where}.memory_mb", minimum=0)
    calibrated = spec.get("calibrated", True)
    if not isinstance(calibrated, bool):
        raise InputError(f"{where}.calibrated", f"must be true or false, got {calibrated!r}")
    cpu = checks.positive(spec.get("cpu_per_worker", 1.0), f"{where}.cpu_per_worker", maximum=MAX_CPU_PER_WORKER)
    provenance = _instance_provenance(spec.get("provenance", {}), where)
    variants = spec.get("variants", [])
    if not isinstance(variants, list):
        raise InputError(f"{where}.variants", "must be a list of {\"when\": {NAME: VALUE}, ...overrides}")
    base = InstanceProfile(instance_type=name, workers=workers, service_time=service, memory_mb=memory_mb,
                           calibrated=calibrated, cpu_per_worker=cpu)
    return replace(base, variants=tuple(_variant(base, v, f"{where}.variants[{i}]") for i, v in enumerate(variants)),
                   provenance=dict(provenance))


def bounded_distribution(spec: Any, where: str) -> Distribution:
    """A profile's duration distribution, its mean (and every empirical sample) at most
    MAX_DURATION_MS."""
    distribution = parse_distribution(spec, where)
    check_duration_scale(distribution, where)
    return distribution


def check_duration_scale(distribution: Distribution, where: str) -> None:
    """InputError unless ``distribution``'s mean and samples stay within MAX_DURATION_MS."""
    largest = max(distribution.samples_ms, default=distribution.mean_ms)
    if not max(largest, distribution.mean_ms) <= MAX_DURATION_MS:
        field = f"{where}.samples_ms" if distribution.samples_ms else f"{where}.mean_ms"
        raise InputError(field, f"must be at most {MAX_DURATION_MS:g} ms (an hour), got "
                                f"{max(largest, distribution.mean_ms):g}")


def _instance_provenance(provenance: Any, where: str) -> Mapping[str, Any]:
    """An entry's provenance object; its observed load range, if given, is [low, high] >= 0."""
    if not isinstance(provenance, Mapping):
        raise InputError(f"{where}.provenance", "must be an object")
    observed = provenance.get("observed_invocations_per_minute")
    if observed is not None and not (isinstance(observed, (list, tuple)) and len(observed) == 2 and all(
            checks.is_number(v) and v >= 0 for v in observed)):
        raise InputError(f"{where}.provenance.observed_invocations_per_minute",
                         "must be [low, high] invocations per minute")
    return provenance


def _variant(base: InstanceProfile, spec: Any, where: str) -> EnvironmentVariant:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("when"), Mapping) or not spec["when"]:
        raise InputError(f"{where}.when", "must be a non-empty object of environment variable names to values")
    when = spec["when"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in when.items()):
        raise InputError(f"{where}.when", "environment variable names and values must be strings")
    allowed = {"when", "workers", "service_time", "memory_mb", "cpu_per_worker"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise InputError(f"{where}.{extra[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
    # Validate the overrides by building the entry they describe.
    merged = {**base.to_dict(), **{k: v for k, v in spec.items() if k != "when"}}
    merged.pop("variants", None)
    entry = _instance_from_dict(base.instance_type, merged)
    overrides = tuple((key, getattr(entry, key)) for key in ("workers", "service_time", "memory_mb", "cpu_per_worker")
                      if key in spec)
    return EnvironmentVariant(tuple(sorted(when.items())), overrides)


def profile_from_dict(document: Any) -> Profile:
    """Validate a profile document (already parsed JSON) into a Profile."""
    if not isinstance(document, Mapping):
        raise InputError("profile", "must be a JSON object with 'model' and 'instances'")
    extra = sorted(set(document) - {"model", "provenance", "overhead_ms", "instances", "serverless"})
    if extra:
        raise InputError(extra[0], "unknown top-level key (allowed: model, provenance, overhead_ms, instances, "
                                   "serverless)")
    model = document.get("model")
    if not isinstance(model, str) or not model:
        raise InputError("model", f"must be a non-empty string, got {model!r}")
    instances = document.get("instances")
    if not isinstance(instances, Mapping) or not instances:
        raise InputError("instances", "must be an object with at least one instance type")
    for name in instances:
        if not isinstance(name, str) or not name.startswith("ml."):
            raise InputError(f"instances.{name}", "instance type names start with 'ml.' (e.g. ml.c5.xlarge)")
    provenance = document.get("provenance", {})
    if not isinstance(provenance, Mapping):
        raise InputError("provenance", "must be an object")
    overhead = None
    if document.get("overhead_ms") is not None:
        overhead = bounded_distribution(document["overhead_ms"], "overhead_ms")
    entries = {name: _instance_from_dict(name, spec) for name, spec in instances.items()}
    serverless = None
    if document.get("serverless") is not None:
        serverless = serverless_from_dict(document["serverless"])
        check_duration_scale(serverless.service_time, "serverless.service_time")
        check_duration_scale(serverless.model_setup_time, "serverless.model_setup_time")
    return Profile(model=model, instances=MappingProxyType(entries), overhead=overhead,
                   provenance=MappingProxyType(dict(provenance)), serverless=serverless)


def load_profile(source: Profile | Mapping[str, Any] | str | Path) -> Profile:
    """A Profile from a Profile, a parsed document, a JSON file path, or the name ``"demo"``."""
    if isinstance(source, Profile):
        return source
    if isinstance(source, Mapping):
        return profile_from_dict(source)
    path = DEMO_PROFILE_PATH if str(source) == "demo" else Path(str(source).removeprefix("file://"))
    document = read_json(path, "profile")
    try:
        return profile_from_dict(document)
    except InputError as exc:  # the file and the field in it, as one line
        raise InputError("profile", f"{path}: {exc.field}: {exc.message}") from None
