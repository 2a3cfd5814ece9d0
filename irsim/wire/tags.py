"""AddTags, ListTags and DeleteTags offline, for the tools that tag what they create (the
SageMaker SDK, Terraform): tags are kept per resource ARN in the store's ``resources`` table,
beside the resources, so every client of one irsim home sees the same tags. The Tags a Create
call carries are recorded under the ARN it returns (``record_create_tags``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from irsim.durable.resourcestore import ResourceStore
from irsim.durable.store import JobStore, decode, encode, now_utc
from irsim.service.awsmodel import validation_error, with_metadata
from irsim.service.constraints import validate_request

#: The resources-table kind of a tag set (its name is the resource's ARN).
TAGS = "tags"
#: The operations this module answers.
TAG_OPERATIONS = ("AddTags", "ListTags", "DeleteTags")
DEFAULT_PAGE = 50


class TagOperations:
    """The tag calls on one store. Which ARNs exist is not checked: irsim's own leniency (AWS
    does not document the error), so a tag on anything is kept."""

    def __init__(self, store: JobStore) -> None:
        self.store, self.resources = store, ResourceStore(store)

    def add_tags(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("AddTags", kwargs)
        self._merge(kwargs["ResourceArn"], kwargs["Tags"])
        return with_metadata({"Tags": list(kwargs["Tags"])})

    def list_tags(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("ListTags", kwargs)
        tags = self.tags_of(kwargs["ResourceArn"])
        start = _offset(kwargs.get("NextToken"))
        size = kwargs.get("MaxResults", DEFAULT_PAGE)
        response: dict[str, Any] = {"Tags": tags[start:start + size]}
        if start + size < len(tags):
            response["NextToken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode()
        return with_metadata(response)

    def delete_tags(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DeleteTags", kwargs)
        keys = set(kwargs["TagKeys"])
        self._update(kwargs["ResourceArn"], lambda tags: [tags.pop(key, None) for key in keys])
        return with_metadata({})

    def tags_of(self, arn: str) -> list[dict[str, str]]:
        stored = self.resources.get(TAGS, arn)
        return list(stored.document["Tags"]) if stored is not None else []

    def record_create_tags(self, params: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        """The Tags of a successful Create call, kept under the one ARN its response names."""
        arns = [value for key, value in response.items() if key.endswith("Arn") and isinstance(value, str)]
        if params.get("Tags") and len(arns) == 1:
            self._merge(arns[0], params["Tags"])

    def _merge(self, arn: str, tags: list[dict[str, str]]) -> None:
        """A tag whose key is already there gets the new value; the others are added."""
        self._update(arn, lambda stored: stored.update({tag["Key"]: dict(tag) for tag in tags}))

    def _update(self, arn: str, change: Callable[[dict[str, dict[str, str]]], object]) -> None:
        """Read, change and write one ARN's tags in one transaction (clients tag at the same time)."""
        with self.store.transaction() as connection:
            row = connection.execute("SELECT document FROM resources WHERE kind = ? AND name = ?",
                                     (TAGS, arn)).fetchone()
            tags = {tag["Key"]: tag for tag in decode(row[0])["Tags"]} if row else {}
            change(tags)
            document = encode({"Tags": list(tags.values())})
            if row:
                connection.execute("UPDATE resources SET document = ? WHERE kind = ? AND name = ?",
                                   (document, TAGS, arn))
            else:
                connection.execute("INSERT INTO resources (kind, name, arn, document, created) VALUES (?, ?, ?, ?, ?)",
                                   (TAGS, arn, arn, document, now_utc().isoformat()))


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise validation_error("Invalid pagination token.", "ListTags") from None
