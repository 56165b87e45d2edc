"""The persistent session against real sshd: one helper shell per connection runs successive
commands with the same output, exit status and isolation as a channel per command; timeouts
and Ctrl-C stop the command and keep the session; odd login shells fall back to channels."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import corral.aio
from corral import CommandTimedOut, Config, Connection, ConnectionLost, Secret
from corral.errors import AuthFailure
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config

#: Commands whose output, status and streams must be the same in the session and on a channel.
CASES = [
    "echo hello",
    "printf 'no newline at the end'",
    "printf 'a\\036b\\036'; printf '\\036' >&2",  # the separator byte the helper uses, alone
    "printf '\\000\\001\\377binary'",
    "echo out; echo err >&2; echo out2; exit 3",
    "exit 255",
    "no-such-command-corral",
    "head -c 1000000 /dev/zero | tr '\\0' x",
    "for i in 1 2 3; do echo $i; echo e$i >&2; done",
    "echo $0; true",
    "cat",  # stdin is end-of-file, as with in_stream=False on a channel
    'read line; echo "read: $? [$line]"',
]


def _connect(fleet: SSHDFleet, config: Config, persistent: bool) -> Connection:
    return Connection(fleet.hosts[0].alias, config=config, persistent_session=persistent)


def _helper_pid(c: Connection) -> str:
    return c.run("echo $$", hide=True).stdout.strip()  # in the session: the helper's pid


def test_output_status_and_streams_match_a_channel_per_command(
    fleet: SSHDFleet, config: Config
) -> None:
    with _connect(fleet, config, True) as session, _connect(fleet, config, False) as channel:
        for command in CASES:
            ours = session.run(command, hide=True, warn=True, in_stream=False)
            theirs = channel.run(command, hide=True, warn=True, in_stream=False)
            assert (ours.stdout_bytes, ours.stderr_bytes, ours.exited) == (
                theirs.stdout_bytes,
                theirs.stderr_bytes,
                theirs.exited,
            ), command
        same = {_helper_pid(session) for _ in range(3)}
        assert len(same) == 1  # every command ran in the one helper
        assert len({_helper_pid(channel) for _ in range(3)}) == 3  # a shell per command


def test_each_command_starts_afresh_as_on_its_own_channel(fleet: SSHDFleet, config: Config) -> None:
    probe = (
        'echo "cwd=$PWD x=$X y=$Y umask=$(umask) f=$(type corral_f >/dev/null 2>&1 && echo yes)'
        ' e=$-"'
    )
    with _connect(fleet, config, True) as session, _connect(fleet, config, False) as channel:
        clean = channel.run(probe, hide=True).stdout
        session.run(
            "cd /tmp && export X=1; Y=2; umask 077; corral_f() { :; }; set -e; "
            "trap 'echo trapped' EXIT; alias ll=ls",
            hide=True,
        )
        with session.cd("/usr"):
            assert session.run("pwd", hide=True).stdout == "/usr\n"
        assert session.run(probe, hide=True).stdout == clean
        assert session.run("alias ll 2>&1 || echo none", hide=True).stdout.endswith("none\n")
        assert session.run("echo $corral_n$corral_c$corral_m", hide=True).stdout == "\n"
        with session.prefix("export Z=prefixed"):
            assert session.run("echo $Z", hide=True).stdout == "prefixed\n"
        assert session.run("echo z=$Z", hide=True).stdout == "z=\n"


def _remote_pids(fleet: SSHDFleet, marker: str) -> str:
    pattern = f"[{marker[0]}]{marker[1:]}"  # "[x]": pgrep never matches its own line
    return fleet.run_as_user(f"pgrep -f '{pattern}' || true").stdout.strip()


def _poll_gone(fleet: SSHDFleet, marker: str, seconds: float = 10.0) -> str:
    deadline = time.monotonic() + seconds
    while (left := _remote_pids(fleet, marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _poll_running(fleet: SSHDFleet, marker: str, seconds: float = 10.0) -> str:
    deadline = time.monotonic() + seconds
    while not (found := _remote_pids(fleet, marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def test_a_timeout_stops_the_command_and_the_session_goes_on(
    fleet: SSHDFleet, config: Config
) -> None:
    marker = f"61.{os.getpid()}"
    with _connect(fleet, config, True) as c:
        before = _helper_pid(c)
        with pytest.raises(CommandTimedOut) as info:
            c.run(f"echo started; sleep {marker}; echo never", timeout=1, hide=True)
        assert info.value.result.stdout == "started\n"
        assert _poll_gone(fleet, f"sleep {marker}") == ""
        assert _helper_pid(c) == before  # the same session runs the next command
        assert c.run("echo after", hide=True).stdout == "after\n"


def test_a_command_that_ignores_term_is_killed_and_a_new_session_takes_over(
    fleet: SSHDFleet, config: Config
) -> None:
    marker = f"62.{os.getpid()}"
    with _connect(fleet, config, True) as c:
        before = _helper_pid(c)
        with pytest.raises(CommandTimedOut) as info:  # TERM ignored: KILL from a second channel
            c.run(f"trap '' TERM; echo started; sleep {marker}; echo never", timeout=1, hide=True)
        assert info.value.result.stdout == "started\n"
        assert _poll_gone(fleet, f"sleep {marker}") == ""
        # the stopped session is retired (its stop script could outlive the command), and
        # what runs next is framed right: no stray end of output from the old helper
        after = _helper_pid(c)
        assert after.isdigit() and after != before
        for i in range(5):
            result = c.run(f"echo {i}; echo e{i} >&2; exit {i}", hide=True, warn=True)
            assert (result.stdout, result.stderr, result.exited) == (f"{i}\n", f"e{i}\n", i)
        assert _helper_pid(c) == after


async def test_ctrl_c_stops_the_command_and_the_session_goes_on(
    fleet: SSHDFleet, config: Config
) -> None:
    marker = f"63.{os.getpid()}"
    async with corral.aio.Connection(
        fleet.hosts[0].alias, config=config, persistent_session=True
    ) as c:
        before = (await c.run("echo $$", hide=True)).stdout
        task = asyncio.ensure_future(c.run(f"echo started; sleep {marker}", hide=True))
        assert await asyncio.to_thread(_poll_running, fleet, f"sleep {marker}")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert c.interrupted_result is not None
        assert c.interrupted_result.stdout == "started\n"
        assert _poll_gone(fleet, f"sleep {marker}") == ""
        assert (await c.run("echo $$", hide=True)).stdout == before


def test_commands_that_need_stdin_or_a_pty_take_a_channel_of_their_own(
    fleet: SSHDFleet, config: Config
) -> None:
    with _connect(fleet, config, True) as c:
        helper = _helper_pid(c)
        assert c.run("cat", in_stream=io.StringIO("fed\n"), hide=True).stdout == "fed\n"
        assert c.run("tty >/dev/null && echo tty", pty=True, hide=True).stdout == "tty\r\n"
        assert c.run("echo $$", pty=True, hide=True).stdout.strip() != helper
        assert _helper_pid(c) == helper


def test_concurrent_commands_on_one_connection_all_complete(
    fleet: SSHDFleet, config: Config
) -> None:
    async def main() -> list[str]:
        async with corral.aio.Connection(
            fleet.hosts[0].alias, config=config, persistent_session=True
        ) as c:
            results = await asyncio.gather(
                *(c.run(f"sleep 0.2; echo {i}", hide=True) for i in range(6))
            )
            return [r.stdout for r in results]

    assert asyncio.run(main()) == [f"{i}\n" for i in range(6)]


def test_secret_env_is_masked_and_never_on_a_command_line(fleet: SSHDFleet, config: Config) -> None:
    secret = f"s3cr3t-{os.getpid()}"
    marker = f"3.{os.getpid()}"
    with _connect(fleet, config, True) as c:
        _helper_pid(c)  # connected, session started
        seen: list[str] = []

        def look() -> None:  # the process list while the command runs
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                listing = fleet.run_as_user("ps -eww -o args").stdout
                if f"sleep {marker}" in listing:
                    seen.append(listing)
                    return

        watcher = threading.Thread(target=look)
        watcher.start()
        result = c.run(f"sleep {marker}; echo $TOKEN", env={"TOKEN": Secret(secret)}, hide=True)
        watcher.join()
    assert result.stdout == "****\n"
    assert seen, "the command was never seen running"
    assert secret not in seen[0]  # on a channel, `bash -c 'export TOKEN=...'` shows it


def test_sudo_in_a_session(fleet: SSHDFleet, config: Config) -> None:
    with _connect(fleet, config, True) as c:
        helper = _helper_pid(c)
        # with a password: sudo needs stdin, so it takes a channel
        assert c.sudo("id -u", password=fleet.password, hide=True).stdout == "0\n"
        # without one: refused as on a channel, in the session, which goes on
        with pytest.raises(AuthFailure, match="password"):
            c.sudo("id -u", hide=True)
        assert _helper_pid(c) == helper


def test_a_session_that_dies_mid_command_is_reported_and_replaced(make_fleet) -> None:
    small = make_fleet(1)
    with Connection(small.hosts[0].alias, config=fleet_config(small), persistent_session=True) as c:
        first = _helper_pid(c)
        c.run(f"kill -KILL {first}", hide=True, warn=True)  # the helper itself, from inside
        assert _helper_pid(c) != first  # a new session
        killer = threading.Timer(1.0, small.kill_sessions)
        killer.start()
        with pytest.raises(ConnectionLost):
            c.run("echo partial; sleep 30", hide=True)
        killer.join()
        assert c.run("echo again", hide=True).stdout == "again\n"


#: A login shell of the restricted kind some hosts have: it runs `-c COMMAND` with sh, but
#: refuses loops (so the session's helper cannot run there, and commands still can).
ODD_SHELL = """#!/bin/sh
case "$2" in *while*) echo "oddshell: loops are not allowed here" >&2; exit 126;; esac
exec /bin/sh -c "$2"
"""


@pytest.fixture
def login_shell() -> Iterator[Callable[[str, str], None]]:
    """Set a fleet user's login shell for one test ("odd": ODD_SHELL), bash again after."""
    changed: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="corral-oddshell-"))  # the user must reach it
    directory.chmod(0o755)

    def use(user: str, shell: str) -> None:
        if shell == "odd":
            path = directory / "oddshell"
            path.write_text(ODD_SHELL)
            path.chmod(0o755)
            shell = str(path)
        subprocess.run(["usermod", "-s", shell, user], check=True, capture_output=True)
        changed.append(user)

    yield use
    for user in changed:
        subprocess.run(["usermod", "-s", "/bin/bash", user], check=False, capture_output=True)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.needs("root", "dash")
@pytest.mark.parametrize(("shell", "in_session"), [("/bin/dash", True), ("odd", False)])
def test_odd_login_shells_run_in_a_session_or_fall_back_to_channels(
    make_fleet,
    login_shell: Callable[[str, str], None],
    caplog: pytest.LogCaptureFixture,
    shell: str,
    in_session: bool,
) -> None:
    name = f"corral-sh-{os.path.basename(shell)}"
    small = make_fleet(1, user=name)
    login_shell(name, shell)
    caplog.set_level(logging.INFO, logger="corral.remote")
    with Connection(small.hosts[0].alias, config=fleet_config(small), persistent_session=True) as c:
        result = c.run("echo hi; echo err >&2; exit 4", hide=True, warn=True)
        assert (result.stdout, result.stderr, result.exited) == ("hi\n", "err\n", 4)
        pids = {_helper_pid(c) for _ in range(3)}
    assert (len(pids) == 1) is in_session
    refused = [r.getMessage() for r in caplog.records if "no persistent session" in r.getMessage()]
    if in_session:
        assert refused == []
    else:  # noticed when the helper ended, not by waiting for it
        assert len(refused) == 1 and "(it ended)" in refused[0]
