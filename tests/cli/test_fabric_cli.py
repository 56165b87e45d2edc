"""The command line a Fabric user types (issue 11): Fabric's and Invoke's flags, core flags
after a task name, a task named twice, Exit, a program built on corral, and a GroupException
raised inside a task naming its hosts. In-process (CliRunner), local tasks; one against the
fleet."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from corral import Collection, Config, task
from corral.cli.program import Program
from corral.executor import Executor
from corral.parser import Argument
from corral.testing.fleet import SSHDFleet

from .conftest import Invoke

FABFILE = '''
"""A fabfile for the flags."""
from invoke import Collection, Exit, task

@task
def show(c, key):
    """Print a config value."""
    print(key, c.config.get(key))

@task
def build(c):
    """Say so."""
    print("build")

@task(build)
def deploy(c):
    """Deploy (build first)."""
    print("deploy", c.config.run.dry)
    c.run("echo ran")

@task(build)
def restart(c):
    """Restart (build first)."""
    print("restart")

@task
def leave(c, code=0, message=""):
    """End the run with Exit."""
    raise Exit(message or None, code=int(code) if code else None)

@task
def nested_task(c):
    """A task of a sub-collection."""

ns = Collection(show, build, deploy, restart, leave)
ns.add_collection(Collection("db", nested_task, inner=Collection("inner", nested_task)))
'''


@pytest.fixture
def fabfile(tmp_path: Path) -> Path:
    path = tmp_path / "fabfile.py"
    path.write_text(textwrap.dedent(FABFILE))
    return path


def test_pty_flag_sets_run_pty(fabfile: Path, corral_cli: Invoke) -> None:
    for flag in ("-p", "--pty"):
        result = corral_cli(flag, "show", "run.pty")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == "run.pty True\n"


def test_dry_has_invokes_short_flag(fabfile: Path, corral_cli: Invoke) -> None:
    result = corral_cli("-R", "deploy")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["build", "deploy True", "[local] echo ran"]


def test_core_flags_after_a_task_name_as_invoke_takes_them(
    fabfile: Path, corral_cli: Invoke
) -> None:
    result = corral_cli("deploy", "--dry", "show", "run.echo", "-e")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "build",
        "deploy True",
        "[local] echo ran",
        "run.echo True",
    ]
    late_set = corral_cli("show", "deploy.stage", "--set", "deploy.stage=qa")
    assert late_set.stdout == "deploy.stage qa\n"
    wrong = corral_cli("show", "x", "-c", "other")
    assert wrong.exit_code == 2
    assert "give it before the task names" in wrong.stderr


def test_a_task_named_twice_runs_twice_its_pre_task_once(fabfile: Path, corral_cli: Invoke) -> None:
    result = corral_cli("deploy", "deploy", "restart")
    assert result.stdout.splitlines() == [
        "build",
        "deploy False",
        "ran",
        "deploy False",
        "ran",
        "restart",
    ]
    every = corral_cli("--no-dedupe", "deploy", "restart")
    assert every.stdout.splitlines() == ["build", "deploy False", "ran", "build", "restart"]


def test_exit_ends_the_run_with_its_code_and_message(fabfile: Path, corral_cli: Invoke) -> None:
    quiet = corral_cli("leave")
    assert (quiet.exit_code, quiet.stderr) == (0, "")
    said = corral_cli("leave", "--message", "stopping here")
    assert (said.exit_code, said.stderr) == (1, "stopping here\n")
    coded = corral_cli("leave", "--message", "not now", "--code", "4")
    assert (coded.exit_code, coded.stderr) == (4, "not now\n")


def test_list_format_and_depth_have_invokes_flags(fabfile: Path, corral_cli: Invoke) -> None:
    shallow = corral_cli("-l", "-D", "1")
    assert "  db [1 tasks, 1 collections]" in shallow.stdout
    assert "db.inner" not in shallow.stdout
    deep = corral_cli("--list", "--list-depth", "2", "-F", "nested")
    assert "inner [1 tasks]" in deep.stdout
    assert "nested-task" in deep.stdout
    assert '"name": "db"' in corral_cli("-l", "-F", "json").stdout
    refused = corral_cli("-l", "-F", "json", "-D", "1")
    assert refused.exit_code == 2 and "--list-depth" in refused.stderr


def test_complete_prints_the_candidates_of_a_command_line(
    fabfile: Path, corral_cli: Invoke, tmp_path: Path
) -> None:
    tasks = corral_cli("--complete", "--", "corral", "-r", str(tmp_path), "de")
    assert tasks.stdout.split() == ["deploy"]
    flags = corral_cli("--complete", "--", "corral", "-r", str(tmp_path), "show", "--")
    assert "--key" in flags.stdout.split()


def test_write_pyc_lets_python_cache_the_fabfile(fabfile: Path, tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("X = 1\n")
    fabfile.write_text(fabfile.read_text() + "\nimport helper\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run = [sys.executable, "-m", "corral.cli.main", "-r", str(tmp_path)]
    subprocess.run([*run, "build"], check=True, capture_output=True, env=env)
    assert not (tmp_path / "__pycache__").exists()  # Invoke's default: no .pyc
    subprocess.run([*run, "--write-pyc", "build"], check=True, capture_output=True, env=env)
    assert list((tmp_path / "__pycache__").glob("helper.*.pyc"))


def test_host_key_policy_flag_sets_the_policy(fabfile: Path, corral_cli: Invoke) -> None:
    result = corral_cli("--host-key-policy", "accept-new", "show", "host_key_policy")
    assert result.stdout == "host_key_policy accept-new\n"
    assert corral_cli("--host-key-policy", "maybe", "build").exit_code == 2


def test_fabrics_config_files_and_variables_apply_to_a_fabfile(
    fabfile: Path, corral_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fabric.yaml").write_text("run:\n  echo: true\nstage: from-fabric\n")
    monkeypatch.setenv("FABRIC_STAGE", "from-env")
    result = corral_cli("show", "stage", "show", "run.echo")
    assert result.stdout.splitlines() == ["stage from-env", "run.echo True"]
    (tmp_path / "corral.yaml").write_text("stage: from-corral\n")
    monkeypatch.delenv("FABRIC_STAGE")
    assert corral_cli("show", "stage").stdout == "stage from-corral\n"
    # a corralfile: Fabric's files are not read
    (tmp_path / "corralfile.py").write_text(
        "from corral import task\n@task\ndef show(c, key):\n    print(key, c.config.get(key))\n"
    )
    (tmp_path / "corral.yaml").unlink()
    assert corral_cli("show", "stage").stdout == "stage None\n"


def test_a_program_built_on_corral(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []

    @task
    def hello(c):
        """Greet."""
        print(f"hello {c.config.greeting} {c.config.extra}")

    class Roles(Executor):
        def normalize_hosts(self, hosts):
            seen.append(f"normalized {hosts}")
            return super().normalize_hosts(hosts)

    class Settings(Config):
        prefix = "hellotool"

        @staticmethod
        def global_defaults():
            return {**Config.global_defaults(), "greeting": "world", "extra": "none"}

    class Hello(Program):
        def core_args(self):
            return [Argument(names=("extra", "x"), help="Something extra.")]

        def update_config(self, merge=True):
            if self.args.extra.value:
                self.config.load_overrides({"extra": self.args.extra.value})

    program = Hello(
        name="hellotool",
        version="2.1",
        namespace=Collection(hello),
        executor_class=Roles,
        config_class=Settings,
    )
    assert program.run(["hellotool", "--extra", "more", "hello"], exit=False) == 0
    assert program.run(["hellotool", "--version"], exit=False) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["hello world more", "hellotool 2.1"]
    assert seen == []  # no hosts: normalize_hosts is asked only for hosts
    assert program.run("hellotool --help", exit=False) == 0
    assert "Program options" in capsys.readouterr().out


CORRALFILE_GROUP = """
from corral import Group, task

@task
def everywhere(c, hosts):
    Group(*hosts.split(","), config=c.config).run("echo failing on $(hostname) >&2; exit 3")
"""


def test_a_group_exception_inside_a_task_names_its_hosts(fleet: SSHDFleet, tmp_path: Path) -> None:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE_GROUP))
    hosts = ",".join(h.alias for h in fleet.hosts[:2])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "corral.cli.main",
            "-S",
            str(fleet.ssh_config_path),
            "everywhere",
            hosts,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 3  # the failed hosts' common status
    lines = proc.stderr.splitlines()
    assert lines[-4].startswith("corral: 2 hosts: 0 ok, 2 failed, 0 skipped in ")
    assert lines[-3:] == [
        "failed:",
        f"  {fleet.hosts[0].alias}: command 'echo failing on $(hostname) >&2; exit 3' exited "
        "with status 3",
        f"  {fleet.hosts[1].alias}: command 'echo failing on $(hostname) >&2; exit 3' exited "
        "with status 3",
    ]
