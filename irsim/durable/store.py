"""The durable job store: SQLite under IRSIM_HOME (default ~/.irsim), WAL mode.

Every write is one IMMEDIATE transaction (one writer at a time; WAL keeps readers
unblocked), so a crash or a kill never leaves half a job. Timestamps are stored as
canonical ISO 8601 text (UTC, microseconds: ordered as text); AWS responses are stored as JSON
with their datetimes tagged, and user data cannot forge the tag (irsim/durable/codec.py).

A row that cannot be read back (corrupt JSON or timestamps, written by another program or an
earlier irsim) never stops the store: its job reads as FAILED with a reason naming the row,
and every other job reads as it is (irsim/durable/doctor.py finds and quarantines such rows).

Every failure to open, read or write the store is a StoreError naming the path and the
cause (a corrupt file is reported and left as it is, never replaced). A store the process
may not write (a read-only folder or file) opens read-only: reading works, writing is a
StoreError.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from irsim.durable.codec import Damaged, decode, encode, moment, stamp
from irsim.durable.schema import SCHEMA, add_missing_columns, canonical_times
from irsim.durable.shapes import shape_problem
from irsim.errors import UserError

ACTIVE_STATUSES = ("PENDING", "IN_PROGRESS", "STOPPING")


def default_home() -> Path:
    """IRSIM_HOME, else ~/.irsim."""
    if os.environ.get("IRSIM_HOME"):
        return Path(os.environ["IRSIM_HOME"])
    try:
        return Path.home() / ".irsim"
    except RuntimeError as exc:  # no HOME and no password entry
        raise StoreError(f"job store: no home folder to keep it in ({exc}); set IRSIM_HOME") from None


class StoreError(UserError):
    """The job store cannot be opened, read or written; the message names the path and the cause.

    ``argument`` is the caller's parameter the message advises setting (``home``), named in the
    message as "the home argument": the command line words it as its flag."""

    def __init__(self, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewJob:
    """The columns every new job's row starts with (the rest take their defaults or ``fields``)."""

    name: str
    arn: str
    job_type: str
    request: dict[str, Any]
    profile: dict[str, Any]
    seed: int
    region: str
    created: datetime


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
    spec: dict[str, Any] | None = None  # the request as parsed once, when the job was created (durable/specs.py)
    damage: str | None = None  # why the stored row cannot be read (its job then reads as FAILED)


#: The document columns of a job's row, and whether each holds an object (else any JSON value).
DOCUMENT_COLUMNS = ("request", "profile", "describe", "steps", "extensions", "progress", "spec")
#: The other columns: their type, and whether they may be NULL.
SCALAR_COLUMNS = (("arn", str, False), ("job_type", str, False), ("status", str, False), ("seed", int, False),
                  ("region", str, False), ("failure_reason", str, True), ("worker_pid", int, True),
                  ("worker_started", str, True), ("stop_requested", int, False))
