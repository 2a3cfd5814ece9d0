"""Whether a stored document has the shape irsim reads it as: a row whose JSON decodes to an
object of the wrong shape (``{"": []}`` as a Describe) is damage, told as such, not a KeyError
in every later List or Describe.

The AWS documents are checked by botocore's own ParamValidator against the service model: the
request against CreateInferenceRecommendationsJob's input shape (what ``create`` validated
before storing it), the Describe and the steps against the output shapes of
DescribeInferenceRecommendationsJob and ListInferenceRecommendationsJobSteps (what the client
hands back); a stored model, package or endpoint against its Describe operation's output
(``durable.resourcestore.resource_problem``). The parsed request (``spec``) is read back by
its own loader."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from botocore.model import Shape, StructureShape
from botocore.validate import ParamValidator

from irsim.service.awsmodel import operation
from irsim.service.documents import DocumentError, from_json
from irsim.service.request import JobSpec


@cache
def _shape(operation_name: str, side: str) -> Shape:
    model = operation(operation_name)
    shape = model.input_shape if side == "input" else model.output_shape
    assert shape is not None, f"{operation_name} has an {side} shape"
    return shape


def against(operation_name: str, side: str, document: Mapping[str, Any]) -> str | None:
    """What botocore's validator finds wrong in ``document`` as ``operation_name``'s ``side``
    ("input" or "output"), or None; members the shape does not have are irsim's own and left
    out of the check."""
    shape = _shape(operation_name, side)
    members = shape.members if isinstance(shape, StructureShape) else {}
    modeled = {key: value for key, value in document.items() if key in members}
    report = ParamValidator().validate(modeled, shape)
    if not report.has_errors():
        return None
    first = report.generate_report().splitlines()[:1] or [""]
    return f"not {operation_name}'s {side} ({first[0][:160]})"


def _against(operation_name: str, side: str) -> Callable[[Mapping[str, Any]], str | None]:
    return lambda document: against(operation_name, side, document)


def _spec(document: Mapping[str, Any]) -> str | None:
    try:
        from_json(JobSpec, document)
    except DocumentError as exc:
        return f"not a parsed request ({str(exc)[:160]})"
    return None


#: The check of each document column that irsim reads by key; the others are read with defaults.
CHECKS: Mapping[str, Callable[[Mapping[str, Any]], str | None]] = MappingProxyType({
    "request": _against("CreateInferenceRecommendationsJob", "input"),
    "describe": _against("DescribeInferenceRecommendationsJob", "output"),
    "steps": _against("ListInferenceRecommendationsJobSteps", "output"),
    "spec": _spec,
})


def shape_problem(column: str, document: Mapping[str, Any]) -> str | None:
    """What is wrong with the shape of ``column``'s decoded ``document``, or None."""
    check = CHECKS.get(column)
    return check(document) if check else None
