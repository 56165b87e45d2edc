"""`corral` as a real subprocess against the sshd fleet: tasks on two hosts, a failing remote
command's status, an ad-hoc command, an unreachable host."""

from __future__ import annotations

import getpass
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from corral.testing.fleet import SSHDFleet

CORRALFILE = '''
from corral import task

@task
def where(c, greeting="hello"):
    """Say where we are."""
    result = c.run("echo $(whoami) ${SSH_CONNECTION##* }", hide=True)
    address = c.run("echo ${SSH_CONNECTION}", hide=True).stdout.split()[2]
    print(f"{greeting} from {c.original_host} ({address}) as {result.stdout.split()[0]}"
          f" env={c.config.get('deploy_env')}")

@task
async def count(c):
    result = await c.run("ls / | wc -l", hide=True)
    print(c.original_host, "async", int(result.stdout) > 3)

@task
def fail(c):
    c.run("echo 'disk quota exceeded' >&2; exit 3")
'''


def corral(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE))
    return tmp_path


def test_tasks_run_on_each_host_in_order(project: Path, fleet: SSHDFleet) -> None:
    one, two = fleet.hosts[0], fleet.hosts[1]
    proc = corral(
        project, "-S", str(fleet.ssh_config_path), "-H", f"{two.alias},{one.alias}",
        "--set", "deploy_env=production", "where", "--greeting", "hi", "count",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    user = fleet.user
    assert proc.stdout.splitlines() == [
        f"hi from {two.alias} ({two.address}) as {user} env=production",
        f"hi from {one.alias} ({one.address}) as {user} env=production",
        f"{two.alias} async True",
        f"{one.alias} async True",
    ]


def test_a_failing_remote_command_exits_with_its_status_and_one_line(
    project: Path, fleet: SSHDFleet
) -> None:
    host = fleet.hosts[0].alias
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", host, "fail")
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == [
        "disk quota exceeded",  # the command's own stderr, streamed
        f"corral: {host}: command \"echo 'disk quota exceeded' >&2; exit 3\" exited with status 3",
    ]


def test_an_ad_hoc_command_runs_on_each_host(project: Path, fleet: SSHDFleet) -> None:
    hosts = fleet.hosts[:2]
    proc = corral(
        project, "-S", str(fleet.ssh_config_path), "-H", ",".join(h.alias for h in hosts),
        "--", "echo", "${SSH_CONNECTION}", "|", "cut", "-d' '", "-f3",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [h.address for h in hosts]


def test_an_unreachable_host_is_one_clear_line(project: Path, fleet: SSHDFleet) -> None:
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", "127.0.0.1:1", "where")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"corral: 127.0.0.1: connection refused by {getpass.getuser()}@127.0.0.1:1 "
        "(is sshd running there?)"
    ]
