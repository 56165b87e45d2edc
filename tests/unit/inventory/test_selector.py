"""Host patterns: Ansible's syntax (union, intersection, exclusion, globs, regex, subscripts)
plus label/var/fact matches and --limit, each case a row; unknown names and empty
selections raise SelectionError with the closest names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corral.errors import SelectionError
from corral.inventory import Inventory, needs_facts, parse_pattern, split_pattern, without_facts

FLEET = """\
hosts:
  web[01:05]:
    labels: {role: web}
  db[1:2]:
    labels: {role: db}
    vars: {pg: {version: 16, replicas: [db2]}, cores: 8}
  lb.example.com:
    labels: {role: lb, canary: true}
    vars: {cores: 2}
  bastion: {port: 2222}
groups:
  web:
    hosts: ["web[01:05]"]
  db:
    hosts: ["db[1:2]"]
  prod:
    children: [web, db]
    hosts: [lb.example.com]
    vars: {env: prod}
  staging:
    hosts: [web05]
    vars: {env: staging}
  web-canary:
    hosts: [web01]
"""


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    path: Path = tmp_path_factory.mktemp("inventory") / "inventory.yaml"
    path.write_text(FLEET)
    return Inventory.load(path)


WEB = ["web01", "web02", "web03", "web04", "web05"]
# Ansible's order for all: ungrouped hosts, then each group's own hosts, level by level
ALL = ["bastion", "lb.example.com", "web05", "web01", "web02", "web03", "web04", "db1", "db2"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", ALL),
        ("*", ALL),
        ("web", WEB),
        ("web03", ["web03"]),
        ("db:web02", ["db1", "db2", "web02"]),  # union, in pattern order
        ("db,web02", ["db1", "db2", "web02"]),
        ("db, web02", ["db1", "db2", "web02"]),
        ("prod:&staging", ["web05"]),
        ("prod:!staging", ["lb.example.com", "web01", "web02", "web03", "web04", "db1", "db2"]),
        ("web:!web0[2-4]", ["web01", "web05"]),
        ("!web", ["bastion", "lb.example.com", "db1", "db2"]),  # only exclusions: from all
        ("&prod:!web:!db", ["lb.example.com"]),
        ("!web:db1", ["db1"]),  # plain terms first, then & then !, whatever their order
        ("web0*", WEB),
        ("*.example.com", ["lb.example.com"]),
        ("web-*", ["web01"]),  # a glob matches groups too
        ("~web0[13]", ["web01", "web03"]),
        ("~(db|lb)", ["db1", "db2", "lb.example.com"]),
        ("web[0]", ["web01"]),
        ("web[-1]", ["web05"]),
        ("web[1:3]", ["web02", "web03", "web04"]),
        ("web[3:]", ["web04", "web05"]),
        ("role=db", ["db1", "db2"]),
        ("role!=web", ["db1", "db2", "lb.example.com", "bastion"]),  # matches: inventory order
        ("env=prod", ["web01", "web02", "web03", "web04", "db1", "db2", "lb.example.com"]),
        ("env=staging", ["web05"]),  # staging beats prod: same depth, later name
        ("env!=prod", ["web05", "bastion"]),  # hosts without env are not prod
        ("role=w*", WEB),
        ("pg.version=16", ["db1", "db2"]),  # dotted keys reach into vars
        ("pg.replicas=db2", ["db1", "db2"]),  # a list matches any of its items
        ("cores>=4", ["db1", "db2"]),
        ("cores<4", ["lb.example.com"]),
        ("canary=true", ["lb.example.com"]),
        ("port=2222", ["bastion"]),  # the host's own settings, after labels and vars
        ("name=web0[12]", ["web01", "web02"]),
        ("prod:&role=web:!web03", ["web01", "web02", "web04", "web05"]),
    ],
)
def test_patterns_select_hosts_in_order(
    inventory: Inventory, pattern: str, expected: list[str]
) -> None:
    assert [h.name for h in inventory.select_hosts(pattern)] == expected


@pytest.mark.parametrize(
    ("pattern", "limit", "expected"),
    [
        ("prod", "web", WEB),
        ("all", "role=db:web01", ["web01", "db1", "db2"]),
        ("prod", "!web", ["lb.example.com", "db1", "db2"]),
    ],
)
def test_limit_narrows_the_selection(
    inventory: Inventory, pattern: str, limit: str, expected: list[str]
) -> None:
    assert [h.name for h in inventory.select_hosts(pattern, limit)] == expected


def test_limit_from_a_file_of_host_names(inventory: Inventory, tmp_path: Path) -> None:
    retry = tmp_path / "retry.txt"
    retry.write_text("web02\n# a comment\n\ndb1\n")
    assert [h.name for h in inventory.select_hosts("all", f"@{retry}")] == ["web02", "db1"]


def test_named_host_lists_come_before_files(inventory: Inventory, tmp_path: Path) -> None:
    lists = {"failed": ["web02", "db1"]}  # the command line's @failed, from the journal
    assert [h.name for h in inventory.select_hosts("@failed", host_lists=lists)] == [
        "web02",
        "db1",
    ]
    picked = inventory.select_hosts("web:&@failed", host_lists=lists)
    assert [h.name for h in picked] == ["web02"]
    rest = [h.name for h in inventory.select_hosts("all", "!@failed", host_lists=lists)]
    assert "web02" not in rest and "db1" not in rest and "web01" in rest
    with pytest.raises(SelectionError, match="did you mean web02"):
        inventory.select_hosts("@failed", host_lists={"failed": ["web2"]})
    with pytest.raises(SelectionError, match="cannot read host list 'other'"):
        inventory.select_hosts("@other", host_lists=lists)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("wbe", "pattern 'wbe': no host or group named 'wbe'; did you mean web?"),
        (
            "web:!web3",
            "no host or group named 'web3'; did you mean web03, web, web05?",
        ),  # a typo in !
        ("db:&prdo", "no host or group named 'prdo'; did you mean prod"),
        ("role=dbb", "'role=dbb' matches no host; did you mean role=db"),
        ("web:&db", "selects no host: 'web' (5 hosts), '&db' (2 hosts) leave none"),
        ("nothing*", "'nothing*' matches no host"),
        ("web[9]", "'web[9]': no host at position 9 (the match has 5)"),
        ("~web(", "'~web(' is not a valid regular expression"),
        ("web:&", "term '&' has nothing after '&'"),
        ("", "the pattern is empty"),
        ("a=b=c:web=", "matches no host"),
        ("os-family=debian", "a match is KEY=VALUE"),
    ],
)
def test_bad_patterns_raise_selection_error_with_the_closest_names(
    inventory: Inventory, pattern: str, message: str
) -> None:
    with pytest.raises(SelectionError) as caught:
        inventory.select_hosts(pattern)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_limit_errors_say_so(inventory: Inventory) -> None:
    with pytest.raises(
        SelectionError, match=r"--limit: no host or group named 'wbe'; did you mean web"
    ):
        inventory.select_hosts("all", "wbe")
    with pytest.raises(SelectionError, match=r"selects 2 host\(s\), none of them in --limit 'web'"):
        inventory.select_hosts("db", "web")


def test_unknown_host_and_group_lookups_suggest_names(inventory: Inventory) -> None:
    with pytest.raises(
        SelectionError,
        match=r"no host named 'web6' in the inventory; did you mean web, web05, web04\?",
    ):
        inventory.host("web6")
    with pytest.raises(SelectionError, match=r"no group named 'dbs'.*did you mean db"):
        inventory.group("dbs")


class FakeFacts:
    """Facts for a unit test: what Facts.get does, from a dict."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def test_fact_matches_use_the_facts_passed_in(inventory: Inventory) -> None:
    facts = {
        "web01": FakeFacts({"os.family": "debian", "cpu_count": 2}),
        "web02": FakeFacts({"os.family": "redhat", "cpu_count": 8}),
        "db1": {"os": {"family": "debian"}, "cpu_count": 16},  # plain dicts work too
        "db2": RuntimeError("unreachable"),  # a host whose gathering failed has no facts
    }
    assert needs_facts("web:&os.family=debian") and not needs_facts("web:&role=web")
    chosen = inventory.select_hosts("web:db:&os.family=debian", facts=facts)
    assert [h.name for h in chosen] == ["web01", "db1"]
    chosen = inventory.select_hosts("all:&cpu_count>=8", facts=facts.get)
    assert [h.name for h in chosen] == ["web02", "db1"]
    assert [h.name for h in inventory.select_hosts("db:&cores>4")] == ["db1", "db2"]


def test_fact_matches_without_facts_say_to_gather_them(inventory: Inventory) -> None:
    with pytest.raises(SelectionError, match=r"os\.family is a fact: gather facts first"):
        inventory.select_hosts("web:&os.family=debian")


def test_splitting_and_parsing_follow_ansible() -> None:
    assert split_pattern("web:db:&prod:!web[1:3]") == ["web", "db", "&prod", "!web[1:3]"]
    assert split_pattern("fe80::1,web") == ["fe80::1", "web"]
    kinds = [(t.mode, t.kind) for t in parse_pattern("!a:&b:c*:~d:e=f:g[0]")]
    assert kinds == [
        ("union", "glob"), ("union", "regex"), ("union", "match"), ("union", "name"),
        ("and", "name"), ("not", "name"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "candidates"),
    [
        ("web:&os.family=debian", "web"),
        ("os.family=debian", "all"),
        ("&os.family=debian:!web03", "all,!web03"),
        ("db,cpu_count>4,!role=lb", "db,!role=lb"),
        ("web", "web"),
    ],
)
def test_without_facts_keeps_every_host_the_pattern_may_select(
    pattern: str, candidates: str
) -> None:
    assert without_facts(pattern) == candidates
