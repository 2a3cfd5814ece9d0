"""Dataclass trees as JSON documents: ``to_json`` and ``from_json`` that round-trip, and the
JSON Schema of a tree read from the same type hints, so the files irsim writes and their
schema have one source.

A field's JSON key is its name unless its metadata says otherwise (``key("InstanceType")``);
a field marked ``omit_none`` is left out of the document when it is None (an optional key).
Numbers are kept as they came (an integer in a ``float`` field stays an integer), so a
document read and written again is the same text.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")

#: The packages whose dataclasses a tagged value (``$type``) may name: what ``from_json``
#: may construct when a field's declared type does not say which dataclass it holds (the
#: simulator's traffic, stopping and serverless values, the service's parsed request).
TRUSTED_PACKAGES = ("simulator", "irsim.service")
TAG = "$type"


class DocumentError(ValueError):
    """A document that does not fit its type; the message names where (``benchmarks[2].index``)."""


def key(name: str | None = None, *, omit_none: bool = False, doc: str | None = None) -> dict[str, Any]:
    """A field's metadata: its JSON key, whether None leaves the key out, and its description."""
    return {"key": name, "omit_none": omit_none, "doc": doc}


def json_key(item: dataclasses.Field) -> str:
    return item.metadata.get("key") or item.name


def _fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """The constructor's fields of a dataclass with their resolved types."""
    hints = _hints(cls)
    return [(item, hints[item.name]) for item in dataclasses.fields(cls) if item.init]


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


# --- to JSON ------------------------------------------------------------------------------------

def to_json(value: Any, declared: Any = Any) -> Any:
    """``value`` as JSON values (dicts, lists, str, numbers, bools, None). A dataclass whose
    class its declared type does not name carries its class as ``$type``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        document = {TAG: _class_name(type(value))} if _without_none(declared) is not type(value) else {}
        for item, hint in _fields(type(value)):
            field_value = getattr(value, item.name)
            if field_value is None and item.metadata.get("omit_none"):
                continue
            document[json_key(item)] = to_json(field_value, hint)
        return document
    if isinstance(value, Mapping):
        inner = _mapping_value_type(declared)
        return {str(k): to_json(v, inner) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, hint) for v, hint in zip(value, _item_types(declared, len(value)), strict=True)]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a numpy scalar
        return value.item()
    return value


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _mapping_value_type(declared: Any) -> Any:
    args = get_args(_without_none(declared))
    return args[1] if len(args) == 2 else Any


def _item_types(declared: Any, count: int) -> list[Any]:
    """The declared type of each item of a list or tuple of ``count`` items."""
    args = get_args(_without_none(declared))
    if (len(args) == 2 and args[1] is Ellipsis) or len(args) == 1:
        return [args[0]] * count
    return list(args) if len(args) == count else [Any] * count


def _without_none(declared: Any) -> Any:
    """``X`` for ``X | None`` (the declared type of a present value)."""
    if _is_union(declared):
        others = [a for a in get_args(declared) if a is not type(None)]
        return others[0] if len(others) == 1 else declared
    return declared


def _is_union(declared: Any) -> bool:
    return get_origin(declared) in (Union, types.UnionType)


# --- from JSON ----------------------------------------------------------------------------------

def from_json(cls: type[T], document: Any) -> T:
    """The dataclass ``cls`` read from ``document`` (as ``to_json`` wrote it); a DocumentError
    names the first place that does not fit."""
    return typing.cast(T, _read(cls, document, cls.__name__))


def _read(declared: Any, value: Any, where: str) -> Any:
    if declared is Any:
        return _read_tagged(value, where) if isinstance(value, Mapping) and TAG in value else value
    if _is_union(declared):
        return _read_union(declared, value, where)
    origin = get_origin(declared)
    if origin is Literal:
        if value not in get_args(declared):
            raise DocumentError(f"{where}: must be one of {', '.join(map(repr, get_args(declared)))}, got {value!r}")
        return value
    if origin in (tuple, list, Sequence) or declared in (tuple, list):
        if not isinstance(value, list):
            raise DocumentError(f"{where}: must be a list, got {type(value).__name__}")
        fixed = get_args(declared) if origin is tuple and Ellipsis not in get_args(declared) else None
        if fixed and len(fixed) != len(value):
            raise DocumentError(f"{where}: must have {len(fixed)} items, got {len(value)}")
        items = [_read(h, v, f"{where}[{i}]") for i, (v, h) in enumerate(zip(value, _item_types(declared, len(value)),
                                                                           strict=True))]
        return items if origin is list else tuple(items)
    if origin in (dict, Mapping) or declared in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise DocumentError(f"{where}: must be an object, got {type(value).__name__}")
        inner = _mapping_value_type(declared)
        return {k: _read(inner, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(declared, type) and dataclasses.is_dataclass(declared):
        return _read_dataclass(declared, value, where)
    if isinstance(value, Mapping) and TAG in value:  # an abstract declared type: the value says its class
        return _read_tagged(value, where)
    return _read_scalar(declared, value, where)


def _read_union(declared: Any, value: Any, where: str) -> Any:
    options = get_args(declared)
    if value is None:
        if type(None) in options:
            return None
        raise DocumentError(f"{where}: must not be null")
    if isinstance(value, Mapping) and TAG in value:
        return _read_tagged(value, where)
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return _read(option, value, where)
        except DocumentError as exc:
            errors.append(str(exc))
    raise DocumentError(errors[0] if len(errors) == 1 else f"{where}: fits none of {declared}: {'; '.join(errors)}")


def _read_dataclass(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, Mapping):
        raise DocumentError(f"{where}: must be an object, got {type(value).__name__}")
    known = {json_key(item) for item, _ in _fields(cls)} | {TAG}
    unknown = sorted(set(value) - known)
    if unknown:
        raise DocumentError(f"{where}: unknown key(s) {', '.join(unknown)}")
    arguments = {}
    for item, hint in _fields(cls):
        name = json_key(item)
        if name in value:
            arguments[item.name] = _read(hint, value[name], f"{where}.{name}")
        elif item.metadata.get("omit_none"):
            arguments[item.name] = None
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise DocumentError(f"{where}: missing key {name}")
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as exc:
        raise DocumentError(f"{where}: {exc}") from None


def _read_tagged(value: Mapping[str, Any], where: str) -> Any:
    """A dataclass that names its class: only a dataclass of irsim's own packages."""
    module, _, name = str(value[TAG]).partition(":")
    if not any(module == package or module.startswith(package + ".") for package in TRUSTED_PACKAGES):
        raise DocumentError(f"{where}: {TAG} {value[TAG]!r} is not a class of irsim's packages")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise DocumentError(f"{where}: {TAG} {value[TAG]!r} names no class") from None
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise DocumentError(f"{where}: {TAG} {value[TAG]!r} is not a dataclass")
    return _read_dataclass(cls, value, where)


