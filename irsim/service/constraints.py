"""The service side of request validation for every operation irsim answers: what botocore
leaves to the service (enums, patterns, maxima), refused as the service refuses it, with a
ValidationException naming the member and the constraint."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NoReturn

from botocore.model import ListShape, MapShape, Shape, StructureShape

from irsim.service.awsmodel import input_shape, validate_params, validation_error


def fail(operation_name: str, path: str, value: Any, constraint: str) -> NoReturn:
    """A ValidationException in the service's words for one member."""
    raise validation_error(f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
                           f"constraint: {constraint}", operation_name)


def validate_request(operation_name: str, params: Mapping[str, Any]) -> None:
    """What boto3 checks before sending (ParamValidationError), then what the service checks
    against the same model (ValidationException)."""
    validate_params(operation_name, params)
    check_constraints(operation_name, input_shape(operation_name), params, "")


def check_constraints(operation_name: str, shape: Shape, value: Any, path: str) -> None:
    """The model's constraints botocore leaves to the service, walked over ``value`` (already
    of the right types): enums, patterns and maxima of strings, lists and integers."""
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            if name in value:
                check_constraints(operation_name, member, value[name], f"{path}.{name}" if path else name)
    elif isinstance(shape, ListShape):
        if "max" in meta and len(value) > meta["max"]:
            fail(operation_name, path, f"list of {len(value)}",
                 f"Member must have length less than or equal to {meta['max']}")
        for i, item in enumerate(value):
            check_constraints(operation_name, shape.member, item, f"{path}[{i}]")
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            check_constraints(operation_name, shape.value, item, f"{path}.{key}")
    elif shape.type_name == "string":
        _check_string(operation_name, meta, value, path)
    elif shape.type_name in ("integer", "long"):
        if isinstance(value, bool):  # botocore lets bool through as int; the service would not
            fail(operation_name, path, value, "Member must be an integer")
        if "max" in meta and value > meta["max"]:
            fail(operation_name, path, value, f"Member must have value less than or equal to {meta['max']}")


def _check_string(operation_name: str, meta: Mapping[str, Any], value: str, path: str) -> None:
    if "enum" in meta and value not in meta["enum"]:
        allowed = ", ".join(meta["enum"]) if len(meta["enum"]) <= 12 else f"{len(meta['enum'])} values, e.g. " \
            + ", ".join(meta["enum"][:6])
        fail(operation_name, path, value, f"Member must satisfy enum value set: [{allowed}]")
    if "max" in meta and len(value) > meta["max"]:
        fail(operation_name, path, value, f"Member must have length less than or equal to {meta['max']}")
    if "pattern" in meta and (value or meta.get("min", 1) > 0):  # an empty string a minimum of 0 allows
        pattern = _compiled(meta["pattern"])
        if pattern is not None and not pattern.fullmatch(value):
            fail(operation_name, path, value, f"Member must satisfy regular expression pattern: {meta['pattern']}")


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    """The model's pattern, or None for one Python's re cannot read (e.g. \\p{L} classes)."""
    try:
        return re.compile(pattern)
    except re.error:
        return None
