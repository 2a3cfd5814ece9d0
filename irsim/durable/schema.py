"""The job store's tables, and what opening a store for writing brings up to date: columns added
since it was made, timestamps rewritten in their canonical form."""

from __future__ import annotations

import sqlite3

from irsim.durable.codec import CANONICAL_GLOB, Damaged, moment, stamp

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
CREATE INDEX IF NOT EXISTS jobs_created_name ON jobs (created, name);
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


#: Columns added to the jobs table since stores were first written, with their type: a store
#: an earlier irsim made gets them when it is opened for writing (its rows keep NULL).
ADDED_COLUMNS = {"spec": "TEXT"}


def add_missing_columns(connection: sqlite3.Connection) -> None:
    present = {row["name"] for row in connection.execute("PRAGMA table_info(jobs)")}
    for column, kind in ADDED_COLUMNS.items():
        if column not in present:
            connection.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")


#: PRAGMA user_version of a store whose timestamps are all canonical (codec.stamp), or damaged.
CANONICAL_TIMES_VERSION = 1
#: The timestamp columns of each table.
TIME_COLUMNS = {"jobs": ("created", "last_modified", "completed"), "models": ("created",), "resources": ("created",)}


def canonical_times(connection: sqlite3.Connection) -> None:
    """Once per store: rewrite the timestamps an earlier irsim wrote in another form (an offset
    other than UTC, no microseconds) canonically, so SQLite orders and filters them as times.
    A timestamp that cannot be read is left for the doctor to report."""
    if connection.execute("PRAGMA user_version").fetchone()[0] >= CANONICAL_TIMES_VERSION:
        return
    connection.execute("BEGIN IMMEDIATE")
    for table, columns in TIME_COLUMNS.items():
        for column in columns:
            rows = connection.execute(f"SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL AND "
                                      f"{column} NOT GLOB ?", (CANONICAL_GLOB,)).fetchall()
            for rowid, text in rows:
                try:
                    connection.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (stamp(moment(text)), rowid))
                except Damaged:
                    continue
    connection.execute(f"PRAGMA user_version = {CANONICAL_TIMES_VERSION}")
    connection.execute("COMMIT")
