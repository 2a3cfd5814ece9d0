"""ListInferenceRecommendationsJobs as one SQL query per page: SQLite filters, orders and cuts the
page (timestamps are canonical text, so they compare as times), and only the page's rows are
read and decoded, without the columns a summary does not show (profile, steps, extensions), so
a page costs the same in a store of ten jobs or ten thousand."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from irsim.durable.codec import stamp
from irsim.durable.store import ACTIVE_STATUSES, JobRecord, JobStore, record_of

#: The columns a job's summary needs (the rest stay on disk).
SUMMARY_COLUMNS = ("name", "arn", "job_type", "status", "request", "describe", "seed", "region", "created",
                   "last_modified", "completed", "failure_reason", "worker_pid", "worker_started", "stop_requested")
#: What each SortBy orders by, with the name last so that equal keys keep one order.
ORDER = {"Name": ("name",), "Status": ("status", "created", "name"), "CreationTime": ("created", "name")}
_MODEL = "CASE WHEN json_valid(request) THEN json_extract(request, '$.InputConfig.{}') END"
#: Whether the columns a page leaves on disk look like JSON objects: a row where one does not is
#: read whole, so that it lists as the FAILED job it describes as. (What only decoding can find,
#: such as a forged datetime tag deep inside or steps of the wrong shape, shows in Describe and in
#: the doctor's check.)
_OBJECT = "(typeof({0}) = 'text' AND json_valid({0}) AND substr(ltrim({0}), 1, 1) = '{{')"
_HIDDEN = ("steps", "extensions", "progress")


def _others_valid(spec: bool) -> str:
    nullable = [*_HIDDEN, "spec"] if spec else list(_HIDDEN)
    checks = [_OBJECT.format("profile")] + [f"({column} IS NULL OR {_OBJECT.format(column)})" for column in nullable]
    return f"({' AND '.join(checks)}) AS others_valid"


@dataclass(frozen=True)
class JobQuery:
    """One page of ListInferenceRecommendationsJobs: its filters, its order and where it starts."""

    created_after: datetime | None = None
    created_before: datetime | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    name_contains: str | None = None
    status: str | None = None
    model_name: str | None = None
    model_package_version_arn: str | None = None
    sort_by: str = "CreationTime"
    descending: bool = True
    offset: int = 0
    limit: int = 100


def _where(query: JobQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    values: list[object] = []
    for column, operator, when in (("created", ">", query.created_after), ("created", "<", query.created_before),
                                   ("last_modified", ">", query.modified_after),
                                   ("last_modified", "<", query.modified_before)):
        if when is not None:
            clauses.append(f"{column} {operator} ?")
            values.append(stamp(when))
    if query.name_contains is not None:
        clauses.append("instr(name, ?) > 0")
        values.append(query.name_contains)
    if query.status is not None:
        clauses.append("status = ?")
        values.append(query.status)
    for key, text in (("ModelName", query.model_name), ("ModelPackageVersionArn", query.model_package_version_arn)):
        if text is not None:
            clauses.append(f"{_MODEL.format(key)} = ?")
            values.append(text)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", values


def list_page(store: JobStore, query: JobQuery) -> tuple[list[JobRecord], bool]:
    """The jobs of one page, in order, and whether more follow. Statuses are as stored: the
    caller fails the jobs whose worker died (``active_jobs``) before asking."""
    where, values = _where(query)
    direction = " DESC" if query.descending else ""
    order = ", ".join(f"{column}{direction}" for column in ORDER[query.sort_by])
    with store.reading() as connection:
        # The page is cut on the bare keys first: the rows an OFFSET skips are never read.
        keys = f"SELECT rowid AS key FROM jobs{where} ORDER BY {order} LIMIT ? OFFSET ?"
        columns = ", ".join(f"jobs.{column}" for column in SUMMARY_COLUMNS)
        sql = (f"SELECT {columns}, {_others_valid(_has_spec(connection))} FROM jobs JOIN ({keys}) AS page "
               f"ON jobs.rowid = page.key ORDER BY {', '.join(f'jobs.{part}' for part in order.split(', '))}")
        rows = connection.execute(sql, [*values, query.limit + 1, query.offset]).fetchall()
        page = [row if row["others_valid"] else
                connection.execute("SELECT * FROM jobs WHERE name = ?", (row["name"],)).fetchone()
                for row in rows[:query.limit]]
    return [record_of(row) for row in page], len(rows) > query.limit


def _has_spec(connection: sqlite3.Connection) -> bool:
    """Whether the jobs table has the spec column (a read-only store an earlier irsim made has not)."""
    return any(row["name"] == "spec" for row in connection.execute("PRAGMA table_info(jobs)"))


def active_jobs(store: JobStore) -> list[JobRecord]:
    """The jobs stored as running (PENDING, IN_PROGRESS, STOPPING): few, whatever the store's size."""
    marks = ", ".join("?" for _ in ACTIVE_STATUSES)
    with store.reading() as connection:
        rows = connection.execute(f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM jobs WHERE status IN ({marks})",
                                  ACTIVE_STATUSES).fetchall()
    return [record_of(row) for row in rows]
