"""The journal's tables (SQLAlchemy Core, one schema for SQLite and PostgreSQL) and the
migrations that build them; `schema_version` records which ones a database has had.

Migration N brings a database from version N-1 to N. Migration 1 creates the tables as
written here; a later change adds migration 2 with its own ALTER statements (and leaves 1
alone), so every database, old or new, ends with the same schema.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
)

from ..errors import JournalError

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
)

#: Small facts about the journal itself (when retention last ran).
meta = Table(
    "journal_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("user", String(255), nullable=False, default=""),
    Column("controller", String(255), nullable=False, default=""),
    Column("version", String(64), nullable=False, default=""),
    Column("cwd", Text, nullable=False, default=""),
    Column("argv", Text, nullable=False, default="[]"),  # JSON list
    Column("tasks", Text, nullable=False, default="[]"),  # JSON list
    Column("command", Text),
    Column("what", Text, nullable=False, default=""),  # tasks joined, or the command
    Column("selection", Text, nullable=False, default=""),
    Column("config", Text, nullable=False, default="{}"),  # JSON object
    Column("status", String(16), nullable=False, default="running"),
    Column("exit_status", Integer),
    Column("duration", Float),
    Column("hosts_total", Integer, nullable=False, default=0),
    Column("n_ok", Integer, nullable=False, default=0),
    Column("n_failed", Integer, nullable=False, default=0),
    Column("n_skipped", Integer, nullable=False, default=0),
    Column("n_interrupted", Integer, nullable=False, default=0),
    Index("runs_started_at", "started_at"),
    Index("runs_status_started_at", "status", "started_at"),
)

run_hosts = Table(
    "run_hosts",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("host", String(255), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="pending"),
    Column("exit_code", Integer),
    Column("error_type", String(255)),
    Column("error", Text),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("duration", Float),
    Column("task", Text),
    Column("output", Text, nullable=False, default="[]"),  # JSON [[stream, text], ...]
    Column("output_dropped", Integer, nullable=False, default=0),
    Index("run_hosts_host_run", "host", "run_id"),  # history --host, @failed
)

operations = Table(
    "operations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("time", Float, nullable=False),
    Column("operation", Text, nullable=False),
    Column("changed", Boolean, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("diff", Text),
    Column("commands", Text, nullable=False, default="[]"),  # JSON list
    Index("operations_run_host", "run_id", "host"),
)


def _migration_1(connection: Connection) -> None:
    """Create the first schema: runs, run_hosts, operations, journal_meta."""
    for table in (meta, runs, run_hosts, operations):
        table.create(connection, checkfirst=True)


#: MIGRATIONS[N - 1] brings a database from version N - 1 to N.
MIGRATIONS: list[Callable[[Connection], None]] = [_migration_1]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(connection: Connection) -> int:
    """Return the database's schema version (0 for an empty database)."""
    if not inspect(connection).has_table("schema_version"):
        return 0
    found = connection.execute(select(schema_version.c.version)).scalars().all()
    return max(found, default=0)


def check_version(version: int, location: str) -> None:
    """Refuse a journal written by a newer corral (its schema is unknown to this one)."""
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"journal {location} has schema version {version}, newer than this corral knows "
            f"({SCHEMA_VERSION}): upgrade corral, or set journal.path to another file"
        )


def migrate(connection: Connection, location: str) -> int:
    """Bring the database up to SCHEMA_VERSION inside the caller's transaction."""
    schema_version.create(connection, checkfirst=True)
    version = current_version(connection)
    check_version(version, location)
    for number in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[number - 1](connection)
        connection.execute(schema_version.insert().values(version=number, applied_at=time.time()))
    return SCHEMA_VERSION
