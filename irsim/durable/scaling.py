"""GetScalingConfigurationRecommendation on the offline client: a COMPLETED stored job's
answers and per-minute series in, the service's response out (irsim/service/scaling.py)."""

from __future__ import annotations

from typing import Any

from irsim.durable.resources import method_names
from irsim.durable.store import JobRecord, JobStore
from irsim.service.awsmodel import validation_error, with_metadata
from irsim.service.constraints import validate_request
from irsim.service.result import JobDocument, stored_document
from irsim.service.scaling import (
    OPERATION,
    ScalingRecommendation,
    per_minute_frames,
    recommend_scaling,
    scaling_response,
)
from pricing import default_catalogue
from simulator import load_profile

#: The operations this mixin answers, by boto3 method name.
SCALING_METHODS = method_names(OPERATION)


def scaling_of_record(record: JobRecord, request: dict[str, Any]) -> ScalingRecommendation:
    """The scaling recommendation of a stored job; a ValidationException unless it is COMPLETED."""
    if record.status != "COMPLETED" or record.describe is None:
        raise validation_error(f"Inference recommendations job {record.name} is {record.status}: a scaling "
                               "configuration recommendation needs a COMPLETED job.", OPERATION)
    stored = stored_document(record.extensions)
    minutes = per_minute_frames(stored.per_minute if isinstance(stored, JobDocument) else None)
    profile = load_profile(record.profile) if record.profile else None  # the law that caps TargetValue
    return recommend_scaling(request, record.describe, record.extensions, minutes, default_catalogue().vcpu_of,
                             profile)


class ScalingOperations:
    """GetScalingConfigurationRecommendation, offline."""

    store: JobStore

    def _job(self, name: str, operation_name: str) -> JobRecord:  # the client's: ResourceNotFound, reaped
        raise NotImplementedError

    def get_scaling_configuration_recommendation(self, **kwargs: Any) -> dict[str, Any]:
        """Validated against the model, then: an unknown job is ResourceNotFound; a job not
        COMPLETED, both or neither of RecommendationId and EndpointName, or one the job does not
        have, is a ValidationException."""
        validate_request(OPERATION, kwargs)
        record = self._job(kwargs["InferenceRecommendationsJobName"], OPERATION)
        return with_metadata(scaling_response(kwargs, scaling_of_record(record, kwargs)))
