"""Real processes against real journal files: concurrent writers lose and corrupt nothing; a
journal that is locked, read-only, full or damaged costs one warning, never the run."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.journal import Journal, JournalSettings

WRITER = Path(__file__).with_name("writer.py")


def _writer(
    path: Path, *args: str, url: str | None = None, **popen: object
) -> subprocess.Popen[str]:
    argv = [sys.executable, str(WRITER), "--path", str(path), *args]
    if url:
        argv += ["--url", url]
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def _finish(process: subprocess.Popen[str], timeout: float = 90) -> tuple[str, str]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    assert "run finished" in out, out  # the run itself went on to its end
    return out, err


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("corral: warning: journal")]


@pytest.mark.timeout(600)  # 20 Python processes starting at once on 2 shared cores
@pytest.mark.parametrize("writers", [2, 20])
def test_concurrent_writers_lose_and_corrupt_nothing(
    journal_settings: JournalSettings, writers: int
) -> None:
    runs, hosts = 5, 8
    processes = [
        _writer(
            journal_settings.path,
            "--prefix",
            f"w{n:02d}",
            "--runs",
            str(runs),
            "--hosts",
            str(hosts),
            url=journal_settings.url,
        )
        for n in range(writers)
    ]
    deadline = time.monotonic() + 540  # all of them, within the test's 600 s
    try:
        for process in processes:
            _, err = _finish(process, timeout=max(1.0, deadline - time.monotonic()))
            assert _warnings(err) == []
    finally:  # a writer that failed or hung must not leave the others (and their pipes) behind
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate()
    journal = Journal(journal_settings)
    report = journal.check()
    assert report.ok, report.problems
    assert (report.runs, report.hosts) == (writers * runs, writers * runs * hosts)
    history = journal.history(limit=0)
    assert len({r.run_id for r in history}) == writers * runs
    assert all(r.status in ("ok", "failed") and r.finished_at for r in history)
    assert all(sum(r.counts.values()) == hosts for r in history)
    sample = journal.run(f"w{writers - 1:02d}-{runs - 1:04d}")
    assert all(len(h.output) >= 3 for h in sample.hosts)


def test_a_journal_locked_beyond_the_busy_timeout_warns_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    _finish(_writer(path, "--prefix", "before"))  # a journal with a schema, then a lock on it
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
        _, err = _finish(
            _writer(path, "--prefix", "during", "--runs", "3", "--busy-timeout", "0.3")
        )
    finally:
        assert locker.stdin is not None and locker.stdout is not None
        locker.stdin.close()
        locker.wait(timeout=30)
        locker.stdout.close()
    warnings = _warnings(err)
    assert len(warnings) == 1, err
    assert "locked by another process" in warnings[0] and "not recorded" in warnings[0]
    journal = Journal(JournalSettings(path=path))
    assert {r.run_id for r in journal.history()} == {"before-0000"}
    assert journal.check().ok


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory the writer cannot write: a read-only tmpfs as root, chmod otherwise."""
    directory = tmp_path / "ro"
    directory.mkdir()
    if os.geteuid() != 0:
        yield directory
        directory.chmod(0o755)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", directory], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", directory], check=True)


def _make_read_only(directory: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", directory], check=True)
    else:
        for path in directory.iterdir():
            path.chmod(0o444)
        directory.chmod(0o555)


def test_a_read_only_journal_warns_once(read_only_dir: Path) -> None:
    path = read_only_dir / "journal.db"
    _finish(_writer(path, "--prefix", "before"))
    with contextlib.closing(sqlite3.connect(path)) as connection:  # fold the WAL in: one file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _make_read_only(read_only_dir)
    _, err = _finish(_writer(path, "--prefix", "after", "--runs", "3"))
    warnings = _warnings(err)
    assert len(warnings) == 1, err
    assert "read-only" in warnings[0] or "cannot be opened" in warnings[0], warnings


def test_a_journal_in_a_read_only_directory_warns_once(read_only_dir: Path) -> None:
    _make_read_only(read_only_dir)
    _, err = _finish(_writer(read_only_dir / "state" / "journal.db", "--runs", "2"))
    warnings = _warnings(err)
    assert len(warnings) == 1, err
    assert "read-only" in warnings[0], warnings


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG


def test_a_full_journal_warns_once_and_keeps_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    _finish(_writer(path, "--prefix", "before", "--runs", "3"))
    process = _writer(
        path,
        "--prefix",
        "big",
        "--runs",
        "200",
        "--hosts",
        "30",
        "--lines",
        "20",
        preexec_fn=_limit_file_size,
    )
    _, err = _finish(process)
    warnings = _warnings(err)
    assert len(warnings) == 1, err
    assert "full" in warnings[0] or "I/O" in warnings[0], warnings
    journal = Journal(JournalSettings(path=path))
    report = journal.check()
    assert report.ok, report.problems  # what was committed before the disk filled is intact
    assert 3 <= report.runs < 203
    assert {f"before-000{n}" for n in range(3)} <= {r.run_id for r in journal.history(limit=0)}


def test_a_damaged_journal_warns_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    path.write_bytes(os.urandom(8192))
    _, err = _finish(_writer(path, "--runs", "2"))
    warnings = _warnings(err)
    assert len(warnings) == 1, err
    assert "not a journal database" in warnings[0]
    report = Journal(JournalSettings(path=path)).check()
    assert not report.ok and report.problems == ["not a journal database (damaged?)"]


def test_writes_never_wait_for_the_database(tmp_path: Path) -> None:
    """The consumer only queues: with the journal locked, emitting still returns at once."""
    path = tmp_path / "journal.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t(x)")
    holder.execute("BEGIN EXCLUSIVE")
    warnings: list[str] = []
    journal = Journal(JournalSettings(path=path, busy_timeout=30.0), warn=warnings.append)
    consume = journal.consumer()
    from corral.journal.sample import sample_run

    for event in sample_run("q", hosts=100, start=time.time()):
        consume(event)
    assert journal.written == 0  # all still queued behind the lock: none was written inline
    holder.execute("ROLLBACK")
    holder.close()
    journal.close()
    assert warnings == []
    assert journal.run("q").summary.counts["ok"] == 98


def test_close_gives_up_after_its_bound_with_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN EXCLUSIVE")
    warnings: list[str] = []
    journal = Journal(JournalSettings(path=path, busy_timeout=30.0), warn=warnings.append)
    consume = journal.consumer()
    from corral.journal.sample import sample_run

    for event in sample_run("late", hosts=3, start=time.time()):
        consume(event)
    journal.close(timeout=0.2)
    assert len(warnings) == 1 and "could not finish writing within 0.2 s" in warnings[0]
    assert journal.is_disabled
    holder.execute("ROLLBACK")
    holder.close()
