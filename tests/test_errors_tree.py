"""The tree drawn in `corral.errors`' docstring is the real class hierarchy, whole.

Every `CorralError` subclass corral defines is drawn, under its real parent, with any other
base in parentheses (`ConnectTimeout(TimeoutError)`), and lives in `corral.errors`.
"""

from __future__ import annotations

import builtins
import importlib
import pkgutil
import re

import pytest

import corral
import corral.errors as errors
from corral.errors import CorralError

# "│   ├── ConnectTimeout(TimeoutError)   text": the branch's position gives the depth.
_NODE = re.compile(r"^(?P<indent>(?:[│ ]   )*)(?:[├└]── )?(?P<name>\w+)(?:\((?P<bases>[\w, ]+)\))?")


def drawn_tree() -> list[tuple[str, str | None, list[str]]]:
    """Return (class, drawn parent, other bases drawn in parentheses) for every drawn node."""
    doc = errors.__doc__ or ""
    block = doc.split("```")[1].strip("\n")
    nodes: list[tuple[str, str | None, list[str]]] = []
    parents: list[str] = []  # the path from the root to the previous node
    for line in block.splitlines():
        match = _NODE.match(line)
        assert match is not None, f"cannot read this line of the drawn tree: {line!r}"
        depth = len(match["indent"]) // 4 + (0 if line.startswith("CorralError") else 1)
        del parents[depth:]
        parent = parents[-1] if parents else None
        bases = [b.strip() for b in (match["bases"] or "").split(",") if b.strip()]
        nodes.append((match["name"], parent, bases))
        parents.append(match["name"])
    return nodes


def all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    sub: type
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


def import_every_module() -> None:
    """Import all of corral, so an error class defined anywhere is seen."""
    for module in pkgutil.walk_packages(corral.__path__, "corral."):
        if module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)


def _class(name: str) -> type:
    found = getattr(errors, name, None) or getattr(builtins, name, None)
    assert isinstance(found, type), f"{name} is drawn but is not a class in corral.errors"
    return found


def test_every_drawn_node_sits_under_its_real_parent() -> None:
    nodes = drawn_tree()
    assert nodes[0] == ("CorralError", None, [])
    for name, parent, bases in nodes[1:]:
        cls = _class(name)
        real = [base.__name__ for base in cls.__bases__]
        assert parent in real, f"{name} is drawn under {parent}, but its bases are {real}"
        assert sorted(bases) == sorted(b for b in real if b != parent), (
            f"{name}: drawn with ({', '.join(bases)}), but its other bases are {real}"
        )


def test_every_corral_error_is_drawn_and_defined_in_errors() -> None:
    import_every_module()
    real = {cls.__name__: cls for cls in all_subclasses(CorralError)}
    drawn = [name for name, _, _ in drawn_tree()]
    assert len(drawn) == len(set(drawn)), "a class is drawn twice"
    assert set(real) == set(drawn) - {"CorralError"}
    for name, cls in real.items():
        assert cls.__module__ == "corral.errors", f"{name} is defined in {cls.__module__}"
        assert name in errors.__all__, f"{name} is missing from corral.errors.__all__"


@pytest.mark.parametrize(
    ("old_home", "name"),
    [
        ("corral.remote.rsync", "RsyncError"),
        ("corral.remote.rsync", "RsyncTimedOut"),
        ("corral.runner.watchers", "ResponseNotAccepted"),
        ("corral.cli.main", "CorralfileError"),
        ("corral.exceptions", "ResponseNotAccepted"),
    ],
)
def test_moved_errors_are_still_importable_where_they_were(old_home: str, name: str) -> None:
    assert getattr(importlib.import_module(old_home), name) is getattr(errors, name)


def test_a_tree_drawn_wrong_is_caught() -> None:
    """The parser sees depth: a node drawn one level too deep gets the wrong parent."""
    good = "CorralError\n├── HostError\n│   └── ConnectError\n└── GroupException\n"
    bad = good.replace("└── GroupException", "│   └── GroupException")
    original = errors.__doc__
    try:
        errors.__doc__ = f"```\n{good}```"
        assert drawn_tree()[-1] == ("GroupException", "CorralError", [])
        errors.__doc__ = f"```\n{bad}```"
        assert drawn_tree()[-1] == ("GroupException", "HostError", [])
    finally:
        errors.__doc__ = original
