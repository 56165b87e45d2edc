"""TERM, HUP and Ctrl-C stop a real `corral` the same way (issue 9, defects 6 and 8).

A cancelled CI job (TERM) or a closed terminal (HUP) used to kill corral at once, with no
report, while the remote commands went on. Now each stops the remote commands, prints the
partial report (or, host by host, where the run stopped) and exits 128 + the signal's number;
hosts whose command was running are reported as interrupted, not as never started.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corral.testing.fleet import SSHDFleet

CORRALFILE = """
from corral import task

@task
def slow_sync(c, marker):
    c.run(f"sleep {marker}")
    c.run("touch ~/ran-after-the-signal-{marker}")

@task
async def slow_async(c, marker):
    await c.run(f"sleep {marker}")
    await c.run(f"touch ~/ran-after-the-signal-{marker}")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE))
    return tmp_path


def _count(fleet: SSHDFleet, marker: str) -> int:
    """Count the remote sleeps (exactly `sleep MARKER`: not corral's own command line)."""
    return int(fleet.run_as_user(f"pgrep -xf 'sleep {marker}' | wc -l").stdout.strip())


def _wait_for(fleet: SSHDFleet, marker: str, count: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    running = _count(fleet, marker)
    while running != count and time.monotonic() < deadline:
        time.sleep(0.1)
        running = _count(fleet, marker)
    return running


def _interrupt(
    project: Path, fleet: SSHDFleet, args: list[str], running: int, signum: int, marker: str
) -> tuple[int, str, str]:
    """Start corral, wait until `running` sleeps run on the hosts, send `signum`; return
    (exit status, stdout, stderr) once it has exited and every sleep is gone."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "corral.cli.main", "-S", str(fleet.ssh_config_path), *args],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert _wait_for(fleet, marker, running, 30) == running, "the commands did not start"
        os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert _wait_for(fleet, marker, 0, 5) == 0, "remote commands survived the signal"
    after = fleet.run_as_user(f"ls ~/ran-after-the-signal-{marker} 2>/dev/null || true").stdout
    assert after == "", "the task went on after the signal"
    return proc.returncode, out, err


SIGNALS = [
    pytest.param(signal.SIGTERM, 143, "interrupted by SIGTERM", id="TERM"),
    pytest.param(signal.SIGHUP, 129, "interrupted by SIGHUP", id="HUP"),
    pytest.param(signal.SIGINT, 130, "interrupted", id="INT"),
]


def _marker() -> str:
    return f"61.{secrets.randbelow(10**6):06d}"


@pytest.mark.parametrize(("signum", "status", "words"), SIGNALS)
def test_a_signal_stops_a_serial_ad_hoc_command_and_says_where(
    project: Path, fleet: SSHDFleet, signum: int, status: int, words: str
) -> None:
    marker = _marker()
    hosts = ",".join(h.alias for h in fleet.hosts)
    code, out, err = _interrupt(
        project, fleet, ["-H", hosts, "--", f"sleep {marker}"], 1, signum, marker
    )
    assert code == status, err
    first = fleet.hosts[0].alias
    assert err.splitlines()[-1] == f"corral: {words} during -- sleep {marker} on {first}"
    assert out == ""


@pytest.mark.parametrize(
    ("task", "signum", "status", "words"),
    [
        ("slow-sync", signal.SIGTERM, 143, "interrupted by SIGTERM"),
        ("slow-sync", signal.SIGINT, 130, "interrupted"),
        ("slow-async", signal.SIGHUP, 129, "interrupted by SIGHUP"),
    ],
)
def test_a_signal_stops_a_serial_task_before_its_next_command(
    project: Path, fleet: SSHDFleet, task: str, signum: int, status: int, words: str
) -> None:
    marker = _marker()
    host = fleet.hosts[1].alias
    code, _, err = _interrupt(
        project, fleet, ["-H", host, task, "--marker", marker], 1, signum, marker
    )
    assert code == status, err
    assert err.splitlines()[-1] == f"corral: {words} during {task} on {host}"


@pytest.mark.parametrize(
    ("args", "signum", "status", "words"),
    [
        (["--", "sleep {marker}"], signal.SIGTERM, 143, "interrupted by SIGTERM"),
        (["--", "sleep {marker}"], signal.SIGHUP, 129, "interrupted by SIGHUP"),
        (["slow-sync", "--marker", "{marker}"], signal.SIGTERM, 143, "interrupted by SIGTERM"),
        (["slow-async", "--marker", "{marker}"], signal.SIGINT, 130, "interrupted"),
    ],
    ids=["adhoc-TERM", "adhoc-HUP", "sync-task-TERM", "async-task-INT"],
)
def test_a_signal_stops_a_parallel_run_and_reports_the_hosts_as_interrupted(
    project: Path, fleet: SSHDFleet, args: list[str], signum: int, status: int, words: str
) -> None:
    marker = _marker()
    hosts = ",".join(h.alias for h in fleet.hosts)
    args = [arg.format(marker=marker) for arg in args]
    code, out, err = _interrupt(project, fleet, ["-H", hosts, "-P", *args], 3, signum, marker)
    assert code == status, err
    assert err.splitlines()[-1] == f"corral: {words}"
    report = out.splitlines()
    for host in fleet.hosts:
        stopped = (
            f"{host.alias}: interrupted while running 'sleep {marker}'; the command was stopped"
        )
        assert stopped in report
    assert "skipped:" not in report and "never started" not in out
    assert report[-1].startswith("3 hosts: 0 ok, 0 failed, 3 interrupted, 0 skipped in ")


def test_a_signal_stops_a_json_run_with_the_hosts_interrupted(
    project: Path, fleet: SSHDFleet
) -> None:
    import json

    marker = _marker()
    hosts = ",".join(h.alias for h in fleet.hosts)
    code, out, _ = _interrupt(
        project, fleet, ["-H", hosts, "-P", "--output", "json", "--", f"sleep {marker}"], 3,
        signal.SIGTERM, marker,
    )  # fmt: skip
    assert code == 143
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["host"] for r in records] == [h.alias for h in fleet.hosts]
    for record in records:
        assert record["interrupted"] is True and record["skipped"] is False
        assert record["ok"] is False and record["error_type"] == "CommandInterrupted"
