"""What `corral inventory` and `corral facts` print, as exact text at a fixed width (rich
renders into a StringIO), and the JSON they print as data."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from corral.errors import SelectionError
from corral.inventory import Inventory
from corral.inventory.render import (
    facts_json,
    host_vars_json,
    inventory_json,
    render_facts,
    render_graph,
    render_host,
    render_host_names,
    render_hosts,
    render_json,
)
from corral.remote.facts import parse_facts

FACTS = Path(__file__).parents[1] / "facts" / "data"

INVENTORY = """\
vars: {app_user: deploy}
hosts:
  web[01:02]:
    address: 10.0.1.[1:2]
    labels: {role: web}
  db1:
    address: 10.0.2.5
    port: 2222
    user: admin
    labels: {role: db}
    vars: {pg_version: 16, ansible_become_password: hunter2}
    gateway: bastion
  bastion: {address: 10.0.0.1, key_file: ~/.ssh/bastion}
groups:
  web: {hosts: ["web[01:02]"], vars: {http_port: 80}, gateway: "ssh -W %h:%p bastion"}
  prod: {children: [web], hosts: [db1], vars: {env: prod}}
"""


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Inventory:
    monkeypatch.chdir(tmp_path)
    Path("inventory.yaml").write_text(INVENTORY)
    return Inventory.load("inventory.yaml")


def rendered(draw: Callable[..., None], *args: Any, **kwargs: Any) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    draw(console, *args, **kwargs)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def test_host_table(inventory: Inventory) -> None:
    assert rendered(render_hosts, inventory.hosts) == (
        "host      address    port   user    gateway                groups     labels\n"
        "──────────────────────────────────────────────────────────────────────────────\n"
        "web01     10.0.1.1                  ssh -W %h:%p bastion   prod,web   role=web\n"
        "web02     10.0.1.2                  ssh -W %h:%p bastion   prod,web   role=web\n"
        "db1       10.0.2.5   2222   admin   bastion                prod       role=db\n"
        "bastion   10.0.0.1\n"
    )


def test_group_graph_like_ansible_inventory(inventory: Inventory) -> None:
    assert rendered(render_graph, inventory) == (
        "@all:\n"
        "  |--@ungrouped:\n"
        "  |  |--bastion\n"
        "  |--@prod:\n"
        "  |  |--@web:\n"
        "  |  |  |--web01\n"
        "  |  |  |--web02\n"
        "  |  |--db1\n"
    )
    assert rendered(render_graph, inventory, "web", show_vars=True) == (
        "@web:\n"
        "  |--web01\n"
        "  |  |--{app_user = deploy}\n"
        "  |  |--{env = prod}\n"
        "  |  |--{http_port = 80}\n"
        "  |--web02\n"
        "  |  |--{app_user = deploy}\n"
        "  |  |--{env = prod}\n"
        "  |  |--{http_port = 80}\n"
        "  |--{http_port = 80}\n"
    )
    with pytest.raises(SelectionError, match=r"no group named 'wbe'.*did you mean web"):
        rendered(render_graph, inventory, "wbe")


def test_one_host_with_where_each_value_came_from_and_secrets_masked(inventory: Inventory) -> None:
    assert rendered(render_host, inventory.host("db1")) == (
        "db1 (groups: prod)\n"
        "key                       value      from\n"
        "───────────────────────────────────────────────────────────────────\n"
        "address                   10.0.2.5   inventory.yaml:7 (host db1)\n"
        "port                      2222       inventory.yaml:8 (host db1)\n"
        "user                      admin      inventory.yaml:9 (host db1)\n"
        "gateway                   bastion    inventory.yaml:12 (host db1)\n"
        "labels.role               db         inventory.yaml:10 (host db1)\n"
        "ansible_become_password   ****       inventory.yaml:11 (host db1)\n"
        "app_user                  deploy     inventory.yaml:1 (all)\n"
        "env                       prod       inventory.yaml:16 (group prod)\n"
        "pg_version                16         inventory.yaml:11 (host db1)\n"
    )


def test_list_hosts_like_ansible(inventory: Inventory) -> None:
    assert rendered(render_host_names, inventory.select_hosts("prod:!web02")) == (
        "  hosts (2):\n    db1\n    web01\n"
    )


def test_inventory_json_in_ansible_inventorys_shape(inventory: Inventory) -> None:
    data = inventory_json(inventory, inventory.select_hosts("prod:!web02"))
    assert data == {
        "_meta": {
            "hostvars": {
                "web01": {
                    "app_user": "deploy", "env": "prod", "http_port": 80,
                    "ansible_host": "10.0.1.1",
                    "ansible_ssh_common_args": "-o 'ProxyCommand=ssh -W %h:%p bastion'",
                    "corral_labels": {"role": "web"},
                },
                "db1": {
                    "app_user": "deploy", "env": "prod", "pg_version": 16,
                    "ansible_become_password": "****", "ansible_host": "10.0.2.5",
                    "ansible_port": 2222, "ansible_user": "admin",
                    "ansible_ssh_common_args": "-o ProxyJump=bastion",
                    "corral_labels": {"role": "db"},
                },
            }
        },
        "all": {"children": ["ungrouped", "prod"]},
        "prod": {"hosts": ["db1"], "children": ["web"]},
        "web": {"hosts": ["web01"]},
    }  # fmt: skip
    text = rendered(render_json, data)
    assert json.loads(text) == data and "hunter2" not in text
    assert text.startswith('{\n    "_meta": {\n        "hostvars": {\n            "db1": {\n')


def _own(values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not k.startswith("ansible_")}


def test_exported_json_round_trips_to_the_same_inventory(
    inventory: Inventory, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(inventory_json(inventory, export=True)))
    again = Inventory.load(dump)
    for host in inventory.hosts:
        copy = again.host(host.name)
        assert (copy.address, copy.port, copy.user, copy.gateway, copy.key_file) == (
            host.address, host.port, host.user, host.gateway, host.key_file,
        )  # fmt: skip
        assert copy.labels == host.labels and copy.groups == host.groups
        assert _own(copy.vars) == _own(host.vars)
    assert host_vars_json(inventory.host("bastion")) == {
        "app_user": "deploy", "ansible_host": "10.0.0.1",
        "ansible_ssh_private_key_file": "~/.ssh/bastion",
    }  # fmt: skip


FACTS_TABLE = """\
host     os          arch     cpus   mem GiB   / GiB        address     virt              up
────────────────────────────────────────────────────────────────────────────────────────────────
debian   debian 12   x86_64   2      23.5      23.9/252.0   192.0.2.2   vm-other/docker   0h 27m
rocky    rocky 9.3   x86_64   6      7.5       12.3/70.0    10.1.2.13   qemu              4d 2h
failed (1):
  down: connection refused
"""


def test_facts_table_and_json() -> None:
    facts: dict[str, Any] = {
        "debian": parse_facts((FACTS / "debian12.txt").read_text()),
        "rocky": parse_facts((FACTS / "rocky9.txt").read_text()),
        "down": RuntimeError("connection refused"),
    }
    assert rendered(render_facts, facts) == FACTS_TABLE
    data = facts_json(facts)
    assert data["down"] == {"error": "connection refused", "error_type": "RuntimeError"}
    assert data["rocky"]["os"]["family"] == "redhat"
    assert json.loads(json.dumps(data)) == data
