"""Offline SageMaker resources (models, model packages and their groups, endpoint
configurations, endpoints) in the job store's SQLite file, table ``resources``: one row per
resource, its describe document as tagged JSON, so they outlive the client that made them."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from irsim.durable.codec import Damaged, decode, encode, moment, stamp
from irsim.durable.shapes import against
from irsim.durable.store import JobStore, StoreError

log = logging.getLogger(__name__)
MODEL, MODEL_PACKAGE, MODEL_PACKAGE_GROUP = "model", "model-package", "model-package-group"
ENDPOINT_CONFIG, ENDPOINT = "endpoint-config", "endpoint"
#: The member of an implied resource's stored document that marks it (not in any AWS shape).
IMPLIED = "IrsimImplied"
#: The operation whose response each kind's stored document is (and is checked against).
DESCRIBED_BY = {MODEL: "DescribeModel", MODEL_PACKAGE: "DescribeModelPackage",
                MODEL_PACKAGE_GROUP: "DescribeModelPackageGroup", ENDPOINT_CONFIG: "DescribeEndpointConfig",
                ENDPOINT: "DescribeEndpoint"}


def resource_problem(kind: str, document: Any) -> str | None:
    """What keeps a decoded resource document from being read as its kind's Describe response."""
    if not isinstance(document, dict):
        return f"document: holds {type(document).__name__}, not an object"
    wrong = against(DESCRIBED_BY[kind], "output", document) if kind in DESCRIBED_BY else None
    return f"document: {wrong}" if wrong else None


@dataclass(frozen=True)
class Resource:
    """One stored resource: ``document`` is its Describe response (without ResponseMetadata)."""

    kind: str
    name: str
    arn: str
    document: dict[str, Any]
    created: datetime


class ResourceExists(Exception):
    """A resource of that kind and name is already stored."""


def _resource(row: sqlite3.Row) -> Resource:
    """A row read back; Damaged, naming the row, if it cannot be."""
    try:
        document = decode(row["document"])
        if problem := resource_problem(row["kind"], document):
            raise Damaged(problem)
        return Resource(kind=row["kind"], name=row["name"], arn=row["arn"], document=document,
                        created=moment(row["created"]))
    except Damaged as exc:
        raise Damaged(f"the job store's row resources/{row['kind']}/{row['name']} cannot be read ({exc}); irsim's "
                      "doctor reports such rows and can quarantine them") from None


class ResourceStore:
    """The resources of one irsim home, beside its jobs (same file, same transactions)."""

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs  # the table is created with the store's schema: opening writes nothing

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.jobs.reading()  # read-only stores included; failures are StoreErrors

    def insert(self, resource: Resource) -> None:
        """Store a new resource; ResourceExists if its kind and name are taken."""
        try:
            with self.jobs.transaction() as connection:
                connection.execute("INSERT INTO resources (kind, name, arn, document, created) VALUES (?, ?, ?, ?, ?)",
                                   (resource.kind, resource.name, resource.arn, encode(resource.document),
                                    stamp(resource.created)))
        except sqlite3.IntegrityError:
            raise ResourceExists(f"{resource.kind} {resource.name}") from None

    def insert_version(self, group: str, build: Callable[[int], Resource]) -> Resource:
        """Store the next version of a model package group in one transaction: ``build(version)``
        makes the package for version 1 + the versions stored so far."""
        with self.jobs.transaction() as connection:
            row = connection.execute("SELECT COUNT(*) FROM resources WHERE kind = ? AND name LIKE ?",
                                     (MODEL_PACKAGE, f"{group}/%")).fetchone()
            resource = build(int(row[0]) + 1)
            connection.execute("INSERT INTO resources (kind, name, arn, document, created) VALUES (?, ?, ?, ?, ?)",
                               (resource.kind, resource.name, resource.arn, encode(resource.document),
                                stamp(resource.created)))
        return resource

    def insert_implied_package(self, group: Resource, package: Resource) -> Resource | None:
        """In one transaction (concurrent creates see all of it or none): the package stored at
        ``package.arn``, or else, when ``group`` names no user's group and no user's package,
        the implied group (unless stored) and the implied package, stored now. None when the
        group is a user's: then the package does not exist."""
        with self.jobs.transaction() as connection:
            row = connection.execute("SELECT * FROM resources WHERE kind = ? AND (arn = ? OR name = ?)",
                                     (MODEL_PACKAGE, package.arn, package.name)).fetchone()
            if row:
                return _resource(row)
            stored = connection.execute("SELECT document FROM resources WHERE kind = ? AND name = ?",
                                        (MODEL_PACKAGE_GROUP, group.name)).fetchone()
            if stored and not decode(stored[0]).get(IMPLIED):
                return None
            members = connection.execute("SELECT document FROM resources WHERE kind = ? AND name LIKE ?",
                                         (MODEL_PACKAGE, f"{group.name}/%")).fetchall()
            if any(not decode(member[0]).get(IMPLIED) for member in members):
                return None
            for resource in ([] if stored else [group]) + [package]:
                connection.execute("INSERT INTO resources (kind, name, arn, document, created) VALUES (?, ?, ?, ?, ?)",
                                   (resource.kind, resource.name, resource.arn, encode(resource.document),
                                    resource.created.isoformat()))
        return package

    def replace(self, resource: Resource) -> bool:
        """Write a stored resource's new document; returns whether it was still there."""
        with self.jobs.transaction() as connection:
            return connection.execute("UPDATE resources SET document = ? WHERE kind = ? AND name = ?",
                                      (encode(resource.document), resource.kind, resource.name)).rowcount == 1

    def _one(self, row: sqlite3.Row | None) -> Resource | None:
        """The resource asked for; one that cannot be read is a StoreError naming its row."""
        try:
            return _resource(row) if row else None
        except Damaged as exc:
            raise StoreError(f"job store {self.jobs.path}: {exc}") from None

    def get(self, kind: str, name: str) -> Resource | None:
        with self._read() as connection:
            row = connection.execute("SELECT * FROM resources WHERE kind = ? AND name = ?", (kind, name)).fetchone()
        return self._one(row)

    def by_arn(self, kind: str, arn: str) -> Resource | None:
        with self._read() as connection:
            row = connection.execute("SELECT * FROM resources WHERE kind = ? AND arn = ?", (kind, arn)).fetchone()
        return self._one(row)

    def all(self, kind: str) -> list[Resource]:
        """Every readable resource of ``kind``: a row that cannot be read is left out (logged), so
        one bad row does not hide the others."""
        with self._read() as connection:
            rows = connection.execute("SELECT * FROM resources WHERE kind = ? ORDER BY created, name",
                                      (kind,)).fetchall()
        readable = []
        for row in rows:
            try:
                readable.append(_resource(row))
            except Damaged as exc:
                log.warning("%s", exc)
        return readable

    def delete(self, kind: str, name: str) -> bool:
        """Remove a resource; returns whether there was one."""
        with self.jobs.transaction() as connection:
            return connection.execute("DELETE FROM resources WHERE kind = ? AND name = ?", (kind, name)).rowcount == 1
