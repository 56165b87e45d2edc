"""The fast YAML reader (sources/plainyaml.py) gives exactly what PyYAML's safe loader with
line numbers gives (same data, types, key order and lines), or declines and PyYAML reads the
document: proved on a table of tricky scalars and structures, on random documents, and on the
benchmark's 10,000-host inventory."""

from __future__ import annotations

import datetime
import io
import random
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from rich.console import Console

from corral.errors import InventoryError
from corral.inventory import Inventory
from corral.inventory.render import render_host
from corral.inventory.sources.linedata import LineDict, LineList
from corral.inventory.sources.lines import VaultEncrypted, load_yaml
from corral.inventory.sources.lines import _LineLoader as LineLoader
from corral.inventory.sources.plainyaml import read_plain


def pyyaml(text: str) -> Any:
    """What the line loader (PyYAML, libyaml) reads."""
    return yaml.load(text, Loader=LineLoader)


def same(fast: Any, slow: Any, path: str = "") -> None:
    """Assert two loads are equal in values, types, key order and line numbers."""
    assert type(fast) is type(slow), f"{path}: {type(fast)} != {type(slow)}"
    if isinstance(slow, LineDict):
        assert list(fast) == list(slow), path
        assert fast.line == slow.line, f"{path}: line {fast.line} != {slow.line}"
        assert fast.lines == slow.lines, f"{path}: lines {fast.lines} != {slow.lines}"
        for key in slow:
            same(fast[key], slow[key], f"{path}.{key}")
    elif isinstance(slow, LineList):
        assert len(fast) == len(slow), path
        assert (fast.line, fast.lines) == (slow.line, slow.lines), path
        for index, (a, b) in enumerate(zip(fast, slow, strict=True)):
            same(a, b, f"{path}[{index}]")
    else:
        assert fast == slow, f"{path}: {fast!r} != {slow!r}"


# Plain scalars whose YAML 1.1 type is the point (PyYAML's, so Ansible's).
SCALARS = [
    ("yes", True), ("No", False), ("on", True), ("OFF", False), ("true", True), ("y", "y"),
    ("n", "n"), ("017", 15), ("0o17", "0o17"), ("0x1F", 31), ("0b101", 5), ("1_000", 1000),
    ("1:30", 90), ("-1:30", -90), ("+12", 12), ("-0", 0), ("0", 0), ("08", "08"), ("1.5", 1.5),
    (".5", 0.5), ("1e3", "1e3"), ("1.0e+3", 1000.0), (".inf", float("inf")), ("~", None),
    ("null", None), ("Null", None), ("NULL", None), ("2001-12-14", datetime.date(2001, 12, 14)),
    ("10.0.0.1", "10.0.0.1"), ("1.2.3", "1.2.3"), ("web[01:50]", "web[01:50]"),
    ("a b  c", "a b  c"), ("/etc/hosts", "/etc/hosts"), ("~/.ssh/id", "~/.ssh/id"),
    ("-x", "-x"), (".x", ".x"), ("a=b", "a=b"), ("user@host", "user@host"), ("h1:2222", "h1:2222"),
    ("2001-12-14 21:59:43.10 -5", datetime.datetime(2001, 12, 15, 2, 59, 43, 100000,
                                                    tzinfo=datetime.timezone.utc)),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), SCALARS, ids=[s for s, _ in SCALARS])
def test_plain_scalars_get_pyyaml_yaml11_types(text: str, expected: Any) -> None:
    document = f"key: {text}\nnext: 1\n"
    fast = read_plain(document)
    assert fast is not None, "expected the fast reader to take this document"
    same(fast, pyyaml(document))
    value = fast["key"]
    assert value == expected and type(value) is type(expected)


TAKEN = {
    "nested": "all:\n  vars:\n    a: 1\n  children:\n    web:\n      hosts:\n        w1:\n",
    "flow mapping": "h1: {ansible_host: 10.0.0.1, ansible_port: 22, on: off}\n",
    "flow sequence": "a: [x, yes, 017, -1, 2001-12-14]\nb: []\nc: {}\nd: { }\n",
    "spaces in flow": "a: {k:  v w , x: y}\nb: [ a b ,c ]\n",
    "block sequence": "a:\n  - x\n  - yes\n  - [1, 2]\n  - {k: v}\nb: 2\n",
    "comments": "# top\n---\na: 1 # one\n# between\n   # indented\nb: # none\n  c: 2\n",
    "duplicate keys": "a: 1\nb: 2\na: 3\nb:\n  c: 4\n",
    "keys typed": "yes: 1\n1: 2\n~: 3\n1.5: 4\n2001-01-01: 5\n",
    "null values": "a:\nb:\nc:\n  d:\n",
    "ranges and ports": "hosts:\n  web[01:50].example.com:\n  db-[a:c]:\n  h1:2222: {x: 1}\n",
    "trailing spaces": "a: 1   \nb:   \n  c: x y   \n\n\n",
    "no final newline": "a:\n  b: c",
    "block value with brackets": "a: x[1],y\nb: f(x)\n",
}


