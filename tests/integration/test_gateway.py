"""Reaching a host through a gateway Connection, a ProxyJump chain, or a ProxyCommand."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral import Config, Connection
from corral.errors import HandshakeError
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
