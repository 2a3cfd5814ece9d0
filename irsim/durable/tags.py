"""AddTags, ListTags and DeleteTags on the offline client: tags are kept per resource ARN in the
store's ``resources`` table, beside the resources, so every client of one irsim home sees the
same tags (the SageMaker SDK's ``update_endpoint`` lists an endpoint's tags; Terraform tags what
it creates). The Tags a Create call carries (jobs, models, packages and their groups, endpoint
configurations, endpoints) are recorded under the ARN it returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from botocore import xform_name

from irsim.durable.paging import page, paging_key
from irsim.durable.store import JobStore, decode, encode, now_utc
from irsim.service.awsmodel import with_metadata
from irsim.service.constraints import validate_request

#: The resources-table kind of a tag set (its name is the resource's ARN).
TAGS = "tags"
#: The operations this mixin answers, by boto3 method name.
TAG_METHODS = {xform_name(name): name for name in ("AddTags", "ListTags", "DeleteTags")}
DEFAULT_PAGE = 50


class TagOperations:
    """The tag calls on one store. Which ARNs exist is not checked: irsim's own leniency (AWS
    does not document the error), so a tag on anything is kept."""

    store: JobStore

    @cached_property
    def paging_key(self) -> bytes:
        return paging_key(self.store.home)

    def add_tags(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("AddTags", kwargs)
        self._merge(kwargs["ResourceArn"], kwargs["Tags"])
        return with_metadata({"Tags": list(kwargs["Tags"])})

    def list_tags(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("ListTags", kwargs)
        tags, token = page(self.tags_of(kwargs["ResourceArn"]), kwargs, self.paging_key, "ListTags", DEFAULT_PAGE)
        return with_metadata({"Tags": tags, **({"NextToken": token} if token else {})})

    def delete_tags(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("DeleteTags", kwargs)
        keys = set(kwargs["TagKeys"])
        self._update(kwargs["ResourceArn"], lambda tags: [tags.pop(key, None) for key in keys])
        return with_metadata({})

    def tags_of(self, arn: str) -> list[dict[str, str]]:
        with self.store.reading() as connection:
            row = connection.execute("SELECT document FROM resources WHERE kind = ? AND name = ?",
                                     (TAGS, arn)).fetchone()
        return list(decode(row[0])["Tags"]) if row else []

    def record_create_tags(self, params: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
        """The Tags of a successful Create call, kept under the one ARN its response names;
        returns the response."""
        arns = [value for key, value in response.items() if key.endswith("Arn") and isinstance(value, str)]
        if params.get("Tags") and len(arns) == 1:
            self._merge(arns[0], params["Tags"])
        return dict(response)

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
