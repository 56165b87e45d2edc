"""`Store`: the journal's database through SQLAlchemy Core, for SQLite (WAL, busy timeout)
and PostgreSQL alike: schema migrations, batched writes, the history queries, maintenance.

Importing this module imports SQLAlchemy; `corral.journal` imports it only when a run is
written (in the writer thread) or the history is read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..errors import JournalError
from .records import HostRecord, OperationRecord, RunDetail, RunSummary
from .schema import (
    SCHEMA_VERSION,
    check_version,
    current_version,
    meta,
    migrate,
    operations,
    run_hosts,
    runs,
)
from .settings import JournalSettings
from .state import Batch

RUN_STATUSES = ("running", "ok", "failed", "interrupted")
HOST_STATUSES = ("pending", "running", "ok", "failed", "skipped", "interrupted")
#: Hosts that --rerun-failed and @failed select: every one that did not end ok.
NOT_OK = ("failed", "interrupted", "skipped", "pending", "running")
PRUNE_EVERY = 86400.0  # retention runs at most once a day
FEW_RUNS = 500  # a host filter matching at most this many runs reads them by the host index
_PG_LOCK = 0x636F7272616C  # "corral": one process at a time migrates or prunes


@dataclass(frozen=True)
class HistoryQuery:
    """Filters for the history: all optional; `status` is the host's when `host` is given."""

    host: str | None = None
    #: A substring of the task names or the ad-hoc command.
    what: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 20


@dataclass(frozen=True)
class CheckReport:
    """What `journal check` found: the schema, the row counts, and any problems."""

    location: str
    schema_version: int
    runs: int
    hosts: int
    operations: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


@dataclass(frozen=True)
class VacuumReport:
    """What `journal vacuum` did: the file's size before and after (None for a server)."""

    location: str
    bytes_before: int | None
    bytes_after: int | None


def is_locked(exc: BaseException) -> bool:
    """True when the error is another process's lock outlasting the busy timeout."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return "database is locked" in str(getattr(cause, "orig", None) or cause)


def describe_error(exc: BaseException) -> str:
    """Say in a few words what went wrong with the database (locked, read-only, full, ...)."""
    if isinstance(exc, JournalError):
        return str(exc)
    original = getattr(exc, "orig", None) or exc
    message = str(original).strip().splitlines()[0] if str(original).strip() else ""
    lowered = message.lower()
    for needle, said in (
        ("database is locked", "locked by another process"),
        ("readonly database", "read-only"),
        ("read-only", "read-only"),
        ("disk is full", "the disk is full"),
        ("file is not a database", "not a journal database (damaged?)"),
        ("malformed", "damaged (database disk image is malformed)"),
        ("unable to open database", "cannot be opened"),
        ("disk i/o error", "a disk I/O error (full, or removed?)"),
        ("permission denied", "permission denied"),
    ):
        if needle in lowered:
            return said
    if isinstance(original, OSError):
        return original.strerror or type(original).__name__
    return f"{type(original).__name__}: {message}" if message else type(original).__name__


def _use_wal(cursor: Any, busy_timeout: float) -> None:
    """Switch the database to WAL (a lasting setting of the file), waiting for other writers.

    Switching needs the database to itself, and SQLite reports "database is locked" at once,
    without its busy handler, while another process holds it (20 corrals creating one
    journal at the same moment): retry until the busy timeout.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _file_size(path: Path) -> int:
    return sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if os.path.exists(p))


