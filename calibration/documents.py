"""Reading a measurement file: its bytes, their SHA-256 (provenance) and the JSON in them,
or one line naming the file and what is wrong with it."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.checks import is_number
from simulator.errors import InputError
from simulator.jsonfiles import parse_json, read_input


@dataclass(frozen=True)
class SourceFile:
    """Where a measurement came from: path and SHA-256 of its bytes."""

    path: str
    sha256: str


def load_json(source: str | Path | Mapping[str, Any], kind: str) -> tuple[Any, SourceFile]:
    """A parsed JSON document (or a document given already parsed) and where it came from."""
    if isinstance(source, Mapping):
        text = json.dumps(source, default=str)
        return source, SourceFile("<document>", hashlib.sha256(text.encode()).hexdigest())
    path = Path(source)
    data = read_input(path, str(path))  # regular files only, size-capped: the one reader's limits
    if not data.strip():
        raise InputError(str(path), f"is empty; expected {kind}")
    document = parse_json(data, str(path), f"the {kind} file")  # the one loader: encoding, syntax, depth
    return document, SourceFile(str(path), hashlib.sha256(data).hexdigest())


def file_hash(path: str | Path) -> SourceFile:
    return SourceFile(str(path), hashlib.sha256(read_input(path, str(path))).hexdigest())


def mapping(value: Any, where: str, what: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an InputError saying what it should be."""
    if not isinstance(value, Mapping):
        raise InputError(where, f"must be an object ({what}), got {value!r:.60}")
    return value


def listing(value: Any, where: str, what: str) -> list[Any]:
    """``value`` if it is a JSON list, else an InputError saying what it should be."""
    if not isinstance(value, list):
        raise InputError(where, f"must be a list ({what}), got {value!r:.60}")
    return value


def positive_number(value: Any, where: str, what: str) -> float:
    """A finite number > 0."""
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise InputError(where, f"{what} must be a finite number > 0, got {value!r:.60}")
    return float(value)


def text(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(where, f"{what} must be a non-empty string, got {value!r:.60}")
    return value
