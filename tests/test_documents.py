"""service/documents.py: dataclass trees to JSON and back. A parsed request (a JobSpec, with
its PHASES or STAIRS traffic and serverless sizes) survives the JSON the job store keeps; a
tag may only name a dataclass of the simulator or the service; a value that does not fit its
type is refused with where it is."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from irsim.service.documents import DocumentError, JsonDocument, from_json, json_schema, key, to_json
from irsim.service.request import JobSpec, parse_request
from simulator import Phases, Stairs, load_profile

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("example", ["seed-advanced-job.json", "stairs-job.json", "serverless-job.json"])
def test_a_parsed_request_survives_its_json(example):
    job = parse_request(json.loads((EXAMPLES / example).read_text()),
                        default_instance_types=load_profile("demo").instances)
    document = json.loads(json.dumps(to_json(job, JobSpec)))
    back = from_json(JobSpec, document)
    assert back == job and type(back.traffic) is type(job.traffic) and type(job.traffic) in (Phases, Stairs)
    assert document["traffic"]["$type"] == f"simulator.traffic:{type(job.traffic).__name__}"


@pytest.mark.parametrize("tag", ["os:system", "irsim.cli.app:OneLineErrors", "simulator:no_such_class",
                                 "simulator.traffic:USERS_PER_MINUTE"])
def test_a_tag_names_only_a_dataclass_of_the_simulator_or_the_service(tag):
    with pytest.raises(DocumentError, match=r"\$type"):
        from_json(Any, {"$type": tag})


@dataclass(frozen=True)
class Pair(JsonDocument):
    """Two numbers and an optional note."""

    bounds: tuple[float, float]
    name: str = field(metadata=key("Name"))
    note: str | None = field(default=None, metadata=key(omit_none=True, doc="said when there is one"))


def test_keys_optional_keys_and_numbers_as_they_came():
    pair = Pair(bounds=(1, 2.5), name="x")
    assert pair.to_json() == {"bounds": [1, 2.5], "Name": "x"}  # the integer stays an integer
    assert Pair.from_json({"bounds": [1, 2.5], "Name": "x", "note": "n"}) == Pair((1, 2.5), "x", "n")
    schema = json_schema(Pair, "pair", "urn:test")["$defs"]["Pair"]
    assert schema["required"] == ["bounds", "Name"] and schema["properties"]["note"]["description"]
    assert schema["properties"]["bounds"] == {"type": "array", "prefixItems": [{"type": "number"}] * 2,
                                              "minItems": 2, "maxItems": 2}


@pytest.mark.parametrize("document, where", [
    ({"bounds": [1], "Name": "x"}, "Pair.bounds: must have 2 items"),
    ({"bounds": [1, "2"], "Name": "x"}, "Pair.bounds[1]: must be float"),
    ({"bounds": [1, 2], "Name": True}, "Pair.Name: must be str"),
    ({"bounds": [1, 2]}, "Pair: missing key Name"),
    ({"bounds": [1, 2], "Name": "x", "name": "y"}, "Pair: unknown key(s) name")])
def test_a_value_that_does_not_fit_is_refused_with_where(document, where):
    with pytest.raises(DocumentError, match=re.escape(where)):
        Pair.from_json(document)