SCALARS: dict[Any, tuple[type, ...]] = {int: (int,), float: (int, float), str: (str,), bool: (bool,),
                                        type(None): (type(None),)}


def _read_scalar(declared: Any, value: Any, where: str) -> Any:
    if isinstance(declared, type) and issubclass(declared, float) and declared is not float:
        # a number that knows more (simulator.Percentile): written as the number, rebuilt from it
        return declared(_read_scalar(float, value, where))
    allowed = SCALARS.get(declared)
    if allowed is None:
        raise DocumentError(f"{where}: cannot read a value of type {declared}")
    if not isinstance(value, allowed) or (declared is not bool and isinstance(value, bool)):
        raise DocumentError(f"{where}: must be {declared.__name__}, got {type(value).__name__} {value!r}")
    return value


# --- JSON Schema --------------------------------------------------------------------------------

def json_schema(cls: type, title: str, schema_id: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of documents ``to_json`` writes for ``cls``: every
    dataclass of the tree in ``$defs``, its always-written keys required, no other keys."""
    definitions: dict[str, Any] = {}
    root = _schema(cls, definitions)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, "title": title,
            **root, "$defs": dict(sorted(definitions.items()))}


def _schema(declared: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    if declared is Any:
        return {}
    if _is_union(declared):
        options = [_schema(a, definitions) for a in get_args(declared)]
        return {"anyOf": options}
    origin = get_origin(declared)
    if origin is Literal:
        return {"enum": list(get_args(declared))}
    if origin in (tuple, list, Sequence):
        args = get_args(declared)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {"type": "array", "prefixItems": [_schema(a, definitions) for a in args],
                    "minItems": len(args), "maxItems": len(args)}
        return {"type": "array", "items": _schema(args[0] if args else Any, definitions)}
    if origin in (dict, Mapping):
        return {"type": "object", "additionalProperties": _schema(_mapping_value_type(declared), definitions)}
    if isinstance(declared, type) and dataclasses.is_dataclass(declared):
        if declared.__name__ not in definitions:
            definitions[declared.__name__] = {}  # a placeholder: a tree may refer to itself
            definitions[declared.__name__] = _object_schema(declared, definitions)
        return {"$ref": f"#/$defs/{declared.__name__}"}
    names = {int: "integer", float: "number", str: "string", bool: "boolean", type(None): "null"}
    if isinstance(declared, type) and issubclass(declared, float):
        return {"type": "number"}
    if declared not in names:
        raise TypeError(f"no JSON Schema for {declared}")
    return {"type": names[declared]}


def _object_schema(cls: type, definitions: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    for item, hint in _fields(cls):
        name = json_key(item)
        schema = _schema(_without_none(hint) if item.metadata.get("omit_none") else hint, definitions)
        if item.metadata.get("doc"):
            schema = {"description": item.metadata["doc"], **schema}
        properties[name] = schema
        if not item.metadata.get("omit_none"):
            required.append(name)
    summary = (cls.__doc__ or "").strip().split("\n\n")[0]
    return {"description": " ".join(summary.split()), "type": "object", "properties": properties,
            "required": required, "additionalProperties": False}


class JsonDocument:
    """A dataclass that is a JSON document: ``to_json()`` and ``from_json()`` round-trip."""

    def to_json(self) -> dict[str, Any]:
        return typing.cast(dict[str, Any], to_json(self, type(self)))

    @classmethod
    def from_json(cls: type[T], document: Any) -> T:
        return from_json(cls, document)
