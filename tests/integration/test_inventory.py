"""Inventories against real sshd: selections as Groups whose connections carry host vars
(in `host_vars`, config and templates), inventory settings (address, port, user, key file,
gateways) used to connect, Ansible inventories and dynamic scripts, tasks run by the
Executor on inventory hosts."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

import corral
import corral.aio
from corral import Config, GroupResult
from corral.errors import DynamicInventoryError, InventoryError
from corral.inventory import Inventory as PureInventory
from corral.sync.inventory import plan_hosts
from corral.tasks import Collection, task
from corral.tasks.executor import Executor
from corral.testing.fleet import SSHDFleet
from corral.testing.inventory import fleet_inventory, write_fleet_inventory

ADDRESS = "$(echo $SSH_CONNECTION | cut -d' ' -f3)"


@pytest.fixture
def inventory_path(fleet: SSHDFleet, tmp_path: Path) -> Path:
    return write_fleet_inventory(fleet, tmp_path / "inventory.yaml", all_vars={"app_port": 8080})


def test_a_selection_runs_on_the_selected_hosts_by_inventory_name(
    fleet: SSHDFleet, config: Config, inventory_path: Path
) -> None:
    inventory = corral.Inventory.load(inventory_path, config=config)
    with inventory.select("fleet:!host2") as group:
        result = group.run(f"echo {ADDRESS}", hide=True)
    names = [c.original_host for c in result]
    assert names == ["host1", "host3"]  # web first (host1, host3), then db without host2
    by_name = {h.alias: h.address for h in fleet.hosts}
    assert [r.stdout.strip() for r in result.values()] == [by_name["host1"], by_name["host3"]]
    assert [c.host for c in result] == [by_name["host1"], by_name["host3"]]


async def test_aio_selection_gives_aio_connections_with_host_vars_and_config(
    fleet: SSHDFleet, config: Config, inventory_path: Path
) -> None:
    inventory = corral.aio.Inventory.load(inventory_path, config=config)
    group = inventory.select("role=db")
    assert isinstance(group, corral.aio.Group)
    async with group:
        conn = group[0]
        assert conn.original_host == "host2"
        assert conn.host_vars == {
            "fleet_directory": str(fleet.directory), "app_port": 8080, "tier": "backend",
            "host_index": 2,
        }  # fmt: skip
        with pytest.raises(TypeError):
            conn.host_vars["tier"] = "x"  # type: ignore[index]
        assert (conn.config.tier, conn.config.app_port) == ("backend", 8080)
        assert config.get("tier") is None  # the base config is not touched
        result = await group.run("echo $((1 + 1))", hide=True)
        assert [r.stdout for r in result.values()] == ["2\n"]


def test_what_beats_host_vars_still_wins_in_each_host_config(
    fleet: SSHDFleet, inventory_path: Path
) -> None:
    config = Config(
        overrides={"ssh_config_path": str(fleet.ssh_config_path), "tier": "from-overrides"}
    )
    inventory = corral.Inventory.load(inventory_path, config=config)
    with inventory.select("host1") as group:
        conn = group[0]
        assert conn.host_vars["tier"] == "frontend"
        assert conn.config.tier == "from-overrides"  # overrides, flags, --set beat host vars
        assert conn.config.app_port == 8080


def test_put_template_sees_host_vars_and_facts_and_the_explicit_context_wins(
    fleet: SSHDFleet, config: Config, inventory_path: Path, tmp_path: Path
) -> None:
    template = tmp_path / "app.conf.j2"
    template.write_text(
        "tier={{ tier }} port={{ app_port }} os={{ facts.os.family }} extra={{ extra }}\n"
    )
    inventory = corral.Inventory.load(inventory_path, config=config)
    remote = f"corral-inventory-tests/{os.getpid()}/{tmp_path.name}/app.conf"
    with inventory.select("host1") as group:
        conn = group[0]
        conn.run(f"mkdir -p {os.path.dirname(remote)}")
        assert conn.facts.os.family == "debian"
        conn.put_template(template, remote, {"extra": "x", "app_port": 9}, mode=0o644)
        rendered = conn.run(f"cat {remote}", hide=True).stdout
        conn.run(f"rm -rf corral-inventory-tests/{os.getpid()}")
    assert rendered == "tier=frontend port=9 os=debian extra=x\n"


def _plain_ssh_config(fleet: SSHDFleet, tmp_path: Path) -> Path:
    """An ssh_config that knows no host: only where known_hosts is, and no agent keys."""
    path = tmp_path / "ssh_config"
    path.write_text(
        f"Host *\n  UserKnownHostsFile {fleet.known_hosts_path}\n  IdentitiesOnly yes\n"
    )
    return path


def test_inventory_address_port_user_and_key_file_are_what_connects(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    host = fleet.hosts[0]
    data = {
        "hosts": {
            "app1": {
                "address": host.address, "port": host.port, "user": host.user,
                "key_file": str(fleet.key_path),
            }
        }
    }  # fmt: skip
    path = tmp_path / "inventory.yaml"
    path.write_text(json.dumps(data))
    config = Config(overrides={"ssh_config_path": str(_plain_ssh_config(fleet, tmp_path))})
    with corral.Inventory.load(path, config=config).select("app1") as group:
        result = group.run(f"echo {ADDRESS} $USER", hide=True)
    assert [r.stdout.split() for r in result.values()] == [[host.address, host.user]]
    assert [c.original_host for c in result] == ["app1"]


def test_an_ansible_ini_inventory_connects_with_its_ansible_vars(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    lines = ["[app]"]
    for index, host in enumerate(fleet.hosts[:2], 1):
        lines.append(
            f"app{index} ansible_host={host.address} ansible_port={host.port} "
            f"ansible_user={host.user} ansible_ssh_private_key_file={fleet.key_path} "
            "ansible_python_interpreter=/usr/bin/python3"
        )
    lines += ["[app:vars]", "greeting=hello"]
    path = tmp_path / "hosts.ini"
    path.write_text("\n".join(lines) + "\n")
    config = Config(overrides={"ssh_config_path": str(_plain_ssh_config(fleet, tmp_path))})
    inventory = corral.Inventory.load(path, config=config)
    assert inventory.warnings == ()  # ansible_python_interpreter is known, and not needed
    with inventory.select("app") as group:
        result = group.run("echo $greeting", hide=True, env={"greeting": "x"})
        values = [c.host_vars["greeting"] for c in group]
    assert [r.stdout for r in result.values()] == ["x\n", "x\n"]
    assert values == ["hello", "hello"]


async def test_a_gateway_named_in_the_inventory_is_shared_by_the_hosts_behind_it(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    data = fleet_inventory(fleet)
    data["groups"]["db"]["gateway"] = "host1"  # the db hosts (host2, ...) through host1
    path = tmp_path / "inventory.yaml"
    path.write_text(json.dumps(data))
    inventory = corral.aio.Inventory.load(path, config=config)
    group = inventory.select("db")
    gateways = {id(c.gateway) for c in group}
    assert len(gateways) == 1  # one bastion connection for all of them
    gateway = group[0].gateway
    assert isinstance(gateway, corral.aio.Connection) and gateway.original_host == "host1"
    assert gateway not in group.connections  # the bastion is not one of the selected hosts
    async with group:
        result = await group.run(f"echo {ADDRESS}", hide=True)
        assert gateway.is_connected  # opened to carry the tunnels
    address = {h.alias: h.address for h in fleet.hosts}
    assert {c.original_host: r.stdout.strip() for c, r in result.items()} == {
        c.original_host: address[c.original_host] for c in group
    }
    assert not gateway.is_connected  # closed with the last host behind it


def test_a_gateway_cycle_is_an_inventory_error(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    data = fleet_inventory(fleet)
    data["hosts"]["host1"]["gateway"] = "host2"
    data["hosts"]["host2"]["gateway"] = "host1"
    path = tmp_path / "inventory.yaml"
    path.write_text(json.dumps(data))
    with pytest.raises(InventoryError, match=r"gateway cycle: host1 -> host2 -> host1"):
        corral.Inventory.load(path, config=config).select("host1")


def test_a_proxycommand_gateway_string(fleet: SSHDFleet, config: Config, tmp_path: Path) -> None:
    data = fleet_inventory(fleet)
    data["hosts"]["host2"]["gateway"] = (
        f"ssh -F {fleet.ssh_config_path} -o BatchMode=yes -W %h:%p host1"
    )
    path = tmp_path / "inventory.yaml"
    path.write_text(json.dumps(data))
    with corral.Inventory.load(path, config=config).select("host2") as group:
        assert group[0].gateway == data["hosts"]["host2"]["gateway"]
        result = group.run(f"echo {ADDRESS}", hide=True)
    assert [r.stdout.strip() for r in result.values()] == [fleet.hosts[1].address]


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "dynamic.py"
    path.write_text(f"#!{sys.executable}\nimport json, sys, time\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_dynamic_inventory_script_lists_the_fleet(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    hosts = {h.alias: {"ansible_host": h.address, "ansible_port": h.port} for h in fleet.hosts}
    listing = {
        "cloud": {"hosts": list(hosts), "vars": {"zone": "z1"}},
        "_meta": {"hostvars": hosts},
    }
    script = _script(
        tmp_path,
        f"assert sys.argv[1:] == ['--list'], sys.argv\nprint(json.dumps({listing!r}))",
    )
    inventory = corral.Inventory.load(script, config=config)
    assert inventory.host_names == [h.alias for h in fleet.hosts]
    with inventory.select("cloud[0]") as group:
        result = group.run("echo $((6 * 7))", hide=True)
        assert group[0].host_vars["zone"] == "z1"
    assert [r.stdout for r in result.values()] == ["42\n"]


def test_a_script_without_meta_is_asked_for_each_host(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        "if sys.argv[1] == '--list': print(json.dumps({'web': ['w1', 'w2']}))\n"
        "else: print(json.dumps({'asked': sys.argv[2]}))",
    )
    inventory = PureInventory.load(script)
    assert [dict(h.vars) for h in inventory.hosts] == [{"asked": "w1"}, {"asked": "w2"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "print('not json at all')",
            r"dynamic\.py --list printed something that is not JSON "
            r"\(line 1, column 1: Expecting value\); it starts 'not json at all'",
        ),
        ("print('[1, 2]')", r"printed a JSON list, not an object of groups"),
        (
            "sys.stderr.write('no credentials\\n'); sys.exit(3)",
            r"dynamic\.py --list exited with status 3: no credentials",
        ),
        ("sys.stdout.buffer.write(b'\\xff\\xfe')", r"printed bytes that are not UTF-8"),
        ("time.sleep(60)", r"dynamic\.py --list did not finish within 0\.5 s and was stopped"),
    ],
)
def test_a_broken_dynamic_inventory_is_an_error_naming_the_script(
    tmp_path: Path, body: str, message: str
) -> None:
    script = _script(tmp_path, body)
    config = Config(overrides={"inventory": {"script_timeout": 0.5}})
    with pytest.raises(DynamicInventoryError, match=message) as caught:
        PureInventory.load(script, config=config)
    assert str(caught.value).startswith(f"{script}: ")


def test_the_executor_runs_tasks_on_inventory_connections(
    fleet: SSHDFleet, config: Config, inventory_path: Path
) -> None:
    seen: list[tuple[str, str, int]] = []

    @task
    def report(c: corral.Connection) -> str:
        seen.append((c.original_host, c.config.tier, c.host_vars["host_index"]))
        return c.run("echo ok", hide=True).stdout.strip()

    inventory = corral.aio.Inventory.load(inventory_path, config=config)
    hosts = inventory.select_hosts("fleet")
    connections = {c.original_host: c for c in inventory.connections(hosts)}
    with Executor(
        Collection(report), config, [h.name for h in hosts], connections=connections
    ) as ex:
        results = ex.execute("report")
    assert results == {"report": {h.name: "ok" for h in hosts}}
    assert seen == [(h.name, h.vars["tier"], h.vars["host_index"]) for h in hosts]


def test_group_facts_feed_fact_selections(
    fleet: SSHDFleet, config: Config, inventory_path: Path
) -> None:
    inventory = corral.Inventory.load(inventory_path, config=config)
    with inventory.select("all") as group:
        facts = group.facts()
    assert isinstance(facts, GroupResult)
    assert [c.original_host for c in facts] == ["host1", "host3", "host2"]  # web, then db
    assert all(f.os.family == "debian" for f in facts.values())
    chosen = inventory.select_hosts("role=web:&os.family=debian:&cpu_count>=1", facts=facts)
    assert [h.name for h in chosen] == [h.alias for h in fleet.hosts][::2]
    with pytest.raises(corral.SelectionError, match=r"'&os\.family=bsd' matches no host"):
        inventory.select("all:&os.family=bsd", facts=facts)


def test_plan_hosts_selects_before_connecting_and_gathers_facts_only_when_asked(
    fleet: SSHDFleet, config: Config, inventory_path: Path, tmp_path: Path
) -> None:
    plan = plan_hosts("fleet:!host2", sources=[str(inventory_path)], config=config)
    assert plan.names == ["host1", "host3"] and plan.facts is None
    with pytest.raises(corral.SelectionError, match=r"no host or group named 'wbe'"):
        plan_hosts("wbe", sources=[str(inventory_path)], config=config)
    with pytest.raises(corral.SelectionError, match=r"os\.family is a fact: gather facts first"):
        plan_hosts("os.family=debian", sources=[str(inventory_path)], config=config,
                   gather_facts=False)  # fmt: skip
    plan = plan_hosts("role=web:&os.family=debian", sources=[str(inventory_path)], config=config)
    assert plan.names == ["host1", "host3"]
    assert plan.facts is not None and sorted(c.original_host for c in plan.facts) == [
        "host1", "host3",
    ]  # only the candidates (role=web) were asked  # fmt: skip
    connections = plan.connections(config)
    assert list(connections) == ["host1", "host3"]
    first = connections["host1"]
    assert first._facts is not None and first._facts.os.family == "debian"  # not gathered again


def test_plan_hosts_reads_the_projects_inventory_and_the_corralfiles_hooks(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    write_fleet_inventory(fleet, tmp_path / "inventory.yml")

    @corral.inventory_hook
    def extra() -> dict[str, object]:
        return {"groups": {"canary": {"hosts": ["host3"]}}}

    plan = plan_hosts("canary:web", config=config, project_dir=tmp_path, hooks=[extra])
    assert plan.names == ["host3", "host1"]


async def test_aio_gather_facts_then_select_with_them(
    fleet: SSHDFleet, config: Config, inventory_path: Path
) -> None:
    inventory = corral.aio.Inventory.load(inventory_path, config=config)
    facts = await inventory.gather_facts("db:&os.family=debian")
    assert [c.original_host for c in facts] == ["host2"]
    group = inventory.select("db:&os.family=debian", facts=facts)
    async with group:
        assert (await group[0].facts()) is facts[next(iter(facts))]  # the gathered Facts


def test_the_bastion_of_its_own_group_is_reached_directly(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    data = fleet_inventory(fleet)
    data["groups"]["fleet"]["gateway"] = "host1"  # every host through host1, host1 included
    path = tmp_path / "inventory.yaml"
    path.write_text(json.dumps(data))
    with corral.Inventory.load(path, config=config).select("fleet") as group:
        by_name = {c.original_host: c for c in group}
        assert by_name["host1"].gateway is None
        assert by_name["host2"].gateway is not None
        assert by_name["host2"].gateway.original_host == "host1"  # type: ignore[union-attr]
        result = group.run("true", hide=True)
    assert all(r.ok for r in result.values())
