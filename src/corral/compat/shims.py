"""Stand-ins for `fabric`, `invoke` and `patchwork`, for fabfiles that import them while the
real packages cannot be imported: `import fabric` gives corral, `fabric.connection` is
`corral.connection`, `patchwork.files` is `corral.patchwork.files`.

They are installed only for packages that do not import (absent, or broken: patchwork 1.0
needs Invoke 1's `invoke.vendor.six`), and removed with `stand_ins()`'s block; a submodule
corral has no twin of fails with an ImportError saying so (`fabric.api`: Fabric 1's API).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType

from .names import MODULES, STAND_INS, SUBMODULES

__all__ = ["StandIns", "missing", "stand_ins"]


def _note(fullname: str) -> str:
    parts = fullname.split(".")
    for size in range(len(parts), 0, -1):
        note = MODULES.get(".".join(parts[:size]))
        if note is not None:
            return note.text
    return "corral has no twin of it"


class _Alias(importlib.abc.Loader):
    """Loads a stand-in: the corral module itself, under the name asked for."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._spec  # the corral module keeps its own identity


class StandIns(importlib.abc.MetaPathFinder):
    """A finder that answers for `packages` (and their submodules) with corral's modules."""

    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = frozenset(packages)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """Return the spec of corral's stand-in for `fullname`, if this finder answers for it."""
        top, _, rest = fullname.partition(".")
        if top not in self.packages:
            return None
        if rest and rest.split(".")[0] not in SUBMODULES[top]:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: it is not installed, and corral, standing in "
                f"for {top}, has none: {_note(fullname)} (corral --doctor lists what a "
                "fabfile uses that corral lacks)",
                name=fullname,
            )
        target_name = STAND_INS[top] + (f".{rest}" if rest else "")
        target_spec = importlib.util.find_spec(target_name)
        if target_spec is None:
            raise ModuleNotFoundError(f"No module named {target_name!r}", name=fullname)
        package = target_spec.submodule_search_locations is not None
        return importlib.util.spec_from_loader(fullname, _Alias(target_name), is_package=package)


def missing(names: Sequence[str] = tuple(STAND_INS)) -> list[str]:
    """Return which of the packages cannot be imported here (absent or broken)."""
    absent = []
    for name in names:
        if name in sys.modules:
            continue  # imported already: the real one, or a stand-in still installed
        before = set(sys.modules)
        try:
            importlib.import_module(name)
        except Exception:
            for leftover in set(sys.modules) - before:  # half-imported: leave no trace
                if leftover == name or leftover.startswith(name + "."):
                    del sys.modules[leftover]
            absent.append(name)
    return absent


@contextlib.contextmanager
def stand_ins(names: Sequence[str] = tuple(STAND_INS)) -> Iterator[list[str]]:
    """Stand in for those of the packages that cannot be imported, while the block runs;
    yield the names stood in for (empty when every real package imports)."""
    absent = missing(names)
    if not absent:
        yield []
        return
    finder = StandIns(absent)
    sys.meta_path.insert(0, finder)
    try:
        yield absent
    finally:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
        for name in list(sys.modules):
            if name.partition(".")[0] in absent:
                del sys.modules[name]
