"""Ansible inventories read as Ansible reads them: corral's output compared with
ansible-inventory's (--list, --export, --graph, --graph --vars, --host) and ansible's
--list-hosts for the same files and patterns."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from corral.inventory import Inventory
from corral.inventory.render import (
    host_vars_json,
    inventory_json,
    render_graph,
    render_host_names,
)

HERE = Path(__file__).parent / "ansible"
BIN = Path(sys.executable).parent
SOURCES = [HERE / "hosts.ini", HERE / "yaml" / "inventory.yml"]


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not (BIN / "ansible-inventory").exists():
        if sys.version_info < (3, 11):
            pytest.skip("ansible-core needs Python 3.11 or later")
        reason = "ansible-inventory is missing: scripts/install installs it (test extras)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("ansible")
    (home / "ansible.cfg").write_text("")
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(home / "ansible.cfg"),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
    }


def ansible(env: dict[str, str], tool: str, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / tool), *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def rendered(draw: Any, *args: Any, **kwargs: Any) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    draw(console, *args, **kwargs)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
@pytest.mark.parametrize("export", [False, True], ids=["list", "export"])
def test_list_json_is_ansible_inventorys(
    ansible_env: dict[str, str], source: Path, export: bool
) -> None:
    flags = ["--export"] if export else []
    expected = json.loads(
        ansible(ansible_env, "ansible-inventory", "-i", str(source), "--list", *flags)
    )
    expected["_meta"].pop("profile", None)  # ansible-core 2.19's marker of its output format
    got = json.loads(json.dumps(inventory_json(Inventory.load(source), export=export)))
    assert got == expected


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
@pytest.mark.parametrize("show_vars", [False, True], ids=["graph", "graph-vars"])
def test_graph_is_ansible_inventorys(
    ansible_env: dict[str, str], source: Path, show_vars: bool
) -> None:
    flags = ["--vars"] if show_vars else []
    expected = ansible(ansible_env, "ansible-inventory", "-i", str(source), "--graph", *flags)
    assert rendered(render_graph, Inventory.load(source), show_vars=show_vars) == expected


@pytest.mark.parametrize(
    ("source", "host"),
    [(SOURCES[0], "host1"), (SOURCES[0], "bar.example.com"), (SOURCES[1], "db02.example.com"),
     (SOURCES[1], "foo.example.com")],
)  # fmt: skip
def test_host_vars_are_ansible_inventorys(
    ansible_env: dict[str, str], source: Path, host: str
) -> None:
    expected = json.loads(
        ansible(ansible_env, "ansible-inventory", "-i", str(source), "--host", host)
    )
    assert json.loads(json.dumps(host_vars_json(Inventory.load(source).host(host)))) == expected


PATTERNS = [
    "all", "webservers", "usa:!raleigh", "southeast:&raleigh", "~db", "*.example.com",
    "webservers[1:2]", "webservers[-1]", "webservers,dbservers,!two.example.com", "&usa:!atlanta",
    "db-*:mail.example.com", "www0[12].example.com", "!webservers", "usa:&southeast:!host1",
]  # fmt: skip

#: Ansible's own pattern evaluation (what `ansible PATTERN --list-hosts` prints), in one process.
SELECT = """
import json, sys
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
inventory = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
print(json.dumps({p: [h.name for h in inventory.get_hosts(p)] for p in json.loads(sys.argv[2])}))
"""


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_patterns_select_what_ansible_selects(ansible_env: dict[str, str], source: Path) -> None:
    patterns = [p for p in PATTERNS if source.suffix == ".ini" or not any(
        g in p for g in ("usa", "southeast", "raleigh", "atlanta", "two.", "db-", "www")
    )]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", SELECT, str(source), json.dumps(patterns)],
        capture_output=True, text=True, env=ansible_env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = json.loads(done.stdout)
    inventory = Inventory.load(source)
    got = {p: [h.name for h in inventory.select_hosts(p)] for p in patterns}
    assert got == expected


def test_list_hosts_prints_what_ansible_prints(ansible_env: dict[str, str]) -> None:
    source = SOURCES[0]
    expected = ansible(ansible_env, "ansible", "-i", str(source), "usa:!raleigh", "--list-hosts")
    selected = Inventory.load(source).select_hosts("usa:!raleigh")
    assert rendered(render_host_names, selected) == expected
