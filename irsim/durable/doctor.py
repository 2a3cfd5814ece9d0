"""The store's doctor: every row read back as irsim reads it, the ones that cannot be (corrupt
JSON, a timestamp that is not one, a forged datetime tag an earlier irsim stored) reported by
table and key, and, when asked, moved whole into the ``quarantine`` table in one transaction,
so the store answers as if they had never been written and nothing is lost."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from irsim.durable.codec import Damaged, decode, moment, stamp
from irsim.durable.resourcestore import resource_problem
from irsim.durable.store import JobStore, now_utc, row_problems

QUARANTINE = """
CREATE TABLE IF NOT EXISTS quarantine (
    table_name TEXT NOT NULL,
    key TEXT NOT NULL,
    problem TEXT NOT NULL,
    row TEXT NOT NULL,
    quarantined TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class BadRow:
    """A row irsim cannot read: its table, its key there (a job's name, a resource's kind/name)
    and what is wrong in it."""

    table: str
    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table}/{self.key}: {self.problem}"


@dataclass(frozen=True)
class Checkup:
    """What the doctor found: how many rows of each table it read, the bad ones, and SQLite's
    own check of the file (``ok`` when sound)."""

    rows: dict[str, int]
    bad: tuple[BadRow, ...]
    integrity: str


def _document_problem(text: Any, column: str, check: Callable[[Any], str | None] | None = None) -> list[str]:
    try:
        document = decode(text)
    except Damaged as exc:
        return [f"{column}: {exc}"]
    if not isinstance(document, dict):
        return [f"{column}: holds {type(document).__name__}, not an object"]
    wrong = check(document) if check else None
    return [wrong] if wrong else []


def _time_problem(text: Any, column: str) -> list[str]:
    try:
        moment(text)
    except Damaged as exc:
        return [f"{column}: {exc}"]
    return []


def _bad_rows(connection: sqlite3.Connection) -> tuple[dict[str, int], list[BadRow]]:
    counts = {"jobs": 0, "models": 0, "resources": 0}
    bad: list[BadRow] = []
    for row in connection.execute("SELECT * FROM jobs ORDER BY name"):  # one row in memory at a time
        counts["jobs"] += 1
        problems = row_problems(row)[1]
        if problems:
            bad.append(BadRow("jobs", str(row["name"]), "; ".join(problems)))
    for row in connection.execute("SELECT * FROM models ORDER BY name"):
        counts["models"] += 1
        problems = _document_problem(row["request"], "request") + _time_problem(row["created"], "created")
        if problems:
            bad.append(BadRow("models", str(row["name"]), "; ".join(problems)))
    for row in connection.execute("SELECT * FROM resources ORDER BY kind, name"):
        counts["resources"] += 1
        problems = (_document_problem(row["document"], "document", partial(resource_problem, row["kind"]))
                    + _time_problem(row["created"], "created"))
        if problems:
            bad.append(BadRow("resources", f"{row['kind']}/{row['name']}", "; ".join(problems)))
    return counts, bad


def examine(store: JobStore) -> Checkup:
    """Read every row of the store as irsim reads it; SQLite's quick_check on the file too."""
    with store.reading() as connection:
        integrity = "; ".join(str(row[0]) for row in connection.execute("PRAGMA quick_check"))
        counts, bad = _bad_rows(connection)
    return Checkup(rows=counts, bad=tuple(bad), integrity=integrity)


def _kept(value: Any) -> Any:
    return {"base64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value


_WHERE = {"jobs": "name = ?", "models": "name = ?", "resources": "kind = ? AND name = ?"}


def quarantine(store: JobStore, bad: tuple[BadRow, ...]) -> int:
    """Move the ``bad`` rows into the ``quarantine`` table (every column kept, as JSON) in one
    transaction; returns how many moved. A read-only store is a StoreError."""
    moved = 0
    with store.transaction() as connection:
        connection.execute(QUARANTINE)
        for item in bad:
            key = tuple(item.key.split("/", 1)) if item.table == "resources" else (item.key,)
            row = connection.execute(f"SELECT * FROM {item.table} WHERE {_WHERE[item.table]}", key).fetchone()
            if row is None:
                continue
            columns = row.keys()
            kept = json.dumps({column: _kept(row[column]) for column in columns})
            connection.execute("INSERT INTO quarantine (table_name, key, problem, row, quarantined) "
                               "VALUES (?, ?, ?, ?, ?)", (item.table, item.key, item.problem, kept, stamp(now_utc())))
            connection.execute(f"DELETE FROM {item.table} WHERE {_WHERE[item.table]}", key)
            moved += 1
    return moved
