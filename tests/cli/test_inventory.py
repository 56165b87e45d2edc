"""Inventory and selection on the command line (issue 12), against the sshd fleet and an
inventory of its own hosts (host1..3; odd ones in group `web`, role=web; even in `db`):
-I, -G, --limit, --list-hosts, facts in patterns, `corral inventory` and `corral facts`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from corral.testing.fleet import SSHDFleet
from corral.testing.inventory import fleet_inventory, write_fleet_inventory

from .conftest import Invoke

CORRALFILE = """
from corral import task

@task
def where(c):
    "Say which host this is, and what its inventory vars give."
    address = c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[2]
    print(f"{c.original_host} {address} tier={c.config.get('tier')} "
          f"index={c.host_vars['host_index']}")
"""


@pytest.fixture
def project(tmp_path: Path, fleet: SSHDFleet, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A corralfile with the fleet's inventory beside it (the default source)."""
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE))
    write_fleet_inventory(fleet, tmp_path / "inventory.yaml")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


def _ssh(fleet: SSHDFleet) -> list[str]:
    return ["-S", str(fleet.ssh_config_path)]


def test_a_group_pattern_runs_a_task_on_its_hosts_with_their_vars(
    corral_cli: Invoke, project: Path, fleet: SSHDFleet
) -> None:
    result = corral_cli(*_ssh(fleet), "-G", "web", "where")
    assert result.exit_code == 0, result.stderr
    one, three = fleet.hosts[0], fleet.hosts[2]
    assert result.stdout.splitlines() == [
        f"{one.alias} {one.address} tier=frontend index=1",
        f"{three.alias} {three.address} tier=frontend index=3",
    ]


def test_patterns_combine_with_labels_and_limit(
    corral_cli: Invoke, project: Path, fleet: SSHDFleet
) -> None:
    result = corral_cli(*_ssh(fleet), "-G", "fleet:&role=web:!host3", "--limit", "host*",
                        "--", "echo $SSH_CONNECTION | cut -d' ' -f3")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{fleet.hosts[0].address}\n"


def test_list_hosts_shows_the_selection_and_connects_nowhere(
    corral_cli: Invoke, project: Path, fleet: SSHDFleet, tmp_path: Path
) -> None:
    data = fleet_inventory(fleet)
    for host in data["hosts"].values():
        host["address"], host["port"] = "192.0.2.1", 9  # TEST-NET: nothing answers there
    unreachable = tmp_path / "unreachable.yaml"
    unreachable.write_text(yaml.safe_dump(data))
    result = corral_cli("-I", str(unreachable), "-G", "db:web", "--list-hosts")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "  hosts (3):\n    host2\n    host1\n    host3\n"
    as_json = corral_cli("-I", str(unreachable), "-G", "web", "--list-hosts", "--output", "json")
    assert json.loads(as_json.stdout) == ["host1", "host3"]
    everything = corral_cli("-I", str(unreachable), "--list-hosts")
    assert everything.stdout.split()[:2] == ["hosts", "(3):"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-G", "wbe"], "pattern 'wbe': no host or group named 'wbe'; did you mean web?"),
        (["-G", "web:!hots3"], "did you mean host3"),
        (["-G", "web:&db"], "selects no host"),
        (["-G", "role=wbe"], "'role=wbe' matches no host; did you mean role=web"),
        (["-G", "web", "--limit", "db"], "none of them in --limit 'db'"),
    ],
)
def test_a_bad_selection_exits_2_with_the_closest_names_before_anything_connects(
    corral_cli: Invoke, project: Path, fleet: SSHDFleet, args: list[str], message: str
) -> None:
    marker = project / "ran"
    result = corral_cli(*_ssh(fleet), *args, "--", f"touch {marker}")
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_facts_in_a_pattern_are_gathered_first(
    corral_cli: Invoke, project: Path, fleet: SSHDFleet
) -> None:
    os_family = corral_cli(*_ssh(fleet), "facts", "-G", "host1", "--output", "json")
    family = json.loads(os_family.stdout)["host1"]["os"]["family"]
    result = corral_cli(*_ssh(fleet), "-G", f"web:&os.family={family}", "--", "echo ok")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "ok\nok\n"
    none = corral_cli(*_ssh(fleet), "-G", "web:&os.family=plan9", "--", "echo ok")
    assert none.exit_code == 2 and "matches no host" in none.stderr
    listing = corral_cli(*_ssh(fleet), "-G", "os.family=debian", "--list-hosts")
    assert listing.exit_code == 2 and "--list-hosts connects nowhere" in listing.stderr


