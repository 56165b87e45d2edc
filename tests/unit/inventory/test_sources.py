"""Inventory sources read into one resolved Inventory: corral's format, Ansible's INI, YAML
and --list JSON, group_vars/host_vars, hooks, @ssh_config, default sources; vars merged in
Ansible's order with where each came from."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from corral.config import Config, Secret
from corral.errors import DynamicInventoryError, InventoryError
from corral.inventory import (
    Inventory,
    default_sources,
    host_config,
    inventory_hook,
    inventory_sources,
    is_inventory_hook,
)

CORRAL = """\
vars:
  app_user: deploy
  http_port: 80
hosts:
  web[01:03]:
    address: 10.0.1.[1:3]
    labels: {role: web}
  db1:
    address: 10.0.2.5
    port: 2222
    user: admin
    key_file: ~/.ssh/db
    labels: {role: db}
    vars: {pg_version: 16, http_port: 5432}
    groups: [backup]
  bastion: {address: 10.0.0.1}
groups:
  web:
    hosts: ["web[01:03]"]
    vars: {http_port: 8080}
    gateway: bastion
  prod:
    children: [web]
    hosts: [db1]
    vars: {env: prod, http_port: 8000}
    labels: {env: prod}
  backup:
    vars: {retention_days: 7}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_corral_format_hosts_ranges_settings_labels_and_groups(tmp_path: Path) -> None:
    inventory = Inventory.load(write(tmp_path, "inventory.yaml", CORRAL))
    assert inventory.host_names == ["web01", "web02", "web03", "db1", "bastion"]
    web02 = inventory.host("web02")
    assert (web02.address, web02.port, web02.user, web02.gateway) == (
        "10.0.1.2",
        None,
        None,
        "bastion",
    )
    assert dict(web02.labels) == {"role": "web", "env": "prod"}
    assert web02.groups == ("prod", "web")
    db1 = inventory.host("db1")
    assert (db1.address, db1.port, db1.user, db1.key_file) == (
        "10.0.2.5",
        2222,
        "admin",
        "~/.ssh/db",
    )
    assert db1.groups == ("backup", "prod")  # same depth: by name
    assert inventory.group("prod").children == ("web",)
    assert inventory.members("prod") == ("db1", "web01", "web02", "web03")
    assert inventory.host("bastion").groups == ("ungrouped",)


def test_vars_merge_all_then_group_then_child_group_then_host(tmp_path: Path) -> None:
    path = write(tmp_path, "inventory.yaml", CORRAL)
    inventory = Inventory.load(path)
    web01, db1 = inventory.host("web01"), inventory.host("db1")
    assert web01.vars["http_port"] == 8080  # web (child of prod) beats prod beats all
    assert inventory.host("bastion").vars["http_port"] == 80  # all
    assert db1.vars["http_port"] == 5432  # the host's own
    assert db1.vars["retention_days"] == 7 and db1.vars["env"] == "prod"
    assert str(web01.origin("http_port")) == f"{path}:20 (group web)"
    assert str(web01.origin("app_user")) == f"{path}:2 (all)"
    assert str(db1.origin("http_port")) == f"{path}:14 (host db1)"
    assert str(web01.origins["gateway"]) == f"{path}:21 (group web)"
    assert str(web01.origins["labels.env"]) == f"{path}:26 (group prod)"


def test_later_sources_win_and_groups_merge_across_sources(tmp_path: Path) -> None:
    first = write(tmp_path, "a/inventory.yaml", CORRAL)
    second = write(tmp_path, "b/hosts.ini", "[web]\nweb04\n[web:vars]\nhttp_port=9090\n")
    inventory = Inventory.load(first, second)
    assert inventory.members("web") == ("web01", "web02", "web03", "web04")
    assert inventory.host("web01").vars["http_port"] == 9090
    assert inventory.sources == (str(first), str(second))


def test_a_host_defined_twice_with_the_same_address_is_fine(tmp_path: Path) -> None:
    text = (
        "hosts:\n  web1: {address: 10.0.0.1}\n"
        "groups:\n  web:\n    hosts: {web1: {address: 10.0.0.1}}\n"
    )
    assert Inventory.load(write(tmp_path, "i.yaml", text)).host("web1").address == "10.0.0.1"


ANSIBLE_INI = """\
# Ansible's documentation example, with connection vars
mail.example.com

[webservers]
foo.example.com http_port=80 maxRequestsPerChild=808
bar.example.com:2222 ansible_user=deploy
www[01:03].example.com

[dbservers]
one.example.com ansible_host=10.0.0.11 ansible_ssh_private_key_file=~/.ssh/db
two.example.com ansible_ssh_common_args='-o ProxyJump=jump@bastion:2200'

[atlanta]
host1 ansible_become_password=s3cret ansible_become_user=postgres
host2 flag=True ratio=1.5 items="[1, 2]" zero=010 word=yes

[raleigh]
host2

[southeast:children]
atlanta
raleigh

[southeast:vars]
some_server=foo.southeast.example.com
halon_system_timeout=30

[usa:children]
southeast
"""


