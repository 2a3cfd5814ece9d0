"""Reading the user's JSON files: every reader of the product face goes through
simulator.jsonfiles (encoding, syntax with line and column, depth), so a bad file is one line
naming it and the argument it was given as."""

from __future__ import annotations

from typing import Any

from irsim.errors import UserError
from simulator import InputError
from simulator.jsonfiles import read_json


def load_json_file(path: str, what: str) -> Any:
    """Parse a JSON file (``file://`` prefix allowed); a bad file becomes a UserError naming
    ``what`` (the argument) and the file, with the line and column of a syntax error."""
    try:
        return read_json(path, what)
    except InputError as exc:
        raise UserError(str(exc)) from None


def load_json_object(path: str, what: str, kind: str) -> dict[str, Any]:
    """A JSON file that must hold an object (``kind`` says which, in the error)."""
    document = load_json_file(path, what)
    if not isinstance(document, dict):
        raise UserError(f"{what}: {path} must hold a JSON object ({kind}), not {type(document).__name__}")
    return document