STATUSES = ("PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "STOPPING", "STOPPED")
#: When a damaged row's creation time cannot be read.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def row_problems(row: sqlite3.Row) -> tuple[dict[str, Any], list[str]]:
    """The decoded columns of a jobs row, and what cannot be read in it (column: problem)."""
    names = row.keys()
    values: dict[str, Any] = {}
    problems: list[str] = []
    for column in DOCUMENT_COLUMNS:
        if column not in names:  # a listing reads only the columns it shows; an older store has no spec
            continue
        try:
            values[column] = decode(row[column])
        except Damaged as exc:
            problems.append(f"{column}: {exc}")
            continue
        required = column in ("request", "profile")
        if not isinstance(values[column], dict) and (required or values[column] is not None):
            problems.append(f"{column}: holds {type(values[column]).__name__}, not an object")
            values[column] = None
        elif values[column] is not None and (wrong := shape_problem(column, values[column])):
            problems.append(f"{column}: {wrong}")
            values[column] = None
    for column in ("created", "last_modified", "completed"):
        if column in names and (row[column] is not None or column != "completed"):
            try:
                values[column] = moment(row[column])
            except Damaged as exc:
                problems.append(f"{column}: {exc}")
    for column, kind, nullable in SCALAR_COLUMNS:
        if column in names and not (isinstance(row[column], kind) or (nullable and row[column] is None)):
            problems.append(f"{column}: holds {type(row[column]).__name__}, not {kind.__name__}")
    if "status" in names and isinstance(row["status"], str) and row["status"] not in STATUSES:
        problems.append(f"status: {row['status'][:40]!r} is not a job status")
    return values, problems


def damage_reason(table: str, key: str, problems: list[str]) -> str:
    """The FailureReason of a job whose row cannot be read: the row, and what is wrong in it."""
    return (f"The job store's row {table}/{key} cannot be read ({'; '.join(problems)}); irsim's doctor "
            "reports such rows and can quarantine them.")[:1024]


def record_of(row: sqlite3.Row) -> JobRecord:
    """One row of the jobs table as a JobRecord; a row that cannot be read is a FAILED job saying
    why (``damage``), never an exception. Columns the query left out read as empty."""
    values, problems = row_problems(row)
    names = row.keys()
    damage = damage_reason("jobs", row["name"], problems) if problems else None
    status = "FAILED" if damage else row["status"]
    return JobRecord(
        name=row["name"], arn=str(row["arn"]), job_type=str(row["job_type"]), status=status,
        request=values.get("request") or {}, profile=values.get("profile") or {},
        seed=row["seed"] if "seed" in names and isinstance(row["seed"], int) else 0,
        region=str(row["region"]) if "region" in names else "", created=values.get("created") or EPOCH,
        last_modified=values.get("last_modified") or values.get("created") or EPOCH,
        completed=values.get("completed"), failure_reason=damage or row["failure_reason"],
        describe=None if damage else values.get("describe"), steps=None if damage else values.get("steps"),
        extensions=None if damage else values.get("extensions"), progress=None if damage else values.get("progress"),
        worker_pid=None if damage else row["worker_pid"], worker_started=None if damage else row["worker_started"],
        stop_requested=bool(row["stop_requested"]) if not damage else False,
        spec=None if damage else values.get("spec"), damage=damage)


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values as stored: documents as tagged JSON, datetimes as canonical text."""
    columns = dict(fields)
    for key in ("request", "profile", "describe", "steps", "extensions", "progress", "spec"):
        if columns.get(key) is not None and not isinstance(columns[key], str):
            columns[key] = encode(columns[key])
    for key in ("created", "completed", "last_modified"):
        if isinstance(columns.get(key), datetime):
            columns[key] = stamp(columns[key])
    return columns


class JobExists(Exception):
    """A job with that name is already in the store."""


class JobStore:
    """Jobs in ``home/jobs.sqlite3``. Safe to use from several processes at once.

    ``read_only`` is true when this process may not write the store: every read works, every
    write raises StoreError."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.path = self.home / "jobs.sqlite3"
        self._immutable = False
        self.read_only = self._open_folder()
        if self.path.is_dir():
            raise StoreError(f"job store {self.path} is a folder, not a database file")
        if not self.read_only:
            with self._connect("open") as connection:
                connection.executescript(SCHEMA)
                add_missing_columns(connection)
                canonical_times(connection)
        with self._connect("open") as connection:  # a corrupt or foreign file fails here, and is left alone
            connection.execute("SELECT count(*) FROM jobs").fetchone()

    def _open_folder(self) -> bool:
        """Create the home folder if needed; whether the store can only be read."""
        if self.home.exists() and not self.home.is_dir():
            raise StoreError(f"job store {self.home} is a file, not a folder (set IRSIM_HOME or the home argument "
                             "to a folder)", argument="home")
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"job store {self.home}: cannot create the folder: {exc.strerror or exc} (set "
                             "IRSIM_HOME or the home argument to a folder you can write)", argument="home") from None
        writable = os.access(self.home, os.W_OK) and (not self.path.exists() or os.access(self.path, os.W_OK))
        if not writable and not self.path.is_file():
            raise StoreError(f"job store {self.path}: cannot create it: the folder is read-only")
        return not writable

    def _new_connection(self) -> sqlite3.Connection:
        if not self.read_only:
            connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            return connection
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        if not self._immutable:
            try:
                connection = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
                connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                return connection
            except sqlite3.OperationalError:  # a WAL store in a read-only folder without its -shm file
                self._immutable = True
        return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30.0, isolation_level=None)

    @contextmanager
    def _connect(self, action: str = "read") -> Iterator[sqlite3.Connection]:
        """A connection; any SQLite failure but a constraint's becomes a StoreError naming ``action``."""
        try:
            connection = self._new_connection()
            try:
                connection.row_factory = sqlite3.Row
                connection.execute("PRAGMA busy_timeout=30000")
                yield connection
            finally:
                connection.close()
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StoreError(f"job store {self.path}: cannot {action}: {exc}{_advice(exc)}") from None

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection to read with (read-only stores included); failures are StoreErrors."""
        with self._connect() as connection:
            yield connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed whole or rolled back whole."""
        if self.read_only:
            raise StoreError(f"job store {self.path} is read-only: this command needs to write it")
        with self._connect("write") as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def insert(self, job: NewJob, **fields: Any) -> None:
        """Add ``job``, PENDING unless ``fields`` give its ``status`` (an imported finished job, whose
        other columns come in the same transaction); raises JobExists if the name is taken."""
        columns = _columns({**vars(job), "status": "PENDING", "last_modified": job.created, **fields})
        try:
            with self.transaction() as connection:
                connection.execute(f"INSERT INTO jobs ({', '.join(columns)}) VALUES "
                                   f"({', '.join('?' for _ in columns)})", list(columns.values()))
        except sqlite3.IntegrityError:
            raise JobExists(job.name) from None

    def get(self, name: str) -> JobRecord | None:
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
        return record_of(row) if row else None

    def all(self) -> list[JobRecord]:
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM jobs ORDER BY created, name").fetchall()
        return [record_of(row) for row in rows]

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

    def delete(self, name: str) -> bool:
        """Remove a job (whatever its status: the caller decides); whether there was one."""
        with self.transaction() as connection:
            return connection.execute("DELETE FROM jobs WHERE name = ?", (name,)).rowcount == 1

    def stop_requested(self, name: str) -> bool:
        with self._connect() as connection:
            row = connection.execute("SELECT stop_requested FROM jobs WHERE name = ?", (name,)).fetchone()
        return bool(row and row[0])

    def finish(self, name: str, fields: dict[str, Any], stopped: dict[str, Any]) -> str | None:
        """A job's end state, in one transaction and only from a running state: ``fields``
        (with their ``status``) from IN_PROGRESS, ``stopped`` (STOPPED) from STOPPING, since a
        stop the service accepted must not be lost. A job that already ended (FAILED by the
        dead-worker check) keeps its state. Returns the status written, or None."""
        with self.transaction() as connection:
            row = connection.execute("SELECT status FROM jobs WHERE name = ?", (name,)).fetchone()
            written = {"IN_PROGRESS": fields, "STOPPING": {**stopped, "status": "STOPPED"}}.get(row[0]) if row else None
            if written is None:
                return None
            columns = _columns({"last_modified": now_utc(), **written})
            connection.execute(f"UPDATE jobs SET {', '.join(f'{c} = ?' for c in columns)} WHERE name = ?",
                               [*columns.values(), name])
            return str(written["status"])


def _advice(exc: sqlite3.Error) -> str:
    """What to do about a store SQLite cannot use."""
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return " (irsim leaves the file as it is: move it away to start a new store)"
    if "readonly" in text or "read-only" in text:
        return " (the store is read-only)"
    return ""
