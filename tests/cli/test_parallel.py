"""`corral -P` and the rolling options as a real subprocess against the sshd fleet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corral.testing.fleet import SSHDFleet

ADDRESS = "$(echo $SSH_CONNECTION | cut -d' ' -f3)"

CORRALFILE = """
from corral import task

@task
def where(c):
    c.run("echo at $(echo $SSH_CONNECTION | cut -d' ' -f3)")
    return c.original_host

@task
async def slow(c):
    await c.run("sleep 62.4242")

@task
def slow_sync(c):
    c.run("sleep 62.4242")
    c.run("touch ran-after-interrupt")

@task
def flaky(c, bad=""):
    address = c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[2]
    if address in bad.split(","):
        c.run("echo 'service failed to start' >&2; exit 4", hide=True)
"""


def corral(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE))
    return tmp_path


def _hosts(fleet: SSHDFleet) -> str:
    return ",".join(h.alias for h in fleet.hosts)


def test_parallel_adhoc_command_prefixes_output_and_summarises(
    project: Path, fleet: SSHDFleet
) -> None:
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet), "-P",
                  "--", f"echo {ADDRESS}")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for host in fleet.hosts:
        assert f"[{host.alias}] {host.address}\n" in proc.stdout
    assert "3 hosts: 3 ok, 0 failed, 0 skipped" in proc.stdout


def test_identical_output_is_grouped_in_the_summary(project: Path, fleet: SSHDFleet) -> None:
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet), "-P",
                  "--hide", "both", "--", "uname -s")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "host[1-3] (3):\n    Linux\n" in proc.stdout


def test_json_output_is_one_object_per_host(project: Path, fleet: SSHDFleet) -> None:
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet), "-P",
                  "--output", "json", "--", f"echo {ADDRESS}")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["host"] for r in records] == [h.alias for h in fleet.hosts]
    for record, host in zip(records, fleet.hosts, strict=True):
        assert record["ok"] is True and record["exited"] == 0 and record["skipped"] is False
        assert record["stdout"] == f"{host.address}\n"
        assert record["error"] is None and record["duration"] is not None


def test_parallel_task_failure_exits_with_the_remote_status(
    project: Path, fleet: SSHDFleet
) -> None:
    bad = fleet.hosts[1]
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet), "-P",
                  "flaky", "--bad", bad.address)  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert f"{bad.alias}: command" in proc.stdout and "status 4" in proc.stdout
    assert "service failed to start" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == (
        "corral: 3 hosts: 2 ok, 1 failed, 0 skipped" + proc.stderr.strip().split("skipped", 1)[1]
    )


def test_rolling_batches_stop_at_max_failures(project: Path, fleet: SSHDFleet) -> None:
    first, second, third = fleet.hosts
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet),
                  "--batch-size", "1", "--max-failures", "0",
                  "flaky", "--bad", second.address)  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert "3 hosts: 1 ok, 1 failed, 1 skipped" in proc.stdout
    assert f"{third.alias} (1): not started" in proc.stdout
    del first


def test_json_records_skipped_hosts(project: Path, fleet: SSHDFleet) -> None:
    second = fleet.hosts[1]
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet),
                  "--fail-fast", "--output", "json", "flaky", "--bad", second.address)  # fmt: skip
    assert proc.returncode == 4
    records = {r["host"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert records[fleet.hosts[0].alias]["ok"] is True
    assert records[second.alias]["error_type"] == "UnexpectedExit"
    assert records[fleet.hosts[2].alias]["skipped"] is True
    assert all(r["task"] == "flaky" for r in records.values())


@pytest.mark.parametrize("task", ["slow", "slow-sync"])
def test_ctrl_c_exits_130_with_a_partial_summary_and_no_remote_process(
    project: Path, fleet: SSHDFleet, task: str
) -> None:
    fleet.run_as_user("rm -f ~/ran-after-interrupt")
    proc = subprocess.Popen(
        [sys.executable, "-m", "corral.cli.main", "-S", str(fleet.ssh_config_path),
         "-H", _hosts(fleet), "-P", task],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    pattern = "[s]leep 62.4242"
    deadline = time.monotonic() + 30
    running = ""
    while time.monotonic() < deadline:
        running = fleet.run_as_user(f"pgrep -f '{pattern}' | wc -l").stdout.strip()
        if running == "3":
            break
        time.sleep(0.1)
    assert running == "3"
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in out and "3 hosts:" in out
    deadline = time.monotonic() + 5
    while fleet.run_as_user(f"pgrep -f '{pattern}' || true").stdout.strip():
        assert time.monotonic() < deadline, "remote commands survived Ctrl-C"
        time.sleep(0.1)
    time.sleep(0.5)
    assert fleet.run_as_user("ls ~/ran-after-interrupt 2>/dev/null || true").stdout == ""
