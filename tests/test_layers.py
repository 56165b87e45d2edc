"""The layer contract of shared/STYLE.md: a package imports only from the layers below it, the
command does not load the test kit unless asked, and no package's modules import in a circle."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "corral"

# layer -> the corral packages/modules it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "errors": {"result"},
    "result": set(),
    # the events of a run: a leaf beside result, consumed by every output
    "events": {"result"},
    "config": {"errors", "result"},
    "runner": {"config", "errors", "result"},
    # the transport implements the runner's Process interface structurally: no import
    "transport": {"config", "errors", "result"},
    # remote builds Connections and Groups from inventory hosts (remote/inventory.py)
    "remote": {"transport", "runner", "inventory", "config", "events", "errors", "result"},
    # operations (corral.aio.ops) run on the async Connection; sync has their blocking twins
    "operations": {"remote", "runner", "config", "events", "errors", "result"},
    "sync": {
        "operations",
        "remote",
        "transport",
        "runner",
        "inventory",
        "config",
        "events",
        "errors",
        "result",
    },
    # the executor records its runs on an event bus (events), through remote's recorder
    "tasks": {
        "sync",
        "remote",
        "runner",
        "transport",
        "inventory",
        "config",
        "events",
        "errors",
        "result",
        "tasks",
    },
    # ready-made tasks (the deploy recipe), built on the operations and the task layer
    "recipes": {"tasks", "operations", "remote", "runner", "config", "errors", "result"},
    # executors (a process pool, Ray) run hosts' shares elsewhere: a worker loads the
    # corralfile and runs its tasks (tasks), on corral's loop (sync's portal); the group engine
    # only knows remote's GroupExecutor seam and is handed one
    "executors": {"tasks", "sync", "remote", "runner", "config", "events", "errors", "result"},
    # the test kit sits above the public API (corral, corral.aio), and uses only that
    "testing": {"testing", "aio"},
    # the run journal and report: consumes events, reads config; the CLI and engine call it
    "journal": {"events", "config", "errors", "result"},
    # the broker is above the command line: its server runs cli's command in a long-lived
    # process (parking the connections remote/ closes); its client side is the standard
    # library only (test_the_broker_client_needs_nothing_but_the_standard_library)
    "broker": {"cli", "sync", "remote"},
    # patchwork's helpers use only the context they are given (c.run, c.sudo, c.rsync)
    "patchwork": set(),
    # Fabric compatibility: the stand-ins name corral's modules (imported by name, at a
    # fabfile's import), the doctor reads the connect_kwargs corral takes
    "compat": {"transport"},
}
# asyncssh is the transport's alone; the test kit's embedded SSH server is quarantined
ASYNCSSH_IMPORTERS = {"transport", "testing.fleet.embedded"}
# Ray (an optional extra) is the Ray executor's alone: nothing else imports it, so corral
# without corral[ray] loses only --executor ray
RAY_IMPORTERS = {"executors.ray"}


# Import circles allowed inside a package: none (remote/'s 12-module circle and cli/'s
# main <-> completion were removed); a new one fails the test.
KNOWN_CIRCLES: dict[str, list[set[str]]] = {}


def _sources() -> Iterator[Path]:
    """Every module of corral (not the examples, which the test kit links in as data)."""
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[:2] != ("testing", "examples"):
            yield path


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
    for path in _sources():
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
    for path in _sources():
        if any(n == "asyncssh" or n.startswith("asyncssh.") for n in _imports(path)):
            importers.add(_module(path))
    assert importers, "asyncssh importers not found: the check is broken"
    for module in importers:
        assert any(module == a or module.startswith(a + ".") for a in ASYNCSSH_IMPORTERS), module


def test_only_the_ray_executor_imports_ray() -> None:
    importers = set()
    for path in _sources():
        if any(n == "ray" or n.startswith("ray.") for n in _imports(path)):
            importers.add(_module(path))
    assert importers == {f"{m}" for m in RAY_IMPORTERS}


def _top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported (not those inside functions)."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def test_the_command_loads_the_test_kit_only_when_asked() -> None:
    loaded = []
    for path in _sources():
        if _layer(path) != "cli":
            continue
        package = _module(path).split(".")[:-1]
        for node in _top_level_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif node.level:
                names = [".".join(["corral", *package[: len(package) - (node.level - 1)]])]
                names = [".".join([names[0], node.module])] if node.module else names
            else:
                names = [node.module or ""]
            loaded += [f"{_module(path)}: {n}" for n in names if n.startswith("corral.testing")]
    assert loaded == []


@functools.cache
def _graph() -> dict[str, set[str]]:
    """Module -> the corral modules it imports anywhere (also lazily or for type checking)."""
    paths = {_module(p).removesuffix(".__init__"): p for p in _sources()}

    def resolve(parts: list[str]) -> str | None:
        while parts and ".".join(parts) not in paths:
            parts = parts[:-1]
        return ".".join(parts) if parts else None

    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        found: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {
                    resolve(a.name.split(".")[1:])
                    for a in node.names
                    if a.name.startswith("corral.")
                }
            elif isinstance(node, ast.ImportFrom):
                named = node.module.split(".") if node.module else []
                if node.level:
                    base = package[: len(package) - (node.level - 1)] + named
                elif named[:1] == ["corral"]:
                    base = named[1:]
                else:
                    continue
                # `from . import x` imports the module x when there is one, else the package
                found |= {resolve([*base, a.name]) for a in node.names}
        graph[module] = {m for m in found if m is not None and m != module}
    return graph


def _circles(graph: dict[str, set[str]], nodes: set[str]) -> list[set[str]]:
    """The strongly connected components of more than one module among ``nodes`` (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v] & nodes):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = {stack.pop()}
            while v not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(component)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("package", sorted(p.parent.name for p in SRC.glob("*/__init__.py")))
def test_no_import_circle_inside_a_package(package: str) -> None:
    graph = _graph()
    nodes = {m for m in graph if m == package or m.startswith(package + ".")}
    assert nodes, f"no modules found for {package}: the check is broken"
    circles = sorted(_circles(graph, nodes), key=sorted)
    assert circles == KNOWN_CIRCLES.get(package, [])


def test_the_circle_check_finds_a_circle() -> None:
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert _circles(graph, set(graph)) == [{"a.x", "a.y", "a.z"}]


def _imports_at_import_time(path: Path) -> list[str]:
    """The absolute names a module imports when it is imported (not in functions, not under
    `if TYPE_CHECKING:`)."""
    package = _module(path).split(".")[:-1]
    names: list[str] = []
    todo: list[ast.AST] = list(ast.parse(path.read_text()).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            if node.test.id == "TYPE_CHECKING":
                todo.extend(node.orelse)
                continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                names.append(".".join(["corral", *base, *([node.module] if node.module else [])]))
            else:
                names.append(node.module or "")
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return names


def test_the_broker_client_needs_nothing_but_the_standard_library() -> None:
    """`corral` through a broker loads corral/__init__, broker/ and its client: only those, and
    the standard library (the engine's imports are what a shell loop of invocations saves)."""
    import sys

    allowed = {"corral.broker", "corral.broker.protocol"}
    found = []
    for name in ("__init__.py", "broker/__init__.py", "broker/client.py", "broker/protocol.py"):
        for imported in _imports_at_import_time(SRC / name):
            top = imported.split(".")[0]
            if imported in allowed or (top != "corral" and top in sys.stdlib_module_names):
                continue
            if imported == "__future__":
                continue
            found.append(f"{name}: {imported}")
    assert found == []