class Store:
    """One journal database: SQLite file or a server, opened for writing or reading."""

    def __init__(self, settings: JournalSettings, *, write: bool) -> None:
        self.settings = settings
        self.is_writer = write
        self.location = settings.location
        self.is_sqlite = settings.url is None or settings.database_url.startswith("sqlite")
        self.engine = self._engine()

    def _engine(self) -> Engine:
        settings = self.settings
        if not self.is_sqlite:
            timeout = max(1, round(settings.busy_timeout))
            return create_engine(
                settings.database_url, poolclass=NullPool, connect_args={"connect_timeout": timeout}
            )
        path = settings.path
        if settings.url:
            path = Path(settings.database_url.split("///", 1)[1])
        if self.is_writer:
            url = f"sqlite:///{path}"
        else:
            url = f"sqlite:///file:{path}?mode=ro&uri=true"  # a reader never creates the file
        self.path = path
        # the default pool keeps the connection: one open (and one WAL check) per process
        engine = create_engine(url, connect_args={"timeout": settings.busy_timeout})
        busy_timeout = settings.busy_timeout
        write = self.is_writer

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions are begun below, not by pysqlite
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if write:
                _use_wal(cursor, busy_timeout)  # readers never block the writer
                cursor.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL-safe
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # IMMEDIATE takes the write lock at once: a writer waits (busy_timeout) instead of
            # failing when a read turns into a write while another process writes.
            is_read = connection.get_execution_options().get("journal_read", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write and not is_read else "BEGIN")

        return engine

    def activity(self) -> object:
        """A mark that changes when any process commits (SQLite: the files' stamps)."""
        if not self.is_sqlite:
            return None
        marks: list[tuple[int, int] | None] = []
        for path in (self.path, Path(f"{self.path}-wal")):
            try:
                stat = path.stat()
                marks.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                marks.append(None)
        return tuple(marks)

    @property
    def exists(self) -> bool:
        """False for a SQLite journal whose file was never created."""
        return not self.is_sqlite or self.path.exists()

    @contextmanager
    def _transaction(self, *, read: bool = False) -> Iterator[Connection]:
        """A transaction; `read=True` takes no write lock (a writer's look before it locks)."""
        try:
            with self.engine.connect() as connection:
                if read:
                    connection = connection.execution_options(journal_read=True)
                with connection.begin():
                    yield connection
        except JournalError:
            raise
        except SQLAlchemyError as exc:
            raise JournalError(f"journal {self.location}: {describe_error(exc)}") from exc

    def close(self) -> None:
        """Release the database's connections."""
        self.engine.dispose()

    # -- writing -----------------------------------------------------------------------

    def prepare(self) -> None:
        """Create or migrate the schema (a writer, before its first batch)."""
        if self.is_sqlite:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Look first without the write lock: the schema is usually there already, and 20
        # corrals starting at once should not queue for a lock only to find that out.
        with self._transaction(read=True) as connection:
            version = current_version(connection)
        check_version(version, self.location)
        if version == SCHEMA_VERSION:
            return
        with self._transaction() as connection:
            self._serialise(connection)
            migrate(connection, self.location)

    def _serialise(self, connection: Connection) -> None:
        """Let one writer at a time migrate or prune (SQLite's BEGIN IMMEDIATE already does)."""
        if not self.is_sqlite:
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK})"))

    def write(self, batch: Batch) -> None:
        """Write one batch of rows in one transaction."""
        with self._transaction() as connection:
            if batch.new_runs:
                connection.execute(runs.insert(), batch.new_runs)
            if batch.new_hosts:
                connection.execute(run_hosts.insert(), batch.new_hosts)
            if batch.new_operations:
                connection.execute(operations.insert(), batch.new_operations)
            if batch.host_updates:
                columns = [c for c in batch.host_updates[0] if c not in ("run_id", "host")]
                statement = (
                    update(run_hosts)
                    .where(run_hosts.c.run_id == bindparam("b_run_id"))
                    .where(run_hosts.c.host == bindparam("b_host"))
                    .values({c: bindparam(c) for c in columns})
                )
                rows = [
                    {"b_run_id": r["run_id"], "b_host": r["host"], **{c: r[c] for c in columns}}
                    for r in batch.host_updates
                ]
                connection.execute(statement, rows)
            if batch.run_updates:
                columns = [c for c in batch.run_updates[0] if c != "run_id"]
                statement = (
                    update(runs)
                    .where(runs.c.run_id == bindparam("b_run_id"))
                    .values({c: bindparam(c) for c in columns})
                )
                rows = [
                    {"b_run_id": r["run_id"], **{c: r[c] for c in columns}}
                    for r in batch.run_updates
                ]
                connection.execute(statement, rows)

    def apply_retention(self, now: float | None = None) -> int:
        """Prune runs past `retention_days`, unless that was done in the last day."""
        days = self.settings.retention_days
        if days is None:
            return 0
        now = time.time() if now is None else now
        with self._transaction(read=True) as connection:  # usually: done today already
            last = connection.execute(
                select(meta.c.value).where(meta.c.key == "last_prune")
            ).scalar()
        if last is not None and now - float(last) < PRUNE_EVERY:
            return 0
        with self._transaction() as connection:
            self._serialise(connection)
            last = connection.execute(
                select(meta.c.value).where(meta.c.key == "last_prune")
            ).scalar()
            if last is not None and now - float(last) < PRUNE_EVERY:
                return 0
            removed = self._prune(connection, now - days * 86400.0)
            if last is None:
                connection.execute(meta.insert().values(key="last_prune", value=repr(now)))
            else:
                connection.execute(
                    update(meta).where(meta.c.key == "last_prune").values(value=repr(now))
                )
            return removed

    # -- reading -----------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._transaction() as connection:
            check_version(current_version(connection), self.location)
            yield connection

    def history(self, query: HistoryQuery) -> list[RunSummary]:
        """Return the most recent runs matching the filters, newest first."""
        if not self.exists:
            return []
        statement = select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id.desc())
        if query.since is not None:
            statement = statement.where(runs.c.started_at >= query.since)
        if query.until is not None:
            statement = statement.where(runs.c.started_at < query.until)
        if query.what:
            statement = statement.where(runs.c.what.contains(query.what, autoescape=True))
        if query.host:
            if query.status:
                _check_status(query.status, HOST_STATUSES, "a host")
        elif query.status == "skipped":
            statement = statement.where(runs.c.n_skipped > 0)
        elif query.status:
            _check_status(query.status, RUN_STATUSES, "a run")
            statement = statement.where(runs.c.status == query.status)
        if query.limit > 0:
            statement = statement.limit(query.limit)
        with self._reading() as connection:
            if query.host:
                statement = statement.where(self._host_filter(connection, query))
            return [_summary(row._mapping) for row in connection.execute(statement)]

    @staticmethod
    def _host_filter(connection: Connection, query: HistoryQuery) -> Any:
        """The runs that had the host (in that status): the faster of two plans.

        A host in few runs: its rows from the host index, then those runs (an IN list). A host
        in many runs: the newest runs first, each checked with a primary-key lookup, stopping
        at the limit (EXISTS). At 10,000 runs each plan alone takes ~50 ms in its bad case.
        """
        assert query.host is not None
        rows = select(run_hosts.c.run_id).where(_host_match(query.host))
        if query.status:
            rows = rows.where(run_hosts.c.status == query.status)
        found = connection.execute(
            select(func.count()).select_from(rows.limit(FEW_RUNS + 1).subquery())
        ).scalar()
        if (found or 0) <= FEW_RUNS:
            return runs.c.run_id.in_(rows)
        return rows.where(run_hosts.c.run_id == runs.c.run_id).exists()

    def resolve(self, connection: Connection, ref: str | None) -> str:
        """Return the id of the run `ref` names: an id, a unique prefix or suffix, `latest`."""
        if ref in (None, "", "latest", "last"):
            found = connection.execute(
                select(runs.c.run_id).order_by(runs.c.started_at.desc()).limit(1)
            ).scalar()
            if found is None:
                raise JournalError(f"journal {self.location} holds no run yet")
            return str(found)
        assert ref is not None
        exact = connection.execute(select(runs.c.run_id).where(runs.c.run_id == ref)).scalar()
        if exact is not None:
            return str(exact)
        matches = (
            connection.execute(
                select(runs.c.run_id)
                .where(
                    or_(
                        runs.c.run_id.startswith(ref, autoescape=True),
                        runs.c.run_id.endswith("-" + ref, autoescape=True),
                    )
                )
                .order_by(runs.c.started_at.desc())
                .limit(6)
            )
            .scalars()
            .all()
        )
        if not matches:
            raise JournalError(
                f"no run {ref!r} in journal {self.location}; `corral history` lists the runs"
            )
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise JournalError(f"run {ref!r} is ambiguous ({shown}): give more of its id")
        return str(matches[0])

    def run(self, ref: str | None) -> RunDetail:
        """Return one run with every host, its output tail and its operations."""
        if not self.exists:
            raise JournalError(f"journal {self.location} does not exist yet: no run recorded")
        with self._reading() as connection:
            run_id = self.resolve(connection, ref)
            row = connection.execute(select(runs).where(runs.c.run_id == run_id)).one()._mapping
            ops: dict[str, list[OperationRecord]] = {}
            for op in connection.execute(
                select(operations)
                .where(operations.c.run_id == run_id)
                .order_by(operations.c.time, operations.c.id)
            ):
                m = op._mapping
                ops.setdefault(m["host"], []).append(
                    OperationRecord(
                        host=m["host"],
                        time=m["time"],
                        operation=m["operation"],
                        changed=bool(m["changed"]),
                        ok=bool(m["ok"]),
                        message=m["message"],
                        diff=m["diff"],
                        commands=tuple(json.loads(m["commands"])),
                    )
                )
            hosts = tuple(
                _host_record(h._mapping, ops.get(h._mapping["host"], []))
                for h in connection.execute(
                    select(run_hosts)
                    .where(run_hosts.c.run_id == run_id)
                    .order_by(run_hosts.c.position, run_hosts.c.host)
                )
            )
        return RunDetail(
            summary=_summary(row),
            argv=tuple(json.loads(row["argv"])),
            version=row["version"],
            cwd=row["cwd"],
            tasks=tuple(json.loads(row["tasks"])),
            command=row["command"],
            selection=row["selection"],
            config=json.loads(row["config"]),
            hosts=hosts,
        )

    def failed_hosts(self, ref: str | None) -> tuple[str, list[str]]:
        """Return (run id, hosts that failed or were never reached), in the run's host order."""
        if not self.exists:
            raise JournalError(f"journal {self.location} does not exist yet: no run recorded")
        with self._reading() as connection:
            run_id = self.resolve(connection, ref)
            hosts = (
                connection.execute(
                    select(run_hosts.c.host)
                    .where(and_(run_hosts.c.run_id == run_id, run_hosts.c.status.in_(NOT_OK)))
                    .order_by(run_hosts.c.position, run_hosts.c.host)
                )
                .scalars()
                .all()
            )
        return run_id, list(hosts)

    # -- maintenance -------------------------------------------------------------------

    def check(self) -> CheckReport:
        """Check the journal: SQLite's integrity check, the schema, rows without their run."""
        if not self.exists:
            return CheckReport(self.location, 0, 0, 0, 0, ["the journal does not exist yet"])
        try:
            return self._check()
        except JournalError as exc:  # a damaged file: that is the finding, not an error
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            return CheckReport(self.location, 0, 0, 0, 0, [describe_error(cause)])

    def _check(self) -> CheckReport:
        problems: list[str] = []
        with self._transaction() as connection:
            version = current_version(connection)
            try:
                check_version(version, self.location)
            except JournalError as exc:
                return CheckReport(self.location, version, 0, 0, 0, [str(exc)])
            if self.is_sqlite:
                found = connection.exec_driver_sql("PRAGMA integrity_check").scalars().all()
                problems += [f"integrity: {line}" for line in found if line != "ok"]
            if version == 0:
                return CheckReport(self.location, 0, 0, 0, 0, problems)
            counts = [
                connection.execute(select(func.count()).select_from(table)).scalar() or 0
                for table in (runs, run_hosts, operations)
            ]
            for table, label in ((run_hosts, "host rows"), (operations, "operation rows")):
                orphans = connection.execute(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.run_id.not_in(select(runs.c.run_id)))
                ).scalar()
                if orphans:
                    problems.append(f"{orphans} {label} belong to no run")
        return CheckReport(self.location, version, counts[0], counts[1], counts[2], problems)

    def vacuum(self) -> VacuumReport:
        """Reclaim free space (SQLite: VACUUM and a WAL checkpoint; PostgreSQL: VACUUM)."""
        if not self.exists:
            return VacuumReport(self.location, None, None)
        before = _file_size(self.path) if self.is_sqlite else None
        try:
            if self.is_sqlite:  # outside any transaction: on the driver's own connection
                raw = self.engine.raw_connection()
                try:
                    cursor = raw.cursor()
                    cursor.execute("VACUUM")
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    cursor.close()
                finally:
                    raw.close()
            else:
                with self.engine.connect() as connection:
                    autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
                    for table in (runs, run_hosts, operations):
                        autocommit.exec_driver_sql(f"VACUUM ANALYZE {table.name}")
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise JournalError(f"journal {self.location}: {describe_error(exc)}") from exc
        after = _file_size(self.path) if self.is_sqlite else None
        return VacuumReport(self.location, before, after)

    def prune(self, older_than: float, now: float | None = None) -> int:
        """Delete the runs started more than `older_than` seconds ago; return how many."""
        if not self.exists:
            return 0
        cutoff = (time.time() if now is None else now) - older_than
        with self._transaction() as connection:
            migrate(connection, self.location)
            return self._prune(connection, cutoff)

    @staticmethod
    def _prune(connection: Connection, cutoff: float) -> int:
        old = select(runs.c.run_id).where(runs.c.started_at < cutoff)
        connection.execute(delete(operations).where(operations.c.run_id.in_(old)))
        connection.execute(delete(run_hosts).where(run_hosts.c.run_id.in_(old)))
        return connection.execute(delete(runs).where(runs.c.started_at < cutoff)).rowcount or 0


