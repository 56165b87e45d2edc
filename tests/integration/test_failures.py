"""Failures against real sshd: timeouts, dropped connections, keepalive, connect errors."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import corral.aio
from corral import CommandTimedOut, Config, Connection, ConnectionLost
from corral.errors import (
    AuthenticationError,
    ConfigError,
    ConnectTimeout,
    HostUnreachable,
    InvalidHostError,
    KeyFileError,
)
from corral.testing import faults
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config


def _remote_pids(fleet: SSHDFleet, marker: str) -> str:
    # "[x]" keeps pgrep from matching its own command line
    pattern = f"[{marker[0]}]{marker[1:]}"
    return fleet.run_as_user(f"pgrep -f '{pattern}' || true").stdout.strip()


def _poll_gone(fleet: SSHDFleet, marker: str, seconds: float = 5.0) -> str:
    deadline = time.monotonic() + seconds
    while (left := _remote_pids(fleet, marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.parametrize("pty", [False, True])
def test_timeout_raises_and_the_remote_process_is_gone(
    fleet: SSHDFleet, config: Config, pty: bool
) -> None:
    marker = f"corral-timeout-{os.getpid()}-{pty}"
    with Connection(fleet.hosts[0].alias, config=config) as c:
        started = time.monotonic()
        with pytest.raises(CommandTimedOut) as info:
            c.run(f"echo started; sleep 60; echo {marker}", timeout=1, hide=True, pty=pty)
        elapsed = time.monotonic() - started
        assert c.run("echo usable", hide=True).stdout == "usable\n"
    assert isinstance(info.value, TimeoutError)
    assert info.value.result.stdout.startswith("started")
    assert "timed out after 1 s" in str(info.value)
    assert fleet.hosts[0].alias in str(info.value)
    assert elapsed < 30
    assert _poll_gone(fleet, f"sleep 60; echo {marker}") == ""


def test_server_dropping_an_idle_connection_is_reopened_transparently(
    make_fleet,
) -> None:
    small = make_fleet(1)
    with Connection(small.hosts[0].alias, config=fleet_config(small)) as c:
        first = c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[1]
        assert small.kill_sessions() >= 1
        deadline = time.monotonic() + 5
        while c.is_connected and time.monotonic() < deadline:
            time.sleep(0.05)
        second = c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[1]
    assert first != second


def test_server_dropping_a_connection_that_the_client_has_not_noticed_yet(
    make_fleet,
) -> None:
    # sshd's UnusedConnectionTimeout closes idle connections; the next command reconnects.
    small = make_fleet(1, sshd_options={"UnusedConnectionTimeout": "1"})
    with Connection(small.hosts[0].alias, config=fleet_config(small)) as c:
        assert c.run("echo one", hide=True).stdout == "one\n"
        time.sleep(2.5)
        assert c.run("echo two", hide=True).stdout == "two\n"


def test_connection_killed_mid_command_raises_connection_lost_and_never_reruns(
    make_fleet,
) -> None:
    small = make_fleet(1)
    marker = f"/tmp/corral-ran-{os.getpid()}"
    small.run_as_user(f"rm -f {marker}")
    with Connection(small.hosts[0].alias, config=fleet_config(small)) as c:
        c.open()
        killer = threading.Timer(1.0, small.kill_sessions)
        killer.start()
        with pytest.raises(ConnectionLost) as info:
            c.run(f"echo partial; echo x >> {marker}; sleep 30", hide=True)
        killer.join()
        assert c.run("echo again", hide=True).stdout == "again\n"
    assert info.value.stdout == "partial\n"
    assert small.hosts[0].alias in str(info.value)
    assert "not re-run" in str(info.value)
    assert small.run_as_user(f"wc -l < {marker}").stdout.strip() == "1"


def test_keepalive_detects_a_frozen_peer(make_fleet) -> None:
    small = make_fleet(1)
    config = fleet_config(small, keepalive={"interval": 1, "count_max": 2})
    with Connection(small.hosts[0].alias, config=config) as c:
        c.open()
        stopper = threading.Timer(0.5, small.kill_sessions, kwargs={"sig": signal.SIGSTOP})
        stopper.start()
        started = time.monotonic()
        try:
            with pytest.raises(ConnectionLost, match=r"stopped responding"):
                c.run("sleep 30", hide=True)
        finally:
            stopper.join()
            small.kill_sessions(sig=signal.SIGCONT)
    assert time.monotonic() - started < 20


def test_refused_port_is_a_typed_error_naming_the_host(fleet: SSHDFleet, config: Config) -> None:
    with socket.socket() as s:  # a port with no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = Connection(f"127.0.0.1:{port}", config=config)
    with pytest.raises(HostUnreachable, match="refused") as info:
        c.run("true")
    assert info.value.host == "127.0.0.1"
    assert info.value.retryable


def test_unresolvable_name_is_a_typed_error_naming_the_host(config: Config) -> None:
    with pytest.raises(HostUnreachable, match=r"no-such-host\.invalid"):
        Connection("no-such-host.invalid", config=config).run("true")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never sends an SSH banner (the fault kit's)."""
    with faults.SilentServer() as silent:
        yield silent.port