@pytest.mark.parametrize("document", TAKEN.values(), ids=TAKEN.keys())
def test_plain_documents_read_as_pyyaml_reads_them(document: str) -> None:
    fast = read_plain(document)
    assert fast is not None, "expected the fast reader to take this document"
    same(fast, pyyaml(document))


DECLINED = {
    "quoted": "a: 'yes'\n",
    "double quoted": 'a: "x"\n',
    "vault": "a: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
    "unsafe": "a: !unsafe '{{ x }}'\n",
    "anchor and alias": "a: &x {k: v}\nb: *x\n",
    "merge key": "a: &x {k: v}\nb:\n  <<: *x\n  j: w\n",
    "block scalar": "a: |\n  text\n",
    "folded": "a: >\n  text\n",
    "multi-line plain": "a: one\n  two\n",
    "complex key": "? a\n: b\n",
    "tab": "a:\tb\n",
    "crlf": "a: b\r\nc: d\r\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "document end": "a: 1\n...\n",
    "directive": "%YAML 1.1\n---\na: 1\n",
    "indentless sequence": "a:\n- x\n- y\n",
    "mapping in sequence": "a:\n  - k: v\n",
    "null item": "a:\n  - # nothing\n",
    "sequence at top": "- a\n- b\n",
    "scalar at top": "just text\n",
    "empty": "",
    "comments only": "# nothing\n",
    "indented top": "  a: 1\n",
    "bad indentation": "a:\n    b: 1\n  c: 2\n",
    "deeper after a value": "a: 1\n  b: 2\n",
    "mapping value in a value": "a: b: c\n",
    "nested flow": "a: {b: {c: d}}\n",
    "flow colon": "a: {b:c}\n",
    "flow trailing comma": "a: [x, y,]\n",
    "flow key only": "a: {b}\n",
    "text after flow": "a: [x] y\n",
    "hash inside": "a: x#y\n",
    "non-ascii": "a: café\n",
    "line separator in a comment": "a: 1 # x\u2028b: 2\n",
    "control character": "a: \x07\n",
    "bom": "\ufeffa: 1\n",
    "lone dash": "a: -\n",
    "dash item as a value": "a: - x\n",
    "equals key": "=: 1\n",
    "long key": "k" * 1100 + ": 1\n",
}


@pytest.mark.parametrize("document", DECLINED.values(), ids=DECLINED.keys())
def test_documents_outside_the_plain_subset_are_left_to_pyyaml(document: str) -> None:
    assert read_plain(document) is None


def test_load_yaml_keeps_pyyaml_for_what_the_fast_reader_declines(tmp_path: Path) -> None:
    data = load_yaml("a: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nb: &x {k: v}\nc: *x\n", "f")
    assert isinstance(data["a"], VaultEncrypted)
    assert data["c"] == {"k": "v"} and data.lines == {"a": 1, "b": 4, "c": 5}


def test_bad_yaml_still_names_its_line() -> None:
    with pytest.raises(InventoryError) as caught:
        load_yaml("all:\n  hosts:\n    a: b: c\n", "inv.yml")
    assert (caught.value.source, caught.value.line) == ("inv.yml", 3)


# ---------------------------------------------------------------- random documents

PLAIN = [
    "a", "web", "h1", "x y", "yes", "Off", "017", "0o17", "1:30", "~", "null", "1.5", ".5",
    "10.0.0.1", "2001-12-14", "-1", "-x", "a:b", "x,y", "web[1:3]", "h:22", "1_0", "0x1F", "+1",
    ".inf", "true", "a=b", "/p", "~/p", "a  b", "f(x)", "a]", "a[",
]  # fmt: skip
ODD = [
    "- x", "-", "a: b", "a #c", "a#c", "[a]", "{a: b}", "'q'", '"q"', "!t x", "&a x", "*a",
    "<<", "=", "?", "%", "@x", "", " ", "#", "a ", "é", ":a", "a:", "{", "]", "|", ">",
]  # fmt: skip
INDENTS = ["", "  ", "    ", "   ", "      "]


def random_document(rng: random.Random) -> str:
    """A document of mostly plain lines, some of them anything at all."""

    class Words:
        @staticmethod
        def choice() -> str:
            return rng.choice(PLAIN if rng.random() < 0.93 else ODD)

    lines = []
    depth = 0
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        indent = "  " * depth if rng.random() < 0.85 else rng.choice(INDENTS)
        if kind < 0.35:
            lines.append(f"{indent}{Words.choice()}:")
            depth = min(depth + 1, 4)
        elif kind < 0.6:
            lines.append(f"{indent}{Words.choice()}: {Words.choice()}")
        elif kind < 0.72:
            pairs = ", ".join(
                f"{Words.choice()}: {Words.choice()}" for _ in range(rng.randint(0, 3))
            )
            lines.append(f"{indent}{Words.choice()}: {{{pairs}}}")
        elif kind < 0.8:
            items = ",".join(Words.choice() for _ in range(rng.randint(0, 3)))
            lines.append(f"{indent}{Words.choice()}: [{items}]")
        elif kind < 0.88:
            lines.append(f"{indent}- {Words.choice()}")
        elif kind < 0.94:
            lines.append(f"{indent}# {Words.choice()}")
            depth = max(depth - 1, 0)
        else:
            lines.append(rng.choice(["", "---", "...", f"{indent}{Words.choice()}"]))
        if rng.random() < 0.1:
            lines[-1] += rng.choice(["  ", " # c", "#c"])
    return "\n".join(lines) + rng.choice(["\n", ""])


