"""The request of a stored job, parsed once: ``create`` keeps the JobSpec it validated as a
document beside the request, and the worker and ListInferenceRecommendationsJobSteps read
it back instead of parsing the request again."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from irsim.durable.store import JobRecord
from irsim.service.documents import from_json, to_json
from irsim.service.request import DeployedEndpoint, JobSpec, parse_request


def spec_document(job: JobSpec) -> dict[str, Any]:
    """The parsed request as the store keeps it (JSON; each value names its dataclass where the
    JobSpec's types leave it open, e.g. PHASES or STAIRS traffic)."""
    document = to_json(job, JobSpec)
    assert isinstance(document, dict)
    return document


def stored_spec(record: JobRecord, endpoints: Callable[[], Mapping[str, DeployedEndpoint]]) -> JobSpec:
    """The JobSpec ``create`` parsed; a job stored before irsim kept it (no ``spec``) is parsed
    from its request, against its profile's instance types and the ``endpoints()`` deployed."""
    if record.spec is not None:
        return from_json(JobSpec, record.spec)
    return parse_request(record.request, default_instance_types=record.profile.get("instances", {}),
                         endpoints=endpoints())
