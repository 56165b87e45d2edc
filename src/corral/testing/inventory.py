"""An inventory of a test fleet's own hosts, for tests of inventories, selection and facts.

    path = write_fleet_inventory(fleet, tmp_path / "inventory.yaml")
    inventory = corral.Inventory.load(path, config=Config(overrides={"ssh_config_path":
                                                                     str(fleet.ssh_config_path)}))

Hosts keep the fleet's aliases (host1, host2, ...) with their address, port and user, so
the fleet's ssh_config still gives the key and known_hosts. Odd-numbered hosts are in group
`web` (label role=web), even ones in `db` (role=db); both are children of `fleet`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .fleet import Fleet


def fleet_inventory(fleet: Fleet, *, all_vars: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return a corral-format inventory (as data) of the fleet's hosts."""
    hosts: dict[str, Any] = {}
    web: list[str] = []
    db: list[str] = []
    for index, host in enumerate(fleet.hosts, 1):
        role = "web" if index % 2 else "db"
        (web if role == "web" else db).append(host.alias)
        hosts[host.alias] = {
            "address": host.address,
            "port": host.port,
            "user": host.user,
            "labels": {"role": role, "index": index},
            "vars": {"host_index": index},
        }
    return {
        "vars": {"fleet_directory": str(fleet.directory), **(all_vars or {})},
        "hosts": hosts,
        "groups": {
            "fleet": {"children": ["web", "db"]},
            "web": {"hosts": web, "vars": {"tier": "frontend"}},
            "db": {"hosts": db, "vars": {"tier": "backend"}},
        },
    }


def write_fleet_inventory(
    fleet: Fleet, path: str | Path | None = None, *, all_vars: Mapping[str, Any] | None = None
) -> Path:
    """Write the fleet's inventory (corral's YAML format); return its path.

    Default path: inventory.yaml in the fleet's directory.
    """
    target = Path(path) if path is not None else Path(fleet.directory) / "inventory.yaml"
    target.write_text(yaml.safe_dump(fleet_inventory(fleet, all_vars=all_vars), sort_keys=False))
    return target
