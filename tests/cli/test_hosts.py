"""Where a run goes: an empty host list is a usage error, never a run on this machine.

Issue 9, defect 2: `corral -H "" -- touch X` ran `touch X` locally and exited 0. A command
after `--` now needs `-H` hosts or an explicit `--local`; a task's own `hosts=[]` is refused.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import Invoke

CORRALFILE = """
from corral import task

@task
def hello(c):
    c.run("touch {marker}-hello")

@task(hosts=[])
def nowhere(c):
    c.run("touch {marker}-nowhere")

@task(hosts=["", " "])
def blank(c):
    c.run("touch {marker}-blank")
"""


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """A file that exists only if a command ran on this machine."""
    (tmp_path / "corralfile.py").write_text(
        textwrap.dedent(CORRALFILE).format(marker=tmp_path / "ran")
    )
    return tmp_path / "ran"


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize(
    "host_args",
    [["-H", ""], ["-H", ","], ["-H", " , "], ["-H", "web1", "-H", ""], ["--hosts", "\t"]],
    ids=["empty", "comma", "blank-commas", "repeated-with-an-empty-one", "whitespace"],
)
def test_an_empty_host_list_is_a_usage_error_and_runs_nothing(
    corral_cli: Invoke, marker: Path, host_args: list[str]
) -> None:
    result = corral_cli(*host_args, "--", "touch", str(marker))
    assert result.exit_code == 2
    empty = host_args[-1]
    assert one_line(result.stderr) == (
        f"corral: -H {empty!r} names no host; give one or more (-H web1,web2), "
        "or --local to run a command after -- on this machine"
    )
    assert not marker.exists()


def test_an_empty_host_list_with_a_task_runs_nothing_either(
    corral_cli: Invoke, marker: Path
) -> None:
    result = corral_cli("-H", "", "hello")
    assert result.exit_code == 2
    assert "-H '' names no host" in one_line(result.stderr)
    assert not Path(f"{marker}-hello").exists()


def test_a_command_after_dashes_without_hosts_is_refused(corral_cli: Invoke, marker: Path) -> None:
    result = corral_cli("--", "touch", str(marker))
    assert result.exit_code == 2
    assert one_line(result.stderr) == (
        "corral: a command after -- needs hosts: give -H HOST[,HOST...] or -G PATTERN, "
        "or --local to run it on this machine"
    )
    assert not marker.exists()


def test_a_task_then_a_command_after_dashes_without_hosts_is_refused_before_the_task(
    corral_cli: Invoke, marker: Path
) -> None:
    result = corral_cli("hello", "--", "touch", str(marker))
    assert result.exit_code == 2
    assert not Path(f"{marker}-hello").exists() and not marker.exists()


def test_local_runs_the_command_after_dashes_here(corral_cli: Invoke, marker: Path) -> None:
    result = corral_cli("--local", "--", "touch", str(marker))
    assert result.exit_code == 0, result.stderr
    assert marker.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--local", "-H", "web1", "--", "true"],
            "corral: --local runs the command after -- on this machine, -H (or -G) on "
            "hosts: give one of them",
        ),
        (
            ["--local", "hello"],
            "corral: --local runs a command given after --: corral --local -- make test "
            "(tasks run where their hosts say)",
        ),
    ],
)
def test_local_is_only_for_a_command_after_dashes_without_hosts(
    corral_cli: Invoke, marker: Path, args: list[str], message: str
) -> None:
    result = corral_cli(*args)
    assert result.exit_code == 2
    assert one_line(result.stderr) == message
    assert not Path(f"{marker}-hello").exists()


@pytest.mark.parametrize(("task", "hosts"), [("nowhere", "[]"), ("blank", "['', ' ']")])
def test_a_task_whose_own_host_list_is_empty_is_refused_before_anything_runs(
    corral_cli: Invoke, marker: Path, task: str, hosts: str
) -> None:
    result = corral_cli("hello", task)
    assert result.exit_code == 1
    assert one_line(result.stderr) == (
        f"corral: task {task}: hosts={hosts} has no host or a blank one; give it hosts, "
        "run it with -H HOST, or leave hosts out to run it on this machine"
    )
    assert not Path(f"{marker}-hello").exists()  # the task before it did not run either
    assert not Path(f"{marker}-{task}").exists()


def test_a_task_without_hosts_still_runs_here(corral_cli: Invoke, marker: Path) -> None:
    result = corral_cli("hello")
    assert result.exit_code == 0, result.stderr
    assert Path(f"{marker}-hello").exists()


def test_the_real_command_refuses_an_empty_host_list(tmp_path: Path, marker: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", "-H", " , ", "--", "touch", str(marker)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("corral: -H ' , ' names no host")
    assert not marker.exists()