def test_ansible_ini_groups_children_ranges_ports_and_value_types(tmp_path: Path) -> None:
    inventory = Inventory.load(write(tmp_path, "hosts", ANSIBLE_INI))
    assert inventory.members("webservers") == (
        "foo.example.com", "bar.example.com",
        "www01.example.com", "www02.example.com", "www03.example.com",
    )  # fmt: skip
    assert inventory.host("mail.example.com").groups == ("ungrouped",)
    assert inventory.members("usa") == ("host1", "host2")
    assert inventory.host("host2").groups == ("usa", "southeast", "atlanta", "raleigh")
    host2 = inventory.host("host2").vars
    assert (host2["flag"], host2["ratio"], host2["items"]) == (True, 1.5, [1, 2])
    assert (host2["zero"], host2["word"], host2["halon_system_timeout"]) == ("010", "yes", 30)
    bar = inventory.host("bar.example.com")
    assert (bar.port, bar.user, bar.vars["ansible_port"]) == (2222, "deploy", 2222)
    assert inventory.host("foo.example.com").vars["maxRequestsPerChild"] == 808


def test_ansible_connection_vars_become_settings_and_config(tmp_path: Path) -> None:
    inventory = Inventory.load(write(tmp_path, "hosts.ini", ANSIBLE_INI))
    one = inventory.host("one.example.com")
    assert (one.address, one.key_file) == ("10.0.0.11", "~/.ssh/db")
    assert inventory.host("two.example.com").gateway == "jump@bastion:2200"
    host1 = inventory.host("host1")
    assert host1.config["sudo"]["user"] == "postgres"
    password = host1.config["sudo"]["password"]
    assert isinstance(password, Secret) and password.reveal() == "s3cret"
    assert isinstance(host1.vars["ansible_become_password"], Secret)  # never shown
    assert "s3cret" not in repr(host1)


def test_unknown_ansible_keys_are_reported_once_each(tmp_path: Path) -> None:
    text = (
        "[web]\nweb1 ansible_python_interpreter=/usr/bin/python3 ansible_become=true\n"
        "web2 ansible_become=true ansible_connection=local\n"
        "web3 ansible_ssh_common_args='-o StrictHostKeyChecking=no'\n"
    )
    path = write(tmp_path, "hosts.ini", text)
    warnings = Inventory.load(path).warnings
    assert warnings == (
        f"{path}:2: ansible_become (2 places): an Ansible setting corral does not use",
        f"{path}:3: ansible_connection: ansible_connection=local is not supported "
        "(corral connects over SSH)",
        f"{path}:4: ansible_ssh_common_args: ssh options '-o StrictHostKeyChecking=no' are not "
        "read from the inventory (only ProxyJump/-J and ProxyCommand); put them in ssh_config",
    )


ANSIBLE_YAML = """\
all:
  hosts:
    mail.example.com:
  vars:
    ntp: ntp.example.com
  children:
    webservers:
      hosts:
        foo.example.com:
        bar.example.com:2222:
          ansible_user: deploy
      vars:
        http_port: 80
    dbservers:
      hosts:
        db[01:02].example.com:
      children:
        replicas:
          hosts:
            db02.example.com: {role: replica}
          vars:
            http_port: 81
        leftover:
    prod:
      children:
        webservers:
        dbservers:
"""


def test_ansible_yaml_nested_children_vars_and_ports(tmp_path: Path) -> None:
    inventory = Inventory.load(write(tmp_path, "inventory.yml", ANSIBLE_YAML))
    assert inventory.members("prod") == (
        "foo.example.com", "bar.example.com", "db01.example.com", "db02.example.com",
    )  # fmt: skip
    assert inventory.group("dbservers").children == ("replicas", "leftover")
    db02 = inventory.host("db02.example.com")
    assert db02.vars == {"ntp": "ntp.example.com", "role": "replica", "http_port": 81}
    assert db02.groups == ("prod", "dbservers", "replicas")  # dbservers: depth 2
    assert inventory.host("bar.example.com").port == 2222
    assert inventory.host("mail.example.com").groups == ("ungrouped",)