def test_random_documents_read_as_pyyaml_reads_them_or_are_declined() -> None:
    rng = random.Random(20261202)
    taken = 0
    for _ in range(4000):
        document = random_document(rng)
        fast = read_plain(document)
        try:
            slow = pyyaml(document)
        except (yaml.YAMLError, ValueError):
            assert fast is None, f"taken, but PyYAML refuses it:\n{document}"
            continue
        if fast is not None:
            taken += 1
            try:
                same(fast, slow)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n--- document:\n{document}") from None
    assert taken > 400  # the fast reader took a good share, so the comparison means something


def test_benchmark_inventory_reads_the_same_fast_as_with_pyyaml(tmp_path: Path) -> None:
    path = Path(__file__).parents[3] / "bench" / "inventory"
    bench = ModuleType("bench_inventory")
    bench.__file__ = str(path)
    SourceFileLoader("bench_inventory", str(path)).exec_module(bench)
    paths = bench.generate(tmp_path, hosts=2000, groups=40)
    text = paths["yaml"].read_text()
    fast = read_plain(text)
    assert fast is not None
    same(fast, pyyaml(text))

    def hosts(path: Path) -> dict[str, Any]:
        return {
            h.name: (h.address, h.port, dict(h.vars), h.groups) for h in Inventory.load(path).hosts
        }

    assert hosts(paths["yaml"]) == hosts(paths["ini"])


# ---------------------------------------------------------------- origins and errors

ANSIBLE_YAML = """\
all:
  vars:
    domain: example.com
  children:
    web:
      vars: {http_port: 80, tier: front}
      hosts:
        web1: {ansible_host: 10.0.0.1, ansible_port: 2222, role: web}
        web2:
          ansible_host: 10.0.0.2
          role: web
          enabled: yes
"""


def test_host_origins_name_file_and_line_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("inv.yml").write_text(ANSIBLE_YAML)
    assert read_plain(ANSIBLE_YAML) is not None  # what follows is the fast path's
    inventory = Inventory.load("inv.yml")
    web1, web2 = inventory.host("web1"), inventory.host("web2")
    where = {key: str(origin) for key, origin in web1.origins.items()}
    assert where == {
        "vars.domain": "inv.yml:3 (all)",
        "vars.http_port": "inv.yml:6 (group web)",
        "vars.tier": "inv.yml:6 (group web)",
        "address": "inv.yml:8 (host web1)",
        "port": "inv.yml:8 (host web1)",
        "vars.ansible_host": "inv.yml:8 (host web1)",
        "vars.ansible_port": "inv.yml:8 (host web1)",
        "vars.role": "inv.yml:8 (host web1)",
    }
    assert [str(web2.origin(k)) for k in ("ansible_host", "role", "enabled")] == [
        "inv.yml:10 (host web2)",
        "inv.yml:11 (host web2)",
        "inv.yml:12 (host web2)",
    ]
    assert (web1.address, web1.port, web2.address, web2.vars["enabled"]) == (
        "10.0.0.1",
        2222,
        "10.0.0.2",
        True,
    )
    # the same through PyYAML: same origins
    monkeypatch.setattr("corral.inventory.sources.plainyaml.read_plain", lambda text: None)
    slow = Inventory.load("inv.yml")
    assert slow.host("web2").origins == web2.origins and slow.host("web1").origins == web1.origins


BAD = Path(__file__).parent / "bad"


@pytest.mark.parametrize(
    "name",
    ["bad-var-name.yaml", "conflicting-addresses.yaml", "cycle.yaml", "unknown-key.yaml",
     "bad-port.yaml", "empty-range.yaml", "plugin-config.yml"],
)  # fmt: skip
def test_bad_entries_read_by_the_fast_path_keep_their_file_and_line(name: str) -> None:
    # test_bad_input.py checks each message and line; this proves those go through here
    assert read_plain((BAD / name).read_text()) is not None


def test_a_bad_var_name_in_a_plain_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    path.write_text(
        "all:\n  hosts:\n    web1: {ansible_host: 10.0.0.1}\n    web2: {http-port: 80}\n"
    )
    assert read_plain(path.read_text()) is not None
    with pytest.raises(InventoryError, match="var name 'http-port' is not an identifier") as caught:
        Inventory.load(path)
    assert (caught.value.source, caught.value.line) == (str(path), 4)


def test_render_host_shows_file_and_line_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("inv.yml").write_text(ANSIBLE_YAML)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    render_host(console, Inventory.load("inv.yml").host("web2"))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    for line in (
        "address        10.0.0.2      inv.yml:10 (host web2)",
        "domain         example.com   inv.yml:3 (all)",
        "enabled        true          inv.yml:12 (host web2)",
        "http_port      80            inv.yml:6 (group web)",
        "role           web           inv.yml:11 (host web2)",
    ):
        assert line in shown, shown