def test_server_that_never_answers_times_out_within_the_connect_timeout(
    config: Config, silent_server: int
) -> None:
    c = Connection(f"127.0.0.1:{silent_server}", config=config, connect_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(ConnectTimeout, match=r"within 1\.5 s"):
        c.run("true")
    assert time.monotonic() - started < 10


def test_wrong_password_is_an_authentication_error_without_the_password(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    host = fleet.hosts[0]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host *\n  UserKnownHostsFile {fleet.known_hosts_path}\n")
    config = Config(overrides={"ssh_config_path": str(ssh_config)})
    secret = "Not-The-Password-917"
    c = Connection(
        host.host_string,
        config=config,
        connect_kwargs={"password": secret, "look_for_keys": False, "allow_agent": False},
    )
    with pytest.raises(AuthenticationError) as info:
        c.run("true")
    assert host.address in str(info.value) and fleet.user in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert secret not in repr(c.connect_kwargs)
    good = Connection(
        host.host_string,
        config=config,
        connect_kwargs={"password": fleet.password, "look_for_keys": False},
    )
    with good:
        assert good.run("whoami", hide=True).stdout.strip() == fleet.user


def test_missing_key_file_is_a_typed_error(fleet: SSHDFleet, config: Config) -> None:
    c = Connection(
        fleet.hosts[0].alias, config=config, connect_kwargs={"key_filename": "/nonexistent/id"}
    )
    with pytest.raises(KeyFileError, match="/nonexistent/id"):
        c.run("true")


def test_unknown_connect_kwargs_is_a_clear_error(config: Config) -> None:
    with pytest.raises(ConfigError, match="sock_timeout"):
        Connection("web", config=config, connect_kwargs={"sock_timeout": 3})


def test_bad_host_strings_are_rejected_before_connecting(config: Config) -> None:
    for bad in ("web;reboot", "web:99999", "-oProxyCommand=x"):
        with pytest.raises(InvalidHostError):
            Connection(bad, config=config)


def test_bad_ssh_config_value_names_the_file_and_line(tmp_path: Path) -> None:
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text("Host *\n  Port twenty-two\n")
    with pytest.raises(ConfigError, match="line 2"):
        Connection("web", config=Config(overrides={"ssh_config_path": str(ssh_config)}))
    ssh_config.write_text("Host *\n  StrictHostKeyChecking maybe\n")
    with pytest.raises(ConfigError, match="StrictHostKeyChecking"):
        Connection("web", config=Config(overrides={"ssh_config_path": str(ssh_config)}))


async def test_cancelling_an_aio_run_stops_the_remote_command(
    fleet: SSHDFleet, config: Config
) -> None:
    marker = f"corral-cancel-{os.getpid()}"
    async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
        task = asyncio.ensure_future(c.run(f"sleep 50; echo {marker}", hide=True))
        running = ""
        deadline = time.monotonic() + 10
        while not running and time.monotonic() < deadline:  # until the remote command runs
            await asyncio.sleep(0.05)
            running = await asyncio.to_thread(_remote_pids, fleet, f"sleep 50; echo {marker}")
        assert running, "the remote command did not start"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await asyncio.to_thread(_poll_gone, fleet, f"sleep 50; echo {marker}") == ""


def test_local_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    c = Connection("localhost")
    marker = tmp_path / "survived"
    with pytest.raises(CommandTimedOut):
        c.local(f"(sleep 3; touch {marker}) & sleep 30", timeout=0.5, hide=True)
    time.sleep(3.5)
    assert not marker.exists()
