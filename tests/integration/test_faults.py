"""The fault kit (corral.testing.faults) against real sshd: each fault does what it says, as
corral sees it, and is undone afterwards, also when the test fails."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest

import corral.aio
from corral import Config, Connection
from corral.errors import (
    ConnectionLost,
    ConnectTimeout,
    HandshakeError,
    HostUnreachable,
    TransferError,
)
from corral.testing import faults
from corral.testing.fleet import FleetError, FleetUnavailable, SSHDFleet, procfs

from .conftest import fleet_config

MakeFleet = Callable[..., SSHDFleet]


def _state(pid: int) -> str:
    st = procfs.read_stat(pid)
    return st.state if st else "gone"


def _remote(fleet: SSHDFleet, pattern: str) -> list[int]:
    """PIDs of the login user's processes whose command line matches `pattern` (pgrep -f)."""
    out = fleet.run_as_user(f"pgrep -f '[{pattern[0]}]{pattern[1:]}' || true").stdout
    return [int(pid) for pid in out.split()]


async def _until_running(fleet: SSHDFleet, pattern: str) -> None:
    deadline = time.monotonic() + 15
    while not await asyncio.to_thread(_remote, fleet, pattern):
        assert time.monotonic() < deadline, f"{pattern!r} did not start"
        await asyncio.sleep(0.05)


def _marker() -> str:
    return f"corral-fault-{os.getpid()}-{secrets.token_hex(3)}"


# ---------------------------------------------------------------------- sessions


async def test_killed_sessions_end_a_running_command_with_connection_lost(
    make_fleet: MakeFleet,
) -> None:
    small = make_fleet(2)
    victim, bystander = small.hosts
    marker = _marker()
    config = fleet_config(small)
    async with (
        corral.aio.Connection(victim.alias, config=config) as c,
        corral.aio.Connection(bystander.alias, config=config) as other,
    ):
        await other.open()
        task = asyncio.ensure_future(c.run(f"echo started; sleep 30; : {marker}", hide=True))
        await _until_running(small, marker)
        assert await asyncio.to_thread(faults.kill_sessions, victim) >= 2
        with pytest.raises(ConnectionLost) as info:
            await task
        assert info.value.stdout == "started\n"
        assert (await other.run("echo still here", hide=True)).stdout == "still here\n"
        assert (await c.run("echo reconnected", hide=True)).stdout == "reconnected\n"
    assert victim.alias in str(info.value)
    for pid in _remote(small, marker):  # the command outlives its session, as after a crash
        os.kill(pid, 9)


async def test_frozen_sessions_hang_until_keepalive_gives_up_and_are_thawed_after(
    make_fleet: MakeFleet,
) -> None:
    small = make_fleet(1)
    host = small.hosts[0]
    marker = _marker()
    config = fleet_config(small, keepalive={"interval": 1, "count_max": 2})
    async with corral.aio.Connection(host.alias, config=config) as c:
        task = asyncio.ensure_future(c.run(f"sleep 30; : {marker}", hide=True))
        await _until_running(small, marker)
        stopped = faults.session_processes(host)
        with faults.frozen(host) as count:
            assert count == len(stopped) >= 2
            assert {_state(pid) for pid in stopped} == {"T"}  # stopped, TCP still up
            with pytest.raises(ConnectionLost, match="stopped responding"):
                await task
        assert "T" not in {_state(pid) for pid in stopped}  # thawed (running, or exiting)
    for pid in _remote(small, marker):
        os.kill(pid, 9)


