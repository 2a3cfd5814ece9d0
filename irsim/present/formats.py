"""JSON as irsim writes it: datetimes in ISO 8601 (as the AWS CLI prints them), numpy scalars
as plain numbers."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import numpy as np


def json_default(value: Any) -> Any:
    """datetimes as ISO 8601 (as the AWS CLI prints them); numpy scalars as numbers."""
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def finite(document: Any) -> Any:
    """``document`` with every NaN or infinity (numpy's too) as None: JSON has no such numbers,
    and a reader such as ``jq`` or JavaScript's JSON.parse refuses Python's ``NaN``."""
    if isinstance(document, dict):
        return {key: finite(value) for key, value in document.items()}
    if isinstance(document, (list, tuple)):
        return [finite(value) for value in document]
    if isinstance(document, (float, np.floating)):
        return float(document) if math.isfinite(document) else None
    return document


def dumps(document: Any, indent: int | None = 2) -> str:
    """``document`` as strict JSON (no NaN or Infinity: they become null)."""
    return json.dumps(finite(document), indent=indent, default=json_default, allow_nan=False)


