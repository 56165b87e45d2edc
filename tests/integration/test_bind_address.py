"""Config `bind_address`: connections leave from that source address (what the hosts see)."""

from __future__ import annotations

import pytest

from corral import Connection
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config


@pytest.mark.parametrize("source", ["127.0.0.1", "127.231.7.9"])
def test_a_direct_connection_leaves_from_the_bind_address(fleet: SSHDFleet, source: str) -> None:
    config = fleet_config(fleet, bind_address=source)
    with Connection(fleet.hosts[0].alias, config=config) as c:
        seen = c.run("echo ${SSH_CONNECTION%% *}", hide=True).stdout.strip()
    assert seen == source  # the sshd's view of the client's address
