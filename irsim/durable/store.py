"""The durable job store: SQLite under IRSIM_HOME (default ~/.irsim), WAL mode.

Every write is one IMMEDIATE transaction (one writer at a time; WAL keeps readers
unblocked), so a crash or a kill never leaves half a job. Timestamps are stored as
ISO 8601 text; AWS responses are stored as JSON with their datetimes tagged.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ACTIVE_STATUSES = ("PENDING", "IN_PROGRESS", "STOPPING")
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    profile TEXT NOT NULL,
    seed INTEGER NOT NULL,
    region TEXT NOT NULL,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    completed TEXT,
    failure_reason TEXT,
    describe TEXT,
    steps TEXT,
    extensions TEXT,
    progress TEXT,
    worker_pid INTEGER,
    worker_started TEXT,
    stop_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    request TEXT NOT NULL,
    created TEXT NOT NULL
);
"""


def default_home() -> Path:
    return Path(os.environ.get("IRSIM_HOME") or Path.home() / ".irsim")


def now_utc() -> datetime:
    return datetime.now(UTC)


def encode(document: Any) -> str:
    """JSON with datetimes kept as {"$datetime": ISO} so they come back as datetimes."""
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return {"$datetime": value.isoformat()}
        if hasattr(value, "item"):
            return value.item()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    return json.dumps(document, default=default)


def decode(text: str | None) -> Any:
    if text is None:
        return None
    return json.loads(text, object_hook=lambda d: datetime.fromisoformat(d["$datetime"])
                      if len(d) == 1 and "$datetime" in d else d)


@dataclass(frozen=True)
class JobRecord:
    """One row of the jobs table, decoded."""

    name: str
    arn: str
    job_type: str
    status: str
    request: dict[str, Any]
    profile: dict[str, Any]
    seed: int
    region: str
    created: datetime
    last_modified: datetime
    completed: datetime | None
    failure_reason: str | None
    describe: dict[str, Any] | None
    steps: dict[str, Any] | None
    extensions: dict[str, Any] | None
    progress: dict[str, str] | None  # benchmark index -> status, while the job runs
    worker_pid: int | None
    worker_started: str | None
    stop_requested: bool


def _record(row: sqlite3.Row) -> JobRecord:
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None
    return JobRecord(name=row["name"], arn=row["arn"], job_type=row["job_type"], status=row["status"],
                     request=decode(row["request"]), profile=decode(row["profile"]), seed=row["seed"],
                     region=row["region"], created=datetime.fromisoformat(row["created"]),
                     last_modified=datetime.fromisoformat(row["last_modified"]), completed=when(row["completed"]),
                     failure_reason=row["failure_reason"], describe=decode(row["describe"]),
                     steps=decode(row["steps"]), extensions=decode(row["extensions"]),
                     progress=decode(row["progress"]), worker_pid=row["worker_pid"],
                     worker_started=row["worker_started"], stop_requested=bool(row["stop_requested"]))


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values as stored: documents as tagged JSON, datetimes as ISO text."""
    columns = dict(fields)
    for key in ("describe", "steps", "extensions", "progress"):
        if columns.get(key) is not None:
            columns[key] = encode(columns[key])
    for key in ("completed", "last_modified"):
        if isinstance(columns.get(key), datetime):
            columns[key] = columns[key].isoformat()
    return columns


class JobExists(Exception):
    """A job with that name is already in the store."""


class JobStore:
    """Jobs in ``home/jobs.sqlite3``. Safe to use from several processes at once."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / "jobs.sqlite3"
        with self._connect() as connection:
            connection.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")
            yield connection
        finally:
            connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed whole or rolled back whole."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def insert(self, *, name: str, arn: str, job_type: str, request: dict, profile: dict, seed: int,
               region: str, created: datetime, status: str = "PENDING", **fields: Any) -> None:
        """Add a job (PENDING unless told otherwise, e.g. an imported finished job, whose
        other ``fields`` come in the same transaction); raises JobExists if the name is taken."""
        columns = _columns({"name": name, "arn": arn, "job_type": job_type, "status": status,
                            "request": encode(request), "profile": encode(profile), "seed": seed, "region": region,
                            "created": created.isoformat(), "last_modified": created.isoformat(), **fields})
        try:
            with self.transaction() as connection:
                connection.execute(f"INSERT INTO jobs ({', '.join(columns)}) VALUES "
                                   f"({', '.join('?' for _ in columns)})", list(columns.values()))
        except sqlite3.IntegrityError:
            raise JobExists(name) from None

    def get(self, name: str) -> JobRecord | None:
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
        return _record(row) if row else None

    def all(self) -> list[JobRecord]:
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM jobs ORDER BY created, name").fetchall()
        return [_record(row) for row in rows]

    def update(self, name: str, *, only_if_status: tuple[str, ...] | None = None, **fields: Any) -> bool:
        """Set columns of one job (and last_modified) in one transaction. With
        ``only_if_status``, only a job in one of those statuses changes; returns whether it did."""
        columns = _columns({"last_modified": now_utc(), **fields})
        assignments = ", ".join(f"{column} = ?" for column in columns)
        sql = f"UPDATE jobs SET {assignments} WHERE name = ?"
        values = [*columns.values(), name]
        if only_if_status:
            sql += f" AND status IN ({', '.join('?' for _ in only_if_status)})"
            values += list(only_if_status)
        with self.transaction() as connection:
            return connection.execute(sql, values).rowcount == 1

    def insert_model(self, name: str, arn: str, request: dict, created: datetime) -> None:
        """Record a CreateModel call (the SDK's right_size makes one); JobExists if taken."""
        try:
            with self.transaction() as connection:
                connection.execute("INSERT INTO models (name, arn, request, created) VALUES (?, ?, ?, ?)",
                                   (name, arn, encode(request), created.isoformat()))
        except sqlite3.IntegrityError:
            raise JobExists(name) from None

    def model(self, name: str) -> dict[str, Any] | None:
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        return None if row is None else {"name": row["name"], "arn": row["arn"], "request": decode(row["request"]),
                                         "created": datetime.fromisoformat(row["created"])}

    def stop_requested(self, name: str) -> bool:
        with self._connect() as connection:
            row = connection.execute("SELECT stop_requested FROM jobs WHERE name = ?", (name,)).fetchone()
        return bool(row and row[0])
