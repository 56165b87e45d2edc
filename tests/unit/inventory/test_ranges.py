"""Host ranges: what each expands to, and the ranges refused (empty, huge, malformed)."""

from __future__ import annotations

import pytest

from corral.errors import InventoryError
from corral.inventory import MAX_HOSTS, count_range, expand_range


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web", ["web"]),
        ("web[1:3]", ["web1", "web2", "web3"]),
        ("web[01:03]", ["web01", "web02", "web03"]),
        ("web[8:11]", ["web8", "web9", "web10", "web11"]),
        ("web[08:11]", ["web08", "web09", "web10", "web11"]),
        ("db-[a:c]", ["db-a", "db-b", "db-c"]),
        ("db-[y:B]", ["db-y", "db-z", "db-A", "db-B"]),
        ("node[0:10:5]", ["node0", "node5", "node10"]),
        ("[1:2]-x", ["1-x", "2-x"]),
        ("r[1:2]c[a:b]", ["r1ca", "r1cb", "r2ca", "r2cb"]),
        ("web[:2]", ["web0", "web1", "web2"]),
        ("10.0.1.[1:3]", ["10.0.1.1", "10.0.1.2", "10.0.1.3"]),
    ],
)
def test_ranges_expand_like_ansible(pattern: str, expected: list[str]) -> None:
    assert expand_range(pattern) == expected
    assert count_range(pattern) == len(expected)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("web[5:1]", "range [5:1] is empty"),
        ("web[c:a]", "range [c:a] is empty"),
        ("web[1:3:0]", "the step must be a whole number >= 1"),
        ("web[1:x]", "the bounds must be two numbers or two letters"),
        ("web[01:100]", "zero-padded bounds need the same width"),
        ("web[1:]", "has no end"),
        ("web[1]", "must be [begin:end] or [begin:end:step]"),
        ("web[1:3", "unbalanced [ ]"),
        ("web1:3]", "unbalanced [ ]"),
    ],
)
def test_bad_ranges_are_refused_naming_file_line_and_host(pattern: str, message: str) -> None:
    with pytest.raises(InventoryError) as caught:
        expand_range(pattern, source="inventory.yaml", line=7)
    assert str(caught.value).startswith(f"inventory.yaml:7: host {pattern!r}: ")
    assert message in str(caught.value)
    assert caught.value.line == 7


def test_a_range_of_more_than_100000_hosts_is_refused_before_it_is_made() -> None:
    assert MAX_HOSTS == 100_000
    assert len(expand_range("h[1:100000]")) == 100_000
    with pytest.raises(InventoryError, match=r"expands to 100,001 hosts, more than the limit"):
        expand_range("h[0:100000]", source="hosts.ini", line=3)
    with pytest.raises(InventoryError, match=r"1,000,000,000,000 hosts"):
        expand_range("h[1:1000000]x[1:1000000]")  # refused from its count, not by making it