def test_ansible_group_priority_orders_groups_of_one_depth(tmp_path: Path) -> None:
    text = "[a]\nh1\n[b]\nh1\n[a:vars]\nx=from-a\nansible_group_priority=10\n[b:vars]\nx=from-b\n"
    assert Inventory.load(write(tmp_path, "hosts.ini", text)).host("h1").vars["x"] == "from-a"


def test_list_json_with_meta_hostvars_and_shorthand_groups(tmp_path: Path) -> None:
    data = {
        "web": {"hosts": ["web1", "web2"], "vars": {"http_port": 80}, "children": ["canary"]},
        "canary": ["web3"],
        "_meta": {"hostvars": {"web1": {"ansible_host": "10.0.0.1"}, "stray": {"x": 1}}},
    }
    inventory = Inventory.load(write(tmp_path, "dump.json", json.dumps(data)))
    assert inventory.host_names == ["web1", "web2", "web3"]  # hostvars alone add no host
    assert inventory.members("web") == ("web1", "web2", "web3")
    assert inventory.host("web1").address == "10.0.0.1"
    assert inventory.host("web3").vars == {"http_port": 80}


def test_group_vars_and_host_vars_beside_an_ansible_inventory(tmp_path: Path) -> None:
    hosts = write(tmp_path, "hosts", "[web]\nweb1 http_port=1\nweb2\n[db]\ndb1\n")
    write(tmp_path, "group_vars/all.yml", "ntp: time.example.com\n")
    write(tmp_path, "group_vars/web/main.yaml", "http_port: 80\nworkers: 4\n")
    write(tmp_path, "group_vars/web/vault.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    write(tmp_path, "group_vars/nosuchgroup.yml", "ignored: true\n")
    write(tmp_path, "host_vars/web2.yml", "workers: 8\n")
    write(tmp_path, "host_vars/db1", "role: primary\n")
    inventory = Inventory.load(hosts)
    assert inventory.host("web1").vars == {"ntp": "time.example.com", "http_port": 1, "workers": 4}
    assert inventory.host("web2").vars["workers"] == 8
    assert inventory.host("db1").vars == {"ntp": "time.example.com", "role": "primary"}
    origin = inventory.host("web2").origin("workers")
    assert str(origin) == f"{tmp_path / 'host_vars/web2.yml'}:1 (host web2)"
    assert inventory.warnings == (
        f"{tmp_path / 'group_vars/web/vault.yml'}: encrypted with Ansible Vault: skipped "
        "(corral cannot decrypt it)",
    )


def test_a_directory_source_reads_every_inventory_file_in_it(tmp_path: Path) -> None:
    write(tmp_path, "inv/01-web.ini", "[web]\nweb1\n")
    write(tmp_path, "inv/02-db.yaml", "hosts:\n  db1: {}\ngroups:\n  db: {hosts: [db1]}\n")
    write(tmp_path, "inv/notes.md", "# not an inventory\n")
    write(tmp_path, "inv/group_vars/web.yml", "x: 1\n")
    inventory = Inventory.load(tmp_path / "inv")
    assert inventory.host_names == ["web1", "db1"]
    assert inventory.host("web1").vars == {"x": 1}


# ---------------------------------------------------------------------- hooks


def test_a_hook_returning_corral_format(tmp_path: Path) -> None:
    def hosts() -> dict[str, Any]:
        return {"hosts": {"web1": {"address": "10.0.0.1"}}, "groups": {"web": {"hosts": ["web1"]}}}

    inventory = Inventory.load(hosts)
    assert inventory.members("web") == ("web1",)
    origin = inventory.host("web1").origins["address"]
    assert origin.source.startswith("hook ") and "test_sources." in origin.source
    assert origin.line is None


def test_a_hook_reading_a_csv_file_returns_a_list_of_hosts(tmp_path: Path) -> None:
    table = write(
        tmp_path,
        "hosts.csv",
        "name,address,role,groups\nweb1,10.0.0.1,web,web prod\ndb1,10.0.0.9,db,prod\n",
    )

    @inventory_hook
    def from_csv(config: Config) -> list[dict[str, Any]]:
        assert isinstance(config, Config)
        with open(table, newline="") as file:
            return [
                {"name": row["name"], "address": row["address"],
                 "labels": {"role": row["role"]}, "groups": row["groups"].split()}
                for row in csv.DictReader(file)
            ]  # fmt: skip

    assert is_inventory_hook(from_csv)
    inventory = Inventory.load(from_csv)
    assert inventory.members("prod") == ("web1", "db1")
    assert inventory.host("db1").labels == {"role": "db"}
    assert [h.name for h in inventory.select_hosts("prod:&role=web")] == ["web1"]


def test_a_hook_named_by_module_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "cmdb_hooks.py", "def fleet():\n    return ['a1', 'a2']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert Inventory.load("cmdb_hooks:fleet").host_names == ["a1", "a2"]
    with pytest.raises(
        DynamicInventoryError, match=r"hook cmdb_hooks:nope: module 'cmdb_hooks' has no 'nope'"
    ):
        Inventory.load("cmdb_hooks:nope")
    with pytest.raises(DynamicInventoryError, match=r"cannot import module 'no_such_module_x'"):
        Inventory.load("no_such_module_x:fleet")


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (42, "returned int: expected a mapping or a list of hosts"),
        ({"web": 1, "db": 2}, "returned a mapping with keys 'web', 'db'"),
        ([{"address": "10.0.0.1"}], "expected a host name or a mapping with a 'name'"),
        ({"hosts": {"web1": {"adress": "x"}}}, "unknown key 'adress'"),
    ],
)
def test_a_hook_returning_garbage_is_an_error_naming_the_hook(returned: Any, message: str) -> None:
    def broken() -> Any:
        return returned

    with pytest.raises(InventoryError, match=message) as caught:
        Inventory.load(broken)
    assert "test_sources." in str(caught.value)


