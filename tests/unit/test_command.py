import contextlib
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from corral.errors import ConfigError
from corral.runner.command import command_text, env_prefix, join_cwd, quote_path, wrap


@pytest.mark.parametrize(
    ("command", "cwd", "prefixes", "expected"),
    [
        ("ls", None, (), "ls"),
        ("ls", "/srv/app", (), "cd /srv/app && ls"),
        ("ls", "/srv/my app", (), "cd '/srv/my app' && ls"),
        ("ls", "~/app", (), "cd ~/app && ls"),
        ("ls", "~/my app", (), "cd ~/'my app' && ls"),
        ("ls", "~", (), "cd ~ && ls"),
        ("ls", "/x", ("source venv/bin/activate",), "cd /x && source venv/bin/activate && ls"),
        ("ls", None, ("a", "b"), "a && b && ls"),
        ("ls", "/a;rm -rf /", (), "cd '/a;rm -rf /' && ls"),
    ],
)
def test_wrap_applies_cd_then_prefixes(
    command: str, cwd: str | None, prefixes: tuple[str, ...], expected: str
) -> None:
    assert wrap(command, cwd=cwd, prefixes=prefixes) == expected


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ([], None),
        (["/srv"], "/srv"),
        (["/srv", "app"], "/srv/app"),
        (["/srv/", "app", "current"], "/srv/app/current"),
        (["/srv", "/etc"], "/etc"),
        (["/srv", "~/x"], "~/x"),
        (["rel"], "rel"),
    ],
)
def test_nested_cd_joins_relative_and_resets_on_absolute(
    stack: list[str], expected: str | None
) -> None:
    assert join_cwd(stack) == expected


HOSTILE = [
    "a b",
    "a;touch /tmp/x",
    "$(id)",
    "`id`",
    "'quoted'",
    'dq"',
    "new\nline",
    "-n",
    "汉语",
    "*",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_inline_env_round_trips_hostile_values_through_a_real_shell(value: str) -> None:
    script = env_prefix({"X": value}) + 'printf %s "$X"'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == value


@pytest.mark.parametrize("value", HOSTILE)
def test_argv_commands_quote_every_word(value: str) -> None:
    text = command_text(["printf", "%s", value])
    out = subprocess.run(["sh", "-c", text], capture_output=True, text=True, check=True)
    assert out.stdout == value
    assert shlex.split(text) == ["printf", "%s", value]


@pytest.mark.parametrize("name", ["1X", "A-B", "A B", "", "X;Y"])
def test_env_names_that_cannot_be_exported_are_rejected(name: str) -> None:
    with pytest.raises(ConfigError, match="env name"):
        env_prefix({name: "v"})


def test_empty_commands_are_rejected() -> None:
    with pytest.raises(ConfigError):
        command_text("  ")
    with pytest.raises(ConfigError):
        command_text([])


def test_quote_path_keeps_tilde_expandable() -> None:
    assert quote_path("~") == "~"
    assert quote_path("~/a b") == "~/'a b'"
    assert quote_path("/a b") == "'/a b'"


def _marked_sleeps(variable: str) -> list[int]:
    """PIDs of `sleep` processes whose environment holds `variable` (NAME=value)."""
    found = []
    for name in os.listdir("/proc"):
        try:
            comm = Path(f"/proc/{name}/comm").read_text().strip()
            environ = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if comm == "sleep" and variable.encode() in environ:
            found.append(int(name))
    return found


def test_kill_script_stops_marked_processes_and_spares_others() -> None:
    from corral.runner.command import RUN_ID_VAR, kill_script

    marked = subprocess.Popen(
        ["sh", "-c", f"export {RUN_ID_VAR}=abc123 && sleep 30 & wait"], start_new_session=True
    )
    other = subprocess.Popen(
        ["sh", "-c", f"export {RUN_ID_VAR}=zzz999 && sleep 30 & wait"], start_new_session=True
    )
    try:
        # both children run with the variable exported: what the kill script looks for
        deadline = time.monotonic() + 10
        while not (
            _marked_sleeps(f"{RUN_ID_VAR}=abc123") and _marked_sleeps(f"{RUN_ID_VAR}=zzz999")
        ):
            assert time.monotonic() < deadline, "the marked sleeps did not start"
            time.sleep(0.01)
        done = subprocess.run(["sh", "-c", kill_script("abc123", "TERM")], timeout=30)
        assert done.returncode == 0  # the script did not kill itself
        assert marked.wait(timeout=10) != 0
        assert other.poll() is None
    finally:
        for proc in (marked, other):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()


@pytest.mark.parametrize(("run_id", "sig"), [("a;b", "TERM"), ("abc", "TERM; rm")])
def test_kill_script_rejects_unsafe_input(run_id: str, sig: str) -> None:
    from corral.runner.command import kill_script

    with pytest.raises(ValueError):
        kill_script(run_id, sig)


@pytest.mark.parametrize(
    ("command", "wrapped"),
    [
        ("make", "cd /srv && make"),
        ("a && b | c > d", "cd /srv && a && b | c > d"),
        ("rm -rf build; make", "cd /srv && { rm -rf build; make\n}"),
        ("test -f x || rm -rf y", "cd /srv && { test -f x || rm -rf y\n}"),
        ("sleep 9 & wait", "cd /srv && { sleep 9 & wait\n}"),
        ("echo one\necho two", "cd /srv && { echo one\necho two\n}"),
        ("echo hi # a comment", "cd /srv && echo hi # a comment"),
        ("echo hi; # a comment", "cd /srv && { echo hi; # a comment\n}"),
    ],
)
def test_a_list_under_cd_is_grouped_so_no_part_runs_when_cd_fails(
    command: str, wrapped: str
) -> None:
    assert wrap(command, cwd="/srv") == wrapped
    assert wrap(command) == command  # nothing to guard without cd() or prefix()
