"""The layer contract of shared/STYLE.md: a package imports only from the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "corral"

# layer -> the corral packages/modules it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "errors": {"result"},
    "result": set(),
    "config": {"errors", "result"},
    # inventories, selection, ranges: pure and local, just above config (nothing connects)
    "inventory": {"config", "errors", "result"},
    "runner": {"config", "errors", "result"},
    # the transport implements the runner's Process interface (runner/process.py)
    "transport": {"config", "errors", "result", "runner.process", "runner.command"},
    # remote builds Connections and Groups from inventory hosts (remote/inventory.py)
    "remote": {"transport", "runner", "inventory", "config", "errors", "result"},
    "sync": {"remote", "transport", "runner", "inventory", "config", "errors", "result"},
    "tasks": {"sync", "remote", "runner", "transport", "inventory", "config", "errors", "result"},
    "testing": {"testing"},
}
# asyncssh is the transport's alone (the test kit's embedded *server* is the one exception)
ASYNCSSH_IMPORTERS = {"transport", "testing.server"}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(SRC).with_suffix("").parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    package = _module(path).split(".")[:-1]  # a module's package; for __init__, itself
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join(["corral", *base, *([node.module] if node.module else [])])
                found.append(name)
            elif node.module:
                found.append(node.module)
    return found


def test_each_layer_imports_only_from_layers_below() -> None:
    problems = []
    for path in SRC.rglob("*.py"):
        layer = _layer(path)
        if layer not in ALLOWED:
            continue  # cli, and the public API modules, may import anything
        for name in _imports(path):
            if not name.startswith("corral."):
                continue
            target = name.removeprefix("corral.")
            if target.split(".")[0] == layer:
                continue
            allowed = ALLOWED[layer]
            if not any(target == a or target.startswith(a + ".") for a in allowed):
                problems.append(f"{_module(path)} imports {name}")
    assert problems == []


def test_only_the_transport_imports_asyncssh() -> None:
    importers = set()
    for path in SRC.rglob("*.py"):
        if any(n == "asyncssh" or n.startswith("asyncssh.") for n in _imports(path)):
            importers.add(_module(path))
    assert importers, "asyncssh importers not found: the check is broken"
    for module in importers:
        assert any(module == a or module.startswith(a + ".") for a in ASYNCSSH_IMPORTERS), module
