"""Reaching a host through a gateway Connection, a ProxyJump chain, or a ProxyCommand."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

import corral.aio
from corral import Config, Connection
from corral.errors import GatewayError, HandshakeError, HostUnreachable
from corral.testing.fleet import SSHDFleet


def _client_port(c: Connection) -> str:
    return c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[1]


def test_gateway_connection_tunnels_to_the_target(fleet: SSHDFleet, config: Config) -> None:
    bastion = Connection(fleet.hosts[0].alias, config=config)
    target = Connection(fleet.hosts[1].alias, config=config, gateway=bastion)
    with bastion, target:
        assert target.run("echo $SSH_CONNECTION", hide=True).stdout.split()[2] == (
            fleet.hosts[1].address
        )
        assert bastion.is_connected  # opened to carry the tunnel
        assert target.gateway is bastion


def test_proxy_jump_chain_from_ssh_config(fleet: SSHDFleet, tmp_path: Path) -> None:
    base = fleet.ssh_config_path.read_text()
    ssh_config = tmp_path / "ssh_config"
    hop1, hop2, target = (h.alias for h in fleet.hosts[:3])
    ssh_config.write_text(f"Host behind\n  HostName {fleet.hosts[2].address}\n"
                          f"  ProxyJump {hop1},{hop2}\n"
                          f"  Port {fleet.hosts[2].port}\n  User {fleet.user}\n"
                          f"  IdentityFile {fleet.key_path}\n"
                          f"  UserKnownHostsFile {fleet.known_hosts_path}\n\n{base}")  # fmt: skip
    c = Connection("behind", config=Config(overrides={"ssh_config_path": str(ssh_config)}))
    first_hop = c.gateway
    assert isinstance(first_hop, Connection)
    assert first_hop.original_host == hop2
    assert isinstance(first_hop.gateway, Connection)
    assert first_hop.gateway.original_host == hop1
    with c:
        assert c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[2] == (
            fleet.hosts[2].address
        )
    assert not first_hop.is_connected  # hops the connection opened are closed with it
    del target


def test_proxy_command_string_gateway_expands_host_and_port(
    fleet: SSHDFleet, config: Config
) -> None:
    bastion, host = fleet.hosts[0], fleet.hosts[1]
    gateway = f"ssh -F {fleet.ssh_config_path} -o BatchMode=yes -W %h:%p {bastion.alias}"
    with Connection(host.alias, config=config, gateway=gateway) as c:
        assert c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[2] == host.address


def test_proxy_command_that_cannot_start_is_a_clear_error(config: Config) -> None:
    c = Connection("host1", config=config, gateway="/nonexistent/proxy %h %p")
    with pytest.raises(HandshakeError, match="ProxyCommand"):
        c.run("true")


def _sockets_to(address: str, port: int) -> set[int]:
    """Inodes of established TCP sockets whose peer is address:port."""
    import socket as _socket

    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_hex, port_hex = fields[2].split(":")
        remote = _socket.inet_ntoa(bytes.fromhex(remote_hex)[::-1])
        if remote == address and int(port_hex, 16) == port and fields[3] == "01":
            inodes.add(int(fields[9]))
    return inodes


def _owners(inodes: set[int]) -> dict[int, str]:
    """PIDs (and their command lines) holding any of the socket inodes."""
    owners = {}
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                    owners[int(pid_dir.name)] = (pid_dir / "cmdline").read_bytes().decode()
        except OSError:
            continue
    return owners


def test_gateway_is_shared_by_20_concurrent_connections_and_owns_their_tcp(
    fleet: SSHDFleet, config: Config, make_fleet
) -> None:
    bastion_fleet = make_fleet(1)
    bastion_config = Config(overrides={"ssh_config_path": str(bastion_fleet.ssh_config_path)})
    bastion = corral.aio.Connection(bastion_fleet.hosts[0].alias, config=bastion_config)
    target_host = fleet.hosts[0]

    async def main() -> list[str]:
        targets = [
            corral.aio.Connection(target_host.alias, config=config, gateway=bastion)
            for _ in range(20)
        ]
        results = await asyncio.gather(*(t.run("echo $SSH_CONNECTION", hide=True) for t in targets))
        # While the 20 connections are open: every TCP connection to the target belongs to
        # the bastion's sshd, none to this test process.
        owners = _owners(_sockets_to(target_host.address, target_host.port))
        assert owners, "no TCP connection to the target found"
        assert os.getpid() not in owners
        assert all("sshd" in cmd for cmd in owners.values()), owners
        assert len(bastion_fleet.session_pids()) <= 3  # one connection: [priv] + user proc
        await asyncio.gather(*(t.close() for t in targets))
        await bastion.close()
        return [r.stdout.split()[2] for r in results]

    assert asyncio.run(main()) == [target_host.address] * 20


def test_proxy_jump_hops_are_shared_and_closed_with_their_last_user(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    ssh_config = tmp_path / "ssh_config"
    hop1, hop2 = fleet.hosts[0].alias, fleet.hosts[1].alias
    blocks = []
    for name in ("t1", "t2"):
        blocks.append(
            f"Host {name}\n  HostName {fleet.hosts[2].address}\n  ProxyJump {hop1},{hop2}\n"
        )
    ssh_config.write_text("".join(blocks) + fleet.ssh_config_path.read_text() + (
        f"Host t1 t2\n  Port {fleet.hosts[2].port}\n  User {fleet.user}\n"
        f"  IdentityFile {fleet.key_path}\n  UserKnownHostsFile {fleet.known_hosts_path}\n"
    ))  # fmt: skip
    config = Config(overrides={"ssh_config_path": str(ssh_config)})
    a, b = Connection("t1", config=config), Connection("t2", config=config)
    assert a.gateway is b.gateway  # the same hop objects
    a.run("true")
    b.run("true")
    hop = a.gateway
    assert isinstance(hop, Connection) and hop.is_connected
    a.close()
    assert hop.is_connected  # b still uses it
    b.close()
    assert not hop.is_connected


def test_unreachable_bastion_is_reported_as_the_bastions_failure(
    fleet: SSHDFleet, config: Config
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    bastion = Connection(f"127.0.0.1:{dead_port}", config=config)
    target = Connection(fleet.hosts[0].alias, config=config, gateway=bastion)
    with pytest.raises(GatewayError, match=r"bastion 127\.0\.0\.1 unreachable") as info:
        target.run("true")
    assert info.value.host == fleet.hosts[0].alias
    assert info.value.gateway == "127.0.0.1"


def test_bastion_that_cannot_reach_the_target_says_so(fleet: SSHDFleet, config: Config) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    bastion = Connection(fleet.hosts[0].alias, config=config)
    target = Connection(f"127.0.0.1:{dead_port}", config=config, gateway=bastion)
    with bastion, pytest.raises(HostUnreachable, match=r"bastion host1 could not open a tunnel"):
        target.run("true")
