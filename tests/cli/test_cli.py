"""The `corral` command in-process (CliRunner): listing, help, parsing, errors, exit codes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete

from corral.cli.completion import COMPLETE_VAR, ssh_config_hosts
from corral.cli.main import cli

from .conftest import Invoke

CORRALFILE = '''
"""Tasks for the tests."""
from corral import Collection, task

@task
def clean(c):
    """Remove build output."""
    c.run("echo cleaning")

@task(
    pre=[clean],
    aliases=["d"],
    help={"branch": "Branch to deploy.", "tag": "A tag.", "verbose": "More output."},
    iterable=["tag"],
    incrementable=["verbose"],
    optional=["log"],
)
def deploy(c, target, branch="main", replicas: int = 1, check=True, tag=None, verbose=0, log=None):
    """Deploy the app.

    Builds, uploads and switches the release.
    """
    print("deploy", repr(dict(target=target, branch=branch, replicas=replicas, check=check,
                              tag=tag, verbose=verbose, log=log)))

@task
def show(c, key):
    """Print a config value."""
    print("show", key, repr(c.config.get(key)))

@task
def fail(c, status=3):
    c.run(f"echo disk full >&2; exit {status}")

@task
def crash(c):
    raise RuntimeError("a bug in the task")

@task
def make(c):
    c.run("touch made-by-make")

@task(default=True)
def status(c):
    """Default task of the db collection."""
    print("db status")

ns = Collection(clean, deploy, show, fail, crash, make, db=Collection("db", status))
'''


def write(directory: Path, text: str = CORRALFILE, name: str = "corralfile.py") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_list_shows_every_task_with_aliases_and_summaries(
    tmp_path: Path, corral_cli: Invoke
) -> None:
    write(tmp_path)
    result = corral_cli("--list")
    assert result.exit_code == 0
    assert result.stdout == textwrap.dedent(f"""\
        Available tasks ({tmp_path / "corralfile.py"}):

          clean             Remove build output.
          crash
          db.status (db)    Default task of the db collection.
          deploy (d)        Deploy the app.
          fail
          make
          show              Print a config value.
        """)


def test_list_nested_and_of_one_namespace(tmp_path: Path, corral_cli: Invoke) -> None:
    write(tmp_path)
    nested = corral_cli("-l", "--list-format", "nested")
    assert "  db\n    .status*    Default task of the db collection.\n" in nested.stdout
    one = corral_cli("-l", "db")
    assert "db.status" not in one.stdout and "status*" not in one.stdout
    assert "  status    Default task of the db collection." in one.stdout
    missing = corral_cli("-l", "web")
    assert missing.exit_code == 2
    assert one_line(missing.stderr) == "corral: no collection named 'web' (see corral --help)"


def test_list_json(tmp_path: Path, corral_cli: Invoke) -> None:
    write(tmp_path)
    result = corral_cli("--list", "--list-format", "json")
    data = json.loads(result.stdout)
    assert data["help"] == "Tasks for the tests."
    assert {"name": "deploy", "help": "Deploy the app.", "aliases": ["d"]} in data["tasks"]
    assert data["collections"][0]["name"] == "db" and data["collections"][0]["default"] == "status"


def test_help_shows_core_options_by_section_and_the_tasks(
    tmp_path: Path, corral_cli: Invoke
) -> None:
    write(tmp_path)
    result = corral_cli("--help")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("Usage: corral [CORE OPTIONS] [TASK [TASK OPTIONS]]... [-- COMMAND]\n")
    for section in (
        "Hosts and connections:",
        "Running commands:",
        "Configuration:",
        "Corralfile and help:",
    ):
        assert section in out
    for flag in ("-H, --hosts", "--dry", "--set KEY=VALUE", "-l, --list", "--prompt-for-sudo"):
        assert flag in out
    assert "deploy (d)" in out and "Deploy the app." in out


@pytest.mark.parametrize("args", [["--help", "deploy"], ["deploy", "--help"], ["d", "-h"]])
def test_help_for_a_task_shows_its_flags(
    tmp_path: Path, corral_cli: Invoke, args: list[str]
) -> None:
    write(tmp_path)
    result = corral_cli(*args)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("Usage: corral deploy [OPTIONS] TARGET\n")
    assert "Builds, uploads and switches the release." in out
    for line in (
        "-t, --target TARGET",
        "-b, --branch TEXT",
        "Branch to deploy.  [default: main]",
        "-r, --replicas INTEGER",
        "-c, --check / --no-check",
        "--tag TEXT",
        "(repeatable)",
        "-v, --verbose",
        "-l, --log TEXT",
    ):
        assert line in out, line


def test_task_arguments_from_the_command_line(tmp_path: Path, corral_cli: Invoke) -> None:
    write(tmp_path)
    result = corral_cli(
        "deploy", "web", "-b", "dev", "--replicas=3", "--no-check", "--tag", "a", "-a",
        "b", "-vvv", "--log",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "cleaning",
        "deploy {'target': 'web', 'branch': 'dev', 'replicas': 3, 'check': False, "
        "'tag': ['a', 'b'], 'verbose': 3, 'log': True}",
    ]


def test_a_positional_argument_may_be_given_by_flag_and_tasks_chain(
    tmp_path: Path, corral_cli: Invoke
) -> None:
    write(tmp_path)
    result = corral_cli("d", "--target", "db", "--log", "x.log", "show", "run.echo", "db")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("deploy {'target': 'db'") and "'log': 'x.log'" in lines[1]
    assert lines[2:] == ["show run.echo False", "db status"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deploy"], "corral: deploy: missing TARGET (give it, or --target VALUE) "),
        (["deploy", "x", "--bogus"], "corral: deploy: No such option '--bogus'"),
        (["deploy", "x", "-r", "many"], "'many' is not a valid integer"),
        (["deploy", "x", "--target", "y"], "TARGET given twice ('x' and --target 'y')"),
        (["--bogus"], "corral: No such option '--bogus'"),
        (["--set", "novalue", "clean"], "--set 'novalue': expected KEY=VALUE"),
        (
            [
                "--",
            ],
            "nothing after --",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, corral_cli: Invoke, args: list[str], message: str
) -> None:
    write(tmp_path)
    result = corral_cli(*args)
    assert result.exit_code == 2
    assert message in one_line(result.stderr)


def test_an_unknown_task_suggests_the_closest(tmp_path: Path, corral_cli: Invoke) -> None:
    write(tmp_path)
    result = corral_cli("clean", "deplyo")
    assert result.exit_code == 2
    assert one_line(result.stderr) == (
        "corral: no task named 'deplyo'; did you mean 'deploy'? (corral --list shows the tasks)"
    )
    assert result.stdout == ""  # nothing ran: every task is parsed first


def test_a_missing_corralfile_is_one_line(tmp_path: Path, corral_cli: Invoke) -> None:
    result = corral_cli("deploy")
    assert result.exit_code == 1
    assert one_line(result.stderr) == (
        "corral: no corralfile.py (or corralfile/) or fabfile.py (or fabfile/) in "
        f"{tmp_path} or any directory above it; create one, or choose one with -c NAME or -r DIR"
    )


def test_a_broken_corralfile_is_one_line_pointing_at_the_line(
    tmp_path: Path, corral_cli: Invoke
) -> None:
    write(tmp_path, "from corral import task\n\nx = undefined_name\n")
    result = corral_cli("-l")
    assert result.exit_code == 1
    assert one_line(result.stderr) == (
        f"corral: error loading {tmp_path / 'corralfile.py'}, line 3: NameError: name "
        "'undefined_name' is not defined (--debug shows the traceback)"
    )
    debug = corral_cli("-d", "-l")
    assert "Traceback" in debug.stderr


def test_bad_config_is_one_line_naming_file_and_key(tmp_path: Path, corral_cli: Invoke) -> None:
    write(tmp_path)
    (tmp_path / "corral.yaml").write_text("run:\n  warn: sometimes\n")
    result = corral_cli("clean")
    assert result.exit_code == 1
    assert one_line(result.stderr) == (
        f"corral: {tmp_path / 'corral.yaml'}: run.warn: expected true or false, got 'sometimes'"
    )


def test_config_levels_reach_the_task(tmp_path: Path, corral_cli: Invoke) -> None:
    write(tmp_path)
    (tmp_path / "corral.yaml").write_text("deploy:\n  replicas: 2\n  region: eu\n")
    runtime = tmp_path / "runtime.json"
    runtime.write_text('{"deploy": {"region": "us"}}')
    result = corral_cli(
        "-f", str(runtime), "--set", "deploy.replicas=3", "-w", "-e", "--hide", "err", "-T", "9",
        "show", "deploy", "show", "run",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "show deploy <DataProxy {'replicas': 3, 'region': 'us'}>"
    assert "'warn': True" in lines[1] and "'echo': True" in lines[1] and "'hide': 'err'" in lines[1]


def test_dry_prints_the_commands_and_runs_nothing(tmp_path: Path, corral_cli: Invoke) -> None:
    write(tmp_path)
    result = corral_cli("--dry", "--local", "make", "fail", "--", "rm", "-rf", "/tmp/x")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[local] touch made-by-make",
        "[local] echo disk full >&2; exit 3",
        "[local] rm -rf /tmp/x",
    ]
    assert not (Path.cwd() / "made-by-make").exists()


def test_a_failing_command_exits_with_its_status_and_one_line(
    tmp_path: Path, corral_cli: Invoke
) -> None:
    write(tmp_path)
    result = corral_cli("fail", "--status", "7")
    assert result.exit_code == 7
    assert one_line(result.stderr.replace("disk full\n", "")) == (
        "corral: local: command 'echo disk full >&2; exit 7' exited with status 7"
    )
    hidden = corral_cli("--hide", "both", "fail")
    assert hidden.exit_code == 3
    assert hidden.stderr.splitlines()[-1] == "    disk full"  # hidden output: its tail is shown


def test_a_task_that_raises_shows_its_traceback_and_where(
    tmp_path: Path, corral_cli: Invoke
) -> None:
    write(tmp_path)
    result = corral_cli("crash")
    assert result.exit_code == 1
    assert (
        "Traceback" in result.stderr and 'raise RuntimeError("a bug in the task")' in result.stderr
    )
    assert result.stderr.splitlines()[-1] == "corral: task crash: RuntimeError: a bug in the task"


def test_the_default_task_runs_when_none_is_named(tmp_path: Path, corral_cli: Invoke) -> None:
    with_default = CORRALFILE.replace("@task\ndef clean", "@task(default=True)\ndef clean")
    write(tmp_path, with_default.replace("@task(default=True)\ndef status", "@task\ndef status"))
    assert corral_cli().stdout == "cleaning\n"
    write(tmp_path)
    bare = corral_cli()
    assert bare.exit_code == 2 and bare.stdout.startswith("Usage: corral")


def test_collection_name_chooses_another_file(tmp_path: Path, corral_cli: Invoke) -> None:
    write(tmp_path, "from corral import task\n@task\ndef hello(c):\n    print('hi')\n", "ops.py")
    assert corral_cli("-c", "ops", "hello").stdout == "hi\n"
    assert corral_cli("-c", "ops.py", "hello").stdout == "hi\n"


def test_prompted_passwords_are_asked_once_and_kept_secret(
    tmp_path: Path, corral_cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return "hunter2"

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    write(tmp_path)
    result = corral_cli("--prompt-for-sudo-password", "show", "sudo.password", "show", "sudo")
    assert result.exit_code == 0, result.stderr
    assert asked == ["sudo password: "]
    assert result.stdout.splitlines() == [
        "show sudo.password Secret('****')",
        "show sudo <DataProxy {'password': '****', 'prompt': None, 'user': None}>",
    ]


def test_version(corral_cli: Invoke) -> None:
    result = corral_cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("corral ")


def _complete(tmp_path: Path, args: list[str], incomplete: str) -> list[str]:
    completion = ShellComplete(cli, {}, "corral", COMPLETE_VAR)
    return [
        item.value for item in completion.get_completions(["-r", str(tmp_path), *args], incomplete)
    ]


def test_completion_of_task_names_task_flags_and_hosts(tmp_path: Path) -> None:
    write(tmp_path)
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        "Host web1 web2\n  HostName 10.0.0.1\nHost *.internal !bad db?\n  User x\n"
        f"Include {tmp_path}/more.conf\n"
    )
    (tmp_path / "more.conf").write_text("Host db1\n")
    assert _complete(tmp_path, [], "de") == ["deploy"]
    assert _complete(tmp_path, ["clean"], "d") == ["db.status", "deploy"]
    assert _complete(tmp_path, ["deploy"], "--b") == ["--branch"]
    assert "--no-check" in _complete(tmp_path, ["deploy"], "--")
    assert _complete(tmp_path, ["-S", str(ssh_config), "-H"], "") == ["web1", "web2", "db1"]
    assert _complete(tmp_path, ["-S", str(ssh_config), "-H"], "web1,w") == ["web1,web2"]
    assert ssh_config_hosts([str(ssh_config)]) == ["web1", "web2", "db1"]


def test_completion_scripts_for_each_shell(corral_cli: Invoke) -> None:
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")):
        result = corral_cli("--print-completion-script", shell)
        assert result.exit_code == 0 and marker in result.stdout and COMPLETE_VAR in result.stdout
