"""The durable job store: SQLite under IRSIM_HOME (default ~/.irsim), WAL mode.

Every write is one IMMEDIATE transaction (one writer at a time; WAL keeps readers
unblocked), so a crash or a kill never leaves half a job. Timestamps are stored as
ISO 8601 text; AWS responses are stored as JSON with their datetimes tagged.

Every failure to open, read or write the store is a StoreError naming the path and the
cause (a corrupt file is reported and left as it is, never replaced). A store the process
may not write (a read-only folder or file) opens read-only: reading works, writing is a
StoreError.
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
from urllib.parse import quote

from irsim.errors import UserError

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
    stop_requested INTEGER NOT NULL DEFAULT 0,
    spec TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    request TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    document TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE INDEX IF NOT EXISTS resources_arn ON resources (arn);
"""


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
    spec: dict[str, Any] | None = None  # the request as parsed once, when the job was created (durable/specs.py)


def _record(row: sqlite3.Row) -> JobRecord:
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None
    names = row.keys()  # a read-only store an earlier irsim made has no spec column
    return JobRecord(name=row["name"], arn=row["arn"], job_type=row["job_type"], status=row["status"],
                     request=decode(row["request"]), profile=decode(row["profile"]), seed=row["seed"],
                     region=row["region"], created=datetime.fromisoformat(row["created"]),
                     last_modified=datetime.fromisoformat(row["last_modified"]), completed=when(row["completed"]),
                     failure_reason=row["failure_reason"], describe=decode(row["describe"]),
                     steps=decode(row["steps"]), extensions=decode(row["extensions"]),
                     progress=decode(row["progress"]), worker_pid=row["worker_pid"],
                     worker_started=row["worker_started"], stop_requested=bool(row["stop_requested"]),
                     spec=decode(row["spec"]) if "spec" in names else None)


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values as stored: documents as tagged JSON, datetimes as ISO text."""
    columns = dict(fields)
    for key in ("describe", "steps", "extensions", "progress", "spec"):
        if columns.get(key) is not None:
            columns[key] = encode(columns[key])
    for key in ("completed", "last_modified"):
        if isinstance(columns.get(key), datetime):
            columns[key] = columns[key].isoformat()
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
                _add_missing_columns(connection)
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

    def insert(self, *, name: str, arn: str, job_type: str, request: dict, profile: dict, seed: int,
               region: str, created: datetime, **fields: Any) -> None:
        """Add a job, PENDING unless ``fields`` give its ``status`` (an imported finished job, whose
        other columns come in the same transaction); raises JobExists if the name is taken."""
        columns = _columns({"name": name, "arn": arn, "job_type": job_type, "status": "PENDING",
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

    def delete(self, name: str) -> bool:
        """Remove a job (whatever its status: the caller decides); whether there was one."""
        with self.transaction() as connection:
            return connection.execute("DELETE FROM jobs WHERE name = ?", (name,)).rowcount == 1

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


#: Columns added to the jobs table since stores were first written, with their type: a store
#: an earlier irsim made gets them when it is opened for writing (its rows keep NULL).
ADDED_COLUMNS = {"spec": "TEXT"}


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    present = {row["name"] for row in connection.execute("PRAGMA table_info(jobs)")}
    for column, kind in ADDED_COLUMNS.items():
        if column not in present:
            connection.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")


def _advice(exc: sqlite3.Error) -> str:
    """What to do about a store SQLite cannot use."""
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return " (irsim leaves the file as it is: move it away to start a new store)"
    if "readonly" in text or "read-only" in text:
        return " (the store is read-only)"
    return ""