def test_freeze_and_thaw_sessions_report_what_they_signalled(fleet: SSHDFleet) -> None:
    host = fleet.hosts[2]
    proc = subprocess.Popen(
        ["ssh", "-F", str(fleet.ssh_config_path), "-o", "BatchMode=yes", host.alias,
         "echo started; sleep 30"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        pids = sorted(faults.session_processes(host))
        assert faults.freeze_sessions(host) == len(pids) >= 2
        assert {_state(pid) for pid in pids} == {"T"}
        assert faults.thaw_sessions(host) == len(pids)
        assert "T" not in {_state(pid) for pid in pids}
    finally:
        proc.kill()
        proc.communicate()
    with pytest.raises(ValueError, match="name the hosts"):
        faults.kill_sessions()


def test_a_frozen_host_hangs_new_connections_and_thaws(make_fleet: MakeFleet) -> None:
    small = make_fleet(2, hosts_per_sshd=1)
    frozen, other = small.hosts
    config = fleet_config(small)
    with faults.frozen_host(small, frozen) as stopped:
        assert stopped == 1  # its sshd; no session was open
        with pytest.raises(ConnectTimeout, match=r"within 1\.5 s"):
            Connection(frozen.alias, config=config, connect_timeout=1.5).run("true")
        with Connection(other.alias, config=config) as c:  # its own sshd: unaffected
            assert c.run("echo up", hide=True).stdout == "up\n"
    with Connection(frozen.alias, config=config) as c:
        assert c.run("echo thawed", hide=True).stdout == "thawed\n"


def test_freezing_a_host_that_shares_its_sshd_is_refused(fleet: SSHDFleet) -> None:
    with pytest.raises(FleetError, match="hosts_per_sshd=1"):
        fleet.freeze_host(fleet.hosts[0])


# ---------------------------------------------------------------------- network


def test_blackhole_drops_connects_until_the_connect_timeout(config: Config) -> None:
    with faults.Blackhole() as hole:
        with pytest.raises(TimeoutError):  # not even TCP: the SYN is dropped
            socket.create_connection((hole.address, hole.port), timeout=0.5).close()
        c = Connection(hole.host_string, config=config, connect_timeout=1)
        with pytest.raises(ConnectTimeout, match=r"no answer from .* within 1 s") as info:
            c.run("true")
        assert info.value.host == hole.address and info.value.retryable
    with pytest.raises(ConnectionRefusedError):  # stopped: the port is free again
        socket.create_connection((hole.address, hole.port), timeout=5).close()


def test_silent_server_accepts_tcp_and_never_sends_a_banner(config: Config) -> None:
    with faults.SilentServer() as silent:
        with socket.create_connection((silent.address, silent.port), timeout=5) as raw:
            raw.settimeout(0.5)
            with pytest.raises(TimeoutError):
                raw.recv(1)
        c = Connection(silent.host_string, config=config, connect_timeout=1)
        with pytest.raises(ConnectTimeout, match=r"within 1 s"):
            c.run("true")
        assert silent.connections == 2  # the raw probe and corral: both were accepted
    assert silent.connections == 2


def test_refused_port_refuses_and_corral_says_so(config: Config) -> None:
    with faults.RefusedPort() as refused:
        with pytest.raises(HostUnreachable, match="connection refused") as info:
            Connection(refused.host_string, config=config).run("true")
        assert info.value.retryable


# ---------------------------------------------------------------------- servers


async def test_put_to_a_tiny_disk_fails_naming_the_full_disk(
    make_fleet: MakeFleet, tmp_path: Path
) -> None:
    small = make_fleet(1)
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(3 * 1024 * 1024))
    with small.tiny_disk("1m") as disk:
        config = Config(overrides={"ssh_config_path": str(disk.ssh_config_path)})
        async with corral.aio.Connection(disk.alias, config=config) as c:
            df = await c.run(f"df -k --output=size,target {disk.mount} | tail -1", hide=True)
            assert df.stdout.split() == ["1024", str(disk.mount)]  # only the sessions see it
            await c.run(f"echo keep > {disk.mount}/target", hide=True)
            with pytest.raises(TransferError, match=r"disk full") as info:
                await c.put(str(local), f"{disk.mount}/target")
            assert str(disk.mount) in str(info.value) and disk.alias in str(info.value)
            assert (await c.run(f"ls -A {disk.mount}", hide=True)).stdout == "target\n"
            assert (await c.run(f"cat {disk.mount}/target", hide=True)).stdout == "keep\n"
        # the machine's own view: an empty directory, no mount
        assert not await asyncio.to_thread(os.path.ismount, disk.mount)
        assert disk.pid is not None
        namespace = procfs.mount_namespace(disk.pid)
        assert namespace is not None and namespace != procfs.mount_namespace(os.getpid())
    assert disk.pid is None
    assert procfs.in_mount_namespace(procfs.proc_table(), namespace) == {}
    assert not disk.directory.exists()


def test_the_fleet_stops_its_tiny_disks(make_fleet: MakeFleet) -> None:
    small = make_fleet(1)
    disk = faults.tiny_disk(small, "64k")
    pid = disk.pid
    assert pid is not None
    assert _state(pid) in ("S", "R")
    small.stop()
    assert _state(pid) == "gone"
    assert not disk.directory.exists()


async def test_strict_sshd_limits_sessions_and_startups(make_fleet: MakeFleet) -> None:
    small = make_fleet(1, sshd_options={"MaxSessions": "2", "MaxStartups": "1:100:1"})
    host = small.hosts[0]
    # MaxSessions 2: a third channel on one connection is refused by sshd ...
    async with asyncssh.connect(
        host.address, host.port, username=host.user, client_keys=[str(small.key_path)],
        known_hosts=str(small.known_hosts_path), agent_path=None,
    ) as raw:  # fmt: skip
        held = [await raw.create_process("sleep 30") for _ in range(2)]
        with pytest.raises(asyncssh.ChannelOpenError):
            await raw.create_process("true")
        for process in held:
            process.kill()
    # ... and corral queues its commands instead of failing them
    async with corral.aio.Connection(host.alias, config=fleet_config(small)) as c:
        results = await asyncio.gather(*(c.run(f"echo {i}", hide=True) for i in range(6)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]
    # MaxStartups 1:100:1: with one connection not yet authenticated, the next is dropped
    with socket.create_connection((host.address, host.port), timeout=5) as pending:
        assert pending.recv(64).startswith(b"SSH-2.0-")
        with pytest.raises(HandshakeError, match="MaxStartups") as info:
            Connection(host.alias, config=fleet_config(small), connect_timeout=5).run("true")
        assert info.value.retryable


def test_strict_fleet_writes_the_limits(tmp_path: Path) -> None:
    with faults.strict_fleet(1, max_startups="3:50:9", max_sessions=4) as strict:
        conf = (strict.directory / "sshd_0.conf").read_text()
        assert "\nMaxStartups 3:50:9\n" in conf and "\nMaxSessions 4\n" in conf
        with Connection(strict.hosts[0].alias, config=fleet_config(strict)) as c:
            assert c.run("echo ok", hide=True).stdout == "ok\n"


async def test_a_bastion_that_dies_mid_run_fails_every_host_behind_it(
    make_fleet: MakeFleet,
) -> None:
    small = make_fleet(3)
    marker = _marker()
    with faults.dying_bastion(small) as bastion:
        assert [t.alias for t in bastion.targets] == ["host2", "host3"]
        config = Config(overrides={"ssh_config_path": str(bastion.ssh_config_path)})
        async with corral.aio.Group(*(t.alias for t in bastion.targets), config=config) as group:
            await group.run("true", hide=True)
            assert len(faults.session_processes(bastion.host)) >= 2  # it carries the tunnels
            task = asyncio.ensure_future(group.run(f"sleep 30; : {marker}", hide=True))
            deadline = time.monotonic() + 15
            while len(await asyncio.to_thread(_remote, small, marker)) < 2:
                assert time.monotonic() < deadline, "the commands did not start"
                await asyncio.sleep(0.05)
            assert await asyncio.to_thread(bastion.kill) >= 2
            with pytest.raises(corral.GroupException) as info:
                await task
            failed = info.value.result.failed
            assert len(failed) == 2
            assert all(isinstance(e, ConnectionLost) for e in failed.values()), failed
            again = await group.run("echo back", hide=True)  # through a new bastion connection
            assert [r.stdout for r in again.values()] == ["back\n", "back\n"]
    assert not bastion.directory.exists()
    for pid in _remote(small, marker):
        os.kill(pid, 9)


# ---------------------------------------------------------------------- the kit


def test_faults_are_undone_when_the_block_fails(make_fleet: MakeFleet) -> None:
    small = make_fleet(1)
    host = small.hosts[0]
    proc = subprocess.Popen(
        ["ssh", "-F", str(small.ssh_config_path), "-o", "BatchMode=yes", host.alias,
         "echo started; sleep 30"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        pids = list(faults.session_processes(host))
        with pytest.raises(RuntimeError, match="the test failed"), faults.Faults() as kit:
            assert kit.freeze(host) == len(pids)
            hole, disk = kit.blackhole(), kit.tiny_disk(small, "64k")
            raise RuntimeError("the test failed")
        assert "T" not in {_state(pid) for pid in pids}
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((hole.address, hole.port), timeout=5).close()
        assert not disk.directory.exists()
    finally:
        proc.kill()
        proc.communicate()


def test_tiny_disk_needs_real_sshd() -> None:
    from corral.testing.fleet.embedded import EmbeddedFleet

    with pytest.raises(FleetUnavailable, match="real sshd"):
        faults.tiny_disk(EmbeddedFleet(1), "1m")  # refused before anything starts
