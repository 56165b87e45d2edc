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
    "runner": {"config", "errors", "result"},
    # the transport implements the runner's Process interface structurally: no import
    "transport": {"config", "errors", "result"},
    "remote": {"transport", "runner", "config", "errors", "result"},
    "sync": {"remote", "transport", "runner", "config", "errors", "result"},
    "tasks": {"sync", "remote", "runner", "transport", "config", "errors", "result", "tasks"},
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


def _module_imports(path: Path, src: Path) -> set[str]:
    """Return every corral module a file may import: `from . import x` counts as `.x`."""
    package = list(path.relative_to(src).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            module = [*base, *(node.module.split(".") if node.module else [])]
            if not node.level:
                module = module[1:] if module[:1] == ["corral"] else []
            found.add(".".join(module))
            found |= {".".join([*module, alias.name]) for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("corral.") for a in node.names}
    return found


def _cycle(package: str, src: Path = SRC) -> list[str] | None:
    """Return an import cycle among the modules of `package` (TYPE_CHECKING ones too)."""
    modules = {
        ".".join(path.relative_to(src).with_suffix("").parts): path
        for path in (src / package).rglob("*.py")
        if path.stem != "__init__"
    }
    edges = {
        name: sorted(_module_imports(path, src) & set(modules) - {name})
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        for target in edges[name]:
            if target in path:
                return [*path[path.index(target) :], target]
            if target not in done and (found := visit(target, [*path, target])):
                return found
        done.add(name)
        return None

    for name in sorted(modules):
        if name not in done and (found := visit(name, [name])):
            return found
    return None


def test_the_cli_package_has_no_import_cycle() -> None:
    assert _cycle("cli") is None


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "loop"
    package.mkdir()
    (package / "a.py").write_text("from .b import x\n")
    (package / "b.py").write_text("from . import c\n")
    (package / "c.py").write_text("from corral.loop.a import y\n")
    assert _cycle("loop", tmp_path) == ["loop.a", "loop.b", "loop.c", "loop.a"]
