"""Every bad inventory the issue lists, one small file each: a typed error (InventoryError
under CorralError) naming the file, the line where there is one, and the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.errors import CorralError, InventoryError
from corral.inventory import Inventory

BAD = Path(__file__).parent / "bad"

CASES = [
    # (file, line, text the one-line message holds)
    ("malformed.yaml", 4, "not valid YAML"),
    ("malformed-flow.yaml", 4, "not valid YAML: did not find expected ',' or ']'"),
    ("malformed-section.ini", 4, "not a valid section header '[web servers]'"),
    ("unknown-section-type.ini", 3, "section [web:hosts2] has an unknown type 'hosts2'"),
    ("bad-host-var.ini", 2, "host web1: expected key=value after the host name, got 'oops'"),
    ("bad-quote.ini", 2, "cannot split host line"),
    ("vars-without-equals.ini", 4, "expected key=value in [web:vars], got 'http_port 80'"),
    (
        "undefined-child.ini",
        3,
        "group dbs: child group 'dbs' of 'prod' is not defined; did you mean db?",
    ),
    (
        "vars-for-undefined-group.ini",
        3,
        "vars for group 'wbe', which is not defined; did you mean web?",
    ),
    ("cycle.yaml", 7, "group c: group cycle: a -> b -> c -> a"),
    ("cycle.ini", 4, "group b: group cycle: a -> b -> a"),
    (
        "conflicting-addresses.yaml",
        8,
        "host web1: defined twice with different addresses: 10.0.0.1 ",
    ),
    ("conflicting-addresses.ini", 4, "host web1: defined twice with different addresses: 10.0.0.1"),
    ("bad-var-name.yaml", 4, "host web1: var name 'http-port' is not an identifier"),
    ("bad-var-name.ini", 4, "group web: var name '2fast' is not an identifier"),
    ("empty-range.yaml", 2, "host 'web[09:01]': range [09:01] is empty"),
    ("empty-range.ini", 2, "host 'web[5:3]': range [5:3] is empty"),
    ("huge-range.ini", 2, "range expands to 1,000,000 hosts, more than the limit of 100,000"),
    ("unknown-key.yaml", 3, "host web1: unknown key 'adress' (known: address, port,"),
    ("unknown-top-key.yaml", 3, "top level: unknown key 'grups'"),
    ("bad-port.yaml", 3, "host web1: port: expected a port number from 1 to 65535, got 'ssh'"),
    ("one-address-for-a-range.yaml", 3, "one address ('10.0.0.1') for 3 hosts"),
    ("address-range-length.yaml", 3, "address range '10.0.0.[1:2]' gives 2 addresses for 3 hosts"),
    ("bad-host-name.yaml", 2, "host 'web 1': not a valid host name"),
    ("not-json.json", 1, "not valid JSON (column 27"),
    ("bad-config-var.yaml", 5, "run.echo: expected true or false, got 'yes please'"),
    ("plugin-config.yml", 1, "an inventory plugin's configuration (plugin: amazon.aws.aws_ec2)"),
    ("not-a-mapping.yaml", 1, "expected a mapping: corral's format (hosts, groups, vars)"),
    ("bad-label.yaml", 4, "host web1: label role: expected a string, number or true/false"),
]


def test_every_bad_input_file_has_a_case() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(name for name, _, _ in CASES)


@pytest.mark.parametrize(("name", "line", "text"), CASES, ids=[c[0] for c in CASES])
def test_bad_inventory_raises_inventory_error_naming_file_line_and_entry(
    name: str, line: int, text: str
) -> None:
    path = BAD / name
    with pytest.raises(InventoryError) as caught:
        Inventory.load(path)
    error = caught.value
    assert isinstance(error, CorralError)
    message = str(error)
    assert "\n" not in message  # the CLI shows one line
    assert message.startswith(f"{path}:{line}: "), message
    assert text in message, message
    assert (error.source, error.line) == (str(path), line)
