"""The JSON Schema of irsim.json, generated from the dataclasses of service/result.py.
``python -m irsim.service.schema`` writes it beside them (irsim-json.schema.json); a test
checks that the committed file is the one generated."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from irsim.service.documents import json_schema
from irsim.service.result import SCHEMA_FILE, SCHEMA_ID, JobDocument

SCHEMA_PATH = Path(__file__).with_name(SCHEMA_FILE)


def job_document_schema() -> dict[str, Any]:
    """The schema every irsim.json `irsim run` writes (and every simulated job the store keeps) fits."""
    return json_schema(JobDocument, "irsim.json: what irsim knows about a job beyond the AWS answers", SCHEMA_ID)


def schema_text() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(job_document_schema(), indent=2) + "\n"


def main() -> int:
    SCHEMA_PATH.write_text(schema_text())
    print(f"wrote {SCHEMA_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
