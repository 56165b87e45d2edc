"""Fixtures for the journal tests: a private PostgreSQL server (Debian's packages) started
once per session, and `journal_settings`, parametrised over SQLite files and PostgreSQL.

The server runs from a temporary directory (initdb as the `postgres` user when we are root),
listens only on a Unix socket there, and is stopped at the end. Without PostgreSQL the
PostgreSQL cases are skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from corral.journal import JournalSettings


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):  # CI installs PostgreSQL (scripts/install): a skip would hide it
        pytest.fail(f"PostgreSQL is needed in CI: {reason}")
    pytest.skip(reason)


def _pg_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


@dataclass
class PostgresServer:
    """A running private PostgreSQL server reachable on a Unix socket."""

    socket_dir: Path
    port: int
    user: str
    _names: itertools.count[int]

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of a database on this server."""
        return (
            f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}&port={self.port}"
        )

    def create_database(self) -> str:
        """Create a fresh, empty database; return its URL."""
        import psycopg

        name = f"journal_{os.getpid()}_{next(self._names)}"
        dsn = f"host={self.socket_dir} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the whole test session."""
    bindir = _pg_bin()
    if bindir is None:
        _unavailable("PostgreSQL is not installed (scripts/install installs Debian's postgresql)")
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="corral-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    as_user: dict[str, str] = {}
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        as_user = {"user": "postgres"}
    port = 5432
    log = root / "server.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                bindir / "initdb",
                "-D",
                data,
                "-U",
                "corral",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            cwd=root,
            **as_user,  # type: ignore[call-overload]
        )
        with open(log, "wb") as out:
            process = subprocess.Popen(  # type: ignore[call-overload]
                [
                    bindir / "postgres",
                    "-D",
                    data,
                    "-k",
                    sockets,
                    "-p",
                    str(port),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=100",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=root,
                **as_user,
            )
        socket = sockets / f".s.PGSQL.{port}"
        deadline = time.monotonic() + 60
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        server = PostgresServer(sockets, port, "corral", itertools.count())
        deadline = time.monotonic() + 60
        while True:  # the socket appears a moment before connections are accepted
            try:
                server.create_database()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    except subprocess.CalledProcessError as exc:
        _unavailable(f"initdb failed: {exc.stderr.decode(errors='replace')[-500:]}")
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_settings(request: pytest.FixtureRequest, tmp_path: Path) -> JournalSettings:
    """Settings of a fresh, empty journal: a SQLite file, or a PostgreSQL database."""
    path = tmp_path / "state" / "journal.db"
    if request.param == "sqlite":
        return JournalSettings(path=path, busy_timeout=5.0)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return JournalSettings(path=path, url=server.create_database(), busy_timeout=5.0)
