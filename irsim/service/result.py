"""A finished job and ``irsim.json``, the document of what irsim knows beyond the two AWS
answers: a tree of dataclasses that writes and reads its JSON (``to_json``/``from_json``)
and whose JSON Schema (irsim-json.schema.json, ``python -m irsim.service.schema``) is read
from the same type hints."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

from irsim.service.admission import PROVISIONING_S, NotScheduled
from irsim.service.benchmark import BenchmarkOutcome
from irsim.service.documents import DocumentError, JsonDocument, key
from irsim.service.minutes import minute_number
from irsim.service.production import cheapest_passing, checkable
from irsim.service.request import JobSpec
from irsim.service.responses import ScheduledBenchmark
from optimizer.production import ProductionCheck
from simulator import Profile

#: Where the schema of irsim.json is kept, and its $id.
SCHEMA_FILE = "irsim-json.schema.json"
SCHEMA_ID = "urn:irsim:irsim-json"
log = logging.getLogger(__name__)


def labelled(instance_type: str, environment: Mapping[str, str]) -> str:
    """A benchmark in one line: its instance type (or serverless size) and environment."""
    parameters = ",".join(f"{k}={v}" for k, v in environment.items())
    return instance_type + (f" [{parameters}]" if parameters else "")


@dataclass(frozen=True)
class Interval(JsonDocument):
    """A mean over seeded replications and its 95 % Student-t confidence interval."""

    mean: float
    ci95: tuple[float, float]


Verdict = Literal["meets", "misses", "too close to call"]


@dataclass(frozen=True)
class SettleRecord(JsonDocument):
    """What would settle a verdict too close to call: the relative precision to sample at and
    about how many simulated requests the decision would take."""

    precision: float = field(metadata=key(doc="the relative precision (a share: 0.004 is +-0.4 %) to sample at"))
    requests: int = field(metadata=key(doc="simulated requests the decision would take, about"))
    practical: bool = field(metadata=key(doc="false: the percentile lies within 0.1 % of the threshold"))


@dataclass(frozen=True)
class NextCountDown(JsonDocument):
    """The count one below the smallest passing count, and its verdict."""

    count: int
    verdict: Verdict
    percentile_ms: float | None = field(metadata=key(doc="null when that count is unstable"))
    interval_ms: tuple[float, float] | None
    settle: SettleRecord | None = field(metadata=key(doc="what would settle a verdict too close to call"))


@dataclass(frozen=True)
class ProductionCheckRecord(JsonDocument):
    """A recommendation simulated as deployed: its AWS-method count under open (Poisson)
    traffic at the job's target, against the job's latency threshold."""

    endpoint: str = field(metadata=key(doc="the endpoint checked: its instance type and environment variant, whose "
                                           "own profile entry was simulated"))
    count: int
    rate_per_minute: float
    percentile: str = field(metadata=key(doc="P95 or P99"))
    threshold_ms: float | None
    routing: str
    utilization: float = field(metadata=key(doc="offered load per worker; 1 or more: the queue grows without bound"))
    stable: bool
    percentile_ms: float | None = field(metadata=key(doc="null when the endpoint is unstable"))
    interval_ms: tuple[float, float] | None
    replications: int
    meets_threshold: bool | None = field(metadata=key(doc="true only when the verdict is meets (a verdict too "
                                                          "close to call is false here); null without a threshold"))
    smallest_passing_count: int | None = field(metadata=key(doc="the smallest count that surely meets"))
    reason: str | None = field(metadata=key(doc="why no count passes, when none does"))
    verdict: Verdict | None = field(default=None, metadata=key(
        omit_none=True, doc="the checked count: meets, misses or too close to call at the budget used"))
    decided_by: Literal["interval", "precision", "budget"] | None = field(default=None, metadata=key(
        omit_none=True, doc="interval: it excludes the threshold; precision or budget: sampling stopped with "
                            "the threshold inside it"))
    settle: SettleRecord | None = field(default=None, metadata=key(omit_none=True))
    next_count_down: NextCountDown | None = field(default=None, metadata=key(omit_none=True))
    workers_note: str | None = field(default=None, metadata=key(
        omit_none=True, doc="the profile entry holds the most conservative member of a calibrated set of worker "
                            "counts: the check plans on it"))

    @classmethod
    def of(cls, check: ProductionCheck) -> ProductionCheckRecord:
        return cls.from_json(check.to_document())


@dataclass(frozen=True)
class BenchmarkRecord(JsonDocument):
    """One scheduled benchmark: how it ended, whether its profile entry was measured, its price
    and the price's provenance, and its production check."""

    index: int
    instance_type: str = field(metadata=key("InstanceType"))
    endpoint_name: str | None = field(metadata=key("EndpointName", omit_none=True,
                                                   doc="an existing endpoint the job measured"))
    instance_count: int | None = field(metadata=key("InstanceCount", omit_none=True))
    environment: dict[str, str] = field(metadata=key("EnvironmentParameters"))
    status: Literal["COMPLETED", "FAILED"] = field(metadata=key("Status"))
    failure_reason: str | None
    calibrated: bool = field(metadata=key(doc="false: the profile entry was derived by scaling rules"))
    price_per_hour: float | None
    price_confidence: str | None
    price_source: str | None
    stop_reason: str
    simulated_s: float
    per_instance_max_invocations: int | None
    best_minute: int | None = field(metadata=key(doc="counted from 1"))
    warnings: tuple[str, ...]
    production_check: ProductionCheckRecord | None = field(default=None, metadata=key(omit_none=True))

    @property
    def label(self) -> str:
        return labelled(self.instance_type, self.environment)

    @classmethod
    def of(cls, item: ScheduledBenchmark, check: ProductionCheck | None) -> BenchmarkRecord:
        outcome, spec, price = item.outcome, item.outcome.spec, item.price
        return cls(index=spec.index, instance_type=spec.instance_type,
                   endpoint_name=spec.endpoint.name if spec.endpoint else None,
                   instance_count=spec.instance_count if spec.endpoint else None,
                   environment=dict(spec.environment), status="COMPLETED" if item.succeeded else "FAILED",
                   failure_reason=outcome.failure_reason or item.price_error, calibrated=outcome.calibrated,
                   price_per_hour=getattr(price, "per_hour", None),
                   price_confidence=price.confidence if price else None,
                   price_source=price.source if price else None, stop_reason=outcome.stop_reason,
                   simulated_s=outcome.duration_s, per_instance_max_invocations=outcome.per_instance_max,
                   best_minute=minute_number(outcome.best_minute), warnings=tuple(outcome.warnings),
                   production_check=ProductionCheckRecord.of(check) if check is not None else None)


