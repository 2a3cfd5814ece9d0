"""JSON as irsim writes it: datetimes in ISO 8601 (as the AWS CLI prints them), numpy scalars
as plain numbers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def json_default(value: Any) -> Any:
    """datetimes as ISO 8601 (as the AWS CLI prints them); numpy scalars as numbers."""
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, default=json_default)