def test_inventory_sources_are_repeatable_and_later_ones_win(
    corral_cli: Invoke, project: Path, fleet: SSHDFleet, tmp_path: Path
) -> None:
    extra = tmp_path / "extra.ini"
    extra.write_text("[canary]\nhost2 tier=canary\n")  # a host var: it beats group vars
    base = project / "inventory.yaml"
    result = corral_cli(*_ssh(fleet), "-I", str(base), "-I", str(extra), "-G", "canary", "where")
    assert result.exit_code == 0, result.stderr
    two = fleet.hosts[1]
    assert result.stdout == f"{two.alias} {two.address} tier=canary index=2\n"


def test_hosts_by_name_and_by_pattern_are_not_given_together(
    corral_cli: Invoke, project: Path
) -> None:
    result = corral_cli("-H", "host1", "-G", "web", "--", "true")
    assert result.exit_code == 2 and "not both" in result.stderr


def test_corral_inventory_lists_graphs_and_explains_a_host(
    corral_cli: Invoke, project: Path, fleet: SSHDFleet
) -> None:
    table = corral_cli("inventory")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["host", "address", "port", "user", "gateway", "groups", "labels"]
    assert lines[2].split()[:2] == ["host1", fleet.hosts[0].address]
    assert corral_cli("inventory", "-G", "db").stdout.count("host") == 2  # header and host2
    graph = corral_cli("inventory", "--graph", "fleet").stdout
    assert graph.splitlines()[:3] == ["@fleet:", "  |--@web:", "  |  |--host1"]
    host = corral_cli("inventory", "--host", "host3").stdout
    assert host.splitlines()[0] == "host3 (groups: fleet, web)"
    assert any(
        line.split()[:2] == ["tier", "frontend"] and "(group web)" in line
        for line in host.splitlines()
    )
    listed = json.loads(corral_cli("inventory", "--output", "json").stdout)
    assert listed["web"]["hosts"] == ["host1", "host3"]
    assert listed["_meta"]["hostvars"]["host2"]["tier"] == "backend"
    one = json.loads(corral_cli("inventory", "--host", "host2", "--output", "json").stdout)
    assert one["ansible_host"] == fleet.hosts[1].address and one["host_index"] == 2
    unknown = corral_cli("inventory", "--host", "hots2")
    assert unknown.exit_code == 2 and "did you mean host2" in unknown.stderr


def test_corral_facts_gathers_the_selection_as_a_table_or_json(
    corral_cli: Invoke, project: Path, fleet: SSHDFleet
) -> None:
    table = corral_cli(*_ssh(fleet), "facts", "-G", "web")
    assert table.exit_code == 0, table.stderr
    rows = table.stdout.splitlines()
    assert rows[0].split()[:3] == ["host", "os", "arch"]
    assert [row.split()[0] for row in rows[2:]] == ["host1", "host3"]
    data = json.loads(corral_cli(*_ssh(fleet), "facts", "--output", "json").stdout)
    assert sorted(data) == ["host1", "host2", "host3"]
    assert all(isinstance(facts["cpu_count"], int) for facts in data.values())
    by_name = json.loads(
        corral_cli(*_ssh(fleet), "-H", "host2", "facts", "--output", "json").stdout
    )
    assert list(by_name) == ["host2"]


def test_facts_of_an_unreachable_host_are_an_error_row_and_exit_1(
    corral_cli: Invoke, project: Path, fleet: SSHDFleet, tmp_path: Path
) -> None:
    data = fleet_inventory(fleet)
    data["hosts"]["host2"]["port"] = 9  # nothing listens there
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    result = corral_cli(*_ssh(fleet), "-I", str(broken), "facts", "--output", "json")
    assert result.exit_code == 1
    facts = json.loads(result.stdout)
    assert facts["host2"]["error_type"] == "HostUnreachable"
    assert "hostname" in facts["host1"] and "hostname" in facts["host3"]


def test_the_readmes_selection_error_is_what_corral_says(
    corral_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("```yaml\n", readme.index("### corral's inventory format")) + 8
    (tmp_path / "inventory.yaml").write_text(readme[start : readme.index("```", start)])
    (tmp_path / "corralfile.py").write_text(
        "from corral import task\n\n@task\ndef deploy(c): pass\n"
    )
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    shown = readme.index("$ corral -G 'web:!web3' deploy\n")
    expected = readme[shown:].splitlines()[1]
    result = corral_cli("-G", "web:!web3", "deploy")
    assert result.exit_code == 2
    assert result.stderr == expected + "\n"


def test_list_hosts_without_a_selection_shows_the_tasks_own_hosts(
    corral_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "corralfile.py").write_text(
        "from corral import task\n\n@task(hosts=['web7', 'web8'])\ndef deploy(c): pass\n"
    )
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    result = corral_cli("--list-hosts", "deploy")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "  hosts (2):\n    web7\n    web8\n"
    assert not (tmp_path / "state").exists()  # nothing ran, nothing was recorded