def _check_status(status: str, known: Sequence[str], of: str) -> None:
    if status not in known:
        raise JournalError(
            f"unknown status {status!r} for {of}: expected one of {', '.join(known)}"
        )


def _host_match(pattern: str) -> Any:
    """`web*` and `db?` match like shell globs; anything else matches exactly."""
    if "*" not in pattern and "?" not in pattern:
        return run_hosts.c.host == pattern
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return run_hosts.c.host.like(escaped.replace("*", "%").replace("?", "_"), escape="\\")


def _summary(row: Any) -> RunSummary:
    return RunSummary(
        run_id=row["run_id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        user=row["user"],
        controller=row["controller"],
        what=row["what"],
        status=row["status"],
        exit_status=row["exit_status"],
        duration=row["duration"],
        hosts_total=row["hosts_total"],
        counts={
            "ok": row["n_ok"],
            "failed": row["n_failed"],
            "skipped": row["n_skipped"],
            "interrupted": row["n_interrupted"],
        },
    )


def _host_record(row: Any, ops: list[OperationRecord]) -> HostRecord:
    return HostRecord(
        host=row["host"],
        position=row["position"],
        status=row["status"],
        exit_code=row["exit_code"],
        error_type=row["error_type"],
        error=row["error"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration=row["duration"],
        task=row["task"],
        output=tuple((stream, line) for stream, line in json.loads(row["output"])),
        output_dropped=row["output_dropped"],
        operations=tuple(ops),
    )