@dataclass(frozen=True)
class Headline(JsonDocument):
    """The cheapest recommendation that meets the threshold in production, at the count that does."""

    index: int
    instance_type: str = field(metadata=key("InstanceType"))
    environment: dict[str, str] = field(metadata=key("EnvironmentParameters"))
    count: int
    aws_count: int = field(metadata=key(doc="the count the AWS method recommends"))
    cost_per_hour: float
    percentile: str
    threshold_ms: float | None
    rate_per_minute: float

    @property
    def label(self) -> str:
        """The instance type and its environment variant: ``ml.c5.xlarge [OMP_NUM_THREADS=2]``."""
        return labelled(self.instance_type, self.environment)


@dataclass(frozen=True)
class LeftOut(JsonDocument):
    """A benchmark the job did not schedule (``reason``), or cut short by a stop (no reason)."""

    index: int
    instance_type: str = field(metadata=key("InstanceType"))
    reason: str | None = field(default=None, metadata=key(omit_none=True))


@dataclass(frozen=True)
class ReplicatedBenchmark(JsonDocument):
    """One benchmark over the replications: what a user acts on (the production percentile at
    the first run's count, the smallest passing count), then the test procedure's own figures."""

    index: int
    instance_type: str = field(metadata=key("InstanceType"))
    environment: dict[str, str] = field(metadata=key("EnvironmentParameters"))
    succeeded: int
    count: int | None = field(default=None, metadata=key(omit_none=True, doc="the first run's AWS-method count"))
    production_count: int | None = field(default=None, metadata=key(omit_none=True))
    production_percentile: str | None = field(default=None, metadata=key(omit_none=True))
    per_instance_max_invocations: Interval | None = field(default=None, metadata=key(omit_none=True))
    model_latency_ms: Interval | None = field(default=None, metadata=key(omit_none=True))
    count_margin: Interval | None = field(default=None, metadata=key(omit_none=True))
    production_percentile_ms: Interval | None = field(default=None, metadata=key(omit_none=True))
    smallest_passing_count: Interval | None = field(default=None, metadata=key(omit_none=True))

    @property
    def label(self) -> str:
        return labelled(self.instance_type, self.environment)