def test_a_hook_that_raises_is_an_error_naming_it() -> None:
    def failing() -> Any:
        raise RuntimeError("CMDB down")

    with pytest.raises(DynamicInventoryError, match=r"failing: raised RuntimeError: CMDB down"):
        Inventory.load(failing)


# ---------------------------------------------------------------------- ssh_config


def test_ssh_config_hosts_without_wildcards(tmp_path: Path) -> None:
    include = write(tmp_path, "conf.d/extra.conf", "Host db1 db2\n  User postgres\n")
    config_file = write(
        tmp_path,
        "ssh_config",
        f"Host web1 web2 !web3\n  HostName 10.0.0.1\nHost *.example.com web?\n  User x\n"
        f"Match host foo\n  User y\nInclude {include.parent}/*.conf\nHost=bastion\n",
    )
    config = Config(overrides={"ssh_config_path": str(config_file)})
    inventory = Inventory.load("@ssh_config", config=config)
    assert inventory.host_names == ["web1", "web2", "db1", "db2", "bastion"]
    assert inventory.host("db1").origins == {}
    assert [h.name for h in inventory.select_hosts("web*")] == ["web1", "web2"]


def test_default_sources(tmp_path: Path) -> None:
    config = Config()
    assert default_sources(config, tmp_path) == ["@ssh_config"]
    write(tmp_path, "hosts", "web1\n")
    assert default_sources(config, tmp_path) == [str(tmp_path / "hosts")]
    write(tmp_path, "inventory.yml", "hosts: {web1: {}}\n")
    assert default_sources(config, tmp_path) == [str(tmp_path / "inventory.yml")]
    configured = Config(
        overrides={"inventory": {"sources": ["inv/prod.ini", "@ssh_config"], "hook": "m:f"}}
    )
    assert default_sources(configured, tmp_path) == [
        str(tmp_path / "inv/prod.ini"), "@ssh_config", "m:f",
    ]  # fmt: skip
    assert Inventory.load(project_dir=tmp_path).host_names == ["web1"]


def test_a_missing_source_is_an_error() -> None:
    with pytest.raises(InventoryError, match=r"^nope\.yaml: no such inventory file or directory"):
        Inventory.load("nope.yaml")


def test_inventory_sources_of_a_run(tmp_path: Path) -> None:
    config = Config()

    def hook() -> list[str]:
        return ["h1"]

    assert inventory_sources(["a.ini"], config=config, project_dir=tmp_path, hooks=[hook]) == [
        "a.ini"
    ]  # --inventory is what the user asked for
    assert inventory_sources(config=config, project_dir=tmp_path) == ["@ssh_config"]
    assert inventory_sources(config=config, project_dir=tmp_path, hooks=[hook]) == [hook]
    write(tmp_path, "inventory.yaml", "hosts: {web1: {}}\n")
    assert inventory_sources(config=config, project_dir=tmp_path, hooks=[hook]) == [
        str(tmp_path / "inventory.yaml"), hook,
    ]  # fmt: skip


def test_an_ansible_var_named_like_a_config_section_stays_a_var(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[web]\nweb1 sudo=yes run=nightly\n")
    inventory = Inventory.load(path)
    host = inventory.host("web1")
    assert (host.vars["sudo"], host.vars["run"]) == ("yes", "nightly")
    assert host_config(host) == {}  # not corral's sudo and run sections
    assert inventory.warnings == (
        f"{path}:2: sudo: not a mapping, so not corral's sudo config section: kept as a var only",
        f"{path}:2: run: not a mapping, so not corral's run config section: kept as a var only",
    )
