"""Reading the user's JSON files: one place for the messages a bad file gets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from irsim.errors import UserError


def load_json_file(path: str, what: str) -> Any:
    """Parse a JSON file (``file://`` prefix allowed); a bad file becomes a UserError naming
    ``what`` (the argument) and, for a syntax error, its line and column."""
    try:
        text = Path(path.removeprefix("file://")).read_text()
    except OSError as exc:
        raise UserError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what}: {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
            from None