@dataclass(frozen=True)
class Replications(JsonDocument):
    """A job run with independent seeds (the first is the job's own), summarised per benchmark."""

    replications: int
    seeds: tuple[int, ...]
    benchmarks: tuple[ReplicatedBenchmark, ...]


@dataclass(frozen=True)
class JobDocument(JsonDocument):
    """irsim.json: the facts of a job kept outside the AWS shapes (calibration, price
    provenance, stop reasons, production checks, the headline, replications)."""

    model: str
    seed: int
    provisioning_s: float
    irsim_version: str
    profile_provenance: dict[str, Any]
    benchmarks: tuple[BenchmarkRecord, ...]
    headline: Headline | None
    not_scheduled: tuple[LeftOut, ...]
    stopped: tuple[LeftOut, ...]
    warnings: tuple[str, ...]
    replications: Replications | None = field(default=None, metadata=key(omit_none=True))
    per_minute: dict[str, dict[str, list[float | None]]] | None = field(
        default=None, metadata=key(omit_none=True, doc="a stored job's minutes by benchmark index (its scaling "
                                                       "recommendation is computed from them)"))

    def benchmark(self, index: int) -> BenchmarkRecord | None:
        return next((b for b in self.benchmarks if b.index == index), None)


def irsim_version() -> str:
    """The installed irsim's version, kept with every result (the report says what made it)."""
    try:
        return metadata.version("irsim")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class JobResult:
    """A finished job: the two AWS answers plus what irsim knows beyond them."""

    spec: JobSpec
    describe: dict[str, Any]
    steps: dict[str, Any]
    scheduled: tuple[ScheduledBenchmark, ...]
    not_scheduled: tuple[NotScheduled, ...]  # never simulated: the job's duration leaves them out
    model: str
    seed: int
    stopped: tuple[BenchmarkOutcome, ...] = ()
    production: Mapping[int, ProductionCheck] = field(default_factory=dict)  # by benchmark index
    profile: Profile | None = None  # the profile the benchmarks ran on (unmeasured types derived)

    def document(self, replications: Replications | None = None) -> JobDocument:
        """irsim.json: the irsim-only facts kept outside the AWS shapes."""
        return JobDocument(
            model=self.model, seed=self.seed, provisioning_s=PROVISIONING_S, irsim_version=irsim_version(),
            profile_provenance=dict(self.profile.provenance) if self.profile is not None else {},
            benchmarks=tuple(BenchmarkRecord.of(item, self.production.get(item.outcome.spec.index))
                             for item in self.scheduled),
            headline=self.headline(),
            not_scheduled=tuple(LeftOut(index=o.spec.index, instance_type=o.spec.instance_type, reason=o.reason)
                                for o in self.not_scheduled),
            stopped=tuple(LeftOut(index=o.spec.index, instance_type=o.spec.instance_type) for o in self.stopped),
            warnings=tuple(self.spec.warnings), replications=replications)

    def extensions(self) -> dict[str, Any]:
        """irsim.json as JSON values (``document().to_json()``)."""
        return self.document().to_json()

    def headline(self) -> Headline | None:
        """The cheapest recommendation that meets the threshold in production, at the count
        that does (None when no recommendation was checked or none can pass)."""
        found = cheapest_passing(checkable(self.spec, self.scheduled), self.production)
        if found is None:
            return None
        recommendation, check, count = found
        return Headline(index=recommendation.index, instance_type=recommendation.instance_type,
                        environment=dict(recommendation.environment), count=count,
                        aws_count=recommendation.count, cost_per_hour=count * recommendation.price_per_hour,
                        percentile=f"P{check.percentile:g}", threshold_ms=check.threshold_ms,
                        rate_per_minute=check.rate_per_minute)


@dataclass(frozen=True)
class ImportedJob(JsonDocument):
    """What a job imported from AWS keeps instead (irsim/boto3mode/importer.py): it was not
    simulated; ``source`` says where it came from."""

    source: str
    imported: bool
    model: str
    seed: str
    benchmarks: tuple[BenchmarkRecord, ...]


def stored_document(extensions: Mapping[str, Any] | None) -> JobDocument | ImportedJob | None:
    """A stored job's document, typed: a simulated job's JobDocument, an imported job's own;
    None before the job ended, or when another version of irsim wrote what this one cannot read."""
    if extensions is None:
        return None
    try:
        return ImportedJob.from_json(extensions) if extensions.get("imported") else JobDocument.from_json(extensions)
    except DocumentError as exc:
        log.warning("the job's irsim document is left out: %s", exc)
        return None
